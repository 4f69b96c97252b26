"""The namespace-action panes in a small host app (Pilot), with a recording NsActions; one
live run through the real helper."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, cast

import pytest
from textual.app import App
from textual.screen import Screen
from textual.widgets import Checkbox, Input, RadioButton, Static

from nstui.kernel.nstypes import NS_TYPES, NsId, NsType
from nstui.model.actions import Actions
from nstui.model.ns_actions import (
    EnterOptions,
    KeptNamespace,
    LiveNsActions,
    NsHelperError,
    UnshareOptions,
)
from nstui.ui.screens.enter_ns import EnterNamespacesScreen
from nstui.ui.screens.keep_ns import KeepNamespaceScreen, ReleaseNamespaceScreen
from nstui.ui.screens.run_ns import RunInNamespacesScreen
from tests.nsactions.conftest import Targets
from tests.ui.fakes import CONTAINER_NS, HELD_NET, HOST_NS, make_snapshot

P = ParamSpec("P")


@dataclass
class FakeLaunch:
    pid: int = 4242
    log_path: str | None = "/var/log/nstui/launch/x.log"

    def poll(self) -> int | None:
        return None

    def wait(self, timeout: float | None = None) -> int:
        return 0

    def stop(self, grace: float = 3.0) -> int:
        return 0


@dataclass
class RecordingNsActions:
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    diffs: dict[NsType, bool | None] = field(default_factory=dict)
    fail: NsHelperError | None = None

    def run(
        self,
        argv: Sequence[str],
        namespaces: Iterable[NsType | str],
        options: UnshareOptions,
        *,
        detach: bool = False,
    ) -> FakeLaunch:
        self.calls.append(("run", tuple(argv), tuple(namespaces), options, detach))
        if self.fail:
            raise self.fail
        return FakeLaunch()

    def enter(
        self,
        target_pid: int,
        namespaces: Iterable[NsType | str] | None,
        argv: Sequence[str],
        options: EnterOptions,
        *,
        detach: bool = False,
    ) -> FakeLaunch:
        self.calls.append(("enter", target_pid, namespaces, tuple(argv), options))
        return FakeLaunch()

    def keep(self, pid: int, ns_type: NsType, path: str) -> KeptNamespace:
        self.calls.append(("keep", pid, ns_type, path))
        return KeptNamespace(path, ns_type, True)

    def release(self, path: str) -> None:
        self.calls.append(("release", path))

    def differences(self, pid: int) -> dict[NsType, bool | None]:
        return dict(self.diffs) or {t: False for t in NS_TYPES}

    def default_shell(self, pid: int, inside_root: bool = True) -> str:
        return "/bin/ash"

    def default_keep_path(self, ns: NsId) -> str:
        return f"/run/nstui/ns/{ns.type.value}-{ns.ino}"

    def unavailable_reason(self) -> str | None:
        return None


def sync(fn: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test with asyncio.run (the suite has no async pytest plugin)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper


def actions_with(ns: Any) -> Actions:
    return Actions(namespaces=ns, cgroups=cast(Any, None), mounts=cast(Any, None))


class Host(App[None]):
    """Pushes one pane and records what it dismissed with."""

    def __init__(self, screen: Screen[Any], *, fake_suspend: bool = False) -> None:
        super().__init__()
        self.pane = screen
        self.results: list[object] = []
        self.notes: list[str] = []
        self.fake_suspend = fake_suspend

    def notify(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.notes.append(message)
        super().notify(message, *args, **kwargs)

    def suspend(self) -> Any:
        # Headless tests have no terminal to hand over: run the attached path without one.
        return contextlib.nullcontext() if self.fake_suspend else super().suspend()

    def on_mount(self) -> None:
        self.push_screen(self.pane, self.results.append)


def message(app: Host) -> str:
    return str(app.pane.query_one("#message", Static).render())


@sync
async def test_run_pane_shows_argv_live_and_starts_detached() -> None:
    fake = RecordingNsActions()
    app = Host(RunInNamespacesScreen(actions_with(fake)))
    async with app.run_test() as pilot:
        command = app.pane.query_one("#command", Input)
        command.value = "sh -c 'echo \"a b\"; hostname'"
        await pilot.pause()
        assert str(app.pane.query_one("#argv", Static).render()) == (
            "argv: ['sh', '-c', 'echo \"a b\"; hostname']"
        )
        command.value = "echo 'unbalanced"
        await pilot.pause()
        assert "cannot split" in str(app.pane.query_one("#argv", Static).render())
        command.value = "sleep 60"
        app.pane.query_one("#ns-net", Checkbox).value = True
        app.pane.query_one("#hostname", Input).value = "box"
        app.pane.query_one("#detached", RadioButton).value = True
        await pilot.press("ctrl+r")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert app.results == [4242]
    (call,) = fake.calls
    assert call[0] == "run" and call[1] == ("sleep", "60")
    assert set(call[2]) == {NsType.PID, NsType.NET, NsType.MNT, NsType.UTS, NsType.IPC}
    assert call[3] == UnshareOptions(hostname="box", mount_proc=True)
    assert call[4] is True


@sync
async def test_run_pane_refuses_bad_forms_without_calling() -> None:
    fake = RecordingNsActions()
    app = Host(RunInNamespacesScreen(actions_with(fake)))
    async with app.run_test() as pilot:
        app.pane.query_one("#ns-uts", Checkbox).value = False
        app.pane.query_one("#hostname", Input).value = "box"
        await pilot.press("ctrl+r")
        assert "needs a new uts namespace" in message(app)
        app.pane.query_one("#hostname", Input).value = ""
        app.pane.query_one("#command", Input).value = "   "
        await pilot.press("ctrl+r")
        assert message(app) == "Type a command to run."
        app.pane.query_one("#command", Input).value = "sh -c 'echo \x00'"
        await pilot.press("ctrl+r")
        assert "cannot contain a NUL" in message(app)
        await pilot.press("escape")
        await pilot.pause()
    assert fake.calls == []
    assert app.results == [None]


@sync
async def test_run_pane_shows_helper_errors_and_stays_open() -> None:
    fake = RecordingNsActions(fail=NsHelperError("not-found", "nope: command not found"))
    app = Host(RunInNamespacesScreen(actions_with(fake)))
    async with app.run_test() as pilot:
        app.pane.query_one("#command", Input).value = "nope"
        app.pane.query_one("#detached", RadioButton).value = True
        await pilot.press("ctrl+r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert message(app) == "nope: command not found"
        assert app.screen is app.pane
    assert app.results == []


@sync
async def test_run_pane_attached_without_a_terminal_says_why() -> None:
    fake = RecordingNsActions()
    app = Host(RunInNamespacesScreen(actions_with(fake)))
    async with app.run_test() as pilot:
        await pilot.press("ctrl+r")  # attached is the default; headless cannot suspend
        await pilot.pause()
        assert "cannot be handed over" in message(app)
    assert fake.calls == []


@sync
async def test_enter_pane_selects_what_differs_and_defaults_to_the_shell() -> None:
    fake = RecordingNsActions(
        diffs={t: t in (NsType.NET, NsType.UTS) for t in NS_TYPES} | {NsType.TIME: None}
    )
    snapshot = make_snapshot()
    app = Host(EnterNamespacesScreen(actions_with(fake), snapshot, 21))
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        boxes = {t: app.pane.query_one(f"#ns-{t.value}", Checkbox) for t in NS_TYPES}
        assert {t for t, box in boxes.items() if box.value} == {NsType.NET, NsType.UTS}
        assert "differs" in str(boxes[NsType.NET].label)
        assert str(CONTAINER_NS[NsType.NET]) in str(boxes[NsType.NET].label)
        assert "same as nstui" in str(boxes[NsType.IPC].label)
        assert boxes[NsType.TIME].disabled
        assert app.pane.query_one("#command", Input).value == "/bin/ash"
        assert "pid 21 (nginx -g daemon off;)" in str(app.pane.query_one("#title", Static).render())


@sync
async def test_enter_pane_asks_before_entering_what_changes_nothing() -> None:
    fake = RecordingNsActions()  # every namespace the same as ours
    app = Host(EnterNamespacesScreen(actions_with(fake), make_snapshot(), 1))
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "entering changes nothing" in message(app)
        await pilot.press("ctrl+r")
        assert "pid 1's namespaces" in message(app) and "again" in message(app)
        await pilot.press("ctrl+r")  # confirmed: tries to hand the terminal over
        await pilot.pause()
        assert "cannot be handed over" in message(app)


@sync
async def test_keep_pane_keeps_through_a_member_at_the_default_path() -> None:
    fake = RecordingNsActions(diffs={t: True for t in NS_TYPES})
    ns = CONTAINER_NS[NsType.NET]
    app = Host(KeepNamespaceScreen(actions_with(fake), make_snapshot(), ns))
    async with app.run_test() as pilot:
        path = app.pane.query_one("#path", Input).value
        assert path == f"/run/nstui/ns/net-{ns.ino}"
        await pilot.press("ctrl+r")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert fake.calls == [("keep", 21, NsType.NET, path)]
    assert app.results == [path]


@sync
async def test_release_pane_warns_when_the_mount_is_the_last_holder() -> None:
    fake = RecordingNsActions()
    app = Host(ReleaseNamespaceScreen(actions_with(fake), make_snapshot(), HELD_NET))
    async with app.run_test() as pilot:
        assert "destroys the namespace" in message(app)
        await pilot.press("ctrl+r")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert fake.calls == [("release", "/run/netns/blue")]
    assert app.results == ["/run/netns/blue"]


@sync
async def test_release_pane_without_a_bind_mount_offers_nothing() -> None:
    fake = RecordingNsActions()
    ns = CONTAINER_NS[NsType.NET]
    app = Host(ReleaseNamespaceScreen(actions_with(fake), make_snapshot(), ns))
    async with app.run_test() as pilot:
        assert "nothing to release" in message(app)
        await pilot.press("ctrl+r")
        await pilot.pause()
    assert fake.calls == []


@pytest.mark.root
@sync
async def test_run_pane_live_detached_pid_namespace() -> None:
    live = LiveNsActions()
    app = Host(RunInNamespacesScreen(actions_with(live)))
    async with app.run_test() as pilot:
        app.pane.query_one("#command", Input).value = "sleep 1000"
        app.pane.query_one("#detached", RadioButton).value = True
        await pilot.press("ctrl+r")
        await app.workers.wait_for_complete()
        await pilot.pause()
    (pid,) = app.results
    assert isinstance(pid, int)
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            nspid = next(line for line in fh if line.startswith("NSpid:")).split()
        assert nspid[-1] == "1"  # pid 1 of its new pid namespace
        assert os.stat(f"/proc/{pid}/ns/uts").st_ino != os.stat("/proc/self/ns/uts").st_ino
    finally:
        os.kill(pid, signal.SIGKILL)  # init: the whole pid namespace goes with it
        for launch in live.detached:
            assert launch.wait(timeout=5) == 137
            if launch.log_path:
                os.unlink(launch.log_path)


@sync
async def test_enter_pane_from_a_recording() -> None:
    from nstui.model.ns_recorded import RecordedNsActions

    snapshot = make_snapshot()
    recorded = RecordedNsActions(snapshot)
    app = Host(EnterNamespacesScreen(actions_with(recorded), snapshot, 21))
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        checked = {t for t in NS_TYPES if app.pane.query_one(f"#ns-{t.value}", Checkbox).value}
        assert checked == {t for t in NS_TYPES if CONTAINER_NS[t] != HOST_NS[t]}
    with pytest.raises(NsHelperError, match="recorded snapshot"):
        recorded.enter(21, None, ["sh"], EnterOptions())


@pytest.mark.root
@sync
async def test_run_pane_live_attached_reports_the_exit_status() -> None:
    app = Host(RunInNamespacesScreen(actions_with(LiveNsActions())), fake_suspend=True)
    async with app.run_test() as pilot:
        app.pane.query_one("#command", Input).value = "sh -c 'test $$ = 1 && exit 3'"
        app.pane.query_one("#pause", Checkbox).value = False
        await pilot.press("ctrl+r")
        await pilot.pause()
    assert app.results == [None]
    assert "sh exited with status 3." in app.notes


@pytest.mark.root
@sync
async def test_enter_pane_live_attached(targets: Targets) -> None:
    pid = targets.start(["--uts"], "hostname pane-target; exec sleep 1000")
    snapshot = make_snapshot()  # the pane reads the live kernel for the target itself
    pane = EnterNamespacesScreen(actions_with(LiveNsActions()), snapshot, pid)
    app = Host(pane, fake_suspend=True)
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        checked = {t for t in NS_TYPES if app.pane.query_one(f"#ns-{t.value}", Checkbox).value}
        assert checked == {NsType.UTS}
        app.pane.query_one("#command", Input).value = "sh -c 'test $(hostname) = pane-target'"
        await pilot.press("ctrl+r")
        await pilot.pause()
    assert app.results == [None]
    assert "sh exited with status 0." in app.notes
