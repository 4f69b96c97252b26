"""The recorded snapshot fixture: loads, round-trips exactly, is current with its generator,
is internally consistent, and its refresh sequence changes what it says it changes."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from nstui.kernel.namespaces import HolderKind
from nstui.kernel.nstypes import NS_TYPES, NsType
from nstui.model.containers import label_for_process
from nstui.model.serialize import snapshot_from_json, snapshot_to_json
from nstui.model.snapshot import Snapshot

from .conftest import load_recorded_module

DATA = Path(__file__).resolve().parents[1] / "data"


def _generator() -> ModuleType:
    name = "nstui_tests_make_recorded"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DATA / "make_recorded_snapshot.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_round_trips_exactly(recorded_snapshot: Snapshot) -> None:
    again = snapshot_from_json(json.loads(json.dumps(snapshot_to_json(recorded_snapshot))))
    assert again == recorded_snapshot
    assert list(again.processes) == list(recorded_snapshot.processes)


def test_file_is_what_the_generator_writes() -> None:
    """Regenerate with `.venv/bin/python tests/data/make_recorded_snapshot.py` when this fails."""
    text = (DATA / "recorded_snapshot.json").read_text(encoding="utf-8")
    assert text == _generator().render()


def test_host_has_what_the_screens_need(recorded_snapshot: Snapshot) -> None:
    snap = recorded_snapshot
    assert 55 <= len(snap.processes) <= 70
    assert snap.host.cgroup_mode == "hybrid"
    assert {h.name for h in snap.hierarchies} == {
        "unified",
        "cpu",
        "cpuacct",
        "cpuset",
        "memory",
        "devices",
        "freezer",
        "blkio",
        "pids",
        "name=systemd",
    }
    runtimes = {
        label.runtime
        for pid in snap.processes
        if (label := label_for_process(snap, pid)) is not None
    }
    assert {"docker", "kubepods", "nspawn", "podman", "podman-monitor", "systemd"} <= runtimes
    held = [ns for ns in snap.namespaces.values() if ns.held_only]
    assert {h.kind for ns in held for h in ns.holders} == {
        HolderKind.BIND_MOUNT,
        HolderKind.OPEN_FD,
    }
    users = [ns for ns in snap.namespaces.values() if ns.type is NsType.USER]
    assert any(r.outside == 100000 for ns in users for r in ns.facts.uid_map)
    overlays = [m for m in snap.mounts if m.fstype == "overlay"]
    assert len(overlays) == 4 and all("upperdir=" in m.super_options for m in overlays)


def test_memberships_are_consistent(recorded_snapshot: Snapshot) -> None:
    snap = recorded_snapshot
    for pid, process in snap.processes.items():
        assert set(process.ns) == set(NS_TYPES)
        for ns_id in process.ns.values():
            assert pid in snap.namespaces[ns_id].pids
        for hid, path in process.cgroups.items():
            assert pid in snap.cgroups[(hid, path)].pids
    for namespace in snap.namespaces.values():
        assert namespace.pids == tuple(sorted(namespace.pids))
        assert all(namespace.id in (snap.processes[p].ns.values()) for p in namespace.pids)
        if namespace.owner is not None:
            assert namespace.owner in snap.namespaces
    for (hid, path), cgroup in snap.cgroups.items():
        assert cgroup.parent_path is None or (hid, cgroup.parent_path) in snap.cgroups
        assert all(snap.processes[p].cgroups[hid] == path for p in cgroup.pids)


def test_sequence_appears_vanishes_moves(recorded_snapshot: Snapshot) -> None:
    recorded = load_recorded_module()
    first, second, third = recorded.recorded_snapshots_sequence()
    assert first == recorded_snapshot
    assert second.taken_at == first.taken_at + 2.0 and third.taken_at == second.taken_at + 2.0

    new = recorded.APPEARING_PID
    assert new not in first.processes and new in second.processes and new in third.processes
    nginx = first.processes[1220]
    assert second.processes[new].ns == nginx.ns
    assert new in second.namespaces[nginx.ns[NsType.PID]].pids
    label = label_for_process(second, new)
    assert label is not None and label == label_for_process(second, 1220)

    gone = recorded.VANISHING_PID
    assert gone in second.processes and gone not in third.processes
    assert all(gone not in ns.pids for ns in third.namespaces.values())
    assert all(gone not in cg.pids for cg in third.cgroups.values())

    mover = recorded.MOVING_PID
    memory = next(h.hid for h in first.hierarchies if h.controllers == ("memory",))
    assert first.processes[mover].cgroups[memory] != recorded.MOVED_TO
    assert third.processes[mover].cgroups[memory] == recorded.MOVED_TO
    assert third.cgroups[(memory, recorded.MOVED_TO)].pids == (mover,)
    old_path = first.processes[mover].cgroups[memory]
    assert mover not in third.cgroups[(memory, old_path)].pids


def test_sequence_as_the_model_diff_sees_it() -> None:
    from nstui.model.diff import diff_snapshots

    recorded = load_recorded_module()
    first, second, third = recorded.recorded_snapshots_sequence()
    one = diff_snapshots(first, second)
    assert [p.pid for p in one.appeared] == [recorded.APPEARING_PID]
    assert one.vanished == () and one.moved == () and one.ns_appeared == ()
    two = diff_snapshots(second, third)
    assert two.appeared == ()
    assert [p.pid for p in two.vanished] == [recorded.VANISHING_PID]
    assert [m.pid for m in two.moved] == [recorded.MOVING_PID]
    assert set(two.moved[0].cgroups) == {4, 8}  # memory and pids
