"""The audit log records every attempted change, failed ones included; when it cannot record
(a full disk, a read-only filesystem), nstui refuses to change anything.

Driven through ``nstui cg`` (its main() in-process, and once as a real command) with
``NSTUI_AUDIT_LOG`` pointing where the test wants the log.
The log holds one line per change, fsynced before the kernel write with its outcome pending,
the outcome then written into that line in place.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from nstui.cli.main import main
from nstui.kernel.cgroups.audit import AuditLog

from .kobjects import MountTracker

pytestmark = pytest.mark.root


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


Nstui = Callable[..., Run]


@pytest.fixture
def nstui(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Nstui:
    """``nstui(log, *args)``: the CLI's main() in this process, auditing to LOG."""

    def run(log: Path, *args: str) -> Run:
        monkeypatch.setenv("NSTUI_AUDIT_LOG", str(log))
        capsys.readouterr()
        status = main(list(args))
        out, err = capsys.readouterr()
        return Run(status, out, err)

    return run


def test_one_entry_per_attempted_change_failures_included(
    test_cgroup_parent: Callable[[str], Path], tmp_path: Path, nstui: Nstui
) -> None:
    parent = test_cgroup_parent("pids")
    spec = f"pids:/{parent.name}"
    log = tmp_path / "audit.log"
    for args, status in (
        (("cg", "set", spec, "pids.max=5"), 0),
        (("cg", "mk", f"{spec}/child"), 0),
        (("cg", "mk", f"{spec}/child"), 1),  # the kernel refuses: EEXIST
        (("cg", "rm", f"{spec}/child"), 0),
    ):
        result = nstui(log, *args)
        assert result.returncode == status and "Traceback" not in result.stderr, result.stderr
    entries = AuditLog(str(log)).entries()
    assert [(e.file, e.result.split(":")[0]) for e in entries] == [
        ("pids.max", "ok"),
        ("(mkdir)", "ok"),
        ("(mkdir)", "error"),
        ("(rmdir)", "ok"),
    ], entries
    first = entries[0]
    assert (first.cgroup, first.before, first.value, first.after) == (spec, "max", "5", "5")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["id"] for r in records] == [e.id for e in entries]
    assert [r["result"].split(":")[0] for r in records] == ["ok", "ok", "error", "ok"]


def test_a_value_refused_before_writing_changes_nothing(
    test_cgroup_parent: Callable[[str], Path], tmp_path: Path, nstui: Nstui
) -> None:
    parent = test_cgroup_parent("pids")
    log = tmp_path / "audit.log"
    for bad in ("abc", "-1", "1.5.5G", ""):
        result = nstui(log, "cg", "set", f"pids:/{parent.name}", f"pids.max={bad}")
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        assert "nothing was written" in result.stderr or bad == "", result.stderr
    assert (parent / "pids.max").read_text() == "max\n"


def _tmpfs(tmp_mount: MountTracker, name: str, options: str) -> Path:
    target = tmp_mount.dir(name)
    argv = ["mount", "-t", "tmpfs", "-o", options, f"nstui-test-{name}", str(target)]
    subprocess.run(argv, check=True)
    return target


def _full_tmpfs(tmp_mount: MountTracker) -> Path:
    target = _tmpfs(tmp_mount, "full", "size=16k")
    fd = os.open(target / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass  # ENOSPC: full
    finally:
        os.close(fd)
    return target


def _refuses_unrecorded_changes(nstui: Nstui, log: Path, parent: Path) -> None:
    spec = f"pids:/{parent.name}"
    (parent / "existing").mkdir(exist_ok=True)
    for args in (
        ("cg", "set", spec, "pids.max=7"),
        ("cg", "mk", f"{spec}/child"),
        ("cg", "rm", f"{spec}/existing"),
    ):
        result = nstui(log, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert "audit log" in result.stderr and "refusing" in result.stderr, result.stderr
    assert (parent / "pids.max").read_text() == "max\n"
    assert not (parent / "child").exists()
    assert (parent / "existing").is_dir()


def test_full_disk_refuses_changes(
    test_cgroup_parent: Callable[[str], Path], tmp_mount: MountTracker, nstui: Nstui
) -> None:
    parent = test_cgroup_parent("pids")
    full = _full_tmpfs(tmp_mount)
    _refuses_unrecorded_changes(nstui, full / "audit.log", parent)


def test_full_disk_through_the_real_command(
    test_cgroup_parent: Callable[[str], Path], tmp_mount: MountTracker
) -> None:
    parent = test_cgroup_parent("pids")
    full = _full_tmpfs(tmp_mount)
    env = {**os.environ, "NSTUI_AUDIT_LOG": str(full / "audit.log")}
    result = subprocess.run(
        [sys.executable, "-m", "nstui", "cg", "set", f"pids:/{parent.name}", "pids.max=7"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "No space left on device" in result.stderr and "refusing" in result.stderr
    assert (parent / "pids.max").read_text() == "max\n"


def test_read_only_log_refuses_changes(
    test_cgroup_parent: Callable[[str], Path], tmp_mount: MountTracker, nstui: Nstui
) -> None:
    parent = test_cgroup_parent("pids")
    target = _tmpfs(tmp_mount, "ro", "ro,size=16k")
    _refuses_unrecorded_changes(nstui, target / "audit.log", parent)
    _refuses_unrecorded_changes(nstui, target / "missing-dir" / "audit.log", parent)
