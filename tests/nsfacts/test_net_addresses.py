"""Exact addresses for net namespaces /proc leaves ambiguous: the helper is asked once per
change of what /proc shows, and its answer follows fresher counters."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from reliability.kobjects import Spawner

from nstui.kernel.namespaces import Namespace, NetInterface, NsFacts
from nstui.kernel.ns_inside import parse_net_answer
from nstui.kernel.nstypes import NsId, NsType
from nstui.model.net_addresses import NetAddressCache, exact_facts
from nstui.model.scanner import LiveSource

# Not a namespace of this host: the cache's logic on its own (the reader is the helper's
# stand-in here; the live test below uses the real one).
FAKE = NsId(NsType.NET, 4, 1)
PROC_FACTS = NsFacts(
    interfaces=(
        NetInterface("lo", 0, 0, 0, 0, ("127.0.0.1/8",)),
        NetInterface("eth0", 100, 100, 1, 1),
    ),
    unplaced_addresses=("10.244.1.5",),
)
EXACT = {"lo": ["127.0.0.1/8"], "eth0": ["10.244.1.5/32"], "new0": ["10.0.0.1/24"]}


def _source(calls: list[list[int]]) -> NetAddressCache:
    def reader(pids: list[int], **_: object) -> dict[int, dict[str, list[str]]]:
        calls.append(list(pids))
        return {pid: EXACT for pid in pids}

    return NetAddressCache(proc="/nonexistent", reader=reader)


def test_exact_facts() -> None:
    facts = exact_facts(PROC_FACTS, EXACT)
    assert [i.addresses for i in facts.interfaces] == [("127.0.0.1/8",), ("10.244.1.5/32",)]
    assert facts.interfaces[1].rx_bytes == 100  # counters kept
    assert facts.unplaced_addresses == ("10.0.0.1/24",)  # interface /proc did not list


def test_cache_asks_once_per_change() -> None:
    calls: list[list[int]] = []
    cache = _source(calls)
    ns = Namespace(FAKE, (7, 8), facts=PROC_FACTS)
    first = cache.apply({FAKE: ns})
    assert first[FAKE].facts.interfaces[1].addresses == ("10.244.1.5/32",)
    assert calls == [[7, 8]]
    assert cache.apply(first) is first  # carried over: nothing to do
    # described again from /proc (fresh counters, same addresses): no helper, exact again
    fresher = dataclasses.replace(
        PROC_FACTS,
        interfaces=(
            PROC_FACTS.interfaces[0],
            dataclasses.replace(PROC_FACTS.interfaces[1], rx_bytes=999),
        ),
    )
    again = cache.apply({FAKE: Namespace(FAKE, (7, 8), facts=fresher)})
    assert len(calls) == 1
    assert again[FAKE].facts.interfaces[1] == NetInterface(
        "eth0", 999, 100, 1, 1, ("10.244.1.5/32",)
    )
    # /proc's addresses changed: ask again
    changed = dataclasses.replace(PROC_FACTS, unplaced_addresses=("10.244.1.6",))
    cache.apply({FAKE: Namespace(FAKE, (7, 8), facts=changed)})
    assert len(calls) == 2
    cache.apply({FAKE: Namespace(FAKE, (7, 8), facts=changed)}, full=True)
    assert len(calls) == 3


def test_nothing_ambiguous_no_helper() -> None:
    calls: list[list[int]] = []
    placed = dataclasses.replace(PROC_FACTS, unplaced_addresses=())
    spaces = {FAKE: Namespace(FAKE, (7,), facts=placed)}
    assert _source(calls).apply(spaces) is spaces and calls == []


def test_parse_net_answer() -> None:
    data = b"5 net 6c6f 127.0.0.1/8\n5 net 65746830 10.0.0.1/32\n5 net-done\n6 net 6c6f x\n"
    # pid 6 never said net-done (it failed half-way): not an answer
    assert parse_net_answer(data) == {5: {"lo": ["127.0.0.1/8"], "eth0": ["10.0.0.1/32"]}}


SETUP = (
    "ip link set lo up; ip link add q0 type veth peer name q1; "
    "ip addr add 192.168.77.3/24 dev q0; ip addr add 192.168.77.4/24 dev q1; "
    "ip addr add 10.9.9.9/32 dev q0; exec sleep 300"
)


@pytest.mark.root
def test_snapshot_places_what_proc_cannot(spawn: Spawner) -> None:
    unshare = spawn(["unshare", "--net", "--fork", "sh", "-c", SETUP])
    pid = None
    deadline = time.monotonic() + 10
    while pid is None and time.monotonic() < deadline:
        for word in Path(f"/proc/{unshare.pid}/task/{unshare.pid}/children").read_text().split():
            if Path(f"/proc/{word}/comm").read_text().strip() == "sleep":
                pid = int(word)
        time.sleep(0.02)
    assert pid is not None, "the unshare'd sleep did not start"
    source = LiveSource(holders=False)
    try:
        for _ in range(2):
            snap = source.take()
            net = snap.namespaces[snap.processes[pid].ns[NsType.NET]]
            by_name = {i.name: i.addresses for i in net.facts.interfaces}
            assert by_name["q0"][:2] == ("192.168.77.3/24", "10.9.9.9/32")
            assert by_name["q1"][:1] == ("192.168.77.4/24",)
            assert net.facts.unplaced_addresses == ()
    finally:
        source.close()
