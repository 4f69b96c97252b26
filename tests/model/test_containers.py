"""Container labels from recorded cgroup paths and process trees of each runtime."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from nstui.kernel.cgroups.hierarchy import Hierarchy
from nstui.kernel.namespaces import HolderKind, Namespace, NsFacts, NsHolder
from nstui.kernel.nstypes import NsId, NsType
from nstui.kernel.procfs import Process
from nstui.model.containers import (
    RUNTIMES,
    ContainerLabel,
    container_labels,
    label_for_cgroup_path,
    label_for_namespace,
    label_for_process,
    monitor_label,
    short_id,
)
from nstui.model.snapshot import HostInfo, Snapshot

DOCKER_ID = "3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e"
OTHER_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
POD_UID = "8a7f1c2e-4b3d-4e5f-9a8b-7c6d5e4f3a2b"


def _label(runtime: str, ident: str, pod: str | None = None) -> ContainerLabel:
    return ContainerLabel(runtime, short_id(ident), ident, pod)


PATHS: list[tuple[str, ContainerLabel | None]] = [
    # docker, cgroupfs driver (v1 default) and systemd driver
    (f"/docker/{DOCKER_ID}", _label("docker", DOCKER_ID)),
    (f"/system.slice/docker-{DOCKER_ID}.scope", _label("docker", DOCKER_ID)),
    (f"/system.slice/docker-{DOCKER_ID}.scope/init.scope", _label("docker", DOCKER_ID)),
    # docker in docker: the innermost container
    (f"/docker/{OTHER_ID}/docker/{DOCKER_ID}", _label("docker", DOCKER_ID)),
    ("/system.slice/docker.service", ContainerLabel("systemd", "docker.service")),
    (
        "/system.slice/docker-compose@web.service",
        ContainerLabel("systemd", "docker-compose@web.service"),
    ),
    # containerd: the daemon's service, CRI scopes, ctr's namespace directory
    ("/system.slice/containerd.service", ContainerLabel("systemd", "containerd.service")),
    (f"/system.slice/cri-containerd-{DOCKER_ID}.scope", _label("containerd", DOCKER_ID)),
    ("/default/redis", ContainerLabel("containerd", "redis", "redis")),
    (f"/default/{DOCKER_ID}", _label("containerd", DOCKER_ID)),
    (f"/k8s.io/{DOCKER_ID}", _label("containerd", DOCKER_ID)),
    (f"/system.slice/nerdctl-{DOCKER_ID}.scope", _label("containerd", DOCKER_ID)),
    ("/srv/default/redis", None),
    # podman: root (machine.slice), conmon monitor, rootless in the user manager, cgroupfs
    (f"/machine.slice/libpod-{DOCKER_ID}.scope", _label("podman", DOCKER_ID)),
    (f"/machine.slice/libpod-{DOCKER_ID}.scope/container", _label("podman", DOCKER_ID)),
    (f"/machine.slice/libpod-conmon-{DOCKER_ID}.scope", _label("podman-monitor", DOCKER_ID)),
    (
        f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{DOCKER_ID}.scope",
        _label("podman", DOCKER_ID),
    ),
    (
        "/user.slice/user-1000.slice/user@1000.service/user.slice/podman-4242.scope",
        ContainerLabel("systemd", "podman-4242.scope"),
    ),
    (f"/libpod_parent/libpod-{DOCKER_ID}", _label("podman", DOCKER_ID)),
    (
        f"/machine.slice/machine-libpod_pod_{OTHER_ID}.slice/libpod-{DOCKER_ID}.scope",
        _label("podman", DOCKER_ID, OTHER_ID),
    ),
    # cri-o
    (f"/system.slice/crio-{DOCKER_ID}.scope", _label("cri-o", DOCKER_ID)),
    (f"/system.slice/crio-conmon-{DOCKER_ID}.scope", _label("cri-o-monitor", DOCKER_ID)),
    # lxc / lxd: old layout, lxc 4+ payload and monitor, systemd inside the container
    ("/lxc/web01", ContainerLabel("lxc", "web01")),
    ("/lxc.payload.web01", ContainerLabel("lxc", "web01")),
    ("/lxc.payload.web01/system.slice/nginx.service", ContainerLabel("lxc", "web01")),
    ("/lxc.payload/web01", ContainerLabel("lxc", "web01")),
    ("/lxc.monitor.web01", ContainerLabel("lxc-monitor", "web01")),
    ("/lxc.monitor/web01", ContainerLabel("lxc-monitor", "web01")),
    (f"/lxc.payload.web01/docker/{DOCKER_ID}", _label("docker", DOCKER_ID)),
    # systemd-nspawn, as a template service and as a machined scope (escaped name)
    ("/machine.slice/systemd-nspawn@debian.service", ContainerLabel("nspawn", "debian")),
    ("/machine.slice/systemd-nspawn@debian.service/payload", ContainerLabel("nspawn", "debian")),
    ("/machine.slice/machine-build\\x2dbox.scope", ContainerLabel("nspawn", "build-box")),
    # systemd units
    ("/system.slice/nginx.service", ContainerLabel("systemd", "nginx.service")),
    ("/user.slice/user-1000.slice/session-3.scope", ContainerLabel("systemd", "session-3.scope")),
    (
        "/user.slice/user-1000.slice/user@1000.service/init.scope",
        ContainerLabel("systemd", "user@1000.service"),
    ),
    (
        "/user.slice/user-1000.slice/user@1000.service/app.slice/dbus.service",
        ContainerLabel("systemd", "dbus.service"),
    ),
    ("/init.scope", ContainerLabel("systemd", "init.scope")),
    ("/system.slice", ContainerLabel("systemd", "system.slice")),
    (
        "/system.slice/system-getty.slice/getty@tty1.service",
        ContainerLabel("systemd", "getty@tty1.service"),
    ),
    # kubepods, cgroupfs driver (each QoS class) and systemd driver
    (
        f"/kubepods/burstable/pod{POD_UID}/{DOCKER_ID}",
        ContainerLabel("kubepods", DOCKER_ID[:12], DOCKER_ID, POD_UID),
    ),
    (
        f"/kubepods/pod{POD_UID}/{DOCKER_ID}",
        ContainerLabel("kubepods", DOCKER_ID[:12], DOCKER_ID, POD_UID),
    ),
    (
        f"/kubepods/besteffort/pod{POD_UID}/{DOCKER_ID}",
        ContainerLabel("kubepods", DOCKER_ID[:12], DOCKER_ID, POD_UID),
    ),
    (
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
        + POD_UID.replace("-", "_")
        + f".slice/cri-containerd-{DOCKER_ID}.scope",
        ContainerLabel("kubepods", DOCKER_ID[:12], DOCKER_ID, POD_UID),
    ),
    (
        "/kubepods.slice/kubepods-pod"
        + POD_UID.replace("-", "_")
        + f".slice/crio-{DOCKER_ID}.scope",
        ContainerLabel("kubepods", DOCKER_ID[:12], DOCKER_ID, POD_UID),
    ),
    (f"/kubepods/burstable/pod{POD_UID}", ContainerLabel("kubepods", POD_UID[:8], None, POD_UID)),
    ("/kubepods/burstable", None),
    ("/kubepods.slice", ContainerLabel("systemd", "kubepods.slice")),
    # plain or unknown
    ("/", None),
    ("", None),
    ("/process_api/19c58e81cabf445f7c9e12535d25b968", None),
    (f"/{DOCKER_ID}", None),  # runc's default /<id>: only the process tree tells
]


@pytest.mark.parametrize(("path", "expected"), PATHS, ids=[p for p, _ in PATHS])
def test_label_for_cgroup_path(path: str, expected: ContainerLabel | None) -> None:
    label = label_for_cgroup_path(path)
    assert label == expected
    assert label is None or label.runtime in RUNTIMES


def test_display_is_short() -> None:
    docker = label_for_cgroup_path(f"/docker/{DOCKER_ID}")
    assert docker is not None
    assert docker.display == "docker:3f4e5d6c7b8a"
    assert str(docker) == docker.display
    assert docker.is_container
    kube = label_for_cgroup_path(f"/kubepods/burstable/pod{POD_UID}/{DOCKER_ID}")
    assert kube is not None and kube.display == "kubepods:8a7f1c2e/3f4e5d6c7b8a"
    pod = label_for_cgroup_path(f"/kubepods/burstable/pod{POD_UID}")
    assert pod is not None and pod.display == "kubepods:pod 8a7f1c2e"
    unit = label_for_cgroup_path("/system.slice/nginx.service")
    assert unit is not None and unit.display == "nginx.service" and not unit.is_container
    monitor = label_for_cgroup_path("/lxc.monitor.web01")
    assert monitor is not None and not monitor.is_container


def test_short_id_keeps_names() -> None:
    assert short_id(DOCKER_ID) == "3f4e5d6c7b8a"
    assert short_id("redis") == "redis"
    assert short_id("abc") == "abc"


# --- process trees ---------------------------------------------------------------------------

HIERARCHIES = (
    Hierarchy(0, 2, ("hugetlb",), "/sys/fs/cgroup/unified"),
    Hierarchy(1, 1, ("cpu",), "/sys/fs/cgroup/cpu"),
    Hierarchy(4, 1, ("memory",), "/sys/fs/cgroup/memory"),
    Hierarchy(9, 1, ("name=systemd",), "/sys/fs/cgroup/systemd"),
)


def proc(pid: int, ppid: int, *cmdline: str, cgroup: str = "/", comm: str = "") -> Process:
    """A process with the same cgroup path in every hierarchy (as systemd and docker do)."""
    return Process(
        pid=pid,
        ppid=ppid,
        comm=comm or (cmdline[0].rsplit("/", 1)[-1][:15] if cmdline else "?"),
        cmdline=tuple(cmdline),
        state="S",
        uid=0,
        user="root",
        nthreads=1,
        start_time=1_700_000_000.0,
        rss=1 << 20,
        cpu_time=0.0,
        nspid=(pid,),
        cgroups={0: cgroup, 1: cgroup, 4: cgroup, 9: cgroup},
    )


def snapshot_of(*processes: Process, namespaces: dict[NsId, Namespace] | None = None) -> Snapshot:
    host = HostInfo(
        hostname="host",
        kernel="6.18",
        boot_time=1_700_000_000.0,
        ncpus=2,
        mem_total=1 << 33,
        viewer_uid=0,
        is_root=True,
    )
    return Snapshot(
        taken_at=1_700_000_100.0,
        host=host,
        processes={p.pid: p for p in processes},
        namespaces=namespaces or {},
        hierarchies=HIERARCHIES,
        cgroups={},
    )


SHIM = (
    "/usr/bin/containerd-shim-runc-v2",
    "-namespace",
    "moby",
    "-id",
    DOCKER_ID,
    "-address",
    "/run/containerd/containerd.sock",
)


def test_docker_container_from_cgroup_and_shim() -> None:
    snap = snapshot_of(
        proc(1, 0, "/sbin/init", cgroup="/init.scope"),
        proc(800, 1, "/usr/bin/containerd", cgroup="/system.slice/containerd.service"),
        proc(1200, 1, *SHIM, cgroup="/system.slice/containerd.service"),
        proc(1220, 1200, "nginx: master process", cgroup=f"/docker/{DOCKER_ID}"),
        proc(1240, 1220, "nginx: worker process", cgroup=f"/docker/{DOCKER_ID}"),
    )
    expected = _label("docker", DOCKER_ID)
    assert label_for_process(snap, 1220) == expected
    assert label_for_process(snap, 1240) == expected
    # the shim itself runs on the host, in containerd's service
    assert label_for_process(snap, 1200) == ContainerLabel("systemd", "containerd.service")
    assert label_for_process(snap, 1) == ContainerLabel("systemd", "init.scope")
    assert label_for_process(snap, 99999) is None


def test_tree_names_container_when_cgroup_does_not() -> None:
    """Container processes left in the daemon's cgroup (v1 name=systemd, ctr without cgroups)
    are still recognised by their shim ancestor."""
    snap = snapshot_of(
        proc(1, 0, "/sbin/init", cgroup="/init.scope"),
        proc(
            900,
            1,
            "/usr/bin/containerd-shim-runc-v2",
            "-namespace",
            "default",
            "-id",
            "redis",
            cgroup="/system.slice/containerd.service",
        ),
        proc(910, 900, "redis-server", "*:6379", cgroup="/system.slice/containerd.service"),
    )
    assert label_for_process(snap, 910) == ContainerLabel("containerd", "redis", "redis")


def test_conmon_gives_podman_name() -> None:
    conmon = (
        "/usr/bin/conmon",
        "--api-version",
        "1",
        "-c",
        DOCKER_ID,
        "-u",
        DOCKER_ID,
        "-r",
        "/usr/bin/crun",
        "-n",
        "webapp",
    )
    snap = snapshot_of(
        proc(1, 0, "/sbin/init", cgroup="/init.scope"),
        proc(
            3000,
            1,
            *conmon,
            cgroup=f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-{DOCKER_ID}.scope",
        ),
        proc(
            3010,
            3000,
            "python3",
            "-m",
            "http.server",
            cgroup=f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{DOCKER_ID}.scope/container",
        ),
    )
    assert label_for_process(snap, 3010) == ContainerLabel("podman", "webapp", DOCKER_ID)
    monitor = label_for_process(snap, 3000)
    assert monitor is not None and monitor.runtime == "podman-monitor"


def test_lxc_nspawn_and_runc_trees() -> None:
    snap = snapshot_of(
        proc(1, 0, "/sbin/init", cgroup="/init.scope"),
        proc(400, 1, "[lxc monitor] /var/lib/lxc web01", comm="lxc-start", cgroup="/"),
        proc(401, 400, "/sbin/init", cgroup="/"),
        proc(402, 401, "sshd", cgroup="/"),
        proc(500, 1, "systemd-nspawn", "-bD", "/var/lib/machines/debian", cgroup="/"),
        proc(501, 500, "/lib/systemd/systemd", cgroup="/"),
        proc(600, 1, "systemd-nspawn", "--machine=builder", "-D", "/srv/x", cgroup="/"),
        proc(601, 600, "bash", cgroup="/"),
        proc(
            700, 1, "runc", "--root", "/run/runc", "run", "-d", "--bundle", "/b", "box1", cgroup="/"
        ),
        proc(701, 700, "sleep", "infinity", cgroup="/box1"),
        proc(702, 1, "runc", "init", cgroup="/box2"),
        proc(800, 1, "lxc-start", "-n", "db", "-F", cgroup="/"),
        proc(801, 800, "/sbin/init", cgroup="/"),
    )
    assert label_for_process(snap, 402) == ContainerLabel("lxc", "web01")
    assert label_for_process(snap, 501) == ContainerLabel("nspawn", "debian")
    assert label_for_process(snap, 601) == ContainerLabel("nspawn", "builder")
    assert label_for_process(snap, 701) == ContainerLabel("runc", "box1", "box1")
    assert label_for_process(snap, 702) == ContainerLabel("runc", "box2", "box2")
    assert label_for_process(snap, 801) == ContainerLabel("lxc", "db")
    assert label_for_process(snap, 400) is None  # the monitor itself is a host process


def test_prefers_v2_and_name_systemd_over_controllers() -> None:
    p = Process(
        pid=10,
        ppid=1,
        comm="x",
        cmdline=("x",),
        state="S",
        uid=0,
        user="root",
        nthreads=1,
        start_time=0.0,
        rss=None,
        cpu_time=0.0,
        nspid=(10,),
        cgroups={1: "/", 4: "/", 9: "/system.slice/cron.service", 0: "/system.slice/cron.service"},
    )
    snap = snapshot_of(proc(1, 0, "/sbin/init", cgroup="/init.scope"), p)
    assert label_for_process(snap, 10) == ContainerLabel("systemd", "cron.service")
    # a container path in any v1 hierarchy beats the systemd unit of the others
    q = dataclasses.replace(
        p, pid=11, cgroups={0: "/system.slice/cron.service", 4: f"/docker/{DOCKER_ID}"}
    )
    snap2 = snapshot_of(proc(1, 0, "/sbin/init", cgroup="/init.scope"), q)
    assert label_for_process(snap2, 11) == _label("docker", DOCKER_ID)


def test_monitor_label_parsing() -> None:
    legacy = proc(
        5,
        1,
        "docker-containerd-shim",
        DOCKER_ID,
        f"/var/run/docker/libcontainerd/{DOCKER_ID}",
        "docker-runc",
    )
    assert monitor_label(legacy) == _label("docker", DOCKER_ID)
    k8s = proc(6, 1, "/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", DOCKER_ID)
    assert monitor_label(k8s) == _label("kubepods", DOCKER_ID)
    assert monitor_label(proc(7, 1, "/usr/sbin/sshd", "-D")) is None
    assert monitor_label(proc(8, 1, "runc", "list")) is None
    assert monitor_label(proc(9, 1, "lxc-start", "-nweb")) == ContainerLabel("lxc", "web")


def test_label_for_namespace() -> None:
    net = NsId(NsType.NET, 4, 4026532300)
    host_net = NsId(NsType.NET, 4, 4026531840)
    held = NsId(NsType.NET, 4, 4026532400)
    pidns = NsId(NsType.PID, 4, 4026532301)
    namespaces = {
        net: Namespace(net, (1220, 1240)),
        host_net: Namespace(host_net, (1, 1200)),
        held: Namespace(held, (), holders=(NsHolder(HolderKind.BIND_MOUNT, 1, "/run/netns/blue"),)),
        pidns: Namespace(pidns, (1220, 1240), facts=NsFacts(pid_level=1, init_pid=1220)),
    }
    snap = snapshot_of(
        proc(1, 0, "/sbin/init", cgroup="/init.scope"),
        proc(1200, 1, *SHIM, cgroup="/system.slice/containerd.service"),
        proc(1220, 1200, "nginx: master process", cgroup=f"/docker/{DOCKER_ID}"),
        proc(1240, 1220, "nginx: worker process", cgroup=f"/docker/{DOCKER_ID}"),
        namespaces=namespaces,
    )
    assert label_for_namespace(snap, net) == "docker:3f4e5d6c7b8a"
    assert label_for_namespace(snap, pidns) == "docker:3f4e5d6c7b8a"
    assert label_for_namespace(snap, host_net) == "/sbin/init"
    assert label_for_namespace(snap, held) == "(bind mount /run/netns/blue)"
    assert label_for_namespace(snap, NsId(NsType.NET, 4, 1)) == ""


def test_namespace_label_skips_kernel_threads() -> None:
    """Where /proc/1/ns is unreadable pid 1 is no member: the host's namespaces are named by
    the lowest user-space process, not by [kthreadd]."""
    net = NsId(NsType.NET, 4, 4026531840)
    kthreadd = dataclasses.replace(proc(2, 0, cgroup="/"), comm="kthreadd")
    snap = snapshot_of(
        kthreadd,
        proc(300, 1, "/usr/sbin/sshd", "-D", cgroup="/system.slice/ssh.service"),
        namespaces={net: Namespace(net, (2, 300))},
    )
    assert label_for_namespace(snap, net) == "/usr/sbin/sshd -D"
    only_kernel = NsId(NsType.NET, 4, 4026531841)
    snap2 = snapshot_of(kthreadd, namespaces={only_kernel: Namespace(only_kernel, (2,))})
    assert label_for_namespace(snap2, only_kernel) == "[kthreadd]"


def test_pod_namespace_named_by_pod() -> None:
    pod_path = f"/kubepods/burstable/pod{POD_UID}"
    net = NsId(NsType.NET, 4, 4026532500)
    snap = snapshot_of(
        proc(1, 0, "/sbin/init", cgroup="/init.scope"),
        proc(2000, 1, "/pause", cgroup=f"{pod_path}/{OTHER_ID}"),
        proc(2010, 1, "nginx", cgroup=f"{pod_path}/{DOCKER_ID}"),
        namespaces={net: Namespace(net, (2000, 2010))},
    )
    assert label_for_namespace(snap, net) == "kubepods:pod 8a7f1c2e"


def test_labels_cached_per_snapshot_and_bulk() -> None:
    snap = snapshot_of(
        proc(1, 0, "/sbin/init", cgroup="/init.scope"),
        *(proc(100 + i, 1, "sleep", cgroup=f"/docker/{DOCKER_ID}") for i in range(50)),
    )
    first = label_for_process(snap, 120)
    assert label_for_process(snap, 120) is first
    labels = container_labels(snap)
    assert len(labels) == 51
    assert labels[1] == ContainerLabel("systemd", "init.scope")


def test_deep_tree_does_not_recurse() -> None:
    """A 3000-deep chain of children is walked iteratively (no RecursionError)."""
    chain = [proc(1, 0, "/sbin/init", cgroup="/init.scope"), proc(2, 1, *SHIM, cgroup="/")]
    chain += [proc(pid, pid - 1, "sh", cgroup="/") for pid in range(3, 3003)]
    snap = snapshot_of(*chain)
    assert label_for_process(snap, 3002) == _label("docker", DOCKER_ID)


def test_labels_follow_changes_between_snapshots() -> None:
    """Labels carried over from the previous snapshot (shared cgroup dicts, as the scanner
    interns them) stay right, and a process that moved gets its new label."""
    init = proc(1, 0, "/sbin/init", cgroup="/init.scope")
    worker = proc(50, 1, "sleep", cgroup=f"/docker/{DOCKER_ID}")
    first = snapshot_of(init, worker)
    assert label_for_process(first, 50) == _label("docker", DOCKER_ID)
    second = snapshot_of(init, worker)  # the same Process objects, a new snapshot
    assert label_for_process(second, 50) == _label("docker", DOCKER_ID)
    moved = dataclasses.replace(worker, cgroups={0: "/system.slice/cron.service"})
    third = snapshot_of(init, moved)
    assert label_for_process(third, 50) == ContainerLabel("systemd", "cron.service")
    assert label_for_process(second, 50) == _label("docker", DOCKER_ID)  # older one unchanged


def test_concurrent_labelling_of_alternating_snapshots() -> None:
    """The refresh worker labels the new snapshot while the event loop names things in the
    old one: the shared cache must give every thread right answers."""
    init = proc(1, 0, "/sbin/init", cgroup="/init.scope")
    workers = [proc(100 + i, 1, "sleep", cgroup=f"/docker/{DOCKER_ID}") for i in range(300)]
    snaps = [snapshot_of(init, *workers) for _ in range(6)]
    errors: list[BaseException] = []

    def run(offset: int) -> None:
        try:
            for k in range(30):
                labels = container_labels(snaps[(k + offset) % len(snaps)])
                assert len(labels) == 301 and labels[250] == _label("docker", DOCKER_ID)
        except BaseException as exc:  # collected and re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
