"""Detail text for processes, namespaces and cgroups, on the recorded host."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
import time
from pathlib import Path

import pytest

from nstui.cli.describe_cmd import describe_target
from nstui.kernel.cgroups.hierarchy import Cgroup, Hierarchy
from nstui.kernel.nstypes import NS_TYPES, NsId, NsType
from nstui.model.describe import (
    Description,
    Tone,
    describe_cgroup,
    describe_namespace,
    describe_process,
    human_bytes,
    human_duration,
    humanize_knob,
    render_text,
    uid_inside,
)
from nstui.model.glossary import CGROUP_TERMS, NAMESPACE_TERMS, cgroup_term
from nstui.model.snapshot import HostInfo, Snapshot


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    name = "nstui_tests_recorded"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "data" / "recorded.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    loaded: Snapshot = sys.modules[name].load_recorded_snapshot()
    return loaded


def rows(description: Description, section: str) -> dict[str, str]:
    found = description.section(section)
    assert found is not None, f"no section {section!r} in {[s.title for s in description.sections]}"
    return {row.label: row.value for row in found.rows}


def test_container_process(snap: Snapshot) -> None:
    d = describe_process(snap, 1252)  # an nginx worker in docker
    assert d.title == "1252 nginx" and d.subtitle.startswith("docker:")
    proc = rows(d, "Process")
    assert proc["parent"] == "1220 nginx"
    assert proc["user"] == "101"  # no passwd entry on the host: the number, as ps shows
    assert proc["state"] == "S (sleeping)"
    assert proc["NSpid"].startswith("1252 → 29")
    container = rows(d, "Container")
    assert container["runtime"] == "docker" and len(container["id"]) == 64
    ns = rows(d, "Namespaces")
    assert list(ns) == [t.value for t in NS_TYPES]
    assert "own · shared with 2 other processes" in ns["pid"]
    assert ns["user"].endswith("same as host") and ns["time"].endswith("same as host")
    tones = {r.label: r.tone for r in d.sections[2].rows}
    assert tones["net"] is Tone.HIGHLIGHT and tones["user"] is Tone.MUTED
    cg = rows(d, "Cgroups")
    assert set(cg) == {h.name for h in snap.hierarchies}
    assert cg["memory"].startswith("/docker/") and cg["name=systemd"] == cg["memory"]


def test_host_process_and_odd_threads(snap: Snapshot) -> None:
    d = describe_process(snap, 850)  # dockerd: one thread sits in nginx's net namespace
    assert rows(d, "Container")["unit"] == "docker.service"
    assert all(v.endswith("same as host") for v in rows(d, "Namespaces").values())
    odd = rows(d, "Threads in other namespaces")
    nginx_net = snap.processes[1220].ns[NsType.NET]
    assert odd == {"tid 862": str(nginx_net)}
    assert rows(d, "Process")["threads"] == "16"


def test_kernel_thread_zombie_and_gone(snap: Snapshot) -> None:
    kthread = rows(describe_process(snap, 2), "Process")
    assert kthread["command"] == "[kthreadd]" and kthread["parent"] == "0"
    zombie = rows(describe_process(snap, 2430), "Process")
    assert zombie["state"] == "Z (zombie)"
    gone = describe_process(snap, 99999)
    assert gone.subtitle == "not in this snapshot"
    assert rows(gone, "Process")["state"] == "gone"


def test_rootless_podman_namespaces(snap: Snapshot) -> None:
    d = describe_process(snap, 2360)
    assert d.subtitle == "podman:webapp"
    proc = rows(d, "Process")
    assert proc["user"] == "alice (1000)"
    assert proc["uid inside"] == "0  (root in its user namespace)"
    assert "uid inside" not in rows(describe_process(snap, 1252), "Process")
    nspawn_journal = rows(describe_process(snap, 1535), "Process")
    assert nspawn_journal["uid inside"].startswith("0 ")
    unmapped = dataclasses.replace(snap.processes[2360], uid=5)
    assert uid_inside(snap, unmapped) is None
    mapped = dataclasses.replace(snap.processes[2360], uid=100_007)
    assert uid_inside(snap, mapped) == 8
    user_ns = snap.processes[2360].ns[NsType.USER]
    ud = describe_namespace(snap, user_ns)
    info = rows(ud, "Namespace")
    assert info["host"] == "not the host's"
    assert info["owner"].startswith("user:[4026531837] (host), created by uid 1000 (alice)")
    assert info["parent"] == "user:[4026531837]"
    maps = ud.section("ID maps")
    assert maps is not None
    assert [(r.label, r.value) for r in maps.rows] == [
        ("uid map", "0 → 1000"),
        ("", "1-65536 → 100000-165535"),
        ("gid map", "0 → 1000"),
        ("", "1-65536 → 100000-165535"),
    ]


def test_net_namespace_interfaces_and_holders(snap: Snapshot) -> None:
    net = snap.processes[1220].ns[NsType.NET]
    d = describe_namespace(snap, net)
    assert d.title == f"net namespace {net.ino}" and d.subtitle.startswith("docker:")
    ifaces = rows(d, "Interfaces")
    assert set(ifaces) == {"lo", "eth0"}
    assert ifaces["eth0"].startswith("rx 286.5 MiB")
    held = rows(d, "Held by")
    assert held["bind mount"].startswith("/run/docker/netns/")
    members = rows(d, "Processes")
    assert list(members) == ["1220", "1252", "1253"]


def test_held_only_namespaces(snap: Snapshot) -> None:
    held = [ns for ns in snap.namespaces.values() if ns.held_only]
    texts = {render_text(describe_namespace(snap, ns.id)) for ns in held}
    assert any(
        "only by a bind mount" in t and "/run/netns/blue  (pid 1 systemd)" in t for t in texts
    )
    assert any(
        "only by an open fd" in t and "/proc/2410/fd/3  (pid 2410 netns-keeper)" in t for t in texts
    )
    for ns in held:
        assert rows(describe_namespace(snap, ns.id), "Processes") == {"": "no processes"}


def test_pid_uts_time_user_facts(snap: Snapshot) -> None:
    pid_ns = snap.processes[1510].ns[NsType.PID]
    pid_rows = rows(describe_namespace(snap, pid_ns), "Pid namespace")
    assert pid_rows == {"level": "1", "init": "1510 /sbin/init"}
    host_uts = snap.host.host_ns[NsType.UTS]
    assert rows(describe_namespace(snap, host_uts), "UTS") == {"hostname": "web-prod-01"}
    nginx_uts = snap.processes[1220].ns[NsType.UTS]
    assert rows(describe_namespace(snap, nginx_uts), "UTS")["hostname"].startswith("not read")
    host_time = snap.host.host_ns[NsType.TIME]
    assert rows(describe_namespace(snap, host_time), "Clock offsets") == {
        "boottime": "0 s 0 ns",
        "monotonic": "0 s 0 ns",
    }
    host_user = describe_namespace(snap, snap.host.host_ns[NsType.USER])
    assert rows(host_user, "Namespace")["parent"] == "none (top of the tree)"
    assert rows(host_user, "Namespace")["host"] == "the host's (initial) namespace"
    gone = describe_namespace(snap, NsId(NsType.NET, 4, 1))
    assert rows(gone, "Namespace")["state"] == "gone"


def test_time_offsets_of_a_new_time_namespace(snap: Snapshot) -> None:
    """`unshare --time --boottime 86400`: offsets are shown per clock, sorted."""
    host_time = snap.namespaces[snap.host.host_ns[NsType.TIME]]
    moved = NsId(NsType.TIME, 4, 4026532300)
    facts = dataclasses.replace(
        host_time.facts, time_offsets={"monotonic": (-5, 250), "boottime": (86400, 0)}
    )
    namespace = dataclasses.replace(host_time, id=moved, pids=(2420,), facts=facts)
    changed = dataclasses.replace(snap, namespaces={**snap.namespaces, moved: namespace})
    d = describe_namespace(changed, moved)
    assert rows(d, "Clock offsets") == {"boottime": "86400 s 0 ns", "monotonic": "-5 s 250 ns"}
    assert rows(d, "Namespace")["host"] == "not the host's"


def test_cgroup_with_usage(snap: Snapshot) -> None:
    memory = next(h.hid for h in snap.hierarchies if h.name == "memory")
    path = next(p for (hid, p) in snap.cgroups if hid == memory and p.startswith("/docker/"))
    usage = {
        "memory.limit_in_bytes": "536870912",
        "memory.usage_in_bytes": "12713984",
        "memory.memsw.limit_in_bytes": "9223372036854771712",
    }
    d = describe_cgroup(snap, memory, path, usage)
    assert d.title == f"memory:{path}" and d.subtitle.startswith("docker:")
    info = rows(d, "Cgroup")
    assert info["directory"] == f"/sys/fs/cgroup/memory{path}"
    assert info["controllers"] == "memory"
    assert info["processes"] == "3" and info["threads"] == "3"
    assert info["container"] == d.subtitle
    limits = rows(d, "Limits and usage")
    assert limits["memory.limit_in_bytes"] == "512.0 MiB (536870912)"
    assert limits["memory.usage_in_bytes"] == "12.1 MiB (12713984)"
    assert limits["memory.memsw.limit_in_bytes"] == "unlimited"
    assert len(rows(d, "Processes")) == 3


def test_usage_headline_first_members_dropped_long_values_cut(snap: Snapshot) -> None:
    memory = next(h.hid for h in snap.hierarchies if h.name == "memory")
    usage = {
        "memory.swappiness": "60",
        "cgroup.procs": "1220\n1252\n1253",
        "tasks": "1220\n1252\n1253",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\na 1\nb 2\nc 3",
        "memory.usage_in_bytes": "4096",
        "memory.limit_in_bytes": "8192",
    }
    d = describe_cgroup(snap, memory, "/system.slice/docker.service", usage)
    section = d.section("Limits and usage")
    assert section is not None
    assert [r.label for r in section.rows] == [
        "memory.limit_in_bytes",
        "memory.usage_in_bytes",
        "memory.swappiness",
        "memory.oom_control",
    ]
    assert [r.tone for r in section.rows] == [Tone.PLAIN, Tone.PLAIN, Tone.MUTED, Tone.MUTED]
    assert section.rows[-1].value == "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n… 3 more lines"
    text = render_text(d)
    assert "  memory.oom_control     oom_kill_disable 0\n" in text
    assert "\n                         under_oom 0\n" in text
    only_members = describe_cgroup(snap, memory, "/", {"cgroup.procs": "1"})
    assert rows(only_members, "Limits and usage") == {"": "no limit or usage files here"}


def test_cgroup_root_unified_and_unread_usage(snap: Snapshot) -> None:
    d = describe_cgroup(snap, 0, "/")
    info = rows(d, "Cgroup")
    assert info["hierarchy"] == "unified (cgroup v2, id 0)"
    assert info["enabled for children"] == "none"
    assert int(info["child cgroups"]) >= 4
    assert rows(d, "Limits and usage") == {"": "not read yet"}
    assert rows(describe_cgroup(snap, 0, "/", {}), "Limits and usage") == {
        "": "no limit or usage files here"
    }
    busy = rows(
        describe_cgroup(snap, 0, "/user.slice/user-1000.slice/session-3.scope"), "Processes"
    )
    assert "2290" in busy
    gone = describe_cgroup(snap, 4, "/nope")
    assert rows(gone, "Cgroup")["state"] == "gone"


def test_member_list_is_capped(snap: Snapshot) -> None:
    d = describe_namespace(snap, snap.host.host_ns[NsType.TIME])  # every process: 59
    members = d.section("Processes")
    assert members is not None
    assert len(members.rows) == 41
    assert members.rows[-1].value == f"and {len(snap.processes) - 40} more"


def test_render_text_aligns() -> None:
    from nstui.model.describe import Row, Section

    text = render_text(
        Description("x", "Title", "sub", (Section("S", (Row("a", "1"), Row("long", "2")), "n"),))
    )
    assert text == "Title  —  sub\n\nS\n  n\n  a     1\n  long  2\n"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("memory.max", "max", "unlimited (max)"),
        ("memory.current", "1536", "1.5 KiB (1536)"),
        ("cpu.max", "150000 100000", "1.50 CPUs (150000/100000 µs)"),
        ("cpu.max", "max 100000", "unlimited (period 100000 µs)"),
        ("cpu.cfs_quota_us", "-1", "unlimited (-1)"),
        ("cpuacct.usage", "2500000000", "2.50 s"),
        ("pids.max", "max", "unlimited (max)"),
        ("pids.current", "7", "7"),
        ("hugetlb.2MB.limit_in_bytes", "2097152", "2.0 MiB (2097152)"),
        ("cpuset.cpus", "0-1\n", "0-1"),
    ],
)
def test_humanize_knob(key: str, value: str, expected: str) -> None:
    assert humanize_knob(key, value) == expected


def test_human_units() -> None:
    assert human_bytes(0) == "0 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(8 << 30) == "8.0 GiB"
    assert human_duration(59) == "59s"
    assert human_duration(3 * 86400 + 5025) == "3d 1h"
    assert human_duration(-5) == "0s"


def test_glossary_covers_every_type_and_subsystem() -> None:
    assert set(NAMESPACE_TERMS) == set(NsType)
    for name in (
        "cpu",
        "cpuacct",
        "cpuset",
        "memory",
        "pids",
        "blkio",
        "io",
        "devices",
        "freezer",
        "net_cls",
        "net_prio",
        "hugetlb",
        "perf_event",
        "rdma",
        "misc",
    ):
        term = cgroup_term(name)
        assert term is not None and term.what and term.how and term.what != term.how
    for term in [*NAMESPACE_TERMS.values(), *CGROUP_TERMS.values()]:
        assert len(term.lines) == 2 and all(len(line) <= 96 for line in term.lines)


def test_describe_cli_without_the_cgroups_files_still_describes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cgroup whose directory cannot be opened safely (here: the mount is no cgroupfs, as
    when something is mounted over it) is described from the snapshot, with a note."""
    (tmp_path / "web").mkdir()
    hierarchy = Hierarchy(4, 1, ("memory",), str(tmp_path))
    host = HostInfo("test", os.uname().release, 0.0, 1, 0, 0, True)
    web = Cgroup(4, "/web", (), (), ("memory",))
    snapshot = Snapshot(time.time(), host, {}, {}, (hierarchy,), {(4, "/web"): web})
    description = describe_target(snapshot, "memory:/web")
    assert description is not None and "/web" in description.title
    assert "is not a cgroup filesystem: its files were not read" in capsys.readouterr().err
