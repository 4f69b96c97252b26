"""Small hand-built snapshots and a source that replays them, for Pilot tests."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace

from nstui.kernel.cgroups.hierarchy import Cgroup, Hierarchy
from nstui.kernel.namespaces import HolderKind, Namespace, NsHolder
from nstui.kernel.nstypes import NS_TYPES, NsId, NsType
from nstui.kernel.procfs import Process
from nstui.model.snapshot import HostInfo, Snapshot

DEV = 4
HOST_INO = {t: 4026531830 + i for i, t in enumerate(NS_TYPES)}
HOST_NS = {t: NsId(t, DEV, ino) for t, ino in HOST_INO.items()}
#: the namespaces of the "container" processes (pid, net, mnt, uts differ from the host)
CONTAINER_NS = {
    **HOST_NS,
    NsType.PID: NsId(NsType.PID, DEV, 4026532100),
    NsType.NET: NsId(NsType.NET, DEV, 4026532101),
    NsType.MNT: NsId(NsType.MNT, DEV, 4026532102),
    NsType.UTS: NsId(NsType.UTS, DEV, 4026532103),
}
HELD_NET = NsId(NsType.NET, DEV, 4026532200)
V2 = Hierarchy(0, 2, ("memory", "pids"), "/sys/fs/cgroup/unified")
V1_CPU = Hierarchy(3, 1, ("cpu", "cpuacct"), "/sys/fs/cgroup/cpu,cpuacct")


def proc(
    pid: int,
    ppid: int,
    command: str,
    *,
    user: str = "root",
    ns: dict[NsType, NsId] | None = None,
    cgroup: str = "/",
    cpu: float | None = 0.0,
    rss: int | None = 4 << 20,
) -> Process:
    argv = tuple(command.split())
    return Process(
        pid=pid,
        ppid=ppid,
        comm=argv[0].rsplit("/", 1)[-1][:15] if argv else "kworker",
        cmdline=argv,
        state="S",
        uid=0 if user == "root" else 1000,
        user=user,
        nthreads=1,
        start_time=1_700_000_000.0 + pid,
        rss=rss,
        cpu_time=1.0,
        nspid=(pid,),
        ns=dict(ns if ns is not None else HOST_NS),
        cgroups={0: cgroup, 3: cgroup},
        cpu_percent=cpu,
    )


def base_processes() -> list[Process]:
    return [
        proc(1, 0, "/sbin/init", cgroup="/init.scope"),
        proc(2, 0, "", cpu=None, rss=None),
        proc(10, 1, "/usr/sbin/sshd -D", cgroup="/system.slice/ssh.service"),
        proc(11, 10, "sshd: alice", user="alice", cgroup="/user.slice"),
        proc(12, 11, "-bash", user="alice", cgroup="/user.slice", cpu=1.5),
        proc(20, 1, "containerd-shim -id abc", cgroup="/system.slice/containerd.service"),
        proc(21, 20, "nginx -g daemon off;", ns=CONTAINER_NS, cgroup="/docker/" + "ab" * 32),
        proc(22, 21, "nginx: worker", ns=CONTAINER_NS, cgroup="/docker/" + "ab" * 32, cpu=7.0),
    ]


def make_snapshot(
    processes: Iterable[Process] | None = None,
    *,
    taken_at: float = 1_700_000_100.0,
    is_root: bool = True,
    limitations: Sequence[str] = (),
) -> Snapshot:
    procs = {p.pid: p for p in (processes if processes is not None else base_processes())}
    members: dict[NsId, list[int]] = {}
    for p in procs.values():
        for ns_id in p.ns.values():
            members.setdefault(ns_id, []).append(p.pid)
    namespaces = {
        ns_id: Namespace(ns_id, tuple(sorted(pids)), owner=HOST_NS[NsType.USER])
        for ns_id, pids in members.items()
    }
    namespaces[HELD_NET] = Namespace(
        HELD_NET,
        (),
        owner=HOST_NS[NsType.USER],
        holders=(NsHolder(HolderKind.BIND_MOUNT, 1, "/run/netns/blue"),),
    )
    cgroups: dict[tuple[int, str], Cgroup] = {}
    for h in (V2, V1_CPU):
        paths: dict[str, list[int]] = {"/": []}
        for p in procs.values():
            path = p.cgroups.get(h.hid, "/")
            paths.setdefault(path, []).append(p.pid)
            parent = path
            while parent != "/":
                parent = parent.rsplit("/", 1)[0] or "/"
                paths.setdefault(parent, [])
        for path, pids in paths.items():
            cgroups[(h.hid, path)] = Cgroup(h.hid, path, tuple(sorted(pids)), (), h.controllers)
    host = HostInfo(
        hostname="testhost",
        kernel="6.1.0-test",
        boot_time=1_699_999_000.0,
        ncpus=2,
        mem_total=4 << 30,
        viewer_uid=0 if is_root else 1000,
        is_root=is_root,
        host_ns=dict(HOST_NS),
    )
    return Snapshot(
        taken_at=taken_at,
        host=host,
        processes=procs,
        namespaces=namespaces,
        hierarchies=(V2, V1_CPU),
        cgroups=cgroups,
        limitations=tuple(limitations),
    )


def with_cpu(processes: Iterable[Process], cpu: dict[int, float]) -> list[Process]:
    return [replace(p, cpu_percent=cpu.get(p.pid, p.cpu_percent)) for p in processes]


class SequenceSource:
    """Returns the given snapshots in order, then the last one again; counts the calls."""

    def __init__(self, snapshots: Sequence[Snapshot]) -> None:
        self.snapshots = list(snapshots)
        self.calls = 0
        self._lock = threading.Lock()

    def take(self) -> Snapshot:
        with self._lock:
            index = min(self.calls, len(self.snapshots) - 1)
            self.calls += 1
            return self.snapshots[index]
