"""HelpScreen over a small host app: keys, glossary, closing keys, scrolling."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from nstui.ui.screens.help import DEFAULT_KEYS, HelpScreen, bindings_of

from .test_detail_pane import screen_text


def flat_text(app: App[None]) -> str:
    """The screen's words in reading order, with borders dropped and line breaks as spaces,
    so wrapped sentences still match."""
    return re.sub(r"\s+", " ", re.sub(r"[█▀▄▌▐▊▎│┃]", " ", screen_text(app)))


def sync(fn: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    def wrapper() -> None:
        asyncio.run(fn())

    wrapper.__name__ = fn.__name__
    return wrapper


class HostApp(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help"),
        Binding("x", "explode", "Explode things"),
        Binding("q", "quit", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("the main screen", id="main")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_explode(self) -> None:
        pass


@sync
async def test_lists_keys_and_explains_every_type_and_subsystem() -> None:
    app = HostApp()
    async with app.run_test(size=(110, 150)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = flat_text(app)
        for keys, description in DEFAULT_KEYS:
            assert description in text, keys
        for name in ("pid", "net", "mnt", "uts", "ipc", "user", "cgroup", "time"):
            assert f" {name} " in text, name
        assert "Process ids: inside, the first process is pid 1" in text
        assert "uid_map/gid_map translate ids" in text
        for subsystem in (
            "cpuacct",
            "cpuset",
            "memory",
            "pids",
            "blkio",
            "io",
            "devices",
            "freezer",
            "net_cls",
            "net_prio",
            "hugetlb",
            "perf_event",
            "rdma",
            "misc",
        ):
            assert subsystem in text, subsystem
        assert "Stops fork bombs" in text
        assert "(p pid n net m mnt u uts i ipc U user c cgroup t time)" in text


@sync
async def test_escape_q_and_question_mark_close_it() -> None:
    app = HostApp()
    async with app.run_test(size=(100, 30)) as pilot:
        for key in ("escape", "q", "question_mark"):
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, HelpScreen), key
            assert app.is_running  # q closed the help, not the app
        assert "the main screen" in screen_text(app)


@sync
async def test_scrolls_with_j_k_and_arrows() -> None:
    app = HostApp()
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        body = app.screen.query_one("#help-body", VerticalScroll)
        assert body.max_scroll_y > 10
        await pilot.press("j", "j", "j")
        await pilot.pause()
        assert body.scroll_y == 3
        await pilot.press("k")
        await pilot.press("down")
        await pilot.pause()
        assert body.scroll_y == 3
        await pilot.press("end")
        await pilot.pause()
        assert body.scroll_y == body.max_scroll_y


@sync
async def test_caller_bindings_and_bindings_of() -> None:
    app = HostApp()
    async with app.run_test(size=(100, 60)) as pilot:
        live = bindings_of(app.screen)
        assert ("x", "Explode things") in live
        assert any(desc == "Quit" and "q" in keys.split() for keys, desc in live)
        app.push_screen(HelpScreen(live))
        await pilot.pause()
        text = flat_text(app)
        assert "Explode things" in text
        assert DEFAULT_KEYS[0][1] not in text  # the caller's list replaces the default
