"""The refresh worker reuses rows of unchanged processes and namespaces: what it builds must
equal what a fresh build of the same snapshot gives, whatever changed in between."""

from __future__ import annotations

from dataclasses import replace

from nstui.kernel.namespaces import HolderKind, NsHolder
from nstui.kernel.nstypes import NsType
from nstui.model.snapshot import Snapshot
from nstui.ui.rows import RowSet
from nstui.ui.views.namespaces import NamespaceRowMemo, build_namespace_rows
from nstui.ui.views.processes import ProcessRowBuilder

from .fakes import CONTAINER_NS, base_processes, make_snapshot, proc, with_cpu


def _same(a: RowSet, b: RowSet) -> None:
    assert list(a.rows) == list(b.rows)  # natural order too
    assert a.rows == b.rows
    assert a.children == b.children


def _sequence() -> list[Snapshot]:
    """Snapshots that differ as refreshes do: the same process objects carried over, CPU
    moving, a process exiting, one appearing, one reparented, one exec'ing."""
    first = make_snapshot()
    procs = dict(first.processes)
    same = replace(first, taken_at=first.taken_at + 2)  # every object carried over
    busy = make_snapshot(with_cpu(procs.values(), {12: 40.0, 22: 3.0}))
    gone = make_snapshot([p for p in busy.processes.values() if p.pid != 12])
    born = make_snapshot([*gone.processes.values(), proc(30, 1, "/usr/bin/newcomer")])
    moved = make_snapshot(
        [replace(p, ppid=1) if p.pid == 11 else p for p in born.processes.values()]
    )
    execd = make_snapshot(
        [
            replace(p, cmdline=("nginx", "-s", "reload"), ns=dict(CONTAINER_NS))
            if p.pid == 22
            else p
            for p in moved.processes.values()
        ]
    )
    return [first, same, busy, gone, born, moved, execd, execd]


def test_process_rows_reused_equal_a_fresh_build() -> None:
    builder = ProcessRowBuilder()
    for snapshot in _sequence():
        _same(builder.build(snapshot), ProcessRowBuilder().build(snapshot))


def test_unchanged_processes_keep_their_row_objects() -> None:
    builder = ProcessRowBuilder()
    first = make_snapshot()
    a = builder.build(first)
    b = builder.build(replace(first, taken_at=first.taken_at + 2))
    assert all(b.rows[k] is a.rows[k] for k in a.rows)
    assert b.children is a.children  # same shape: the layout can be reused as well
    busy = make_snapshot(with_cpu(first.processes.values(), {12: 40.0}))
    c = builder.build(busy)
    assert c.rows[12].cells[2] == "40.0"
    assert c.rows[12] is not b.rows[12]


def test_namespace_rows_with_a_memo_equal_a_fresh_build() -> None:
    memo = NamespaceRowMemo()
    host_net = make_snapshot().host.host_ns[NsType.NET]
    snapshots = _sequence()
    last = snapshots[-1]
    # a namespace gaining a holder: the same members, another description
    held = dict(last.namespaces)
    held[host_net] = replace(
        last.namespaces[host_net], holders=(NsHolder(HolderKind.BIND_MOUNT, 1, "/run/netns/x"),)
    )
    snapshots.append(replace(last, namespaces=held))
    for snapshot in snapshots:
        for expanded in (frozenset(), frozenset({host_net})):
            for nesting in (False, True):
                got = build_namespace_rows(snapshot, expanded, nesting=nesting, memo=memo)
                _same(got, build_namespace_rows(snapshot, expanded, nesting=nesting))


def test_namespace_row_follows_its_label() -> None:
    memo = NamespaceRowMemo()
    first = make_snapshot(base_processes())
    host_pid = first.host.host_ns[NsType.PID]
    before = build_namespace_rows(first, frozenset(), memo=memo)
    # pid 1 exec'd another init: the same namespace objects, a new label for the host's
    renamed = [
        replace(p, cmdline=("/lib/systemd/systemd",), comm="systemd") if p.pid == 1 else p
        for p in first.processes.values()
    ]
    second = replace(first, processes={p.pid: p for p in renamed})
    got = build_namespace_rows(second, frozenset(), memo=memo)
    _same(got, build_namespace_rows(second, frozenset()))
    assert before.rows[host_pid].cells[4] == "/sbin/init"
    assert got.rows[host_pid].cells[4] == "/lib/systemd/systemd"
