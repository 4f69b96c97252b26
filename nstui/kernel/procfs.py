"""One scan of every process under /proc: identity, facts, namespaces and cgroups.

Contract (owned by the kernel/snapshot work): ``scan_processes()`` returns one ``Process`` per
live process. A pid that vanishes mid-scan is dropped silently; a field that cannot be read
(EACCES, even for root: this host's pid 1 refuses /proc/1/ns/*) is None and named in
``Process.unreadable``. Never raises for a single process's trouble.

Speed: a full scan costs ~70 us of CPU per process here, about half of it the kernel's
(15 syscalls: stat, 8 namespace links, cmdline, uid or status) and half Python's. So the scan
makes as few syscalls as it can (os.open/os.read/os.close, one stat(2) per namespace link;
see ``procread``), hands part of the pids to a helper process to use a second core, takes
cgroup membership from the cgroup walk when the caller has it, and on a refresh re-reads only
/proc/PID/stat (one pread on a kept fd) of a process seen before (same pid and start time),
reusing its slow, rarely-changing facts (namespaces, cmdline, uid, NSpid, odd threads).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import os
import pwd
import resource
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
#: Share of the pids the helper reads: the caller also walks the cgroups meanwhile and turns
#: every record into a Process.
HELPER_SHARE = 0.6

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


def list_pids(proc: str = "/proc") -> list[int]:
    """Pids of every process (thread-group leaders) visible in PROC, ascending."""
    return sorted(int(name) for name in os.listdir(proc) if name.isdecimal())


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
    """What a caller keeps between scans to make refreshes cheap: the interner, and an open
    /proc/PID/stat fd per known process, so a refresh reads it with one pread() instead of
    open, read and close (a process that exited makes the pread fail with ESRCH, and a
    reused pid is never confused with it). The fds sit at numbers >= FD_BASE, leaving low
    numbers to the rest of the program (select() cannot watch fds >= 1024), and stop at
    RLIMIT_NOFILE minus a margin (the soft limit is raised towards the hard one to make room
    for FD_WANTED); beyond that, processes are read the ordinary way.
    """

    FD_BASE = 1024
    FD_MARGIN = 256
    FD_WANTED = 32768  # processes whose stat fd is kept

    def __init__(self, interner: Interner | None = None) -> None:
        self.interner = interner or Interner()
        self.fds: dict[int, int] = {}
        self.raw: dict[int, bytes] = {}
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = self.FD_BASE + self.FD_MARGIN + self.FD_WANTED
        if soft != resource.RLIM_INFINITY and soft < want:
            # Distributions default to a soft limit of 1024 under a much higher hard one;
            # raising our own soft limit is what the hard limit is for.
            raised = want if hard == resource.RLIM_INFINITY else min(hard, want)
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
                soft = raised
        if soft == resource.RLIM_INFINITY:
            soft = 1 << 20
        self.max_fds = max(0, soft - self.FD_BASE - self.FD_MARGIN)

    def stat_fd(self, proc: str, pid: int) -> int | None:
        """The kept fd of /proc/PID/stat, opened now if there is room; None if not."""
        fd = self.fds.get(pid)
        if fd is not None or len(self.fds) >= self.max_fds:
            return fd
        try:
            low = os.open(f"{proc}/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            fd = fcntl.fcntl(low, fcntl.F_DUPFD_CLOEXEC, self.FD_BASE)
        except OSError:
            return None
        finally:
            os.close(low)
        self.fds[pid] = fd
        return fd

    def forget(self, pid: int) -> None:
        fd = self.fds.pop(pid, None)
        self.raw.pop(pid, None)
        if fd is not None:
            os.close(fd)

    def keep_only(self, pids: Iterable[int]) -> None:
        """Close the fds of processes not in PIDS (they exited)."""
        alive = set(pids)
        for pid in [p for p in self.fds if p not in alive]:
            self.forget(pid)
        for pid in [p for p in self.raw if p not in alive]:
            del self.raw[pid]

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()
        self.raw.clear()

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
            if prev is None or prev.start_ticks != rec[START_TICKS]:
                return None
            comm = prev.comm
            if comm != rec[COMM]:
                if not prev.is_kernel_thread:
                    return None  # it exec'd: its cmdline changed too
                comm = self.intern.string(rec[COMM])  # kworkers rename themselves
            return Process(
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
) -> dict[int, Process]:
    """Every process in PROC keyed by pid (ascending).

    With PREVIOUS (the last scan), a process with the same pid, start time and comm keeps
    its namespaces, cmdline, uid, NSpid and odd threads unless ``recheck(pid)`` is true; its
    state, CPU time, RSS and thread count are always read afresh. With INTERVAL (seconds
    since PREVIOUS was taken) a process also found in PREVIOUS gets ``cpu_percent``.
    CGROUPS_KNOWN maps pids to their {hierarchy id: cgroup path} as the cgroup walk found
    them; those pids' /proc/PID/cgroup is not read, and they take that membership. It may
    be a function computing that map (the walk): it is then called while the helper process
    reads its share; a process the walk did not place has its /proc/PID/cgroup read.
    HOST_PIDNS is the pid namespace PROC shows (default: this process's), whose members need
    no /proc/PID/status read for NSpid. PARALLEL lets a helper process read part of a large
    scan. CACHE (kept by the caller between scans) makes refreshes cheaper.
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
    builder = _Builder(intern, boot_time(proc), prev, known_cg, interval)
    all_pids = list_pids(proc) if pids is None else list(pids)
    if pids is None:
        cache.keep_only(all_pids)

    # Processes seen before need only their stat (the fast path); the rest a full read.
    fast: list[Process] = []
    full: list[int] = []
    for pid in all_pids:
        p = prev.get(pid)
        if p is None or not p.start_ticks or (recheck is not None and recheck(pid)):
            full.append(pid)
        else:
            fast.append(p)

    out: dict[int, Process] = {}

    def read_full(pid: int) -> None:
        rec = read_record(proc, pid, -1, pid not in builder.cgroups_known, host_key, check_threads)
        if rec is not None:
            built = builder.build(rec)
            if built is not None:
                out[pid] = built

    helper_failed = False
    walked = known_later is not None  # the helper leaves cgroups to the walk

    def build_batch() -> bool:
        """Build the helper's next batch; False after its last (or when it failed)."""
        nonlocal helper_failed
        try:
            records = _helper.batch()
        except (OSError, EOFError, ValueError):
            helper_failed = True
            return False
        if records is None:
            return False
        known = builder.cgroups_known
        for rec in records:
            if walked and len(rec) > FAST_LEN and rec[0] not in known and rec[STATE] != "Z":
                rec = _with_cgroup_file(proc, rec)  # not placed by the walk: new since
            built = builder.build(rec)
            if built is not None:
                out[built.pid] = built
        return True

    helper_pids: list[int] = []
    own_full = full
    pending = False
    use_helper = parallel and len(full) >= PARALLEL_MIN and _helper.lock.acquire(False)
    try:
        if use_helper:
            cut = int(20 * HELPER_SHARE)
            helper_pids = [p for i, p in enumerate(full) if i % 20 < cut]
            own_full = [p for i, p in enumerate(full) if i % 20 >= cut]
            try:
                _helper.submit(
                    (
                        proc,
                        helper_pids,
                        [-1] * len(helper_pids),
                        # with a walk to come, its membership places them (build_batch)
                        [not walked and p not in known_cg for p in helper_pids],
                        host_key,
                        check_threads,
                    )
                )
            except OSError:
                own_full, helper_pids = full, []
        if known_later is not None:
            builder.cgroups_known = known_later()
        for p in fast:
            _refresh_one(p, proc, cache, builder, out, read_full)
        pending = bool(helper_pids)
        for i, pid in enumerate(own_full):
            read_full(pid)
            # build the helper's batches as they come: none are left for the end
            if pending and i % 32 == 31 and _helper.ready():
                pending = build_batch()
        while pending:
            pending = build_batch()
        if helper_failed:  # it died: read the rest of its share here
            for pid in helper_pids:
                if pid not in out:
                    read_full(pid)
    finally:
        if use_helper:
            if pending:  # an exception left batches in the pipe: the next answer must not
                _helper.close()  # start with them
            _helper.lock.release()
    return {pid: out[pid] for pid in sorted(out)}


def _with_cgroup_file(proc: str, rec: Record) -> Record:
    """REC with the text of its /proc/PID/cgroup (unchanged when that cannot be read)."""
    try:
        with open(f"{proc}/{rec[0]}/cgroup", "rb") as f:
            raw = f.read()
    except OSError:
        return rec
    return (*rec[:CGROUP_RAW], raw, *rec[CGROUP_RAW + 1 :])


def _refresh_one(
    prev: Process,
    proc: str,
    cache: ScanCache,
    builder: _Builder,
    out: dict[int, Process],
    read_full: Callable[[int], None],
) -> None:
    """Re-read the stat of a process seen before; a full read if it is not the same one."""
    pid = prev.pid
    fd = cache.stat_fd(proc, pid)
    try:
        data = procread.read_stat(proc, pid) if fd is None else os.pread(fd, 4096, 0)
    except OSError:
        # ESRCH: the process we kept the fd of exited (the pid may be reused: read it anew)
        cache.forget(pid)
        read_full(pid)
        return
    if not data:
        cache.forget(pid)
        read_full(pid)
        return
    cgroups = builder.cgroups_known.get(pid, prev.cgroups)
    if (
        data == cache.raw.get(pid)
        and prev.cpu_percent == (None if builder.pct_per_tick is None else 0.0)
        and (cgroups is prev.cgroups or cgroups == prev.cgroups)
    ):
        out[pid] = prev  # nothing moved: not even a tick of CPU
        return
    cache.raw[pid] = data
    try:
        built = builder.build(procread.parse_stat(pid, data))
    except (ValueError, IndexError):
        built = None
    if built is None:  # another process under this pid, or an exec: read it in full
        cache.forget(pid)
        read_full(pid)
    else:
        out[pid] = built
