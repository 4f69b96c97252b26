"""Fuzzed kernel text: every parser of /proc and cgroup files takes malformed input without
crashing — it skips what it cannot read, or raises the ValueError its caller turns into an
"unreadable" mark — and the views built on them (a cgroup reading, a process record) still
come out, with the damaged field marked, when the files under them are garbage.

Well-formed text is checked too: mountinfo's octal escapes and /proc/PID/stat's comm (any
characters, spaces and parentheses included) come back exactly.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from nstui.kernel import aufs, devmapper, mountinfo, namespaces, nsfacts, overlay, procread
from nstui.kernel.cgroups import cpu, devices, freezer, io, memory, pressure
from nstui.kernel.cgroups.hierarchy import Hierarchy
from nstui.kernel.cgroups.knobs import all_knobs
from nstui.kernel.cgroups.paths import CgroupRef
from nstui.kernel.cgroups.readings import read_cgroup
from nstui.kernel.procfs import parse_cgroup_file

from .fuzzkit import FUZZ, attempt, kernel_text

# parser name -> (function, refusal types): () means "never raises, skips what it cannot read"
TEXT_PARSERS = {
    "mountinfo": (mountinfo.parse_mountinfo, ()),
    "uid_map": (nsfacts.parse_id_map, ()),
    "net/dev": (nsfacts.parse_net_dev, ()),
    "timens_offsets": (nsfacts.parse_time_offsets, ()),
    "ns link text": (namespaces.parse_ns_text, ()),
    "overlay options": (overlay.parse_overlay_options, ()),
    "overlay lowerdir": (overlay.split_lowerdir, ()),
    "aufs branch": (lambda text: aufs.parse_branch(text, 0), ()),
    "dmsetup table": (devmapper.parse_dmsetup_table, ()),
    "PSI": (pressure.parse_pressure, (ValueError,)),
    "io.stat": (io.parse_io_stat, (ValueError,)),
    "io.max": (io.parse_io_max_file, (ValueError,)),
    "blkio service": (io.parse_blkio_service, (ValueError,)),
    "device values": (io.parse_device_values, (ValueError,)),
    "flat keyed (memory.stat, cpu.stat)": (memory.parse_flat_keyed, (ValueError,)),
    "oom_control": (memory.parse_oom_control, (ValueError,)),
    "memory value": (memory.parse_memory_value, (ValueError,)),
    "cpu.max": (cpu.parse_cpu_max, (ValueError,)),
    "cpuacct.usage": (cpu.parse_cpuacct_usage, (ValueError,)),
    "devices.list": (devices.parse_device_list, (ValueError,)),
    "freezer.state": (freezer.parse_v1_state, (ValueError,)),
    "cgroup.events": (lambda text: freezer.v2_state("1", text), (ValueError,)),
}


@pytest.mark.parametrize("name", sorted(TEXT_PARSERS))
@FUZZ
@given(text=kernel_text)
def test_kernel_text_parser_never_crashes(name: str, text: str) -> None:
    func, refusals = TEXT_PARSERS[name]
    attempt(name, lambda: func(text), refusals=refusals)


@FUZZ
@given(raw=st.binary(max_size=200) | kernel_text.map(str.encode))
def test_proc_pid_cgroup(raw: bytes) -> None:
    got = attempt("/proc/PID/cgroup", lambda: parse_cgroup_file(raw), refusals=())
    assert all(isinstance(k, int) and isinstance(v, str) for k, v in got.value.items())


# --- mountinfo: the kernel's escapes come back exactly ---------------------------------------


def _kernel_mangle(text: str) -> str:
    """What fs/proc_namespace.c does to paths in mountinfo: octal for space, tab, LF, \\."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in text)


field_text = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1
)


@FUZZ
@given(mountpoint=field_text, root=field_text, source=field_text, options=st.text(max_size=20))
@example(mountpoint="/a b\\040c", root="/", source="x\ty", options="")
@example(mountpoint="/mnt/no\xa0break", root="/", source="x", options="")  # not escaped by Linux
def test_mountinfo_escapes_round_trip(
    mountpoint: str, root: str, source: str, options: str
) -> None:
    superopts = "".join(c for c in options if not c.isspace()) or "rw"
    line = (
        f"36 25 0:32 {_kernel_mangle(root)} {_kernel_mangle(mountpoint)} rw,relatime "
        f"shared:1 - tmpfs {_kernel_mangle(source)} {superopts}"
    )
    got = attempt("mountinfo line", lambda: mountinfo.parse_mountinfo_line(line), refusals=())
    mount = got.value
    assert mount is not None, line
    assert (mount.mountpoint, mount.root, mount.source) == (mountpoint, root, source)
    assert mount.super_options == superopts and mount.optional == ("shared:1",)


# --- /proc/PID/stat ---------------------------------------------------------------------------

PID = 4242
STAT_TAIL = "S 77 4242 4242 0 -1 4194560 100 0 0 0 5 7 0 0 20 0 3 0 123456 1000 42"


def _fake_process(proc: Path, stat: bytes, pid: int = PID) -> None:
    base = proc / str(pid)
    base.mkdir(parents=True, exist_ok=True)
    (base / "stat").write_bytes(stat)
    (base / "cmdline").write_bytes(b"fake\0arg\0")
    (base / "status").write_bytes(b"Name:\tfake\nUid:\t0\t0\t0\t0\nNSpid:\t4242\n")
    (base / "cgroup").write_bytes(b"0::/\n")


@FUZZ
@given(
    comm=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=64)
)
@example(comm=") S 1 (")
@example(comm="a) (b) 9 9 9")
def test_stat_comm_with_spaces_and_parentheses(
    tmp_path_factory: pytest.TempPathFactory, comm: str
) -> None:
    proc = tmp_path_factory.mktemp("proc")
    _fake_process(proc, f"{PID} ({comm}) {STAT_TAIL}\n".encode(errors="surrogateescape"))
    rec = attempt(
        "/proc/PID/stat",
        lambda: procread.read_record(str(proc), PID, -1, True, (0, 0), False),
        refusals=(),
    ).value
    assert rec is not None
    assert rec[procread.COMM] == comm
    assert (rec[procread.PPID], rec[procread.STATE], rec[procread.NTHREADS]) == (77, "S", 3)
    assert rec[procread.START_TICKS] == 123456


@FUZZ
@given(stat=st.binary(max_size=300) | kernel_text.map(str.encode))
@example(stat=b"4242 (x")
@example(stat=b"4242 (x) S 1")
@example(stat=b"4242 x) S " + b"z " * 30)
def test_malformed_stat_is_unreadable_not_a_crash(
    tmp_path_factory: pytest.TempPathFactory, stat: bytes
) -> None:
    proc = tmp_path_factory.mktemp("proc")
    _fake_process(proc, stat)
    got = attempt(
        "/proc/PID/stat (malformed)",
        lambda: procread.read_record(str(proc), PID, -1, True, (0, 0), False),
        refusals=(),
    )
    # None (treated like a vanished process) or a record: never an exception
    assert got.value is None or got.value[0] == PID


# --- a cgroup whose every file holds garbage still gives a reading ---------------------------


def _fake_cgroup(root: Path, version: int, fill: str) -> CgroupRef:
    root.mkdir(parents=True, exist_ok=True)
    names = {k.file for k in all_knobs() if k.version == version and "*" not in k.file}
    names |= {"cgroup.procs", "cgroup.controllers", "cgroup.events", "cgroup.freeze"}
    names |= {"memory.stat", "memory.events", "cpu.stat", "io.stat", "memory.pressure"}
    for name in names:
        (root / name).write_text(fill, errors="surrogateescape")
    controllers = ("memory", "cpu", "pids") if version == 1 else ("memory", "cpu", "io", "pids")
    hierarchy = Hierarchy(
        hid=0 if version == 2 else 4, version=version, controllers=controllers,
        mountpoint=str(root), root="/",
    )  # fmt: skip
    return CgroupRef(hierarchy, "/")


@pytest.mark.parametrize("version", [1, 2])
@FUZZ
@given(fill=kernel_text)
@example(fill="max\n")
@example(fill="some avg10=x\n")
@example(fill="12 abc\n")
def test_cgroup_reading_of_garbage_files(
    tmp_path_factory: pytest.TempPathFactory, version: int, fill: str
) -> None:
    ref = _fake_cgroup(tmp_path_factory.mktemp("cg") / "cg", version, fill)
    reading = attempt(f"cgroup v{version} reading", lambda: read_cgroup(ref), refusals=()).value
    assert reading.knobs, "no knob was listed"
    for knob in reading.knobs:
        assert isinstance(knob.display, str)


def test_fuzz_tests_cover_the_parsers_named_in_issue_7() -> None:
    """mountinfo, /proc/PID/stat, cgroup files, uid_map, PSI, io.stat, overlay options."""
    covered = set(TEXT_PARSERS) | {"/proc/PID/stat", "/proc/PID/cgroup"}
    for name in ("mountinfo", "uid_map", "PSI", "io.stat", "overlay options", "/proc/PID/stat"):
        assert name in covered
    assert os.path.basename(__file__).startswith("test_fuzz_")
