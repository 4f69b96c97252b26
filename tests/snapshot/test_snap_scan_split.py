"""The scan split between this process and the helper process, on the real kernel: the
helper's answers (kept fds, unchanged processes left out, verification of namespaces and
uid) must give the same snapshot as reading everything here, and refreshes through it must
notice what changes without an exec."""

from __future__ import annotations

import dataclasses
import gc
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nstui.kernel import procfs
from nstui.kernel.cgroups.hierarchy import discover_hierarchies
from nstui.kernel.namespaces import build_namespaces
from nstui.kernel.nstypes import NsType
from nstui.kernel.procfs import scan_processes
from nstui.model.scanner import ROOT_EVERY, WALK_EVERY, LiveSource
from tests.reliability.churncheck import check_snapshot

from .conftest import wait_for
from .test_snap_scan import cgroup_path, pids_hid

NOBODY = 65534

#: A child that, once told on stdin, gives up root (no exec: it stays the same process and
#: becomes non-dumpable) and moves to a new uts namespace.
DROP_AND_MOVE_ON_INPUT = f"""
import os, sys, time
from nstui.kernel import syscalls
sys.stdin.readline()
syscalls.unshare(0x04000000)  # CLONE_NEWUTS
os.setresuid({NOBODY}, {NOBODY}, {NOBODY})
print("moved", flush=True)
time.sleep(600)
"""


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the helper for any scan, in many small requests (this host has few processes)."""
    monkeypatch.setattr(procfs, "PARALLEL_MIN", 1)
    monkeypatch.setattr(procfs, "CHUNK_COST", 64)
    monkeypatch.setattr(procfs, "MIN_CHUNK_COST", 4)


@pytest.mark.root
def test_uid_of_a_process_that_dropped_root_without_exec(spawn) -> None:  # type: ignore[no-untyped-def]
    """Such a process is not dumpable (its /proc/PID/* files are root's); the owner of
    /proc/PID itself is still its effective uid, which the scan reads."""
    child = spawn(
        [
            sys.executable,
            "-c",
            f"import os, time; os.setresuid({NOBODY}, {NOBODY}, {NOBODY}); "
            "print('ok', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
    )
    assert child.stdout.readline() == b"ok\n"
    assert os.stat(f"/proc/{child.pid}/stat").st_uid == 0  # not dumpable
    p = scan_processes(pids=[child.pid])[child.pid]
    assert (p.uid, p.user) == (NOBODY, "nobody")


@pytest.mark.root
def test_helper_refresh_notices_uid_and_namespace_change(spawn, small_chunks) -> None:  # type: ignore[no-untyped-def]
    child = spawn(
        [sys.executable, "-c", DROP_AND_MOVE_ON_INPUT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    every = 4
    source = LiveSource(holders=False, recheck_every=every)
    wait_for(lambda: child.pid in source.take().processes)
    before = source.take().processes[child.pid]
    assert before.uid == 0
    child.stdin.write(b"go\n")
    child.stdin.flush()
    assert child.stdout.readline() == b"moved\n"
    seen = [source.take().processes[child.pid] for _ in range(every)]
    last = seen[-1]
    assert last.ns[NsType.UTS] != before.ns[NsType.UTS]  # within recheck_every refreshes
    assert last.uid == NOBODY
    assert last.start_ticks == before.start_ticks  # the same process, not an exec
    full = source.take_full().processes[child.pid]
    assert (full.ns, full.uid) == (last.ns, last.uid)
    source.close()


def test_helper_refresh_equals_in_process_refresh(spawn, small_chunks) -> None:  # type: ignore[no-untyped-def]
    """Refreshes split with the helper (with verification turns) give what refreshes read
    here give, and carry an idle process over as the same object."""
    sleeper = spawn(["sleep", "1000"])
    split = LiveSource(holders=False, recheck_every=2)
    here = LiveSource(holders=False, recheck_every=2)
    wait_for(lambda: sleeper.pid in split.take().processes)
    for _ in range(4):
        a = split.take().processes
        procfs.PARALLEL_MIN = 10**9  # type: ignore[misc]  # (monkeypatched: restored)
        b = here.take().processes
        procfs.PARALLEL_MIN = 1  # type: ignore[misc]
        settled = time.time() - 10  # other tests on this machine fork and exec all the time
        common = [pid for pid in a.keys() & b.keys() if a[pid].start_ticks == b[pid].start_ticks]
        assert len(common) > len(a) // 2
        for pid in common:
            x, y = a[pid], b[pid]
            if x.is_kernel_thread or x.start_time > settled:
                continue
            assert (x.cmdline, x.uid, x.ns, x.nspid, x.comm, x.cgroups) == (
                y.cmdline,
                y.uid,
                y.ns,
                y.nspid,
                y.comm,
                y.cgroups,
            )
    first = split.take().processes[sleeper.pid]
    assert split.take().processes[sleeper.pid] is first  # unchanged stat: carried over
    split.close()
    here.close()


def test_helper_killed_mid_scan_is_read_here(spawn, small_chunks) -> None:  # type: ignore[no-untyped-def]
    """A helper that dies with requests in flight costs nothing but time: its unanswered
    chunks are read here, and the next scan starts a new helper."""
    sleeper = spawn(["sleep", "1000"])
    wait_for(lambda: sleeper.pid in scan_processes(parallel=False))
    reference = scan_processes(parallel=False)
    killed: list[int] = []

    def kill_helper() -> list[int]:
        pid = procfs.helper_pid()
        assert pid is not None  # requests are in flight by now
        os.kill(pid, 9)
        killed.append(pid)
        return []

    got = scan_processes(during=kill_helper)
    assert killed and procfs.helper_pid() != killed[0]
    assert sleeper.pid in got
    assert len(got.keys() & reference.keys()) > len(reference) * 0.9
    again = scan_processes()
    assert sleeper.pid in again and procfs.helper_pid() not in (None, killed[0])


def test_namespaces_described_during_the_scan_equal_described_after(spawn) -> None:  # type: ignore[no-untyped-def]
    """A full take describes namespaces as the scan meets them (NsDescriber); the result
    is what describing them all after the scan gives."""
    child = spawn(["unshare", "--uts", "--net", "--ipc", "--fork", "sleep", "1000"])
    source = LiveSource(holders=True)
    wait_for(lambda: child.pid in source.take_full().processes)
    snap = source.take_full()
    after = build_namespaces(snap.processes, holders=True)
    assert snap.namespaces.keys() == after.keys()
    for ns_id, ns in snap.namespaces.items():
        other = after[ns_id]
        assert (ns.pids, ns.owner, ns.parent, ns.owner_uid, ns.kernel_id, ns.holders) == (
            other.pids,
            other.owner,
            other.parent,
            other.owner_uid,
            other.kernel_id,
            other.holders,
        )
        assert (ns.facts.pid_level, ns.facts.init_pid, ns.facts.uid_map) == (
            other.facts.pid_level,
            other.facts.init_pid,
            other.facts.uid_map,
        )
        names = [i.name for i in ns.facts.interfaces]
        assert names == [i.name for i in other.facts.interfaces]
    source.close()


@pytest.mark.root
def test_fd_held_namespace_found_by_the_scan_on_both_sides(spawn, small_chunks) -> None:  # type: ignore[no-untyped-def]
    """The holders scan's fd listing is done by the process scan (here and in the helper):
    a net namespace kept only by an open fd is found with that holder."""
    member = spawn(["unshare", "--net", "sleep", "1000"])
    wait_for(lambda: os.readlink(f"/proc/{member.pid}/ns/net") != os.readlink("/proc/self/ns/net"))
    st = os.stat(f"/proc/{member.pid}/ns/net")
    holder = spawn(
        [
            sys.executable,
            "-c",
            f"import os, time; fd = os.open('/proc/{member.pid}/ns/net', os.O_RDONLY); "
            "print(fd, flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
    )
    fd = int(holder.stdout.readline())
    member.kill()
    member.wait()
    snap = LiveSource(holders=True).take()
    held = [
        ns for ns in snap.namespaces.values() if (ns.id.dev, ns.id.ino) == (st.st_dev, st.st_ino)
    ]
    assert len(held) == 1 and held[0].pids == ()
    assert [(h.kind.value, h.pid, h.path) for h in held[0].holders] == [
        ("fd", holder.pid, f"/proc/{holder.pid}/fd/{fd}")
    ]


def test_requests_never_overfill_the_helper_pipe(spawn, small_chunks) -> None:  # type: ignore[no-untyped-def]
    """With answers waiting, the helper may block writing; requests it has not read must
    fit its stdin pipe or both sides would wait forever. A tiny pipe only costs speed."""
    sleeper = spawn(["sleep", "1000"])
    wait_for(lambda: sleeper.pid in scan_processes())
    procfs._helper._capacity = 2048  # the helper is running: this stays until it restarts
    result: dict[int, procfs.Process] = {}
    worker = threading.Thread(target=lambda: result.update(scan_processes()), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "scan deadlocked on the helper's pipes"
    assert sleeper.pid in result
    procfs.close_helper()


@pytest.mark.root
def test_refresh_notices_move_to_the_top_cgroup_unread(spawn, test_cgroup_parent) -> None:  # type: ignore[no-untyped-def]
    """Refresh walks skip the top cgroup's lists most of the time; a process moved there
    shows by leaving the list of the cgroup it was in."""
    parent = test_cgroup_parent("pids")
    child = spawn(["sleep", "1000"])
    hid = pids_hid()
    top = next(h for h in discover_hierarchies() if h.hid == hid)
    (parent / "cgroup.procs").write_text(str(child.pid))
    source = LiveSource(holders=False)
    wait_for(lambda: child.pid in source.take().processes)
    # on to refreshes whose walks do not read the top cgroup's lists (generations 4-7 of
    # every WALK_EVERY * ROOT_EVERY)
    while source._generation % (WALK_EVERY * ROOT_EVERY) != WALK_EVERY - 2:
        source.take()
    assert source.take().processes[child.pid].cgroups[hid] == cgroup_path(parent)
    (Path(top.mountpoint) / "cgroup.procs").write_text(str(child.pid))
    seen = [source.take().processes[child.pid].cgroups[hid] for _ in range(WALK_EVERY)]
    assert seen[-1] == top.root
    assert child.pid not in source.take().cgroups[(hid, cgroup_path(parent))].pids
    source.close()


#: argv marker of the mini churn's processes (a number, so that sleep takes it as one more
#: duration: ``sleep 0.05 MARKER``), as tests/reliability/churncheck recognises them
MARKER = "0.000000013579"
CHURN_SCRIPT = f"while :; do sleep 0.05 {MARKER} & sleep 0.005 {MARKER}; done\n"


@pytest.mark.root
def test_split_scans_under_churn_are_consistent(spawn, small_chunks) -> None:  # type: ignore[no-untyped-def]
    """Processes appear and vanish in their own namespaces while takes split with the
    helper run back to back: every snapshot is consistent, and every churn process has
    exactly its anchor's namespaces."""
    anchor = spawn(
        ["unshare", "--uts", "--ipc", "--fork", "dash", "-s", MARKER],
        stdin=subprocess.PIPE,
    )
    anchor.stdin.write(CHURN_SCRIPT.encode())
    anchor.stdin.flush()

    def shell() -> int | None:
        for p in scan_processes().values():
            if p.cmdline == ("dash", "-s", MARKER):
                return p.pid
        return None

    wait_for(lambda: shell() is not None)
    dash = shell()
    assert dash is not None
    anchors = {MARKER: procfs.read_ns(dash)}
    assert anchors[MARKER][NsType.UTS] != procfs.read_ns(os.getpid())[NsType.UTS]
    source = LiveSource(holders=True)
    checked = 0
    for i in range(24):
        snap = source.take_full() if i % 6 == 0 else source.take()
        problems, seen = check_snapshot(snap, anchors)
        assert problems == [], problems[:5]
        checked += seen
    assert checked > 24  # the churn really ran through the snapshots
    source.close()


def test_take_leaves_the_cyclic_collector_as_it_was() -> None:
    """A take pauses the cyclic garbage collector and turns it back on only if it was on."""
    source = LiveSource(holders=False)
    assert gc.isenabled()
    source.take()
    assert gc.isenabled()
    gc.disable()
    try:
        source.take()
        assert not gc.isenabled()
    finally:
        gc.enable()
    source.close()


def test_first_sight_cpu_share_is_since_start(spawn) -> None:  # type: ignore[no-untyped-def]
    """A process seen for the first time shows its CPU share since it started (as ps's
    %CPU): a busy loop near 100 %, an idle sleep 0."""
    busy = spawn([sys.executable, "-c", "while True: pass"])
    idle = spawn(["sleep", "1000"])
    time.sleep(1.0)
    procs = scan_processes(pids=[busy.pid, idle.pid])
    busy_share, idle_share = procs[busy.pid].cpu_percent, procs[idle.pid].cpu_percent
    assert busy_share is not None and busy_share > 20  # a loaded host still gives it a share
    assert idle_share == 0.0


def test_split_refresh_sees_new_and_drops_vanished(spawn, small_chunks) -> None:  # type: ignore[no-untyped-def]
    """A split refresh starts the helper on the last take's pids before /proc is listed:
    a process started since is read (in full), one that ended is dropped, and the result
    is in pid order."""
    leaving = spawn(["sleep", "1000"])
    source = LiveSource(holders=False)
    try:
        wait_for(lambda: leaving.pid in source.take().processes)
        arriving = spawn(["sleep", "999"])
        leaving.kill()
        leaving.wait()
        snap = source.take()
        assert arriving.pid in snap.processes
        assert snap.processes[arriving.pid].cmdline == ("sleep", "999")
        assert leaving.pid not in snap.processes
        assert list(snap.processes) == sorted(snap.processes)
        assert snap.processes[arriving.pid].ns == procfs.read_ns(arriving.pid)
    finally:
        source.close()


def test_fork_count_counts_a_fork(spawn) -> None:  # type: ignore[no-untyped-def]
    before = procfs.fork_count()
    assert before is not None
    spawn(["sleep", "1000"])
    after = procfs.fork_count()
    assert after is not None and after > before


def test_refresh_lists_proc_only_after_a_fork(spawn, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """With no fork since the last listing (/proc/stat's counter), a refresh reads the last
    take's pids without listing /proc; after one, it lists and finds the new process; and it
    lists every LIST_EVERY-th refresh regardless."""
    forks = [1000]
    listings: list[int] = []
    real_list = procfs.list_pids

    def counted(proc: str = "/proc") -> list[int]:
        listings.append(1)
        return real_list(proc)

    monkeypatch.setattr(procfs, "fork_count", lambda proc="/proc": forks[0])
    monkeypatch.setattr(procfs, "list_pids", counted)
    sleeper = spawn(["sleep", "1000"])
    source = LiveSource(holders=False)
    try:
        first = source.take()
        assert sleeper.pid in first.processes and len(listings) == 1
        again = source.take()
        assert len(listings) == 1  # no fork counted: not listed
        # the last take's processes, less any that ended since
        assert sleeper.pid in again.processes
        assert again.processes.keys() <= first.processes.keys()
        newer = spawn(["sleep", "999"])
        forks[0] += 1
        third = source.take()
        assert len(listings) == 2 and newer.pid in third.processes
        # and every LIST_EVERY-th refresh lists even without a fork
        for _ in range(procfs.LIST_EVERY - 1):
            source.take()
        assert len(listings) == 2
        source.take()
        assert len(listings) == 3
    finally:
        source.close()


def test_plan_of_a_refresh_equals_the_general_plan() -> None:
    """_plan's C-loop path for a refresh (every pid known) plans what its general loop does."""
    source = LiveSource(holders=False)
    try:
        prev = source.take().processes
        raw = source._cache.raw
        work = list(prev)

        def verify(pid: int) -> bool:
            return pid % 3 == 1

        fast = procfs._plan(work, prev, raw, None, verify)
        general = procfs._plan(work, prev, raw, lambda pid: False, verify)
        assert fast == general
        assert fast[3] and any(c == procfs.VERIFY_COST for c in fast[2])
    finally:
        source.close()


def test_refresh_drops_a_pid_now_naming_a_thread() -> None:
    """A pid of the last take that the listing does not show is no process now, even when
    /proc/PID answers: a pid reused since may name a thread (here: a thread started after
    the last take, put in that take as if its pid had been a process's)."""
    cache = procfs.ScanCache()
    started = threading.Event()
    stop = threading.Event()

    def idle() -> None:
        started.set()
        stop.wait(60)

    thread = threading.Thread(target=idle, daemon=True)
    try:
        first = procfs.scan_processes(cache=cache)
        thread.start()  # a clone: /proc/stat counts it, so the refresh lists /proc
        started.wait(10)
        tid = thread.native_id
        assert tid is not None and tid != os.getpid()
        assert os.path.exists(f"/proc/{tid}/stat") and str(tid) not in os.listdir("/proc")
        me = first[os.getpid()]
        previous = dict(first)
        previous[tid] = dataclasses.replace(me, pid=tid, start_ticks=me.start_ticks + 1)
        again = procfs.scan_processes(cache=cache, previous=previous)
        assert tid not in again and os.getpid() in again
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(10)
        cache.close()
