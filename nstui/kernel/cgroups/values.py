"""Value types of cgroup knobs: how a typed value is parsed, validated, shown and stepped.

Each type turns what a person types (``512M``, ``max``, ``50%``, ``0-3,6``, ``c 1:3 rwm``)
into the exact text for one write(2), or raises ``ValueError`` with a message. Types that need
the cgroup's current state (a CPU percentage needs the period, a cpu list the online CPUs)
read it through a ``Context``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Protocol

from nstui.kernel.cgroups import cpulist, devices, io
from nstui.kernel.cgroups.cpu import parse_cpu_max
from nstui.kernel.cgroups.memory import V1_UNLIMITED_FLOOR, parse_memory_value
from nstui.kernel.cgroups.units import (
    INT64_MAX,
    format_duration_us,
    format_size,
    parse_duration_us,
    parse_int,
    parse_percent,
    parse_size,
)

UNLIMITED_WORDS = ("max", "unlimited", "none")
MIB = 1 << 20


class Context(Protocol):
    """What a value type may read while validating: files of this cgroup and its parent."""

    def read(self, name: str) -> str | None: ...

    def read_parent(self, name: str) -> str | None: ...


class NoContext:
    """A context that knows nothing (pure parsing, tests)."""

    def read(self, name: str) -> str | None:
        return None

    def read_parent(self, name: str) -> str | None:
        return None


class ValueType(Protocol):
    @property
    def unit(self) -> str: ...

    @property
    def unlimited(self) -> str | None:
        """What `m` types for "unlimited"; None when the file has no unlimited value."""
        ...

    def parse(self, text: str, ctx: Context) -> str:
        """Typed text -> kernel text for one write(2). Raises ValueError with a message."""
        ...

    def display(self, raw: str) -> str:
        """Kernel text (as read) -> short human form."""
        ...

    def number(self, raw: str) -> float | None:
        """A comparable number (bytes, CPUs, count) for gauges and effective limits."""
        ...

    def step(self, raw: str, direction: int, ctx: Context) -> str | None:
        """Typed text for one +/- step from the current kernel text, None when not steppable."""
        ...


def _is_unlimited_word(text: str) -> bool:
    return text.strip().lower() in UNLIMITED_WORDS


def _lines_joined(raw: str) -> str:
    """A multi-line file (one rule per line) on one line, ``;``-separated."""
    return "; ".join(line.strip() for line in raw.splitlines() if line.strip())


class _NotNumeric:
    """For values that are rules or words: no number for a gauge, no +/- step."""

    __slots__ = ()

    def number(self, raw: str) -> float | None:
        return None

    def step(self, raw: str, direction: int, ctx: Context) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class SizeType:
    """Bytes, with an unlimited word: ``max`` (v2) or ``-1`` (v1, reads back as a huge number).

    Steps are 10% of the current value, in whole MiB, at least 1 MiB.
    """

    unlimited_kernel: str | None  # "max", "-1", or None when the file has no unlimited
    unit: str = "bytes"
    min_bytes: int = 0

    @property
    def unlimited(self) -> str | None:
        return None if self.unlimited_kernel is None else "max"

    def parse(self, text: str, ctx: Context) -> str:
        # -1 is the v1 kernel's own word for unlimited; elsewhere it is a negative size.
        if _is_unlimited_word(text) or (text.strip() == "-1" and self.unlimited_kernel == "-1"):
            if self.unlimited_kernel is None:
                raise ValueError("this file has no unlimited value; give a size")
            return self.unlimited_kernel
        size = parse_size(text)
        if size < self.min_bytes:
            raise ValueError(f"{text.strip()} is below the smallest allowed size")
        return str(size)

    def display(self, raw: str) -> str:
        try:
            value = parse_memory_value(raw)
        except ValueError:
            return raw.strip()
        return "max" if value is None else format_size(value)

    def number(self, raw: str) -> float | None:
        try:
            value = parse_memory_value(raw)
        except ValueError:
            return None
        return None if value is None else float(value)

    def step(self, raw: str, direction: int, ctx: Context) -> str | None:
        value = self.number(raw)
        if value is None:
            return None
        step = max(MIB, int(value / 10) // MIB * MIB)
        new = int(value) + direction * step
        if direction < 0 and new < MIB:
            new = 0 if int(value) > 0 else -1
        if new < 0:
            return None
        new = min(new, V1_UNLIMITED_FLOOR - 1)
        return format_size(new) if new % 1024 == 0 else str(new)


@dataclass(frozen=True, slots=True)
class IntType:
    """An integer in ``lo..hi``; ``unlimited_kernel`` is its "no limit" text if it has one."""

    lo: int
    hi: int
    step_by: int = 1
    unit: str = ""
    unlimited_kernel: str | None = None

    @property
    def unlimited(self) -> str | None:
        return None if self.unlimited_kernel is None else "max"

    def parse(self, text: str, ctx: Context) -> str:
        if self.unlimited_kernel is not None and _is_unlimited_word(text):
            return self.unlimited_kernel
        return str(parse_int(text, self.lo, self.hi))

    def display(self, raw: str) -> str:
        return raw.strip()

    def number(self, raw: str) -> float | None:
        try:
            return float(int(raw.strip()))
        except ValueError:
            return None

    def step(self, raw: str, direction: int, ctx: Context) -> str | None:
        value = self.number(raw)
        if value is None:
            return None
        new = min(max(int(value) + direction * self.step_by, self.lo), self.hi)
        return str(new)


@dataclass(frozen=True, slots=True)
class BoolType:
    unit: str = "0/1"
    unlimited: str | None = None

    def parse(self, text: str, ctx: Context) -> str:
        value = text.strip().lower()
        if value in ("1", "yes", "on", "true", "y"):
            return "1"
        if value in ("0", "no", "off", "false", "n"):
            return "0"
        raise ValueError(f"{text.strip()!r}: expected 0 or 1")

    def display(self, raw: str) -> str:
        return "1" if self.number(raw) else "0"

    def number(self, raw: str) -> float | None:
        # memory.oom_control reads "oom_kill_disable N" first: the flag is its last word
        words = raw.split("\n", 1)[0].split()
        return 1.0 if words[-1:] == ["1"] else 0.0

    def step(self, raw: str, direction: int, ctx: Context) -> str | None:
        return "1" if direction > 0 else "0"


@dataclass(frozen=True, slots=True)
class ChoiceType:
    """One of a few words; ``read_only_states`` are shown but never written (FREEZING)."""

    choices: tuple[str, ...]
    unit: str = ""
    unlimited: str | None = None

    def parse(self, text: str, ctx: Context) -> str:
        value = text.strip()
        for choice in self.choices:
            if value.lower() == choice.lower():
                return choice
        raise ValueError(f"{value!r}: expected one of {', '.join(self.choices)}")

    def display(self, raw: str) -> str:
        return raw.strip()

    def number(self, raw: str) -> float | None:
        return None

    def step(self, raw: str, direction: int, ctx: Context) -> str | None:
        value = raw.strip()
        if value not in self.choices:
            return self.choices[0]
        index = (self.choices.index(value) + direction) % len(self.choices)
        return self.choices[index]


@dataclass(frozen=True, slots=True)
class CpuListType:
    """``0-3,6``; must name online CPUs (or memory nodes), else the kernel says ERANGE."""

    nodes: bool = False  # memory nodes instead of CPUs
    unit: str = "list"
    unlimited: str | None = None

    def parse(self, text: str, ctx: Context) -> str:
        chosen = cpulist.parse_cpulist(text)
        online = cpulist.online_mems() if self.nodes else cpulist.online_cpus()
        what = "memory nodes" if self.nodes else "CPUs"
        if online and not chosen <= online:
            missing = cpulist.format_cpulist(set(chosen - online))
            raise ValueError(
                f"{missing} not online (this host has {what} {cpulist.format_cpulist(online)})"
            )
        return cpulist.format_cpulist(chosen)

    def display(self, raw: str) -> str:
        return raw.strip() or "(empty)"

    def number(self, raw: str) -> float | None:
        try:
            return float(len(cpulist.parse_cpulist(raw, allow_empty=True)))
        except ValueError:
            return None

    def step(self, raw: str, direction: int, ctx: Context) -> str | None:
        return None


#: The kernel's largest CFS quota (max_cfs_runtime: 2**44 - 1 us); above it, EINVAL.
MAX_QUOTA_US = (1 << 44) - 1


def _quota_from_text(text: str, period: int) -> int:
    """``50%`` of one CPU, ``1.5`` is not accepted (ambiguous); durations are microseconds."""
    pct = parse_percent(text)
    if pct is not None:
        quota = (pct * period).to_integral_value(rounding=ROUND_FLOOR)
        if quota < 1000:
            raise ValueError(f"{text.strip()} of a {period} us period is below 1000 us")
        quota_us = int(quota)
    else:
        quota_us = parse_duration_us(text)
        if quota_us < 1000:
            raise ValueError(f"quota {quota_us} us is below the kernel's minimum of 1000 us")
    if quota_us > MAX_QUOTA_US:
        raise ValueError(f"quota {quota_us} us is above the kernel's maximum of {MAX_QUOTA_US} us")
    return quota_us


def _percent_of(quota: int, period: int) -> str:
    pct = Decimal(quota * 100) / Decimal(period)
    text = f"{pct:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


DEFAULT_PERIOD_US = 100_000


def _check_period(period: int) -> int:
    if not 1000 <= period <= 1_000_000:
        raise ValueError(f"period {period} us is outside 1000..1000000 us (1 ms..1 s)")
    return period


@dataclass(frozen=True, slots=True)
class CfsQuotaType:
    """v1 cpu.cfs_quota_us: ``-1``/``max``, microseconds, or ``50%`` of one CPU."""

    unit: str = "us"
    unlimited: str | None = "max"

    def _period(self, ctx: Context) -> int:
        raw = ctx.read("cpu.cfs_period_us")
        try:
            return int(raw) if raw is not None else DEFAULT_PERIOD_US
        except ValueError:
            return DEFAULT_PERIOD_US

    def parse(self, text: str, ctx: Context) -> str:
        if _is_unlimited_word(text) or text.strip() == "-1":
            return "-1"
        return str(_quota_from_text(text, self._period(ctx)))

    def display(self, raw: str) -> str:
        value = raw.strip()
        return "max" if value == "-1" else f"{value}us"

    def number(self, raw: str) -> float | None:
        value = int(raw.strip()) if raw.strip().lstrip("-").isdecimal() else -1
        return None if value < 0 else float(value)

    def step(self, raw: str, direction: int, ctx: Context) -> str | None:
        quota = self.number(raw)
        if quota is None:
            return None
        new = int(quota) + direction * (self._period(ctx) // 10)
        return str(max(new, 1000))


@dataclass(frozen=True, slots=True)
class PeriodType:
    unit: str = "us"
    unlimited: str | None = None

    def parse(self, text: str, ctx: Context) -> str:
        return str(_check_period(parse_duration_us(text)))

    def display(self, raw: str) -> str:
        value = raw.strip()
        return format_duration_us(int(value)) if value.isdecimal() else value

    def number(self, raw: str) -> float | None:
        return float(raw) if raw.strip().isdecimal() else None

    def step(self, raw: str, direction: int, ctx: Context) -> str | None:
        value = self.number(raw)
        if value is None:
            return None
        return str(min(max(int(value) + direction * 10_000, 1000), 1_000_000))


@dataclass(frozen=True, slots=True)
class CpuMaxType:
    """v2 cpu.max: ``max``, ``50%`` (of one CPU), ``150%``, ``50ms``, ``50000 100000``,
    ``max 200ms``. Always written as ``QUOTA PERIOD`` so the read-back compares exactly."""

    unit: str = "quota period"
    unlimited: str | None = "max"

    def _period(self, ctx: Context) -> int:
        raw = ctx.read("cpu.max")
        try:
            return parse_cpu_max(raw).period_us if raw is not None else DEFAULT_PERIOD_US
        except ValueError:
            return DEFAULT_PERIOD_US

    def parse(self, text: str, ctx: Context) -> str:
        words = text.split()
        if not words:
            raise ValueError("empty value (examples: max, 50%, 50000 100000)")
        if len(words) > 2:
            raise ValueError(f"{text.strip()!r}: expected QUOTA [PERIOD]")
        period = (
            _check_period(parse_duration_us(words[1])) if len(words) == 2 else self._period(ctx)
        )
        if _is_unlimited_word(words[0]):
            return f"max {period}"
        return f"{_quota_from_text(words[0], period)} {period}"

    def display(self, raw: str) -> str:
        try:
            value = parse_cpu_max(raw)
        except ValueError:
            return raw.strip()
        if value.quota_us is None:
            return f"max (period {format_duration_us(value.period_us)})"
        return f"{_percent_of(value.quota_us, value.period_us)} ({value})"

    def number(self, raw: str) -> float | None:
        try:
            return parse_cpu_max(raw).cpus
        except ValueError:
            return None

    def step(self, raw: str, direction: int, ctx: Context) -> str | None:
        try:
            value = parse_cpu_max(raw)
        except ValueError:
            return None
        if value.quota_us is None:
            return None
        new = max(value.quota_us + direction * (value.period_us // 10), 1000)
        return f"{new} {value.period_us}"


@dataclass(frozen=True, slots=True)
class DeviceRuleType(_NotNumeric):
    unit: str = "rule"
    unlimited: str | None = None

    def parse(self, text: str, ctx: Context) -> str:
        return str(devices.parse_device_rule(text))

    def display(self, raw: str) -> str:
        return raw.strip()


@dataclass(frozen=True, slots=True)
class IoMaxType(_NotNumeric):
    unit: str = "per device"
    unlimited: str | None = None

    def parse(self, text: str, ctx: Context) -> str:
        rule = io.parse_io_max_rule(text)
        if not io.block_device_exists(rule.major, rule.minor):
            raise ValueError(f"no block device {rule.major}:{rule.minor} on this host")
        return str(rule)

    def display(self, raw: str) -> str:
        return _lines_joined(raw) or "(none)"


@dataclass(frozen=True, slots=True)
class DeviceValueType(_NotNumeric):
    """``8:0 10M`` (v1 throttle; 0 removes), ``8:0 500`` or ``default 100`` (weights)."""

    size: bool
    lo: int
    hi: int
    allow_default: bool = False
    unit: str = "per device"
    unlimited: str | None = None

    def parse(self, text: str, ctx: Context) -> str:
        rule = io.parse_device_value(
            text, size=self.size, lo=self.lo, hi=self.hi, allow_default=self.allow_default
        )
        if (
            rule.major is not None
            and rule.minor is not None
            and not io.block_device_exists(rule.major, rule.minor)
        ):
            raise ValueError(f"no block device {rule.major}:{rule.minor} on this host")
        return str(rule)

    def display(self, raw: str) -> str:
        return _lines_joined(raw) or "(none)"


@dataclass(frozen=True, slots=True)
class ClassIdType(_NotNumeric):
    """net_cls.classid: ``0x100001``, ``10:1`` (tc major:minor, hex) or decimal."""

    unit: str = "classid"
    unlimited: str | None = None

    def parse(self, text: str, ctx: Context) -> str:
        value = text.strip()
        try:
            if ":" in value:
                major, minor = value.split(":", 1)
                number = (int(major, 16) << 16) | int(minor or "0", 16)
                if int(major, 16) > 0xFFFF or int(minor or "0", 16) > 0xFFFF:
                    raise ValueError
            elif value.lower().startswith("0x"):
                number = int(value, 16)
            else:
                number = parse_int(value, 0)
        except ValueError:
            raise ValueError(f"{value!r} is not a class id (examples: 10:1, 0x100001)") from None
        if not 0 <= number <= 0xFFFFFFFF:
            raise ValueError(f"{value!r} is out of range for a class id")
        return str(number)

    def display(self, raw: str) -> str:
        value = raw.strip()
        if not value.isdecimal():
            return value
        number = int(value)
        return f"{number >> 16:x}:{number & 0xFFFF:x}" if number else "0"


@dataclass(frozen=True, slots=True)
class IfPrioType(_NotNumeric):
    """net_prio.ifpriomap: ``eth0 5``."""

    unit: str = "iface prio"
    unlimited: str | None = None

    def parse(self, text: str, ctx: Context) -> str:
        words = text.split()
        if len(words) != 2:
            raise ValueError(f"{text.strip()!r}: expected INTERFACE PRIORITY (example: eth0 5)")
        name = words[0]
        if len(name) > 15 or "/" in name or name in (".", ".."):
            raise ValueError(f"{name!r} is not an interface name")
        return f"{name} {parse_int(words[1], 0, 0xFFFFFFFF)}"

    def display(self, raw: str) -> str:
        return _lines_joined(raw)


@dataclass(frozen=True, slots=True)
class SubtreeControlType(_NotNumeric):
    """``+memory -io``: controllers must be in this cgroup's cgroup.controllers."""

    unit: str = "+/-controller"
    unlimited: str | None = None

    def parse(self, text: str, ctx: Context) -> str:
        words = text.split()
        if not words:
            raise ValueError("empty value (example: +memory or -io)")
        available = (ctx.read("cgroup.controllers") or "").split()
        out: list[str] = []
        for word in words:
            if len(word) < 2 or word[0] not in "+-":
                raise ValueError(f"{word!r}: write +CONTROLLER or -CONTROLLER")
            name = word[1:]
            if not name.isidentifier():
                raise ValueError(f"{word!r}: not a controller name")
            if available and name not in available and word[0] == "+":
                raise ValueError(
                    f"{name} is not available here (cgroup.controllers: {' '.join(available)})"
                )
            out.append(word)
        return " ".join(out)

    def display(self, raw: str) -> str:
        return raw.strip() or "(none)"


@dataclass(frozen=True, slots=True)
class ReadOnlyType(_NotNumeric):
    """A file that is read, never written (stat, usage, pressure). ``show`` summarises it."""

    show: Callable[[str], str] | None = None
    numeric: Callable[[str], float | None] | None = None
    unit: str = ""
    unlimited: str | None = None

    def parse(self, text: str, ctx: Context) -> str:
        raise ValueError("this file is read-only")

    def display(self, raw: str) -> str:
        if self.show is None:
            return " ".join(raw.split())
        try:
            return self.show(raw)
        except (ValueError, KeyError, IndexError):
            return "(unreadable) " + " ".join(raw.split())[:60]

    def number(self, raw: str) -> float | None:
        if self.numeric is None:
            return None
        try:
            return self.numeric(raw)
        except (ValueError, KeyError, IndexError):
            return None


__all__ = [
    "INT64_MAX",
    "BoolType",
    "CfsQuotaType",
    "ChoiceType",
    "ClassIdType",
    "Context",
    "CpuListType",
    "CpuMaxType",
    "DeviceRuleType",
    "DeviceValueType",
    "IfPrioType",
    "IntType",
    "IoMaxType",
    "NoContext",
    "PeriodType",
    "ReadOnlyType",
    "SizeType",
    "SubtreeControlType",
    "ValueType",
]
