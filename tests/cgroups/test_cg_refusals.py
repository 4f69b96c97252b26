"""Bad input and kernel refusals: each gives a clear message and leaves the file unchanged; the
audit log records every attempted write (failed ones too), refuses changes it cannot record,
and undo restores."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from nstui.cli.main import main
from nstui.kernel.cgroups import control
from nstui.kernel.cgroups.audit import AuditLog
from nstui.kernel.cgroups.editor import NeedsConfirmation, apply_plan, plan_edit
from nstui.kernel.cgroups.knobs import knob_for, validate
from nstui.kernel.cgroups.paths import CgroupDir, CgroupRef
from nstui.kernel.cgroups.writer import write_value
from nstui.model.cgroup_actions import CgroupActionError, LiveCgroupActions

from .helpers import Sandbox, pids_of, python_child

pytestmark = pytest.mark.root

Spawn = Callable[..., "subprocess.Popen[bytes]"]


def _limit_file(version: int) -> str:
    return "memory.limit_in_bytes" if version == 1 else "memory.max"


def _read(ref: CgroupRef, file: str) -> str:
    return (Path(ref.directory) / file).read_text().strip()


def _attempts(log: AuditLog) -> int:
    return len(log.entries())


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "is not a size"),
        ("1.5.5G", "is not a size"),
        ("", "empty value"),
    ],
)
def test_bad_sizes_leave_the_limit_unchanged(
    tree: Sandbox,
    audit_log: AuditLog,
    capsys: pytest.CaptureFixture[str],
    value: str,
    reason: str,
) -> None:
    ref = tree.leaf("memory")
    file = _limit_file(tree.version)
    before = _read(ref, file)
    assert main(["cg", "set", ref.spec, f"{file}={value}"]) == 1
    err = capsys.readouterr().err
    assert reason in err and file in err and "nothing was written" in err
    assert _read(ref, file) == before
    assert _attempts(audit_log) == 0  # refused before any write: nothing attempted


def test_minus_one_is_refused_where_it_means_nothing(
    tree: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = tree.leaf("memory")
    file = "memory.swappiness" if tree.version == 1 else "memory.max"
    before = _read(ref, file)
    assert main(["cg", "set", ref.spec, f"{file}=-1"]) == 1
    assert "-1" in capsys.readouterr().err
    assert _read(ref, file) == before


def test_cpus_out_of_range_are_refused(tree: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    ref = tree.leaf("cpuset")
    before = _read(ref, "cpuset.cpus")
    assert main(["cg", "set", ref.spec, "cpuset.cpus=0-4095"]) == 1
    assert "not online" in capsys.readouterr().err
    assert _read(ref, "cpuset.cpus") == before


def test_one_bad_value_stops_the_whole_set(
    tree: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = tree.leaf("pids")
    before = _read(ref, "pids.max")
    assert main(["cg", "set", ref.spec, "pids.max=7", "pids.max=abc"]) == 1
    assert "abc" in capsys.readouterr().err
    assert _read(ref, "pids.max") == before


def test_path_with_dotdot_is_refused(tree: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    ref = tree.leaf("pids")
    escape = ref.directory + "/../../../../etc"
    assert main(["cg", "get", escape]) == 2
    assert "'..' is not allowed" in capsys.readouterr().err
    assert main(["cg", "set", "pids:/x/../../etc", "pids.max=5"]) == 2


def test_vanished_cgroup(tree: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    ref = tree.leaf("pids", name="short-lived")
    Path(ref.directory).rmdir()
    assert main(["cg", "set", ref.spec, "pids.max=5"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["cg", "get", ref.spec]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_a_filesystem_mounted_over_a_cgroup_is_refused_with_a_message(
    sandbox_v1: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """cg get and the limits pane's reader refuse to read through another filesystem; cg rm
    says why the kernel refuses (EBUSY)."""
    ref = sandbox_v1.leaf("pids", name="covered")
    subprocess.run(["mount", "-t", "tmpfs", "nstui-test", ref.directory], check=True)
    try:
        assert main(["cg", "get", ref.spec]) == 1
        assert "crosses into another filesystem" in capsys.readouterr().err
        with pytest.raises(CgroupActionError, match="crosses into another filesystem"):
            LiveCgroupActions().read(ref.hid, ref.path)
        assert main(["cg", "rm", ref.spec]) == 1
        assert "another filesystem is mounted on it" in capsys.readouterr().err
    finally:
        subprocess.run(["umount", ref.directory], check=True)


def test_knob_of_a_controller_not_attached(
    tree: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    if tree.version == 1:
        ref = tree.leaf("memory")
        knob = "cpu.max.burst"  # a v2-only file on a v1 hierarchy
        assert main(["cg", "set", ref.spec, f"{knob}=1000"]) == 1
        assert "not a cgroup v1 knob" in capsys.readouterr().err
        missing = [c for c in ("net_cls", "net_prio", "hugetlb", "blkio") if not tree.has(c)]
        if missing:
            file = {"net_cls": "net_cls.classid", "net_prio": "net_prio.ifpriomap"}.get(
                missing[0], f"{missing[0]}.weight"
            )
            assert main(["cg", "set", ref.spec, f"{file}=1"]) == 1
            assert "not mounted" in capsys.readouterr().err
        return
    leaf = tree.leaf("unified")
    inner = Path(leaf.directory) / "inner"  # the leaf enables nothing for its children
    inner.mkdir()
    child = tree.ref_of(inner)
    assert main(["cg", "set", child.spec, "pids.max=5"]) == 1
    err = capsys.readouterr().err
    assert "pids" in err and "not enabled here" in err


def test_v1_memory_limit_below_usage_is_refused_by_the_kernel(
    sandbox_v1: Sandbox, spawn: Spawn, audit_log: AuditLog
) -> None:
    ref = sandbox_v1.leaf("memory")
    holder = _holder(spawn, ref, audit_log, mib=48)
    before = _read(ref, "memory.limit_in_bytes")
    results = apply_plan(
        plan_edit(ref, [("memory.limit_in_bytes", "4M")], sandbox_v1.hierarchies), audit_log
    )
    assert not results[0].ok
    assert "EBUSY" in results[0].message and "memory.limit_in_bytes" in results[0].message
    assert "below current usage" in results[0].message
    assert _read(ref, "memory.limit_in_bytes") == before
    assert holder.poll() is None  # nothing was killed
    entry = audit_log.entries()[-1]
    assert entry.file == "memory.limit_in_bytes" and entry.result.startswith("error: EBUSY")


def _holder(spawn: Spawn, ref: CgroupRef, audit: AuditLog, mib: int) -> subprocess.Popen[bytes]:
    code = (
        f'b = b"\\x01" * ({mib} << 20)\nprint("ready", flush=True)\nimport time\ntime.sleep(60)\n'
    )
    proc = spawn(python_child(code), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert control.move(proc.pid, ref, audit).ok
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == b"ready\n"
    return proc


def test_v2_memory_limit_below_usage_needs_confirmation(
    sandbox_v2: Sandbox, spawn: Spawn, audit_log: AuditLog, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = sandbox_v2.leaf("memory")
    holder = _holder(spawn, ref, audit_log, mib=48)
    before = _read(ref, "memory.max")
    plan = plan_edit(ref, [("memory.max", "8M")], sandbox_v2.hierarchies)
    with pytest.raises(NeedsConfirmation, match="below current usage"):
        apply_plan(plan, audit_log)
    assert main(["cg", "set", ref.spec, "memory.max=8M"]) == 1
    assert "--force" in capsys.readouterr().err
    assert _read(ref, "memory.max") == before
    if (Path(ref.directory) / "memory.swap.max").exists():
        assert main(["cg", "set", ref.spec, "memory.swap.max=0"]) == 0
    assert main(["cg", "set", "--force", ref.spec, "memory.max=8M"]) == 0
    assert holder.wait(timeout=60) == -9  # the kernel took it and OOM-killed


def test_memsw_and_limit_are_written_in_a_working_order(
    sandbox_v1: Sandbox, audit_log: AuditLog
) -> None:
    ref = sandbox_v1.leaf("memory")
    if not (Path(ref.directory) / "memory.memsw.limit_in_bytes").exists():
        pytest.skip("no swap accounting (memory.memsw.*) on this kernel")
    for limit, memsw in (("100M", "100M"), ("200M", "300M"), ("50M", "60M")):
        # given limit first each time: nstui orders the pair itself
        plan = plan_edit(
            ref,
            [("memory.limit_in_bytes", limit), ("memory.memsw.limit_in_bytes", memsw)],
            sandbox_v1.hierarchies,
        )
        results = apply_plan(plan, audit_log)
        assert all(r.ok for r in results), [r.message for r in results]
    assert _read(ref, "memory.limit_in_bytes") == str(50 << 20)
    assert _read(ref, "memory.memsw.limit_in_bytes") == str(60 << 20)


def test_cpu_shares_shows_what_the_kernel_kept(sandbox_v1: Sandbox, audit_log: AuditLog) -> None:
    ref = sandbox_v1.leaf("cpu")
    results = apply_plan(plan_edit(ref, [("cpu.shares", "1")], sandbox_v1.hierarchies), audit_log)
    assert results[0].ok and results[0].after == "2"
    assert "kept 2" in results[0].message


def test_new_v1_cpuset_gets_the_parents_cpus(
    sandbox_v1: Sandbox, spawn: Spawn, audit_log: AuditLog, capsys: pytest.CaptureFixture[str]
) -> None:
    parent = sandbox_v1.ref_of(sandbox_v1.parent("cpuset"))
    empty = parent.child("empty")
    assert main(["cg", "mk", "--no-cpuset-copy", empty.spec]) == 0
    proc = spawn(["sleep", "60"])
    assert main(["cg", "move", str(proc.pid), empty.spec]) == 1
    assert "empty cpuset" in capsys.readouterr().err
    copied = parent.child("copied")
    assert main(["cg", "mk", copied.spec]) == 0
    assert _read(copied, "cpuset.cpus") == _read(parent, "cpuset.cpus")
    assert main(["cg", "move", str(proc.pid), copied.spec]) == 0
    assert proc.pid in pids_of(copied)


def test_no_internal_processes_rule_is_explained(
    sandbox_v2: Sandbox, spawn: Spawn, audit_log: AuditLog
) -> None:
    busy = sandbox_v2.leaf("memory", name="busy")
    proc = spawn(["sleep", "60"])
    assert control.move(proc.pid, busy, audit_log).ok
    result = control.set_subtree_control(busy, "memory", True, audit_log)
    assert not result.ok and "EBUSY" in result.message
    assert "no-internal-processes" in result.message
    inner = sandbox_v2.leaf("memory", name="inner-parent")
    (Path(inner.directory) / "child").mkdir()
    assert control.set_subtree_control(inner, "memory", True, audit_log).ok
    moved = control.move(proc.pid, inner, audit_log)
    assert not moved.ok and "no-internal-processes" in moved.message


def test_cgroup_procs_gets_one_pid_per_write(tree: Sandbox) -> None:
    knob = knob_for(tree.version, "cgroup.procs")
    assert knob is not None
    with pytest.raises(ValueError):
        validate(knob, "1 2", CgroupDirless())


class CgroupDirless:
    def read(self, name: str) -> str | None:
        return None

    def read_parent(self, name: str) -> str | None:
        return None


def test_audit_log_has_one_record_per_attempted_write(
    tree: Sandbox, audit_log: AuditLog, spawn: Spawn
) -> None:
    ref = tree.leaf("pids" if tree.version == 1 else "unified")
    file = "pids.max" if tree.has("pids") else "cgroup.max.depth"
    apply_plan(plan_edit(ref, [(file, "9")], tree.hierarchies), audit_log)
    refused = control.move(2, ref, audit_log)  # kthreadd: a kernel thread cannot move
    assert not refused.ok and "EINVAL" in refused.message and "cgroup.procs" in refused.message
    entries = audit_log.entries()
    assert [(e.file, e.ok) for e in entries] == [(file, True), ("cgroup.procs", False)]
    assert entries[0].before is not None and entries[0].after == "9"
    lines = Path(audit_log.path).read_text().splitlines()
    assert len(lines) == 2  # one line per attempted write, its outcome written in place


@pytest.mark.parametrize("log", ["/dev/full", "/proc/version/audit.log"])
def test_unwritable_audit_log_refuses_the_change(
    tree: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], log: str
) -> None:
    ref = tree.leaf("pids" if tree.version == 1 else "unified")
    file = "pids.max" if tree.has("pids") else "cgroup.max.depth"
    before = _read(ref, file)
    monkeypatch.setenv("NSTUI_AUDIT_LOG", log)
    assert main(["cg", "set", ref.spec, f"{file}=3"]) == 1
    assert "refusing to change anything unrecorded" in capsys.readouterr().err
    assert _read(ref, file) == before


def test_undo_restores_and_is_recorded(
    tree: Sandbox, audit_log: AuditLog, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = tree.leaf("pids" if tree.version == 1 else "unified")
    file = "pids.max" if tree.has("pids") else "cgroup.max.descendants"
    assert main(["cg", "set", ref.spec, f"{file}=5"]) == 0
    assert main(["cg", "set", ref.spec, f"{file}=9"]) == 0
    assert main(["cg", "undo"]) == 0
    assert _read(ref, file) == "5"
    first = audit_log.entries()[0]
    assert main(["cg", "undo", first.id]) == 0
    assert _read(ref, file) == "max"
    entries = audit_log.entries()
    assert [e.undo_of is not None for e in entries] == [False, False, True, True]
    capsys.readouterr()
    assert main(["cg", "history"]) == 0
    assert f"undo of {first.id}" in capsys.readouterr().out


def test_mk_rm_and_their_undo(tree: Sandbox, audit_log: AuditLog) -> None:
    parent = tree.leaf("pids" if tree.version == 1 else "unified")
    child = parent.child("made")
    assert main(["cg", "mk", child.spec]) == 0
    assert Path(child.directory).is_dir()
    assert main(["cg", "undo"]) == 0
    assert not Path(child.directory).exists()
    assert main(["cg", "rm", parent.spec]) == 0
    assert main(["cg", "undo"]) == 0
    assert Path(parent.directory).is_dir()


def test_writer_takes_only_validated_values(tree: Sandbox, audit_log: AuditLog) -> None:
    ref = tree.leaf("pids" if tree.version == 1 else "unified")
    with pytest.raises(TypeError):
        write_value(ref, "5", audit_log)  # type: ignore[arg-type]
    with CgroupDir(ref) as directory:
        assert directory.read("cgroup.procs") == ""
