"""JSON round-trip, diff and grouping of real snapshots (plus edited copies for the cases the
kernel will not produce on demand: pid reuse, namespace inode reuse)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nstui.kernel.nstypes import NsId, NsType
from nstui.kernel.procfs import read_ns
from nstui.model.diff import diff_snapshots, process_key
from nstui.model.grouping import (
    children_by_parent,
    differs_from_host,
    group,
    processes_by_cgroup,
    processes_by_namespace,
    root_pids,
)
from nstui.model.scanner import LiveSource
from nstui.model.serialize import (
    SnapshotFormatError,
    snapshot_from_json,
    snapshot_to_json,
)
from nstui.model.snapshot import Snapshot

from .conftest import wait_for
from .test_snap_scan import cgroup_path, pids_hid


def roundtrip(s: Snapshot) -> Snapshot:
    return snapshot_from_json(json.loads(json.dumps(snapshot_to_json(s))))


def test_json_round_trip_is_exact(spawn) -> None:  # type: ignore[no-untyped-def]
    if os.geteuid() == 0:
        spawn(["unshare", "--uts", "--fork", "sleep", "1000"])
    source = LiveSource()
    first = source.take()
    assert roundtrip(first) == first
    second = source.take()  # a refresh: cpu_percent set, shared dicts
    back = roundtrip(second)
    assert back == second
    assert back.processes[os.getpid()].cpu_percent == second.processes[os.getpid()].cpu_percent
    assert isinstance(back.processes[os.getpid()].cmdline, tuple)
    assert all(isinstance(k, NsId) for k in back.namespaces)


def test_json_format_is_versioned() -> None:
    data = snapshot_to_json(LiveSource(holders=False).take())
    assert data["format"] == "nstui-snapshot" and data["version"] == 1
    with pytest.raises(SnapshotFormatError, match="version"):
        snapshot_from_json({**data, "version": 99})
    with pytest.raises(SnapshotFormatError, match="not an nstui snapshot"):
        snapshot_from_json({"namespaces": []})
    broken = json.loads(json.dumps(data))
    del broken["snapshot"]["host"]
    with pytest.raises(SnapshotFormatError, match="malformed"):
        snapshot_from_json(broken)


def test_json_without_newer_fields_loads_with_defaults() -> None:
    """A file written before a field with a default existed still loads."""
    s = LiveSource(holders=False).take()
    data = json.loads(json.dumps(snapshot_to_json(s)))
    for p in data["snapshot"]["processes"].values():
        p.pop("start_ticks", None)
    back = snapshot_from_json(data)
    assert back.processes[os.getpid()].start_ticks == 0
    assert back.processes[os.getpid()].cmdline == s.processes[os.getpid()].cmdline


@pytest.mark.root
def test_diff_appeared_vanished_moved(spawn, test_cgroup_parent) -> None:  # type: ignore[no-untyped-def]
    parent: Path = test_cgroup_parent("pids")
    stays = spawn(["sleep", "1000"])
    source = LiveSource(holders=False)
    wait_for(lambda: stays.pid in source.take().processes)
    before = source.take_full()

    new = spawn(["sleep", "1001"])
    (parent / "cgroup.procs").write_text(str(stays.pid))
    wait_for(lambda: new.pid in source.take().processes)
    after = source.take_full()
    d = diff_snapshots(before, after)
    assert new.pid in [p.pid for p in d.appeared]
    moved = {m.pid: m for m in d.moved}
    hid = pids_hid()
    assert moved[stays.pid].cgroups[hid][1] == cgroup_path(parent)
    assert not moved[stays.pid].namespaces

    new.kill()
    new.wait()
    gone = source.take()
    d2 = diff_snapshots(after, gone)
    assert new.pid in [p.pid for p in d2.vanished]
    assert stays.pid not in [m.pid for m in d2.moved]
    assert diff_snapshots(gone, gone).empty


def _edited(s: Snapshot, pid: int, **changes: object) -> Snapshot:
    processes = dict(s.processes)
    processes[pid] = dataclasses.replace(processes[pid], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(s, processes=processes)


def test_diff_pid_reuse_is_not_the_same_process() -> None:
    s = LiveSource(holders=False).take()
    me = s.processes[os.getpid()]
    reused = _edited(s, me.pid, start_ticks=me.start_ticks + 100, start_time=me.start_time + 1)
    d = diff_snapshots(s, reused)
    assert [p.pid for p in d.vanished] == [me.pid]
    assert [p.pid for p in d.appeared] == [me.pid]
    assert not d.moved
    assert process_key(me) != process_key(reused.processes[me.pid])


def test_diff_does_not_trust_reused_namespace_inodes() -> None:
    """Same NsId, different kernel id (NS_GET_ID): a different namespace; its members moved."""
    s = LiveSource().take()
    uts = s.processes[os.getpid()].ns[NsType.UTS]
    old_ns = s.namespaces[uts]
    if old_ns.kernel_id is None:
        pytest.skip("NS_GET_ID unavailable on this kernel")
    namespaces = dict(s.namespaces)
    namespaces[uts] = dataclasses.replace(old_ns, kernel_id=old_ns.kernel_id + 1_000_000)
    later = dataclasses.replace(s, namespaces=namespaces)
    d = diff_snapshots(s, later)
    assert uts in d.ns_appeared and uts in d.ns_vanished
    assert NsType.UTS in {t for m in d.moved for t in m.namespaces}
    assert not diff_snapshots(s, s).moved


def test_diff_namespace_without_kernel_id_needs_a_common_member() -> None:
    s = LiveSource().take()
    uts = s.processes[os.getpid()].ns[NsType.UTS]
    no_id = {k: dataclasses.replace(v, kernel_id=None) for k, v in s.namespaces.items()}
    plain = dataclasses.replace(s, namespaces=no_id)
    assert uts not in diff_snapshots(plain, plain).ns_appeared
    # every member replaced by another process (new start time): no evidence of sameness
    processes = {
        pid: dataclasses.replace(p, start_ticks=p.start_ticks + 7) for pid, p in s.processes.items()
    }
    strangers = dataclasses.replace(plain, processes=processes)
    d = diff_snapshots(plain, strangers)
    if not s.namespaces[uts].holders:
        assert uts in d.ns_appeared


def test_grouping(spawn) -> None:  # type: ignore[no-untyped-def]
    child = spawn(["sleep", "1000"])
    wait_for(lambda: child.pid in LiveSource(holders=False).take().processes)
    s = LiveSource(holders=False).take()
    g = group(s)
    mine = read_ns("self")
    assert os.getpid() in g.by_ns[NsType.NET][mine[NsType.NET]]
    assert child.pid in g.children[os.getpid()]
    assert g.children == children_by_parent(s.processes)
    assert g.by_ns[NsType.MNT] == processes_by_namespace(s.processes, NsType.MNT)
    for hid, path in s.processes[child.pid].cgroups.items():
        assert child.pid in g.by_cgroup[hid][path]
        assert g.by_cgroup[hid] == processes_by_cgroup(s.processes, hid)
    assert 1 in g.roots or 1 not in s.processes
    assert all(s.processes[p].ppid not in s.processes or s.processes[p].ppid == p for p in g.roots)
    assert g.members(mine[NsType.NET]) == g.by_ns[NsType.NET][mine[NsType.NET]]
    if s.host.host_ns:
        assert os.getpid() not in g.not_host or s.host.host_ns_source == "pid 1"


@pytest.mark.root
def test_grouping_flags_namespaces_other_than_host(spawn) -> None:  # type: ignore[no-untyped-def]
    outer = spawn(["unshare", "--uts", "--net", "--fork", "sleep", "1000"])
    source = LiveSource(holders=False)
    inner: list[int] = []

    def started() -> bool:
        s = source.take()
        inner[:] = [p.pid for p in s.processes.values() if p.ppid == outer.pid]
        return bool(inner)

    wait_for(started)
    s = source.take()
    g = group(s)
    assert g.not_host[inner[0]] >= {NsType.UTS, NsType.NET}
    assert NsType.MNT not in g.not_host[inner[0]]
    assert differs_from_host(s.processes[inner[0]], s.host) == g.not_host[inner[0]]
    assert set(root_pids(s.processes)) == set(g.roots)


def test_cli_snapshot_json_contains_us() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "nstui", "snapshot", "--json"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    data = json.loads(out.stdout)
    assert str(os.getpid()) in data["snapshot"]["processes"]
    assert snapshot_from_json(data).processes[os.getpid()].pid == os.getpid()


def test_cli_snapshot_summary(capsys: pytest.CaptureFixture[str]) -> None:
    from nstui.cli.main import main

    assert main(["snapshot"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("host ")
    assert "processes: " in text and "namespaces:" in text and "cgroup hierarchies:" in text
    for t in NsType:
        assert f"  {t.value} " in text
    assert main(["snapshot", "--bogus"]) == 2
