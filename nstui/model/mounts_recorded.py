"""A recorded mounts state (docker host with two containers, a podman container and a
hand-made overlay) and mount actions that replay it: for UI tests and screenshots, never
live data. Changing the host is refused with a message, as a read-only recording should."""

from __future__ import annotations

from dataclasses import dataclass, field

from nstui.kernel.devmapper import DmReport
from nstui.kernel.layers import ChangeSet, Layer, LayerStack, MergedEntry
from nstui.kernel.mount_users import MountUser
from nstui.kernel.mountinfo import parse_mountinfo
from nstui.kernel.nstypes import NsId, NsType
from nstui.kernel.runtime_layers import LayerLabel
from nstui.kernel.union_mounts import MountNamespace, MountScan, UnionMount, union_mounts_of
from nstui.model.mount_actions import MountOutcome, MountsState, OverlaySpec

DOCKER = "/var/lib/docker/overlay2"
WEB = "3f1c0de5a1b2"
DB = "9a7e41bb0c3d"

HOST_MOUNTINFO = f"""\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
25 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=4012345k,mode=755
26 22 0:24 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw,mode=755
27 22 0:25 / /tmp rw,nosuid,nodev shared:14 - tmpfs tmpfs rw
201 22 0:50 / {DOCKER}/{WEB}/merged rw,relatime shared:101 - overlay overlay \
rw,lowerdir={DOCKER}/l/WEBINIT:{DOCKER}/l/NGINX3:{DOCKER}/l/NGINX2:{DOCKER}/l/DEBIAN1,\
upperdir={DOCKER}/{WEB}/diff,workdir={DOCKER}/{WEB}/work,nouserxattr
202 22 0:51 / {DOCKER}/{DB}/merged rw,relatime shared:102 - overlay overlay \
rw,lowerdir={DOCKER}/l/DBINIT:{DOCKER}/l/PG1:{DOCKER}/l/DEBIAN1,\
upperdir={DOCKER}/{DB}/diff,workdir={DOCKER}/{DB}/work,nouserxattr
210 27 0:60 / /tmp/demo/merged rw,relatime - overlay none \
rw,lowerdir+=/tmp/demo/app\\040layer,lowerdir+=/tmp/demo/base,\
upperdir=/tmp/demo/upper,workdir=/tmp/demo/work,index=on,redirect_dir=on,metacopy=on
"""

WEB_MOUNTINFO = f"""\
700 650 0:50 / / rw,relatime master:101 - overlay overlay \
rw,lowerdir={DOCKER}/l/WEBINIT:{DOCKER}/l/NGINX3:{DOCKER}/l/NGINX2:{DOCKER}/l/DEBIAN1,\
upperdir={DOCKER}/{WEB}/diff,workdir={DOCKER}/{WEB}/work,nouserxattr
701 700 0:70 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
702 700 0:71 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
"""

PODMAN_MOUNTINFO = """\
800 790 0:80 / / rw,relatime - overlay overlay \
rw,lowerdir=/var/lib/containers/storage/overlay/l/ALPINE1,\
upperdir=/var/lib/containers/storage/overlay/5d2c/diff,\
workdir=/var/lib/containers/storage/overlay/5d2c/work,userxattr
801 800 0:81 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
"""

HOST_NS = NsId(NsType.MNT, 4, 4026531841)
WEB_NS = NsId(NsType.MNT, 4, 4026532310)
PODMAN_NS = NsId(NsType.MNT, 4, 4026532411)


def _labels() -> dict[str, LayerLabel]:
    nginx = "nginx:1.25"
    return {
        f"{DOCKER}/l/WEBINIT": LayerLabel("docker", "init layer", "web", WEB),
        f"{DOCKER}/l/NGINX3": LayerLabel("docker", "image layer", nginx, "layer 3 of 3"),
        f"{DOCKER}/l/NGINX2": LayerLabel("docker", "image layer", nginx, "layer 2 of 3"),
        f"{DOCKER}/l/DEBIAN1": LayerLabel(
            "docker", "image layer", "nginx:1.25, postgres:16", "layer 1 of 3"
        ),
        f"{DOCKER}/{WEB}/diff": LayerLabel("docker", "container layer", "web", WEB),
        f"{DOCKER}/{WEB}/merged": LayerLabel("docker", "container rootfs", "web", WEB),
        f"{DOCKER}/l/DBINIT": LayerLabel("docker", "init layer", "db", DB),
        f"{DOCKER}/l/PG1": LayerLabel("docker", "image layer", "postgres:16", "layer 2 of 2"),
        f"{DOCKER}/{DB}/diff": LayerLabel("docker", "container layer", "db", DB),
        f"{DOCKER}/{DB}/merged": LayerLabel("docker", "container rootfs", "db", DB),
    }


def recorded_mounts_state() -> MountsState:
    host = MountNamespace(
        ns=HOST_NS,
        pids=(1, 512, 640, 1201),
        read_via=512,
        mounts=tuple(parse_mountinfo(HOST_MOUNTINFO)),
        label="systemd",
        is_own=True,
    )
    web = MountNamespace(
        ns=WEB_NS,
        pids=(1250, 1252, 1253),
        read_via=1250,
        mounts=tuple(parse_mountinfo(WEB_MOUNTINFO)),
        label="nginx",
    )
    podman = MountNamespace(
        ns=PODMAN_NS,
        pids=(2301,),
        read_via=2301,
        mounts=tuple(parse_mountinfo(PODMAN_MOUNTINFO)),
        label="sh",
    )
    scan = MountScan(namespaces=(host, web, podman))
    unions = tuple(u for ns in scan.namespaces for u in union_mounts_of(ns))
    return MountsState(
        taken_at=1_700_000_000.0,
        scan=scan,
        unions=unions,
        labels=_labels(),
        containers={str(WEB_NS): "docker:web", str(PODMAN_NS): "podman:5d2c"},
        dm=DmReport(devices=(), notes=("no device-mapper devices on this host",)),
        aufs_note="aufs is not available in this kernel: /proc/filesystems does not list it",
    )


@dataclass
class RecordedMountActions:
    """Replays ``recorded_mounts_state()``; the demo overlay has a small recorded tree."""

    state: MountsState = field(default_factory=recorded_mounts_state)
    #: mount/umount requests received (tests check what the UI asked for)
    requests: list[tuple[str, object]] = field(default_factory=list)

    def read_state(self) -> MountsState:
        return self.state

    def layer_stack(self, union: UnionMount) -> LayerStack:
        layers: list[Layer] = []
        if union.upper:
            layers.append(Layer("upper", 0, union.upper, union.upper))
        for i, path in enumerate(union.layers, start=1):
            layers.append(Layer("lower", i, path, path))
        return LayerStack(tuple(layers))

    def list_merged(self, union: UnionMount, rel: str = "") -> list[MergedEntry]:
        stack = self.layer_stack(union)
        if rel or len(stack.layers) < 3:
            return []
        upper, top, base = stack.layers[0], stack.layers[1], stack.layers[2]
        return [
            MergedEntry("app.conf", "app.conf", "file", upper, hides=(top,), copied_up=True),
            MergedEntry("bin", "bin", "dir", base, merged_from=(base,)),
            MergedEntry("cache", "cache", "dir", upper, hides=(top,), opaque=True),
            MergedEntry("old.log", "old.log", "whiteout", upper, hides=(base,)),
        ]

    def change_set(self, union: UnionMount) -> ChangeSet:
        stack = self.layer_stack(union)
        return ChangeSet(upper=stack.upper, note="recorded state: no live layers")

    def users(self, union: UnionMount) -> tuple[MountUser, ...]:
        return tuple(MountUser(pid, "nginx", ("root",)) for pid in union.namespace.pids[:2])

    def mount_overlay(
        self, spec: OverlaySpec, in_pid: int | None = None, layers_here: bool = False
    ) -> MountOutcome:
        self.requests.append(("mount", (spec, in_pid, layers_here)))
        return MountOutcome(False, "recorded state: mounting is not possible", spec.target)

    def umount(self, target: str, lazy: bool = False, in_pid: int | None = None) -> MountOutcome:
        self.requests.append(("umount", (target, lazy, in_pid)))
        return MountOutcome(False, "recorded state: unmounting is not possible", target)
