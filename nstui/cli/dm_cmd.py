"""``nstui dm``: device-mapper devices, read-only (name, size, targets, who mounts them)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dm",
        help="list device-mapper devices (read-only)",
        description="List device-mapper devices: name, size, table targets (from dmsetup "
        "table where installed) and the mount namespaces that mount them.",
    )
    parser.add_argument("-J", "--json", action="store_true", help="JSON output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nstui.kernel.devmapper import dm_report, format_size
    from nstui.kernel.union_mounts import scan_mount_namespaces
    from nstui.model.mount_json import dm_json

    report = dm_report(scan_mount_namespaces())
    if args.json:
        print(json.dumps(dm_json(report), indent=2))
        return 0
    if report.devices:
        print(f"{'NAME':<24} {'KNAME':<7} {'MAJ:MIN':<8} {'SIZE':>8} {'RO':<2} TARGETS  MOUNTS")
    for dev in report.devices:
        targets = ",".join(dev.target_types) or "-"
        mounts = "; ".join(f"{m.mountpoint} ({m.ns})" for m in dev.mounts) or "-"
        majmin = f"{dev.major}:{dev.minor}"
        ro = "1" if dev.read_only else "0"
        print(
            f"{dev.name:<24} {dev.kname:<7} {majmin:<8} {format_size(dev.size):>8} {ro:<2} "
            f"{targets}  {mounts}"
        )
        for target in dev.targets:
            print(f"  {target.start} {target.length} {target.type} {target.args}".rstrip())
    for note in report.notes:
        print(note)
    return 0
