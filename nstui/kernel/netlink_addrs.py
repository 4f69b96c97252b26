"""Interface addresses of nstui's own network namespace, exactly, from rtnetlink.

A netlink socket talks to the namespace it was created in, so this answers for nstui's own
namespace only (no entering). Other namespaces' addresses come from /proc (nsfacts), which
cannot always tell the interface of an IPv4 address; for the namespace nstui runs in, usually
the host's, this is what `ip address` prints: one RTM_GETADDR dump, well under a millisecond.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

RTM_NEWADDR = 20
RTM_GETADDR = 22
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
IFA_ADDRESS = 1
IFA_LOCAL = 2

_NLMSGHDR = struct.Struct("=IHHII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTATTR = struct.Struct("=HH")
#: A dump that does not end within this many seconds is abandoned (the caller falls back).
TIMEOUT = 2.0


def _align(n: int) -> int:
    return (n + 3) & ~3


def parse_addr_messages(data: bytes) -> tuple[list[tuple[int, str]], bool]:
    """(ifindex, cidr) of each RTM_NEWADDR in DATA, and whether NLMSG_DONE was seen.

    Raises OSError for an NLMSG_ERROR message; malformed messages end the parse."""
    out: list[tuple[int, str]] = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            break
        body = data[offset + _NLMSGHDR.size : offset + length]
        offset += _align(length)
        if kind == NLMSG_DONE:
            return out, True
        if kind == NLMSG_ERROR:
            err = -struct.unpack_from("=i", body)[0] if len(body) >= 4 else 0
            raise OSError(err, os.strerror(err) if err else "netlink error")
        if kind != RTM_NEWADDR or len(body) < _IFADDRMSG.size:
            continue
        family, plen, _f, _scope, index = _IFADDRMSG.unpack_from(body)
        attrs: dict[int, bytes] = {}
        pos = _IFADDRMSG.size
        while pos + _RTATTR.size <= len(body):
            alen, atype = _RTATTR.unpack_from(body, pos)
            if alen < _RTATTR.size or pos + alen > len(body):
                break
            attrs.setdefault(atype, body[pos + _RTATTR.size : pos + alen])
            pos += _align(alen)
        # IFA_LOCAL is the address itself; IFA_ADDRESS the peer on point-to-point links
        raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
        if family == socket.AF_INET and raw is not None and len(raw) == 4 and plen <= 32:
            out.append((index, f"{ipaddress.IPv4Address(raw)}/{plen}"))
        elif family == socket.AF_INET6 and raw is not None and len(raw) == 16 and plen <= 128:
            out.append((index, f"{ipaddress.IPv6Address(raw)}/{plen}"))
    return out, False


def own_addresses() -> dict[str, list[str]] | None:
    """{interface: [cidr...]} of this process's network namespace (IPv4 first, in the
    kernel's order), None when netlink cannot answer (the caller falls back to /proc)."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
    except OSError:
        return None
    found: list[tuple[int, str]] = []
    try:
        sock.settimeout(TIMEOUT)
        sock.bind((0, 0))
        request = _NLMSGHDR.pack(
            _NLMSGHDR.size + _IFADDRMSG.size, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0
        ) + _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        sock.send(request)
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                return None
            got, done = parse_addr_messages(chunk)
            found += got
            if done:
                break
    except OSError:
        return None
    finally:
        sock.close()
    names: dict[int, str] = {}
    out: dict[str, list[str]] = {}
    for family in (4, 6):  # ip address lists IPv4 before IPv6
        for index, cidr in found:
            if (":" in cidr) != (family == 6):
                continue
            if index not in names:
                try:
                    names[index] = socket.if_indextoname(index)
                except OSError:
                    names[index] = f"if{index}"  # renamed or removed during the dump
            out.setdefault(names[index], []).append(cidr)
    return out
