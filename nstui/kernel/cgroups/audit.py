"""The audit log of cgroup changes: one JSON line per record, appended and fsynced.

Each change writes an ``attempt`` record before the kernel write and a ``result`` record after
it, sharing one id. If the attempt cannot be recorded (unwritable log, full disk), the change
is refused: nstui never changes a cgroup unrecorded.

Where: ``$NSTUI_AUDIT_LOG`` if set; as root /var/log/nstui/audit.log; otherwise
``$XDG_STATE_HOME/nstui/audit.log`` (``~/.local/state/nstui/audit.log``).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime


class AuditError(OSError):
    """The log cannot record a change; the change must not happen."""

    def __str__(self) -> str:
        return str(self.strerror or super().__str__())


def default_audit_path() -> str:
    override = os.environ.get("NSTUI_AUDIT_LOG")
    if override:
        return override
    if os.geteuid() == 0:
        return "/var/log/nstui/audit.log"
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(state, "nstui", "audit.log")


def _user() -> str:
    uid = os.getuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    sudo = os.environ.get("SUDO_USER")
    return f"{name} (sudo by {sudo})" if sudo and sudo != name else name


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change as the history shows it: its attempt joined with its result."""

    id: str
    time: str  # ISO 8601 UTC of the attempt
    user: str
    cgroup: str  # spec such as memory:/web
    file: str  # knob file, or (mkdir)/(rmdir)/(kill)
    before: str | None
    value: str  # what was written (kernel text)
    typed: str  # what the user typed
    after: str | None
    result: str  # "ok", "error: ...", or "unknown" when no result was recorded
    undo_of: str | None = None

    @property
    def ok(self) -> bool:
        return self.result == "ok"


class AuditLog:
    def __init__(self, path: str | None = None) -> None:
        self.path = path or default_audit_path()

    def _append(self, record: dict[str, object]) -> None:
        line = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode()
        try:
            directory = os.path.dirname(self.path)
            if directory:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(28, "short write (disk full?)")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise AuditError(
                exc.errno or 0,
                f"cannot record the change in the audit log {self.path}: {reason}; "
                "refusing to change anything unrecorded (set NSTUI_AUDIT_LOG to another file)",
            ) from None

    def check_writable(self) -> str | None:
        """None when the log can be appended to, else the reason it cannot."""
        directory = os.path.dirname(self.path) or "."
        probe = self.path if os.path.exists(self.path) else directory
        while not os.path.exists(probe):
            probe = os.path.dirname(probe) or "/"
        if not os.access(probe, os.W_OK):
            return f"the audit log {self.path} is not writable"
        return None

    def attempt(
        self,
        cgroup: str,
        file: str,
        before: str | None,
        value: str,
        typed: str,
        undo_of: str | None = None,
    ) -> str:
        """Record an attempt (fsynced) and return its id; AuditError means: do not write."""
        entry_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)
        record: dict[str, object] = {
            "id": entry_id,
            "phase": "attempt",
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "user": _user(),
            "uid": os.getuid(),
            "pid": os.getpid(),
            "cgroup": cgroup,
            "file": file,
            "before": before,
            "value": value,
            "typed": typed,
        }
        if undo_of is not None:
            record["undo_of"] = undo_of
        self._append(record)
        return entry_id

    def result(self, entry_id: str, after: str | None, result: str) -> None:
        """Record the outcome. A failure here is reported but cannot undo the kernel write."""
        self._append(
            {
                "id": entry_id,
                "phase": "result",
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "after": after,
                "result": result,
            }
        )

    def entries(self) -> list[AuditEntry]:
        """Every change in the log, oldest first. Unreadable lines are skipped."""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                lines = handle.readlines()
        except OSError:
            return []
        attempts: dict[str, dict[str, object]] = {}
        results: dict[str, dict[str, object]] = {}
        order: list[str] = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                continue
            if record.get("phase") == "attempt":
                attempts[record["id"]] = record
                order.append(record["id"])
            elif record.get("phase") == "result":
                results[record["id"]] = record
        out: list[AuditEntry] = []
        for entry_id in order:
            a = attempts[entry_id]
            r = results.get(entry_id, {})
            out.append(
                AuditEntry(
                    id=entry_id,
                    time=str(a.get("time", "")),
                    user=str(a.get("user", "")),
                    cgroup=str(a.get("cgroup", "")),
                    file=str(a.get("file", "")),
                    before=_opt_str(a.get("before")),
                    value=str(a.get("value", "")),
                    typed=str(a.get("typed", "")),
                    after=_opt_str(r.get("after")),
                    result=str(r.get("result", "unknown (no result recorded)")),
                    undo_of=_opt_str(a.get("undo_of")),
                )
            )
        return out

    def find(self, entry_id: str) -> AuditEntry | None:
        return next((e for e in self.entries() if e.id == entry_id), None)


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
