"""Keep a namespace alive with a bind mount (like ``ip netns add``), and release it again.

Keep binds the namespace's nsfs file (through one of its processes) onto a path, by default
/run/nstui/ns/<type>-<inode> (mount namespaces: /run/nstui/mnt/, a private mount), whose
directory is created. Release unmounts such a bind; when
it is the namespace's last holder (no process, no other mount or fd) the namespace is
destroyed, and the pane says so before asking.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from nstui.kernel.namespaces import HolderKind, Namespace, NsHolder
from nstui.kernel.nstypes import NsId, NsType
from nstui.model.actions import Actions
from nstui.model.ns_actions import NsHelperError
from nstui.model.snapshot import Snapshot
from nstui.ui.screens.ns_form import NsDialog
from nstui.ui.widgets.keys_footer import KeysFooter

MNT_HINT = (
    "A mount namespace can be kept only on a mount that does not propagate into it: the "
    "default directory is made a private mount for this; elsewhere make the directory a "
    "private mount first (mount --bind D D; mount --make-private D)."
)


def _members(snapshot: Snapshot, ns: NsId) -> tuple[int, ...]:
    namespace = snapshot.namespaces.get(ns)
    return namespace.pids if namespace is not None else ()


class KeepNamespaceScreen(NsDialog[str]):
    """Dismisses with the path the namespace is now kept at, else None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+r", "keep", "Keep"),
    ]

    def __init__(self, actions: Actions, snapshot: Snapshot, ns: NsId) -> None:
        super().__init__()
        self.actions = actions
        self.snapshot = snapshot
        self.ns = ns

    def compose(self) -> ComposeResult:
        pids = _members(self.snapshot, self.ns)
        with Vertical(id="dialog"):
            yield Static(f"Keep {self.ns} alive with a bind mount", id="title")
            if pids:
                yield Static(
                    f"Held now by {len(pids)} process(es), e.g. pid {pids[0]}. A bind mount "
                    "keeps it after they all exit."
                )
            with Horizontal(classes="row"):
                yield Label("Path")
                yield Input(
                    value=self.actions.namespaces.default_keep_path(self.ns),
                    id="path",
                    compact=True,
                )
            if self.ns.type is NsType.MNT:
                yield Static(MNT_HINT, classes="hint")
            yield Static("", id="message", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Keep", variant="primary", id="keep", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()
        reason = self.actions.namespaces.unavailable_reason()
        if reason is not None:
            self._say(f"Limited: {reason}.", "warning")
        if not _members(self.snapshot, self.ns):
            self._say(
                f"No process is in {self.ns}: it can only be kept through one of its "
                "processes. (It is already held by a mount or fd, see the detail pane.)"
            )
            self.query_one("#keep", Button).disabled = True

    @on(Button.Pressed, "#keep")
    @on(Input.Submitted, "#path")
    def _keep_pressed(self) -> None:
        self.action_keep()

    def action_keep(self) -> None:
        pids = _members(self.snapshot, self.ns)
        path = self.query_one("#path", Input).value.strip()
        if not pids:
            return
        if not path.startswith("/"):
            self._say("Give an absolute path.")
            return
        self._say("Keeping…", "warning")
        self._keep(pids, path)

    @work(thread=True, exclusive=True, group="nsactions", exit_on_error=False)
    def _keep(self, pids: tuple[int, ...], path: str) -> None:
        error = "no process left in the namespace"
        # The snapshot may be stale: try the members in turn, each checked by its own pidfd.
        for pid in pids[:5]:
            if self.actions.namespaces.differences(pid).get(self.ns.type) is None:
                continue  # gone (or unreadable): try the next member
            try:
                kept = self.actions.namespaces.keep(pid, self.ns.type, path)
            except NsHelperError as exc:
                error = str(exc)
                if exc.kind != "gone":
                    break
                continue
            self.app.call_from_thread(self._kept, kept.path)
            return
        self.app.call_from_thread(self._say, error)

    def _kept(self, path: str) -> None:
        self.app.notify(f"Kept {self.ns} at {path}.")
        self.dismiss(path)


def _bind_holders(namespace: Namespace | None) -> list[NsHolder]:
    if namespace is None:
        return []
    return [h for h in namespace.holders if h.kind is HolderKind.BIND_MOUNT]


class ReleaseNamespaceScreen(NsDialog[str]):
    """Dismisses with the released path, else None.

    Asks like the other confirmations (y releases; n or Escape cancels) and starts on Cancel:
    Enter presses the focused button, so an Enter typed by habit never destroys a namespace.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "release", "Release"),
        Binding("n,escape", "cancel", "Cancel"),
        Binding("ctrl+r", "release", "Release", show=False),  # as the other namespace panes
    ]

    def __init__(self, actions: Actions, snapshot: Snapshot, ns: NsId) -> None:
        super().__init__()
        self.actions = actions
        self.snapshot = snapshot
        self.ns = ns
        self.namespace = snapshot.namespaces.get(ns)
        self.binds = _bind_holders(self.namespace)

    def last_holder(self) -> bool:
        """True when the bind mount is all that keeps the namespace alive."""
        if self.namespace is None:
            return False
        return not self.namespace.pids and len(self.namespace.holders) <= 1

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Release {self.ns}", id="title")
            if self.binds:
                yield Static("Bind mount to remove", classes="section")
                with RadioSet(id="paths"):
                    for i, holder in enumerate(self.binds):
                        yield RadioButton(holder.path, value=i == 0, id=f"path-{i}")
            yield Static("", id="message", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Release", variant="error", id="release", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()  # the safe choice; Tab reaches the others
        if not self.binds:
            self._say(f"No bind mount keeps {self.ns}: nothing to release.")
            self.query_one("#release", Button).disabled = True
            return
        if self.last_holder():
            self._say(
                f"This mount is the last thing holding {self.ns} (no process, no other mount "
                "or fd): releasing it destroys the namespace.",
                "warning",
            )
        else:
            count = len(self.namespace.pids) if self.namespace is not None else 0
            self._say(
                f"{self.ns} stays alive: {count} process(es) and "
                f"{len(self.namespace.holders) - 1 if self.namespace else 0} other holder(s).",
                "",
            )

    def selected_path(self) -> str | None:
        if not self.binds:
            return None
        index = self.query_one("#paths", RadioSet).pressed_index
        return self.binds[max(index, 0)].path

    @on(Button.Pressed, "#release")
    def _release_pressed(self) -> None:
        self.action_release()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "release" and not self.binds:
            return None  # shown dimmed: there is nothing to release
        return True

    def action_release(self) -> None:
        path = self.selected_path()
        if path is not None:
            self._release(path)

    @work(thread=True, exclusive=True, group="nsactions", exit_on_error=False)
    def _release(self, path: str) -> None:
        try:
            self.actions.namespaces.release(path)
        except NsHelperError as exc:
            self.app.call_from_thread(self._say, str(exc))
            return
        self.app.call_from_thread(self._released, path)

    def _released(self, path: str) -> None:
        gone = " The namespace is gone." if self.last_holder() else ""
        self.app.notify(f"Released {path}.{gone}")
        self.dismiss(path)
