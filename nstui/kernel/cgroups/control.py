"""Cgroup control: make and remove children, move processes and threads, freeze/thaw, kill,
enable controllers for children. Every change is audited; file writes go through the writer.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass

from nstui.kernel import killpoint, procread
from nstui.kernel.cgroups.audit import AuditError, AuditLog
from nstui.kernel.cgroups.freezer import FreezeState, parse_v1_state, v2_state
from nstui.kernel.cgroups.hierarchy import Hierarchy, discover_hierarchies
from nstui.kernel.cgroups.knobs import knob_for, validate
from nstui.kernel.cgroups.paths import CgroupDir, CgroupPathError, CgroupRef, check_child_name
from nstui.kernel.cgroups.writer import WriteResult, explain, write_value
from nstui.kernel.procfs import CLK_TCK, boot_time

#: name prefix of a v1 cpuset child being made (``.nstui-new-<pid>-<ns>``), see make_child
STAGING_PREFIX = ".nstui-new-"


@dataclass(frozen=True, slots=True)
class ControlResult:
    ok: bool
    message: str
    audit_id: str | None = None


def _from_write(result: WriteResult, done: str) -> ControlResult:
    return ControlResult(result.ok, done if result.ok else result.message, result.audit_id)


def _write(ref: CgroupRef, file: str, typed: str, audit: AuditLog) -> WriteResult:
    knob = knob_for(ref.version, file)
    if knob is None:  # pragma: no cover - the table has every control file
        raise ValueError(f"unknown control file {file}")
    with CgroupDir(ref) as directory:
        value = validate(knob, typed, directory)
    return write_value(ref, value, audit)


def _is_v1_cpuset(ref: CgroupRef) -> bool:
    return ref.version == 1 and "cpuset" in ref.hierarchy.controllers


def make_child(
    parent: CgroupRef,
    name: str,
    audit: AuditLog,
    *,
    copy_cpuset: bool = True,
    undo_of: str | None = None,
) -> ControlResult:
    """mkdir a child cgroup. A new v1 cpuset child starts with empty cpus/mems, where no task
    can be attached (ENOSPC): it is made under a staging name, given its parent's cpus and
    mems, then renamed, so the name asked for never exists half made — not even when nstui is
    killed in between: the ``.nstui-new-<pid>-*`` directory that would be left is removed by
    the next nstui (``remove_stale_staging``). ``copy_cpuset=False`` keeps the kernel's empty
    cpus/mems. ``undo_of``: the audited change this one undoes."""
    check_child_name(name)
    if copy_cpuset and _is_v1_cpuset(parent):
        return _make_cpuset_child(parent, name, audit, undo_of)
    return _mkdir(parent, name, audit, undo_of)


def _make_cpuset_child(
    parent: CgroupRef, name: str, audit: AuditLog, undo_of: str | None
) -> ControlResult:
    final = parent.child(name)
    remove_stale_staging(parent, audit)
    with CgroupDir(parent) as directory:
        with contextlib.suppress(OSError):
            os.stat(name, dir_fd=directory.fd, follow_symlinks=False)
            return ControlResult(False, f"cannot create {final.spec}: it already exists")
        # The audit names the cgroup asked for, so undo removes it; the staging writes of
        # cpus/mems are audited under the staging name as steps of this mkdir (part_of), so
        # undo without an id undoes the mkdir, never a step of it.
        entry = audit.attempt(final.spec, "(mkdir)", None, name, name, undo_of=undo_of)
        staging = f"{STAGING_PREFIX}{os.getpid()}-{time.monotonic_ns()}"
        try:
            os.mkdir(staging, 0o755, dir_fd=directory.fd)
        except OSError as exc:
            reason = explain("(mkdir)", exc.errno or 0, parent.version, name)
            audit.result(entry, None, "error: " + reason)
            return ControlResult(False, f"cannot create {final.spec}: {reason}", entry)
        killpoint.reached("cgroup.cpuset.staged")
        try:
            copied = copy_parent_cpuset(parent.child(staging), audit, part_of=entry)
        except OSError as exc:  # a step not recordable (AuditError), or the staging dir gone
            with contextlib.suppress(OSError):
                os.rmdir(staging, dir_fd=directory.fd)
            with contextlib.suppress(OSError):
                audit.result(entry, None, f"error: {exc}")
            raise
        try:
            if not copied.ok:
                raise OSError(errno.ENOSPC, copied.message)
            killpoint.reached("cgroup.cpuset.copied")
            # v1 cgroupfs renames within one parent; the target must not exist.
            os.rename(staging, name, src_dir_fd=directory.fd, dst_dir_fd=directory.fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.rmdir(staging, dir_fd=directory.fd)
            reason = copied.message if not copied.ok else os.strerror(exc.errno or 0)
            audit.result(entry, None, "error: " + reason)
            return ControlResult(False, f"cannot create {final.spec}: {reason}", entry)
        killpoint.reached("cgroup.cpuset.renamed")
        audit.result(entry, "created", "ok")
    return ControlResult(True, f"created {final.spec} with its parent's cpus and mems", entry)


def _started_at(pid: int) -> float | None:
    """When process PID started (epoch seconds), None when there is no such process."""
    try:
        stat = procread.parse_stat(pid, procread.read_stat("/proc", pid))
        start_ticks: int = stat[procread.START_TICKS]
        return boot_time() + start_ticks / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def _abandoned(name: str, made_at: float) -> bool:
    """A staging directory whose maker (the pid in its name) is gone: no process has that
    pid, or the one that has it started after the directory was made (a reused pid)."""
    pid = name[len(STAGING_PREFIX) :].partition("-")[0]
    if not pid.isdecimal():
        return False  # not ours
    started = _started_at(int(pid))
    return started is None or started > made_at + 1.0  # 1 s: btime has whole seconds


def remove_stale_staging(parent: CgroupRef, audit: AuditLog) -> list[str]:
    """rmdir the staging children (``.nstui-new-<pid>-*``) an nstui killed while making a
    cpuset child left in PARENT; another nstui's staging at work is left alone, and so is one
    with processes or children (the kernel refuses: EBUSY). Each removal is audited; with an
    unwritable log nothing is removed. Returns the names removed."""
    removed: list[str] = []
    try:
        directory = CgroupDir(parent)
    except (OSError, CgroupPathError):
        return removed
    with directory:
        for name in directory.children():
            if not name.startswith(STAGING_PREFIX):
                continue
            try:
                made_at = os.stat(name, dir_fd=directory.fd, follow_symlinks=False).st_ctime
            except OSError:
                continue
            if not _abandoned(name, made_at):
                continue
            spec = parent.child(name).spec
            try:
                entry = audit.attempt(spec, "(rmdir)", "exists", name, "(left by a killed nstui)")
            except AuditError:
                return removed
            try:
                os.rmdir(name, dir_fd=directory.fd)
            except OSError as exc:
                reason = explain("(rmdir)", exc.errno or 0, parent.version, name)
                audit.result(entry, "exists", "error: " + reason)
                continue
            audit.result(entry, None, "ok")
            removed.append(name)
    return removed


def sweep_stale_staging(hierarchies: tuple[Hierarchy, ...], audit: AuditLog) -> list[str]:
    """``remove_stale_staging`` over every v1 cpuset hierarchy (nstui's start-up sweep; the
    only place staging happens). Returns the specs removed."""
    removed: list[str] = []
    for h in hierarchies:
        if h.version != 1 or "cpuset" not in h.controllers:
            continue
        for top, dirs, _files in os.walk(h.mountpoint):
            stale = [d for d in dirs if d.startswith(STAGING_PREFIX)]
            dirs[:] = [d for d in dirs if not d.startswith(STAGING_PREFIX)]
            if not stale:
                continue
            rel = os.path.relpath(top, h.mountpoint)
            path = h.root.rstrip("/") + ("" if rel == "." else "/" + rel)
            parent = CgroupRef(h, path or "/")
            removed += [parent.child(n).spec for n in remove_stale_staging(parent, audit)]
    return removed


def sweep_at_start(audit: AuditLog) -> list[str]:
    """What nstui does as it starts (as root): remove the cpuset staging directories a killed
    nstui left (``sweep_stale_staging``). Never raises; returns the specs removed."""
    if os.geteuid() != 0:
        return []
    try:
        return sweep_stale_staging(discover_hierarchies(), audit)
    except (OSError, CgroupPathError):
        return []


def _mkdir(parent: CgroupRef, name: str, audit: AuditLog, undo_of: str | None) -> ControlResult:
    child = parent.child(name)
    with CgroupDir(parent) as directory:
        entry = audit.attempt(child.spec, "(mkdir)", None, name, name, undo_of=undo_of)
        killpoint.reached("cgroup.mkdir.recorded")
        try:
            os.mkdir(name, 0o755, dir_fd=directory.fd)
        except OSError as exc:
            reason = explain("(mkdir)", exc.errno or 0, parent.version, name)
            if exc.errno == errno.EAGAIN:
                reason += ": cgroup.max.descendants or cgroup.max.depth of an ancestor reached"
            elif exc.errno == errno.EEXIST:
                reason = f"{child.spec} already exists"
            audit.result(entry, None, "error: " + reason)
            return ControlResult(False, f"cannot create {child.spec}: {reason}", entry)
        killpoint.reached("cgroup.mkdir.made")
        audit.result(entry, "created", "ok")
    return ControlResult(True, f"created {child.spec}", entry)


def needs_cpuset_copy(ref: CgroupRef) -> bool:
    """A v1 cpuset cgroup with empty cpus or mems: attaching a task would fail (ENOSPC)."""
    if ref.version != 1 or "cpuset" not in ref.hierarchy.controllers:
        return False
    with CgroupDir(ref) as directory:
        cpus = (directory.read("cpuset.cpus") or "").strip()
        mems = (directory.read("cpuset.mems") or "").strip()
    return not cpus or not mems


def copy_parent_cpuset(
    ref: CgroupRef, audit: AuditLog, part_of: str | None = None
) -> ControlResult:
    """Give a v1 cpuset child its parent's cpus and mems (a new child has none). ``part_of``:
    the audited change these writes are steps of."""
    results: list[WriteResult] = []
    with CgroupDir(ref) as directory:
        for file in ("cpuset.cpus", "cpuset.mems"):
            parent_value = (directory.read_parent(file) or "").strip()
            if not parent_value:
                return ControlResult(False, f"the parent of {ref.spec} has an empty {file}")
            knob = knob_for(ref.version, file)
            assert knob is not None
            value = validate(knob, parent_value, directory)
            results.append(write_value(ref, value, audit, part_of=part_of))
    failed = [r for r in results if not r.ok]
    if failed:
        return ControlResult(False, failed[0].message, failed[0].audit_id)
    return ControlResult(True, f"{ref.spec}: cpus and mems copied from the parent")


def _is_mount_point(name: str, parent_fd: int) -> bool:
    try:
        inside = os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_dev
        return inside != os.fstat(parent_fd).st_dev
    except OSError:
        return False


def remove(ref: CgroupRef, audit: AuditLog, undo_of: str | None = None) -> ControlResult:
    parent = ref.parent()
    if parent is None:
        return ControlResult(False, f"{ref.spec} is the root of its hierarchy; refusing")
    name = ref.relative_parts()[-1]
    with CgroupDir(parent) as directory:
        entry = audit.attempt(ref.spec, "(rmdir)", "exists", name, name, undo_of=undo_of)
        try:
            os.rmdir(name, dir_fd=directory.fd)
        except OSError as exc:
            reason = explain("(rmdir)", exc.errno or 0, ref.version, name)
            if exc.errno == errno.EBUSY and _is_mount_point(name, directory.fd):
                reason += ": another filesystem is mounted on it (unmount that first)"
            elif exc.errno == errno.EBUSY:
                reason += ": it still has processes or child cgroups"
            elif exc.errno == errno.ENOENT:
                reason = "it does not exist"
            audit.result(entry, "exists", "error: " + reason)
            return ControlResult(False, f"cannot remove {ref.spec}: {reason}", entry)
        audit.result(entry, None, "ok")
    return ControlResult(True, f"removed {ref.spec}", entry)


def move(pid: int, ref: CgroupRef, audit: AuditLog, *, thread: bool = False) -> ControlResult:
    """Move process PID (or only thread PID with ``thread``) into REF: one pid per write."""
    if not os.path.exists(f"/proc/{pid}"):
        return ControlResult(False, f"no process or thread {pid} (it exited?)")
    if ref.version == 1:
        file = "tasks" if thread else "cgroup.procs"
        if not thread and "cpuset" in ref.hierarchy.controllers and needs_cpuset_copy(ref):
            return ControlResult(
                False,
                f"{ref.spec} has empty cpuset.cpus or cpuset.mems, so the kernel would refuse "
                "(ENOSPC); copy the parent's first",
            )
    else:
        file = "cgroup.threads" if thread else "cgroup.procs"
    what = "thread" if thread else "process"
    return _from_write(_write(ref, file, str(pid), audit), f"moved {what} {pid} to {ref.spec}")


def freeze_state(ref: CgroupRef) -> FreezeState | None:
    """Live state, None when this cgroup cannot be frozen (no freezer, or a root)."""
    with CgroupDir(ref) as directory:
        if ref.version == 1:
            text = directory.read("freezer.state")
            return None if text is None else parse_v1_state(text)
        freeze = directory.read("cgroup.freeze")
        events = directory.read("cgroup.events")
        if freeze is None or events is None:
            return None
        return v2_state(freeze, events)


def _freeze_file(ref: CgroupRef) -> str:
    if ref.is_root:
        raise CgroupPathError(f"{ref.spec}: the root cgroup cannot be frozen")
    if ref.version == 1:
        if "freezer" not in ref.hierarchy.controllers:
            raise CgroupPathError(f"{ref.spec}: the freezer controller is not on this hierarchy")
        return "freezer.state"
    return "cgroup.freeze"


def set_frozen(ref: CgroupRef, frozen: bool, audit: AuditLog, wait: float = 5.0) -> ControlResult:
    """Freeze or thaw, then wait (up to WAIT seconds) until the kernel reports the new state."""
    file = _freeze_file(ref)
    typed = ("FROZEN" if frozen else "THAWED") if ref.version == 1 else ("1" if frozen else "0")
    result = _write(ref, file, typed, audit)
    if not result.ok:
        return ControlResult(False, result.message, result.audit_id)
    goal = FreezeState.FROZEN if frozen else FreezeState.THAWED
    deadline = time.monotonic() + wait
    state = freeze_state(ref)
    while state != goal and time.monotonic() < deadline:
        time.sleep(0.02)
        state = freeze_state(ref)
    if state != goal:
        shown = state.value if state is not None else "unknown"
        return ControlResult(False, f"{ref.spec} is still {shown} after {wait:.0f} s", None)
    return ControlResult(True, f"{ref.spec} is {goal.value}", result.audit_id)


def subtree_pids(ref: CgroupRef) -> list[int]:
    """Processes of REF and its descendants (pids that vanish meanwhile are normal)."""
    out: list[int] = []
    stack = [ref]
    while stack:
        current = stack.pop()
        try:
            with CgroupDir(current) as directory:
                text = directory.read("cgroup.procs") or ""
                children = directory.children()
        except (OSError, ValueError):
            if current is ref:
                raise  # the cgroup itself is gone or unsafe: say so, not "0 processes"
            continue  # a child removed meanwhile
        out.extend(int(word) for word in text.split())
        stack.extend(current.child(name) for name in children)
    return sorted(set(out))


def kill(ref: CgroupRef, audit: AuditLog, timeout: float = 10.0) -> ControlResult:
    """Kill every process in REF's subtree: v2 cgroup.kill; v1 SIGKILL each member until none
    is left (new forks are caught by the next round)."""
    if ref.is_root:
        return ControlResult(False, f"{ref.spec} is a root cgroup: refusing to kill the host")
    count = len(subtree_pids(ref))
    if ref.version == 2:
        with CgroupDir(ref) as directory:
            has_kill = directory.exists("cgroup.kill")
        if has_kill:
            result = _write(ref, "cgroup.kill", "1", audit)
            if not result.ok:
                return ControlResult(False, result.message, result.audit_id)
            left = _wait_empty(ref, timeout)
            if left:
                return ControlResult(False, f"{ref.spec}: {left} processes still there")
            return ControlResult(True, f"killed {count} processes in {ref.spec}", result.audit_id)
    me = os.getpid()
    entry = audit.attempt(ref.spec, "(kill)", f"{count} processes", "SIGKILL", "kill")
    deadline = time.monotonic() + timeout
    pids = subtree_pids(ref)
    while pids and time.monotonic() < deadline:
        if me in pids:
            audit.result(entry, f"{len(pids)} processes", "error: nstui itself is a member")
            return ControlResult(False, f"nstui itself (pid {me}) is in {ref.spec}; refusing")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # gone already: the goal
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        pids = subtree_pids(ref)
    if pids:
        audit.result(entry, f"{len(pids)} processes", f"error: {len(pids)} left after {timeout} s")
        return ControlResult(False, f"{ref.spec}: {len(pids)} processes still there", entry)
    audit.result(entry, "0 processes", "ok")
    return ControlResult(True, f"killed {count} processes in {ref.spec}", entry)


def _wait_empty(ref: CgroupRef, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    left = subtree_pids(ref)
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = subtree_pids(ref)
    return len(left)


def set_subtree_control(
    ref: CgroupRef, controller: str, enable: bool, audit: AuditLog
) -> ControlResult:
    """Enable (+) or disable (-) CONTROLLER for REF's children (v2 only)."""
    if ref.version != 2:
        return ControlResult(False, "subtree_control exists on cgroup v2 only")
    word = ("+" if enable else "-") + controller
    state = "enabled" if enable else "disabled"
    result = _write(ref, "cgroup.subtree_control", word, audit)
    return _from_write(result, f"{controller} {state} for the children of {ref.spec}")
