"""Namespaces as the kernel reports them: owner, parent, holders and per-type facts.

Contract: ``Namespace`` is built for every namespace some process is in, and for namespaces
kept alive only by a bind mount (an nsfs entry in any mount namespace's mountinfo) or an open
file descriptor. Parent and owner come from the nsfs ioctls (NS_GET_PARENT, NS_GET_USERNS),
never from parsing link text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from nstui.kernel.mountinfo import parse_mountinfo_line
from nstui.kernel.nsfs import (
    NS_GET_PARENT,
    NS_GET_USERNS,
    NsLinks,
    ioctl_fd,
    ns_id_of_fd,
    open_ns,
    read_links,
)
from nstui.kernel.nstypes import NsId, NsType
from nstui.kernel.procfs import group_by_shared

if TYPE_CHECKING:
    from nstui.kernel.procfs import Process


class HolderKind(StrEnum):
    PROCESS = "process"  # a process (or thread) is in it
    BIND_MOUNT = "bind"  # an nsfs bind mount keeps it (ip netns add, unshare --net=FILE)
    OPEN_FD = "fd"  # an open file descriptor keeps it
    #: a user or pid namespace no process is in, kept as the owner or parent of another one
    #: (its NsHolder has pid 0 and path such as ``owner of net:[4026532281]``)
    REFERENCE = "ref"


@dataclass(frozen=True, slots=True)
class NsHolder:
    """Something other than a member process that keeps a namespace alive."""

    kind: HolderKind
    pid: int  # the process holding the fd, or one process of the mount namespace seeing the mount
    # (PROCESS: a thread id; REFERENCE: 0)
    path: str  # the bind-mount target, or /proc/PID/fd/N (PROCESS: /proc/PID/task/TID)


@dataclass(frozen=True, slots=True)
class NetInterface:
    name: str
    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int
    #: addresses as CIDR text (``10.0.0.1/24``, ``fe80::1/64``): IPv4 first, then IPv6
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IdMapRange:
    """One line of uid_map/gid_map: inside, outside, count."""

    inside: int
    outside: int
    count: int


@dataclass(frozen=True, slots=True)
class NsFacts:
    """What can be read about a namespace without entering it. Unread parts stay None/empty."""

    interfaces: tuple[NetInterface, ...] = ()  # net: /proc/PID/net/dev
    uid_map: tuple[IdMapRange, ...] = ()  # user
    gid_map: tuple[IdMapRange, ...] = ()  # user
    pid_level: int | None = None  # pid: nesting level, 0 for the initial one
    init_pid: int | None = None  # pid: host pid of its pid 1, when seen
    time_offsets: dict[str, tuple[int, int]] = field(default_factory=dict)  # time: clock -> (s, ns)
    #: net: local IPv4 addresses /proc cannot tie to one interface (a /32, noprefixroute, or
    #: the same subnet on two interfaces); CIDR text, or the bare address when the prefix is
    #: unknown too
    unplaced_addresses: tuple[str, ...] = ()
    hostname: str | None = None  # uts: read from inside (nstui.kernel.ns_inside), None unread


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace in one snapshot. Treat as immutable."""

    id: NsId
    pids: tuple[int, ...]  # member processes, ascending
    owner: NsId | None = None  # owning user namespace (NS_GET_USERNS)
    parent: NsId | None = None  # parent (pid and user namespaces only; NS_GET_PARENT)
    owner_uid: int | None = None  # NS_GET_OWNER_UID of the owning user namespace
    kernel_id: int | None = None  # NS_GET_ID where the kernel has it: unique while it runs
    holders: tuple[NsHolder, ...] = ()  # bind mounts and fds keeping it alive
    facts: NsFacts = field(default_factory=NsFacts)

    @property
    def type(self) -> NsType:
        return self.id.type

    @property
    def nprocs(self) -> int:
        return len(self.pids)

    @property
    def held_only(self) -> bool:
        """True when no process or thread is in it and only a bind mount, an open fd or a
        child namespace (REFERENCE) keeps it alive."""
        return (
            not self.pids
            and bool(self.holders)
            and all(h.kind is not HolderKind.PROCESS for h in self.holders)
        )


# --- building namespaces from a process scan ---------------------------------------------

_NS_TEXT = re.compile(r"^(" + "|".join(t.value for t in NsType) + r"):\[(\d+)\]$")

#: Members tried (lowest pids first) when opening a namespace through a process; a member
#: that vanished or moved since the scan is skipped.
_OPEN_TRIES = 4


def parse_ns_text(text: str) -> tuple[NsType, int] | None:
    """``net:[4026532281]`` (a /proc/PID/ns or fd link, or an nsfs mount root) -> (type, inode)."""
    match = _NS_TEXT.match(text)
    if match is None:
        return None
    return NsType(match.group(1)), int(match.group(2))


def _nsfs_dev(processes: Mapping[int, Process], proc: str) -> int | None:
    """The nsfs device: the same for every namespace file (see kernel-facts)."""
    for process in processes.values():
        for ns_id in process.ns.values():
            return ns_id.dev
    try:
        return os.stat(f"{proc}/self/ns/net").st_dev
    except OSError:
        return None


def _read_mountinfo_text(pid: int, proc: str) -> str:
    """/proc/PID/mountinfo as text (raises OSError like read_mountinfo)."""
    fd = os.open(f"{proc}/{pid}/mountinfo", os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while data := os.read(fd, 65536):
            chunks.append(data)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "surrogateescape")


def scan_bind_mounts(
    processes: Mapping[int, Process], proc: str = "/proc"
) -> list[tuple[NsId, NsHolder]]:
    """Namespaces pinned by nsfs bind mounts, in every mount namespace a process is in.

    Cost: one mountinfo read per distinct mount namespace (through its lowest readable pid),
    no per-mount syscall. A mount namespace no process is in (itself only bind-held) cannot be
    read without entering it and is not searched.
    """
    by_mnt: dict[NsId, list[int]] = {}
    # user processes first: a holder named by a kernel thread's pid reads oddly
    for pid in sorted(processes, key=lambda p: (processes[p].is_kernel_thread, p)):
        mnt = processes[pid].ns.get(NsType.MNT)
        if mnt is not None:
            by_mnt.setdefault(mnt, []).append(pid)
    found: list[tuple[NsId, NsHolder]] = []
    for pids in by_mnt.values():
        for pid in pids[:_OPEN_TRIES]:
            try:
                text = _read_mountinfo_text(pid, proc)
            except OSError:
                continue  # vanished or refused: try another process of the same mount ns
            # Parse only nsfs lines: " - " ends the optional fields and spaces inside fields
            # are escaped (\040), so " - nsfs " is only ever the filesystem type.
            for line in text.splitlines():
                if " - nsfs " not in line:
                    continue
                mount = parse_mountinfo_line(line)
                if mount is None or mount.fstype != "nsfs":
                    continue
                parsed = parse_ns_text(mount.root)
                if parsed is None:
                    continue
                ns_id = NsId(parsed[0], os.makedev(mount.major, mount.minor), parsed[1])
                found.append((ns_id, NsHolder(HolderKind.BIND_MOUNT, pid, mount.mountpoint)))
            break
    return found


def scan_open_fds(
    processes: Mapping[int, Process], nsfs_dev: int, proc: str = "/proc"
) -> list[tuple[NsId, NsHolder]]:
    """Namespaces some process holds an open file descriptor on.

    Cost: per user-space process one open + getdents + close of /proc/PID/fd, then one
    readlink per open fd relative to that directory fd (no path walk per fd). Measured here
    about 30 us per process with 3 fds (~0.3 s at 10,000 processes); kernel threads have no
    fds and are skipped; threads share their process's fd table and are not read again.
    """
    found: list[tuple[NsId, NsHolder]] = []
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    for pid in sorted(processes):
        if processes[pid].is_kernel_thread:
            continue
        fd_dir = f"{proc}/{pid}/fd"
        try:
            dir_fd = os.open(fd_dir, flags)
        except OSError:
            continue  # vanished or refused (EACCES without ptrace rights)
        try:
            names = os.listdir(dir_fd)
            for name in names:
                try:
                    text = os.readlink(name, dir_fd=dir_fd)
                except OSError:
                    continue  # fd closed since the listing
                # nsfs links are "type:[inode]"; "anon_inode:[pidfd]" and the like do not match
                if text[-1:] != "]" or ":[" not in text:
                    continue
                parsed = parse_ns_text(text)
                if parsed is not None:
                    ns_id = NsId(parsed[0], nsfs_dev, parsed[1])
                    holder = NsHolder(HolderKind.OPEN_FD, pid, f"{fd_dir}/{name}")
                    found.append((ns_id, holder))
        except OSError:
            continue  # the process exited while we listed its fds
        finally:
            os.close(dir_fd)
    return found


def open_fd_holders(
    ns_fds: Mapping[int, Iterable[tuple[str, str]]], nsfs_dev: int, proc: str = "/proc"
) -> list[tuple[NsId, NsHolder]]:
    """The holders scan_open_fds would find, from fds the process scan already listed
    (``scan_processes(ns_fds=...)``: {pid: ((fd number, link text), ...)})."""
    found: list[tuple[NsId, NsHolder]] = []
    for pid in sorted(ns_fds):
        for name, text in ns_fds[pid]:
            parsed = parse_ns_text(text)
            if parsed is not None:
                ns_id = NsId(parsed[0], nsfs_dev, parsed[1])
                found.append((ns_id, NsHolder(HolderKind.OPEN_FD, pid, f"{proc}/{pid}/fd/{name}")))
    return found


def _thread_holders(processes: Mapping[int, Process], proc: str) -> list[tuple[NsId, NsHolder]]:
    """Threads sitting in other namespaces than their process."""
    found: list[tuple[NsId, NsHolder]] = []
    for pid in sorted(processes):
        for thread in processes[pid].odd_threads:
            for ns_type, ns_id in thread.ns.items():
                if processes[pid].ns.get(ns_type) != ns_id:
                    path = f"{proc}/{pid}/task/{thread.tid}"
                    found.append((ns_id, NsHolder(HolderKind.PROCESS, thread.tid, path)))
    return found


def _holder_path(holder: NsHolder, ns_type: NsType, proc: str) -> str:
    """A path through which the held namespace can be opened."""
    if holder.kind is HolderKind.BIND_MOUNT:
        return f"{proc}/{holder.pid}/root{holder.path}"
    if holder.kind is HolderKind.PROCESS:
        return f"{holder.path}/ns/{ns_type.value}"
    return holder.path


def _open_verified(
    paths: Iterable[tuple[str, int | None]], ns_id: NsId
) -> tuple[int, int | None] | None:
    """Open the first path that still is ``ns_id`` (a pid may have moved or been reused).

    Returns (fd, member pid or None when opened through a holder)."""
    for path, pid in paths:
        fd = open_ns(path)
        if fd is None:
            continue
        if ns_id_of_fd(fd, ns_id.type) == ns_id:
            return fd, pid
        os.close(fd)
    return None


def group_members(processes: Mapping[int, Process]) -> dict[NsId, list[int]]:
    """Member pids (ascending) of every namespace the processes are in.

    The scan shares one ``ns`` dict between processes with equal namespaces, so processes are
    grouped by that dict's identity first: at 10,000 processes in a few hundred namespace
    sets this touches each set's 8 NsIds once instead of hashing 80,000 of them (NsId's
    dataclass __hash__ runs in Python). Equal dicts that are distinct objects merge in the
    second step, so the result does not depend on that sharing.
    """
    members: dict[NsId, list[int]] = {}
    for ns, pids in group_by_shared(processes, _ns_of):
        for ns_id in ns.values():
            known = members.get(ns_id)
            if known is None:
                members[ns_id] = list(pids)
            else:
                known.extend(pids)
    for pids in members.values():
        pids.sort()  # runs of ascending pids: cheap
    return members


def _ns_of(process: Process) -> Mapping[NsType, NsId]:
    return process.ns


#: A namespace described ahead (see NsDescriber): its links, its facts (None for a pid
#: namespace: those come from the member list) and the member pid it was read through.
Described = tuple[NsLinks, NsFacts | None, int]


class NsDescriber:
    """Describes namespaces (nsfs ioctls, per-type facts) as a scan meets their first
    member, for ``build_namespaces(described=...)``: a full snapshot then does that work
    while the scan helper process is still reading, instead of after it. TYPES: describe
    only namespaces of these types (None: all)."""

    __slots__ = ("_maps", "done", "proc", "types")

    def __init__(self, proc: str = "/proc", types: frozenset[NsType] | None = None) -> None:
        self.proc = proc
        self.types = types
        self.done: dict[NsId, Described] = {}
        # ns dicts already looked at (the scan shares one per namespace set), kept so that
        # their ids stay unique
        self._maps: dict[int, Mapping[NsType, NsId]] = {}

    def see(self, process: Process) -> None:
        ns = process.ns
        if id(ns) in self._maps:
            return
        self._maps[id(ns)] = ns
        types = self.types
        for ns_id in ns.values():
            if ns_id not in self.done and (types is None or ns_id.type in types):
                self._describe(ns_id, process.pid)

    def _describe(self, ns_id: NsId, pid: int) -> None:
        from nstui.kernel.nsfacts import facts_for  # nsfacts imports this module

        opened = _open_verified([(f"{self.proc}/{pid}/ns/{ns_id.type.value}", pid)], ns_id)
        if opened is None:
            return  # gone or moved: build_namespaces reads it through another member
        fd = opened[0]
        try:
            links = read_links(fd, ns_id.type)
        finally:
            os.close(fd)
        facts = None if ns_id.type is NsType.PID else facts_for(ns_id.type, pid, (), self.proc)
        self.done[ns_id] = (links, facts, pid)


def build_namespaces(
    processes: Mapping[int, Process],
    *,
    holders: bool = True,
    proc: str = "/proc",
    described: Mapping[NsId, Described] | None = None,
    ns_fds: Mapping[int, Iterable[tuple[str, str]]] | None = None,
) -> dict[NsId, Namespace]:
    """One ``Namespace`` per namespace any process in ``processes`` is in.

    Owner, parent, owner uid and kernel id come from the nsfs ioctls on one member's
    /proc/PID/ns file; per-type facts from /proc (see nsfacts). With ``holders`` it also
    finds namespaces kept alive without a member process (nsfs bind mounts in every mount
    namespace, open fds of every process, threads in other namespaces than their process,
    and user/pid namespaces kept only as the owner or parent of another one) and lists those
    holders on namespaces with members too. ``holders`` costs a listing of /proc/PID/fd per
    process and one mountinfo read per mount namespace (see ``scan_open_fds``: ~0.3 s at
    10,000 processes); without it the cost is a few syscalls per namespace. DESCRIBED holds
    namespaces already described during the scan (NsDescriber); they are not read again.
    NS_FDS, the fds on namespaces the scan listed (see open_fd_holders), saves the fd scan.
    Never raises for a vanished process: what cannot be read stays None.
    """
    from nstui.kernel.nsfacts import facts_for  # nsfacts imports this module's dataclasses

    members = group_members(processes)

    held: dict[NsId, list[NsHolder]] = {}
    if holders:
        found = scan_bind_mounts(processes, proc) + _thread_holders(processes, proc)
        dev = _nsfs_dev(processes, proc)
        if dev is not None:
            if ns_fds is not None:
                found += open_fd_holders(ns_fds, dev, proc)
            else:
                found += scan_open_fds(processes, dev, proc)
        for ns_id, holder in found:
            held.setdefault(ns_id, [])
            if holder not in held[ns_id]:
                held[ns_id].append(holder)

    result: dict[NsId, Namespace] = {}
    # user/pid namespaces met only as an owner or parent: (their id, an open fd on them)
    ancestors: list[tuple[NsId, int]] = []
    seen = members.keys() | held.keys()

    def describe_and_close(fd: int, ns_id: NsId) -> NsLinks:
        try:
            links = read_links(fd, ns_id.type)
            if not holders:
                return links
            for related, request in ((links.owner, NS_GET_USERNS), (links.parent, NS_GET_PARENT)):
                if related is None or related in seen:
                    continue
                other = ioctl_fd(fd, request)
                if other is not None:
                    seen.add(related)
                    ancestors.append((related, other))
            return links
        finally:
            os.close(fd)

    for ns_id in sorted(seen, key=_display_order):
        pids = members.get(ns_id, [])
        ns_holders = (
            sorted(held[ns_id], key=lambda h: (h.kind.value, h.pid, h.path))
            if ns_id in held
            else []
        )
        links = NsLinks(None, None, None, None)
        via_pid: int | None = None
        facts: NsFacts | None = None
        ahead = described.get(ns_id) if described is not None else None
        if ahead is not None:
            links, facts, via_pid = ahead
            if holders and any(
                r is not None and r not in seen for r in (links.owner, links.parent)
            ):
                # its owner or parent is known only through it: open it again for them
                opened = _open_verified(_ns_paths(ns_id, pids, ns_holders, proc), ns_id)
                if opened is not None:
                    describe_and_close(opened[0], ns_id)
        else:
            # a generator: the paths after the first that opens are never formatted
            opened = _open_verified(_ns_paths(ns_id, pids, ns_holders, proc), ns_id)
            if opened is not None:
                fd, via_pid = opened
                links = describe_and_close(fd, ns_id)
        if facts is None:
            facts = facts_for(
                ns_id.type,
                via_pid,
                [(p, processes[p].nspid) for p in pids] if ns_id.type is NsType.PID else (),
                proc,
            )
        result[ns_id] = Namespace(
            id=ns_id,
            pids=tuple(pids),
            owner=links.owner,
            parent=links.parent,
            owner_uid=links.owner_uid,
            kernel_id=links.kernel_id,
            holders=tuple(ns_holders),
            facts=facts,
        )

    while ancestors:
        ns_id, fd = ancestors.pop()
        links = describe_and_close(fd, ns_id)
        result[ns_id] = Namespace(
            id=ns_id,
            pids=(),
            owner=links.owner,
            parent=links.parent,
            owner_uid=links.owner_uid,
            kernel_id=links.kernel_id,
        )
    return _with_references(result, members.keys() | held.keys())


def _ns_paths(
    ns_id: NsId, pids: list[int], holders: list[NsHolder], proc: str
) -> Iterator[tuple[str, int | None]]:
    """Paths to open NS_ID through: its first members, then its holders."""
    name = ns_id.type.value
    for pid in pids[:_OPEN_TRIES]:
        yield f"{proc}/{pid}/ns/{name}", pid
    for h in holders:
        yield _holder_path(h, ns_id.type, proc), None


def _display_order(ns_id: NsId) -> tuple[int, str]:
    # lsns lists by inode; the type breaks ties between equal inodes of different types
    return ns_id.ino, ns_id.type.value


def _with_references(
    result: dict[NsId, Namespace], direct: Iterable[NsId]
) -> dict[NsId, Namespace]:
    """Give namespaces found only as an owner or parent their REFERENCE holders, and return
    everything in display order."""
    direct_ids = set(direct)
    refs: dict[NsId, list[NsHolder]] = {}
    for ns in result.values():
        for word, related in (("owner", ns.owner), ("parent", ns.parent)):
            if related is not None and related not in direct_ids:
                refs.setdefault(related, []).append(
                    NsHolder(HolderKind.REFERENCE, 0, f"{word} of {ns.id}")
                )
    out: dict[NsId, Namespace] = {}
    for ns_id in sorted(result, key=_display_order):
        ns = result[ns_id]
        if ns_id in refs:
            ns = replace(ns, holders=tuple(sorted(refs[ns_id], key=lambda h: h.path)))
        out[ns_id] = ns
    return out
