"""The audit log of cgroup changes, newest first; Enter or `u` undoes the selected change.

The log is read in a worker; an undo is itself recorded (naming the entry it undoes). A change
whose outcome was never recorded (nstui stopped mid-change) shows what the file holds now;
internal steps of a change (the cpus/mems copied into a new cpuset child) are marked and are
undone with their change, not alone.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from nstui.model.actions import Actions
from nstui.model.cgroup_actions import AuditEntry, CgroupActionError
from nstui.ui.screens.cg_dialogs import ConfirmScreen, limits_css

COLUMNS = (
    ("time", "Time (UTC)"),
    ("user", "User"),
    ("cgroup", "Cgroup"),
    ("file", "File"),
    ("change", "Before → written"),
    ("after", "After"),
    ("result", "Result"),
)


def _short(text: str | None, width: int = 24) -> str:
    if text is None:
        return "-"
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


class AuditHistoryScreen(Screen[None]):
    CSS_PATH = limits_css()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("u", "undo", "Undo selected"),
        Binding("r", "reload", "Reload"),
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
        Binding("g", "cursor_edge(0)", "First", show=False),
        Binding("G", "cursor_edge(1)", "Last", show=False),
    ]

    class Loaded(Message):
        def __init__(
            self,
            entries: list[AuditEntry],
            location: str,
            error: str | None = None,
            edit_block: str | None = None,
        ) -> None:
            super().__init__()
            self.edit_block = edit_block
            self.entries = entries
            self.location = location
            self.error = error

    class Undone(Message):
        def __init__(self, text: str, ok: bool) -> None:
            super().__init__()
            self.text = text
            self.ok = ok

    def __init__(self, actions: Actions) -> None:
        super().__init__()
        self.actions = actions
        self.entries: dict[str, AuditEntry] = {}
        self.edit_block: str | None = None  # why undo is unavailable, from the load worker

    def compose(self) -> ComposeResult:
        with Vertical(id="history"):
            yield Static("Audit log of cgroup changes (newest first)", id="history-title")
            table: DataTable[str] = DataTable(id="entries", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static("", id="history-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#entries", DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        table.focus()
        self._load()

    @work(thread=True, exclusive=True, group="audit-load", exit_on_error=False)
    def _load(self) -> None:
        cgroups = self.actions.cgroups
        try:
            self.post_message(
                self.Loaded(
                    cgroups.history(),
                    cgroups.audit_location(),
                    edit_block=cgroups.edit_unavailable(),
                )
            )
        except (CgroupActionError, OSError) as exc:
            self.post_message(self.Loaded([], "", str(exc)))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        table: DataTable[str] = self.query_one("#entries", DataTable)
        table.clear()
        self.edit_block = message.edit_block
        self.entries = {e.id: e for e in message.entries}
        undone = {e.undo_of for e in message.entries if e.undo_of and e.ok}
        for entry in reversed(message.entries):
            result = entry.result if entry.id not in undone else f"{entry.result} (undone)"
            if entry.unknown:
                result = "unknown: no outcome recorded"
            if entry.undo_of:
                result += f" [undo of {entry.undo_of}]"
            if entry.part_of:
                result += f" [step of {entry.part_of}]"
            after = _short(entry.after)
            if entry.unknown:
                after = f"now: {_short(entry.now)}"
            table.add_row(
                entry.time[:19].replace("T", " "),
                entry.user,
                entry.cgroup,
                entry.file,
                f"{_short(entry.before)} → {_short(entry.typed or entry.value)}",
                after,
                _short(result, 60),
                key=entry.id,
            )
        status = self.query_one("#history-status", Static)
        if message.error:
            status.update(message.error)
        elif not message.entries:
            status.update(f"No changes recorded yet in {message.location}.")
        else:
            status.update(
                f"{len(message.entries)} changes in {message.location}. "
                "u or Enter undoes the selected one."
            )

    def _selected(self) -> AuditEntry | None:
        table: DataTable[str] = self.query_one("#entries", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return None if key is None else self.entries.get(str(key))

    @on(DataTable.RowSelected, "#entries")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_undo()

    def action_undo(self) -> None:
        entry = self._selected()
        if entry is None:
            self.notify("Nothing selected.", severity="warning")
            return
        block = self.edit_block
        if block:
            self.notify(block, severity="warning", title="Undo unavailable")
            return
        if entry.part_of:
            self.notify(
                f"That write is a step of change {entry.part_of}; undo that change instead.",
                severity="warning",
            )
            return
        if entry.unknown:
            self.notify(
                f"The outcome of that change was not recorded (now: {_short(entry.now, 60)});"
                " nothing is undone blindly: set what you want instead.",
                severity="warning",
            )
            return
        if not entry.ok:
            self.notify(
                f"That change failed ({entry.result}); nothing to undo.", severity="warning"
            )
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._undo(entry.id)

        self.app.push_screen(
            ConfirmScreen(
                "Undo a change",
                f"Restore {entry.cgroup} {entry.file} to {_short(entry.before, 60)} "
                f"(changed {entry.time[:19]} by {entry.user})?",
                "Undo",
            ),
            answered,
        )

    @work(thread=True, group="audit-undo", exit_on_error=False)
    def _undo(self, entry_id: str) -> None:
        try:
            outcome = self.actions.cgroups.undo(entry_id)
        except CgroupActionError as exc:
            self.post_message(self.Undone(str(exc), False))
            return
        self.post_message(self.Undone(outcome.message, outcome.ok))

    @on(Undone)
    def _undone(self, message: Undone) -> None:
        self.query_one("#history-status", Static).update(message.text)
        self.notify(message.text, severity="information" if message.ok else "error")
        self._load()

    def action_reload(self) -> None:
        self._load()

    def action_cursor(self, delta: int) -> None:
        table = self.query_one("#entries", DataTable)
        if delta > 0:
            table.action_cursor_down()
        else:
            table.action_cursor_up()

    def action_cursor_edge(self, last: int) -> None:
        table = self.query_one("#entries", DataTable)
        if table.row_count:
            table.move_cursor(row=table.row_count - 1 if last else 0)

    def action_close(self) -> None:
        self.dismiss(None)
