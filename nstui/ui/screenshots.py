"""Render every view, the help screen and each pane from a recorded snapshot into SVG files.

    python -m nstui.ui.screenshots DIR [--snapshot tests/data/recorded_snapshot.json]

``make screenshots`` runs it into screenshots/. The same scenarios drive the SVG snapshot
tests (tests/ui/test_ui_snapshots.py), so what the README shows is what the tests check.
Output is deterministic: a fixed snapshot, times in UTC, no refresh while rendering.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from textual.pilot import Pilot

from nstui.kernel.nstypes import NsType
from nstui.model.actions import Actions
from nstui.model.serialize import snapshot_from_json
from nstui.model.snapshot import Snapshot
from nstui.ui.app import NstuiApp

DEFAULT_SNAPSHOT = Path("tests/data/recorded_snapshot.json")
SIZE = (120, 36)

#: Processes of the recorded host the scenarios point at
NGINX_WORKER = 1253  # an nginx worker in a docker container
NGINX_MASTER = 1220
SLEEPER = 2420  # `sleep 600` in alice's ssh session


class FixedSource:
    """A SnapshotSource that always returns the same recorded snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def take(self) -> Snapshot:
        return self.snapshot


def load_snapshot(path: Path = DEFAULT_SNAPSHOT) -> Snapshot:
    with path.open(encoding="utf-8") as f:
        return snapshot_from_json(json.load(f))


async def settle(pilot: Pilot[int]) -> None:
    """Wait for the refresh worker and let the screen catch up."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


Step = Callable[[Pilot[int]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    steps: Step
    #: needs a Textual screen from another module (pane or help); skipped when missing
    needs: str | None = None
    needs_actions: bool = False


def _app(pilot: Pilot[int]) -> NstuiApp:
    app = pilot.app
    assert isinstance(app, NstuiApp)
    return app


async def _finish(pilot: Pilot[int]) -> None:
    await settle(pilot)
    app = _app(pilot)
    app.clear_notifications()
    await pilot.pause()


async def _processes(pilot: Pilot[int]) -> None:
    await settle(pilot)
    _app(pilot).processes_view.select_key(NGINX_WORKER)
    await _finish(pilot)


async def _processes_flat(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await pilot.press("t", "s", "s", "s", "s")  # flat list sorted by memory
    await _finish(pilot)


async def _filter(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await pilot.press("slash", *"docker", "enter")
    await _finish(pilot)


async def _namespaces(pilot: Pilot[int]) -> None:
    await settle(pilot)
    app = _app(pilot)
    await pilot.press("2")
    snapshot = app.snapshot
    assert snapshot is not None
    net = snapshot.processes[NGINX_WORKER].ns[NsType.NET]
    view = app.namespaces_view
    view.select_key(net)
    view.set_expanded(net, True)
    await _finish(pilot)


async def _namespaces_nesting(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await pilot.press("2", "t")
    app = _app(pilot)
    snapshot = app.snapshot
    assert snapshot is not None
    app.namespaces_view.select_key(snapshot.processes[2360].ns[NsType.USER])
    await _finish(pilot)


def _memory_hid(app: NstuiApp) -> int:
    assert app.snapshot is not None
    return next(
        h.hid for h in app.snapshot.hierarchies if h.version == 1 and "memory" in h.controllers
    )


async def _cgroups(pilot: Pilot[int]) -> None:
    await settle(pilot)
    app = _app(pilot)
    await pilot.press("3")
    assert app.snapshot is not None
    hid = _memory_hid(app)
    app.cgroups_view.select_key((hid, app.snapshot.processes[NGINX_WORKER].cgroups[hid]))
    await _finish(pilot)


async def _mounts(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await pilot.press("4")
    await _finish(pilot)


async def _help(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await pilot.press("question_mark")
    await _finish(pilot)


async def _run_ns(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await pilot.press("n")
    await _finish(pilot)


async def _enter_ns(pilot: Pilot[int]) -> None:
    await settle(pilot)
    _app(pilot).processes_view.select_key(NGINX_MASTER)
    await pilot.press("e")
    await _finish(pilot)


async def _namespace_pane(pilot: Pilot[int], key: str) -> None:
    await settle(pilot)
    app = _app(pilot)
    await pilot.press("2")
    assert app.snapshot is not None
    app.namespaces_view.select_key(app.snapshot.processes[NGINX_WORKER].ns[NsType.NET])
    await pilot.press(key)
    await _finish(pilot)


async def _keep_ns(pilot: Pilot[int]) -> None:
    await _namespace_pane(pilot, "K")


async def _release_ns(pilot: Pilot[int]) -> None:
    await _namespace_pane(pilot, "R")


async def _limits(pilot: Pilot[int]) -> None:
    # The pane reads the live cgroup: the memory root exists here as on the recorded host.
    await _cgroups(pilot)
    app = _app(pilot)
    app.cgroups_view.select_key((_memory_hid(app), "/"))
    await pilot.press("L")
    await _finish(pilot)


async def _move(pilot: Pilot[int]) -> None:
    await settle(pilot)
    _app(pilot).processes_view.select_key(SLEEPER)
    await pilot.press("M")
    await _finish(pilot)


async def _audit(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await pilot.press("H")
    await _finish(pilot)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("processes", "1 Processes: the tree, a container worker selected", _processes),
    Scenario("processes-flat", "1 Processes: flat list sorted by memory", _processes_flat),
    Scenario("filter", "Filter `docker` over the process tree", _filter),
    Scenario("namespaces", "2 Namespaces: a container's net namespace opened", _namespaces),
    Scenario("namespaces-nesting", "2 Namespaces: user and pid nesting tree", _namespaces_nesting),
    Scenario("cgroups", "3 Cgroups: v2 and each v1 hierarchy", _cgroups),
    Scenario("mounts", "4 Mounts", _mounts, needs="nstui.ui.widgets.mounts_view"),
    Scenario("help", "? Help", _help, needs="nstui.ui.screens.help"),
    Scenario("run-ns", "n Run in new namespaces", _run_ns, "nstui.ui.screens.run_ns", True),
    Scenario("enter-ns", "e Enter namespaces", _enter_ns, "nstui.ui.screens.enter_ns", True),
    Scenario("keep-ns", "K Keep a namespace", _keep_ns, "nstui.ui.screens.keep_ns", True),
    Scenario("release-ns", "R Release a namespace", _release_ns, "nstui.ui.screens.keep_ns", True),
    Scenario("limits", "L Cgroup limits", _limits, "nstui.ui.screens.limits", True),
    Scenario("move-cgroup", "M Move to a cgroup", _move, "nstui.ui.screens.move_cgroup", True),
    Scenario("audit-history", "H Audit history", _audit, "nstui.ui.screens.audit_history", True),
)


def available(scenario: Scenario) -> bool:
    if scenario.needs is None:
        return True
    from importlib.util import find_spec

    return find_spec(scenario.needs) is not None


def make_app(snapshot: Snapshot, actions: Actions | None = None) -> NstuiApp:
    # A long interval: the scenario's screenshot is taken before any second refresh.
    return NstuiApp(FixedSource(snapshot), actions, interval=3600, recorded=True)


def screenshot_actions(snapshot: Snapshot) -> Actions:
    """Recorded actions for every pane: screenshots show the recording, never this host
    (its audit log, its namespaces, its mounts), and nothing they do reaches the kernel."""
    from nstui.model.cgroup_recorded import RecordedCgroupActions
    from nstui.model.mounts_recorded import RecordedMountActions
    from nstui.model.ns_recorded import RecordedNsActions

    return Actions(
        namespaces=RecordedNsActions(snapshot),
        cgroups=RecordedCgroupActions(snapshot),
        mounts=RecordedMountActions(),
    )


async def render(
    scenario: Scenario, snapshot: Snapshot, actions: Actions | None, out: Path
) -> None:
    app = make_app(snapshot, actions)
    async with app.run_test(size=SIZE) as pilot:
        await scenario.steps(pilot)
        app.save_screenshot(filename=f"{scenario.name}.svg", path=str(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nstui.ui.screenshots")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--snapshot", type=Path, default=DEFAULT_SNAPSHOT)
    args = parser.parse_args(argv)
    os.environ["TZ"] = "UTC"
    time.tzset()
    snapshot = load_snapshot(args.snapshot)
    args.directory.mkdir(parents=True, exist_ok=True)
    actions = screenshot_actions(snapshot)
    written = 0
    for scenario in SCENARIOS:
        if not available(scenario):
            print(f"skipped {scenario.name}: {scenario.needs} not in this build", file=sys.stderr)
            continue
        asyncio.run(render(scenario, snapshot, actions, args.directory))
        print(f"{args.directory / (scenario.name + '.svg')}: {scenario.description}")
        written += 1
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
