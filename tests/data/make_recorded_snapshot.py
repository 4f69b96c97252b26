"""Write tests/data/recorded_snapshot.json: a realistic host for UI tests and screenshots.

Deterministic (fixed clock, ids derived from names with sha256, no randomness), so running it
twice writes the same file and a test can check the committed file is current:

    .venv/bin/python tests/data/make_recorded_snapshot.py

The host "web-prod-01" is hybrid like the development machine (v1 cpu, cpuacct, cpuset,
memory, devices, freezer, blkio, pids and name=systemd, plus a cgroup2 tree at
/sys/fs/cgroup/unified with only hugetlb) and runs: systemd services, an ssh session with
nstui itself, docker with nginx and redis (cgroupfs driver: /docker/<id>), a kubelet pod
(pause + coredns under /kubepods/burstable), a systemd-nspawn machine with a private user
namespace, a rootless podman container (conmon, catatonit, slirp4netns; uid_map 0->1000,
1->100000), a network namespace held only by a bind mount (ip netns add blue), one held only
by an open fd, a zombie, a stopped process and kernel threads.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nstui.kernel.cgroups.hierarchy import Cgroup, Hierarchy
from nstui.kernel.mountinfo import Mount
from nstui.kernel.namespaces import (
    HolderKind,
    IdMapRange,
    Namespace,
    NetInterface,
    NsFacts,
    NsHolder,
)
from nstui.kernel.nstypes import NsId, NsType
from nstui.kernel.procfs import Process, ThreadNs
from nstui.model.serialize import snapshot_to_json
from nstui.model.snapshot import HostInfo, Snapshot

OUTPUT = Path(__file__).with_name("recorded_snapshot.json")

DEV = 4  # st_dev of nsfs, as on this machine
BOOT = 1_764_230_400.0  # 2025-11-27 08:00:00 UTC
TAKEN = BOOT + 3 * 86400 + 5025.0  # three days and a bit later
CLK_TCK = 100  # /proc/PID/stat start times are in these ticks since boot
GIB = 1 << 30
KIB = 1024


def hexid(name: str) -> str:
    """A 64-hex container id, fixed for a name."""
    return hashlib.sha256(name.encode()).hexdigest()


def uuid_of(name: str) -> str:
    h = hexid(name)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


NGINX_ID = hexid("docker nginx")
REDIS_ID = hexid("docker redis")
PAUSE_ID = hexid("k8s coredns pause")
COREDNS_ID = hexid("k8s coredns")
PODMAN_ID = hexid("podman webapp")
POD_UID = uuid_of("pod coredns-5d78c9869d-x7k2p")
CNI_NETNS = f"cni-{uuid_of('cni netns')}"
PODMAN_NETNS = f"netns-{uuid_of('podman netns')}"

# The initial namespaces carry the inodes this machine's kernel gives them.
HOST_INO = {
    NsType.MNT: 4026531832,
    NsType.NET: 4026531833,
    NsType.TIME: 4026531834,
    NsType.CGROUP: 4026531835,
    NsType.PID: 4026531836,
    NsType.USER: 4026531837,
    NsType.UTS: 4026531838,
    NsType.IPC: 4026531839,
}
HOST: dict[NsType, NsId] = {t: NsId(t, DEV, ino) for t, ino in HOST_INO.items()}


class _Inodes:
    """Hands out namespace inodes in creation order, as the kernel's nsfs does."""

    def __init__(self) -> None:
        self.next = 4026532180

    def new(self, ns_type: NsType) -> NsId:
        self.next += 1
        return NsId(ns_type, DEV, self.next)


INODES = _Inodes()


def derive(base: dict[NsType, NsId], *types: NsType) -> dict[NsType, NsId]:
    """BASE with a fresh namespace of each of TYPES (what clone(CLONE_NEW*) gives)."""
    return {**base, **{t: INODES.new(t) for t in types}}


CONTAINER_TYPES = (NsType.PID, NsType.NET, NsType.MNT, NsType.UTS, NsType.IPC, NsType.CGROUP)
NGINX_NS = derive(HOST, *CONTAINER_TYPES)
REDIS_NS = derive(HOST, *CONTAINER_TYPES)
PAUSE_NS = derive(HOST, *CONTAINER_TYPES)
# coredns shares the pod's net, ipc and uts (the pause container's) and has its own rest
COREDNS_NS = derive(PAUSE_NS, NsType.PID, NsType.MNT, NsType.CGROUP)
NSPAWN_USER = INODES.new(NsType.USER)
NSPAWN_NS = derive({**HOST, NsType.USER: NSPAWN_USER}, *CONTAINER_TYPES)
PODMAN_USER = INODES.new(NsType.USER)
PODMAN_MNT = INODES.new(NsType.MNT)
ROOTLESS_NS = {**HOST, NsType.USER: PODMAN_USER, NsType.MNT: PODMAN_MNT}
PODMAN_NS = derive(ROOTLESS_NS, NsType.PID, NsType.NET, NsType.MNT, NsType.UTS, NsType.IPC)
BLUE_NET = INODES.new(NsType.NET)  # `ip netns add blue`: no process, one bind mount
KEPT_NET = INODES.new(NsType.NET)  # held by netns-keeper's fd 3, no process

HIERARCHIES: tuple[Hierarchy, ...] = (
    Hierarchy(0, 2, ("hugetlb",), "/sys/fs/cgroup/unified"),
    Hierarchy(1, 1, ("cpu",), "/sys/fs/cgroup/cpu"),
    Hierarchy(2, 1, ("cpuacct",), "/sys/fs/cgroup/cpuacct"),
    Hierarchy(3, 1, ("cpuset",), "/sys/fs/cgroup/cpuset"),
    Hierarchy(4, 1, ("memory",), "/sys/fs/cgroup/memory"),
    Hierarchy(5, 1, ("devices",), "/sys/fs/cgroup/devices"),
    Hierarchy(6, 1, ("freezer",), "/sys/fs/cgroup/freezer"),
    Hierarchy(7, 1, ("blkio",), "/sys/fs/cgroup/blkio"),
    Hierarchy(8, 1, ("pids",), "/sys/fs/cgroup/pids"),
    Hierarchy(9, 1, ("name=systemd",), "/sys/fs/cgroup/systemd"),
)
#: v1 hierarchies systemd realises unit paths in (accounting on); cpuset and freezer stay "/"
UNIT_HIDS = (1, 2, 4, 5, 7, 8)


def everywhere(path: str) -> dict[int, str]:
    """One path in every hierarchy (docker's and kubelet's cgroupfs driver, kernel threads)."""
    return {h.hid: path for h in HIERARCHIES}


def unit(path: str, *, v1: str | None = None) -> dict[int, str]:
    """A systemd-managed process: PATH in name=systemd, the unified tree and the accounting
    controllers (or V1 there, e.g. the parent slice); cpuset and freezer at the root."""
    out = {0: path, 9: path, 3: "/", 6: "/"}
    out.update(dict.fromkeys(UNIT_HIDS, v1 if v1 is not None else path))
    return out


@dataclass(frozen=True)
class P:
    """A process row of the recorded host (short to write, expanded by ``build_process``)."""

    pid: int
    ppid: int
    cmdline: tuple[str, ...]
    cgroups: dict[int, str]
    ns: dict[NsType, NsId]
    user: tuple[str | None, int] = ("root", 0)
    threads: int = 1
    rss_kib: int = 4096
    cpu_time: float = 0.5
    cpu_percent: float = 0.0
    started: float = 60.0  # seconds after boot
    state: str = "S"
    nspid: tuple[int, ...] = ()
    comm: str = ""
    odd_threads: tuple[ThreadNs, ...] = ()


def build_process(p: P) -> Process:
    comm = p.comm or (p.cmdline[0].rsplit("/", 1)[-1] if p.cmdline else "?")
    kernel = not p.cmdline and p.ppid in (0, 2)
    return Process(
        pid=p.pid,
        ppid=p.ppid,
        comm=comm[:15],
        cmdline=p.cmdline,
        state=p.state,
        uid=p.user[1],
        user=p.user[0],
        nthreads=p.threads,
        start_time=BOOT + p.started,
        rss=0 if kernel or p.state == "Z" else p.rss_kib * KIB,
        cpu_time=p.cpu_time,
        nspid=p.nspid or (p.pid,),
        ns=dict(p.ns),
        cgroups=dict(p.cgroups),
        odd_threads=p.odd_threads,
        cpu_percent=p.cpu_percent,
        start_ticks=round(p.started * CLK_TCK),
    )


def kthread(pid: int, name: str, *, ppid: int = 2, state: str = "I") -> P:
    return P(pid, ppid, (), everywhere("/"), HOST, comm=name, state=state, cpu_time=0.02)


def shim(pid: int, namespace: str, ident: str, started: float) -> P:
    return P(
        pid,
        1,
        (
            "/usr/bin/containerd-shim-runc-v2",
            "-namespace",
            namespace,
            "-id",
            ident,
            "-address",
            "/run/containerd/containerd.sock",
        ),
        unit("/system.slice/containerd.service"),
        HOST,
        threads=10,
        rss_kib=11_800,
        cpu_time=2.1,
        started=started,
        comm="containerd-shim",
    )


SESSION = "/user.slice/user-1000.slice/session-3.scope"
USER_MANAGER = "/user.slice/user-1000.slice/user@1000.service"
ALICE = ("alice", 1000)
NSPAWN_UNIT = "/machine.slice/systemd-nspawn@debian-dev.service"
NSPAWN_ROOT = ("vu-debian-dev-0", 1879048192)
KUBE_POD = f"/kubepods/burstable/pod{POD_UID}"
PODMAN_SCOPE = f"{USER_MANAGER}/user.slice/libpod-{PODMAN_ID}.scope"
PODMAN_CONMON = f"{USER_MANAGER}/user.slice/libpod-conmon-{PODMAN_ID}.scope"
PODMAN_PAUSE = f"{USER_MANAGER}/user.slice/podman-pause-8b1a4e2c.scope"


def podman_cgroups(path: str) -> dict[int, str]:
    # rootless: systemd --user manages name=systemd and unified; v1 controllers stop at the
    # user manager, which is as far as root's systemd delegates
    return {**unit(path, v1=USER_MANAGER), 1: "/user.slice", 2: "/user.slice", 7: "/user.slice"}


def nspawn_cgroups(inner: str) -> dict[int, str]:
    return unit(f"{NSPAWN_UNIT}/payload{inner}", v1=NSPAWN_UNIT)


PROCESSES: tuple[P, ...] = (
    # --- the host ---
    P(
        1,
        0,
        ("/sbin/init",),
        {**unit("/init.scope"), **dict.fromkeys(UNIT_HIDS, "/")},
        HOST,
        rss_kib=12_300,
        cpu_time=41.2,
        started=0.4,
        comm="systemd",
    ),
    kthread(2, "kthreadd", ppid=0, state="S"),
    kthread(3, "rcu_gp"),
    kthread(4, "rcu_par_gp"),
    kthread(12, "ksoftirqd/0", state="S"),
    kthread(14, "migration/0", state="S"),
    kthread(20, "ksoftirqd/1", state="S"),
    kthread(62, "kswapd0", state="S"),
    kthread(181, "jbd2/sda1-8", state="S"),
    kthread(240, "kworker/1:1H-kblockd"),
    kthread(251, "kworker/0:2-events"),
    kthread(266, "kworker/u8:1-events_unbound"),
    P(
        580,
        1,
        ("/usr/sbin/irqbalance", "--foreground"),
        unit("/system.slice/irqbalance.service"),
        HOST,
        threads=2,
        rss_kib=3_400,
        cpu_time=19.0,
        started=2.3,
    ),
    P(
        585,
        1,
        ("/lib/systemd/systemd-logind",),
        unit("/system.slice/systemd-logind.service"),
        HOST,
        rss_kib=7_400,
        started=2.4,
    ),
    P(
        590,
        1,
        ("/usr/lib/polkit-1/polkitd", "--no-debug"),
        unit("/system.slice/polkit.service"),
        HOST,
        user=("polkitd", 996),
        threads=3,
        rss_kib=8_800,
        started=2.4,
    ),
    P(
        660,
        1,
        (
            "/usr/bin/python3",
            "/usr/share/unattended-upgrades/unattended-upgrade-shutdown",
            "--wait-for-signal",
        ),
        unit("/system.slice/unattended-upgrades.service"),
        HOST,
        threads=2,
        rss_kib=21_300,
        started=2.9,
        comm="unattended-upgr",
    ),
    P(
        320,
        1,
        ("/lib/systemd/systemd-journald",),
        unit("/system.slice/systemd-journald.service"),
        HOST,
        rss_kib=48_200,
        cpu_time=88.0,
        cpu_percent=0.3,
        started=1.2,
    ),
    P(
        345,
        1,
        ("/lib/systemd/systemd-udevd",),
        unit("/system.slice/systemd-udevd.service"),
        HOST,
        rss_kib=9_800,
        started=1.4,
    ),
    P(
        512,
        1,
        ("/lib/systemd/systemd-networkd",),
        unit("/system.slice/systemd-networkd.service"),
        HOST,
        user=("systemd-network", 998),
        rss_kib=8_100,
        started=2.0,
    ),
    P(
        530,
        1,
        ("/lib/systemd/systemd-resolved",),
        unit("/system.slice/systemd-resolved.service"),
        HOST,
        user=("systemd-resolve", 997),
        rss_kib=12_900,
        started=2.1,
    ),
    P(
        601,
        1,
        ("/usr/sbin/cron", "-f"),
        unit("/system.slice/cron.service"),
        HOST,
        rss_kib=2_700,
        started=2.5,
    ),
    P(
        605,
        1,
        (
            "/usr/bin/dbus-daemon",
            "--system",
            "--address=systemd:",
            "--nofork",
            "--nopidfile",
            "--systemd-activation",
            "--syslog-only",
        ),
        unit("/system.slice/dbus.service"),
        HOST,
        user=("messagebus", 100),
        rss_kib=5_200,
        started=2.5,
    ),
    P(
        610,
        1,
        ("/usr/sbin/rsyslogd", "-n", "-iNONE"),
        unit("/system.slice/rsyslog.service"),
        HOST,
        threads=4,
        rss_kib=6_300,
        started=2.6,
    ),
    P(
        640,
        1,
        ("/sbin/agetty", "-o", "-p -- \\u", "--noclear", "-", "linux"),
        unit("/system.slice/system-getty.slice/getty@tty1.service"),
        HOST,
        rss_kib=1_900,
        started=2.7,
    ),
    P(
        700,
        1,
        ("sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",),
        unit("/system.slice/ssh.service"),
        HOST,
        rss_kib=9_100,
        started=2.8,
        comm="sshd",
    ),
    P(
        800,
        1,
        ("/usr/bin/containerd",),
        unit("/system.slice/containerd.service"),
        HOST,
        threads=12,
        rss_kib=52_400,
        cpu_time=310.5,
        cpu_percent=0.7,
        started=3.0,
    ),
    P(
        850,
        1,
        ("/usr/sbin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"),
        unit("/system.slice/docker.service"),
        HOST,
        threads=16,
        rss_kib=88_600,
        cpu_time=201.0,
        cpu_percent=0.4,
        started=3.4,
        # libnetwork configures a container's network from a thread that joined its netns
        odd_threads=(ThreadNs(862, {**HOST, NsType.NET: NGINX_NS[NsType.NET]}),),
    ),
    P(
        900,
        1,
        (
            "/usr/bin/kubelet",
            "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
            "--kubeconfig=/etc/kubernetes/kubelet.conf",
            "--config=/var/lib/kubelet/config.yaml",
            "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
        ),
        unit("/system.slice/kubelet.service"),
        HOST,
        threads=14,
        rss_kib=101_300,
        cpu_time=1_204.0,
        cpu_percent=2.1,
        started=4.0,
    ),
    # --- docker: nginx and redis ---
    P(
        1180,
        850,
        (
            "/usr/bin/docker-proxy",
            "-proto",
            "tcp",
            "-host-ip",
            "0.0.0.0",
            "-host-port",
            "8080",
            "-container-ip",
            "172.17.0.2",
            "-container-port",
            "80",
        ),
        unit("/system.slice/docker.service"),
        HOST,
        threads=5,
        rss_kib=3_900,
        started=9.0,
    ),
    shim(1200, "moby", NGINX_ID, 8.0),
    P(
        1220,
        1200,
        ("nginx: master process nginx -g daemon off;",),
        everywhere(f"/docker/{NGINX_ID}"),
        NGINX_NS,
        rss_kib=6_100,
        started=8.3,
        nspid=(1220, 1),
        comm="nginx",
    ),
    P(
        1252,
        1220,
        ("nginx: worker process",),
        everywhere(f"/docker/{NGINX_ID}"),
        NGINX_NS,
        user=(None, 101),
        rss_kib=3_300,
        cpu_time=4.2,
        cpu_percent=0.2,
        started=8.4,
        nspid=(1252, 29),
        comm="nginx",
    ),
    P(
        1253,
        1220,
        ("nginx: worker process",),
        everywhere(f"/docker/{NGINX_ID}"),
        NGINX_NS,
        user=(None, 101),
        rss_kib=3_300,
        cpu_time=4.0,
        cpu_percent=0.1,
        started=8.4,
        nspid=(1253, 30),
        comm="nginx",
    ),
    shim(1300, "moby", REDIS_ID, 8.1),
    P(
        1320,
        1300,
        ("redis-server *:6379",),
        everywhere(f"/docker/{REDIS_ID}"),
        REDIS_NS,
        user=(None, 999),
        threads=5,
        rss_kib=9_700,
        cpu_time=96.0,
        cpu_percent=0.5,
        started=8.6,
        nspid=(1320, 1),
        comm="redis-server",
    ),
    # --- kubepods: a coredns pod (pause + coredns), containerd's k8s.io namespace ---
    shim(1400, "k8s.io", PAUSE_ID, 20.0),
    P(
        1420,
        1400,
        ("/pause",),
        everywhere(f"{KUBE_POD}/{PAUSE_ID}"),
        PAUSE_NS,
        user=("nobody", 65535),
        rss_kib=400,
        cpu_time=0.03,
        started=20.2,
        nspid=(1420, 1),
    ),
    P(
        1460,
        1400,
        ("/coredns", "-conf", "/etc/coredns/Corefile"),
        everywhere(f"{KUBE_POD}/{COREDNS_ID}"),
        COREDNS_NS,
        user=("nobody", 65535),
        threads=9,
        rss_kib=28_800,
        cpu_time=55.0,
        cpu_percent=0.3,
        started=21.0,
        nspid=(1460, 1),
    ),
    # --- systemd-nspawn machine with a private user namespace (-U) ---
    P(
        1500,
        1,
        (
            "/usr/bin/systemd-nspawn",
            "--quiet",
            "--keep-unit",
            "--boot",
            "--link-journal=try-guest",
            "--network-veth",
            "-U",
            "--settings=override",
            "--machine=debian-dev",
        ),
        unit(f"{NSPAWN_UNIT}/supervisor", v1=NSPAWN_UNIT),
        HOST,
        rss_kib=4_800,
        started=30.0,
    ),
    P(
        1510,
        1500,
        ("/sbin/init",),
        nspawn_cgroups("/init.scope"),
        NSPAWN_NS,
        user=NSPAWN_ROOT,
        rss_kib=10_900,
        cpu_time=6.1,
        started=30.5,
        nspid=(1510, 1),
        comm="systemd",
    ),
    P(
        1535,
        1510,
        ("/lib/systemd/systemd-journald",),
        nspawn_cgroups("/system.slice/systemd-journald.service"),
        NSPAWN_NS,
        user=NSPAWN_ROOT,
        rss_kib=14_000,
        started=31.0,
        nspid=(1535, 21),
    ),
    P(
        1570,
        1510,
        ("/usr/sbin/cron", "-f"),
        nspawn_cgroups("/system.slice/cron.service"),
        NSPAWN_NS,
        user=NSPAWN_ROOT,
        rss_kib=2_500,
        started=31.4,
        nspid=(1570, 52),
    ),
    P(
        1590,
        1510,
        (
            "/sbin/agetty",
            "-o",
            "-p -- \\u",
            "--noclear",
            "--keep-baud",
            "-",
            "115200,38400,9600",
            "vt220",
        ),
        nspawn_cgroups("/system.slice/console-getty.service"),
        NSPAWN_NS,
        user=NSPAWN_ROOT,
        rss_kib=1_800,
        started=31.5,
        nspid=(1590, 60),
    ),
    # --- alice's ssh session; root runs nstui from sudo ---
    P(
        2101,
        700,
        ("sshd: alice [priv]",),
        unit(SESSION, v1="/user.slice"),
        HOST,
        rss_kib=10_300,
        started=4_000.0,
        comm="sshd",
    ),
    P(
        2110,
        1,
        ("/lib/systemd/systemd", "--user"),
        unit(f"{USER_MANAGER}/init.scope"),
        HOST,
        user=ALICE,
        rss_kib=9_900,
        started=4_001.0,
        comm="systemd",
    ),
    P(
        2111,
        2110,
        ("(sd-pam)",),
        unit(f"{USER_MANAGER}/init.scope"),
        HOST,
        user=ALICE,
        rss_kib=3_600,
        started=4_001.0,
        comm="(sd-pam)",
    ),
    P(
        2140,
        2101,
        ("sshd: alice@pts/0",),
        unit(SESSION, v1="/user.slice"),
        HOST,
        user=ALICE,
        rss_kib=6_900,
        started=4_001.2,
        comm="sshd",
    ),
    P(
        2141,
        2140,
        ("-bash",),
        unit(SESSION, v1="/user.slice"),
        HOST,
        user=ALICE,
        rss_kib=5_300,
        started=4_001.3,
        comm="bash",
    ),
    P(
        2205,
        2141,
        ("sudo", "-i"),
        unit(SESSION, v1="/user.slice"),
        HOST,
        rss_kib=5_900,
        started=4_100.0,
    ),
    P(
        2206,
        2205,
        ("-bash",),
        unit(SESSION, v1="/user.slice"),
        HOST,
        rss_kib=5_100,
        started=4_101.0,
        comm="bash",
    ),
    P(
        2290,
        2206,
        ("/usr/bin/python3", "/usr/local/bin/nstui"),
        unit(SESSION, v1="/user.slice"),
        HOST,
        threads=4,
        rss_kib=61_000,
        cpu_time=12.4,
        cpu_percent=3.2,
        started=TAKEN - BOOT - 300,
        comm="nstui",
    ),
    P(
        2420,
        2206,
        ("sleep", "600"),
        unit(SESSION, v1="/user.slice"),
        HOST,
        rss_kib=1_000,
        cpu_time=0.0,
        started=TAKEN - BOOT - 100,
    ),
    P(
        2430,
        2290,
        (),
        unit(SESSION, v1="/user.slice"),
        HOST,
        state="Z",
        comm="sh",
        started=TAKEN - BOOT - 20,
        cpu_time=0.0,
    ),
    P(
        2440,
        2141,
        ("vim", "/etc/nginx/nginx.conf"),
        unit(SESSION, v1="/user.slice"),
        HOST,
        user=ALICE,
        state="T",
        rss_kib=9_200,
        started=TAKEN - BOOT - 2_000,
    ),
    # --- rootless podman (alice): pause process, conmon, slirp4netns, the container ---
    P(
        2300,
        2110,
        ("catatonit", "-P"),
        podman_cgroups(PODMAN_PAUSE),
        ROOTLESS_NS,
        user=ALICE,
        rss_kib=300,
        started=4_200.0,
    ),
    P(
        2350,
        2110,
        (
            "/usr/bin/conmon",
            "--api-version",
            "1",
            "-c",
            PODMAN_ID,
            "-u",
            PODMAN_ID,
            "-r",
            "/usr/bin/crun",
            "-b",
            f"/home/alice/.local/share/containers/storage/overlay-containers/{PODMAN_ID}/userdata",
            "-n",
            "webapp",
            "--exit-dir",
            "/run/user/1000/libpod/tmp/exits",
            "--log-level",
            "warning",
            "--syslog",
        ),
        podman_cgroups(PODMAN_CONMON),
        ROOTLESS_NS,
        user=ALICE,
        rss_kib=2_300,
        started=4_210.0,
    ),
    P(
        2355,
        2110,
        (
            "/usr/bin/slirp4netns",
            "--disable-host-loopback",
            "--mtu=65520",
            "--enable-sandbox",
            "--enable-seccomp",
            "--enable-ipv6",
            "-c",
            "-r",
            "3",
            "-e",
            "4",
            "--netns-type=path",
            f"/run/user/1000/netns/{PODMAN_NETNS}",
            "tap0",
        ),
        podman_cgroups(PODMAN_PAUSE),
        ROOTLESS_NS,
        user=ALICE,
        rss_kib=3_100,
        started=4_209.0,
    ),
    P(
        2360,
        2350,
        ("python3", "-m", "http.server", "8000"),
        podman_cgroups(f"{PODMAN_SCOPE}/container"),
        PODMAN_NS,
        user=ALICE,
        rss_kib=19_500,
        cpu_time=1.3,
        started=4_210.5,
        nspid=(2360, 1),
    ),
    # --- holds a network namespace by an open fd only ---
    P(
        2410,
        1,
        ("/usr/local/bin/netns-keeper", "--hold", "/run/netns-keeper.sock"),
        unit("/system.slice/netns-keeper.service"),
        HOST,
        rss_kib=2_000,
        started=5_000.0,
    ),
)


def interfaces(*rows: tuple[str, int, int]) -> tuple[NetInterface, ...]:
    """(name, rx bytes, tx bytes); packet counts follow from an average packet size."""
    return tuple(NetInterface(name, rx, tx, rx // 700, tx // 900) for name, rx, tx in rows)


HOST_FACTS: dict[NsType, NsFacts] = {
    NsType.NET: NsFacts(
        interfaces=interfaces(
            ("lo", 88_412_003, 88_412_003),
            ("eth0", 9_813_224_118, 2_207_331_904),
            ("docker0", 31_022_117, 402_118_990),
            ("veth3a1f2c9", 21_004_118, 300_441_902),
            ("veth8c0d4e2", 10_018_004, 101_677_088),
            ("cni0", 4_402_117, 8_018_776),
            ("ve-debian-dev", 118_004, 1_201_339),
        )
    ),
    NsType.USER: NsFacts(
        uid_map=(IdMapRange(0, 0, 4294967295),), gid_map=(IdMapRange(0, 0, 4294967295),)
    ),
    NsType.PID: NsFacts(pid_level=0, init_pid=1),
    NsType.TIME: NsFacts(time_offsets={"monotonic": (0, 0), "boottime": (0, 0)}),
}

EXTRA_FACTS: dict[NsId, NsFacts] = {
    NGINX_NS[NsType.NET]: NsFacts(
        interfaces=interfaces(("lo", 0, 0), ("eth0", 300_441_902, 21_004_118))
    ),
    REDIS_NS[NsType.NET]: NsFacts(
        interfaces=interfaces(("lo", 1_204, 1_204), ("eth0", 101_677_088, 10_018_004))
    ),
    PAUSE_NS[NsType.NET]: NsFacts(
        interfaces=interfaces(("lo", 9_220, 9_220), ("eth0", 8_018_776, 4_402_117))
    ),
    NSPAWN_NS[NsType.NET]: NsFacts(
        interfaces=interfaces(("lo", 3_300, 3_300), ("host0", 1_201_339, 118_004))
    ),
    PODMAN_NS[NsType.NET]: NsFacts(
        interfaces=interfaces(("lo", 0, 0), ("tap0", 2_330_118, 910_440))
    ),
    BLUE_NET: NsFacts(interfaces=interfaces(("lo", 0, 0))),
    KEPT_NET: NsFacts(interfaces=interfaces(("lo", 0, 0), ("veth-probe", 12_880, 4_100))),
    NSPAWN_USER: NsFacts(
        uid_map=(IdMapRange(0, 1879048192, 65536),), gid_map=(IdMapRange(0, 1879048192, 65536),)
    ),
    PODMAN_USER: NsFacts(
        uid_map=(IdMapRange(0, 1000, 1), IdMapRange(1, 100000, 65536)),
        gid_map=(IdMapRange(0, 1000, 1), IdMapRange(1, 100000, 65536)),
    ),
    NGINX_NS[NsType.PID]: NsFacts(pid_level=1, init_pid=1220),
    REDIS_NS[NsType.PID]: NsFacts(pid_level=1, init_pid=1320),
    PAUSE_NS[NsType.PID]: NsFacts(pid_level=1, init_pid=1420),
    COREDNS_NS[NsType.PID]: NsFacts(pid_level=1, init_pid=1460),
    NSPAWN_NS[NsType.PID]: NsFacts(pid_level=1, init_pid=1510),
    PODMAN_NS[NsType.PID]: NsFacts(pid_level=1, init_pid=2360),
}

DOCKER_SANDBOX = {NGINX_ID: hexid("sandbox nginx")[:12], REDIS_ID: hexid("sandbox redis")[:12]}
BIND_HOLDERS: dict[NsId, tuple[NsHolder, ...]] = {
    BLUE_NET: (NsHolder(HolderKind.BIND_MOUNT, 1, "/run/netns/blue"),),
    NGINX_NS[NsType.NET]: (
        NsHolder(HolderKind.BIND_MOUNT, 1, f"/run/docker/netns/{DOCKER_SANDBOX[NGINX_ID]}"),
    ),
    REDIS_NS[NsType.NET]: (
        NsHolder(HolderKind.BIND_MOUNT, 1, f"/run/docker/netns/{DOCKER_SANDBOX[REDIS_ID]}"),
    ),
    PAUSE_NS[NsType.NET]: (NsHolder(HolderKind.BIND_MOUNT, 1, f"/run/netns/{CNI_NETNS}"),),
    PODMAN_NS[NsType.NET]: (
        NsHolder(HolderKind.BIND_MOUNT, 2300, f"/run/user/1000/netns/{PODMAN_NETNS}"),
    ),
    KEPT_NET: (NsHolder(HolderKind.OPEN_FD, 2410, "/proc/2410/fd/3"),),
}


def owner_of(ns_id: NsId, members: dict[NsId, list[int]], processes: dict[int, Process]) -> NsId:
    """The user namespace the creating process was in: that of the namespace's members."""
    if ns_id in (BLUE_NET, KEPT_NET):
        return HOST[NsType.USER]
    pid = members[ns_id][0]
    return processes[pid].ns[NsType.USER]


USER_CREATOR_UID = {HOST[NsType.USER]: 0, NSPAWN_USER: 0, PODMAN_USER: 1000}


def build_namespaces(processes: dict[int, Process]) -> dict[NsId, Namespace]:
    members: dict[NsId, list[int]] = {}
    for pid in sorted(processes):
        for ns_id in processes[pid].ns.values():
            members.setdefault(ns_id, []).append(pid)
    all_ids = sorted({*members, BLUE_NET, KEPT_NET})
    kernel_ids = {
        ns_id: (i + 1 if ns_id.is_initial else 4096 + i) for i, ns_id in enumerate(all_ids)
    }
    out: dict[NsId, Namespace] = {}
    for ns_id in all_ids:
        is_host = HOST[ns_id.type] == ns_id
        if ns_id.type is NsType.USER:
            owner = None if is_host else HOST[NsType.USER]
            parent = owner
            owner_uid = USER_CREATOR_UID[ns_id]
        else:
            owner = owner_of(ns_id, members, processes)
            parent = HOST[NsType.PID] if ns_id.type is NsType.PID and not is_host else None
            owner_uid = USER_CREATOR_UID[owner]
        facts = (
            HOST_FACTS.get(ns_id.type, NsFacts()) if is_host else EXTRA_FACTS.get(ns_id, NsFacts())
        )
        out[ns_id] = Namespace(
            id=ns_id,
            pids=tuple(members.get(ns_id, ())),
            owner=owner,
            parent=parent,
            owner_uid=owner_uid,
            kernel_id=kernel_ids[ns_id],
            holders=BIND_HOLDERS.get(ns_id, ()),
            facts=facts,
        )
    return out


def ancestors(path: str) -> list[str]:
    """PATH and every directory above it, root first."""
    parts = [p for p in path.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def build_cgroups(processes: dict[int, Process]) -> dict[tuple[int, str], Cgroup]:
    paths: dict[int, set[str]] = {h.hid: {"/"} for h in HIERARCHIES}
    for process in processes.values():
        for hid, path in process.cgroups.items():
            paths[hid].update(ancestors(path))
    # empty cgroups a real host has too: a stopped unit's leftover and a limits playground
    paths[4].add("/system.slice/apt-daily.service")
    out: dict[tuple[int, str], Cgroup] = {}
    for hierarchy in HIERARCHIES:
        for path in sorted(paths[hierarchy.hid]):
            pids = sorted(p.pid for p in processes.values() if p.cgroups.get(hierarchy.hid) == path)
            tids = sorted(tid for pid in pids for tid in range(pid, pid + processes[pid].nthreads))
            if hierarchy.version == 2:
                # the hybrid unified tree: hugetlb at the root, enabled for no child
                controllers = hierarchy.controllers if path == "/" else ()
            else:
                controllers = hierarchy.controllers
            out[(hierarchy.hid, path)] = Cgroup(
                hid=hierarchy.hid,
                path=path,
                pids=tuple(pids),
                tids=tuple(tids),
                controllers=controllers,
            )
    return out


def overlay(
    mount_id: int, minor: int, target: str, layers: Sequence[str], upper: str, work: str
) -> Mount:
    options = f"rw,lowerdir={':'.join(layers)},upperdir={upper},workdir={work}"
    return Mount(
        mount_id, 21, 0, minor, "/", target, "rw,relatime", (), "overlay", "overlay", options
    )


def docker_overlay(mount_id: int, minor: int, name: str) -> Mount:
    layer = hexid(f"layer {name}")
    base = "/var/lib/docker/overlay2"
    links = [f"{base}/l/{hexid(f'link {name} {i}')[:26].upper()}" for i in range(3)]
    return overlay(
        mount_id,
        minor,
        f"{base}/{layer}/merged",
        links,
        f"{base}/{layer}/diff",
        f"{base}/{layer}/work",
    )


def containerd_overlay(mount_id: int, minor: int, ident: str, snapshots: Iterable[int]) -> Mount:
    base = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots"
    numbers = list(snapshots)
    layers = [f"{base}/{n}/fs" for n in numbers[:-1]]
    top = numbers[-1]
    target = f"/run/containerd/io.containerd.runtime.v2.task/k8s.io/{ident}/rootfs"
    return overlay(mount_id, minor, target, layers, f"{base}/{top}/fs", f"{base}/{top}/work")


def nsfs(mount_id: int, ns_id: NsId, target: str) -> Mount:
    return Mount(mount_id, 25, 0, 4, str(ns_id), target, "rw", (), "nsfs", "nsfs", "rw")


def build_mounts() -> tuple[Mount, ...]:
    """The host's mountinfo as nstui (in the host mount namespace) sees it. Docker's and
    containerd's overlay roots are mounted there; rootless podman mounts its overlay inside
    its own mount namespace (invisible here) and the nspawn machine boots from a directory."""

    def m(
        mid: int,
        parent: int,
        dev: tuple[int, int],
        target: str,
        fstype: str,
        source: str,
        sup: str = "rw",
        opts: str = "rw,nosuid,nodev,noexec,relatime",
        optional: tuple[str, ...] = (),
    ) -> Mount:
        return Mount(mid, parent, dev[0], dev[1], "/", target, opts, optional, fstype, source, sup)

    mounts = [
        m(
            21,
            1,
            (8, 1),
            "/",
            "ext4",
            "/dev/sda1",
            "rw,errors=remount-ro",
            "rw,relatime",
            ("shared:1",),
        ),
        m(22, 21, (0, 21), "/proc", "proc", "proc", optional=("shared:12",)),
        m(23, 21, (0, 22), "/sys", "sysfs", "sysfs", optional=("shared:7",)),
        m(
            24,
            21,
            (0, 5),
            "/dev",
            "devtmpfs",
            "udev",
            "rw,size=4012345k,nr_inodes=1003086,mode=755",
            "rw,nosuid,relatime",
            ("shared:2",),
        ),
        m(
            25,
            21,
            (0, 25),
            "/run",
            "tmpfs",
            "tmpfs",
            "rw,size=812344k,mode=755",
            "rw,nosuid,nodev,noexec,relatime",
            ("shared:5",),
        ),
        m(
            31,
            23,
            (0, 28),
            "/sys/fs/cgroup",
            "tmpfs",
            "tmpfs",
            "ro,mode=755",
            "ro,nosuid,nodev,noexec",
            ("shared:9",),
        ),
    ]
    for i, hierarchy in enumerate(HIERARCHIES[1:], start=0):
        mounts.append(
            m(
                32 + i,
                31,
                (0, 29 + i),
                hierarchy.mountpoint,
                "cgroup",
                "cgroup",
                "rw," + ",".join(hierarchy.controllers),
                optional=(f"shared:{13 + i}",),
            )
        )
    mounts.append(
        m(
            41,
            31,
            (0, 38),
            "/sys/fs/cgroup/unified",
            "cgroup2",
            "cgroup2",
            "rw",
            optional=("shared:10",),
        )
    )
    mounts += [
        nsfs(50, BLUE_NET, "/run/netns/blue"),
        nsfs(51, NGINX_NS[NsType.NET], f"/run/docker/netns/{DOCKER_SANDBOX[NGINX_ID]}"),
        nsfs(52, REDIS_NS[NsType.NET], f"/run/docker/netns/{DOCKER_SANDBOX[REDIS_ID]}"),
        nsfs(53, PAUSE_NS[NsType.NET], f"/run/netns/{CNI_NETNS}"),
        docker_overlay(60, 50, "nginx"),
        docker_overlay(61, 51, "redis"),
        containerd_overlay(62, 52, PAUSE_ID, (3, 4)),
        containerd_overlay(63, 53, COREDNS_ID, (3, 11, 12, 13)),
        Mount(
            70,
            21,
            0,
            60,
            "/",
            f"/var/lib/kubelet/pods/{POD_UID}/volumes/kubernetes.io~projected/kube-api-access-7xq2m",
            "rw,relatime",
            (),
            "tmpfs",
            "tmpfs",
            "rw,size=174080k",
        ),
        Mount(
            80,
            21,
            7,
            3,
            "/",
            "/var/lib/machines/debian-dev",
            "rw,relatime",
            ("shared:30",),
            "ext4",
            "/dev/loop3",
            "rw",
        ),
    ]
    return tuple(mounts)


def build() -> Snapshot:
    """The recorded host as a Snapshot (pure: same result every call)."""
    processes = {p.pid: build_process(p) for p in PROCESSES}
    host = HostInfo(
        hostname="web-prod-01",
        kernel="6.1.0-18-amd64",
        boot_time=BOOT,
        ncpus=4,
        mem_total=8 * GIB,
        viewer_uid=0,
        is_root=True,
        host_ns=dict(HOST),
        host_ns_source="pid 1",
        cgroup_mode="hybrid",
    )
    return Snapshot(
        taken_at=TAKEN,
        host=host,
        processes=processes,
        namespaces=build_namespaces(processes),
        hierarchies=HIERARCHIES,
        cgroups=build_cgroups(processes),
        mounts=build_mounts(),
    )


def render() -> str:
    return json.dumps(snapshot_to_json(build()), indent=1) + "\n"


def main(argv: Sequence[str] = ()) -> int:
    target = Path(argv[0]) if argv else OUTPUT
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
