"""SVG snapshots of the detail pane and the help screen, from the recorded snapshot.

Update after an intended change with
``.venv/bin/python -m pytest tests/ui/test_detail_help_snapshots.py --snapshot-update``
and look at the new SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App, ComposeResult
from textual.pilot import Pilot

from nstui.kernel.nstypes import NsType
from nstui.model.snapshot import Snapshot
from nstui.ui.screens.help import HelpScreen
from nstui.ui.widgets.detail import DetailPane

SnapCompare = Callable[..., bool]


class PaneApp(App[None]):
    CSS = "DetailPane { width: 56; border-left: vkey $panel-lighten-2; }"

    def compose(self) -> ComposeResult:
        yield DetailPane(id="detail")


def test_process_detail(snap_compare: SnapCompare, recorded_snapshot: Snapshot) -> None:
    async def show(pilot: Pilot[Any]) -> None:
        pilot.app.query_one(DetailPane).show_process(recorded_snapshot, 2360)
        await pilot.pause()

    assert snap_compare(PaneApp(), terminal_size=(60, 50), run_before=show)


def test_namespace_detail(snap_compare: SnapCompare, recorded_snapshot: Snapshot) -> None:
    user_ns = recorded_snapshot.processes[1510].ns[NsType.USER]

    async def show(pilot: Pilot[Any]) -> None:
        pilot.app.query_one(DetailPane).show_namespace(recorded_snapshot, user_ns)
        await pilot.pause()

    assert snap_compare(PaneApp(), terminal_size=(60, 30), run_before=show)


def test_cgroup_detail(snap_compare: SnapCompare, recorded_snapshot: Snapshot) -> None:
    memory = next(h.hid for h in recorded_snapshot.hierarchies if h.name == "memory")
    path = next(
        p
        for (hid, p) in recorded_snapshot.cgroups
        if hid == memory and "redis" not in p and p.startswith("/docker/")
    )
    usage = {
        "memory.limit_in_bytes": "268435456",
        "memory.usage_in_bytes": "6291456",
        "memory.max_usage_in_bytes": "7340032",
    }

    async def show(pilot: Pilot[Any]) -> None:
        pilot.app.query_one(DetailPane).show_cgroup(recorded_snapshot, memory, path, usage)
        await pilot.pause()

    assert snap_compare(PaneApp(), terminal_size=(60, 36), run_before=show)


class HelpApp(App[None]):
    def on_mount(self) -> None:
        self.push_screen(HelpScreen())


def test_help_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(HelpApp(), terminal_size=(110, 40))


def test_help_screen_scrolled_to_cgroups(snap_compare: SnapCompare) -> None:
    assert snap_compare(HelpApp(), terminal_size=(110, 40), press=["end"])
