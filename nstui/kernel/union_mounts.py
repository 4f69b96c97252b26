"""Every mount namespace on the host and its mounts; the union mounts among them.

Each distinct mount namespace is found by stat(2) of ``/proc/PID/ns/mnt`` (its identity is
the nsfs device and inode, not the link text) and its mountinfo is read once, through the
first of its processes that is still there. A process vanishing mid-scan is normal: the next
member is tried, and a namespace whose members all vanished is dropped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from nstui.kernel.aufs import AufsMount, aufs_from_mount
from nstui.kernel.mountinfo import Mount, read_mountinfo
from nstui.kernel.nstypes import NsId, NsType
from nstui.kernel.overlay import OverlayMount, overlay_from_mount

UNION_TYPES: frozenset[str] = frozenset({"overlay", "aufs"})


@dataclass(frozen=True, slots=True)
class MountNamespace:
    """One mount namespace: its member processes and the mounts they see."""

    ns: NsId
    pids: tuple[int, ...]  # ascending
    #: the pid whose mountinfo was read (paths are as that process sees them)
    read_via: int | None
    mounts: tuple[Mount, ...]
    #: short name of the lowest pid's command, to tell namespaces apart
    label: str = ""
    #: True for the namespace nstui itself runs in
    is_own: bool = False
    #: why the mounts could not be read (EACCES...), None when they were
    error: str | None = None


@dataclass(frozen=True, slots=True)
class UnionMount:
    """An overlay or aufs mount in one mount namespace."""

    namespace: MountNamespace
    mount: Mount
    overlay: OverlayMount | None = None
    aufs: AufsMount | None = None

    @property
    def kind(self) -> str:
        return self.mount.fstype

    @property
    def target(self) -> str:
        return self.mount.mountpoint

    @property
    def layers(self) -> tuple[str, ...]:
        """Read-only layers, top first (overlay lowers or aufs read-only branches)."""
        if self.overlay is not None:
            return self.overlay.lowers
        if self.aufs is not None:
            return tuple(b.path for b in self.aufs.branches if not b.writable)
        return ()

    @property
    def upper(self) -> str | None:
        if self.overlay is not None:
            return self.overlay.upper
        if self.aufs is not None:
            writable = [b.path for b in self.aufs.branches if b.writable]
            return writable[0] if writable else None
        return None


@dataclass(frozen=True, slots=True)
class MountScan:
    """All mount namespaces at one moment."""

    namespaces: tuple[MountNamespace, ...]
    #: problems that are not errors of one namespace (e.g. /proc unreadable)
    notes: tuple[str, ...] = field(default=())

    def union_mounts(self) -> tuple[UnionMount, ...]:
        return tuple(u for ns in self.namespaces for u in union_mounts_of(ns))

    def find_namespace(self, pid: int) -> MountNamespace | None:
        for ns in self.namespaces:
            if pid in ns.pids:
                return ns
        return None


def _pids(proc: str) -> list[int]:
    try:
        return sorted(int(name) for name in os.listdir(proc) if name.isdecimal())
    except OSError:
        return []


def _comm(proc: str, pid: int) -> str:
    try:
        with open(f"{proc}/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


def mount_ns_of(pid: int | str, proc: str = "/proc") -> NsId:
    """The mount namespace identity of a process. Raises OSError when it is gone or
    unreadable."""
    st = os.stat(f"{proc}/{pid}/ns/mnt")
    return NsId(NsType.MNT, st.st_dev, st.st_ino)


def group_by_mount_ns(
    pids: Iterable[int], proc: str = "/proc", denied: list[int] | None = None
) -> dict[NsId, list[int]]:
    """pid lists per mount namespace; processes that vanished are left out, and those whose
    namespace may not be read (another user's, without root) are added to DENIED."""
    groups: dict[NsId, list[int]] = {}
    for pid in pids:
        try:
            ns = mount_ns_of(pid, proc)
        except PermissionError:
            if denied is not None:
                denied.append(pid)
            continue
        except OSError:
            continue  # vanished mid-scan
        groups.setdefault(ns, []).append(pid)
    return groups


def _read_namespace(ns: NsId, pids: list[int], own: NsId | None, proc: str) -> MountNamespace:
    error: str | None = None
    # mountinfo paths are relative to the reader's root: in our own namespace read our own
    # view (pid 1 may sit outside our chroot, as in an initramfs that chroots)
    order = pids
    if ns == own and os.getpid() in pids:
        order = [os.getpid(), *(p for p in pids if p != os.getpid())]
    for pid in order:
        try:
            mounts = read_mountinfo(pid, proc)
        except FileNotFoundError:
            continue  # vanished: try the next member
        except ProcessLookupError:
            continue
        except OSError as exc:
            error = f"{proc}/{pid}/mountinfo: {exc.strerror}"
            continue
        return MountNamespace(
            ns=ns,
            pids=tuple(pids),
            read_via=pid,
            mounts=tuple(mounts),
            label=_comm(proc, pids[0]),
            is_own=ns == own,
        )
    return MountNamespace(
        ns=ns,
        pids=tuple(pids),
        read_via=None,
        mounts=(),
        label=_comm(proc, pids[0]) if pids else "",
        is_own=ns == own,
        error=error or "every member process exited during the scan",
    )


def scan_mount_namespaces(proc: str = "/proc") -> MountScan:
    """Every mount namespace some process is in, each with its mountinfo read once."""
    try:
        own: NsId | None = mount_ns_of("self", proc)
    except OSError:
        own = None
    denied: list[int] = []
    groups = group_by_mount_ns(_pids(proc), proc, denied)
    notes: list[str] = []
    if not groups:
        notes.append(f"no process under {proc} could be read")
    if denied:
        shown = ", ".join(map(str, denied[:5])) + (", ..." if len(denied) > 5 else "")
        notes.append(
            f"the mount namespace of {len(denied)} process{'es' if len(denied) != 1 else ''} "
            f"could not be read (permission denied: pid {shown})"
        )
    namespaces = [_read_namespace(ns, pids, own, proc) for ns, pids in groups.items()]
    # The namespace nstui runs in first (normally the host's), then by lowest pid.
    namespaces = [ns for ns in namespaces if ns.error is None or ns.pids]
    namespaces.sort(key=lambda n: (not n.is_own, n.pids[0] if n.pids else 0))
    unreadable = [ns for ns in namespaces if ns.error is not None]
    if unreadable:
        notes.append(
            f"{len(unreadable)} mount namespace{'s' if len(unreadable) != 1 else ''} "
            f"not readable: {unreadable[0].error}"
        )
    return MountScan(namespaces=tuple(namespaces), notes=tuple(notes))


def union_mounts_of(ns: MountNamespace, sysfs_aufs: str = "/sys/fs/aufs") -> list[UnionMount]:
    out: list[UnionMount] = []
    for mount in ns.mounts:
        if mount.fstype == "overlay":
            out.append(UnionMount(namespace=ns, mount=mount, overlay=overlay_from_mount(mount)))
        elif mount.fstype == "aufs":
            out.append(
                UnionMount(namespace=ns, mount=mount, aufs=aufs_from_mount(mount, sysfs_aufs))
            )
    return out


def mount_at(mounts: Iterable[Mount], target: str) -> Mount | None:
    """The mount on top at TARGET (the last one mounted there), or None."""
    found: Mount | None = None
    path = os.path.normpath(target)
    for mount in mounts:
        if mount.mountpoint == path:
            found = mount
    return found


def mount_containing(mounts: Iterable[Mount], path: str) -> Mount | None:
    """The mount a (real, absolute) path lives on: the longest mountpoint prefix, the last
    mounted winning among equals."""
    best: Mount | None = None
    best_len = -1
    for mount in mounts:
        mp = mount.mountpoint
        if (path == mp or path.startswith(mp.rstrip("/") + "/")) and len(mp) >= best_len:
            best, best_len = mount, len(mp)
    return best
