"""QA: Escape on a filtered view clears the filter, as the help says.

Found by QA: after `/ text Enter` the focus is back on the table, where Escape did nothing;
the filter could only be cleared by `/` then Escape.
"""

from __future__ import annotations

from ui.fakes import SequenceSource, make_snapshot
from ui.helpers import settle, sync

from nstui.ui.app import NstuiApp


@sync
async def test_escape_on_the_view_clears_the_filter() -> None:
    app = NstuiApp(SequenceSource([make_snapshot()]), None, interval=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        view = app.processes_view
        everything = len(view.lines)
        await pilot.press("slash", *"nginx", "enter")
        await pilot.pause()
        assert view.state.filter_text == "nginx"
        assert len(view.lines) < everything
        assert app.focused is view
        await pilot.press("escape")
        await pilot.pause()
        assert view.state.filter_text == ""
        assert len(view.lines) == everything
        assert app.focused is view
