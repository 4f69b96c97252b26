"""SIGKILL the TUI itself in the middle of each operation that makes kernel objects: afterwards
the object either fully exists with its record, or nothing of it remains (and what a killed
nstui can leave, the next one removes).

The app (NstuiApp under App.run_test, in its own process: killed_app.py) does the operation
from the keyboard in its real pane, on live actions; the operation's worker thread stops at a
named kill point (nstui.kernel.killpoint: NSTUI_KILL_POINT) and says so through a fifo, and
the test SIGKILLs the app process right there. Deterministic: no sleeps, no tracing.

Kill points (in the order the operation passes them) and what must hold after the kill:

- cgroup mkdir (v2): ``cgroup.mkdir.recorded`` (audit attempt written) -> no cgroup;
  ``cgroup.mkdir.made`` -> the cgroup, with its audit attempt.
- cgroup mkdir of a v1 cpuset child (staged): ``cgroup.cpuset.staged`` and
  ``cgroup.cpuset.copied`` -> the name asked for does not exist, only a ``.nstui-new-*``
  staging directory, which the next nstui start removes (audited);
  ``cgroup.cpuset.renamed`` -> the child with its parent's cpus and mems, recorded.
- move a pid into a cgroup: ``writer.recorded`` -> not moved; ``writer.written`` -> moved;
  the audit attempt is there either way.
- overlay mount: ``overlay.detached`` (the new mount API's mount, not attached yet) ->
  nothing mounted; ``overlay.mounted`` -> mounted, with its mount-audit attempt.
- keep a namespace (bind mount): ``keep.recorded`` (registry line written, no helper yet) ->
  nothing mounted; the line names no file, and the next keep drops it;
  ``helper.keep.started`` (the helper runs on without its caller) and ``keep.mounted`` ->
  mounted and in the registry (so release removes its file).
- run a command in new namespaces (detached): ``helper.run.started`` -> the helper, finding
  its caller gone, starts nothing: no command, no namespaces; its log says why.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nstui.kernel import nshelper, syscalls
from nstui.kernel.cgroups.audit import AuditEntry, AuditLog
from nstui.kernel.cgroups.hierarchy import discover_hierarchies
from nstui.kernel.cgroups.paths import parse_cgroup_spec
from nstui.kernel.mountinfo import parse_mountinfo

from .kobjects import MountTracker, Spawner

pytestmark = pytest.mark.root

KILLED_APP = str(Path(__file__).with_name("killed_app.py"))
REGISTRY = Path("/run/nstui/created-by-keep")
LAUNCH_LOGS = Path("/var/log/nstui/launch")


# --- killing the app at a point ------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            out += [int(w) for w in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@dataclass
class Killed:
    point: str
    helpers: list[int]  # the app's children when it was killed (namespace helpers)


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "audit.log"


class ForkServer:
    """killed_app.py --serve: forks one app process per request (see its docstring)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, KILLED_APP, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def start(self, op: dict[str, Any], env: dict[str, str], stderr: Path) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        request = {"op": op, "env": env, "stderr": str(stderr)}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def fork_server() -> Iterator[ForkServer]:
    server = ForkServer()
    yield server
    server.close()


def _readable(fd: int, timeout: float) -> bool:
    ready, _, _ = select.select([fd], [], [], timeout)
    return bool(ready)


@pytest.fixture
def kill_app(
    tmp_path: Path, fork_server: ForkServer, audit_path: Path
) -> Iterator[Callable[[str, dict[str, Any]], Killed]]:
    """``kill(point, op)``: start an app doing OP, SIGKILL it at POINT, wait until the
    helpers it had started have ended too. An app still there at teardown is killed."""
    fds: list[int] = []
    pidfds: list[int] = []

    def kill(point: str, op: dict[str, Any]) -> Killed:
        fifo = tmp_path / f"{point}.fifo"
        os.mkfifo(fifo)
        read_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        fds.append(read_fd)
        fds.append(os.open(fifo, os.O_WRONLY | os.O_CLOEXEC))  # so no EOF before the app's line
        env = {"NSTUI_KILL_POINT": point, "NSTUI_KILL_FIFO": str(fifo)}
        env["NSTUI_AUDIT_LOG"] = str(audit_path)
        stderr = tmp_path / f"{point}.stderr"
        pid = fork_server.start(op, env, stderr)
        try:
            pidfd = syscalls.pidfd_open(pid)
        except ProcessLookupError:
            raise AssertionError(f"the app ended before {point}: {stderr.read_text()}") from None
        pidfds.append(pidfd)
        line = b""
        deadline = time.monotonic() + 60
        while not line.endswith(b"\n"):
            if _readable(pidfd, 0):
                raise AssertionError(f"the app ended before {point}: {stderr.read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the app did not reach {point} in 60 s")
            if _readable(read_fd, 0.05):
                line += os.read(read_fd, 256)
        name, reported = line.decode().split()
        assert (name, int(reported)) == (point, pid)
        helpers = _children(pid)
        syscalls.pidfd_send_signal(pidfd, signal.SIGKILL)
        assert _readable(pidfd, 10), "the killed app did not end"
        for helper in helpers:
            _wait_until(lambda h=helper: not _alive(h), 30, f"helper {helper} to end")  # type: ignore[misc]
        return Killed(point, helpers)

    yield kill
    for pidfd in pidfds:
        with contextlib.suppress(OSError):
            syscalls.pidfd_send_signal(pidfd, signal.SIGKILL)
        _readable(pidfd, 10)
        os.close(pidfd)
    for fd in fds:
        os.close(fd)


def _attempts(log: Path) -> list[AuditEntry]:
    """Every change the audit log holds (its outcome may be unknown: the app was killed)."""
    return AuditLog(str(log)).entries()


def _next_start(audit_path: Path) -> None:
    """What the next nstui does as it starts, up to its first frame (live_actions())."""
    code = "from nstui.model.actions import live_actions; live_actions()"
    env = {**os.environ, "NSTUI_AUDIT_LOG": str(audit_path)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


def _ref(directory: Path) -> tuple[int, str, str]:
    ref = parse_cgroup_spec(str(directory), discover_hierarchies())
    return ref.hid, ref.path, ref.spec


# --- cgroups -------------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["cgroup.mkdir.recorded", "cgroup.mkdir.made"])
def test_mkdir_killed_leaves_the_cgroup_recorded_or_nothing(
    point: str,
    kill_app: Callable[[str, dict[str, Any]], Killed],
    test_cgroup_parent: Callable[[str], Path],
    audit_path: Path,
) -> None:
    parent = test_cgroup_parent("unified")
    hid, path, _ = _ref(parent)
    kill_app(point, {"op": "mkdir", "hid": hid, "path": path, "name": "web"})
    child_spec = _ref(parent)[2].rstrip("/") + "/web"
    recorded = [a for a in _attempts(audit_path) if a.cgroup == child_spec]
    assert [a.file for a in recorded] == ["(mkdir)"], recorded
    made = (parent / "web").is_dir()
    assert made == (point == "cgroup.mkdir.made")
    assert sorted(p.name for p in parent.iterdir() if p.is_dir()) == (["web"] if made else [])


@pytest.mark.parametrize(
    "point", ["cgroup.cpuset.staged", "cgroup.cpuset.copied", "cgroup.cpuset.renamed"]
)
def test_cpuset_mkdir_killed_leaves_a_usable_child_or_a_staging_the_next_start_removes(
    point: str,
    kill_app: Callable[[str, dict[str, Any]], Killed],
    test_cgroup_parent: Callable[[str], Path],
    audit_path: Path,
) -> None:
    parent = test_cgroup_parent("cpuset")
    hid, path, spec = _ref(parent)
    kill_app(point, {"op": "mkdir", "hid": hid, "path": path, "name": "pinned"})
    child = parent / "pinned"
    staging = [p for p in parent.iterdir() if p.is_dir() and p.name.startswith(".nstui-new-")]
    if point == "cgroup.cpuset.renamed":
        assert child.is_dir() and not staging
        assert (child / "cpuset.cpus").read_text().strip()
        assert (child / "cpuset.mems").read_text().strip()
        assert any(
            a.cgroup == f"{spec}/pinned" and a.file == "(mkdir)" for a in _attempts(audit_path)
        )
    else:
        # the name asked for never exists half made: only the staging directory is left
        assert not child.exists()
        assert len(staging) == 1, staging
    _next_start(audit_path)
    assert not [p for p in parent.iterdir() if p.name.startswith(".nstui-new-")]
    assert child.is_dir() == (point == "cgroup.cpuset.renamed")
    if staging:
        removals = [
            a
            for a in _attempts(audit_path)
            if a.file == "(rmdir)" and a.cgroup.endswith(staging[0].name)
        ]
        assert len(removals) == 1, "the start-up sweep's removal is not in the audit log"


def test_start_up_sweep_leaves_a_live_makers_staging_alone(
    test_cgroup_parent: Callable[[str], Path], audit_path: Path
) -> None:
    """Only a dead maker's staging is removed: another nstui may be making a child now."""
    parent = test_cgroup_parent("cpuset")
    dead = subprocess.Popen(["true"])
    dead.wait()
    mine = parent / f".nstui-new-{os.getpid()}-1"
    gone = parent / f".nstui-new-{dead.pid}-1"
    other = parent / ".nstui-newish"
    for d in (mine, gone, other):
        d.mkdir()
    _next_start(audit_path)
    assert mine.is_dir() and other.is_dir() and not gone.exists()


@pytest.mark.parametrize("point", ["writer.recorded", "writer.written"])
def test_move_killed_leaves_the_pid_where_the_record_says(
    point: str,
    kill_app: Callable[[str, dict[str, Any]], Killed],
    test_cgroup_parent: Callable[[str], Path],
    spawn: Spawner,
    audit_path: Path,
) -> None:
    parent = test_cgroup_parent("pids")
    leaf = parent / "leaf"
    leaf.mkdir()
    hid, path, spec = _ref(leaf)
    sleeper = spawn(["sleep", "300"])
    kill_app(point, {"op": "move", "hid": hid, "path": path, "pid": sleeper.pid})
    moved = str(sleeper.pid) in (leaf / "cgroup.procs").read_text().split()
    assert moved == (point == "writer.written")
    assert any(
        a.cgroup == spec and a.file == "cgroup.procs" and a.value == str(sleeper.pid)
        for a in _attempts(audit_path)
    ), "the move's audit attempt is missing"


# --- mounts --------------------------------------------------------------------------------


def _mounts() -> list[Any]:
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        return parse_mountinfo(f.read())


@pytest.mark.parametrize("point", ["overlay.detached", "overlay.mounted"])
def test_overlay_killed_is_mounted_with_its_record_or_not_at_all(
    point: str,
    kill_app: Callable[[str, dict[str, Any]], Killed],
    tmp_mount: MountTracker,
    tmp_path: Path,
    audit_path: Path,
) -> None:
    lowers = [tmp_path / "top", tmp_path / "bottom"]
    for lower in lowers:
        lower.mkdir()
    target = tmp_mount.dir("merged")
    kill_app(point, {"op": "overlay", "lowers": [str(p) for p in lowers], "target": str(target)})
    overlays = [m for m in _mounts() if m.fstype == "overlay" and str(tmp_path) in m.super_options]
    assert [m.mountpoint for m in overlays] == ([str(target)] if point == "overlay.mounted" else [])
    attempts = _attempts(audit_path.with_name("mounts.log"))
    assert any(a.file == "(mount overlay)" and str(target) in a.value for a in attempts), attempts


# --- namespaces ----------------------------------------------------------------------------


def _registry() -> list[str]:
    try:
        return REGISTRY.read_text().splitlines()
    except OSError:
        return []


@pytest.fixture
def registry_restored(tmp_path: Path) -> Iterator[None]:
    """/run/nstui/created-by-keep keeps no line of this test's paths (tmp_mount unmounts)."""
    yield
    lines = _registry()
    left = [p for p in lines if not p.startswith(str(tmp_path))]
    if left != lines:
        REGISTRY.write_text("".join(f"{p}\n" for p in left))


def _nsfs_mounted(path: str) -> bool:
    return any(m.mountpoint == path and m.fstype == "nsfs" for m in _mounts())


@pytest.mark.parametrize("point", ["keep.recorded", "helper.keep.started", "keep.mounted"])
def test_keep_killed_is_a_recorded_mount_or_nothing(
    point: str,
    kill_app: Callable[[str, dict[str, Any]], Killed],
    spawn: Spawner,
    tmp_mount: MountTracker,
    tmp_path: Path,
    registry_restored: None,
) -> None:
    target = spawn(["unshare", "--net", "sleep", "300"])
    _wait_until(
        lambda: Path(f"/proc/{target.pid}/comm").read_text().strip() == "sleep", 10, "unshare"
    )
    path = str(tmp_mount.track(tmp_path / "kept-net"))
    killed = kill_app(point, {"op": "keep", "pid": target.pid, "path": path})
    if point == "keep.recorded":
        assert not killed.helpers
        assert not os.path.lexists(path) and not _nsfs_mounted(path)
        assert path in _registry()  # a line naming no file: harmless, and dropped by ...
        other = str(tmp_mount.track(tmp_path / "kept-again"))
        nshelper.persist(target.pid, "net", other)  # ... the next keep
        try:
            assert path not in _registry() and other in _registry()
        finally:
            nshelper.release(other)
    else:
        assert _nsfs_mounted(path), f"{path} is not mounted after a kill at {point}"
        assert path in _registry(), f"{path} is mounted but not recorded: release would leave it"


def test_run_killed_while_its_helper_starts_starts_nothing(
    kill_app: Callable[[str, dict[str, Any]], Killed], tmp_path: Path
) -> None:
    seconds = f"900.{secrets.randbelow(10**6):06d}"  # names this run's command
    logs_before = set(LAUNCH_LOGS.iterdir()) if LAUNCH_LOGS.is_dir() else set()
    try:
        killed = kill_app("helper.run.started", {"op": "run", "command": f"sleep {seconds}"})
        assert killed.helpers, "the helper was not started"
        started = [
            pid
            for pid in (int(p) for p in os.listdir("/proc") if p.isdecimal())
            if _cmdline(pid) == ["sleep", seconds]
        ]
        assert not started, f"the command runs on without the app that started it: {started}"
        logs = set(LAUNCH_LOGS.iterdir()) - logs_before
        texts = [t for t in (p.read_text(errors="replace") for p in logs) if seconds in t]
        assert len(texts) == 1 and "caller is gone" in texts[0], texts
        assert "Traceback" not in texts[0], texts
    finally:
        for log in (set(LAUNCH_LOGS.iterdir()) if LAUNCH_LOGS.is_dir() else set()) - logs_before:
            if seconds in log.read_text(errors="replace"):
                log.unlink()


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [os.fsdecode(w) for w in raw.split(b"\0") if w]
