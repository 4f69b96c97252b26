"""``enter --cgroup`` on the real kernel: the caller moves the idle helper into the target's
cgroups through the audited cgroup writer, so the command runs there, every move is in the
audit log, and a refusal (kernel or audit log) stops the launch leaving no process behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nstui.kernel import nshelper, nshelper_main
from nstui.kernel.cgroups import join as cgroup_join
from nstui.kernel.cgroups.audit import AuditLog
from nstui.kernel.cgroups.hierarchy import discover_hierarchies
from nstui.kernel.cgroups.paths import CgroupRef
from nstui.kernel.nshelper import EnterOptions, NsHelperError
from tests.nsactions.conftest import Targets, child_pids, pids_in_group

pytestmark = pytest.mark.root

#: The hierarchies the target is put in: two v1 ones and the v2 tree.
MOUNTS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified")


def rmdir_when_empty(directory: Path) -> None:
    """rmdir, waiting for killed members to be gone (EBUSY meanwhile)."""
    for _ in range(200):
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)
    directory.rmdir()  # fails the test's teardown, naming the leak


@dataclass(frozen=True)
class Target:
    pid: int
    dirs: tuple[Path, ...]  # its own cgroup in each of MOUNTS
    name: str


@pytest.fixture
def target() -> Iterator[Target]:
    """A process (in its own uts namespace) in a fresh cgroup of each of MOUNTS."""
    name = f"nstui-test-h12-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    dirs = tuple(Path(mount) / name for mount in MOUNTS)
    made: list[Path] = []
    targets = Targets()
    try:
        for directory in dirs:
            directory.mkdir()
            made.append(directory)
        joins = "; ".join(f"echo $$ > {d}/cgroup.procs" for d in dirs)
        pid = targets.start(["--uts"], f"{joins}; exec sleep 1000")
        yield Target(pid, dirs, name)
    finally:
        targets.close()
        for directory in reversed(made):
            rmdir_when_empty(directory)


def cgroup_lines(pid: int | str) -> list[str]:
    with open(f"/proc/{pid}/cgroup", encoding="utf-8") as fh:
        return fh.read().splitlines()


def members(directory: Path) -> list[int]:
    return [int(p) for p in (directory / "cgroup.procs").read_text().split()]


def nstui_enter(target: Target, env: dict[str, str], *command: str) -> tuple[int, str, str, int]:
    """Run ``nstui enter PID --cgroup -- COMMAND`` in its own process group; also return
    that group's id, so a test can look for anything it left behind."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "nstui", "enter", str(target.pid), "--cgroup", "--", *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    return proc.returncode, out, err, proc.pid


def test_command_runs_in_the_targets_cgroups_and_the_moves_are_audited(
    target: Target, tmp_path: Path
) -> None:
    log = tmp_path / "audit.log"
    env = {**os.environ, "NSTUI_AUDIT_LOG": str(log)}
    status, out, err, group = nstui_enter(target, env, "cat", "/proc/self/cgroup")
    assert (status, err) == (0, "")
    theirs = cgroup_lines(target.pid)
    assert out.splitlines() == theirs  # every hierarchy, v2 and each v1
    for mount in ("pids", "memory"):
        assert f":{mount}:/{target.name}" in out
    assert f"0::/{target.name}\n" in out
    assert not pids_in_group(group)
    # one move per hierarchy where the helper was elsewhere (ours: every other one is shared)
    entries = AuditLog(str(log)).entries()
    assert sorted(e.cgroup for e in entries) == sorted(
        [f"pids:/{target.name}", f"memory:/{target.name}", f"/{target.name}"]
    )
    for entry in entries:
        assert (entry.file, entry.result) == ("cgroup.procs", "ok")
        assert entry.value.isdigit() and int(entry.value) != target.pid
    assert len({e.value for e in entries}) == 1  # the one helper, which became the command


def test_unwritable_audit_log_refuses_the_enter_and_leaves_nothing(
    target: Target, tmp_path: Path
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    log = not_a_dir / "audit.log"  # ENOTDIR, even for root
    marker = tmp_path / "ran"
    env = {**os.environ, "NSTUI_AUDIT_LOG": str(log)}
    status, out, err, group = nstui_enter(target, env, "touch", str(marker))
    assert status == 1 and out == ""
    assert err.startswith(f"nstui: cannot record the change in the audit log {log}: "), err
    assert "refusing to change anything unrecorded" in err and err.count("\n") == 1
    assert not marker.exists()
    assert not pids_in_group(group)
    for directory in target.dirs:
        assert members(directory) == [target.pid]


@pytest.fixture
def busy_parent() -> Iterator[Path]:
    """An empty v2 cgroup whose children get hugetlb: the no-internal-processes rule makes
    the kernel refuse any process moved into it (EBUSY)."""
    parent = Path("/sys/fs/cgroup/unified") / f"nstui-test-h12-{os.getpid()}-busy"
    parent.mkdir()
    try:
        (parent / "child").mkdir()
        (parent / "cgroup.subtree_control").write_text("+hugetlb")
        yield parent
    finally:
        rmdir_when_empty(parent / "child")
        rmdir_when_empty(parent)


def test_a_kernel_refusal_stops_the_launch_with_the_writers_message(
    target: Target, busy_parent: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The target really lives in its cgroups; only the v2 one the launch is told to join is
    # swapped for the busy parent, which no process can enter.
    (unified,) = (h for h in discover_hierarchies() if h.version == 2)
    real = cgroup_join.target_cgroups

    def busy_instead(pid: int) -> tuple[CgroupRef, ...]:
        refs = [r for r in real(pid) if r.version == 1]
        return (*refs, CgroupRef(unified, f"/{busy_parent.name}"))

    monkeypatch.setattr(cgroup_join, "target_cgroups", busy_instead)
    monkeypatch.setenv("NSTUI_AUDIT_LOG", str(tmp_path / "audit.log"))
    marker = tmp_path / "ran"
    before = child_pids(os.getpid())
    with pytest.raises(NsHelperError) as caught:
        nshelper.spawn_in(target.pid, None, ["touch", str(marker)], EnterOptions(cgroup=True))
    message = str(caught.value)
    assert message.startswith(f"/{busy_parent.name} cgroup.procs: the kernel refused "), message
    assert "EBUSY" in message and "no-internal-processes rule" in message
    assert not marker.exists()
    assert child_pids(os.getpid()) == before  # the helper was killed and reaped
    assert members(busy_parent) == []
    for directory in target.dirs:
        assert members(directory) == [target.pid]
    failed = [e for e in AuditLog(str(tmp_path / "audit.log")).entries() if not e.ok]
    assert [e.cgroup for e in failed] == [f"/{busy_parent.name}"]


def test_a_target_gone_before_the_launch_is_reported_as_gone(tmp_path: Path) -> None:
    proc = subprocess.Popen(["true"])
    pidfd = os.pidfd_open(proc.pid)
    proc.wait()
    try:
        with pytest.raises(NsHelperError) as caught:
            nshelper._target_cgroups(proc.pid, pidfd)
    finally:
        os.close(pidfd)
    assert caught.value.kind == nshelper.GONE
    assert str(caught.value) == f"process {proc.pid} is gone"


def test_the_audit_records_are_json_lines(target: Target, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    launch = nshelper.spawn_in(
        target.pid,
        None,
        ["true"],
        EnterOptions(cgroup=True),
        capture=True,
        audit=AuditLog(str(log)),
    )
    assert launch.communicate(timeout=10) == (0, "", "")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["result"] for r in records] == ["ok"] * 3  # one line per change


def test_helper_told_nothing_on_its_go_pipe_does_nothing() -> None:
    """EOF instead of the go byte (the caller gave up): the helper exits 1 before reading
    any other option, entering anything or reporting on its status pipe."""
    status_r, status_w = os.pipe()
    go_r, go_w = os.pipe()
    os.close(go_w)
    try:
        words = ["enter", "--status-fd", str(status_w), "--go-fd", str(go_r), "--", "true"]
        assert nshelper_main.main(words) == 1  # no --pid/--pidfd: never got that far
        with pytest.raises(OSError):
            os.fstat(go_r)  # the helper closed it (an exec'd command never sees it)
        os.close(status_w)
        assert os.read(status_r, 100) == b""
    finally:
        os.close(status_r)
