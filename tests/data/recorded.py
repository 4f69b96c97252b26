"""The recorded snapshot that UI tests and screenshots use, and refresh sequences derived from it.

``recorded_snapshot.json`` is written by ``make_recorded_snapshot.py`` (run it after changing
the host it describes). This module has no package imports of its own tests, so conftest files
and scripts can load it by path.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from nstui.kernel.cgroups.hierarchy import Cgroup
from nstui.kernel.namespaces import Namespace
from nstui.kernel.nstypes import NsId
from nstui.kernel.procfs import Process
from nstui.model.serialize import snapshot_from_json
from nstui.model.snapshot import Snapshot

RECORDED_JSON = Path(__file__).with_name("recorded_snapshot.json")

#: The refresh sequence: what appears, vanishes and moves between its snapshots.
APPEARING_PID = 2505  # `docker exec -it nginx sh`, in the nginx container (snapshot 2 on)
VANISHING_PID = 1253  # an nginx worker that exits (gone in snapshot 3)
MOVING_PID = 2420  # `sleep 600` moved into /nstui-demo in memory and pids (snapshot 3)
MOVED_TO = "/nstui-demo"
SEQUENCE_STEP = 2.0  # seconds between snapshots, the app's default interval


def load_recorded_snapshot(path: Path = RECORDED_JSON) -> Snapshot:
    """The recorded host: ~60 processes, docker, kubepods, nspawn, rootless podman, held
    namespaces and a hybrid cgroup layout like this machine's."""
    with path.open(encoding="utf-8") as f:
        data = json.load(f)
    return snapshot_from_json(data)


def with_processes(
    snapshot: Snapshot,
    processes: Mapping[int, Process],
    *,
    taken_at: float | None = None,
    extra_cgroups: Iterable[Cgroup] = (),
) -> Snapshot:
    """SNAPSHOT with its processes replaced and every namespace's and cgroup's member lists
    recomputed from them. Namespaces that lose all members and holders disappear; cgroups stay
    (an empty cgroup directory outlives its processes); new ones come from EXTRA_CGROUPS."""
    members: dict[NsId, list[int]] = {}
    for pid in sorted(processes):
        for ns_id in processes[pid].ns.values():
            members.setdefault(ns_id, []).append(pid)
    namespaces: dict[NsId, Namespace] = {}
    for ns_id, namespace in snapshot.namespaces.items():
        pids = tuple(members.get(ns_id, ()))
        if pids or namespace.holders:
            namespaces[ns_id] = dataclasses.replace(namespace, pids=pids)
    cgroups = dict(snapshot.cgroups)
    for cgroup in extra_cgroups:
        cgroups[(cgroup.hid, cgroup.path)] = cgroup
    procs: dict[tuple[int, str], list[int]] = {}
    tids: dict[tuple[int, str], list[int]] = {}
    for pid in sorted(processes):
        process = processes[pid]
        for hid, path in process.cgroups.items():
            procs.setdefault((hid, path), []).append(pid)
            tids.setdefault((hid, path), []).extend(thread_ids(process))
    for key, cgroup in cgroups.items():
        cgroups[key] = dataclasses.replace(
            cgroup, pids=tuple(procs.get(key, ())), tids=tuple(sorted(tids.get(key, ())))
        )
    taken = snapshot.taken_at if taken_at is None else taken_at
    return dataclasses.replace(
        snapshot, taken_at=taken, processes=dict(processes), namespaces=namespaces, cgroups=cgroups
    )


def thread_ids(process: Process) -> list[int]:
    """The recorded host numbers a process's threads pid, pid+1, ... (pids are spaced apart)."""
    return [process.pid + i for i in range(process.nthreads)]


def recorded_snapshots_sequence() -> tuple[Snapshot, Snapshot, Snapshot]:
    """Three consecutive snapshots for refresh tests, SEQUENCE_STEP seconds apart:

    1. the recorded snapshot;
    2. pid APPEARING_PID appears (a shell started by ``docker exec`` in the nginx container);
    3. pid VANISHING_PID (an nginx worker) is gone and MOVING_PID moved to MOVED_TO in the
       memory and pids hierarchies.
    """
    first = load_recorded_snapshot()
    processes = dict(first.processes)
    worker = processes[VANISHING_PID]
    shell = dataclasses.replace(
        worker,
        pid=APPEARING_PID,
        ppid=_shim_of(first, VANISHING_PID),
        comm="sh",
        cmdline=("sh",),
        state="S",
        uid=0,
        user="root",
        nthreads=1,
        start_time=first.taken_at + 1.0,
        start_ticks=round((first.taken_at + 1.0 - first.host.boot_time) * 100),
        rss=1 << 20,
        cpu_time=0.0,
        nspid=(APPEARING_PID, 40),
        cpu_percent=0.0,
    )
    processes[APPEARING_PID] = shell
    second = with_processes(first, processes, taken_at=first.taken_at + SEQUENCE_STEP)

    processes = dict(second.processes)
    del processes[VANISHING_PID]
    mover = processes[MOVING_PID]
    moved_hids = [
        h.hid
        for h in first.hierarchies
        if h.version == 1 and set(h.controllers) & {"memory", "pids"}
    ]
    new_paths = {**mover.cgroups, **dict.fromkeys(moved_hids, MOVED_TO)}
    processes[MOVING_PID] = dataclasses.replace(mover, cgroups=new_paths)
    demo = [
        Cgroup(hid=h.hid, path=MOVED_TO, pids=(), tids=(), controllers=h.controllers)
        for h in first.hierarchies
        if h.hid in moved_hids
    ]
    third = with_processes(
        second, processes, taken_at=first.taken_at + 2 * SEQUENCE_STEP, extra_cgroups=demo
    )
    return first, second, third


def _shim_of(snapshot: Snapshot, pid: int) -> int:
    """The containerd-shim above PID (docker exec children hang off the shim)."""
    current = snapshot.processes.get(pid)
    while current is not None and current.ppid > 1:
        parent = snapshot.processes.get(current.ppid)
        if parent is not None and parent.comm.startswith("containerd-shim"):
            return parent.pid
        current = parent
    return pid
