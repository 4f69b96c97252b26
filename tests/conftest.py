"""Suite-wide test policy and shared fixtures.

Root policy: ``@pytest.mark.root`` tests need root and the real kernel. Without root they skip
with a reason; under CI (``NSTUI_STRICT_ROOT=1``, set by .ci/run) that skip becomes a failure,
so root-only tests cannot silently vanish.

Leak check: at session start the kernel objects tests could leave behind are listed (mounts
in every visible mount namespace, cgroup directories, /run/netns, the session's processes; see
tests/reliability/leaks.py); at the end the list is taken again and the run FAILS, naming each
leaked object, when a test left one. Leaked objects are then removed so later runs start clean.
``NSTUI_LEAK_CHECK=0`` turns the check off (for debugging a single test only).

Shared fixtures (generic; use them rather than writing cleanup by hand; defined in
tests/reliability/fixtures.py):

``test_cgroup_parent``
    A callable ``make(controller) -> Path``: creates ``<hierarchy>/nstui-test-<tag>-<uuid>``
    in the hierarchy carrying ``controller`` (``memory``, ``cpuset``, ``systemd``...; or
    ``unified``/``v2`` for the v2 root; on a pure v2 host any v2 controller, enabled for the
    parent's children). At teardown every cgroup under each parent is thawed, its processes
    are killed, and the tree is removed deepest first. A controller not mounted here skips.
``spawn``
    A callable ``spawn(argv, **popen_kwargs) -> Popen``: argv list only (no shell), started in
    its own session; at teardown the process group is SIGKILLed by pid and reaped.
``tmp_mount``
    A tracker: ``tmp_mount.dir(name)`` makes a directory under tmp_path and tracks it;
    ``tmp_mount.track(path)`` tracks any mount point (an nsfs bind-mount file too). At
    teardown every mount stacked on each tracked point is unmounted (lazily if busy).
"""

from __future__ import annotations

import pytest
from reliability import leakcheck
from reliability.fixtures import (  # noqa: F401  (fixtures and policy used suite-wide)
    STRICT_ROOT,
    require_root,
    spawn,
    test_cgroup_parent,
    tmp_mount,
)


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("root")
    if marker is not None:
        require_root(*(marker.args[:1]))


def pytest_configure(config: pytest.Config) -> None:
    if leakcheck.enabled():
        config.pluginmanager.register(leakcheck.LeakCheckPlugin(), "nstui-leakcheck")
