"""scan_processes and LiveSource against the real kernel: our own children, new namespaces
made by util-linux unshare, cgroup moves, threads in other namespaces, vanishing processes."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nstui.kernel import procfs, procread
from nstui.kernel.cgroups.hierarchy import discover_hierarchies
from nstui.kernel.nstypes import NS_TYPES, NsType
from nstui.kernel.procfs import read_ns, scan_processes
from nstui.model.scanner import WALK_EVERY, LiveSource

from .conftest import wait_for

#: A child that, once told on stdin, moves its only thread to a new uts namespace.
ENTER_UTS_ON_INPUT = """
import sys, time
from nstui.kernel import syscalls
sys.stdin.readline()
syscalls.unshare(0x04000000)  # CLONE_NEWUTS
print("moved", flush=True)
time.sleep(600)
"""

#: A child whose second thread alone moves to a new uts namespace.
THREAD_IN_OTHER_UTS = """
import threading, time
from nstui.kernel import syscalls
ready = threading.Event()
def worker():
    syscalls.unshare(0x04000000)  # CLONE_NEWUTS: this thread only
    ready.set()
    time.sleep(600)
threading.Thread(target=worker, daemon=True).start()
ready.wait()
print("ready", flush=True)
time.sleep(600)
"""


def pids_hid() -> int:
    for h in discover_hierarchies():
        if h.version == 1 and "pids" in h.controllers:
            return h.hid
    pytest.skip("no v1 pids hierarchy mounted")


def cgroup_path(directory: Path) -> str:
    """The cgroup path /proc/PID/cgroup prints for DIRECTORY of the pids hierarchy."""
    mount = next(h.mountpoint for h in discover_hierarchies() if h.hid == pids_hid())
    return "/" + str(directory.relative_to(mount))


def test_ns_names_match_nstypes() -> None:
    assert tuple(t.value for t in NS_TYPES) == procread.NS_NAMES
    assert procfs.THREAD_NS_TYPES == (NsType.NET, NsType.UTS, NsType.IPC, NsType.CGROUP)


def test_scan_sees_own_child(spawn) -> None:  # type: ignore[no-untyped-def]
    child = spawn(["sleep", "1000", "7"])
    before = time.time()
    wait_for(
        lambda: (
            child.pid in scan_processes(pids=[child.pid])
            and scan_processes(pids=[child.pid])[child.pid].comm == "sleep"
        )
    )
    p = scan_processes()[child.pid]
    assert p.ppid == os.getpid()
    assert p.cmdline == ("sleep", "1000", "7")
    assert p.comm == "sleep"
    assert p.uid == os.geteuid()
    assert p.user == pwd.getpwuid(os.geteuid()).pw_name
    assert p.state in ("S", "R")
    assert p.nthreads == 1
    assert p.nspid == (child.pid,)
    assert p.ns == read_ns("self")
    assert p.start_time <= time.time() + 1 and p.start_time >= before - 5
    assert p.rss is not None and p.rss > 0
    assert not p.unreadable and not p.odd_threads
    me = scan_processes(pids=[os.getpid()])[os.getpid()]
    assert set(me.cgroups) == set(p.cgroups)


@pytest.mark.root
def test_unshare_child_has_other_uts_and_net(spawn) -> None:  # type: ignore[no-untyped-def]
    outer = spawn(["unshare", "--uts", "--net", "--fork", "sleep", "1000"])
    procs: dict[int, procfs.Process] = {}

    def inner_started() -> bool:
        nonlocal procs
        procs = scan_processes()
        return any(p.ppid == outer.pid and p.comm == "sleep" for p in procs.values())

    wait_for(inner_started)
    inner = next(p for p in procs.values() if p.ppid == outer.pid)
    mine = read_ns("self")
    assert inner.ns[NsType.UTS] != mine[NsType.UTS]
    assert inner.ns[NsType.NET] != mine[NsType.NET]
    for t in (NsType.PID, NsType.MNT, NsType.IPC, NsType.USER):
        assert inner.ns[t] == mine[t]
    # the identity is stat(2)'s, which the link text agrees with
    link = os.readlink(f"/proc/{inner.pid}/ns/net")
    assert link == str(inner.ns[NsType.NET])


@pytest.mark.root
def test_cgroup_move_is_seen(spawn, test_cgroup_parent) -> None:  # type: ignore[no-untyped-def]
    parent: Path = test_cgroup_parent("pids")
    child = spawn(["sleep", "1000"])
    hid = pids_hid()
    assert scan_processes(pids=[child.pid])[child.pid].cgroups[hid] != cgroup_path(parent)
    (parent / "cgroup.procs").write_text(str(child.pid))
    assert scan_processes(pids=[child.pid])[child.pid].cgroups[hid] == cgroup_path(parent)
    snap = LiveSource(holders=False).take()
    assert snap.processes[child.pid].cgroups[hid] == cgroup_path(parent)
    assert child.pid in snap.cgroups[(hid, cgroup_path(parent))].pids


@pytest.mark.root
def test_refresh_notices_cgroup_move(spawn, test_cgroup_parent) -> None:  # type: ignore[no-untyped-def]
    parent: Path = test_cgroup_parent("pids")
    child = spawn(["sleep", "1000"])
    hid = pids_hid()
    source = LiveSource(holders=False)
    wait_for(lambda: child.pid in source.take().processes)
    (parent / "cgroup.procs").write_text(str(child.pid))
    # every hierarchy is walked within WALK_EVERY refreshes, and a move seen there re-reads
    seen = [source.take().processes[child.pid].cgroups[hid] for _ in range(WALK_EVERY)]
    assert seen[-1] == cgroup_path(parent)
    assert source.take().cgroups[(hid, cgroup_path(parent))].pids == (child.pid,)


def test_refresh_notices_namespace_change(spawn) -> None:  # type: ignore[no-untyped-def]
    child = spawn(
        [sys.executable, "-c", ENTER_UTS_ON_INPUT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    every = 4
    source = LiveSource(holders=False, recheck_every=every)
    wait_for(lambda: child.pid in source.take().processes)
    before = source.take().processes[child.pid].ns[NsType.UTS]
    child.stdin.write(b"go\n")
    child.stdin.flush()
    assert child.stdout.readline() == b"moved\n"
    seen = [source.take().processes[child.pid].ns[NsType.UTS] for _ in range(every)]
    assert seen[-1] != before  # within recheck_every refreshes
    assert source.take_full().processes[child.pid].ns[NsType.UTS] == seen[-1]


@pytest.mark.root
def test_thread_in_other_namespace_is_noted(spawn) -> None:  # type: ignore[no-untyped-def]
    child = spawn([sys.executable, "-c", THREAD_IN_OTHER_UTS], stdout=subprocess.PIPE)
    assert child.stdout.readline() == b"ready\n"
    p = scan_processes(pids=[child.pid])[child.pid]
    assert p.nthreads >= 2
    assert len(p.odd_threads) == 1
    odd = p.odd_threads[0]
    assert odd.tid != child.pid
    assert set(odd.ns) == {NsType.UTS}
    assert odd.ns[NsType.UTS] != p.ns[NsType.UTS]


def test_vanishing_processes_do_not_raise() -> None:
    """Children exiting all the time while scans run: no exception, no half-read process."""
    stop = threading.Event()
    started: list[subprocess.Popen[bytes]] = []

    def churn() -> None:
        while not stop.is_set():
            started.append(subprocess.Popen(["true"]))
            if len(started) > 20:
                started.pop(0).wait()

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(15):
            for p in scan_processes().values():
                assert (p.comm and p.start_ticks > 0) or p.pid in (1, 2)
    finally:
        stop.set()
        thread.join()
        for proc in started:
            proc.wait()


def test_gone_pid_is_dropped() -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert scan_processes(pids=[proc.pid]) == {}
    assert procread.read_record("/proc", proc.pid, -1, True, (0, 0), True) is None


def test_pid1_namespaces_refused_is_recorded() -> None:
    p = scan_processes(pids=[1]).get(1)
    assert p is not None
    try:
        os.stat("/proc/1/ns/net")
    except PermissionError:
        assert "ns" in p.unreadable and p.ns == {}
    else:
        assert "ns" not in p.unreadable and p.ns


@pytest.mark.root
def test_ns_keys_equal_stat_of_every_link(spawn) -> None:  # type: ignore[no-untyped-def]
    """NsKeys (readlink, stat once per text) gives what stat(2) of every link gives."""
    children = [spawn(["unshare", "--uts", "--net", "sleep", "1000"]) for _ in range(2)]
    children.append(spawn(["unshare", "--ipc", "--cgroup", "sleep", "1000"]))
    children += [spawn(["sleep", "1000"]) for _ in range(2)]
    pids = [c.pid for c in children] + [os.getpid()]
    wait_for(lambda: all(os.readlink(f"/proc/{c.pid}/exe").endswith("sleep") for c in children))
    keys = procread.NsKeys()
    got = {pid: keys.key(f"/proc/{pid}/") for pid in pids + pids}  # the second time: by set
    for pid in pids:
        assert got[pid] == procread._ns_key(f"/proc/{pid}/")
    assert got[children[0].pid] != got[children[1].pid]  # two new uts/net pairs
    assert got[children[3].pid] == got[children[4].pid] == got[os.getpid()]


def test_ns_keys_remember_only_texts_naming_the_inode(tmp_path: Path) -> None:
    """A link whose text does not name the inode stat finds (not nsfs; or the process moved
    between the two calls) is taken as stat sees it, every time: equal texts of two
    processes then do not make them share a namespace."""
    for pid in (1, 2):
        ns = tmp_path / str(pid) / "ns"
        ns.mkdir(parents=True)
        for name in procread.NS_NAMES:
            (ns / f"{name}:[7]").write_text("")
            (ns / name).symlink_to(f"{name}:[7]")  # the same text in both processes
    keys = procread.NsKeys()
    one, two = (keys.key(f"{tmp_path}/{pid}/") for pid in (1, 2))
    assert one == procread._ns_key(f"{tmp_path}/1/")
    assert two == procread._ns_key(f"{tmp_path}/2/")
    assert one != two


def test_helper_process_scan_equals_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second-core helper reads the same facts as the scan in this process."""
    monkeypatch.setattr(procfs, "PARALLEL_MIN", 1)
    here = scan_processes(parallel=False)
    there = scan_processes(parallel=True)
    procfs.close_helper()
    common = here.keys() & there.keys()
    assert len(common) > len(here) // 2
    settled = time.time() - 10  # other tests on this machine fork and exec all the time
    for pid in common:
        a, b = here[pid], there[pid]
        if a.start_ticks != b.start_ticks or a.is_kernel_thread or a.start_time > settled:
            continue  # pid reused between the two scans; kworkers rename themselves
        assert (a.cmdline, a.uid, a.ns, a.nspid, a.comm) == (
            b.cmdline,
            b.uid,
            b.ns,
            b.nspid,
            b.comm,
        )


def test_cpu_percent_on_refresh(spawn) -> None:  # type: ignore[no-untyped-def]
    busy = spawn([sys.executable, "-c", "while True: pass"])
    source = LiveSource(holders=False)
    first = source.take()
    lifetime = first.processes[busy.pid].cpu_percent  # first sight: since it started
    assert lifetime is not None and 0 <= lifetime <= 100 * first.host.ncpus
    time.sleep(0.5)
    second = source.take()
    a, b = first.processes[busy.pid], second.processes[busy.pid]
    assert b.cpu_percent is not None and b.cpu_percent > 0  # a busy loop, however loaded the host
    expected = (b.cpu_time - a.cpu_time) / (second.taken_at - first.taken_at) * 100
    assert abs(b.cpu_percent - expected) < 10
    idle = second.processes[os.getpid()]
    assert idle.cpu_percent is not None and idle.cpu_percent <= 100 * second.host.ncpus


def test_zombie_is_kept_without_namespaces() -> None:
    """An exited, unreaped child is still a process (state Z), not a vanished one."""
    proc = subprocess.Popen(["true"])
    try:
        wait_for(
            lambda: (
                scan_processes(pids=[proc.pid]).get(proc.pid) is not None
                and scan_processes(pids=[proc.pid])[proc.pid].state == "Z"
            )
        )
        p = scan_processes(pids=[proc.pid])[proc.pid]
        assert p.cmdline == () and p.ppid == os.getpid()
        # its nsproxy is gone: pid (from its struct pid) and user (from its creds) remain
        assert set(p.ns) <= {NsType.PID, NsType.USER} and NsType.PID in p.ns
        assert LiveSource(holders=False).take().processes[proc.pid].state == "Z"
    finally:
        proc.wait()


@pytest.mark.root
def test_invalidate_makes_the_next_take_full(spawn, test_cgroup_parent) -> None:  # type: ignore[no-untyped-def]
    parent: Path = test_cgroup_parent("pids")
    child = spawn(["sleep", "1000"])
    hid = pids_hid()
    source = LiveSource(holders=False)
    wait_for(lambda: child.pid in source.take().processes)
    (parent / "cgroup.procs").write_text(str(child.pid))
    source.invalidate()
    snap = source.take()
    assert snap.processes[child.pid].cgroups[hid] == cgroup_path(parent)
    assert snap.processes[os.getpid()].cpu_percent is not None  # still measured across it
    source.close()


def test_refresh_drops_exited_process_and_its_kept_fd(spawn) -> None:  # type: ignore[no-untyped-def]
    child = spawn(["sleep", "1000"])
    source = LiveSource(holders=False)
    wait_for(lambda: child.pid in source.take().processes)
    source.take()  # the fast path keeps an fd on /proc/PID/stat now
    cache = source._cache
    assert child.pid in cache.fds
    fd = cache.fds[child.pid]
    assert fd >= cache.FD_BASE
    child.kill()
    child.wait()
    assert child.pid not in source.take().processes
    assert child.pid not in cache.fds
    source.close()
    assert not cache.fds
