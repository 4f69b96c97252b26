"""``nstui overlay``: inspect an overlay's layers and changes, mount and unmount overlays.

    nstui overlay layers TARGET [--path REL] [-r] [--in-pid PID] [--json]
    nstui overlay diff TARGET [--in-pid PID] [--json]
    nstui overlay mount --lower A --lower B [--upper U --work W] [--option O]
                        [--in-pid PID [--layers-here]] TARGET
    nstui overlay umount TARGET [--lazy] [--in-pid PID]

Lowers are given top first, like lowerdir=. Paths may hold ``:``, ``,``, spaces or
backslashes: the mount uses one ``lowerdir+`` per layer where the kernel has it.
With ``--in-pid`` the paths are those of PID's mount namespace (absolute), and the mount is
made there by a single-threaded helper; add ``--layers-here`` to take the layers from
nstui's namespace instead (a detached mount attached in PID's namespace: a container gets
host directories without seeing any of nstui's files).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from nstui.kernel.layers import Change, MergedEntry
from nstui.kernel.union_mounts import UnionMount
from nstui.model.mount_actions import MountsState


def register(subparsers: Any) -> None:
    from nstui.cli.main import ArgumentParser

    parser = subparsers.add_parser(
        "overlay",
        help="inspect, mount and unmount overlay (union) mounts",
        description="Inspect the layers and changes of overlay/aufs mounts; mount and unmount "
        "overlays (new mount API with lowerdir+ where the kernel has it).",
    )
    sub = parser.add_subparsers(
        dest="overlay_command", metavar="ACTION", parser_class=ArgumentParser, required=True
    )

    layers = sub.add_parser("layers", help="the layer stack and where each merged entry is from")
    layers.add_argument("target", metavar="TARGET", help="the merged directory (mount point)")
    layers.add_argument("--path", default="", help="a directory inside the merged tree")
    layers.add_argument("-r", "--recursive", action="store_true", help="the whole merged tree")
    _common(layers)
    layers.set_defaults(func=run_layers)

    diff = sub.add_parser("diff", help="the upper layer as added/modified/deleted/opaque")
    diff.add_argument("target", metavar="TARGET")
    _common(diff)
    diff.set_defaults(func=run_diff)

    mount = sub.add_parser("mount", help="mount an overlay (checks everything first)")
    mount.add_argument(
        "--lower",
        action="append",
        required=True,
        metavar="DIR",
        help="a lower layer; repeat, top first",
    )
    mount.add_argument("--upper", metavar="DIR", help="upper (writable) layer")
    mount.add_argument("--work", metavar="DIR", help="work dir: empty, same filesystem as upper")
    mount.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="OPT",
        help="index=on, redirect_dir=on, metacopy=on, volatile, userxattr, ro...",
    )
    mount.add_argument(
        "--layers-here",
        action="store_true",
        help="with --in-pid: the layer paths are nstui's, only TARGET is in PID's namespace",
    )
    mount.add_argument("target", metavar="TARGET", help="directory to mount on")
    mount.add_argument("--no-audit", action="store_true", help=argparse.SUPPRESS)
    _common(mount)
    mount.set_defaults(func=run_mount)

    umount = sub.add_parser("umount", help="unmount an overlay")
    umount.add_argument("target", metavar="TARGET")
    # the helper inside another namespace: the caller has recorded the change already
    umount.add_argument("--no-audit", action="store_true", help=argparse.SUPPRESS)
    umount.add_argument(
        "-l", "--lazy", action="store_true", help="detach now, free when no longer busy"
    )
    _common(umount)
    umount.set_defaults(func=run_umount)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--in-pid", type=int, metavar="PID", help="act in the mount namespace of process PID"
    )
    parser.add_argument("-J", "--json", action="store_true", help="JSON output")


def _find(state: MountsState, target: str, in_pid: int | None) -> UnionMount:
    from nstui.cli.main import UsageError
    from nstui.model.mount_actions import find_union

    if in_pid is not None:
        if state.scan.find_namespace(in_pid) is None:
            raise UsageError(f"nstui overlay: process {in_pid} not found (or not readable)")
        if not target.startswith("/"):
            raise UsageError("nstui overlay: with --in-pid, give an absolute TARGET")
    path = os.path.normpath(target if in_pid is not None else os.path.abspath(target))
    union = find_union(state, path, in_pid)
    if union is None:
        where = f" in the mount namespace of process {in_pid}" if in_pid is not None else ""
        raise _Fail(f"{path}: no overlay or aufs mount there{where}")
    return union


class _Fail(Exception):
    pass


def _fail(message: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"error": message}, indent=2))
    print(f"nstui overlay: {message}", file=sys.stderr)
    return 1


def entry_text(entry: MergedEntry) -> tuple[str, str, str]:
    """(name, origin, note) columns of a merged-tree entry."""
    name = entry.path + ("/" if entry.kind == "dir" else "")
    hides = ", ".join(layer.name for layer in entry.hides)
    if entry.whiteout:
        return (
            name,
            "deleted",
            f"whiteout in {entry.layer.name}" + (f" hides {hides}" if hides else ""),
        )
    notes: list[str] = []
    if entry.kind == "dir" and len(entry.merged_from) > 1:
        notes.append("merged " + ", ".join(layer.name for layer in entry.merged_from))
    if entry.opaque:
        notes.append("opaque")
    if entry.redirect:
        notes.append(f"renamed from {entry.redirect}")
    if hides:
        notes.append(f"hides {hides}")
    if entry.copied_up and entry.layer.role == "upper":
        notes.append("copied up")
    return name, entry.layer.name, "; ".join(notes)


def change_text(change: Change) -> str:
    shadows = ", ".join(layer.name for layer in change.shadows)
    mark = {"added": "A", "modified": "M", "deleted": "D", "opaque": "O"}[change.kind]
    path = change.path + ("/" if change.file_kind == "dir" else "")
    note = ""
    if change.kind == "modified":
        note = f"shadows {shadows}" + (" (copied up)" if change.copied_up else "")
        if change.metacopy:
            note += " (metadata only)"
    elif change.kind == "deleted":
        note = f"whiteout over {shadows}"
    elif change.kind == "opaque":
        note = f"replaced directory, hides {shadows}"
    if change.redirect:
        note += f" (renamed from {change.redirect})"
    return f"{mark} {path}" + (f"  {note}" if note else "")


def run_layers(args: argparse.Namespace) -> int:
    from nstui.cli.mounts_cmd import format_union
    from nstui.kernel.layers import iter_tree, list_merged, visible_layers
    from nstui.model.mount_actions import LiveMountActions
    from nstui.model.mount_json import entry_json, stack_json, union_json

    actions = LiveMountActions()
    state = actions.read_state()
    try:
        union = _find(state, args.target, args.in_pid)
    except _Fail as exc:
        return _fail(str(exc), args.json)
    stack = actions.layer_stack(union)
    rel = "/".join(p for p in args.path.split("/") if p)
    entries = list(iter_tree(stack, rel)) if args.recursive else list_merged(stack, rel)
    if args.json:
        out = union_json(union, state)
        out["layers"] = stack_json(stack)
        out["path"] = rel
        out["entries"] = [entry_json(e) for e in entries]
        print(json.dumps(out, indent=2))
        return 0
    print("\n".join(format_union(union, state)))
    print(f"\nmerged /{rel}:" if rel else "\nmerged tree:")
    if not entries:
        is_dir = not rel or visible_layers(stack, rel) is not None
        print(
            "  (empty directory)" if is_dir else f"  (/{rel} is not a directory of the merged tree)"
        )
    rows = [entry_text(e) for e in entries]
    width = min(max((len(r[0]) for r in rows), default=4), 48)
    for name, origin, note in rows:
        print(f"  {name:<{width}}  {origin:<9} {note}".rstrip())
    return 0


def run_diff(args: argparse.Namespace) -> int:
    from nstui.model.mount_actions import LiveMountActions
    from nstui.model.mount_json import change_set_json

    actions = LiveMountActions()
    state = actions.read_state()
    try:
        union = _find(state, args.target, args.in_pid)
    except _Fail as exc:
        return _fail(str(exc), args.json)
    changes = actions.change_set(union)
    if args.json:
        out = change_set_json(changes)
        out["target"] = union.target
        print(json.dumps(out, indent=2))
        return 0
    if changes.note:
        print(changes.note)
    for change in changes.changes:
        print(change_text(change))
    counts = changes.counts()
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    more = " (stopped early: too many entries)" if changes.truncated else ""
    print(f"{union.target}: {summary}{more}")
    return 0


def run_mount(args: argparse.Namespace) -> int:
    from nstui.cli.main import UsageError
    from nstui.model.mount_actions import LiveMountActions, OverlaySpec

    if (args.upper is None) != (args.work is None):
        raise UsageError("nstui overlay mount: --upper and --work go together")
    spec = OverlaySpec(
        lowers=tuple(args.lower),
        target=args.target,
        upper=args.upper,
        work=args.work,
        options=tuple(args.option),
    )
    if args.layers_here and args.in_pid is None:
        raise UsageError("nstui overlay mount: --layers-here goes with --in-pid")
    outcome = LiveMountActions(audit=not args.no_audit).mount_overlay(
        spec, in_pid=args.in_pid, layers_here=args.layers_here
    )
    if not outcome.ok:
        return _fail(outcome.message, args.json)
    if args.json:
        print(
            json.dumps(
                {"message": outcome.message, "target": outcome.target, "method": outcome.method},
                indent=2,
            )
        )
    else:
        print(outcome.message)
    return 0


def run_umount(args: argparse.Namespace) -> int:
    from nstui.model.mount_actions import LiveMountActions

    actions = LiveMountActions(audit=not args.no_audit)
    outcome = actions.umount(args.target, lazy=args.lazy, in_pid=args.in_pid)
    if not outcome.ok:
        return _fail(outcome.message, args.json)
    if args.json:
        print(json.dumps({"message": outcome.message, "target": outcome.target}, indent=2))
    else:
        print(outcome.message)
    return 0
