"""Facts only readable from inside a namespace (uts hostnames; exact net addresses where
/proc is ambiguous), read by one helper process.

The kernel shows a uts namespace's hostname only to uname inside it. The caller (the threaded
TUI or the CLI) never calls setns, so ``read_hostnames`` starts ``ns_inside_main`` once with
subprocess for all the namespaces asked about; the helper joins each in turn and reports the
names. Cost: one bare interpreter start (~10-20 ms) plus a few microseconds per namespace
(see the figures in the report / benchmarks). Callers should cache: a namespace's hostname
changes only when someone inside runs sethostname.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Mapping, Sequence

from nstui.kernel.helper_boot import helper_argv

#: The helper does microseconds of work per namespace; past this it is stuck and killed.
TIMEOUT = 10.0
CAP_SYS_ADMIN = 21


def helper_command(proc: str = "/proc") -> list[str]:
    return helper_argv("nstui.kernel.ns_inside_main", proc)


def parse_answer(data: bytes) -> dict[int, str]:
    """The helper's ``PID HEX`` lines; anything else is ignored."""
    names: dict[int, str] = {}
    for line in data.split(b"\n"):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            continue
        try:
            names[int(parts[0])] = os.fsdecode(bytes.fromhex(parts[1].decode("ascii")))
        except (ValueError, UnicodeDecodeError):
            continue
    return names


class StartedHelper:
    """A helper started before the question is known, so that its interpreter start (~15 ms)
    overlaps the caller's other work (a snapshot's scan). Asked at most once (pass it to
    ``read_hostnames``); ``close()`` ends it when it was not. None of this when the helper
    could not enter anything anyway (``can_enter``) or cannot start."""

    def __init__(self, proc: str = "/proc") -> None:
        self._popen: subprocess.Popen[bytes] | None = None
        if not can_enter(proc):
            return
        try:
            self._popen = subprocess.Popen(
                helper_command(proc),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError):
            self._popen = None

    def take(self) -> subprocess.Popen[bytes] | None:
        """The started process, once (None afterwards, or if it did not start)."""
        popen, self._popen = self._popen, None
        return popen

    def close(self) -> None:
        """End the helper if it was never asked (it reads no lines and exits)."""
        _answer(self.take(), b"", TIMEOUT)


def read_hostnames(
    pids: Sequence[int],
    *,
    expected: Mapping[int, tuple[int, int]] | None = None,
    proc: str = "/proc",
    timeout: float = TIMEOUT,
    started: StartedHelper | None = None,
) -> dict[int, str]:
    """{pid: hostname of its uts namespace} for the pids that could be read.

    One helper process for all of them. ``expected`` gives, per pid, the (dev, inode) of the
    uts namespace the caller saw it in: a pid reused or moved since then is skipped rather
    than misread. A vanished pid, EPERM/EACCES (not root), a helper that cannot start or
    hangs: the pid is simply absent. Never raises for those. STARTED: a helper started
    ahead to ask (else one is started now).
    """
    if not pids or not can_enter(proc):
        return {}
    request = _request_lines("", pids, expected)
    popen = started.take() if started is not None else None
    if popen is not None:
        return parse_answer(_answer(popen, request, timeout))
    return parse_answer(_ask(request, proc, timeout))


def read_net_addresses(
    pids: Sequence[int],
    *,
    expected: Mapping[int, tuple[int, int]] | None = None,
    proc: str = "/proc",
    timeout: float = TIMEOUT,
) -> dict[int, dict[str, list[str]]]:
    """{pid: {interface: [cidr...]}} of the pids' network namespaces, read exactly from inside
    (rtnetlink, as ``ip address``) by the same helper; for namespaces whose addresses /proc
    cannot tie to interfaces. Same rules as ``read_hostnames``: what cannot be read is absent.
    """
    if not pids or not can_enter(proc):
        return {}
    return parse_net_answer(_ask(_request_lines("net ", pids, expected), proc, timeout))


def _request_lines(
    prefix: str, pids: Sequence[int], expected: Mapping[int, tuple[int, int]] | None
) -> bytes:
    expected = expected or {}
    lines = []
    for pid in dict.fromkeys(pids):
        dev, ino = expected.get(pid, (0, 0))
        lines.append(f"{prefix}{int(pid)} {int(dev)} {int(ino)}\n")
    return "".join(lines).encode()


def _ask(request: bytes, proc: str, timeout: float) -> bytes:
    try:
        done = subprocess.run(
            helper_command(proc),
            input=request,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return b""  # cannot start (ENOMEM, EAGAIN), or killed after the timeout
    return done.stdout


def _answer(popen: subprocess.Popen[bytes] | None, request: bytes, timeout: float) -> bytes:
    """What a started helper answers to REQUEST; b"" when it fails or hangs (killed)."""
    if popen is None:
        return b""
    try:
        out, _ = popen.communicate(request, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        popen.kill()
        popen.communicate()
        return b""
    return out


def parse_net_answer(data: bytes) -> dict[int, dict[str, list[str]]]:
    """The helper's ``PID net IFHEX CIDR`` lines; a pid counts once ``PID net-done`` came."""
    found: dict[int, dict[str, list[str]]] = {}
    done: set[int] = set()
    for line in data.split(b"\n"):
        parts = line.split()
        if len(parts) < 2 or not parts[0].isdigit():
            continue
        pid = int(parts[0])
        if parts[1:] == [b"net-done"]:
            done.add(pid)
            found.setdefault(pid, {})
            continue
        if len(parts) != 4 or parts[1] != b"net":
            continue
        try:
            name = os.fsdecode(bytes.fromhex(parts[2].decode("ascii")))
            cidr = parts[3].decode("ascii")
        except (ValueError, UnicodeDecodeError):
            continue
        found.setdefault(pid, {}).setdefault(name, []).append(cidr)
    return {pid: found[pid] for pid in done}


def can_enter(proc: str = "/proc") -> bool:
    """Whether setns into another uts namespace can work at all: it needs CAP_SYS_ADMIN in
    our own user namespace (checked here, so a user without it starts no helper) and in the
    target's owning one (the helper finds out). True when the capabilities are unreadable."""
    try:
        with open(f"{proc}/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_SYS_ADMIN & 1)
    except (OSError, ValueError, IndexError):
        pass
    return True


def _own_ns(ns_type: str, proc: str) -> tuple[int, int] | None:
    """(dev, inode) of this process's namespace of NS_TYPE, None when unreadable."""
    try:
        st = os.stat(f"{proc}/self/ns/{ns_type}")
    except OSError:
        return None
    return st.st_dev, st.st_ino


def own_uts(proc: str = "/proc") -> tuple[int, int] | None:
    """(dev, inode) of this process's uts namespace, None when unreadable."""
    return _own_ns("uts", proc)


def own_hostname() -> str:
    """The hostname of this process's uts namespace (no helper needed)."""
    return socket.gethostname()


def own_netns(proc: str = "/proc") -> tuple[int, int] | None:
    """(dev, inode) of this process's network namespace, None when unreadable."""
    return _own_ns("net", proc)
