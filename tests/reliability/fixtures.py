"""Suite-wide fixtures and the root policy, re-exported by tests/conftest.py.

Kept in a module (not only in conftest.py) so a nested pytest run — the leak check's own
self-test — can load exactly the same fixtures. See tests/conftest.py for how to use them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from . import kobjects, leakcheck

STRICT_ROOT = os.environ.get("NSTUI_STRICT_ROOT") == "1"


def require_root(reason: str = "needs root for real namespaces, cgroups and mounts") -> None:
    """Skip (or fail under CI) the calling test when not root."""
    if os.geteuid() == 0:
        return
    if STRICT_ROOT:
        pytest.fail(f"NSTUI_STRICT_ROOT=1 but not root: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def test_cgroup_parent() -> Iterator[Callable[[str], Path]]:
    """``make(controller) -> Path``: a fresh nstui-test-* cgroup, removed with its children
    (members killed first) at teardown."""
    made: list[Path] = []

    def make(controller: str = "unified") -> Path:
        require_root("creating cgroups needs root")
        try:
            path = kobjects.make_cgroup_parent(controller, leakcheck.session_tag())
        except kobjects.ControllerMissing as exc:
            pytest.skip(str(exc))
        made.append(path)
        return path

    yield make
    # Thaw everything first: a process frozen in one hierarchy cannot die in another.
    for path in made:
        kobjects.thaw_tree(path)
    left: list[str] = []
    for path in reversed(made):
        left += kobjects.remove_cgroup_tree(path)
    assert not left, f"test cgroups could not be removed: {left}"


@pytest.fixture
def spawn() -> Iterator[kobjects.Spawner]:
    """``spawn(argv, **popen_kwargs) -> Popen``; killed (process group) and reaped at teardown."""
    spawner = kobjects.Spawner()
    yield spawner
    spawner.close()


@pytest.fixture
def tmp_mount(tmp_path: Path) -> Iterator[kobjects.MountTracker]:
    """Track mount points (``.dir(name)`` / ``.track(path)``); all unmounted at teardown."""
    tracker = kobjects.MountTracker(tmp_path)
    yield tracker
    errors = tracker.close()
    assert not errors, f"tracked mounts could not be unmounted: {errors}"
