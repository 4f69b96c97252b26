"""The mounts view (key 4): union mounts of every mount namespace, all mounts by type, and
device-mapper devices; panes to inspect layers, build an overlay and unmount.

The app calls ``show_snapshot`` after each refresh; the mounts of every mount namespace are
then read in a thread worker (``actions.mounts.read_state``), never on the event loop.
A refresh that changes only some cells updates those cells; other changes refill the table
in chunks, one per turn of the event loop, so thousands of mounts never hold keys up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import ColumnKey

from nstui.kernel.devmapper import DmDevice, format_size
from nstui.kernel.mountinfo import Mount
from nstui.kernel.union_mounts import MountNamespace, UnionMount
from nstui.model.actions import Actions
from nstui.model.containers import label_for_namespace
from nstui.model.mount_actions import MountOutcome, MountsState
from nstui.model.snapshot import Snapshot

MODES: tuple[str, ...] = ("union", "all", "dm")
#: rows added to the table at a time, and the pause between two chunks (seconds). A
#: DataTable measures every new cell once the loop is idle (~25 us a cell) and repaints
#: (~50 ms with thousands of rows): 4,000 mounts added at once held keys up for ~1 s; a
#: chunk of 100 with a pause for keys and paints between, for a few tens of ms.
FILL_CHUNK = 100
FILL_PAUSE = 0.005

COLUMNS: dict[str, tuple[str, ...]] = {
    "union": ("NAMESPACE", "TARGET", "TYPE", "OWNER", "LAYERS", "UPPER", "OPTIONS", "PROCS"),
    "all": ("NAMESPACE", "TARGET", "FSTYPE", "SOURCE", "OPTIONS"),
    "dm": ("NAME", "DEVICE", "SIZE", "TARGETS", "MOUNTED"),
}


def mounts_css() -> str:
    """styles/mounts.tcss, shipped in the wheel as nstui.styles."""
    return files("nstui.styles").joinpath("mounts.tcss").read_text(encoding="utf-8")


def _short(text: str, width: int) -> str:
    """A path cut at its start: its last components say the most."""
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _head(text: str, width: int) -> str:
    """A label (a command line) cut at its end: its first words say the most."""
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    cells: tuple[str | Text, ...]


def _cell(value: str | Text) -> Text:
    """A cell as the table would render it, made here: kernel text (paths, options) is
    never parsed as markup, where ``[/]`` in a mount point raises."""
    if isinstance(value, Text):
        return value
    return Text(value, no_wrap=True, end="")


def ns_label(ns: MountNamespace, state: MountsState, snapshot: Snapshot | None) -> str:
    """A mount namespace as people know it: its container, else its first command."""
    label = state.containers.get(str(ns.ns))
    if label is None and snapshot is not None:
        label = label_for_namespace(snapshot, ns.ns) or None
    return label or ns.label


def ns_name(ns: MountNamespace, state: MountsState, snapshot: Snapshot | None) -> str:
    """Inode and label, for the NAMESPACE column."""
    own = " (nstui's)" if ns.is_own else ""
    return f"{ns.ns.ino}{own} {_head(ns_label(ns, state, snapshot), 24)}".rstrip()


def owner(union: UnionMount, state: MountsState) -> str:
    """The container or image a union mount belongs to, from its runtime's layout."""
    for path in (union.target, union.upper, *union.layers[:1]):
        label = state.labels.get(path) if path else None
        if label is not None:
            return f"{label.runtime}:{label.name}"
    return state.containers.get(str(union.namespace.ns), "-")


def union_rows(
    state: MountsState, snapshot: Snapshot | None, types: frozenset[str] = frozenset()
) -> list[Row]:
    rows: list[Row] = []
    for union in state.unions:
        if types and union.kind not in types:
            continue
        layers = union.layers
        layer_text = str(len(layers))
        upper = union.upper or "(read-only)"
        options = ""
        if union.overlay is not None:
            feats = union.overlay.options.features()
            options = ",".join(f"{k}={v}" for k, v in feats.items())
        rows.append(
            Row(
                key=f"{union.namespace.ns.ino}:{union.mount.mount_id}",
                cells=(
                    ns_name(union.namespace, state, snapshot),
                    union.target,
                    union.kind,
                    owner(union, state),
                    layer_text,
                    _short(upper, 40),
                    options,
                    str(len(union.namespace.pids)),
                ),
            )
        )
    return rows


def all_rows(
    state: MountsState,
    snapshot: Snapshot | None,
    types: frozenset[str] = frozenset(),
    text: str = "",
) -> list[Row]:
    rows: list[Row] = []
    needle = text.lower()
    for ns in state.scan.namespaces:
        name = ns_name(ns, state, snapshot)
        for mount in ns.mounts:
            if types and mount.fstype not in types:
                continue
            if needle and needle not in f"{mount.mountpoint} {mount.source}".lower():
                continue
            rows.append(
                Row(
                    key=f"{ns.ns.ino}:{mount.mount_id}",
                    cells=(name, mount.mountpoint, mount.fstype, mount.source, mount.options),
                )
            )
    return rows


def dm_rows(state: MountsState) -> list[Row]:
    rows: list[Row] = []
    for dev in state.dm.devices:
        mounted = "; ".join(f"{m.mountpoint} (mnt:{m.ns.ino})" for m in dev.mounts) or "-"
        rows.append(
            Row(
                key=dev.kname,
                cells=(
                    dev.name,
                    f"{dev.kname} {dev.major}:{dev.minor}",
                    format_size(dev.size),
                    ",".join(dev.target_types) or "-",
                    mounted,
                ),
            )
        )
    return rows


def union_detail(union: UnionMount, state: MountsState, snapshot: Snapshot | None) -> Text:
    """The layer stack of one union mount, top first, with runtime labels."""
    out = Text()
    out.append(f"{union.target}", style="bold")
    out.append(f"  {union.kind}, mount id {union.mount.mount_id}\n")
    own = ", nstui's" if union.namespace.is_own else ""
    label = ns_label(union.namespace, state, snapshot)
    out.append(f"mount namespace {union.namespace.ns} ({label}{own})")
    pids = union.namespace.pids
    shown = ", ".join(map(str, pids[:8])) + (" …" if len(pids) > 8 else "")
    out.append(f"  ({len(pids)} processes: {shown})\n")

    def line(role: str, path: str | None) -> None:
        out.append(f"  {role:<9}", style="bold")
        out.append(path or "-")
        label = state.labels.get(path) if path else None
        if label is not None:
            out.append(f"  {label}", style="italic")
        out.append("\n")

    if union.overlay is not None:
        opts = union.overlay.options
        line("upper", opts.upper or "(none: read-only stack)")
        if opts.upper is not None:
            line("work", opts.work)
        for i, path in enumerate(opts.lowers, start=1):
            line(f"lower {i}", path)
        for path in opts.data_lowers:
            line("data", path)
        feats = opts.features()
        if feats:
            out.append("  options  " + ", ".join(f"{k}={v}" for k, v in feats.items()) + "\n")
    elif union.aufs is not None:
        if union.aufs.note:
            out.append(f"  {union.aufs.note}\n", style="italic")
        for branch in union.aufs.branches:
            line(f"br{branch.index}", f"{branch.path} ({branch.perm})")
    return out


def mount_detail(mount: Mount, ns: MountNamespace) -> Text:
    out = Text()
    out.append(mount.mountpoint, style="bold")
    out.append(f"  {mount.fstype} from {mount.source}\n")
    out.append(f"  mount id {mount.mount_id}, parent {mount.parent_id}, ")
    out.append(f"device {mount.major}:{mount.minor}, root {mount.root}\n")
    out.append(f"  options {mount.options}\n  fs options {mount.super_options}\n")
    if mount.optional:
        out.append(f"  propagation {' '.join(mount.optional)}\n")
    out.append(f"  in mount namespace {ns.ns}")
    return out


def dm_detail(dev: DmDevice) -> Text:
    out = Text()
    out.append(f"/dev/mapper/{dev.name}", style="bold")
    out.append(f"  {dev.kname} {dev.major}:{dev.minor}, {format_size(dev.size)}")
    out.append(", read-only" if dev.read_only else "")
    out.append(", SUSPENDED" if dev.suspended else "")
    out.append(f"\n  uuid {dev.uuid or '-'}; on {', '.join(dev.slaves) or '-'}\n")
    for t in dev.targets:
        out.append(f"  {t.start} {t.length} {t.type} {t.args}\n")
    for m in dev.mounts:
        out.append(f"  mounted on {m.mountpoint} ({m.fstype}) in {m.ns}: {m.ns_label}\n")
    return out


class MountsTable(DataTable[str | Text]):
    """The table of the mounts view (row cursor, zebra stripes)."""


class MountsView(Widget):
    """Union mounts of every mount namespace; all mounts by type; device-mapper devices."""

    DEFAULT_CSS = mounts_css()
    can_focus = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "toggle_union", "Union/all"),
        Binding("t", "type_filter", "Type"),
        Binding("i", "inspect", "Layers"),
        Binding("b", "build", "Build overlay"),
        Binding("x", "umount", "Unmount"),
        Binding("m", "toggle_dm", "Device mapper"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        # shown (and active) only while the type filter line is open: an Input hides the
        # printable keys above, so the footer would otherwise be blank
        Binding("escape", "close_types", "Close type filter"),
    ]

    class StateRead(Message):
        """The worker read every mount namespace: ``state`` (or ``error``)."""

        def __init__(self, state: MountsState | None, error: str | None = None) -> None:
            super().__init__()
            self.state = state
            self.error = error

    def __init__(self, actions: Actions, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.actions = actions
        self.snapshot: Snapshot | None = None
        self.state: MountsState | None = None
        self.mode = "union"
        self.types: frozenset[str] = frozenset()
        self._reading = False
        self._read_again = False
        self._row_keys: list[str] = []
        self._rows: list[Row] = []
        self._column_keys: list[ColumnKey] = []
        #: rows added to the table so far (a chunked fill adds the rest over loop turns)
        self._filled = 0
        #: bumped by every refill, so a chunked fill that was overtaken stops
        self._fill_generation = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="mounts-body"):
            yield Static("Reading the mounts of every mount namespace …", id="mounts-header")
            yield Input(
                placeholder="filesystem types, comma-separated (empty: all) — Enter applies",
                id="mounts-type",
                compact=True,
            )
            table = MountsTable(id="mounts-table", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static("", id="mounts-detail")

    def on_mount(self) -> None:
        self.query_one("#mounts-type", Input).display = False
        self._set_columns()

    def on_focus(self) -> None:
        self.query_one(MountsTable).focus()

    @property
    def table(self) -> MountsTable:
        return self.query_one(MountsTable)

    # ----- data -----------------------------------------------------------------------------

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Called on the event loop after each refresh: re-read the mounts in a worker."""
        self.snapshot = snapshot
        self.reload()

    def reload(self) -> None:
        if self._reading:
            self._read_again = True
            return
        self._reading = True
        self._read_state()

    @work(thread=True, exclusive=True, group="mounts-read", exit_on_error=False)
    def _read_state(self) -> None:
        try:
            state = self.actions.mounts.read_state()
        except Exception as exc:  # shown in the view; the next refresh tries again
            self.post_message(self.StateRead(None, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.StateRead(state))

    def on_mounts_view_state_read(self, message: StateRead) -> None:
        self._reading = False
        if message.state is not None:
            self.state = message.state
            self._fill()
        else:
            self.query_one("#mounts-header", Static).update(
                f"Could not read the mounts: {message.error}"
            )
        if self._read_again:
            self._read_again = False
            self.reload()

    # ----- rendering ------------------------------------------------------------------------

    def _set_columns(self) -> None:
        table = self.table
        table.clear(columns=True)
        self._fill_generation += 1
        self._filled = 0
        self._column_keys = table.add_columns(*COLUMNS[self.mode])

    def rows(self) -> list[Row]:
        state = self.state
        if state is None:
            return []
        if self.mode == "union":
            return union_rows(state, self.snapshot, self.types)
        if self.mode == "all":
            return all_rows(state, self.snapshot, self.types)
        return dm_rows(state)

    def _fill(self, force: bool = False) -> None:
        """Show ``rows()``: unchanged, the table stays as it is; the same rows with other
        cells, those cells are updated; otherwise the table is refilled (in chunks)."""
        rows = self.rows()
        if not force and rows == self._rows:
            # mounts rarely change between refreshes: keep the table (and its cursor) as is
            self._update_header()
            self._update_detail()
            return
        old = self._rows
        self._rows = rows
        keys = [row.key for row in rows]
        if not force and keys == self._row_keys and self._filled == len(keys):
            self._update_cells(old, rows)
        else:
            self._refill(rows, keys)
        self._update_header()
        self._update_detail()

    def _update_cells(self, old: Sequence[Row], rows: Sequence[Row]) -> None:
        """The same rows in the same order: change only the cells that differ."""
        table = self.table
        for before, row in zip(old, rows, strict=True):
            if before.cells == row.cells:
                continue
            for column, was, now in zip(self._column_keys, before.cells, row.cells, strict=False):
                if was != now:
                    table.update_cell(row.key, column, _cell(now), update_width=True)

    def _refill(self, rows: list[Row], keys: list[str]) -> None:
        selected = self.selected_key
        table = self.table
        table.clear()
        self._fill_generation += 1
        self._row_keys = keys
        self._filled = 0
        self._add_rows(rows[:FILL_CHUNK])
        if len(rows) > FILL_CHUNK:
            self._fill_rest(rows, selected, self._fill_generation)
        else:
            self._restore_cursor(selected)

    def _add_rows(self, rows: Sequence[Row]) -> None:
        table = self.table
        for row in rows:
            table.add_row(*map(_cell, row.cells), key=row.key)
        self._filled += len(rows)

    # described here: Textual would describe it by the repr of its arguments (every row)
    @work(exclusive=True, group="mounts-fill", exit_on_error=False, description="mounts fill")
    async def _fill_rest(self, rows: list[Row], selected: str | None, generation: int) -> None:
        """Add the rows after the first chunk, a chunk per turn of the event loop (keys,
        and the table's measuring of the last chunk, run in between)."""
        for start in range(FILL_CHUNK, len(rows), FILL_CHUNK):
            await asyncio.sleep(FILL_PAUSE)
            if generation != self._fill_generation:
                return  # refilled since: these rows are stale
            self._add_rows(rows[start : start + FILL_CHUNK])
        if self.table.cursor_row == 0:  # the user has not moved meanwhile
            self._restore_cursor(selected)
        self._update_header()
        self._update_detail()

    def _restore_cursor(self, selected: str | None) -> None:
        if selected is not None and selected in self._row_keys:
            index = self._row_keys.index(selected)
            if index < self._filled:
                self.table.move_cursor(row=index, animate=False)

    def _update_header(self) -> None:
        state = self.state
        if state is None:
            return
        nns = len(state.scan.namespaces)
        types = f" of type {','.join(sorted(self.types))}" if self.types else ""
        if self.mode == "union":
            n = len(self._rows)  # the union rows of these types (made again: ~50 ms at 4,000)
            parts = [f"{n} union mount{'s' if n != 1 else ''}{types} in {nns} mount namespaces"]
            parts.append(state.aufs_note or "aufs: available")
            parts.append("u: all mounts · i: layers · b: build · x: unmount")
        elif self.mode == "all":
            n = len(self._row_keys)
            parts = [f"{n} mounts{types} in {nns} mount namespaces", "t: filter by type"]
        else:
            n = len(state.dm.devices)
            parts = [f"{n} device-mapper device{'s' if n != 1 else ''}", *state.dm.notes]
            parts.append("read-only view")
        notes = list(state.scan.notes)
        self.query_one("#mounts-header", Static).update(" · ".join(parts + notes))

    @property
    def selected_key(self) -> str | None:
        row = self.table.cursor_row
        if 0 <= row < len(self._row_keys):
            return self._row_keys[row]
        return None

    def selected_union(self) -> UnionMount | None:
        key, state = self.selected_key, self.state
        if key is None or state is None or self.mode != "union":
            return None
        for union in state.unions:
            if f"{union.namespace.ns.ino}:{union.mount.mount_id}" == key:
                return union
        return None

    def _selected_mount(self) -> tuple[Mount, MountNamespace] | None:
        key, state = self.selected_key, self.state
        if key is None or state is None:
            return None
        for ns in state.scan.namespaces:
            for mount in ns.mounts:
                if f"{ns.ns.ino}:{mount.mount_id}" == key:
                    return mount, ns
        return None

    def _update_detail(self) -> None:
        detail = self.query_one("#mounts-detail", Static)
        state = self.state
        if state is None:
            detail.update("")
            return
        if self.mode == "dm":
            dev = next((d for d in state.dm.devices if d.kname == self.selected_key), None)
            detail.update(dm_detail(dev) if dev else "\n".join(state.dm.notes))
            return
        if self.mode == "union":
            union = self.selected_union()
            if union is None:
                none = "No union (overlay/aufs) mount in any mount namespace. b: build one."
                detail.update(none if not self._row_keys else "")
                return
            detail.update(union_detail(union, state, self.snapshot))
            return
        found = self._selected_mount()
        detail.update(mount_detail(*found) if found else "")

    @on(DataTable.RowHighlighted, "#mounts-table")
    def _highlighted(self) -> None:
        self._update_detail()

    @on(DataTable.RowSelected, "#mounts-table")
    def _selected(self) -> None:
        if self.mode == "union":
            self.action_inspect()

    # ----- actions --------------------------------------------------------------------------

    def action_cursor_down(self) -> None:
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table.action_cursor_up()

    def _switch(self, mode: str) -> None:
        self.mode = mode
        self._set_columns()
        self._fill(force=True)

    def action_toggle_union(self) -> None:
        self._switch("all" if self.mode == "union" else "union")

    def action_toggle_dm(self) -> None:
        self._switch("union" if self.mode == "dm" else "dm")

    def action_type_filter(self) -> None:
        box = self.query_one("#mounts-type", Input)
        box.value = ",".join(sorted(self.types))
        box.display = True
        box.focus()
        self.refresh_bindings()

    @on(Input.Submitted, "#mounts-type")
    def _types_entered(self, event: Input.Submitted) -> None:
        self.types = frozenset(t.strip() for t in event.value.split(",") if t.strip())
        event.input.display = False
        self.refresh_bindings()
        if self.mode == "dm":
            self.mode = "all"
            self._set_columns()
        self._fill(force=True)
        self.table.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_types":
            return bool(self.query("#mounts-type")) and self.query_one("#mounts-type").display
        return True

    def action_close_types(self) -> None:
        box = self.query_one("#mounts-type", Input)
        if box.display:
            box.display = False
            self.table.focus()
            self.refresh_bindings()

    def _root_or_say(self, what: str) -> bool:
        snapshot = self.snapshot
        if snapshot is not None and not snapshot.host.is_root:
            self.notify(
                f"{what} needs root (CAP_SYS_ADMIN): nstui runs as uid {snapshot.host.viewer_uid}.",
                severity="warning",
            )
            return False
        return True

    def action_inspect(self) -> None:
        union = self.selected_union()
        if union is None:
            self.notify("Select a union mount (u switches to union mounts).", timeout=3)
            return
        from nstui.ui.screens.layer_inspector import LayerInspectorScreen

        self.app.push_screen(LayerInspectorScreen(self.actions, union))

    def action_build(self) -> None:
        if not self._root_or_say("Mounting an overlay"):
            return
        from nstui.ui.screens.overlay_build import OverlayBuildScreen

        self.app.push_screen(OverlayBuildScreen(self.actions, self.snapshot), self._done)

    def action_umount(self) -> None:
        union = self.selected_union()
        if union is None:
            self.notify("Select a union mount to unmount.", timeout=3)
            return
        if not self._root_or_say("Unmounting"):
            return
        from nstui.ui.screens.umount_confirm import UmountConfirmScreen

        self.app.push_screen(UmountConfirmScreen(self.actions, union), self._done)

    def _done(self, outcome: MountOutcome | None) -> None:
        if outcome is None:
            return
        self.notify(outcome.message, severity="information" if outcome.ok else "error")
        self.reload()
