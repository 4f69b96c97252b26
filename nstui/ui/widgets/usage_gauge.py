"""One line of live usage: a label, a gauge of use against its limit, and a sparkline of the
last minutes. Values are pushed in by the pane (``push``); the widget never reads the kernel."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Sparkline, Static

#: Samples kept per sparkline: at one poll every 1.5 s, about four minutes.
HISTORY = 160
BAR_WIDTH = 20


def gauge_text(
    used: float | None,
    limit: float | None,
    fmt: Callable[[float], str],
    *,
    scale: float | None = None,
    missing: str = "(not available)",
) -> str:
    """``███·····  120M / 512M 23%``; without a limit the value and ``no limit``. With SCALE
    (a percentage's 100, say) the bar is drawn against it and only the value is written."""
    if used is None:
        return missing
    if scale is not None:
        filled = round(max(0.0, min(used / scale, 1.0)) * BAR_WIDTH)
        return f"{'█' * filled}{'·' * (BAR_WIDTH - filled)} {fmt(used)}"
    if limit is None or limit <= 0:
        return f"{'·' * BAR_WIDTH} {fmt(used)} (no limit)"
    ratio = max(0.0, min(used / limit, 1.0))
    filled = round(ratio * BAR_WIDTH)
    bar = "█" * filled + "·" * (BAR_WIDTH - filled)
    return f"{bar} {fmt(used)} / {fmt(limit)} {used / limit * 100:.0f}%"


class UsageGauge(Horizontal):
    """Label, gauge text and a sparkline of recent values."""

    DEFAULT_CLASSES = "usage-gauge"

    def __init__(
        self,
        label: str,
        fmt: Callable[[float], str],
        *,
        scale: float | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.label = label
        self.fmt = fmt
        self.scale = scale
        self.history: deque[float] = deque(maxlen=HISTORY)

    def compose(self) -> ComposeResult:
        yield Static(self.label, classes="gauge-label")
        yield Static("(waiting)", classes="gauge-text")
        yield Sparkline([], classes="gauge-spark")

    def push(
        self, used: float | None, limit: float | None, missing: str = "(not available)"
    ) -> None:
        """Show USED against LIMIT and append USED to the sparkline (None: a gap as 0)."""
        text = gauge_text(used, limit, self.fmt, scale=self.scale, missing=missing)
        self.query_one(".gauge-text", Static).update(text)
        self.history.append(0.0 if used is None else float(used))
        self.query_one(".gauge-spark", Sparkline).data = list(self.history)
