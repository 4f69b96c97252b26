"""Rows of the line-API tables and how they are flattened into visible lines.

Pure data and functions (no Textual): views build a ``RowSet`` from a snapshot, possibly in a
worker thread, and ``flatten`` turns it into the lines on screen for a given expansion state,
filter and sort. Keys are whatever identifies a row across refreshes (a pid, an ``NsId``, a
``(hid, path)`` pair), so a refresh can be applied as a diff by key.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

Key = Hashable


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    #: fixed width in cells; 0 means "takes the remaining width" (one such column per table)
    width: int
    right: bool = False  # right-aligned (numbers)
    sortable: bool = True
    #: numbers read best largest first (CPU, memory), names smallest first
    descending_first: bool = False


class Row(NamedTuple):
    """One table row. A NamedTuple rather than a frozen dataclass: 10,000 of them are built
    per refresh and a frozen dataclass's __init__ costs several times more."""

    key: Key
    parent: Key | None
    cells: tuple[str, ...]
    #: one comparable value per column (None sorts last)
    sort: tuple[Any, ...]
    #: lower-case text the filter searches
    search: str
    style: str = ""
    cell_styles: tuple[str, ...] = ()
    #: shown with an expand marker even when its children are not built yet (lazy children)
    expandable: bool = False
    #: expansion state before the user toggles it
    expanded: bool = True


@dataclass(frozen=True, slots=True)
class RowSet:
    rows: dict[Key, Row]  # natural order
    children: dict[Key | None, tuple[Key, ...]]

    @classmethod
    def build(cls, rows: Iterable[Row]) -> RowSet:
        by_key: dict[Key, Row] = {}
        for row in rows:
            by_key[row.key] = row
        kids: dict[Key | None, list[Key]] = {}
        for row in by_key.values():
            parent = row.parent if row.parent in by_key and row.parent != row.key else None
            kids.setdefault(parent, []).append(row.key)
        return cls(by_key, {k: tuple(v) for k, v in kids.items()})

    @classmethod
    def empty(cls) -> RowSet:
        return cls({}, {})


class Line(NamedTuple):
    """One visible line: which row, at what depth, with which tree guide before it
    (a NamedTuple for the same reason as Row)."""

    key: Key
    depth: int
    guide: str  # tree drawing and expand marker, placed in the table's tree column
    dim: bool = False  # shown only as the ancestor of a filter match


@dataclass(frozen=True, slots=True)
class ViewState:
    """What decides which lines are visible, besides the rows themselves."""

    tree: bool = True
    sort_column: int | None = None
    sort_reverse: bool = False
    filter_text: str = ""
    #: keys whose expansion differs from their row's default
    toggled: frozenset[Key] = frozenset()


@dataclass(frozen=True, slots=True)
class Prepared:
    """A layout computed off the event loop: valid for ``state`` (compared by identity)."""

    state: ViewState
    lines: list[Line]
    index: dict[Key, int]
    #: keys that are new against the rows shown when it was prepared (None: not computed)
    fresh: frozenset[Key] | None = None


def prepare(
    rowset: RowSet,
    state: ViewState,
    shown: RowSet | None = None,
    previous: tuple[RowSet, Prepared] | None = None,
) -> Prepared:
    """Flatten and index in the refresh worker; ``shown`` is the rowset on screen, for the
    fresh (newly appeared) keys.

    ``previous`` is the last rowset prepared for this view and its layout: when the tree has
    the same shape, the order is natural and nothing is filtered, the lines are the same and
    are reused (only for views whose rows' expansion flags follow from their keys).
    """
    if previous is not None:
        old_rows, old_layout = previous
        if (
            old_layout.state is state
            and state.sort_column is None
            and not state.filter_text
            and rowset.children == old_rows.children
        ):
            # Same keys as before: nothing is new unless the screen shows other rows.
            reused_fresh: frozenset[Key] | None = None
            if shown is not None:
                reused_fresh = (
                    frozenset()
                    if shown is old_rows
                    else frozenset(k for k in rowset.rows if k not in shown.rows)
                )
            return Prepared(state, old_layout.lines, old_layout.index, reused_fresh)
    lines = flatten(rowset, state)
    fresh = None
    if shown is not None:
        old = shown.rows
        fresh = frozenset(k for k in rowset.rows if k not in old) if old else frozenset()
    return Prepared(state, lines, index_of(lines), fresh)


def index_of(lines: list[Line]) -> dict[Key, int]:
    return {line.key: i for i, line in enumerate(lines)}


def is_expanded(row: Row, toggled: frozenset[Key] | set[Key]) -> bool:
    return row.expanded != (row.key in toggled)


def matching_keys(rowset: RowSet, filter_text: str) -> set[Key] | None:
    """Keys whose search text holds every word of the filter; None when there is no filter."""
    words = filter_text.lower().split()
    if not words:
        return None
    return {key for key, row in rowset.rows.items() if all(word in row.search for word in words)}


def _sort_keys(rowset: RowSet, keys: Iterable[Key], state: ViewState) -> list[Key]:
    if state.sort_column is None:
        ordered = list(keys)
        return ordered[::-1] if state.sort_reverse else ordered
    col = state.sort_column
    rows = rowset.rows
    present: list[tuple[Any, Key]] = []
    missing: list[Key] = []
    for key in keys:
        value = rows[key].sort[col] if col < len(rows[key].sort) else None
        if value is None:
            missing.append(key)
        else:
            present.append((value, key))
    present.sort(key=lambda item: item[0], reverse=state.sort_reverse)
    return [key for _, key in present] + missing


def flatten(rowset: RowSet, state: ViewState) -> list[Line]:
    """The visible lines, in order."""
    matches = matching_keys(rowset, state.filter_text)
    if not state.tree:
        keys = rowset.rows.keys() if matches is None else [k for k in rowset.rows if k in matches]
        return [Line(key, 0, "") for key in _sort_keys(rowset, keys, state)]
    shown: set[Key] | None = None
    if matches is not None:
        # A match is shown with its ancestors, so the tree keeps its context.
        shown = set()
        for key in matches:
            while key is not None and key not in shown:
                shown.add(key)
                parent = rowset.rows[key].parent
                key = parent if parent in rowset.rows and parent != key else None
    out: list[Line] = []
    # Iterative depth-first walk: process trees can be deep, recursion limits are not.
    stack: list[tuple[Key, int, str, bool]] = []
    roots = rowset.children.get(None, ())
    _push_children(rowset, roots, 0, "", state, shown, stack)
    toggled = state.toggled
    while stack:
        key, depth, prefix, last = stack.pop()
        row = rowset.rows[key]
        kids = rowset.children.get(key, ())
        if shown is not None:
            kids = tuple(k for k in kids if k in shown)
            open_ = bool(kids)
        else:
            open_ = is_expanded(row, toggled)
        has_kids = bool(kids) or row.expandable
        branch = ("└─" if last else "├─") if depth else ""
        marker = ("▼ " if open_ else "▶ ") if has_kids else ("─ " if depth else "  ")
        dim = matches is not None and key not in matches
        out.append(Line(key, depth, prefix + branch + marker, dim))
        if open_ and kids:
            child_prefix = prefix + (("  " if last else "│ ") if depth else "")
            _push_children(rowset, kids, depth + 1, child_prefix, state, shown, stack)
    return out


def _push_children(
    rowset: RowSet,
    kids: Iterable[Key],
    depth: int,
    prefix: str,
    state: ViewState,
    shown: set[Key] | None,
    stack: list[tuple[Key, int, str, bool]],
) -> None:
    if shown is not None:
        kids = [k for k in kids if k in shown]
    ordered = _sort_keys(rowset, kids, state)
    n = len(ordered)
    # Pushed in reverse so the first child pops first.
    for i in range(n - 1, -1, -1):
        stack.append((ordered[i], depth, prefix, i == n - 1))
