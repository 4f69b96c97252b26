"""A refresh asked for while one runs waits its turn: the running take is not thrown away,
snapshots are applied in the order taken, a full take asked for is honoured, and refreshes
asked for in a burst share one waiting take."""

from __future__ import annotations

import asyncio
import threading

from nstui.model.snapshot import Snapshot
from nstui.ui.app import NstuiApp

from .fakes import base_processes, make_snapshot, proc
from .helpers import sync, wait_for


class GatedSource:
    """Takes block until released one by one; records each take and whether it was full."""

    def __init__(self) -> None:
        self.takes: list[str] = []
        self.entered = 0  # takes started (blocked at the gate or through it)
        self.gate = threading.Semaphore(0)
        self._lock = threading.Lock()

    def _snapshot(self, kind: str) -> Snapshot:
        with self._lock:
            self.entered += 1
        self.gate.acquire()
        with self._lock:
            self.takes.append(kind)
            n = len(self.takes)
        # snapshot n has a process with pid 1000 + n, so the order applied is visible
        return make_snapshot([*base_processes(), proc(1000 + n, 1, f"marker {n}")])

    def take(self) -> Snapshot:
        return self._snapshot("take")

    def take_full(self) -> Snapshot:
        return self._snapshot("full")


@sync
async def test_a_refresh_asked_for_meanwhile_waits_and_nothing_is_cancelled() -> None:
    source = GatedSource()
    app = NstuiApp(source, None, interval=3600)
    async with app.run_test(size=(120, 36)):
        source.gate.release()  # the first take
        assert await wait_for(lambda: app.complete == 1)
        app.request_refresh()  # runs, blocked in its take
        assert await wait_for(lambda: source.entered == 2)  # in its take, as an incremental
        app.action_refresh_now()  # r: waits its turn, as a full take
        app.request_refresh()  # a burst: shares the waiting take
        app.request_refresh()
        assert app._refreshing == 2
        source.gate.release()
        source.gate.release()
        assert await wait_for(lambda: app.complete == 3 and app._refreshing == 0)
        await app.workers.wait_for_complete()  # no worker was cancelled (it would raise)
        assert source.takes == ["take", "take", "full"]
        assert app.snapshot is not None
        assert 1003 in app.snapshot.processes  # the last snapshot taken is the one shown
        assert 1003 in app.processes_view.rowset.rows
        assert 1002 not in app.processes_view.rowset.rows
        await asyncio.sleep(0.2)
        assert app._refreshing == 0  # nothing else was started
