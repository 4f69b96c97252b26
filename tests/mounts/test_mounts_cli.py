"""`nstui mounts`, `nstui overlay mount/umount` argument handling and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from reliability.kobjects import MountTracker

from nstui.kernel.aufs import aufs_available
from nstui.kernel.mountinfo import read_mountinfo
from nstui.kernel.overlay_build import lowerdir_plus_supported
from nstui.kernel.union_mounts import mount_at, mount_ns_of


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nstui", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_mounts_by_type_json() -> None:
    done = cli("mounts", "--type", "proc", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    own = str(mount_ns_of("self"))
    mine = [n for n in data["namespaces"] if n["ns"] == own]
    assert len(mine) == 1 and mine[0]["own"]
    assert mine[0]["mounts"] and {m["fstype"] for m in mine[0]["mounts"]} == {"proc"}
    assert any(m["target"] == "/proc" for m in mine[0]["mounts"])


def test_union_listing_says_when_aufs_is_missing() -> None:
    done = cli("mounts", "--union")
    assert done.returncode == 0, done.stderr
    if aufs_available():
        assert "aufs is not available" not in done.stdout
    else:
        assert "aufs is not available in this kernel" in done.stdout
    data = json.loads(cli("mounts", "--union", "--json").stdout)
    assert (data["aufs"] == "available") is aufs_available()


def test_bad_arguments_are_one_line_status_2() -> None:
    done = cli("overlay", "mount", "--lower", "/a", "--upper", "/u", "/t")
    assert done.returncode == 2
    assert done.stderr.strip() == "nstui overlay mount: --upper and --work go together"
    done = cli("overlay", "mount", "--lower", "/a", "--layers-here", "/t")
    assert done.returncode == 2 and "--layers-here goes with --in-pid" in done.stderr
    done = cli("overlay", "frobnicate")
    assert done.returncode == 2 and done.stderr.count("\n") == 1


@pytest.mark.root
def test_cli_mount_then_busy_then_lazy_umount(tmp_path: Path, tmp_mount: MountTracker) -> None:
    a, b = tmp_path / "a,1", tmp_path / "b:2"
    for d in (a, b):
        d.mkdir()
    target = tmp_mount.dir("m")
    done = cli("overlay", "mount", "--json", "--lower", str(a), "--lower", str(b), str(target))
    assert done.returncode == 0, done.stderr
    expected = "fsopen (lowerdir+)" if lowerdir_plus_supported() else "mount(2)"
    assert json.loads(done.stdout)["method"] == expected
    listed = json.loads(cli("mounts", "--union", "--json").stdout)
    own = str(mount_ns_of("self"))
    unions = [u for n in listed["namespaces"] if n["ns"] == own for u in n["unions"]]
    mine = [u for u in unions if u["target"] == str(target)]
    assert [lw["path"] for lw in mine[0]["lowers"]] == [str(a), str(b)]
    assert mine[0]["upper"] is None
    assert mine[0]["lowerdir_plus"] is lowerdir_plus_supported()
    not_union = cli("overlay", "umount", str(tmp_path))
    assert not_union.returncode == 1 and "not a mount point" in not_union.stderr
    fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)  # keeps the mount busy
    try:
        busy = cli("overlay", "umount", str(target))
        assert busy.returncode == 1 and "busy" in busy.stderr and "lazily" in busy.stderr
        assert mount_at(read_mountinfo(), str(target)) is not None
        done = cli("overlay", "umount", "--lazy", str(target))
        assert done.returncode == 0 and "detached (lazy)" in done.stdout
        assert mount_at(read_mountinfo(), str(target)) is None
    finally:
        os.close(fd)


@pytest.mark.root
def test_without_root_listing_works_and_changes_say_why(tmp_path: Path) -> None:
    """As nobody (util-linux setpriv): the listing still works and says what it could not
    read; mount and umount refuse with the reason, nothing is mounted."""
    (tmp_path / "a").mkdir()
    nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

    # an audit log nobody can write (pytest's tmp dirs are root's, 0700)
    shared = tempfile.TemporaryDirectory(prefix="nstui-test-audit-", dir="/tmp")
    os.chmod(shared.name, 0o1777)
    env = {**os.environ, "NSTUI_AUDIT_LOG": os.path.join(shared.name, "audit.log")}

    def as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*nobody, sys.executable, "-m", "nstui", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env=env,
        )

    listing = as_nobody("mounts", "--union")
    assert listing.returncode == 0, listing.stderr
    assert "could not be read (permission denied" in listing.stdout
    mount = as_nobody("overlay", "mount", "--lower", str(tmp_path / "a"), "--lower")
    assert mount.returncode == 2  # --lower needs a value: usage error first
    # pytest's tmp dirs are root's (0700): take world-readable dirs; nothing can be mounted
    mount = as_nobody("overlay", "mount", "--lower", "/usr", "--lower", "/etc", "/mnt")
    assert mount.returncode == 1 and "needs CAP_SYS_ADMIN" in mount.stderr
    assert mount_at(read_mountinfo(), "/mnt") is None
    lower = str(tmp_path / "a")
    hidden = as_nobody("overlay", "mount", "--lower", lower, "--lower", "/etc", "/mnt")
    assert hidden.returncode == 1 and "lower 1" in hidden.stderr
    assert "Permission denied" in hidden.stderr
    shared.cleanup()
