"""Values as people type them: sizes (``512M``, ``1.5G``), durations (``100ms``), percentages.

Every parser raises ``ValueError`` with a message fit to show a user, and nothing else: the
callers turn that message into "refused before any write". Formatters give the kernel's text
(plain integers) or a short human form.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

#: The largest value a 64-bit signed kernel counter holds; larger sizes are refused.
INT64_MAX = (1 << 63) - 1

_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?", re.IGNORECASE)
_DURATION_UNITS = {"us": 1, "µs": 1, "ms": 1000, "s": 1_000_000}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(us|µs|ms|s)?", re.IGNORECASE)
_PERCENT_RE = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_INT_RE = re.compile(r"[+-]?\d+")


def _require_text(text: str) -> str:
    value = text.strip()
    if not value:
        # An empty write sets several limits to 0 in the kernel: never let one through.
        raise ValueError("empty value (the kernel would read an empty write as 0)")
    return value


def parse_size(text: str) -> int:
    """``512M``, ``1.5G``, ``4096``, ``2GiB`` -> bytes (1024-based, like the kernel's memparse).

    Fractions are allowed as long as the result is a whole number of bytes.
    """
    value = _require_text(text)
    if value.startswith("-"):
        raise ValueError(f"{value!r}: a size cannot be negative")
    match = _SIZE_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a size (examples: 512M, 1.5G, 4096)")
    number, unit = match.group(1), match.group(2).lower()
    try:
        exact = Decimal(number) * _SIZE_UNITS[unit]
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a size") from None
    if exact != exact.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number of bytes")
    size = int(exact)
    if size > INT64_MAX:
        raise ValueError(f"{value!r} is too large (at most {INT64_MAX} bytes)")
    return size


def format_size(size: int) -> str:
    """Short human form: ``512M``, ``1.5G``, ``4096`` -> ``4K``; exact to two decimals."""
    if size < 0:
        return str(size)
    for suffix, mult in (("P", 1 << 50), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20)):
        if size >= mult:
            return _trim(size / mult) + suffix
    if size >= 1024:
        return _trim(size / 1024) + "K"
    return str(size)


def _trim(number: float) -> str:
    text = f"{number:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def parse_int(text: str, lo: int | None = None, hi: int | None = None) -> int:
    """A plain integer within ``lo..hi`` (inclusive, where given)."""
    value = _require_text(text)
    if _INT_RE.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not a whole number")
    number = int(value)
    if lo is not None and number < lo:
        raise ValueError(f"{number} is below the smallest allowed value {lo}")
    if hi is not None and number > hi:
        raise ValueError(f"{number} is above the largest allowed value {hi}")
    return number


def parse_duration_us(text: str) -> int:
    """``100ms``, ``1s``, ``2500us``, or a bare number of microseconds -> microseconds."""
    value = _require_text(text)
    if value.startswith("-"):
        raise ValueError(f"{value!r}: a duration cannot be negative")
    match = _DURATION_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a duration (examples: 100000, 100ms, 1s)")
    exact = Decimal(match.group(1)) * _DURATION_UNITS[(match.group(2) or "us").lower()]
    if exact != exact.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number of microseconds")
    micros = int(exact)
    if micros > INT64_MAX:
        raise ValueError(f"{value!r} is too long")
    return micros


def format_duration_us(micros: int) -> str:
    if micros >= 1_000_000 and micros % 1_000_000 == 0:
        return f"{micros // 1_000_000}s"
    if micros >= 1000 and micros % 1000 == 0:
        return f"{micros // 1000}ms"
    return f"{micros}us"


def parse_percent(text: str) -> Decimal | None:
    """``50%`` -> Decimal("0.5"); None when the text is not a percentage at all."""
    match = _PERCENT_RE.fullmatch(text.strip())
    if match is None:
        return None
    return Decimal(match.group(1)) / 100
