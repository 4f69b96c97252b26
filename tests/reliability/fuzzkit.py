"""Shared pieces of the fuzz tests: input strategies, a guard that no write happens, counts.

``NSTUI_FUZZ_EXAMPLES`` sets hypothesis's examples per property (default 50, enough for
``make test`` to stay fast; benchmarks/reliability.py raises it). ``COUNTS`` records how many
inputs each parser was given, and ``WRITES`` how many write attempts the guard caught (it must
stay 0: a parser or validator never writes), and ``KERNEL_REFUSED`` how many validated values
the kernel still refused as invalid, for the figures ``make reliability`` prints.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("NSTUI_FUZZ_EXAMPLES", "50"))

#: inputs tried per parser (name -> count), across the session
COUNTS: Counter[str] = Counter()
#: write attempts made while a parser ran (name -> count): must stay empty
WRITES: Counter[str] = Counter()
#: validated values the kernel refused as invalid (EINVAL/ERANGE), per file: must stay empty
KERNEL_REFUSED: Counter[str] = Counter()

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class WriteAttempted(AssertionError):
    """A parser or validator tried to open something for writing."""


@contextlib.contextmanager
def no_writes(name: str) -> Iterator[None]:
    """Fail (and count) any open for writing while the block runs: os.open with write flags,
    open()/io.open()/Path.write_* in a writing mode."""
    real_os_open, real_open, real_io_open = os.open, builtins.open, io.open

    def guarded_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & _WRITE_FLAGS:
            WRITES[name] += 1
            raise WriteAttempted(f"{name} opened {path!r} for writing")
        return real_os_open(path, flags, *args, **kwargs)

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(c in mode for c in "wax+"):
            WRITES[name] += 1
            raise WriteAttempted(f"{name} opened {file!r} for writing ({mode})")
        return real_open(file, mode, *args, **kwargs)

    os.open = guarded_os_open
    builtins.open = guarded_open
    io.open = guarded_open
    try:
        yield
    finally:
        os.open, builtins.open, io.open = real_os_open, real_open, real_io_open


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Outcome:
    value: Any  # the parse result, or None when refused
    refusal: str | None  # the message when refused

    @property
    def refused(self) -> bool:
        return self.refusal is not None


def attempt(
    name: str,
    func: Callable[[], T],
    refusals: tuple[type[BaseException], ...] = (ValueError,),
) -> Outcome:
    """Run one parse: a value, or a refusal of a declared type that carries a message.
    Any other exception propagates (hypothesis then reports the input that caused it)."""
    COUNTS[name] += 1
    with no_writes(name):
        try:
            return Outcome(func(), None)
        except refusals as exc:
            message = str(exc).strip()
            assert message, f"{name}: refused with an empty message ({type(exc).__name__})"
            return Outcome(None, message)


# --- strategies ----------------------------------------------------------------------------

#: Pieces of what people type into limit editors, plus the characters that break parsers.
TYPED_TOKENS = (
    "max", "MAX", "unlimited", "none", "-1", "0", "1", "07", "50%", "150%", "0.5%", "1.5G",
    "512M", "512m", "4096", "2GiB", "1.5.5G", "1e3", "100ms", "1s", "2500us", "µs", "0-3", "6",
    "3-1", "0-99999", ",", "-", "+", " ", "  ", "\t", "\n", "\x00", ":", "8:0", "253:1",
    "rbps=10M", "wiops=max", "riops=", "=", "c", "b", "a", "*", "rwm", "r", "m", "1:3",
    "default", "+memory", "-cpu", "0x100001", "10:1", "FROZEN", "THAWED", "y", "on", "off",
    "١٢", "½", "k", "K", "T", "P", "E", "%", "/", "..", "9" * 25, "-0", "+5", ".5", "5.",
)  # fmt: skip

typed_text = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.one_of(
            st.sampled_from(TYPED_TOKENS),
            st.integers(min_value=-(2**70), max_value=2**70).map(str),
            st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
        ),
        max_size=6,
    ).map("".join),
    st.lists(st.sampled_from(TYPED_TOKENS), min_size=1, max_size=5).map(" ".join),
)

PATH_TOKENS = (
    "/", "//", ".", "..", "memory:", "cpu,cpuacct:", "pids:", "name=systemd:", "unified:",
    "/sys/fs/cgroup/", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified/", "web", "a b",
    "x:y", "\x00", "\n", "é", "-", "~", "$HOME", "*", "nstui-test", "../..", "proc",
)  # fmt: skip

path_text = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(PATH_TOKENS), max_size=7).map("".join),
    st.lists(st.sampled_from(PATH_TOKENS), max_size=7).map("/".join),
)

#: Pieces of kernel files: keys, numbers, separators, and what a corrupted read may hold.
KERNEL_TOKENS = (
    "some", "full", "avg10=", "avg60=0.00", "total=", "rbytes=", "wbytes=1", "8:0", "253:0",
    "Read", "Write", "Total", "usage_usec", "nr_throttled", "oom_kill", "under_oom",
    "oom_kill_disable", "max", "-1", "0", "1", "18446744073709551615", "9223372036854771712",
    "FROZEN", "THAWED", "FREEZING", "frozen", "populated", "c 1:3 rwm", "a *:* rwm", "b",
    "0::/", "4:memory:/x", "net:[4026531840]", "mnt:[", "lowerdir=", "upperdir=/u",
    "workdir=/w", "\\040", "\\", "\\:", "\\,", ":", "::", ",", "=", " ", "\t", "\n", "\x00",
    "(", ")", "-", "1.5", "nan", "inf", "é", "\ufffd",
)  # fmt: skip

kernel_text = st.one_of(
    st.text(max_size=120),
    st.lists(
        st.one_of(
            st.sampled_from(KERNEL_TOKENS),
            st.integers(min_value=-(2**66), max_value=2**66).map(str),
        ),
        max_size=30,
    ).map("".join),
    st.lists(st.lists(st.sampled_from(KERNEL_TOKENS), max_size=6).map(" ".join), max_size=6).map(
        "\n".join
    ),
)
