"""nstui under process churn: 2,000 process starts at 1,500 a second while snapshots run back
to back and the TUI refreshes on a live source (benchmarks/churn.py does 10,000 and prints the
rates; this test does 2,000 to stay within a few seconds).

What each snapshot must satisfy is described and checked in churncheck.py. The churn runs
once per module; each test below asserts one promise about it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import kobjects
from .churncheck import ChurnResult, run_churn

STARTS = 2_000

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def churn() -> Iterator[ChurnResult]:
    from .fixtures import require_root

    require_root("churn starts processes in new namespaces and cgroups")
    tag = uuid.uuid4().hex[:8]
    parents: list[Path] = []
    try:
        for controller in ("pids", "unified"):
            try:
                parents.append(kobjects.make_cgroup_parent(controller, tag))
            except kobjects.ControllerMissing:
                continue
        result = run_churn(STARTS, [str(p) for p in parents], tag=tag, timeout=120)
        print(f"churn: {result.driver.get('starts')} starts at {result.rate:.0f}/s")
        yield result
    finally:
        left = [err for p in parents for err in kobjects.remove_cgroup_tree(p)]
        assert not left, left


def test_churn_ran_as_described(churn: ChurnResult) -> None:
    assert churn.driver_status == 0, churn.driver_stderr
    assert "Traceback" not in churn.driver_stderr
    assert churn.driver["starts"] >= STARTS
    assert set(churn.driver["launched"]) == {"plain", "unshare", "enter", "cgroup"}
    assert not churn.driver["failures"], churn.driver["failure_examples"]
    assert churn.driver["cgroups_made"] == churn.driver["cgroups_removed"] > 0
    assert churn.driver["threads"] > 0


def test_snapshots_never_raise(churn: ChurnResult) -> None:
    assert not churn.watch.exceptions, "\n".join(churn.watch.exceptions)
    assert churn.watch.snapshots >= 4
    assert churn.watch.full_snapshots >= 1


def test_no_namespace_attributed_to_the_wrong_process(churn: ChurnResult) -> None:
    assert churn.watch.marked_checked > 0, "no churn process was seen to cross-check"
    assert not churn.watch.errors_of("attribution"), churn.watch.errors_of("attribution")


def test_snapshot_keys_and_namespace_members_agree(churn: ChurnResult) -> None:
    problems = churn.watch.errors_of("keys") + churn.watch.errors_of("namespaces")
    assert not problems, "\n".join(problems)


def test_cgroup_members_exist_in_the_same_snapshot(churn: ChurnResult) -> None:
    problems = churn.watch.errors_of("cgroups")
    assert not problems, f"{churn.watch.error_counts}\n" + "\n".join(problems)


def test_tui_refreshes_during_churn(churn: ChurnResult) -> None:
    assert not churn.watch.tui_note, churn.watch.tui_note
    assert churn.watch.tui_refreshes > 0
    assert not [e for e in churn.watch.exceptions if e.startswith("TUI")]
