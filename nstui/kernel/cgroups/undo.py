"""What to type to undo a recorded change: the inverse of one write, from its audit record.

Scalar knobs get their old value back. Rule files are per device or per rule: the old line for
that device (or the rule's removal), ``-memory`` for ``+memory``, deny for allow.
"""

from __future__ import annotations

from nstui.kernel.cgroups import io
from nstui.kernel.cgroups.knobs import Knob
from nstui.kernel.cgroups.values import (
    BoolType,
    DeviceRuleType,
    DeviceValueType,
    IfPrioType,
    IoMaxType,
    SubtreeControlType,
)


class NotUndoable(ValueError):
    pass


def undo_input(knob: Knob, before: str | None, written: str) -> tuple[str, str]:
    """(file to write, typed value) that restores BEFORE after WRITTEN went to KNOB's file."""
    if not knob.writable or knob.control:
        raise NotUndoable(f"{knob.file} changes cannot be undone from the log")
    vtype = knob.vtype
    if isinstance(vtype, SubtreeControlType):
        inverse = [("-" if w[0] == "+" else "+") + w[1:] for w in written.split()]
        return knob.file, " ".join(inverse)
    if isinstance(vtype, DeviceRuleType):
        if knob.file == "devices.allow":
            return "devices.deny", written
        return "devices.allow", written
    if before is None:
        raise NotUndoable(f"the old value of {knob.file} was not recorded")
    if isinstance(vtype, IoMaxType):
        device = written.split()[0]
        unlimited = f"{device} " + " ".join(f"{k}=max" for k in io.IO_MAX_KEYS)
        return knob.file, _line_of(before, device) or unlimited
    if isinstance(vtype, IfPrioType):
        name = written.split()[0]
        return knob.file, _line_of(before, name) or f"{name} 0"
    if isinstance(vtype, DeviceValueType):
        key = written.split()[0]
        old = io.parse_device_values(before)
        if key in old:
            return knob.file, f"{key} {old[key]}"
        if key == "default":
            raise NotUndoable("the old default weight was not recorded")
        return knob.file, f"{key} 0"
    if isinstance(vtype, BoolType) and "\n" in before:
        first = before.splitlines()[0].split()
        return knob.file, first[-1]
    text = before.strip()
    if not text:
        raise NotUndoable(f"{knob.file} was empty before; an empty value cannot be written")
    return knob.file, text


def _line_of(before: str, key: str) -> str | None:
    """The line of a per-device (or per-interface) file that starts with KEY, if any."""
    for line in before.splitlines():
        if line.split()[:1] == [key]:
            return line.strip()
    return None
