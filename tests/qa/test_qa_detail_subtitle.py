"""QA: a very long command line takes one line at the top of the detail pane.

Found by QA: a process started with a 1.5 kB ``--env {...}`` argument filled the pane's first
twenty lines with it (then again under "command"), pushing its namespaces out of sight.
"""

from __future__ import annotations

from rich.console import Console

from nstui.model.describe import Description
from nstui.ui.widgets.detail import render_description


def test_long_subtitle_is_one_line() -> None:
    argv = "line_io_tools/binary_backend --env " + '{"PATH": "/usr/bin:/bin"} ' * 60
    console = Console(width=50, record=True, color_system=None)
    console.print(render_description(Description("process", "2362 memfd", argv, ())))
    lines = [line for line in console.export_text().splitlines() if line.strip()]
    assert len(lines) == 2, lines
    assert lines[1].startswith("line_io_tools/binary_backend") and lines[1].endswith("…")
