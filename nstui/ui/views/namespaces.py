"""View 2: namespaces grouped by type; user and pid namespaces also as their nesting tree.

Rows: one header per type (key ``("type", name)``), one row per namespace (key ``NsId``) and,
only under namespaces the user expanded, one row per member process (key ``(NsId, pid)``):
the host's namespaces hold every process, and building 8 x 10,000 member rows per refresh
would be wasted work.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from nstui.kernel.namespaces import HolderKind, Namespace
from nstui.kernel.nstypes import NS_TYPES, NsId, NsType
from nstui.model.containers import label_for_namespace
from nstui.model.snapshot import Snapshot
from nstui.ui.rows import Column, Key, Row, RowSet
from nstui.ui.widgets.rowtable import RowTable

COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 28),
    Column("PROCS", 6, right=True, descending_first=True),
    Column("OWNER USERNS", 19),
    Column("KEPT BY", 7),
    Column("LABEL", 0),
)
#: Types whose namespaces have parents (NS_GET_PARENT)
NESTING_TYPES = (NsType.USER, NsType.PID)


def type_key(ns_type: NsType) -> tuple[str, str]:
    return ("type", ns_type.value)


def _kept_by(namespace: Namespace) -> str:
    kinds = {h.kind for h in namespace.holders}
    parts = [k for k in (HolderKind.BIND_MOUNT, HolderKind.OPEN_FD) if k in kinds]
    return "+".join(p.value for p in parts)


def build_namespace_rows(
    snapshot: Snapshot,
    expanded: frozenset[Key],
    *,
    nesting: bool = False,
    memo: NamespaceRowMemo | None = None,
) -> RowSet:
    """Rows for every namespace; member rows only for namespaces in ``expanded``.

    ``memo`` (one per caller thread) carries the rows of namespaces unchanged since its last
    build: the host's namespaces list every pid, and joining 8 x 10,000 pids into search
    texts on every refresh would be most of the cost."""
    host = snapshot.host.host_ns
    by_type: dict[NsType, list[Namespace]] = {t: [] for t in NS_TYPES}
    for namespace in snapshot.namespaces.values():
        by_type[namespace.type].append(namespace)
    rows: list[Row] = []
    made: dict[NsId, tuple[Namespace, Key, bool, str, Row]] = {}
    for ns_type in NS_TYPES:
        members = sorted(by_type[ns_type], key=lambda n: (not n.pids, n.pids[:1], n.id.ino))
        count = len(members)
        rows.append(
            Row(
                key=type_key(ns_type),
                parent=None,
                cells=(f"{ns_type.value} namespaces", str(count), "", "", ""),
                sort=(ns_type.value, count, None, None, None),
                search=f"{ns_type.value} namespaces",
                style="bold",
            )
        )
        host_id = host.get(ns_type)
        for namespace in members:
            ns_id = namespace.id
            parent = _parent_key(snapshot, namespace, nesting)
            is_host = ns_id == host_id
            label = label_for_namespace(snapshot, ns_id)
            known = memo.rows.get(ns_id) if memo is not None else None
            if (
                known is not None
                and (known[0] is namespace or known[0] == namespace)
                and known[1] == parent
                and known[2] == is_host
                and known[3] == label
            ):
                row = known[4]
            else:
                row = _namespace_row(namespace, parent, is_host, label)
            made[ns_id] = (namespace, parent, is_host, label, row)
            rows.append(row)
            if ns_id in expanded:
                rows.extend(_member_rows(snapshot, namespace))
    if memo is not None:
        memo.rows = made
    return RowSet.build(rows)


class NamespaceRowMemo:
    """The namespace rows of the last build and what they were made from (see
    ``build_namespace_rows``); used by one thread."""

    def __init__(self) -> None:
        self.rows: dict[NsId, tuple[Namespace, Key, bool, str, Row]] = {}


def _pids_text(namespace: Namespace) -> str:
    return " ".join(map(str, namespace.pids))


def _parent_key(snapshot: Snapshot, namespace: Namespace, nesting: bool) -> Key:
    ns_id = namespace.id
    if nesting and ns_id.type in NESTING_TYPES and namespace.parent in snapshot.namespaces:
        return namespace.parent
    return type_key(ns_id.type)


def _namespace_row(namespace: Namespace, parent: Key, is_host: bool, label: str) -> Row:
    ns_id = namespace.id
    kept = _kept_by(namespace)
    # The owner is always a user namespace: its inode says enough, as lsns prints it.
    owner = str(namespace.owner.ino) if namespace.owner is not None else ""
    if namespace.owner_uid is not None:
        owner = f"{owner} uid {namespace.owner_uid}".strip()
    name = str(ns_id) + (" host" if is_host else "")
    style = "italic" if namespace.held_only else ("bold" if not is_host else "")
    return Row(
        key=ns_id,
        parent=parent,
        cells=(name, str(namespace.nprocs), owner, kept, label),
        sort=(ns_id.ino, namespace.nprocs, owner, kept or None, label.lower()),
        # member pids too, so `/ PID` finds a process's namespaces without expanding them
        search=f"{ns_id} {ns_id.ino} {label} {kept} {owner} {_pids_text(namespace)}".lower(),
        style=style,
        cell_styles=("", "", "dim", "magenta", "cyan"),
        expandable=bool(namespace.pids),
        expanded=False,
    )


def _member_rows(snapshot: Snapshot, namespace: Namespace) -> list[Row]:
    ns_id = namespace.id
    procs = snapshot.processes
    out: list[Row] = []
    for pid in namespace.pids:
        proc = procs.get(pid)
        command = proc.command if proc is not None else "?"
        user = (proc.user or "") if proc is not None else ""
        out.append(
            Row(
                key=(ns_id, pid),
                parent=ns_id,
                cells=(f"pid {pid}", "", user, "", command),
                sort=(pid, None, user, None, command.lower()),
                search=f"{pid} {user} {command}".lower(),
                cell_styles=("", "", "", "", ""),
            )
        )
    return out


class NamespacesView(RowTable):
    """Namespaces by type; Space/right expands a namespace to its member processes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "toggle_nesting", "Nesting"),
        Binding("e", "app.enter_namespaces", "Enter ns"),
        Binding("K", "app.keep_namespace", "Keep"),
        Binding("R", "app.release_namespace", "Release"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, tree_column=0, tree=True, id=id)
        self.nesting = False
        self.snapshot: Snapshot | None = None
        self.on_expand_lazy = self._expand_lazy

    def expanded_keys(self, extra: Key | None = None) -> frozenset[Key]:
        keys = frozenset(k for k in self.state.toggled if isinstance(k, NsId))
        return keys | {extra} if extra is not None else keys

    def rows_for(self, snapshot: Snapshot, extra: Key | None = None) -> RowSet:
        return build_namespace_rows(snapshot, self.expanded_keys(extra), nesting=self.nesting)

    def _expand_lazy(self, key: Key) -> None:
        if self.snapshot is not None and isinstance(key, NsId):
            self.set_rows(self.rows_for(self.snapshot, key), mark_fresh=False)

    def action_toggle_nesting(self) -> None:
        self.nesting = not self.nesting
        if self.snapshot is not None:
            self.set_rows(self.rows_for(self.snapshot), mark_fresh=False)
        self.notify(
            "User and pid namespaces nested by parent" if self.nesting else "Grouped by type",
            timeout=1.5,
        )

    @property
    def selected_ns(self) -> NsId | None:
        key = self.cursor_key
        if isinstance(key, NsId):
            return key
        if isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], NsId):
            return key[0]
        return None

    @property
    def selected_pid(self) -> int | None:
        key = self.cursor_key
        if isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], NsId):
            pid = key[1]
            return pid if isinstance(pid, int) else None
        return None
