"""Validators and parsers of typed values and of kernel text (no kernel needed).

Property: any string either validates to kernel text that validates again to itself (so what
nstui writes is what it would read back and re-write), or is refused with a ValueError message;
never another exception.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nstui.kernel.cgroups import cpulist, devices, io, knobs, memory, pressure, units
from nstui.kernel.cgroups.cpu import parse_cpu_max
from nstui.kernel.cgroups.knobs import Validated, knob_for, order_writes, validate
from nstui.kernel.cgroups.values import NoContext

CTX = NoContext()


class DictContext:
    def __init__(self, files: dict[str, str], parent: dict[str, str] | None = None) -> None:
        self.files = files
        self.parent = parent or {}

    def read(self, name: str) -> str | None:
        return self.files.get(name)

    def read_parent(self, name: str) -> str | None:
        return self.parent.get(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512M", 512 << 20), ("1.5G", 3 << 29), ("4096", 4096), ("2GiB", 2 << 30), ("1k", 1024)],
)
def test_sizes_people_type(text: str, expected: int) -> None:
    assert units.parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty value"),
        ("   ", "empty value"),
        ("abc", "not a size"),
        ("-1", "negative"),
        ("1.5.5G", "not a size"),
        ("0.3K", "whole number of bytes"),
        ("99999P", "too large"),
    ],
)
def test_bad_sizes_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        units.parse_size(text)


def test_empty_value_is_refused_for_every_writable_knob() -> None:
    # An empty write sets v1 memory.limit_in_bytes, hugetlb and v2 memory.max/high to 0.
    for knob in knobs.all_knobs():
        if knob.writable:
            for blank in ("", " ", "\n"):
                with pytest.raises(ValueError):
                    validate(knob, blank, CTX)


@pytest.mark.parametrize(
    ("version", "file", "typed", "kernel"),
    [
        (2, "memory.max", "1.5G", "1610612736"),
        (2, "memory.max", "max", "max"),
        (1, "memory.limit_in_bytes", "max", "-1"),
        (1, "memory.limit_in_bytes", "-1", "-1"),
        (2, "cpu.max", "50%", "50000 100000"),
        (2, "cpu.max", "150%", "150000 100000"),
        (2, "cpu.max", "max", "max 100000"),
        (2, "cpu.max", "20ms 200ms", "20000 200000"),
        (1, "cpu.cfs_quota_us", "50%", "50000"),
        (1, "cpu.cfs_quota_us", "max", "-1"),
        (1, "cpu.cfs_period_us", "1s", "1000000"),
        (1, "devices.allow", "c 1:3 wr", "c 1:3 rw"),
        (1, "devices.deny", "a", "a *:* rwm"),
        (1, "net_cls.classid", "10:1", "1048577"),
        (1, "net_cls.classid", "0x100001", "1048577"),
        (2, "hugetlb.2MB.max", "4M", "4194304"),
        (2, "pids.max", "max", "max"),
        (2, "cgroup.subtree_control", "+memory -io", "+memory -io"),
        (2, "memory.oom.group", "yes", "1"),
        (1, "freezer.state", "frozen", "FROZEN"),
    ],
)
def test_typed_values_become_kernel_text(version: int, file: str, typed: str, kernel: str) -> None:
    knob = knob_for(version, file)
    assert knob is not None
    assert validate(knob, typed, CTX).text == kernel


@pytest.mark.parametrize(
    ("version", "file", "typed", "reason"),
    [
        (2, "memory.max", "-1", "negative"),
        (2, "pids.max", "-1", "below the smallest"),
        (2, "cpu.weight", "0", "below the smallest"),
        (2, "cpu.weight", "10001", "above the largest"),
        (2, "cpu.max", "0.5%", "below 1000 us"),
        (2, "cpu.max", "50% 5s", "outside 1000..1000000"),
        (1, "cpu.cfs_period_us", "100", "outside"),
        (1, "cpuset.cpus", "0-4095", "not online"),
        (1, "cpuset.cpus", "3-1", "below its start"),
        (1, "devices.allow", "x 1:3 rwm", "not a device rule"),
        (1, "devices.allow", "c 1:3 rrw", "repeat"),
        (2, "cgroup.procs", "1 2", "not a whole number"),
        (2, "memory.current", "5", "read-only"),
        (2, "cgroup.subtree_control", "memory", "write \\+CONTROLLER"),
    ],
)
def test_bad_values_are_refused(version: int, file: str, typed: str, reason: str) -> None:
    knob = knob_for(version, file)
    assert knob is not None
    with pytest.raises(ValueError, match=reason):
        validate(knob, typed, CTX)


def test_cpu_percentage_uses_the_current_period() -> None:
    knob = knob_for(2, "cpu.max")
    assert knob is not None
    ctx = DictContext({"cpu.max": "max 200000"})
    assert validate(knob, "50%", ctx).text == "100000 200000"
    v1 = knob_for(1, "cpu.cfs_quota_us")
    assert v1 is not None
    assert validate(v1, "25%", DictContext({"cpu.cfs_period_us": "40000"})).text == "10000"


def test_validated_values_cannot_be_forged() -> None:
    knob = knob_for(2, "memory.max")
    assert knob is not None
    with pytest.raises(TypeError):
        Validated(knob, "", "")


def test_memsw_and_limit_are_ordered_by_direction() -> None:
    limit = knob_for(1, "memory.limit_in_bytes")
    memsw = knob_for(1, "memory.memsw.limit_in_bytes")
    assert limit is not None and memsw is not None
    ctx = DictContext(
        {"memory.limit_in_bytes": str(100 << 20), "memory.memsw.limit_in_bytes": str(100 << 20)}
    )
    up = [validate(limit, "200M", ctx), validate(memsw, "300M", ctx)]
    assert [v.knob.file for v in order_writes(up, ctx)] == [memsw.file, limit.file]
    down = [validate(memsw, "60M", ctx), validate(limit, "50M", ctx)]
    assert [v.knob.file for v in order_writes(down, ctx)] == [limit.file, memsw.file]
    with pytest.raises(ValueError, match="must stay >="):
        order_writes([validate(limit, "80M", ctx), validate(memsw, "70M", ctx)], ctx)
    with pytest.raises(ValueError, match="would exceed"):
        order_writes([validate(limit, "150M", ctx)], ctx)


def test_below_usage_warning_only_for_v2_hard_limits() -> None:
    ctx = DictContext({"memory.current": str(300 << 20)})
    mem_max = knob_for(2, "memory.max")
    mem_low = knob_for(2, "memory.low")
    assert mem_max is not None and mem_low is not None
    warning = knobs.below_usage_warning(validate(mem_max, "100M", ctx), ctx)
    assert warning is not None and "OOM-kills" in warning and "300M" in warning
    assert knobs.below_usage_warning(validate(mem_max, "1G", ctx), ctx) is None
    assert knobs.below_usage_warning(validate(mem_low, "100M", ctx), ctx) is None


def test_cpulist_device_and_io_round_trip() -> None:
    assert cpulist.format_cpulist(cpulist.parse_cpulist("0-3,6,5")) == "0-3,5-6"
    assert str(devices.parse_device_rule("b 8:* r")) == "b 8:* r"
    rule = io.parse_io_max_rule("8:0 wbps=max rbps=10M")
    assert str(rule) == "8:0 rbps=10485760 wbps=max"
    with pytest.raises(ValueError, match="0 would stop all I/O"):
        io.parse_io_max_rule("8:0 riops=0")


def test_kernel_text_parsers() -> None:
    psi = pressure.parse_pressure(
        "some avg10=1.50 avg60=0.00 avg300=0.00 total=10\n"
        "full avg10=0.25 avg60=0 avg300=0 total=3\n"
    )
    assert psi.some.avg10 == 1.5 and psi.full is not None and psi.full.avg10 == 0.25
    assert parse_cpu_max("max 100000").cpus is None
    assert parse_cpu_max("50000 100000").cpus == 0.5
    assert memory.parse_memory_value("9223372036854771712") is None
    assert memory.parse_oom_control("oom_kill_disable 1\nunder_oom 0\noom_kill 4\n").oom_kill == 4
    assert io.parse_io_stat("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n") == {
        "8:0": {"rbytes": 1, "wbytes": 2, "rios": 3, "wios": 4, "dbytes": 0, "dios": 0}
    }


WRITABLE = [k for k in knobs.all_knobs() if k.writable]
TYPED = st.one_of(
    st.text(max_size=24),
    st.from_regex(r"-?[0-9]{1,6}(\.[0-9]{1,3})?[kKmMgG%]?(i?[bB])?", fullmatch=True),
    st.from_regex(r"[abc] [0-9*]{1,3}:[0-9*]{1,3} [rwm]{1,4}", fullmatch=True),
    st.sampled_from(["max", "0-1", "0", "50%", "max 100000", "+memory", "10:1", "default 100"]),
)


# Pure Python, no kernel: marked slow so the emulated v2 guest (make test-v2) skips them.
@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(knob=st.sampled_from(WRITABLE), typed=TYPED)
def test_any_typed_value_validates_to_stable_kernel_text_or_a_message(
    knob: knobs.Knob, typed: str
) -> None:
    try:
        value = validate(knob, typed, CTX)
    except ValueError as exc:
        assert str(exc)  # a message, never an empty refusal
        return
    assert value.text and "\n" not in value.text
    assert validate(knob, value.text, CTX).text == value.text


KERNEL_PARSERS = [
    memory.parse_memory_stat,
    memory.parse_oom_control,
    memory.parse_memory_value,
    pressure.parse_pressure,
    io.parse_io_stat,
    io.parse_io_max_file,
    io.parse_blkio_service,
    io.parse_device_values,
    parse_cpu_max,
    devices.parse_device_list,
]


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(parser=st.sampled_from(KERNEL_PARSERS), text=st.text(max_size=80))
def test_kernel_text_parsers_raise_only_value_errors(parser: object, text: str) -> None:
    with contextlib.suppress(ValueError):
        parser(text)  # type: ignore[operator]


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(knob=st.sampled_from(list(knobs.all_knobs())), raw=st.text(max_size=60))
def test_display_of_any_file_content_never_raises(knob: knobs.Knob, raw: str) -> None:
    assert isinstance(knob.display(raw), str)
    knob.vtype.number(raw)
