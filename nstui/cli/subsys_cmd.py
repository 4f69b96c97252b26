"""``nstui subsys``: mounted cgroup hierarchies, like ``lssubsys -m`` (Debian's cgroup-tools).

One line per v1 hierarchy, by hierarchy id: its controllers joined by commas, a space, its
mount point (``cpu,cpuacct /sys/fs/cgroup/cpu,cpuacct``), exactly as ``lssubsys -m`` prints
them; named hierarchies (``name=systemd``), which lssubsys leaves out, are listed too. Then
the v2 tree: ``unified:`` directly followed by its controllers (cgroup.controllers of its
root, comma-joined, possibly none), a space, its mount point (``unified:hugetlb
/sys/fs/cgroup/unified``; ``unified: /sys/fs/cgroup`` when it has none). Every line thus has
two space-separated fields, the second the mount point. ``-a`` adds, one per line, the
controllers the kernel has (/proc/cgroups) that are on no mounted hierarchy.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nstui.kernel.cgroups.hierarchy import (
    Hierarchy,
    ProcCgroupsEntry,
    cgroup_mode,
    discover_hierarchies,
    read_proc_cgroups,
)
from nstui.kernel.mountinfo import read_mountinfo


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "subsys",
        help="list mounted cgroup hierarchies (like lssubsys -m)",
        description="List mounted cgroup hierarchies like lssubsys -m: controllers, then the "
        "mount point; the v2 tree's line starts with 'unified:'.",
    )
    parser.add_argument(
        "-a", "--all", action="store_true", help="also list controllers on no mounted hierarchy"
    )
    parser.add_argument("-J", "--json", action="store_true", help="JSON output")
    parser.set_defaults(func=run)


def unmounted_controllers(
    hierarchies: tuple[Hierarchy, ...], entries: tuple[ProcCgroupsEntry, ...]
) -> list[str]:
    """Controllers of /proc/cgroups on no mounted v1 hierarchy and not in the v2 tree."""
    mounted = {c for h in hierarchies for c in h.controllers}
    return [e.controller for e in entries if e.controller not in mounted]


def hierarchy_line(h: Hierarchy) -> str:
    if h.version == 1:
        return f"{','.join(h.controllers)} {h.mountpoint}"
    return f"unified:{','.join(h.controllers)} {h.mountpoint}"


def render(
    hierarchies: tuple[Hierarchy, ...],
    entries: tuple[ProcCgroupsEntry, ...],
    *,
    all_controllers: bool = False,
) -> list[str]:
    v1 = [h for h in hierarchies if h.version == 1]
    v2 = [h for h in hierarchies if h.version == 2]
    lines = [hierarchy_line(h) for h in sorted(v1, key=lambda h: h.hid)]
    lines += [hierarchy_line(h) for h in v2]
    if all_controllers:
        lines += unmounted_controllers(hierarchies, entries)
    return lines


def to_json(
    hierarchies: tuple[Hierarchy, ...], entries: tuple[ProcCgroupsEntry, ...], mode: str
) -> dict[str, Any]:
    return {
        "mode": mode,
        "hierarchies": [
            {
                "hierarchy": h.hid,
                "version": h.version,
                "name": h.name,
                "controllers": list(h.controllers),
                "mountpoint": h.mountpoint,
                "root": h.root,
            }
            for h in hierarchies
        ],
        "controllers": [
            {
                "name": e.controller,
                "hierarchy": e.hierarchy,
                "num_cgroups": e.num_cgroups,
                "enabled": e.enabled,
            }
            for e in entries
        ],
        "unmounted": unmounted_controllers(hierarchies, entries),
    }


def run(args: argparse.Namespace) -> int:
    try:
        mounts = read_mountinfo("self")
    except OSError as exc:
        print(f"nstui subsys: cannot read /proc/self/mountinfo: {exc.strerror}", file=sys.stderr)
        return 1
    hierarchies = discover_hierarchies(mounts)
    entries = read_proc_cgroups()
    if args.json:
        print(json.dumps(to_json(hierarchies, entries, cgroup_mode(mounts)), indent=2))
        return 0
    for line in render(hierarchies, entries, all_controllers=args.all):
        print(line)
    return 0
