"""Namespace types and identities: the vocabulary every other kernel module uses."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NsType(StrEnum):
    """The eight namespace types, named as in /proc/PID/ns/."""

    PID = "pid"
    NET = "net"
    MNT = "mnt"
    UTS = "uts"
    IPC = "ipc"
    USER = "user"
    CGROUP = "cgroup"
    TIME = "time"


#: Display and scan order (lsns lists types in this order too).
NS_TYPES: tuple[NsType, ...] = tuple(NsType)

#: clone(2)/unshare(2)/setns(2) flag of each type.
CLONE_FLAGS: dict[NsType, int] = {
    NsType.MNT: 0x00020000,  # CLONE_NEWNS
    NsType.CGROUP: 0x02000000,
    NsType.UTS: 0x04000000,
    NsType.IPC: 0x08000000,
    NsType.USER: 0x10000000,
    NsType.PID: 0x20000000,
    NsType.NET: 0x40000000,
    NsType.TIME: 0x00000080,
}


def parse_ns_types(text: str) -> tuple[NsType, ...]:
    """Parse a comma-separated list such as ``net,uts,pid`` (``all`` means every type).

    Raises ValueError naming the unknown type. Duplicates are dropped, order kept.
    """
    words = [w.strip().lower() for w in text.split(",") if w.strip()]
    if not words:
        raise ValueError("no namespace type given")
    if words == ["all"]:
        return NS_TYPES
    out: list[NsType] = []
    for word in words:
        try:
            ns_type = NsType(word)
        except ValueError:
            known = ", ".join(t.value for t in NS_TYPES)
            raise ValueError(f"unknown namespace type {word!r} (known: {known})") from None
        if ns_type not in out:
            out.append(ns_type)
    return tuple(out)


@dataclass(frozen=True, slots=True, order=True)
class NsId:
    """Identity of a namespace: its type plus the (device, inode) of its nsfs file.

    Not the parsed link text: identity comes from stat(2). Inodes are reused after a
    namespace dies, so two snapshots taken at different times may name different namespaces
    with equal NsIds; diffs must not assume uniqueness across time.
    """

    type: NsType
    dev: int
    ino: int

    def __hash__(self) -> int:
        # Equal ids have equal inodes; the generated hash (which hashes the enum through a
        # Python-level Enum.__hash__) cost ~1 us, a lot at 80,000 lookups per snapshot.
        return self.ino

    def __str__(self) -> str:
        # Same text as the /proc/PID/ns link and lsns's NS column uses the inode alone.
        return f"{self.type.value}:[{self.ino}]"

    @property
    def is_initial(self) -> bool:
        """True for the boot-time namespaces (inodes 0xEFFFFFF8..0xEFFFFFFF on Linux)."""
        return 0xEFFFFFF8 <= self.ino <= 0xEFFFFFFF
