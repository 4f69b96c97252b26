"""An overlay mounted inside another process's mount namespace (a process started with
util-linux `unshare --mount --propagation private --fork`) is seen there only, and goes away
with that namespace."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reliability.kobjects import Spawner

from nstui.kernel.union_mounts import mount_at, mount_ns_of, scan_mount_namespaces
from nstui.model.mount_actions import LiveMountActions, OverlaySpec, find_union

pytestmark = pytest.mark.root


def _private_ns_process(spawn: Spawner) -> subprocess.Popen[bytes]:
    proc = spawn(["unshare", "--mount", "--propagation", "private", "--fork", "sleep", "1000"])
    own = mount_ns_of("self")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if mount_ns_of(proc.pid) != own:
                return proc
        except OSError:
            pass
        time.sleep(0.02)
    raise AssertionError("unshare did not enter a new mount namespace")


def test_overlay_in_another_namespace(tmp_path: Path, spawn: Spawner) -> None:
    lowers = [tmp_path / "l 1", tmp_path / "l,2"]
    for i, d in enumerate(lowers):
        d.mkdir()
        (d / f"file{i}").write_text(str(i))
    target = tmp_path / "merged"
    target.mkdir()
    proc = _private_ns_process(spawn)
    ns = mount_ns_of(proc.pid)
    actions = LiveMountActions()
    spec = OverlaySpec(lowers=tuple(str(p) for p in lowers), target=str(target))
    outcome = actions.mount_overlay(spec, in_pid=proc.pid)
    assert outcome.ok, outcome.message
    assert f"process {proc.pid}" in outcome.message

    state = actions.read_state()
    mine = find_union(state, str(target), in_pid=proc.pid)
    assert mine is not None and mine.namespace.ns == ns
    assert mine.layers == tuple(str(p) for p in lowers)
    assert find_union(state, str(target)) is None  # not in our (the host's) namespace
    holders = [u.namespace.ns for u in state.unions if u.target == str(target)]
    assert holders == [ns]
    assert mount_at(state.scan.namespaces[0].mounts, str(target)) is None
    # layers are read through /proc/PID/root of that namespace
    entries = {e.name: e.layer.name for e in actions.list_merged(mine)}
    assert entries == {"file0": "lower 1", "file1": "lower 2"}

    listing = subprocess.run(
        [sys.executable, "-m", "nstui", "mounts", "--union", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    found = [
        n["ns"]
        for n in json.loads(listing.stdout)["namespaces"]
        for u in n["unions"]
        if u["target"] == str(target)
    ]
    assert found == [str(ns)]

    # the namespace dies with its last process, and its mounts with it
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        scan = scan_mount_namespaces()
        if all(n.ns != ns for n in scan.namespaces):
            break
        time.sleep(0.05)
    scan = scan_mount_namespaces()
    assert all(n.ns != ns for n in scan.namespaces)
    assert [n.ns for n in scan.namespaces if mount_at(n.mounts, str(target))] == []


def test_in_pid_bad_input(tmp_path: Path, spawn: Spawner) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    actions = LiveMountActions()
    relative = OverlaySpec(lowers=("a", "b"), target="m")
    proc = _private_ns_process(spawn)
    out = actions.mount_overlay(relative, in_pid=proc.pid)
    assert not out.ok and "absolute" in out.message
    gone = OverlaySpec(lowers=(str(tmp_path / "a"), str(tmp_path / "b")), target=str(tmp_path))
    out = actions.mount_overlay(gone, in_pid=2**22 + 7)
    assert not out.ok and "does not exist" in out.message
    missing = OverlaySpec(lowers=(str(tmp_path / "a"), str(tmp_path / "zz")), target=str(tmp_path))
    out = actions.mount_overlay(missing, in_pid=proc.pid)
    assert not out.ok and "lower 2" in out.message and f"process {proc.pid}" in out.message
    scan = scan_mount_namespaces()
    assert [n.ns for n in scan.namespaces if mount_at(n.mounts, str(tmp_path))] == []


def test_layers_from_here_into_a_container_root(tmp_path: Path, spawn: Spawner) -> None:
    """A 'container': its own mount namespace and root (a busybox rootfs), where neither
    nstui nor the layer directories exist. Running nstui in there is refused with a clear
    message; --layers-here builds the overlay here and attaches it in there."""
    busybox = shutil.which("busybox")
    assert busybox is not None, "busybox-static is a test dependency (Makefile TEST_DEBS)"
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "srv").mkdir()
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    lowers = [tmp_path / "host layer", tmp_path / "base"]
    for i, d in enumerate(lowers):
        d.mkdir()
        (d / f"file{i}").write_text(f"layer {i}\n")
    proc = spawn(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--fork",
            f"--root={rootfs}",
            "/bin/busybox",
            "sleep",
            "1000",
        ]
    )
    own = mount_ns_of("self")
    deadline = time.monotonic() + 10
    while mount_ns_of(proc.pid) == own and time.monotonic() < deadline:
        time.sleep(0.02)
    # the command (busybox, pid namespace unchanged) is unshare's child: find it
    child = int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0])
    # unshare's child chroots after the fork: wait until it really sits in the rootfs, or the
    # refusal below races with a child that still sees this host's files.
    while os.readlink(f"/proc/{child}/root") != str(rootfs) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert os.readlink(f"/proc/{child}/root") == str(rootfs)
    actions = LiveMountActions()
    spec = OverlaySpec(lowers=tuple(str(p) for p in lowers), target="/srv")
    refused = actions.mount_overlay(spec, in_pid=child)
    assert not refused.ok and "--layers-here" in refused.message

    done = actions.mount_overlay(spec, in_pid=child, layers_here=True)
    assert done.ok, done.message
    inside = Path(f"/proc/{child}/root/srv")
    assert sorted(p.name for p in inside.iterdir()) == ["file0", "file1"]
    assert (inside / "file0").read_text() == "layer 0\n"
    state = actions.read_state()
    union = find_union(state, "/srv", in_pid=child)
    assert union is not None and union.layers == tuple(str(p) for p in lowers)
    assert find_union(state, "/srv") is None  # not in nstui's namespace
    # the layer paths are the host's: the inspector finds them here, not in the rootfs
    entries = {e.name: e.layer.name for e in actions.list_merged(union)}
    assert entries == {"file0": "lower 1", "file1": "lower 2"}

    bad = OverlaySpec(lowers=(str(lowers[0]), str(tmp_path / "nope")), target="/srv")
    out = actions.mount_overlay(bad, in_pid=child, layers_here=True)
    assert not out.ok and "lower 2" in out.message and "no such directory" in out.message
    missing = OverlaySpec(lowers=tuple(str(p) for p in lowers), target="/nowhere")
    out = actions.mount_overlay(missing, in_pid=child, layers_here=True)
    assert not out.ok and "/nowhere" in out.message

    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
