"""Build a Snapshot from the live kernel, cheaply again and again.

``LiveSource().take()`` returns a full snapshot the first time. Later takes are incremental
refreshes: every process's /proc/PID/stat is read again (state, CPU, memory, threads), but the
slow facts of a process seen before (same pid and start time) are reused, except for

- cgroup membership, which comes from the cgroup walk every time (the walk reads every
  cgroup's member list for the snapshot anyway, so a move between cgroups shows at the next
  refresh, and /proc/PID/cgroup is read only for processes the walk did not place), and
- a rotating slice of the pids (1/``recheck_every`` of them per refresh), whose namespaces,
  cmdline and uid are read again: a process that entered another namespace (setns/unshare
  leave no cheaper trace) shows within ``recheck_every`` refreshes.

The holders scan (namespaces kept only by bind mounts or open fds) reads every process's fd
table; it runs on full takes only and its result is carried over by refreshes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import psutil

from nstui.kernel.cgroups.hierarchy import (
    Cgroup,
    Hierarchy,
    cgroup_mode,
    discover_hierarchies,
    walk,
)
from nstui.kernel.mountinfo import Mount, read_mountinfo
from nstui.kernel.namespaces import Namespace, build_namespaces
from nstui.kernel.nstypes import NsId, NsType
from nstui.kernel.procfs import Interner, Process, boot_time, read_ns, scan_processes
from nstui.model.snapshot import HostInfo, Snapshot

#: A refresh rechecks the namespaces of 1/RECHECK_EVERY of the processes.
RECHECK_EVERY = 8


class LiveSource:
    """A ``SnapshotSource`` reading the live kernel. Not thread-safe: one take at a time
    (a lock makes overlapping calls wait rather than corrupt the carried state)."""

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
        self._interner = Interner()
        self._previous: Snapshot | None = None
        self._previous_mono = 0.0
        self._generation = 0
        self._host_static: dict[str, Any] | None = None

    def take(self) -> Snapshot:
        """A fresh snapshot: full the first time, an incremental refresh afterwards."""
        with self._lock:
            return self._take(full=self._previous is None)

    def take_full(self) -> Snapshot:
        """A full snapshot regardless of what was seen before (everything re-read)."""
        with self._lock:
            return self._take(full=True)

    def _take(self, *, full: bool) -> Snapshot:
        previous = self._previous
        now_mono = time.monotonic()
        taken_at = time.time()
        limitations: list[str] = []

        try:
            mounts: tuple[Mount, ...] = tuple(read_mountinfo("self", self.proc))
        except OSError as exc:
            mounts = ()
            limitations.append(f"mounts: cannot read {self.proc}/self/mountinfo: {exc.strerror}")
        hierarchies = discover_hierarchies(mounts, self.proc) if mounts else ()
        cgroups = _walk_all(hierarchies)
        membership = _membership(cgroups, len(hierarchies), self._interner)
        host = self._host_info(mounts)
        host_pidns = host.host_ns.get(NsType.PID) if host.host_ns_source == "self" else None

        prev_procs: Mapping[int, Process] = {} if previous is None else previous.processes
        interval = None if previous is None else now_mono - self._previous_mono
        if full or previous is None:
            processes = scan_processes(
                self.proc,
                interner=self._interner,
                check_threads=self.check_threads,
                host_pidns=host_pidns,
                previous=prev_procs,
                recheck=_always,
                interval=interval,
                cgroups_known=membership,
            )
        else:
            self._generation += 1
            every, turn = self.recheck_every, self._generation % self.recheck_every
            processes = scan_processes(
                self.proc,
                interner=self._interner,
                check_threads=self.check_threads,
                host_pidns=host_pidns,
                previous=prev_procs,
                recheck=lambda pid: pid % every == turn,
                interval=interval,
                cgroups_known=membership,
            )
        self._interner.trim(8 * len(processes) + 10_000)

        with_holders = self.holders and (full or previous is None)
        namespaces = build_namespaces(processes, holders=with_holders, proc=self.proc)
        if not with_holders and previous is not None:
            namespaces = _carry_held_only(namespaces, previous.namespaces)

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
        self._previous_mono = now_mono
        return snapshot

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


def _walk_all(hierarchies: Iterable[Hierarchy]) -> dict[tuple[int, str], Cgroup]:
    out: dict[tuple[int, str], Cgroup] = {}
    for h in hierarchies:
        for cg in walk(h):
            out[(cg.hid, cg.path)] = cg
    return out


def _membership(
    cgroups: Mapping[tuple[int, str], Cgroup], nhierarchies: int, interner: Interner
) -> dict[int, dict[int, str]]:
    """{pid: {hid: path}} from the walk, for processes placed in every hierarchy once.

    The leader's thread id is its pid, so the tid lists (v1 tasks, v2 cgroup.threads) place
    a process by its leader's cgroup as /proc/PID/cgroup does, even when threads are split.
    """
    parts: dict[int, list[int | str]] = {}
    for (hid, path), cg in cgroups.items():
        for tid in cg.tids or cg.pids:
            found = parts.get(tid)
            if found is None:
                parts[tid] = [hid, path]
            else:
                found += (hid, path)
    want = 2 * nhierarchies
    return {
        tid: interner.cgroup_map(tuple(found)) for tid, found in parts.items() if len(found) == want
    }


def _carry_held_only(
    namespaces: dict[NsId, Namespace], before: Mapping[NsId, Namespace]
) -> dict[NsId, Namespace]:
    """Refreshes skip the holders scan: keep what the last full scan found about holders."""
    for ns_id, old in before.items():
        if not old.holders:
            continue
        cur = namespaces.get(ns_id)
        if cur is None:
            if old.held_only:
                namespaces[ns_id] = old
        elif not cur.holders:
            namespaces[ns_id] = Namespace(
                id=cur.id,
                pids=cur.pids,
                owner=cur.owner,
                parent=cur.parent,
                owner_uid=cur.owner_uid,
                kernel_id=cur.kernel_id,
                holders=old.holders,
                facts=cur.facts,
            )
    return namespaces


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
