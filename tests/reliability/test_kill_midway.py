"""Killing nstui's forked helper, or nstui itself, in the middle of an operation leaves
nothing half made.

- The namespace helper killed while it runs a command in new namespaces: the command dies
  with it (parent-death signal) and its namespaces with the command; nstui reports the
  helper's status.
- ``nstui keep`` killed the moment its bind mount appears: the mount is recorded (the
  registry lists it, so ``release`` removes its file) or it is not there at all.
- ``nstui cg mk`` of a v1 cpuset child killed the moment the directory appears: the child is
  either absent or usable (cpus and mems copied from the parent) — not an empty cpuset that
  refuses every process.

The kills are timed by watching for the object to appear and sending SIGKILL at once, which
lands inside the window between "made" and "recorded/finished" often but not always; each
test repeats a few times and asserts the invariant after every kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nstui.kernel.mountinfo import parse_mountinfo

from .kobjects import MountTracker, Spawner

pytestmark = pytest.mark.root

NSTUI = [sys.executable, "-m", "nstui"]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(w) for w in text.split()]


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in _children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _wait_for(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _processes_in_netns(ino: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}/ns/net").st_ino == ino:
                    found.append(int(name))
            except OSError:
                continue
    return found


def test_killed_helper_takes_its_command_and_namespaces_along(spawn: Spawner) -> None:
    nstui = spawn(
        [*NSTUI, "run", "--ns", "net,uts,pid", "--", "sleep", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    def command() -> int | None:
        return next((p for p in _descendants(nstui.pid) if _comm(p) == "sleep"), None)

    sleeper = _wait_for(command, 60, "the command to start")
    assert isinstance(sleeper, int)
    netns = os.stat(f"/proc/{sleeper}/ns/net").st_ino
    helper = _children(nstui.pid)[0]
    os.kill(helper, signal.SIGKILL)
    _, err = nstui.communicate(timeout=30)
    assert nstui.returncode != 0
    assert b"Traceback" not in err, err
    _wait_for(lambda: not _alive(sleeper), 10, "the command to die with its helper")
    _wait_for(lambda: not _processes_in_netns(netns), 10, "its network namespace to empty")


def _nsfs_mounts() -> dict[str, str]:
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        return {m.mountpoint: m.root for m in parse_mountinfo(f.read()) if m.fstype == "nsfs"}


def _registry() -> list[str]:
    try:
        return Path("/run/nstui/created-by-keep").read_text().splitlines()
    except OSError:
        return []


def test_keep_killed_right_after_its_mount_leaves_it_recorded(
    spawn: Spawner, tmp_mount: MountTracker, tmp_path: Path
) -> None:
    target = spawn(["unshare", "--net", "sleep", "300"])
    _wait_for(lambda: _comm(target.pid) == "sleep", 10, "unshare to exec sleep")
    problems: list[str] = []
    registered_before = set(_registry())
    try:
        for attempt in range(4):
            path = str(tmp_path / f"kept-{attempt}")
            tmp_mount.track(path)
            keeper = subprocess.Popen([*NSTUI, "keep", str(target.pid), "net", path])
            deadline = time.monotonic() + 60
            while keeper.poll() is None and time.monotonic() < deadline:
                if path in _nsfs_mounts():
                    keeper.send_signal(signal.SIGKILL)
                    break
            keeper.wait(timeout=30)
            mounted = path in _nsfs_mounts()
            recorded = path in _registry()
            if mounted and not recorded and os.path.exists(path):
                problems.append(
                    f"attempt {attempt}: {path} is mounted but not in the registry (status "
                    f"{keeper.returncode}): release would leave its file behind"
                )
    finally:
        # leave /run/nstui/created-by-keep as it was (tmp_mount unmounts the paths)
        left = [p for p in _registry() if p in registered_before or not p.startswith(str(tmp_path))]
        if left != _registry():
            Path("/run/nstui/created-by-keep").write_text("".join(f"{p}\n" for p in left))
    assert not problems, problems


def test_cpuset_child_killed_right_after_mkdir_is_usable_or_absent(
    test_cgroup_parent: Callable[[str], Path], tmp_path: Path
) -> None:
    parent = test_cgroup_parent("cpuset")
    problems: list[str] = []
    env = {**os.environ, "NSTUI_AUDIT_LOG": str(tmp_path / "audit.log")}
    for attempt in range(4):
        child = parent / f"child{attempt}"
        maker = subprocess.Popen(
            [*NSTUI, "cg", "mk", f"cpuset:/{parent.name}/{child.name}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while maker.poll() is None and time.monotonic() < deadline:
            if child.exists():
                maker.send_signal(signal.SIGKILL)
                break
        maker.wait(timeout=30)
        if child.exists():
            cpus = (child / "cpuset.cpus").read_text().strip()
            mems = (child / "cpuset.mems").read_text().strip()
            if not cpus or not mems:
                problems.append(
                    f"attempt {attempt}: {child.name} left with cpus={cpus!r} mems={mems!r} "
                    f"(status {maker.returncode}): no process can be moved into it"
                )
    assert not problems, problems
