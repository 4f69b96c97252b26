"""A cgroup whose files do not parse still gives a reading: the unparsable fields are empty.

A plain directory stands in for the cgroup (read_cgroup reads relative to its fd), so the
files can hold what no kernel writes: a reading must not fail as a whole because of one file.
"""

from __future__ import annotations

import os
from pathlib import Path

from nstui.kernel.cgroups.hierarchy import Hierarchy
from nstui.kernel.cgroups.paths import CgroupRef
from nstui.kernel.cgroups.readings import read_cgroup


def _cgroup(root: Path, files: dict[str, str]) -> CgroupRef:
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    hierarchy = Hierarchy(
        hid=0, version=2, controllers=("memory", "cpu"), mountpoint=str(root), root="/"
    )
    return CgroupRef(hierarchy, "/")


def test_unparsable_files_leave_their_fields_empty(tmp_path: Path) -> None:
    me = os.getpid()
    ref = _cgroup(
        tmp_path / "cg",
        {
            "cgroup.procs": f"{me}\nabc\n",
            "cgroup.threads": f"{me}\n-1\n",
            "cgroup.freeze": "0\n",
            "cgroup.events": "populated 1\nfrozen x\n",
            "cpu.stat": "usage_usec 12 abc\n",
            "memory.events": "max\n",
            "memory.current": "4096\n",
            "memory.max": "max\n",
        },
    )
    reading = read_cgroup(ref)
    assert [m.pid for m in reading.members] == [me]
    assert reading.tids == (me,)
    assert reading.freeze is None
    sample = reading.sample
    assert (sample.cpu_usec, sample.throttled, sample.oom_kills) == (None, None, None)
    assert (sample.memory, sample.memory_limit) == (4096, None)  # what parses is still shown
