"""QA: a process in its own namespaces is not described as "a host process".

Found by QA: a `sleep` launched from the run pane in new pid, mnt, uts and ipc namespaces was
shown as "container: none (a host process)" right above four "own" namespaces.
"""

from __future__ import annotations

from ui.fakes import CONTAINER_NS, base_processes, make_snapshot, proc

from nstui.model.describe import describe_process


def _container_row(pid: int, ns: dict) -> str:  # type: ignore[type-arg]
    snapshot = make_snapshot([*base_processes(), proc(900, 1, "sleep 300", ns=ns)])
    section = describe_process(snapshot, 900).section("Container")
    assert section is not None
    return " ".join(row.value for row in section.rows)


def test_own_namespaces_without_a_runtime_are_not_a_host_process() -> None:
    text = _container_row(900, CONTAINER_NS)
    assert "host process" not in text, text
    assert "pid" in text and "net" in text and "mnt" in text and "uts" in text, text


def test_a_process_in_the_host_namespaces_still_is_one() -> None:
    snapshot = make_snapshot()
    section = describe_process(snapshot, 2).section("Container")
    assert section is not None
    assert "host process" in " ".join(row.value for row in section.rows)
