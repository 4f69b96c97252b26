"""Real overlay mounts under tmp_path (unmounted by the tmp_mount fixture, lazily if busy):
tricky layer names, both mount APIs, long stacks, and the checks made before mounting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from reliability.kobjects import MountTracker, Spawner

from nstui.kernel.layers import resolve, stack_from_overlay
from nstui.kernel.mountinfo import read_mountinfo
from nstui.kernel.overlay import overlay_from_mount
from nstui.kernel.overlay_build import (
    MOUNT_DATA_MAX,
    OverlayError,
    OverlaySpec,
    legacy_mount_data,
    lowerdir_plus_supported,
    mount_overlay,
    parse_options,
    umount_overlay,
)
from nstui.kernel.union_mounts import mount_at

pytestmark = pytest.mark.root

TRICKY = ("lower one", "lower,two", "lower:three")


def _mounted(target: Path) -> bool:
    return mount_at(read_mountinfo(), str(target)) is not None


def _layers(tmp_path: Path, names: tuple[str, ...]) -> list[Path]:
    out = []
    for name in names:
        d = tmp_path / name
        d.mkdir()
        out.append(d)
    return out


@pytest.mark.parametrize("prefer", ["new", "legacy"])
def test_three_tricky_lowers(tmp_path: Path, tmp_mount: MountTracker, prefer: str) -> None:
    lowers = _layers(tmp_path, TRICKY)
    (lowers[0] / "top").write_text("from lower one\n")
    (lowers[1] / "top").write_text("hidden by lower one\n")
    (lowers[1] / "mid").write_text("from lower,two\n")
    (lowers[2] / "mid").write_text("hidden by lower,two\n")
    (lowers[2] / "bottom").write_text("from lower:three\n")
    target = tmp_mount.dir("merged")
    spec = OverlaySpec(lowers=tuple(str(p) for p in lowers), target=str(target))
    if prefer == "new" and not lowerdir_plus_supported():  # kernels before 6.8
        with pytest.raises(OverlayError, match="lacks the new mount API's lowerdir"):
            mount_overlay(spec, prefer=prefer)
        assert not _mounted(target)
        return
    result = mount_overlay(spec, prefer=prefer)
    assert result.method == ("fsopen (lowerdir+)" if prefer == "new" else "mount(2)")
    mount = mount_at(read_mountinfo(), str(target))
    assert mount is not None
    ovl = overlay_from_mount(mount)
    assert ovl is not None
    assert ovl.lowers == tuple(str(p) for p in lowers)  # top first, as given
    assert ovl.options.lowerdir_plus is (prefer == "new")
    # the kernel's merged view and nstui's resolution agree, layer by layer
    assert (target / "top").read_text() == "from lower one\n"
    assert (target / "mid").read_text() == "from lower,two\n"
    assert (target / "bottom").read_text() == "from lower:three\n"
    stack = stack_from_overlay(ovl)
    origin = {name: resolve(stack, name) for name in ("top", "mid", "bottom")}
    assert {n: e.layer.name for n, e in origin.items() if e} == {
        "top": "lower 1",
        "mid": "lower 2",
        "bottom": "lower 3",
    }
    top = origin["top"]
    assert top is not None and [x.name for x in top.hides] == ["lower 2"]
    umount_overlay(str(target))
    assert not _mounted(target)


def test_backslash_in_upper_and_work(tmp_path: Path, tmp_mount: MountTracker) -> None:
    """upperdir/workdir are unescaped by the kernel even through fsconfig: nstui escapes."""
    lower = _layers(tmp_path, ("lo\\wer",))[0]
    lower2 = _layers(tmp_path, ("l2",))[0]
    upper, work = _layers(tmp_path, ("up\\per,x", "wo:rk"))
    target = tmp_mount.dir("m")
    mount_overlay(
        OverlaySpec(
            lowers=(str(lower), str(lower2)), target=str(target), upper=str(upper), work=str(work)
        )
    )
    (target / "new").write_text("x")
    assert (upper / "new").read_text() == "x"
    mount = mount_at(read_mountinfo(), str(target))
    assert mount is not None
    ovl = overlay_from_mount(mount)
    assert ovl is not None and ovl.upper == str(upper) and ovl.work == str(work)
    assert ovl.lowers == (str(lower), str(lower2))


def test_long_stack_needs_lowerdir_plus(tmp_path: Path, tmp_mount: MountTracker) -> None:
    names = tuple(f"layer-{i:02d}-" + "x" * 70 for i in range(60))
    lowers = _layers(tmp_path, names)
    for i, d in enumerate(lowers):
        (d / f"f{i}").write_text(str(i))
    (lowers[-1] / "f0").write_text("hidden")
    target = tmp_mount.dir("merged")
    spec = OverlaySpec(lowers=tuple(str(p) for p in lowers), target=str(target))
    with pytest.raises(OverlayError, match="4096"):
        legacy_mount_data(spec, ())
    assert len(",".join(str(p) for p in lowers)) > MOUNT_DATA_MAX
    if not lowerdir_plus_supported():  # kernels before 6.8: refused, never cut silently
        with pytest.raises(OverlayError, match="4096"):
            mount_overlay(spec)
        assert not _mounted(target)
        return
    result = mount_overlay(spec)
    assert result.method == "fsopen (lowerdir+)"
    mount = mount_at(read_mountinfo(), str(target))
    assert mount is not None
    ovl = overlay_from_mount(mount)
    assert ovl is not None and ovl.lowers == spec.lowers
    assert sorted(os.listdir(target)) == sorted(f"f{i}" for i in range(60))
    assert (target / "f0").read_text() == "0"
    with pytest.raises(OverlayError, match="4096"):
        mount_overlay(spec, prefer="legacy")  # refused, never cut silently


def test_umount_busy_then_lazy(tmp_path: Path, tmp_mount: MountTracker, spawn: Spawner) -> None:
    lowers = _layers(tmp_path, ("a", "b"))
    target = tmp_mount.dir("m")
    mount_overlay(OverlaySpec(lowers=tuple(map(str, lowers)), target=str(target)))
    holder = spawn(["sleep", "60"], cwd=str(target))
    from nstui.kernel.mount_users import processes_using

    mount = mount_at(read_mountinfo(), str(target))
    assert mount is not None
    users = processes_using(mount.major, mount.minor, [holder.pid])
    assert [(u.pid, u.how) for u in users] == [(holder.pid, ("cwd",))]
    with pytest.raises(OverlayError, match="busy"):
        umount_overlay(str(target))
    assert _mounted(target)
    umount_overlay(str(target), lazy=True)
    assert not _mounted(target)


def _bad(spec: OverlaySpec, match: str) -> None:
    with pytest.raises(OverlayError, match=match):
        mount_overlay(spec)
    assert not _mounted(Path(spec.target))


def test_refusals_leave_nothing_mounted(tmp_path: Path, tmp_mount: MountTracker) -> None:
    a, b, upper, work = _layers(tmp_path, ("a", "b", "upper", "work"))
    target = tmp_mount.dir("m")
    t = str(target)
    _bad(OverlaySpec(lowers=(str(a), str(tmp_path / "missing")), target=t), "lower 2 .*missing")
    _bad(OverlaySpec(lowers=(str(a),), target=t), "at least 2 lower layers")
    afile = tmp_path / "file"
    afile.write_text("")
    _bad(OverlaySpec(lowers=(str(a), str(b)), target=str(afile)), "target .*not a directory")
    _bad(OverlaySpec(lowers=(str(a), str(b)), target=str(tmp_path / "nope")), "target")
    (work / "junk").write_text("")
    _bad(OverlaySpec((str(a),), t, str(upper), str(work)), "work .* not empty")
    (work / "junk").unlink()
    inner = a / "w"
    inner.mkdir()
    _bad(OverlaySpec((str(a),), t, str(upper), str(inner)), "must not be inside lower 1")
    _bad(OverlaySpec((str(a),), t, str(upper), None), "needs a work dir")
    _bad(OverlaySpec((str(a), str(b)), t, options=("bogus=1",)), "unknown overlay option")
    _bad(OverlaySpec((str(a), str(b)), t, options=("volatile",)), "volatile needs an upper")
    assert parse_options(["index=on,metacopy=on", "volatile"]) == (
        ("index", "on"),
        ("metacopy", "on"),
        ("volatile", None),
    )


def test_work_on_another_filesystem(tmp_path: Path, tmp_mount: MountTracker) -> None:
    from nstui.kernel import syscalls

    a, upper = _layers(tmp_path, ("a", "upper"))
    other = tmp_mount.dir("tmpfs")
    syscalls.mount("tmpfs", str(other), "tmpfs", 0, "size=1m")
    work = other / "work"
    work.mkdir()
    target = tmp_mount.dir("m")
    _bad(OverlaySpec((str(a),), str(target), str(upper), str(work)), "another filesystem")


def test_cli_refusal_is_one_line_and_status_1(tmp_path: Path, tmp_mount: MountTracker) -> None:
    a = _layers(tmp_path, ("a",))[0]
    target = tmp_mount.dir("m")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nstui",
            "overlay",
            "mount",
            "--lower",
            str(a),
            "--lower",
            str(tmp_path / "gone"),
            str(target),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "lower 2" in done.stderr and "no such directory" in done.stderr
    assert not _mounted(target)


def test_mounts_are_audited_and_refused_when_unrecorded(
    tmp_path: Path, tmp_mount: MountTracker
) -> None:
    import json

    from nstui.model.mount_actions import LiveMountActions

    a, b = _layers(tmp_path, ("a", "b"))
    target = tmp_mount.dir("m")
    actions = LiveMountActions()
    log = actions.audit_location
    assert log is not None and log.endswith("mounts.log") and "/var/log" not in log
    spec = OverlaySpec((str(a), str(b)), str(target))
    assert actions.mount_overlay(spec).ok
    assert actions.umount(str(target)).ok
    with open(log, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    attempts = records  # one line per attempted change, its outcome (after, result) in it
    results = {r["id"]: r for r in records}
    assert [r["file"] for r in attempts] == ["(mount overlay)", "(umount)"]
    mount, umount = attempts
    assert mount["before"] is None and str(target) in results[mount["id"]]["after"]
    assert "overlay" in umount["before"] and results[umount["id"]]["after"] is None
    assert all(results[r["id"]]["result"] == "ok" for r in attempts)
    assert mount["typed"].startswith("nstui overlay mount --lower")

    blocked = tmp_path / "blocked"
    blocked.write_text("")  # a file where the log's directory should be
    refused = LiveMountActions(audit_path=str(blocked / "audit.log")).mount_overlay(spec)
    assert not refused.ok and "audit log" in refused.message
    assert not _mounted(target)
