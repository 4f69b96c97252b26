"""DetailPane in a small host app, fed the recorded snapshot; assertions on what is on screen."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable, Coroutine
from typing import Any

from textual.app import App, ComposeResult

from nstui.kernel.nstypes import NsType
from nstui.model.snapshot import Snapshot
from nstui.ui.widgets.detail import NOTHING, DetailPane


def sync(fn: Callable[[Snapshot], Coroutine[Any, Any, None]]) -> Callable[[Snapshot], None]:
    """Run the async test body with asyncio.run (the suite has no async pytest plugin)."""

    def wrapper(recorded_snapshot: Snapshot) -> None:
        asyncio.run(fn(recorded_snapshot))

    wrapper.__name__ = fn.__name__
    return wrapper


class PaneApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DetailPane(id="detail")


def screen_lines(app: App[None]) -> list[str]:
    """The terminal's text, line by line, from the SVG screenshot Textual exports."""
    svg = app.export_screenshot()
    lines: dict[float, list[str]] = {}
    for y, chunk in re.findall(r'<text[^>]*? y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        lines.setdefault(float(y), []).append(html.unescape(chunk).replace("\xa0", " "))
    return ["".join(parts) for _, parts in sorted(lines.items())]


def screen_text(app: App[None]) -> str:
    return "\n".join(screen_lines(app))


@sync
async def test_shows_a_container_process(recorded_snapshot: Snapshot) -> None:
    app = PaneApp()
    async with app.run_test(size=(100, 70)) as pilot:
        pane = app.query_one(DetailPane)
        assert NOTHING in screen_text(app)
        pane.show_process(recorded_snapshot, 1252)
        await pilot.pause()
        text = screen_text(app)
        assert "1252 nginx" in text
        assert "docker:1e80f05c7862" in text
        for heading in ("Process", "Container", "Namespaces", "Cgroups"):
            assert any(line.strip() == heading for line in screen_lines(app)), heading
        assert "own · shared with 2 other processes" in text
        assert "same as host" in text
        assert "1252 → 29" in text
        assert "name=systemd" in text and "/docker/1e80f05c7862" in text


@sync
async def test_shows_namespaces_and_cgroups(recorded_snapshot: Snapshot) -> None:
    snap = recorded_snapshot
    app = PaneApp()
    async with app.run_test(size=(100, 60)) as pilot:
        pane = app.query_one(DetailPane)
        blue = next(
            ns.id for ns in snap.namespaces.values() if ns.held_only and ns.holders[0].pid == 1
        )
        pane.show_namespace(snap, blue)
        await pilot.pause()
        text = screen_text(app)
        assert f"net namespace {blue.ino}" in text
        assert "/run/netns/blue" in text and "only by a bind mount" in text

        pane.show_namespace(snap, snap.processes[2360].ns[NsType.USER])
        await pilot.pause()
        text = screen_text(app)
        assert "1-65536 → 100000-165535" in text and "uid 1000 (alice)" in text

        memory = next(h.hid for h in snap.hierarchies if h.name == "memory")
        pane.show_cgroup(snap, memory, "/system.slice/docker.service", {"memory.max": "max"})
        await pilot.pause()
        text = screen_text(app)
        assert "memory:/system.slice/docker.service" in text
        assert "unlimited (max)" in text and "850" in text

        pane.show_nothing()
        await pilot.pause()
        assert NOTHING in screen_text(app)
        assert pane.description is None


@sync
async def test_scroll_kept_on_refresh_and_reset_on_new_selection(
    recorded_snapshot: Snapshot,
) -> None:
    snap = recorded_snapshot
    app = PaneApp()
    async with app.run_test(size=(80, 16)) as pilot:
        pane = app.query_one(DetailPane)
        pane.show_namespace(snap, snap.host.host_ns[NsType.TIME])  # 41 member rows: scrolls
        await pilot.pause()
        pane.focus()
        for _ in range(5):
            await pilot.press("j")
        await pilot.pause()
        assert pane.scroll_y == 5
        before = pane.description
        pane.show_namespace(snap, snap.host.host_ns[NsType.TIME])  # the same, refreshed
        await pilot.pause()
        assert pane.scroll_y == 5 and pane.description is before
        pane.show_process(snap, 1)
        await pilot.pause()
        assert pane.scroll_y == 0
        assert "1 systemd" in screen_text(app)


@sync
async def test_vanished_selection_and_theme_change(recorded_snapshot: Snapshot) -> None:
    app = PaneApp()
    async with app.run_test(size=(80, 30)) as pilot:
        pane = app.query_one(DetailPane)
        pane.show_process(recorded_snapshot, 424242)
        await pilot.pause()
        assert "not in this snapshot" in screen_text(app)
        pane.show_process(recorded_snapshot, 1320)
        app.theme = "textual-light"
        await pilot.pause()
        await pilot.pause()
        assert "redis-server" in screen_text(app)
        assert "1320 redis-server" in pane.text
