"""The immutable host snapshot every view and CLI listing reads.

Contract (owned by the kernel/snapshot work): ``Snapshot`` holds processes, namespaces,
cgroup hierarchies and cgroups, and the host's mounts as seen from this process, taken at one
moment. Grouping and diff live in ``nstui.model.grouping`` and ``nstui.model.diff``; JSON in
``nstui.model.serialize``; building one from the live kernel in ``nstui.model.scanner``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nstui.kernel.cgroups.hierarchy import Cgroup, Hierarchy
from nstui.kernel.mountinfo import Mount
from nstui.kernel.namespaces import Namespace
from nstui.kernel.nstypes import NsId, NsType
from nstui.kernel.procfs import Process


@dataclass(frozen=True, slots=True)
class HostInfo:
    hostname: str
    kernel: str  # uname -r
    boot_time: float  # epoch seconds
    ncpus: int
    mem_total: int  # bytes
    viewer_uid: int  # the uid nstui runs as
    is_root: bool
    #: reference namespaces: pid 1's where readable, else this process's (self)
    host_ns: dict[NsType, NsId] = field(default_factory=dict)
    host_ns_source: str = "pid 1"  # or "self" when /proc/1/ns is unreadable
    cgroup_mode: str = "hybrid"  # unified | hybrid | legacy


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One moment of the host. Treat every field as immutable."""

    taken_at: float  # epoch seconds
    host: HostInfo
    processes: dict[int, Process]
    namespaces: dict[NsId, Namespace]
    hierarchies: tuple[Hierarchy, ...]
    #: (hierarchy id, cgroup path) -> Cgroup
    cgroups: dict[tuple[int, str], Cgroup]
    mounts: tuple[Mount, ...] = ()  # this process's mountinfo
    #: human-readable notes about what could not be read and why ("not root: ...")
    limitations: tuple[str, ...] = ()
