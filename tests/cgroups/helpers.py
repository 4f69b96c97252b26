"""Helpers for the cgroup tests: the Sandbox of real test cgroups and small process probes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from nstui.kernel.cgroups.hierarchy import Hierarchy, cgroup_mode, discover_hierarchies
from nstui.kernel.cgroups.paths import CgroupRef, parse_cgroup_spec


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


class Sandbox:
    """Cgroups for one test on one layout (version 1 or 2)."""

    def __init__(self, version: int, make_parent: Callable[[str], Path]) -> None:
        self.version = version
        self._make_parent = make_parent
        self.hierarchies: tuple[Hierarchy, ...] = discover_hierarchies()
        self._parents: dict[str, Path] = {}
        self.mode = cgroup_mode()

    def v2_controllers(self) -> list[str]:
        v2 = next((h for h in self.hierarchies if h.version == 2), None)
        if v2 is None:
            return []
        return (Path(v2.mountpoint) / "cgroup.controllers").read_text().split()

    def has(self, controller: str) -> bool:
        if self.version == 2:
            return controller in self.v2_controllers() or controller in ("unified", "cgroup")
        return any(h.version == 1 and controller in h.controllers for h in self.hierarchies)

    def require(self, controller: str) -> None:
        if not self.has(controller):
            pytest.skip(f"controller {controller} is not on the cgroup v{self.version} tree here")

    def parent(self, controller: str) -> Path:
        """The test parent holding CONTROLLER (v2: one parent, every controller enabled)."""
        key = "v2" if self.version == 2 else controller
        if key in self._parents:
            return self._parents[key]
        if self.version == 2:
            path = self._make_parent("unified")
            root = path.parent
            wanted = self.v2_controllers()
            enabled = (root / "cgroup.subtree_control").read_text().split()
            for name in wanted:
                if name not in enabled:
                    _write(root / "cgroup.subtree_control", f"+{name}")
            for name in wanted:
                _write(path / "cgroup.subtree_control", f"+{name}")
        else:
            self.require(controller)
            path = self._make_parent(controller)
        self._parents[key] = path
        return path

    def leaf(self, controller: str, name: str = "leaf") -> CgroupRef:
        """A new child cgroup under the parent (v1 cpuset: cpus/mems copied from it)."""
        self.require(controller)
        parent = self.parent(controller)
        child = parent / name
        child.mkdir()
        if self.version == 1 and controller == "cpuset":
            for knob in ("cpuset.cpus", "cpuset.mems"):
                _write(child / knob, (parent / knob).read_text().strip())
        return self.ref_of(child)

    def ref_of(self, directory: Path) -> CgroupRef:
        return parse_cgroup_spec(str(directory), self.hierarchies)

    def path(self, ref: CgroupRef) -> Path:
        return Path(ref.directory)


def cgget(ref: CgroupRef, file: str) -> str | None:
    """cgroup-tools' view of FILE (pure v2 only: cgget is broken on hybrid hosts), else None."""
    if ref.version != 2 or cgroup_mode() != "unified" or shutil.which("cgget") is None:
        return None
    out = subprocess.run(
        ["cgget", "-n", "-v", "-r", file, ref.path],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return out.stdout.strip()


PY = sys.executable


def python_child(code: str) -> list[str]:
    """argv of a Python child that waits for a line on stdin before running CODE."""
    return [PY, "-c", "import sys\nsys.stdin.readline()\n" + code]


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def pids_of(ref: CgroupRef) -> list[int]:
    return [int(x) for x in (Path(ref.directory) / "cgroup.procs").read_text().split()]
