"""Small dialogs of the cgroup panes: confirm, type a value or a name, pick controllers."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static

from nstui.ui.widgets.keys_footer import KeysFooter


def limits_css() -> Path:
    """styles/limits.tcss, shipped in the wheel as nstui.styles."""
    return Path(str(files("nstui.styles").joinpath("limits.tcss")))


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no about something that cannot be taken back; dismisses with the answer."""

    CSS_PATH = limits_css()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, message: str, yes: str = "Yes") -> None:
        super().__init__(classes="cg-dialog")
        self.title_text = title
        self.message = message
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="title")
            yield Static(self.message, id="message")
            with Horizontal(id="buttons"):
                yield Button(self.yes, id="yes", variant="error")
                yield Button("No", id="no")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class TextInputScreen(ModalScreen[str | None]):
    """One line of input (a knob value, a cgroup name, a pid); None when cancelled."""

    CSS_PATH = limits_css()
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, help_text: str, value: str = "", placeholder: str = "") -> None:
        super().__init__(classes="cg-dialog")
        self.title_text = title
        self.help_text = help_text
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="title")
            yield Static(self.help_text, id="message")
            yield Input(value=self.value, placeholder=self.placeholder, id="value")
            yield Static("Enter applies, Escape cancels.", classes="hint")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


NO_INTERNAL_PROCESSES = (
    "cgroup v2 rule (no internal processes): a cgroup that has processes cannot enable domain "
    "controllers (memory, io, cpuset, hugetlb) for its children, and a cgroup that enables "
    "them cannot take processes. Move the processes into a child first. The threaded "
    "controllers cpu and pids are exempt; the root cgroup is exempt."
)


class SubtreeControlScreen(ModalScreen[dict[str, bool] | None]):
    """Controllers to enable/disable for the children; dismisses with the changes only."""

    CSS_PATH = limits_css()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "apply", "Apply"),
    ]

    def __init__(self, spec: str, available: tuple[str, ...], enabled: tuple[str, ...]) -> None:
        super().__init__(classes="cg-dialog")
        self.spec = spec
        self.available = available
        self.enabled = frozenset(enabled)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Controllers for the children of {self.spec}", id="title")
            if not self.available:
                yield Static("No controller is available here (see cgroup.controllers).")
            for name in self.available:
                yield Checkbox(name, name in self.enabled, id=f"ctl-{name}")
            yield Static(NO_INTERNAL_PROCESSES, classes="hint")
            with Horizontal(id="buttons"):
                yield Button("Apply", id="apply", variant="primary")
                yield Button("Cancel", id="cancel")
        yield KeysFooter()

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        changes: dict[str, bool] = {}
        for name in self.available:
            want = self.query_one(f"#ctl-{name}", Checkbox).value
            if want != (name in self.enabled):
                changes[name] = want
        self.dismiss(changes)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
