"""cgroup v1 device rules (devices.allow, devices.deny, devices.list): ``c 1:3 rwm``."""

from __future__ import annotations

import re
from dataclasses import dataclass

_RULE_RE = re.compile(r"([abc])\s+(\d+|\*):(\d+|\*)\s+([rwm]+)")


@dataclass(frozen=True, slots=True)
class DeviceRule:
    """``type`` is a (all), b (block) or c (char); None numbers mean ``*``."""

    type: str
    major: int | None
    minor: int | None
    access: str  # subset of "rwm", in that order

    def __str__(self) -> str:
        if self.type == "a":
            return "a *:* rwm" if self.access == "rwm" else f"a *:* {self.access}"
        major = "*" if self.major is None else str(self.major)
        minor = "*" if self.minor is None else str(self.minor)
        return f"{self.type} {major}:{minor} {self.access}"


def _number(text: str) -> int | None:
    if text == "*":
        return None
    number = int(text)
    if number > 0xFFFFFFFF:
        raise ValueError(f"device number {number} is out of range")
    return number


def parse_device_rule(text: str) -> DeviceRule:
    """``c 1:3 rwm``, ``b 8:* r``, ``a`` (everything). Raises ValueError with a message."""
    value = " ".join(text.split())
    if not value:
        raise ValueError("empty device rule (example: c 1:3 rwm)")
    if value == "a":
        return DeviceRule("a", None, None, "rwm")
    match = _RULE_RE.fullmatch(value)
    if match is None:
        raise ValueError(
            f"{value!r} is not a device rule: TYPE MAJOR:MINOR ACCESS, "
            "TYPE a/b/c, numbers or *, ACCESS of r, w, m (example: c 1:3 rwm)"
        )
    access_in = match.group(4)
    if len(set(access_in)) != len(access_in):
        raise ValueError(f"{value!r}: access letters repeat")
    access = "".join(ch for ch in "rwm" if ch in access_in)
    return DeviceRule(match.group(1), _number(match.group(2)), _number(match.group(3)), access)


def parse_device_list(text: str) -> tuple[DeviceRule, ...]:
    """devices.list content; malformed lines raise ValueError."""
    return tuple(parse_device_rule(line) for line in text.splitlines() if line.strip())
