"""``nstui describe``: what the TUI's detail pane says about one process, namespace or cgroup.

TARGET is a pid, a namespace (its inode, or ``type:[inode]`` as /proc/PID/ns links print it)
or a cgroup (``CONTROLLER:/path``, ``/path`` in the v2 tree, or a directory under a cgroup
mount). A bare number is a process when such a pid exists, else a namespace inode. The text
is ``describe.render_text``; ``--json`` prints the same sections as data. Exit status 1 when
the target is not on the host, 2 for a malformed one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from nstui.cli.main import UsageError
from nstui.kernel.cgroups.paths import CgroupGone, CgroupPathError, parse_cgroup_spec
from nstui.kernel.cgroups.readings import read_cgroup
from nstui.kernel.namespaces import parse_ns_text
from nstui.model.describe import (
    Description,
    describe_cgroup,
    describe_namespace,
    describe_process,
    render_text,
)
from nstui.model.scanner import LiveSource
from nstui.model.snapshot import Snapshot


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "describe",
        help="describe a process, namespace or cgroup (the TUI's detail pane)",
        description="Describe a process (PID), a namespace (inode or type:[inode]) or a cgroup "
        "(CONTROLLER:/path, /path in the v2 tree, or a directory under a cgroup mount), as "
        "the TUI's detail pane shows it.",
    )
    parser.add_argument("target", metavar="PID|NSID|CONTROLLER:/path")
    parser.add_argument("-J", "--json", action="store_true", help="JSON output")
    parser.set_defaults(func=run)


def description_json(description: Description) -> dict[str, Any]:
    """The description as plain data: kind, title, subtitle, sections of rows with tones."""
    data: dict[str, Any] = dataclasses.asdict(description)
    for section in data["sections"]:
        for row in section["rows"]:
            row["tone"] = str(row["tone"])
    return data


def describe_target(snapshot: Snapshot, target: str) -> Description | None:
    """The description of TARGET in SNAPSHOT; None when it is not there. UsageError when
    TARGET is none of the accepted forms."""
    text = target.strip()
    if text.isdecimal():
        number = int(text)
        if number in snapshot.processes:
            return describe_process(snapshot, number)
        found = [ns_id for ns_id in snapshot.namespaces if ns_id.ino == number]
        return describe_namespace(snapshot, found[0]) if found else None
    parsed = parse_ns_text(text)
    if parsed is not None:
        ns_type, ino = parsed
        match = [n for n in snapshot.namespaces if n.type is ns_type and n.ino == ino]
        return describe_namespace(snapshot, match[0]) if match else None
    if ":" in text or text.startswith("/"):
        try:
            ref = parse_cgroup_spec(text, snapshot.hierarchies)
        except CgroupPathError as exc:
            raise UsageError(f"nstui describe: {exc}") from None
        if (ref.hid, ref.path) not in snapshot.cgroups:
            return None
        usage: dict[str, str] = {}
        try:
            for knob in read_cgroup(ref, members_limit=0).knobs:
                if knob.raw is not None:
                    usage.setdefault(knob.knob.file, knob.raw)
        except CgroupGone:
            return None
        except (CgroupPathError, OSError) as exc:  # e.g. something mounted over the cgroup
            print(f"nstui describe: {exc}: its files were not read", file=sys.stderr)
        return describe_cgroup(snapshot, ref.hid, ref.path, usage)
    raise UsageError(
        f"nstui describe: {target!r}: expected a pid, a namespace (inode or type:[inode]) "
        "or a cgroup (CONTROLLER:/path)"
    )


def run(args: argparse.Namespace) -> int:
    source = LiveSource()
    try:
        description = describe_target(source.take(), args.target)
    finally:
        source.close()
    if description is None:
        print(
            f"nstui describe: {args.target}: no such process, namespace or cgroup", file=sys.stderr
        )
        return 1
    if args.json:
        print(json.dumps(description_json(description), indent=2))
    else:
        sys.stdout.write(render_text(description))
    return 0
