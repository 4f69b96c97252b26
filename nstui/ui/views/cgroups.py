"""View 3: the cgroup v2 tree and each v1 hierarchy, named by its controllers.

Memory and CPU columns come from the cgroup's own accounting files when the app was given a
usage reader (read in the refresh worker, through the model: the UI opens no kernel file);
otherwise they are the sums of the member processes' RSS and CPU% over the subtree, and the
column titles say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual.binding import Binding, BindingType

from nstui.kernel.cgroups.hierarchy import Cgroup, Hierarchy
from nstui.model.cgroup_usage import CgKey, CgroupUsage
from nstui.model.containers import label_for_cgroup_path
from nstui.model.snapshot import Snapshot
from nstui.ui.format import human_bytes, percent
from nstui.ui.rows import Column, Key, Row, RowSet
from nstui.ui.widgets.rowtable import RowTable

#: cgroups deeper than this start folded (systemd hosts have hundreds of scopes)
OPEN_DEPTH = 2


def columns(from_files: bool) -> tuple[Column, ...]:
    return (
        Column("CGROUP", 40),
        Column("PROCS", 6, right=True, descending_first=True),
        Column("MEMORY" if from_files else "RSS Σ", 8, right=True, descending_first=True),
        Column("CPU%" if from_files else "CPU% Σ", 7, right=True, descending_first=True),
        Column("LABEL", 0),
    )


def header_key(hid: int) -> tuple[str, int]:
    return ("hierarchy", hid)


def hierarchy_title(h: Hierarchy) -> str:
    if h.version == 2:
        return f"cgroup2 {h.mountpoint}"
    return f"{h.name}  (v1 #{h.hid}, {h.mountpoint})"


def usage_from_processes(snapshot: Snapshot) -> dict[CgKey, CgroupUsage]:
    """Subtree sums of member processes' RSS and CPU% for every cgroup."""
    own: dict[CgKey, tuple[int, float, bool]] = {}
    procs = snapshot.processes
    for key, cg in snapshot.cgroups.items():
        rss = 0
        cpu = 0.0
        known = False
        for pid in cg.pids:
            proc = procs.get(pid)
            if proc is None:
                continue
            if proc.rss is not None:
                rss += proc.rss
            if proc.cpu_percent is not None:
                cpu += proc.cpu_percent
                known = True
        own[key] = (rss, cpu, known)
    total = dict(own)
    # Deepest first, so each cgroup's total is complete before it is added to its parent.
    for key in sorted(own, key=lambda k: k[1].count("/"), reverse=True):
        parent_path = snapshot.cgroups[key].parent_path
        if parent_path is None:
            continue
        pkey = (key[0], parent_path)
        if pkey in total:
            rss, cpu, known = total[key]
            prss, pcpu, pknown = total[pkey]
            total[pkey] = (prss + rss, pcpu + cpu, pknown or known)
    return {k: CgroupUsage(rss, cpu if known else None) for k, (rss, cpu, known) in total.items()}


def build_cgroup_rows(snapshot: Snapshot, usage: Mapping[CgKey, CgroupUsage]) -> RowSet:
    rows: list[Row] = []
    by_hid: dict[int, list[Cgroup]] = {}
    for cg in snapshot.cgroups.values():
        by_hid.setdefault(cg.hid, []).append(cg)
    # v2 first, then v1 hierarchies by id, as lssubsys lists them.
    for h in sorted(snapshot.hierarchies, key=lambda h: (h.version != 2, h.hid)):
        groups = by_hid.get(h.hid, [])
        rows.append(
            Row(
                key=header_key(h.hid),
                parent=None,
                cells=(hierarchy_title(h), "", "", "", ", ".join(h.controllers)),
                sort=(h.hid, None, None, None, None),
                search=f"{h.name} {h.mountpoint}".lower(),
                style="bold",
            )
        )
        for cg in sorted(groups, key=lambda c: c.path):
            rows.append(_cgroup_row(cg, usage.get((cg.hid, cg.path))))
    return RowSet.build(rows)


def _cgroup_row(cg: Cgroup, use: CgroupUsage | None) -> Row:
    parent_path = cg.parent_path
    parent: Key = header_key(cg.hid) if parent_path is None else (cg.hid, parent_path)
    label = label_for_cgroup_path(cg.path) if cg.path != "/" else None
    label_text = label.display if label is not None else ""
    depth = 0 if cg.path == "/" else cg.path.count("/")
    memory = use.memory if use is not None else None
    cpu = use.cpu_percent if use is not None else None
    return Row(
        key=(cg.hid, cg.path),
        parent=parent,
        cells=(
            cg.name,
            str(len(cg.pids)),
            human_bytes(memory),
            percent(cpu),
            label_text,
        ),
        sort=(cg.path, len(cg.pids), memory, cpu, label_text or None),
        search=f"{cg.path} {label_text}".lower(),
        style="" if cg.pids else "dim",
        cell_styles=("", "", "", "", "cyan"),
        expanded=depth < OPEN_DEPTH,
    )


class CgroupsView(RowTable):
    """Every mounted hierarchy; Enter or L opens the limits pane of the selected cgroup."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("L", "app.limits", "Limits"),
        # the audit log is of cgroup changes: its key shows where they are made
        Binding("H", "app.audit_history", "Audit"),
    ]

    def __init__(self, *, from_files: bool = False, id: str | None = None) -> None:
        super().__init__(columns(from_files), tree_column=0, tree=True, id=id)

    @property
    def selected_cgroup(self) -> CgKey | None:
        key = self.cursor_key
        if isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], int):
            hid, path = key
            if isinstance(path, str):
                return (hid, path)
        return None
