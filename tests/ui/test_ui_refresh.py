"""Pilot tests: refresh as a diff (selection kept, vanished rows removed, new rows marked),
filter, sort, follow and pause, driven by a source replaying hand-built snapshots."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from nstui.model.snapshot import Snapshot
from nstui.ui.app import NstuiApp
from nstui.ui.theme_store import ThemeStore

from .fakes import SequenceSource, base_processes, make_snapshot, proc, with_cpu
from .helpers import refresh, screen_line, settle, sync, wait_for


def app_for(*snapshots: Snapshot, interval: float = 60) -> tuple[NstuiApp, SequenceSource]:
    source = SequenceSource(snapshots)
    return NstuiApp(source, None, interval=interval), source


def many(n: int, start: int = 1000) -> list:  # type: ignore[type-arg]
    return [proc(start + i, 12, f"sleep {start + i}", user="alice") for i in range(n)]


@sync
async def test_selection_survives_refresh_and_vanished_rows_go() -> None:
    first = make_snapshot()
    gone = {10, 11, 12}  # sshd and its children exit
    second = make_snapshot([p for p in base_processes() if p.pid not in gone])
    app, _ = app_for(first, second)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        view = app.processes_view
        assert view.select_key(22)
        await refresh(pilot)
        keys = [line.key for line in view.lines]
        assert view.cursor_key == 22
        assert not gone & set(keys)


@sync
async def test_cursor_keeps_its_screen_line_when_rows_above_vanish() -> None:
    first = make_snapshot([*base_processes(), *many(200)])
    second = make_snapshot([*base_processes(), *many(200)[10:]])  # 10 rows above it exit
    app, _ = app_for(first, second)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        view = app.processes_view
        assert view.select_key(1150)
        line_before = screen_line(app)
        assert line_before is not None and line_before > 0
        await refresh(pilot)
        assert view.cursor_key == 1150
        assert screen_line(app) == line_before


@sync
async def test_cursor_on_a_vanished_row_takes_the_row_at_its_place() -> None:
    first = make_snapshot([*base_processes(), *many(50)])
    second = make_snapshot([*base_processes(), *[p for p in many(50) if p.pid != 1020]])
    app, _ = app_for(first, second)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        view = app.processes_view
        assert view.select_key(1020)
        index = view.cursor_index
        await refresh(pilot)
        assert view.cursor_key == 1021  # the next row moved up into its place
        assert view.cursor_index == index


@sync
async def test_new_rows_are_highlighted_for_one_refresh() -> None:
    first = make_snapshot()
    second = make_snapshot([*base_processes(), proc(30, 1, "/usr/bin/newcomer")])
    app, _ = app_for(first, second, second)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        view = app.processes_view
        assert view.fresh == frozenset()  # nothing is "new" on the first load
        await refresh(pilot)
        assert view.fresh == {30}
        await refresh(pilot)
        assert view.fresh == frozenset()


@sync
async def test_filter_by_command_pid_namespace_and_cgroup() -> None:
    app, _ = app_for(make_snapshot())
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        view = app.processes_view
        await pilot.press("slash", *"nginx")
        await pilot.pause()
        shown = {line.key: line for line in view.lines}
        assert {21, 22} <= set(shown)
        assert 12 not in shown
        assert shown[20].dim and not shown[21].dim  # the shim is context, not a match
        await pilot.press("enter")
        assert app.focused is view
        assert view.state.filter_text == "nginx"
        # Survives a refresh.
        await refresh(pilot)
        assert view.state.filter_text == "nginx"
        await pilot.press("slash", "escape")
        assert view.state.filter_text == ""
        assert 12 in {line.key for line in view.lines}
        for text, expected in (("4026532100", {21, 22}), ("user.slice", {11, 12}), ("12", {12})):
            app.set_filter(text)
            matches = {line.key for line in view.lines if not line.dim}
            assert expected <= matches, text
        app.set_filter("docker")  # container label (cgroup path /docker/<id>)
        assert {line.key for line in view.lines if not line.dim} == {21, 22}


@sync
async def test_sort_cycles_and_orders_the_flat_list() -> None:
    processes = with_cpu(base_processes(), {1: 3.0, 10: 0.5, 12: 9.0, 22: 1.0})
    app, _ = app_for(make_snapshot(processes))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        view = app.processes_view
        await pilot.press("t")  # flat list
        assert not view.state.tree
        assert view.state.sort_column is None
        await pilot.press("s")  # PID
        assert view.state.sort_column == 0
        await pilot.press("s", "s")  # USER, then CPU%
        assert view.columns[view.state.sort_column or 0].title == "CPU%"
        cpu_order = [line.key for line in view.lines][:3]
        assert cpu_order == [12, 1, 22]
        await pilot.press("S")  # reversed: lowest first, unknown CPU last
        assert [line.key for line in view.lines][-1] == 2


@sync
async def test_follow_keeps_the_process_in_view_across_reparenting() -> None:
    first = make_snapshot()
    # pid 22 is re-parented under kthreadd (pid 2), which starts collapsed.
    moved = [replace(p, ppid=2) if p.pid == 22 else p for p in base_processes()]
    second = make_snapshot(moved)
    app, _ = app_for(first, second, make_snapshot([p for p in moved if p.pid != 22]))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        view = app.processes_view
        assert view.select_key(22)
        await pilot.press("f")
        assert app.follow
        await refresh(pilot)
        assert view.cursor_key == 22
        assert 22 in {line.key for line in view.lines}  # its new parent was expanded
        await refresh(pilot)  # it exits: follow ends, the cursor stays nearby
        assert not app.follow
        assert view.cursor_key is not None


@sync
async def test_without_follow_a_hidden_row_loses_the_cursor() -> None:
    moved = [replace(p, ppid=2) if p.pid == 22 else p for p in base_processes()]
    app, _ = app_for(make_snapshot(), make_snapshot(moved))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        view = app.processes_view
        assert view.select_key(22)
        await refresh(pilot)
        assert view.cursor_key != 22  # under collapsed kthreadd, not followed


@sync
async def test_pause_stops_the_live_refresh() -> None:
    app, source = app_for(make_snapshot(), interval=0.05)
    async with app.run_test(size=(120, 36)) as pilot:
        assert await wait_for(lambda: source.calls >= 2)
        await pilot.press("p")
        assert app.paused
        await settle(pilot)
        calls = source.calls
        await asyncio.sleep(0.3)
        assert source.calls == calls
        await pilot.press("p")
        assert await wait_for(lambda: source.calls > calls)


@sync
async def test_a_failing_source_is_reported_and_retried() -> None:
    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        def take(self) -> Snapshot:
            self.calls += 1
            if self.calls == 1:
                raise PermissionError("/proc/1/ns: permission denied")
            return make_snapshot()

    source = Flaky()
    app = NstuiApp(source, None, interval=0.05)
    async with app.run_test(size=(120, 36)) as pilot:
        assert await wait_for(lambda: app.snapshot is not None)
        await settle(pilot)
        assert source.calls >= 2
        assert any("Refresh failed" in n.message for n in app._notifications)


@sync
async def test_banner_says_why_the_view_is_limited() -> None:
    snap = make_snapshot(is_root=False, limitations=("cannot read /proc/1/ns: EACCES",))
    app, _ = app_for(snap)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        banner = app.query_one("#banner")
        assert banner.display
        text = str(banner.render())
        assert "not running as root" in text and "EACCES" in text


@sync
async def test_theme_choice_is_remembered(tmp_path: Path) -> None:
    store = ThemeStore(tmp_path / "nstui" / "theme.json")
    app = NstuiApp(SequenceSource([make_snapshot()]), None, interval=60, theme_store=store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.theme = "nord"
        await pilot.pause()
    assert store.load() == "nord"
    again = NstuiApp(SequenceSource([make_snapshot()]), None, interval=60, theme_store=store)
    async with again.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert again.theme == "nord"


@sync
async def test_command_palette_lists_every_action() -> None:
    app, _ = app_for(make_snapshot())
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for title in (
            "View: Processes",
            "View: Mounts",
            "Filter",
            "Follow selected process",
            "Pause or resume refresh",
            "Run in new namespaces",
            "Enter namespaces",
            "Keep namespace",
            "Release namespace",
            "Cgroup limits",
            "Move to cgroup",
            "Audit history",
            "Help",
            "Theme",
        ):
            assert title in titles


@sync
async def test_pane_keys_without_actions_explain_instead_of_crashing() -> None:
    app, _ = app_for(make_snapshot())
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("n", "e", "M", "H")
        await pilot.pause()
        assert len(app.screen_stack) == 1
        assert len(app._notifications) >= 4


@sync
async def test_detail_pane_follows_the_selection_in_every_view() -> None:
    app, _ = app_for(make_snapshot())
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        detail = app.query_one("#detail")

        def shows(text: str) -> Callable[[], bool]:
            return lambda: text in detail.text  # type: ignore[attr-defined]

        assert app.processes_view.select_key(22)
        assert await wait_for(shows("nginx: worker"))
        await pilot.press("j")  # moves to pid 2 (the kernel thread), the next line
        assert await wait_for(shows("[kworker]"))
        assert "nginx: worker" not in detail.text  # type: ignore[attr-defined]
        await pilot.press("3")
        assert app.cgroups_view.select_key((0, "/user.slice"))
        assert await wait_for(shows("/user.slice"))


@sync
async def test_a_detached_launch_is_selected_at_the_next_refresh() -> None:
    launched = make_snapshot([*base_processes(), proc(30, 12, "/usr/bin/launched --detach")])
    app, _ = app_for(make_snapshot(), launched)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        app._after_run(30)  # what the run pane's dismissal hands back
        await settle(pilot)
        assert app.active_view_name == "processes"
        assert app.processes_view.cursor_key == 30
