"""Run in new namespaces: the unshare pane.

Choose namespace types, type a command line (split as a shell would, shown back as the argv
that will run: no shell is involved), set the options, and run it attached (the TUI hands the
terminal over and returns when the command exits) or detached (output to a log file; the
screen dismisses with the new pid so the app selects it at the next refresh).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    RadioButton,
    RadioSet,
    Static,
)

from nstui.kernel.nstypes import NS_TYPES, NsType
from nstui.model.actions import Actions
from nstui.model.ns_actions import LaunchHandle, NsHelperError, UnshareOptions
from nstui.ui.screens.ns_form import (
    TYPE_HINTS,
    NsDialog,
    argv_preview,
    run_attached,
)
from nstui.ui.widgets.keys_footer import KeysFooter

#: Checked when the pane opens: a container-like set that keeps the network.
DEFAULT_TYPES = frozenset({NsType.PID, NsType.MNT, NsType.UTS, NsType.IPC})


@dataclass(frozen=True, slots=True)
class RunRequest:
    argv: tuple[str, ...]
    namespaces: tuple[NsType, ...]
    options: UnshareOptions
    detach: bool
    pause: bool


def default_command() -> str:
    """An interactive shell, the same on every run of the same host (not $SHELL, which
    would make screenshots depend on who took them)."""
    return "bash" if shutil.which("bash") else "sh"


class RunInNamespacesScreen(NsDialog[int]):
    """Dismisses with the pid of a detached launch, else None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+r", "run", "Run"),
        Binding("ctrl+t", "toggle_detach", "Attached/detached"),
    ]

    def __init__(self, actions: Actions) -> None:
        super().__init__()
        self.actions = actions

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Run a command in new namespaces", id="title")
            yield Static("Namespaces to create", classes="section")
            with Vertical(id="types"):
                for ns_type in NS_TYPES:
                    yield Checkbox(
                        f"{ns_type.value:<6} {TYPE_HINTS[ns_type]}",
                        value=ns_type in DEFAULT_TYPES,
                        id=f"ns-{ns_type.value}",
                    )
            yield Static("Command", classes="section")
            yield Input(
                value=default_command(),
                placeholder="command and arguments, quoted as in a shell",
                id="command",
                compact=True,
            )
            yield Static("", id="argv", markup=False)
            yield Static("Options", classes="section")
            with Horizontal(classes="row"):
                yield Label("Hostname")
                yield Input(placeholder="(uts) empty: keep it", id="hostname", compact=True)
            with Horizontal(classes="row"):
                yield Label("Directory")
                yield Input(placeholder="empty: this one", id="cwd", compact=True)
            yield Checkbox("map me to root in the new user namespace (adds user)", id="map-root")
            yield Checkbox(
                "mount a fresh /proc for the new pid namespace (adds mnt)",
                value=True,
                id="mount-proc",
            )
            yield Checkbox("after an attached command, wait for Enter", value=True, id="pause")
            with RadioSet(id="mode"):
                yield RadioButton("attached: hand over this terminal", value=True, id="attached")
                yield RadioButton("detached: output to a log file", id="detached")
            yield Static("", id="message", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Run", variant="primary", id="run", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield KeysFooter()

    def on_mount(self) -> None:
        command = self.query_one("#command", Input)
        self.query_one("#argv", Static).update(argv_preview(command.value))
        command.focus()
        reason = self.actions.namespaces.unavailable_reason()
        if reason is not None:
            self._say(f"Limited: {reason}.", "warning")

    # ----- live feedback --------------------------------------------------------------------

    @on(Input.Changed, "#command")
    def _command_changed(self, event: Input.Changed) -> None:
        self.query_one("#argv", Static).update(argv_preview(event.value))

    # ----- the request ----------------------------------------------------------------------

    def request(self) -> RunRequest | None:
        """What the form asks for, or None after showing why it cannot run."""
        types = tuple(t for t in NS_TYPES if self.query_one(f"#ns-{t.value}", Checkbox).value)
        argv = self._typed_command()
        if argv is None:
            return None
        hostname = self.query_one("#hostname", Input).value.strip() or None
        cwd = self.query_one("#cwd", Input).value.strip() or None
        map_root = self.query_one("#map-root", Checkbox).value
        mount_proc = self.query_one("#mount-proc", Checkbox).value and NsType.PID in types
        if not types and not map_root:
            self._say("Choose at least one namespace type.")
            return None
        if hostname is not None and NsType.UTS not in types:
            self._say("A hostname needs a new uts namespace: tick uts.")
            return None
        options = UnshareOptions(
            hostname=hostname, map_root=map_root, mount_proc=mount_proc, cwd=cwd
        )
        return RunRequest(
            argv=tuple(argv),
            namespaces=types,
            options=options,
            detach=self.query_one("#detached", RadioButton).value,
            pause=self.query_one("#pause", Checkbox).value,
        )

    # ----- actions --------------------------------------------------------------------------

    def action_toggle_detach(self) -> None:
        target = "#attached" if self.query_one("#detached", RadioButton).value else "#detached"
        self.query_one(target, RadioButton).value = True

    @on(Button.Pressed, "#run")
    @on(Input.Submitted, "#command")
    def _run_pressed(self) -> None:
        self.action_run()

    def action_run(self) -> None:
        request = self.request()
        if request is None:
            return
        if request.detach:
            self._say("Starting...", "warning")
            self._start_detached(request)
        else:
            self._run_attached(request)

    def _run_attached(self, request: RunRequest) -> None:
        def start() -> LaunchHandle:
            return self.actions.namespaces.run(request.argv, request.namespaces, request.options)

        try:
            status, error = run_attached(self.app, start, request.pause)
        except SuspendNotSupported:
            self._say("This terminal cannot be handed over here: choose detached.")
            return
        if error is not None:
            self._say(error)
            return
        self.app.notify(f"{request.argv[0]} exited with status {status}.")
        self.dismiss(None)

    @work(thread=True, exclusive=True, group="nsactions", exit_on_error=False)
    def _start_detached(self, request: RunRequest) -> None:
        try:
            launch = self.actions.namespaces.run(
                request.argv, request.namespaces, request.options, detach=True
            )
        except NsHelperError as exc:
            self.app.call_from_thread(self._say, str(exc))
            return
        self.app.call_from_thread(self._started, launch.pid, launch.log_path)

    def _started(self, pid: int, log_path: str | None) -> None:
        where = f"; output in {log_path}" if log_path else ""
        self.app.notify(f"Started pid {pid} in new namespaces{where}.", timeout=12)
        self.dismiss(pid)
