"""The cgroup panes in a small host app (App.run_test + Pilot): the limits pane tunes a real
cgroup from the keyboard, confirms before a kill, says why editing is unavailable without
root; the history lists and undoes; the move dialog moves a real process."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Checkbox, DataTable, Input, Static

from nstui.kernel.cgroups.audit import AuditLog
from nstui.kernel.cgroups.hierarchy import discover_hierarchies
from nstui.kernel.cgroups.knobs import knob_for
from nstui.kernel.cgroups.paths import parse_cgroup_spec
from nstui.kernel.procfs import close_helper
from nstui.model.actions import Actions, live_actions
from nstui.model.cgroup_actions import CgroupReading, KnobReading, UsageSample
from nstui.model.scanner import LiveSource
from nstui.model.snapshot import HostInfo, Snapshot
from nstui.ui.screens.audit_history import AuditHistoryScreen
from nstui.ui.screens.cg_dialogs import ConfirmScreen
from nstui.ui.screens.limits import LimitsScreen
from nstui.ui.screens.move_cgroup import MoveToCgroupScreen

Spawn = Callable[..., "subprocess.Popen[bytes]"]


class Host(App[None]):
    def __init__(self, make: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self.make = make

    def on_mount(self) -> None:
        self.push_screen(self.make())


async def settle(pilot: Pilot[None]) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


@pytest.fixture(autouse=True)
def audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AuditLog:
    path = tmp_path / "audit.log"
    monkeypatch.setenv("NSTUI_AUDIT_LOG", str(path))
    return AuditLog(str(path))


def live_snapshot() -> Snapshot:
    source = LiveSource()
    try:
        return source.take()
    finally:
        source.close()
        close_helper()  # the scan's reader helper process must not outlive the test


@pytest.fixture
def snapshot() -> Snapshot:
    """The limits pane reads everything through its actions; from the snapshot it only names
    the hierarchy, so a snapshot holding just the live hierarchies will do (and is fast)."""
    host = HostInfo(
        "test", os.uname().release, 0.0, os.cpu_count() or 1, 0, os.geteuid(), os.geteuid() == 0
    )
    return Snapshot(time.time(), host, {}, {}, discover_hierarchies(), {})


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async Pilot test on a fresh event loop (no async pytest plugin needed)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def _pids_leaf(test_cgroup_parent: Callable[[str], Path]) -> tuple[int, str, Path]:
    parent = test_cgroup_parent("pids")
    leaf = parent / "leaf"
    leaf.mkdir()
    ref = parse_cgroup_spec(str(leaf), discover_hierarchies())
    return ref.hid, ref.path, leaf


def _select(screen: LimitsScreen, hid: int, file: str) -> None:
    table = screen.query_one("#knobs", DataTable)
    table.move_cursor(row=table.get_row_index(f"{hid}|{file}"))


@pytest.mark.root
@sync
async def test_tune_a_limit_from_the_keyboard(
    test_cgroup_parent: Callable[[str], Path], snapshot: Snapshot, audit_log: AuditLog
) -> None:
    hid, path, leaf = _pids_leaf(test_cgroup_parent)
    app = Host(lambda: LimitsScreen(live_actions(), snapshot, hid, path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LimitsScreen)
        _select(screen, hid, "pids.max")
        await pilot.press("enter")
        await pilot.pause()
        field = app.screen.query_one(Input)
        field.value = "7"
        await pilot.press("enter")
        await settle(pilot)
        assert (leaf / "pids.max").read_text().strip() == "7"
        _select(screen, hid, "pids.max")
        await pilot.press("plus")
        await settle(pilot)
        assert (leaf / "pids.max").read_text().strip() == "8"
        await pilot.press("m")
        await settle(pilot)
        assert (leaf / "pids.max").read_text().strip() == "max"
        await pilot.press("u")
        await settle(pilot)
        assert (leaf / "pids.max").read_text().strip() == "8"
        status = str(screen.query_one("#limits-status", Static).render())
        assert "pids.max" in status
        table = screen.query_one("#knobs", DataTable)
        assert table.get_cell(f"{hid}|pids.max", "value") == "8"
    assert [e.file for e in audit_log.entries()] == ["pids.max"] * 4


@pytest.mark.root
@sync
async def test_a_bad_value_is_refused_with_the_reason(
    test_cgroup_parent: Callable[[str], Path], snapshot: Snapshot
) -> None:
    hid, path, leaf = _pids_leaf(test_cgroup_parent)
    app = Host(lambda: LimitsScreen(live_actions(), snapshot, hid, path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LimitsScreen)
        _select(screen, hid, "pids.max")
        await pilot.press("enter")
        await pilot.pause()
        app.screen.query_one(Input).value = "1.5.5G"
        await pilot.press("enter")
        await settle(pilot)
        status = str(screen.query_one("#limits-status", Static).render())
        assert "1.5.5G" in status and "not a whole number" in status
    assert (leaf / "pids.max").read_text().strip() == "max"


@pytest.mark.root
@sync
async def test_kill_asks_naming_how_many_processes(
    test_cgroup_parent: Callable[[str], Path], snapshot: Snapshot, spawn: Spawn
) -> None:
    hid, path, leaf = _pids_leaf(test_cgroup_parent)
    procs = [spawn(["sleep", "60"]) for _ in range(2)]
    for proc in procs:
        (leaf / "cgroup.procs").write_text(str(proc.pid))
    app = Host(lambda: LimitsScreen(live_actions(), snapshot, hid, path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        members = app.screen.query_one("#members", DataTable)
        assert members.row_count == 2
        await pilot.press("t")
        await pilot.pause()
        assert members.border_title == "members: threads"
        assert {members.get_cell_at((r, 0)) for r in range(2)} == {str(p.pid) for p in procs}
        await pilot.press("K")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert "SIGKILL 2 processes" in dialog.message
        await pilot.press("y")
        await settle(pilot)
    assert [p.wait(timeout=10) for p in procs] == [-9, -9]
    assert (leaf / "cgroup.procs").read_text() == ""


@pytest.mark.root
@sync
async def test_kill_in_a_hierarchy_that_is_gone_says_why(snapshot: Snapshot) -> None:
    """Counting the processes to kill fails (no such hierarchy): the pane says so."""
    gone_hid = max((h.hid for h in snapshot.hierarchies), default=0) + 1000
    app = Host(lambda: LimitsScreen(live_actions(), snapshot, gone_hid, "/web"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("K")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LimitsScreen)
        status = str(screen.query_one("#limits-status", Static).render())
        assert f"no mounted cgroup hierarchy with id {gone_hid}" in status


class ReadOnlyCgroups:
    """What the pane sees as an unprivileged user: readings, and a reason not to edit."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def edit_unavailable(self) -> str | None:
        return "editing cgroups needs root (nstui runs as an unprivileged user): read-only"

    def read(self, hid: int, path: str) -> tuple[CgroupReading, ...]:
        knob = knob_for(2, "memory.max")
        assert knob is not None
        reading = KnobReading(knob, "536870912", "512M", "100M", 1e8, 536870912.0)
        sample = UsageSample(at=time.monotonic(), memory=100 << 20, memory_limit=512 << 20)
        return (CgroupReading("/web", 2, ("memory",), (reading,), sample, (), (), None, hid=hid),)

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append(name)
            raise AssertionError(f"{name} called while read-only")

        return record


@sync
async def test_without_root_the_pane_shows_values_and_says_why_not(snapshot: Snapshot) -> None:
    cgroups = ReadOnlyCgroups()
    live = live_actions()
    actions = Actions(namespaces=live.namespaces, cgroups=cgroups, mounts=live.mounts)
    app = Host(lambda: LimitsScreen(actions, snapshot, 0, "/web"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LimitsScreen)
        banner = str(screen.query_one("#limits-banner", Static).render())
        assert "needs root" in banner
        table = screen.query_one("#knobs", DataTable)
        assert table.get_cell("0|memory.max", "value") == "512M"
        for key in ("plus", "m", "K", "f", "n"):
            await pilot.press(key)
            await settle(pilot)
        assert isinstance(app.screen, LimitsScreen)
    assert cgroups.calls == []


@pytest.mark.root
@sync
async def test_history_lists_and_undoes(
    test_cgroup_parent: Callable[[str], Path], audit_log: AuditLog
) -> None:
    from nstui.cli.main import main

    _hid, _path, leaf = _pids_leaf(test_cgroup_parent)
    spec = parse_cgroup_spec(str(leaf), discover_hierarchies()).spec
    assert main(["cg", "set", spec, "pids.max=12"]) == 0
    app = Host(lambda: AuditHistoryScreen(live_actions()))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#entries", DataTable)
        assert table.row_count == 1
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert table.row_count == 2
    assert (leaf / "pids.max").read_text().strip() == "max"
    assert audit_log.entries()[-1].undo_of == audit_log.entries()[0].id


async def _pick_target(pilot: Pilot[None], hid: int, path: str, thread: bool = False) -> None:
    """In the open move dialog: choose hierarchy HID, type PATH, tick the thread box, Enter."""
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, MoveToCgroupScreen)
    screen.hid = hid
    screen.query_one("#thread", Checkbox).value = thread
    screen.query_one("#filter", Input).value = path
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


@pytest.mark.root
@sync
async def test_move_dialog_moves_a_real_process(
    test_cgroup_parent: Callable[[str], Path], spawn: Spawn
) -> None:
    hid, path, leaf = _pids_leaf(test_cgroup_parent)
    proc = spawn(["sleep", "60"])
    snapshot = live_snapshot()
    app = Host(lambda: MoveToCgroupScreen(live_actions(), snapshot, proc.pid))
    async with app.run_test(size=(120, 40)) as pilot:
        await _pick_target(pilot, hid, path)
    assert str(proc.pid) in (leaf / "cgroup.procs").read_text().split()
    assert os.path.exists(f"/proc/{proc.pid}")


TWO_THREADS = (
    "import threading, time; threading.Thread(target=time.sleep, args=(60,)).start(); "
    "print(flush=True); time.sleep(60)"
)


@pytest.mark.root
@sync
async def test_move_one_thread_into_an_empty_cpuset_copies_then_moves_only_it(
    test_cgroup_parent: Callable[[str], Path], spawn: Spawn
) -> None:
    """The "only this thread" choice survives the copy-the-parent's-cpuset question."""
    parent = test_cgroup_parent("cpuset")
    leaf = parent / "leaf"
    leaf.mkdir()  # a new v1 cpuset: no cpus, no mems
    ref = parse_cgroup_spec(str(leaf), discover_hierarchies())
    proc = spawn([sys.executable, "-c", TWO_THREADS], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"\n"  # both threads exist
    assert len(os.listdir(f"/proc/{proc.pid}/task")) == 2
    snapshot = live_snapshot()
    app = Host(lambda: MoveToCgroupScreen(live_actions(), snapshot, proc.pid))
    async with app.run_test(size=(120, 40)) as pilot:
        await _pick_target(pilot, ref.hid, ref.path, thread=True)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
    assert (leaf / "cpuset.cpus").read_text().strip()
    assert (leaf / "tasks").read_text().split() == [str(proc.pid)]


@sync
async def test_recorded_actions_fill_every_part_of_the_pane() -> None:
    from data.recorded import load_recorded_snapshot  # tests/ is on sys.path (conftest)

    from nstui.model.cgroup_recorded import RecordedCgroupActions

    recorded = load_recorded_snapshot()
    live = live_actions()
    cgroups = RecordedCgroupActions(recorded)
    actions = Actions(namespaces=live.namespaces, cgroups=cgroups, mounts=live.mounts)
    memory = next(h for h in recorded.hierarchies if "memory" in h.controllers)
    path = next(
        p for (hid, p) in recorded.cgroups if hid == memory.hid and p.startswith("/docker/")
    )
    app = Host(lambda: LimitsScreen(actions, recorded, memory.hid, path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LimitsScreen)
        table = screen.query_one("#knobs", DataTable)
        key = f"{memory.hid}|memory.limit_in_bytes"
        assert table.get_cell(key, "value") == "512M"
        assert table.get_cell(key, "effective") == "400M ← /docker"
        assert screen.query_one("#members", DataTable).row_count > 0
        assert "recorded snapshot" in str(screen.query_one("#limits-banner", Static).render())
        await pilot.press("slash")
        await pilot.pause()
        app.screen.query_one(Input).value = "swap"
        await pilot.press("enter")
        await pilot.pause()
        shown = {table.get_cell_at((row, 1)) for row in range(table.row_count)}
        assert shown == {"memory.swappiness", "memory.memsw.limit_in_bytes"}
        await pilot.press("H")
        await settle(pilot)
        assert app.screen.query_one("#entries", DataTable).row_count == 3
