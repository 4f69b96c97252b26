"""The limits pane of one cgroup: every knob with live usage, tuning, and control.

Opened from the cgroups view as ``LimitsScreen(actions, snapshot, hid, path)``. A thread worker
polls the cgroup every POLL_SECONDS (one poll at a time) and posts the readings; the event loop
only updates widgets. Every change goes through ``actions.cgroups`` in a worker too; its
outcome (or the kernel's refusal, naming file, value and reason) is shown as a notification
and in the status line, and the next poll shows what the file really holds.

On cgroup v1 the same path in every other hierarchy is shown too (cgcreate makes them
together), grouped by subsystem.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, TypeVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist

from nstui.model.actions import Actions
from nstui.model.cgroup_actions import (
    CgroupActionError,
    CgroupReading,
    FreezeState,
    KnobReading,
    NeedsConfirmation,
    UsageSample,
    WriteResult,
)
from nstui.model.snapshot import Snapshot
from nstui.ui.screens.cg_dialogs import (
    NO_INTERNAL_PROCESSES,
    ConfirmScreen,
    SubtreeControlScreen,
    TextInputScreen,
    limits_css,
)
from nstui.ui.widgets.keys_footer import KeysFooter
from nstui.ui.widgets.usage_gauge import UsageGauge

POLL_SECONDS = 1.5
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

#: (key, label, width): fixed widths keep the table steady while values change every poll
KNOB_COLUMNS = (
    ("subsys", "Subsys", 7),
    ("knob", "Knob", 27),
    ("value", "Value", 16),
    ("usage", "Usage", 9),
    ("effective", "Effective", 18),
    ("meaning", "Meaning", 26),
)
MEMBER_COLUMNS = (
    ("pid", "PID", 8),
    ("comm", "Command", 20),
    ("threads", "Thr", 5),
    ("cpu", "CPU%", 6),
    ("rss", "RSS", 8),
)


class _Done(Protocol):
    """What every change reports (ControlResult, UndoOutcome)."""

    @property
    def ok(self) -> bool: ...

    @property
    def message(self) -> str: ...


DoneT = TypeVar("DoneT", bound=_Done)


def fmt_bytes(value: float) -> str:
    size = float(value)
    for suffix in ("B", "K", "M", "G", "T"):
        if abs(size) < 1024 or suffix == "T":
            return f"{size:.0f}{suffix}" if suffix == "B" else f"{size:.1f}{suffix}"
        size /= 1024
    return f"{size:.1f}T"  # pragma: no cover


def fmt_cpus(value: float) -> str:
    return f"{value:.2f} CPU"


def fmt_count(value: float) -> str:
    return str(int(value))


def fmt_pct(value: float) -> str:
    return f"{value:.2f}%"


def effective_text(reading: KnobReading) -> str:
    eff = reading.effective
    if eff is None:
        return ""
    if eff.value is None:
        return "max"
    if eff.own:
        return f"{eff.display} (own)"
    return f"{eff.display} ← {eff.source.split(':', 1)[-1]}"


def knob_key(reading: CgroupReading, knob: KnobReading) -> str:
    return f"{reading.hid}|{knob.knob.file}"


class KnobsTable(DataTable[str]):
    """The knobs: the keys that act on the selected knob are its own, so the footer shows
    them while it has focus and gives their room to the members' keys otherwise."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "screen.edit", "Set", key_display="⏎", tooltip="Type a new value"),
        Binding("plus,equals_sign", "screen.step(1)", "Up", key_display="+", tooltip="Step up"),
        Binding("minus", "screen.step(-1)", "Down", key_display="-", tooltip="Step down"),
        Binding("m", "screen.unlimited", "Max", tooltip="Set to unlimited (max)"),
    ]


class MembersTable(DataTable[str]):
    """The member processes (or threads) of the cgroup."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "screen.toggle_threads", "Threads"),
    ]


class LimitsScreen(Screen[None]):
    """Knobs, usage, members and controls of one cgroup."""

    CSS_PATH = limits_css()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("u", "undo", "Undo"),
        Binding("n", "new_child", "New"),
        Binding("D", "delete", "Delete"),
        Binding("f", "freeze", "Freeze"),
        Binding("K", "kill", "Kill"),
        Binding("c", "subtree", "Ctrls", tooltip="Controllers enabled for the children"),
        Binding("p", "move_here", "Add pid", tooltip="Move a process into this cgroup"),
        Binding("H", "history", "Audit"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("t", "toggle_threads", "Threads", show=False),  # shown by the members table
        Binding("r", "refresh", "Refresh"),
        Binding("tab", "switch_table", "Knobs/procs"),
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
    ]
    #: keys the footer leaves out first when it is short of room (all stay in the ? help)
    FOOTER_DROP_ORDER: ClassVar[tuple[str, ...]] = (
        "refresh",
        "switch_table",
        "command_palette",
        "history",
        "filter",
    )

    class Polled(Message):
        """Readings of the cgroup (or why there are none), from the poll worker."""

        def __init__(
            self, readings: tuple[CgroupReading, ...], error: str | None, edit_block: str | None
        ) -> None:
            super().__init__()
            self.readings = readings
            self.error = error
            self.edit_block = edit_block

    class Outcome(Message):
        """The result of a change, from a write worker."""

        def __init__(self, text: str, ok: bool, *, gone: bool = False) -> None:
            super().__init__()
            self.text = text
            self.ok = ok
            self.gone = gone

    class Ask(Message):
        """A change needs a yes first; ``then`` runs it (in a worker) when confirmed."""

        def __init__(self, title: str, text: str, yes: str, then: Callable[[], object]) -> None:
            super().__init__()
            self.title = title
            self.text = text
            self.yes = yes
            self.then = then

    def __init__(self, actions: Actions, snapshot: Snapshot, hid: int, path: str) -> None:
        super().__init__()
        self.actions = actions
        self.snapshot = snapshot
        self.hid = hid
        self.path = path
        self.readings: tuple[CgroupReading, ...] = ()
        self.edit_block: str | None = None
        self._polling = False
        self._prev_sample: UsageSample | None = None
        self._prev_ticks: dict[int, tuple[float, int]] = {}
        self._knob_keys: list[str] = []
        self._knobs: dict[str, tuple[CgroupReading, KnobReading]] = {}
        self._filter = ""
        self._threads = False  # the members table lists threads instead of processes

    # ----- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        hierarchy = next((h for h in self.snapshot.hierarchies if h.hid == self.hid), None)
        name = hierarchy.name if hierarchy is not None else f"hierarchy {self.hid}"
        with Vertical(id="limits"):
            yield Static(f"Cgroup {self.path}  ({name})", id="limits-title")
            yield Static("", id="limits-banner")
            with Horizontal(id="usage"):
                with Vertical(id="gauges"):
                    yield UsageGauge("memory", fmt_bytes, id="g-memory")
                    yield UsageGauge("cpu", fmt_cpus, id="g-cpu")
                    yield UsageGauge("pids", fmt_count, id="g-pids")
                    yield UsageGauge("io read/s", fmt_bytes, id="g-io-read")
                    yield UsageGauge("io write/s", fmt_bytes, id="g-io-write")
                    yield UsageGauge("psi some", fmt_pct, scale=100.0, id="g-psi")
                yield Static("", id="counters")
            yield KnobsTable(id="knobs", cursor_type="row", zebra_stripes=True)
            yield MembersTable(id="members", cursor_type="row")
            yield Static("", id="limits-status", markup=False)
        yield KeysFooter(self.FOOTER_DROP_ORDER)

    def on_mount(self) -> None:
        knobs = self.query_one("#knobs", DataTable)
        for key, label, width in KNOB_COLUMNS:
            knobs.add_column(label, key=key, width=width)
        members = self.query_one("#members", DataTable)
        for key, label, width in MEMBER_COLUMNS:
            members.add_column(label, key=key, width=width)
        members.border_title = "members: processes (t: threads)"
        knobs.focus()
        self._start_poll()
        self.set_interval(POLL_SECONDS, self._start_poll)

    # ----- polling --------------------------------------------------------------------------

    def _start_poll(self) -> None:
        if self._polling:
            return  # one poll at a time: a slow read never stacks up
        self._polling = True
        self._poll()

    @work(thread=True, exclusive=True, group="cg-poll", exit_on_error=False)
    def _poll(self) -> None:
        cgroups = self.actions.cgroups
        block = cgroups.edit_unavailable()
        try:
            readings = cgroups.read(self.hid, self.path)
        except CgroupActionError as exc:
            self.post_message(self.Polled((), str(exc), block))
            return
        except (OSError, ValueError) as exc:  # unexpected: still an answer, so polling goes on
            self.post_message(self.Polled((), f"cannot read {self.path}: {exc}", block))
            return
        self.post_message(self.Polled(readings, None, block))

    @on(Polled)
    def _polled(self, message: Polled) -> None:
        self._polling = False
        self.edit_block = message.edit_block
        banner = self.query_one("#limits-banner", Static)
        if message.error is not None:
            banner.update(f"[b]{message.error}[/b]")
            banner.add_class("error")
            return
        banner.remove_class("error")
        banner.update(
            f"Read-only: {message.edit_block}" if message.edit_block else "",
        )
        self.readings = message.readings
        self._show_title()
        self._show_usage()
        self._show_knobs()
        self._show_members()

    def _show_title(self) -> None:
        first = self.readings[0] if self.readings else None
        if first is None:
            return
        state = next((r.freeze for r in self.readings if r.freeze is not None), None)
        procs = max(first.nprocs, len(first.members))  # members: only the first 500
        parts = [f"Cgroup {first.spec}", f"v{first.version}", f"{procs} processes"]
        parts.append(f"{len(first.tids)} threads")
        if state is not None:
            parts.append(f"[b]{state.value}[/b]")
        if first.children:
            parts.append(f"{len(first.children)} children")
        self.query_one("#limits-title", Static).update("  ·  ".join(parts))

    def _merged_sample(self) -> UsageSample | None:
        if not self.readings:
            return None
        values: dict[str, Any] = {}
        for reading in self.readings:
            for field in UsageSample.__dataclass_fields__:
                value = getattr(reading.sample, field)
                if values.get(field) in (None, ()) and value not in (None, ()):
                    values[field] = value
        values.setdefault("at", self.readings[0].sample.at)
        return UsageSample(**values)

    def _show_usage(self) -> None:
        sample = self._merged_sample()
        if sample is None:
            return
        prev = self._prev_sample
        dt = (sample.at - prev.at) if prev is not None else 0.0
        self._prev_sample = sample

        def rate(now: int | None, before: int | None) -> float | None:
            if now is None or before is None or dt <= 0:
                return None
            return max(0.0, (now - before) / dt)

        cpu = rate(sample.cpu_usec, prev.cpu_usec if prev else None)
        io_r = rate(sample.io_read, prev.io_read if prev else None)
        io_w = rate(sample.io_write, prev.io_write if prev else None)
        self.query_one("#g-memory", UsageGauge).push(
            None if sample.memory is None else float(sample.memory),
            None if sample.memory_limit is None else float(sample.memory_limit),
        )
        measuring = "(measuring…)" if prev is None else "(not available)"
        self.query_one("#g-cpu", UsageGauge).push(
            None if cpu is None else cpu / 1e6,
            sample.cpu_limit,
            measuring if sample.cpu_usec is not None else "(not available)",
        )
        self.query_one("#g-pids", UsageGauge).push(
            None if sample.pids is None else float(sample.pids),
            None if sample.pids_limit is None else float(sample.pids_limit),
        )
        io_missing = measuring if sample.io_read is not None else "(not available)"
        self.query_one("#g-io-read", UsageGauge).push(io_r, None, io_missing)
        self.query_one("#g-io-write", UsageGauge).push(io_w, None, io_missing)
        some = max((p[1] for p in sample.psi), default=None)
        self.query_one("#g-psi", UsageGauge).push(some, None)
        lines = []
        for resource, some_avg, full_avg in sample.psi:
            full = f" full {full_avg:.2f}" if full_avg is not None else ""
            lines.append(f"PSI {resource}: some {some_avg:.2f}{full} (avg10 %)")
        if sample.oom_kills is not None:
            lines.append(f"OOM kills: {sample.oom_kills}")
        if sample.throttled is not None:
            lines.append(f"CPU throttled: {sample.throttled} periods")
        for dev, rbytes, wbytes in sample.io_devices[:4]:
            lines.append(f"io {dev}: read {fmt_bytes(rbytes)} write {fmt_bytes(wbytes)}")
        self.query_one("#counters", Static).update("\n".join(lines) or "no counters here")

    def _show_knobs(self) -> None:
        table: DataTable[str] = self.query_one("#knobs", DataTable)
        rows: list[tuple[str, tuple[str, ...]]] = []
        knobs: dict[str, tuple[CgroupReading, KnobReading]] = {}
        wanted = self._filter.lower()
        entries = [
            (r, k)
            for r in self.readings
            for k in r.knobs
            if not wanted or wanted in k.knob.file.lower() or wanted in k.knob.meaning.lower()
        ]
        entries.sort(
            key=lambda rk: (rk[1].knob.controller, not rk[1].knob.writable, rk[1].knob.file)
        )
        last_controller = ""
        for reading, knob in entries:
            key = knob_key(reading, knob)
            knobs[key] = (reading, knob)
            controller = knob.knob.controller
            shown_controller = controller if controller != last_controller else ""
            last_controller = controller
            value = knob.display if knob.error is None else f"({knob.error})"
            if knob.knob.writable:
                value = f"{value}" if value else "(write-only)"
            cells = (
                shown_controller,
                knob.knob.file,
                value,
                knob.usage or "",
                effective_text(knob),
                knob.knob.meaning + ("" if knob.knob.writable else " (read-only)"),
            )
            rows.append((key, cells))
        self._knobs = knobs
        keys = [key for key, _ in rows]
        if keys != self._knob_keys:
            selected = self.selected_key()
            table.clear()
            for key, row in rows:
                table.add_row(*row, key=key)
            self._knob_keys = keys
            if selected in keys:
                table.move_cursor(row=keys.index(selected))
            return
        for key, row in rows:
            for (column, _label, _width), cell in zip(KNOB_COLUMNS, row, strict=True):
                if table.get_cell(key, column) != cell:
                    table.update_cell(key, column, cell)

    def _show_members(self) -> None:
        table: DataTable[str] = self.query_one("#members", DataTable)
        first = self.readings[0] if self.readings else None
        if first is None:
            return
        now = first.sample.at
        previous = self._prev_ticks
        ticks: dict[int, tuple[float, int]] = {}
        rows: list[tuple[str, tuple[str, ...]]] = []
        for member in first.threads if self._threads else first.members:
            ticks[member.pid] = (now, member.cpu_ticks)
            before = previous.get(member.pid)
            cpu = ""
            if before is not None and now > before[0]:
                cpu = f"{(member.cpu_ticks - before[1]) / CLK_TCK / (now - before[0]) * 100:.1f}"
            rows.append(
                (
                    str(member.pid),
                    (str(member.pid), member.comm, str(member.threads), cpu, fmt_bytes(member.rss)),
                )
            )
        self._prev_ticks = ticks
        selected: str | None = None
        if table.row_count and table.cursor_row >= 0:
            selected = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        keys = [key for key, _ in rows]
        if selected in keys:
            table.move_cursor(row=keys.index(selected))

    # ----- selection ------------------------------------------------------------------------

    def selected_key(self) -> str | None:
        table: DataTable[str] = self.query_one("#knobs", DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except CellDoesNotExist:  # cursor outside the rows during a rebuild
            return None
        return None if key is None else str(key)

    def selected_knob(self) -> tuple[CgroupReading, KnobReading] | None:
        key = self.selected_key()
        return None if key is None else self._knobs.get(key)

    def _writable_knob(self) -> tuple[CgroupReading, KnobReading] | None:
        if self.edit_block:
            self.notify(self.edit_block, severity="warning", title="Editing unavailable")
            return None
        selected = self.selected_knob()
        if selected is None:
            self.notify("Select a knob first.", severity="warning")
            return None
        if not selected[1].knob.writable:
            self.notify(f"{selected[1].knob.file} is read-only.", severity="warning")
            return None
        return selected

    # ----- tuning ---------------------------------------------------------------------------

    def action_step(self, direction: int) -> None:
        selected = self._writable_knob()
        if selected is not None:
            reading, knob = selected
            self._write("step", reading.hid, knob.knob.file, str(direction))

    @on(DataTable.RowSelected, "#knobs")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit()

    def action_edit(self) -> None:
        selected = self._writable_knob()
        if selected is None:
            return
        reading, knob = selected
        k = knob.knob
        help_text = f"{k.meaning}\nNow: {knob.display or '(write-only)'}"
        if knob.effective is not None and not knob.effective.own:
            help_text += f"\nEffective: {effective_text(knob)}"
        if k.unlimited:
            help_text += f"\n'{k.unlimited}' means unlimited."
        current = knob.display if knob.raw is not None and "\n" not in knob.raw else ""
        if current.startswith("(") or " (" in current:
            current = knob.raw or ""

        def done(typed: str | None) -> None:
            if typed is not None:
                self._write("set", reading.hid, k.file, typed)

        self.app.push_screen(
            TextInputScreen(f"Set {k.file} of {reading.spec}", help_text, current), done
        )

    def action_unlimited(self) -> None:
        selected = self._writable_knob()
        if selected is None:
            return
        reading, knob = selected
        if knob.knob.unlimited is None:
            self.notify(f"{knob.knob.file} has no unlimited value.", severity="warning")
            return
        self._write("max", reading.hid, knob.knob.file, "")

    def action_undo(self) -> None:
        if self.edit_block:
            self.notify(self.edit_block, severity="warning", title="Editing unavailable")
            return
        self._run_undo()

    @work(thread=True, group="cg-write", exit_on_error=False)
    def _run_undo(self) -> None:
        self._report(self.actions.cgroups.undo_last)

    @work(thread=True, group="cg-write", exit_on_error=False)
    def _write(self, op: str, hid: int, file: str, arg: str, force: bool = False) -> None:
        cgroups = self.actions.cgroups
        try:
            if op == "step":
                results = cgroups.step(hid, self.path, file, int(arg), force=force)
            elif op == "max":
                results = cgroups.set_unlimited(hid, self.path, file, force=force)
            else:
                results = cgroups.set(hid, self.path, file, arg, force=force)
        except NeedsConfirmation as exc:
            self.post_message(
                self.Ask(
                    "Limit below current usage",
                    f"{exc}.\n\nWrite it anyway?",
                    "Write it",
                    lambda: self._write(op, hid, file, arg, True),
                )
            )
            return
        except CgroupActionError as exc:
            self.post_message(self.Outcome(str(exc), False))
            return
        self.post_message(self.Outcome(_summary(results), all(r.ok for r in results)))

    def _report(self, change: Callable[[], DoneT], *, closes: bool = False) -> DoneT | None:
        """Make one change (from a worker) and post its outcome; None when it was refused.
        ``closes``: the pane closes after it succeeds (its cgroup is gone)."""
        try:
            result = change()
        except CgroupActionError as exc:
            self.post_message(self.Outcome(str(exc), False))
            return None
        self.post_message(self.Outcome(result.message, result.ok, gone=closes and result.ok))
        return result

    @on(Ask)
    def _ask(self, message: Ask) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                message.then()

        self.app.push_screen(ConfirmScreen(message.title, message.text, message.yes), answered)

    @on(Outcome)
    def _outcome(self, message: Outcome) -> None:
        status = self.query_one("#limits-status", Static)
        status.update(message.text)
        status.set_class(not message.ok, "error")
        self.notify(
            message.text,
            severity="information" if message.ok else "error",
            timeout=4 if message.ok else 10,
        )
        if message.gone:
            self.dismiss(None)
            return
        self._start_poll()

    # ----- control --------------------------------------------------------------------------

    def _can_control(self) -> bool:
        if self.edit_block:
            self.notify(self.edit_block, severity="warning", title="Control unavailable")
            return False
        return True

    def action_freeze(self) -> None:
        if not self._can_control():
            return
        state = next((r.freeze for r in self.readings if r.freeze is not None), None)
        if state is None:
            self.notify(
                "No freezer here (no freezer hierarchy, or a root cgroup).", severity="warning"
            )
            return
        self._freeze(state == FreezeState.THAWED)

    @work(thread=True, group="cg-write", exit_on_error=False)
    def _freeze(self, frozen: bool) -> None:
        self._report(lambda: self.actions.cgroups.set_frozen(self.hid, self.path, frozen))

    def action_kill(self) -> None:
        if self._can_control():
            self._count_then_kill()

    @work(thread=True, group="cg-write", exit_on_error=False)
    def _count_then_kill(self) -> None:
        try:
            count = self.actions.cgroups.count_processes(self.hid, self.path)
        except CgroupActionError as exc:  # e.g. the hierarchy is gone: say so, not nothing
            self.post_message(self.Outcome(str(exc), False))
            return
        if count == 0:
            self.post_message(self.Outcome(f"{self.path} has no processes to kill", True))
            return
        self.post_message(
            self.Ask(
                "Kill every process",
                f"SIGKILL {count} process{'es' if count != 1 else ''} in {self.path} and its "
                "children? This cannot be undone.",
                f"Kill {count}",
                self._kill,
            )
        )

    @work(thread=True, group="cg-write", exit_on_error=False)
    def _kill(self) -> None:
        self._report(lambda: self.actions.cgroups.kill(self.hid, self.path))

    def action_new_child(self) -> None:
        if not self._can_control():
            return

        def named(name: str | None) -> None:
            if name:
                self._make_child(name.strip())

        self.app.push_screen(
            TextInputScreen(
                f"New child of {self.path}",
                "Name of the new cgroup (one path component).",
                placeholder="web",
            ),
            named,
        )

    @work(thread=True, group="cg-write", exit_on_error=False)
    def _make_child(self, name: str) -> None:
        cgroups = self.actions.cgroups
        result = self._report(lambda: cgroups.make_child(self.hid, self.path, name))
        child = self.path.rstrip("/") + "/" + name
        if result is not None and result.ok and cgroups.needs_cpuset_copy(self.hid, child):
            self.post_message(
                self.Ask(
                    "Empty cpuset",
                    f"{child} has no CPUs or memory nodes yet (a new v1 cpuset starts empty), so "
                    "no process can join it. Copy the parent's cpus and mems?",
                    "Copy",
                    lambda: self._copy_cpuset(child),
                )
            )

    @work(thread=True, group="cg-write", exit_on_error=False)
    def _copy_cpuset(self, path: str) -> None:
        self._report(lambda: self.actions.cgroups.copy_parent_cpuset(self.hid, path))

    def action_delete(self) -> None:
        if not self._can_control():
            return
        first = self.readings[0] if self.readings else None
        if first is not None and (first.members or first.children):
            self.notify(
                f"{self.path} still has {max(first.nprocs, len(first.members))} processes and "
                f"{len(first.children)} children: the kernel refuses to remove it (EBUSY).",
                severity="warning",
            )
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove()

        self.app.push_screen(
            ConfirmScreen("Delete cgroup", f"Remove the empty cgroup {self.path}?", "Delete"),
            answered,
        )

    @work(thread=True, group="cg-write", exit_on_error=False)
    def _remove(self) -> None:
        self._report(lambda: self.actions.cgroups.remove(self.hid, self.path), closes=True)

    def action_subtree(self) -> None:
        first = self.readings[0] if self.readings else None
        if first is None or first.version != 2:
            self.notify(
                "Controllers for children are chosen on cgroup v2 only.", severity="warning"
            )
            return
        if not self._can_control():
            return

        def chosen(changes: dict[str, bool] | None) -> None:
            if changes:
                self._subtree(changes)

        self.app.push_screen(
            SubtreeControlScreen(first.spec, first.controllers, first.subtree_control), chosen
        )

    @work(thread=True, group="cg-write", exit_on_error=False)
    def _subtree(self, changes: dict[str, bool]) -> None:
        messages: list[str] = []
        ok = True
        for controller, enable in changes.items():
            try:
                result = self.actions.cgroups.set_subtree_control(
                    self.hid, self.path, controller, enable
                )
            except CgroupActionError as exc:
                messages.append(str(exc))
                ok = False
                continue
            messages.append(result.message)
            ok = ok and result.ok
            if not result.ok and "EBUSY" in result.message:
                messages.append(NO_INTERNAL_PROCESSES)
        self.post_message(self.Outcome("\n".join(messages), ok))

    def action_move_here(self) -> None:
        if not self._can_control():
            return

        def typed(text: str | None) -> None:
            if text is None:
                return
            words = text.split()
            thread = len(words) == 2 and words[1] in ("t", "thread", "--thread")
            if (
                not words
                or not words[0].isdecimal()
                or len(words) > 2
                or (len(words) == 2 and not thread)
            ):
                self.notify(
                    f"{text!r}: type a pid, optionally followed by 'thread'.", severity="error"
                )
                return
            self._move(int(words[0]), thread)

        self.app.push_screen(
            TextInputScreen(
                f"Move a process into {self.path}",
                "PID of the process to move (add 'thread' to move only that thread).",
                placeholder="1234",
            ),
            typed,
        )

    @work(thread=True, group="cg-write", exit_on_error=False)
    def _move(self, pid: int, thread: bool) -> None:
        self._report(lambda: self.actions.cgroups.move(pid, self.hid, self.path, thread=thread))

    # ----- navigation -----------------------------------------------------------------------

    def action_history(self) -> None:
        from nstui.ui.screens.audit_history import AuditHistoryScreen

        self.app.push_screen(AuditHistoryScreen(self.actions), lambda _r: self._start_poll())

    def action_refresh(self) -> None:
        self._start_poll()

    def action_toggle_threads(self) -> None:
        self._threads = not self._threads
        self._prev_ticks = {}
        label = "threads" if self._threads else "processes"
        self.query_one("#members", DataTable).border_title = f"members: {label}"
        self._show_members()

    def action_filter(self) -> None:
        def typed(text: str | None) -> None:
            if text is not None:
                self._filter = text.strip()
                self._show_knobs()

        self.app.push_screen(
            TextInputScreen(
                "Filter knobs",
                "Show knobs whose file name or meaning contains this text (empty: all).",
                self._filter,
                placeholder="memory",
            ),
            typed,
        )

    def action_switch_table(self) -> None:
        knobs = self.query_one("#knobs", DataTable)
        members = self.query_one("#members", DataTable)
        (members if knobs.has_focus else knobs).focus()

    def action_cursor(self, delta: int) -> None:
        focused = self.focused
        if isinstance(focused, DataTable):
            if delta > 0:
                focused.action_cursor_down()
            else:
                focused.action_cursor_up()

    def action_close(self) -> None:
        self.dismiss(None)


def _summary(results: list[WriteResult]) -> str:
    lines: list[str] = []
    for result in results:
        if result.ok:
            shown = result.after if result.after is not None else result.value
            extra = f" ({result.message})" if result.message else ""
            lines.append(f"{result.file} = {shown}{extra}")
        else:
            lines.append(result.message)
    return "\n".join(lines) or "nothing written"
