"""The help screen: the app's keys, and two lines on each namespace type and cgroup subsystem
for people learning how containers work (the glossary text lives in nstui.model.glossary)."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from nstui.kernel.nstypes import NS_TYPES
from nstui.model.glossary import CGROUP_TERMS, NAMESPACE_TERMS, Term
from nstui.ui.format import NS_LETTERS

#: The app's keys as the help lists them when the caller passes none: (keys, what they do).
#: The footer shows the focused view's share of these; tests check that every key the footer
#: or the views bind is listed here.
DEFAULT_KEYS: tuple[tuple[str, str], ...] = (
    ("1 2 3 4", "switch view: processes, namespaces, cgroups, mounts (or click a tab)"),
    ("↑ ↓  j k", "move the cursor"),
    ("← →  h l", "collapse / expand a row"),
    ("space", "expand or collapse a row"),
    ("enter", "open: expand a row, edit a cgroup's limits"),
    ("home end  g G", "first / last row"),
    ("pgup pgdn  ctrl+b ctrl+f", "page up / down"),
    ("/", "filter by pid, command, user, namespace id, cgroup path or container"),
    ("esc", "clear the filter, close a dialog or pane"),
    ("s  S", "cycle the sort column / reverse it"),
    ("t", "processes: tree or flat list; namespaces: nesting tree of user and pid; "
     "mounts: filter by type"),
    ("f", "follow the selected process across refreshes"),
    ("p", "pause or resume the live refresh"),
    ("r", "refresh now"),
    ("d", "show or hide the detail pane"),
    ("e", "enter the selected process's namespaces (like nsenter)"),
    ("n", "run a command in new namespaces (like unshare)"),
    ("K  R", "keep a namespace with a bind mount / release it"),
    ("M", "move the selected process to another cgroup"),
    ("L", "edit the selected cgroup's limits"),
    ("H", "the audit log of cgroup changes, with undo"),
    ("u", "mounts: union mounts only, or every mount"),
    ("m", "mounts: device-mapper devices"),
    ("i", "mounts: the layers of the selected union mount"),
    ("b", "mounts: build an overlay mount"),
    ("x", "mounts: unmount the selected union mount"),
    ("ctrl+p", "command palette: every action, and the theme"),
    ("?", "this help (on a pane: that pane's keys)"),
    ("q", "quit (on a pane: back)"),
)  # fmt: skip


def bindings_of(screen: Screen[object]) -> list[tuple[str, str]]:
    """The bindings active on SCREEN (its focused widget, the screen, the app) as
    (keys, description) pairs, one per action, for passing to ``HelpScreen``."""
    app = screen.app
    by_action: dict[str, tuple[list[str], str]] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.description or binding.system:
            continue
        keys, _ = by_action.setdefault(binding.action, ([], binding.description))
        key = app.get_key_display(binding)
        if key not in keys:
            keys.append(key)
    return [(" ".join(keys), description) for keys, description in by_action.values()]


def _keys_table(bindings: Sequence[tuple[str, str]]) -> RenderableType:
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(style="bold", no_wrap=True, min_width=12)
    table.add_column(ratio=1)
    for keys, description in bindings:
        # Text, not str: a key such as "[" must not be read as Rich markup
        table.add_row(Text(keys), Text(description))
    return Group(Text("Keys", style="bold underline"), table)


def reading_text() -> RenderableType:
    """How to read the columns and colours the views use."""
    letters = " ".join(f"{NS_LETTERS[t]} {t.value}" for t in NS_TYPES)
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(style="bold", no_wrap=True, min_width=12)
    table.add_column(ratio=1)
    rows = (
        (
            "NS",
            f"one letter per namespace type ({letters}) where the process's namespace differs "
            "from the host's (pid 1's); · where it is the host's; ? where it could not be read",
        ),
        (
            "CONTAINER",
            "the container (docker:<12-char id>, kubepods:<pod>/<id>, podman:<name>, "
            "lxc:<name>, nspawn:<machine>) or else the systemd unit the process runs in",
        ),
        (
            "detail",
            "highlighted: differs from the host (what makes a container); dimmed: same as the "
            "host, or not read",
        ),
    )
    for name, text in rows:
        table.add_row(Text(name), Text(text))
    return Group(Text("Reading the screen", style="bold underline"), table)


def _terms_table(title: str, intro: str, terms: Sequence[Term]) -> RenderableType:
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(style="bold", no_wrap=True, min_width=12)
    table.add_column(ratio=1)
    for term in terms:
        table.add_row(Text(term.name), Text(term.what))
        table.add_row("", Text(term.how, style="dim"))
    return Group(Text(title, style="bold underline"), Text(intro, style="italic"), table)


def namespaces_text() -> RenderableType:
    return _terms_table(
        "Namespaces",
        "Each process is in one namespace of every type; a container is processes whose "
        "namespaces differ from the host's (pid 1's).",
        [NAMESPACE_TERMS[t] for t in NS_TYPES],
    )


def cgroups_text() -> RenderableType:
    return _terms_table(
        "Cgroup subsystems",
        "Cgroups group processes in a tree; each subsystem (controller) limits or counts one "
        "resource for a group. v1 mounts one tree per subsystem, v2 one tree for all.",
        # the glossary lists them in the order lssubsys does
        list(CGROUP_TERMS.values()),
    )


class HelpScreen(ModalScreen[None]):
    """Keys and glossary. Escape, q or ? closes it; arrows, j/k and the mouse scroll."""

    CSS_PATH = str(files("nstui.styles").joinpath("help.tcss"))

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
        Binding("j", "scroll(1)", "Down", show=False),
        Binding("k", "scroll(-1)", "Up", show=False),
    ]

    def __init__(
        self,
        bindings: Sequence[tuple[str, str]] | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.bindings: tuple[tuple[str, str], ...] = (
            DEFAULT_KEYS if bindings is None else tuple(bindings)
        )

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static("nstui help", id="help-title")
            with VerticalScroll(id="help-body"):
                yield Static(_keys_table(self.bindings), id="help-keys")
                yield Static(reading_text(), id="help-reading")
                yield Static(namespaces_text(), id="help-namespaces")
                yield Static(cgroups_text(), id="help-cgroups")
            yield Static("escape, q or ? closes this help", id="help-footer")

    def on_mount(self) -> None:
        self.query_one("#help-body", VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll(self, lines: int) -> None:
        body = self.query_one("#help-body", VerticalScroll)
        body.scroll_relative(y=lines, animate=False)
