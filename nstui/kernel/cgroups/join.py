"""Put a process into another process's cgroups, in every mounted hierarchy (v2 and each v1):
what ``nstui enter --cgroup`` does, like ``nsenter --join-cgroup``.

Each move goes through ``control.move``, so it is validated, written by the cgroup writer and
recorded in the audit log like any other change; an audit log that cannot record it refuses
the move (AuditError).
"""

from __future__ import annotations

from collections.abc import Sequence

from nstui.kernel.cgroups import control
from nstui.kernel.cgroups.audit import AuditError, AuditLog
from nstui.kernel.cgroups.hierarchy import Hierarchy, discover_hierarchies, resolve_cgroup_dir
from nstui.kernel.cgroups.paths import CgroupRef


class CgroupJoinError(Exception):
    """A cgroup of the target cannot be joined; ``str()`` is one line for the user."""


def target_cgroups(
    pid: int, hierarchies: Sequence[Hierarchy] | None = None
) -> tuple[CgroupRef, ...]:
    """The cgroup of process PID in every hierarchy mounted here, from /proc/PID/cgroup.

    Hierarchies not mounted here are left out (there is nothing to join them through).
    Raises OSError when /proc/PID/cgroup cannot be read (ENOENT/ESRCH: the process is gone)
    and CgroupJoinError for a path that lies outside our mount of its hierarchy (a target
    outside our cgroup namespace shows ``/..`` paths).
    """
    by_hid = {h.hid: h for h in (discover_hierarchies() if hierarchies is None else hierarchies)}
    refs: list[CgroupRef] = []
    for hid, path in cgroup_paths(pid).items():
        hierarchy = by_hid.get(hid)
        if hierarchy is None:
            continue
        try:
            resolve_cgroup_dir(hierarchy, path)
        except ValueError as exc:
            raise CgroupJoinError(
                f"cannot join the {hierarchy.name} cgroup of process {pid}: {exc}"
            ) from None
        refs.append(CgroupRef(hierarchy, path))
    return tuple(refs)


def cgroup_paths(pid: int) -> dict[int, str]:
    """Hierarchy id -> cgroup path of process PID (/proc/PID/cgroup; 0 is the v2 tree).
    OSError when it cannot be read; lines that do not parse are left out."""
    with open(f"/proc/{pid}/cgroup", encoding="utf-8", errors="surrogateescape") as fh:
        text = fh.read()
    out: dict[int, str] = {}
    for line in text.splitlines():
        hid_text, _, rest = line.partition(":")
        _controllers, sep, path = rest.partition(":")
        if sep and hid_text.isdecimal():
            out[int(hid_text)] = path
    return out


def join(pid: int, refs: Sequence[CgroupRef], audit: AuditLog) -> None:
    """Move process PID into each of REFS where it is not there already, one audited write
    each (a move to where it is would change nothing, and is not recorded).

    Stops at the first refusal with CgroupJoinError (the writer's message: file, value and
    the kernel's reason, e.g. the no-internal-processes rule); AuditError when the log cannot
    record the move (nothing written then). Earlier moves are not undone: the caller kills
    the process it was moving.
    """
    try:
        current = cgroup_paths(pid)
    except OSError as exc:
        raise CgroupJoinError(f"cannot read the cgroups of process {pid}: {exc.strerror}") from None
    for ref in refs:
        if current.get(ref.hid) == ref.path:
            continue
        try:
            result = control.move(pid, ref, audit)
        except AuditError:
            raise
        except (OSError, ValueError) as exc:  # CgroupGone, CgroupPathError, no cgroup.procs
            raise CgroupJoinError(f"cannot join {ref.spec}: {exc}") from None
        if not result.ok:
            raise CgroupJoinError(result.message)
