"""The helper program of nstui.kernel.ns_inside: reads what only shows from inside a namespace
(uts hostnames, net addresses) for many namespaces in one short-lived, single-threaded process.

A uts namespace's hostname can only be read from inside it (uname in that namespace), and the
TUI is threaded and never calls setns itself (see nstui.kernel.nshelper_main). So
``nstui.kernel.ns_inside`` starts this program once for all the namespaces it wants, as
``python -I -S -c BOOT PKG_DIR CFFI_DIR PROC``, and the program joins one namespace after the
other with setns(CLONE_NEWUTS) and calls uname. No fork is needed: this process is
single-threaded and throwaway, and joining a uts namespace changes nothing but what uname
answers. Imports are kept to os, sys and _ffi (bare interpreter start, ~10 ms).

Protocol: stdin carries one ``PID DEV INO`` line per namespace (DEV and INO: the nsfs file the
caller saw, checked with fstat so a reused pid is not misread; ``0 0`` skips the check).
stdout gets ``PID HEX`` per namespace read, HEX the nodename's bytes. A pid that vanished, moved
to another namespace or refuses (EACCES/EPERM) is left out. Exit status 0.

A line ``net PID DEV INO`` asks for the addresses of PID's network namespace instead (the
helper joins it and asks rtnetlink, as ``ip address`` does: exact where /proc is ambiguous).
Its answer is ``PID net IFHEX CIDR`` per address, then ``PID net-done``; rtnetlink's imports
(socket, ipaddress) are loaded only when such a line comes.
"""

from __future__ import annotations

import os
import sys

from nstui.kernel._ffi import ffi

CLONE_NEWUTS = 0x04000000  # same as nstui.kernel.nstypes.CLONE_FLAGS (kept out: enum import)
CLONE_NEWNET = 0x40000000

_lib = ffi.dlopen(None)


def enter(proc: str, pid: int, dev: int, ino: int, ns_type: str, flag: int) -> bool:
    """Join PID's namespace of NS_TYPE if it still is (DEV, INO); False when it cannot."""
    try:
        fd = os.open(f"{proc}/{pid}/ns/{ns_type}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if dev or ino:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != (dev, ino):
                return False  # the pid was reused or the process moved since the scan
        return bool(_lib.setns(fd, flag) == 0)
    finally:
        os.close(fd)


def read_one(proc: str, pid: int, dev: int, ino: int) -> bytes | None:
    """The nodename of PID's uts namespace, None when it cannot be read."""
    if not enter(proc, pid, dev, ino, "uts", CLONE_NEWUTS):
        return None
    return os.fsencode(os.uname().nodename)


def read_net(proc: str, pid: int, dev: int, ino: int) -> list[bytes]:
    """Answer lines for the addresses of PID's network namespace (none when unreadable)."""
    if not enter(proc, pid, dev, ino, "net", CLONE_NEWNET):
        return []
    from nstui.kernel.netlink_addrs import own_addresses  # socket, ipaddress: only when asked

    found = own_addresses()
    if found is None:
        return []
    lines = [
        b"%d net %s %s\n" % (pid, os.fsencode(name).hex().encode(), cidr.encode())
        for name, cidrs in found.items()
        for cidr in cidrs
    ]
    return [*lines, b"%d net-done\n" % pid]


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
        net = parts[:1] == [b"net"]
        if net:
            parts = parts[1:]
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            continue
        pid, dev, ino = (int(p) for p in parts)
        if net:
            out += read_net(proc, pid, dev, ino)
            continue
        name = read_one(proc, pid, dev, ino)
        if name is not None:
            out.append(b"%d %s\n" % (pid, name.hex().encode()))
    data = b"".join(out)
    while data:
        data = data[os.write(1, data) :]
    return 0


if __name__ == "__main__":
    sys.exit(main())
