"""Pressure stall information (PSI): cpu.pressure, memory.pressure, io.pressure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PressureLine:
    avg10: float
    avg60: float
    avg300: float
    total_us: int


@dataclass(frozen=True, slots=True)
class Pressure:
    some: PressureLine
    full: PressureLine | None  # cpu.pressure "full" is absent on old kernels


def _parse_line(words: list[str]) -> PressureLine:
    fields: dict[str, str] = {}
    for word in words:
        key, sep, val = word.partition("=")
        if not sep:
            raise ValueError(f"unreadable pressure field {word!r}")
        fields[key] = val
    try:
        return PressureLine(
            float(fields["avg10"]),
            float(fields["avg60"]),
            float(fields["avg300"]),
            int(fields["total"]),
        )
    except KeyError as exc:
        raise ValueError(f"pressure line lacks {exc.args[0]}") from None


def parse_pressure(text: str) -> Pressure:
    """``some avg10=0.00 avg60=0.00 avg300=0.00 total=0`` and an optional ``full`` line."""
    lines: dict[str, PressureLine] = {}
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] not in ("some", "full"):
            raise ValueError(f"unreadable pressure line {line!r}")
        lines[words[0]] = _parse_line(words[1:])
    if "some" not in lines:
        raise ValueError("pressure file has no 'some' line")
    return Pressure(lines["some"], lines.get("full"))
