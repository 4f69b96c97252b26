"""build_namespaces and the nsfs ioctls against namespaces made with util-linux unshare."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from nstui.kernel import nsfs
from nstui.kernel.namespaces import HolderKind, Namespace, build_namespaces
from nstui.kernel.nstypes import NS_TYPES, NsId, NsType
from nstui.kernel.procfs import scan_processes

from .conftest import Procs, comm, forked_sleeper, ns_inode, wait_for


def kernel_has_ns_get_id() -> bool:
    """NS_GET_ID arrived in Linux 6.11; older kernels answer ENOTTY (unknown: None)."""
    fd = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        return nsfs.get_kernel_id(fd) is not None
    finally:
        os.close(fd)


HAS_NS_GET_ID = kernel_has_ns_get_id()


def self_ns(ns_type: NsType) -> NsId:
    st = os.stat(f"/proc/self/ns/{ns_type.value}")
    return NsId(ns_type, st.st_dev, st.st_ino)


def by_inode(namespaces: dict[NsId, Namespace], ns_type: NsType, ino: int) -> Namespace:
    found = [ns for ns in namespaces.values() if ns.type is ns_type and ns.id.ino == ino]
    assert len(found) == 1, f"{ns_type}:[{ino}] not found once in {len(namespaces)} namespaces"
    return found[0]


def test_ioctls_on_own_namespaces() -> None:
    kernel_ids = set()
    for ns_type in NS_TYPES:
        fd = nsfs.open_ns(f"/proc/self/ns/{ns_type.value}")
        assert fd is not None
        try:
            assert nsfs.get_nstype(fd) is ns_type
            assert nsfs.ns_id_of_fd(fd, ns_type) == self_ns(ns_type)
            links = nsfs.read_links(fd, ns_type)
            if ns_type is not NsType.USER:
                # owned by our user namespace; only pid and user nest
                assert links.owner == self_ns(NsType.USER)
                assert nsfs.get_owner_uid(fd) is None  # EINVAL on a non-user ns: unknown
            if ns_type not in (NsType.PID, NsType.USER):
                assert nsfs.get_parent_fd(fd) is None  # EINVAL: not hierarchical
                assert links.parent is None
            kernel_ids.add(links.kernel_id)
        finally:
            os.close(fd)
    if HAS_NS_GET_ID:
        assert None not in kernel_ids and len(kernel_ids) == len(NS_TYPES)
    else:
        assert kernel_ids == {None}


def test_unknown_answers_never_raise_on_a_non_ns_fd(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    path.write_text("x")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert nsfs.get_nstype(fd) is None
        assert nsfs.get_userns_fd(fd) is None
        assert nsfs.get_kernel_id(fd) is None
        assert nsfs.read_links(fd, NsType.NET) == nsfs.NsLinks(None, None, None, None)
    finally:
        os.close(fd)
    assert nsfs.open_ns(str(tmp_path / "missing")) is None


def unshare_all(procs: Procs) -> tuple[int, int]:
    """(unshare's pid, its forked child's pid) for a child in new namespaces of all types."""
    argv = ["unshare", "--user", "--map-root-user", "--pid", "--net", "--uts", "--ipc"]
    argv += ["--mount", "--cgroup", "--time", "--fork", "sleep", "1000"]
    return forked_sleeper(procs, argv)


@pytest.mark.root
def test_unshare_all_types(procs: Procs) -> None:
    outer, child = unshare_all(procs)
    processes = scan_processes(pids=[os.getpid(), outer, child])
    namespaces = build_namespaces(processes, holders=False)
    user = by_inode(namespaces, NsType.USER, ns_inode(child, "user"))
    assert user.parent == self_ns(NsType.USER)
    assert user.owner == self_ns(NsType.USER)
    assert user.owner_uid == os.geteuid()
    # --map-root-user: root inside is our uid outside
    assert [(r.inside, r.outside, r.count) for r in user.facts.uid_map] == [(0, os.geteuid(), 1)]
    for ns_type in NS_TYPES:
        ns = by_inode(namespaces, ns_type, ns_inode(child, ns_type.value))
        assert ns.id != self_ns(ns_type), f"{ns_type} was not unshared"
        assert child in ns.pids
        assert not ns.held_only
        assert (ns.kernel_id is not None) is HAS_NS_GET_ID
        if ns_type is not NsType.USER:
            # made after the user namespace, so owned by it
            assert ns.owner == user.id, ns_type
        if ns_type in (NsType.PID, NsType.TIME):
            # unshare itself stays: these apply to its children only
            assert ns.pids == (child,)
        else:
            assert ns.pids == (outer, child)
    pid_ns = by_inode(namespaces, NsType.PID, ns_inode(child, "pid"))
    assert pid_ns.parent == self_ns(NsType.PID)
    assert pid_ns.facts.pid_level == 1
    assert pid_ns.facts.init_pid == child
    net = by_inode(namespaces, NsType.NET, ns_inode(child, "net"))
    assert [i.name for i in net.facts.interfaces] == ["lo"]
    time_ns = by_inode(namespaces, NsType.TIME, ns_inode(child, "time"))
    assert set(time_ns.facts.time_offsets) == {"monotonic", "boottime"}


@pytest.mark.root
def test_time_offsets_read_without_entering(procs: Procs) -> None:
    _, sleeper = forked_sleeper(
        procs, ["unshare", "--time", "--fork", "--boottime", "1000", "sleep", "1000"]
    )
    namespaces = build_namespaces(scan_processes(pids=[sleeper]), holders=False)
    ns = by_inode(namespaces, NsType.TIME, ns_inode(sleeper, "time"))
    assert ns.facts.time_offsets["boottime"] == (1000, 0)
    assert ns.facts.time_offsets["monotonic"] == (0, 0)


@pytest.mark.root
def test_bind_held_net_namespace(nsfs_file: Callable[[str], Path]) -> None:
    target = nsfs_file("netns")
    subprocess.run(["unshare", f"--net={target}", "true"], check=True, timeout=30)
    ino = os.stat(target).st_ino
    namespaces = build_namespaces(scan_processes(), holders=True)
    ns = by_inode(namespaces, NsType.NET, ino)
    assert ns.pids == ()
    assert ns.held_only
    binds = [h for h in ns.holders if h.kind is HolderKind.BIND_MOUNT]
    assert str(target) in {h.path for h in binds}
    own_mnt = self_ns(NsType.MNT)
    assert any(h.path == str(target) and ns_inode(h.pid, "mnt") == own_mnt.ino for h in binds), (
        "the holder pid should be one that sees our mount namespace"
    )
    # opened through the bind mount: the ioctls still answer
    assert ns.owner == self_ns(NsType.USER)
    assert (ns.kernel_id is not None) is HAS_NS_GET_ID


HOLD_FD = """
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print(fd, flush=True)
sys.stdin.read()
"""


@pytest.mark.root
def test_fd_held_namespace_and_its_owner(procs: Procs) -> None:
    # a net ns in a new user ns; a python child keeps the net ns file open; the sleep dies
    member = procs.start(["unshare", "--user", "--net", "sleep", "1000"])
    wait_for(lambda: comm(member.pid) == "sleep", "unshare to exec sleep")
    net_ino, user_ino = ns_inode(member.pid, "net"), ns_inode(member.pid, "user")
    keeper = procs.start(
        [sys.executable, "-c", HOLD_FD, f"/proc/{member.pid}/ns/net"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert keeper.stdout is not None
    fd = int(keeper.stdout.readline())
    procs.kill(member)

    namespaces = build_namespaces(scan_processes(), holders=True)
    net = by_inode(namespaces, NsType.NET, net_ino)
    assert net.pids == () and net.held_only
    assert [(h.kind, h.pid, h.path) for h in net.holders] == [
        (HolderKind.OPEN_FD, keeper.pid, f"/proc/{keeper.pid}/fd/{fd}")
    ]
    # its user namespace has no process and no fd: kept alive as the net ns's owner
    assert net.owner is not None and net.owner.ino == user_ino
    user = namespaces[net.owner]
    assert user.pids == () and user.held_only
    assert [(h.kind, h.path) for h in user.holders] == [
        (HolderKind.REFERENCE, f"owner of {net.id}")
    ]
    assert user.parent == self_ns(NsType.USER)

    # without holders only namespaces with members are listed
    assert net.id not in build_namespaces(scan_processes(), holders=False)


@pytest.mark.root
def test_vanished_members_do_not_break_the_build(procs: Procs) -> None:
    proc = procs.start(["unshare", "--net", "sleep", "1000"])
    wait_for(lambda: comm(proc.pid) == "sleep", "sleep in a new net namespace")
    processes = scan_processes(pids=[proc.pid, os.getpid()])
    procs.kill(proc)  # gone between scan and build: its namespace is still listed, unknowns None
    namespaces = build_namespaces(processes, holders=True)
    gone = [ns for ns in namespaces.values() if proc.pid in ns.pids and ns.type is NsType.NET]
    assert len(gone) == 1
    assert gone[0].owner is None and gone[0].kernel_id is None
    assert gone[0].facts.interfaces == ()


THREAD_UNSHARE = """
import ctypes, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
def run():
    if libc.unshare(0x04000000) != 0:  # CLONE_NEWUTS, this thread only
        raise OSError(ctypes.get_errno(), "unshare")
    print(threading.get_native_id(), flush=True)
    threading.Event().wait()
threading.Thread(target=run, daemon=True).start()
sys.stdin.read()
"""


@pytest.mark.root
def test_namespace_only_a_thread_is_in(procs: Procs) -> None:
    proc = procs.start(
        [sys.executable, "-c", THREAD_UNSHARE], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    tid = int(proc.stdout.readline())
    thread_uts = os.stat(f"/proc/{proc.pid}/task/{tid}/ns/uts").st_ino
    assert thread_uts != ns_inode(proc.pid, "uts")
    namespaces = build_namespaces(scan_processes(pids=[proc.pid]), holders=True)
    ns = by_inode(namespaces, NsType.UTS, thread_uts)
    assert ns.pids == ()
    assert [(h.kind, h.pid, h.path) for h in ns.holders] == [
        (HolderKind.PROCESS, tid, f"/proc/{proc.pid}/task/{tid}")
    ]
    assert not ns.held_only  # a thread is in it
    assert ns.owner == self_ns(NsType.USER)


BIND_IN_PRIVATE_MNT_NS = 'unshare --net="$1" true && echo bound && exec sleep 1000'


@pytest.mark.root
def test_bind_mount_seen_only_in_another_mount_namespace(procs: Procs, tmp_path: Path) -> None:
    target = tmp_path / "private-netns"
    target.touch()
    # the nsfs bind mount exists only in a private mount namespace: it goes when that dies
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c"]
    proc = procs.start([*argv, BIND_IN_PRIVATE_MNT_NS, "sh", str(target)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "bound"
    assert not os.path.ismount(target)  # not in ours
    ino = os.stat(f"/proc/{proc.pid}/root{target}").st_ino
    namespaces = build_namespaces(scan_processes(), holders=True)
    ns = by_inode(namespaces, NsType.NET, ino)
    assert ns.held_only
    holders = [(h.kind, h.path) for h in ns.holders]
    assert holders == [(HolderKind.BIND_MOUNT, str(target))]
    assert ns_inode(ns.holders[0].pid, "mnt") == ns_inode(proc.pid, "mnt")
    assert ns.owner == self_ns(NsType.USER)  # opened through /proc/PID/root/...
