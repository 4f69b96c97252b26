"""Enter a process's namespaces: the nsenter pane.

Every namespace of the target that differs from nstui's own is selected by default; the
ones it shares are marked "same as nstui". The command defaults to the target's shell. The
command runs attached: the TUI hands the terminal over and returns when it exits. Entering
namespaces that are all the same as ours (pid 1's, typically) changes nothing: the pane says
so and asks for a second confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Static

from nstui.kernel.nstypes import NS_TYPES, NsType
from nstui.model.actions import Actions
from nstui.model.ns_actions import EnterOptions, LaunchHandle
from nstui.model.snapshot import Snapshot
from nstui.ui.screens.ns_form import NsDialog, argv_preview, run_attached
from nstui.ui.widgets.keys_footer import KeysFooter


@dataclass(frozen=True, slots=True)
class EnterRequest:
    namespaces: tuple[NsType, ...]
    argv: tuple[str, ...]
    options: EnterOptions
    changes_nothing: bool


class EnterNamespacesScreen(NsDialog[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+r", "run", "Enter"),
        Binding("ctrl+a", "select_differing", "Select differing", show=False),
    ]

    def __init__(self, actions: Actions, snapshot: Snapshot, target_pid: int) -> None:
        super().__init__()
        self.actions = actions
        self.snapshot = snapshot
        self.target_pid = target_pid
        #: per type: True differs from nstui's, False same, None unreadable (until loaded)
        self.differences: dict[NsType, bool | None] = {}
        self._confirm_pending = False

    def _describe_target(self) -> str:
        process = self.snapshot.processes.get(self.target_pid)
        if process is None:
            return f"pid {self.target_pid}"
        command = " ".join(process.cmdline) or f"[{process.comm}]"
        if len(command) > 50:
            command = command[:49] + "…"
        return f"pid {self.target_pid} ({command})"

    def compose(self) -> ComposeResult:
        process = self.snapshot.processes.get(self.target_pid)
        with Vertical(id="dialog"):
            yield Static(f"Enter the namespaces of {self._describe_target()}", id="title")
            yield Static("Namespaces to enter", classes="section")
            with Vertical(id="types"):
                for ns_type in NS_TYPES:
                    ns_id = process.ns.get(ns_type) if process is not None else None
                    yield Checkbox(
                        f"{ns_type.value:<6} {ns_id if ns_id else '?'}",
                        value=False,
                        id=f"ns-{ns_type.value}",
                    )
            yield Static("Command", classes="section")
            yield Input(placeholder="looking up the target's shell…", id="command", compact=True)
            yield Static("", id="argv", markup=False)
            yield Static("Options", classes="section")
            yield Checkbox("chroot into the target's root directory (--root)", id="root")
            yield Checkbox("start in the target's working directory (--wd)", id="wd")
            yield Checkbox("join the target's cgroups too (--join-cgroup)", id="cgroup")
            yield Checkbox("after the command, wait for Enter", value=False, id="pause")
            yield Static("", id="message", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Enter", variant="primary", id="run", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#command", Input).focus()
        reason = self.actions.namespaces.unavailable_reason()
        if reason is not None:
            self._say(f"Limited: {reason}.", "warning")
        self._load_target()

    # ----- loading what the kernel says about the target -------------------------------------

    @work(thread=True, exclusive=True, group="nsactions-load", exit_on_error=False)
    def _load_target(self) -> None:
        differences = self.actions.namespaces.differences(self.target_pid)
        # mnt is entered by default when it differs: then the shell must exist in there
        inside = differences.get(NsType.MNT) is True
        shell = self.actions.namespaces.default_shell(self.target_pid, inside)
        self.app.call_from_thread(self._loaded, differences, shell)

    def _loaded(self, differences: dict[NsType, bool | None], shell: str) -> None:
        self.differences = differences
        process = self.snapshot.processes.get(self.target_pid)
        for ns_type in NS_TYPES:
            box = self.query_one(f"#ns-{ns_type.value}", Checkbox)
            ns_id = process.ns.get(ns_type) if process is not None else None
            state = differences.get(ns_type)
            note = {True: "differs", False: "same as nstui", None: "cannot read"}[state]
            box.label = f"{ns_type.value:<6} {ns_id if ns_id else '?'}  {note}"
            box.value = state is True
            box.disabled = state is None
        command = self.query_one("#command", Input)
        if not command.value:
            command.value = shell
        if all(v is None for v in differences.values()):
            self._say(f"Process {self.target_pid} is gone or its namespaces cannot be read.")
        elif not any(differences.values()):
            self._say(
                f"pid {self.target_pid} shares every namespace with nstui: entering changes "
                "nothing.",
                "warning",
            )

    # ----- live feedback --------------------------------------------------------------------

    @on(Input.Changed, "#command")
    def _command_changed(self, event: Input.Changed) -> None:
        self._confirm_pending = False
        self.query_one("#argv", Static).update(argv_preview(event.value))

    @on(Checkbox.Changed)
    def _option_changed(self) -> None:
        self._confirm_pending = False

    # ----- the request ----------------------------------------------------------------------

    def request(self) -> EnterRequest | None:
        types = tuple(t for t in NS_TYPES if self.query_one(f"#ns-{t.value}", Checkbox).value)
        argv = self._typed_command()
        if argv is None:
            return None
        options = EnterOptions(
            root=self.query_one("#root", Checkbox).value,
            wd=self.query_one("#wd", Checkbox).value,
            cgroup=self.query_one("#cgroup", Checkbox).value,
        )
        differing = any(self.differences.get(t) for t in types)
        changes_nothing = self.target_pid == 1 or not differing
        return EnterRequest(types, tuple(argv), options, changes_nothing)

    # ----- actions --------------------------------------------------------------------------

    def action_select_differing(self) -> None:
        for ns_type in NS_TYPES:
            box = self.query_one(f"#ns-{ns_type.value}", Checkbox)
            box.value = self.differences.get(ns_type) is True

    @on(Button.Pressed, "#run")
    @on(Input.Submitted, "#command")
    def _run_pressed(self) -> None:
        self.action_run()

    def action_run(self) -> None:
        request = self.request()
        if request is None:
            return
        if request.changes_nothing and not self._confirm_pending:
            self._confirm_pending = True
            why = (
                "pid 1's namespaces"
                if self.target_pid == 1
                else "namespaces that are all the same as nstui's"
            )
            self._say(
                f"You chose {why}: entering changes nothing, the command runs as if started "
                "here. Press Enter again to run it anyway.",
                "warning",
            )
            return
        self._confirm_pending = False
        self._run_attached(request)

    def _run_attached(self, request: EnterRequest) -> None:
        def start() -> LaunchHandle:
            return self.actions.namespaces.enter(
                self.target_pid, request.namespaces, request.argv, request.options
            )

        try:
            status, error = run_attached(self.app, start, self.query_one("#pause", Checkbox).value)
        except SuspendNotSupported:
            self._say("This terminal cannot be handed over here (no suspend support).")
            return
        if error is not None:
            self._say(error)
            return
        self.app.notify(f"{request.argv[0]} exited with status {status}.")
        self.dismiss(None)
