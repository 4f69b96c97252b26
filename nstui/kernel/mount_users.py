"""Which processes use a mount: cwd, root, open files and mapped files on its device.

A mount is identified by the device number mountinfo shows (``major:minor``); a process uses
it when its cwd, root, an open fd or a mapped file lies on that device (what ``fuser -m``
checks). Only processes of the mount's own namespace can reach it, so callers pass those
pids. Vanished processes and unreadable entries are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MountUser:
    pid: int
    comm: str
    how: tuple[str, ...]  # "cwd", "root", "fd 3", "mmap"


def _dev_of(path: str) -> int | None:
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


def _maps_dev(proc: str, pid: int, major: int, minor: int) -> bool:
    want = f"{major:02x}:{minor:02x}"
    try:
        with open(f"{proc}/{pid}/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split(maxsplit=5)
                if len(fields) >= 6 and fields[3] == want and fields[4] != "0":
                    return True
    except OSError:
        return False
    return False


def processes_using(
    major: int, minor: int, pids: Iterable[int], proc: str = "/proc", max_fds: int = 4096
) -> tuple[MountUser, ...]:
    """The processes among PIDS whose cwd, root, fds or mappings are on device
    MAJOR:MINOR."""
    dev = os.makedev(major, minor)
    users: list[MountUser] = []
    for pid in pids:
        how: list[str] = []
        base = f"{proc}/{pid}"
        for link in ("cwd", "root"):
            if _dev_of(f"{base}/{link}") == dev:
                how.append(link)
        try:
            fds = os.listdir(f"{base}/fd")
        except OSError:
            fds = []
        for fd in fds[:max_fds]:
            if _dev_of(f"{base}/fd/{fd}") == dev:
                how.append(f"fd {fd}")
        if _maps_dev(proc, pid, major, minor):
            how.append("mmap")
        if how:
            try:
                with open(f"{base}/comm", encoding="utf-8", errors="replace") as f:
                    comm = f.read().strip()
            except OSError:
                continue  # gone since
            users.append(MountUser(pid=pid, comm=comm, how=tuple(how)))
    return tuple(users)
