"""The nstui Textual app: four views over live snapshots, panes opened from them.

Refresh cycle: one thread worker per tick takes a snapshot from the source and builds the row
sets of the views (the expensive part, off the event loop), the view on screen first; it posts
``SnapshotReady`` twice (that view's rows, then the others') and the handler applies the rows
to the line-API tables as a diff by key. The next tick is scheduled when the worker has ended;
a refresh asked for meanwhile (r, a pane closing) waits its turn rather than cancelling the
running one, so takes never overlap and none is wasted.
"""

from __future__ import annotations

import gc
import importlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.theme import Theme
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from nstui.kernel.nstypes import NsId
from nstui.model.actions import Actions
from nstui.model.cgroup_usage import CgKey, CgroupUsage
from nstui.model.snapshot import Snapshot
from nstui.model.source import SnapshotSource
from nstui.ui.rows import Key, Prepared, RowSet, ViewState, prepare
from nstui.ui.theme_store import ThemeStore
from nstui.ui.views.cgroups import CgroupsView, build_cgroup_rows
from nstui.ui.views.cgroups import usage_from_processes as _usage_from_processes
from nstui.ui.views.namespaces import NamespaceRowMemo, NamespacesView, build_namespace_rows
from nstui.ui.views.processes import ProcessesView, ProcessRowBuilder
from nstui.ui.widgets.filterbar import FilterBar
from nstui.ui.widgets.keys_footer import KeysFooter
from nstui.ui.widgets.rowtable import RowTable

#: Reads per-cgroup memory/CPU accounting for a snapshot (blocking; called in the worker).
UsageReader = Callable[[Snapshot], Mapping[CgKey, CgroupUsage]]

VIEWS: tuple[tuple[str, str], ...] = (
    ("processes", "1 Processes"),
    ("namespaces", "2 Namespaces"),
    ("cgroups", "3 Cgroups"),
    ("mounts", "4 Mounts"),
)

#: The mounts view's actions in the command palette: (title, help, action of the view).
MOUNTS_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Mounts: union or all", "Union mounts only, or every mount (u)", "toggle_union"),
    ("Mounts: filter by type", "Show mounts of some filesystem types (t)", "type_filter"),
    ("Mounts: layers", "The layers of the selected union mount (i)", "inspect"),
    ("Mounts: build an overlay", "Mount a new overlay from chosen layers (b)", "build"),
    ("Mounts: unmount", "Unmount the selected union mount (x)", "umount"),
    ("Mounts: device mapper", "Device-mapper devices and their tables (m)", "toggle_dm"),
)

NOT_AVAILABLE = "not available in this build"
#: seconds the cursor rests before the detail pane follows it
DETAIL_DELAY = 0.06
#: below this many columns the detail pane gives its room to the tables (d shows it)
NARROW = 100
#: the status line's spinner while the first scan runs, and how often it turns (seconds)
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
PROGRESS_EVERY = 0.2


def _css_path() -> Path:
    return Path(str(files("nstui.styles").joinpath("app.tcss")))


#: the row views, in the order of BuiltRows' tuples
PROCESSES, NAMESPACES, CGROUPS = 0, 1, 2


@dataclass(frozen=True, slots=True)
class BuiltRows:
    """Rows and layouts of some of the views (None: not in this part)."""

    processes: RowSet | None
    namespaces: RowSet | None
    cgroups: RowSet | None
    #: the namespace view's expansion and nesting the rows were built for
    ns_expanded: frozenset[Key]
    ns_nesting: bool
    #: layouts of (processes, namespaces, cgroups) for the view states of RefreshParams
    prepared: tuple[Prepared | None, Prepared | None, Prepared | None] = (None, None, None)


@dataclass(frozen=True, slots=True)
class RefreshParams:
    ns_expanded: frozenset[Key]
    ns_nesting: bool
    states: tuple[ViewState, ViewState, ViewState]
    shown: tuple[RowSet, RowSet, RowSet]
    #: the view on screen (PROCESSES on the mounts view): its rows are built and sent first
    active: int = PROCESSES


class SnapshotReady(Message):
    """A new snapshot and rows built from it, posted by the refresh worker in two parts:
    the view on screen first, then the others."""

    def __init__(
        self,
        snapshot: Snapshot,
        rows: BuiltRows,
        scan_seconds: float,
        scanned_at: float,
        *,
        first_part: bool = True,
        last_part: bool = True,
    ) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.rows = rows
        self.scan_seconds = scan_seconds
        #: time.perf_counter() when the snapshot was complete (before the rows were built)
        self.scanned_at = scanned_at
        self.first_part = first_part
        #: time.perf_counter() when the rows were built, before posting
        self.built_at = time.perf_counter()
        self.last_part = last_part


class CgroupFilesRead(Message):
    """The selected cgroup's files (name -> text), read by a worker for the detail pane."""

    def __init__(self, hid: int, path: str, files: dict[str, str]) -> None:
        super().__init__()
        self.hid = hid
        self.path = path
        self.files = files


def _load_class(module: str, name: str) -> Any:
    """A class from a module that may not exist yet in this checkout; None when missing."""
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return None
        raise
    except AttributeError:
        return None


class NstuiApp(App[int]):
    """Browse processes, namespaces, cgroups and mounts of one host, refreshed live."""

    TITLE = "nstui"
    #: focused when the screen starts (each focus change recomposes the footer)
    AUTO_FOCUS = "#processes-view"
    CSS_PATH = _css_path()

    # The footer lists the focused view's keys first (its BINDINGS), then these. The number
    # keys are on the tabs ("1 Processes" ...), so the footer leaves them out.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_view('processes')", "Processes", show=False),
        Binding("2", "show_view('namespaces')", "Namespaces", show=False),
        Binding("3", "show_view('cgroups')", "Cgroups", show=False),
        Binding("4", "show_view('mounts')", "Mounts", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter"),  # only while a filter is set
        Binding("p", "toggle_pause", "Pause"),
        Binding("r", "refresh_now", "Refresh"),
        Binding("d", "toggle_detail", "Detail"),
        Binding("n", "run_in_new", "New ns"),
        Binding("H", "audit_history", "Audit", show=False),  # shown by the cgroups view
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]
    #: actions the footer leaves out first, in this order, when it is short of room (they
    #: stay in the ? help and the command palette)
    FOOTER_DROP_ORDER: ClassVar[tuple[str, ...]] = (
        "run_in_new",
        "toggle_detail",
        "refresh_now",
        "toggle_pause",
        "filter",
    )
    #: app actions that only make sense on the views' screen, not with a pane on top
    VIEW_ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {
            "show_view",
            "filter",
            "clear_filter",
            "toggle_pause",
            "refresh_now",
            "toggle_detail",
            "run_in_new",
            "audit_history",
        }
    )

    def __init__(
        self,
        source: SnapshotSource,
        actions: Actions | None,
        interval: float = 2.0,
        *,
        theme_store: ThemeStore | None = None,
        usage_reader: UsageReader | None = None,
        recorded: bool = False,
        gc_freeze: bool = False,
    ) -> None:
        """``recorded``: the snapshots are not of this host (tests, screenshots), so no live
        cgroup files are read for the detail pane.

        ``gc_freeze``: the cyclic garbage collector is off until the first snapshot is on
        screen; then every object alive (modules, widgets, and the processes and rows later
        refreshes carry over) is moved out of its sight (``gc.freeze``) and it is on again.
        At 10,000 processes a full collection otherwise walks ~150,000 objects: a 60-200 ms
        stop of every thread, which fell on the first paint and the first refreshes. Those
        objects are still freed by reference counting; only a reference cycle among them
        would stay. For the program (``run_app``), not for test sessions, which start many
        apps in one process."""
        super().__init__()
        self.recorded = recorded
        self.gc_freeze = gc_freeze
        self.source = source
        self.actions = actions
        self.interval = interval
        self.theme_store = theme_store
        self.usage_reader = usage_reader
        self.snapshot: Snapshot | None = None
        self.paused = False
        self.follow = False
        self.follow_pid: int | None = None
        self.show_detail = True
        self.refreshes = 0
        #: seconds the last SnapshotReady took to apply on the event loop
        self.last_apply_seconds = 0.0
        self.last_scan_seconds = 0.0
        #: of the last snapshot -> screen: building the rows of the view on screen (worker),
        #: their message waiting for the event loop, and the paint after the apply
        self.last_build_seconds = 0.0
        self.last_wait_seconds = 0.0
        self.last_paint_seconds = 0.0
        #: seconds from a complete snapshot to its rows painted (row building included)
        self.last_snapshot_to_screen = 0.0
        #: snapshots whose rows have been painted (the view on screen), and
        #: time.perf_counter() when the first was; snapshots applied to every view
        self.painted = 0
        self.complete = 0
        #: seconds from a complete snapshot to every view's rows applied
        self.last_complete_seconds = 0.0
        self.first_painted_at: float | None = None
        self._select_after_refresh: int | None = None
        self._cg_files: dict[CgKey, dict[str, str]] = {}
        #: used only by the refresh worker, under _build_lock: a cancelled thread worker
        #: runs on to its end, so two can overlap
        self._build_lock = threading.Lock()
        self._take_lock = threading.Lock()
        self._process_rows = ProcessRowBuilder()
        self._ns_memo = NamespaceRowMemo()
        self._last_prepared: tuple[tuple[RowSet, Prepared] | None, ...] = (None, None, None)
        self._tick_pending = False
        #: refresh workers started and not ended (one taking, at most one waiting its turn)
        self._refreshing = 0
        #: a full take was asked for: the next worker to take makes it full
        self._full_wanted = False
        self._error_shown = False
        self._detail_timer: Timer | None = None
        self._banner_text = ""
        self._progress: Timer | None = None
        self._scan_started = 0.0
        self._spins = 0

    # ----- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="banner", markup=False)
        with Horizontal(id="main"):
            with TabbedContent(id="views", initial="processes"):
                with TabPane(VIEWS[0][1], id="processes"):
                    yield ProcessesView(id="processes-view")
                with TabPane(VIEWS[1][1], id="namespaces"):
                    yield NamespacesView(id="namespaces-view")
                with TabPane(VIEWS[2][1], id="cgroups"):
                    yield CgroupsView(from_files=self.usage_reader is not None, id="cgroups-view")
                with TabPane(VIEWS[3][1], id="mounts"):
                    yield self._mounts_view()
            with Vertical(id="side"):
                yield self._detail_pane()
        yield FilterBar(id="filter")
        yield Static("Scanning /proc …", id="status")
        yield KeysFooter(self.FOOTER_DROP_ORDER)

    def _mounts_view(self) -> Widget:
        cls = _load_class("nstui.ui.widgets.mounts_view", "MountsView")
        if cls is None or self.actions is None:
            why = NOT_AVAILABLE if cls is None else "needs live actions"
            return Static(f"Mounts view: {why}.", id="mounts-view", classes="placeholder")
        view: Widget = cls(self.actions)
        view.id = "mounts-view"
        return view

    def _detail_pane(self) -> Widget:
        cls = _load_class("nstui.ui.widgets.detail", "DetailPane")
        if cls is None:
            return Static(f"Detail pane: {NOT_AVAILABLE}.", id="detail", classes="placeholder")
        pane: Widget = cls(id="detail")
        return pane

    @property
    def processes_view(self) -> ProcessesView:
        return self._main.query_one("#processes-view", ProcessesView)

    @property
    def namespaces_view(self) -> NamespacesView:
        return self._main.query_one("#namespaces-view", NamespacesView)

    @property
    def cgroups_view(self) -> CgroupsView:
        return self._main.query_one("#cgroups-view", CgroupsView)

    @property
    def active_view_name(self) -> str:
        return self._main.query_one("#views", TabbedContent).active or "processes"

    @property
    def active_table(self) -> RowTable | None:
        name = self.active_view_name
        if name == "mounts":
            return None
        return self._main.query_one(f"#{name}-view", RowTable)

    @property
    def _main(self) -> Screen[Any]:
        """The screen holding the views: queries go there even while a pane is on top."""
        return self.screen_stack[0] if self.screen_stack else self.screen

    def on_mount(self) -> None:
        if self.theme_store is not None:
            saved = self.theme_store.load()
            if saved and saved in self.available_themes:
                self.theme = saved
            self.theme_changed_signal.subscribe(self, self._remember_theme)
        self._main.query_one("#banner").display = False
        self._main.query_one("#filter").display = False
        # Progress while the first scan runs: a spinner and the seconds so far in the status
        # line, and the tables say what they wait for. Not Textual's LoadingIndicator: over
        # the views it repainted ~5,000 cells 16 times a second, and took the GIL from the
        # scan and the first rows (~0.1 s each at 10,000 processes), then a layout to go.
        for table in self._main.query(RowTable):
            table.placeholder = "Reading /proc …"
        self._scan_started = time.monotonic()
        self._progress = self.set_interval(PROGRESS_EVERY, self._show_progress)
        if self.gc_freeze:
            gc.disable()  # until the first snapshot is on screen (_settle_gc)
        self._show_progress()
        # The first scan starts once the first frame (with its progress indicator) is on
        # screen: the worker would otherwise compete with the first paint for the GIL.
        self.call_after_refresh(self._tick)

    def _settle_gc(self) -> None:
        """After the first snapshot (or its failure): see ``gc_freeze``."""
        if self.gc_freeze and not gc.isenabled():
            gc.freeze()
            gc.enable()

    def _show_progress(self) -> None:
        if self.snapshot is not None:
            return
        self._spins += 1
        seconds = time.monotonic() - self._scan_started
        spinner = SPINNER[self._spins % len(SPINNER)]
        self._set_status(f"{spinner} Scanning /proc … {seconds:.1f} s")

    def _end_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _remember_theme(self, theme: Theme) -> None:
        if self.theme_store is not None:
            self.theme_store.save(theme.name)

    # ----- refresh --------------------------------------------------------------------------

    def _tick(self) -> None:
        self._tick_pending = False
        if self.paused or not self.screen_stack:
            return
        self.request_refresh()

    def request_refresh(self, *, full: bool = False) -> None:
        """Start a refresh worker: an incremental take (what the interval does), or with
        ``full`` a take that re-reads everything.

        A refresh running is not cancelled (its thread would scan on regardless, holding the
        source, and its snapshot would be thrown away): the new one waits its turn. One
        waiting is enough, it takes its snapshot after this request anyway."""
        if full:
            self._full_wanted = True
        if self._refreshing >= 2:
            return
        try:
            params = self._refresh_params()
        except NoMatches:  # the app is shutting down
            return
        self._refreshing += 1
        self._refresh_worker(params)

    def _refresh_params(self, ns_view: NamespacesView | None = None) -> RefreshParams:
        """What the worker needs of the views, captured on the event loop."""
        ns_view = ns_view or self.namespaces_view
        procs = self.processes_view
        cgroups = self.cgroups_view
        return RefreshParams(
            ns_expanded=ns_view.expanded_keys(),
            ns_nesting=ns_view.nesting,
            states=(procs.state, ns_view.state, cgroups.state),
            shown=(procs.rowset, ns_view.rowset, cgroups.rowset),
            active=self._active_row_view(),
        )

    def _active_row_view(self) -> int:
        """The row view on screen (PROCESSES for the mounts view)."""
        return {"namespaces": NAMESPACES, "cgroups": CGROUPS}.get(self.active_view_name, PROCESSES)

    # A description of its own: Textual otherwise describes a worker by the repr of its
    # arguments, here rowsets of 10,000 rows (~0.2 s on the event loop per refresh).
    @work(thread=True, exit_on_error=False, group="refresh", description="refresh")
    def _refresh_worker(self, params: RefreshParams) -> None:
        with self._take_lock:  # in the order asked for; the full wish read when its turn comes
            full, self._full_wanted = self._full_wanted, False
            started = time.perf_counter()
            snapshot = _take(self.source, full)
            scanned_at = time.perf_counter()
            # taken before the next take may start, so rows are posted in snapshot order
            self._build_lock.acquire()
        try:
            self._post_rows(snapshot, params, scanned_at - started, scanned_at)
        finally:
            self._build_lock.release()

    def _post_rows(
        self, snapshot: Snapshot, params: RefreshParams, scan: float, scanned_at: float
    ) -> None:
        """Build and post the rows (the view on screen first: its rows show while the
        others' are built). In the worker, under _build_lock."""
        rest = tuple(view for view in (PROCESSES, NAMESPACES, CGROUPS) if view != params.active)
        for views in ((params.active,), rest):
            rows = self._build_rows(snapshot, params, views)
            if get_current_worker().is_cancelled:
                return
            first = views[0] == params.active
            self.post_message(
                SnapshotReady(
                    snapshot, rows, scan, scanned_at, first_part=first, last_part=not first
                )
            )

    def _build_rows(
        self, snapshot: Snapshot, params: RefreshParams, views: tuple[int, ...]
    ) -> BuiltRows:
        """Rows and layouts of VIEWS for SNAPSHOT (in the worker, under _build_lock)."""
        built: list[RowSet | None] = [None, None, None]
        prepared: list[Prepared | None] = [None, None, None]
        last = list(self._last_prepared)
        for view in views:
            if view == PROCESSES:
                rowset = self._process_rows.build(snapshot)
            elif view == NAMESPACES:
                rowset = build_namespace_rows(
                    snapshot, params.ns_expanded, nesting=params.ns_nesting, memo=self._ns_memo
                )
            else:
                usage = (
                    self.usage_reader(snapshot)
                    if self.usage_reader is not None
                    else _usage_from_processes(snapshot)
                )
                rowset = build_cgroup_rows(snapshot, usage)
            # Flattened here too, so applying costs the event loop nothing per row. The
            # process and cgroup layouts are reused while the trees keep their shape.
            reuse = last[view] if view != NAMESPACES else None
            layout = prepare(rowset, params.states[view], params.shown[view], reuse)
            built[view] = rowset
            prepared[view] = layout
            last[view] = (rowset, layout)
        self._last_prepared = (last[0], last[1], last[2])
        return BuiltRows(
            processes=built[PROCESSES],
            namespaces=built[NAMESPACES],
            cgroups=built[CGROUPS],
            ns_expanded=params.ns_expanded,
            ns_nesting=params.ns_nesting,
            prepared=(prepared[0], prepared[1], prepared[2]),
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "refresh":
            return
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._refreshing = max(0, self._refreshing - 1)
        if event.state == WorkerState.ERROR:
            if not self._error_shown:
                self._error_shown = True
                self.notify(f"Refresh failed: {event.worker.error}", severity="error", timeout=8)
            if self.snapshot is None:
                self._end_progress()
                self._settle_gc()
                self._set_status(f"Refresh failed: {event.worker.error}")
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self._schedule()

    def _schedule(self) -> None:
        if not self._tick_pending and not self.paused:
            self._tick_pending = True
            self.set_timer(self.interval, self._tick)

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        if not self.screen_stack or not self._main.query("#processes-view"):
            return  # the app is shutting down
        started = time.perf_counter()
        self._apply(message)
        self._error_shown = False  # a later failure is news again
        if message.first_part:
            # the view on screen has the new rows: what the figures below are about
            applied = time.perf_counter()
            self.last_apply_seconds = applied - started
            self.last_scan_seconds = message.scan_seconds
            self.last_build_seconds = message.built_at - message.scanned_at
            self.last_wait_seconds = started - message.built_at
            self.call_after_refresh(self._painted, message.scanned_at, applied)
        if message.last_part:
            self.complete += 1
            self.last_complete_seconds = time.perf_counter() - message.scanned_at
            if self.complete == 1:
                self.call_after_refresh(self._settle_gc)

    def _painted(self, scanned_at: float, applied: float) -> None:
        """The screen has been updated with a snapshot's rows."""
        now = time.perf_counter()
        self.last_snapshot_to_screen = now - scanned_at
        self.last_paint_seconds = now - applied
        if self.first_painted_at is None:
            self.first_painted_at = now
        self.painted += 1

    def _apply(self, message: SnapshotReady) -> None:
        """Apply one part of a refresh. The first part (the view on screen) brings the new
        snapshot; the second part the other views' rows."""
        snapshot = message.snapshot
        rows = message.rows
        first = self.snapshot is None
        procs = self.processes_view
        ns_view = self.namespaces_view
        if message.first_part:
            self.snapshot = snapshot
            self.refreshes += 1
            if self.follow and self.follow_pid not in snapshot.processes:
                self.follow = False
                self.notify(f"Process {self.follow_pid} has exited; follow is off.", timeout=4)
        prepared = rows.prepared
        with self.batch_update():
            if rows.processes is not None:
                if self.follow:
                    procs.cursor_key = self.follow_pid
                procs.set_rows(rows.processes, follow=self.follow, prepared=prepared[PROCESSES])
            if rows.namespaces is not None:
                ns_view.snapshot = snapshot
                ns_rows = rows.namespaces
                ns_prepared = prepared[NAMESPACES]
                if (ns_view.expanded_keys(), ns_view.nesting) != (
                    rows.ns_expanded,
                    rows.ns_nesting,
                ):
                    ns_rows = ns_view.rows_for(snapshot)  # the user expanded meanwhile
                    ns_prepared = None
                ns_view.set_rows(ns_rows, prepared=ns_prepared)
            if rows.cgroups is not None:
                self.cgroups_view.set_rows(rows.cgroups, prepared=prepared[CGROUPS])
            if message.first_part:
                self._update_mounts()
                if first:
                    self._end_progress()
                self._update_banner()
            if rows.processes is not None:
                self._after_refresh_selection()
            active = (rows.processes, rows.namespaces, rows.cgroups)[self._active_row_view()]
            if active is not None:
                self._update_detail()
            if message.first_part:
                self._update_status()

    def _after_refresh_selection(self) -> None:
        snapshot = self.snapshot
        assert snapshot is not None
        pid = self._select_after_refresh
        if pid is not None and pid in snapshot.processes:
            self._select_after_refresh = None
            self.action_show_view("processes")
            if not self.processes_view.select_key(pid):
                self._clear_filter()  # the filter hid the new process: show it anyway
                self.processes_view.select_key(pid)

    def _update_mounts(self) -> None:
        if self.snapshot is None or self.active_view_name != "mounts":
            return
        view = self._main.query_one("#mounts-view")
        show = getattr(view, "show_snapshot", None)
        if show is not None:
            show(self.snapshot)

    def _update_banner(self) -> None:
        snapshot = self.snapshot
        assert snapshot is not None
        banner = self._main.query_one("#banner", Static)
        notes = list(snapshot.limitations)
        if not snapshot.host.is_root:
            # the scan's own "not root: ..." note says the same in fewer words
            notes = [note for note in notes if not note.startswith("not root")]
            notes.insert(
                0,
                f"not running as root (uid {snapshot.host.viewer_uid}): other users' "
                "namespaces, fds and some cgroup files cannot be read, and changes are refused",
            )
        text = "Limited view: " + "; ".join(notes) if notes else ""
        # Updated only when it says something new: an update re-lays out the whole screen
        # (the banner's height follows its text), ~0.1 s with 10,000 rows in the tables.
        if text != self._banner_text:
            self._banner_text = text
            if text:
                banner.update(text)
            banner.display = bool(text)

    def _update_status(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        host = snapshot.host
        parts = [
            f"{host.hostname}",
            f"{len(snapshot.processes)} processes",
            f"{len(snapshot.namespaces)} namespaces",
            f"{len(snapshot.cgroups)} cgroups",
            f"taken {time.strftime('%H:%M:%S', time.localtime(snapshot.taken_at))}",
            "PAUSED (p)" if self.paused else f"every {self.interval:g}s",
        ]
        if self.follow:
            parts.append(f"following pid {self.follow_pid}")
        filter_text = self.processes_view.state.filter_text
        if filter_text:
            parts.append(f"filter: {filter_text}")
        table = self.active_table
        if table is not None and table.state.sort_column is not None:
            parts.append(f"sort: {table.sort_label()}")
        self._set_status(" · ".join(parts))

    def _set_status(self, text: str) -> None:
        # One line high whatever it says (styles/app.tcss): no layout of the whole screen,
        # which every refresh would otherwise pay for.
        self._main.query_one("#status", Static).update(text, layout=False)

    # ----- selection and detail -------------------------------------------------------------

    def on_row_table_cursor_moved(self, message: RowTable.CursorMoved) -> None:
        if message.table is self.processes_view and not message.by_refresh:
            # Moving the cursor while following follows the newly selected process.
            key = message.key
            self.follow_pid = key if isinstance(key, int) else None
        if message.table is self.active_table:
            # Deferred a little: holding j renders the detail once the cursor rests, not for
            # every row it passes (a description can take longer to render than a keypress).
            if self._detail_timer is not None:
                self._detail_timer.stop()
            self._detail_timer = self.set_timer(DETAIL_DELAY, self._update_detail)

    def on_row_table_activated(self, message: RowTable.Activated) -> None:
        if message.table is self.cgroups_view:
            if self.cgroups_view.selected_cgroup is not None:
                self.action_limits()
            else:
                message.table.action_toggle_row()
        else:
            message.table.action_toggle_row()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._place_detail()
        table = self.active_table
        if table is not None:
            if not table.has_focus:
                table.focus()
        else:
            self._update_mounts()
            for widget in self._main.query("#mounts-view"):
                if widget.can_focus:
                    widget.focus()
        self._update_detail()
        self._update_status()

    def _update_detail(self) -> None:
        self._detail_timer = None
        snapshot = self.snapshot
        if not self.screen_stack:
            return  # a deferred update arriving while the app shuts down
        pane = self._main.query_one("#detail")
        if snapshot is None or isinstance(pane, Static):
            return
        table = self.active_table
        key = None if table is None else table.cursor_key
        try:
            if table is self.processes_view and isinstance(key, int):
                pane.show_process(snapshot, key)  # type: ignore[attr-defined]
            elif table is self.namespaces_view and isinstance(key, NsId):
                pane.show_namespace(snapshot, key)  # type: ignore[attr-defined]
            elif table is self.namespaces_view and self.namespaces_view.selected_pid is not None:
                pane.show_process(snapshot, self.namespaces_view.selected_pid)  # type: ignore[attr-defined]
            elif table is self.cgroups_view and self.cgroups_view.selected_cgroup is not None:
                hid, path = self.cgroups_view.selected_cgroup
                usage = self._cg_files.get((hid, path))
                pane.show_cgroup(snapshot, hid, path, usage)  # type: ignore[attr-defined]
                if self.actions is not None and not self.recorded:
                    self._read_cgroup_files(hid, path)
            else:
                pane.show_nothing()  # type: ignore[attr-defined]
        except Exception as exc:  # a detail pane bug must not take the browser down
            self.log.error(f"detail pane: {exc!r}")

    @work(thread=True, exclusive=True, exit_on_error=False, group="cgroup-files")
    def _read_cgroup_files(self, hid: int, path: str) -> None:
        """The selected cgroup's limit and usage files, for the detail pane."""
        assert self.actions is not None
        files: dict[str, str] = {}
        try:
            readings = self.actions.cgroups.read(hid, path)
        except Exception as exc:  # gone since the snapshot, or unreadable: the pane says so
            self.log.warning(f"cgroup files of {hid}:{path}: {exc!r}")
            return
        for reading in readings:
            for knob in reading.knobs:
                if knob.raw is not None and knob.knob.file not in files:
                    files[knob.knob.file] = knob.raw
        if not get_current_worker().is_cancelled:
            self.post_message(CgroupFilesRead(hid, path, files))

    def on_cgroup_files_read(self, message: CgroupFilesRead) -> None:
        key = (message.hid, message.path)
        self._cg_files = {key: message.files}
        if self.snapshot is None or self.active_table is not self.cgroups_view:
            return
        if self.cgroups_view.selected_cgroup != key:
            return
        pane = self._main.query_one("#detail")
        show = getattr(pane, "show_cgroup", None)
        if show is not None:
            show(self.snapshot, message.hid, message.path, message.files)

    def selected_pid(self) -> int | None:
        """The process the user points at: a process row, a namespace member, or the lowest
        pid of the selected namespace."""
        table = self.active_table
        if table is self.processes_view:
            return self.processes_view.selected_pid
        if table is self.namespaces_view:
            pid = self.namespaces_view.selected_pid
            if pid is not None:
                return pid
            ns_id = self.namespaces_view.selected_ns
            if ns_id is not None and self.snapshot is not None:
                namespace = self.snapshot.namespaces.get(ns_id)
                if namespace is not None and namespace.pids:
                    return namespace.pids[0]
        return None

    # ----- actions: views, filter, live -----------------------------------------------------

    def action_show_view(self, name: str) -> None:
        self._main.query_one("#views", TabbedContent).active = name

    def _pane_on_top(self) -> bool:
        """A full-screen pane (limits, audit history) covers the views; dialogs do not."""
        for screen in reversed(self.screen_stack):
            if not isinstance(screen, ModalScreen):
                return screen is not self._main
        return False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # With a pane on top (limits, audit history) the views' keys would act on views out of
        # sight: they are off there, and the pane's own keys fill the footer.
        if action in self.VIEW_ACTIONS and self._pane_on_top():
            return False
        if action == "toggle_detail":  # the mounts view has no detail pane to show or hide
            try:
                return self.active_view_name != "mounts"
            except NoMatches:
                return True
        # The mounts view has its own type filter (t); `/` filters the row tables.
        if action == "filter":
            try:
                # not while typing in the filter bar, where / is part of the text
                filtering = isinstance(self.focused, FilterBar)
                return self.active_view_name != "mounts" and not filtering
            except NoMatches:  # not composed yet
                return True
        if action == "clear_filter":  # Escape on a view, shown only while a filter is set
            try:
                return bool(self.processes_view.state.filter_text)
            except NoMatches:
                return False
        return True

    def action_filter(self) -> None:
        bar = self._main.query_one("#filter", FilterBar)
        bar.display = True
        bar.focus()

    def on_input_changed(self, event: FilterBar.Changed) -> None:
        if isinstance(event.input, FilterBar):
            self.set_filter(event.value)

    def on_filter_bar_done(self, event: FilterBar.Done) -> None:
        bar = self._main.query_one("#filter", FilterBar)
        if event.cleared:
            bar.display = False
            self.set_filter("")
        table = self.active_table
        if table is not None:
            table.focus()

    def action_clear_filter(self) -> None:
        self._clear_filter()
        table = self.active_table
        if table is not None:
            table.focus()

    def _clear_filter(self) -> None:
        bar = self._main.query_one("#filter", FilterBar)
        bar.value = ""
        bar.display = False
        self.set_filter("")

    def set_filter(self, text: str) -> None:
        for table in self._main.query(RowTable):
            if table.state.filter_text != text:
                table.update_state(filter_text=text)
        self.refresh_bindings()  # Escape clears a set filter: the footer shows it meanwhile
        self._update_detail()
        self._update_status()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.paused:
            self.notify("Paused: press p to resume live refresh.", timeout=2)
        else:
            self.notify("Live refresh resumed.", timeout=1.5)
            self._tick()
        self._update_status()

    def action_refresh_now(self) -> None:
        # Asked for (r) or after a pane changed something: a full take, so what refreshes
        # carry over (namespaces kept by bind mounts or fds, cgroup walks) is read again.
        self.request_refresh(full=True)

    def action_toggle_follow(self) -> None:
        if self.follow:
            self.follow = False
            self.notify("Follow off.", timeout=1.5)
        else:
            pid = self.processes_view.selected_pid
            if pid is None:
                self.notify("Select a process to follow.", severity="warning")
                return
            self.follow = True
            self.follow_pid = pid
            self.notify(f"Following pid {pid} across refreshes.", timeout=2)
        self._update_status()

    def action_toggle_detail(self) -> None:
        if self.size.width < NARROW and not self._main.query_one("#side").display:
            self.show_detail = True  # narrow: d shows it anyway
            self._main.query_one("#side").display = True
            return
        self.show_detail = not self.show_detail
        self._place_detail()

    def _place_detail(self, width: int | None = None) -> None:
        """The detail pane shows unless hidden with d, on the mounts view (it has its own), or
        on terminals too narrow for it beside the tables."""
        wide = (self.size.width if width is None else width) >= NARROW
        self._main.query_one("#side").display = (
            self.show_detail and wide and self.active_view_name != "mounts"
        )

    def on_resize(self, event: events.Resize) -> None:
        with suppress(NoMatches):  # not composed yet
            self._place_detail(event.size.width)

    def action_help(self) -> None:
        cls = _load_class("nstui.ui.screens.help", "HelpScreen")
        if cls is None:
            self.notify(f"Help: {NOT_AVAILABLE}.", severity="warning")
            return
        if self._pane_on_top():
            # On a pane (limits, audit history): the keys of that pane, as its footer has them.
            keys_of = _load_class("nstui.ui.screens.help", "bindings_of")
            self.push_screen(cls(keys_of(self.screen)))
            return
        self.push_screen(cls())

    # ----- actions: panes -------------------------------------------------------------------

    def _pane(self, module: str, name: str) -> Any:
        cls = _load_class(module, name)
        if cls is None:
            self.notify(f"{name}: {NOT_AVAILABLE}.", severity="warning")
            return None
        if self.actions is None:
            self.notify("Actions are unavailable: this is a recorded snapshot.", severity="warning")
            return None
        return cls

    def _after_pane(self, result: object = None) -> None:
        self.action_refresh_now()

    def action_run_in_new(self) -> None:
        cls = self._pane("nstui.ui.screens.run_ns", "RunInNamespacesScreen")
        if cls is not None:
            self.push_screen(cls(self.actions), self._after_run)

    def _after_run(self, pid: int | None) -> None:
        if isinstance(pid, int):
            self._select_after_refresh = pid
        self.action_refresh_now()

    def action_enter_namespaces(self) -> None:
        pid = self.selected_pid()
        if pid is None or self.snapshot is None:
            self.notify("Select a process or a namespace with processes.", severity="warning")
            return
        cls = self._pane("nstui.ui.screens.enter_ns", "EnterNamespacesScreen")
        if cls is not None:
            self.push_screen(cls(self.actions, self.snapshot, pid), self._after_pane)

    def _namespace_pane(self, name: str) -> None:
        ns_id = self.namespaces_view.selected_ns if self.active_view_name == "namespaces" else None
        if ns_id is None or self.snapshot is None:
            self.notify("Select a namespace in the namespaces view (2).", severity="warning")
            return
        cls = self._pane("nstui.ui.screens.keep_ns", name)
        if cls is not None:
            self.push_screen(cls(self.actions, self.snapshot, ns_id), self._after_pane)

    def action_keep_namespace(self) -> None:
        self._namespace_pane("KeepNamespaceScreen")

    def action_release_namespace(self) -> None:
        self._namespace_pane("ReleaseNamespaceScreen")

    def action_limits(self) -> None:
        key = self.cgroups_view.selected_cgroup if self.active_view_name == "cgroups" else None
        if key is None or self.snapshot is None:
            self.notify("Select a cgroup in the cgroups view (3).", severity="warning")
            return
        cls = self._pane("nstui.ui.screens.limits", "LimitsScreen")
        if cls is not None:
            self.push_screen(cls(self.actions, self.snapshot, key[0], key[1]), self._after_pane)

    def action_move_to_cgroup(self) -> None:
        pid = self.selected_pid()
        if pid is None or self.snapshot is None:
            self.notify("Select a process to move.", severity="warning")
            return
        cls = self._pane("nstui.ui.screens.move_cgroup", "MoveToCgroupScreen")
        if cls is not None:
            self.push_screen(cls(self.actions, self.snapshot, pid), self._after_pane)

    def action_audit_history(self) -> None:
        cls = self._pane("nstui.ui.screens.audit_history", "AuditHistoryScreen")
        if cls is not None:
            self.push_screen(cls(self.actions), self._after_pane)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Notifications carry kernel and user text (argv, paths, typed values): never parse
        them as markup, where ``[/]`` or ``['a=1']`` raise and take the whole app down."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # ----- command palette ------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self.screen_stack and screen is not self._main:
            # A pane: its own keys (as its footer and ? list them); the views' commands
            # would act on views out of sight.
            yield from pane_commands(screen)
            return
        for name, title in VIEWS:
            yield SystemCommand(
                f"View: {title[2:]}",
                f"Show the {title[2:].lower()} view (key {title[0]})",
                partial(self.action_show_view, name),
            )
        commands: tuple[tuple[str, str, Callable[[], object]], ...] = (
            ("Filter", "Filter rows by pid, command, user, ns id, cgroup, container (/)",
             self.action_filter),
            ("Sort: next column", "Cycle the sort column of the current view (s)",
             self._sort_active),
            ("Sort: reverse", "Reverse the sort order of the current view (S)",
             self._reverse_sort_active),
            ("Processes: tree or flat list", "Toggle the process tree (t)",
             self.processes_view.action_toggle_tree),
            ("Namespaces: nesting tree", "Nest user and pid namespaces by parent (t)",
             self.namespaces_view.action_toggle_nesting),
            ("Follow selected process", "Keep the selected process in view (f)",
             self.action_toggle_follow),
            ("Pause or resume refresh", "Stop or restart the live refresh (p)",
             self.action_toggle_pause),
            ("Refresh now", "Take a snapshot now (r)", self.action_refresh_now),
            ("Run in new namespaces", "Launch a command in new namespaces (n)",
             self.action_run_in_new),
            ("Enter namespaces", "Run a command inside the selected process's namespaces (e)",
             self.action_enter_namespaces),
            ("Keep namespace", "Bind-mount the selected namespace to keep it alive (K)",
             self.action_keep_namespace),
            ("Release namespace", "Remove a namespace's bind mount (R)",
             self.action_release_namespace),
            ("Cgroup limits", "Tune the selected cgroup's limits (L / Enter)",
             self.action_limits),
            ("Move to cgroup", "Move the selected process to another cgroup (M)",
             self.action_move_to_cgroup),
            ("Audit history", "Changes made to cgroups, with undo (H)",
             self.action_audit_history),
            ("Detail pane", "Show or hide the detail pane (d)", self.action_toggle_detail),
            ("Help", "Keys, namespace types and cgroup subsystems explained (?)",
             self.action_help),
        )  # fmt: skip
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)
        if self._main.query("#mounts-view").filter(".placeholder"):
            return  # no mounts view in this build
        for title, help_text, action in MOUNTS_COMMANDS:
            yield SystemCommand(title, help_text, partial(self._mounts_action, action))

    def _mounts_action(self, action: str) -> None:
        """A mounts-view action from the palette: on the mounts view, as its key does."""
        self.action_show_view("mounts")
        view = self._main.query_one("#mounts-view")
        self.call_later(view.run_action, action)

    def _sort_active(self) -> None:
        table = self.active_table
        if table is not None:
            table.action_cycle_sort()

    def _reverse_sort_active(self) -> None:
        table = self.active_table
        if table is not None:
            table.action_reverse_sort()


def pane_commands(screen: Screen[Any]) -> Iterator[SystemCommand]:
    """The keys active on a pane (limits, audit history) as command palette entries."""
    seen: set[str] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if not (binding.show and binding.description) or binding.system or not active.enabled:
            continue
        if binding.action in seen:
            continue
        seen.add(binding.action)
        key = screen.app.get_key_display(binding)
        yield SystemCommand(
            binding.description,
            f"{binding.tooltip or binding.description} ({key})",
            partial(screen.app.run_action, binding.action, active.node),
        )


def _take(source: SnapshotSource, full: bool) -> Snapshot:
    """``source.take()``, or its ``take_full()`` when asked for and it has one."""
    take_full = getattr(source, "take_full", None) if full else None
    snapshot: Snapshot = take_full() if callable(take_full) else source.take()
    return snapshot


class _LazySource:
    """Builds the live source inside the first refresh worker, so the first frame does not
    wait for it."""

    def __init__(self, factory: Callable[[], SnapshotSource]) -> None:
        self._factory = factory
        self._source: SnapshotSource | None = None

    def take(self) -> Snapshot:
        if self._source is None:
            self._source = self._factory()
        return self._source.take()

    def take_full(self) -> Snapshot:
        if self._source is None:
            return self.take()  # the first take is a full one
        return _take(self._source, True)


def run_app(interval: float) -> int:
    """Open the TUI on this host's live kernel."""

    def live_source() -> SnapshotSource:
        from nstui.model.scanner import LiveSource

        source: SnapshotSource = LiveSource()
        return source

    try:
        from nstui.model.actions import live_actions

        actions: Actions | None = live_actions()
    except ImportError:
        actions = None
    from nstui.model.cgroup_usage import CgroupUsageReader

    app = NstuiApp(
        _LazySource(live_source),
        actions,
        interval=interval,
        theme_store=ThemeStore.default(),
        usage_reader=CgroupUsageReader(),
        gc_freeze=True,
    )
    app.run()
    gc.enable()  # quit before the first snapshot came
    return app.return_code or 0
