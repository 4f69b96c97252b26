"""The mounts view with thousands of mounts: the table fills in chunks (keys are handled
meanwhile), ends with every row in order, and a refresh that changes a cell updates that
cell in place (cursor kept). Kernel text is never parsed as markup."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from textual.app import App, ComposeResult
from textual.coordinate import Coordinate
from textual.pilot import Pilot

from nstui.kernel.mountinfo import parse_mountinfo
from nstui.kernel.union_mounts import MountNamespace, MountScan
from nstui.model.actions import Actions
from nstui.model.mount_actions import MountsState
from nstui.model.mounts_recorded import HOST_NS, RecordedMountActions
from nstui.model.snapshot import HostInfo, Snapshot
from nstui.ui.widgets.mounts_view import FILL_CHUNK, MountsView

from .helpers import sync, wait_for

COUNT = 3 * FILL_CHUNK + 17
#: enough chunks that a key sent with the first one arrives before the last
MANY = 12 * FILL_CHUNK


def _state(count: int, odd: str = "") -> MountsState:
    lines = ["22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw"]
    for i in range(count):
        lines.append(f"{100 + i} 22 0:{50 + i} / /mnt/m{i:05d}{odd} rw - tmpfs tmpfs rw,size={i}k")
    ns = MountNamespace(
        ns=HOST_NS,
        pids=(1,),
        read_via=1,
        mounts=tuple(parse_mountinfo("\n".join(lines) + "\n")),
        label="init",
        is_own=True,
    )
    return MountsState(taken_at=1_700_000_000.0, scan=MountScan((ns,)), unions=())


def _snapshot() -> Snapshot:
    host = HostInfo("demo", "6.18", 1_700_000_000.0, 2, 4 << 30, 0, True)
    return Snapshot(1_700_000_100.0, host, {}, {}, (), {})


class Host(App[None]):
    def __init__(self, mounts: RecordedMountActions) -> None:
        super().__init__()
        self.mounts = mounts
        actions = Actions(namespaces=cast(Any, None), cgroups=cast(Any, None), mounts=mounts)
        self.view = MountsView(actions, id="mounts-view")

    def compose(self) -> ComposeResult:
        yield self.view

    def on_mount(self) -> None:
        self.view.focus()


async def _show_all(pilot: Pilot[None], view: MountsView) -> list[str]:
    """Switch to all mounts; return the keys of the rows in the order the table has them."""
    await pilot.press("u")
    assert await wait_for(lambda: view.table.row_count == len(view._row_keys))
    await pilot.app.workers.wait_for_complete()
    table = view.table
    return [
        str(table.coordinate_to_cell_key(Coordinate(i, 0)).row_key.value)
        for i in range(table.row_count)
    ]


@sync
async def test_thousands_of_mounts_fill_in_chunks_in_order() -> None:
    mounts = RecordedMountActions(state=_state(COUNT))
    app = Host(mounts)
    async with app.run_test(size=(140, 40)):
        view = app.view
        view.show_snapshot(_snapshot())
        assert await wait_for(lambda: view.state is not None)
        view.action_toggle_union()  # not pilot.press: it waits until the fill has ended
        # the first chunk is there at once, the rest follows over later turns of the loop
        assert view.table.row_count == FILL_CHUNK
        assert await wait_for(lambda: view.table.row_count == COUNT + 1)
        await app.workers.wait_for_complete()
        table = view.table
        keys = [
            str(table.coordinate_to_cell_key(Coordinate(i, 0)).row_key.value)
            for i in range(COUNT + 1)
        ]
        assert keys == view._row_keys
        assert [m.mountpoint for m in view.state.scan.namespaces[0].mounts] == [  # type: ignore[union-attr]
            str(table.get_cell_at(Coordinate(i, 1))) for i in range(COUNT + 1)
        ]


@sync
async def test_keys_are_handled_while_the_table_fills() -> None:
    mounts = RecordedMountActions(state=_state(MANY))
    app = Host(mounts)
    async with app.run_test(size=(140, 40)):
        view = app.view
        view.show_snapshot(_snapshot())
        assert await wait_for(lambda: view.state is not None)
        view.action_toggle_union()
        app.simulate_key("j")
        moved_at: list[int] = []

        def moved() -> bool:
            if view.table.cursor_row == 1 and not moved_at:
                moved_at.append(view.table.row_count)
            return bool(moved_at)

        assert await wait_for(moved, timeout=30)
        assert await wait_for(lambda: view.table.row_count == MANY + 1, timeout=30)
        # the key moved the cursor before the last chunk was added
        assert moved_at[0] < MANY + 1
        await app.workers.wait_for_complete()
        assert view.table.cursor_row == 1  # the finished fill did not move it back


@sync
async def test_a_changed_cell_is_updated_in_place() -> None:
    mounts = RecordedMountActions(state=_state(COUNT))
    app = Host(mounts)
    async with app.run_test(size=(140, 40)) as pilot:
        view = app.view
        view.show_snapshot(_snapshot())
        assert await wait_for(lambda: view.state is not None)
        keys = await _show_all(pilot, view)
        view.table.move_cursor(row=FILL_CHUNK + 5, animate=False)
        selected = view.selected_key
        generation = view._fill_generation
        # options of one mount change; every key stays
        state = _state(COUNT)
        ns = state.scan.namespaces[0]
        changed = list(ns.mounts)
        changed[FILL_CHUNK + 5] = replace(changed[FILL_CHUNK + 5], options="ro")
        mounts.state = replace(state, scan=MountScan((replace(ns, mounts=tuple(changed)),)))
        view.reload()
        assert await wait_for(lambda: view.state is mounts.state)
        await pilot.pause()
        assert view.table.row_count == COUNT + 1
        assert view.selected_key == selected
        assert view._fill_generation == generation  # not refilled
        assert str(view.table.get_cell_at(Coordinate(FILL_CHUNK + 5, 4))) == "ro"
        assert await _show_all_keys(view) == keys


async def _show_all_keys(view: MountsView) -> list[str]:
    table = view.table
    return [
        str(table.coordinate_to_cell_key(Coordinate(i, 0)).row_key.value)
        for i in range(table.row_count)
    ]


@sync
async def test_markup_like_mount_points_are_shown_as_they_are() -> None:
    mounts = RecordedMountActions(state=_state(3, odd="[/]x[bold]"))
    app = Host(mounts)
    async with app.run_test(size=(140, 40)) as pilot:
        view = app.view
        view.show_snapshot(_snapshot())
        assert await wait_for(lambda: view.state is not None)
        await _show_all(pilot, view)
        await pilot.pause()
        assert str(view.table.get_cell_at(Coordinate(1, 1))) == "/mnt/m00000[/]x[bold]"
