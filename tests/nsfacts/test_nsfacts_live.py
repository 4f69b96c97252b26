"""Hostname and addresses of a namespace made by util-linux unshare, in a snapshot and in
``nstui describe``: the real kernel, one process per test, killed by pid at teardown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from reliability.kobjects import Spawner

from nstui.kernel.namespaces import Namespace
from nstui.kernel.ns_inside import read_hostnames
from nstui.kernel.nstypes import NsId, NsType
from nstui.model.hostnames import HostnameCache
from nstui.model.scanner import LiveSource

# The address lives only inside the private netns (on its loopback): no traffic leaves it.
SETUP = "hostname qa-ns; ip link set lo up; ip addr add 10.77.0.1/24 dev lo; exec sleep 300"
REPO = Path(__file__).resolve().parents[2]


def _ns_id(pid: int, ns_type: NsType) -> NsId:
    st = os.stat(f"/proc/{pid}/ns/{ns_type.value}")
    return NsId(ns_type, st.st_dev, st.st_ino)


@pytest.fixture
def qa_ns(spawn: Spawner) -> int:
    """The pid of ``sleep`` in a new net+uts namespace set up by SETUP."""
    unshare = spawn(["unshare", "--net", "--uts", "--fork", "sh", "-c", SETUP])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = Path(f"/proc/{unshare.pid}/task/{unshare.pid}/children")
        for word in children.read_text().split():
            if Path(f"/proc/{word}/comm").read_text().strip() == "sleep":
                return int(word)  # exec'd: the setup before it is done
        time.sleep(0.02)
    pytest.fail("the unshare'd sleep did not start")


@pytest.mark.root
def test_snapshot_has_hostname_and_addresses(qa_ns: int) -> None:
    source = LiveSource(holders=False)
    try:
        for _ in range(2):  # the full take and a refresh carry both
            snap = source.take()
            process = snap.processes[qa_ns]
            uts = snap.namespaces[process.ns[NsType.UTS]]
            net = snap.namespaces[process.ns[NsType.NET]]
            assert uts.facts.hostname == "qa-ns"
            (lo,) = net.facts.interfaces
            assert lo.name == "lo"
            assert lo.addresses[:2] == ("10.77.0.1/24", "127.0.0.1/8")
            assert net.facts.unplaced_addresses == ()
            own = snap.namespaces[_ns_id(os.getpid(), NsType.UTS)]
            assert own.facts.hostname == os.uname().nodename
    finally:
        source.close()


@pytest.mark.root
def test_read_hostnames_skips_vanished_and_reused(qa_ns: int) -> None:
    ns = _ns_id(qa_ns, NsType.UTS)
    gone = int(Path("/proc/sys/kernel/pid_max").read_text())  # pids stay below pid_max
    names = read_hostnames([qa_ns, gone], expected={qa_ns: (ns.dev, ns.ino)})
    assert names == {qa_ns: "qa-ns"}
    # the caller saw another namespace for this pid (reused pid): not misattributed
    assert read_hostnames([qa_ns], expected={qa_ns: (ns.dev, ns.ino + 1)}) == {}


@pytest.mark.root
def test_read_hostnames_from_a_threaded_caller(qa_ns: int) -> None:
    """The TUI calls it from a worker thread: the helper process does the setns."""
    found: dict[int, str] = {}
    worker = threading.Thread(target=lambda: found.update(read_hostnames([qa_ns])))
    worker.start()
    worker.join(30)
    assert found == {qa_ns: "qa-ns"}
    assert os.uname().nodename != "qa-ns"  # this process stayed where it was


@pytest.mark.root
def test_cache_reads_each_namespace_once(qa_ns: int) -> None:
    calls: list[list[int]] = []

    def counting(pids: list[int], **kwargs: object) -> dict[int, str]:
        calls.append(list(pids))
        return read_hostnames(pids, **kwargs)  # type: ignore[arg-type]

    source = LiveSource(holders=False)
    try:
        namespaces: dict[NsId, Namespace] = dict(source.take().namespaces)
    finally:
        source.close()
    cache = HostnameCache(reader=counting)
    first = cache.apply(namespaces)
    assert first[_ns_id(qa_ns, NsType.UTS)].facts.hostname == "qa-ns"
    assert len(calls) == 1 and qa_ns in calls[0]
    again = cache.apply(first)
    assert again is first and len(calls) == 1  # unchanged: no helper, nothing rebuilt
    cache.apply(first, full=True)
    assert len(calls) == 2  # a full take reads again (a hostname may change inside)


def _helpers_running() -> list[int]:
    """Our children running the ns_inside helper."""
    out = []
    for word in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split():
        try:
            if b"ns_inside_main" in Path(f"/proc/{word}/cmdline").read_bytes():
                out.append(int(word))
        except OSError:
            continue  # exited meanwhile
    return out


@pytest.mark.root
def test_started_helper_is_asked_or_ended(qa_ns: int) -> None:
    """A full take starts the hostname helper before its scan; the helper answers then, and
    one started but not asked (nothing new to read) is ended: none is left running."""
    source = LiveSource(holders=False)
    try:
        snap = source.take()
        uts = snap.namespaces[snap.processes[qa_ns].ns[NsType.UTS]]
        assert uts.facts.hostname == "qa-ns"
        assert _helpers_running() == []
    finally:
        source.close()
    cache = HostnameCache()
    cache.start()
    assert len(_helpers_running()) == 1
    cache.apply({})  # nothing to ask
    assert _helpers_running() == []
    assert cache.helper_runs == 0


@pytest.mark.root
def test_describe_cli(qa_ns: int) -> None:
    def nstui(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "nstui", "describe", *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    uts_text = nstui(str(_ns_id(qa_ns, NsType.UTS)))
    assert uts_text.startswith(f"uts namespace {_ns_id(qa_ns, NsType.UTS).ino}")
    assert "hostname  qa-ns" in uts_text
    net = _ns_id(qa_ns, NsType.NET)
    net_text = nstui(str(net.ino))
    assert "10.77.0.1/24  127.0.0.1/8" in net_text
    data = json.loads(nstui(str(net), "--json"))
    assert data["kind"] == "namespace"
    rows = [r["value"] for s in data["sections"] if s["title"] == "Interfaces" for r in s["rows"]]
    assert any("10.77.0.1/24" in value for value in rows)
    process_text = nstui(str(qa_ns))
    assert process_text.startswith(f"{qa_ns} sleep")


def test_describe_cli_errors() -> None:
    def status(*args: str) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-m", "nstui", "describe", *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
            check=False,
        )
        return done.returncode, done.stderr

    code, err = status("not a target")
    assert code == 2 and "expected a pid" in err
    code, err = status("net:[1]")
    assert code == 1 and "no such process, namespace or cgroup" in err
