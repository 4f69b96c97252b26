"""Cgroup paths from users: cgroup-tools syntax, directories, and everything unsafe refused.

The symlink and device checks run on a stand-in tree in tmp_path because cgroupfs itself
cannot hold symlinks: what is tested is CgroupDir's O_NOFOLLOW walk from the mount's fd.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nstui.kernel.cgroups.hierarchy import Hierarchy
from nstui.kernel.cgroups.paths import (
    CgroupDir,
    CgroupGone,
    CgroupPathError,
    CgroupRef,
    check_child_name,
    parse_cgroup_spec,
)

HYBRID = (
    Hierarchy(4, 1, ("memory",), "/sys/fs/cgroup/memory"),
    Hierarchy(1, 1, ("cpu", "cpuacct"), "/sys/fs/cgroup/cpu,cpuacct"),
    Hierarchy(0, 2, ("hugetlb",), "/sys/fs/cgroup/unified"),
)


@pytest.mark.parametrize(
    ("spec", "hid", "path"),
    [
        ("memory:/web", 4, "/web"),
        ("memory:web/a", 4, "/web/a"),
        ("cpuacct:/x", 1, "/x"),
        ("cpu,cpuacct:/x", 1, "/x"),
        ("/web", 0, "/web"),
        ("/sys/fs/cgroup/memory/web", 4, "/web"),
        ("/sys/fs/cgroup/memory", 4, "/"),
        ("/sys/fs/cgroup/unified/a/b", 0, "/a/b"),
        ("hugetlb:/h", 0, "/h"),
    ],
)
def test_specs_resolve(spec: str, hid: int, path: str) -> None:
    ref = parse_cgroup_spec(spec, HYBRID)
    assert (ref.hid, ref.path) == (hid, path)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("memory:/../etc", r"'\.\.' is not allowed"),
        ("/sys/fs/cgroup/memory/../../../etc", r"'\.\.' is not allowed"),
        ("/web/..", r"'\.\.' is not allowed"),
        ("net_cls:/x", "no mounted hierarchy has controller 'net_cls'"),
        ("", "empty"),
        ("memory:/a\0b", "NUL"),
        ("0\r/", "control character"),
        ("memory:/a\tb", "control character"),
    ],
)
def test_unsafe_or_unknown_specs_are_refused(spec: str, reason: str) -> None:
    with pytest.raises(CgroupPathError, match=reason):
        parse_cgroup_spec(spec, HYBRID)


def test_child_names() -> None:
    assert check_child_name("web-1") == "web-1"
    for bad in ("", ".", "..", "a/b", "x\ny"):
        with pytest.raises(CgroupPathError):
            check_child_name(bad)


def _fake_mount(tmp_path: Path) -> Hierarchy:
    root = tmp_path / "mnt"
    (root / "real" / "inner").mkdir(parents=True)
    (root / "cgroup.procs").write_text("")
    (root / "real" / "memory.max").write_text("max\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "memory.max").write_text("secret\n")
    os.symlink(outside, root / "evil")
    os.symlink(root / "real", root / "alias")
    return Hierarchy(0, 2, ("memory",), str(root))


def test_symlinked_directories_are_refused(tmp_path: Path) -> None:
    h = _fake_mount(tmp_path)
    with CgroupDir(CgroupRef(h, "/real")) as directory:
        assert directory.read("memory.max") == "max\n"
    for path in ("/evil", "/alias", "/alias/inner"):
        with pytest.raises(CgroupPathError, match="symlink"):
            CgroupDir(CgroupRef(h, path))


def test_a_directory_swapped_for_a_symlink_after_the_check_is_refused(tmp_path: Path) -> None:
    h = _fake_mount(tmp_path)
    ref = parse_cgroup_spec(str(Path(h.mountpoint) / "real"), (h,))
    real = Path(h.mountpoint) / "real"
    real.rename(Path(h.mountpoint) / "moved")
    os.symlink(tmp_path / "outside", real)  # the check passed; the use must still refuse
    with pytest.raises(CgroupPathError):
        CgroupDir(ref)


def test_files_are_opened_without_following_symlinks(tmp_path: Path) -> None:
    h = _fake_mount(tmp_path)
    os.symlink(tmp_path / "outside" / "memory.max", Path(h.mountpoint) / "real" / "memory.high")
    with CgroupDir(CgroupRef(h, "/real")) as directory:
        assert directory.read("memory.high") is None
        with pytest.raises(OSError):
            directory.read_raw("memory.high")


def test_missing_cgroup_is_gone(tmp_path: Path) -> None:
    h = _fake_mount(tmp_path)
    with pytest.raises(CgroupGone, match="does not exist"):
        CgroupDir(CgroupRef(h, "/nope"))


def test_a_mount_that_is_no_cgroupfs_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    h = Hierarchy(0, 2, ("memory",), str(tmp_path / "plain"))
    with pytest.raises(CgroupPathError, match="not a cgroup filesystem"):
        CgroupDir(CgroupRef(h, "/"))


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(
    spec=st.one_of(
        st.text(max_size=40),
        st.builds(
            lambda a, b: f"{a}:{b}",
            st.sampled_from(["memory", "cpu", "cpuacct", "hugetlb", "x"]),
            st.text(alphabet="/.ab\0-", max_size=20),
        ),
        st.builds(lambda b: "/sys/fs/cgroup/memory" + b, st.text(alphabet="/.ab", max_size=20)),
    )
)
def test_any_spec_resolves_inside_a_mount_or_is_refused(spec: str) -> None:
    try:
        ref = parse_cgroup_spec(spec, HYBRID)
    except CgroupPathError as exc:
        assert str(exc)
        return
    directory = ref.directory
    mount = ref.hierarchy.mountpoint
    assert directory == mount or directory.startswith(mount + "/")
    assert ".." not in directory.split("/")
