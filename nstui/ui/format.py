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


_UNITS = ((1 << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K"))
#: refreshes format the same few thousand values again and again
_bytes_memo: dict[int, str] = {}
_percent_memo: dict[float, str] = {}
_MEMO_MAX = 100_000


def human_bytes(value: int | None) -> str:
    """1536 -> ``1.5K``; binary units as ps and top print them."""
    if value is None:
        return "-"
    text = _bytes_memo.get(value)
    if text is None:
        text = _format_bytes(value)
        if len(_bytes_memo) >= _MEMO_MAX:
            _bytes_memo.clear()
        _bytes_memo[value] = text
    return text


def _format_bytes(value: int) -> str:
    for size, unit in _UNITS:
        if value >= size:
            scaled = value / size
            return f"{scaled:.1f}{unit}" if scaled < 100 else f"{scaled:.0f}{unit}"
    return f"{value}B"


def percent(value: float | None) -> str:
    if value is None:
        return "-"
    text = _percent_memo.get(value)
    if text is None:
        text = f"{value:.1f}"
        if len(_percent_memo) >= _MEMO_MAX:
            _percent_memo.clear()
        _percent_memo[value] = text
    return text


def ns_flags(ns: Mapping[NsType, NsId], host: Mapping[NsType, NsId]) -> tuple[str, int]:
    """Eight characters, one per type: its letter where the process's namespace differs from
    the host's, ``·`` where it is the host's, ``?`` where it could not be read. Returns the
    text and how many types differ."""
    out: list[str] = []
    differ = 0
    for ns_type in NS_TYPES:
        mine = ns.get(ns_type)
        if mine is None:
            out.append("?")  # the help promises ? for an unreadable namespace
            continue
        ref = host.get(ns_type)
        # Compared field by field: NsId.__eq__ (a dataclass's) is slow at 80,000 calls.
        if ref is not None and (mine.ino != ref.ino or mine.dev != ref.dev):
            out.append(NS_LETTERS[ns_type])
            differ += 1
        else:
            out.append("·")
    return "".join(out), differ
