"""Build a Snapshot from the live kernel, cheaply again and again.

``LiveSource().take()`` returns a full snapshot the first time. Later takes are incremental
refreshes, about a quarter of the cost or less:

- every process's /proc/PID/stat is read again (state, CPU, memory, threads) through an fd
  kept open since the last take (one pread); a process whose stat did not change at all is
  carried over as the same object;
- the slow facts of a process seen before (same pid and start time: namespaces, cmdline,
  uid, NSpid, odd threads) are reused, except for a process whose comm changed (it exec'd:
  nsenter, unshare, ip netns exec and container runtimes enter namespaces and then exec, so
  this catches most namespace changes at once) and a rotating slice of the pids
  (1/``recheck_every`` per refresh, default 8) that is read again in full: a process that
  entered another namespace without exec'ing shows within ``recheck_every`` refreshes;
- cgroup hierarchies are walked in rotation (all of them within WALK_EVERY = 4 refreshes,
  at least one each time); a process the walk finds in another cgroup than before is read
  again in full at once. Between its walks, a hierarchy's ``Cgroup`` records (member lists)
  are the ones of its last walk. The top cgroup's own lists, which on most hosts name
  nearly every thread, are read on every ROOT_EVERY-th walk only: a move into or out of it
  shows in the list of the cgroup on the other side;
- namespaces keep their owner, parent and ids from the last take; member lists are
  current; the namespaces of 1/FACTS_EVERY of the namespace sets are described again
  (per-type facts: net counters, id maps), and new namespaces at once.

The holders scan (namespaces kept only by bind mounts or open fds) reads every process's fd
table; it runs on full takes only and its findings are carried over by refreshes.
``take_full()`` re-reads everything.
"""

from __future__ import annotations

import dataclasses
import gc
import operator
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import psutil

from nstui.kernel.cgroups.hierarchy import (
    Cgroup,
    Hierarchy,
    cgroup_mode,
    discover_hierarchies,
    walk,
    walk_all,
)
from nstui.kernel.mountinfo import Mount, read_mountinfo
from nstui.kernel.namespaces import Described, Namespace, NsDescriber, build_namespaces
from nstui.kernel.nsfs import NsLinks
from nstui.kernel.nstypes import NsId, NsType
from nstui.kernel.procfs import (
    Interner,
    Process,
    ScanCache,
    boot_time,
    group_by_shared,
    read_ns,
    scan_processes,
)
from nstui.model.hostnames import HostnameCache, UtsCandidate
from nstui.model.net_addresses import NetAddressCache
from nstui.model.snapshot import HostInfo, Snapshot

#: A refresh reads 1/RECHECK_EVERY of the processes in full again,
RECHECK_EVERY = 8
#: walks 1/WALK_EVERY of the cgroup hierarchies (at least one),
WALK_EVERY = 4
#: and describes again the namespaces of 1/FACTS_EVERY of the namespace sets.
FACTS_EVERY = 8
#: The top cgroup's member lists are read on every ROOT_EVERY-th walk of a hierarchy.
ROOT_EVERY = 4
#: Namespace types whose description changes during their life: a network namespace's
#: interfaces, addresses and counters; a user namespace's id maps (written after it is
#: made). The others' stands: the nsfs answers (owner, parent, ids) are fixed for life, time
#: offsets once a process is inside, a pid namespace's facts come from its members, and uts
#: hostnames are read on full takes (HostnameCache).
LIVE_TYPES = frozenset({NsType.NET, NsType.USER})


class LiveSource:
    """A ``SnapshotSource`` reading the live kernel, keeping what it needs between takes.

    Takes are serialised by a lock (the TUI's worker and a CLI call never interleave).
    ``close()`` releases the kept /proc fds (also done when the source is collected).
    """

    def __init__(
        self,
        proc: str = "/proc",
        *,
        recheck_every: int = RECHECK_EVERY,
        holders: bool = True,
        check_threads: bool = True,
    ) -> None:
        if recheck_every < 1:
            raise ValueError("recheck_every must be at least 1")
        self.proc = proc
        self.recheck_every = recheck_every
        self.holders = holders
        self.check_threads = check_threads
        self._lock = threading.Lock()
        self._cache = ScanCache()
        self._previous: Snapshot | None = None
        self._previous_groups: list[tuple[dict[NsType, NsId], list[int]]] = []  # by ns dict
        self._previous_mono = 0.0
        self._generation = 0
        self._host_static: dict[str, Any] | None = None
        self._force_full = False
        self._hostnames = HostnameCache(proc)  # uts hostnames: a helper only for new ones
        self._addresses = NetAddressCache(proc)  # exact where /proc is ambiguous

    @property
    def _interner(self) -> Interner:
        return self._cache.interner

    def take(self) -> Snapshot:
        """A fresh snapshot: full the first time, an incremental refresh afterwards."""
        with self._lock:
            full, self._force_full = self._previous is None or self._force_full, False
            return self._take(full=full)

    def take_full(self) -> Snapshot:
        """A full snapshot regardless of what was seen before (everything re-read)."""
        with self._lock:
            return self._take(full=True)

    def invalidate(self) -> None:
        """Make the next ``take()`` a full one (after a change nstui made itself, say)."""
        with self._lock:
            self._force_full = True

    def close(self) -> None:
        with self._lock:
            self._cache.close()
            self._hostnames.close()
            self._previous = None
            self._previous_groups = []

    def _take(self, *, full: bool) -> Snapshot:
        # A take allocates ~10 objects per process, nearly all freed by reference counting;
        # the cyclic collector's passes over everything alive (two snapshots in a TUI) cost
        # ~15 % of a take at 10,000 processes and find nothing. So it waits for the end
        # (re-enabled only by the take that turned it off: a concurrent one leaves it).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._take_without_gc(full=full)
        except BaseException:
            self._hostnames.close()  # a helper started for this take
            raise
        finally:
            if collecting:
                gc.enable()

    def _take_without_gc(self, *, full: bool) -> Snapshot:
        previous = None if full else self._previous
        last = self._previous  # for cpu_percent even on a full take
        now_mono = time.monotonic()
        taken_at = time.time()
        limitations: list[str] = []

        try:
            mounts: tuple[Mount, ...] = tuple(read_mountinfo("self", self.proc))
        except OSError as exc:
            mounts = ()
            limitations.append(f"mounts: cannot read {self.proc}/self/mountinfo: {exc.strerror}")
        hierarchies = discover_hierarchies(mounts, self.proc) if mounts else ()
        host = self._host_info(mounts)
        host_pidns = host.host_ns.get(NsType.PID) if host.host_ns_source == "self" else None
        interval = None if last is None else now_mono - self._previous_mono
        prev_procs: Mapping[int, Process] = {} if last is None else last.processes

        # a refresh describes again only what changes in a namespace's life (LIVE_TYPES)
        describer = NsDescriber(self.proc, types=None if previous is None else LIVE_TYPES)
        # the holders scan's fd listing, done by the process scan on both cores
        ns_fds: dict[int, tuple[tuple[str, str], ...]] | None = {} if self.holders else None
        if previous is None:
            # the hostname helper's interpreter starts while the processes are read
            self._hostnames.start()
            walked: dict[tuple[int, str], Cgroup] = {}

            def walk_all() -> dict[int, dict[int, str]]:
                # runs while the scan helper reads its share of the processes
                walked.update(_walk_all(hierarchies, self.proc))
                return _membership(walked, len(hierarchies), self._interner)

            processes = scan_processes(
                self.proc,
                cache=self._cache,
                check_threads=self.check_threads,
                host_pidns=host_pidns,
                previous=prev_procs,
                recheck=_always,
                interval=interval,
                cgroups_known=walk_all,
                on_full=describer.see,
                ns_fds=ns_fds,
            )
            cgroups = walked
        else:
            self._generation += 1
            gen, every = self._generation, self.recheck_every
            cgroups = {}

            def walk_some() -> set[int]:
                # runs while the scan helper reads its share; the moved are read again
                walked, moved = self._walk_some(hierarchies, previous, gen)
                cgroups.update(walked)
                self._describe_turn(previous, describer)
                return moved

            turn = gen % every
            processes = scan_processes(
                self.proc,
                cache=self._cache,
                check_threads=self.check_threads,
                host_pidns=host_pidns,
                previous=prev_procs,
                verify=lambda pid: pid % every == turn,
                interval=interval,
                during=walk_some,
            )
        self._interner.trim(8 * len(processes) + 10_000)
        # every process kept its namespace set (the scan carries the dict over): the last
        # take's grouping and member lists stand
        same_ns = previous is not None and _all_same(processes, previous.processes, _ns_of)
        groups = self._previous_groups if same_ns else _by_ns_dict(processes)
        if previous is None:
            # the hostname helper runs on the other core while the rest is built
            self._hostnames.prefetch(_uts_candidates(groups, describer), full=True)
        cgroups = _reconcile_cgroups(cgroups, processes, hierarchies, previous)

        if previous is None:
            namespaces = build_namespaces(
                processes,
                holders=self.holders,
                proc=self.proc,
                described=describer.done,
                ns_fds=ns_fds,
            )
        else:
            namespaces = self._refresh_namespaces(processes, groups, previous, describer, same_ns)
        namespaces = self._hostnames.apply(namespaces, full=previous is None)
        namespaces = self._addresses.apply(namespaces, full=previous is None)

        limitations.extend(_limitations(host, processes))
        snapshot = Snapshot(
            taken_at=taken_at,
            host=host,
            processes=processes,
            namespaces=namespaces,
            hierarchies=hierarchies,
            cgroups=cgroups,
            mounts=mounts,
            limitations=tuple(limitations),
        )
        self._previous = snapshot
        self._previous_groups = groups
        self._previous_mono = now_mono
        return snapshot

    def _walk_some(
        self, hierarchies: tuple[Hierarchy, ...], previous: Snapshot, gen: int
    ) -> tuple[dict[tuple[int, str], Cgroup], set[int]]:
        """Walk this refresh's share of the hierarchies (and any new one); keep the others'
        records. Returns the cgroups and the pids the walk found moved."""
        known_hids = {h.hid for h in previous.hierarchies}
        n = len(hierarchies)
        share = -(-n // WALK_EVERY)  # ceil
        start = (gen * share) % n if n else 0
        chosen = {hierarchies[(start + i) % n].hid for i in range(share)}
        chosen |= {h.hid for h in hierarchies if h.hid not in known_hids}
        present = {h.hid for h in hierarchies}
        cgroups = {
            key: cg
            for key, cg in previous.cgroups.items()
            if key[0] not in chosen and key[0] in present
        }
        moved: set[int] = set()
        procs = previous.processes
        before = previous.cgroups
        # The top cgroup of a hierarchy lists nearly every thread of the host, the costliest
        # read of a walk; a move into or out of it shows in the other cgroup's list. So it
        # is read on every ROOT_EVERY-th walk of its hierarchy only (its thread list stands
        # meanwhile; its process list is rebuilt from the processes anyway).
        with_root = (gen // WALK_EVERY) % ROOT_EVERY == 0
        for h in hierarchies:
            if h.hid not in chosen:
                continue
            read_root = with_root or h.hid not in known_hids
            top = "/" + "/".join(p for p in h.root.split("/") if p)
            for cg in walk(h, procs=False, root_members=read_root):
                key = (cg.hid, cg.path)
                old = before.get(key)
                if cg.path == top and not read_root:
                    if old is not None:
                        cg = dataclasses.replace(cg, tids=old.tids, pids=old.pids)
                    cgroups[key] = cg
                    continue
                cgroups[key] = cg
                # set operations (a list may hold every thread of the host), then the few:
                # processes listed here now that were not before, and the other way round
                now = procs.keys() & set(cg.tids or cg.pids)
                if old is None:
                    listed = now
                else:
                    listed = now.difference(old.pids)
                    moved.update(pid for pid in set(old.pids).difference(now) if pid in procs)
                for pid in listed:
                    if procs[pid].cgroups.get(cg.hid, cg.path) != cg.path:
                        moved.add(pid)
        return cgroups, moved

    def _describe_turn(self, previous: Snapshot, describer: NsDescriber) -> None:
        """Describe the namespaces of this refresh's turn of namespace sets (see
        _refresh_namespaces) through their members in PREVIOUS (grouped when it was taken):
        done while the scan helper reads; a namespace whose member moved or exited meanwhile
        is described after."""
        turn = self._generation % FACTS_EVERY
        procs = previous.processes
        for ns_map, group_pids in self._previous_groups:
            if sum(i.ino for i in ns_map.values()) % FACTS_EVERY == turn:
                describer.see(procs[group_pids[0]])

    def _refresh_namespaces(
        self,
        processes: Mapping[int, Process],
        groups: list[tuple[dict[NsType, NsId], list[int]]],
        previous: Snapshot,
        describer: NsDescriber,
        same_ns: bool,
    ) -> dict[NsId, Namespace]:
        """Namespaces with current members. A namespace is described again (nsfs ioctls,
        per-type facts) when it is new, or when the turn of a namespace set it is in comes;
        otherwise the last description stands. Holders are carried over from the last full
        take."""
        before = previous.namespaces
        old_procs = previous.processes
        if same_ns:  # every process kept its namespace set
            members = {ns_id: ns.pids for ns_id, ns in before.items() if ns.pids}
        else:
            members = _members_of(groups)
        fresh = {
            ns_id
            for ns_id, pids in members.items()
            if (old := before.get(ns_id)) is None or not _continues(old, pids, old_procs, processes)
        }
        turn = self._generation % FACTS_EVERY
        subset: dict[int, Process] = {}
        wanted: set[NsId] = set()
        for ns_map, group_pids in groups:
            if sum(i.ino for i in ns_map.values()) % FACTS_EVERY == turn or any(
                ns_id in fresh for ns_id in ns_map.values()
            ):
                subset.update((pid, processes[pid]) for pid in group_pids)
                wanted.update(ns_map.values())
        # the turn's namespaces of types whose description never changes keep it
        ahead: dict[NsId, Described] = dict(describer.done)
        for ns_id in wanted:
            old = before.get(ns_id)
            if old is None or not old.pids or ns_id in ahead or ns_id in fresh:
                continue
            if ns_id.type not in LIVE_TYPES:
                links = NsLinks(old.owner, old.parent, old.owner_uid, old.kernel_id)
                # (a pid namespace's facts come from its members: made again)
                facts = None if ns_id.type is NsType.PID else old.facts
                ahead[ns_id] = (links, facts, old.pids[0])
        out: dict[NsId, Namespace] = {}
        if subset:
            built = build_namespaces(subset, holders=False, proc=self.proc, described=ahead)
            for ns_id, described in built.items():
                now = members.get(ns_id)
                # Keep a description only if all members were in the subset: facts such as
                # a pid namespace's init pid come from the member list.
                if now is not None and (ns_id in fresh or all(p in subset for p in now)):
                    old = before.get(ns_id)
                    if old is not None and ns_id not in fresh:
                        described = dataclasses.replace(described, holders=old.holders)
                    out[ns_id] = dataclasses.replace(described, pids=now)
        for ns_id, now in members.items():
            if ns_id not in out:
                old = before.get(ns_id)
                if old is None:  # vanished between the scan and the description
                    continue
                out[ns_id] = old if old.pids == now else dataclasses.replace(old, pids=now)
        # no member process: kept by a holder, or the owner or parent of another one, as
        # the last full take found them
        for ns_id, old in before.items():
            if ns_id not in out and not old.pids:
                out[ns_id] = old
        return out

    def _host_info(self, mounts: tuple[Mount, ...]) -> HostInfo:
        if self._host_static is None:
            uname = os.uname()
            try:
                btime = boot_time(self.proc)
            except OSError:
                btime = psutil.boot_time()
            self._host_static = {
                "kernel": uname.release,
                "boot_time": btime,
                "ncpus": psutil.cpu_count() or os.cpu_count() or 1,
                "mem_total": psutil.virtual_memory().total,
            }
        host_ns, source = _host_namespaces(self.proc, self._interner)
        euid = os.geteuid()
        return HostInfo(
            hostname=os.uname().nodename,
            viewer_uid=euid,
            is_root=euid == 0,
            host_ns=host_ns,
            host_ns_source=source,
            cgroup_mode=cgroup_mode(mounts, self.proc) if mounts else "unknown",
            **self._host_static,
        )


def _always(pid: int) -> bool:
    return True


def _uts_candidates(
    groups: list[tuple[dict[NsType, NsId], list[int]]], describer: NsDescriber
) -> list[UtsCandidate]:
    """The uts namespaces of GROUPS (processes by ns dict) with their members, and kernel
    ids as described."""
    members: dict[NsId, list[int]] = {}
    for ns_map, pids in groups:
        uts = ns_map.get(NsType.UTS)
        if uts is not None:
            members.setdefault(uts, []).extend(pids)
    out: list[UtsCandidate] = []
    for ns_id, pids in members.items():
        described = describer.done.get(ns_id)
        kernel_id = described[0].kernel_id if described is not None else None
        out.append(UtsCandidate(ns_id, kernel_id, tuple(sorted(pids))))
    return out


def _host_namespaces(proc: str, interner: Interner) -> tuple[dict[NsType, NsId], str]:
    """pid 1's namespaces where readable, else this process's (``source`` says which)."""
    try:
        found = read_ns(1, proc, interner)
        if found:
            return found, "pid 1"
    except OSError:
        pass
    try:
        return read_ns("self", proc, interner), "self"
    except OSError:
        return {}, "self"


def _walk_all(hierarchies: Iterable[Hierarchy], proc: str) -> dict[tuple[int, str], Cgroup]:
    # member pids come from the tids and the process scan (_reconcile_cgroups)
    return {(cg.hid, cg.path): cg for cg in walk_all(hierarchies, proc)}


def _membership(
    cgroups: Mapping[tuple[int, str], Cgroup], nhierarchies: int, interner: Interner
) -> dict[int, dict[int, str]]:
    """{pid: {hid: path}} from the walk, for processes placed in every hierarchy once.

    The leader's thread id is its pid, so the tid lists (v1 tasks, v2 cgroup.threads) place
    a process by its leader's cgroup as /proc/PID/cgroup does, even when threads are split.
    """
    # One {tid: path} per hierarchy, filled and intersected by dict/set methods (C loops):
    # the root cgroup of each v1 hierarchy lists nearly every thread of the host.
    by_hid: dict[int, dict[int, str]] = {}
    listed: dict[int, int] = {}
    for (hid, path), cg in cgroups.items():
        ids = cg.tids or cg.pids
        by_hid.setdefault(hid, {}).update(dict.fromkeys(ids, path))
        listed[hid] = listed.get(hid, 0) + len(ids)
    if len(by_hid) != nhierarchies or not by_hid:
        return {}
    hids = list(by_hid)
    maps = [by_hid[hid] for hid in hids]
    placed = set(maps[0]).intersection(*maps[1:])
    for hid, paths in by_hid.items():
        if listed[hid] != len(paths):  # a tid in two cgroups of one hierarchy (moved mid-walk)
            seen: set[int] = set()
            for (chid, _), cg in cgroups.items():
                if chid == hid:
                    ids = cg.tids or cg.pids
                    placed.difference_update(seen.intersection(ids))
                    seen.update(ids)
    tids = list(placed)
    shared: dict[tuple[str, ...], dict[int, str]] = {}
    out: dict[int, dict[int, str]] = {}
    columns = [map(m.__getitem__, tids) for m in maps]
    for tid, paths_of in zip(tids, zip(*columns, strict=True), strict=True):
        found = shared.get(paths_of)
        if found is None:
            key = tuple(x for pair in zip(hids, paths_of, strict=True) for x in pair)
            found = shared[paths_of] = interner.cgroup_map(key)
        out[tid] = found
    return out


def _reconcile_cgroups(
    cgroups: dict[tuple[int, str], Cgroup],
    processes: Mapping[int, Process],
    hierarchies: Iterable[Hierarchy],
    previous: Snapshot | None = None,
) -> dict[tuple[int, str], Cgroup]:
    """Make the cgroup records agree with the processes of the same snapshot.

    The walk and the process scan are moments apart (and a refresh keeps the records of the
    hierarchies it did not walk), so member lists are rebuilt from the processes' own
    membership: every pid a cgroup lists is in the snapshot and vice versa. A cgroup a
    process names but the last walk did not see (made since) gets a record, as do its
    missing ancestors. Thread lists stay as walked. With PREVIOUS (the last snapshot, whose
    records agree with its processes), processes that all kept their membership (the scan
    carries the dict over) keep its member lists.
    """
    by_hid = {h.hid: h for h in hierarchies}
    members: dict[tuple[int, str], Sequence[int]] = {}
    if previous is not None and _all_same(processes, previous.processes, _cgroups_of):
        members = {
            key: cg.pids for key, cg in previous.cgroups.items() if cg.pids and key[0] in by_hid
        }
    else:
        lists: dict[tuple[int, str], list[int]] = {}
        for membership, pids in group_by_shared(processes, _cgroups_of):
            for hid, path in membership.items():
                if hid in by_hid:
                    lists.setdefault((hid, path), []).extend(pids)
        members = {key: sorted(pids) for key, pids in lists.items()}
    out: dict[tuple[int, str], Cgroup] = {}
    for key, cg in cgroups.items():
        now = tuple(members.get(key, ()))
        out[key] = cg if now == cg.pids else dataclasses.replace(cg, pids=now)
    for key in members.keys() - cgroups.keys():
        hid, path = key
        h = by_hid[hid]
        controllers = h.controllers if h.version == 1 else ()
        out[key] = Cgroup(hid, path, tuple(members[key]), (), controllers)
        parent = path
        while parent not in ("", "/"):
            parent = parent.rsplit("/", 1)[0] or "/"
            if (hid, parent) not in out:
                out[(hid, parent)] = Cgroup(hid, parent, (), (), controllers)
    return out


def _by_ns_dict(processes: Mapping[int, Process]) -> list[tuple[dict[NsType, NsId], list[int]]]:
    """Processes grouped by their shared ns dict (see procfs.group_by_shared): per-namespace
    work hashes NsIds a few hundred times, not 80,000."""
    return group_by_shared(processes, _ns_of)


_ns_of: Callable[[Process], dict[NsType, NsId]] = operator.attrgetter("ns")
_cgroups_of: Callable[[Process], dict[int, str]] = operator.attrgetter("cgroups")


def _all_same(
    now: Mapping[int, Process], before: Mapping[int, Process], field: Callable[[Process], object]
) -> bool:
    """Whether NOW has BEFORE's pids, in the same order, each with the very same FIELD
    object (the scan shares and carries them over): C loops, no per-process Python."""
    return list(now) == list(before) and all(
        map(operator.is_, map(field, now.values()), map(field, before.values()))
    )


def _members_of(
    groups: Iterable[tuple[dict[NsType, NsId], list[int]]],
) -> dict[NsId, tuple[int, ...]]:
    members: dict[NsId, list[int]] = {}
    for ns, pids in groups:
        for ns_id in ns.values():
            members.setdefault(ns_id, []).extend(pids)
    return {k: tuple(sorted(v)) for k, v in members.items()}


def _continues(
    old: Namespace,
    pids: tuple[int, ...],
    old_procs: Mapping[int, Process],
    procs: Mapping[int, Process],
) -> bool:
    """Whether the namespace of this NsId is the one of the last take: a member process
    (same pid and start) is still in it. Inodes are reused, so equal ids alone do not say."""
    for pid in pids:
        before = old_procs.get(pid)
        if before is not None and before.start_ticks == procs[pid].start_ticks:
            ns_id = old.id
            if before.ns.get(ns_id.type) == ns_id:
                return True
    return False


def _limitations(host: HostInfo, processes: Mapping[int, Process]) -> list[str]:
    notes: list[str] = []
    if not host.is_root:
        notes.append("not root: other users' namespaces, fds and some cgroup files are unreadable")
    if host.host_ns_source != "pid 1":
        notes.append("pid 1's namespaces are unreadable (EACCES): host namespaces are nstui's own")
    refused: dict[str, list[int]] = {}
    for p in processes.values():
        for name in p.unreadable:
            refused.setdefault(name, []).append(p.pid)
    for name, pids in sorted(refused.items()):
        shown = ", ".join(map(str, pids[:5])) + (", ..." if len(pids) > 5 else "")
        notes.append(
            f"{name} unreadable for {len(pids)} process{'es' if len(pids) != 1 else ''} "
            f"(pid {shown})"
        )
    return notes
