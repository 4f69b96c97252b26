"""Cgroup actions the UI can take: read knobs with usage, tune, undo, control, audit history.

``CgroupActions`` is the shape the UI relies on; ``LiveCgroupActions`` acts on this host's
kernel through nstui.kernel.cgroups (validated values, the one writer, the audit log). Every
method blocks: call it from a worker thread. Refusals raise ``CgroupActionError`` (and
``NeedsConfirmation`` for a valid but dangerous change) with a message fit for the user; the
kernel's own refusals come back as results with ``ok`` False. Types the UI needs are
re-exported here so it imports nothing from the kernel layer.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from nstui.kernel.cgroups import control
from nstui.kernel.cgroups.audit import AuditEntry, AuditError, AuditLog
from nstui.kernel.cgroups.control import ControlResult
from nstui.kernel.cgroups.editor import (
    EditError,
    UndoOutcome,
    apply_plan,
    plan_edit,
    ref_for_knob,
    resolve_knob,
    undo_entry,
    undoable_entries,
)
from nstui.kernel.cgroups.editor import NeedsConfirmation as _KernelNeedsConfirmation
from nstui.kernel.cgroups.effective import Effective
from nstui.kernel.cgroups.freezer import FreezeState
from nstui.kernel.cgroups.hierarchy import Hierarchy, discover_hierarchies, walk
from nstui.kernel.cgroups.knobs import Knob
from nstui.kernel.cgroups.paths import CgroupDir, CgroupGone, CgroupPathError, CgroupRef
from nstui.kernel.cgroups.pending import with_current_values
from nstui.kernel.cgroups.readings import (
    CgroupReading,
    KnobReading,
    Member,
    UsageSample,
    read_cgroup,
)
from nstui.kernel.cgroups.writer import WriteResult

__all__ = [
    "AuditEntry",
    "CgroupActionError",
    "CgroupActions",
    "CgroupReading",
    "ControlResult",
    "Effective",
    "FreezeState",
    "Knob",
    "KnobReading",
    "LiveCgroupActions",
    "Member",
    "NeedsConfirmation",
    "UndoOutcome",
    "UsageSample",
    "WriteResult",
]


class CgroupActionError(Exception):
    """Refused before anything changed (invalid value, vanished cgroup, unwritable log...)."""


class NeedsConfirmation(CgroupActionError):
    """Valid but dangerous (v2 memory limit below usage): ask, then call again with force."""


class CgroupActions(Protocol):
    def edit_unavailable(self) -> str | None:
        """None when changes are possible, else why not (not root, audit log unwritable)."""
        ...

    def read(self, hid: int, path: str) -> tuple[CgroupReading, ...]:
        """The cgroup's knobs; on v1 one reading per hierarchy holding the same path."""
        ...

    def set(
        self, hid: int, path: str, file: str, typed: str, *, force: bool = False
    ) -> list[WriteResult]: ...

    def step(
        self, hid: int, path: str, file: str, direction: int, *, force: bool = False
    ) -> list[WriteResult]: ...

    def set_unlimited(
        self, hid: int, path: str, file: str, *, force: bool = False
    ) -> list[WriteResult]: ...

    def undo_last(self) -> UndoOutcome: ...

    def make_child(self, hid: int, path: str, name: str) -> ControlResult: ...

    def remove(self, hid: int, path: str) -> ControlResult: ...

    def move(self, pid: int, hid: int, path: str, *, thread: bool = False) -> ControlResult: ...

    def needs_cpuset_copy(self, hid: int, path: str) -> bool: ...

    def copy_parent_cpuset(self, hid: int, path: str) -> ControlResult: ...

    def set_frozen(self, hid: int, path: str, frozen: bool) -> ControlResult: ...

    def count_processes(self, hid: int, path: str) -> int:
        """Processes in the cgroup and its descendants (what a kill would hit); raises
        CgroupActionError when the hierarchy or path is not a cgroup."""
        ...

    def kill(self, hid: int, path: str) -> ControlResult: ...

    def set_subtree_control(
        self, hid: int, path: str, controller: str, enable: bool
    ) -> ControlResult: ...

    def history(self) -> list[AuditEntry]: ...

    def audit_location(self) -> str:
        """Where the audit log is kept (shown in the history screen)."""
        ...

    def undo(self, entry_id: str) -> UndoOutcome: ...

    def targets(self, hid: int) -> list[str]:
        """Cgroup paths of a hierarchy (for choosing where to move a process)."""
        ...

    def hierarchies(self) -> tuple[Hierarchy, ...]: ...


class LiveCgroupActions:
    """CgroupActions on this host. ``audit_path`` overrides the audit log location; other
    keyword options (meant for other action parts) are accepted and ignored."""

    def __init__(self, audit_path: str | None = None, **_options: Any) -> None:
        self._audit = AuditLog(audit_path)
        control.sweep_at_start(self._audit)  # what a killed nstui left half made
        self._lock = threading.Lock()
        self._session: list[str] = []  # audit ids of this session's successful changes

    # -- helpers --------------------------------------------------------------------------

    def hierarchies(self) -> tuple[Hierarchy, ...]:
        return discover_hierarchies()

    def _ref(self, hid: int, path: str) -> CgroupRef:
        for h in self.hierarchies():
            if h.hid == hid:
                try:
                    ref = CgroupRef(h, path)
                    ref.relative_parts()
                except CgroupPathError as exc:
                    raise CgroupActionError(str(exc)) from None
                return ref
        raise CgroupActionError(f"no mounted cgroup hierarchy with id {hid}")

    def _guard(self) -> None:
        reason = self.edit_unavailable()
        if reason is not None:
            raise CgroupActionError(reason)

    def _remember(self, results: Sequence[WriteResult]) -> None:
        with self._lock:
            self._session.extend(r.audit_id for r in results if r.ok and r.audit_id)

    def _control(self, result: ControlResult) -> ControlResult:
        if result.ok and result.audit_id:
            with self._lock:
                self._session.append(result.audit_id)
        return result

    # -- reading --------------------------------------------------------------------------

    def edit_unavailable(self) -> str | None:
        if os.geteuid() != 0:
            return "editing cgroups needs root (nstui runs as an unprivileged user): read-only"
        return self._audit.check_writable()

    def read(self, hid: int, path: str) -> tuple[CgroupReading, ...]:
        ref = self._ref(hid, path)
        refs = [ref]
        if ref.version == 1:
            # v1 keeps each controller in its own tree; the same path elsewhere is the same
            # workload as far as users are concerned (cgcreate makes them together)
            refs += [
                CgroupRef(h, path)
                for h in self.hierarchies()
                if h.version == 1 and h.hid != hid and not h.controllers[0].startswith("name=")
            ]
        out: list[CgroupReading] = []
        for index, current in enumerate(refs):
            try:
                out.append(read_cgroup(current))
            except CgroupGone as exc:
                if index == 0:
                    raise CgroupActionError(str(exc)) from None
            except (OSError, CgroupPathError) as exc:
                # the asked cgroup says why; the same path in other v1 trees is extra
                if index == 0:
                    raise CgroupActionError(f"cannot read {current.spec}: {exc}") from None
        return tuple(out)

    def targets(self, hid: int) -> list[str]:
        for h in self.hierarchies():
            if h.hid == hid:
                return [c.path for c in walk(h)]
        return []

    # -- tuning ---------------------------------------------------------------------------

    def set(
        self, hid: int, path: str, file: str, typed: str, *, force: bool = False
    ) -> list[WriteResult]:
        self._guard()
        ref = self._ref(hid, path)
        try:
            plan = plan_edit(ref, [(file, typed)], self.hierarchies())
            results = apply_plan(plan, self._audit, force=force)
        except EditError as exc:
            raise CgroupActionError("; ".join(exc.problems)) from None
        except _KernelNeedsConfirmation as exc:
            raise NeedsConfirmation(str(exc)) from None
        except (AuditError, CgroupGone, CgroupPathError) as exc:
            raise CgroupActionError(str(exc)) from None
        self._remember(results)
        return results

    def _current(self, hid: int, path: str, file: str) -> tuple[Knob, str, CgroupRef]:
        ref = self._ref(hid, path)
        try:
            knob = resolve_knob(ref.version, file)
            target = ref_for_knob(ref, knob, self.hierarchies())
            with CgroupDir(target) as directory:
                raw = directory.read_raw(file)
        except (OSError, ValueError) as exc:
            raise CgroupActionError(f"{file}: {exc}") from None
        return knob, raw, target

    def step(
        self, hid: int, path: str, file: str, direction: int, *, force: bool = False
    ) -> list[WriteResult]:
        knob, raw, target = self._current(hid, path, file)
        with CgroupDir(target) as directory:
            typed = knob.vtype.step(raw, 1 if direction > 0 else -1, directory)
        if typed is None:
            raise CgroupActionError(
                f"{file} cannot be stepped from {knob.display(raw)}: type a value (Enter)"
            )
        return self.set(hid, path, file, typed, force=force)

    def set_unlimited(
        self, hid: int, path: str, file: str, *, force: bool = False
    ) -> list[WriteResult]:
        knob, _raw, _target = self._current(hid, path, file)
        if knob.unlimited is None:
            raise CgroupActionError(f"{file} has no unlimited value")
        return self.set(hid, path, file, knob.unlimited, force=force)

    def undo_last(self) -> UndoOutcome:
        with self._lock:
            session = list(self._session)
        if not session:
            raise CgroupActionError("nothing changed in this session to undo")
        entries = {e.id: e for e in undoable_entries(self._audit.entries())}
        for entry_id in reversed(session):
            if entry_id in entries:
                outcome = self.undo(entry_id)
                if outcome.ok:
                    with self._lock:
                        self._session.remove(entry_id)
                return outcome
        raise CgroupActionError("this session's changes are already undone")

    # -- control --------------------------------------------------------------------------

    def _run(self, action: Callable[[], ControlResult]) -> ControlResult:
        self._guard()
        try:
            return self._control(action())
        except (AuditError, CgroupGone, CgroupPathError, ValueError) as exc:
            raise CgroupActionError(str(exc)) from None

    def make_child(self, hid: int, path: str, name: str) -> ControlResult:
        ref = self._ref(hid, path)
        return self._run(lambda: control.make_child(ref, name, self._audit))

    def remove(self, hid: int, path: str) -> ControlResult:
        ref = self._ref(hid, path)
        return self._run(lambda: control.remove(ref, self._audit))

    def move(self, pid: int, hid: int, path: str, *, thread: bool = False) -> ControlResult:
        ref = self._ref(hid, path)
        return self._run(lambda: control.move(pid, ref, self._audit, thread=thread))

    def needs_cpuset_copy(self, hid: int, path: str) -> bool:
        try:
            return control.needs_cpuset_copy(self._ref(hid, path))
        except (OSError, ValueError):
            return False

    def copy_parent_cpuset(self, hid: int, path: str) -> ControlResult:
        ref = self._ref(hid, path)
        return self._run(lambda: control.copy_parent_cpuset(ref, self._audit))

    def _freezer_ref(self, hid: int, path: str) -> CgroupRef:
        ref = self._ref(hid, path)
        if ref.version == 1 and "freezer" not in ref.hierarchy.controllers:
            for h in self.hierarchies():
                if h.version == 1 and "freezer" in h.controllers:
                    return CgroupRef(h, path)
        return ref

    def set_frozen(self, hid: int, path: str, frozen: bool) -> ControlResult:
        ref = self._freezer_ref(hid, path)
        return self._run(lambda: control.set_frozen(ref, frozen, self._audit))

    def count_processes(self, hid: int, path: str) -> int:
        try:
            return len(control.subtree_pids(self._ref(hid, path)))
        except (OSError, ValueError):
            return 0

    def kill(self, hid: int, path: str) -> ControlResult:
        ref = self._ref(hid, path)
        return self._run(lambda: control.kill(ref, self._audit))

    def set_subtree_control(
        self, hid: int, path: str, controller: str, enable: bool
    ) -> ControlResult:
        ref = self._ref(hid, path)
        return self._run(lambda: control.set_subtree_control(ref, controller, enable, self._audit))

    # -- audit ----------------------------------------------------------------------------

    def history(self) -> list[AuditEntry]:
        return with_current_values(self._audit.entries(), self.hierarchies())

    def audit_location(self) -> str:
        return self._audit.path

    def undo(self, entry_id: str) -> UndoOutcome:
        self._guard()
        entry = self._audit.find(entry_id)
        if entry is None:
            raise CgroupActionError(f"no audit entry {entry_id} in {self._audit.path}")
        try:
            return undo_entry(entry, self.hierarchies(), self._audit)
        except EditError as exc:
            raise CgroupActionError("; ".join(exc.problems)) from None
        except (AuditError, CgroupGone, CgroupPathError, ValueError) as exc:
            raise CgroupActionError(str(exc)) from None
