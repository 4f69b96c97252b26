"""aufs: recorded mountinfo lines and a recorded /sys/fs/aufs tree; this kernel lacks aufs."""

from __future__ import annotations

from pathlib import Path

from nstui.kernel.aufs import aufs_absent_reason, aufs_available, aufs_from_mount
from nstui.kernel.layers import change_set, list_merged, stack_from_aufs
from nstui.kernel.mountinfo import parse_mountinfo_line

# As docker's aufs driver left them (Ubuntu 16.04, aufs 4.x).
SI_LINE = (
    "203 27 0:48 / /var/lib/docker/aufs/mnt/3f5c rw,relatime - aufs none "
    "rw,si=cd4b5b6b2c5e6e5b,dio,dirperm1"
)
INLINE_LINE = "204 27 0:49 / /mnt/u rw,relatime - aufs none rw,br:/b/rw=rw:/b/ro\\0401=ro+wh"


def _record_si(root: Path) -> Path:
    si = root / "si_cd4b5b6b2c5e6e5b"
    si.mkdir(parents=True)
    (si / "br0").write_text("/var/lib/docker/aufs/diff/3f5c=rw\n")
    (si / "br1").write_text("/var/lib/docker/aufs/diff/3f5c-init=ro+wh\n")
    (si / "br2").write_text("/var/lib/docker/aufs/diff/9a1b=ro+wh\n")
    for i, brid in enumerate((64, 65, 66)):
        (si / f"brid{i}").write_text(f"{brid}\n")
    (si / "xi_path").write_text("/dev/shm/.xino\n")
    return root


def test_branches_from_sysfs(tmp_path: Path) -> None:
    sysfs = _record_si(tmp_path / "aufs")
    mount = parse_mountinfo_line(SI_LINE)
    assert mount is not None
    aufs = aufs_from_mount(mount, str(sysfs))
    assert aufs is not None and aufs.si == "cd4b5b6b2c5e6e5b" and aufs.note is None
    assert [(b.index, b.path, b.perm, b.brid) for b in aufs.branches] == [
        (0, "/var/lib/docker/aufs/diff/3f5c", "rw", 64),
        (1, "/var/lib/docker/aufs/diff/3f5c-init", "ro+wh", 65),
        (2, "/var/lib/docker/aufs/diff/9a1b", "ro+wh", 66),
    ]
    assert [b.writable for b in aufs.branches] == [True, False, False]


def test_missing_sysfs_is_a_note(tmp_path: Path) -> None:
    mount = parse_mountinfo_line(SI_LINE)
    assert mount is not None
    aufs = aufs_from_mount(mount, str(tmp_path / "nothing"))
    assert aufs is not None and aufs.branches == ()
    assert aufs.note is not None and "si_cd4b5b6b2c5e6e5b" in aufs.note


def test_inline_branches() -> None:
    mount = parse_mountinfo_line(INLINE_LINE)
    assert mount is not None
    aufs = aufs_from_mount(mount)
    assert aufs is not None
    assert [(b.path, b.perm) for b in aufs.branches] == [("/b/rw", "rw"), ("/b/ro 1", "ro+wh")]


def test_this_kernel_has_no_aufs() -> None:
    with open("/proc/filesystems", encoding="utf-8") as f:
        listed = "aufs" in f.read().split()
    assert aufs_available() is listed
    reason = aufs_absent_reason()
    if listed:
        assert reason is None
    else:
        assert reason is not None and "/proc/filesystems" in reason


def test_aufs_whiteouts_and_opaque_dirs(tmp_path: Path) -> None:
    """An aufs branch tree as recorded: .wh. files delete, .wh..wh..opq makes opaque."""
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    for d in (rw / "etc", ro / "etc", ro / "var" / "log", rw / "var"):
        d.mkdir(parents=True)
    (ro / "etc" / "passwd").write_text("root\n")
    (ro / "etc" / "motd").write_text("hi\n")
    (ro / "var" / "log" / "old").write_text("x\n")
    (rw / "etc" / "passwd").write_text("root\nuser\n")  # copied up and changed
    (rw / "etc" / ".wh.motd").write_text("")  # deleted
    (rw / "var" / ".wh..wh..opq").write_text("")  # var replaced
    (rw / "var" / "new").write_text("n\n")
    (rw / ".wh..wh.aufs").write_text("")  # aufs bookkeeping, not user data
    line = f"205 27 0:50 / /mnt/a rw - aufs none rw,br:{rw}=rw:{ro}=ro+wh"
    mount = parse_mountinfo_line(line)
    assert mount is not None
    aufs = aufs_from_mount(mount)
    assert aufs is not None
    stack = stack_from_aufs(aufs)
    assert [layer.name for layer in stack.layers] == ["upper", "lower 1"]
    changes = change_set(stack)
    assert {(c.kind, c.path) for c in changes.changes} == {
        ("modified", "etc/passwd"),
        ("deleted", "etc/motd"),
        ("opaque", "var"),
        ("added", "var/new"),
    }
    etc = {e.name: e for e in list_merged(stack, "etc")}
    assert etc["motd"].whiteout and [x.name for x in etc["motd"].hides] == ["lower 1"]
    assert etc["passwd"].layer.name == "upper"
    assert [e.name for e in list_merged(stack, "var")] == ["new"]
