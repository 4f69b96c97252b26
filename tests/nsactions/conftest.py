"""Fixtures for the namespace-action tests: target processes, launches and nsfs mounts, all
removed at teardown even when the test fails."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nstui.kernel import nshelper
from nstui.kernel.nshelper import Launch


def nsfs_mounted(path: str) -> bool:
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        return any(
            line.split()[4] == path and " - nsfs " in line for line in fh if len(line.split()) > 4
        )


def child_pids(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def pids_in_ns(ns_type: str, inode: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}/ns/{ns_type}").st_ino == inode:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def pids_in_group(pgid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry))
    return found


class Targets:
    """util-linux ``unshare --fork`` processes in their own session; killed by group."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, unshare_args: list[str], script: str, comm: str = "sleep", as_uid: int | None = None
    ) -> int:
        """Run ``script`` under ``unshare --fork ARGS`` (as ``as_uid`` when given); return the
        pid of the forked child once it has exec'd ``comm``."""
        argv = ["unshare", *unshare_args, "--fork", "sh", "-c", script]
        if as_uid is not None:
            argv[:0] = ["setpriv", f"--reuid={as_uid}", f"--regid={as_uid}", "--clear-groups"]
        proc = subprocess.Popen(argv, start_new_session=True)
        self.started.append(proc)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for pid in child_pids(proc.pid):
                try:
                    with open(f"/proc/{pid}/comm", encoding="utf-8") as fh:
                        if fh.read().strip() == comm:
                            return pid
                except OSError:
                    pass
            time.sleep(0.01)
        raise AssertionError(f"target {script!r} did not start")

    def close(self) -> None:
        for proc in self.started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def targets() -> Iterator[Targets]:
    tracker = Targets()
    try:
        yield tracker
    finally:
        tracker.close()


@pytest.fixture
def launches() -> Iterator[list[Launch]]:
    """Launches a test started; any still running is stopped (SIGKILL) and its log removed."""
    started: list[Launch] = []
    try:
        yield started
    finally:
        for launch in started:
            if launch.poll() is None:
                launch.stop(grace=0.1)
            if launch.log_path:
                Path(launch.log_path).unlink(missing_ok=True)


@pytest.fixture
def kept_paths() -> Iterator[Callable[[Path], str]]:
    """``track(path)``: unmounted (every stacked nsfs mount) and removed at teardown."""
    paths: list[str] = []

    def track(path: Path) -> str:
        paths.append(str(path))
        return str(path)

    try:
        yield track
    finally:
        for path in paths:
            while nsfs_mounted(path):
                subprocess.run(["umount", path], check=False)
            Path(path).unlink(missing_ok=True)
            lines = [p for p in nshelper._registry_lines() if p != path]
            nshelper._registry_write(lines)
