"""Confirm unmounting a union mount, naming the processes that use it; lazy option.

The users (processes of the mount's namespace whose cwd, root, open files or mappings are on
it) are read in a worker. A busy mount can only be detached lazily: the pane says so.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Static

from nstui.kernel.mount_users import MountUser
from nstui.kernel.union_mounts import UnionMount
from nstui.model.actions import Actions
from nstui.model.mount_actions import MountOutcome
from nstui.ui.screens.layer_inspector import mounts_css_path
from nstui.ui.widgets.keys_footer import KeysFooter


def users_text(users: tuple[MountUser, ...]) -> str:
    if not users:
        return "No process uses it."
    shown = [f"{u.pid} {u.comm} ({', '.join(u.how[:3])})" for u in users[:12]]
    more = f" and {len(users) - 12} more" if len(users) > 12 else ""
    return f"Used by {len(users)} process{'es' if len(users) != 1 else ''}: " + (
        "; ".join(shown) + more
    )


class UmountConfirmScreen(ModalScreen[MountOutcome | None]):
    """Ask before unmounting; dismissed with the outcome (None when cancelled)."""

    CSS_PATH = mounts_css_path()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "cancel", "Cancel"),
        Binding("y", "confirm", "Unmount"),
        Binding("l", "toggle_lazy", "Lazy"),
    ]

    def __init__(self, actions: Actions, mount: UnionMount) -> None:
        super().__init__(classes="mounts-dialog")
        self.actions = actions
        self.union = mount
        self.users: tuple[MountUser, ...] | None = None
        self._busy = False

    @property
    def in_pid(self) -> int | None:
        """Where to unmount: nstui's namespace, or through a process of the mount's."""
        ns = self.union.namespace
        if ns.is_own:
            return None
        return ns.read_via if ns.read_via is not None else (ns.pids[0] if ns.pids else None)

    def compose(self) -> ComposeResult:
        union = self.union
        where = (
            "nstui's mount namespace"
            if union.namespace.is_own
            else (f"mount namespace {union.namespace.ns} (through pid {self.in_pid})")
        )
        with Vertical(id="dialog"):
            yield Static(f"Unmount {union.target} ({union.kind})?", id="title")
            yield Static(f"In {where}.")
            yield Static("Looking for processes that use it …", id="users", markup=False)
            yield Checkbox(
                "lazy: detach now, the kernel frees it when the last user goes (MNT_DETACH)",
                id="lazy",
            )
            yield Static("", id="message", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Unmount", variant="error", id="confirm", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self._load_users()

    @work(thread=True, exclusive=True, group="umount-users", exit_on_error=False)
    def _load_users(self) -> None:
        users = self.actions.mounts.users(self.union)
        self.app.call_from_thread(self._show_users, users)

    def _show_users(self, users: tuple[MountUser, ...]) -> None:
        self.users = users
        text = users_text(users)
        if users:
            text += "\nIt is busy: a plain unmount will be refused; lazy detaches it now."
        self.query_one("#users", Static).update(text)

    def _say(self, text: str) -> None:
        message = self.query_one("#message", Static)
        message.set_classes("error")
        message.update(text)

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#confirm")
    def _confirm_pressed(self) -> None:
        self.action_confirm()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_toggle_lazy(self) -> None:
        box = self.query_one("#lazy", Checkbox)
        box.value = not box.value

    def action_confirm(self) -> None:
        if self._busy:
            return
        self._busy = True
        self._umount(self.query_one("#lazy", Checkbox).value)

    @work(thread=True, exclusive=True, group="umount", exit_on_error=False)
    def _umount(self, lazy: bool) -> None:
        outcome = self.actions.mounts.umount(self.union.target, lazy=lazy, in_pid=self.in_pid)
        self.app.call_from_thread(self._done, outcome)

    def _done(self, outcome: MountOutcome) -> None:
        self._busy = False
        if outcome.ok:
            self.dismiss(outcome)
        else:
            self._say(outcome.message)
