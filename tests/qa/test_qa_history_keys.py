"""QA: the audit history moves to its first and last entry with g and G, like every list.

Found by QA: G did nothing there (and End scrolled the table sideways, hiding the time column),
so the oldest change of a long log was reachable only by holding j.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable

from nstui.cli.main import main
from nstui.kernel.cgroups.hierarchy import discover_hierarchies
from nstui.kernel.cgroups.paths import parse_cgroup_spec
from nstui.model.actions import live_actions
from nstui.ui.screens.audit_history import AuditHistoryScreen


class Host(App[None]):
    def on_mount(self) -> None:
        self.push_screen(AuditHistoryScreen(live_actions()))


@pytest.mark.root
def test_g_and_shift_g_go_to_the_first_and_last_entry(
    test_cgroup_parent: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NSTUI_AUDIT_LOG", str(tmp_path / "audit.log"))
    leaf = test_cgroup_parent("pids") / "leaf"
    leaf.mkdir()
    spec = parse_cgroup_spec(str(leaf), discover_hierarchies()).spec
    for value in (10, 11, 12):
        assert main(["cg", "set", spec, f"pids.max={value}"]) == 0

    async def run() -> list[int]:
        app = Host()
        rows: list[int] = []
        async with app.run_test(size=(120, 30)) as pilot:
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()
            table = app.screen.query_one("#entries", DataTable)
            assert table.row_count == 3
            for key in ("G", "g", "G"):
                await pilot.press(key)
                await pilot.pause()
                rows.append(table.cursor_row)
        return rows

    assert asyncio.run(run()) == [2, 0, 2]
