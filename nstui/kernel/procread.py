"""Raw per-process reads of /proc into plain tuples, here or in a helper process.

At 10,000 processes a scan is ~150,000 syscalls, most of the time spent in the kernel, and
one Python thread cannot use the second core (threads measured no faster here: the GIL and
shared /proc dentries). So ``nstui.kernel.procfs`` can hand part of the pids to a helper
process running this file. The file imports only the standard library, so the helper starts
with ``python -S`` in ~10 ms; records are plain tuples so ``marshal`` carries them.

A record is ``None``-free and one of (indices below):

- fast: (pid, ppid, state, comm, nthreads, cpu_ticks, rss_pages, start_ticks) -- the process
  has the start time the caller said it knew, and needs no recheck: its slow facts stand;
- full: fast + (cmdline, uid, nspid, ns_key, cgroup_raw, odd_threads, unreadable), where
  cmdline is a tuple of str, uid an int or -1, nspid a tuple of ints, ns_key the (dev, ino)
  of each type in NS_NAMES order flattened with (0, 0) for a missing type (empty when the
  links are refused), cgroup_raw the bytes of /proc/PID/cgroup (b"" when not asked for),
  odd_threads a tuple of (tid, ((type index, dev, ino), ...)), unreadable a tuple of names.
"""

from __future__ import annotations

import marshal
import os
import select
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

#: Namespace link names, in nstui.kernel.nstypes.NS_TYPES order (checked by a test).
NS_NAMES: tuple[str, ...] = ("pid", "net", "mnt", "uts", "ipc", "user", "cgroup", "time")
#: Indices (into NS_NAMES) of the types one thread can change alone: net, uts, ipc, cgroup.
THREAD_NS_INDICES: tuple[int, ...] = (1, 3, 4, 6)

# record fields
PID, PPID, STATE, COMM, NTHREADS, CPU_TICKS, RSS_PAGES, START_TICKS = range(8)
CMDLINE, UID, NSPID, NS_KEY, CGROUP_RAW, ODD_THREADS, UNREADABLE = range(8, 15)
FAST_LEN = 8

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
    stat = os.stat
    prefix = base + "ns/"
    try:
        sts = [stat(prefix + name) for name in NS_NAMES]
    except FileNotFoundError:
        return _ns_key_partial(base)
    except ProcessLookupError:
        raise
    except OSError:  # EACCES (ptrace access check), or another refusal
        return None
    return tuple([v for st in sts for v in (st.st_dev, st.st_ino)])


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
    base = f"{proc}/{pid}/"
    try:
        data = _read(base + "stat")
        fast = parse_stat(pid, data)
    except (OSError, ValueError, IndexError):
        # gone (ENOENT, ESRCH, empty), or hidden (hidepid: EACCES): nothing to describe
        return None
    state, start_ticks, nthreads = fast[STATE], fast[START_TICKS], fast[NTHREADS]
    if start_ticks == known_ticks:
        return fast
    unreadable: list[str] = []
    try:
        key = _ns_key(base)
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
    except _GONE:
        if state != "Z":
            return None
        # A zombie lost its namespaces and memory but is still a process.
        key, cgroup_raw, cmdline, uid, nspid, odd, unreadable = (), b"", (), -1, (pid,), (), []
    return (*fast, cmdline, uid, nspid, key, cgroup_raw, odd, tuple(unreadable))


def read_records(request: Sequence[Any]) -> list[Record]:
    """Records for a request (proc, pids, known_ticks, want_cgroup, host_pidns,
    check_threads); vanished pids are left out."""
    proc, pids, known, want, host_pidns, check_threads = request
    out: list[Record] = []
    for pid, ticks, cg in zip(pids, known, want, strict=True):
        rec = read_record(proc, pid, ticks, cg, host_pidns, check_threads)
        if rec is not None:
            out.append(rec)
    return out


# --- the helper process ---------------------------------------------------------------------

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


#: Records per message from the helper: the caller builds each batch while the helper reads
#: the next, instead of building them all after the last.
BATCH = 256


def serve(rfd: int = 0, wfd: int = 1) -> None:
    """Helper main loop: answer requests until the parent closes the pipe. An answer is
    batches of records (lists), then None."""
    while True:
        try:
            request = _receive(rfd)
        except EOFError:
            return
        proc, pids, known, want, host_pidns, check_threads = request
        for i in range(0, len(pids), BATCH):
            part = slice(i, i + BATCH)
            _send(
                wfd,
                read_records(
                    (proc, pids[part], known[part], want[part], host_pidns, check_threads)
                ),
            )
        _send(wfd, None)


class ScanHelper:
    """A helper process running ``serve()``: started on first use, restarted after a
    failure, ended when closed or when this process exits (its stdin closes)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._poll: select.poll | None = None
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
            assert self._proc.stdout is not None
            self._poll = select.poll()
            self._poll.register(self._proc.stdout.fileno(), select.POLLIN)
        return self._proc

    def submit(self, request: Sequence[Any]) -> None:
        """Send REQUEST (as for read_records); fetch the answer with ``batch()`` until it
        gives None, or with ``result()``."""
        proc = self._ensure()
        assert proc.stdin is not None
        try:
            _send(proc.stdin.fileno(), tuple(request))
        except OSError:
            self.close()
            raise

    def ready(self) -> bool:
        """Whether ``batch()`` would answer without waiting (a batch, the end, or an error)."""
        if self._poll is None or self._proc is None:
            return True
        return bool(self._poll.poll(0))

    def batch(self) -> list[Record] | None:
        """The next batch of records of the submitted request; None after the last."""
        proc = self._proc
        if proc is None or proc.stdout is None:
            raise EOFError("scan helper not running")
        try:
            records: list[Record] | None = _receive(proc.stdout.fileno())
        except (OSError, EOFError, ValueError):
            self.close()
            raise
        return records

    def result(self) -> list[Record]:
        """Every record of the submitted request."""
        out: list[Record] = []
        while (records := self.batch()) is not None:
            out += records
        return out

    def close(self) -> None:
        proc, self._proc = self._proc, None
        self._poll = None
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
