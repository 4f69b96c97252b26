"""Parsers of the per-namespace facts /proc shows, on texts copied from this host."""

from __future__ import annotations

import os

from nstui.kernel.namespaces import IdMapRange, parse_ns_text
from nstui.kernel.nsfacts import (
    parse_id_map,
    parse_net_dev,
    parse_time_offsets,
    pid_ns_facts,
    read_id_map,
    read_net_interfaces,
)
from nstui.kernel.nstypes import NsType

# /proc/PID/net/dev as this host prints it (columns squeezed to fit the line length)
NET_DEV = "\n".join(
    [
        "Inter-|   Receive                                                |  Transmit",
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets"
        " errs drop fifo colls carrier compressed",
        "    lo:    3193      29    0    0    0     0          0         0     3193      29"
        "    0    0    0     0       0          0",
        "  eth0: 149477453    4284    0    0    0     0          0         0   242964    2784"
        "    0    0    0     0       0          0",
        "broken line",
    ]
)


def test_net_dev() -> None:
    lo, eth0 = parse_net_dev(NET_DEV)
    assert (lo.name, lo.rx_bytes, lo.rx_packets, lo.tx_bytes, lo.tx_packets) == (
        "lo",
        3193,
        29,
        3193,
        29,
    )
    assert (eth0.name, eth0.rx_bytes, eth0.tx_bytes, eth0.tx_packets) == (
        "eth0",
        149477453,
        242964,
        2784,
    )


def test_id_maps_and_time_offsets() -> None:
    text = "         0       1000          1\n      1  100000  65536\nbad\n"
    assert parse_id_map(text) == (IdMapRange(0, 1000, 1), IdMapRange(1, 100000, 65536))
    offsets = "monotonic           5         0\nboottime          100         7\n"
    assert parse_time_offsets(offsets) == {"monotonic": (5, 0), "boottime": (100, 7)}


def test_pid_level_and_init_from_nspid_chains() -> None:
    # host pids 500 (pid 1 inside) and 501 (pid 2 inside), one level down
    assert pid_ns_facts([(500, (500, 1)), (501, (501, 2))]) == (1, 500)
    assert pid_ns_facts([(7, (7,))]) == (0, None)
    assert pid_ns_facts([]) == (None, None)


def test_ns_link_text() -> None:
    assert parse_ns_text("net:[4026532281]") == (NsType.NET, 4026532281)
    assert parse_ns_text("cgroup:[4026531835]") == (NsType.CGROUP, 4026531835)
    for other in ("anon_inode:[pidfd]", "socket:[123]", "pipe:[5]", "/dev/null", "net:[x]"):
        assert parse_ns_text(other) is None


def test_readers_of_a_vanished_process_are_empty() -> None:
    gone = 2**22 + 1  # above pid_max's ceiling: never a live pid
    assert read_net_interfaces(gone) == ()
    assert read_id_map(gone, "uid_map") == ()
    own = read_id_map(os.getpid(), "uid_map")
    assert own and all(r.count > 0 for r in own)
