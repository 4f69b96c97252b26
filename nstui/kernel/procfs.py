"""One scan of every process under /proc: identity, facts, namespaces and cgroups.

Contract (owned by the kernel/snapshot work): ``scan_processes()`` returns one ``Process`` per
live process. A pid that vanishes mid-scan is dropped silently; a field that cannot be read
(EACCES, even for root: this host's pid 1 refuses /proc/1/ns/*) is None and named in
``Process.unreadable``. Never raises for a single process's trouble.

Speed: at 10,000 processes most of the cost is the kernel's, so the scan makes as few
syscalls per process as it can (os.open/os.read/os.close, one stat per namespace link, no
readlink) and can reuse the slow, rarely-changing facts (namespaces, cgroups, cmdline, uid,
NSpid, odd threads) of a process seen in the previous scan (same pid and start time).
"""

from __future__ import annotations

import errno
import os
import pwd
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from nstui.kernel.nstypes import NS_TYPES, NsId, NsType


@dataclass(frozen=True, slots=True)
class ThreadNs:
    """A thread whose namespaces differ from its process's (setns/unshare move one thread).

    ``ns`` holds only the types in which the thread differs from its process.
    """

    tid: int
    ns: dict[NsType, NsId]


@dataclass(frozen=True, slots=True)
class Process:
    """A process as read from /proc/PID in one scan. Treat as immutable.

    The ``ns`` and ``cgroups`` dicts may be shared between processes with equal contents (it
    keeps a 10,000-process snapshot small): never mutate them.
    """

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
    #: start time in clock ticks after boot (field 22 of /proc/PID/stat): with ``pid`` it
    #: names one process for the kernel's lifetime, unlike the pid alone
    start_ticks: int = 0

    @property
    def is_kernel_thread(self) -> bool:
        return not self.cmdline and self.ppid in (0, 2) and self.pid != 1

    @property
    def command(self) -> str:
        """cmdline joined for display, or ``[comm]`` for kernel threads as ps shows them."""
        return " ".join(self.cmdline) if self.cmdline else f"[{self.comm}]"

    @property
    def key(self) -> tuple[int, int]:
        """(pid, start ticks): unlike the pid, never names two different processes."""
        return (self.pid, self.start_ticks)


#: Clock ticks per second and page size, for /proc/PID/stat's times and RSS.
CLK_TCK: int = os.sysconf("SC_CLK_TCK")
PAGE_SIZE: int = os.sysconf("SC_PAGE_SIZE")

#: Namespace types a single thread can leave on its own: setns/unshare of these move only the
#: calling thread. mnt and user are refused to threaded processes, time is EUSERS, and a
#: thread's own pid namespace never differs from its group's (only pid_for_children does).
THREAD_NS_TYPES: tuple[NsType, ...] = (NsType.NET, NsType.UTS, NsType.IPC, NsType.CGROUP)

#: Errors that mean "the process is gone" (psutil handles the same races): the /proc/PID
#: directory vanished (ENOENT), or the task exited between open and read (ESRCH).
_GONE = (FileNotFoundError, ProcessLookupError)

_EMPTY: frozenset[str] = frozenset()
_NS_NAMES: tuple[tuple[NsType, str], ...] = tuple((t, t.value) for t in NS_TYPES)


class Vanished(Exception):
    """Internal: the process went away mid-read."""


def boot_time(proc: str = "/proc") -> float:
    """Boot time in epoch seconds (``btime`` of /proc/stat, as ps and psutil use it)."""
    with open(f"{proc}/stat", "rb") as f:
        for line in f:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    raise OSError(errno.EIO, f"no btime line in {proc}/stat")


def list_pids(proc: str = "/proc") -> list[int]:
    """Pids of every process (thread-group leaders) visible in PROC, ascending."""
    return sorted(int(name) for name in os.listdir(proc) if name.isdigit())


def _read(path: str, size: int = 4096) -> bytes:
    """Whole small /proc file with the fewest syscalls (open, read, close)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, size)
        if len(data) < size:
            return data
        chunks = [data]
        while True:
            data = os.read(fd, 65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)
    finally:
        os.close(fd)


class Interner:
    """Shares equal values between processes of one snapshot (and across refreshes).

    A host with 10,000 processes has a few hundred distinct namespace sets and cgroup
    memberships; sharing the NsId objects and the dicts keeps a snapshot a few MB.
    """

    __slots__ = ("_cgroups", "_ns_ids", "_ns_maps", "_strings", "_users")

    def __init__(self) -> None:
        self._ns_ids: dict[tuple[NsType, int, int], NsId] = {}
        self._ns_maps: dict[tuple[int, ...], dict[NsType, NsId]] = {}
        self._cgroups: dict[bytes, dict[int, str]] = {}
        self._strings: dict[str, str] = {}
        self._users: dict[int, str] = {}

    def ns_id(self, ns_type: NsType, dev: int, ino: int) -> NsId:
        key = (ns_type, dev, ino)
        found = self._ns_ids.get(key)
        if found is None:
            found = self._ns_ids[key] = NsId(ns_type, dev, ino)
        return found

    def ns_map(self, key: tuple[int, ...]) -> dict[NsType, NsId]:
        """The namespaces of KEY: (dev, ino) of each type in NS_TYPES order, (0, 0) when the
        type is missing. Keyed by plain ints because hashing NsId objects is slow."""
        found = self._ns_maps.get(key)
        if found is None:
            found = self._ns_maps[key] = {
                t: self.ns_id(t, key[2 * i], key[2 * i + 1])
                for i, t in enumerate(NS_TYPES)
                if key[2 * i + 1]
            }
        return found

    def cgroups(self, raw: bytes) -> dict[int, str]:
        found = self._cgroups.get(raw)
        if found is None:
            found = self._cgroups[raw] = parse_cgroup_file(raw)
        return found

    def string(self, text: str) -> str:
        return self._strings.setdefault(text, text)

    def user(self, uid: int) -> str:
        """User name of UID (cached: pwd lookups read /etc/passwd), or the number as text."""
        name = self._users.get(uid)
        if name is None:
            try:
                name = sys.intern(pwd.getpwuid(uid).pw_name)
            except KeyError:
                name = str(uid)
            self._users[uid] = name
        return name

    def trim(self, limit: int) -> None:
        """Forget everything when the tables outgrow LIMIT entries (long-running TUI)."""
        if len(self._strings) + len(self._ns_maps) + len(self._cgroups) > limit:
            self._ns_ids.clear()
            self._ns_maps.clear()
            self._cgroups.clear()
            self._strings.clear()


def parse_cgroup_file(raw: bytes) -> dict[int, str]:
    """/proc/PID/cgroup lines ``hid:controllers:path`` to {hid: path}."""
    out: dict[int, str] = {}
    for line in raw.decode("utf-8", "surrogateescape").splitlines():
        hid, _, rest = line.partition(":")
        _, sep, path = rest.partition(":")
        if sep and hid.isdigit():
            out[int(hid)] = sys.intern(path)
    return out


@dataclass(frozen=True, slots=True)
class StatFields:
    """The fields of /proc/PID/stat the scan uses."""

    comm: str
    state: str
    ppid: int
    utime: int  # clock ticks
    stime: int
    nthreads: int
    start_ticks: int
    rss_pages: int


def parse_stat(data: bytes) -> StatFields:
    """Parse /proc/PID/stat. comm may hold spaces and parentheses: split at the last ``)``."""
    close = data.rindex(b")")
    comm = data[data.index(b"(") + 1 : close].decode("utf-8", "surrogateescape")
    f = data[close + 2 :].split()
    return StatFields(
        comm=comm,
        state=f[0].decode(),
        ppid=int(f[1]),
        utime=int(f[11]),
        stime=int(f[12]),
        nthreads=int(f[17]),
        start_ticks=int(f[19]),
        rss_pages=int(f[21]),
    )


def read_ns(
    pid: int | str, proc: str = "/proc", interner: Interner | None = None
) -> dict[NsType, NsId]:
    """Identity of each namespace of PID by stat(2) of /proc/PID/ns/X (not the link text).

    Raises PermissionError when the links are refused (pid 1 on this host), and
    FileNotFoundError/ProcessLookupError when the process is gone. A type the kernel lacks
    is absent.
    """
    intern = interner or Interner()
    prefix = f"{proc}/{pid}/ns/"
    out: dict[NsType, NsId] = {}
    for ns_type, name in _NS_NAMES:
        try:
            st = os.stat(prefix + name)
        except FileNotFoundError:
            if not os.path.isdir(f"{proc}/{pid}"):
                raise
            continue  # this kernel has no such namespace type
        out[ns_type] = intern.ns_id(ns_type, st.st_dev, st.st_ino)
    return out


class _Scan:
    """One pass over /proc. Holds per-scan settings so the per-process code stays flat."""

    def __init__(
        self,
        proc: str,
        interner: Interner,
        btime: float,
        host_pidns: NsId | None,
        check_threads: bool,
        interval: float | None,
    ) -> None:
        self.proc = proc
        self.intern = interner
        self.btime = btime
        self.host_pidns = host_pidns
        self.check_threads = check_threads
        # percent of one CPU per clock tick of CPU time over the interval
        self.pct_per_tick = 100.0 / (CLK_TCK * interval) if interval else None

    def ns(self, base: str) -> tuple[dict[NsType, NsId], bool]:
        """(namespaces, refused) of the process at BASE (/proc/PID/)."""
        stat = os.stat
        prefix = base + "ns/"
        key: list[int] = []
        for _, name in _NS_NAMES:
            try:
                st = stat(prefix + name)
            except PermissionError:
                return {}, True
            except FileNotFoundError:
                # A zombie keeps only its pid link; an old kernel lacks time. The process is
                # gone only if its directory is.
                if not os.path.isdir(base):
                    raise
                key += (0, 0)
                continue
            key += (st.st_dev, st.st_ino)
        return self.intern.ns_map(tuple(key)), False

    def threads(self, base: str, pid: int, ns: Mapping[NsType, NsId]) -> tuple[ThreadNs, ...]:
        """Threads of PID whose per-thread namespaces differ from the leader's."""
        odd: list[ThreadNs] = []
        try:
            tids = os.listdir(base + "task")
        except _GONE:
            return ()
        ns_id = self.intern.ns_id
        for name in tids:
            tid = int(name)
            if tid == pid:
                continue
            prefix = f"{base}task/{name}/ns/"
            diff: dict[NsType, NsId] = {}
            try:
                for ns_type in THREAD_NS_TYPES:
                    mine = ns.get(ns_type)
                    if mine is None:
                        continue
                    st = os.stat(prefix + ns_type.value)
                    if st.st_ino != mine.ino or st.st_dev != mine.dev:
                        diff[ns_type] = ns_id(ns_type, st.st_dev, st.st_ino)
            except (*_GONE, PermissionError):
                continue  # the thread exited (or is refused): nothing to report for it
            if diff:
                odd.append(ThreadNs(tid, diff))
        return tuple(odd)

    def one(self, pid: int, prev: Process | None, recheck: bool) -> Process | None:
        """Read one process, or None when it vanished. PREV: same pid in the last scan."""
        base = f"{self.proc}/{pid}/"
        try:
            data = _read(base + "stat")
        except _GONE:
            return None
        if not data:
            return None
        st = parse_stat(data)
        intern = self.intern
        ticks = st.utime + st.stime
        cpu_time = ticks / CLK_TCK
        rss = st.rss_pages * PAGE_SIZE
        same = prev is not None and prev.start_ticks == st.start_ticks
        cpu_percent: float | None = None
        if same and self.pct_per_tick is not None and prev is not None:
            cpu_percent = max(0.0, (ticks - round(prev.cpu_time * CLK_TCK)) * self.pct_per_tick)
        if same and prev is not None and not recheck and prev.state != "Z":
            # Same process as last time: namespaces, cgroups, cmdline and uid rarely change
            # (a rotating recheck catches moves); CPU, memory, state and threads do.
            return Process(
                pid=pid,
                ppid=st.ppid,
                comm=prev.comm if prev.comm == st.comm else intern.string(st.comm),
                cmdline=prev.cmdline,
                state=st.state,
                uid=prev.uid,
                user=prev.user,
                nthreads=st.nthreads,
                start_time=prev.start_time,
                rss=rss,
                cpu_time=cpu_time,
                nspid=prev.nspid,
                ns=prev.ns,
                cgroups=prev.cgroups,
                odd_threads=prev.odd_threads,
                cpu_percent=cpu_percent,
                unreadable=prev.unreadable,
                start_ticks=st.start_ticks,
            )
        unreadable: list[str] = []
        try:
            ns, refused = self.ns(base)
            if refused:
                unreadable.append("ns")
            try:
                cgroups = intern.cgroups(_read(base + "cgroup"))
            except PermissionError:
                cgroups = {}
                unreadable.append("cgroups")
            try:
                raw = _read(base + "cmdline")
                cmdline = (
                    tuple(
                        intern.string(a.decode("utf-8", "surrogateescape"))
                        for a in raw.rstrip(b"\0").split(b"\0")
                    )
                    if raw
                    else ()
                )
            except PermissionError:
                cmdline = ()
                unreadable.append("cmdline")
            uid: int | None
            nspid: tuple[int, ...] = (pid,)
            pidns = ns.get(NsType.PID)
            if pidns is not None and pidns == self.host_pidns:
                # In our own pid namespace the NSpid chain is just the pid: skip reading
                # /proc/PID/status (the costliest file) and take the owner of /proc/PID,
                # which is the effective uid, as procps does.
                uid = os.stat(base).st_uid
            else:
                uid, nspid = self.status(base, pid, unreadable)
            odd: tuple[ThreadNs, ...] = ()
            if self.check_threads and st.nthreads > 1 and ns:
                odd = self.threads(base, pid, ns)
        except _GONE:
            if st.state == "Z":
                ns, cgroups, cmdline, odd = {}, {}, (), ()
                uid, nspid = None, (pid,)
                unreadable = []
            else:
                return None
        return Process(
            pid=pid,
            ppid=st.ppid,
            comm=intern.string(st.comm),
            cmdline=cmdline,
            state=st.state,
            uid=uid,
            user=None if uid is None else intern.user(uid),
            nthreads=st.nthreads,
            start_time=self.btime + st.start_ticks / CLK_TCK,
            rss=rss,
            cpu_time=cpu_time,
            nspid=nspid,
            ns=ns,
            cgroups=cgroups,
            odd_threads=odd,
            cpu_percent=cpu_percent,
            unreadable=frozenset(unreadable) if unreadable else _EMPTY,
            start_ticks=st.start_ticks,
        )

    def status(
        self, base: str, pid: int, unreadable: list[str]
    ) -> tuple[int | None, tuple[int, ...]]:
        """(effective uid, NSpid chain) from /proc/PID/status."""
        try:
            data = _read(base + "status", 8192)
        except PermissionError:
            unreadable.append("uid")
            return None, (pid,)
        uid: int | None = None
        nspid: tuple[int, ...] = (pid,)
        i = data.find(b"\nUid:")
        if i >= 0:
            uid = int(data[i + 5 : data.index(b"\n", i + 5)].split()[1])
        else:
            unreadable.append("uid")
        i = data.find(b"\nNSpid:")
        if i >= 0:
            nspid = tuple(int(x) for x in data[i + 7 : data.index(b"\n", i + 7)].split())
        return uid, nspid


def scan_processes(
    proc: str = "/proc",
    *,
    previous: Mapping[int, Process] | None = None,
    recheck: Callable[[int], bool] | None = None,
    interner: Interner | None = None,
    check_threads: bool = True,
    pids: Iterable[int] | None = None,
    host_pidns: NsId | None = None,
    interval: float | None = None,
) -> dict[int, Process]:
    """Every process in PROC keyed by pid (ascending).

    With PREVIOUS (the last scan), a process with the same pid and start time keeps its
    namespaces, cgroups, cmdline, uid, NSpid and odd threads unless ``recheck(pid)`` is true;
    its state, CPU time, RSS and thread count are always read afresh. With INTERVAL (seconds
    since PREVIOUS was taken) a process also found in PREVIOUS gets ``cpu_percent``.
    HOST_PIDNS is the pid namespace PROC shows (default: this process's), whose members need
    no /proc/PID/status read for NSpid.
    """
    intern = interner or Interner()
    if host_pidns is None:
        try:
            host_pidns = read_ns("self", proc, intern).get(NsType.PID)
        except OSError:
            host_pidns = None
    scan = _Scan(proc, intern, boot_time(proc), host_pidns, check_threads, interval)
    prev = previous or {}
    out: dict[int, Process] = {}
    for pid in list_pids(proc) if pids is None else pids:
        p = scan.one(pid, prev.get(pid), recheck is not None and recheck(pid))
        if p is not None:
            out[pid] = p
    return out
