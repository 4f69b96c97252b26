"""View 1: processes as a tree by parent or a flat sortable list."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from nstui.model.containers import container_labels
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


def build_process_rows(snapshot: Snapshot) -> RowSet:
    """Rows for every process, keyed by pid, parented by ppid. Runs in the refresh worker."""
    host = snapshot.host.host_ns
    labels = container_labels(snapshot)
    procs = snapshot.processes
    rows: list[Row] = []
    for pid in sorted(procs):
        proc = procs[pid]
        flags, differ = ns_flags(proc.ns, host)
        label = labels.get(pid)
        label_text = label.display if label is not None else ""
        user = proc.user if proc.user is not None else ("?" if proc.uid is None else str(proc.uid))
        command = proc.command
        search = " ".join(
            (
                str(pid),
                user,
                command,
                proc.comm,
                label_text,
                *(str(ns.ino) for ns in proc.ns.values()),
                *proc.cgroups.values(),
            )
        ).lower()
        rows.append(
            Row(
                key=pid,
                parent=proc.ppid if proc.ppid in procs else None,
                cells=(
                    str(pid),
                    user,
                    percent(proc.cpu_percent),
                    human_bytes(proc.rss),
                    flags,
                    label_text,
                    command,
                ),
                sort=(
                    pid,
                    user,
                    proc.cpu_percent,
                    proc.rss,
                    differ,
                    label_text or None,
                    command.lower(),
                ),
                search=search,
                style="dim" if proc.is_kernel_thread else "",
                cell_styles=("", "", "", "", "bold yellow" if differ else "dim", "cyan", ""),
                expanded=pid != KTHREADD,
            )
        )
    return RowSet.build(rows)


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
