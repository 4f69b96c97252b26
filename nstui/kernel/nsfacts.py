"""Per-type facts about a namespace that /proc shows without entering it.

Each reader takes a member pid and returns what it can; a process that vanished or refuses
(EACCES, ESRCH) gives the empty answer, never an exception. ``facts_for`` picks the readers
that apply to one namespace type.
"""

from __future__ import annotations

from collections.abc import Iterable

from nstui.kernel.namespaces import IdMapRange, NetInterface, NsFacts
from nstui.kernel.nstypes import NsType

PROC = "/proc"


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except (OSError, ValueError):
        # OSError: vanished (ENOENT/ESRCH) or refused (EACCES); ValueError: unreadable text
        return None


def parse_net_dev(text: str) -> tuple[NetInterface, ...]:
    """Interfaces of /proc/PID/net/dev (two header lines, then ``name: rx... tx...``)."""
    out: list[NetInterface] = []
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        nums = rest.split()
        try:
            out.append(
                NetInterface(
                    name=name.strip(),
                    rx_bytes=int(nums[0]),
                    rx_packets=int(nums[1]),
                    tx_bytes=int(nums[8]),
                    tx_packets=int(nums[9]),
                )
            )
        except (IndexError, ValueError):
            continue
    return tuple(out)


def parse_id_map(text: str) -> tuple[IdMapRange, ...]:
    """Lines of uid_map/gid_map: ``inside outside count``."""
    out: list[IdMapRange] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        try:
            out.append(IdMapRange(int(parts[0]), int(parts[1]), int(parts[2])))
        except ValueError:
            continue
    return tuple(out)


def parse_time_offsets(text: str) -> dict[str, tuple[int, int]]:
    """/proc/PID/timens_offsets: ``clock seconds nanoseconds`` per line."""
    out: dict[str, tuple[int, int]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        try:
            out[parts[0]] = (int(parts[1]), int(parts[2]))
        except ValueError:
            continue
    return out


def read_net_interfaces(pid: int, proc: str = PROC) -> tuple[NetInterface, ...]:
    """Interfaces of PID's network namespace with their byte and packet counters."""
    text = _read_text(f"{proc}/{pid}/net/dev")
    return () if text is None else parse_net_dev(text)


def read_id_map(pid: int, which: str, proc: str = PROC) -> tuple[IdMapRange, ...]:
    """``uid_map`` or ``gid_map`` of PID's user namespace (as seen from ours)."""
    if which not in ("uid_map", "gid_map"):
        raise ValueError(f"not an id map: {which!r}")
    text = _read_text(f"{proc}/{pid}/{which}")
    return () if text is None else parse_id_map(text)


def read_time_offsets(pid: int, proc: str = PROC) -> dict[str, tuple[int, int]]:
    """Clock offsets of PID's time namespace (monotonic, boottime)."""
    text = _read_text(f"{proc}/{pid}/timens_offsets")
    return {} if text is None else parse_time_offsets(text)


def pid_ns_facts(nspids: Iterable[tuple[int, tuple[int, ...]]]) -> tuple[int | None, int | None]:
    """(level, init pid) of a pid namespace from its members' (host pid, NSpid chain).

    The level counts from the viewer's pid namespace (0 there): a member's NSpid chain has
    one entry per level it is visible in. The init pid is the member whose innermost pid is 1.
    """
    level: int | None = None
    init_pid: int | None = None
    for pid, chain in nspids:
        if not chain:
            continue
        level = len(chain) - 1
        if chain[-1] == 1:
            init_pid = pid
    return level, init_pid


def facts_for(
    ns_type: NsType,
    pid: int | None,
    members: Iterable[tuple[int, tuple[int, ...]]] = (),
    proc: str = PROC,
) -> NsFacts:
    """The facts of one namespace read through member ``pid`` (None: held-only, no member)."""
    if ns_type is NsType.PID:
        level, init_pid = pid_ns_facts(members)
        return NsFacts(pid_level=level, init_pid=init_pid)
    if pid is None:
        return NsFacts()
    if ns_type is NsType.NET:
        return NsFacts(interfaces=read_net_interfaces(pid, proc))
    if ns_type is NsType.USER:
        return NsFacts(
            uid_map=read_id_map(pid, "uid_map", proc), gid_map=read_id_map(pid, "gid_map", proc)
        )
    if ns_type is NsType.TIME:
        return NsFacts(time_offsets=read_time_offsets(pid, proc))
    return NsFacts()
