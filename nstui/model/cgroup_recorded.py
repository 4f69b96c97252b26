"""CgroupActions over a recorded snapshot, for screenshots and UI tests: deterministic
readings built from the knob table and the snapshot's members, and no change to any host.

The values are fixed examples (a 512M memory limit, half a CPU, 64 pids...) chosen to show
every part of the limits pane; usage comes from the recorded processes. Every change is
refused with the reason, as it is without root on a live host.
"""

from __future__ import annotations

import itertools
from typing import Any, NoReturn

from nstui.kernel.cgroups.audit import AuditEntry
from nstui.kernel.cgroups.control import ControlResult
from nstui.kernel.cgroups.editor import UndoOutcome
from nstui.kernel.cgroups.effective import Effective
from nstui.kernel.cgroups.freezer import FreezeState
from nstui.kernel.cgroups.hierarchy import Hierarchy
from nstui.kernel.cgroups.knobs import Knob, all_knobs, cpu_limit_cpus
from nstui.kernel.cgroups.readings import CgroupReading, KnobReading, Member, UsageSample
from nstui.kernel.cgroups.units import format_size
from nstui.kernel.cgroups.writer import WriteResult
from nstui.model.cgroup_actions import CgroupActionError
from nstui.model.snapshot import Snapshot

MIB = 1 << 20
READ_ONLY = "recorded snapshot: showing recorded values, nothing on this host is changed"

#: Example file contents per knob file (v1 and v2 share names where they can).
VALUES: dict[str, str] = {
    "memory.max": str(512 * MIB),
    "memory.high": str(448 * MIB),
    "memory.low": "0",
    "memory.min": "0",
    "memory.swap.max": "0",
    "memory.oom.group": "1",
    "memory.current": str(187 * MIB),
    "memory.peak": str(301 * MIB),
    "memory.events": "low 0\nhigh 12\nmax 3\noom 1\noom_kill 1\n",
    "memory.stat": f"anon {150 * MIB}\nfile {30 * MIB}\nkernel {7 * MIB}\nshmem {MIB}\n",
    "memory.pressure": "some avg10=1.25 avg60=0.80 avg300=0.20 total=912345\n"
    "full avg10=0.40 avg60=0.10 avg300=0.02 total=123456\n",
    "memory.limit_in_bytes": str(512 * MIB),
    "memory.soft_limit_in_bytes": "9223372036854771712",
    "memory.memsw.limit_in_bytes": str(768 * MIB),
    "memory.swappiness": "60",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
    "memory.usage_in_bytes": str(187 * MIB),
    "memory.max_usage_in_bytes": str(301 * MIB),
    "memory.failcnt": "3",
    "cpu.max": "50000 100000",
    "cpu.weight": "100",
    "cpu.weight.nice": "0",
    "cpu.stat": "usage_usec 81234567\nuser_usec 60000000\nsystem_usec 21234567\n"
    "nr_periods 5120\nnr_throttled 311\nthrottled_usec 9876543\n",
    "cpu.pressure": "some avg10=4.10 avg60=3.00 avg300=1.10 total=4567890\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    "cpu.cfs_quota_us": "50000",
    "cpu.cfs_period_us": "100000",
    "cpu.shares": "1024",
    "cpuacct.usage": "81234567000",
    "cpuacct.stat": "user 6000\nsystem 2123\n",
    "pids.max": "64",
    "pids.current": "7",
    "pids.events": "max 0\n",
    "io.max": "8:0 rbps=10485760 wbps=max riops=max wiops=200",
    "io.weight": "default 100",
    "io.stat": "8:0 rbytes=7340032 wbytes=1048576 rios=180 wios=40 dbytes=0 dios=0\n",
    "io.pressure": "some avg10=0.00 avg60=0.00 avg300=0.00 total=1000\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=500\n",
    "cpuset.cpus": "0-1",
    "cpuset.mems": "0",
    "cgroup.freeze": "0",
    "cgroup.max.depth": "max",
    "cgroup.max.descendants": "max",
    "cgroup.subtree_control": "",
    "freezer.state": "THAWED",
    "devices.list": "c 1:3 rwm\nc 1:5 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 136:* rwm\n",
}

#: The parent's limits, so the effective column shows an ancestor's tighter value.
PARENT_LIMITS = {"memory": (400 * MIB, "/docker"), "pids": (1024.0, "/docker")}


class RecordedCgroupActions:
    """CgroupActions for a recorded snapshot (see module doc). Accepts and ignores options."""

    def __init__(self, snapshot: Snapshot, **_options: Any) -> None:
        self.snapshot = snapshot
        self._clock = itertools.count()

    def hierarchies(self) -> tuple[Hierarchy, ...]:
        return self.snapshot.hierarchies

    def edit_unavailable(self) -> str | None:
        return READ_ONLY

    def _hierarchy(self, hid: int) -> Hierarchy:
        for h in self.snapshot.hierarchies:
            if h.hid == hid:
                return h
        raise CgroupActionError(f"no hierarchy {hid} in the recorded snapshot")

    def read(self, hid: int, path: str) -> tuple[CgroupReading, ...]:
        first = self._read_one(hid, path)
        if first.version == 2:
            return (first,)
        # as live: the same path in the other v1 hierarchies
        others = tuple(
            self._read_one(h.hid, path)
            for h in self.snapshot.hierarchies
            if h.version == 1
            and h.hid != hid
            and not h.controllers[0].startswith("name=")
            and (h.hid, path) in self.snapshot.cgroups
        )
        return (first, *others)

    def _read_one(self, hid: int, path: str) -> CgroupReading:
        h = self._hierarchy(hid)
        cgroup = self.snapshot.cgroups.get((hid, path))
        if cgroup is None:
            raise CgroupActionError(f"cgroup {path} is not in the recorded snapshot")
        controllers = set(cgroup.controllers) | ({"cgroup"} if h.version == 2 else set())
        knobs: list[KnobReading] = []
        for knob in all_knobs():
            if knob.version != h.version or knob.control or knob.controller not in controllers:
                continue
            raw = VALUES.get(knob.file)
            if raw is None:
                continue
            knobs.append(self._knob(knob, raw.strip(), path))
        tick = next(self._clock)
        members = tuple(
            Member(pid, p.comm, p.nthreads, int(p.cpu_time * 100), p.rss or 0)
            for pid in cgroup.pids
            if (p := self.snapshot.processes.get(pid)) is not None
        )
        sample = UsageSample(
            at=1000.0 + tick * 1.5,
            memory=187 * MIB + tick * MIB,
            memory_limit=512 * MIB,
            cpu_usec=81_234_567 + tick * 600_000,
            cpu_limit=0.5,
            pids=len(cgroup.tids) or len(cgroup.pids),
            pids_limit=64,
            io_read=7_340_032 + tick * 65536,
            io_write=1_048_576 + tick * 4096,
            io_devices=(("8:0", 7_340_032, 1_048_576),),
            oom_kills=1,
            throttled=311,
            psi=(("cpu", 4.10, 0.0), ("memory", 1.25, 0.40), ("io", 0.0, 0.0)),
        )
        children = tuple(
            p.rsplit("/", 1)[-1]
            for (k, p) in self.snapshot.cgroups
            if k == hid and p != path and p.rsplit("/", 1)[0] == (path if path != "/" else "")
        )
        spec = path if h.version == 2 else f"{','.join(h.controllers)}:{path}"
        return CgroupReading(
            spec=spec,
            version=h.version,
            controllers=tuple(sorted(c for c in controllers if c != "cgroup")),
            knobs=tuple(knobs),
            sample=sample,
            members=members,
            tids=cgroup.tids,
            freeze=FreezeState.THAWED,
            subtree_control=cgroup.subtree_control,
            children=children,
            is_root=path == "/",
            hid=hid,
        )

    def _knob(self, knob: Knob, raw: str, path: str) -> KnobReading:
        usage = usage_number = None
        if knob.usage_file is not None and knob.usage_file in VALUES:
            usage_raw = VALUES[knob.usage_file].strip()
            if knob.limit_kind == "cpu":
                usage = "81.2 s total"
            elif usage_raw.isdecimal():
                usage_number = float(usage_raw)
                usage = usage_raw if knob.limit_kind == "pids" else format_size(int(usage_raw))
        effective = None
        limit: float | None = None
        if knob.limit_kind is not None:
            if knob.limit_kind == "cpu":
                own = cpu_limit_cpus(knob, raw, _Values())
            else:
                own = knob.vtype.number(raw)
            parent = PARENT_LIMITS.get(knob.limit_kind)
            if parent is not None and (own is None or parent[0] < own):
                effective = Effective(knob.limit_kind, parent[0], parent[1], False)
            else:
                effective = Effective(knob.limit_kind, own, path if own is not None else "", True)
            limit = own
        elif knob.writable:
            limit = knob.vtype.number(raw)
        return KnobReading(knob, raw, knob.display(raw), usage, usage_number, limit, effective)

    def targets(self, hid: int) -> list[str]:
        return sorted(p for (k, p) in self.snapshot.cgroups if k == hid)

    def history(self) -> list[AuditEntry]:
        return [
            AuditEntry(
                "20260130092001-a1b2c3",
                "2026-01-30T09:20:01.120+00:00",
                "root",
                "/docker/web",
                "memory.max",
                "max",
                str(512 * MIB),
                "512M",
                str(512 * MIB),
                "ok",
            ),
            AuditEntry(
                "20260130092130-d4e5f6",
                "2026-01-30T09:21:30.400+00:00",
                "root",
                "memory:/batch",
                "memory.limit_in_bytes",
                str(900 * MIB),
                str(64 * MIB),
                "64M",
                str(900 * MIB),
                "error: EBUSY (Device or resource busy): the limit is below current usage and "
                "the kernel could not reclaim enough",
            ),
            AuditEntry(
                "20260130092210-778899",
                "2026-01-30T09:22:10.050+00:00",
                "root",
                "/docker/web",
                "pids.max",
                "max",
                "64",
                "64",
                "64",
                "ok",
            ),
        ]

    def audit_location(self) -> str:
        return "/var/log/nstui/audit.log (recorded)"

    def count_processes(self, hid: int, path: str) -> int:
        cgroup = self.snapshot.cgroups.get((hid, path))
        return 0 if cgroup is None else len(cgroup.pids)

    def needs_cpuset_copy(self, hid: int, path: str) -> bool:
        return False

    def _refuse(self) -> NoReturn:
        raise CgroupActionError(READ_ONLY)

    def set(self, *args: Any, **kwargs: Any) -> list[WriteResult]:
        self._refuse()

    step = set
    set_unlimited = set

    def undo_last(self) -> UndoOutcome:
        self._refuse()

    def undo(self, entry_id: str) -> UndoOutcome:
        self._refuse()

    def make_child(self, *args: Any, **kwargs: Any) -> ControlResult:
        self._refuse()

    remove = make_child
    move = make_child
    copy_parent_cpuset = make_child
    set_frozen = make_child
    kill = make_child
    set_subtree_control = make_child


class _Values:
    """The example values as a validation/reading context."""

    def read(self, name: str) -> str | None:
        return VALUES.get(name)

    def read_parent(self, name: str) -> str | None:
        return None
