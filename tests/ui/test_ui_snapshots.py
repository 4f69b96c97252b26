"""SVG snapshots of every view and the help screen, from the recorded snapshot (never live).

The scenarios are the ones ``make screenshots`` renders (nstui.ui.screenshots). Baselines are
in __snapshots__/; regenerate with ``pytest tests/ui/test_ui_snapshots.py --snapshot-update``
after a deliberate change, and look at them before committing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from nstui.model.snapshot import Snapshot
from nstui.ui.screenshots import (
    SCENARIOS,
    SIZE,
    Scenario,
    available,
    make_app,
    screenshot_actions,
)

VIEW_SCENARIOS = [s for s in SCENARIOS if not s.needs_actions]


def _scenario_ids(scenario: Scenario) -> str:
    return scenario.name


@pytest.mark.parametrize("scenario", VIEW_SCENARIOS, ids=_scenario_ids)
def test_view_snapshot(
    scenario: Scenario,
    recorded_snapshot: Snapshot,
    snap_compare: Callable[..., bool],
) -> None:
    if not available(scenario):
        pytest.skip(f"{scenario.needs} is not in this build yet")

    async def run_before(pilot: Pilot[int]) -> None:
        await scenario.steps(pilot)

    actions = screenshot_actions(recorded_snapshot)
    app = make_app(recorded_snapshot, actions)
    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)
