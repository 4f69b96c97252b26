"""A real device-mapper device (linear over a loop device), where the kernel has
device-mapper: listed with its table target and the mount made from it. This host's kernel
has no device-mapper (the recorded tree in test_devmapper.py covers the parser here); the
pure-v2 guest (tools/v2vm, Debian 6.1 kernel) loads dm_mod and runs this for real."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability.kobjects import MountTracker

from nstui.kernel import syscalls
from nstui.kernel.devmapper import device_mapper_in_kernel, dm_report
from nstui.kernel.union_mounts import scan_mount_namespaces

pytestmark = pytest.mark.root


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=30)


def _dm_available() -> bool:
    if not device_mapper_in_kernel():
        modprobe = shutil.which("modprobe") or "/usr/sbin/modprobe"
        if os.path.exists(modprobe):
            _run(modprobe, "dm_mod")
            _run(modprobe, "loop")
    return device_mapper_in_kernel() and shutil.which("dmsetup") is not None


@pytest.fixture
def dm_device(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(dm name, /dev/mapper path) of a 4 MiB linear device; removed at teardown."""
    if not _dm_available():
        pytest.skip("device-mapper is not in this kernel (/proc/misc); see test_devmapper.py")
    backing = tmp_path / "disk.img"
    with open(backing, "wb") as f:
        f.truncate(4 << 20)
    loop = _run("losetup", "--find", "--show", str(backing)).stdout.strip()
    assert loop.startswith("/dev/loop"), "losetup failed"
    name = f"nstui-test-{uuid.uuid4().hex[:8]}"
    try:
        made = _run("dmsetup", "create", name, "--table", f"0 8192 linear {loop} 0")
        assert made.returncode == 0, made.stderr
        _run("dmsetup", "mknodes", name)  # no udev in minimal systems
        yield name, f"/dev/mapper/{name}"
    finally:
        _run("dmsetup", "remove", "--retry", name)
        _run("losetup", "-d", loop)


def test_linear_device_and_its_mount(dm_device: tuple[str, str], tmp_mount: MountTracker) -> None:
    name, node = dm_device
    mkfs = _run("mkfs.ext4", "-q", "-F", node)
    assert mkfs.returncode == 0, mkfs.stderr
    target = tmp_mount.dir("dm")
    if "ext4" not in Path("/proc/filesystems").read_text().split():
        _run(shutil.which("modprobe") or "/usr/sbin/modprobe", "ext4")  # minimal guests
    syscalls.mount(node, str(target), "ext4", syscalls.MS_RDONLY)
    report = dm_report(scan_mount_namespaces())
    mine = [d for d in report.devices if d.name == name]
    assert len(mine) == 1
    dev = mine[0]
    assert dev.size == 4 << 20
    assert dev.target_types == ("linear",) and dev.targets[0].length == 8192
    assert [m.mountpoint for m in dev.mounts] == [str(target)]
    with contextlib.suppress(OSError):
        syscalls.umount2(str(target))
