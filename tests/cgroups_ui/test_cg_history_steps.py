"""The history screen on the one-line audit format: a change whose outcome was never recorded
shows what the file holds now and is not undone blindly; the internal steps of a cpuset mkdir
are marked and refused alone, and undoing the mkdir removes the child."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable

from nstui.cli.main import main
from nstui.kernel.cgroups.audit import AuditLog
from nstui.kernel.cgroups.hierarchy import discover_hierarchies
from nstui.kernel.cgroups.paths import parse_cgroup_spec
from nstui.model.actions import live_actions
from nstui.ui.screens.audit_history import AuditHistoryScreen
from nstui.ui.screens.cg_dialogs import ConfirmScreen

pytestmark = pytest.mark.root


class Host(App[None]):
    def on_mount(self) -> None:
        self.push_screen(AuditHistoryScreen(live_actions()))


async def _settle(pilot: Pilot[None]) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def _row(table: DataTable[Any], key: str) -> list[str]:
    return [str(cell) for cell in table.get_row(key)]


async def _undo_row(pilot: Pilot[None], table: DataTable[Any], key: str) -> None:
    table.move_cursor(row=table.get_row_index(key))
    await pilot.press("u")
    await _settle(pilot)


def test_history_shows_unknown_outcomes_and_steps(
    test_cgroup_parent: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.log"
    monkeypatch.setenv("NSTUI_AUDIT_LOG", str(path))
    log = AuditLog(str(path))
    cpuset = test_cgroup_parent("cpuset")
    pids = test_cgroup_parent("pids")
    hierarchies = discover_hierarchies()
    child = parse_cgroup_spec(str(cpuset), hierarchies).child("made")
    assert main(["cg", "mk", child.spec]) == 0
    mkdir, cpus, mems = log.entries()
    # an nstui killed after its kernel write: the record is there, its outcome is not
    lost = log.attempt(parse_cgroup_spec(str(pids), hierarchies).spec, "pids.max", "max", "7", "7")
    (pids / "pids.max").write_text("7")

    async def run() -> None:
        app = Host()
        async with app.run_test(size=(160, 30)) as pilot:
            await _settle(pilot)
            table: DataTable[Any] = app.screen.query_one("#entries", DataTable)
            assert table.row_count == 4
            unknown = _row(table, lost)
            assert unknown[5] == "now: 7" and unknown[6].startswith("unknown"), unknown
            for step in (cpus, mems):
                assert f"[step of {mkdir.id}]" in _row(table, step.id)[6]
            await _undo_row(pilot, table, lost)
            assert not isinstance(app.screen, ConfirmScreen)  # refused: outcome unknown
            await _undo_row(pilot, table, cpus.id)
            assert not isinstance(app.screen, ConfirmScreen)  # refused: a step alone
            assert (cpuset / "made").is_dir()
            await _undo_row(pilot, table, mkdir.id)
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await _settle(pilot)
            assert table.row_count == 5
            assert "(undone)" in _row(table, mkdir.id)[6]

    asyncio.run(run())
    assert not (cpuset / "made").exists()
    assert (pids / "pids.max").read_text() == "7\n"
    assert log.entries()[-1].undo_of == mkdir.id
