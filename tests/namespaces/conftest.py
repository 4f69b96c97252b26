"""Fixtures for namespace tests: processes started by pid and nsfs bind mounts, all removed
at teardown even when the test fails."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nstui.kernel import procfs


class Procs:
    """Starts processes in their own session; teardown SIGKILLs each group by its pid."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[str]] = []

    def start(self, argv: list[str], **kwargs: object) -> subprocess.Popen[str]:
        proc: subprocess.Popen[str] = subprocess.Popen(  # type: ignore[call-overload]
            argv, start_new_session=True, text=True, **kwargs
        )
        self.started.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[str]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def close(self) -> None:
        for proc in reversed(self.started):
            self.kill(proc)


@pytest.fixture(autouse=True, scope="module")
def _end_scan_helper() -> Iterator[None]:
    """scan_processes keeps a helper process for the second core; end it with the module."""
    yield
    procfs.close_helper()


@pytest.fixture
def procs() -> Iterator[Procs]:
    tracker = Procs()
    try:
        yield tracker
    finally:
        tracker.close()


@pytest.fixture
def nsfs_file(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``make(name)``: an empty file under tmp_path to bind a namespace on; every mount
    stacked on it is unmounted at teardown."""
    made: list[Path] = []

    def make(name: str) -> Path:
        path = tmp_path / name
        path.touch()
        made.append(path)
        return path

    try:
        yield make
    finally:
        for path in made:
            while os.path.ismount(path):
                subprocess.run(["umount", "--", str(path)], check=False, capture_output=True)
                if os.path.ismount(path):  # busy or refused: detach lazily, do not loop
                    subprocess.run(["umount", "-l", "--", str(path)], check=False)
                    break


def wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return ""


def child_pid(pid: int) -> int | None:
    """The first child of PID (unshare --fork's child), or None yet."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            words = f.read().split()
    except OSError:
        return None
    return int(words[0]) if words else None


def ns_inode(pid: int | str, ns_type: str) -> int:
    return os.stat(f"/proc/{pid}/ns/{ns_type}").st_ino


def forked_sleeper(procs: Procs, argv: list[str]) -> tuple[int, int]:
    """Start ``unshare ... --fork sleep ...`` (ARGV); return (unshare's pid, the sleep's pid)
    once the child has exec'd sleep."""
    parent = procs.start(argv)
    found: list[int] = []

    def child_is_sleeping() -> bool:
        pid = child_pid(parent.pid)
        if pid is not None and comm(pid) == "sleep":
            found.append(pid)
            return True
        return False

    wait_for(child_is_sleeping, f"the forked child of {argv[0]} to exec sleep")
    return parent.pid, found[0]
