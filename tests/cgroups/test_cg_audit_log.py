"""The audit log's format: one line per attempted change, written (fsynced) before the kernel
write with its outcome pending, the outcome then written in place. Concurrent writers, a crash
between the kernel write and the outcome, a torn outcome, a record cut by a full disk, a
rotated log, and logs of the older two-record format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nstui.cli.main import main
from nstui.kernel.cgroups.audit import PENDING, UNKNOWN, AuditLog
from nstui.kernel.cgroups.hierarchy import discover_hierarchies
from nstui.kernel.cgroups.paths import CgroupDir
from nstui.kernel.cgroups.pending import with_current_values

from .helpers import Sandbox


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_line_per_change_written_before_and_completed_in_place(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(str(path))
    first = log.attempt("pids:/a", "pids.max", "max", "5", "5")
    # before the kernel write: the whole line is there, its outcome pending
    (pending,) = _records(path)
    assert (pending["id"], pending["after"], pending["result"]) == (first, None, PENDING)
    size = path.stat().st_size
    log.result(first, "5", "ok")
    assert path.stat().st_size == size  # completed in place: no new line, no new space
    second = log.attempt("pids:/a", "(mkdir)", None, "b", "b", part_of=first)
    log.result(second, None, "error: EEXIST (File exists)")
    records = _records(path)
    assert [r["id"] for r in records] == [first, second]
    assert all("phase" not in r for r in records)
    assert (records[0]["after"], records[0]["result"]) == ("5", "ok")
    assert path.read_text().splitlines()[0].endswith(" }")  # the padded slot
    ok, failed = log.entries()
    assert (ok.ok, ok.before, ok.value, ok.after, ok.part_of) == (True, "max", "5", "5", None)
    assert (failed.ok, failed.result, failed.part_of) == (
        False,
        "error: EEXIST (File exists)",
        first,
    )


def test_an_outcome_longer_than_its_slot_is_cut_not_spilled(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(str(path))
    entry = log.attempt("devices:/a", "devices.allow", "a *:* rwm", "c 1:3 rwm", "c 1:3 rwm")
    size = path.stat().st_size
    log.result(entry, "c 1:3 rwm\n" * 500, "error: " + "why " * 400)
    assert path.stat().st_size == size
    (got,) = log.entries()
    assert got.after is not None and got.after.endswith("…") and len(got.after) < 600
    assert got.result.startswith("error: why")


WRITER = textwrap.dedent(
    """
    import sys, threading
    from nstui.kernel.cgroups.audit import AuditLog
    log = AuditLog(sys.argv[1])
    def run(tag):
        for i in range(int(sys.argv[2])):
            value = f"{tag}-{i}"
            entry = log.attempt("pids:/c", "pids.max", "max", value, value)
            log.result(entry, value, "ok" if i % 3 else f"error: refused {value}")
    threads = [threading.Thread(target=run, args=(f"{sys.argv[3]}.{t}",)) for t in range(2)]
    for t in threads: t.start()
    for t in threads: t.join()
    """
)


def test_concurrent_processes_and_threads_each_complete_their_own_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    rounds, procs = 15, 3
    workers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(rounds), str(n)])
        for n in range(procs)
    ]
    assert [w.wait(timeout=60) for w in workers] == [0] * procs
    lines = path.read_text().splitlines()
    assert len(lines) == procs * 2 * rounds
    entries = AuditLog(str(path)).entries()
    assert len({e.id for e in entries}) == len(lines)
    for e in entries:
        i = int(e.value.rsplit("-", 1)[1])
        assert e.after == e.value, e
        assert e.result == ("ok" if i % 3 else f"error: refused {e.value}"), e


@pytest.mark.parametrize("cut", [18, 25])  # still JSON (a garbled key) / no longer JSON
def test_a_torn_outcome_still_shows_the_attempt(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(str(path))
    entry = log.attempt("pids:/a", "pids.max", "max", "5", "5")
    text = path.read_text()
    mark = text.index(', "after": ') + 2
    new = '"after": "5", "result": "ok"'[:cut]
    path.write_text(text[:mark] + new + text[mark + cut :])  # crash in the middle of the pwrite
    (got,) = log.entries()
    assert (got.id, got.value, got.result, got.unknown) == (entry, "5", UNKNOWN, True)


def test_a_record_cut_by_a_full_disk_does_not_hide_the_next(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(str(path))
    first = log.attempt("pids:/a", "pids.max", "max", "5", "5")
    log.result(first, "5", "ok")
    with open(path, "a") as handle:  # what a short write(2) on a full disk leaves
        handle.write('{"id": "20260101000000-abcdef", "time": "2026-01-01T00:00:00.000+0')
    second = log.attempt("pids:/a", "pids.max", "5", "6", "6")
    log.result(second, "6", "ok")
    assert [(e.id, e.result) for e in log.entries()] == [(first, "ok"), (second, "ok")]


def test_an_outcome_after_the_log_was_rotated_goes_to_the_new_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(str(path))
    entry = log.attempt("pids:/a", "pids.max", "max", "5", "5")
    os.rename(path, tmp_path / "audit.log.1")
    log.result(entry, "5", "ok")
    (record,) = _records(path)
    assert (record["id"], record["phase"], record["result"]) == (entry, "result", "ok")
    old = AuditLog(str(tmp_path / "audit.log.1")).entries()
    assert [(e.id, e.unknown) for e in old] == [(entry, True)]  # it never saw the outcome


def test_older_two_record_logs_are_still_read(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    old = [
        {"before": "max", "cgroup": "pids:/a", "file": "pids.max", "id": "1-a", "phase": "attempt",
         "pid": 1, "time": "2026-01-01T00:00:00.000+00:00", "typed": "5", "uid": 0,
         "user": "root", "value": "5"},
        {"before": "5", "cgroup": "pids:/a", "file": "pids.max", "id": "1-b", "phase": "attempt",
         "pid": 1, "time": "2026-01-01T00:00:01.000+00:00", "typed": "max", "uid": 0,
         "undo_of": "1-a", "user": "root", "value": "max"},
        {"after": "5", "id": "1-a", "phase": "result", "result": "ok",
         "time": "2026-01-01T00:00:00.100+00:00"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in old))
    log = AuditLog(str(path))
    entry = log.attempt("pids:/a", "pids.max", "max", "7", "7")
    log.result(entry, "7", "ok")
    got = log.entries()
    assert [(e.id, e.after, e.result, e.undo_of) for e in got] == [
        ("1-a", "5", "ok", None),
        ("1-b", None, UNKNOWN, "1-a"),
        (entry, "7", "ok", None),
    ]


CRASH = textwrap.dedent(
    """
    import os, sys
    from nstui.kernel.cgroups import audit
    from nstui.kernel.cgroups.editor import apply_plan, plan_edit
    from nstui.kernel.cgroups.hierarchy import discover_hierarchies
    from nstui.kernel.cgroups.paths import parse_cgroup_spec
    audit.AuditLog.result = lambda *args: os._exit(9)  # killed after the kernel write
    hierarchies = discover_hierarchies()
    ref = parse_cgroup_spec(sys.argv[2], hierarchies)
    plan = plan_edit(ref, [(sys.argv[3], "7")], hierarchies)
    apply_plan(plan, audit.AuditLog(sys.argv[1]), force=True)
    """
)


@pytest.mark.root
def test_killed_between_the_kernel_write_and_its_outcome(
    tree: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = tree.leaf("pids" if tree.version == 1 else "unified")
    file = "pids.max" if tree.has("pids") else "cgroup.max.depth"
    path = tmp_path / "audit" / "audit.log"
    done = subprocess.run([sys.executable, "-c", CRASH, str(path), ref.spec, file], timeout=60)
    assert done.returncode == 9
    with CgroupDir(ref) as directory:
        assert directory.read(file) == "7\n"  # the change reached the kernel...
    (entry,) = AuditLog(str(path)).entries()  # ...and its record survived the crash
    assert (entry.cgroup, entry.file, entry.value, entry.unknown) == (ref.spec, file, "7", True)
    (shown,) = with_current_values([entry], discover_hierarchies())
    assert shown.now == "7"
    capsys.readouterr()
    assert main(["cg", "history"]) == 0
    out = capsys.readouterr().out
    assert entry.id in out and "unknown" in out and "now: 7" in out, out
    assert main(["cg", "undo"]) == 1  # an unknown outcome is not undone blindly
