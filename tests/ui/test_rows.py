"""Flattening rows into visible lines: tree guides, expansion, filter context, sort, reuse."""

from __future__ import annotations

from nstui.ui.rows import Row, RowSet, ViewState, flatten, prepare


def row(key: int, parent: int | None, name: str, cpu: float | None = 0.0) -> Row:
    return Row(key, parent, (str(key), name), (key, cpu), f"{key} {name}")


ROWS = RowSet.build(
    [
        row(1, None, "init", 1.0),
        row(10, 1, "sshd", 5.0),
        row(11, 10, "bash", None),
        row(20, 1, "cron", 2.0),
        row(2, None, "kthreadd", 0.5)._replace(expanded=False),
        row(3, 2, "kworker", 9.0),
    ]
)


def test_tree_lines_with_guides_and_collapsed_nodes() -> None:
    lines = flatten(ROWS, ViewState())
    assert [(line.key, line.guide) for line in lines] == [
        (1, "▼ "),
        (10, "├─▼ "),
        (11, "│ └── "),
        (20, "└── "),
        (2, "▶ "),  # starts collapsed: its child is not shown
    ]
    opened = flatten(ROWS, ViewState(toggled=frozenset({2})))
    assert [line.key for line in opened][-2:] == [2, 3]


def test_filter_keeps_ancestors_as_dimmed_context() -> None:
    lines = flatten(ROWS, ViewState(filter_text="bash"))
    assert [(line.key, line.dim) for line in lines] == [(1, True), (10, True), (11, False)]
    # A match under a collapsed node is shown anyway.
    assert [line.key for line in flatten(ROWS, ViewState(filter_text="kworker"))] == [2, 3]
    # Every word must match.
    assert flatten(ROWS, ViewState(filter_text="bash cron")) == []


def test_flat_sort_puts_unknown_values_last() -> None:
    state = ViewState(tree=False, sort_column=1, sort_reverse=True)
    assert [line.key for line in flatten(ROWS, state)] == [3, 10, 20, 1, 2, 11]


def test_prepare_reuses_lines_while_the_tree_keeps_its_shape() -> None:
    state = ViewState()
    first = prepare(ROWS, state, RowSet.empty())
    assert first.fresh == frozenset()  # nothing is "new" against an empty table
    same_shape = RowSet.build([r._replace(cells=(*r.cells[:1], "x")) for r in ROWS.rows.values()])
    again = prepare(same_shape, state, ROWS, (ROWS, first))
    assert again.lines is first.lines
    assert again.fresh == frozenset()
    grown = RowSet.build([*ROWS.rows.values(), row(30, 1, "new")])
    third = prepare(grown, state, same_shape, (same_shape, again))
    assert third.lines is not first.lines
    assert third.fresh == frozenset({30})
    assert 30 in third.index
