"""Hierarchy discovery, walk and path safety, on the live host and on fake /proc trees."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nstui.kernel.cgroups.hierarchy import (
    Hierarchy,
    cgroup_mode,
    discover_hierarchies,
    read_proc_cgroups,
    resolve_cgroup_dir,
    sees_whole_trees,
    walk,
    walk_all,
)
from nstui.kernel.mountinfo import Mount, parse_mountinfo_line


def self_cgroup_lines(pid: int | str = "self") -> list[tuple[int, frozenset[str], str]]:
    out = []
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        hid, controllers, path = line.split(":", 2)
        out.append((int(hid), frozenset(controllers.split(",")) - {""}, path))
    return out


# --- live host ---------------------------------------------------------------------------


def test_discovery_matches_proc_self_cgroup() -> None:
    hierarchies = discover_hierarchies()
    by_hid = {h.hid: h for h in hierarchies}
    assert len(by_hid) == len(hierarchies), "a hierarchy listed twice"
    for hid, controllers, _path in self_cgroup_lines():
        if hid == 0:
            v2 = by_hid[0]
            assert v2.version == 2
            text = (Path(v2.mountpoint) / "cgroup.controllers").read_text()
            assert v2.controllers == tuple(text.split())
        else:
            assert hid in by_hid, f"hierarchy {hid} ({','.join(controllers)}) not discovered"
            assert by_hid[hid].version == 1
            assert frozenset(by_hid[hid].controllers) == controllers
    assert len(hierarchies) == len(self_cgroup_lines())


def test_proc_cgroups_read_whole() -> None:
    lines = [
        line
        for line in Path("/proc/cgroups").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    entries = read_proc_cgroups()
    assert [e.controller for e in entries] == [line.split()[0] for line in lines]
    for entry, line in zip(entries, lines, strict=True):
        assert (entry.hierarchy, entry.num_cgroups) == (int(line.split()[1]), int(line.split()[2]))


def test_mode_of_this_host_agrees_with_mountinfo() -> None:
    fstypes = {
        line.split(" - ")[1].split()[0]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
    }
    expected = {
        (True, True): "hybrid",
        (True, False): "legacy",
        (False, True): "unified",
        (False, False): "none",
    }[("cgroup" in fstypes, "cgroup2" in fstypes)]
    assert cgroup_mode() == expected


def test_walk_of_every_hierarchy_starts_at_its_root() -> None:
    for h in discover_hierarchies():
        cgroups = list(walk(h))
        assert cgroups[0].path == "/" and cgroups[0].parent_path is None
        assert all(c.hid == h.hid for c in cgroups)
        paths = [c.path for c in cgroups]
        assert len(paths) == len(set(paths))
        # parents before children
        seen: set[str] = set()
        for c in cgroups:
            assert c.parent_path is None or c.parent_path in seen, c.path
            seen.add(c.path)


def hierarchy_with(controller: str) -> Hierarchy:
    for h in discover_hierarchies():
        if controller in h.controllers and (h.version == 1 or controller == "unified"):
            return h
    pytest.skip(f"no v1 {controller} hierarchy mounted here")


def unified() -> Hierarchy:
    for h in discover_hierarchies():
        if h.version == 2:
            return h
    pytest.skip("no cgroup2 tree mounted here")


class TmpCgroup:
    """A cgroup under a per-test parent nstui-test-<uuid>; processes are killed by pid and
    the tree removed deepest first at teardown."""

    def __init__(self, h: Hierarchy) -> None:
        self.h = h
        self.name = f"nstui-test-{uuid.uuid4().hex[:12]}"
        self.dir = Path(h.mountpoint) / self.name
        self.procs: list[subprocess.Popen[bytes]] = []

    def sleeper_in(self, directory: Path) -> int:
        proc = subprocess.Popen(["sleep", "1000"])
        self.procs.append(proc)
        (directory / "cgroup.procs").write_text(f"{proc.pid}\n")
        return proc.pid

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait(timeout=10)
        if self.dir.exists():
            dirs = sorted(
                (Path(d) for d, _subdirs, _files in os.walk(self.dir)),
                key=lambda p: len(p.parts),
                reverse=True,
            )
            for d in dirs:
                d.rmdir()


@pytest.fixture
def pids_cgroup() -> Iterator[TmpCgroup]:
    cg = TmpCgroup(hierarchy_with("pids"))
    try:
        cg.dir.mkdir()
        yield cg
    finally:
        cg.close()


@pytest.fixture(params=["v1-pids", "v2"])
def member_cgroup(request: pytest.FixtureRequest) -> Iterator[TmpCgroup]:
    """A test cgroup in the v1 pids hierarchy, then in the v2 tree."""
    cg = TmpCgroup(hierarchy_with("pids") if request.param == "v1-pids" else unified())
    try:
        cg.dir.mkdir()
        yield cg
    finally:
        cg.close()


@pytest.fixture
def v2_cgroup() -> Iterator[TmpCgroup]:
    cg = TmpCgroup(unified())
    try:
        cg.dir.mkdir()
        yield cg
    finally:
        cg.close()


@pytest.mark.root
def test_walk_sees_a_test_cgroup_and_its_member(member_cgroup: TmpCgroup) -> None:
    pids_cgroup = member_cgroup
    pid = pids_cgroup.sleeper_in(pids_cgroup.dir)
    found = {c.path: c for c in walk(pids_cgroup.h)}
    mine = found[f"/{pids_cgroup.name}"]
    assert mine.pids == (pid,) and mine.tids == (pid,)
    if pids_cgroup.h.version == 1:
        assert mine.controllers == pids_cgroup.h.controllers
    else:
        text = (pids_cgroup.dir / "cgroup.controllers").read_text()
        assert mine.controllers == tuple(text.split())
    assert mine.parent_path == "/"
    # and /proc/PID/cgroup agrees on the path
    line = next(
        line
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        if line.startswith(f"{pids_cgroup.h.hid}:")
    )
    assert line.split(":", 2)[2] == mine.path
    assert resolve_cgroup_dir(pids_cgroup.h, mine.path) == str(pids_cgroup.dir)


@pytest.mark.root
def test_cgroup_removed_mid_walk_is_skipped(pids_cgroup: TmpCgroup) -> None:
    (pids_cgroup.dir / "a").mkdir()
    (pids_cgroup.dir / "b").mkdir()
    seen = []
    for cg in walk(pids_cgroup.h):
        seen.append(cg.path)
        if cg.path == f"/{pids_cgroup.name}/a":
            (pids_cgroup.dir / "b").rmdir()  # listed already, gone before it is read
    assert f"/{pids_cgroup.name}/a" in seen
    assert f"/{pids_cgroup.name}/b" not in seen


@pytest.mark.root
def test_v2_threaded_cgroup_and_controllers(v2_cgroup: TmpCgroup) -> None:
    parent = v2_cgroup.dir
    (parent / "t").mkdir()
    (parent / "t" / "cgroup.type").write_text("threaded\n")
    found = {c.path: c for c in walk(v2_cgroup.h)}
    threaded = found[f"/{v2_cgroup.name}/t"]
    assert threaded.threaded and threaded.pids == ()  # cgroup.procs: EOPNOTSUPP, normal
    # its parent became "domain threaded": the root of a threaded subtree counts as threaded
    assert (parent / "cgroup.type").read_text().strip() == "domain threaded"
    assert found[f"/{v2_cgroup.name}"].threaded
    mine = found[f"/{v2_cgroup.name}"]
    assert mine.controllers == tuple((parent / "cgroup.controllers").read_text().split())
    assert mine.subtree_control == tuple((parent / "cgroup.subtree_control").read_text().split())
    pid = v2_cgroup.sleeper_in(parent / "t")
    threaded = {c.path: c for c in walk(v2_cgroup.h)}[f"/{v2_cgroup.name}/t"]
    assert threaded.tids == (pid,)


# --- fake /proc and mount lists ----------------------------------------------------------


def mount(line: str) -> Mount:
    parsed = parse_mountinfo_line(line)
    assert parsed is not None
    return parsed


@pytest.fixture
def fake_proc(tmp_path: Path) -> Path:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "cgroups").write_text(
        "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
        "cpuset\t3\t1\t1\ncpu\t2\t5\t1\ncpuacct\t2\t5\t1\nmemory\t4\t9\t1\nhugetlb\t0\t1\t1\n"
    )
    (proc / "self" / "cgroup").write_text(
        "5:name=systemd:/user.slice\n4:memory:/x\n3:cpuset:/\n2:cpu,cpuacct:/\n0::/\n"
    )
    return proc


def test_discovery_from_mount_options(fake_proc: Path, tmp_path: Path) -> None:
    v2 = tmp_path / "unified"
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text("hugetlb pids\n")
    mounts = [
        mount("30 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755"),
        mount(
            "31 30 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup "
            "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd"
        ),
        mount("32 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct"),
        mount("33 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory"),
        # the same memory hierarchy again, a subtree (as a container runtime mounts it)
        mount("34 30 0:31 /x /mnt/mem rw - cgroup cgroup rw,memory"),
        mount("35 30 0:32 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,noprefix,cpuset"),
        mount(f"36 30 0:33 / {v2} rw - cgroup2 cgroup2 rw,nsdelegate"),
    ]
    found = discover_hierarchies(mounts, proc=str(fake_proc))
    assert [(h.hid, h.version, h.controllers, h.mountpoint, h.root) for h in found] == [
        (2, 1, ("cpu", "cpuacct"), "/sys/fs/cgroup/cpu,cpuacct", "/"),
        (3, 1, ("cpuset",), "/sys/fs/cgroup/cpuset", "/"),
        (4, 1, ("memory",), "/sys/fs/cgroup/memory", "/"),
        (5, 1, ("name=systemd",), "/sys/fs/cgroup/systemd", "/"),
        (0, 2, ("hugetlb", "pids"), str(v2), "/"),
    ]
    assert cgroup_mode(mounts) == "hybrid"
    assert cgroup_mode(mounts[:1] + mounts[-1:]) == "unified"
    assert cgroup_mode(mounts[:-1]) == "legacy"
    assert cgroup_mode(mounts[:1]) == "none"


def test_subtree_mount_maps_paths(fake_proc: Path) -> None:
    only_subtree = [mount("34 30 0:31 /x /mnt/mem rw - cgroup cgroup rw,memory")]
    (h,) = discover_hierarchies(only_subtree, proc=str(fake_proc))
    assert (h.hid, h.root) == (4, "/x")
    assert resolve_cgroup_dir(h, "/x/app") == "/mnt/mem/app"
    with pytest.raises(ValueError, match="outside"):
        resolve_cgroup_dir(h, "/y/app")


def test_resolve_rejects_escapes(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "out").symlink_to("/etc")
    h = Hierarchy(9, 1, ("pids",), str(root))
    assert resolve_cgroup_dir(h, "/") == str(root)
    assert resolve_cgroup_dir(h, "/a/b") == str(root / "a" / "b")
    assert resolve_cgroup_dir(h, "a/./b/") == str(root / "a" / "b")
    for bad in ("/a/../../etc", "..", "a/b/../..", "a/\0b"):
        with pytest.raises(ValueError):
            resolve_cgroup_dir(h, bad)
    with pytest.raises(ValueError, match="outside"):
        resolve_cgroup_dir(h, "/a/out")  # a symlink leading out of the mount


def test_walk_of_a_missing_mountpoint_is_empty(tmp_path: Path) -> None:
    assert list(walk(Hierarchy(9, 1, ("pids",), str(tmp_path / "gone")))) == []


def test_resolve_is_importable_without_textual() -> None:
    code = "import sys, nstui.kernel.cgroups.hierarchy; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.root
def test_walk_all_gives_each_top_what_reading_it_gives(member_cgroup: TmpCgroup) -> None:
    """walk_all reads one top cgroup's list and gives the others every other thread; the
    result matches reading each hierarchy whole (for the threads that stay put)."""
    pid = member_cgroup.sleeper_in(member_cgroup.dir)
    hierarchies = discover_hierarchies()
    assert sees_whole_trees()  # this host: the initial cgroup namespace
    derived = {(c.hid, c.path): c for c in walk_all(hierarchies)}
    read = {(c.hid, c.path): c for h in hierarchies for c in walk(h, procs=False)}
    assert derived.keys() == read.keys()
    me = os.getpid()
    paths = {hid: path for hid, _, path in self_cgroup_lines(pid)}
    assert paths[member_cgroup.h.hid] == f"/{member_cgroup.name}"
    for h in hierarchies:
        top_derived, top_read = derived[(h.hid, "/")], read[(h.hid, "/")]
        assert list(top_derived.tids) == sorted(top_derived.tids)
        for tid in (pid, me):
            assert (tid in top_derived.tids) == (tid in top_read.tids), (h, tid)
        assert (pid in top_derived.tids) == (paths[h.hid] == "/")
    mine = derived[(member_cgroup.h.hid, f"/{member_cgroup.name}")]
    assert mine.tids == (pid,) and mine.pids == ()


@pytest.mark.root
def test_a_cgroup_namespace_does_not_see_whole_trees() -> None:
    code = (
        "import sys; from nstui.kernel.cgroups.hierarchy import sees_whole_trees; "
        "sys.exit(0 if sees_whole_trees() else 3)"
    )
    done = subprocess.run(["unshare", "--cgroup", sys.executable, "-c", code], check=False)
    assert done.returncode == 3
