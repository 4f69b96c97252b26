"""The audit log of cgroup changes: one JSON line per attempted change, failures included.

Before the kernel write the whole line is appended (O_APPEND) and fsynced, its result still
``"pending"`` in a fixed-width slot at the end of the line; after the write that slot is
overwritten in place (pwrite at the offset the append landed on) with what the file holds
and the result. So the log is proven writable, and the attempt durably there, before the kernel
sees anything: if it cannot be recorded (unwritable log, full disk) the change is refused. The
outcome needs no new disk space, and a crash in between leaves the line reading "outcome
unknown" rather than losing it. Concurrent nstui processes append whole lines with one
write(2) each (atomic with O_APPEND on a local filesystem) and each knows its own offset.

A line (shown wrapped; ``undo_of``/``part_of`` only when set; the slot, from ``"after"`` on,
is padded with spaces before the closing brace)::

    {"id": "20261128102435-3f9a1c", "time": "2026-11-28T10:24:35.123+00:00", "user": "root",
     "uid": 0, "pid": 4242, "cgroup": "memory:/web", "file": "memory.limit_in_bytes",
     "before": "9223372036854771712", "value": "536870912", "typed": "512M",
     "after": "536870912", "result": "ok", "done": "2026-11-28T10:24:35.125+00:00"      }

``part_of`` names the change a record is an internal step of (the cpus/mems copied into a new
v1 cpuset child belong to its mkdir): undo without an id skips steps. Logs written by older
nstui (an ``attempt`` and a ``result`` record per change) are still read.

Where: ``$NSTUI_AUDIT_LOG`` if set; as root /var/log/nstui/audit.log; otherwise
``$XDG_STATE_HOME/nstui/audit.log`` (``~/.local/state/nstui/audit.log``).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

#: The outcome slot's value until the change's result is known.
PENDING = "pending"
#: What a change whose outcome never reached the log reads as.
UNKNOWN = "unknown (no outcome recorded: nstui stopped before the change finished?)"
#: Starts every record of this format, and nothing inside one (quotes in strings are escaped).
_RECORD_START = '{"id": '
#: Separates a record's attempt fields from its outcome slot (only the slot has this key).
_SLOT_MARK = ', "after": '
#: Room in the slot beyond the before and written values (the kernel's reason, a timestamp).
_SLOT_SPARE = 512


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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _encode(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One attempted change as the history shows it."""

    id: str
    time: str  # ISO 8601 UTC of the attempt
    user: str
    cgroup: str  # spec such as memory:/web
    file: str  # knob file, or (mkdir)/(rmdir)/(kill)
    before: str | None
    value: str  # what was written (kernel text)
    typed: str  # what the user typed
    after: str | None
    result: str  # "ok", "error: ...", or UNKNOWN when no outcome was recorded
    undo_of: str | None = None
    part_of: str | None = None  # the user's change this is an internal step of
    now: str | None = None  # for an unknown outcome: what the file holds now (pending.py)

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    @property
    def unknown(self) -> bool:
        return self.result == UNKNOWN


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where a pending record's outcome slot is, to overwrite it in place."""

    start: int  # offset of the line in the file
    prefix: bytes  # the line up to the slot (checked before overwriting)
    width: int  # bytes of the slot, padding included


class AuditLog:
    def __init__(self, path: str | None = None) -> None:
        self.path = path or default_audit_path()
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()

    def _refusal(self, exc: OSError) -> AuditError:
        reason = exc.strerror or str(exc)
        return AuditError(
            exc.errno or 0,
            f"cannot record the change in the audit log {self.path}: {reason}; "
            "refusing to change anything unrecorded (set NSTUI_AUDIT_LOG to another file)",
        )

    def _append(self, line: bytes) -> int:
        """Append LINE with one write(2), fsynced; return the offset it landed at."""
        try:
            directory = os.path.dirname(self.path)
            if directory:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(28, "short write (disk full?)")
                # O_APPEND put this write at the end as it was then; our descriptor's offset
                # is just past it whatever other processes appended since.
                end = os.lseek(fd, 0, os.SEEK_CUR)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise self._refusal(exc) from None
        return end - len(line)

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
        part_of: str | None = None,
    ) -> str:
        """Record an attempt (fsynced, outcome pending) and return its id; AuditError means:
        do not write."""
        entry_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)
        record: dict[str, object] = {
            "id": entry_id,
            "time": _now(),
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
        if part_of is not None:
            record["part_of"] = part_of
        head = _encode(record)
        assert head.startswith(_RECORD_START) and head.endswith("}")
        prefix = (head[:-1] + ", ").encode()
        width = len(_encode(before).encode()) + len(_encode(value).encode()) + _SLOT_SPARE
        slot = _fit({"after": None, "result": PENDING}, width)
        start = self._append(prefix + slot + b"}\n")
        with self._lock:
            self._slots[entry_id] = _Slot(start, prefix, width)
        return entry_id

    def result(self, entry_id: str, after: str | None, result: str) -> None:
        """Record the outcome of ENTRY_ID in its line. A failure here is reported (AuditError)
        but cannot undo the kernel write; the line then reads as outcome unknown."""
        with self._lock:
            slot = self._slots.pop(entry_id, None)
        outcome: dict[str, object] = {"after": after, "result": result, "done": _now()}
        if slot is not None and self._overwrite(slot, _fit(outcome, slot.width)):
            return
        # Not recorded by this AuditLog, or the log was replaced meanwhile (rotated): a
        # separate result record, which entries() joins to its attempt as older logs did.
        line = _encode({"id": entry_id, "phase": "result", **outcome}) + "\n"
        self._append(line.encode())

    def _overwrite(self, slot: _Slot, data: bytes) -> bool:
        """Write DATA over SLOT's outcome; False when the line there is not ours any more."""
        try:
            # not O_APPEND: Linux appends a pwrite on an O_APPEND descriptor
            fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return False  # rotated away and not recreated yet
        except OSError as exc:
            raise self._refusal(exc) from None
        try:
            if os.pread(fd, len(slot.prefix), slot.start) != slot.prefix:
                return False
            if os.pwrite(fd, data, slot.start + len(slot.prefix)) != len(data):
                raise OSError(5, "short write")
            os.fdatasync(fd)
        except OSError as exc:
            raise self._refusal(exc) from None
        finally:
            os.close(fd)
        return True

    def entries(self) -> list[AuditEntry]:
        """Every attempted change in the log, oldest first. Unreadable lines are skipped."""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                lines = handle.readlines()
        except OSError:
            return []
        attempts: dict[str, dict[str, object]] = {}
        outcomes: dict[str, dict[str, object]] = {}
        for line in lines:
            for record in _records(line):
                entry_id = record["id"]
                assert isinstance(entry_id, str)
                if record.get("phase") == "result":
                    outcomes[entry_id] = record
                else:  # this format (its result may be garbled: then pending) or older attempt
                    attempts.setdefault(entry_id, record)
        return [_entry(a, outcomes.get(i)) for i, a in attempts.items()]

    def find(self, entry_id: str) -> AuditEntry | None:
        return next((e for e in self.entries() if e.id == entry_id), None)


def _fit(outcome: dict[str, object], width: int) -> bytes:
    """OUTCOME's members (``"after": ..., "result": ...``, no braces) padded with spaces to
    WIDTH bytes; what is read back (after) is cut first, then the result text, when they would
    not fit."""

    def members(fields: dict[str, object]) -> bytes:
        return _encode(fields)[1:-1].encode()

    data = members(outcome)
    for key in ("after", "result"):
        text = outcome.get(key)
        while len(data) > width and isinstance(text, str) and text:
            text = text[: max(0, len(text) - (len(data) - width) - 8)]
            outcome = {**outcome, key: text + "…", f"{key}_cut": True}
            data = members(outcome)
    if len(data) > width:  # pragma: no cover - the spare room holds the shortest outcome
        raise ValueError("audit outcome does not fit its slot")
    return data + b" " * (width - len(data))


def _records(line: str) -> Iterator[dict[str, object]]:
    """The records on one line. A line normally holds one; a record cut short by a full disk
    runs into the next line's record, and a crash while its outcome was being overwritten can
    garble that slot: the attempt before it is still read."""
    line = line.strip()
    if not line:
        return
    if line.startswith(_RECORD_START):
        pieces = [_RECORD_START + p for p in line.split(_RECORD_START) if p]
    else:
        pieces = [line]  # older logs: keys sorted, "after" or "before" first
    for piece in pieces:
        record = _load(piece)
        if record is None and _SLOT_MARK in piece and piece.endswith("}"):
            record = _load(piece[: piece.index(_SLOT_MARK)] + "}")
            if record is not None:
                record["result"] = PENDING
        if record is not None and isinstance(record.get("id"), str):
            yield record


def _load(text: str) -> dict[str, object] | None:
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _entry(attempt: dict[str, object], separate: dict[str, object] | None) -> AuditEntry:
    outcome = separate if separate is not None else attempt
    result = str(outcome.get("result", PENDING))
    return AuditEntry(
        id=str(attempt["id"]),
        time=str(attempt.get("time", "")),
        user=str(attempt.get("user", "")),
        cgroup=str(attempt.get("cgroup", "")),
        file=str(attempt.get("file", "")),
        before=_opt_str(attempt.get("before")),
        value=str(attempt.get("value", "")),
        typed=str(attempt.get("typed", "")),
        after=_opt_str(outcome.get("after")),
        result=UNKNOWN if result == PENDING else result,
        undo_of=_opt_str(attempt.get("undo_of")),
        part_of=_opt_str(attempt.get("part_of")),
    )


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
