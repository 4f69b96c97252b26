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


def unescape_octal(text: str) -> str:
    r"""Undo mountinfo's octal escapes (``\040`` space, ``\011`` tab, ``\012`` newline,
    ``\134`` backslash, ``\054`` comma in some kernels). Other backslashes stay as they are."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        digits = text[i + 1 : i + 4]
        if ch == "\\" and len(digits) == 3 and all("0" <= d <= "7" for d in digits):
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse_mountinfo_line(line: str) -> Mount | None:
    """One mountinfo line, or None when it is malformed (never raises)."""
    # The kernel separates fields with one ASCII space and escapes space, tab, newline and
    # backslash inside them; str.split() would also split on Unicode spaces (U+00A0...).
    fields = [f for f in line.rstrip("\n").split(" ") if f]
    try:
        sep = fields.index("-", 6)
        mount_id, parent_id = int(fields[0]), int(fields[1])
        major_s, minor_s = fields[2].split(":", 1)
        major, minor = int(major_s), int(minor_s)
        root, mountpoint, options = fields[3], fields[4], fields[5]
        fstype, source = fields[sep + 1], fields[sep + 2]
        super_options = fields[sep + 3] if len(fields) > sep + 3 else ""
    except (ValueError, IndexError):
        return None
    return Mount(
        mount_id=mount_id,
        parent_id=parent_id,
        major=major,
        minor=minor,
        root=unescape_octal(root),
        mountpoint=unescape_octal(mountpoint),
        options=options,
        optional=tuple(fields[6:sep]),
        fstype=unescape_octal(fstype),
        source=unescape_octal(source),
        super_options=super_options,
    )


def parse_mountinfo(text: str) -> list[Mount]:
    """Every well-formed line of a mountinfo file; malformed lines are skipped."""
    mounts = []
    # Only "\n" ends a line: splitlines() would also break inside a field on U+2028 etc.
    for line in text.split("\n"):
        mount = parse_mountinfo_line(line)
        if mount is not None:
            mounts.append(mount)
    return mounts


def read_mountinfo(pid: int | str = "self", proc: str = "/proc") -> list[Mount]:
    """The mounts PID sees (its mount namespace). Raises OSError (ENOENT/ESRCH when the
    process is gone, EACCES without permission): callers decide whether that is normal."""
    with open(f"{proc}/{pid}/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        return parse_mountinfo(f.read())
