"""The app processes test_kill_tui.py kills: nstui's NstuiApp (App.run_test, driven by Pilot)
on live actions, doing one operation from the keyboard in its real pane until the operation's
worker thread stops at the kill point named in NSTUI_KILL_POINT (nstui.kernel.killpoint),
where the test SIGKILLs that app process.

``python killed_app.py --serve``: a fork server, so each app does not pay for importing
Textual and nstui again (~1 s each). It imports everything, starts no thread, then for each
request line on stdin (JSON: ``op``, that operation's fields, ``env`` to add, ``stderr`` a file
for the app's stderr) forks an app process in its own session and answers its pid on stdout.
Children are reaped by the kernel (SIGCHLD ignored). The fork happens before any thread
exists: the app process forks nothing itself.

The snapshot is a small static one (the panes read everything else live through their
actions), so starting takes no host scan. When the point is not reached (the operation failed
first), the pane's message is written to stderr and the app exits with status 3.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, RadioButton, Static

from nstui.kernel.cgroups.hierarchy import discover_hierarchies
from nstui.kernel.namespaces import Namespace
from nstui.kernel.nstypes import NsId, NsType
from nstui.model.actions import Actions, live_actions
from nstui.model.snapshot import HostInfo, Snapshot
from nstui.ui.app import NstuiApp
from nstui.ui.screens.keep_ns import KeepNamespaceScreen
from nstui.ui.screens.limits import LimitsScreen
from nstui.ui.screens.overlay_build import OverlayBuildScreen
from nstui.ui.screens.run_ns import RunInNamespacesScreen

Op = dict[str, Any]
Drive = Callable[[NstuiApp, Pilot[Any], Actions, Snapshot, Op], Awaitable[None]]


class StaticSource:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def take(self) -> Snapshot:
        return self.snapshot


def make_snapshot(op: Op) -> Snapshot:
    host = HostInfo(
        "killed-app", os.uname().release, 0.0, os.cpu_count() or 1, 0, os.geteuid(), True
    )
    namespaces: dict[NsId, Namespace] = {}
    if op["op"] == "keep":
        st = os.stat(f"/proc/{op['pid']}/ns/net")
        ns = NsId(NsType.NET, st.st_dev, st.st_ino)
        namespaces[ns] = Namespace(ns, (int(op["pid"]),))
    return Snapshot(time.time(), host, {}, namespaces, discover_hierarchies(), {})


async def settle(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def limits_screen(
    app: NstuiApp, pilot: Pilot[Any], actions: Actions, snap: Snapshot, op: Op
) -> None:
    await app.push_screen(LimitsScreen(actions, snap, int(op["hid"]), str(op["path"])))
    await settle(pilot)


async def do_mkdir(
    app: NstuiApp, pilot: Pilot[Any], actions: Actions, snap: Snapshot, op: Op
) -> None:
    await limits_screen(app, pilot, actions, snap, op)
    await pilot.press("n", *str(op["name"]), "enter")


async def do_move(
    app: NstuiApp, pilot: Pilot[Any], actions: Actions, snap: Snapshot, op: Op
) -> None:
    await limits_screen(app, pilot, actions, snap, op)
    await pilot.press("p", *str(op["pid"]), "enter")


async def do_overlay(
    app: NstuiApp, pilot: Pilot[Any], actions: Actions, snap: Snapshot, op: Op
) -> None:
    screen = OverlayBuildScreen(actions, snap)
    await app.push_screen(screen)
    await pilot.pause()
    for lower in op["lowers"]:
        screen.query_one("#lower-input", Input).value = lower
        await pilot.press("enter")
    screen.query_one("#target", Input).value = op["target"]
    await pilot.press("ctrl+r")


async def do_keep(
    app: NstuiApp, pilot: Pilot[Any], actions: Actions, snap: Snapshot, op: Op
) -> None:
    (ns,) = snap.namespaces
    screen = KeepNamespaceScreen(actions, snap, ns)
    await app.push_screen(screen)
    await pilot.pause()
    screen.query_one("#path", Input).value = op["path"]
    await pilot.press("ctrl+r")


async def do_run(
    app: NstuiApp, pilot: Pilot[Any], actions: Actions, snap: Snapshot, op: Op
) -> None:
    screen = RunInNamespacesScreen(actions)
    await app.push_screen(screen)
    await pilot.pause()
    screen.query_one("#command", Input).value = op["command"]
    screen.query_one("#detached", RadioButton).value = True
    await pilot.press("ctrl+r")


OPS: dict[str, Drive] = {
    "mkdir": do_mkdir,
    "move": do_move,
    "overlay": do_overlay,
    "keep": do_keep,
    "run": do_run,
}


def pane_text(app: NstuiApp) -> str:
    texts = [str(w.render()) for w in app.screen.query(Static) if w.id == "message"]
    return " | ".join(texts) or type(app.screen).__name__


async def main(op: Op) -> int:
    actions = live_actions()
    snap = make_snapshot(op)
    app = NstuiApp(StaticSource(snap), actions, interval=3600.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await OPS[op["op"]](app, pilot, actions, snap, op)
        # The worker stops at the kill point; this process is killed there. Getting past the
        # wait means it never got there.
        await settle(pilot)
        sys.stderr.write(f"killed_app: {op['op']} ended before its kill point: {pane_text(app)}\n")
    return 3


def run_app(op: Op) -> int:
    return asyncio.run(main(op))


def serve() -> int:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the killed apps
    assert threading.active_count() == 1, "the fork server must not have threads"
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.setsid()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                fd = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(fd, 2)
                os.close(fd)
                os.environ.update(request["env"])
                code = run_app(request["op"])
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        sys.exit(serve())
    sys.exit(run_app(json.loads(sys.argv[1])))
