"""Freezer state: v1 freezer.state (THAWED, FREEZING, FROZEN), v2 cgroup.freeze and
the ``frozen`` line of cgroup.events."""

from __future__ import annotations

from enum import StrEnum

from nstui.kernel.cgroups.memory import parse_flat_keyed


class FreezeState(StrEnum):
    THAWED = "THAWED"
    FREEZING = "FREEZING"  # v1 passes through it; v2: cgroup.freeze=1 but events frozen 0
    FROZEN = "FROZEN"


def parse_v1_state(text: str) -> FreezeState:
    value = text.strip()
    try:
        return FreezeState(value)
    except ValueError:
        raise ValueError(f"unreadable freezer.state {value!r}") from None


def v2_state(freeze_text: str, events_text: str) -> FreezeState:
    """From cgroup.freeze (what was asked) and cgroup.events (what the kernel reached)."""
    asked = freeze_text.strip() == "1"
    frozen = parse_flat_keyed(events_text).get("frozen", 0) == 1
    if frozen:
        return FreezeState.FROZEN
    return FreezeState.FREEZING if asked else FreezeState.THAWED
