"""Parsers for memory controller files: memory.stat, memory.events, oom_control, sizes.

Malformed content raises ValueError; callers show that field as unreadable.
"""

from __future__ import annotations

from dataclasses import dataclass

#: v1 prints "unlimited" as PAGE_COUNTER_MAX * page size; anything at or above this is "max".
V1_UNLIMITED_FLOOR = 1 << 62


def parse_flat_keyed(text: str) -> dict[str, int]:
    """``key value`` lines (memory.stat, memory.events, cpu.stat, oom_control) -> dict."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if len(words) != 2:
            raise ValueError(f"unreadable line {line!r}")
        out[words[0]] = int(words[1])
    return out


def parse_memory_stat(text: str) -> dict[str, int]:
    return parse_flat_keyed(text)


def parse_memory_events(text: str) -> dict[str, int]:
    """v2 memory.events: low, high, max, oom, oom_kill (and oom_group_kill on new kernels)."""
    return parse_flat_keyed(text)


@dataclass(frozen=True, slots=True)
class OomControl:
    """v1 memory.oom_control."""

    oom_kill_disable: bool
    under_oom: bool
    oom_kill: int  # kills so far (absent on old kernels: 0)


def parse_oom_control(text: str) -> OomControl:
    fields = parse_flat_keyed(text)
    try:
        return OomControl(
            oom_kill_disable=fields["oom_kill_disable"] == 1,
            under_oom=fields["under_oom"] == 1,
            oom_kill=fields.get("oom_kill", 0),
        )
    except KeyError as exc:
        raise ValueError(f"oom_control lacks {exc.args[0]}") from None


def parse_memory_value(text: str) -> int | None:
    """A memory size file (limit, usage, max): bytes, or None for unlimited (``max``/v1 huge)."""
    value = text.strip()
    if value == "max":
        return None
    number = int(value)
    if number >= V1_UNLIMITED_FLOOR or number == -1:
        return None
    if number < 0:
        raise ValueError(f"negative size {number}")
    return number
