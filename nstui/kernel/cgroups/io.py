"""Block I/O rules and statistics: v2 io.max / io.weight / io.stat, v1 blkio throttle files.

Rules are per device, written one device per write: ``8:0 rbps=10M wbps=max`` (v2 io.max),
``8:0 10M`` (v1 blkio.throttle.*_device; 0 removes the rule), ``8:0 500`` (weights).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass

from nstui.kernel.cgroups.units import INT64_MAX, parse_int, parse_size

IO_MAX_KEYS = ("rbps", "wbps", "riops", "wiops")
_DEV_RE = re.compile(r"(\d+):(\d+)")


def parse_device(text: str) -> tuple[int, int]:
    """``8:0`` or a block device path such as ``/dev/vda`` -> (major, minor)."""
    value = text.strip()
    match = _DEV_RE.fullmatch(value)
    if match is not None:
        return int(match.group(1)), int(match.group(2))
    if value.startswith("/dev/"):
        try:
            st = os.stat(value)
        except OSError as exc:
            raise ValueError(f"{value}: {exc.strerror}") from None
        if not stat.S_ISBLK(st.st_mode):
            raise ValueError(f"{value} is not a block device")
        return os.major(st.st_rdev), os.minor(st.st_rdev)
    raise ValueError(f"{value!r} is not a device (MAJOR:MINOR such as 8:0, or /dev/NAME)")


def block_device_exists(major: int, minor: int) -> bool:
    return os.path.exists(f"/sys/dev/block/{major}:{minor}")


@dataclass(frozen=True, slots=True)
class IoMaxRule:
    """One io.max line; None for a key not given (the kernel keeps its old value: merge)."""

    major: int
    minor: int
    limits: tuple[tuple[str, int | None], ...]  # (key, value) with None meaning "max"

    def __str__(self) -> str:
        parts = [f"{key}={'max' if val is None else val}" for key, val in self.limits]
        return f"{self.major}:{self.minor} " + " ".join(parts)


def parse_io_max_rule(text: str) -> IoMaxRule:
    """``8:0 rbps=10M wiops=max`` (sizes for bps, plain numbers for iops, ``max`` for none)."""
    words = text.split()
    if len(words) < 2:
        raise ValueError(f"{text.strip()!r}: give a device and limits (example: 8:0 rbps=10M)")
    major, minor = parse_device(words[0])
    seen: dict[str, int | None] = {}
    for word in words[1:]:
        key, sep, val = word.partition("=")
        if not sep or key not in IO_MAX_KEYS:
            raise ValueError(f"{word!r}: expected one of {', '.join(IO_MAX_KEYS)} as KEY=VALUE")
        if key in seen:
            raise ValueError(f"{key} given twice")
        if val == "max":
            seen[key] = None
            continue
        number = parse_size(val) if key.endswith("bps") else parse_int(val, 0, INT64_MAX)
        if number == 0:
            raise ValueError(f"{word!r}: 0 would stop all I/O; use max to remove the limit")
        seen[key] = number
    ordered = tuple((key, seen[key]) for key in IO_MAX_KEYS if key in seen)
    return IoMaxRule(major, minor, ordered)


def parse_io_max_file(text: str) -> dict[tuple[int, int], dict[str, int | None]]:
    """io.max content -> {(major, minor): {key: value or None for max}}."""
    out: dict[tuple[int, int], dict[str, int | None]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        rule = parse_io_max_rule(line)
        out[(rule.major, rule.minor)] = dict(rule.limits)
    return out


@dataclass(frozen=True, slots=True)
class DeviceValue:
    """``8:0 10485760`` (v1 throttle, weight_device) or ``default 100`` (io.weight)."""

    major: int | None  # None for the ``default`` entry
    minor: int | None
    value: int

    def __str__(self) -> str:
        if self.major is None:
            return f"default {self.value}"
        return f"{self.major}:{self.minor} {self.value}"


def parse_device_value(
    text: str, *, size: bool, lo: int, hi: int, allow_default: bool = False
) -> DeviceValue:
    """A device and one number: bytes per second when ``size`` (``10M``), else an integer."""
    words = text.split()
    if len(words) == 1 and allow_default:
        return DeviceValue(None, None, parse_int(words[0], lo, hi))
    if len(words) != 2:
        raise ValueError(f"{text.strip()!r}: expected DEVICE VALUE (example: 8:0 10M)")
    number = parse_size(words[1]) if size else parse_int(words[1], lo, hi)
    if size and not lo <= number <= hi:
        raise ValueError(f"{words[1]!r} is out of range")
    if words[0] == "default" and allow_default:
        return DeviceValue(None, None, number)
    major, minor = parse_device(words[0])
    return DeviceValue(major, minor, number)


def parse_device_values(text: str) -> dict[str, int]:
    """v1 throttle / weight_device / v2 io.weight content -> {"8:0": value, "default": v}."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) != 2:
            if words:
                raise ValueError(f"unreadable line {line!r}")
            continue
        out[words[0]] = int(words[1])
    return out


def parse_io_stat(text: str) -> dict[str, dict[str, int]]:
    """v2 io.stat: ``8:0 rbytes=1 wbytes=2 rios=3 ...`` -> {"8:0": {"rbytes": 1, ...}}."""
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if _DEV_RE.fullmatch(words[0]) is None:
            raise ValueError(f"unreadable io.stat line {line!r}")
        fields: dict[str, int] = {}
        for word in words[1:]:
            key, sep, val = word.partition("=")
            if not sep:
                raise ValueError(f"unreadable io.stat field {word!r}")
            fields[key] = int(val)
        out[words[0]] = fields
    return out


def parse_blkio_service(text: str) -> dict[str, dict[str, int]]:
    """v1 blkio.*io_service_bytes / io_serviced: ``8:0 Read 4096`` -> {"8:0": {"read": 4096}}."""
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 3 and _DEV_RE.fullmatch(words[0]):
            out.setdefault(words[0], {})[words[1].lower()] = int(words[2])
        elif len(words) == 2 and words[0] == "Total":
            continue
        elif words:
            raise ValueError(f"unreadable blkio line {line!r}")
    return out
