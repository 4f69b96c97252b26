"""The footer shows the keys of the focused view (and of each pane) in full at 120 columns and
keeps help and quit at 80; `?` help and the command palette list every key the footer or a
view binds; the Release dialog confirms like the other confirmations (y/n, Cancel focused).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Tab
from textual.widgets._footer import FooterKey

from nstui.kernel.namespaces import HolderKind
from nstui.kernel.nstypes import NsId
from nstui.model.actions import Actions
from nstui.model.ns_recorded import RecordedNsActions
from nstui.model.snapshot import Snapshot
from nstui.ui.app import MOUNTS_COMMANDS, NstuiApp
from nstui.ui.screens.help import DEFAULT_KEYS, HelpScreen
from nstui.ui.screens.keep_ns import ReleaseNamespaceScreen
from nstui.ui.screens.limits import LimitsScreen
from nstui.ui.screenshots import make_app, screenshot_actions
from nstui.ui.views.cgroups import CgroupsView
from nstui.ui.views.namespaces import NamespacesView
from nstui.ui.views.processes import ProcessesView
from nstui.ui.widgets.keys_footer import KeysFooter, fit
from nstui.ui.widgets.mounts_view import MountsView
from nstui.ui.widgets.rowtable import RowTable

from .helpers import settle, sync, wait_for

#: what the footer must show on each view at 120 columns (key as displayed)
APP_KEYS = ("/", "p", "r", "d", "n", "?", "q", "^p")
WIDE: dict[str, tuple[str, ...]] = {
    "processes": ("s", "t", "f", "e", "M", *APP_KEYS),
    "namespaces": ("s", "t", "e", "K", "R", *APP_KEYS),
    "cgroups": ("s", "L", "H", *APP_KEYS),
    # the mounts view has no filter (/) and no detail pane (d); its own keys come first
    "mounts": ("u", "t", "i", "b", "x", "m", "p", "r", "?", "q"),
}


def footer_keys(screen: Screen[Any]) -> dict[str, str]:
    """Keys shown whole in the screen's footer: key as displayed -> description."""
    footer = screen.query_one(Footer)
    keys = list(footer.query(FooterKey))
    palette = [k for k in keys if k.has_class("-command-palette")]
    width = screen.size.width
    limit = palette[0].region.x if palette else width
    shown: dict[str, str] = {}
    for key in keys:
        region = key.region
        edge = width if key in palette else limit
        if region.width > 0 and region.x >= 0 and region.right <= edge:
            shown[key.key_display] = key.description
    return shown


async def show(pilot: Pilot[int], view: str) -> NstuiApp:
    app = pilot.app
    assert isinstance(app, NstuiApp)
    await settle(pilot)
    app.action_show_view(view)
    assert await wait_for(lambda: app.active_view_name == view and app.focused is not None)
    await pilot.pause()
    await pilot.pause()
    return app


@pytest.mark.parametrize("view", list(WIDE))
@sync
async def test_the_footer_shows_every_key_of_the_view_at_120_columns(
    view: str, recorded_snapshot: Snapshot
) -> None:
    app = make_app(recorded_snapshot, screenshot_actions(recorded_snapshot))
    async with app.run_test(size=(120, 36)) as pilot:
        await show(pilot, view)
        shown = footer_keys(app.screen)
        missing = [key for key in WIDE[view] if key not in shown]
        assert not missing, f"{view}: {missing} not in the footer {shown}"


@pytest.mark.parametrize("view", list(WIDE))
@sync
async def test_at_80_columns_nothing_is_cut_and_help_and_quit_stay(
    view: str, recorded_snapshot: Snapshot
) -> None:
    app = make_app(recorded_snapshot, screenshot_actions(recorded_snapshot))
    async with app.run_test(size=(80, 30)) as pilot:
        await show(pilot, view)
        footer = app.screen.query_one(KeysFooter)
        shown = footer_keys(app.screen)
        assert "?" in shown and "q" in shown, shown
        # every key the footer holds is whole on screen: the rest were left out, not cut
        assert len(shown) == len(footer.query(FooterKey))
        if view != "mounts":  # a view's own keys go last (mounts: labels of its own)
            assert set(WIDE[view]) - set(APP_KEYS) <= set(shown)


@sync
async def test_the_footer_follows_a_resize(recorded_snapshot: Snapshot) -> None:
    app = make_app(recorded_snapshot, screenshot_actions(recorded_snapshot))
    async with app.run_test(size=(120, 36)) as pilot:
        await show(pilot, "processes")
        assert "n" in footer_keys(app.screen)
        await pilot.resize_terminal(80, 36)
        assert await wait_for(lambda: "n" not in footer_keys(app.screen))
        shown = footer_keys(app.screen)
        assert {"?", "q", "M"} <= set(shown)
        await pilot.resize_terminal(120, 36)
        assert await wait_for(lambda: "n" in footer_keys(app.screen))


@sync
async def test_escape_clears_a_set_filter_and_the_footer_says_so(
    recorded_snapshot: Snapshot,
) -> None:
    app = make_app(recorded_snapshot, screenshot_actions(recorded_snapshot))
    async with app.run_test(size=(120, 36)) as pilot:
        await show(pilot, "processes")
        assert "esc" not in footer_keys(app.screen)
        await pilot.press("slash")
        await pilot.pause()
        typing = footer_keys(app.screen)  # / is text in the filter bar, Escape clears it
        assert "/" not in typing and typing.get("esc") == "Clear filter"
        await pilot.press(*"docker", "enter")
        await pilot.pause()
        assert footer_keys(app.screen).get("esc") == "Clear filter"
        assert {"?", "q", "s", "M"} <= set(footer_keys(app.screen))
        await pilot.press("escape")
        await pilot.pause()
        assert app.processes_view.state.filter_text == ""
        assert "esc" not in footer_keys(app.screen)


@sync
async def test_number_keys_are_on_the_tabs(recorded_snapshot: Snapshot) -> None:
    """The footer leaves 1-4 out because every tab's label starts with its key."""
    app = make_app(recorded_snapshot, screenshot_actions(recorded_snapshot))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        labels = [str(tab.label) for tab in app.query(Tab)]
        assert [label.split()[0] for label in labels] == ["1", "2", "3", "4"]
        await pilot.press("3")
        assert await wait_for(lambda: app.focused is app.cgroups_view)


async def _open_limits(pilot: Pilot[int]) -> LimitsScreen:
    app = await show(pilot, "cgroups")
    assert app.snapshot is not None
    hid = next(h.hid for h in app.snapshot.hierarchies if "memory" in h.controllers)
    assert app.cgroups_view.select_key((hid, "/"))
    await pilot.press("L")
    assert await wait_for(lambda: isinstance(app.screen, LimitsScreen))
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, LimitsScreen)
    return screen


@sync
async def test_limits_footer_shows_the_keys_of_the_focused_table(
    recorded_snapshot: Snapshot,
) -> None:
    app = make_app(recorded_snapshot, screenshot_actions(recorded_snapshot))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await _open_limits(pilot)
        assert screen.focused is screen.query_one("#knobs")
        shown = footer_keys(screen)
        knob_keys = ["⏎", "+", "-", "m"]
        pane_keys = ["esc", "u", "n", "D", "f", "K", "c", "p", "H", "/", "?"]
        assert [k for k in knob_keys + pane_keys if k not in shown] == [], shown
        assert shown["⏎"] == "Set"
        # the views' keys are off on the pane: no "d Detail", no "r" meaning the views' refresh
        assert "d" not in shown
        await pilot.press("tab")
        assert await wait_for(lambda: screen.focused is screen.query_one("#members"))
        await pilot.pause()
        shown = footer_keys(screen)
        assert "⏎" not in shown and "+" not in shown
        assert shown.get("t") == "Threads"
        assert [k for k in pane_keys if k not in shown] == [], shown


@sync
async def test_help_on_a_pane_lists_that_panes_keys(recorded_snapshot: Snapshot) -> None:
    app = make_app(recorded_snapshot, screenshot_actions(recorded_snapshot))
    async with app.run_test(size=(120, 36)) as pilot:
        await _open_limits(pilot)
        await pilot.press("question_mark")
        assert await wait_for(lambda: isinstance(app.screen, HelpScreen))
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        described = dict(help_screen.bindings)
        assert described.get("⏎") == "Set"
        assert "Freeze" in described.values() and "Kill" in described.values()
        assert "Detail" not in described.values()  # the views' keys are off on the pane


@sync
async def test_view_keys_do_not_reach_the_views_under_a_pane(
    recorded_snapshot: Snapshot,
) -> None:
    app = make_app(recorded_snapshot, screenshot_actions(recorded_snapshot))
    async with app.run_test(size=(120, 36)) as pilot:
        await _open_limits(pilot)
        await pilot.press("d", "1")
        await pilot.pause()
        assert app.show_detail is True
        assert app.active_view_name == "cgroups"
        assert isinstance(app.screen, LimitsScreen)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Detail" not in titles and "Run in new namespaces" not in titles
        assert "Quit" in titles


# ----- help, footer and palette agree --------------------------------------------------------


def _shown_bindings() -> list[Binding]:
    classes: list[type[DOMNode]] = [NstuiApp, RowTable, ProcessesView, NamespacesView, CgroupsView]
    classes.append(MountsView)
    out: list[Binding] = []
    for cls in classes:
        for binding in cls._merge_bindings().key_to_bindings.values():
            out.extend(b for b in binding if b.show and b.description)
    return out


def _help_keys() -> set[str]:
    keys: set[str] = set()
    for column, _ in DEFAULT_KEYS:
        keys.update(column.split())
    return keys


def test_help_lists_every_key_the_footer_or_a_view_binds() -> None:
    listed = _help_keys()
    app = NstuiApp.__new__(NstuiApp)  # get_key_display needs no running app
    missing = []
    for binding in _shown_bindings():
        display = App.get_key_display(app, binding)
        if display not in listed:
            missing.append((display, binding.description))
    # and the hidden number keys, sort reversal and palette
    for key in ("1", "2", "3", "4", "S", "ctrl+p", "esc"):
        if key not in listed:
            missing.append((key, "(hidden)"))
    assert missing == []


@sync
async def test_the_palette_offers_every_key_the_footer_shows(
    recorded_snapshot: Snapshot,
) -> None:
    """Each palette command's help ends with its key in parentheses, e.g. '(L / Enter)'."""
    app = make_app(recorded_snapshot, screenshot_actions(recorded_snapshot))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        commands = list(app.get_system_commands(app.screen))
    in_palette: set[str] = set()
    for command in commands:
        match = re.search(r"\(([^()]+)\)$", command.help)
        if match is not None:
            in_palette.update(k.strip() for k in match.group(1).split(" / "))
    assert {c.title for c in commands} >= {title for title, _, _ in MOUNTS_COMMANDS}
    missing = []
    for binding in _shown_bindings():
        display = App.get_key_display(app, binding)
        if display in ("q", "esc"):  # Textual's own Quit; Escape closes the filter bar
            continue
        if display not in in_palette:
            missing.append((display, binding.description))
    assert missing == []


# ----- the footer's fitting ------------------------------------------------------------------


def _key(key: str, description: str, action: str) -> FooterKey:
    return FooterKey(key, key, description, action)


def test_fit_leaves_out_the_named_actions_first_then_from_the_right() -> None:
    keys = [
        _key("a", "Alpha", "app.alpha"),  # 8 columns with its margin
        _key("b", "Bravo", "bravo"),
        _key("c", "Charlie", "charlie"),  # 10
        _key("?", "Help", "help"),  # 7, the last without margin: 6
    ]
    assert fit(keys, 40, ["bravo"]) == keys  # 8 + 8 + 10 + 6 = 32
    assert fit(keys, 30, ["bravo"]) == [keys[0], keys[2], keys[3]]
    assert fit(keys, 24, ["alpha"]) == [keys[1], keys[2], keys[3]]  # app.alpha is alpha
    # nothing named: keys go from the right, help stays
    assert fit(keys, 16, []) == [keys[0], keys[3]]
    assert fit(keys, 3, []) == [keys[3]]


# ----- the Release dialog --------------------------------------------------------------------


class RecordingNsActions(RecordedNsActions):
    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__(snapshot)
        self.released: list[str] = []

    def release(self, path: str) -> None:
        self.released.append(path)


class ReleaseHost(App[None]):
    def __init__(self, snapshot: Snapshot, ns: NsId) -> None:
        super().__init__()
        self.fake = RecordingNsActions(snapshot)
        base = screenshot_actions(snapshot)
        actions = Actions(namespaces=self.fake, cgroups=base.cgroups, mounts=base.mounts)
        self.pane = ReleaseNamespaceScreen(actions, snapshot, ns)
        self.results: list[object] = []

    def on_mount(self) -> None:
        self.push_screen(self.pane, self.results.append)


def _bind_held(snapshot: Snapshot) -> NsId:
    return next(
        ns_id
        for ns_id, ns in snapshot.namespaces.items()
        if any(h.kind is HolderKind.BIND_MOUNT for h in ns.holders) and ns.pids
    )


async def _release_open(pilot: Pilot[None]) -> ReleaseHost:
    app = pilot.app
    assert isinstance(app, ReleaseHost)
    assert await wait_for(lambda: app.screen is app.pane)
    await pilot.pause()
    return app


@sync
async def test_release_starts_on_cancel_and_enter_cancels(recorded_snapshot: Snapshot) -> None:
    app = ReleaseHost(recorded_snapshot, _bind_held(recorded_snapshot))
    async with app.run_test(size=(100, 30)) as pilot:
        await _release_open(pilot)
        assert app.pane.focused is app.pane.query_one("#cancel", Button)
        shown = footer_keys(app.pane)
        assert shown.get("y") == "Release" and shown.get("n") == "Cancel"
        await pilot.press("enter")
        assert await wait_for(lambda: app.results == [None])
    assert app.fake.released == []


@pytest.mark.parametrize("keys", [("y",), ("shift+tab", "enter")], ids=["y", "release-button"])
@sync
async def test_release_confirms_with_y_or_the_release_button(
    keys: tuple[str, ...], recorded_snapshot: Snapshot
) -> None:
    ns = _bind_held(recorded_snapshot)
    path = recorded_snapshot.namespaces[ns].holders[0].path
    app = ReleaseHost(recorded_snapshot, ns)
    async with app.run_test(size=(100, 30)) as pilot:
        await _release_open(pilot)
        await pilot.press(*keys)
        assert await wait_for(lambda: app.results == [path])
    assert app.fake.released == [path]


@sync
async def test_release_n_and_escape_cancel(recorded_snapshot: Snapshot) -> None:
    ns = _bind_held(recorded_snapshot)
    for key in ("n", "escape"):
        app = ReleaseHost(recorded_snapshot, ns)
        async with app.run_test(size=(100, 30)) as pilot:
            await _release_open(pilot)
            await pilot.press(key)
            assert await wait_for(lambda app=app: app.results == [None])  # type: ignore[misc]
        assert app.fake.released == []


def test_knob_keys_belong_to_the_knobs_table() -> None:
    from nstui.ui.screens.limits import KnobsTable

    assert issubclass(KnobsTable, DataTable)
    keys = {b.key for b in KnobsTable._merge_bindings().key_to_bindings.get("enter", [])}
    assert keys == {"enter"}
    (enter,) = KnobsTable._merge_bindings().key_to_bindings["enter"]
    assert enter.action == "screen.edit" and enter.show


@sync
async def test_a_dialog_over_the_views_leaves_their_footer_alone(
    recorded_snapshot: Snapshot,
) -> None:
    """Help is a dialog, not a pane: the views' footer behind it keeps its keys."""
    app = make_app(recorded_snapshot, screenshot_actions(recorded_snapshot))
    async with app.run_test(size=(120, 36)) as pilot:
        await show(pilot, "processes")
        await pilot.press("question_mark")
        assert await wait_for(lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        main = app.screen_stack[0]
        main.refresh_bindings()
        await pilot.pause()
        shown = footer_keys(main)
        assert {"/", "p", "r", "d", "n"} <= set(shown), shown
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        assert help_screen.bindings[0][0] == "1 2 3 4"  # the views' keys, not a pane's


@sync
async def test_the_palette_on_a_pane_lists_that_panes_keys(recorded_snapshot: Snapshot) -> None:
    app = make_app(recorded_snapshot, screenshot_actions(recorded_snapshot))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await _open_limits(pilot)
        commands = {c.title: c for c in app.get_system_commands(screen)}
        for title in ("Set", "Up", "Max", "Undo", "Freeze", "Kill", "Audit", "Back"):
            assert title in commands, sorted(commands)
        assert commands["Set"].help == "Type a new value (⏎)"
        assert "Filter" in commands  # the pane's own filter (its knobs), not the views'
        assert "Detail" not in commands
        members = screen.query_one("#members", DataTable)
        assert members.border_title == "members: processes (t: threads)"
        await pilot.press("tab")
        assert await wait_for(lambda: screen.focused is members)
        commands = {c.title: c for c in app.get_system_commands(screen)}
        callback = commands["Threads"].callback
        app.call_later(callback)
        assert await wait_for(lambda: members.border_title == "members: threads")
