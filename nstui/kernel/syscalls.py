"""Thin, typed wrappers over the namespace and mount syscalls (cffi, out-of-line ABI mode).

Every failure raises OSError with errno and the path or target in the message. Never call
``setns``/``unshare`` from the TUI process: it is threaded, and the kernel refuses mount and
user namespace changes there (see nstui.kernel.nshelper, which runs them in a helper).
"""

from __future__ import annotations

import os
from typing import Any

from nstui.kernel._ffi import ffi

# The syscalls added since 4.x share one number on every architecture (asm-generic table).
SYS_PIDFD_SEND_SIGNAL = 424
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_FSOPEN = 430
SYS_FSCONFIG = 431
SYS_FSMOUNT = 432
SYS_PIDFD_OPEN = 434

# mount(2) flags
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20

# umount2(2) flags
MNT_FORCE = 1
MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8

# new mount API
FSOPEN_CLOEXEC = 0x1
FSMOUNT_CLOEXEC = 0x1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_SET_FD = 5
FSCONFIG_CMD_CREATE = 6
MOVE_MOUNT_F_EMPTY_PATH = 0x4
OPEN_TREE_CLONE = 0x1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000

_lib: Any = ffi.dlopen(None)  # libc: setns, unshare, mount, umount2, syscall


def _long(value: int) -> Any:
    # Variadic syscall() arguments must be cdata: cffi refuses plain ints there.
    return ffi.cast("long", value)


def _cstr(value: str | None) -> Any:
    return ffi.NULL if value is None else os.fsencode(value)


def _fail(what: str, target: str | None = None) -> OSError:
    err = ffi.errno
    where = what if target is None else f"{what} {target}"
    # No filename argument: OSError would repeat the target after the message.
    return OSError(err, f"{where}: {os.strerror(err)}")


def setns(fd: int, nstype: int = 0, target: str | None = None) -> None:
    """setns(2); ``fd`` is an nsfs file or a pidfd, ``target`` names it in errors."""
    if _lib.setns(fd, nstype) != 0:
        raise _fail("setns", target or f"fd {fd}")


def unshare(flags: int) -> None:
    if _lib.unshare(flags) != 0:
        raise _fail("unshare", f"flags {flags:#x}")


def mount(
    source: str | None,
    target: str,
    fstype: str | None = None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    if _lib.mount(_cstr(source), _cstr(target), _cstr(fstype), flags, _cstr(data)) != 0:
        raise _fail("mount", target)


def umount2(target: str, flags: int = 0) -> None:
    if _lib.umount2(_cstr(target), flags) != 0:
        raise _fail("umount", target)


def _syscall(number: int, *args: Any) -> int:
    return int(_lib.syscall(_long(number), *args))


def pidfd_open(pid: int, flags: int = 0) -> int:
    fd = _syscall(SYS_PIDFD_OPEN, _long(pid), _long(flags))
    if fd < 0:
        raise _fail("pidfd_open", f"pid {pid}")
    return fd


def pidfd_send_signal(pidfd: int, sig: int, flags: int = 0) -> None:
    if _syscall(SYS_PIDFD_SEND_SIGNAL, _long(pidfd), _long(sig), ffi.NULL, _long(flags)) < 0:
        raise _fail("pidfd_send_signal", f"pidfd {pidfd}")


def fsopen(fstype: str, flags: int = FSOPEN_CLOEXEC) -> int:
    name = ffi.new("char[]", os.fsencode(fstype))
    fd = _syscall(SYS_FSOPEN, name, _long(flags))
    if fd < 0:
        raise _fail("fsopen", fstype)
    return fd


def fsconfig(
    fs_fd: int, cmd: int, key: str | None = None, value: str | None = None, aux: int = 0
) -> None:
    """fsconfig(2). For SET_STRING, ``key``/``value`` are passed verbatim: no escaping needed."""
    ckey = ffi.new("char[]", os.fsencode(key)) if key is not None else ffi.NULL
    cval = ffi.new("char[]", os.fsencode(value)) if value is not None else ffi.NULL
    if _syscall(SYS_FSCONFIG, _long(fs_fd), _long(cmd), ckey, cval, _long(aux)) < 0:
        raise _fail("fsconfig", f"{key}={value}" if key else f"cmd {cmd}")


def fs_context_log(fs_fd: int) -> list[str]:
    """Messages the kernel left in an fs context (read(2) on the fsopen fd), e.g. why
    CMD_CREATE refused an overlay. Empty when there are none."""
    messages: list[str] = []
    while True:
        try:
            chunk = os.read(fs_fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        messages.append(chunk.decode(errors="replace").rstrip("\n"))
    return messages


def fsmount(fs_fd: int, flags: int = FSMOUNT_CLOEXEC, attr_flags: int = 0) -> int:
    fd = _syscall(SYS_FSMOUNT, _long(fs_fd), _long(flags), _long(attr_flags))
    if fd < 0:
        raise _fail("fsmount", f"fd {fs_fd}")
    return fd


def move_mount(
    from_fd: int,
    from_path: str,
    to_fd: int,
    to_path: str,
    flags: int = MOVE_MOUNT_F_EMPTY_PATH,
) -> None:
    src = ffi.new("char[]", os.fsencode(from_path))
    dst = ffi.new("char[]", os.fsencode(to_path))
    if _syscall(SYS_MOVE_MOUNT, _long(from_fd), src, _long(to_fd), dst, _long(flags)) < 0:
        raise _fail("move_mount", to_path)


def open_tree(dfd: int, path: str, flags: int = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC) -> int:
    cpath = ffi.new("char[]", os.fsencode(path))
    fd = _syscall(SYS_OPEN_TREE, _long(dfd), cpath, _long(flags))
    if fd < 0:
        raise _fail("open_tree", path)
    return fd
