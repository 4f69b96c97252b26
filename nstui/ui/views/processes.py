"""View 1: processes as a tree by parent or a flat sortable list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, NamedTuple

from textual.binding import Binding, BindingType

from nstui.kernel.nstypes import NsId, NsType
from nstui.kernel.procfs import Process
from nstui.model.containers import label_for_process
from nstui.model.snapshot import Snapshot
from nstui.ui.format import human_bytes, ns_flags, percent
from nstui.ui.rows import Column, Key, Row, RowSet
from nstui.ui.widgets.rowtable import RowTable

COLUMNS: tuple[Column, ...] = (
    Column("PID", 7, right=True),
    Column("USER", 8),
    Column("CPU%", 5, right=True, descending_first=True),
    Column("MEM", 6, right=True, descending_first=True),
    Column("NS", 8, descending_first=True),
    Column("CONTAINER", 14),
    Column("COMMAND", 0),
)
COMMAND_COLUMN = 6
#: kthreadd: its hundreds of kernel threads start folded away
KTHREADD = 2


class _Texts(NamedTuple):
    """What a process's row shows that changes rarely, with the facts it was made from
    (a NamedTuple: 10,000 are made on the first build, a frozen dataclass's __init__ costs
    several times more)."""

    start_time: float
    ppid: int
    cmdline: tuple[str, ...]
    user_field: str | None
    ns: Mapping[NsType, NsId]
    cgroups: Mapping[int, str]
    user: str
    command: str
    flags: str
    differ: int
    label: str
    container: bool
    search: str
    kernel_thread: bool
    # made once here, so a row whose CPU or memory moved costs one tuple of each
    pid_text: str
    command_key: str
    label_key: str | None
    style: str
    cell_styles: tuple[str, ...]


#: cell styles by (namespaces differ from the host's, the label is a container's)
_STYLES: dict[tuple[bool, bool], tuple[str, ...]] = {
    (differ, container): ("", "", "", "", "bold yellow" if differ else "dim",
                          "cyan" if container else "dim", "")
    for differ in (False, True)
    for container in (False, True)
}  # fmt: skip


class ProcessRowBuilder:
    """Builds the process rows, reusing the texts of processes unchanged since the last build
    and, when a process's CPU, memory and parent are unchanged too, its whole row (a refresh of
    10,000 mostly idle processes then costs a few dict lookups per process). Used from one
    worker at a time."""

    def __init__(self) -> None:
        #: pid -> the process the row was made from, its texts, CPU, memory, parent, row
        self._rows: dict[int, _Made] = {}
        self._last: RowSet | None = None
        self._host: Mapping[NsType, NsId] = {}
        #: per shared ns dict / cgroups dict (the scanner interns them): the texts made of
        #: them, keyed by id with the dict itself held so the id is not reused meanwhile
        self._ns_memo: dict[int, tuple[Mapping[NsType, NsId], str, int, str]] = {}
        self._cg_memo: dict[int, tuple[Mapping[int, str], str]] = {}

    def build(self, snapshot: Snapshot) -> RowSet:
        host = snapshot.host.host_ns
        if host != self._host:
            self._rows = {}
            self._last = None
            self._ns_memo = {}
            self._host = dict(host)
        procs = snapshot.processes
        if len(self._ns_memo) + len(self._cg_memo) > 2 * len(procs) + 1000:
            self._ns_memo = {}
            self._cg_memo = {}
        old_rows = self._rows
        made: dict[int, _Made] = {}
        rows: dict[Key, Row] = {}
        # the tree keeps its shape while every row is reused with its parent
        same_shape = self._last is not None and len(procs) == len(old_rows)
        for pid in sorted(procs):
            proc = procs[pid]
            parent = proc.ppid if proc.ppid in procs else None
            before = old_rows.get(pid)
            if before is not None and before.proc is proc and before.parent == parent:
                # carried over by the scanner as the same object: nothing changed
                made[pid] = before
                rows[pid] = before.row
                continue
            t = before.texts if before is not None else None
            # == on the dicts is cheap: the scanner interns NsIds, so values compare by identity
            if (
                t is None
                or t.start_time != proc.start_time
                or t.ppid != proc.ppid
                or t.cmdline != proc.cmdline
                or t.user_field != proc.user
                or (t.ns is not proc.ns and t.ns != proc.ns)
                or (t.cgroups is not proc.cgroups and t.cgroups != proc.cgroups)
            ):
                t = self._texts_of(snapshot, proc)
            cpu = proc.cpu_percent
            rss = proc.rss
            if (
                before is not None
                and before.texts is t
                and before.cpu == cpu
                and before.rss == rss
                and before.parent == parent
            ):
                row = before.row
            else:
                if before is None or before.parent != parent:
                    same_shape = False
                row = _row(pid, t, cpu, rss, parent)
            made[pid] = _new_tuple(_Made, (proc, t, cpu, rss, parent, row))
            rows[pid] = row
        self._rows = made
        if same_shape and self._last is not None:
            # same pids with the same parents: the children lists are the last build's
            rowset = RowSet(rows, self._last.children)
        else:
            rowset = RowSet.build(rows.values())
        self._last = rowset
        return rowset

    def _texts_of(self, snapshot: Snapshot, proc: Process) -> _Texts:
        ns = proc.ns
        memo = self._ns_memo.get(id(ns))
        if memo is None or memo[0] is not ns:
            flags, differ = ns_flags(ns, snapshot.host.host_ns)
            inos = " ".join(str(n.ino) for n in ns.values())
            memo = self._ns_memo[id(ns)] = (ns, flags, differ, inos)
        _, flags, differ, inos = memo
        cgroups = proc.cgroups
        cg_memo = self._cg_memo.get(id(cgroups))
        if cg_memo is None or cg_memo[0] is not cgroups:
            cg_memo = self._cg_memo[id(cgroups)] = (cgroups, " ".join(cgroups.values()))
        return _texts_of(snapshot, proc, flags, differ, inos + " " + cg_memo[1])


_new_tuple = tuple.__new__


class _Made(NamedTuple):
    """What a process's row was made from, and the row."""

    proc: Process
    texts: _Texts
    cpu: float | None
    rss: int | None
    parent: int | None
    row: Row


def _row(pid: int, t: _Texts, cpu: float | None, rss: int | None, parent: int | None) -> Row:
    # tuple.__new__ straight: a NamedTuple's own __new__ is a Python call, a third of the
    # cost of a row whose CPU moved (10,000 of them on the first refresh)
    return _new_tuple(
        Row,
        (
            pid,
            parent,
            (t.pid_text, t.user, percent(cpu), human_bytes(rss), t.flags, t.label, t.command),
            (pid, t.user, cpu, rss, t.differ, t.label_key, t.command_key),
            t.search,
            t.style,
            # systemd units are shown too, dimmed: only containers stand out
            t.cell_styles,
            False,
            pid != KTHREADD,
        ),
    )


def _texts_of(snapshot: Snapshot, proc: Process, flags: str, differ: int, ids: str) -> _Texts:
    """``ids``: the process's namespace inodes and cgroup paths, space-separated."""
    label = label_for_process(snapshot, proc.pid)
    label_text = label.display if label is not None else ""
    user = proc.user if proc.user is not None else ("?" if proc.uid is None else str(proc.uid))
    command = proc.command
    pid_text = str(proc.pid)
    search = " ".join((pid_text, user, command, proc.comm, label_text, ids)).lower()
    container = label is not None and label.is_container
    return _Texts(
        start_time=proc.start_time,
        ppid=proc.ppid,
        cmdline=proc.cmdline,
        user_field=proc.user,
        ns=proc.ns,
        cgroups=proc.cgroups,
        user=user,
        command=command,
        flags=flags,
        differ=differ,
        label=label_text,
        container=container,
        search=search,
        kernel_thread=proc.is_kernel_thread,
        pid_text=pid_text,
        command_key=command.lower(),
        label_key=label_text or None,
        style="dim" if proc.is_kernel_thread else "",
        cell_styles=_STYLES[(differ > 0, container)],
    )


class ProcessesView(RowTable):
    """Every process; the footer shows what can be done with the selected one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "toggle_tree", "Tree/flat"),
        Binding("f", "app.toggle_follow", "Follow"),
        Binding("e", "app.enter_namespaces", "Enter ns"),
        Binding("M", "app.move_to_cgroup", "Move", tooltip="Move the process to another cgroup"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, tree_column=COMMAND_COLUMN, tree=True, id=id)

    def action_toggle_tree(self) -> None:
        tree = not self.state.tree
        self.update_state(tree=tree)
        self.notify("Process tree" if tree else "Flat process list", timeout=1.5)

    @property
    def selected_pid(self) -> int | None:
        key = self.cursor_key
        return key if isinstance(key, int) else None
