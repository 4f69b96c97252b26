"""One scan of every process under /proc: identity, facts, namespaces and cgroups.

Contract (owned by the kernel/snapshot work): ``scan_processes()`` returns one ``Process`` per
live process. A pid that vanishes mid-scan is dropped silently; a field that cannot be read
(EACCES, even for root: this host's pid 1 refuses /proc/1/ns/*) is None and named in
``Process.unreadable``. Never raises for a single process's trouble.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nstui.kernel.nstypes import NsId, NsType


@dataclass(frozen=True, slots=True)
class ThreadNs:
    """A thread whose namespaces differ from its process's (setns/unshare move one thread)."""

    tid: int
    ns: dict[NsType, NsId]


@dataclass(frozen=True, slots=True)
class Process:
    """A process as read from /proc/PID in one scan. Treat as immutable."""

    pid: int
    ppid: int
    comm: str
    cmdline: tuple[str, ...]
    state: str  # one letter as in /proc/PID/stat: R S D Z T t X I
    uid: int | None
    user: str | None
    nthreads: int
    start_time: float  # seconds since the epoch
    rss: int | None  # bytes
    cpu_time: float  # user + system seconds
    nspid: tuple[int, ...]  # NSpid chain from /proc/PID/status, outermost first
    #: identity of each namespace type; a type that could not be read is absent
    ns: dict[NsType, NsId] = field(default_factory=dict)
    #: cgroup path per hierarchy id from /proc/PID/cgroup (0 is the v2 unified tree)
    cgroups: dict[int, str] = field(default_factory=dict)
    #: threads that sit in other namespaces than the process (thread-group leader)
    odd_threads: tuple[ThreadNs, ...] = ()
    #: CPU use in percent of one CPU since the previous scan; None on the first scan
    cpu_percent: float | None = None
    #: names of fields that could not be read (e.g. "ns", "cmdline", "rss")
    unreadable: frozenset[str] = frozenset()

    @property
    def is_kernel_thread(self) -> bool:
        return not self.cmdline and self.ppid in (0, 2) and self.pid != 1

    @property
    def command(self) -> str:
        """cmdline joined for display, or ``[comm]`` for kernel threads as ps shows them."""
        return " ".join(self.cmdline) if self.cmdline else f"[{self.comm}]"
