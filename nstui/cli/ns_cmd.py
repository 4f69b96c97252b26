"""``nstui ns``: list namespaces like util-linux ``lsns``, plus owner, parent and holders.

The table has lsns's columns (NS TYPE NPROCS PID USER COMMAND) with OWNER and PARENT (inodes
of the owning user namespace and of the parent pid/user namespace) before COMMAND.
Namespaces no process is in are listed too: NPROCS 0 and, in COMMAND, what keeps them alive
(``<bind mount /run/netns/x>``, ``<fd /proc/PID/fd/N>``, ``<owner of net:[...]>``).
``--json`` keeps lsns -J's shape and field names (``ns`` is the inode as a number, ``pns`` and
``ons`` are 0 when there is none, as lsns prints them) and adds nstui's own fields; the list
is flat, as ``lsns -J --list`` prints it (plain ``lsns -J`` nests an entry under
``children`` of the namespace whose lowest pid is an ancestor of its own).
``--tree`` nests user and pid namespaces under their parents. ``-p PID`` and a namespace
argument (inode or ``type:[inode]``) filter as in lsns.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from nstui.kernel.namespaces import HolderKind, Namespace, NsHolder
from nstui.kernel.nstypes import NS_TYPES, NsId, NsType, parse_ns_types
from nstui.kernel.procfs import Process

#: The namespace types that nest (NS_GET_PARENT answers for them).
NESTED_TYPES: tuple[NsType, ...] = (NsType.USER, NsType.PID)

_HOLDER_WORDS: dict[HolderKind, str] = {
    HolderKind.BIND_MOUNT: "bind mount",
    HolderKind.OPEN_FD: "fd",
    HolderKind.PROCESS: "thread",
    HolderKind.REFERENCE: "",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ns",
        help="list namespaces (like lsns)",
        description="List namespaces like lsns, with owner and parent namespaces and the "
        "bind mounts or open fds that keep namespaces without processes alive.",
    )
    parser.add_argument(
        "-t",
        "--type",
        action="append",
        metavar="TYPE",
        help="only these types (comma-separated or repeated): " + ", ".join(NS_TYPES),
    )
    parser.add_argument("-J", "--json", action="store_true", help="JSON output (lsns -J shape)")
    parser.add_argument(
        "-T", "--tree", action="store_true", help="nest user and pid namespaces under parents"
    )
    parser.add_argument(
        "-u", "--notruncate", action="store_true", help="do not truncate COMMAND on a terminal"
    )
    parser.add_argument(
        "-p", "--task", type=int, metavar="PID", help="only the namespaces of this process"
    )
    parser.add_argument(
        "namespace",
        nargs="?",
        help="only this namespace: its inode, or type:[inode] as /proc/PID/ns links show it",
    )
    parser.set_defaults(func=run)


def selected_types(values: Sequence[str] | None) -> tuple[NsType, ...]:
    """The --type values as types; raises UsageError naming a bad one."""
    from nstui.cli.main import UsageError

    if not values:
        return NS_TYPES
    out: list[NsType] = []
    for value in values:
        try:
            types = parse_ns_types(value)
        except ValueError as exc:
            raise UsageError(f"nstui ns: {exc}") from None
        out.extend(t for t in types if t not in out)
    return tuple(out)


def run(args: argparse.Namespace) -> int:
    from nstui.cli.main import UsageError
    from nstui.model.scanner import LiveSource

    types = selected_types(args.type)
    if args.tree and not set(types) & set(NESTED_TYPES):
        raise UsageError("nstui ns: --tree nests user and pid namespaces; choose one of those")
    wanted = None if args.namespace is None else parse_namespace_arg(args.namespace)
    snapshot = LiveSource(holders=True).take()
    processes = snapshot.processes
    namespaces = [ns for ns in snapshot.namespaces.values() if ns.type in types]
    if wanted is not None:
        namespaces = [ns for ns in namespaces if ns.id.ino == wanted[1]]
        namespaces = [ns for ns in namespaces if wanted[0] is None or ns.type is wanted[0]]
    if args.task is not None:
        task = processes.get(args.task)
        if task is None:
            print(f"nstui ns: no process {args.task} (or it is not readable)", file=sys.stderr)
            return 1
        mine = set(task.ns.values())
        namespaces = [ns for ns in namespaces if ns.id in mine]
    for note in snapshot.limitations:  # stderr: what could not be read, and why
        print(f"nstui ns: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(to_json(namespaces, processes), indent=2))
        return 0
    width = None
    if not args.notruncate and sys.stdout.isatty():
        width = shutil.get_terminal_size().columns
    if args.tree:
        namespaces = [ns for ns in namespaces if ns.type in NESTED_TYPES]
        lines = render_tree(namespaces, processes, width)
    else:
        lines = render_table(namespaces, processes, width)
    for line in lines:
        print(line)
    return 0


def parse_namespace_arg(text: str) -> tuple[NsType | None, int]:
    """``4026532281`` or ``net:[4026532281]`` -> (type or None, inode); UsageError else."""
    from nstui.cli.main import UsageError
    from nstui.kernel.namespaces import parse_ns_text

    if text.isdecimal():
        return None, int(text)
    parsed = parse_ns_text(text)
    if parsed is None:
        raise UsageError(f"nstui ns: not a namespace: {text!r} (an inode or type:[inode])")
    return parsed


# --- shared facts about one namespace -----------------------------------------------------


def lowest(ns: Namespace, processes: dict[int, Process]) -> Process | None:
    """The member lsns shows: the lowest pid still present in the scan."""
    return next((processes[p] for p in ns.pids if p in processes), None)


def lsns_command(process: Process) -> str:
    """COMMAND as lsns prints it: the command line, or the bare comm for kernel threads."""
    return " ".join(process.cmdline) if process.cmdline else process.comm


def holder_text(holder: NsHolder) -> str:
    word = _HOLDER_WORDS[holder.kind]
    return f"<{word} {holder.path}>" if word else f"<{holder.path}>"


def _inode(ns_id: NsId | None) -> int | None:
    return None if ns_id is None else ns_id.ino


def _display_order(ns: Namespace) -> tuple[int, str]:
    return ns.id.ino, ns.type.value


# --- JSON --------------------------------------------------------------------------------


def _facts_json(ns: Namespace) -> dict[str, Any] | None:
    """Per-type facts; None when no member process could be read through (held only)."""
    if not ns.pids:
        return None
    facts = ns.facts
    if ns.type is NsType.NET:
        return {
            "interfaces": [
                {
                    "name": i.name,
                    "rx_bytes": i.rx_bytes,
                    "tx_bytes": i.tx_bytes,
                    "rx_packets": i.rx_packets,
                    "tx_packets": i.tx_packets,
                }
                for i in facts.interfaces
            ]
        }
    if ns.type is NsType.USER:
        return {
            which: [{"inside": r.inside, "outside": r.outside, "count": r.count} for r in ranges]
            for which, ranges in (("uid_map", facts.uid_map), ("gid_map", facts.gid_map))
        }
    if ns.type is NsType.PID:
        return {"level": facts.pid_level, "init_pid": facts.init_pid}
    if ns.type is NsType.TIME:
        return {
            "offsets": {
                clock: {"seconds": s, "nanoseconds": n}
                for clock, (s, n) in sorted(facts.time_offsets.items())
            }
        }
    return {}


def namespace_json(ns: Namespace, processes: dict[int, Process]) -> dict[str, Any]:
    """One entry of ``{"namespaces": [...]}``: lsns's fields first, then nstui's."""
    first = lowest(ns, processes)
    binds = [h.path for h in ns.holders if h.kind is HolderKind.BIND_MOUNT]
    fds = [h.path for h in ns.holders if h.kind is HolderKind.OPEN_FD]
    if first is not None:
        path: str | None = f"/proc/{first.pid}/ns/{ns.type.value}"
    else:
        path = next(iter(binds + fds), None)
    return {
        # lsns -J fields (lsns --output-all names and types)
        "ns": ns.id.ino,
        "type": ns.type.value,
        "path": path,
        "nprocs": ns.nprocs,
        "pid": None if first is None else first.pid,
        "ppid": None if first is None else first.ppid,
        "command": None if first is None else lsns_command(first),
        "uid": None if first is None else first.uid,
        "user": None if first is None else first.user,
        "nsfs": "\n".join(sorted(set(binds))) or None,
        "pns": _inode(ns.parent) or 0,
        "ons": _inode(ns.owner) or 0,
        # nstui's own fields
        "owner": _inode(ns.owner),
        "parent": _inode(ns.parent),
        "owner_uid": ns.owner_uid,
        "kernel_id": ns.kernel_id,
        "dev": ns.id.dev,
        "pids": list(ns.pids),
        "held_only": ns.held_only,
        "holders": [{"kind": h.kind.value, "pid": h.pid, "path": h.path} for h in ns.holders],
        "facts": _facts_json(ns),
    }


def to_json(namespaces: Iterable[Namespace], processes: dict[int, Process]) -> dict[str, Any]:
    return {
        "namespaces": [
            namespace_json(ns, processes) for ns in sorted(namespaces, key=_display_order)
        ]
    }


# --- table and tree ----------------------------------------------------------------------

HEADERS = ("NS", "TYPE", "NPROCS", "PID", "USER", "OWNER", "PARENT", "COMMAND")
_RIGHT = frozenset({"NS", "NPROCS", "PID", "OWNER", "PARENT"})


def table_row(ns: Namespace, processes: dict[int, Process]) -> list[str]:
    first = lowest(ns, processes)
    if first is not None:
        command = lsns_command(first)
        if not ns.pids and ns.holders:
            command = holder_text(ns.holders[0])
    else:
        command = " ".join(holder_text(h) for h in ns.holders[:2]) or "-"
        if len(ns.holders) > 2:
            command += f" (+{len(ns.holders) - 2} more)"
    return [
        str(ns.id.ino),
        ns.type.value,
        str(ns.nprocs),
        "-" if first is None else str(first.pid),
        "-" if first is None or first.user is None else first.user,
        str(_inode(ns.owner) or "-"),
        str(_inode(ns.parent) or "-"),
        command,
    ]


def _format(rows: list[list[str]], width: int | None, *, tree: bool = False) -> list[str]:
    """Aligned columns (numbers right, text left; the NS column left in a tree so its
    glyphs line up); the last column unpadded and the line cut at WIDTH."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS) - 1)]
    right = [h in _RIGHT and not (tree and i == 0) for i, h in enumerate(HEADERS)]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(w) if right[i] else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=False))
        ]
        line = " ".join([*cells, row[-1]])
        if width is not None and len(line) > width:
            line = line[: max(width - 1, 0)] + "…"
        lines.append(line)
    return lines


def render_table(
    namespaces: Iterable[Namespace], processes: dict[int, Process], width: int | None = None
) -> list[str]:
    """lsns-style lines, header first."""
    rows = [list(HEADERS)]
    rows += [table_row(ns, processes) for ns in sorted(namespaces, key=_display_order)]
    return _format(rows, width)


def render_tree(
    namespaces: Iterable[Namespace], processes: dict[int, Process], width: int | None = None
) -> list[str]:
    """Like render_table, but each namespace sits under its parent (user, then pid)."""
    chosen = {ns.id: ns for ns in namespaces}
    children: dict[NsId | None, list[Namespace]] = {}
    for ns in chosen.values():
        parent = ns.parent if ns.parent in chosen else None
        children.setdefault(parent, []).append(ns)

    rows = [list(HEADERS)]

    def visit(ns: Namespace, prefix: str, glyph: str) -> None:
        row = table_row(ns, processes)
        row[0] = glyph + row[0]
        rows.append(row)
        kids = sorted(children.get(ns.id, []), key=_display_order)
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            visit(kid, prefix + ("  " if last else "│ "), prefix + ("└─" if last else "├─"))

    def order(ns: Namespace) -> tuple[int, int, str]:
        return (NESTED_TYPES.index(ns.type) if ns.type in NESTED_TYPES else 2, *_display_order(ns))

    for root in sorted(children.get(None, []), key=order):
        visit(root, "", "")
    return _format(rows, width, tree=True)
