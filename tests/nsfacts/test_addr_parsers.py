"""Address readers of nsfacts on texts copied from this host, and fuzzed: never raise."""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from nstui.kernel.namespaces import NetInterface
from nstui.kernel.nsfacts import (
    FibEntry,
    LinkRoute,
    parse_fib_trie,
    parse_if_inet6,
    parse_route,
    place_ipv4,
    with_addresses,
)

# A private netns here after: lo up with 10.77.0.1/24; veth d0/d1 with 192.168.50.3/24 (d0),
# 192.168.50.4/24 (d1), 10.9.9.9/32 (d0), 172.20.0.1/16 noprefixroute (d0), 10.1.0.1/31 (d1),
# 10.2.0.1/16 and 10.2.3.4/16 (d0); hand-made routes 10.50.0.0/16 and 10.2.3.0/24 dev d1.
# fib_trie lists only the Main table's half (the Local half repeats it: tables merged).
FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 4
     +-- 10.0.0.0/10 2 1 2
        +-- 10.0.0.0/12 2 0 2
           +-- 10.1.0.0/31 1 0 0
              |-- 10.1.0.0
                 /31 link UNICAST
              |-- 10.1.0.1
                 /32 host LOCAL
           +-- 10.2.0.0/16 2 0 2
              |-- 10.2.0.0
                 /16 link UNICAST
              +-- 10.2.0.0/22 2 0 2
                 |-- 10.2.0.1
                    /32 host LOCAL
                 |-- 10.2.3.0
                    /24 link UNICAST
                 |-- 10.2.3.4
                    /32 host LOCAL
              |-- 10.2.255.255
                 /32 link BROADCAST
           |-- 10.9.9.9
              /32 host LOCAL
        |-- 10.50.0.0
           /16 link UNICAST
     +-- 10.77.0.0/24 2 0 2
        +-- 10.77.0.0/31 1 0 0
           |-- 10.77.0.0
              /24 host LOCAL
           |-- 10.77.0.1
              /32 host LOCAL
        |-- 10.77.0.255
           /32 link BROADCAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 172.20.0.0/16 2 0 2
        |-- 172.20.0.1
           /32 host LOCAL
        |-- 172.20.255.255
           /32 link BROADCAST
     +-- 192.168.50.0/24 2 0 2
        +-- 192.168.50.0/29 2 0 1
           |-- 192.168.50.0
              /24 link UNICAST
              /24 link UNICAST
           |-- 192.168.50.3
              /32 host LOCAL
           |-- 192.168.50.4
              /32 host LOCAL
        |-- 192.168.50.255
           /32 link BROADCAST
           /32 link BROADCAST
"""


def _hex(dotted: str) -> str:
    """An address as /proc/net/route prints it (host byte order)."""
    raw = bytes(int(p) for p in dotted.split("."))
    return f"{int.from_bytes(raw, sys.byteorder):08X}"


ROUTE = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    + "".join(
        f"{iface}\t{_hex(dest)}\t{_hex(gw)}\t{flags}\t0\t0\t0\t{_hex(mask)}\t0\t0\t0\n"
        for iface, dest, gw, flags, mask in [
            ("d1", "10.1.0.0", "0.0.0.0", "0001", "255.255.255.254"),
            ("d0", "10.2.0.0", "0.0.0.0", "0001", "255.255.0.0"),
            ("d1", "10.2.3.0", "0.0.0.0", "0001", "255.255.255.0"),
            ("d1", "10.50.0.0", "0.0.0.0", "0001", "255.255.0.0"),
            ("d0", "192.168.50.0", "0.0.0.0", "0001", "255.255.255.0"),
            ("d1", "192.168.50.0", "0.0.0.0", "0001", "255.255.255.0"),
            ("d0", "0.0.0.0", "192.168.50.1", "0003", "0.0.0.0"),  # a default route via a gateway
        ]
    )
)

IF_INET6 = """00000000000000000000000000000001 01 80 10 80       lo
fd000000000000000000000000000005 03 40 00 82       d0
fe80000000000000e430f3fffea2f6a4 03 40 20 c0       d0
fe80000000000000b4c095fffe987232 02 40 20 c0       d1
short line
"""


def _ip(dotted: str) -> int:
    return int.from_bytes(bytes(int(p) for p in dotted.split(".")), "big")


def test_fib_trie_entries() -> None:
    entries = parse_fib_trie(FIB_TRIE + FIB_TRIE.replace("Main:", "Local:"))
    assert FibEntry(_ip("10.77.0.0"), 24, "host", "LOCAL") in entries
    assert FibEntry(_ip("192.168.50.255"), 32, "link", "BROADCAST") in entries
    assert len(entries) == len(set(entries))  # the second table's repeats are dropped
    locals_ = sorted(e.address for e in entries if e.kind == "LOCAL" and e.plen == 32)
    assert len(locals_) == 9


def test_route_keeps_link_routes_only() -> None:
    routes = parse_route(ROUTE)
    assert LinkRoute("d0", _ip("192.168.50.0"), 24) in routes
    assert LinkRoute("d1", _ip("10.1.0.0"), 31) in routes
    assert all(r.plen for r in routes)  # the gateway route is not a subnet of d0
    assert len(routes) == 6


def test_if_inet6() -> None:
    assert parse_if_inet6(IF_INET6) == (
        ("lo", "::1/128"),
        ("d0", "fd00::5/64"),
        ("d0", "fe80::e430:f3ff:fea2:f6a4/64"),
        ("d1", "fe80::b4c0:95ff:fe98:7232/64"),
    )


def test_placement_as_ip_addr_shows_it() -> None:
    """Each address on the interface `ip -4 addr` shows, where /proc can tell at all."""
    placed, unplaced = place_ipv4(parse_fib_trie(FIB_TRIE), parse_route(ROUTE))
    assert placed == {
        "d1": ["10.1.0.1/31"],
        # 10.2.3.4 is covered by the hand-made 10.2.3.0/24 dev d1 too, but that route has no
        # broadcast entry: the kernel's subnet route of the address is the /16 on d0
        "d0": ["10.2.0.1/16", "10.2.3.4/16"],
        "lo": ["10.77.0.1/24", "127.0.0.1/8"],
    }
    # a /32, a noprefixroute address, and one subnet on two interfaces: not guessed
    assert unplaced == ["10.9.9.9", "172.20.0.1", "192.168.50.3/24", "192.168.50.4/24"]


def test_with_addresses_fills_interfaces() -> None:
    ifaces = tuple(NetInterface(n, 0, 0, 0, 0) for n in ("lo", "d1", "d0"))
    filled, unplaced = with_addresses(ifaces, FIB_TRIE, ROUTE, IF_INET6)
    by_name = {i.name: i.addresses for i in filled}
    assert by_name["lo"] == ("10.77.0.1/24", "127.0.0.1/8", "::1/128")
    assert by_name["d0"][-2:] == ("fd00::5/64", "fe80::e430:f3ff:fea2:f6a4/64")
    assert "192.168.50.3/24" in unplaced


def test_no_loopback_interface_leaves_loopback_addresses_unplaced() -> None:
    placed, unplaced = place_ipv4(parse_fib_trie(FIB_TRIE), (), loopback=None)
    assert "lo" not in placed
    assert "127.0.0.1" in unplaced


_lines = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            ["Main:", "  +-- 10.0.0.0/8 2 0 2", "     |-- 10.0.0.1", "        /32 host LOCAL"]
        ),
        st.builds(
            lambda a, b, c: f"   |-- {a}\n      /{b} {c}",
            st.text(alphabet="0123456789.:", max_size=20),
            st.text(alphabet="0123456789-x", max_size=4),
            st.text(max_size=12),
        ),
    ),
    max_size=30,
).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(fib=_lines, route=_lines, inet6=_lines)
def test_fuzz_never_raises(fib: str, route: str, inet6: str) -> None:
    ifaces = (NetInterface("lo", 0, 0, 0, 0),)
    filled, unplaced = with_addresses(ifaces, fib, route, inet6)
    assert len(filled) == 1
    assert all(isinstance(a, str) for a in unplaced)


_hexword = st.integers(min_value=-5, max_value=1 << 36).map(lambda v: f"{v:X}")


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.text(max_size=6), _hexword, _hexword, _hexword, _hexword), max_size=8
    )
)
def test_fuzz_route_fields(rows: list[tuple[str, str, str, str, str]]) -> None:
    text = "header\n" + "".join(
        f"{i or 'x'}\t{d}\t{g}\t{f}\t0\t0\t0\t{m}\t0\t0\t0\n" for i, d, g, f, m in rows
    )
    for route in parse_route(text):
        assert 0 < route.plen <= 32 or route.plen == 0
        assert route.network <= 0xFFFFFFFF
