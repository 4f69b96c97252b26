"""Set several knobs at once: validate every value first, order the writes, then write each once.

``plan_edit`` refuses the whole set (nothing written) when any value is invalid, a knob's file
is missing, or the values break an ordering constraint. ``apply_plan`` asks for confirmation
(``NeedsConfirmation``) before a v2 memory limit below usage, then writes in order and stops at
the first refusal so a half-applied pair never breaks a constraint.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from nstui.kernel.cgroups import control
from nstui.kernel.cgroups.audit import AuditEntry, AuditLog
from nstui.kernel.cgroups.hierarchy import Hierarchy
from nstui.kernel.cgroups.knobs import (
    Knob,
    OrderError,
    Validated,
    all_knobs,
    below_usage_warning,
    knob_for,
    order_writes,
    validate,
)
from nstui.kernel.cgroups.paths import CgroupDir, CgroupRef, parse_cgroup_spec
from nstui.kernel.cgroups.undo import NotUndoable, undo_input
from nstui.kernel.cgroups.writer import WriteResult, write_value


class EditError(ValueError):
    """Refused before any write; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


class NeedsConfirmation(ValueError):
    """The edit is valid but dangerous (v2 memory limit below usage): ask, then force."""


@dataclass(frozen=True, slots=True)
class Plan:
    writes: tuple[tuple[CgroupRef, Validated], ...]
    warnings: tuple[str, ...]


def resolve_knob(version: int, name: str) -> Knob:
    knob = knob_for(version, name)
    if knob is not None:
        return knob
    known = sorted({k.file for k in all_knobs() if k.version == version})
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ValueError(f"{name}: not a cgroup v{version} knob{hint}")


def ref_for_knob(ref: CgroupRef, knob: Knob, hierarchies: Sequence[Hierarchy]) -> CgroupRef:
    """v1 keeps each controller in its own hierarchy: the same path in the knob's one."""
    if ref.version == 2 or knob.controller in ref.hierarchy.controllers:
        return ref
    if knob.controller == "cgroup" or knob.file == "tasks":
        return ref
    for h in hierarchies:
        if h.version == 1 and knob.controller in h.controllers:
            return CgroupRef(h, ref.path)
    raise ValueError(f"{knob.file}: controller {knob.controller} is not mounted as cgroup v1")


def missing_reason(ref: CgroupRef, knob: Knob, directory: CgroupDir) -> str:
    if ref.version == 2 and knob.controller != "cgroup":
        have = (directory.read("cgroup.controllers") or "").split()
        if knob.controller not in have:
            return (
                f"{ref.spec} has no {knob.file}: controller {knob.controller} is not enabled "
                "here (enable it in the parent's cgroup.subtree_control)"
            )
        if ref.is_root:
            return f"{ref.spec} has no {knob.file}: the root cgroup has no such limit"
    return f"{ref.spec} has no {knob.file} (controller {knob.controller} not attached here)"


def plan_edit(
    ref: CgroupRef, assignments: Sequence[tuple[str, str]], hierarchies: Sequence[Hierarchy]
) -> Plan:
    problems: list[str] = []
    by_ref: dict[CgroupRef, list[Validated]] = {}
    warnings: list[str] = []
    for name, typed in assignments:
        try:
            knob = resolve_knob(ref.version, name)
            target = ref_for_knob(ref, knob, hierarchies)
            with CgroupDir(target) as directory:
                if not directory.exists(knob.file):
                    raise ValueError(missing_reason(target, knob, directory))
                value = validate(knob, typed, directory)
                warning = below_usage_warning(value, directory)
        except (OSError, ValueError) as exc:
            problems.append(f"{name}={typed}: {exc}")
            continue
        if warning is not None:
            warnings.append(warning)
        by_ref.setdefault(target, []).append(value)
    writes: list[tuple[CgroupRef, Validated]] = []
    for target, values in by_ref.items():
        try:
            with CgroupDir(target) as directory:
                ordered = order_writes(values, directory)
        except (OrderError, OSError, ValueError) as exc:
            problems.append(str(exc))
            continue
        writes.extend((target, v) for v in ordered)
    if problems:
        raise EditError(problems)
    return Plan(tuple(writes), tuple(warnings))


def apply_plan(
    plan: Plan, audit: AuditLog, *, force: bool = False, undo_of: str | None = None
) -> list[WriteResult]:
    """Write in order; stop after the first refusal. Raises NeedsConfirmation unless FORCE."""
    if plan.warnings and not force:
        raise NeedsConfirmation("; ".join(plan.warnings))
    results: list[WriteResult] = []
    for target, value in plan.writes:
        result = write_value(target, value, audit, undo_of)
        results.append(result)
        if not result.ok:
            break
    return results


@dataclass(frozen=True, slots=True)
class UndoOutcome:
    ok: bool
    message: str


def undoable_entries(entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """Successful changes not undone yet (newest last); undos themselves are left out, and so
    are internal steps of a change (part_of: undoing that change covers them)."""
    undone = {e.undo_of for e in entries if e.undo_of is not None and e.ok}
    return [
        e
        for e in entries
        if e.ok and e.undo_of is None and e.part_of is None and e.id not in undone
    ]


def undo_entry(entry: AuditEntry, hierarchies: Sequence[Hierarchy], audit: AuditLog) -> UndoOutcome:
    """Restore what ENTRY changed. Raises ValueError (NotUndoable, EditError...) when it
    cannot; an undo is itself audited, naming the entry it undoes."""
    if not entry.ok:
        raise NotUndoable(f"entry {entry.id} did not change anything ({entry.result})")
    if entry.part_of is not None:
        raise NotUndoable(
            f"entry {entry.id} is a step of change {entry.part_of}; undo that change instead"
        )
    ref = parse_cgroup_spec(entry.cgroup, hierarchies)
    if entry.file == "(mkdir)":
        result = control.remove(ref, audit, undo_of=entry.id)
        return UndoOutcome(result.ok, result.message)
    if entry.file == "(rmdir)":
        parent = ref.parent()
        if parent is None:
            raise NotUndoable("cannot recreate a root cgroup")
        result = control.make_child(parent, ref.relative_parts()[-1], audit, undo_of=entry.id)
        return UndoOutcome(result.ok, result.message)
    if entry.file.startswith("("):
        raise NotUndoable(f"{entry.file[1:-1]} cannot be undone")
    knob = resolve_knob(ref.version, entry.file)
    file, typed = undo_input(knob, entry.before, entry.value)
    plan = plan_edit(ref, [(file, typed)], hierarchies)
    results = apply_plan(plan, audit, force=True, undo_of=entry.id)
    last = results[-1]
    if not last.ok:
        return UndoOutcome(False, last.message)
    return UndoOutcome(True, f"{ref.spec} {file}: restored {knob.display(last.after or typed)}")
