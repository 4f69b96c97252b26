"""QA: text the user types or the kernel reports is shown as text, never parsed as markup.

Found by QA: typing ``env A=1 true`` in the run pane crashed the whole TUI (the argv preview
``argv: ['env', 'A=1', 'true']`` was parsed as Textual markup: MarkupError). A notification
or status line echoing ``[/]`` did the same.
"""

from __future__ import annotations

from textual.widgets import Input, Static
from ui.fakes import SequenceSource, make_snapshot
from ui.helpers import settle, sync

from nstui.model.actions import live_actions
from nstui.ui.app import NstuiApp

TRICKY = ("env A=1 true", "sysctl net.ipv4.ip_forward=1", "echo x [/] y", "echo '[b'")


@sync
async def test_run_and_enter_panes_show_any_command_line() -> None:
    # Live actions are only called when a command starts; nothing here starts one.
    app = NstuiApp(SequenceSource([make_snapshot()]), live_actions(), interval=3600)
    async with app.run_test(size=(140, 44)) as pilot:
        await settle(pilot)
        for key in ("n", "e"):
            await pilot.press(key)
            await pilot.pause()
            command = app.screen.query_one("#command", Input)
            for text in TRICKY:
                command.value = text  # as if typed: the preview follows Input.Changed
                await pilot.pause()
                shown = str(app.screen.query_one("#argv", Static).render())
                assert text.split()[-1].strip("'") in shown
            await pilot.press("escape")
            await pilot.pause()
        app.notify("cannot write x [/] y: ['a=1']")
        await pilot.pause()
        await pilot.pause()
        assert app.is_running
