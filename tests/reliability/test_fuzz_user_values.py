"""Fuzzed user input: every parser and validator of a typed value either gives a value whose
kernel text parses back to itself, or refuses with a message — never another exception,
never a write (fuzzkit.no_writes fails any open for writing while a parser runs).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from nstui.kernel.cgroups import cpulist, devices, io, units
from nstui.kernel.cgroups.hierarchy import Hierarchy, discover_hierarchies
from nstui.kernel.cgroups.knobs import Knob, all_knobs, validate
from nstui.kernel.cgroups.paths import CgroupPathError, check_child_name, parse_cgroup_spec
from nstui.kernel.cgroups.values import IfPrioType, NoContext
from nstui.kernel.nstypes import parse_ns_types
from nstui.kernel.overlay import overlay_escape, split_lowerdir
from nstui.kernel.overlay_build import OverlayError, parse_options

from .fuzzkit import FUZZ, attempt, path_text, typed_text


def _distinct_value_types() -> list[Knob]:
    """One writable knob per distinct value type (the type does the parsing)."""
    seen: dict[str, Knob] = {}
    for knob in all_knobs():
        if knob.writable:
            seen.setdefault(repr(knob.vtype), knob)
    return list(seen.values())


KNOBS = _distinct_value_types()


def _kernel_text_ok(text: str, names: bool = False) -> bool:
    """Non-empty, one line, no NUL; ASCII and printable unless it holds a name the kernel
    takes in any encoding (an interface name in net_prio.ifpriomap)."""
    if not text or "\n" in text or "\0" in text:
        return False
    return names or (text.isascii() and text.isprintable())


@pytest.mark.parametrize("knob", KNOBS, ids=[f"v{k.version}-{k.file}" for k in KNOBS])
@FUZZ
@given(typed=typed_text)
def test_knob_value_validates_to_stable_kernel_text_or_is_refused(knob: Knob, typed: str) -> None:
    ctx = NoContext()
    first = attempt(f"knob {type(knob.vtype).__name__}", lambda: validate(knob, typed, ctx))
    if first.refused:
        return
    text = first.value.text
    names = isinstance(knob.vtype, IfPrioType)
    assert _kernel_text_ok(text, names), f"{knob.file}: {typed!r} gave kernel text {text!r}"
    again = attempt(f"knob {type(knob.vtype).__name__}", lambda: validate(knob, text, ctx))
    assert not again.refused, f"{knob.file}: own kernel text {text!r} refused: {again.refusal}"
    assert again.value.text == text, f"{knob.file}: {typed!r} -> {text!r} -> {again.value.text!r}"


@FUZZ
@given(typed=typed_text)
def test_sizes(typed: str) -> None:
    got = attempt("size", lambda: units.parse_size(typed))
    if not got.refused:
        assert 0 <= got.value <= units.INT64_MAX
        assert units.parse_size(str(got.value)) == got.value


@FUZZ
@given(typed=typed_text)
def test_durations_and_integers(typed: str) -> None:
    got = attempt("duration", lambda: units.parse_duration_us(typed))
    if not got.refused:
        assert units.parse_duration_us(str(got.value)) == got.value
    got = attempt("integer", lambda: units.parse_int(typed, -1000, 1000))
    if not got.refused:
        assert -1000 <= got.value <= 1000 and units.parse_int(str(got.value)) == got.value


@FUZZ
@given(typed=typed_text)
def test_percentages(typed: str) -> None:
    # parse_percent answers "not a percentage" with None rather than refusing
    got = attempt("percent", lambda: units.parse_percent(typed), refusals=())
    if got.value is not None:
        assert got.value >= 0
        assert units.parse_percent(f"{got.value * 100}%") == got.value


@FUZZ
@given(typed=typed_text)
def test_cpu_lists(typed: str) -> None:
    got = attempt("cpu list", lambda: cpulist.parse_cpulist(typed))
    if not got.refused:
        text = cpulist.format_cpulist(got.value)
        assert _kernel_text_ok(text)
        assert cpulist.parse_cpulist(text) == got.value


@FUZZ
@given(typed=typed_text)
def test_device_rules(typed: str) -> None:
    got = attempt("device rule", lambda: devices.parse_device_rule(typed))
    if not got.refused:
        text = str(got.value)
        assert _kernel_text_ok(text)
        assert str(devices.parse_device_rule(text)) == text


@FUZZ
@given(typed=typed_text)
def test_io_rules(typed: str) -> None:
    got = attempt("io.max rule", lambda: io.parse_io_max_rule(typed))
    if not got.refused:
        text = str(got.value)
        assert _kernel_text_ok(text)
        assert str(io.parse_io_max_rule(text)) == text
    for size in (True, False):

        def parse(text: str, size: bool = size) -> io.DeviceValue:
            return io.parse_device_value(
                text, size=size, lo=0, hi=units.INT64_MAX, allow_default=True
            )

        value = attempt("io device value", lambda: parse(typed))
        if not value.refused:
            text = str(value.value)
            assert str(parse(text)) == text


@FUZZ
@given(typed=st.one_of(typed_text, st.lists(st.sampled_from(
    ["pid", "net", "mnt", "uts", "ipc", "user", "cgroup", "time", "all", "ALL", " ", "",
     "mount", "network", "Pid", "x"]), max_size=6).map(",".join)))  # fmt: skip
def test_namespace_type_lists(typed: str) -> None:
    got = attempt("namespace types", lambda: parse_ns_types(typed))
    if not got.refused:
        assert got.value and len(set(got.value)) == len(got.value)
        assert parse_ns_types(",".join(t.value for t in got.value)) == got.value


HIERARCHIES: Sequence[Hierarchy] = discover_hierarchies()


@FUZZ
@given(typed=path_text)
@example(typed="0\r/")  # found by this test: a control character inside a component
@example(typed="/sys/fs/cgroup/unified//sys/fs/cgroup/memory")
@example(typed="memory:/../../..")
def test_cgroup_paths_stay_inside_their_mount(typed: str) -> None:
    got = attempt(
        "cgroup path", lambda: parse_cgroup_spec(typed, HIERARCHIES), refusals=(CgroupPathError,)
    )
    if got.refused:
        return
    ref = got.value
    mount = ref.hierarchy.mountpoint
    directory = ref.directory
    assert os.path.commonpath([mount, directory]) == mount, f"{typed!r} -> {directory}"
    assert ".." not in directory.split("/")
    # ``ref.spec`` of a v2 cgroup is a bare path, ambiguous with a directory path (a v2 cgroup
    # named /sys/fs/cgroup/memory); ``unified:PATH`` names it without ambiguity.
    canonical = ref.spec if ref.version == 1 else f"unified:{ref.path}"
    assert parse_cgroup_spec(canonical, HIERARCHIES) == ref, f"{typed!r} -> {canonical!r}"


@FUZZ
@given(typed=path_text)
def test_child_cgroup_names(typed: str) -> None:
    got = attempt("cgroup name", lambda: check_child_name(typed), refusals=(CgroupPathError,))
    if not got.refused:
        assert "/" not in got.value and got.value not in (".", "..") and "\0" not in got.value


@FUZZ
@given(typed=typed_text)
def test_overlay_options(typed: str) -> None:
    got = attempt("overlay option", lambda: parse_options([typed]), refusals=(OverlayError,))
    if not got.refused:
        text = ",".join(k if v is None else f"{k}={v}" for k, v in got.value)
        assert parse_options([text]) == got.value


@FUZZ
@given(paths=st.lists(path_text.filter(lambda p: p and "\0" not in p), min_size=1, max_size=5))
def test_overlay_layer_paths_survive_escaping(paths: list[str]) -> None:
    escaped = ":".join(overlay_escape(p) for p in paths)
    got = attempt("overlay layer paths", lambda: split_lowerdir(escaped), refusals=())
    assert got.value == (tuple(paths), ())


@FUZZ
@given(
    typed=st.one_of(
        typed_text,
        st.lists(
            st.sampled_from(["ls", "-l", "'a b'", '"c d"', "\\", "'", '"', "$HOME", ";", "|", "&&",
                             "\\ ", "*", "\x00", "é", "\t", "#", "`x`", "$(x)"]),
            max_size=8,
        ).map(" ".join),
    )
)  # fmt: skip
@example(typed="sh -c 'echo \x00'")  # found by this test: NUL inside an argument
def test_command_lines_split_like_a_shell(typed: str) -> None:
    """The run/enter panes split a typed command line into argv (never a shell string)."""
    from nstui.ui.screens.ns_form import split_command

    got = attempt("command line", lambda: split_command(typed))
    if got.refused:
        return
    argv = got.value
    assert all("\0" not in arg for arg in argv), f"{typed!r} -> {argv!r}: execve cannot take NUL"
    assert split_command(shlex.join(argv)) == argv
