"""What the limits and controls really do to processes, on real cgroups (v1 here, v2 in the
guest): pids.max stops forks, a memory limit OOM-kills, freeze stops CPU time, kill empties."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nstui.kernel.cgroups import control
from nstui.kernel.cgroups.audit import AuditLog
from nstui.kernel.cgroups.editor import apply_plan, plan_edit
from nstui.kernel.cgroups.effective import effective_limit
from nstui.kernel.cgroups.freezer import FreezeState
from nstui.kernel.cgroups.knobs import knob_for
from nstui.kernel.cgroups.paths import CgroupRef

from .helpers import Sandbox, cpu_ticks, pids_of, python_child

pytestmark = pytest.mark.root

Spawn = Callable[..., "subprocess.Popen[bytes]"]


def _member(spawn: Spawn, ref: CgroupRef, audit: AuditLog, code: str) -> subprocess.Popen[bytes]:
    """A Python child moved into REF by nstui, then told to run CODE."""
    proc = spawn(python_child(code), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    result = control.move(proc.pid, ref, audit)
    assert result.ok, result.message
    assert proc.pid in pids_of(ref)
    assert proc.stdin is not None
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    return proc


def _set(ref: CgroupRef, tree: Sandbox, audit: AuditLog, **values: str) -> None:
    pairs = [(k.replace("__", "."), v) for k, v in values.items()]
    results = apply_plan(plan_edit(ref, pairs, tree.hierarchies), audit, force=True)
    assert all(r.ok for r in results), [r.message for r in results]


FORKER = """
import errno, os, time
kids, err = [], "none"
for _ in range(10):
    try:
        pid = os.fork()
    except OSError as exc:
        err = errno.errorcode[exc.errno]
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    kids.append(pid)
print(len(kids), err, flush=True)
for pid in kids:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
"""


def test_pids_max_stops_the_sixth_task(tree: Sandbox, spawn: Spawn, audit_log: AuditLog) -> None:
    ref = tree.leaf("pids")
    _set(ref, tree, audit_log, pids__max="5")
    proc = _member(spawn, ref, audit_log, FORKER)
    out, _ = proc.communicate(timeout=60)
    forks, err = out.decode().split()
    assert (int(forks), err) == (4, "EAGAIN")  # the child itself is the first of five tasks
    assert "max 1" in (Path(ref.directory) / "pids.events").read_text()


HOG = """
blocks = []
for _ in range(512):
    blocks.append(b"\\x01" * (1 << 20))
print("survived", flush=True)
"""


def test_memory_limit_oom_kills_a_process_beyond_it(
    tree: Sandbox, spawn: Spawn, audit_log: AuditLog
) -> None:
    ref = tree.leaf("memory")
    if tree.version == 1:
        _set(ref, tree, audit_log, memory__limit_in_bytes="32M")
    else:
        _set(ref, tree, audit_log, memory__max="32M")
        if (Path(ref.directory) / "memory.swap.max").exists():
            _set(ref, tree, audit_log, memory__swap__max="0")
    proc = _member(spawn, ref, audit_log, HOG)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == -9, out
    if tree.version == 2:
        events = (Path(ref.directory) / "memory.events").read_text()
        assert "oom_kill 0" not in events
    else:
        assert "oom_kill 0" not in (Path(ref.directory) / "memory.oom_control").read_text()


BUSY = "while True:\n    pass\n"


def test_freeze_stops_cpu_time_and_thaw_resumes(
    tree: Sandbox, spawn: Spawn, audit_log: AuditLog
) -> None:
    ref = tree.leaf("freezer" if tree.version == 1 else "unified")
    proc = _member(spawn, ref, audit_log, BUSY)
    time.sleep(0.3)
    result = control.set_frozen(ref, True, audit_log)
    assert result.ok, result.message
    assert control.freeze_state(ref) == FreezeState.FROZEN
    frozen_at = cpu_ticks(proc.pid)
    time.sleep(0.6)
    assert cpu_ticks(proc.pid) == frozen_at
    result = control.set_frozen(ref, False, audit_log)
    assert result.ok, result.message
    assert control.freeze_state(ref) == FreezeState.THAWED
    time.sleep(0.6)
    assert cpu_ticks(proc.pid) > frozen_at


def test_kill_empties_the_cgroup(tree: Sandbox, spawn: Spawn, audit_log: AuditLog) -> None:
    ref = tree.leaf("pids" if tree.version == 1 else "unified")
    procs = [_member(spawn, ref, audit_log, "import time\ntime.sleep(60)\n") for _ in range(3)]
    assert control.kill(ref, audit_log).ok
    assert pids_of(ref) == []
    assert [p.wait(timeout=10) for p in procs] == [-9, -9, -9]
    if tree.version == 2 and (Path(ref.directory) / "cgroup.kill").exists():
        assert any(e.file == "cgroup.kill" and e.ok for e in audit_log.entries())


def test_the_root_is_never_frozen_or_killed(tree: Sandbox, audit_log: AuditLog) -> None:
    ref = tree.leaf("freezer" if tree.version == 1 else "unified")
    root = CgroupRef(ref.hierarchy, "/")
    assert not control.kill(root, audit_log).ok
    with pytest.raises(ValueError, match="root cgroup cannot be frozen"):
        control.set_frozen(root, True, audit_log)


def test_effective_limit_comes_from_the_tightest_ancestor(
    tree: Sandbox, audit_log: AuditLog
) -> None:
    leaf = tree.leaf("memory")
    parent = leaf.parent()
    assert parent is not None
    file = "memory.limit_in_bytes" if tree.version == 1 else "memory.max"
    _set(parent, tree, audit_log, **{file.replace(".", "__"): "64M"})
    knob = knob_for(tree.version, file)
    assert knob is not None
    effective = effective_limit(leaf, knob)
    assert effective is not None
    assert (effective.value, effective.source, effective.own) == (64 << 20, parent.spec, False)
    assert effective.display == "64M"


def test_pids_effective_limit(tree: Sandbox, audit_log: AuditLog) -> None:
    leaf = tree.leaf("pids")
    parent = leaf.parent()
    assert parent is not None
    _set(parent, tree, audit_log, pids__max="50")
    _set(leaf, tree, audit_log, pids__max="80")
    knob = knob_for(tree.version, "pids.max")
    assert knob is not None
    effective = effective_limit(leaf, knob)
    assert effective is not None and effective.value == 50 and effective.source == parent.spec
