"""Each pane opens from the app with its key, on the selection it needs, and closes again.

The panes get the real live Actions (they only read until the user confirms something);
targets come from the hand-built snapshot, so the panes show a clear "cannot read" where the
target is not on this host, which is fine: what is tested here is the wiring from the app.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import pytest
from textual.pilot import Pilot

from nstui.kernel.nstypes import NsType
from nstui.model.actions import Actions, live_actions
from nstui.ui.app import NstuiApp

from .fakes import CONTAINER_NS, SequenceSource, make_snapshot
from .helpers import settle, sync, wait_for

Setup = Callable[[Pilot[int]], Awaitable[None]]


def is_screen(app: NstuiApp, cls: type) -> bool:
    return isinstance(app.screen, cls)


def _app(pilot: Pilot[int]) -> NstuiApp:
    app = pilot.app
    assert isinstance(app, NstuiApp)
    return app


async def _on_process(pilot: Pilot[int]) -> None:
    # Views are switched by action here (the number keys have their own tests): a key press
    # in Pilot waits for the whole process to go idle, refresh workers included.
    app = _app(pilot)
    app.action_show_view("processes")
    assert await wait_for(lambda: app.focused is app.processes_view)
    assert app.processes_view.select_key(21)


async def _on_namespace(pilot: Pilot[int]) -> None:
    app = _app(pilot)
    app.action_show_view("namespaces")
    assert await wait_for(lambda: app.focused is app.namespaces_view)
    assert app.namespaces_view.select_key(CONTAINER_NS[NsType.NET])


async def _on_cgroup(pilot: Pilot[int]) -> None:
    app = _app(pilot)
    app.action_show_view("cgroups")
    assert await wait_for(lambda: app.focused is app.cgroups_view)
    assert app.cgroups_view.select_key((3, "/user.slice"))


async def _nothing(pilot: Pilot[int]) -> None:
    return None


PANES: list[tuple[str, str, str, Setup, str]] = [
    ("run", "nstui.ui.screens.run_ns", "RunInNamespacesScreen", _nothing, "n"),
    ("enter", "nstui.ui.screens.enter_ns", "EnterNamespacesScreen", _on_process, "e"),
    ("enter-from-ns", "nstui.ui.screens.enter_ns", "EnterNamespacesScreen", _on_namespace, "e"),
    ("keep", "nstui.ui.screens.keep_ns", "KeepNamespaceScreen", _on_namespace, "K"),
    ("release", "nstui.ui.screens.keep_ns", "ReleaseNamespaceScreen", _on_namespace, "R"),
    ("limits", "nstui.ui.screens.limits", "LimitsScreen", _on_cgroup, "L"),
    ("limits-enter", "nstui.ui.screens.limits", "LimitsScreen", _on_cgroup, "enter"),
    ("move", "nstui.ui.screens.move_cgroup", "MoveToCgroupScreen", _on_process, "M"),
    ("audit", "nstui.ui.screens.audit_history", "AuditHistoryScreen", _nothing, "H"),
    ("help", "nstui.ui.screens.help", "HelpScreen", _nothing, "question_mark"),
]


@pytest.fixture
def actions(tmp_path: Path) -> Actions:
    return live_actions(audit_path=str(tmp_path / "audit.jsonl"))


@sync
async def test_each_pane_opens_from_the_app_and_closes(actions: Actions) -> None:
    # One app for all panes: each is opened from the main screen and dismissed again.
    app = NstuiApp(SequenceSource([make_snapshot()]), actions, interval=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        for name, module, cls_name, setup, key in PANES:
            cls = getattr(importlib.import_module(module), cls_name)
            app.action_show_view("processes")
            await setup(pilot)
            # simulate_key, not pilot.press: press waits until the whole process is idle,
            # and the panes' own workers (usage sampling) keep it busy.
            app.simulate_key(key)
            assert await wait_for(partial(is_screen, app, cls)), (name, app.screen)
            await pilot.pause()  # let the pane finish mounting before it is dismissed
            app.screen.dismiss(None)
            assert await wait_for(lambda: len(app.screen_stack) == 1), name
        # The app went on refreshing behind the panes (each dismissal asks for a refresh).
        await settle(pilot)
        assert app.refreshes > 1


@sync
async def test_keys_on_the_wrong_selection_explain_what_is_needed(actions: Actions) -> None:
    app = NstuiApp(SequenceSource([make_snapshot()]), actions, interval=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        # The keys are bound in the namespace and cgroup views only; the command palette
        # reaches the actions from anywhere.
        await pilot.press("K", "R", "L")
        assert len(app.screen_stack) == 1 and not app._notifications
        app.action_keep_namespace()
        app.action_release_namespace()
        app.action_limits()
        await pilot.pause()
        assert len(app.screen_stack) == 1
        messages = [n.message for n in app._notifications]
        assert any("namespaces view" in m for m in messages)
        assert any("cgroups view" in m for m in messages)
