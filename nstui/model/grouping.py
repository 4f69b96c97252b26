"""Ways to group a snapshot's processes: by namespace of each type, by cgroup in each
hierarchy, by parent; and which namespaces a process does not share with the host.

``group(snapshot)`` computes everything once (about 30 ms at 10,000 processes); views keep the
result next to the snapshot it came from. The single functions serve one-off questions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from nstui.kernel.nstypes import NS_TYPES, NsId, NsType
from nstui.kernel.procfs import Process
from nstui.model.snapshot import HostInfo, Snapshot


@dataclass(frozen=True, slots=True)
class Groups:
    """Every grouping of one snapshot. Pid tuples are ascending. Treat as immutable."""

    #: type -> namespace -> member pids
    by_ns: dict[NsType, dict[NsId, tuple[int, ...]]]
    #: hierarchy id -> cgroup path -> member pids (from each process's /proc/PID/cgroup view)
    by_cgroup: dict[int, dict[str, tuple[int, ...]]]
    #: pid -> child pids (only processes in the snapshot)
    children: dict[int, tuple[int, ...]]
    #: processes whose parent is not in the snapshot (pid 1, kthreadd, orphans of a race)
    roots: tuple[int, ...]
    #: pid -> namespace types in which it differs from the host (empty for most)
    not_host: dict[int, frozenset[NsType]]

    def members(self, ns_id: NsId) -> tuple[int, ...]:
        return self.by_ns.get(ns_id.type, {}).get(ns_id, ())


def processes_by_namespace(
    processes: Mapping[int, Process], ns_type: NsType
) -> dict[NsId, tuple[int, ...]]:
    """Namespace of NS_TYPE -> pids in it. Processes whose namespace is unknown are left out."""
    out: dict[NsId, list[int]] = {}
    for pid in sorted(processes):
        ns_id = processes[pid].ns.get(ns_type)
        if ns_id is not None:
            out.setdefault(ns_id, []).append(pid)
    return {k: tuple(v) for k, v in out.items()}


def processes_by_cgroup(processes: Mapping[int, Process], hid: int) -> dict[str, tuple[int, ...]]:
    """Cgroup path in hierarchy HID -> pids in it (processes not placed there are left out)."""
    out: dict[str, list[int]] = {}
    for pid in sorted(processes):
        path = processes[pid].cgroups.get(hid)
        if path is not None:
            out.setdefault(path, []).append(pid)
    return {k: tuple(v) for k, v in out.items()}


def children_by_parent(processes: Mapping[int, Process]) -> dict[int, tuple[int, ...]]:
    """Parent pid -> child pids, for parents present in PROCESSES."""
    out: dict[int, list[int]] = {}
    for pid in sorted(processes):
        ppid = processes[pid].ppid
        if ppid in processes and ppid != pid:
            out.setdefault(ppid, []).append(pid)
    return {k: tuple(v) for k, v in out.items()}


def root_pids(processes: Mapping[int, Process]) -> tuple[int, ...]:
    """Processes whose parent is absent (or themselves): the tops of the process forest."""
    return tuple(
        pid
        for pid in sorted(processes)
        if processes[pid].ppid not in processes or processes[pid].ppid == pid
    )


def differs_from_host(process: Process, host: HostInfo) -> frozenset[NsType]:
    """Namespace types in which PROCESS is not in the host's namespace. A type unknown on
    either side does not count (pid 1's links are refused here: no guessing)."""
    return frozenset(
        t
        for t in NS_TYPES
        if (mine := process.ns.get(t)) is not None
        and (theirs := host.host_ns.get(t)) is not None
        and mine != theirs
    )


def group(snapshot: Snapshot, types: Iterable[NsType] = NS_TYPES) -> Groups:
    """Every grouping of SNAPSHOT in one pass over its processes."""
    types = tuple(types)
    by_ns: dict[NsType, dict[NsId, list[int]]] = {t: {} for t in types}
    by_cg: dict[int, dict[str, list[int]]] = {}
    children: dict[int, list[int]] = {}
    roots: list[int] = []
    not_host: dict[int, frozenset[NsType]] = {}
    processes = snapshot.processes
    host_ns = snapshot.host.host_ns
    # Processes share ns dicts (see procfs.Interner): handle each distinct dict once, so
    # NsIds (slow to hash) are hashed per namespace set rather than per process.
    by_dict: dict[int, tuple[dict[NsType, NsId], list[int]]] = {}
    for pid in sorted(processes):
        p = processes[pid]
        found = by_dict.get(id(p.ns))
        if found is None:
            by_dict[id(p.ns)] = (p.ns, [pid])
        else:
            found[1].append(pid)
        for hid, path in p.cgroups.items():
            by_cg.setdefault(hid, {}).setdefault(path, []).append(pid)
        if p.ppid in processes and p.ppid != pid:
            children.setdefault(p.ppid, []).append(pid)
        else:
            roots.append(pid)
    for ns, pids in by_dict.values():
        for t in types:
            ns_id = ns.get(t)
            if ns_id is not None:
                by_ns[t].setdefault(ns_id, []).extend(pids)
        diff = frozenset(
            t
            for t, ns_id in ns.items()
            if (theirs := host_ns.get(t)) is not None and ns_id != theirs
        )
        if diff:
            for pid in pids:
                not_host[pid] = diff
    return Groups(
        by_ns={t: {k: tuple(sorted(v)) for k, v in m.items()} for t, m in by_ns.items()},
        by_cgroup={h: {k: tuple(v) for k, v in m.items()} for h, m in by_cg.items()},
        children={k: tuple(v) for k, v in children.items()},
        roots=tuple(roots),
        not_host=dict(sorted(not_host.items())),
    )
