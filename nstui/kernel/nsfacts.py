"""Per-type facts about a namespace that /proc shows without entering it.

Each reader takes a member pid and returns what it can; a process that vanished or refuses
(EACCES, ESRCH) gives the empty answer, never an exception. ``facts_for`` picks the readers
that apply to one namespace type.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace

from nstui.kernel.namespaces import IdMapRange, NetInterface, NsFacts
from nstui.kernel.netlink_addrs import own_addresses
from nstui.kernel.nstypes import NsType

PROC = "/proc"

#: Route tables are read up to this many bytes: a router holding a full BGP table has tens of
#: megabytes in fib_trie and route, and only the few local entries matter here. Past the cap
#: some addresses may be missing (the description says what was read).
ROUTE_TEXT_CAP = 4 << 20

RTF_GATEWAY = 0x2
RTF_REJECT = 0x200


def _read_text(path: str, cap: int = -1) -> str | None:
    """The text of a /proc file (at most CAP characters when CAP >= 0), None if unreadable.

    os.open/os.read, not open(): the io stack adds fstat, isatty and lseek calls, which cost
    more than reading a small /proc file (a full snapshot reads ~4 per net namespace)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # vanished (ENOENT/ESRCH) or refused (EACCES)
        return None
    try:
        chunks: list[bytes] = []
        size = 0
        while cap < 0 or size < cap:
            data = os.read(fd, 65536)
            if not data:
                break
            chunks.append(data)
            size += len(data)
    except OSError:
        return None
    finally:
        os.close(fd)
    text = b"".join(chunks).decode("utf-8", "surrogateescape")
    if "\r" in text:  # as text mode's universal newlines
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if cap < 0 else text[:cap]


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


# --- addresses -----------------------------------------------------------------------------
#
# /proc has no per-interface list of IPv4 addresses (ifconfig asks an ioctl, ip a netlink
# socket, and both need a socket inside the namespace). What it has, readable through any
# member pid without entering: the FIB (net/fib_trie), where every local address is a
# "/32 host LOCAL" entry and each address with a prefix shorter than /31 adds a
# "/32 link BROADCAST" entry for its subnet's broadcast address; and the main table with
# interfaces (net/route), where the kernel put the address's subnet route. An address is
# placed on the interface whose subnet route covers it, preferring routes the kernel made
# for an address (a broadcast entry at the route's end confirms it) and longer prefixes; an
# address on the loopback device has its subnet route in the local table as a "LOCAL" entry
# shorter than /32 instead. What cannot be tied to exactly one interface stays unplaced.
# IPv6 is exact: net/if_inet6 lists address, prefix length and interface name.
# nstui's own namespace (usually the host's) is asked over rtnetlink instead: exact.


@dataclass(frozen=True, slots=True)
class FibEntry:
    """One route of /proc/PID/net/fib_trie: ``address/plen scope TYPE``."""

    address: int  # IPv4 as a 32-bit number
    plen: int
    scope: str
    kind: str  # UNICAST, LOCAL, BROADCAST...


@dataclass(frozen=True, slots=True)
class LinkRoute:
    """A gatewayless route of /proc/PID/net/route (main table): a subnet on an interface."""

    iface: str
    network: int
    plen: int


def _plen_of_mask(mask: int) -> int | None:
    """Prefix length of a contiguous netmask, None for a non-contiguous one."""
    plen = bin(mask).count("1")
    return plen if mask == _mask(plen) else None


def _mask(plen: int) -> int:
    return (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF


def _ipv4(text: str) -> int | None:
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def parse_fib_trie(text: str) -> tuple[FibEntry, ...]:
    """Routes of every table in /proc/PID/net/fib_trie, each once (an unmerged local and main
    table print the same entries twice)."""
    out: dict[FibEntry, None] = {}
    leaf: int | None = None
    for line in text.splitlines():
        word = line.strip()
        if word.startswith("|-- "):
            leaf = _ipv4(word[4:].strip())
        elif word.startswith("+-- ") or not line[:1].isspace():
            leaf = None  # an inner node, or a table header ("Main:", "Local:", "Id 100:")
        elif word.startswith("/") and leaf is not None:
            parts = word[1:].split()
            if len(parts) < 3 or not parts[0].isdecimal() or len(parts[0]) > 2:
                continue
            plen = int(parts[0])
            if plen <= 32:
                out[FibEntry(leaf, plen, parts[1], parts[2])] = None
    return tuple(out)


def parse_route(text: str) -> tuple[LinkRoute, ...]:
    """Gatewayless, usable routes of /proc/PID/net/route (header line, then one route per line
    with hex fields in host byte order)."""
    out: list[LinkRoute] = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 8:
            continue
        try:
            dest, gateway, flags, mask = (int(parts[i], 16) for i in (1, 2, 3, 7))
        except ValueError:
            continue
        if not all(0 <= v <= 0xFFFFFFFF for v in (dest, gateway, mask)):
            continue
        if gateway or flags & (RTF_GATEWAY | RTF_REJECT):
            continue
        network = int.from_bytes(dest.to_bytes(4, sys.byteorder), "big")
        plen = _plen_of_mask(int.from_bytes(mask.to_bytes(4, sys.byteorder), "big"))
        if plen is None or network & ~_mask(plen) & 0xFFFFFFFF:
            continue
        out.append(LinkRoute(parts[0], network, plen))
    return tuple(out)


def parse_if_inet6(text: str) -> tuple[tuple[str, str], ...]:
    """(interface, address/plen) of each line of /proc/PID/net/if_inet6
    (``address-hex ifindex plen scope flags name``, numbers in hex)."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 6 or len(parts[0]) != 32:
            continue
        try:
            address = ipaddress.IPv6Address(int(parts[0], 16))
            plen = int(parts[2], 16)
        except ValueError:
            continue
        if 0 <= plen <= 128:
            out.append((parts[5], f"{address}/{plen}"))
    return tuple(out)


def place_ipv4(
    fib: Iterable[FibEntry], routes: Iterable[LinkRoute], loopback: str | None = "lo"
) -> tuple[dict[str, list[str]], list[str]]:
    """Local IPv4 addresses as ({interface: [cidr...]}, [unplaced...]), in address order."""
    fib = tuple(fib)
    routes = tuple(routes)
    local = sorted({e.address for e in fib if e.kind == "LOCAL" and e.plen == 32})
    broadcasts = {e.address for e in fib if e.kind == "BROADCAST" and e.plen == 32}
    loop_prefixes = [e for e in fib if e.kind == "LOCAL" and 0 < e.plen < 32]
    placed: dict[str, list[str]] = {}
    unplaced: list[str] = []
    for address in local:
        text = str(ipaddress.IPv4Address(address))
        covering = [r for r in routes if 0 < r.plen < 32 and address & _mask(r.plen) == r.network]

        def confirmed(route: LinkRoute, address: int = address) -> bool:
            # the kernel's subnet route of an address below /31 comes with a broadcast entry
            return route.plen >= 31 or address | (~_mask(route.plen) & 0xFFFFFFFF) in broadcasts

        best = [r for r in covering if confirmed(r)]  # not a route someone added by hand
        if best:
            top = max(r.plen for r in best)
            ifaces = sorted({r.iface for r in best if r.plen == top})
            if len(ifaces) == 1:
                placed.setdefault(ifaces[0], []).append(f"{text}/{top}")
            else:
                unplaced.append(f"{text}/{top}")
            continue
        loop = [e.plen for e in loop_prefixes if address & _mask(e.plen) == e.address]
        if loop and loopback is not None:
            placed.setdefault(loopback, []).append(f"{text}/{max(loop)}")
        else:
            unplaced.append(text)
    return placed, unplaced


def with_addresses(
    interfaces: tuple[NetInterface, ...], fib_text: str, route_text: str, inet6_text: str
) -> tuple[tuple[NetInterface, ...], tuple[str, ...]]:
    """INTERFACES with their addresses filled in from the three files' texts, plus the IPv4
    addresses that could not be tied to one of them."""
    names = {i.name for i in interfaces}
    loopback = "lo" if "lo" in names else None
    placed, unplaced = place_ipv4(parse_fib_trie(fib_text), parse_route(route_text), loopback)
    for name, cidr in parse_if_inet6(inet6_text):
        placed.setdefault(name, []).append(cidr)
    out = []
    for iface in interfaces:
        found = placed.pop(iface.name, None)
        out.append(replace(iface, addresses=tuple(found)) if found else iface)
    # an interface that appeared after net/dev was read: its addresses stay visible
    for leftover in placed.values():
        unplaced.extend(leftover)
    return tuple(out), tuple(unplaced)


def read_net_interfaces(pid: int, proc: str = PROC) -> tuple[NetInterface, ...]:
    """Interfaces of PID's network namespace with their byte and packet counters."""
    text = _read_text(f"{proc}/{pid}/net/dev")
    return () if text is None else parse_net_dev(text)


def _in_own_netns(pid: int, proc: str) -> bool:
    try:
        theirs = os.stat(f"{proc}/{pid}/ns/net")
        ours = os.stat(f"{proc}/self/ns/net")
    except OSError:
        return False
    return (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino)


def read_net_facts(pid: int, proc: str = PROC) -> NsFacts:
    """PID's network namespace: interfaces with counters and addresses (see above; exact,
    from rtnetlink, when it is nstui's own namespace)."""
    interfaces = read_net_interfaces(pid, proc)
    exact = own_addresses() if _in_own_netns(pid, proc) else None
    if exact is not None:
        filled = tuple(
            replace(i, addresses=tuple(exact.pop(i.name))) if i.name in exact else i
            for i in interfaces
        )
        # interfaces that appeared since net/dev was read
        rest = tuple(cidr for found in exact.values() for cidr in found)
        return NsFacts(interfaces=filled, unplaced_addresses=rest)
    texts = [
        _read_text(f"{proc}/{pid}/net/{name}", ROUTE_TEXT_CAP) or ""
        for name in ("fib_trie", "route", "if_inet6")
    ]
    interfaces, unplaced = with_addresses(interfaces, *texts)
    return NsFacts(interfaces=interfaces, unplaced_addresses=unplaced)


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
        return read_net_facts(pid, proc)
    if ns_type is NsType.USER:
        return NsFacts(
            uid_map=read_id_map(pid, "uid_map", proc), gid_map=read_id_map(pid, "gid_map", proc)
        )
    if ns_type is NsType.TIME:
        return NsFacts(time_offsets=read_time_offsets(pid, proc))
    return NsFacts()
