"""Device-mapper devices, read-only: name, size, table targets, and who mounts them.

From ``/sys/block/dm-*/`` (``dev``, ``size`` in 512-byte sectors, ``ro``, ``dm/name``,
``dm/uuid``, ``dm/suspended``, ``slaves/``) and, where the tool exists, ``dmsetup table``
(run as an argv list, never through a shell) for the targets: linear, striped, thin,
thin-pool, snapshot, crypt... What is mounted from a device is found by its major:minor in
the mountinfo of every mount namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from nstui.kernel.nstypes import NsId
from nstui.kernel.union_mounts import MountScan

NONE_HERE = "no device-mapper devices on this host"


@dataclass(frozen=True, slots=True)
class DmTarget:
    start: int  # sectors
    length: int  # sectors
    type: str  # linear, thin, snapshot...
    args: str  # the rest of the table line (underlying devices, offsets)


@dataclass(frozen=True, slots=True)
class DmMountRef:
    """A mount of a dm device in one mount namespace."""

    ns: NsId
    ns_label: str
    mountpoint: str
    fstype: str
    pids: tuple[int, ...]  # processes of that mount namespace


@dataclass(frozen=True, slots=True)
class DmDevice:
    kname: str  # dm-0
    name: str  # /dev/mapper/NAME
    uuid: str
    major: int
    minor: int
    size: int  # bytes
    read_only: bool
    suspended: bool
    slaves: tuple[str, ...]  # underlying block devices (kernel names)
    targets: tuple[DmTarget, ...] = ()
    mounts: tuple[DmMountRef, ...] = ()

    @property
    def target_types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.type for t in self.targets))


@dataclass(frozen=True, slots=True)
class DmReport:
    devices: tuple[DmDevice, ...]
    #: why the list is empty or incomplete ("no device-mapper devices on this host"...)
    notes: tuple[str, ...] = ()


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def parse_dmsetup_table(text: str) -> dict[str, tuple[DmTarget, ...]]:
    """Parse ``dmsetup table`` (all devices) output: ``NAME: START LENGTH TYPE ARGS`` per
    line, several lines for a device with several targets. ``No devices found`` and
    malformed lines give nothing."""
    tables: dict[str, list[DmTarget]] = {}
    for line in text.splitlines():
        name, sep, rest = line.rpartition(": ")
        if not sep:
            continue
        fields = rest.split(maxsplit=3)
        if len(fields) < 3 or not fields[0].isdecimal() or not fields[1].isdecimal():
            continue
        args = fields[3] if len(fields) > 3 else ""
        tables.setdefault(name, []).append(
            DmTarget(start=int(fields[0]), length=int(fields[1]), type=fields[2], args=args)
        )
    return {name: tuple(targets) for name, targets in tables.items()}


def run_dmsetup_table(timeout: float = 5.0) -> tuple[str | None, str | None]:
    """(output, None) from ``dmsetup table``, or (None, reason) when it cannot run."""
    tool = shutil.which("dmsetup")
    if tool is None:
        return None, "dmsetup is not installed: targets not shown"
    try:
        done = subprocess.run(
            [tool, "table"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"dmsetup table failed: {exc}"
    if done.returncode != 0:
        err = done.stderr.strip().splitlines()
        return None, f"dmsetup table: {err[-1] if err else f'exit status {done.returncode}'}"
    return done.stdout, None


def read_dm_devices(sys_block: str = "/sys/block") -> list[DmDevice]:
    """Every dm-* block device under SYS_BLOCK, sorted by minor."""
    try:
        names = [n for n in os.listdir(sys_block) if n.startswith("dm-")]
    except OSError:
        return []
    devices: list[DmDevice] = []
    for kname in names:
        base = os.path.join(sys_block, kname)
        dev = _read(os.path.join(base, "dev")) or ""
        major_s, _, minor_s = dev.partition(":")
        if not (major_s.isdecimal() and minor_s.isdecimal()):
            continue
        size_s = _read(os.path.join(base, "size")) or "0"
        try:
            slaves = tuple(sorted(os.listdir(os.path.join(base, "slaves"))))
        except OSError:
            slaves = ()
        devices.append(
            DmDevice(
                kname=kname,
                name=_read(os.path.join(base, "dm", "name")) or kname,
                uuid=_read(os.path.join(base, "dm", "uuid")) or "",
                major=int(major_s),
                minor=int(minor_s),
                size=int(size_s) * 512 if size_s.isdecimal() else 0,
                read_only=_read(os.path.join(base, "ro")) == "1",
                suspended=_read(os.path.join(base, "dm", "suspended")) == "1",
                slaves=slaves,
            )
        )
    return sorted(devices, key=lambda d: d.minor)


def device_mapper_in_kernel(proc: str = "/proc") -> bool:
    text = _read(os.path.join(proc, "misc")) or ""
    return any(line.split()[-1:] == ["device-mapper"] for line in text.splitlines())


def _mounts_of(dev: DmDevice, scan: MountScan | None) -> tuple[DmMountRef, ...]:
    if scan is None:
        return ()
    refs: list[DmMountRef] = []
    for ns in scan.namespaces:
        for mount in ns.mounts:
            if (mount.major, mount.minor) == (dev.major, dev.minor):
                refs.append(DmMountRef(ns.ns, ns.label, mount.mountpoint, mount.fstype, ns.pids))
    return tuple(refs)


def dm_report(
    scan: MountScan | None = None,
    sys_block: str = "/sys/block",
    proc: str = "/proc",
    table_text: str | None = None,
    run_tool: bool = True,
) -> DmReport:
    """All dm devices with their targets and mounts. ``table_text`` replaces running
    ``dmsetup table`` (recorded output in tests)."""
    devices = read_dm_devices(sys_block)
    notes: list[str] = []
    if not devices:
        why = "" if device_mapper_in_kernel(proc) else " (device-mapper is not in this kernel)"
        return DmReport(devices=(), notes=(NONE_HERE + why,))
    if table_text is None and run_tool:
        table_text, problem = run_dmsetup_table()
        if problem:
            notes.append(problem)
    tables = parse_dmsetup_table(table_text) if table_text else {}
    out: list[DmDevice] = []
    for dev in devices:
        targets = tables.get(dev.name, ())
        out.append(
            DmDevice(
                kname=dev.kname,
                name=dev.name,
                uuid=dev.uuid,
                major=dev.major,
                minor=dev.minor,
                size=dev.size,
                read_only=dev.read_only,
                suspended=dev.suspended,
                slaves=dev.slaves,
                targets=targets,
                mounts=_mounts_of(dev, scan),
            )
        )
    return DmReport(devices=tuple(out), notes=tuple(notes))


def format_size(size: int, units: Sequence[str] = ("B", "K", "M", "G", "T", "P")) -> str:
    """Human size as lsblk prints it (1024 steps, one decimal)."""
    value = float(size)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{size}B"
