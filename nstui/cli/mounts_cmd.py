"""``nstui mounts``: the mounts of every mount namespace, or only the union (overlay, aufs)
mounts with their layers.

Each distinct mount namespace is read once, through one of its processes; mounts are listed
under the namespace that has them (findmnt shows only its own namespace).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from nstui.kernel.union_mounts import UNION_TYPES, UnionMount
from nstui.model.mount_actions import MountsState


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mounts",
        help="list mounts of every mount namespace (--union: overlay/aufs with layers)",
        description="List the mounts of every mount namespace on the host, grouped by "
        "namespace; --union shows only union mounts with their layers, top first.",
    )
    parser.add_argument(
        "-u", "--union", action="store_true", help="only union mounts, with their layers"
    )
    parser.add_argument(
        "-t",
        "--type",
        action="append",
        metavar="TYPE",
        help="only these filesystem types (comma-separated or repeated)",
    )
    parser.add_argument("-J", "--json", action="store_true", help="JSON output")
    parser.set_defaults(func=run)


def _types(values: list[str] | None) -> frozenset[str]:
    return frozenset(t.strip() for v in values or [] for t in v.split(",") if t.strip())


def _ns_header(state: MountsState, ns_key: str, pids: tuple[int, ...], label: str) -> str:
    shown = ",".join(str(p) for p in pids[:6]) + ("..." if len(pids) > 6 else "")
    container = state.containers.get(ns_key)
    extra = f" [{container}]" if container else ""
    return f"{ns_key}  {len(pids)} processes (pid {shown})  {label}{extra}"


def format_union(union: UnionMount, state: MountsState) -> list[str]:
    """The text block of one union mount (also used by ``overlay layers``)."""

    def lab(path: str | None) -> str:
        label = state.labels.get(path) if path is not None else None
        return f"  <{label}>" if label is not None else ""

    lines = [f"{union.target}  {union.kind}  id {union.mount.mount_id}{lab(union.target)}"]
    if union.overlay is not None:
        opts = union.overlay.options
        for i, path in enumerate(opts.lowers, start=1):
            lines.append(f"  lower {i:<3} {path}{lab(path)}")
        for path in opts.data_lowers:
            lines.append(f"  data      {path}")
        if opts.upper is not None:
            lines.append(f"  upper     {opts.upper}{lab(opts.upper)}")
            lines.append(f"  work      {opts.work}")
        else:
            lines.append("  (read-only stack: no upper)")
        features = opts.features()
        if features:
            lines.append("  options   " + ",".join(f"{k}={v}" for k, v in features.items()))
        if opts.lowerdir_plus:
            lines.append("  layers given one by one (lowerdir+)")
    elif union.aufs is not None:
        if union.aufs.note:
            lines.append(f"  ({union.aufs.note})")
        for branch in union.aufs.branches:
            lines.append(f"  br{branch.index:<3}     {branch.path}={branch.perm}{lab(branch.path)}")
    return lines


def run(args: argparse.Namespace) -> int:
    from nstui.model.mount_actions import LiveMountActions
    from nstui.model.mount_json import mount_json, namespace_json, union_json

    state = LiveMountActions().read_state()
    types = _types(args.type)
    if args.union:
        types = types & UNION_TYPES if types else UNION_TYPES
    if args.json:
        out: dict[str, Any] = {"namespaces": []}
        for ns in state.scan.namespaces:
            entry = namespace_json(ns, state)
            if args.union:
                entry["unions"] = [
                    union_json(u, state) for u in state.unions if u.namespace.ns == ns.ns
                ]
            else:
                entry["mounts"] = [
                    mount_json(m) for m in ns.mounts if not types or m.fstype in types
                ]
            out["namespaces"].append(entry)
        if args.union:
            out["aufs"] = state.aufs_note or "available"
        out["notes"] = list(state.scan.notes)
        print(json.dumps(out, indent=2))
        return 0
    printed = False
    for ns in state.scan.namespaces:
        key = str(ns.ns)
        if args.union:
            unions = [u for u in state.unions if u.namespace.ns == ns.ns and u.kind in types]
            if not unions:
                continue
            print(_ns_header(state, key, ns.pids, ns.label))
            for union in unions:
                print("\n".join("  " + line for line in format_union(union, state)))
            printed = True
            continue
        mounts = [m for m in ns.mounts if not types or m.fstype in types]
        if not mounts and ns.error is None:
            continue
        print(_ns_header(state, key, ns.pids, ns.label))
        if ns.error is not None:
            print(f"  (not readable: {ns.error})")
        width = max((len(m.mountpoint) for m in mounts), default=6)
        width = min(max(width, 6), 48)
        for m in mounts:
            print(f"  {m.mountpoint:<{width}} {m.fstype:<10} {m.source:<16} {m.options}")
        printed = True
    if args.union:
        if not printed:
            print("no union mounts in any mount namespace")
        if state.aufs_note:
            print(state.aufs_note)
    elif not printed:
        print("no mounts of that type in any mount namespace")
    for note in state.scan.notes:
        print(f"note: {note}")
    return 0
