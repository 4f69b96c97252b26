"""Fixtures for the cgroup tests: a sandbox of real cgroups on the v1 hierarchies or the v2
tree, under per-test nstui-test-* parents (shared ``test_cgroup_parent`` fixture, which
thaws, kills members and removes the tree at teardown), and an audit log in tmp_path.

Tests take ``tree`` (parametrised v1 / v2); a layout missing here skips with the reason, so
this host runs v1 (and the hugetlb-only unified tree) and ``make test-v2`` runs v2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nstui.kernel.cgroups.audit import AuditLog
from nstui.kernel.cgroups.hierarchy import discover_hierarchies

from .helpers import Sandbox


@pytest.fixture(params=[1, 2], ids=["v1", "v2"])
def tree(request: pytest.FixtureRequest, test_cgroup_parent: Callable[[str], Path]) -> Sandbox:
    version = int(request.param)
    hierarchies = discover_hierarchies()
    if not any(h.version == version for h in hierarchies):
        other = "this pure cgroup v2 host" if version == 1 else "this host"
        pytest.skip(f"no cgroup v{version} hierarchy on {other}")
    return Sandbox(version, test_cgroup_parent)


@pytest.fixture
def sandbox_v1(test_cgroup_parent: Callable[[str], Path]) -> Sandbox:
    if not any(h.version == 1 for h in discover_hierarchies()):
        pytest.skip("v1-only behaviour; this host is pure cgroup v2")
    return Sandbox(1, test_cgroup_parent)


@pytest.fixture
def sandbox_v2(test_cgroup_parent: Callable[[str], Path]) -> Sandbox:
    if not any(h.version == 2 for h in discover_hierarchies()):
        pytest.skip("no cgroup v2 tree mounted")
    return Sandbox(2, test_cgroup_parent)


@pytest.fixture(autouse=True)
def audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AuditLog]:
    path = tmp_path / "audit" / "audit.log"
    monkeypatch.setenv("NSTUI_AUDIT_LOG", str(path))
    yield AuditLog(str(path))
