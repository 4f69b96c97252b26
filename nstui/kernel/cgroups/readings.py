"""One read of a cgroup: every knob present with its value, usage and effective limit, a usage
sample (for gauges and sparklines) and the member processes. Blocking: call from a worker.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass

from nstui.kernel.cgroups import io
from nstui.kernel.cgroups.cpu import parse_cpu_max
from nstui.kernel.cgroups.effective import Effective, effective_limit
from nstui.kernel.cgroups.freezer import FreezeState, parse_v1_state, v2_state
from nstui.kernel.cgroups.knobs import Knob, cpu_limit_cpus, knobs_for_files
from nstui.kernel.cgroups.memory import parse_flat_keyed, parse_memory_value
from nstui.kernel.cgroups.paths import CgroupDir, CgroupRef
from nstui.kernel.cgroups.pressure import parse_pressure
from nstui.kernel.cgroups.units import format_size


@dataclass(frozen=True, slots=True)
class KnobReading:
    knob: Knob
    raw: str | None  # file content stripped; None when unreadable
    display: str
    usage: str | None = None  # display of the usage measured against this limit
    usage_number: float | None = None
    limit_number: float | None = None  # for gauges (bytes, count, CPUs)
    effective: Effective | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class UsageSample:
    """Counters at one moment; rates come from two samples."""

    at: float  # time.monotonic()
    memory: int | None = None  # bytes in use
    memory_limit: int | None = None
    cpu_usec: int | None = None  # cumulative CPU time
    cpu_limit: float | None = None  # CPUs' worth of quota
    pids: int | None = None
    pids_limit: int | None = None
    io_read: int | None = None  # cumulative bytes over all devices
    io_write: int | None = None
    io_devices: tuple[tuple[str, int, int], ...] = ()  # (MAJ:MIN, rbytes, wbytes)
    oom_kills: int | None = None
    throttled: int | None = None  # nr_throttled
    psi: tuple[tuple[str, float, float | None], ...] = ()  # (resource, some avg10, full)


@dataclass(frozen=True, slots=True)
class Member:
    pid: int
    comm: str
    threads: int
    cpu_ticks: int  # utime + stime, clock ticks
    rss: int  # bytes


@dataclass(frozen=True, slots=True)
class CgroupReading:
    spec: str
    version: int
    controllers: tuple[str, ...]
    knobs: tuple[KnobReading, ...]
    sample: UsageSample
    members: tuple[Member, ...]
    tids: tuple[int, ...]
    freeze: FreezeState | None
    subtree_control: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    is_root: bool = False
    hid: int = 0
    #: every thread (tasks / cgroup.threads) as its own row; /proc/TID/stat per thread
    threads: tuple[Member, ...] = ()
    #: processes in cgroup.procs; ``members`` lists only the first ``members_limit`` of them
    nprocs: int = 0


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _field(text: str | None, key: str) -> int | None:
    """KEY's value in a ``key value`` file (cpu.stat, memory.events...); None when the file is
    missing or does not parse (a reading shows what it can rather than failing)."""
    if not text:
        return None
    try:
        return parse_flat_keyed(text).get(key)
    except ValueError:
        return None


def _ids(text: str | None) -> list[int]:
    """Pids or tids of cgroup.procs / tasks / cgroup.threads, sorted; non-numbers skipped."""
    return sorted({int(w) for w in (text or "").split() if w.isdecimal()})


def _knob_reading(ref: CgroupRef, knob: Knob, directory: CgroupDir) -> KnobReading:
    try:
        raw = directory.read_raw(knob.file).strip()
    except OSError as exc:
        if knob.writable and exc.errno in (errno.EINVAL, errno.EACCES, errno.EPERM):
            # write-only files (devices.allow/deny): nothing to show, still writable
            return KnobReading(knob, None, "(write-only)")
        return KnobReading(knob, None, "(unreadable)", error=exc.strerror or str(exc))
    display = knob.display(raw)
    usage: str | None = None
    usage_number: float | None = None
    limit_number: float | None = None
    if knob.usage_file is not None:
        usage_raw = directory.read(knob.usage_file)
        if usage_raw is not None:
            if knob.usage_file in ("cpu.stat",):
                usec = _field(usage_raw, "usage_usec")
                usage_number = None if usec is None else float(usec)
                usage = None if usec is None else f"{usec / 1e6:.1f} s total"
            elif knob.usage_file == "cpuacct.usage":
                ns = _int(usage_raw)
                usage_number = None if ns is None else ns / 1000
                usage = None if ns is None else f"{ns / 1e9:.1f} s total"
            else:
                try:
                    value = parse_memory_value(usage_raw)
                except ValueError:
                    value = None
                usage_number = None if value is None else float(value)
                usage = None if value is None else _usage_text(knob, value)
    if knob.limit_kind == "cpu":
        limit_number = cpu_limit_cpus(knob, raw, directory)
    elif knob.writable:
        limit_number = knob.vtype.number(raw)
    effective = effective_limit(ref, knob) if knob.limit_kind else None
    return KnobReading(
        knob,
        raw,
        display,
        usage,
        usage_number,
        limit_number,
        effective,
    )


def _usage_text(knob: Knob, value: int) -> str:
    if knob.limit_kind == "pids":
        return str(value)
    return format_size(value)


def read_sample(directory: CgroupDir, version: int) -> UsageSample:
    if version == 2:
        memory = _int(directory.read("memory.current"))
        limit_raw = directory.read("memory.max")
        stat = directory.read("cpu.stat")
        cpu_usec = _field(stat, "usage_usec")
        throttled = _field(stat, "nr_throttled")
        oom = _field(directory.read("memory.events"), "oom_kill")
        cpu_max = directory.read("cpu.max")
        cpu_limit = None
        if cpu_max is not None:
            try:
                cpu_limit = parse_cpu_max(cpu_max).cpus
            except ValueError:
                cpu_limit = None
        devices: list[tuple[str, int, int]] = []
        io_stat = directory.read("io.stat")
        if io_stat:
            try:
                for dev, fields in io.parse_io_stat(io_stat).items():
                    devices.append((dev, fields.get("rbytes", 0), fields.get("wbytes", 0)))
            except ValueError:
                devices = []
    else:
        memory = _int(directory.read("memory.usage_in_bytes"))
        limit_raw = directory.read("memory.limit_in_bytes")
        usage_ns = _int(directory.read("cpuacct.usage"))
        cpu_usec = None if usage_ns is None else usage_ns // 1000
        throttled = _field(directory.read("cpu.stat"), "nr_throttled")
        oom = _field(directory.read("memory.oom_control"), "oom_kill")
        quota = _int(directory.read("cpu.cfs_quota_us"))
        period = _int(directory.read("cpu.cfs_period_us"))
        cpu_limit = quota / period if quota is not None and quota > 0 and period else None
        devices = []
        service = directory.read("blkio.throttle.io_service_bytes")
        if service:
            try:
                for dev, fields in io.parse_blkio_service(service).items():
                    devices.append((dev, fields.get("read", 0), fields.get("write", 0)))
            except ValueError:
                devices = []
    try:
        memory_limit = parse_memory_value(limit_raw) if limit_raw is not None else None
    except ValueError:
        memory_limit = None
    pids_limit_raw = directory.read("pids.max")
    psi: list[tuple[str, float, float | None]] = []
    for resource in ("cpu", "memory", "io"):
        text = directory.read(f"{resource}.pressure")
        if text is None:
            continue
        try:
            pressure = parse_pressure(text)
        except ValueError:
            continue
        full = pressure.full.avg10 if pressure.full is not None else None
        psi.append((resource, pressure.some.avg10, full))
    return UsageSample(
        at=time.monotonic(),
        memory=memory,
        memory_limit=memory_limit,
        cpu_usec=cpu_usec,
        cpu_limit=cpu_limit,
        pids=_int(directory.read("pids.current")),
        pids_limit=_int(pids_limit_raw),
        io_read=sum(d[1] for d in devices) if devices else None,
        io_write=sum(d[2] for d in devices) if devices else None,
        io_devices=tuple(devices),
        oom_kills=oom,
        throttled=throttled,
        psi=tuple(psi),
    )


def _member(pid: int) -> Member | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None  # exited: normal
    head, _, tail = stat.rpartition(")")
    comm = head.partition("(")[2]
    fields = tail.split()
    try:
        ticks = int(fields[11]) + int(fields[12])
        threads = int(fields[17])
        rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    except (IndexError, ValueError):
        return None
    return Member(pid, comm, threads, ticks, rss)


def _freeze_state(directory: CgroupDir, version: int) -> FreezeState | None:
    """None where there is no freezer (v1 without it, a v2 root) or its files do not parse."""
    try:
        if version == 2:
            asked, events = directory.read("cgroup.freeze"), directory.read("cgroup.events")
            return None if asked is None or events is None else v2_state(asked, events)
        state = directory.read("freezer.state")
        return None if state is None else parse_v1_state(state)
    except ValueError:
        return None


def read_cgroup(ref: CgroupRef, *, members_limit: int = 500) -> CgroupReading:
    """Read REF once. Raises CgroupGone when it vanished."""
    with CgroupDir(ref) as directory:
        files = directory.files()
        knobs = tuple(
            _knob_reading(ref, knob, directory) for knob in knobs_for_files(ref.version, files)
        )
        sample = read_sample(directory, ref.version)
        procs = _ids(directory.read("cgroup.procs"))
        tids = tuple(_ids(directory.read("tasks" if ref.version == 1 else "cgroup.threads")))
        if ref.version == 2:
            controllers = tuple((directory.read("cgroup.controllers") or "").split())
            subtree = tuple((directory.read("cgroup.subtree_control") or "").split())
        else:
            controllers = ref.hierarchy.controllers
            subtree = ()
        freeze = _freeze_state(directory, ref.version)
        children = tuple(directory.children())
    members = tuple(m for m in (_member(pid) for pid in procs[:members_limit]) if m is not None)
    threads = tuple(m for m in (_member(tid) for tid in tids[:members_limit]) if m is not None)
    return CgroupReading(
        spec=ref.spec,
        version=ref.version,
        controllers=controllers,
        knobs=knobs,
        sample=sample,
        members=members,
        tids=tids,
        freeze=freeze,
        subtree_control=subtree,
        children=children,
        is_root=ref.is_root,
        hid=ref.hid,
        threads=threads,
        nprocs=len(procs),
    )
