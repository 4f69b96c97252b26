"""Move a process (or one of its threads) into a cgroup, chosen from the snapshot's trees.

Opened as ``MoveToCgroupScreen(actions, snapshot, pid)``. The target list is the cgroups of
the chosen hierarchy in the snapshot, filtered by what is typed. A v1 cpuset target with no
CPUs (a new child) is offered the parent's cpus/mems first; a v2 refusal under the
no-internal-processes rule is explained.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from nstui.model.actions import Actions
from nstui.model.cgroup_actions import CgroupActionError
from nstui.model.snapshot import Snapshot
from nstui.ui.screens.cg_dialogs import NO_INTERNAL_PROCESSES, ConfirmScreen, limits_css
from nstui.ui.widgets.keys_footer import KeysFooter


class MoveToCgroupScreen(ModalScreen[bool]):
    """Dismisses True when the process was moved."""

    CSS_PATH = limits_css()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "move", "Move"),
    ]

    class Moved(Message):
        """A move's outcome; with ``cpuset_empty``, ``text`` is the target to ask about."""

        def __init__(
            self, text: str, ok: bool, cpuset_empty: bool = False, thread: bool = False
        ) -> None:
            super().__init__()
            self.text = text
            self.ok = ok
            self.cpuset_empty = cpuset_empty
            self.thread = thread

    def __init__(self, actions: Actions, snapshot: Snapshot, pid: int) -> None:
        super().__init__(classes="cg-dialog")
        self.actions = actions
        self.snapshot = snapshot
        self.pid = pid
        process = snapshot.processes.get(pid)
        self.comm = process.comm if process is not None else "?"
        self.current = dict(process.cgroups) if process is not None else {}
        self.hid = snapshot.hierarchies[0].hid if snapshot.hierarchies else 0

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Move pid {self.pid} ({self.comm}) into a cgroup", id="title")
            yield Select(
                [(f"{h.name} (v{h.version})", h.hid) for h in self.snapshot.hierarchies],
                value=self.hid,
                allow_blank=False,
                id="hierarchy",
            )
            yield Static("", id="current", markup=False)
            yield Input(placeholder="filter cgroups, or type a path", id="filter")
            yield OptionList(id="targets")
            yield Checkbox("only this thread (tasks / cgroup.threads)", id="thread")
            yield Static("", id="message", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Move", id="move", variant="primary")
                yield Button("Cancel", id="cancel")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._fill()
        self.query_one("#filter", Input).focus()

    def _paths(self) -> list[str]:
        return sorted(path for (hid, path) in self.snapshot.cgroups if hid == self.hid)

    def _fill(self) -> None:
        wanted = self.query_one("#filter", Input).value.strip()
        targets = self.query_one("#targets", OptionList)
        targets.clear_options()
        paths = [p for p in self._paths() if wanted in p]
        targets.add_options([Option(p, id=p) for p in paths[:500]])
        if paths:
            targets.highlighted = 0
        now = self.current.get(self.hid, "?")
        self.query_one("#current", Static).update(f"now in: {now}")

    @on(Select.Changed, "#hierarchy")
    def _hierarchy(self, event: Select.Changed) -> None:
        if isinstance(event.value, int):
            self.hid = event.value
            self._fill()

    @on(Input.Changed, "#filter")
    def _filter(self) -> None:
        self._fill()

    @on(Input.Submitted, "#filter")
    def _submitted(self) -> None:
        self.action_move()

    @on(OptionList.OptionSelected, "#targets")
    def _picked(self) -> None:
        self.action_move()

    def _target(self) -> str | None:
        targets = self.query_one("#targets", OptionList)
        if targets.highlighted is not None and targets.option_count:
            option = targets.get_option_at_index(targets.highlighted)
            return option.id
        typed = self.query_one("#filter", Input).value.strip()
        return typed if typed.startswith("/") else None

    @on(Button.Pressed, "#move")
    def action_move(self) -> None:
        target = self._target()
        if target is None:
            self.query_one("#message", Static).update("Pick a target cgroup.")
            return
        thread = self.query_one("#thread", Checkbox).value
        self.query_one("#message", Static).update(f"moving to {target}…")
        self._move(self.hid, target, thread)

    @work(thread=True, exclusive=True, group="cg-move", exit_on_error=False)
    def _move(self, hid: int, path: str, thread: bool) -> None:
        cgroups = self.actions.cgroups
        block = cgroups.edit_unavailable()
        if block:
            self.post_message(self.Moved(block, False))
            return
        if cgroups.needs_cpuset_copy(hid, path):
            self.post_message(self.Moved(path, False, cpuset_empty=True, thread=thread))
            return
        self._move_now(hid, path, thread)

    def _move_now(self, hid: int, path: str, thread: bool) -> None:
        """The move itself, in the calling worker; its outcome is posted."""
        try:
            result = self.actions.cgroups.move(self.pid, hid, path, thread=thread)
        except CgroupActionError as exc:
            self.post_message(self.Moved(str(exc), False))
            return
        text = result.message
        if not result.ok and "no-internal-processes" in text:
            text += "\n" + NO_INTERNAL_PROCESSES
        self.post_message(self.Moved(text, result.ok))

    @on(Moved)
    def _moved(self, message: Moved) -> None:
        if message.cpuset_empty:
            path, thread = message.text, message.thread

            def answered(yes: bool | None) -> None:
                if yes:
                    self._copy_then_move(self.hid, path, thread)

            self.app.push_screen(
                ConfirmScreen(
                    "Empty cpuset",
                    f"{path} has no CPUs or memory nodes (a new v1 cpuset starts empty), so the "
                    "kernel would refuse the move (ENOSPC). Copy the parent's cpus and mems, "
                    "then move?",
                    "Copy and move",
                ),
                answered,
            )
            return
        self.query_one("#message", Static).update(message.text)
        self.notify(message.text, severity="information" if message.ok else "error")
        if message.ok:
            self.dismiss(True)

    @work(thread=True, exclusive=True, group="cg-move", exit_on_error=False)
    def _copy_then_move(self, hid: int, path: str, thread: bool) -> None:
        try:
            copied = self.actions.cgroups.copy_parent_cpuset(hid, path)
        except CgroupActionError as exc:
            self.post_message(self.Moved(str(exc), False))
            return
        if not copied.ok:
            self.post_message(self.Moved(copied.message, False))
            return
        self._move_now(hid, path, thread)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
