"""Mount and unmount overlays, checking everything the kernel would refuse first.

The kernel's reasons for refusing an overlay (missing workdir, upper and work on different
mounts, fewer than 2 lowers without upper...) go to dmesg only, with a bare EINVAL to the
caller; so ``check_spec`` finds them itself and says which path is wrong.

The mount uses the new mount API where the kernel has it: one ``fsconfig(lowerdir+)`` per
layer, so no path needs escaping and the layer count is not bound by mount(2)'s 4096-byte
option page. Without it (kernels before 6.8 lack ``lowerdir+``; before 5.2 ``fsopen``),
mount(2) is used with overlay's escapes, and refused when the option string would not fit
(the kernel silently cuts it at 4096 bytes, failing with a misleading ENOENT).

This module changes the mount table of the *calling* process's mount namespace. To mount in
another process's namespace, run ``nstui overlay mount`` through the namespace helper.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from nstui.kernel import killpoint, syscalls
from nstui.kernel.mountinfo import Mount, read_mountinfo
from nstui.kernel.overlay import mount_data, overlay_escape
from nstui.kernel.union_mounts import mount_at, mount_containing

#: mount(2) copies one page of option data; a longer string is cut without an error.
MOUNT_DATA_MAX = 4096

#: Options accepted by ``--option``: name -> allowed values (empty: a flag without value).
KNOWN_OPTIONS: dict[str, tuple[str, ...]] = {
    "index": ("on", "off"),
    "redirect_dir": ("on", "off", "follow", "nofollow"),
    "metacopy": ("on", "off"),
    "xino": ("on", "off", "auto"),
    "nfs_export": ("on", "off"),
    "uuid": ("on", "off", "null", "auto"),
    "verity": ("on", "off", "require"),
    "volatile": (),
    "userxattr": (),
    "ro": (),
}

#: Entries overlay itself leaves in a work dir after an earlier mount of the same upper.
OVERLAY_WORK_ENTRIES = frozenset({"work", "index"})


NEEDS_ROOT = (
    "mounting needs CAP_SYS_ADMIN in the mount namespace's user namespace: run nstui as root "
    "(the kernel said: Operation not permitted)"
)


class OverlayError(Exception):
    """A refusal or failure, with a message that names the path and the reason."""


@dataclass(frozen=True, slots=True)
class OverlaySpec:
    """What to mount. Lowers are top first (the first one is closest to the merged view)."""

    lowers: tuple[str, ...]
    target: str
    upper: str | None = None
    work: str | None = None
    options: tuple[str, ...] = ()  # "index=on", "volatile", ...


@dataclass(frozen=True, slots=True)
class MountResult:
    target: str
    method: str  # "fsopen (lowerdir+)" or "mount(2)"
    mount: Mount | None  # the new mount as mountinfo shows it, when found


def _abs(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def _inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def parse_options(options: Sequence[str]) -> tuple[tuple[str, str | None], ...]:
    """Validate ``--option`` values (each may hold several, comma-separated)."""
    out: list[tuple[str, str | None]] = []
    for text in options:
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            if key in ("lowerdir", "lowerdir+", "upperdir", "workdir", "datadir+"):
                raise OverlayError(f"option {key}: give layers with --lower/--upper/--work")
            if key not in KNOWN_OPTIONS:
                known = ", ".join(sorted(KNOWN_OPTIONS))
                raise OverlayError(f"unknown overlay option {key!r} (known: {known})")
            allowed = KNOWN_OPTIONS[key]
            if not allowed and sep:
                raise OverlayError(f"option {key} takes no value (got {item!r})")
            if allowed and (not sep or value not in allowed):
                raise OverlayError(f"option {key} needs one of {', '.join(allowed)} (got {item!r})")
            out.append((key, value if sep else None))
    return tuple(out)


def check_spec(spec: OverlaySpec, mounts: Sequence[Mount] | None = None) -> OverlaySpec:
    """Check everything the kernel would refuse; return the spec with absolute, resolved
    paths. Raises OverlayError with a message naming the offending path."""
    checked = check_layers(spec, mounts)
    _require_dir(checked.target, "target")
    return checked


def check_layers(spec: OverlaySpec, mounts: Sequence[Mount] | None = None) -> OverlaySpec:
    """``check_spec`` without the target (checked where the mount is attached)."""
    if not spec.lowers:
        raise OverlayError("no lower layer given: an overlay needs at least one --lower")
    if (spec.upper is None) != (spec.work is None):
        given, missing = ("upper", "work") if spec.work is None else ("work", "upper")
        raise OverlayError(f"a {given} dir needs a {missing} dir too (or neither, read-only)")
    if spec.upper is None and len(spec.lowers) < 2:
        raise OverlayError(
            "a read-only overlay (no upper dir) needs at least 2 lower layers; "
            "give a second --lower or an --upper and --work"
        )
    lowers = tuple(_abs(p) for p in spec.lowers)
    for i, path in enumerate(lowers, start=1):
        _require_dir(path, f"lower {i}")
    if len(set(map(os.path.realpath, lowers))) != len(lowers):
        raise OverlayError("the same directory is given twice as a lower layer")
    target = _abs(spec.target)
    upper = work = None
    parse_options(spec.options)
    if spec.upper is not None and spec.work is not None:
        upper, work = _abs(spec.upper), _abs(spec.work)
        _require_dir(upper, "upper")
        _require_dir(work, "work")
        _check_upper_work(upper, work, lowers, mounts)
    elif any(o.split("=", 1)[0] == "volatile" for opt in spec.options for o in opt.split(",")):
        raise OverlayError("option volatile needs an upper dir")
    return OverlaySpec(lowers=lowers, target=target, upper=upper, work=work, options=spec.options)


def _require_dir(path: str, role: str) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise OverlayError(f"{role} {path}: no such directory") from None
    except OSError as exc:
        raise OverlayError(f"{role} {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise OverlayError(f"{role} {path}: not a directory")


def _check_upper_work(
    upper: str, work: str, lowers: tuple[str, ...], mounts: Sequence[Mount] | None
) -> None:
    up_real, work_real = os.path.realpath(upper), os.path.realpath(work)
    if os.stat(up_real).st_dev != os.stat(work_real).st_dev:
        raise OverlayError(
            f"work {work} is on another filesystem than upper {upper}: "
            "they must be on the same filesystem (same mount)"
        )
    if mounts is None:
        try:
            mounts = read_mountinfo()
        except OSError:
            mounts = []
    m_up, m_work = mount_containing(mounts, up_real), mount_containing(mounts, work_real)
    if m_up is not None and m_work is not None and m_up.mount_id != m_work.mount_id:
        raise OverlayError(
            f"work {work} is on mount {m_work.mountpoint} but upper {upper} on "
            f"{m_up.mountpoint}: they must be under the same mount"
        )
    if up_real == work_real:
        raise OverlayError(f"upper and work are the same directory ({upper})")
    if _inside(work_real, up_real) or _inside(up_real, work_real):
        raise OverlayError(f"upper {upper} and work {work} must not be inside one another")
    for i, lower in enumerate(lowers, start=1):
        low_real = os.path.realpath(lower)
        if _inside(work_real, low_real) or _inside(low_real, work_real):
            raise OverlayError(f"work {work} must not be inside lower {i} ({lower}) or hold it")
        if _inside(up_real, low_real) or _inside(low_real, up_real):
            raise OverlayError(f"upper {upper} must not be inside lower {i} ({lower}) or hold it")
    try:
        entries = set(os.listdir(work_real))
    except OSError as exc:
        raise OverlayError(f"work {work}: {exc.strerror}") from None
    if entries - OVERLAY_WORK_ENTRIES:
        shown = ", ".join(sorted(entries - OVERLAY_WORK_ENTRIES)[:5])
        raise OverlayError(
            f"work {work} is not empty ({shown}): overlay needs an empty work dir "
            "on the same filesystem as upper"
        )


def _kernel_reason(fd: int) -> str:
    messages = [m[2:] if m[:2] in ("e ", "w ", "i ") else m for m in syscalls.fs_context_log(fd)]
    return "; ".join(messages)


class Unsupported(Exception):
    """The kernel lacks fsopen or lowerdir+: use mount(2)."""


_PLUS_SUPPORTED: bool | None = None


def lowerdir_plus_supported() -> bool:
    """Whether this kernel's overlay takes ``lowerdir+`` (6.8+). Probed once: before 6.5
    overlay has no fs_context parser of its own and the kernel's legacy one accepts any key
    (appending it to the mount(2) string, so ``lowerdir+`` fails only at create, as EINVAL);
    a parser of its own refuses an unknown key at once."""
    global _PLUS_SUPPORTED
    if _PLUS_SUPPORTED is None:
        try:
            fd = syscalls.fsopen("overlay")
        except OSError:
            _PLUS_SUPPORTED = False
            return False
        try:
            try:
                syscalls.fsconfig(fd, syscalls.FSCONFIG_SET_FLAG, "nstui-probe-unknown-key")
                _PLUS_SUPPORTED = False  # accepted: the legacy parser
            except OSError:
                try:
                    syscalls.fsconfig(fd, syscalls.FSCONFIG_SET_STRING, "lowerdir+", "/")
                    _PLUS_SUPPORTED = True
                except OSError:
                    _PLUS_SUPPORTED = False  # 6.5-6.7: own parser without lowerdir+
        finally:
            os.close(fd)
    return _PLUS_SUPPORTED


def create_detached(
    spec: OverlaySpec, flags: tuple[tuple[str, str | None], ...], plus: bool = True
) -> int:
    """Create the overlay with the new mount API and return a detached mount fd (closing it
    without attaching frees the mount). ``plus``: one ``lowerdir+`` per layer (6.8+), else
    one escaped ``lowerdir`` string (5.2+). Raises Unsupported or OverlayError."""
    if plus and not lowerdir_plus_supported():
        raise Unsupported
    try:
        fs_fd = syscalls.fsopen("overlay")
    except OSError as exc:
        if exc.errno == errno.ENOSYS:
            raise Unsupported from None
        if exc.errno == errno.EPERM:
            raise OverlayError(NEEDS_ROOT) from None
        raise OverlayError(f"fsopen(overlay): {exc.strerror}") from None
    try:
        if not plus:
            joined = ":".join(overlay_escape(p) for p in spec.lowers)
            _config(fs_fd, "lowerdir", joined, "lowerdir")
        for i, lower in enumerate(spec.lowers if plus else ()):
            try:
                syscalls.fsconfig(fs_fd, syscalls.FSCONFIG_SET_STRING, "lowerdir+", lower)
            except OSError as exc:
                reason = _kernel_reason(fs_fd)
                if i == 0 and exc.errno == errno.EINVAL and ("nknown" in reason or not reason):
                    raise Unsupported from None
                raise OverlayError(
                    f"lower {i + 1} {lower}: {reason or exc.strerror} (kernel refused it)"
                ) from None
        # upperdir/workdir are unescaped by the kernel in both APIs: escape them
        for key, value in (("upperdir", spec.upper), ("workdir", spec.work)):
            if value is not None:
                _config(fs_fd, key, overlay_escape(value), f"{key} {value}")
        for key, value in flags:
            if key == "ro":
                continue  # a mount attribute, applied at fsmount
            _config(fs_fd, key, value, f"option {key}")
        try:
            syscalls.fsconfig(fs_fd, syscalls.FSCONFIG_CMD_CREATE)
        except OSError as exc:
            reason = _kernel_reason(fs_fd) or "no reason given (see dmesg)"
            raise OverlayError(f"overlay refused: {exc.strerror}: {reason}") from None
        attrs = 0x1 if any(k == "ro" for k, _ in flags) else 0  # MOUNT_ATTR_RDONLY
        try:
            return syscalls.fsmount(fs_fd, syscalls.FSMOUNT_CLOEXEC, attrs)
        except OSError as exc:
            raise OverlayError(f"fsmount: {exc.strerror}") from None
    finally:
        os.close(fs_fd)


def attach(mnt_fd: int, target: str) -> None:
    """Attach a detached mount at TARGET (in the caller's current mount namespace)."""
    try:
        syscalls.move_mount(mnt_fd, "", syscalls.AT_FDCWD, target)
    except OSError as exc:
        raise OverlayError(f"attaching at {target}: {exc.strerror}") from None


def _mount_new_api(spec: OverlaySpec, flags: tuple[tuple[str, str | None], ...]) -> None:
    mnt_fd = create_detached(spec, flags)
    try:
        killpoint.reached("overlay.detached")
        attach(mnt_fd, spec.target)
    finally:
        os.close(mnt_fd)


def _config(fs_fd: int, key: str, value: str | None, what: str) -> None:
    cmd = syscalls.FSCONFIG_SET_FLAG if value is None else syscalls.FSCONFIG_SET_STRING
    try:
        syscalls.fsconfig(fs_fd, cmd, key, value)
    except OSError as exc:
        reason = _kernel_reason(fs_fd)
        raise OverlayError(f"{what}: {reason or exc.strerror}") from None


def legacy_mount_data(spec: OverlaySpec, flags: tuple[tuple[str, str | None], ...]) -> str:
    """mount(2) option data for SPEC; OverlayError when it would exceed one page."""
    extra = [k if v is None else f"{k}={v}" for k, v in flags if k != "ro"]
    data = mount_data(spec.lowers, spec.upper, spec.work, extra)
    size = len(os.fsencode(data)) + 1  # the kernel needs the terminating NUL in the page too
    if size > MOUNT_DATA_MAX:
        raise OverlayError(
            f"the option string for mount(2) is {size} bytes, over the {MOUNT_DATA_MAX}-byte "
            "limit the kernel cuts silently; this kernel lacks lowerdir+ (new mount API), "
            "so use fewer or shorter lower paths (e.g. bind-mount them under short names)"
        )
    return data


def _mount_legacy(spec: OverlaySpec, flags: tuple[tuple[str, str | None], ...]) -> None:
    data = legacy_mount_data(spec, flags)
    ms = syscalls.MS_RDONLY if any(k == "ro" for k, _ in flags) else 0
    try:
        syscalls.mount("overlay", spec.target, "overlay", ms, data)
    except OSError as exc:
        if exc.errno == errno.EPERM:
            raise OverlayError(NEEDS_ROOT) from None
        raise OverlayError(
            f"mount(2) of overlay on {spec.target}: {exc.strerror} "
            "(the kernel's reason is in dmesg)"
        ) from None


def mount_overlay(
    spec: OverlaySpec, prefer: str = "auto", mounts: Sequence[Mount] | None = None
) -> MountResult:
    """Check SPEC, then mount it in this process's mount namespace. ``prefer``: "auto"
    (new API, else mount(2)), "new" or "legacy". Raises OverlayError; nothing is left
    mounted when it does."""
    checked = check_spec(spec, mounts)
    flags = parse_options(checked.options)
    if prefer == "legacy":
        legacy_mount_data(checked, flags)  # refuse a too-long option string before anything
        _mount_legacy(checked, flags)
        method = "mount(2)"
    else:
        try:
            _mount_new_api(checked, flags)
            method = "fsopen (lowerdir+)"
        except Unsupported:
            if prefer == "new":
                raise OverlayError("this kernel lacks the new mount API's lowerdir+") from None
            _mount_legacy(checked, flags)
            method = "mount(2)"
    killpoint.reached("overlay.mounted")
    try:
        new = mount_at(read_mountinfo(), checked.target)
    except OSError:
        new = None
    return MountResult(target=checked.target, method=method, mount=new)


def umount_overlay(target: str, lazy: bool = False, require_union: bool = True) -> None:
    """Unmount the mount on top at TARGET. ``lazy`` detaches it now and lets the kernel free
    it when the last user goes (MNT_DETACH). Raises OverlayError."""
    path = _abs(target)
    try:
        mounts = read_mountinfo()
    except OSError as exc:
        raise OverlayError(f"reading mountinfo: {exc.strerror}") from None
    top = mount_at(mounts, path)
    if top is None:
        raise OverlayError(f"{path} is not a mount point")
    if require_union and top.fstype not in ("overlay", "aufs"):
        raise OverlayError(f"{path} is a {top.fstype} mount, not an overlay or aufs mount")
    flags = syscalls.MNT_DETACH if lazy else 0
    try:
        syscalls.umount2(path, flags)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            raise OverlayError(
                f"{path} is busy: processes use it (unmount lazily to detach it now)"
            ) from None
        if exc.errno == errno.EPERM:
            raise OverlayError(NEEDS_ROOT.replace("mounting", "unmounting")) from None
        raise OverlayError(f"umount {path}: {exc.strerror}") from None
