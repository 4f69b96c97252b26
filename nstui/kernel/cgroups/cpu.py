"""Parsers for cpu and cpuacct files: cpu.max, cpu.stat, cpuacct.usage/stat."""

from __future__ import annotations

from dataclasses import dataclass

from nstui.kernel.cgroups.memory import parse_flat_keyed


@dataclass(frozen=True, slots=True)
class CpuMax:
    """v2 cpu.max (or v1 cfs_quota_us/cfs_period_us): quota None means unlimited."""

    quota_us: int | None
    period_us: int

    @property
    def cpus(self) -> float | None:
        """How many CPUs' worth of time the quota allows (None: unlimited)."""
        return None if self.quota_us is None else self.quota_us / self.period_us

    def __str__(self) -> str:
        quota = "max" if self.quota_us is None else str(self.quota_us)
        return f"{quota} {self.period_us}"


def parse_cpu_max(text: str) -> CpuMax:
    words = text.split()
    if len(words) != 2:
        raise ValueError(f"unreadable cpu.max {text.strip()!r}")
    period = int(words[1])
    if period <= 0:
        raise ValueError(f"cpu.max period {period} is not positive")
    return CpuMax(None if words[0] == "max" else int(words[0]), period)


def parse_cpu_stat(text: str) -> dict[str, int]:
    """v2: usage_usec, user_usec, system_usec, nr_periods, nr_throttled, throttled_usec.
    v1 cpu.stat: nr_periods, nr_throttled, throttled_time (ns)."""
    return parse_flat_keyed(text)


def cpu_usage_usec(stat: dict[str, int]) -> int | None:
    return stat.get("usage_usec")


def parse_cpuacct_usage(text: str) -> int:
    """v1 cpuacct.usage: nanoseconds of CPU time."""
    return int(text.strip())


def parse_cpuacct_stat(text: str) -> dict[str, int]:
    """v1 cpuacct.stat: user and system in USER_HZ ticks."""
    return parse_flat_keyed(text)
