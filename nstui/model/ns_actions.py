"""Namespace actions the UI can take: run in new namespaces, enter, keep, release.

``NsActions`` is the shape the UI relies on; ``LiveNsActions`` does it on this host through
the helper process of ``nstui.kernel.nshelper`` (never in the threaded UI process itself).
Option and result types are re-exported here so the UI imports nothing from the kernel layer.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from nstui.kernel import nshelper
from nstui.kernel.nshelper import (
    EnterOptions,
    KeptNamespace,
    NsHelperError,
    UnshareOptions,
)
from nstui.kernel.nstypes import NsId, NsType

__all__ = [
    "EnterOptions",
    "KeptNamespace",
    "LaunchHandle",
    "LiveNsActions",
    "NsActions",
    "NsHelperError",
    "UnshareOptions",
    "wait_in_foreground",
]


class LaunchHandle(Protocol):
    """A started command (nstui.kernel.nshelper.Launch has this shape)."""

    pid: int
    log_path: str | None

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def stop(self, grace: float = 3.0) -> int: ...


class NsActions(Protocol):
    def run(
        self,
        argv: Sequence[str],
        namespaces: Iterable[NsType | str],
        options: UnshareOptions,
        *,
        detach: bool = False,
    ) -> LaunchHandle:
        """Start ``argv`` in new namespaces; raises NsHelperError with a one-line reason."""
        ...

    def enter(
        self,
        target_pid: int,
        namespaces: Iterable[NsType | str] | None,
        argv: Sequence[str],
        options: EnterOptions,
        *,
        detach: bool = False,
    ) -> LaunchHandle:
        """Start ``argv`` in the namespaces of ``target_pid`` (None: all that differ)."""
        ...

    def keep(self, pid: int, ns_type: NsType, path: str) -> KeptNamespace: ...

    def release(self, path: str) -> None: ...

    def differences(self, pid: int) -> dict[NsType, bool | None]:
        """Per type: True differs from ours, False shared, None unreadable."""
        ...

    def default_shell(self, pid: int, inside_root: bool = True) -> str:
        """The target's shell; ``inside_root``: it must exist in the target's root."""
        ...

    def default_keep_path(self, ns: NsId) -> str: ...

    def unavailable_reason(self) -> str | None:
        """Why namespace actions cannot work here (e.g. not root), or None."""
        ...


class LiveNsActions:
    """Namespace actions on this host's kernel, through the helper process."""

    def __init__(self, **options: Any) -> None:
        # Shared keyword options of live_actions(); none concern namespaces yet.
        self.options = options
        #: detached launches of this session, newest last (for a pane that lists or stops them)
        self.detached: list[LaunchHandle] = []

    def _track(self, launch: LaunchHandle, detach: bool) -> LaunchHandle:
        if detach:
            # A waiter reaps the helper when the command ends: no zombie in the process list.
            self.detached.append(launch)
            threading.Thread(target=launch.wait, name=f"reap-{launch.pid}", daemon=True).start()
        return launch

    def run(
        self,
        argv: Sequence[str],
        namespaces: Iterable[NsType | str],
        options: UnshareOptions,
        *,
        detach: bool = False,
    ) -> LaunchHandle:
        launch = nshelper.spawn_unshared(argv, namespaces, options, detach=detach)
        return self._track(launch, detach)

    def enter(
        self,
        target_pid: int,
        namespaces: Iterable[NsType | str] | None,
        argv: Sequence[str],
        options: EnterOptions,
        *,
        detach: bool = False,
    ) -> LaunchHandle:
        launch = nshelper.spawn_in(target_pid, namespaces, argv, options, detach=detach)
        return self._track(launch, detach)

    def keep(self, pid: int, ns_type: NsType, path: str) -> KeptNamespace:
        return nshelper.persist(pid, ns_type, path)

    def release(self, path: str) -> None:
        nshelper.release(path)

    def differences(self, pid: int) -> dict[NsType, bool | None]:
        return nshelper.namespace_differences(pid)

    def default_shell(self, pid: int, inside_root: bool = True) -> str:
        return nshelper.target_shell(pid, inside_root)

    def default_keep_path(self, ns: NsId) -> str:
        return nshelper.default_keep_path(ns.type, ns.ino)

    def unavailable_reason(self) -> str | None:
        if os.geteuid() != 0:
            return (
                "not root: entering other processes' namespaces, keeping namespaces and "
                "creating most namespace types need root (a new user namespace with "
                "'map root' works without)"
            )
        return None


def wait_in_foreground(launch: LaunchHandle) -> int:
    """Wait for an attached command; like a shell, leave ^C and ^\\ to it meanwhile, and take
    the terminal back when it ends."""
    if threading.current_thread() is not threading.main_thread():
        return launch.wait()
    terminal = _owned_terminal()
    old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    old_quit = signal.signal(signal.SIGQUIT, signal.SIG_IGN)
    try:
        return launch.wait()
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGQUIT, old_quit)
        if terminal is not None:
            _take_terminal_back(terminal)


def _owned_terminal() -> int | None:
    """Standard input's terminal when our process group is its foreground one (we are not a
    background job), else None."""
    try:
        if os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp():
            return 0
    except OSError:
        pass
    return None


def _take_terminal_back(fd: int) -> None:
    """An interactive shell makes its own process group the terminal's foreground one; in a
    new pid namespace it cannot hand it back on exit (our group is invisible there). Left so,
    nstui is a background job of its own terminal and the TUI hangs on its next write: take
    the terminal back as a shell does after a job (SIGTTOU ignored, or it stops us)."""
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        if os.tcgetpgrp(fd) != os.getpgrp():
            os.tcsetpgrp(fd, os.getpgrp())
    except OSError:
        pass
    finally:
        signal.signal(signal.SIGTTOU, old)
