"""aufs (the union filesystem of older docker hosts): mountinfo lines and /sys/fs/aufs.

aufs hides its branches from mountinfo: a line shows ``si=ID`` and the branches are listed in
``/sys/fs/aufs/si_ID/brN`` (``PATH=PERM``, branch 0 on top) with ``bridN`` ids beside them.
Kernels built without sysfs show ``br:PATH=PERM:PATH=PERM`` in the options instead.
Mainline kernels do not carry aufs: ``aufs_available()`` says whether this one does.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from nstui.kernel.mountinfo import Mount
from nstui.kernel.overlay import split_super_options

#: aufs's whiteout prefix: ``.wh.NAME`` in a branch hides NAME in the branches below.
WHITEOUT_PREFIX = ".wh."
#: a directory holding this file is opaque: nothing below it shows through.
OPAQUE_MARK = ".wh..wh..opq"
#: aufs's own bookkeeping entries, never user data.
PRIVATE_ENTRIES = frozenset({".wh..wh.aufs", ".wh..wh.plnk", ".wh..wh.orph"})


def filesystems(proc: str = "/proc") -> frozenset[str]:
    """The filesystem types this kernel knows (``/proc/filesystems``)."""
    try:
        with open(f"{proc}/filesystems", encoding="utf-8") as f:
            return frozenset(line.split()[-1] for line in f if line.strip())
    except OSError:
        return frozenset()


def aufs_available(proc: str = "/proc") -> bool:
    return "aufs" in filesystems(proc)


def aufs_absent_reason(proc: str = "/proc") -> str | None:
    """None when this kernel has aufs, else the sentence the views and CLI print."""
    if aufs_available(proc):
        return None
    return (
        f"aufs is not available in this kernel ({os.uname().release}): "
        f"{proc}/filesystems does not list it (mainline Linux never merged aufs)"
    )


@dataclass(frozen=True, slots=True)
class AufsBranch:
    index: int  # 0 is the top branch
    path: str
    perm: str  # rw, ro, rr, with attributes such as "ro+wh"
    brid: int | None = None

    @property
    def writable(self) -> bool:
        return self.perm.split("+", 1)[0] == "rw"


@dataclass(frozen=True, slots=True)
class AufsMount:
    mount: Mount
    si: str | None  # the superblock id of /sys/fs/aufs/si_ID; None when not shown
    branches: tuple[AufsBranch, ...]  # top first
    #: why the branches are missing, when they are
    note: str | None = None

    @property
    def target(self) -> str:
        return self.mount.mountpoint


def parse_branch(text: str, index: int, brid: int | None = None) -> AufsBranch:
    """One ``PATH=PERM`` branch; the permission is after the last ``=``."""
    path, sep, perm = text.strip().rpartition("=")
    if not sep:
        path, perm = text.strip(), "ro"
    return AufsBranch(index=index, path=path, perm=perm, brid=brid)


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError:
        return None


_BR_FILE = re.compile(r"br(\d+)")


def read_si_branches(si: str, sysfs: str = "/sys/fs/aufs") -> tuple[AufsBranch, ...] | None:
    """The branches listed under ``sysfs/si_ID``, top first; None when the directory is
    unreadable or absent."""
    base = os.path.join(sysfs, f"si_{si}")
    try:
        names = os.listdir(base)
    except OSError:
        return None
    branches: list[AufsBranch] = []
    for name in names:
        match = _BR_FILE.fullmatch(name)
        if match is None:
            continue
        index = int(match.group(1))
        text = _read_text(os.path.join(base, name))
        if text is None:
            continue
        brid_text = _read_text(os.path.join(base, f"brid{index}"))
        brid = int(brid_text) if brid_text and brid_text.strip().isdecimal() else None
        branches.append(parse_branch(text, index, brid))
    return tuple(sorted(branches, key=lambda b: b.index))


def aufs_from_mount(mount: Mount, sysfs: str = "/sys/fs/aufs") -> AufsMount | None:
    """The aufs view of a mountinfo record (None when it is not aufs)."""
    if mount.fstype != "aufs":
        return None
    si: str | None = None
    inline: tuple[AufsBranch, ...] = ()
    for key, value in split_super_options(mount.super_options):
        if key == "si" and value:
            si = value
        elif key.startswith("br:") or key.startswith("br="):
            # br:PATH=PERM:PATH=PERM; split_super_options cut it at the first "=".
            text = key[3:] + ("=" + value if value is not None else "")
            inline = tuple(parse_branch(b, i) for i, b in enumerate(text.split(":")) if b)
    if inline:
        return AufsMount(mount=mount, si=si, branches=inline)
    if si is None:
        return AufsMount(mount=mount, si=None, branches=(), note="no si= option shown")
    branches = read_si_branches(si, sysfs)
    if branches is None:
        return AufsMount(
            mount=mount,
            si=si,
            branches=(),
            note=f"{sysfs}/si_{si} is not readable (sysfs not mounted here?)",
        )
    return AufsMount(mount=mount, si=si, branches=branches)
