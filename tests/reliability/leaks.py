"""Inventory of the kernel objects tests can leave behind, and the comparison that finds leaks.

Taken at session start and end (tests/conftest.py) and around benchmark runs
(benchmarks/reliability.py): overlay/aufs/nsfs mounts and any mount under the test's temporary
base directory, in every mount namespace this process can see; cgroup directories in every
hierarchy; /run/netns entries; processes descended from (or started by) the test session.

Other people use this machine while the suite runs (other test sessions, the machinery that
runs this sandbox). So a new object counts as a leak only when it carries a test marker:
its path is under the session's temporary base directory, or names the session tag, or
contains ``nstui-test``; a process counts when its ancestor chain reaches the session's pid
or its environment carries the session tag. New objects without a marker are listed as notes.
Generic ``nstui-test`` objects seen while another pytest session runs on the machine may be
that session's; they are reported as such, not counted.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from nstui.kernel.mountinfo import Mount, parse_mountinfo

#: Environment variable every process the session starts inherits (unless its env is replaced).
SESSION_ENV = "NSTUI_TEST_SESSION"
#: Name prefix of every cgroup, netns and mount a test creates outside its tmp_path.
TEST_MARKER = "nstui-test"
#: The sandbox's own cgroup subtree (the machinery that runs sessions), never ours.
FOREIGN_CGROUP_TOPS = frozenset({"process_api"})
#: Mount types that are interesting even without a marker (listed as notes when new).
UNION_OR_NS_FSTYPES = frozenset({"overlay", "aufs", "nsfs"})


@dataclass(frozen=True, slots=True)
class MountEntry:
    mntns: str  # "mnt:[inode]" of the namespace it was seen in
    seen_via: int  # a pid of that mount namespace
    mount_id: int
    mountpoint: str
    fstype: str
    source: str
    root: str

    def describe(self) -> str:
        what = self.root if self.fstype == "nsfs" else self.source
        where = f"{self.mntns} via pid {self.seen_via}"
        return f"mount {self.mountpoint} ({self.fstype} {what}) in {where}"


@dataclass(frozen=True, slots=True)
class ProcEntry:
    pid: int
    ppid: int
    start_ticks: int  # field 22 of /proc/PID/stat: tells a reused pid apart
    state: str
    comm: str
    cmdline: str
    tagged: bool  # environment carries the session tag

    def describe(self) -> str:
        return f"process {self.pid} ({self.cmdline or '[' + self.comm + ']'}) state {self.state}"


@dataclass(frozen=True, slots=True)
class Inventory:
    mounts: frozenset[MountEntry]
    cgroups: frozenset[str]  # absolute directory paths
    netns: frozenset[str]  # /run/netns entries
    processes: dict[int, ProcEntry] = field(default_factory=dict)  # session's processes only
    other_sessions: frozenset[int] = frozenset()  # pids of other pytest runs seen
    #: this process's mount namespace and those of the session's processes: a marked mount
    #: elsewhere is a copy made when someone else's process unshared its mount namespace
    session_mntns: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Markers:
    """What makes an object the session's own."""

    tag: str  # session tag, also in SESSION_ENV
    session_pid: int  # the pytest (or benchmark) process
    basetemp: str | None  # the session's temporary base directory, when it has one

    def owns_path(self, path: str) -> bool:
        """Certainly the session's: under its basetemp or naming its tag."""
        if self.tag in path:
            return True
        return self.basetemp is not None and (
            path == self.basetemp or path.startswith(self.basetemp.rstrip("/") + "/")
        )

    def marks_path(self, path: str) -> bool:
        """Carries a generic test marker (could be another test session's)."""
        return TEST_MARKER in path


@dataclass(frozen=True, slots=True)
class LeakReport:
    leaks: tuple[str, ...]  # counted: fail the run
    maybe_others: tuple[str, ...]  # marked, but another pytest session was running
    notes: tuple[str, ...]  # new since start, without a marker
    zombies: tuple[str, ...]  # unreaped children: not running, listed for information

    @property
    def ok(self) -> bool:
        return not self.leaks

    def lines(self) -> list[str]:
        out: list[str] = []
        if self.leaks:
            out.append(f"LEAKED by this test session ({len(self.leaks)}):")
            out += [f"  {item}" for item in self.leaks]
        if self.maybe_others:
            out.append("test-marked objects, possibly another pytest session's (not counted):")
            out += [f"  {item}" for item in self.maybe_others]
        if self.zombies:
            out.append("unreaped child processes (zombies, not counted):")
            out += [f"  {item}" for item in self.zombies]
        if self.notes:
            out.append("new since session start, without a test marker (not counted):")
            out += [f"  {item}" for item in self.notes]
        return out


# --- reading -------------------------------------------------------------------------------


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError:
        return None


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _stat_fields(pid: int) -> tuple[str, list[str]] | None:
    """(comm, fields after the comm) of /proc/PID/stat; comm may hold spaces and ')'."""
    text = _read(f"/proc/{pid}/stat")
    if text is None or ")" not in text:
        return None
    head, _, tail = text.rpartition(")")
    return head.partition("(")[2], tail.split()


ProcTable = dict[int, tuple[int, str, str, int]]  # pid -> (ppid, state, comm, start ticks)


def _ppid_map() -> ProcTable:
    """pid -> (ppid, state, comm, start_ticks) for every readable process."""
    out: ProcTable = {}
    for pid in _pids():
        parsed = _stat_fields(pid)
        if parsed is None:
            continue
        comm, rest = parsed
        try:
            out[pid] = (int(rest[1]), rest[0], comm, int(rest[19]))
        except (IndexError, ValueError):
            continue
    return out


def _cmdline(pid: int) -> str:
    raw = _read(f"/proc/{pid}/cmdline")
    return " ".join(part for part in (raw or "").split("\0") if part)


def _environ_has(pid: int, needle: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return needle.encode() in f.read()
    except OSError:
        return False


def _mount_namespaces() -> Iterator[tuple[str, int]]:
    """One (mnt ns text, pid) per distinct mount namespace this process can see."""
    seen: set[str] = set()
    for pid in [os.getpid(), *_pids()]:
        try:
            ns = os.readlink(f"/proc/{pid}/ns/mnt")
        except OSError:
            continue
        if ns not in seen:
            seen.add(ns)
            yield ns, pid


def _interesting_mount(mount: Mount, markers: Markers) -> bool:
    return (
        mount.fstype in UNION_OR_NS_FSTYPES
        or markers.owns_path(mount.mountpoint)
        or markers.marks_path(mount.mountpoint)
    )


def list_mounts(markers: Markers) -> frozenset[MountEntry]:
    entries: set[MountEntry] = set()
    for ns, pid in _mount_namespaces():
        text = _read(f"/proc/{pid}/mountinfo")
        if text is None:
            continue
        for mount in parse_mountinfo(text):
            if _interesting_mount(mount, markers):
                entries.add(
                    MountEntry(
                        mntns=ns,
                        seen_via=pid,
                        mount_id=mount.mount_id,
                        mountpoint=mount.mountpoint,
                        fstype=mount.fstype,
                        source=mount.source,
                        root=mount.root,
                    )
                )
    return frozenset(entries)


def cgroup_mountpoints() -> list[str]:
    """Mount points of every cgroup hierarchy (v1 and v2) in this mount namespace."""
    text = _read("/proc/self/mountinfo") or ""
    points: list[str] = []
    for mount in parse_mountinfo(text):
        if mount.fstype in ("cgroup", "cgroup2") and mount.mountpoint not in points:
            points.append(mount.mountpoint)
    return points


def _walk_cgroup(top: str) -> Iterator[str]:
    stack = [top]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                children = [e.path for e in it if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue  # removed mid-walk
        for child in children:
            yield child
            stack.append(child)


def list_cgroups() -> frozenset[str]:
    dirs: set[str] = set()
    for mountpoint in cgroup_mountpoints():
        try:
            with os.scandir(mountpoint) as it:
                tops = [
                    e.path
                    for e in it
                    if e.is_dir(follow_symlinks=False) and e.name not in FOREIGN_CGROUP_TOPS
                ]
        except OSError:
            continue
        for top in tops:
            dirs.add(top)
            dirs.update(_walk_cgroup(top))
    return frozenset(dirs)


def list_netns(run_netns: str = "/run/netns") -> frozenset[str]:
    try:
        return frozenset(os.path.join(run_netns, name) for name in os.listdir(run_netns))
    except OSError:
        return frozenset()


def session_processes(markers: Markers, table: ProcTable | None = None) -> dict[int, ProcEntry]:
    """Processes whose ancestor chain reaches the session pid, or reaches an orphan (a
    process re-parented to pid 1) whose environment carries the session tag: a test's
    process that lost its parent is still found. The session process itself is excluded.
    Only orphans' environments are read, so this stays cheap on a host with 10,000 processes.
    """
    table = _ppid_map() if table is None else table
    needle = f"{SESSION_ENV}={markers.tag}"
    tagged_orphans = {
        pid
        for pid, (ppid, *_) in table.items()
        if ppid <= 1 and pid != markers.session_pid and _environ_has(pid, needle)
    }
    roots = {markers.session_pid} | tagged_orphans
    known: dict[int, bool] = {}

    def belongs(pid: int) -> bool:
        chain: list[int] = []
        cursor = table.get(pid, (0, "", "", 0))[0]
        while cursor not in known and cursor > 1 and cursor not in roots and len(chain) < 4096:
            chain.append(cursor)
            cursor = table.get(cursor, (0, "", "", 0))[0]
        answer = known.get(cursor, cursor in roots)
        for link in chain:
            known[link] = answer
        return answer

    out: dict[int, ProcEntry] = {}
    for pid, (ppid, state, comm, start) in table.items():
        if pid != markers.session_pid and (pid in tagged_orphans or belongs(pid)):
            tagged = pid in tagged_orphans
            out[pid] = ProcEntry(pid, ppid, start, state, comm, _cmdline(pid), tagged)
    return out


def other_pytest_sessions(
    markers: Markers, table: ProcTable | None = None, ours: Iterable[int] = ()
) -> frozenset[int]:
    """pids of pytest runs on this machine that are not this session, its ancestors or
    its descendants: their objects may carry the generic marker too."""
    table = _ppid_map() if table is None else table
    mine: set[int] = {markers.session_pid, *ours}
    cursor = markers.session_pid
    while cursor in table and cursor > 1:
        cursor = table[cursor][0]
        mine.add(cursor)
    found: set[int] = set()
    for pid, (_, _, comm, _) in table.items():
        if pid in mine or not comm.startswith("py"):  # python, python3.11, pytest
            continue
        argv = _cmdline(pid)
        if "pytest" in argv or "py.test" in argv:
            found.add(pid)
    return frozenset(found)


def _mntns_of(pids: Iterable[int]) -> frozenset[str]:
    found: set[str] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            found.add(os.readlink(f"/proc/{pid}/ns/mnt"))
    return frozenset(found)


def take_inventory(markers: Markers) -> Inventory:
    table = _ppid_map()
    processes = session_processes(markers, table)
    return Inventory(
        mounts=list_mounts(markers),
        cgroups=list_cgroups(),
        netns=list_netns(),
        processes=processes,
        other_sessions=other_pytest_sessions(markers, table, processes),
        session_mntns=_mntns_of([os.getpid(), *processes]),
    )


# --- comparing -----------------------------------------------------------------------------


def _classify(
    path: str, markers: Markers, others_running: bool
) -> str:  # "leak" | "maybe" | "note"
    if markers.owns_path(path):
        return "leak"
    if markers.marks_path(path):
        return "maybe" if others_running else "leak"
    return "note"


def compare(before: Inventory, after: Inventory, markers: Markers) -> LeakReport:
    others_running = bool(before.other_sessions or after.other_sessions)
    buckets: dict[str, list[str]] = {"leak": [], "maybe": [], "note": []}
    old_mounts = {(m.mount_id, m.mountpoint) for m in before.mounts}
    copies = 0
    for m in sorted(after.mounts, key=lambda m: (m.mntns, m.mount_id)):
        if (m.mount_id, m.mountpoint) in old_mounts:
            continue
        if m.mntns not in after.session_mntns:
            copies += 1
            continue
        buckets[_classify(m.mountpoint, markers, others_running)].append(m.describe())
    if copies:
        buckets["note"].append(
            f"{copies} new mounts seen only in other processes' mount namespaces (copies made "
            "when they unshared; not the session's)"
        )
    for top, below in collapse_tree(after.cgroups - before.cgroups):
        buckets[_classify(top, markers, others_running)].append(describe_cgroup(top, below))
    for path in sorted(after.netns - before.netns):
        buckets[_classify(path, markers, others_running)].append(f"netns entry {path}")
    zombies: list[str] = []
    for pid, proc in sorted(after.processes.items()):
        old = before.processes.get(pid)
        if old is not None and old.start_ticks == proc.start_ticks:
            continue
        if proc.state in ("Z", "X"):
            zombies.append(proc.describe())
        else:
            buckets["leak"].append(proc.describe())
    return LeakReport(
        leaks=tuple(buckets["leak"]),
        maybe_others=tuple(buckets["maybe"]),
        notes=tuple(buckets["note"]),
        zombies=tuple(zombies),
    )


def collapse_tree(paths: Iterable[str]) -> list[tuple[str, int]]:
    """(top-most path, how many of the others are below it), in path order: a new parent
    with 100 new children is one line."""
    ordered = sorted(paths)
    out: list[tuple[str, int]] = []
    for path in ordered:
        if out and path.startswith(out[-1][0] + "/"):
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((path, 0))
    return out


def describe_cgroup(top: str, below: int) -> str:
    return f"cgroup {top}" + (f" (and {below} cgroups below it)" if below else "")


def settle(
    before: Inventory, markers: Markers, grace: float = 2.0, step: float = 0.2
) -> tuple[Inventory, LeakReport]:
    """Compare now; while leaks remain, look again for up to ``grace`` seconds (a process
    killed at teardown may still be exiting; a concurrent user's object may be transient)."""
    deadline = time.monotonic() + grace
    while True:
        after = take_inventory(markers)
        report = compare(before, after, markers)
        if report.ok or time.monotonic() >= deadline:
            return after, report
        time.sleep(step)


def leak_count(report: LeakReport) -> int:
    return len(report.leaks)


def iter_leaked_processes(before: Inventory, after: Inventory) -> Iterable[ProcEntry]:
    for pid, proc in after.processes.items():
        old = before.processes.get(pid)
        if (old is None or old.start_ticks != proc.start_ticks) and proc.state not in "ZX":
            yield proc
