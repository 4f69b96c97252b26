"""QA: the limits pane counts every process of the cgroup, not only the members it lists.

Found by QA: on a busy host the pane of a cgroup with 10,315 processes said "500 processes"
(the members table is capped at 500 rows, and the title counted the table).
"""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Static

import nstui.model.cgroup_actions as cgroup_actions
from nstui.kernel.cgroups.hierarchy import discover_hierarchies
from nstui.kernel.cgroups.paths import parse_cgroup_spec
from nstui.kernel.cgroups.readings import read_cgroup
from nstui.model.actions import live_actions
from nstui.model.snapshot import HostInfo, Snapshot
from nstui.ui.screens.limits import LimitsScreen


class Host(App[None]):
    def __init__(self, screen: LimitsScreen) -> None:
        super().__init__()
        self.limits = screen

    def on_mount(self) -> None:
        self.push_screen(self.limits)


@pytest.mark.root
def test_title_counts_all_processes_beyond_the_listed_members(
    test_cgroup_parent: Callable[[str], Path],
    spawn: Callable[..., subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("NSTUI_AUDIT_LOG", str(tmp_path / "audit.log"))
    leaf = test_cgroup_parent("pids") / "leaf"
    leaf.mkdir()
    for _ in range(3):
        proc = spawn(["sleep", "60"], stdin=subprocess.DEVNULL)
        (leaf / "cgroup.procs").write_text(str(proc.pid))
    ref = parse_cgroup_spec(str(leaf), discover_hierarchies())
    # List two members only, as the pane does past 500.
    monkeypatch.setattr(
        cgroup_actions, "read_cgroup", functools.partial(read_cgroup, members_limit=2)
    )
    host = HostInfo("test", os.uname().release, 0.0, 1, 0, 0, True)
    snapshot = Snapshot(time.time(), host, {}, {}, discover_hierarchies(), {})

    async def run() -> str:
        app = Host(LimitsScreen(live_actions(), snapshot, ref.hid, ref.path))
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()
            members = app.screen.query_one("#members")
            assert getattr(members, "row_count", 2) == 2
            return str(app.screen.query_one("#limits-title", Static).render())

    title: Any = asyncio.run(run())
    assert "3 processes" in title, title
