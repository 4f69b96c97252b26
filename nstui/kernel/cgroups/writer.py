"""The only code that opens cgroup files for writing.

``write_value`` takes a ``Validated`` value (made only by ``knobs.validate``), never a string:
it records the attempt in the audit log (refusing when it cannot), opens the file relative to
the cgroup's directory fd with O_NOFOLLOW, sends the value in one write(2), reads the file back
and records the result. A kernel refusal becomes a message naming the file, the value and the
kernel's reason; the file keeps its old value.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass

from nstui.kernel import killpoint
from nstui.kernel.cgroups import io
from nstui.kernel.cgroups.audit import AuditError, AuditLog
from nstui.kernel.cgroups.knobs import Validated
from nstui.kernel.cgroups.paths import CgroupDir, CgroupGone, CgroupPathError, CgroupRef
from nstui.kernel.cgroups.values import DeviceValueType, IoMaxType, SubtreeControlType


@dataclass(frozen=True, slots=True)
class WriteResult:
    cgroup: str  # spec
    file: str
    typed: str
    value: str  # kernel text sent
    before: str | None
    after: str | None  # what the file holds after (None: write-only or unreadable)
    ok: bool
    message: str  # "" when ok and the kernel kept exactly the value; else what happened
    errno: int = 0
    audit_id: str | None = None

    @property
    def kept_other(self) -> bool:
        """The write succeeded but the kernel holds something else (clamped, rounded)."""
        return self.ok and bool(self.message)


def explain(file: str, err: int, version: int, value: str) -> str:
    """The kernel's reason for refusing VALUE in FILE, in words a user can act on."""
    name = errno.errorcode.get(err, str(err))
    base = os.strerror(err)
    hint = ""
    if err == errno.EBUSY:
        if file.startswith("memory.") and "limit" in file:
            hint = "the limit is below current usage and the kernel could not reclaim enough"
        elif file == "cgroup.subtree_control":
            hint = (
                "no-internal-processes rule: a cgroup with processes cannot enable domain "
                "controllers (memory, io...) for children, and one in use by children cannot "
                "be disabled; move its processes into a child first (cpu and pids are exempt)"
            )
        elif file in ("cgroup.procs", "cgroup.threads"):
            hint = (
                "no-internal-processes rule: the target's cgroup.subtree_control enables domain "
                "controllers, so processes may live only in its leaves; pick a child cgroup"
            )
    elif err == errno.ENOSPC and file in ("cgroup.procs", "tasks", "cgroup.threads"):
        hint = "the target cpuset has no CPUs or memory nodes; copy the parent's cpus/mems first"
    elif err == errno.EINVAL and file == "memory.memsw.limit_in_bytes":
        hint = "memory.memsw.limit_in_bytes must stay >= memory.limit_in_bytes"
    elif err == errno.EINVAL and file == "memory.limit_in_bytes":
        hint = "the limit must stay <= memory.memsw.limit_in_bytes"
    elif err == errno.EINVAL and file in ("cgroup.procs", "tasks", "cgroup.threads"):
        hint = "a kernel thread, or a process that cannot move (one pid per write)"
    elif err == errno.ESRCH:
        hint = "no such process (it exited?)"
    elif err == errno.ERANGE:
        hint = "value out of the range the kernel accepts for this file"
    elif err == errno.ENODEV:
        hint = "no such device"
    elif err == errno.EPERM and file.startswith("devices."):
        hint = "a child cannot allow more than its parent allows"
    elif err in (errno.EPERM, errno.EACCES):
        hint = "permission denied (nstui needs root to change cgroups)"
    elif err == errno.EOPNOTSUPP:
        hint = "not supported here (e.g. per-device io.weight needs a weight-aware I/O scheduler)"
    elif err == errno.ENOENT and file == "cgroup.subtree_control":
        hint = "that controller is not available in this cgroup (see cgroup.controllers)"
    text = f"{name} ({base})"
    return f"{text}: {hint}" if hint else text


def _read_after(directory: CgroupDir, file: str) -> str | None:
    text = directory.read(file)
    return None if text is None else text.strip()


def write_value(
    ref: CgroupRef,
    value: Validated,
    audit: AuditLog,
    undo_of: str | None = None,
    part_of: str | None = None,
) -> WriteResult:
    """Write one validated value to its file in REF. Never raises for kernel refusals.

    ``part_of`` records the write as an internal step of that audited change (not undone on
    its own). Raises AuditError when the change cannot be recorded (nothing written then), and
    CgroupGone / CgroupPathError when the cgroup vanished or its path is unsafe.
    """
    if not isinstance(value, Validated):  # the type is the proof it was validated
        raise TypeError("write_value takes a knobs.Validated value")
    file = value.knob.file
    if value.knob.version != ref.version:
        raise ValueError(
            f"{file} is a cgroup v{value.knob.version} file, {ref.spec} is v{ref.version}"
        )
    with CgroupDir(ref) as directory:
        if not directory.exists(file):
            raise FileNotFoundError(
                errno.ENOENT,
                f"{ref.spec} has no {file} (controller {value.knob.controller} not attached "
                "or not enabled here)",
            )
        # membership files list every pid: not worth reading back (and not comparable)
        before = None if value.knob.control else _read_after(directory, file)
        entry_id = audit.attempt(
            ref.spec, file, before, value.text, value.typed, undo_of=undo_of, part_of=part_of
        )

        def outcome(after: str | None, ok: bool, message: str, err: int = 0) -> WriteResult:
            return WriteResult(
                ref.spec, file, value.typed, value.text, before, after, ok, message, err, entry_id
            )

        def refused(after: str | None, err: int, what: str) -> WriteResult:
            reason = explain(file, err, ref.version, value.text)
            _record(audit, entry_id, after, "error: " + reason)
            return outcome(after, False, f"{ref.spec} {file}: {what}: {reason}", err)

        killpoint.reached("writer.recorded")
        try:
            fd = os.open(file, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory.fd)
        except OSError as exc:
            return refused(before, exc.errno or 0, "cannot open for writing")
        error: OSError | None = None
        try:
            data = value.text.encode()
            written = os.write(fd, data)  # one value, one write(2)
            if written != len(data):
                error = OSError(errno.EIO, f"short write ({written} of {len(data)} bytes)")
        except OSError as exc:
            error = exc
        finally:
            os.close(fd)
        killpoint.reached("writer.written")
        after = None if value.knob.control else _read_after(directory, file)
    if error is not None:
        return refused(
            after, error.errno or 0, f"the kernel refused {value.typed!r} ({value.text})"
        )
    message = ""
    if after is not None and not _same(value, after):
        message = f"{file}: the kernel kept {value.knob.display(after)} ({after})"
    _record(audit, entry_id, after, "ok")
    return outcome(after, True, message)


def _record(audit: AuditLog, entry_id: str, after: str | None, result: str) -> None:
    # The attempt is on disk; the kernel write already happened and cannot be unsaid. If the
    # outcome cannot be recorded, the line reads "outcome unknown" with the value read now.
    with contextlib.suppress(AuditError):
        audit.result(entry_id, after, result)


def _same(value: Validated, after: str) -> bool:
    """Did the file take the value? Compares numbers where the type has them."""
    if after == value.text:
        return True
    vtype = value.knob.vtype
    if isinstance(vtype, SubtreeControlType):
        have = set(after.split())
        return all((w[1:] in have) == (w[0] == "+") for w in value.text.split())
    if isinstance(vtype, IoMaxType):
        try:
            rule = io.parse_io_max_rule(value.text)
            now = io.parse_io_max_file(after).get((rule.major, rule.minor), {})
        except ValueError:
            return False
        return all(now.get(key, None) == val for key, val in rule.limits)
    if isinstance(vtype, DeviceValueType):
        device, _, number = value.text.partition(" ")
        try:
            held = io.parse_device_values(after)
        except ValueError:
            return False
        return held.get(device, 0) == int(number) or (number == "0" and device not in held)
    new, got = vtype.number(value.text), vtype.number(after)
    if new is not None or got is not None:
        return new == got
    # rule files (devices, io.max...) hold many lines: the written one must be among them
    return value.text in after.splitlines()


__all__ = ["AuditError", "CgroupGone", "CgroupPathError", "WriteResult", "explain", "write_value"]
