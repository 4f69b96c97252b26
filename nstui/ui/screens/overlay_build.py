"""Build an overlay: an ordered list of lower layers (top first) the user reorders with keys,
upper and work (or neither, for a read-only stack), target, options, and optionally a process
whose mount namespace gets the mount.

Everything the kernel would refuse is checked first (by nstui.kernel.overlay_build, in a
worker; in the target's namespace when a pid is given), and each refusal is one message.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from nstui.model.actions import Actions
from nstui.model.mount_actions import MountOutcome, OverlaySpec
from nstui.model.snapshot import Snapshot
from nstui.ui.screens.layer_inspector import mounts_css_path
from nstui.ui.widgets.keys_footer import KeysFooter


class LowerList(OptionList):
    """The lower layers, top first; keys move the highlighted layer or remove it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("K,ctrl+up,shift+up", "move(-1)", "Move up"),
        Binding("J,ctrl+down,shift+down", "move(1)", "Move down"),
        Binding("delete,backspace,x", "remove", "Remove"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.paths: list[str] = []

    def set_paths(self, paths: list[str], highlight: int | None = None) -> None:
        self.paths = list(paths)
        self.clear_options()
        for i, path in enumerate(self.paths, start=1):
            self.add_option(Option(f"lower {i:<3} {path}"))
        if self.paths:
            index = len(self.paths) - 1 if highlight is None else highlight
            self.highlighted = max(0, min(index, len(self.paths) - 1))

    def add_path(self, path: str) -> None:
        self.set_paths([*self.paths, path])

    def action_move(self, delta: int) -> None:
        i = self.highlighted
        if i is None or not 0 <= i + delta < len(self.paths):
            return
        paths = list(self.paths)
        paths[i], paths[i + delta] = paths[i + delta], paths[i]
        self.set_paths(paths, i + delta)

    def action_remove(self) -> None:
        i = self.highlighted
        if i is None or not self.paths:
            return
        paths = [p for j, p in enumerate(self.paths) if j != i]
        self.set_paths(paths, min(i, len(paths) - 1))


class OverlayBuildScreen(ModalScreen[MountOutcome | None]):
    """A form to mount an overlay; dismissed with the outcome of a successful mount."""

    CSS_PATH = mounts_css_path()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+r", "mount", "Mount"),
    ]

    def __init__(self, actions: Actions, snapshot: Snapshot | None) -> None:
        super().__init__(classes="mounts-dialog")
        self.actions = actions
        self.snapshot = snapshot
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Mount an overlay", id="title")
            yield Static("Lower layers, top first", classes="section")
            yield LowerList(id="lowers")
            yield Input(placeholder="add a lower dir, then Enter", id="lower-input", compact=True)
            yield Static(
                "In the list: K/J or ctrl+up/down move a layer, delete removes it.",
                classes="hint",
            )
            yield Static(
                "Upper and work (both empty: read-only stack, needs 2 lowers)", classes="section"
            )
            with Horizontal(classes="row"):
                yield Label("upper")
                yield Input(placeholder="writable layer dir", id="upper", compact=True)
            with Horizontal(classes="row"):
                yield Label("work")
                yield Input(
                    placeholder="empty dir on the same filesystem as upper",
                    id="work",
                    compact=True,
                )
            yield Static("Where", classes="section")
            with Horizontal(classes="row"):
                yield Label("target")
                yield Input(placeholder="directory to mount on", id="target", compact=True)
            with Horizontal(classes="row"):
                yield Label("options")
                yield Input(
                    placeholder="index=on,redirect_dir=on,metacopy=on,volatile,userxattr",
                    id="options",
                    compact=True,
                )
            with Horizontal(classes="row"):
                yield Label("in pid")
                yield Input(
                    placeholder="empty: nstui's mount namespace; a pid: that process's",
                    id="pid",
                    compact=True,
                )
            yield Checkbox(
                "with a pid: the layer dirs are nstui's; only the target is in its namespace",
                id="layers-here",
            )
            yield Static("", id="pid-note", classes="hint")
            yield Static("", id="message", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Mount", variant="primary", id="mount", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#lower-input", Input).focus()

    @property
    def lowers(self) -> LowerList:
        return self.query_one("#lowers", LowerList)

    def _value(self, ident: str) -> str:
        return self.query_one(f"#{ident}", Input).value.strip()

    def _say(self, text: str, kind: str = "error") -> None:
        message = self.query_one("#message", Static)
        message.set_classes(kind)
        message.update(text)

    @on(Input.Submitted, "#lower-input")
    def _add_lower(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if not path:
            self.lowers.focus()
            return
        if path in self.lowers.paths:
            self._say(f"{path} is already a lower layer.")
            return
        self.lowers.add_path(path)
        event.input.value = ""
        self._say("", "ok")

    @on(Input.Changed, "#pid")
    def _pid_changed(self, event: Input.Changed) -> None:
        note = ""
        text = event.value.strip()
        if text.isdecimal() and self.snapshot is not None:
            process = self.snapshot.processes.get(int(text))
            if process is None:
                note = f"no process {text} in the last refresh"
            else:
                note = (
                    f"pid {text}: {process.command[:60]} — paths are those of its mount "
                    "namespace (absolute)"
                )
        elif text and not text.isdecimal():
            note = "a pid is a number"
        self.query_one("#pid-note", Static).update(note)

    def spec(self) -> tuple[OverlaySpec, int | None, bool] | None:
        """The form as a spec and target pid, or None (with a message) when incomplete."""
        lowers = tuple(self.lowers.paths)
        pending = self._value("lower-input")
        if pending and pending not in lowers:
            lowers = (*lowers, pending)  # typed but Enter not pressed: take it
        if not lowers:
            self._say("Add at least one lower layer.")
            return None
        upper, work = self._value("upper") or None, self._value("work") or None
        target = self._value("target")
        if not target:
            self._say("Give the target directory.")
            return None
        pid_text = self._value("pid")
        if pid_text and not pid_text.isdecimal():
            self._say(f"The pid must be a number (got {pid_text!r}).")
            return None
        options = tuple(o for o in self._value("options").split(",") if o.strip())
        spec = OverlaySpec(lowers=lowers, target=target, upper=upper, work=work, options=options)
        layers_here = self.query_one("#layers-here", Checkbox).value
        return spec, int(pid_text) if pid_text else None, layers_here

    @on(Button.Pressed, "#mount")
    def _mount_pressed(self) -> None:
        self.action_mount()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_mount(self) -> None:
        if self._busy:
            return
        request = self.spec()
        if request is None:
            return
        self._busy = True
        self._say("checking and mounting …", "ok")
        self._do_mount(*request)

    @work(thread=True, exclusive=True, group="overlay-build", exit_on_error=False)
    def _do_mount(self, spec: OverlaySpec, in_pid: int | None, layers_here: bool) -> None:
        outcome = self.actions.mounts.mount_overlay(spec, in_pid=in_pid, layers_here=layers_here)
        self.app.call_from_thread(self._mounted, outcome)

    def _mounted(self, outcome: MountOutcome) -> None:
        self._busy = False
        if outcome.ok:
            self.dismiss(outcome)
        else:
            self._say(outcome.message)
