"""undo_input: what to write to undo one recorded change, per kind of file (pure; no kernel)."""

from __future__ import annotations

import pytest

from nstui.kernel.cgroups.knobs import Knob, knob_for
from nstui.kernel.cgroups.undo import NotUndoable, undo_input

MAX4 = "rbps=max wbps=max riops=max wiops=max"


def knob(version: int, file: str) -> Knob:
    found = knob_for(version, file)
    assert found is not None, file
    return found


@pytest.mark.parametrize(
    ("version", "file", "before", "written", "undo"),
    [
        # scalar: the old value back
        (2, "memory.max", "max\n", "1G", ("memory.max", "max")),
        # per-device and per-interface files: that device's old line, else its neutral value
        (2, "io.max", "8:0 rbps=1048576 wbps=max riops=max wiops=max\n", "8:0 rbps=2M",
         ("io.max", "8:0 rbps=1048576 wbps=max riops=max wiops=max")),
        (2, "io.max", f"8:16 {MAX4}\n", "8:0 wiops=9", ("io.max", f"8:0 {MAX4}")),
        (1, "net_prio.ifpriomap", "lo 0\neth0 5\n", "eth0 7", ("net_prio.ifpriomap", "eth0 5")),
        (1, "net_prio.ifpriomap", "lo 0\n", "eth0 7", ("net_prio.ifpriomap", "eth0 0")),
        (1, "blkio.throttle.read_bps_device", "8:0 1048576\n", "8:0 2097152",
         ("blkio.throttle.read_bps_device", "8:0 1048576")),
        (1, "blkio.throttle.read_bps_device", "", "8:0 2097152",
         ("blkio.throttle.read_bps_device", "8:0 0")),
        (2, "io.weight", "default 100\n8:0 200\n", "8:0 300", ("io.weight", "8:0 200")),
        (2, "io.weight", "default 100\n", "default 300", ("io.weight", "default 100")),
        (2, "io.weight", "default 100\n", "8:0 300", ("io.weight", "8:0 0")),
        # a flag read back among other lines: its own last word
        (1, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n", "1",
         ("memory.oom_control", "0")),
        # inverses that need no old value
        (2, "cgroup.subtree_control", None, "+memory -io",
         ("cgroup.subtree_control", "-memory +io")),
        (1, "devices.allow", None, "c 1:3 rwm", ("devices.deny", "c 1:3 rwm")),
        (1, "devices.deny", None, "a", ("devices.allow", "a")),
    ],
)  # fmt: skip
def test_undo_input(
    version: int, file: str, before: str | None, written: str, undo: tuple[str, str]
) -> None:
    assert undo_input(knob(version, file), before, written) == undo


@pytest.mark.parametrize(
    ("version", "file", "before", "written", "why"),
    [
        (2, "memory.max", None, "1G", "old value of memory.max was not recorded"),
        (2, "memory.max", "  ", "1G", "was empty before"),
        (2, "io.weight", "", "default 300", "old default weight was not recorded"),
    ],
)
def test_not_undoable_says_why(
    version: int, file: str, before: str | None, written: str, why: str
) -> None:
    with pytest.raises(NotUndoable, match=why):
        undo_input(knob(version, file), before, written)
