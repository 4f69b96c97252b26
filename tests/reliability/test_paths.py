"""Cgroup paths from users cannot lead a write outside the cgroup mount.

Refused: a path with ``..``; a symlink pointing out of the mount; a directory replaced by a
symlink between the check and the use (the writer opens component by component from the
mount's fd with O_NOFOLLOW, then writes relative to the directory fd it holds); another
filesystem mounted over a cgroup directory. cgroupfs itself refuses symlinks, so the symlink
cases use a stand-in hierarchy in a temporary directory; the ``..`` and mounted-over cases run
on the real cgroup mounts too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from nstui.kernel.cgroups.audit import AuditLog
from nstui.kernel.cgroups.hierarchy import Hierarchy, discover_hierarchies
from nstui.kernel.cgroups.knobs import Validated, knob_for, validate
from nstui.kernel.cgroups.paths import CgroupDir, CgroupPathError, CgroupRef, parse_cgroup_spec
from nstui.kernel.cgroups.values import NoContext
from nstui.kernel.cgroups.writer import write_value

from .kobjects import MountTracker

LIMIT = "max\n"


def _stand_in(tmp_path: Path) -> tuple[Hierarchy, Path]:
    """A directory shaped like a v2 cgroup mount, and an 'outside' file to protect."""
    root = tmp_path / "cgroupfs"
    (root / "victim").mkdir(parents=True)
    for d in (root, root / "victim"):
        (d / "cgroup.procs").write_text("")
        (d / "memory.max").write_text(LIMIT)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "cgroup.procs").write_text("")
    (outside / "memory.max").write_text(LIMIT)
    h = Hierarchy(hid=0, version=2, controllers=("memory",), mountpoint=str(root), root="/")
    return h, outside


def _value() -> Validated:
    knob = knob_for(2, "memory.max")
    assert knob is not None
    return validate(knob, "512M", NoContext())


def test_dotdot_is_refused_in_every_form(tmp_path: Path) -> None:
    h, _ = _stand_in(tmp_path)
    for spec in ("/victim/../..", "unified:/../etc", "/../outside", "/victim/./../../outside"):
        with pytest.raises(CgroupPathError, match=r"\.\."):
            parse_cgroup_spec(spec, [h])
    with pytest.raises(CgroupPathError):
        CgroupRef(h, "/victim/../../outside").relative_parts()


def test_dotdot_on_the_real_mounts_and_through_the_cli() -> None:
    hierarchies = discover_hierarchies()
    for spec in ("pids:/../..", "/sys/fs/cgroup/pids/../memory", "memory:/a/../../b"):
        with pytest.raises(CgroupPathError):
            parse_cgroup_spec(spec, hierarchies)
    result = subprocess.run(
        [sys.executable, "-m", "nstui", "cg", "set", "pids:/../..", "pids.max=5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "'..' is not allowed" in result.stderr and "Traceback" not in result.stderr


def test_symlink_out_of_the_mount_is_refused(tmp_path: Path) -> None:
    h, outside = _stand_in(tmp_path)
    Path(h.mountpoint, "evil").symlink_to(outside)
    ref = parse_cgroup_spec("/evil", [h])  # the text is fine; the filesystem is not
    with pytest.raises(CgroupPathError, match="symlink"):
        CgroupDir(ref)
    audit = AuditLog(str(tmp_path / "audit.log"))
    with pytest.raises(CgroupPathError):
        write_value(ref, _value(), audit)
    assert (outside / "memory.max").read_text() == LIMIT


def test_knob_file_symlinked_out_is_not_followed(tmp_path: Path) -> None:
    h, outside = _stand_in(tmp_path)
    victim = Path(h.mountpoint, "victim")
    (victim / "memory.max").unlink()
    (victim / "memory.max").symlink_to(outside / "memory.max")
    result = write_value(
        CgroupRef(h, "/victim"),
        _value(),
        AuditLog(str(tmp_path / "audit.log")),
    )
    assert not result.ok
    assert (outside / "memory.max").read_text() == LIMIT


def test_directory_replaced_by_symlink_after_the_check(tmp_path: Path) -> None:
    h, outside = _stand_in(tmp_path)
    ref = parse_cgroup_spec("/victim", [h])  # checked while it is a real directory
    victim = Path(h.mountpoint, "victim")
    victim.rename(victim.with_name("victim.old"))
    victim.symlink_to(outside)
    with pytest.raises(CgroupPathError):
        write_value(ref, _value(), AuditLog(str(tmp_path / "audit.log")))
    assert (outside / "memory.max").read_text() == LIMIT


def test_swap_while_open_writes_to_the_directory_that_was_checked(tmp_path: Path) -> None:
    h, outside = _stand_in(tmp_path)
    victim = Path(h.mountpoint, "victim")
    with CgroupDir(CgroupRef(h, "/victim")) as directory:
        victim.rename(victim.with_name("victim.old"))
        victim.symlink_to(outside)
        fd = os.open("memory.max", os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW, dir_fd=directory.fd)
        os.write(fd, b"1\n")
        os.close(fd)
    assert (outside / "memory.max").read_text() == LIMIT
    assert victim.with_name("victim.old").joinpath("memory.max").read_text() == "1\n"


def test_racing_symlink_swaps_never_reach_outside(tmp_path: Path) -> None:
    """A thread flips the directory and a symlink to outside as fast as it can while the
    writer writes 300 times: no write ever lands outside."""
    h, outside = _stand_in(tmp_path)
    victim = Path(h.mountpoint, "victim")
    parked = victim.with_name("victim.real")
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            try:
                victim.rename(parked)
                victim.symlink_to(outside)
                victim.unlink()
                parked.rename(victim)
            except OSError:
                continue

    flipper = threading.Thread(target=flip)
    flipper.start()
    outcomes: dict[str, int] = {}
    audit = AuditLog(str(tmp_path / "audit.log"))
    try:
        for _ in range(300):
            try:
                result = write_value(CgroupRef(h, "/victim"), _value(), audit)
                key = "written" if result.ok else "refused by the kernel"
            except (CgroupPathError, OSError) as exc:
                key = type(exc).__name__
            outcomes[key] = outcomes.get(key, 0) + 1
    finally:
        stop.set()
        flipper.join()
    assert (outside / "memory.max").read_text() == LIMIT, outcomes
    assert sum(outcomes.values()) == 300


@pytest.mark.root
def test_filesystem_mounted_over_a_cgroup_is_refused(
    test_cgroup_parent: Callable[[str], Path], tmp_mount: MountTracker, tmp_path: Path
) -> None:
    parent = test_cgroup_parent("pids")
    child = parent / "child"
    child.mkdir()
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "pids.max").write_text("max\n")
    (decoy / "cgroup.procs").write_text("")
    tmp_mount.track(child)
    subprocess.run(["mount", "--bind", str(decoy), str(child)], check=True)
    ref = parse_cgroup_spec(f"pids:/{parent.name}/child", discover_hierarchies())
    with pytest.raises(CgroupPathError, match="another filesystem"):
        CgroupDir(ref)
    knob = knob_for(1, "pids.max")
    assert knob is not None
    with pytest.raises(CgroupPathError):
        write_value(ref, validate(knob, "5", NoContext()), AuditLog(str(tmp_path / "a.log")))
    assert (decoy / "pids.max").read_text() == "max\n"
