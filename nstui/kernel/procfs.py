"""One scan of every process under /proc: identity, facts, namespaces and cgroups.

Contract (owned by the kernel/snapshot work): ``scan_processes()`` returns one ``Process`` per
live process. A pid that vanishes mid-scan is dropped silently; a field that cannot be read
(EACCES, even for root: this host's pid 1 refuses /proc/1/ns/*) is None and named in
``Process.unreadable``. Never raises for a single process's trouble.

Speed: at 10,000 processes most of the cost is the kernel's, so the scan makes as few
syscalls per process as it can (os.open/os.read/os.close, one stat per namespace link, no
readlink; see ``procread``), hands part of the pids to a helper process to use a second core,
takes cgroup membership from the cgroup walk when the caller has it, and can reuse the slow,
rarely-changing facts (namespaces, cgroups, cmdline, uid, NSpid, odd threads) of a process
seen in the previous scan (same pid and start time).
"""

from __future__ import annotations

import atexit
import errno
import os
import pwd
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from nstui.kernel import procread
from nstui.kernel.nstypes import NS_TYPES, NsId, NsType
from nstui.kernel.procread import (
    CGROUP_RAW,
    CMDLINE,
    COMM,
    CPU_TICKS,
    FAST_LEN,
    NS_KEY,
    NSPID,
    NTHREADS,
    ODD_THREADS,
    PPID,
    RSS_PAGES,
    START_TICKS,
    STATE,
    UID,
    UNREADABLE,
    Record,
    ScanHelper,
    read_record,
)


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
THREAD_NS_TYPES: tuple[NsType, ...] = tuple(NS_TYPES[i] for i in procread.THREAD_NS_INDICES)

#: Below this many pids a helper process costs more than it saves.
PARALLEL_MIN = 600
#: Share of the pids the helper reads: the caller also turns every record into a Process.
HELPER_SHARE = 0.55

_EMPTY: frozenset[str] = frozenset()
_NS_NAMES: tuple[tuple[NsType, str], ...] = tuple((t, t.value) for t in NS_TYPES)
_helper = ScanHelper()
atexit.register(_helper.close)


def close_helper() -> None:
    """End the scan helper process (it also ends by itself when this process exits)."""
    _helper.close()


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


class Interner:
    """Shares equal values between processes of one snapshot (and across refreshes).

    A host with 10,000 processes has a few hundred distinct namespace sets and cgroup
    memberships; sharing the NsId objects, dicts and command lines keeps a snapshot small.
    """

    __slots__ = ("_cgroups", "_cmdlines", "_ns_ids", "_ns_maps", "_strings", "_users")

    def __init__(self) -> None:
        self._ns_ids: dict[tuple[NsType, int, int], NsId] = {}
        self._ns_maps: dict[tuple[int, ...], dict[NsType, NsId]] = {}
        self._cgroups: dict[object, dict[int, str]] = {}
        self._cmdlines: dict[tuple[str, ...], tuple[str, ...]] = {}
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
        """Parsed /proc/PID/cgroup, shared between processes with the same file text."""
        found = self._cgroups.get(raw)
        if found is None:
            found = self._cgroups[raw] = parse_cgroup_file(raw)
        return found

    def cgroup_map(self, key: tuple[int | str, ...]) -> dict[int, str]:
        """{hid: path} of KEY (hid, path, hid, path, ...), shared between equal keys."""
        found = self._cgroups.get(key)
        if found is None:
            found = self._cgroups[key] = {
                int(key[i]): sys.intern(str(key[i + 1])) for i in range(0, len(key), 2)
            }
        return found

    def cmdline(self, args: tuple[str, ...]) -> tuple[str, ...]:
        return self._cmdlines.setdefault(args, args)

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
        size = len(self._strings) + len(self._ns_maps) + len(self._cgroups) + len(self._cmdlines)
        if size > limit:
            self._ns_ids.clear()
            self._ns_maps.clear()
            self._cgroups.clear()
            self._cmdlines.clear()
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


class _Builder:
    """Turns records into Process objects, reusing the previous scan where it may."""

    def __init__(
        self,
        intern: Interner,
        btime: float,
        previous: Mapping[int, Process],
        cgroups_known: Mapping[int, dict[int, str]],
        interval: float | None,
    ) -> None:
        self.intern = intern
        self.btime = btime
        self.previous = previous
        self.cgroups_known = cgroups_known
        # percent of one CPU per clock tick of CPU time over the interval
        self.pct_per_tick = 100.0 / (CLK_TCK * interval) if interval else None

    def build(self, rec: Record) -> Process | None:
        """The Process of REC; None for a fast record that must be read again in full
        (the process exec'd: its comm changed, so its cmdline did too)."""
        pid = rec[0]
        prev = self.previous.get(pid)
        ticks = rec[CPU_TICKS]
        cpu_percent: float | None = None
        if prev is not None and prev.start_ticks == rec[START_TICKS] and self.pct_per_tick:
            cpu_percent = max(0.0, (ticks - round(prev.cpu_time * CLK_TCK)) * self.pct_per_tick)
        if len(rec) == FAST_LEN:
            if prev is None or prev.comm != rec[COMM]:
                return None
            return Process(
                pid,
                rec[PPID],
                prev.comm,
                prev.cmdline,
                rec[STATE],
                prev.uid,
                prev.user,
                rec[NTHREADS],
                prev.start_time,
                rec[RSS_PAGES] * PAGE_SIZE,
                ticks / CLK_TCK,
                prev.nspid,
                prev.ns,
                self.cgroups_known.get(pid, prev.cgroups),
                prev.odd_threads,
                cpu_percent,
                prev.unreadable,
                rec[START_TICKS],
            )
        intern = self.intern
        key = rec[NS_KEY]
        unreadable = rec[UNREADABLE]
        raw = rec[CGROUP_RAW]
        if raw:
            cgroups = intern.cgroups(raw)
        elif "cgroups" in unreadable:
            cgroups = {}
        else:
            cgroups = self.cgroups_known.get(pid, {})
        uid = rec[UID]
        same = prev is not None and prev.start_ticks == rec[START_TICKS]
        return Process(
            pid,
            rec[PPID],
            intern.string(rec[COMM]),
            intern.cmdline(rec[CMDLINE]),
            rec[STATE],
            None if uid < 0 else uid,
            None if uid < 0 else intern.user(uid),
            rec[NTHREADS],
            # same process: keep its start time even if btime moved with the wall clock
            prev.start_time
            if same and prev is not None
            else self.btime + rec[START_TICKS] / CLK_TCK,
            rec[RSS_PAGES] * PAGE_SIZE,
            ticks / CLK_TCK,
            rec[NSPID],
            intern.ns_map(key) if key else {},
            cgroups,
            tuple(self._thread(t) for t in rec[ODD_THREADS]),
            cpu_percent,
            frozenset(unreadable) if unreadable else _EMPTY,
            rec[START_TICKS],
        )

    def _thread(self, raw: tuple[int, tuple[tuple[int, int, int], ...]]) -> ThreadNs:
        ns_id = self.intern.ns_id
        tid, diffs = raw
        return ThreadNs(tid, {NS_TYPES[i]: ns_id(NS_TYPES[i], dev, ino) for i, dev, ino in diffs})


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
    cgroups_known: Mapping[int, dict[int, str]] | None = None,
    parallel: bool = True,
) -> dict[int, Process]:
    """Every process in PROC keyed by pid (ascending).

    With PREVIOUS (the last scan), a process with the same pid, start time and comm keeps
    its namespaces, cmdline, uid, NSpid and odd threads unless ``recheck(pid)`` is true; its
    state, CPU time, RSS and thread count are always read afresh. With INTERVAL (seconds
    since PREVIOUS was taken) a process also found in PREVIOUS gets ``cpu_percent``.
    CGROUPS_KNOWN maps pids to their {hierarchy id: cgroup path} as the cgroup walk found
    them; those pids' /proc/PID/cgroup is not read. HOST_PIDNS is the pid namespace PROC
    shows (default: this process's), whose members need no /proc/PID/status read for NSpid.
    PARALLEL lets a helper process read part of a large scan.
    """
    intern = interner or Interner()
    if host_pidns is None:
        try:
            host_pidns = read_ns("self", proc, intern).get(NsType.PID)
        except OSError:
            host_pidns = None
    host_key = (host_pidns.dev, host_pidns.ino) if host_pidns is not None else (0, 0)
    prev = previous or {}
    known_cg = cgroups_known or {}
    builder = _Builder(intern, boot_time(proc), prev, known_cg, interval)
    all_pids = list_pids(proc) if pids is None else list(pids)

    def known_ticks(pid: int) -> int:
        p = prev.get(pid)
        if p is None or (recheck is not None and recheck(pid)):
            return -1
        return p.start_ticks

    helper_pids: list[int] = []
    own_pids = all_pids
    use_helper = parallel and len(all_pids) >= PARALLEL_MIN and _helper.lock.acquire(False)
    try:
        if use_helper:
            n = len(all_pids)
            cut = int(20 * HELPER_SHARE)
            helper_pids = [all_pids[i] for i in range(n) if i % 20 < cut]
            own_pids = [all_pids[i] for i in range(n) if i % 20 >= cut]
            try:
                _helper.submit(
                    (
                        proc,
                        helper_pids,
                        [known_ticks(p) for p in helper_pids],
                        [p not in known_cg for p in helper_pids],
                        host_key,
                        check_threads,
                    )
                )
            except OSError:
                own_pids, helper_pids = all_pids, []
        out: dict[int, Process] = {}

        def add(rec: Record | None) -> None:
            if rec is None:
                return
            p = builder.build(rec)
            if p is None:  # exec'd since the last scan: read it again in full
                rec = read_record(proc, rec[0], -1, rec[0] not in known_cg, host_key, check_threads)
                p = builder.build(rec) if rec is not None else None
            if p is not None:
                out[p.pid] = p

        for pid in own_pids:
            add(
                read_record(
                    proc, pid, known_ticks(pid), pid not in known_cg, host_key, check_threads
                )
            )
        if helper_pids:
            records: list[Record | None]
            try:
                records = list(_helper.result())
            except (OSError, EOFError, ValueError):
                # the helper died: read its share here
                records = [
                    read_record(proc, p, known_ticks(p), p not in known_cg, host_key, check_threads)
                    for p in helper_pids
                ]
            for rec in records:
                add(rec)
    finally:
        if use_helper:
            _helper.lock.release()
    return {pid: out[pid] for pid in sorted(out)}
