"""What changed between two snapshots: processes that appeared, vanished, or moved to another
cgroup or namespace; namespaces that appeared or vanished.

Identity rules, because the kernel reuses numbers:

- A process is (pid, start time): a reused pid with a new start time is a different process
  (one vanished, one appeared), never "the same process, changed".
- A namespace's (dev, inode) is reused after it dies, so equal NsIds in two snapshots are the
  same namespace only with evidence: equal kernel ids (NS_GET_ID) where both snapshots have
  them; otherwise a member process or a holder present in both. Without evidence the old one
  is reported vanished and the new one appeared, and a process that "stayed" in an NsId whose
  kernel id changed is reported as moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nstui.kernel.namespaces import Namespace
from nstui.kernel.nstypes import NS_TYPES, NsId, NsType
from nstui.kernel.procfs import Process
from nstui.model.snapshot import Snapshot

ProcessKey = tuple[int, float]


def process_key(p: Process) -> ProcessKey:
    """(pid, start): start ticks where the scan has them (exact), else the start time."""
    return (p.pid, float(p.start_ticks) if p.start_ticks else p.start_time)


@dataclass(frozen=True, slots=True)
class Moved:
    """A process present in both snapshots whose cgroups or namespaces changed.

    ``cgroups``: hierarchy id -> (old path, new path), None where it had none.
    ``namespaces``: type -> (old id, new id), None where it was unknown.
    """

    pid: int
    cgroups: dict[int, tuple[str | None, str | None]]
    namespaces: dict[NsType, tuple[NsId | None, NsId | None]]


@dataclass(frozen=True, slots=True)
class SnapshotDiff:
    appeared: tuple[Process, ...]  # in the new snapshot only (pid ascending)
    vanished: tuple[Process, ...]  # in the old snapshot only
    moved: tuple[Moved, ...]
    ns_appeared: tuple[NsId, ...]  # namespaces new to the new snapshot
    ns_vanished: tuple[NsId, ...]  # namespaces of the old snapshot that are gone

    @property
    def empty(self) -> bool:
        return not (
            self.appeared or self.vanished or self.moved or self.ns_appeared or self.ns_vanished
        )


def same_namespace(old: Namespace, new: Namespace, old_s: Snapshot, new_s: Snapshot) -> bool:
    """Whether two equal NsIds of two snapshots name the same namespace (see module doc)."""
    if old.id != new.id:
        return False
    if old.kernel_id is not None and new.kernel_id is not None:
        return old.kernel_id == new.kernel_id
    old_members = {process_key(old_s.processes[p]) for p in old.pids if p in old_s.processes}
    if any(
        process_key(new_s.processes[p]) in old_members for p in new.pids if p in new_s.processes
    ):
        return True
    old_holders = {(h.kind, h.path) for h in old.holders}
    return any((h.kind, h.path) in old_holders for h in new.holders)


def diff_snapshots(old: Snapshot, new: Snapshot) -> SnapshotDiff:
    """Changes from OLD to NEW (see the module doc for what counts as the same)."""
    old_by_key = {process_key(p): p for p in old.processes.values()}
    new_by_key = {process_key(p): p for p in new.processes.values()}
    appeared = tuple(new_by_key[k] for k in sorted(new_by_key.keys() - old_by_key.keys()))
    vanished = tuple(old_by_key[k] for k in sorted(old_by_key.keys() - new_by_key.keys()))

    replaced = _replaced_namespaces(old, new)
    moved: list[Moved] = []
    for key in sorted(old_by_key.keys() & new_by_key.keys()):
        before, after = old_by_key[key], new_by_key[key]
        if before.cgroups is after.cgroups and before.ns is after.ns and not replaced:
            continue  # shared (reused) dicts: nothing to compare
        # an exited process (zombie) leaves its cgroups: that is not a move
        cg = {} if after.state == "Z" else _cgroup_changes(before.cgroups, after.cgroups)
        ns = _ns_changes(before.ns, after.ns, replaced)
        if cg or ns:
            moved.append(Moved(after.pid, cg, ns))

    old_ids, new_ids = old.namespaces.keys(), new.namespaces.keys()
    ns_appeared = sorted((new_ids - old_ids) | replaced)
    ns_vanished = sorted((old_ids - new_ids) | replaced)
    return SnapshotDiff(appeared, vanished, tuple(moved), tuple(ns_appeared), tuple(ns_vanished))


def _replaced_namespaces(old: Snapshot, new: Snapshot) -> set[NsId]:
    """NsIds in both snapshots that name different namespaces (an inode reused)."""
    return {
        ns_id
        for ns_id in old.namespaces.keys() & new.namespaces.keys()
        if not same_namespace(old.namespaces[ns_id], new.namespaces[ns_id], old, new)
    }


def _cgroup_changes(
    before: Mapping[int, str], after: Mapping[int, str]
) -> dict[int, tuple[str | None, str | None]]:
    return {
        hid: (before.get(hid), after.get(hid))
        for hid in sorted(before.keys() | after.keys())
        if before.get(hid) != after.get(hid)
    }


def _ns_changes(
    before: Mapping[NsType, NsId], after: Mapping[NsType, NsId], replaced: set[NsId]
) -> dict[NsType, tuple[NsId | None, NsId | None]]:
    out: dict[NsType, tuple[NsId | None, NsId | None]] = {}
    for t in NS_TYPES:
        a, b = before.get(t), after.get(t)
        if a is None or b is None:
            continue  # unknown on one side (refused, or a zombie): no claim of a move
        if a != b or a in replaced:
            out[t] = (a, b)
    return out
