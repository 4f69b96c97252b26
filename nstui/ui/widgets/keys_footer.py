"""The footer of every nstui screen: Textual's Footer in its compact style, which leaves out
the least needed keys when the terminal is too narrow for all of them.

Textual's Footer lays the keys out in one row and cuts off whatever passes the right edge, so
on a narrow terminal the keys at the end (help, quit) vanish first. Here the screen names the
actions it can spare (``drop_order``, least needed first); those are left out one by one until
the rest fits, and every key stays listed in the `?` help and the command palette.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.compose import compose
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel

#: columns the compact command-palette key (docked right, with its left border) takes beyond
#: its key and description
PALETTE_EXTRA = 2
#: actions whose keys stay however narrow the terminal: help lists every other key
KEEP = frozenset({"help", "quit", "close", "cancel"})


def key_width(key_display: str, description: str) -> int:
    """Columns a compact FooterKey takes, its right margin included."""
    width = cell_len(key_display) + 1  # the margin
    if description:
        width += 1 + cell_len(description)
    return width


def _width(widget: Widget) -> int:
    if isinstance(widget, FooterKey):
        if widget.has_class("-command-palette"):
            return key_width(widget.key_display, widget.description) - 1 + PALETTE_EXTRA
        return key_width(widget.key_display, widget.description)
    if isinstance(widget, FooterLabel):
        return cell_len(str(widget.render()))
    return 0


def action_name(action: str) -> str:
    """``app.audit_history`` and ``show_view('x')`` as ``audit_history`` and ``show_view``."""
    return action.split("(", 1)[0].rsplit(".", 1)[-1]


def fit(
    widgets: Sequence[Widget],
    width: int,
    drop_order: Sequence[str],
    keep: Collection[str] = KEEP,
) -> list[Widget]:
    """The footer items that fit in ``width`` columns. While they do not, the keys bound to
    the next action of ``drop_order`` are left out, then the command palette's key, then keys
    from the right, except those of ``keep``."""
    kept = list(widgets)

    def needed() -> int:
        total = sum(_width(w) for w in kept)
        return total - 1 if kept else 0  # the last key needs no margin after it

    def without(action: str) -> list[Widget]:
        return [
            w for w in kept if not (isinstance(w, FooterKey) and action_name(w.action) == action)
        ]

    for action in (*drop_order, "command_palette"):
        if needed() <= width:
            return kept
        kept = without(action)
    while needed() > width:
        spare = [w for w in kept if isinstance(w, FooterKey) and action_name(w.action) not in keep]
        if not spare:
            break
        kept.remove(spare[-1])
    return kept


class KeysFooter(Footer):
    """A compact Footer that, when short of room, drops the actions of ``drop_order`` first."""

    def __init__(
        self,
        drop_order: Iterable[str] = (),
        *,
        keep: Collection[str] = KEEP,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes, compact=True)
        self.drop_order = tuple(drop_order)
        self.keep = frozenset(keep)
        self._composed_width = 0

    def compose(self) -> ComposeResult:
        # Built with textual.compose so binding groups keep their keys nested.
        items = compose(self, super().compose())
        width = self.size.width or self.app.size.width
        self._composed_width = width
        yield from fit(items, width, self.drop_order, self.keep)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._composed_width and self._bindings_ready:
            self.call_after_refresh(self.recompose)
