"""Every cgroup knob of v1 and v2 as data: file, meaning, value type, limits and ordering.

``knob_for(version, name)`` finds a knob by file name (hugetlb files are matched by pattern);
``validate(knob, text, ctx)`` is the only way to make a ``Validated`` value, and the writer
accepts nothing else. ``order_writes`` puts several values in an order the kernel accepts
(v1 memsw must stay >= limit) and refuses a combination that cannot work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from nstui.kernel.cgroups.cpu import parse_cpu_max
from nstui.kernel.cgroups.hugetlb import split_hugetlb_file
from nstui.kernel.cgroups.memory import parse_flat_keyed, parse_memory_value
from nstui.kernel.cgroups.pressure import parse_pressure
from nstui.kernel.cgroups.units import INT64_MAX, format_size
from nstui.kernel.cgroups.values import (
    BoolType,
    CfsQuotaType,
    ChoiceType,
    ClassIdType,
    Context,
    CpuListType,
    CpuMaxType,
    DeviceRuleType,
    DeviceValueType,
    IfPrioType,
    IntType,
    IoMaxType,
    PeriodType,
    ReadOnlyType,
    SizeType,
    SubtreeControlType,
    ValueType,
)


@dataclass(frozen=True, slots=True)
class Knob:
    file: str
    version: int  # 1 or 2
    controller: str  # "memory", "cpu"...; "cgroup" for the core files
    meaning: str
    vtype: ValueType
    writable: bool = True
    #: "memory", "pids" or "cpu": a limit that the effective (tightest ancestor) view covers
    limit_kind: str | None = None
    #: file whose value is the usage measured against this limit
    usage_file: str | None = None
    #: this knob must stay >= that one (v1 memsw >= limit); the editor orders writes
    at_least: str | None = None
    #: v2 memory.max/high: writing below usage succeeds and reclaims/OOM-kills: ask first
    confirm_below_usage: bool = False
    #: used by control actions (procs, kill, freeze), not listed among the tunable knobs
    control: bool = False

    @property
    def unlimited(self) -> str | None:
        return self.vtype.unlimited if self.writable else None

    def display(self, raw: str) -> str:
        return self.vtype.display(raw)


_SEAL = object()


@dataclass(frozen=True, slots=True)
class Validated:
    """A value checked against its knob: ``text`` is exactly what one write(2) sends.

    Only ``validate`` (and the control helpers through it) can build one.
    """

    knob: Knob
    text: str
    typed: str
    seal: object = field(repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.seal is not _SEAL:
            raise TypeError("Validated values come from knobs.validate(), not from callers")


def validate(knob: Knob, typed: str, ctx: Context) -> Validated:
    """Parse and check ``typed`` for ``knob``; ValueError with a message when refused."""
    if not knob.writable:
        raise ValueError(f"{knob.file} is read-only")
    text = knob.vtype.parse(typed, ctx)
    if not text or "\n" in text or "\x00" in text:
        # One value per write(2); an empty write would set some limits to 0.
        raise ValueError(f"{knob.file}: refusing to write {text!r}")
    return Validated(knob, text, typed.strip(), _SEAL)


def _show_size(raw: str) -> str:
    value = parse_memory_value(raw)
    return "max" if value is None else format_size(value)


def _size_number(raw: str) -> float | None:
    value = parse_memory_value(raw)
    return None if value is None else float(value)


def _show_keys(*keys: str) -> ReadOnlyType:
    """Summary of a flat-keyed file by a few of its keys."""

    def show(raw: str) -> str:
        fields = parse_flat_keyed(raw)
        return " ".join(f"{k}={fields[k]}" for k in keys if k in fields)

    return ReadOnlyType(show=show)


def _show_psi(raw: str) -> str:
    psi = parse_pressure(raw)
    full = f" full {psi.full.avg10:.2f}" if psi.full is not None else ""
    return f"some {psi.some.avg10:.2f}{full} (avg10 %)"


def _show_memory_stat(raw: str) -> str:
    fields = parse_flat_keyed(raw)
    keys = ("anon", "file", "rss", "cache", "shmem", "swap", "kernel")
    return " ".join(f"{k}={format_size(fields[k])}" for k in keys if k in fields)


def _int_number(raw: str) -> float | None:
    return float(int(raw.strip()))


SIZE_RO = ReadOnlyType(show=_show_size, numeric=_size_number, unit="bytes")
COUNT_RO = ReadOnlyType(numeric=_int_number)
PSI = ReadOnlyType(show=_show_psi)
MEMSTAT = ReadOnlyType(show=_show_memory_stat)
V1_SIZE = SizeType(unlimited_kernel="-1")
V2_SIZE = SizeType(unlimited_kernel="max")
PIDS_MAX = IntType(0, 1 << 22, step_by=1, unlimited_kernel="max")  # PID_MAX_LIMIT, else EINVAL
#: cgroup.max.depth/descendants take an int: above INT_MAX the kernel says ERANGE
DESCENDANTS_MAX = IntType(0, (1 << 31) - 1, step_by=1, unlimited_kernel="max")
BOOL = BoolType()
PID = IntType(1, (1 << 22), unit="pid")


def _k(file: str, version: int, meaning: str, vtype: ValueType, **kw: object) -> Knob:
    controller = file.split(".", 1)[0]
    return Knob(file, version, controller, meaning, vtype, **kw)  # type: ignore[arg-type]


PLAIN_RO = ReadOnlyType()


def _ro(file: str, version: int, meaning: str, vtype: ValueType = PLAIN_RO) -> Knob:
    return _k(file, version, meaning, vtype, writable=False)


# fmt: off
V1_KNOBS: tuple[Knob, ...] = (
    # cpu
    _k("cpu.cfs_quota_us", 1, "CPU time allowed per period (max, 50% of a CPU, 50ms)",
       CfsQuotaType(), limit_kind="cpu", usage_file="cpuacct.usage"),
    _k("cpu.cfs_period_us", 1, "length of the quota period (1ms..1s)", PeriodType()),
    _k("cpu.shares", 1, "relative CPU weight (kernel clamps to 2..262144)",
       IntType(0, (1 << 62), step_by=128)),
    _k("cpu.cfs_burst_us", 1, "unused quota that may be carried into a burst",
       IntType(0, INT64_MAX, step_by=1000, unit="us")),
    _k("cpu.idle", 1, "schedule as SCHED_IDLE (runs only when nothing else wants the CPU)", BOOL),
    _ro("cpu.stat", 1, "periods and throttling",
        _show_keys("nr_periods", "nr_throttled", "throttled_time")),
    # cpuacct
    _ro("cpuacct.usage", 1, "CPU time used (ns)", COUNT_RO),
    _ro("cpuacct.stat", 1, "user and system time (ticks)", _show_keys("user", "system")),
    _ro("cpuacct.usage_percpu", 1, "CPU time per CPU (ns)"),
    # cpuset
    _k("cpuset.cpus", 1, "CPUs the tasks may run on (0-3,6)", CpuListType()),
    _k("cpuset.mems", 1, "memory nodes the tasks may allocate from", CpuListType(nodes=True)),
    _k("cpuset.cpu_exclusive", 1, "no sibling may share these CPUs", BOOL),
    _k("cpuset.mem_exclusive", 1, "no sibling may share these memory nodes", BOOL),
    _k("cpuset.sched_load_balance", 1, "balance load across these CPUs", BOOL),
    _k("cpuset.memory_migrate", 1, "move pages when mems changes", BOOL),
    _ro("cpuset.effective_cpus", 1, "CPUs actually usable"),
    _ro("cpuset.effective_mems", 1, "memory nodes actually usable"),
    # memory
    _k("memory.limit_in_bytes", 1, "hard memory limit (below usage: EBUSY)", V1_SIZE,
       limit_kind="memory", usage_file="memory.usage_in_bytes"),
    _k("memory.soft_limit_in_bytes", 1, "reclaim down to this under global pressure", V1_SIZE,
       usage_file="memory.usage_in_bytes"),
    _k("memory.memsw.limit_in_bytes", 1, "memory+swap limit (must be >= limit_in_bytes)",
       V1_SIZE, usage_file="memory.memsw.usage_in_bytes", at_least="memory.limit_in_bytes"),
    _k("memory.swappiness", 1, "swap eagerness 0..100", IntType(0, 100, step_by=10)),
    _k("memory.oom_control", 1, "1 disables the OOM killer (tasks wait instead)", BOOL),
    _ro("memory.usage_in_bytes", 1, "memory in use", SIZE_RO),
    _ro("memory.max_usage_in_bytes", 1, "peak memory use", SIZE_RO),
    _ro("memory.memsw.usage_in_bytes", 1, "memory+swap in use", SIZE_RO),
    _ro("memory.failcnt", 1, "times the limit was hit", COUNT_RO),
    _ro("memory.stat", 1, "memory by kind", MEMSTAT),
    # pids
    _k("pids.max", 1, "most processes/threads allowed", PIDS_MAX, limit_kind="pids",
       usage_file="pids.current"),
    _ro("pids.current", 1, "processes/threads now", COUNT_RO),
    _ro("pids.events", 1, "forks refused by pids.max", _show_keys("max")),
    # blkio
    _k("blkio.weight", 1, "proportional I/O weight", IntType(1, 1000, step_by=50)),
    _k("blkio.bfq.weight", 1, "proportional I/O weight (bfq)", IntType(1, 1000, step_by=50)),
    _k("blkio.weight_device", 1, "per-device weight (8:0 500)",
       DeviceValueType(size=False, lo=1, hi=1000)),
    _k("blkio.throttle.read_bps_device", 1, "read bytes/s per device (8:0 10M; 0 removes)",
       DeviceValueType(size=True, lo=0, hi=INT64_MAX)),
    _k("blkio.throttle.write_bps_device", 1, "write bytes/s per device (0 removes)",
       DeviceValueType(size=True, lo=0, hi=INT64_MAX)),
    _k("blkio.throttle.read_iops_device", 1, "read I/Os per second per device (0 removes)",
       DeviceValueType(size=False, lo=0, hi=INT64_MAX)),
    _k("blkio.throttle.write_iops_device", 1, "write I/Os per second per device (0 removes)",
       DeviceValueType(size=False, lo=0, hi=INT64_MAX)),
    _ro("blkio.throttle.io_service_bytes", 1, "bytes read/written per device"),
    _ro("blkio.throttle.io_serviced", 1, "I/Os per device"),
    # devices
    _k("devices.allow", 1, "allow a device rule (c 1:3 rwm)", DeviceRuleType()),
    _k("devices.deny", 1, "deny a device rule (a denies all)", DeviceRuleType()),
    _ro("devices.list", 1, "device rules in force"),
    # freezer
    _k("freezer.state", 1, "FROZEN stops every task; THAWED resumes",
       ChoiceType(("THAWED", "FROZEN"))),
    _ro("freezer.self_freezing", 1, "frozen by this cgroup's own state"),
    _ro("freezer.parent_freezing", 1, "frozen because an ancestor is"),
    # net_cls / net_prio
    _k("net_cls.classid", 1, "tc class id of packets (10:1)", ClassIdType()),
    _k("net_prio.ifpriomap", 1, "priority of packets per interface (eth0 5)", IfPrioType()),
    _ro("net_prio.prioidx", 1, "index of this cgroup in the priority maps"),
    # membership files, written by control actions only
    _k("cgroup.procs", 1, "processes (one pid per write)", PID, control=True),
    _k("tasks", 1, "threads (one tid per write)", PID, control=True),
)

V2_KNOBS: tuple[Knob, ...] = (
    # core
    _k("cgroup.subtree_control", 2, "controllers enabled for children (+memory -io)",
       SubtreeControlType()),
    _ro("cgroup.controllers", 2, "controllers available here"),
    _k("cgroup.max.depth", 2, "deepest descendant allowed", DESCENDANTS_MAX),
    _k("cgroup.max.descendants", 2, "most descendants allowed", DESCENDANTS_MAX),
    _ro("cgroup.stat", 2, "descendants (dying ones too)",
        _show_keys("nr_descendants", "nr_dying_descendants")),
    _ro("cgroup.events", 2, "populated / frozen", _show_keys("populated", "frozen")),
    _k("cgroup.freeze", 2, "1 freezes every process in the subtree", BOOL),
    _ro("cgroup.pressure", 2, "PSI accounting switch"),
    _k("cgroup.kill", 2, "1 kills every process in the subtree", ChoiceType(("1",)),
       control=True),
    _k("cgroup.procs", 2, "processes (one pid per write)", PID, control=True),
    _k("cgroup.threads", 2, "threads (one tid per write)", PID, control=True),
    # cpu
    _k("cpu.max", 2, "CPU time per period (max, 50% of a CPU, 150%, QUOTA PERIOD)",
       CpuMaxType(), limit_kind="cpu", usage_file="cpu.stat"),
    _k("cpu.max.burst", 2, "unused quota that may be carried into a burst (us)",
       IntType(0, INT64_MAX, step_by=1000, unit="us")),
    _k("cpu.weight", 2, "relative CPU weight 1..10000 (default 100)",
       IntType(1, 10000, step_by=10)),
    _k("cpu.weight.nice", 2, "the same weight as a nice value -20..19", IntType(-20, 19)),
    _k("cpu.idle", 2, "schedule as SCHED_IDLE", BOOL),
    _ro("cpu.stat", 2, "CPU time and throttling",
        _show_keys("usage_usec", "nr_throttled", "throttled_usec")),
    _ro("cpu.pressure", 2, "CPU pressure", PSI),
    # cpuset
    _k("cpuset.cpus", 2, "CPUs the processes may run on (0-3,6)", CpuListType()),
    _k("cpuset.mems", 2, "memory nodes the processes may use", CpuListType(nodes=True)),
    _k("cpuset.cpus.partition", 2, "member, root or isolated scheduling partition",
       ChoiceType(("member", "root", "isolated"))),
    _ro("cpuset.cpus.effective", 2, "CPUs actually usable"),
    _ro("cpuset.mems.effective", 2, "memory nodes actually usable"),
    # memory
    _k("memory.max", 2, "hard limit: above it, reclaim then OOM-kill", V2_SIZE,
       limit_kind="memory", usage_file="memory.current", confirm_below_usage=True),
    _k("memory.high", 2, "throttle and reclaim above this", V2_SIZE,
       usage_file="memory.current", confirm_below_usage=True),
    _k("memory.low", 2, "best-effort protection from reclaim", V2_SIZE,
       usage_file="memory.current"),
    _k("memory.min", 2, "hard protection from reclaim", V2_SIZE, usage_file="memory.current"),
    _k("memory.swap.max", 2, "swap limit", V2_SIZE, usage_file="memory.swap.current"),
    _k("memory.swap.high", 2, "swap throttle point", V2_SIZE, usage_file="memory.swap.current"),
    _k("memory.zswap.max", 2, "compressed swap limit", V2_SIZE),
    _k("memory.oom.group", 2, "1: an OOM kill takes the whole cgroup", BOOL),
    _ro("memory.current", 2, "memory in use", SIZE_RO),
    _ro("memory.peak", 2, "peak memory use", SIZE_RO),
    _ro("memory.swap.current", 2, "swap in use", SIZE_RO),
    _ro("memory.events", 2, "limit hits and OOM kills",
        _show_keys("high", "max", "oom", "oom_kill")),
    _ro("memory.stat", 2, "memory by kind", MEMSTAT),
    _ro("memory.pressure", 2, "memory pressure", PSI),
    # pids
    _k("pids.max", 2, "most processes/threads allowed", PIDS_MAX, limit_kind="pids",
       usage_file="pids.current"),
    _ro("pids.current", 2, "processes/threads now", COUNT_RO),
    _ro("pids.peak", 2, "most processes/threads seen", COUNT_RO),
    _ro("pids.events", 2, "forks refused by pids.max", _show_keys("max")),
    # io
    _k("io.max", 2, "per-device limits (8:0 rbps=10M wiops=max)", IoMaxType()),
    _k("io.weight", 2, "proportional weight (default 100, or 8:0 200)",
       DeviceValueType(size=False, lo=1, hi=10000, allow_default=True)),
    _ro("io.stat", 2, "bytes and I/Os per device"),
    _ro("io.pressure", 2, "I/O pressure", PSI),
    _ro("irq.pressure", 2, "IRQ pressure", PSI),
)

# fmt: on

_TABLE: dict[tuple[int, str], Knob] = {(k.version, k.file): k for k in V1_KNOBS + V2_KNOBS}


def _hugetlb_knob(version: int, name: str) -> Knob | None:
    split = split_hugetlb_file(name)
    if split is None:
        return None
    size, rest = split
    if rest in ("limit_in_bytes", "max", "rsvd.limit_in_bytes", "rsvd.max"):
        usage = {
            "limit_in_bytes": "usage_in_bytes",
            "max": "current",
            "rsvd.limit_in_bytes": "rsvd.usage_in_bytes",
            "rsvd.max": "rsvd.current",
        }[rest]
        # v1 reads unlimited back as a huge number; writing -1 means unlimited on both.
        vtype = V1_SIZE if version == 1 else V2_SIZE
        return Knob(
            name,
            version,
            "hugetlb",
            f"limit of {size} huge pages (bytes)",
            vtype,
            usage_file=f"hugetlb.{size}.{usage}",
        )
    if rest in (
        "usage_in_bytes",
        "current",
        "max_usage_in_bytes",
        "rsvd.usage_in_bytes",
        "rsvd.current",
        "rsvd.max_usage_in_bytes",
    ):
        return Knob(name, version, "hugetlb", f"{size} huge pages in use", SIZE_RO, writable=False)
    if rest in ("failcnt", "rsvd.failcnt"):
        return Knob(name, version, "hugetlb", f"{size} limit hits", COUNT_RO, writable=False)
    if rest in ("events",):
        return Knob(
            name, version, "hugetlb", f"{size} limit hits", _show_keys("max"), writable=False
        )
    return None


def knob_for(version: int, name: str) -> Knob | None:
    """The knob of file ``name`` on a cgroup of this version, None when nstui does not know it."""
    return _TABLE.get((version, name)) or _hugetlb_knob(version, name)


def knobs_for_files(version: int, names: Iterable[str]) -> list[Knob]:
    """Knobs among the files present (so only existing knobs are shown), control files out."""
    out = [k for k in (knob_for(version, n) for n in names) if k is not None and not k.control]
    return sorted(out, key=lambda k: (k.controller, not k.writable, k.file))


def all_knobs() -> tuple[Knob, ...]:
    return V1_KNOBS + V2_KNOBS


class OrderError(ValueError):
    """A combination of values that the kernel would refuse whichever order they go in."""


def _bounded_by(knob: Knob) -> list[Knob]:
    """Knobs that must stay >= ``knob`` (memsw for the v1 memory limit)."""
    return [k for k in all_knobs() if k.version == knob.version and k.at_least == knob.file]


def order_writes(values: Sequence[Validated], ctx: Context) -> list[Validated]:
    """Order values so each write keeps the kernel's constraints (memsw >= limit).

    Raising both: the larger-bound knob first; lowering: the smaller first. A final state that
    breaks a constraint is refused before anything is written.
    """
    by_file = {v.knob.file: v for v in values}
    out = list(values)
    for value in values:
        for upper_knob in _bounded_by(value.knob):
            if upper_knob.file in by_file:
                continue  # checked from the upper side below
            upper_raw = ctx.read(upper_knob.file)
            new = value.knob.vtype.number(value.text)
            upper = upper_knob.vtype.number(upper_raw) if upper_raw is not None else None
            if upper is not None and (new is None or new > upper):
                shown = "max" if new is None else format_size(int(new))
                raise OrderError(
                    f"{value.knob.file} {shown} would exceed {upper_knob.file} "
                    f"{format_size(int(upper))}; set both (nstui orders the writes)"
                )
    for value in values:
        lower_file = value.knob.at_least
        if lower_file is None:
            continue
        upper_new = value.knob.vtype.number(value.text)
        lower = by_file.get(lower_file)
        lower_raw = lower.text if lower is not None else ctx.read(lower_file)
        lower_new = None
        if lower_raw is not None:
            lower_new = value.knob.vtype.number(lower_raw)
        if upper_new is not None and (lower_new is None or lower_new > upper_new):
            have = "max" if lower_new is None else format_size(int(lower_new))
            raise OrderError(
                f"{value.knob.file} {format_size(int(upper_new))} would be below "
                f"{lower_file} {have}; it must stay >= {lower_file}"
            )
        if lower is None:
            continue
        current_raw = ctx.read(value.knob.file)
        current = value.knob.vtype.number(current_raw) if current_raw is not None else None
        raising = upper_new is None or (current is not None and upper_new >= current)
        out.remove(value)
        at = out.index(lower)
        # raising: the bound (memsw) goes before the limit; lowering: after it
        out.insert(at if raising else at + 1, value)
    return out


def below_usage_warning(value: Validated, ctx: Context) -> str | None:
    """For v2 memory.max/high: a warning when the new limit is under current usage."""
    knob = value.knob
    if not knob.confirm_below_usage or knob.usage_file is None:
        return None
    new = knob.vtype.number(value.text)
    usage_raw = ctx.read(knob.usage_file)
    if new is None or usage_raw is None:
        return None
    try:
        usage = int(usage_raw.strip())
    except ValueError:
        return None
    if new >= usage:
        return None
    return (
        f"{knob.file} {format_size(int(new))} is below current usage {format_size(usage)}: "
        "the kernel accepts it, then reclaims memory and OOM-kills processes in this cgroup "
        "if it cannot"
    )


def cpu_limit_cpus(knob: Knob, raw: str, ctx: Context) -> float | None:
    """CPUs' worth of a cpu limit (v2 cpu.max text or v1 quota with the period from ctx)."""
    if knob.version == 2:
        try:
            return parse_cpu_max(raw).cpus
        except ValueError:
            return None
    quota = knob.vtype.number(raw)
    period_raw = ctx.read("cpu.cfs_period_us")
    if quota is None or period_raw is None or not period_raw.strip().isdecimal():
        return None
    period = int(period_raw)
    return quota / period if period > 0 else None  # the kernel never shows 0; a guard all the same
