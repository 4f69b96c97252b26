"""Discover cgroup hierarchies from mountinfo and walk their trees.

Contract: ``discover_hierarchies()`` finds every mounted hierarchy (v1 with its controllers,
v2 with cgroup.controllers); ``walk(hierarchy)`` yields every cgroup with its member pids,
threads and controllers. A cgroup removed mid-walk is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """One mounted cgroup hierarchy.

    ``hid`` is the hierarchy id of /proc/cgroups and /proc/PID/cgroup (0 for v2).
    """

    hid: int
    version: int  # 1 or 2
    controllers: tuple[
        str, ...
    ]  # v1: mount options (cpu, cpuacct, name=systemd...); v2: cgroup.controllers
    mountpoint: str

    @property
    def name(self) -> str:
        """As `lssubsys -m` names it: controllers joined by commas; ``unified`` for v2."""
        return ",".join(self.controllers) if self.version == 1 else "unified"


@dataclass(frozen=True, slots=True)
class Cgroup:
    """One cgroup directory in one snapshot. ``path`` is relative to the hierarchy root,
    starting with ``/`` (as /proc/PID/cgroup prints it)."""

    hid: int
    path: str
    pids: tuple[int, ...]  # cgroup.procs
    tids: tuple[int, ...]  # tasks (v1) / cgroup.threads (v2)
    controllers: tuple[str, ...]  # v2: cgroup.controllers; v1: the hierarchy's
    subtree_control: tuple[str, ...] = ()  # v2 only
    threaded: bool = False  # v2 cgroup.type is threaded / domain threaded

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1] or "/"

    @property
    def parent_path(self) -> str | None:
        if self.path == "/":
            return None
        head = self.path.rsplit("/", 1)[0]
        return head or "/"
