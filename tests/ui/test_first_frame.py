"""While the first scan runs the status line shows a turning spinner with the seconds so far
and the tables say what they wait for; the first snapshot replaces both."""

from __future__ import annotations

import threading

from nstui.model.snapshot import Snapshot
from nstui.ui.app import NstuiApp

from .fakes import make_snapshot
from .helpers import settle, sync, wait_for


class HeldSource:
    def __init__(self) -> None:
        self.release = threading.Event()

    def take(self) -> Snapshot:
        self.release.wait(30)
        return make_snapshot()


def _line(app: NstuiApp, y: int) -> str:
    return "".join(segment.text for segment in app.processes_view.render_line(y)).strip()


def _status(app: NstuiApp) -> str:
    return str(app.query_one("#status").render())


@sync
async def test_progress_while_the_first_scan_runs() -> None:
    source = HeldSource()
    app = NstuiApp(source, None, interval=3600)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            assert await wait_for(lambda: "Scanning /proc" in _status(app))
            first = _status(app)
            assert await wait_for(lambda: _status(app) != first)  # it turns
            assert _line(app, 1) == "Reading /proc …"
            source.release.set()
            await settle(pilot)
            assert app.snapshot is not None
            assert "Scanning" not in _status(app) and "8 processes" in _status(app)
            assert _line(app, 1).startswith("1 root")
    finally:
        source.release.set()
