"""Fixtures for the snapshot tests: helpers to find a spawned process in a scan."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from nstui.kernel import procfs


@pytest.fixture(autouse=True, scope="module")
def _end_scan_helper() -> Iterator[None]:
    """Scans may start the helper process for the second core; end it with the module so
    the suite's leak check does not see it."""
    yield
    procfs.close_helper()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll PREDICATE until true; fail the test after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.02)
