"""A line-API table for tens of thousands of live rows: tree or flat, sortable, filterable.

Stock DataTable/Tree build every row as a widget-side object and take seconds at 10,000 rows;
this table renders only the lines on screen (``render_line``) from a ``RowSet`` and applies a
refresh as a diff by key: the cursor stays on its key, and when rows above it vanish the
cursor keeps its line on screen instead of jumping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from nstui.ui.rows import (
    Column,
    Key,
    Line,
    Prepared,
    Row,
    RowSet,
    ViewState,
    flatten,
    index_of,
    is_expanded,
)


class RowTable(ScrollView, can_focus=True):
    """Rows with a fixed header line, a cursor, tree expand/collapse, sort and filter."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("left,h", "collapse", "Collapse", show=False),
        Binding("right,l", "expand", "Expand", show=False),
        Binding("home,g", "cursor_top", "Top", show=False),
        Binding("end,G", "cursor_bottom", "Bottom", show=False),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False),
        Binding("space", "toggle_row", "Expand", show=False),
        Binding("enter", "activate", "Open", show=False),
        Binding("s", "cycle_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "rowtable--header",
        "rowtable--sorted",
        "rowtable--cursor",
        "rowtable--cursor-blurred",
        "rowtable--new",
        "rowtable--dim",
        "rowtable--guide",
    }

    class CursorMoved(Message):
        """The cursor is on another row (``key`` None when the table is empty).

        ``by_refresh`` is True when new rows moved it (its row vanished), not the user."""

        def __init__(self, table: RowTable, key: Key | None, by_refresh: bool = False) -> None:
            super().__init__()
            self.table = table
            self.key = key
            self.by_refresh = by_refresh

        @property
        def control(self) -> RowTable:
            return self.table

    class Activated(Message):
        """Enter (or a double click) on a row."""

        def __init__(self, table: RowTable, key: Key) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RowTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        tree_column: int = 0,
        tree: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns: tuple[Column, ...] = tuple(columns)
        self.tree_column = tree_column
        self.rowset = RowSet.empty()
        self.lines: list[Line] = []
        self._index: dict[Key, int] = {}
        self.state = ViewState(tree=tree)
        self.cursor_key: Key | None = None
        self.fresh: frozenset[Key] = frozenset()
        #: called with the key of a collapsed row about to open whose children are lazy
        self.on_expand_lazy: Callable[[Key], None] | None = None
        self._loaded = False
        #: shown on the first line until rows are set for the first time ("Reading /proc …")
        self.placeholder = ""
        self._style_cache: dict[str, Style] = {}
        #: this widget's style, computed once per render pass (render_lines)
        self._base: Style | None = None
        #: key -> (row, line, highlight, width, base style, strip): a repaint after a refresh
        #: re-renders only lines whose row, place or highlight changed
        self._strips: dict[Key, tuple[Row, Line, str, int, Style, Strip]] = {}

    # ----- data -----------------------------------------------------------------------------

    @property
    def cursor_index(self) -> int | None:
        if self.cursor_key is None:
            return None
        return self._index.get(self.cursor_key)

    @property
    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def set_rows(
        self,
        rowset: RowSet,
        *,
        follow: bool = False,
        mark_fresh: bool = True,
        prepared: Prepared | None = None,
    ) -> None:
        """Replace the rows, as a diff by key: cursor, expansion and scroll survive.

        Rows whose keys were not there before are marked fresh (highlighted until the next
        set_rows). With ``follow``, the cursor's row is brought into view (its ancestors are
        expanded) wherever it moved. ``prepared`` is the layout (and fresh keys) computed off
        the event loop for this rowset; it is used when the view state has not changed since,
        so applying a refresh costs no work proportional to the number of rows.
        """
        old_index = self.cursor_index
        old_screen = None if old_index is None else old_index - int(self.scroll_y)
        usable = prepared is not None and prepared.state is self.state
        if self._loaded and mark_fresh:
            if usable and prepared is not None and prepared.fresh is not None:
                self.fresh = prepared.fresh
            else:
                old_keys = self.rowset.rows.keys()
                self.fresh = frozenset(k for k in rowset.rows if k not in old_keys)
        elif mark_fresh:
            self.fresh = frozenset()
        self._loaded = True
        self.rowset = rowset
        key = self.cursor_key
        if follow and key is not None and key in rowset.rows:
            shown = usable and prepared is not None and key in prepared.index
            if not shown:
                self._reveal(key)
                usable = False
        if usable and prepared is not None:
            moved = self._take_layout(prepared.lines, prepared.index, old_index)
        else:
            moved = self._relayout(old_index)
        # Forget toggles of keys that are gone, so a reused pid starts in its default state
        # (gone keys are in no layout: the lines stay valid).
        if self.state.toggled:
            kept = frozenset(k for k in self.state.toggled if k in rowset.rows)
            if kept != self.state.toggled:
                self.state = _replace(self.state, toggled=kept)
        new_index = self.cursor_index
        if new_index is not None:
            if follow:
                self._scroll_into_view(new_index, center=True)
            elif old_screen is not None and 0 <= old_screen < self._body_height:
                # Keep the cursor on the same screen line: no jump when rows above vanish.
                self._set_scroll(new_index - old_screen)
        self.refresh()
        if moved:
            self.post_message(self.CursorMoved(self, self.cursor_key, by_refresh=True))

    def update_state(self, **changes: object) -> None:
        """Change tree/sort/filter/toggles and re-layout, keeping the cursor on its key."""
        old_index = self.cursor_index
        self.state = _replace(self.state, **changes)
        moved = self._relayout(old_index)
        if self.cursor_index is not None:
            self._scroll_into_view(self.cursor_index)
        self.refresh()
        if moved:
            self.post_message(self.CursorMoved(self, self.cursor_key))

    def _relayout(self, old_index: int | None) -> bool:
        """Flatten again; returns True when the cursor ended on another key."""
        lines = flatten(self.rowset, self.state)
        return self._take_layout(lines, index_of(lines), old_index)

    def _take_layout(self, lines: list[Line], index: dict[Key, int], old_index: int | None) -> bool:
        previous = self.cursor_key
        self.lines = lines
        self._index = index
        if self.cursor_key not in self._index:
            if self.lines:
                # The cursor's row vanished (or was filtered out): take the row now at its
                # place, so the cursor does not jump to the top.
                idx = min(old_index or 0, len(self.lines) - 1)
                self.cursor_key = self.lines[idx].key
            else:
                self.cursor_key = None
        self.virtual_size = Size(0, len(self.lines) + 1)
        return self.cursor_key != previous

    def _reveal(self, key: Key) -> None:
        """Expand every collapsed ancestor of ``key``."""
        toggled = set(self.state.toggled)
        rows = self.rowset.rows
        parent = rows[key].parent
        seen: set[Key] = set()
        while parent is not None and parent in rows and parent not in seen:
            seen.add(parent)
            row = rows[parent]
            if not is_expanded(row, toggled):
                toggled.symmetric_difference_update({parent})
            parent = row.parent
        if toggled != self.state.toggled:
            self.state = _replace(self.state, toggled=frozenset(toggled))

    def select_key(self, key: Key, *, reveal: bool = True) -> bool:
        """Put the cursor on ``key`` (opening its ancestors); False when there is no such row
        or the filter hides it."""
        if key not in self.rowset.rows:
            return False
        if reveal and key not in self._index:
            self._reveal(key)
            self._relayout(self.cursor_index)
        if key not in self._index:
            return False
        self._move_to(self._index[key], center=True)
        return True

    # ----- rendering ------------------------------------------------------------------------

    def _widths(self, total: int) -> list[int]:
        fixed = sum(c.width for c in self.columns if c.width) + len(self.columns) - 1
        flex = max(8, total - fixed)
        return [c.width or flex for c in self.columns]

    def _style(self, name: str) -> Style:
        """A component class's partial style, cached until the styles change."""
        style = self._style_cache.get(name)
        if style is None:
            style = self.get_component_rich_style(name, partial=True)
            self._style_cache[name] = style
        return style

    def notify_style_update(self) -> None:
        self._style_cache.clear()
        self._strips.clear()
        super().notify_style_update()

    def render_lines(self, crop: Region) -> list[Strip]:
        # rich_style walks the ancestors' styles (~1 ms): once per pass, not once a line
        self._base = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._base = None

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self._base if self._base is not None else self.rich_style
        if y == 0:
            return self._header_strip(width, base)
        index = int(self.scroll_y) + y - 1
        if index >= len(self.lines):
            if y == 1 and self.placeholder and not self._loaded:
                text = _fit(" " + self.placeholder, width, False)
                return Strip([Segment(text, base + self._style("rowtable--dim"))], width)
            return Strip.blank(width, base)
        return self._row_strip(index, width, base)

    def _header_strip(self, width: int, base: Style) -> Strip:
        header = base + self.get_component_rich_style("rowtable--header")
        sorted_style = header + self._style("rowtable--sorted")
        segments: list[Segment] = []
        state = self.state
        for i, (col, w) in enumerate(zip(self.columns, self._widths(width), strict=True)):
            title = col.title
            style = header
            if state.sort_column == i:
                title += " ▼" if state.sort_reverse != col.descending_first else " ▲"
                style = sorted_style
            segments.append(Segment(_fit(title, w, col.right), style))
            if i < len(self.columns) - 1:
                segments.append(Segment(" ", header))
        return Strip(segments).adjust_cell_length(width, header)

    def _row_strip(self, index: int, width: int, base: Style) -> Strip:
        line = self.lines[index]
        row = self.rowset.rows[line.key]
        if line.key == self.cursor_key:
            highlight = "rowtable--cursor" if self.has_focus else "rowtable--cursor-blurred"
        elif line.key in self.fresh:
            highlight = "rowtable--new"
        else:
            highlight = ""
        cached = self._strips.get(line.key)
        if (
            cached is not None
            and cached[0] is row
            and cached[1] == line
            and cached[2] == highlight
            and cached[3] == width
            and cached[4] == base
        ):
            return cached[5]
        strip = self._make_row_strip(line, row, highlight, width, base)
        if len(self._strips) > 4096:  # keep it to about what was on screen lately
            self._strips.clear()
        self._strips[line.key] = (row, line, highlight, width, base, strip)
        return strip

    def _make_row_strip(
        self, line: Line, row: Row, highlight: str, width: int, base: Style
    ) -> Strip:
        row_style = base + Style.parse(row.style) if row.style else base
        if line.dim:
            row_style += self._style("rowtable--dim")
        over = self._style(highlight) if highlight else None
        guide_style = self._style("rowtable--guide")
        segments: list[Segment] = []
        ncols = len(self.columns)
        for i, (col, w) in enumerate(zip(self.columns, self._widths(width), strict=True)):
            text = row.cells[i] if i < len(row.cells) else ""
            cell_style = row_style
            if i < len(row.cell_styles) and row.cell_styles[i]:
                cell_style = row_style + Style.parse(row.cell_styles[i])
            if over is not None:
                cell_style = cell_style + over
            if i == self.tree_column and line.guide:
                guide = line.guide
                glen = cell_len(guide)
                if glen >= w:
                    segments.append(Segment(set_cell_size(guide, w), cell_style))
                else:
                    gstyle = row_style + guide_style
                    if over is not None:
                        gstyle += over
                    segments.append(Segment(guide, gstyle))
                    segments.append(Segment(_fit(text, w - glen, False), cell_style))
            else:
                segments.append(Segment(_fit(text, w, col.right), cell_style))
            if i < ncols - 1:
                segments.append(Segment(" ", row_style + over if over is not None else row_style))
        fill = row_style + over if over is not None else row_style
        return Strip(segments).adjust_cell_length(width, fill)

    def on_resize(self, event: events.Resize) -> None:
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # ----- cursor ---------------------------------------------------------------------------

    def _set_scroll(self, y: int) -> None:
        top = max(0, min(y, max(0, len(self.lines) + 1 - self.scrollable_content_region.height)))
        self.scroll_to(y=top, animate=False, force=True)

    def _scroll_into_view(self, index: int, *, center: bool = False) -> None:
        top = int(self.scroll_y)
        height = self._body_height
        if top <= index < top + height:
            return
        if center:
            self._set_scroll(index - height // 2)
        elif index < top:
            self._set_scroll(index)
        else:
            self._set_scroll(index - height + 1)

    def _move_to(self, index: int, *, center: bool = False) -> None:
        if not self.lines:
            return
        index = max(0, min(index, len(self.lines) - 1))
        key = self.lines[index].key
        previous = self.cursor_index
        changed = key != self.cursor_key
        self.cursor_key = key
        top = int(self.scroll_y)
        self._scroll_into_view(index, center=center)
        if int(self.scroll_y) == top and previous is not None:
            # Only the two lines the cursor left and reached change (line 0 is the header).
            self.refresh_line(previous + 1)
            self.refresh_line(index + 1)
        else:
            self.refresh()
        if changed:
            self.post_message(self.CursorMoved(self, key))

    def action_cursor_up(self) -> None:
        self._move_to((self.cursor_index or 0) - 1)

    def action_cursor_down(self) -> None:
        index = self.cursor_index
        self._move_to(0 if index is None else index + 1)

    def action_cursor_top(self) -> None:
        self._move_to(0)

    def action_cursor_bottom(self) -> None:
        self._move_to(len(self.lines) - 1)

    def action_page_up(self) -> None:
        self._move_to((self.cursor_index or 0) - self._body_height)

    def action_page_down(self) -> None:
        self._move_to((self.cursor_index or 0) + self._body_height)

    # ----- tree -----------------------------------------------------------------------------

    def _has_children(self, key: Key) -> bool:
        return bool(self.rowset.children.get(key)) or self.rowset.rows[key].expandable

    def set_expanded(self, key: Key, expanded: bool) -> None:
        row = self.rowset.rows.get(key)
        if row is None or is_expanded(row, self.state.toggled) == expanded:
            return
        if expanded and row.expandable and self.on_expand_lazy is not None:
            self.on_expand_lazy(key)
        self.update_state(toggled=self.state.toggled ^ {key})

    def action_expand(self) -> None:
        key = self.cursor_key
        if key is None or not self.state.tree:
            return
        row = self.rowset.rows[key]
        if self._has_children(key) and not is_expanded(row, self.state.toggled):
            self.set_expanded(key, True)
        elif self.rowset.children.get(key):
            self.action_cursor_down()

    def action_collapse(self) -> None:
        key = self.cursor_key
        if key is None or not self.state.tree:
            return
        row = self.rowset.rows[key]
        if self._has_children(key) and is_expanded(row, self.state.toggled):
            self.set_expanded(key, False)
        elif row.parent is not None and row.parent in self._index:
            self._move_to(self._index[row.parent])

    def action_toggle_row(self) -> None:
        key = self.cursor_key
        if key is None or not self.state.tree or not self._has_children(key):
            return
        row = self.rowset.rows[key]
        self.set_expanded(key, not is_expanded(row, self.state.toggled))

    def action_activate(self) -> None:
        if self.cursor_key is not None:
            self.post_message(self.Activated(self, self.cursor_key))

    # ----- sort -----------------------------------------------------------------------------

    def sort_by(self, column: int | None, reverse: bool | None = None) -> None:
        if column is None:
            self.update_state(sort_column=None, sort_reverse=False)
            return
        col = self.columns[column]
        self.update_state(
            sort_column=column,
            sort_reverse=col.descending_first if reverse is None else reverse,
        )

    def action_cycle_sort(self) -> None:
        """Natural order, then each sortable column in turn."""
        sortable = [i for i, c in enumerate(self.columns) if c.sortable]
        current = self.state.sort_column
        if current is None:
            nxt: int | None = sortable[0] if sortable else None
        else:
            pos = sortable.index(current) if current in sortable else -1
            nxt = sortable[pos + 1] if pos + 1 < len(sortable) else None
        self.sort_by(nxt)
        self.notify(f"Sorted by {self.sort_label()}", timeout=1.5)

    def action_reverse_sort(self) -> None:
        self.update_state(sort_reverse=not self.state.sort_reverse)

    def sort_label(self) -> str:
        col = self.state.sort_column
        if col is None:
            return "natural order" + (" (reversed)" if self.state.sort_reverse else "")
        return self.columns[col].title.lower()

    # ----- mouse ----------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            self._click_header(offset.x)
            return
        index = int(self.scroll_y) + offset.y - 1
        if not 0 <= index < len(self.lines):
            return
        self.focus()
        key = self.lines[index].key
        line = self.lines[index]
        self._move_to(index)
        # A click on the expand marker toggles, as does a double click elsewhere.
        widths = self._widths(self.scrollable_content_region.width)
        start = sum(w + 1 for w in widths[: self.tree_column])
        on_guide = start <= offset.x < start + cell_len(line.guide)
        if on_guide and self._has_children(key):
            self.action_toggle_row()
        elif event.chain >= 2:
            self.action_activate()

    def _click_header(self, x: int) -> None:
        pos = 0
        for i, w in enumerate(self._widths(self.scrollable_content_region.width)):
            if pos <= x < pos + w + 1:
                if not self.columns[i].sortable:
                    return
                if self.state.sort_column == i:
                    self.action_reverse_sort()
                else:
                    self.sort_by(i)
                return
            pos += w + 1


def _fit(text: str, width: int, right: bool) -> str:
    if width <= 0:
        return ""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…"
    pad = " " * (width - length)
    return pad + text if right else text + pad


def _replace(state: ViewState, **changes: object) -> ViewState:
    from dataclasses import replace

    return replace(state, **changes)  # type: ignore[arg-type]
