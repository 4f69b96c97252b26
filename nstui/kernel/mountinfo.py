"""Parse /proc/PID/mountinfo, including its octal escapes (``\\040`` for a space).

Contract: ``parse_mountinfo(text)`` returns ``Mount`` records; ``read_mountinfo(pid)`` reads
one process's view (its mount namespace). Malformed lines are skipped, never raise.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Mount:
    mount_id: int
    parent_id: int
    major: int
    minor: int
    root: str  # unescaped; for nsfs bind mounts the ns text such as ``net:[4026532281]``
    mountpoint: str  # unescaped
    options: str  # per-mount options
    optional: tuple[str, ...]  # shared:N master:N propagate_from:N unbindable
    fstype: str
    source: str  # unescaped
    super_options: str  # raw, still with overlay's own escapes (see nstui.kernel.overlay)
