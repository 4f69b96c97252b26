"""View 1: processes as a tree by parent or a flat sortable list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType

from nstui.kernel.nstypes import NsId, NsType
from nstui.kernel.procfs import Process
from nstui.model.containers import label_for_process
from nstui.model.snapshot import Snapshot
from nstui.ui.format import human_bytes, ns_flags, percent
from nstui.ui.rows import Column, Row, RowSet
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


@dataclass(frozen=True, slots=True)
class _Texts:
    """What a process's row shows that changes rarely, with the facts it was made from."""

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


#: cell styles by (namespaces differ from the host's, the label is a container's)
_STYLES: dict[tuple[bool, bool], tuple[str, ...]] = {
    (differ, container): ("", "", "", "", "bold yellow" if differ else "dim",
                          "cyan" if container else "dim", "")
    for differ in (False, True)
    for container in (False, True)
}  # fmt: skip


class ProcessRowBuilder:
    """Builds the process rows, reusing the texts of processes unchanged since the last build
    (a refresh of 10,000 processes then costs little more than their CPU and memory cells).
    Used from one worker at a time."""

    def __init__(self) -> None:
        self._texts: dict[int, _Texts] = {}
        self._host: Mapping[NsType, NsId] = {}

    def build(self, snapshot: Snapshot) -> RowSet:
        host = snapshot.host.host_ns
        if host != self._host:
            self._texts = {}
            self._host = dict(host)
        procs = snapshot.processes
        old = self._texts
        texts: dict[int, _Texts] = {}
        rows: list[Row] = []
        for pid in sorted(procs):
            proc = procs[pid]
            t = old.get(pid)
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
                t = _texts_of(snapshot, proc)
            texts[pid] = t
            rows.append(
                Row(
                    key=pid,
                    parent=proc.ppid if proc.ppid in procs else None,
                    cells=(
                        str(pid),
                        t.user,
                        percent(proc.cpu_percent),
                        human_bytes(proc.rss),
                        t.flags,
                        t.label,
                        t.command,
                    ),
                    sort=(
                        pid,
                        t.user,
                        proc.cpu_percent,
                        proc.rss,
                        t.differ,
                        t.label or None,
                        t.command.lower(),
                    ),
                    search=t.search,
                    style="dim" if t.kernel_thread else "",
                    # systemd units are shown too, dimmed: only containers stand out
                    cell_styles=_STYLES[(t.differ > 0, t.container)],
                    expanded=pid != KTHREADD,
                )
            )
        self._texts = texts
        return RowSet.build(rows)


def _texts_of(snapshot: Snapshot, proc: Process) -> _Texts:
    flags, differ = ns_flags(proc.ns, snapshot.host.host_ns)
    label = label_for_process(snapshot, proc.pid)
    label_text = label.display if label is not None else ""
    user = proc.user if proc.user is not None else ("?" if proc.uid is None else str(proc.uid))
    command = proc.command
    search = " ".join(
        (
            str(proc.pid),
            user,
            command,
            proc.comm,
            label_text,
            *(str(ns.ino) for ns in proc.ns.values()),
            *proc.cgroups.values(),
        )
    ).lower()
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
        container=label is not None and label.is_container,
        search=search,
        kernel_thread=proc.is_kernel_thread,
    )


class ProcessesView(RowTable):
    """Every process; the footer shows what can be done with the selected one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "toggle_tree", "Tree/flat"),
        Binding("f", "app.toggle_follow", "Follow"),
        Binding("e", "app.enter_namespaces", "Enter ns"),
        Binding("M", "app.move_to_cgroup", "Move to cgroup"),
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
