"""Namespaces as the kernel reports them: owner, parent, holders and per-type facts.

Contract: ``Namespace`` is built for every namespace some process is in, and for namespaces
kept alive only by a bind mount (an nsfs entry in any mount namespace's mountinfo) or an open
file descriptor. Parent and owner come from the nsfs ioctls (NS_GET_PARENT, NS_GET_USERNS),
never from parsing link text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from nstui.kernel.nstypes import NsId, NsType


class HolderKind(StrEnum):
    PROCESS = "process"  # a process (or thread) is in it
    BIND_MOUNT = "bind"  # an nsfs bind mount keeps it (ip netns add, unshare --net=FILE)
    OPEN_FD = "fd"  # an open file descriptor keeps it


@dataclass(frozen=True, slots=True)
class NsHolder:
    """Something other than a member process that keeps a namespace alive."""

    kind: HolderKind
    pid: int  # the process holding the fd, or one process of the mount namespace seeing the mount
    path: str  # the bind-mount target, or /proc/PID/fd/N


@dataclass(frozen=True, slots=True)
class NetInterface:
    name: str
    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int


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
        """True when no process is in it and only a bind mount or fd keeps it alive."""
        return not self.pids and bool(self.holders)
