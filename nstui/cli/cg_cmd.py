"""``nstui cg``: read, tune and control cgroups (v1 hierarchies and the v2 tree).

PATH is ``CONTROLLER:/path`` as cgroup-tools write it (``memory:/web``; ``/web`` alone means the
v2 tree) or a directory under a cgroup mount (``/sys/fs/cgroup/memory/web``). Every change is
validated before anything is written, recorded in the audit log, and read back. Exit status:
0 when every write took effect, 1 when something was refused, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from nstui.cli.main import UsageError
from nstui.kernel.cgroups import control
from nstui.kernel.cgroups.audit import AuditEntry, AuditError, AuditLog
from nstui.kernel.cgroups.editor import (
    EditError,
    NeedsConfirmation,
    apply_plan,
    missing_reason,
    plan_edit,
    ref_for_knob,
    resolve_knob,
    undo_entry,
    undoable_entries,
)
from nstui.kernel.cgroups.hierarchy import Hierarchy, discover_hierarchies, walk
from nstui.kernel.cgroups.paths import CgroupDir, CgroupGone, CgroupPathError, CgroupRef
from nstui.kernel.cgroups.paths import parse_cgroup_spec as _parse_spec
from nstui.kernel.cgroups.pending import with_current_values
from nstui.kernel.cgroups.readings import KnobReading, read_cgroup
from nstui.kernel.cgroups.writer import WriteResult


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cg",
        help="read, tune and control cgroups",
        description="Without an action: list the cgroup trees. PATH is CONTROLLER:/path "
        "(memory:/web; /web alone is the v2 tree) or a directory under a cgroup mount.",
    )
    parser.add_argument("-J", "--json", action="store_true", help="JSON output")
    parser.set_defaults(func=run_tree)
    sub = parser.add_subparsers(dest="cg_action", metavar="ACTION")

    get = sub.add_parser("get", help="show knobs with usage and effective limits")
    get.add_argument("path", metavar="PATH")
    get.add_argument("knobs", metavar="KNOB", nargs="*", help="files such as memory.max")
    get.add_argument("-J", "--json", action="store_true", help="JSON output")
    get.set_defaults(func=run_get)

    set_ = sub.add_parser("set", help="set knobs (all validated before any is written)")
    set_.add_argument("path", metavar="PATH")
    set_.add_argument("assignments", metavar="KNOB=VALUE", nargs="+")
    set_.add_argument(
        "--force",
        action="store_true",
        help="write a v2 memory limit below current usage (the kernel then reclaims/OOM-kills)",
    )
    set_.set_defaults(func=run_set)

    for name, helptext in (("freeze", "freeze every process"), ("thaw", "thaw")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("path", metavar="PATH")
        p.set_defaults(func=run_freeze, frozen=name == "freeze")

    kill = sub.add_parser("kill", help="SIGKILL every process in the cgroup and below")
    kill.add_argument("path", metavar="PATH")
    kill.add_argument("--yes", action="store_true", help="required: confirms the kill")
    kill.set_defaults(func=run_kill)

    move = sub.add_parser("move", help="move a process (or one thread) into a cgroup")
    move.add_argument("pid", metavar="PID", type=int)
    move.add_argument("path", metavar="PATH")
    move.add_argument("--thread", action="store_true", help="move only this thread")
    move.set_defaults(func=run_move)

    mk = sub.add_parser("mk", help="create a cgroup")
    mk.add_argument("path", metavar="PATH")
    mk.add_argument(
        "--no-cpuset-copy",
        action="store_true",
        help="v1 cpuset: leave the new cgroup's cpus/mems empty (default: copy the parent's)",
    )
    mk.set_defaults(func=run_mk)

    rm = sub.add_parser("rm", help="remove an empty cgroup")
    rm.add_argument("path", metavar="PATH")
    rm.set_defaults(func=run_rm)

    history = sub.add_parser("history", help="list the audit log of changes")
    history.add_argument("-J", "--json", action="store_true", help="JSON output")
    history.set_defaults(func=run_history)

    undo = sub.add_parser("undo", help="undo a change (the last one by default)")
    undo.add_argument("id", metavar="ID", nargs="?", help="audit entry id (see cg history)")
    undo.set_defaults(func=run_undo)


def _err(message: str) -> None:
    print(f"nstui cg: {message}", file=sys.stderr)


def _said(ok: bool, message: str) -> int:
    """An action's outcome: its message on stdout and status 0, or on stderr and 1."""
    if ok:
        print(message)
        return 0
    _err(message)
    return 1


def _ref(spec: str, hierarchies: Sequence[Hierarchy]) -> CgroupRef:
    try:
        return _parse_spec(spec, hierarchies)
    except CgroupPathError as exc:
        raise UsageError(f"nstui cg: {exc}") from None


# --- listing ---------------------------------------------------------------------------------


def run_tree(args: argparse.Namespace) -> int:
    hierarchies = discover_hierarchies()
    trees: list[dict[str, Any]] = []
    for h in hierarchies:
        cgroups = [
            {"path": c.path, "processes": len(c.pids), "threads": len(c.tids)} for c in walk(h)
        ]
        trees.append(
            {
                "hierarchy": h.hid,
                "version": h.version,
                "name": h.name,
                "controllers": list(h.controllers),
                "mountpoint": h.mountpoint,
                "cgroups": cgroups,
            }
        )
    if args.json:
        print(json.dumps({"hierarchies": trees}, indent=2))
        return 0
    for tree in trees:
        print(f"{tree['name']} (v{tree['version']}, {tree['mountpoint']})")
        for cg in tree["cgroups"]:
            depth = 0 if cg["path"] == "/" else cg["path"].count("/")
            name = "/" if cg["path"] == "/" else cg["path"].rsplit("/", 1)[-1]
            print(f"  {'  ' * depth}{name}  {cg['processes']} procs, {cg['threads']} threads")
    return 0


# --- get -------------------------------------------------------------------------------------


def _reading_json(spec: str, r: KnobReading) -> dict[str, Any]:
    eff = r.effective
    return {
        "cgroup": spec,
        "knob": r.knob.file,
        "controller": r.knob.controller,
        "meaning": r.knob.meaning,
        "writable": r.knob.writable,
        "value": r.raw,
        "display": r.display,
        "usage": r.usage,
        "effective": None if eff is None else eff.display,
        "effective_from": None if eff is None else eff.source,
        "error": r.error,
    }


def _reading_line(r: KnobReading) -> str:
    parts = [f"{r.knob.file:<34} {r.display}"]
    if r.raw is not None and r.raw != r.display and "\n" not in r.raw and len(r.raw) < 40:
        parts.append(f"[{r.raw}]")
    if r.usage is not None:
        parts.append(f"usage {r.usage}")
    if r.effective is not None and not r.effective.own and r.effective.value is not None:
        parts.append(f"effective {r.effective.display} from {r.effective.source}")
    if r.error:
        parts.append(f"({r.error})")
    return "  ".join(parts)


def run_get(args: argparse.Namespace) -> int:
    hierarchies = discover_hierarchies()
    ref = _ref(args.path, hierarchies)
    readings: list[tuple[str, KnobReading]] = []
    problems: list[str] = []
    try:
        if args.knobs:
            wanted: dict[CgroupRef, list[str]] = {}
            for name in args.knobs:
                try:
                    knob = resolve_knob(ref.version, name)
                    target = ref_for_knob(ref, knob, hierarchies)
                except ValueError as exc:
                    problems.append(str(exc))
                    continue
                wanted.setdefault(target, []).append(knob.file)
            for target, names in wanted.items():
                reading = read_cgroup(target, members_limit=0)
                found = {r.knob.file: r for r in reading.knobs}
                with CgroupDir(target) as directory:
                    for name in names:
                        if name in found:
                            readings.append((target.spec, found[name]))
                        elif directory.exists(name):
                            problems.append(f"{target.spec} {name}: not readable as a knob")
                        else:
                            knob = resolve_knob(ref.version, name)
                            problems.append(missing_reason(target, knob, directory))
        else:
            reading = read_cgroup(ref, members_limit=0)
            readings = [(ref.spec, r) for r in reading.knobs]
    except CgroupGone as exc:
        _err(str(exc.strerror or exc))
        return 1
    except (CgroupPathError, OSError) as exc:  # e.g. another filesystem mounted over it
        _err(f"cannot read {ref.spec}: {exc}")
        return 1
    if args.json:
        print(json.dumps([_reading_json(s, r) for s, r in readings], indent=2))
    else:
        for _spec, r in readings:
            print(_reading_line(r))
    for problem in problems:
        _err(problem)
    return 1 if problems else 0


# --- set -------------------------------------------------------------------------------------


def _split_assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"nstui cg set: {text!r}: expected KNOB=VALUE")
    return name.strip(), value


def _report(results: Sequence[WriteResult]) -> bool:
    ok = True
    for result in results:
        if result.ok:
            shown = result.after if result.after is not None else result.value
            line = f"{result.cgroup} {result.file} = {shown}"
            print(line + (f"  ({result.message})" if result.message else ""))
        else:
            ok = False
            _err(result.message)
    return ok


def run_set(args: argparse.Namespace) -> int:
    hierarchies = discover_hierarchies()
    ref = _ref(args.path, hierarchies)
    assignments = [_split_assignment(a) for a in args.assignments]
    try:
        plan = plan_edit(ref, assignments, hierarchies)
        results = apply_plan(plan, AuditLog(), force=args.force)
    except EditError as exc:
        for problem in exc.problems:
            _err(problem)
        _err("nothing was written")
        return 1
    except NeedsConfirmation as exc:
        _err(f"{exc}. Refusing without --force; nothing was written")
        return 1
    except AuditError as exc:
        _err(str(exc.strerror or exc))
        return 1
    except CgroupGone as exc:
        _err(str(exc.strerror or exc))
        return 1
    ok = _report(results)
    if len(results) < len(plan.writes):
        _err(f"stopped: {len(plan.writes) - len(results)} later value(s) not written")
        ok = False
    return 0 if ok else 1


# --- control ---------------------------------------------------------------------------------


def _control(action: Callable[[], control.ControlResult]) -> int:
    try:
        result = action()
    except (AuditError, CgroupGone) as exc:
        _err(str(exc.strerror or exc))
        return 1
    except (CgroupPathError, ValueError) as exc:
        _err(str(exc))
        return 1
    return _said(result.ok, result.message)


def run_freeze(args: argparse.Namespace) -> int:
    ref = _ref(args.path, discover_hierarchies())
    if ref.version == 1 and "freezer" not in ref.hierarchy.controllers:
        ref = _with_controller(ref, "freezer")
    return _control(lambda: control.set_frozen(ref, args.frozen, AuditLog()))


def _with_controller(ref: CgroupRef, controller: str) -> CgroupRef:
    for h in discover_hierarchies():
        if h.version == 1 and controller in h.controllers:
            return CgroupRef(h, ref.path)
    return ref


def run_kill(args: argparse.Namespace) -> int:
    ref = _ref(args.path, discover_hierarchies())
    if ref.is_root:
        _err(f"{ref.spec} is a root cgroup: refusing to kill every process of the host")
        return 1
    try:
        count = len(control.subtree_pids(ref))
    except (CgroupGone, CgroupPathError) as exc:
        _err(str(exc))
        return 1
    if not args.yes:
        _err(f"this would SIGKILL {count} processes in {ref.spec} and below; add --yes")
        return 1
    return _control(lambda: control.kill(ref, AuditLog()))


def run_move(args: argparse.Namespace) -> int:
    ref = _ref(args.path, discover_hierarchies())
    return _control(lambda: control.move(args.pid, ref, AuditLog(), thread=args.thread))


def run_mk(args: argparse.Namespace) -> int:
    ref = _ref(args.path, discover_hierarchies())
    parent = ref.parent()
    if parent is None:
        raise UsageError(f"nstui cg mk: {ref.spec} is a hierarchy root")
    audit = AuditLog()
    name = ref.relative_parts()[-1]
    copy = not args.no_cpuset_copy
    return _control(lambda: control.make_child(parent, name, audit, copy_cpuset=copy))


def run_rm(args: argparse.Namespace) -> int:
    ref = _ref(args.path, discover_hierarchies())
    return _control(lambda: control.remove(ref, AuditLog()))


# --- audit -----------------------------------------------------------------------------------


def _entry_json(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "time": e.time,
        "user": e.user,
        "cgroup": e.cgroup,
        "file": e.file,
        "before": e.before,
        "value": e.value,
        "typed": e.typed,
        "after": e.after,
        "result": e.result,
        "undo_of": e.undo_of,
        "part_of": e.part_of,
        "now": e.now,
    }


def run_history(args: argparse.Namespace) -> int:
    log = AuditLog()
    entries = with_current_values(log.entries(), discover_hierarchies())
    if args.json:
        print(json.dumps([_entry_json(e) for e in entries], indent=2))
        return 0
    if not entries:
        print(f"no changes recorded in {log.path}")
        return 0
    for e in entries:
        undo = f" (undo of {e.undo_of})" if e.undo_of else ""
        step = f" (step of {e.part_of})" if e.part_of else ""
        now = f", now: {e.now}" if e.unknown and e.now is not None else ""
        print(
            f"{e.id}  {e.time[:19]}  {e.user}  {e.cgroup} {e.file}: "
            f"{e.before} -> {e.value} => {e.result}{now}{undo}{step}"
        )
    return 0


def run_undo(args: argparse.Namespace) -> int:
    log = AuditLog()
    entries = log.entries()
    if args.id:
        entry = next((e for e in entries if e.id == args.id), None)
        if entry is None:
            _err(f"no audit entry {args.id} in {log.path}")
            return 1
    else:
        candidates = undoable_entries(entries)
        if not candidates:
            _err(f"nothing to undo in {log.path}")
            return 1
        entry = candidates[-1]
    try:
        outcome = undo_entry(entry, discover_hierarchies(), log)
    except EditError as exc:
        _err("; ".join(exc.problems))
        return 1
    except (AuditError, CgroupGone) as exc:
        _err(str(exc.strerror or exc))
        return 1
    except ValueError as exc:
        _err(str(exc))
        return 1
    return _said(outcome.ok, outcome.message)
