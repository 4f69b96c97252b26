"""Pilot tests: switching views, moving the cursor with arrows, vim keys and the mouse."""

from __future__ import annotations

from textual.widgets import TabbedContent

from nstui.kernel.nstypes import NsType
from nstui.ui.app import NstuiApp
from nstui.ui.views.namespaces import type_key

from .fakes import CONTAINER_NS, SequenceSource, make_snapshot
from .helpers import settle, sync


def focused_id(app: NstuiApp) -> str | None:
    return None if app.focused is None else app.focused.id


def make_app(**kwargs: object) -> NstuiApp:
    return NstuiApp(SequenceSource([make_snapshot()]), None, interval=60, **kwargs)  # type: ignore[arg-type]


@sync
async def test_number_keys_and_tab_clicks_switch_views_and_focus_them() -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        tabs = app.query_one("#views", TabbedContent)
        assert tabs.active == "processes"
        assert focused_id(app) == "processes-view"
        await pilot.press("2")
        assert tabs.active == "namespaces"
        assert focused_id(app) == "namespaces-view"
        await pilot.press("3")
        assert tabs.active == "cgroups"
        assert focused_id(app) == "cgroups-view"
        await pilot.press("4")
        assert tabs.active == "mounts"
        await pilot.press("1")
        assert tabs.active == "processes"
        assert focused_id(app) == "processes-view"
        # The mouse: a click on a tab.
        await pilot.click("#--content-tab-cgroups")
        await pilot.pause()
        assert tabs.active == "cgroups"


@sync
async def test_arrows_and_vim_keys_move_the_cursor() -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        view = app.processes_view
        order = [line.key for line in view.lines]
        assert view.cursor_key == order[0] == 1
        await pilot.press("j")
        assert view.cursor_key == order[1]
        await pilot.press("down")
        assert view.cursor_key == order[2]
        await pilot.press("k")
        assert view.cursor_key == order[1]
        await pilot.press("up")
        assert view.cursor_key == order[0]
        await pilot.press("G")
        assert view.cursor_key == order[-1]
        await pilot.press("g")
        assert view.cursor_key == order[0]
        await pilot.press("end")
        assert view.cursor_key == order[-1]
        await pilot.press("home")
        assert view.cursor_key == order[0]


@sync
async def test_h_collapses_and_l_expands_a_subtree() -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        view = app.processes_view
        assert view.select_key(20)
        shown = {line.key for line in view.lines}
        assert {21, 22} <= shown
        await pilot.press("h")  # collapse the container's shim: nginx rows hidden
        shown = {line.key for line in view.lines}
        assert 21 not in shown and 22 not in shown
        assert view.cursor_key == 20
        await pilot.press("l")
        assert {21, 22} <= {line.key for line in view.lines}
        await pilot.press("j", "h")  # on 21 (expanded): collapses it
        assert 22 not in {line.key for line in view.lines}
        await pilot.press("h")  # on collapsed 21: goes to its parent
        assert view.cursor_key == 20


@sync
async def test_mouse_click_selects_row_and_clicking_header_sorts() -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        view = app.processes_view
        third = view.lines[2].key
        # Line 0 of the table is its header; body line 3 is the third row.
        await pilot.click("#processes-view", offset=(3, 3))
        assert view.cursor_key == third
        await pilot.click("#processes-view", offset=(3, 0))  # PID header
        assert view.state.sort_column == 0


@sync
async def test_namespaces_expand_to_members_show_held_ones_and_nest() -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        view = app.namespaces_view
        container_pid_ns = CONTAINER_NS[NsType.PID]
        assert view.select_key(container_pid_ns)
        assert (container_pid_ns, 21) not in view.rowset.rows  # built only when expanded
        await pilot.press("l")
        keys = [line.key for line in view.lines]
        assert (container_pid_ns, 21) in keys and (container_pid_ns, 22) in keys
        # The expansion survives a refresh (the member rows are rebuilt in the worker).
        app.action_refresh_now()
        await settle(pilot)
        assert (container_pid_ns, 22) in {line.key for line in view.lines}
        assert view.cursor_key == container_pid_ns
        assert type_key(NsType.PID) in view.rowset.rows

        # A namespace kept only by a bind mount is listed, marked, with no processes.
        held = [row for row in view.rowset.rows.values() if row.cells[3] == "bind"]
        assert len(held) == 1
        assert held[0].cells[1] == "0"
        assert "/run/netns/blue" in held[0].cells[4]

        # The nesting tree of user and pid namespaces: every row is still there.
        count = len(view.rowset.rows)
        assert not view.nesting
        await pilot.press("t")
        assert view.nesting
        assert len(view.rowset.rows) == count
        assert view.cursor_key == container_pid_ns


@sync
async def test_detail_pane_toggles_and_gives_way_on_narrow_terminals() -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        side = app.query_one("#side")
        assert side.display
        await pilot.press("d")
        assert not side.display
        await pilot.press("d")
        assert side.display
        await pilot.resize_terminal(80, 30)
        await pilot.pause()
        assert not side.display
        await pilot.press("d")  # asked for explicitly: shown even when narrow
        assert side.display
