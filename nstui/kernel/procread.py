"""Raw per-process reads of /proc into plain tuples, here or in a helper process.

At 10,000 processes a scan is ~150,000 syscalls, most of the time spent in the kernel, and
one Python thread cannot use the second core (threads measured no faster here: the GIL and
shared /proc dentries). So ``nstui.kernel.procfs`` hands chunks of the pids to a helper
process running this file (``serve``, ``Answerer``: it keeps its own stat fds, and
remembers what it sent to leave unchanged processes out). The file imports only the
standard library, so the helper starts with ``python -S`` in ~10 ms; records are plain
tuples so ``marshal`` carries them.

A record is ``None``-free and one of (indices below):

- gone: (pid,) -- the process vanished (or is hidden from us);
- fast: (pid, ppid, state, comm, nthreads, cpu_ticks, rss_pages, start_ticks, raw) -- the
  process has the start time the caller said it knew, and needs no recheck: its slow facts
  stand; raw is the text of /proc/PID/stat the fields come from;
- full: fast + (cmdline, uid, nspid, ns_key, cgroup_raw, odd_threads, unreadable), where
  cmdline is a tuple of str, uid an int or -1, nspid a tuple of ints, ns_key the (dev, ino)
  of each type in NS_NAMES order flattened with (0, 0) for a missing type (empty when the
  links are refused), cgroup_raw the bytes of /proc/PID/cgroup (b"" when not asked for),
  odd_threads a tuple of (tid, ((type index, dev, ino), ...)), unreadable a tuple of names,
  ns_fds the (fd number, link text) of each open fd on a namespace (empty unless asked).
"""

from __future__ import annotations

import collections
import fcntl
import gc
import marshal
import os
import resource
import select
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

#: Namespace link names, in nstui.kernel.nstypes.NS_TYPES order (checked by a test).
NS_NAMES: tuple[str, ...] = ("pid", "net", "mnt", "uts", "ipc", "user", "cgroup", "time")
#: Indices (into NS_NAMES) of the types one thread can change alone: net, uts, ipc, cgroup.
THREAD_NS_INDICES: tuple[int, ...] = (1, 3, 4, 6)

# record fields
PID, PPID, STATE, COMM, NTHREADS, CPU_TICKS, RSS_PAGES, START_TICKS, RAW = range(9)
CMDLINE, UID, NSPID, NS_KEY, CGROUP_RAW, ODD_THREADS, UNREADABLE, NS_FDS = range(9, 17)
FAST_LEN = 9
GONE_LEN = 1

Record = tuple[Any, ...]

#: "The process is gone" (psutil handles the same races): its /proc/PID directory vanished
#: (ENOENT) or it exited between open and read (ESRCH).
_GONE = (FileNotFoundError, ProcessLookupError)
_O_RDONLY = os.O_RDONLY | os.O_CLOEXEC


def _read(path: str, size: int = 4096) -> bytes:
    """A whole small /proc file with the fewest syscalls (open, read, close)."""
    fd = os.open(path, _O_RDONLY)
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


def _ns_key(base: str) -> tuple[int, ...] | None:
    """(dev, ino) of each namespace of the process at BASE, by stat(2) of its ns links (the
    identity, not the link text). None when refused (EACCES: pid 1 here, even for root)."""
    try:
        sts = _each_link(os.stat, base)
    except FileNotFoundError:
        return _ns_key_partial(base)
    if sts is None:
        return None
    return tuple([v for st in sts for v in (st.st_dev, st.st_ino)])


_Read = TypeVar("_Read")


def _each_link(read: Callable[[str], _Read], base: str) -> list[_Read] | None:
    """READ (stat, readlink) of each namespace link of the process at BASE, in NS_NAMES
    order; None when refused (EACCES: the ptrace access check, pid 1 here even for root).
    Raises FileNotFoundError when a link is missing (a zombie keeps only its pid link, an
    old kernel lacks time) and ProcessLookupError when the process is gone."""
    prefix = base + "ns/"
    try:
        return [read(prefix + name) for name in NS_NAMES]
    except (FileNotFoundError, ProcessLookupError):
        raise
    except OSError:
        return None


class NsKeys:
    """The namespace identities met in one scan, by the text of the link that led to them.

    A namespace's identity is the (dev, ino) stat(2) gives for a link to it (namespaces(7)),
    but stat follows the link into nsfs, which makes and frees a dentry and an inode every
    time: ~6 us a link, against ~2.7 us to readlink(2) it, and a process has eight. So
    ``key`` reads each link's text and stats only a text this scan has not met yet; later
    links with that text take the identity that stat gave. The text is a key, never the
    identity: every namespace lives on the one nsfs device, where the text names the inode,
    and a text is remembered only when it names the inode stat found (a process that changed
    namespace between the two calls is taken as stat saw it, and nothing is remembered).
    One instance per scan (per request in the helper), so each snapshot stats every
    namespace it shows at least once.
    """

    __slots__ = ("_by_set", "_by_text")

    def __init__(self) -> None:
        self._by_text: dict[str, tuple[int, int]] = {}
        # the eight texts of a process -> its key: most processes share a set with another
        self._by_set: dict[tuple[str, ...], tuple[int, ...]] = {}

    def key(self, base: str) -> tuple[int, ...] | None:
        """As _ns_key: (dev, ino) of each namespace of the process at BASE."""
        try:
            links = _each_link(os.readlink, base)
        except FileNotFoundError:
            return _ns_key_partial(base)
        if links is None:
            return None
        texts = tuple(links)
        found = self._by_set.get(texts)
        if found is not None:
            return found
        by_text = self._by_text
        out: list[int] = []
        for name, text in zip(NS_NAMES, texts, strict=True):
            ident = by_text.get(text)
            if ident is None:
                try:
                    st = os.stat(f"{base}ns/{name}")
                except FileNotFoundError:
                    return _ns_key_partial(base)
                except ProcessLookupError:
                    raise
                except OSError:
                    return None
                ident = (st.st_dev, st.st_ino)
                if text != f"{name}:[{st.st_ino}]":
                    # it moved between readlink and stat: this process as stat saw it, and
                    # no key for its eight texts (they are not all current)
                    return _ns_key(base)
                by_text[text] = ident
            out += ident
        key = self._by_set[texts] = tuple(out)
        return key


def _ns_key_partial(base: str) -> tuple[int, ...] | None:
    """As _ns_key, when a link is missing: a zombie keeps only its pid link, an old kernel
    lacks time. The process is gone only if its directory is."""
    key: list[int] = []
    for name in NS_NAMES:
        try:
            st = os.stat(base + "ns/" + name)
        except FileNotFoundError:
            if not os.path.isdir(base):
                raise
            key += (0, 0)
            continue
        except ProcessLookupError:
            raise
        except OSError:
            return None
        key += (st.st_dev, st.st_ino)
    return tuple(key)


def _odd_threads(base: str, pid: int, key: tuple[int, ...]) -> tuple[Any, ...]:
    """Threads of PID whose net/uts/ipc/cgroup namespace differs from the leader's."""
    try:
        tids = os.listdir(base + "task")
    except _GONE:
        return ()
    odd: list[Any] = []
    for name in tids:
        if name == str(pid):
            continue
        prefix = f"{base}task/{name}/ns/"
        diff: list[tuple[int, int, int]] = []
        try:
            for i in THREAD_NS_INDICES:
                if not key[2 * i + 1]:
                    continue
                st = os.stat(prefix + NS_NAMES[i])
                if st.st_ino != key[2 * i + 1] or st.st_dev != key[2 * i]:
                    diff.append((i, st.st_dev, st.st_ino))
        except (*_GONE, PermissionError):
            continue  # the thread exited (or is refused): nothing to report for it
        if diff:
            odd.append((int(name), tuple(diff)))
    return tuple(odd)


def _status(base: str, pid: int, unreadable: list[str]) -> tuple[int, tuple[int, ...]]:
    """(effective uid or -1, NSpid chain) from /proc/PID/status."""
    try:
        data = _read(base + "status", 8192)
    except _GONE:
        raise
    except OSError:
        unreadable.append("uid")
        return -1, (pid,)
    uid = -1
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


def read_stat(proc: str, pid: int) -> bytes:
    """The text of /proc/PID/stat (raises FileNotFoundError/ProcessLookupError if gone)."""
    return _read(f"{proc}/{pid}/stat")


def parse_stat(pid: int, data: bytes) -> Record:
    """A fast record from the text of /proc/PID/stat."""
    # comm may hold spaces and parentheses: split at the last ")"
    close = data.rindex(b")")
    f = data[close + 2 :].split(maxsplit=22)
    return (
        pid,
        int(f[1]),
        f[0].decode(),
        data[data.index(b"(") + 1 : close].decode("utf-8", "surrogateescape"),
        int(f[17]),
        int(f[11]) + int(f[12]),
        int(f[21]),
        int(f[19]),
        data,
    )


def read_record(
    proc: str,
    pid: int,
    known_ticks: int,
    want_cgroup: bool,
    host_pidns: tuple[int, int],
    check_threads: bool,
) -> Record | None:
    """One process's record, or None when it vanished.

    KNOWN_TICKS: the start time (clock ticks) the caller already knows this pid by, -1 for
    none; a match gives a fast record. WANT_CGROUP: read /proc/PID/cgroup (the caller may
    know the membership from the cgroup walk). HOST_PIDNS: (dev, ino) of the pid namespace
    PROC shows; its members' NSpid is just the pid, so /proc/PID/status is not read.
    """
    rec = read_item(proc, pid, known_ticks, b"", want_cgroup, host_pidns, check_threads, None)
    return None if rec is None or len(rec) == GONE_LEN else rec


def read_item(
    proc: str,
    pid: int,
    known_ticks: int,
    expected: bytes,
    want_cgroup: bool,
    host_pidns: tuple[int, int],
    check_threads: bool,
    files: StatFiles | None,
    verify: tuple[Any, ...] = (),
    want_fds: bool = False,
    ns_keys: NsKeys | None = None,
) -> Record | None:
    """As read_record, with more inputs: EXPECTED, the /proc/PID/stat text the caller last
    saw (b"" for none); FILES, kept stat fds to read it through; VERIFY, for a process known
    by KNOWN_TICKS, (uid, link text of each namespace type in NS_NAMES order, "" for
    unknown) as the caller knows them: a full record if any differs (see ``still_same``);
    WANT_FDS, list the process's fds on namespaces in a full record; NS_KEYS, the scan's
    namespace identities met so far (None: stat every link).
    Returns None when the stat text equals EXPECTED (nothing moved, not even a tick of CPU)
    and VERIFY holds, a gone record (pid,) when the process vanished."""
    try:
        data = files.read(proc, pid) if files is not None else _read(f"{proc}/{pid}/stat")
    except OSError:
        # gone (ENOENT, ESRCH), or hidden (hidepid: EACCES): nothing to describe
        return (pid,)
    if expected and data == expected and not verify:
        return None
    try:
        fast = parse_stat(pid, data)
    except (ValueError, IndexError):  # empty (exited between open and read), or garbage
        return (pid,)
    if fast[START_TICKS] == known_ticks and (
        not verify or still_same(proc, pid, verify, fast[NTHREADS] > 1 and check_threads)
    ):
        return None if expected and data == expected else fast
    return _full_record(proc, pid, fast, want_cgroup, host_pidns, check_threads, want_fds, ns_keys)


def read_kept(fd: int, pid: int, known_ticks: int, expected: bytes) -> Record | None:
    """read_item's commonest case (most of a refresh), for a process known by KNOWN_TICKS
    that needs no verifying, through FD, its kept stat fd: None when the stat text equals
    EXPECTED, a fast record when only its figures moved, and () when read_item must decide
    (gone, refused, not a stat text, another process under the pid)."""
    try:
        data = os.pread(fd, 4096, 0)
    except OSError:
        return ()
    if not data:
        return ()
    if data == expected:
        return None
    try:
        fast = parse_stat(pid, data)
    except (ValueError, IndexError):
        return ()
    return fast if fast[START_TICKS] == known_ticks else ()


def still_same(proc: str, pid: int, verify: tuple[Any, ...], threads: bool) -> bool:
    """Whether the process still has the uid and namespaces of VERIFY (see read_item).

    This only detects a change (setuid, setns or unshare without exec): a namespace's
    identity is always taken by stat(2) (``_ns_key``, ``NsKeys``). The link text names the
    inode, and every namespace lives on the one nsfs device, so equal text means an equal
    (dev, ino); readlink(2) costs half a stat(2) of the link. A process whose threads are checked is
    read in full (a thread may have moved alone). The pid link is not read: it names the
    pid namespace the process was born in, which never changes (setns and unshare of a pid
    namespace change only where its children go)."""
    if threads:
        return False
    base = f"{proc}/{pid}/"
    readlink = os.readlink
    try:
        for name, text in zip(NS_NAMES[1:], verify[2:], strict=True):
            if text and readlink(base + "ns/" + name) != text:
                return False
        # the owner of /proc/PID is the effective uid, even for a process that is not
        # dumpable (the kernel keeps this for procps; other /proc/PID files differ)
        if os.stat(base).st_uid != verify[0]:
            return False
    except OSError:
        return False
    return True


def _full_record(
    proc: str,
    pid: int,
    fast: Record,
    want_cgroup: bool,
    host_pidns: tuple[int, int],
    check_threads: bool,
    want_fds: bool = False,
    ns_keys: NsKeys | None = None,
) -> Record:
    """FAST plus the slow facts: namespaces, cgroups, cmdline, uid, NSpid, odd threads, and
    with WANT_FDS the fds it holds on namespaces."""
    base = f"{proc}/{pid}/"
    state, nthreads = fast[STATE], fast[NTHREADS]
    unreadable: list[str] = []
    try:
        key = _ns_key(base) if ns_keys is None else ns_keys.key(base)
        if key is None:
            unreadable.append("ns")
            key = ()
        cgroup_raw = b""
        if want_cgroup:
            try:
                cgroup_raw = _read(base + "cgroup")
            except _GONE:
                raise
            except OSError:  # EACCES and the like: unknown, not fatal
                unreadable.append("cgroups")
        try:
            raw = _read(base + "cmdline")
            # one decode, then split: NUL is ASCII, so this equals decoding each argument
            cmdline = (
                tuple(raw.rstrip(b"\0").decode("utf-8", "surrogateescape").split("\0"))
                if raw
                else ()
            )
        except _GONE:
            raise
        except OSError:
            cmdline = ()
            unreadable.append("cmdline")
        uid: int
        nspid: tuple[int, ...]
        if key and key[0] == host_pidns[0] and key[1] == host_pidns[1]:
            # Our own pid namespace: NSpid is the pid. The owner of /proc/PID is the
            # effective uid (procps reads it the same way); status is the costliest file.
            uid, nspid = os.stat(base).st_uid, (pid,)
        else:
            uid, nspid = _status(base, pid, unreadable)
        odd = _odd_threads(base, pid, key) if check_threads and nthreads > 1 and key else ()
        kernel_thread = not cmdline and fast[PPID] in (0, 2) and pid != 1
        fds = _ns_fds(base) if want_fds and not kernel_thread else ()  # (they have none)
    except _GONE:
        if state != "Z":
            return (pid,)
        # A zombie lost its namespaces and memory but is still a process.
        key, cgroup_raw, cmdline, uid, nspid, odd, unreadable = (), b"", (), -1, (pid,), (), []
        fds = ()
    return (*fast, cmdline, uid, nspid, key, cgroup_raw, odd, tuple(unreadable), fds)


_NS_PREFIXES = tuple(name + ":[" for name in NS_NAMES)


def _ns_fds(base: str) -> tuple[tuple[str, str], ...]:
    """(fd number, link text) of each open fd of the process at BASE on a namespace (an
    nsfs file: its link reads ``net:[4026532281]``). One open, getdents and close of the fd
    directory, then one readlink per fd relative to it (no path walk per fd). Empty when
    the directory is refused (no ptrace rights) or gone."""
    try:
        dir_fd = os.open(base + "fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return ()
    found: list[tuple[str, str]] = []
    try:
        readlink = os.readlink
        for name in os.listdir(dir_fd):
            try:
                text = readlink(name, dir_fd=dir_fd)
            except OSError:
                continue  # closed since the listing
            if text[-1:] == "]" and text.startswith(_NS_PREFIXES):
                found.append((name, text))
    except OSError:
        pass  # the process exited while we listed its fds
    finally:
        os.close(dir_fd)
    return tuple(found)


class StatFiles:
    """Kept-open /proc/PID/stat fds, so that reading a process again is one pread() instead
    of open, read and close. A kept fd names one process, not a pid: once that process is
    gone the pread fails (ESRCH), and a new process under the same pid is opened afresh.

    The fds sit at numbers >= BASE (F_DUPFD; 0 for no moving), and at most LIMIT are kept;
    beyond that, processes are read the ordinary way.
    """

    __slots__ = ("base", "fds", "limit")

    def __init__(self, base: int, limit: int) -> None:
        self.base = base
        self.limit = limit
        self.fds: dict[int, int] = {}

    def read(self, proc: str, pid: int) -> bytes:
        """The stat text of PID (raises OSError when it is gone or refused)."""
        fd = self.fds.get(pid)
        if fd is not None:
            try:
                data = os.pread(fd, 4096, 0)
                if data:
                    return data
            except OSError:
                pass
            self.forget(pid)  # that process ended; the pid may name a new one
        if len(self.fds) >= self.limit:
            return _read(f"{proc}/{pid}/stat")
        fd = os.open(f"{proc}/{pid}/stat", _O_RDONLY)
        if self.base:
            try:
                fd = _moved(fd, self.base)
            except OSError:
                os.close(fd)
                raise
        try:
            data = os.pread(fd, 4096, 0)
        except OSError:
            os.close(fd)
            raise
        self.fds[pid] = fd
        return data

    def forget(self, pid: int) -> None:
        fd = self.fds.pop(pid, None)
        if fd is not None:
            os.close(fd)

    def keep_only(self, pids: Iterable[int]) -> None:
        """Close the fds of processes not in PIDS (they exited)."""
        alive = set(pids)
        for pid in [p for p in self.fds if p not in alive]:
            self.forget(pid)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


def _moved(fd: int, base: int) -> int:
    """FD moved to the lowest free number >= BASE (the old number is closed)."""
    try:
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base)
    finally:
        os.close(fd)


def raise_fd_limit(want: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards WANT (within the hard limit); the soft limit now.

    Distributions default to a soft limit of 1024 under a much higher hard one; raising our
    own soft limit is what the hard limit is for."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        raised = want if hard == resource.RLIM_INFINITY else min(hard, want)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    return 1 << 20 if soft == resource.RLIM_INFINITY else soft


# --- the helper process ---------------------------------------------------------------------

#: A read request: ("read", client, proc, pids, known_ticks, stamps, want_cgroup, verify,
#: host_pidns, check_threads, want_fds) (see read_item), answered by (serial, records): the
#: records in pid order, without the processes whose stat text is unchanged since the
#: answer to this CLIENT (a number naming one caller's cache) whose serial the caller gave
#: as their stamp (the caller built them from that answer, and carries them over; 0: none).
#: ("alive", pids) forgets other pids (they exited); it has no answer.
READ, ALIVE = "read", "alive"


class Answerer:
    """The helper's side of read requests: kept stat fds, and per client the stat text it
    last sent of each pid with the serial of that answer (so the caller need not send it
    back). Clients are the callers' scan caches; the latest CLIENTS are remembered."""

    CLIENTS = 4

    def __init__(self, files: StatFiles | None) -> None:
        self.files = files
        self.sent: dict[int, dict[int, tuple[int, bytes]]] = {}  # oldest client first
        # a new helper's serials never equal an old one's stamps
        self.serial = (os.getpid() << 32) + (int.from_bytes(os.urandom(3), "little") << 8)

    def _client(self, client: int) -> dict[int, tuple[int, bytes]]:
        sent = self.sent.pop(client, None)
        if sent is None:
            sent = {}
            while len(self.sent) >= self.CLIENTS:
                del self.sent[next(iter(self.sent))]
        self.sent[client] = sent  # now the latest
        return sent

    def answer(self, request: Sequence[Any]) -> tuple[int, list[Record]]:
        """The answer to a read request (see READ)."""
        _, client, proc, pids, known, stamps, want, verify, host_pidns, check, fds = request
        self.serial += 1
        serial, sent, files = self.serial, self._client(client), self.files
        out: list[Record] = []
        keys = NsKeys()
        kept = files.fds if files is not None else {}
        for pid, ticks, stamp, cg, verified in zip(pids, known, stamps, want, verify, strict=True):
            last = sent.get(pid)
            expected = last[1] if last is not None and stamp and last[0] == stamp else b""
            fd = kept.get(pid) if expected and not verified else None
            rec = () if fd is None else read_kept(fd, pid, ticks, expected)
            if rec == ():
                rec = read_item(
                    proc, pid, ticks, expected, cg, host_pidns, check, files, verified, fds, keys
                )
            if rec is None:
                continue
            if len(rec) == GONE_LEN:
                sent.pop(pid, None)
            else:
                sent[pid] = (serial, rec[RAW])
            out.append(rec)
        return serial, out

    def keep_only(self, pids: Iterable[int]) -> None:
        alive = set(pids)
        if self.files is not None:
            self.files.keep_only(alive)
        for sent in self.sent.values():
            for pid in [p for p in sent if p not in alive]:
                del sent[pid]


_LEN = struct.Struct("<Q")


def _read_exact(fd: int, n: int) -> bytes:
    chunks: list[bytes] = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("scan helper pipe closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _send(fd: int, obj: Any) -> None:
    blob = marshal.dumps(obj)
    _write_all(fd, _LEN.pack(len(blob)) + blob)


def _receive(fd: int) -> Any:
    (size,) = _LEN.unpack(_read_exact(fd, _LEN.size))
    return marshal.loads(_read_exact(fd, size))


#: Stat fds the helper keeps (it has no other use for fds above 2).
HELPER_FDS = 32768


def serve(rfd: int = 0, wfd: int = 1) -> None:
    """Helper main loop: answer requests until the parent closes the pipe."""
    # records are tuples of plain values, freed by reference counting: no cycles to find,
    # and the collector's passes over what is kept (the stat texts sent) cost time
    gc.disable()
    answerer = Answerer(StatFiles(0, max(0, raise_fd_limit(HELPER_FDS + 64) - 64)))
    while True:
        try:
            request = _receive(rfd)
        except EOFError:
            return
        if request[0] == ALIVE:
            answerer.keep_only(request[1])
        else:
            _send(wfd, answerer.answer(request))


#: F_SETPIPE_SZ, F_GETPIPE_SZ (linux/fcntl.h): a bigger pipe lets the helper run ahead.
_F_SETPIPE_SZ, _F_GETPIPE_SZ = 1031, 1032
_PIPE_DEFAULT = 65536


class ScanHelper:
    """A helper process running ``serve()``: started on first use, restarted after a
    failure, ended when closed or when this process exits (its stdin closes).

    Requests are pipelined: ``submit()`` several, then take their answers in order with
    ``reply()``; ``ready()`` says whether the next answer is there. While answers wait to be
    taken the helper may be blocked writing one, so requests the helper has not read yet
    must fit in its stdin pipe: ``submit()`` refuses one that would not (the caller reads it
    itself) rather than block forever."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._poll: select.poll | None = None
        self._capacity = _PIPE_DEFAULT
        #: (is a read request, bytes) of each request sent whose answer is not taken yet
        self._queued: collections.deque[tuple[bool, int]] = collections.deque()
        self.lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-S", "-E", "-s", os.path.abspath(__file__)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
                close_fds=True,
            )
            assert self._proc.stdout is not None and self._proc.stdin is not None
            for stream in (self._proc.stdout, self._proc.stdin):
                try:  # noqa: SIM105 (contextlib would slow the helper's start)
                    fcntl.fcntl(stream.fileno(), _F_SETPIPE_SZ, 1 << 20)
                except OSError:
                    pass  # over the unprivileged pipe quota: the default size works too
            try:
                self._capacity = fcntl.fcntl(self._proc.stdin.fileno(), _F_GETPIPE_SZ)
            except OSError:
                self._capacity = _PIPE_DEFAULT
            self._queued.clear()
            self._poll = select.poll()
            self._poll.register(self._proc.stdout.fileno(), select.POLLIN)
        return self._proc

    def submit(self, request: Sequence[Any]) -> bool:
        """Send REQUEST (READ: fetch its answer with ``reply()``; ALIVE: no answer). False,
        and nothing sent, when it would not fit beside the requests not yet answered."""
        proc = self._ensure()
        assert proc.stdin is not None
        blob = marshal.dumps(tuple(request))
        size = _LEN.size + len(blob)
        if self._queued and sum(n for _, n in self._queued) + size > self._capacity:
            return False
        try:
            _write_all(proc.stdin.fileno(), _LEN.pack(len(blob)) + blob)
        except OSError:
            self.close()
            raise
        self._queued.append((request[0] == READ, size))
        return True

    def ready(self) -> bool:
        """Whether ``reply()`` would answer without waiting (an answer, or an error)."""
        if self._poll is None or self._proc is None:
            return True
        return bool(self._poll.poll(0))

    def reply(self) -> tuple[int, list[Record]]:
        """The answer (serial, records) to the oldest read request not yet answered."""
        proc = self._proc
        if proc is None or proc.stdout is None:
            raise EOFError("scan helper not running")
        try:
            records: tuple[int, list[Record]] = _receive(proc.stdout.fileno())
        except (OSError, EOFError, ValueError):
            self.close()
            raise
        # the helper has read every request up to the one answered
        while self._queued and not self._queued.popleft()[0]:
            pass
        return records

    def close(self) -> None:
        proc, self._proc = self._proc, None
        self._poll = None
        self._queued.clear()
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    serve()
