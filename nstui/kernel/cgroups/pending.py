"""Changes whose outcome never reached the audit log (nstui stopped between recording the
attempt and the kernel's answer): what the kernel holds now, so the history can show whether
the change took effect.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from nstui.kernel.cgroups.audit import AuditEntry
from nstui.kernel.cgroups.hierarchy import Hierarchy
from nstui.kernel.cgroups.paths import CgroupDir, CgroupGone, parse_cgroup_spec

#: The cgroup of the entry does not exist now.
ABSENT = "(cgroup absent)"


def current_value(entry: AuditEntry, hierarchies: Sequence[Hierarchy]) -> str | None:
    """What ENTRY's file holds now (``exists``/absent for mkdir and rmdir); None when it
    cannot be told (a write-only file, an unknown hierarchy, kill)."""
    try:
        ref = parse_cgroup_spec(entry.cgroup, hierarchies)
        directory = CgroupDir(ref)
    except CgroupGone:
        return ABSENT
    except (OSError, ValueError):  # CgroupPathError is a ValueError
        return None
    with directory:
        if entry.file in ("(mkdir)", "(rmdir)"):
            return "exists"
        if entry.file.startswith("(") or entry.file in ("cgroup.procs", "tasks", "cgroup.threads"):
            return None  # kill, membership: a list of pids says nothing about one change
        text = directory.read(entry.file)
    return None if text is None else text.strip()


def with_current_values(
    entries: Sequence[AuditEntry], hierarchies: Sequence[Hierarchy]
) -> list[AuditEntry]:
    """ENTRIES with ``now`` filled in for those whose outcome is unknown."""
    return [
        dataclasses.replace(e, now=current_value(e, hierarchies)) if e.unknown else e
        for e in entries
    ]


__all__ = ["ABSENT", "current_value", "with_current_values"]
