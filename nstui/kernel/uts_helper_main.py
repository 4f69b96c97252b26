"""The hostname helper program: reads the hostname of many uts namespaces in one short-lived,
single-threaded process.

A uts namespace's hostname can only be read from inside it (uname in that namespace), and the
TUI is threaded and never calls setns itself (see nstui.kernel.nshelper_main). So
``nstui.kernel.uts_names`` starts this program once for all the namespaces it wants, as
``python -I -S -c BOOT PKG_DIR CFFI_DIR PROC``, and the program joins one namespace after the
other with setns(CLONE_NEWUTS) and calls uname. No fork is needed: this process is
single-threaded and throwaway, and joining a uts namespace changes nothing but what uname
answers. Imports are kept to os, sys and _ffi (bare interpreter start, ~10 ms).

Protocol: stdin carries one ``PID DEV INO`` line per namespace (DEV and INO: the nsfs file the
caller saw, checked with fstat so a reused pid is not misread; ``0 0`` skips the check).
stdout gets ``PID HEX`` per namespace read, HEX the nodename's bytes. A pid that vanished, moved
to another namespace or refuses (EACCES/EPERM) is left out. Exit status 0.
"""

from __future__ import annotations

import os
import sys

from nstui.kernel._ffi import ffi

CLONE_NEWUTS = 0x04000000  # same as nstui.kernel.nstypes.CLONE_FLAGS (kept out: enum import)

_lib = ffi.dlopen(None)


def read_one(proc: str, pid: int, dev: int, ino: int) -> bytes | None:
    """The nodename of PID's uts namespace, None when it cannot be read."""
    try:
        fd = os.open(f"{proc}/{pid}/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if dev or ino:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != (dev, ino):
                return None  # the pid was reused or the process moved since the scan
        if _lib.setns(fd, CLONE_NEWUTS) != 0:
            return None
        return os.fsencode(os.uname().nodename)
    finally:
        os.close(fd)


def _read_stdin() -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(0, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    proc = words[0] if words else "/proc"
    out = []
    for line in _read_stdin().split(b"\n"):
        parts = line.split()
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            continue
        pid, dev, ino = (int(p) for p in parts)
        name = read_one(proc, pid, dev, ino)
        if name is not None:
            out.append(b"%d %s\n" % (pid, name.hex().encode()))
    data = b"".join(out)
    while data:
        data = data[os.write(1, data) :]
    return 0


if __name__ == "__main__":
    sys.exit(main())
