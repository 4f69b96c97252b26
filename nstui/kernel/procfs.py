"""One scan of every process under /proc: identity, facts, namespaces and cgroups.

Contract (owned by the kernel/snapshot work): ``scan_processes()`` returns one ``Process`` per
live process. A pid that vanishes mid-scan is dropped silently; a field that cannot be read
(EACCES, even for root: this host's pid 1 refuses /proc/1/ns/*) is None and named in
``Process.unreadable``. Never raises for a single process's trouble.

Speed: a full scan costs ~45 us of CPU per process here, over half of it the kernel's (stat,
8 namespace links, cmdline, uid or status) and the rest Python's. So the scan makes as few
syscalls as it can (os.open/os.read/os.close; namespace links by readlink, a stat(2) only for
a link text not met yet in the scan: ``procread.NsKeys``) and takes cgroup membership from
the cgroup walk when the caller has it. The second core: the pid list is read from both
ends, a helper process taking chunks from the front (a few requests in flight) while this
process reads from the back and builds every record, so the split follows how busy each side
is (``_Scan``). On a refresh a process seen before (same pid and start time) costs one pread
of /proc/PID/stat on a kept fd, and nothing more when that text did not change (the helper
leaves such processes out of its answer); its slow, rarely-changing facts (namespaces,
cmdline, uid, NSpid, odd threads) are reused, and a rotating share is verified (uid and
namespace links) instead of read in full. A refresh hands the helper the last scan's pids
before /proc is listed, and lists /proc only when a fork happened since (``fork_count``).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import dataclasses
import errno
import itertools
import operator
import os
import pwd
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from nstui.kernel import procread
from nstui.kernel.nstypes import NS_TYPES, NsId, NsType
from nstui.kernel.procread import (
    CGROUP_RAW,
    CMDLINE,
    COMM,
    CPU_TICKS,
    FAST_LEN,
    NS_FDS,
    NS_KEY,
    NSPID,
    NTHREADS,
    ODD_THREADS,
    PPID,
    RAW,
    RSS_PAGES,
    START_TICKS,
    STATE,
    UID,
    UNREADABLE,
    Record,
    ScanHelper,
    read_item,
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
    #: CPU use in percent of one CPU since the previous scan; for a process not seen before,
    #: since it started (ps's %CPU); None when unknown
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


def _positional_constructor(cls: type[Process]) -> Callable[..., Process]:
    """A function making CLS from every field, positionally, twice as fast as CLS(...).

    A frozen dataclass's __init__ assigns each field through object.__setattr__ (its own
    __setattr__ refuses); a scan makes 10,000 of them. This sets the slots directly, as
    that __init__ does, and keeps the class frozen for everyone else. The source is
    generated from the field list (as dataclasses does), so a new field cannot be missed.
    """
    names = [f.name for f in dataclasses.fields(cls)]
    setters = {f"_set{i}": getattr(cls, name).__set__ for i, name in enumerate(names)}
    lines = [f"def make({', '.join(names)}):", "    self = _new(_cls)"]
    lines += [f"    _set{i}(self, {name})" for i, name in enumerate(names)]
    lines.append("    return self")
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, **setters}
    exec("\n".join(lines), namespace)  # our own field names only, as dataclasses does
    make: Callable[..., Process] = namespace["make"]
    return make


_new_process = _positional_constructor(Process)


#: Clock ticks per second and page size, for /proc/PID/stat's times and RSS.
CLK_TCK: int = os.sysconf("SC_CLK_TCK")
PAGE_SIZE: int = os.sysconf("SC_PAGE_SIZE")

#: Namespace types a single thread can leave on its own: setns/unshare of these move only the
#: calling thread. mnt and user are refused to threaded processes, time is EUSERS, and a
#: thread's own pid namespace never differs from its group's (only pid_for_children does).
THREAD_NS_TYPES: tuple[NsType, ...] = tuple(NS_TYPES[i] for i in procread.THREAD_NS_INDICES)

_EMPTY: frozenset[str] = frozenset()
_NS_NAMES: tuple[tuple[NsType, str], ...] = tuple((t, t.value) for t in NS_TYPES)
_helper = ScanHelper()
atexit.register(_helper.close)


def close_helper() -> None:
    """End the scan helper process (it also ends by itself when this process exits)."""
    _helper.close()


def helper_pid() -> int | None:
    """Pid of the running scan helper process, if any (benchmarks count its CPU time)."""
    return _helper.pid


def boot_time(proc: str = "/proc") -> float:
    """Boot time in epoch seconds (``btime`` of /proc/stat, as ps and psutil use it)."""
    with open(f"{proc}/stat", "rb") as f:
        for line in f:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    raise OSError(errno.EIO, f"no btime line in {proc}/stat")


def uptime_ticks(proc: str = "/proc") -> int:
    """Clock ticks since boot (/proc/uptime), the clock of a process's start time; 0 when
    unreadable."""
    try:
        with open(f"{proc}/uptime", "rb") as f:
            return int(float(f.read().split()[0]) * CLK_TCK)
    except (OSError, ValueError, IndexError):
        return 0


def fork_count(proc: str = "/proc") -> int | None:
    """Processes and threads created since boot (``processes`` in /proc/stat, counted by
    every successful fork or clone); None when unreadable."""
    try:
        data = procread._read(f"{proc}/stat", 65536)
        i = data.index(b"\nprocesses ") + 11
        return int(data[i : data.index(b"\n", i)])
    except (OSError, ValueError):
        return None


def list_pids(proc: str = "/proc") -> list[int]:
    """Pids of every process (thread-group leaders) visible in PROC, ascending."""
    # (map and filter: C loops over 10,000 names)
    return sorted(map(int, filter(str.isdecimal, os.listdir(proc))))


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
        if sep and hid.isdecimal():
            out[int(hid)] = sys.intern(path)
    return out


_Shared = TypeVar("_Shared")


def group_by_shared(
    processes: Mapping[int, Process], field_of: Callable[[Process], _Shared]
) -> list[tuple[_Shared, list[int]]]:
    """Pids (in PROCESSES' order) grouped by the identity of a field value the scan shares
    between processes with equal contents (one ``ns`` dict per namespace set, one
    ``cgroups`` dict per membership, see Interner): a few hundred groups at 10,000
    processes, so per-group work runs a few hundred times. Equal values that are distinct
    objects form separate groups."""
    groups: dict[int, tuple[_Shared, list[int]]] = {}
    for pid, p in processes.items():
        value = field_of(p)
        found = groups.get(id(value))
        if found is None:
            groups[id(value)] = (value, [pid])
        else:
            found[1].append(pid)
    return list(groups.values())


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


class ScanCache:
    """What a caller keeps between scans to make refreshes cheap: the interner, an open
    /proc/PID/stat fd per known process (``procread.StatFiles``: a refresh reads it with
    one pread() instead of open, read and close; a process that exited makes the pread fail
    with ESRCH, and a reused pid is never confused with it), and the stat text each process
    of the last scan was built from, so an unchanged one is carried over as it was. The fds
    sit at numbers >= FD_BASE, leaving low numbers to the rest of the program (select()
    cannot watch fds >= 1024), and stop at RLIMIT_NOFILE minus a margin (the soft limit is
    raised towards the hard one to make room for FD_WANTED).
    """

    FD_BASE = 1024
    FD_MARGIN = 256
    FD_WANTED = 32768  # processes whose stat fd is kept

    def __init__(self, interner: Interner | None = None) -> None:
        self.interner = interner or Interner()
        soft = procread.raise_fd_limit(self.FD_BASE + self.FD_MARGIN + self.FD_WANTED)
        self.max_fds = max(0, soft - self.FD_BASE - self.FD_MARGIN)
        self.files = procread.StatFiles(self.FD_BASE, self.max_fds)
        #: pid -> the /proc/PID/stat text its Process in the last scan was built from,
        self.raw: dict[int, bytes] = {}
        #: and the serial of the scan helper's answer that text came in (if it did)
        self.stamps: dict[int, int] = {}
        #: names this cache to the scan helper, which remembers what it sent to whom
        self.client = int.from_bytes(os.urandom(7), "little")
        #: fork_count() just before /proc was last listed for a scan with this cache, and
        #: the refreshes since that did not list it
        self.forks: int | None = None
        self.unlisted = 0
        #: boot_time(), read by the first scan with this cache (it is the boot's)
        self.boot_time: float | None = None

    @property
    def fds(self) -> dict[int, int]:
        return self.files.fds

    def forget(self, pid: int) -> None:
        self.files.forget(pid)
        self.raw.pop(pid, None)
        self.stamps.pop(pid, None)

    def keep_only(self, pids: Iterable[int]) -> None:
        """Close the fds of processes not in PIDS (they exited)."""
        alive = set(pids)
        self.files.keep_only(alive)
        for pid in [p for p in self.raw if p not in alive]:
            del self.raw[pid]
        for pid in [p for p in self.stamps if p not in alive]:
            del self.stamps[pid]

    def close(self) -> None:
        self.files.close()
        self.raw.clear()
        self.stamps.clear()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


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
        #: clock ticks since boot now, for the lifetime CPU share of a process seen first
        self.now_ticks = 0

    def build(self, rec: Record) -> Process | None:
        """The Process of REC; None for a fast record that must be read again in full
        (the process exec'd: its comm changed, so its cmdline did too)."""
        pid = rec[0]
        prev = self.previous.get(pid)
        ticks = rec[CPU_TICKS]
        cpu_percent: float | None = None
        if prev is not None and prev.start_ticks == rec[START_TICKS]:
            if self.pct_per_tick:
                cpu_percent = max(0.0, (ticks - round(prev.cpu_time * CLK_TCK)) * self.pct_per_tick)
        elif self.now_ticks:
            # first sight: its share since it started, as ps shows it (and a row that will
            # not change at the next refresh if it stays idle)
            alive = self.now_ticks - rec[START_TICKS]
            cpu_percent = 100.0 * ticks / alive if alive > 0 else 0.0
        if len(rec) == FAST_LEN:
            if prev is None or prev.start_ticks != rec[START_TICKS]:
                return None
            comm = prev.comm
            if comm != rec[COMM]:
                if not prev.is_kernel_thread:
                    return None  # it exec'd: its cmdline changed too
                comm = self.intern.string(rec[COMM])  # kworkers rename themselves
            return _new_process(
                pid,
                rec[PPID],
                comm,
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
        return _new_process(
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
            tuple([self._thread(t) for t in rec[ODD_THREADS]]) if rec[ODD_THREADS] else (),
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
    cgroups_known: Mapping[int, dict[int, str]]
    | Callable[[], Mapping[int, dict[int, str]]]
    | None = None,
    parallel: bool = True,
    cache: ScanCache | None = None,
    during: Callable[[], Iterable[int]] | None = None,
    verify: Callable[[int], bool] | None = None,
    on_full: Callable[[Process], None] | None = None,
    ns_fds: dict[int, tuple[tuple[str, str], ...]] | None = None,
) -> dict[int, Process]:
    """Every process in PROC keyed by pid (ascending).

    With PREVIOUS (the last scan), a process with the same pid, start time and comm keeps
    its namespaces, cmdline, uid, NSpid and odd threads unless ``recheck(pid)`` is true; its
    state, CPU time, RSS and thread count are always read afresh; ``verify(pid)`` true has
    its uid and namespace links checked (about half the cost of a full read), and it is read
    in full if they differ. With INTERVAL (seconds since PREVIOUS was taken) a process also
    found in PREVIOUS gets ``cpu_percent`` over the interval; one not found there, its share
    since it started.
    CGROUPS_KNOWN maps pids to their {hierarchy id: cgroup path} as the cgroup walk found
    them; those pids' /proc/PID/cgroup is not read, and they take that membership. It may
    be a function computing that map (the walk): it is then called while the helper process
    reads its share; a process the walk did not place has its /proc/PID/cgroup read.
    DURING is more work to do while the helper reads (a walk of some cgroup hierarchies); it
    returns pids to read in full at the end (found moved) unless they were already.
    ON_FULL is called with each Process read in full, as it is made (to describe its
    namespaces meanwhile, say). With NS_FDS, a process read in full also has its fds
    listed, and those on namespaces go in NS_FDS[pid] as (fd number, link text) pairs (the
    holders scan, done by both processes). HOST_PIDNS is the pid namespace PROC shows
    (default: this process's), whose members need no /proc/PID/status read for NSpid.
    PARALLEL lets a helper process read part of a large scan. CACHE (kept by the caller
    between scans, with PREVIOUS the last scan made with it) makes refreshes cheaper.
    """
    cache = cache or ScanCache(interner)
    intern = cache.interner if interner is None else interner
    if host_pidns is None:
        try:
            host_pidns = read_ns("self", proc, intern).get(NsType.PID)
        except OSError:
            host_pidns = None
    host_key = (host_pidns.dev, host_pidns.ino) if host_pidns is not None else (0, 0)
    prev = previous or {}
    known_later: Callable[[], Mapping[int, dict[int, str]]] | None = None
    known_cg: Mapping[int, dict[int, str]] = {}
    if callable(cgroups_known):
        known_later = cgroups_known
    elif cgroups_known is not None:
        known_cg = cgroups_known
    if cache.boot_time is None:
        cache.boot_time = boot_time(proc)
    builder = _Builder(intern, cache.boot_time, prev, known_cg, interval)
    builder.now_ticks = uptime_ticks(proc)
    # A refresh's work list is the last scan's pids (ascending), so the helper can start on
    # it at once; /proc is listed meanwhile, and processes new since go at the back (read
    # here, first), the vanished are found gone when read.
    head_start = pids is None and bool(prev) and parallel
    forks = cache.forks
    if head_start:
        work = list(prev)
    else:
        # (a scan of chosen pids is no listing: the next refresh lists again)
        cache.forks = fork_count(proc) if pids is None else None
        cache.unlisted = 0
        work = list_pids(proc) if pids is None else list(pids)
        if pids is None:
            cache.keep_only(work)
    known, expected, costs, checks = _plan(work, prev, cache.raw, recheck, verify)
    scan = _Scan(proc, cache, builder, prev, host_key, check_threads, work, known, expected)
    scan.checks = checks
    scan.costs = costs
    scan.on_full = on_full
    scan.ns_fds = ns_fds
    scan.remaining = sum(costs)
    use_helper = parallel and scan.remaining >= PARALLEL_MIN and _helper.lock.acquire(False)
    # work for the helper while this process walks cgroups (and takes no answers): the
    # walk of every hierarchy takes longer than a refresh's share of them
    if known_later is not None:
        ahead = AHEAD_COST
    elif during is not None:
        ahead = AHEAD_COST // 3
    else:
        ahead = IN_FLIGHT * CHUNK_COST
    # pids of the last take that a listing did not show: read meanwhile (the helper had
    # them), but not processes now, even where /proc/PID answers (a reused pid may name a
    # thread, whose /proc/TID is there though not listed)
    dropped: set[int] = set()
    try:
        if use_helper:
            scan.start_helper(
                alive=work if pids is None and not head_start else None,
                walk_pending=known_later is not None,
                ahead=ahead,
            )
        if head_start:
            # New pids come only from a fork: with none since the last listing, the
            # last scan's pids are all there can be (the vanished are found when read).
            # Listing 10,000 pids costs ~14 ms; /proc/stat, microseconds.
            # (every LIST_EVERY-th refresh lists anyway: a process hidden from an earlier
            # listing, say by permissions, shows within that many)
            cache.forks = fork_count(proc)
            cache.unlisted += 1
            if cache.forks is None or cache.forks != forks or cache.unlisted >= LIST_EVERY:
                cache.unlisted = 0
                listed = list_pids(proc)
                cache.keep_only(listed)
                scan.add([pid for pid in listed if pid not in prev])
                scan.tell_alive(listed)
                dropped = prev.keys() - set(listed)
        if known_later is not None:
            builder.cgroups_known = known_later()
            scan.walk_pending = False
        again = list(during()) if during is not None else []
        scan.run()
        for pid in again:
            if pid in scan.out and pid not in scan.full_read:
                scan.read_full(pid)
    finally:
        if use_helper:
            if scan.inflight:  # an exception left answers in the pipe: the next request
                _helper.close()  # must not read them
            _helper.lock.release()
    out = scan.out
    for pid in dropped:
        out.pop(pid, None)
        cache.forget(pid)
        if ns_fds is not None:
            ns_fds.pop(pid, None)
    return {pid: out[pid] for pid in sorted(out)}


def _plan(
    work: list[int],
    prev: Mapping[int, Process],
    raw: Mapping[int, bytes],
    recheck: Callable[[int], bool] | None,
    verify: Callable[[int], bool] | None,
) -> tuple[list[int], list[bytes], list[int], dict[int, tuple[Any, ...]]]:
    """Per pid of WORK: the start time it is known by (-1: read it in full), the stat text
    its Process in PREV was built from (b"": none known), its cost units (see FAST_COST);
    and by index, read_item's VERIFY for those to verify. A refresh knows every pid: its
    lists come from C loops (map, multiplication) over 10,000 of them."""
    n = len(work)
    procs = list(map(prev.get, work))
    if recheck is None and all(map(operator.is_not, procs, itertools.repeat(None))):
        known = list(map(_start_ticks_of, cast(list[Process], procs)))
    else:
        known = [
            -1 if p is None or (recheck is not None and recheck(pid)) else p.start_ticks
            for pid, p in zip(work, procs, strict=True)
        ]
    if 0 in known:  # no start time read: read in full
        known = [t or -1 for t in known]
    expected = list(map(raw.get, work, itertools.repeat(b"", n)))
    costs = [FAST_COST] * n
    if -1 in known:
        for i in (i for i, t in enumerate(known) if t < 0):
            expected[i] = b""
            costs[i] = FULL_COST
    checks: dict[int, tuple[Any, ...]] = {}
    if verify is not None:
        texts: dict[int, tuple[str, ...]] = {}
        for i in itertools.compress(range(n), map(verify, work)):
            p = procs[i]
            if p is None or known[i] < 0:
                continue
            links = texts.get(id(p.ns))
            if links is None:
                links = texts[id(p.ns)] = _link_texts(p.ns)
            checks[i] = (-1 if p.uid is None else p.uid, *links)
            costs[i] = VERIFY_COST
    return known, expected, costs, checks


_start_ticks_of: Callable[[Process], int] = operator.attrgetter("start_ticks")


#: Cost units of reading a process: one already known (a pread of its stat), one verified
#: (and its namespace links, status), or in full (stat, eight namespace links, cmdline,
#: status: ~6 times the first).
FAST_COST, VERIFY_COST, FULL_COST = 1, 3, 6


def _link_texts(ns: Mapping[NsType, NsId]) -> tuple[str, ...]:
    """The text of each namespace link (NS_TYPES order) of a process in NS; "" for unknown."""
    return tuple(f"{t.value}:[{ns[t].ino}]" if t in ns else "" for t in NS_TYPES)


#: A refresh with no fork since lists /proc anyway this often.
LIST_EVERY = 8
#: Below this much work a helper process costs more than it saves.
PARALLEL_MIN = 3600
#: Work per request to the helper (~15 ms of its time), requests kept in flight, and the
#: least work worth a request (the last bits are read here).
CHUNK_COST = 1536
IN_FLIGHT = 2
#: and at most this many pids a request: a refresh's are cheap to read (~6 us), and its
#: last requests in flight are what this process may wait for at the end
CHUNK_PIDS = 512
#: Work handed to the helper at once when this process walks every cgroup hierarchy first
#: (a full take; a refresh walks a quarter of them and hands a third of this).
AHEAD_COST = 6 * CHUNK_COST
MIN_CHUNK_COST = 48


class _Scan:
    """One scan's work list, read from both ends: the helper process gets chunks from the
    front (a few requests in flight, topped up as answers come), this process reads from
    the back and builds every record, until the two meet. So the split adapts to how busy
    each side is (the cgroup walk, building, other load on the machine)."""

    def __init__(
        self,
        proc: str,
        cache: ScanCache,
        builder: _Builder,
        prev: Mapping[int, Process],
        host_key: tuple[int, int],
        check_threads: bool,
        pids: list[int],
        known: list[int],
        expected: list[bytes],
    ) -> None:
        self.proc = proc
        self.cache = cache
        self.builder = builder
        self.prev = prev
        self.host_key = host_key
        self.check_threads = check_threads
        self.pids = pids
        self.known = known
        self.expected = expected
        self.checks: dict[int, tuple[Any, ...]] = {}
        #: cost units of reading each process of the work list (see FAST_COST)
        self.costs: list[int] = []
        self.on_full: Callable[[Process], None] | None = None
        self.ns_fds: dict[int, tuple[tuple[str, str], ...]] | None = None
        self.out: dict[int, Process] = {}
        self.ns_keys = procread.NsKeys()
        self.full_read: set[int] = set()
        self.front = 0
        self.back = len(pids)
        #: cost units of the work list between front and back (see costs)
        self.remaining = 0
        self.inflight: collections.deque[tuple[int, int]] = collections.deque()
        self.helper = False
        self.walk_pending = False
        # percent of CPU a process carried over unchanged shows: none on a first scan
        self.idle_percent = None if builder.pct_per_tick is None else 0.0

    # --- this process's side

    def run(self) -> None:
        """Read from the back until meeting the helper, then take its last answers."""
        pids, known, expected, checks, costs = (
            self.pids,
            self.known,
            self.expected,
            self.checks,
            self.costs,
        )
        fds = self.cache.files.fds
        n = 0
        while self.back > self.front:
            n += 1
            if self.inflight and not n & 15:
                self.pump(block=False)
            self.back -= 1
            i = self.back
            self.remaining -= costs[i]
            # a known process with a kept fd: one pread, mostly (procread.read_kept)
            fd = fds.get(pids[i]) if known[i] >= 0 and i not in checks else None
            rec = () if fd is None else procread.read_kept(fd, pids[i], known[i], expected[i])
            self.take(i, self.read_at(i) if rec == () else rec)
        while self.inflight:
            self.pump(block=True)

    def read(self, pid: int, known: int, expected: bytes, verify: tuple[Any, ...]) -> Record | None:
        """read_item of PID here, with this scan's settings."""
        return read_item(
            self.proc,
            pid,
            known,
            expected,
            pid not in self.builder.cgroups_known,
            self.host_key,
            self.check_threads,
            self.cache.files,
            verify,
            self.ns_fds is not None,
            self.ns_keys,
        )

    def read_at(self, i: int) -> Record | None:
        """read_item of the I-th process of the work list here."""
        return self.read(self.pids[i], self.known[i], self.expected[i], self.checks.get(i, ()))

    def take(self, i: int, rec: Record | None, serial: int = 0) -> None:
        """Use REC, the record of pids[i] (None: unchanged) from the helper's answer SERIAL
        or (0) read here."""
        if rec is None:
            self.carry(i)
        elif len(rec) == procread.GONE_LEN:
            self.cache.forget(rec[0])
        else:
            self.build(rec, serial)

    def build(self, rec: Record, serial: int = 0) -> None:
        pid = rec[0]
        builder = self.builder
        if len(rec) > FAST_LEN:
            self.full_read.add(pid)
            if (
                not rec[CGROUP_RAW]
                and pid not in builder.cgroups_known
                and rec[STATE] != "Z"
                and "cgroups" not in rec[UNREADABLE]
            ):
                rec = _with_cgroup_file(self.proc, rec)  # read before the walk placed it
        built = builder.build(rec)
        if built is None:  # another process under this pid, or an exec: read it in full
            self.read_full(pid)
        else:
            self.out[pid] = built
            if len(rec) > FAST_LEN:
                if self.on_full is not None:
                    self.on_full(built)
                if self.ns_fds is not None:
                    if rec[NS_FDS]:
                        self.ns_fds[pid] = rec[NS_FDS]
                    else:
                        self.ns_fds.pop(pid, None)
            self.cache.raw[pid] = rec[RAW]
            if serial:
                self.cache.stamps[pid] = serial
            else:
                self.cache.stamps.pop(pid, None)

    def carry(self, i: int) -> None:
        """The stat of pids[i] is the one its previous Process was built from."""
        pid = self.pids[i]
        p = self.prev[pid]
        cgroups = self.builder.cgroups_known.get(pid, p.cgroups)
        if p.cpu_percent == self.idle_percent and (cgroups is p.cgroups or cgroups == p.cgroups):
            self.out[pid] = p  # nothing moved: not even a tick of CPU
        else:
            self.build(procread.parse_stat(pid, self.expected[i]))

    def read_full(self, pid: int) -> None:
        rec = self.read(pid, -1, b"", ())
        if rec is None or len(rec) == procread.GONE_LEN:
            self.cache.forget(pid)
            self.out.pop(pid, None)
        else:
            self.build(rec)

    def add(self, pids: list[int]) -> None:
        """Put PIDS (not seen before: read in full) at the back of the work list."""
        self.pids += pids
        self.known += [-1] * len(pids)
        self.expected += [b""] * len(pids)
        self.costs += [FULL_COST] * len(pids)
        self.back = len(self.pids)
        self.remaining += FULL_COST * len(pids)

    # --- the helper's side

    def tell_alive(self, pids: list[int]) -> None:
        """Let the helper forget the processes not in PIDS (exited)."""
        if not self.helper:
            return
        try:
            _helper.submit((procread.ALIVE, pids))
        except OSError:
            self.helper_failed()

    def start_helper(self, alive: list[int] | None, walk_pending: bool, ahead: int) -> None:
        """Hand the helper its first chunks, AHEAD cost units of work. Too little leaves it
        idle while this process does other work first; too much leaves this process waiting
        for it at the end."""
        self.helper = True
        self.walk_pending = walk_pending
        try:
            if alive is not None:
                _helper.submit((procread.ALIVE, alive))
            goal = self.remaining - ahead
            while self.remaining > goal and self.send_chunk():
                pass
        except OSError:
            self.helper_failed()

    def send_chunk(self) -> bool:
        """Send the helper the next chunk from the front; False when none is worth it."""
        limit = min(CHUNK_COST, self.remaining // 3)
        if not self.helper or limit < MIN_CHUNK_COST:
            return False
        known, costs, start, end, cost = self.known, self.costs, self.front, self.front, 0
        last = min(self.back, start + CHUNK_PIDS)
        while end < last and cost < limit:
            cost += costs[end]
            end += 1
        if end == start:
            return False  # the rest of the list is not planned yet, or is read here
        pids, part = self.pids[start:end], known[start:end]
        stamps = self.cache.stamps
        placed = self.builder.cgroups_known
        want = [False] * len(pids) if self.walk_pending else [p not in placed for p in pids]
        sent = _helper.submit(
            (
                procread.READ,
                self.cache.client,
                self.proc,
                pids,
                part,
                [stamps.get(p, 0) if t >= 0 else 0 for p, t in zip(pids, part, strict=True)],
                want,
                [self.checks.get(i, ()) for i in range(start, end)],
                self.host_key,
                self.check_threads,
                self.ns_fds is not None,
            )
        )
        if not sent:
            return False  # the helper's pipe is full of requests: read these here
        self.front, self.remaining = end, self.remaining - cost
        self.inflight.append((start, end))
        return True

    def pump(self, block: bool) -> None:
        """Take the helper's answers that are there (with BLOCK, at least one), and keep
        its queue filled."""
        while self.inflight and (block or _helper.ready()):
            block = False
            start, end = self.inflight[0]
            try:
                serial, records = _helper.reply()
            except (OSError, EOFError, ValueError):
                self.helper_failed()
                return
            self.inflight.popleft()
            self.merge(start, end, serial, records)
            try:
                while len(self.inflight) < IN_FLIGHT and self.send_chunk():
                    pass
            except OSError:
                self.helper_failed()
                return

    def merge(self, start: int, end: int, serial: int, records: list[Record]) -> None:
        """Build the answer SERIAL to chunk [START, END): records in pid order, the
        unchanged processes left out."""
        pids, prev, out, idle = self.pids, self.prev, self.out, self.idle_percent
        plain = not self.builder.cgroups_known  # (see carry)
        j, n = 0, len(records)
        for i in range(start, end):
            pid = pids[i]
            if j < n and records[j][0] == pid:
                self.take(i, records[j], serial)
                j += 1
            elif plain and (p := prev[pid]).cpu_percent == idle:
                out[pid] = p  # carry's commonest case inline: nothing moved
            else:
                self.carry(i)

    def helper_failed(self) -> None:
        """The helper died: read its unanswered chunks here."""
        self.helper = False
        chunks = list(self.inflight)
        self.inflight.clear()
        _helper.close()
        for start, end in chunks:
            for i in range(start, end):
                self.take(i, self.read_at(i))


def _with_cgroup_file(proc: str, rec: Record) -> Record:
    """REC with the text of its /proc/PID/cgroup (unchanged when that cannot be read)."""
    try:
        with open(f"{proc}/{rec[0]}/cgroup", "rb") as f:
            raw = f.read()
    except OSError:
        return rec
    return (*rec[:CGROUP_RAW], raw, *rec[CGROUP_RAW + 1 :])
