"""Discover cgroup hierarchies from mountinfo and walk their trees.

Contract: ``discover_hierarchies()`` finds every mounted hierarchy (v1 with its controllers,
v2 with cgroup.controllers); ``walk(hierarchy)`` yields every cgroup with its member pids,
threads and controllers. A cgroup removed mid-walk is dropped silently.
``resolve_cgroup_dir`` turns a cgroup path into a directory that is certain to lie inside the
hierarchy's mount: every write path goes through it.
"""

from __future__ import annotations

import dataclasses
import errno
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from nstui.kernel.mountinfo import Mount, read_mountinfo

PROC = "/proc"

#: Generic v1 mount options that are not controllers (used only when /proc/cgroups is
#: unreadable; otherwise a controller is what /proc/cgroups names, plus ``name=`` entries).
_V1_NON_CONTROLLER_OPTIONS = frozenset(
    {"rw", "ro", "none", "noprefix", "clone_children", "xattr", "cpuset_v2_mode", "favordynmods"}
)


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """One mounted cgroup hierarchy.

    ``hid`` is the hierarchy id of /proc/cgroups and /proc/PID/cgroup (0 for v2).
    """

    hid: int
    version: int  # 1 or 2
    controllers: tuple[
        str, ...
    ]  # v1: mount options (cpu, cpuacct, name=systemd...); v2: cgroup.controllers
    mountpoint: str
    #: the mount's root inside the hierarchy (mountinfo field 4): "/" unless a subtree is
    #: mounted (containers). Cgroup paths are hierarchy paths; their directory is
    #: mountpoint + (path minus this root).
    root: str = "/"

    @property
    def name(self) -> str:
        """As `lssubsys -m` names it: controllers joined by commas; ``unified`` for v2."""
        return ",".join(self.controllers) if self.version == 1 else "unified"


@dataclass(frozen=True, slots=True)
class Cgroup:
    """One cgroup directory in one snapshot. ``path`` is relative to the hierarchy root,
    starting with ``/`` (as /proc/PID/cgroup prints it)."""

    hid: int
    path: str
    pids: tuple[int, ...]  # cgroup.procs
    tids: tuple[int, ...]  # tasks (v1) / cgroup.threads (v2)
    controllers: tuple[str, ...]  # v2: cgroup.controllers; v1: the hierarchy's
    subtree_control: tuple[str, ...] = ()  # v2 only
    threaded: bool = False  # v2 cgroup.type is threaded / domain threaded

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1] or "/"

    @property
    def parent_path(self) -> str | None:
        if self.path == "/":
            return None
        head = self.path.rsplit("/", 1)[0]
        return head or "/"


@dataclass(frozen=True, slots=True)
class ProcCgroupsEntry:
    """One line of /proc/cgroups. ``hierarchy`` 0: on no v1 hierarchy (v2 or unused)."""

    controller: str
    hierarchy: int
    num_cgroups: int
    enabled: bool


def read_proc_cgroups(proc: str = PROC) -> tuple[ProcCgroupsEntry, ...]:
    """Every controller the kernel has, from /proc/cgroups; () when it cannot be read."""
    try:
        with open(f"{proc}/cgroups", encoding="ascii", errors="replace") as f:
            text = f.read()
    except OSError:
        return ()
    out: list[ProcCgroupsEntry] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 4 or line.startswith("#"):
            continue
        try:
            out.append(ProcCgroupsEntry(parts[0], int(parts[1]), int(parts[2]), parts[3] == "1"))
        except ValueError:
            continue
    return tuple(out)


def _self_hierarchy_ids(proc: str) -> dict[frozenset[str], int]:
    """Controller set -> hierarchy id, from /proc/self/cgroup (names ``name=X`` hierarchies
    too, which /proc/cgroups does not list)."""
    try:
        with open(f"{proc}/self/cgroup", encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except OSError:
        return {}
    out: dict[frozenset[str], int] = {}
    for line in text.splitlines():
        hid_s, _, rest = line.partition(":")
        controllers, _, _path = rest.partition(":")
        try:
            hid = int(hid_s)
        except ValueError:
            continue
        if hid:
            out[frozenset(controllers.split(","))] = hid
    return out


def _v1_controllers(super_options: str, known: frozenset[str]) -> tuple[str, ...]:
    out: list[str] = []
    for option in super_options.split(","):
        if known:
            keep = option.startswith("name=") or option in known
        else:
            keep = "=" not in option or option.startswith("name=")
            keep = keep and option not in _V1_NON_CONTROLLER_OPTIONS
        if keep:
            out.append(option)
    return tuple(out)


def _read_words(path: str) -> tuple[str, ...] | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return tuple(f.read().split())
    except OSError:
        return None


def discover_hierarchies(
    mounts: Sequence[Mount] | None = None, proc: str = PROC
) -> tuple[Hierarchy, ...]:
    """Every mounted cgroup hierarchy: v1 ones by hierarchy id, then the v2 tree (hid 0).

    MOUNTS defaults to this process's mountinfo. A hierarchy mounted twice appears once (the
    mount of its root preferred, else the first). A v1 mount whose hierarchy id cannot be
    matched (neither /proc/self/cgroup nor /proc/cgroups name it) is left out.
    """
    if mounts is None:
        try:
            mounts = read_mountinfo("self", proc)
        except OSError:
            return ()
    proc_cgroups = read_proc_cgroups(proc)
    known = frozenset(e.controller for e in proc_cgroups)
    hid_of_controller = {e.controller: e.hierarchy for e in proc_cgroups if e.hierarchy}
    hid_of_set = _self_hierarchy_ids(proc)
    found: dict[int, Hierarchy] = {}
    for mount in mounts:
        if mount.fstype == "cgroup":
            controllers = _v1_controllers(mount.super_options, known)
            hid = hid_of_set.get(frozenset(controllers))
            if hid is None:
                hid = next(
                    (hid_of_controller[c] for c in controllers if c in hid_of_controller), None
                )
            if hid is None:
                continue
            hierarchy = Hierarchy(hid, 1, controllers, mount.mountpoint, mount.root)
        elif mount.fstype == "cgroup2":
            v2 = _read_words(os.path.join(mount.mountpoint, "cgroup.controllers")) or ()
            hierarchy = Hierarchy(0, 2, v2, mount.mountpoint, mount.root)
        else:
            continue
        earlier = found.get(hierarchy.hid)
        if earlier is None or (earlier.root != "/" and hierarchy.root == "/"):
            found[hierarchy.hid] = hierarchy
    return tuple(sorted(found.values(), key=lambda h: (h.version, h.hid)))


def cgroup_mode(mounts: Sequence[Mount] | None = None, proc: str = PROC) -> str:
    """``unified`` (only cgroup2 mounted), ``hybrid`` (v1 and v2), ``legacy`` (only v1), or
    ``none`` when no cgroup filesystem is mounted."""
    if mounts is None:
        try:
            mounts = read_mountinfo("self", proc)
        except OSError:
            return "none"
    fstypes = {m.fstype for m in mounts}
    v1, v2 = "cgroup" in fstypes, "cgroup2" in fstypes
    if v1 and v2:
        return "hybrid"
    if v1:
        return "legacy"
    return "unified" if v2 else "none"


def resolve_cgroup_dir(h: Hierarchy, path: str) -> str:
    """The directory of cgroup PATH (as /proc/PID/cgroup prints it: ``/a/b``; ``a/b`` is taken
    relative to the hierarchy root too), guaranteed to lie inside ``h.mountpoint``.

    Raises ValueError for ``..`` components, NUL bytes, a path outside the mounted subtree,
    or one that resolves (symlinks included) outside the mount point.
    """
    if "\0" in path:
        raise ValueError(f"cgroup path {path!r} contains a NUL byte")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"cgroup path {path!r} must not contain '..'")
    root_parts = [p for p in h.root.split("/") if p not in ("", ".")]
    if root_parts:
        if parts[: len(root_parts)] != root_parts:
            raise ValueError(
                f"cgroup path {path!r} is outside {h.root!r}, the part of hierarchy "
                f"{h.name} mounted at {h.mountpoint}"
            )
        parts = parts[len(root_parts) :]
    base = os.path.realpath(h.mountpoint)
    target = os.path.realpath(os.path.join(base, *parts))
    if target != base and not target.startswith(base.rstrip("/") + "/"):
        raise ValueError(f"cgroup path {path!r} resolves to {target}, outside {h.mountpoint}")
    return target


def _read_ids(path: str) -> tuple[int, ...]:
    """Pids or tids of a cgroup file, ascending and unique (v1 lists may repeat a pid)."""
    with open(path, "rb") as f:
        data = f.read()
    # map/set/sorted run in C: the root of a v1 hierarchy lists every thread of the host
    return tuple(sorted(set(map(int, data.split()))))


def _cgroup_at(
    h: Hierarchy, directory: str, path: str, procs: bool = True, members: bool = True
) -> Cgroup | None:
    """Read one cgroup directory; None when it was removed meanwhile. MEMBERS false leaves
    its pids and tids empty (not read)."""
    try:
        pids: tuple[int, ...] = ()
        tids: tuple[int, ...] = ()
        try:
            if members and procs:
                pids = _read_ids(os.path.join(directory, "cgroup.procs"))
        except OSError as exc:
            # a threaded v2 cgroup refuses cgroup.procs: normal, its threads are listed
            if exc.errno not in (errno.EOPNOTSUPP, errno.EACCES, errno.EPERM):
                raise
        tids_file = "tasks" if h.version == 1 else "cgroup.threads"
        try:
            if members:
                tids = _read_ids(os.path.join(directory, tids_file))
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EACCES, errno.EPERM):
                raise
            tids = ()
    except (FileNotFoundError, NotADirectoryError):
        return None  # removed before we opened it
    except OSError as exc:
        if exc.errno == errno.ENODEV:
            return None  # removed while we read it
        pids, tids = (), ()
    if h.version == 1:
        return Cgroup(h.hid, path, pids, tids, h.controllers)
    controllers = _read_words(os.path.join(directory, "cgroup.controllers")) or ()
    subtree = _read_words(os.path.join(directory, "cgroup.subtree_control")) or ()
    cgtype = _read_words(os.path.join(directory, "cgroup.type"))  # absent at the root
    # "domain", "domain threaded", "domain invalid" or "threaded"
    threaded = cgtype is not None and cgtype[-1:] == ("threaded",)
    return Cgroup(h.hid, path, pids, tids, controllers, subtree, threaded)


def walk(h: Hierarchy, *, procs: bool = True, root_members: bool = True) -> Iterator[Cgroup]:
    """Every cgroup of hierarchy H, parents before children, siblings by name.

    Paths are hierarchy paths as /proc/PID/cgroup prints them (the mount root prefixed).
    A cgroup removed mid-walk is skipped silently; its children are then not visited.
    PROCS false leaves ``pids`` empty (``tasks``, v2 ``cgroup.threads``, are read): for a
    caller that knows which tids are processes (a process scan), as reading cgroup.procs
    too costs the kernel a second pass over every member. ROOT_MEMBERS false leaves the top
    cgroup's pids and tids empty: on most hosts it lists nearly every thread, and a caller
    that knows the membership from before can tell moves from the other cgroups' lists.
    """
    root = "/" + "/".join(p for p in h.root.split("/") if p)
    stack: list[tuple[str, str]] = [(h.mountpoint, root)]
    while stack:
        directory, path = stack.pop()
        cgroup = _cgroup_at(h, directory, path, procs, root_members or path != root)
        if cgroup is None:
            continue
        yield cgroup
        try:
            with os.scandir(directory) as entries:
                names = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue  # removed after we read it
        prefix = path.rstrip("/")
        for name in sorted(names, reverse=True):
            stack.append((os.path.join(directory, name), f"{prefix}/{name}"))


#: The inode of the initial cgroup namespace (PROC_CGROUP_INIT_INO, include/linux/proc_ns.h).
CGROUP_INIT_INO = 0xEFFFFFFB


def sees_whole_trees(proc: str = PROC) -> bool:
    """Whether this process is in the initial cgroup namespace, where a hierarchy mounted at
    its root shows every thread of the host (a cgroup namespace shows a subtree)."""
    try:
        return os.stat(f"{proc}/self/ns/cgroup").st_ino == CGROUP_INIT_INO
    except OSError:
        return False


def walk_all(hierarchies: Iterable[Hierarchy], proc: str = PROC) -> Iterator[Cgroup]:
    """``walk(h, procs=False)`` of every hierarchy, reading one top cgroup's list in all.

    Every thread is in exactly one cgroup of each hierarchy, and the top cgroups of a host
    list nearly every thread (10,000 lines each at 10,000 processes: ~5 ms to read and
    parse, ten hierarchies here). Where the trees are whole (``sees_whole_trees``, mounts
    of the hierarchy root), the first hierarchy is read in full, which gives every thread,
    and the top cgroup of each other one is given the threads its cgroups below do not
    list. Elsewhere each hierarchy is read in full. Moments apart, as any walk's lists are.
    """
    everyone: tuple[int, ...] | None = None
    whole = sees_whole_trees(proc)
    for h in hierarchies:
        if not whole or h.root != "/":
            yield from walk(h, procs=False)
            continue
        if everyone is None:
            cgroups = list(walk(h, procs=False))
            if cgroups and cgroups[0].path == "/" and cgroups[0].tids:
                everyone = tuple(sorted(set().union(*(cg.tids for cg in cgroups))))
            yield from cgroups
            continue
        cgroups = list(walk(h, procs=False, root_members=False))
        if not cgroups or cgroups[0].path != "/":
            yield from cgroups
            continue
        below = set().union(*(cg.tids for cg in cgroups[1:]))
        # filterfalse keeps EVERYONE's order (ascending), in a C loop
        top = everyone if not below else tuple(itertools.filterfalse(below.__contains__, everyone))
        yield dataclasses.replace(cgroups[0], tids=top)
        yield from cgroups[1:]
