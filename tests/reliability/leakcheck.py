"""The pytest plugin that fails a run which left kernel objects behind.

Registered by tests/conftest.py for the whole suite. At session start it lists the objects
tests could leak (see leaks.py); at the end it lists them again (allowing a short grace for
processes still exiting), sets the exit status to "tests failed" when something leaked,
removes the leaked objects so later runs on this machine start clean, and prints a report
naming each of them in the terminal summary.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest

from . import kobjects, leaks


def enabled() -> bool:
    """``NSTUI_LEAK_CHECK=0`` disables the check (for debugging a single test only)."""
    return os.environ.get("NSTUI_LEAK_CHECK", "1") != "0"


def session_tag() -> str:
    """This session's tag (os.environ[leaks.SESSION_ENV], so children inherit it)."""
    tag = os.environ.get(leaks.SESSION_ENV)
    if tag is None:
        tag = uuid.uuid4().hex[:10]
        os.environ[leaks.SESSION_ENV] = tag
    return tag


def _basetemp(config: pytest.Config) -> str | None:
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        return None
    try:
        return str(factory.getbasetemp().resolve())
    except OSError:
        return None


def remove_leaks(
    before: leaks.Inventory, after: leaks.Inventory, report: leaks.LeakReport
) -> list[str]:
    """Remove what ``report`` counts as leaked; returns what could not be removed."""
    left: list[str] = []
    counted = set(report.leaks)
    for proc in leaks.iter_leaked_processes(before, after):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
    own_mntns = os.readlink("/proc/self/ns/mnt")
    for mount in sorted(after.mounts, key=lambda m: -m.mount_id):
        if mount.describe() in counted and mount.mntns == own_mntns:
            err = kobjects.unmount_all(mount.mountpoint)
            if err:
                left.append(err)
    for path in sorted(after.netns - before.netns, reverse=True):
        if f"netns entry {path}" in counted:
            kobjects.unmount_all(path)
            with contextlib.suppress(OSError):
                os.unlink(path)
    for top, below in leaks.collapse_tree(after.cgroups - before.cgroups):
        if leaks.describe_cgroup(top, below) in counted:
            left += kobjects.remove_cgroup_tree(Path(top))
    return left


#: nstui's long-lived helper processes, which end with the process that started them (their
#: stdin closes): closed before the final inventory, as exiting would. (module, function)
HELPER_CLOSERS = (("nstui.kernel.procfs", "close_helper"),)


def close_nstui_helpers() -> None:
    for module_name, function in HELPER_CLOSERS:
        module = sys.modules.get(module_name)
        closer = getattr(module, function, None)
        if closer is not None:
            closer()


class LeakCheckPlugin:
    def __init__(self) -> None:
        self.markers: leaks.Markers | None = None
        self.before: leaks.Inventory | None = None
        self.report: leaks.LeakReport | None = None
        self.left: list[str] = []

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if os.environ.get("PYTEST_XDIST_WORKER"):
            return  # with xdist the controller checks once, around all workers
        os.environ[leaks.SESSION_ENV] = uuid.uuid4().hex[:10]
        self.markers = leaks.Markers(
            tag=session_tag(), session_pid=os.getpid(), basetemp=_basetemp(session.config)
        )
        self.before = leaks.take_inventory(self.markers)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.markers is None or self.before is None:
            return
        close_nstui_helpers()
        after, report = leaks.settle(self.before, self.markers)
        self.report = report
        if not report.ok:
            self.left = remove_leaks(self.before, after, report)
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            if session.config.pluginmanager.get_plugin("terminalreporter") is None:
                print("\n".join(self._lines()), file=sys.stderr)

    def _lines(self) -> list[str]:
        if self.report is None:
            return []
        lines = self.report.lines()
        if not self.report.ok:
            lines.append(
                "FAILED: tests left the objects above; they were removed now"
                + (f", except: {'; '.join(self.left)}" if self.left else "")
            )
        return lines

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        lines = self._lines()
        if not lines or self.report is None:
            return
        failed = not self.report.ok
        terminalreporter.section("kernel objects left behind", sep="=", red=failed)
        for line in lines:
            terminalreporter.line(line, red=failed)
