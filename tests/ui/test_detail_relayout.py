"""The detail pane skips the screen layout only when a new description renders in exactly
the lines of the old one (numbers that moved), and still shows the new values."""

from __future__ import annotations

from dataclasses import replace

from nstui.model.describe import Description, Row, Section, describe_process
from nstui.ui.app import NstuiApp
from nstui.ui.widgets.detail import DetailPane, _same_lines

from .fakes import SequenceSource, base_processes, make_snapshot, with_cpu
from .helpers import refresh, settle, sync


def _description(*values: str, label: str = "cpu time") -> Description:
    rows = tuple(Row(label if i == 0 else f"row {i}", v) for i, v in enumerate(values))
    return Description("process", "1 init", "/sbin/init", (Section("Process", rows),))


def test_numbers_that_moved_keep_the_lines() -> None:
    old = _description("1.00 s, 1.5% now", "4.0M")
    assert _same_lines(old, _description("1.00 s, 2.5% now", "4.1M"))


def test_short_values_stay_on_their_line() -> None:
    old = _description("-", "4.0M")
    assert _same_lines(old, _description("0.0% now", "4.0M"), fits=10)
    assert not _same_lines(old, _description("0.0% now", "4.0M"), fits=5)
    assert not _same_lines(old, _description("0.0% now", "4.0M"))  # width unknown


def test_anything_that_may_wrap_otherwise_needs_a_layout() -> None:
    old = _description("1.00 s, 1.5% now", "4.0M")
    assert not _same_lines(old, _description("1.00 s, 12.5% now", "4.0M"))  # longer
    assert not _same_lines(old, _description("1.00 s,11.5% now", "4.0M"))  # words moved
    assert not _same_lines(old, _description("1.00 s, 1.5% nöw", "4.0M"))  # not ASCII
    assert not _same_lines(old, _description("1.00 s, 1.5% now", "4.0M", "x"))  # a row more
    assert not _same_lines(old, _description("1.00 s, 1.5% now", "4.0M", label="cpu"))
    assert not _same_lines(old, replace(old, subtitle="/sbin/init splash"))


@sync
async def test_moved_numbers_are_shown_without_a_layout() -> None:
    procs = base_processes()
    first = make_snapshot(with_cpu(procs, {1: 1.5}))
    second = make_snapshot(with_cpu(procs, {1: 2.5}), taken_at=first.taken_at)
    app = NstuiApp(SequenceSource([first, second]), None, interval=3600)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        pane = app.query_one("#detail", DetailPane)
        assert app.processes_view.select_key(1)
        await settle(pilot)
        assert pane.description == describe_process(first, 1)
        layouts: list[bool] = []
        body = pane._body
        update = body.update

        def spy(content: object, *, layout: bool = True) -> None:
            layouts.append(layout)
            update(content, layout=layout)  # type: ignore[arg-type]

        body.update = spy  # type: ignore[method-assign,assignment]
        await refresh(pilot)
        assert pane.description == describe_process(second, 1)
        assert "2.5% now" in pane.text
        assert layouts == [False]
