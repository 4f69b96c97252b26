"""Cgroup paths from users, and safe directory handles for reading and writing cgroup files.

A user names a cgroup as cgroup-tools do (``memory:/web``; ``/web`` alone is the v2 tree) or
by its directory (``/sys/fs/cgroup/memory/web``). ``parse_cgroup_spec`` refuses ``..`` and
anything outside a cgroup mount. ``CgroupDir`` then opens the directory component by
component from the mount's fd with O_NOFOLLOW, on the mount's own device, so a directory
replaced by a symlink (or another filesystem mounted over it) between check and use is refused.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from nstui.kernel.cgroups.hierarchy import Hierarchy

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: Longest file content read from a cgroup file (memory.stat, io.stat are a few KiB).
MAX_READ = 1 << 20


class CgroupPathError(ValueError):
    """A cgroup path that is malformed, outside the cgroup mounts, or unsafe."""


class CgroupGone(OSError):
    """The cgroup does not exist (removed, or never made)."""

    def __str__(self) -> str:
        return str(self.strerror or super().__str__())


def _clean_parts(path: str, original: str) -> list[str]:
    if "\0" in path:
        raise CgroupPathError(f"{original!r}: contains a NUL byte")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise CgroupPathError(f"{original!r}: '..' is not allowed in a cgroup path")
    return parts


@dataclass(frozen=True, slots=True)
class CgroupRef:
    """One cgroup: its hierarchy and its hierarchy path (``/`` or ``/a/b``, mount root included,
    as /proc/PID/cgroup prints it)."""

    hierarchy: Hierarchy
    path: str

    @property
    def version(self) -> int:
        return self.hierarchy.version

    @property
    def hid(self) -> int:
        return self.hierarchy.hid

    @property
    def spec(self) -> str:
        """cgroup-tools form: ``memory:/web`` (v1, first controller), ``/web`` for v2."""
        if self.hierarchy.version == 2:
            return self.path
        return f"{','.join(self.hierarchy.controllers)}:{self.path}"

    def relative_parts(self) -> list[str]:
        """Components below the hierarchy's mount point."""
        parts = _clean_parts(self.path, self.path)
        root = [p for p in self.hierarchy.root.split("/") if p]
        if parts[: len(root)] != root:
            raise CgroupPathError(
                f"{self.spec}: outside {self.hierarchy.root}, the part of the hierarchy mounted"
                f" at {self.hierarchy.mountpoint}"
            )
        return parts[len(root) :]

    @property
    def directory(self) -> str:
        return os.path.join(self.hierarchy.mountpoint, *self.relative_parts())

    @property
    def is_root(self) -> bool:
        return not self.relative_parts()

    def child(self, name: str) -> CgroupRef:
        check_child_name(name)
        return CgroupRef(self.hierarchy, self.path.rstrip("/") + "/" + name)

    def parent(self) -> CgroupRef | None:
        if self.is_root:
            return None
        head = self.path.rstrip("/").rsplit("/", 1)[0]
        return CgroupRef(self.hierarchy, head or "/")

    def ancestors(self) -> list[CgroupRef]:
        """Parent, grandparent, ... up to the mounted root."""
        out: list[CgroupRef] = []
        ref = self.parent()
        while ref is not None:
            out.append(ref)
            ref = ref.parent()
        return out


def check_child_name(name: str) -> str:
    """A name for a new cgroup directory: one component, no control-file prefix."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise CgroupPathError(f"{name!r} is not a cgroup name (one path component)")
    if len(name.encode()) > 255:
        raise CgroupPathError(f"{name[:20]!r}...: name longer than 255 bytes")
    if "\n" in name:
        raise CgroupPathError(f"{name!r}: newline in a cgroup name")
    return name


def hierarchy_for_controller(controller: str, hierarchies: Sequence[Hierarchy]) -> Hierarchy | None:
    """The v1 hierarchy carrying CONTROLLER (``cpu,cpuacct`` lists must all match), else the v2
    tree when it has it. ``name=systemd`` names a named v1 hierarchy."""
    wanted = {c for c in controller.split(",") if c}
    for h in hierarchies:
        if h.version == 1 and wanted <= set(h.controllers):
            return h
    for h in hierarchies:
        if h.version == 2 and (wanted <= set(h.controllers) or wanted <= {"unified", "cgroup2"}):
            return h
    return None


def parse_cgroup_spec(text: str, hierarchies: Sequence[Hierarchy]) -> CgroupRef:
    """``memory:/web``, ``/web`` (v2) or ``/sys/fs/cgroup/memory/web`` -> CgroupRef."""
    spec = text.strip()
    if not spec:
        raise CgroupPathError("empty cgroup path")
    # Typed text only: a control character is a typo or paste accident (strip() would drop
    # one at the end but keep it inside, so the same name could parse two ways).
    bad = next((c for c in spec if c < " " or c == "\x7f"), None)
    if bad is not None:
        what = "a NUL byte" if bad == "\0" else f"the control character {bad!r}"
        raise CgroupPathError(f"{spec!r}: contains {what}")
    if ":" in spec and not spec.startswith("/"):
        controller, _, path = spec.partition(":")
        hierarchy = hierarchy_for_controller(controller, hierarchies)
        if hierarchy is None:
            mounted = ", ".join(h.name for h in hierarchies) or "none"
            raise CgroupPathError(
                f"{spec}: no mounted hierarchy has controller {controller!r} (mounted: {mounted})"
            )
        return _ref_from_hierarchy_path(hierarchy, path or "/", spec)
    parts = _clean_parts(spec, spec)
    # a directory under a mount point? the longest matching mount wins (unified under /sys/..)
    best: Hierarchy | None = None
    best_len = -1
    for h in hierarchies:
        mount_parts = [p for p in h.mountpoint.split("/") if p]
        if parts[: len(mount_parts)] == mount_parts and len(mount_parts) > best_len:
            best, best_len = h, len(mount_parts)
    if best is not None and best_len > 0:
        below = parts[best_len:]
        root = [p for p in best.root.split("/") if p]
        return CgroupRef(best, "/" + "/".join(root + below))
    v2 = next((h for h in hierarchies if h.version == 2), None)
    if v2 is None:
        raise CgroupPathError(
            f"{spec}: no cgroup v2 tree is mounted; name a v1 hierarchy as CONTROLLER:{spec}"
        )
    return _ref_from_hierarchy_path(v2, spec, spec)


def _ref_from_hierarchy_path(h: Hierarchy, path: str, original: str) -> CgroupRef:
    parts = _clean_parts(path, original)
    ref = CgroupRef(h, "/" + "/".join(parts))
    root = [p for p in h.root.split("/") if p]
    if root and parts[: len(root)] != root:
        # a container sees its own subtree as "/": take the path as relative to that root
        ref = CgroupRef(h, "/" + "/".join(root + parts))
    ref.relative_parts()  # raises when outside the mounted subtree
    return ref


def _strerror(exc: OSError) -> str:
    return exc.strerror or os.strerror(exc.errno or 0)


class CgroupDir:
    """An open cgroup directory (a context manager). Reads and writes go relative to its fd.

    Opening walks from the hierarchy's mount point one component at a time with O_NOFOLLOW and
    checks each step stays on the mount's device.
    """

    def __init__(self, ref: CgroupRef) -> None:
        self.ref = ref
        self.fd = -1
        self._parent: CgroupDir | None = None
        self.fd = open_dir_fd(ref)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self._parent is not None:
            self._parent.close()
            self._parent = None

    def __enter__(self) -> CgroupDir:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def files(self) -> list[str]:
        try:
            return sorted(
                name
                for name in os.listdir(self.fd)
                if not _is_subdir(self.fd, name)  # children are cgroups, not knobs
            )
        except OSError:
            return []

    def children(self) -> list[str]:
        try:
            return sorted(name for name in os.listdir(self.fd) if _is_subdir(self.fd, name))
        except OSError:
            return []

    def read_raw(self, name: str) -> str:
        """Read file NAME; raises OSError (ENOENT for a missing knob)."""
        if "/" in name or name in (".", ".."):
            raise CgroupPathError(f"{name!r} is not a cgroup file name")
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd)
        try:
            chunks: list[bytes] = []
            total = 0
            while total < MAX_READ:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
        finally:
            os.close(fd)
        return b"".join(chunks).decode("utf-8", errors="replace")

    def read(self, name: str) -> str | None:
        """File NAME's text, or None when it does not exist or cannot be read."""
        try:
            return self.read_raw(name)
        except (OSError, ValueError):
            return None

    def read_parent(self, name: str) -> str | None:
        parent = self.ref.parent()
        if parent is None:
            return None
        if self._parent is None:
            try:
                self._parent = CgroupDir(parent)
            except (OSError, ValueError):
                return None
        return self._parent.read(name)

    def exists(self, name: str) -> bool:
        try:
            os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except OSError:
            return False
        return True


def _is_subdir(dir_fd: int, name: str) -> bool:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode)


def open_dir_fd(ref: CgroupRef) -> int:
    """An O_RDONLY fd of the cgroup directory; raises CgroupGone, CgroupPathError or OSError."""
    parts = ref.relative_parts()
    try:
        fd = os.open(ref.hierarchy.mountpoint, _DIR_FLAGS)
    except OSError as exc:
        raise CgroupGone(
            exc.errno, f"{ref.hierarchy.mountpoint}: {_strerror(exc)} (hierarchy unmounted?)"
        ) from None
    try:
        device = os.fstat(fd).st_dev
        if not os.path.exists(f"/proc/self/fd/{fd}/cgroup.procs"):
            raise CgroupPathError(f"{ref.hierarchy.mountpoint} is not a cgroup filesystem")
        for index, part in enumerate(parts):
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                where = "/" + "/".join(parts[: index + 1])
                if exc.errno == errno.ENOENT:
                    raise CgroupGone(
                        errno.ENOENT, f"cgroup {ref.spec} does not exist (no {where})"
                    ) from None
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise CgroupPathError(
                        f"{ref.spec}: {where} is not a directory (a symlink?); refused"
                    ) from None
                raise
            os.close(fd)
            fd = next_fd
            if os.fstat(fd).st_dev != device:
                raise CgroupPathError(f"{ref.spec}: crosses into another filesystem; refused")
    except BaseException:
        os.close(fd)
        raise
    return fd
