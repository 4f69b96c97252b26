"""Make and remove the kernel objects tests need: cgroup parents, processes, mounts.

The suite-wide fixtures in tests/conftest.py (``test_cgroup_parent``, ``spawn``,
``tmp_mount``) are thin wrappers over these; benchmarks use them directly. Removal is by the
identity the test made (a cgroup directory it created, a pid it started, a mount point it
tracked), never by name pattern, so a concurrent user's objects are never touched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nstui.kernel import syscalls
from nstui.kernel.mountinfo import Mount, parse_mountinfo

from .leaks import TEST_MARKER

V2_ALIASES = frozenset({"unified", "v2", "cgroup2"})


class ControllerMissing(LookupError):
    """The controller is mounted nowhere on this host."""


def _mounts() -> list[Mount]:
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        return parse_mountinfo(f.read())


def v2_root() -> Path | None:
    for mount in _mounts():
        if mount.fstype == "cgroup2":
            return Path(mount.mountpoint)
    return None


def hierarchy_root(controller: str) -> tuple[Path, int]:
    """Mount point and version of the hierarchy carrying ``controller``: a v1 controller
    (``memory``, ``name=systemd`` or ``systemd``), ``unified``/``v2`` for the v2 root, or a
    controller only the v2 tree has (pure v2 hosts)."""
    root2 = v2_root()
    if controller in V2_ALIASES:
        if root2 is None:
            raise ControllerMissing("no cgroup2 hierarchy is mounted")
        return root2, 2
    wanted = {controller, f"name={controller}"}
    for mount in _mounts():
        if mount.fstype == "cgroup" and wanted & set(mount.super_options.split(",")):
            return Path(mount.mountpoint), 1
    if root2 is not None:
        available = (root2 / "cgroup.controllers").read_text().split()
        if controller in available:
            return root2, 2
    raise ControllerMissing(f"cgroup controller {controller!r} is not mounted on this host")


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def make_cgroup_parent(controller: str, tag: str) -> Path:
    """Create ``<hierarchy>/nstui-test-<tag>-<uuid>`` ready for tests to use: on v1 cpuset its
    cpus/mems are copied from the root (a new cpuset is empty); on v2 the controller is enabled
    in the root's and the new parent's subtree_control so children get its files."""
    root, version = hierarchy_root(controller)
    path = root / f"{TEST_MARKER}-{tag}-{uuid.uuid4().hex[:8]}"
    if version == 2 and controller not in V2_ALIASES:
        enabled = (root / "cgroup.subtree_control").read_text().split()
        if controller not in enabled:
            _write(root / "cgroup.subtree_control", f"+{controller}")
    path.mkdir()
    try:
        if version == 1 and controller == "cpuset":
            for knob in ("cpuset.cpus", "cpuset.mems"):
                _write(path / knob, (root / knob).read_text().strip())
        if version == 2 and controller not in V2_ALIASES:
            _write(path / "cgroup.subtree_control", f"+{controller}")
    except OSError:
        remove_cgroup_tree(path)
        raise
    return path


def _cgroup_dirs_deepest_first(top: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, _ in os.walk(top):
        found.extend(Path(dirpath) / d for d in dirnames)
    found.sort(key=lambda p: len(p.parts), reverse=True)
    return [*found, top]


def _members(cgroup: Path) -> list[int]:
    try:
        text = (cgroup / "cgroup.procs").read_text()
    except OSError:
        return []
    return [int(line) for line in text.split()]


def thaw_tree(top: Path) -> None:
    for cg in _cgroup_dirs_deepest_first(top):
        for knob, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            if (cg / knob).exists():
                with contextlib.suppress(OSError):
                    _write(cg / knob, value)


def kill_members(top: Path, timeout: float = 5.0) -> None:
    """SIGKILL every process in the tree (v2 cgroup.kill where there is one) until empty."""
    deadline = time.monotonic() + timeout
    for cg in _cgroup_dirs_deepest_first(top):
        if (cg / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                _write(cg / "cgroup.kill", "1")
        while (pids := _members(cg)) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)


def remove_cgroup_tree(top: Path, timeout: float = 5.0) -> list[str]:
    """Thaw, kill members, rmdir deepest first. Returns what could not be removed."""
    if not top.exists():
        return []
    thaw_tree(top)
    kill_members(top, timeout)
    left: list[str] = []
    deadline = time.monotonic() + timeout
    for cg in _cgroup_dirs_deepest_first(top):
        while True:
            try:
                cg.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                # EBUSY while killed members finish exiting
                if exc.errno != errno.EBUSY or time.monotonic() >= deadline:
                    left.append(f"{cg}: {exc.strerror}")
                    break
                time.sleep(0.02)
    return left


# --- processes -----------------------------------------------------------------------------


def _pgrp_members(pgid: int) -> list[int]:
    out: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                rest = f.read().rpartition(")")[2].split()
            if int(rest[2]) == pgid:
                out.append(int(name))
        except (OSError, IndexError, ValueError):
            continue
    return out


class Spawner:
    """Start processes by argv in their own session; kill them (and what stayed in their
    process group) by pid at close. No shell: argv goes to execve as a list."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def __call__(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        if isinstance(argv, str):
            raise TypeError("spawn takes an argv list, not a shell string")
        kwargs.setdefault("start_new_session", True)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        proc: subprocess.Popen[bytes] = subprocess.Popen(list(argv), **kwargs)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            # While the leader is unreaped its pid (= the group id) cannot be reused, so
            # signalling the group is safe; after reaping, signal only members still there.
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            else:
                for pid in _pgrp_members(proc.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            for stream in (proc.stdout, proc.stderr, proc.stdin):
                if stream is not None:
                    stream.close()
        self.procs.clear()


# --- mounts --------------------------------------------------------------------------------


def mounted_at(target: str) -> bool:
    return any(m.mountpoint == target for m in _mounts())


def unmount_all(target: str) -> str | None:
    """Unmount every mount stacked on ``target`` (lazily when busy). Error text or None."""
    for _ in range(64):
        if not mounted_at(target):
            return None
        try:
            syscalls.umount2(target, syscalls.UMOUNT_NOFOLLOW)
        except OSError as exc:
            if exc.errno == errno.EINVAL and not mounted_at(target):
                return None
            try:
                syscalls.umount2(target, syscalls.MNT_DETACH | syscalls.UMOUNT_NOFOLLOW)
            except OSError as exc2:
                return f"{target}: {exc2}"
    return f"{target}: still mounted after 64 unmounts"


class MountTracker:
    """Mount points a test registers; each is unmounted (all stacked mounts) at close."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.targets: list[Path] = []

    def track(self, target: str | os.PathLike[str]) -> Path:
        path = Path(os.path.abspath(target))
        self.targets.append(path)
        return path

    def dir(self, name: str = "mnt") -> Path:
        """A fresh directory under the test's tmp_path, tracked as a mount point."""
        path = self.base / name
        path.mkdir(parents=True, exist_ok=False)
        return self.track(path)

    def close(self) -> list[str]:
        errors = [err for t in reversed(self.targets) if (err := unmount_all(str(t)))]
        self.targets.clear()
        return errors
