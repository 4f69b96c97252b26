"""QA: without root the banner says so once.

Found by QA: as nobody it read "not running as root (uid 65534): other users' namespaces, fds
and some cgroup files cannot be read, and changes are refused; not root: other users'
namespaces, fds and some cgroup files are unreadable; ..." (the app's and the scan's notes).
"""

from __future__ import annotations

from textual.widgets import Static
from ui.fakes import SequenceSource, make_snapshot
from ui.helpers import settle, sync

from nstui.ui.app import NstuiApp

SCAN_NOTES = (
    "not root: other users' namespaces, fds and some cgroup files are unreadable",
    "ns unreadable for 3 processes (pid 1, 2, 3)",
)


@sync
async def test_banner_says_not_root_once_and_keeps_the_other_notes() -> None:
    snapshot = make_snapshot(is_root=False, limitations=SCAN_NOTES)
    app = NstuiApp(SequenceSource([snapshot]), None, interval=3600)
    async with app.run_test(size=(200, 36)) as pilot:
        await settle(pilot)
        text = str(app.query_one("#banner", Static).render())
        assert text.count("root") == 1, text
        assert "not running as root" in text
        assert SCAN_NOTES[1] in text
