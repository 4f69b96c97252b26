"""Undo after making a v1 cpuset child: the child is made under a staging name whose cpus/mems
are copied from the parent (audited as steps of the mkdir), then renamed. Undo without an id
undoes the user's change — the mkdir as a whole — never one of its internal steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from nstui.cli.main import main
from nstui.kernel.cgroups.audit import AuditLog
from nstui.model.cgroup_actions import LiveCgroupActions

from .helpers import Sandbox

pytestmark = pytest.mark.root


def _staging_left(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".nstui-new-")]


def test_cli_undo_after_mk_of_a_cpuset_child_removes_the_child(
    sandbox_v1: Sandbox, audit_log: AuditLog, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox_v1.require("cpuset")
    parent = sandbox_v1.parent("cpuset")
    child = sandbox_v1.ref_of(parent).child("made")
    assert main(["cg", "mk", child.spec]) == 0
    made = parent / "made"
    for knob in ("cpuset.cpus", "cpuset.mems"):
        assert (made / knob).read_text() == (parent / knob).read_text()
    mkdir, *steps = audit_log.entries()
    assert (mkdir.file, mkdir.cgroup, mkdir.ok, mkdir.part_of) == (
        "(mkdir)",
        child.spec,
        True,
        None,
    )
    assert [(s.file, s.ok, s.part_of) for s in steps] == [
        ("cpuset.cpus", True, mkdir.id),
        ("cpuset.mems", True, mkdir.id),
    ]
    capsys.readouterr()
    assert main(["cg", "history"]) == 0
    assert capsys.readouterr().out.count(f"(step of {mkdir.id})") == 2

    assert main(["cg", "undo", steps[0].id]) == 1  # a step alone: refused, naming its change
    assert f"step of change {mkdir.id}" in capsys.readouterr().err
    assert made.is_dir()

    assert main(["cg", "undo"]) == 0
    assert not made.exists() and not _staging_left(parent)
    undo = audit_log.entries()[-1]
    assert (undo.file, undo.cgroup, undo.ok, undo.undo_of) == (
        "(rmdir)",
        child.spec,
        True,
        mkdir.id,
    )
    capsys.readouterr()
    assert main(["cg", "undo"]) == 1  # the mkdir is undone, its steps are not changes to undo
    assert "nothing to undo" in capsys.readouterr().err
    assert not made.exists()


def test_tui_undo_after_mk_of_a_cpuset_child_removes_the_child(
    sandbox_v1: Sandbox, audit_log: AuditLog
) -> None:
    sandbox_v1.require("cpuset")
    parent = sandbox_v1.parent("cpuset")
    ref = sandbox_v1.ref_of(parent)
    actions = LiveCgroupActions(audit_path=audit_log.path)
    made = actions.make_child(ref.hid, ref.path, "made")
    assert made.ok, made.message
    assert (parent / "made" / "cpuset.cpus").read_text() == (parent / "cpuset.cpus").read_text()
    undone = actions.undo_last()
    assert undone.ok, undone.message
    assert not (parent / "made").exists() and not _staging_left(parent)
    history = actions.history()
    assert [(e.file, e.part_of is not None) for e in history] == [
        ("(mkdir)", False),
        ("cpuset.cpus", True),
        ("cpuset.mems", True),
        ("(rmdir)", False),
    ]
    assert history[-1].undo_of == history[0].id
