"""Short text forms of numbers and namespace sets for table cells."""

from __future__ import annotations

from collections.abc import Mapping

from nstui.kernel.nstypes import NS_TYPES, NsId, NsType

#: One letter per namespace type, in NS_TYPES order (upper-case U for user: u is uts).
NS_LETTERS: dict[NsType, str] = {
    NsType.PID: "p",
    NsType.NET: "n",
    NsType.MNT: "m",
    NsType.UTS: "u",
    NsType.IPC: "i",
    NsType.USER: "U",
    NsType.CGROUP: "c",
    NsType.TIME: "t",
}


def human_bytes(value: int | None) -> str:
    """1536 -> ``1.5K``; binary units as ps and top print them."""
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "K", "M", "G", "T"):
        if size < 1024 or unit == "T":
            if unit == "B":
                return f"{int(size)}B"
            return f"{size:.1f}{unit}" if size < 100 else f"{size:.0f}{unit}"
        size /= 1024
    return f"{size:.0f}P"  # pragma: no cover - the loop returns at T


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def ns_flags(ns: Mapping[NsType, NsId], host: Mapping[NsType, NsId]) -> tuple[str, int]:
    """Eight characters, one per type: its letter where the process's namespace differs from
    the host's, ``·`` where it is the host's, ``?`` where it could not be read. Returns the
    text and how many types differ."""
    out: list[str] = []
    differ = 0
    for ns_type in NS_TYPES:
        mine = ns.get(ns_type)
        if mine is None:
            out.append("?" if ns else " ")
            continue
        ref = host.get(ns_type)
        # Compared field by field: NsId.__eq__ (a dataclass's) is slow at 80,000 calls.
        if ref is not None and (mine.ino != ref.ino or mine.dev != ref.dev):
            out.append(NS_LETTERS[ns_type])
            differ += 1
        else:
            out.append("·")
    return "".join(out), differ
