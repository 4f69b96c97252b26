"""QA: while the mounts view's type filter line is open, the footer says how to leave it.

Found by QA: `t` opened the line and the footer went blank (an Input hides printable-key
bindings), so Escape was the user's guess.
"""

from __future__ import annotations

import asyncio

from mounts.test_mounts_ui import Host, _settle, _snapshot, _view
from textual.widgets import Input

from nstui.model.mounts_recorded import RecordedMountActions


def test_type_line_shows_escape_in_the_footer_and_escape_closes_it() -> None:
    async def run() -> None:
        app = Host(RecordedMountActions(), _snapshot())
        async with app.run_test(size=(140, 40)) as pilot:
            await _settle(pilot)
            view = _view(pilot)
            await pilot.press("u", "t")
            await pilot.pause()
            box = view.query_one("#mounts-type", Input)
            assert app.focused is box
            shown = {k for k, b in app.active_bindings.items() if b.binding.show}
            assert "escape" in shown
            await pilot.press("escape")
            await pilot.pause()
            assert not box.display
            assert view.table.has_focus
            shown = {k for k, b in app.active_bindings.items() if b.binding.show}
            assert "escape" not in shown  # nothing to close: not offered

    asyncio.run(run())
