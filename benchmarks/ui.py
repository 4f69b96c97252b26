"""UI speed with N live processes: first frame, full data, refresh, keypress latency.

Starts N holder processes (``sleep``, children of this script, started with posix_spawn),
then runs the real app (LiveSource, headless via ``App.run_test``) and prints:

- import: importing the app module (textual included);
- first frame: from creating the app to its first screen refresh (progress indicator shown);
- full data: from creating the app to the screen refresh that painted the rows of the first
  (full) snapshot; every holder's pid is checked to be among those rows;
- refresh: R refreshes started as the interval starts them (incremental takes) and F started
  as ``r`` starts them (full takes, everything re-read): the scan in the worker, snapshot ->
  painted (building the rows of the view on screen in the worker, the apply on the event
  loop, the screen refresh), the apply on the event loop alone, and snapshot -> the other
  (hidden) views' rows applied as well;
- keypress latency during a refresh: a key sent while a refresh worker runs, until the
  cursor moved (its handler ran), beside the same with no refresh running as the reference.

The holders are killed by pid at the end, also on an exception or Ctrl-C. The machine is
shared: run the 10,000 case once or twice only, under the shared lock:

    flock /work/notes/bench.lock .venv/bin/python benchmarks/ui.py 10000

Usage: python benchmarks/ui.py [N] [--refreshes R] [--full-refreshes F]
(default N 10000, R 8, F 3)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    from nstui.ui.app import NstuiApp

SLEEP = "/bin/sleep"
#: how often the benchmark looks whether the app is done. The app stamps its own times, so
#: this adds no error to them; polling faster would take the GIL from the refresh worker
#: (the figures would then be the benchmark's as much as the app's).
POLL = 0.02


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def holders(count: int) -> Iterator[list[int]]:
    """COUNT `sleep` children; every one is killed and reaped on the way out."""
    pids: list[int] = []
    old = signal.signal(signal.SIGTERM, _terminate)
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
            for _ in range(count):
                pids.append(os.posix_spawn(SLEEP, [SLEEP, "3600"], {}, file_actions=actions))
        finally:
            os.close(devnull)
        yield pids
    finally:
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:
            with suppress(ChildProcessError):
                os.waitpid(pid, 0)
        signal.signal(signal.SIGTERM, old)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


async def _refresh(app: NstuiApp, full: bool) -> None:
    """One refresh as the interval (or, with FULL, the r key) starts it, until painted."""
    seen, complete = app.painted, app.complete
    app.request_refresh(full=full)
    while app.painted == seen or app.complete == complete:
        await asyncio.sleep(POLL)


def _line(what: str, values: list[float]) -> None:
    each = " ".join(f"{v * 1000:.0f}" for v in values)
    print(f"  {what:<22} median {_ms(statistics.median(values))}  max {_ms(max(values))}  ({each})")


def _refreshes(what: str, figures: dict[str, list[float]]) -> None:
    print(f"{what}: {len(figures['scan (worker)'])} runs")
    for name, values in figures.items():
        _line(name, values)


async def _press(app: NstuiApp, key: str) -> float:
    """Seconds from sending KEY until the process view's cursor moved."""
    view = app.processes_view
    before = view.cursor_key
    pressed = time.perf_counter()
    app.simulate_key(key)
    while view.cursor_key == before:
        if time.perf_counter() - pressed > 30:
            raise RuntimeError(f"the key {key!r} did not move the cursor")
        await asyncio.sleep(0.0005)
    return time.perf_counter() - pressed


async def _keys_during(app: NstuiApp, presses: int, full: bool) -> list[float]:
    """Latency of keys sent while a refresh worker runs (pressed at different moments)."""
    latencies: list[float] = []
    for i in range(presses):
        seen, complete = app.painted, app.complete
        app.request_refresh(full=full)
        await asyncio.sleep(0.01 + 0.02 * (i % 5))
        if app.painted != seen:
            while app.complete == complete:
                await asyncio.sleep(POLL)
            continue  # the refresh was already over: not a press "during a refresh"
        # Not pilot.press: it waits until the process is idle, i.e. for the refresh.
        # Down then up, by the presses made: from the top row both keys move the cursor.
        latencies.append(await _press(app, "j" if len(latencies) % 2 == 0 else "k"))
        while app.painted == seen or app.complete == complete:
            await asyncio.sleep(POLL)
    return latencies


def _print_keys(what: str, latencies: list[float]) -> None:
    if latencies:
        print(
            f"{what}  median {_ms(statistics.median(latencies))}"
            f"  max {_ms(max(latencies))}  ({len(latencies)} presses)"
        )
    else:
        print(f"{what}  (every refresh ended before a key could be sent)")


async def measure(pids: list[int], refreshes: int, full_refreshes: int) -> None:
    started = time.perf_counter()
    from nstui.model.cgroup_usage import CgroupUsageReader
    from nstui.model.scanner import LiveSource
    from nstui.ui.app import NstuiApp, _LazySource

    print(f"import of the app        {_ms(time.perf_counter() - started)}")

    # A long interval: refreshes are started by the benchmark, one at a time.
    created = time.perf_counter()
    # as run_app makes it
    app = NstuiApp(
        _LazySource(LiveSource),
        None,
        interval=3600,
        usage_reader=CgroupUsageReader(),
        gc_freeze=True,
    )
    first_frame: list[float] = []

    async with app.run_test(size=(160, 50)):
        app.call_after_refresh(lambda: first_frame.append(time.perf_counter()))
        while not first_frame:
            await asyncio.sleep(0.001)
        print(f"first frame              {_ms(first_frame[0] - created)}")
        view = app.processes_view
        while app.first_painted_at is None:
            await asyncio.sleep(POLL)
        full = app.first_painted_at - created
        missing = [pid for pid in pids if pid not in view.rowset.rows]
        print(f"full data (painted)      {_ms(full)}  ({len(view.rowset.rows)} process rows)")
        if missing:
            print(f"  !! {len(missing)} holders missing from the first snapshot's rows")
        print(f"  first scan (worker)    {_ms(app.last_scan_seconds)}")
        print(f"  snapshot -> painted    {_ms(app.last_snapshot_to_screen)}")
        print(
            f"    rows built {_ms(app.last_build_seconds)}, wait {_ms(app.last_wait_seconds)},"
            f" apply {_ms(app.last_apply_seconds)}, paint {_ms(app.last_paint_seconds)}"
        )
        while app.complete == 0:
            await asyncio.sleep(POLL)
        print(f"  all views applied      {_ms(time.perf_counter() - created)}  (not on screen)")

        for full_take, what, runs in (
            (False, "refresh, as the interval starts it (incremental take)", refreshes),
            (True, "refresh with r (full take)", full_refreshes),
        ):
            figures: dict[str, list[float]] = {
                "scan (worker)": [],
                "snapshot -> painted": [],
                "  rows built (worker)": [],
                "  wait for the loop": [],
                "  apply on the loop": [],
                "  paint": [],
                "all views applied": [],
            }
            for _ in range(runs):
                await _refresh(app, full_take)
                figures["scan (worker)"].append(app.last_scan_seconds)
                figures["snapshot -> painted"].append(app.last_snapshot_to_screen)
                figures["  rows built (worker)"].append(app.last_build_seconds)
                figures["  wait for the loop"].append(app.last_wait_seconds)
                figures["  apply on the loop"].append(app.last_apply_seconds)
                figures["  paint"].append(app.last_paint_seconds)
                figures["all views applied"].append(app.last_complete_seconds)
            if runs:
                _refreshes(what, figures)

        idle: list[float] = []
        view.action_cursor_top()
        for i in range(10):
            idle.append(await _press(app, "j" if i % 2 == 0 else "k"))
        print(f"keypress, no refresh     median {_ms(statistics.median(idle))}  (reference)")
        _print_keys("keypress during refresh ", await _keys_during(app, refreshes * 4, False))
        _print_keys("keypress during r       ", await _keys_during(app, full_refreshes * 2, True))


async def measure_mounts(count: int) -> None:
    """The mounts view given COUNT overlay mounts (a recorded state: nothing is mounted):
    time until the union and then the all-mounts table is filled, the longest the event
    loop was held meanwhile, and a key sent while it fills."""
    from typing import Any, cast

    from textual.app import App, ComposeResult

    from nstui.kernel.mountinfo import parse_mountinfo
    from nstui.kernel.union_mounts import MountNamespace, MountScan, union_mounts_of
    from nstui.model.actions import Actions
    from nstui.model.mount_actions import MountsState
    from nstui.model.mounts_recorded import HOST_NS, RecordedMountActions
    from nstui.model.snapshot import HostInfo, Snapshot
    from nstui.ui.widgets.mounts_view import MountsView

    lines = ["22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw"]
    for i in range(count):
        layer = f"/var/lib/docker/overlay2/{i:064x}"
        lines.append(
            f"{100 + i} 22 0:{50 + i} / {layer}/merged rw,relatime - overlay overlay "
            f"rw,lowerdir=/l/{i}:/l/base,upperdir={layer}/diff,workdir={layer}/work"
        )
    ns = MountNamespace(HOST_NS, (1,), 1, tuple(parse_mountinfo("\n".join(lines) + "\n")))
    state = MountsState(0.0, MountScan((ns,)), tuple(union_mounts_of(ns)))
    mounts = RecordedMountActions(state=state)
    actions = Actions(namespaces=cast(Any, None), cgroups=cast(Any, None), mounts=mounts)
    view = MountsView(actions, id="mounts-view")

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield view

    host = HostInfo("bench", "", 0.0, 2, 0, 0, True)
    app = Host()
    async with app.run_test(size=(160, 50)):
        view.focus()
        held = [0.0]
        filling = [True]

        async def heartbeat() -> None:
            while filling[0]:
                before = time.perf_counter()
                await asyncio.sleep(0.001)
                held[0] = max(held[0], time.perf_counter() - before - 0.001)

        beat = asyncio.create_task(heartbeat())
        steps: list[tuple[str, Callable[[], object]]] = [
            ("union mounts", lambda: view.show_snapshot(Snapshot(0.0, host, {}, {}, (), {}))),
            ("all mounts (u)", view.action_toggle_union),
        ]
        for what, start in steps:
            held[0] = 0.0
            started = time.perf_counter()
            start()
            await asyncio.sleep(0.05)
            row = view.table.cursor_row
            pressed = time.perf_counter()
            app.simulate_key("j")
            while view.table.cursor_row == row:
                await asyncio.sleep(0.0005)
            key = time.perf_counter() - pressed
            rows_then = view.table.row_count
            while view.table.row_count < count + (what != "union mounts") or any(
                w.group == "mounts-fill" for w in app.workers
            ):
                await asyncio.sleep(0.001)
            filled = time.perf_counter() - started
            print(
                f"mounts view, {what:<15} filled in {_ms(filled)}, loop held at most"
                f" {_ms(held[0])}; a key answered in {_ms(key)} ({rows_then} rows shown then)"
            )
        filling[0] = False
        await beat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", nargs="?", type=int, default=10_000)
    parser.add_argument("--refreshes", type=int, default=8)
    parser.add_argument("--full-refreshes", type=int, default=3)
    parser.add_argument("--mounts", type=int, default=4000, help="mounts view size (0: skip)")
    args = parser.parse_args()
    # The app first: in a fresh process, so import and first frame are a cold start's.
    with holders(args.count) as pids:
        total = len(os.listdir("/proc")) if os.path.isdir("/proc") else 0
        print(f"{len(pids)} holder processes started ({total} entries in /proc)")
        asyncio.run(measure(pids, args.refreshes, args.full_refreshes))
    if args.mounts:
        asyncio.run(measure_mounts(args.mounts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
