"""The app on the live kernel: a process in new uts, net and pid namespaces shows up under a
new namespace of each type within two refreshes, and goes when it exits."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from nstui.kernel.nstypes import NsId, NsType
from nstui.model.scanner import LiveSource
from nstui.ui.app import NstuiApp

from .helpers import refresh, settle, sync

NEW_TYPES = (NsType.UTS, NsType.NET, NsType.PID)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(OSError):
            out += [int(p) for p in (task / "children").read_text().split()]
    return out


@pytest.fixture
def unshared_sleep() -> Iterator[tuple[int, int]]:
    """(unshare's pid, the sleep's host pid); both killed by pid at the end."""
    proc = subprocess.Popen(
        ["unshare", "--uts", "--net", "--pid", "--fork", "--kill-child", "sleep", "1000"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    child = 0
    try:
        deadline = time.monotonic() + 10
        while not child and time.monotonic() < deadline:
            kids = _children(proc.pid)
            child = kids[0] if kids else 0
            if not child:
                time.sleep(0.01)
        assert child, "unshare did not start its child"
        # Wait until the child has exec'd sleep (its comm is unshare's until then).
        while Path(f"/proc/{child}/comm").read_text().strip() != "sleep":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        yield proc.pid, child
    finally:
        for pid in (child, proc.pid):
            if pid:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.mark.root
@sync
async def test_unshared_process_appears_and_disappears(unshared_sleep: tuple[int, int]) -> None:
    unshare_pid, pid = unshared_sleep
    app = NstuiApp(LiveSource(), None, interval=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        for _ in range(2):
            await refresh(pilot)
            snapshot = app.snapshot
            assert snapshot is not None
            if pid in snapshot.processes and all(
                t in snapshot.processes[pid].ns for t in NEW_TYPES
            ):
                break
        snapshot = app.snapshot
        assert snapshot is not None
        process = snapshot.processes[pid]
        new_ns: dict[NsType, NsId] = {}
        for ns_type in NEW_TYPES:
            ns_id = process.ns[ns_type]
            assert ns_id != snapshot.host.host_ns[ns_type], ns_type
            new_ns[ns_type] = ns_id

        # Processes view: its row flags the three new types.
        row = app.processes_view.rowset.rows[pid]
        assert {"p", "n", "u"} <= set(row.cells[4])

        # Namespaces view: a row for each new namespace, listing the process when opened.
        await pilot.press("2")
        view = app.namespaces_view
        for ns_id in new_ns.values():
            assert ns_id in view.rowset.rows
            assert view.select_key(ns_id)
            view.set_expanded(ns_id, True)
            assert (ns_id, pid) in {line.key for line in view.lines}

        # The sleep exits; unshare (its parent, itself in the new uts and net namespaces)
        # reaps it and exits too, and is reaped here: no zombie is left to show.
        os.kill(pid, signal.SIGKILL)
        os.waitpid(unshare_pid, 0)
        for _ in range(2):
            await refresh(pilot)
            snapshot = app.snapshot
            assert snapshot is not None
            if pid not in snapshot.processes and unshare_pid not in snapshot.processes:
                break
        assert pid not in app.processes_view.rowset.rows
        assert unshare_pid not in app.processes_view.rowset.rows
        for ns_id in new_ns.values():
            assert ns_id not in view.rowset.rows
