"""Memory and CPU use of every cgroup in a snapshot, from the cgroups' own accounting files.

For the cgroup browser's columns: two small files per cgroup (v2 ``memory.current`` and
``cpu.stat``; v1 ``memory.usage_in_bytes`` in the memory hierarchy and ``cpuacct.usage`` in
the cpuacct one), read through the kernel layer's ``CgroupDir`` and parsers. CPU% is the
usage delta between two calls of the same reader. Blocking: call it from a worker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nstui.kernel.cgroups.hierarchy import Hierarchy
    from nstui.model.snapshot import Snapshot

CgKey = tuple[int, str]


@dataclass(frozen=True, slots=True)
class CgroupUsage:
    """Memory in bytes and CPU in percent of one CPU; None where unknown."""

    memory: int | None
    cpu_percent: float | None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _files(h: Hierarchy) -> tuple[str | None, str | None]:
    """(memory file, cpu file) this hierarchy accounts in, if any."""
    if h.version == 2:
        return "memory.current", "cpu.stat"
    memory = "memory.usage_in_bytes" if "memory" in h.controllers else None
    cpu = "cpuacct.usage" if "cpuacct" in h.controllers else None
    return memory, cpu


class CgroupUsageReader:
    """Call with a snapshot; remembers the previous CPU counters to turn them into CPU%."""

    def __init__(self) -> None:
        self._previous: dict[CgKey, tuple[float, int]] = {}

    def __call__(self, snapshot: Snapshot) -> dict[CgKey, CgroupUsage]:
        by_hid = {h.hid: h for h in snapshot.hierarchies}
        out: dict[CgKey, CgroupUsage] = {}
        current: dict[CgKey, tuple[float, int]] = {}
        for key in snapshot.cgroups:
            h = by_hid.get(key[0])
            if h is None:
                continue
            memory_file, cpu_file = _files(h)
            if memory_file is None and cpu_file is None:
                continue
            memory, cpu_usec = self._read(h, key[1], memory_file, cpu_file)
            cpu_percent = None
            if cpu_usec is not None:
                now = time.monotonic()
                current[key] = (now, cpu_usec)
                before = self._previous.get(key)
                if before is not None and now > before[0] and cpu_usec >= before[1]:
                    cpu_percent = (cpu_usec - before[1]) / 1e4 / (now - before[0])
            if memory is not None or cpu_percent is not None:
                out[key] = CgroupUsage(memory, cpu_percent)
        self._previous = current
        return out

    @staticmethod
    def _read(
        h: Hierarchy, path: str, memory_file: str | None, cpu_file: str | None
    ) -> tuple[int | None, int | None]:
        # Imported here: the UI imports this module for CgroupUsage at start-up, and the
        # kernel layer is only needed once the first refresh worker runs.
        from nstui.kernel.cgroups.memory import parse_flat_keyed
        from nstui.kernel.cgroups.paths import CgroupDir, CgroupPathError, CgroupRef

        # A cgroup removed since the walk, or outside the mounted part: nothing to show.
        try:
            with CgroupDir(CgroupRef(h, path)) as directory:
                memory = _int(directory.read(memory_file)) if memory_file else None
                cpu_text = directory.read(cpu_file) if cpu_file else None
        except (OSError, CgroupPathError):
            return None, None
        if cpu_text is None:
            return memory, None
        if cpu_file == "cpu.stat":
            return memory, parse_flat_keyed(cpu_text).get("usage_usec")
        usage_ns = _int(cpu_text)
        return memory, None if usage_ns is None else usage_ns // 1000
