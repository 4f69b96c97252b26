"""``nstui snapshot``: the whole host snapshot as JSON (``--json``), or a short summary.

The JSON is ``nstui.model.serialize``'s versioned format: ``nstui snapshot --json > f.json``
records a host that tests (and later remote views) can load with ``snapshot_from_json``.
The summary counts processes, namespaces per type and cgroups per hierarchy, and lists what
could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from nstui.kernel.nstypes import NS_TYPES
from nstui.model.snapshot import Snapshot


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "snapshot",
        help="print a summary of the host, or the whole snapshot as JSON",
        description="Take one snapshot of processes, namespaces, cgroups and mounts. "
        "Without --json, print counts; with --json, the whole snapshot (versioned format).",
    )
    parser.add_argument("-J", "--json", action="store_true", help="the whole snapshot as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nstui.model.scanner import LiveSource
    from nstui.model.serialize import snapshot_to_json

    snapshot = LiveSource().take()
    if args.json:
        json.dump(snapshot_to_json(snapshot), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for line in summary_lines(snapshot):
        print(line)
    return 0


def summary_lines(s: Snapshot) -> list[str]:
    """The text summary: host, counts, hierarchies, limitations."""
    host = s.host
    taken = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(s.taken_at))
    procs = s.processes.values()
    kthreads = sum(1 for p in procs if p.is_kernel_thread)
    threads = sum(p.nthreads for p in procs)
    odd = sum(1 for p in procs if p.odd_threads)
    lines = [
        f"host {host.hostname}, kernel {host.kernel}, {host.ncpus} CPUs, "
        f"cgroups {host.cgroup_mode}, taken {taken}",
        f"processes: {len(s.processes)} ({kthreads} kernel threads), threads: {threads}"
        + (f", {odd} with threads in other namespaces" if odd else ""),
        "namespaces:",
    ]
    by_type = {t: 0 for t in NS_TYPES}
    held_only = 0
    for ns in s.namespaces.values():
        by_type[ns.type] += 1
        held_only += ns.held_only
    width = max(len(t.value) for t in NS_TYPES)
    for t, count in by_type.items():
        lines.append(f"  {t.value:<{width}}  {count}")
    if held_only:
        lines.append(f"  ({held_only} kept alive only by a bind mount or an open fd)")
    lines.append("cgroup hierarchies:")
    counts: dict[int, int] = {}
    for hid, _path in s.cgroups:
        counts[hid] = counts.get(hid, 0) + 1
    for h in s.hierarchies:
        n = counts.get(h.hid, 0)
        lines.append(
            f"  v{h.version} {h.name} (hierarchy {h.hid}) at {h.mountpoint}: "
            f"{n} cgroup{'' if n == 1 else 's'}"
        )
    if not s.hierarchies:
        lines.append("  none mounted")
    lines.append(f"mounts seen by nstui: {len(s.mounts)}")
    if s.limitations:
        lines.append("limitations:")
        lines.extend(f"  {note}" for note in s.limitations)
    return lines
