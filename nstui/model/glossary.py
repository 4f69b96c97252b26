"""Two-line explanations of each namespace type and cgroup subsystem, for people learning how
containers work. Plain data: the help screen and the CLI both print it."""

from __future__ import annotations

from dataclasses import dataclass

from nstui.kernel.nstypes import NsType


@dataclass(frozen=True, slots=True)
class Term:
    """One glossary entry: ``what`` it isolates or controls, ``how`` it shows up in practice."""

    name: str
    what: str
    how: str

    @property
    def lines(self) -> tuple[str, str]:
        return (self.what, self.how)


NAMESPACE_TERMS: dict[NsType, Term] = {
    NsType.PID: Term(
        "pid",
        "Process ids: inside, the first process is pid 1 and only its descendants are visible.",
        "A process has one pid per nesting level (NSpid); killing pid 1 ends the namespace.",
    ),
    NsType.NET: Term(
        "net",
        "Network stack: interfaces, addresses, routes, firewall rules, sockets and ports.",
        "Containers get their own lo plus a veth pair to the host; `ip netns` bind-mounts them.",
    ),
    NsType.MNT: Term(
        "mnt",
        "The mount table: which filesystems are mounted where, so each sees its own tree.",
        "Containers pivot_root into an overlay of image layers; propagation decides what leaks.",
    ),
    NsType.UTS: Term(
        "uts",
        "Hostname and NIS domain name, as `hostname` and uname(2) report them.",
        "Why a container's shell prompt shows its own name while the host keeps its own.",
    ),
    NsType.IPC: Term(
        "ipc",
        "System V IPC objects (shared memory, semaphores, message queues) and POSIX mqueues.",
        "Processes share these only inside one ipc namespace; `ipcs` lists the current one's.",
    ),
    NsType.USER: Term(
        "user",
        "User and group ids and capabilities: root inside can be an unprivileged uid outside.",
        "uid_map/gid_map translate ids; it owns the other namespaces (rootless containers).",
    ),
    NsType.CGROUP: Term(
        "cgroup",
        "The view of the cgroup tree: /proc/self/cgroup paths start at the namespace's root.",
        "Hides the host's cgroup layout from a container; limits still apply from outside.",
    ),
    NsType.TIME: Term(
        "time",
        "Offsets for CLOCK_MONOTONIC and CLOCK_BOOTTIME (the wall clock is never namespaced).",
        "Lets a migrated or checkpointed container keep its uptime; set before the first process.",
    ),
}

#: Cgroup subsystems (controllers) in the order `lssubsys` and /proc/cgroups list them,
#: plus the v2 name ``io`` and the named v1 hierarchy systemd uses.
CGROUP_TERMS: dict[str, Term] = {
    term.name: term
    for term in (
        Term(
            "cpu",
            "CPU time: a weight for sharing (shares / cpu.weight) and a hard quota per period.",
            "cpu.cfs_quota_us / cpu.max cap a container at e.g. 1.5 CPUs; throttling is counted.",
        ),
        Term(
            "cpuacct",
            "CPU accounting (v1): total and per-CPU time used by the cgroup's tasks.",
            "Read cpuacct.usage to see who burns CPU; in v2 cpu.stat reports the same.",
        ),
        Term(
            "cpuset",
            "Which CPUs and memory nodes the tasks may run on (cpuset.cpus, cpuset.mems).",
            "Pins latency-sensitive containers to cores; a new v1 child starts with none set.",
        ),
        Term(
            "memory",
            "Memory use and limits: page cache plus anonymous memory, swap, kernel memory.",
            "Going over the limit reclaims, then OOM-kills inside the cgroup (memory.max).",
        ),
        Term(
            "pids",
            "Number of processes and threads the cgroup may have (pids.max).",
            "Stops fork bombs: fork() and clone() fail with EAGAIN once the limit is reached.",
        ),
        Term(
            "blkio",
            "Block I/O (v1): proportional weight and per-device byte/IOPS throttling.",
            "blkio.throttle.* limit a container's disk; buffered writes are not always counted.",
        ),
        Term(
            "io",
            "Block I/O (v2): io.weight, io.max per device, pressure and stats in io.stat.",
            "Unlike v1 blkio it also charges writeback of dirty pages to the right cgroup.",
        ),
        Term(
            "devices",
            "Which device nodes may be opened (c/b major:minor with read, write, mknod).",
            "Containers get a short allow list (null, zero, tty...); v2 does this with eBPF.",
        ),
        Term(
            "freezer",
            "Freezes and thaws all tasks of a cgroup (v1 freezer.state, v2 cgroup.freeze).",
            "`docker pause` uses it; frozen tasks hold their memory but get no CPU.",
        ),
        Term(
            "net_cls",
            "Tags the cgroup's packets with a class id (net_cls.classid).",
            "tc and iptables match the tag to shape or filter a container's traffic (v1 only).",
        ),
        Term(
            "net_prio",
            "Sets the priority of the cgroup's packets per network interface.",
            "net_prio.ifpriomap maps interfaces to priorities for queueing (v1 only).",
        ),
        Term(
            "hugetlb",
            "Limits and accounts huge pages (2M, 1G) per page size.",
            "Databases and VMs using hugetlbfs are capped by hugetlb.<size>.limit_in_bytes / max.",
        ),
        Term(
            "perf_event",
            "Groups tasks so `perf` can monitor them together (perf -G cgroup).",
            "No limits: it lets you profile one container's processes only.",
        ),
        Term(
            "rdma",
            "Limits RDMA/InfiniBand resources (handles, objects) per device.",
            "Matters on HPC hosts: rdma.max caps what one job may allocate on an adapter.",
        ),
        Term(
            "misc",
            "Scalar resources with a fixed host total, e.g. AMD SEV encryption ids (misc.max).",
            "Rare outside confidential-computing hosts; misc.current shows what is used.",
        ),
        Term(
            "name=systemd",
            "A v1 hierarchy with no controller: systemd uses it only to track its units.",
            "Its paths name services and scopes (system.slice/ssh.service) on hybrid hosts.",
        ),
        Term(
            "unified",
            "The cgroup v2 tree: one hierarchy; each cgroup enables controllers for its children.",
            "cgroup.subtree_control turns controllers on; processes live only in leaf cgroups.",
        ),
    )
}


def namespace_term(ns_type: NsType) -> Term:
    return NAMESPACE_TERMS[ns_type]


def cgroup_term(name: str) -> Term | None:
    """The entry for a controller or hierarchy name (``memory``, ``name=systemd``)."""
    return CGROUP_TERMS.get(name)
