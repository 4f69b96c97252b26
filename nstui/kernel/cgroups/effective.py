"""Effective limits: the tightest limit among a cgroup and its ancestors.

A child's ``memory.max`` of ``max`` under a parent at 512M is really 512M; the pane shows the
tightest value and which cgroup sets it. Covers memory, pids and cpu (in CPUs' worth).
"""

from __future__ import annotations

from dataclasses import dataclass

from nstui.kernel.cgroups.knobs import Knob, cpu_limit_cpus
from nstui.kernel.cgroups.paths import CgroupDir, CgroupRef
from nstui.kernel.cgroups.units import format_size


@dataclass(frozen=True, slots=True)
class Effective:
    kind: str  # memory, pids, cpu
    value: float | None  # None: unlimited all the way up
    source: str  # spec of the cgroup whose limit is the tightest ("" when unlimited)
    own: bool  # the cgroup's own limit is the tightest

    @property
    def display(self) -> str:
        return format_limit(self.kind, self.value)


def format_limit(kind: str, value: float | None) -> str:
    if value is None:
        return "max"
    if kind == "memory":
        return format_size(int(value))
    if kind == "cpu":
        return f"{value:.2f} CPUs"
    return str(int(value))


def _number(knob: Knob, directory: CgroupDir) -> float | None:
    raw = directory.read(knob.file)
    if raw is None:
        return None
    if knob.limit_kind == "cpu":
        return cpu_limit_cpus(knob, raw, directory)
    return knob.vtype.number(raw)


def effective_limit(ref: CgroupRef, knob: Knob) -> Effective | None:
    """Tightest of KNOB's limit over REF and its ancestors; None for knobs that are no limit."""
    if knob.limit_kind is None:
        return None
    best: float | None = None
    source = ""
    own = False
    for index, current in enumerate([ref, *ref.ancestors()]):
        try:
            with CgroupDir(current) as directory:
                value = _number(knob, directory)
        except (OSError, ValueError):
            continue
        if value is not None and (best is None or value < best):
            best, source, own = value, current.spec, index == 0
    return Effective(knob.limit_kind, best, source, own)
