"""The mounts view and its panes in a small host App (App.run_test + Pilot): a recorded
mounts state for navigation, and a real overlay for inspect / unmount / build."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any, cast

import pytest
from reliability.kobjects import MountTracker
from rich.text import Text
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Checkbox, Footer, Input, Static, Tree

from nstui.kernel.mountinfo import read_mountinfo
from nstui.kernel.overlay_build import OverlaySpec, mount_overlay
from nstui.kernel.union_mounts import mount_at
from nstui.model.actions import Actions
from nstui.model.mount_actions import LiveMountActions, MountActions
from nstui.model.mounts_recorded import RecordedMountActions
from nstui.model.snapshot import HostInfo, Snapshot
from nstui.ui.screens.layer_inspector import LayerInspectorScreen
from nstui.ui.screens.overlay_build import LowerList, OverlayBuildScreen
from nstui.ui.screens.umount_confirm import UmountConfirmScreen
from nstui.ui.widgets.mounts_view import MountsView


def _snapshot(is_root: bool = True) -> Snapshot:
    host = HostInfo(
        hostname="demo",
        kernel="6.18",
        boot_time=1_700_000_000.0,
        ncpus=2,
        mem_total=4 << 30,
        viewer_uid=0 if is_root else 1000,
        is_root=is_root,
    )
    return Snapshot(
        taken_at=1_700_000_100.0,
        host=host,
        processes={},
        namespaces={},
        hierarchies=(),
        cgroups={},
    )


def _actions(mounts: MountActions) -> Actions:
    # only the mounts part is used by these panes
    return Actions(namespaces=cast(Any, None), cgroups=cast(Any, None), mounts=mounts)


class Host(App[None]):
    def __init__(self, mounts: MountActions, snapshot: Snapshot) -> None:
        super().__init__()
        self.actions = _actions(mounts)
        self.snap = snapshot

    def compose(self) -> ComposeResult:
        yield MountsView(self.actions, id="mounts-view")
        yield Footer()

    def on_mount(self) -> None:
        view = self.query_one(MountsView)
        view.focus()
        view.show_snapshot(self.snap)


async def _settle(pilot: Pilot[None]) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def _view(pilot: Pilot[None]) -> MountsView:
    return pilot.app.query_one(MountsView)


def _text(widget: Static) -> str:
    content = widget.render()
    return content.plain if isinstance(content, Text) else str(content)


def test_recorded_view_modes_and_filter() -> None:
    asyncio.run(_recorded_view_modes_and_filter())


async def _recorded_view_modes_and_filter() -> None:
    app = Host(RecordedMountActions(), _snapshot())
    async with app.run_test(size=(140, 40)) as pilot:
        await _settle(pilot)
        view = _view(pilot)
        assert view.table.row_count == 5  # 3 on the host, 1 in each container namespace
        header = _text(view.query_one("#mounts-header", Static))
        assert "5 union mounts in 3 mount namespaces" in header
        assert "aufs is not available" in header
        detail = _text(view.query_one("#mounts-detail", Static))
        assert "lower 1" in detail and "docker init layer web" in detail
        assert "docker image layer nginx:1.25 (layer 3 of 3)" in detail
        footer_keys = {k for k, b in app.active_bindings.items() if b.binding.show}
        assert {"u", "t", "i", "b", "x", "m"} <= footer_keys

        await pilot.press("u")  # all mounts, every namespace
        assert view.mode == "all" and view.table.row_count == 14
        await pilot.press("t", *"proc", "enter")
        assert view.types == frozenset({"proc"}) and view.table.row_count == 3
        await pilot.press("m")  # device mapper
        assert view.mode == "dm" and view.table.row_count == 0
        assert "no device-mapper devices on this host" in _text(
            view.query_one("#mounts-header", Static)
        )
        await pilot.press("m", "t", "ctrl+u", "enter")  # back to union mounts, no type filter
        assert view.mode == "union" and view.table.row_count == 5


def test_recorded_panes_ask_the_actions() -> None:
    asyncio.run(_recorded_panes_ask_the_actions())


async def _recorded_panes_ask_the_actions() -> None:
    mounts = RecordedMountActions()
    app = Host(mounts, _snapshot())
    async with app.run_test(size=(140, 40)) as pilot:
        await _settle(pilot)
        view = _view(pilot)
        view.table.move_cursor(row=2)  # the hand-made /tmp/demo overlay
        await pilot.pause()
        await pilot.press("i")
        await _settle(pilot)
        screen = app.screen
        assert isinstance(screen, LayerInspectorScreen)
        tree: Tree[Any] = screen.query_one("#li-tree", Tree)
        labels = [str(child.label) for child in tree.root.children]
        assert any("old.log" in s and "deleted (whiteout in upper" in s for s in labels)
        assert any("cache/" in s and "opaque" in s for s in labels)
        assert any("app.conf" in s and "copied up" in s for s in labels)
        await pilot.press("escape")

        await pilot.press("x")
        await _settle(pilot)
        confirm = app.screen
        assert isinstance(confirm, UmountConfirmScreen)
        assert "Used by 2 processes: 1 nginx (root)" in _text(confirm.query_one("#users", Static))
        await pilot.press("l", "y")
        await _settle(pilot)
        assert mounts.requests[-1] == ("umount", ("/tmp/demo/merged", True, None))
        assert "not possible" in _text(confirm.query_one("#message", Static))
        await pilot.press("escape")

        await pilot.press("b")
        await pilot.pause()
        build = app.screen
        assert isinstance(build, OverlayBuildScreen)
        await pilot.press(*"/srv/base", "enter", *"/srv/app", "enter")
        await pilot.press("shift+tab", "K")  # the list: move /srv/app above /srv/base
        assert build.query_one(LowerList).paths == ["/srv/app", "/srv/base"]
        build.query_one("#target").value = "/srv/merged"  # type: ignore[attr-defined]
        build.query_one("#pid").value = "1234"  # type: ignore[attr-defined]
        build.query_one("#layers-here", Checkbox).value = True
        await pilot.press("ctrl+r")
        await _settle(pilot)
        kind, (spec, pid, layers_here) = mounts.requests[-1]
        assert kind == "mount" and pid == 1234 and layers_here
        assert spec == OverlaySpec(lowers=("/srv/app", "/srv/base"), target="/srv/merged")


def test_without_root_actions_say_why() -> None:
    asyncio.run(_without_root_actions_say_why())


async def _without_root_actions_say_why() -> None:
    app = Host(RecordedMountActions(), _snapshot(is_root=False))
    async with app.run_test(size=(140, 40)) as pilot:
        await _settle(pilot)
        await pilot.press("b")
        await pilot.pause()
        assert not isinstance(app.screen, OverlayBuildScreen)
        assert any("needs root" in n.message for n in app._notifications)


@pytest.mark.root
def test_live_inspect_unmount_and_build(tmp_path: Path, tmp_mount: MountTracker) -> None:
    asyncio.run(_live_inspect_unmount_and_build(tmp_path, tmp_mount))


async def _live_inspect_unmount_and_build(tmp_path: Path, tmp_mount: MountTracker) -> None:
    top, bottom, upper, work = (tmp_path / n for n in ("top", "bottom", "upper", "work"))
    for d in (top, bottom, upper, work, bottom / "dir"):
        d.mkdir()
    (bottom / "old").write_text("x")
    (bottom / "dir" / "f").write_text("y")
    target = tmp_mount.dir("merged")
    mount_overlay(OverlaySpec((str(top), str(bottom)), str(target), str(upper), str(work)))
    (target / "old").unlink()
    shutil.rmtree(target / "dir")
    (target / "dir").mkdir()

    app = Host(LiveMountActions(), _snapshot())
    async with app.run_test(size=(140, 40)) as pilot:
        await _settle(pilot)
        view = _view(pilot)
        state = view.state
        assert state is not None
        keys = [
            f"{u.namespace.ns.ino}:{u.mount.mount_id}"
            for u in state.unions
            if u.target == str(target) and u.namespace.is_own
        ]
        assert len(keys) == 1
        view.table.move_cursor(row=view._row_keys.index(keys[0]))
        await pilot.pause()
        await pilot.press("i")
        await _settle(pilot)
        screen = app.screen
        assert isinstance(screen, LayerInspectorScreen)
        labels = [str(c.label) for c in screen.query_one("#li-tree", Tree).root.children]
        assert any(s.startswith("old") and "whiteout in upper" in s for s in labels)
        assert any(s.startswith("dir/") and "opaque" in s for s in labels)
        assert screen.changes is not None
        assert {(c.kind, c.path) for c in screen.changes.changes} == {
            ("deleted", "old"),
            ("opaque", "dir"),
        }
        await pilot.press("escape")

        await pilot.press("x")
        await _settle(pilot)
        assert isinstance(app.screen, UmountConfirmScreen)
        assert "No process uses it." in _text(app.screen.query_one("#users", Static))
        assert app.screen.query_one("#lazy", Checkbox).value is False
        await pilot.press("y")
        await _settle(pilot)
        assert mount_at(read_mountinfo(), str(target)) is None
        assert not isinstance(app.screen, UmountConfirmScreen)

        await pilot.press("b")
        await pilot.pause()
        build = app.screen
        assert isinstance(build, OverlayBuildScreen)
        lower_input = build.query_one("#lower-input", Input)
        for path in (top, bottom):
            lower_input.value = str(path)
            await pilot.press("enter")
        assert build.query_one(LowerList).paths == [str(top), str(bottom)]
        build.query_one("#target").value = str(target)
        await pilot.press("ctrl+r")
        await _settle(pilot)
        assert not isinstance(app.screen, OverlayBuildScreen)
        mount = mount_at(read_mountinfo(), str(target))
        assert mount is not None and mount.fstype == "overlay"
