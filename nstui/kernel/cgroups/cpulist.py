"""CPU and memory-node lists as cpuset files hold them: ``0-3,6``."""

from __future__ import annotations

import re

_ITEM_RE = re.compile(r"(\d+)(?:-(\d+))?")
#: Guard against ``0-4000000000`` building a huge set.
MAX_CPU = 8192


def parse_cpulist(text: str, *, allow_empty: bool = False) -> frozenset[int]:
    """``0-3,6`` -> {0, 1, 2, 3, 6}. Raises ValueError with a message for anything else."""
    value = text.strip()
    if not value:
        if allow_empty:
            return frozenset()
        raise ValueError("empty list (a cpuset with no CPUs cannot hold any process)")
    out: set[int] = set()
    for item in value.split(","):
        match = _ITEM_RE.fullmatch(item.strip())
        if match is None:
            raise ValueError(f"{item.strip()!r} is not a CPU number or range (example: 0-3,6)")
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) is not None else lo
        if hi < lo:
            raise ValueError(f"{item.strip()!r}: range end is below its start")
        if hi > MAX_CPU:
            raise ValueError(f"{hi} is beyond any CPU number this tool accepts ({MAX_CPU})")
        out.update(range(lo, hi + 1))
    return frozenset(out)


def format_cpulist(cpus: frozenset[int] | set[int]) -> str:
    """{0, 1, 2, 3, 6} -> ``0-3,6`` (the kernel's own form)."""
    parts: list[str] = []
    ordered = sorted(cpus)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def read_sys_list(path: str) -> frozenset[int]:
    """A list file such as /sys/devices/system/cpu/online; empty when unreadable."""
    try:
        with open(path, encoding="ascii") as handle:
            return parse_cpulist(handle.read(), allow_empty=True)
    except (OSError, ValueError):
        return frozenset()


def online_cpus() -> frozenset[int]:
    return read_sys_list("/sys/devices/system/cpu/online")


def online_mems() -> frozenset[int]:
    return read_sys_list("/sys/devices/system/node/online") or frozenset({0})
