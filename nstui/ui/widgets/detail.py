"""The detail pane: everything about the selected process, namespace or cgroup.

The text comes from ``nstui.model.describe`` (pure, shared with the CLI); this widget only
lays it out with Rich and colours the tones from the current theme. It never reads the
kernel: cgroup limits and usage arrive as a mapping the app read in a worker.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from importlib.resources import files
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from nstui.kernel.nstypes import NsId
from nstui.model.describe import (
    Description,
    Tone,
    describe_cgroup,
    describe_namespace,
    describe_process,
    render_text,
)
from nstui.model.snapshot import Snapshot

NOTHING = "Select a process, namespace or cgroup to see its details here."

#: Theme variables the emphatic tones take their colour from, with a fallback for bare
#: terminals. Plain text keeps the widget's colour; muted text is dimmed, whatever the theme.
_TONE_VARIABLES: dict[Tone, tuple[str, str]] = {
    Tone.HIGHLIGHT: ("accent", "yellow"),
    Tone.WARNING: ("warning", "red"),
}


#: the label column's widest (longer labels fold)
LABEL_WIDTH = 22


def _css() -> str:
    return files("nstui.styles").joinpath("detail.tcss").read_text(encoding="utf-8")


def _color(variables: Mapping[str, str], name: str, fallback: str) -> Style:
    value = variables.get(name, "")
    # Theme values such as "ansi_default 50%" are Textual colours, not Rich ones.
    if value.startswith("#") and len(value) in (7, 9):
        return Style(color=value[:7])
    return Style(color=fallback)


def tone_styles(variables: Mapping[str, str]) -> dict[Tone, Style]:
    """Rich styles for each tone under the theme whose CSS variables are VARIABLES."""
    styles = {tone: _color(variables, *spec) for tone, spec in _TONE_VARIABLES.items()}
    return {**styles, Tone.PLAIN: Style(), Tone.MUTED: Style(dim=True)}


def render_description(
    description: Description, variables: Mapping[str, str] | None = None
) -> RenderableType:
    """The description as Rich renderables: a title, then per section a heading, its note
    and a two-column grid of label and value (long values wrap in their column)."""
    tones = tone_styles(variables or {})
    muted = tones[Tone.MUTED]
    parts: list[RenderableType] = [Text(description.title, style="bold")]
    if description.subtitle:
        # one line: a 2 kB argv (an --env JSON, say) would push every fact below the fold;
        # the whole command line is in the section below
        parts.append(
            Text(
                description.subtitle,
                style=tones[Tone.HIGHLIGHT],
                no_wrap=True,
                overflow="ellipsis",
            )
        )
    for section in description.sections:
        parts.append(Text(""))
        parts.append(Text(section.title, style=Style(bold=True, underline=True)))
        if section.note:
            parts.append(Text(section.note, style=muted + Style(italic=True)))
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(style=muted, max_width=LABEL_WIDTH, overflow="fold")
        grid.add_column(ratio=1, overflow="fold")
        for row in section.rows:
            grid.add_row(Text(row.label), Text(row.value, style=tones[row.tone]))
        parts.append(grid)
    return Group(*parts)


class DetailPane(VerticalScroll):
    """A scrollable description of the selection. Call one of the ``show_*`` methods whenever
    the selection or the snapshot changes: an unchanged description is not re-rendered, and
    the scroll position is kept while the same thing stays selected."""

    DEFAULT_CSS = _css()

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.description: Description | None = None
        self._selection: Hashable = None
        self._body = Static(NOTHING, id="detail-body")

    def compose(self) -> ComposeResult:
        yield self._body

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._on_theme_changed)

    def _on_theme_changed(self, _theme: object) -> None:
        if self.description is not None:
            self._body.update(render_description(self.description, self.app.theme_variables))

    # --- what to show -------------------------------------------------------------------------

    def show_process(self, snapshot: Snapshot, pid: int) -> None:
        self._show(("process", pid), describe_process(snapshot, pid))

    def show_namespace(self, snapshot: Snapshot, ns_id: NsId) -> None:
        self._show(("namespace", ns_id), describe_namespace(snapshot, ns_id))

    def show_cgroup(
        self,
        snapshot: Snapshot,
        hid: int,
        path: str,
        usage: Mapping[str, str] | None = None,
    ) -> None:
        """USAGE: cgroup file name -> value, read by the app in a worker (None: not yet)."""
        self._show(("cgroup", hid, path), describe_cgroup(snapshot, hid, path, usage))

    def show_nothing(self) -> None:
        self._selection = None
        if self.description is None:
            return
        self.description = None
        self._body.update(NOTHING)
        self.scroll_home(animate=False)

    def _show(self, selection: Hashable, description: Description) -> None:
        same_height = False
        if selection != self._selection:
            self._selection = selection
            self.scroll_home(animate=False)
        elif description == self.description:
            return  # a refresh that changed nothing here: keep the frame as it is
        elif self.description is not None:
            # values this short fit the value column whatever they say (labels <= 22 cells)
            fits = self._body.size.width - LABEL_WIDTH - 2
            same_height = _same_lines(self.description, description, fits)
        self.description = description
        # A layout re-arranges the whole screen (~0.1 s beside 10,000-row tables): a refresh
        # that only moved numbers (CPU, memory) keeps every line where it was without one.
        self._body.update(
            render_description(description, self.app.theme_variables), layout=not same_height
        )

    @property
    def text(self) -> str:
        """The shown description as plain text (for tests, copying and screen readers)."""
        if self.description is None:
            return NOTHING
        return render_text(self.description)


def _same_lines(old: Description, new: Description, fits: int = 0) -> bool:
    """Whether NEW renders in exactly the lines OLD did: the same title, subtitle, sections
    and labels, and each value equal, made of words of the same lengths (numbers that
    moved: "1.5% now" -> "2.5% now"), or both on one line of at most FITS cells."""
    if (old.title, old.subtitle, len(old.sections)) != (
        new.title,
        new.subtitle,
        len(new.sections),
    ):
        return False
    for before, after in zip(old.sections, new.sections, strict=True):
        if (before.title, before.note, len(before.rows)) != (
            after.title,
            after.note,
            len(after.rows),
        ):
            return False
        for a, b in zip(before.rows, after.rows, strict=True):
            if a.label != b.label or (
                a.value != b.value
                and not _wraps_alike(a.value, b.value)
                and not (_one_line(a.value, fits) and _one_line(b.value, fits))
            ):
                return False
    return True


def _one_line(text: str, fits: int) -> bool:
    return len(text) <= fits and text.isascii() and "\n" not in text


def _wraps_alike(a: str, b: str) -> bool:
    """Same length, ASCII (one cell a character) and spaces at the same places."""
    if len(a) != len(b) or not (a.isascii() and b.isascii()):
        return False
    return all(x.isspace() == y.isspace() for x, y in zip(a, b, strict=True))
