"""Suite-wide test policy.

``@pytest.mark.root`` tests need root and the real kernel. Without root they skip with a
reason; under CI (``NSTUI_STRICT_ROOT=1``, set by .ci/run) that skip becomes a failure, so
root-only tests cannot silently vanish.
"""

from __future__ import annotations

import os

import pytest

STRICT_ROOT = os.environ.get("NSTUI_STRICT_ROOT") == "1"


def require_root(reason: str = "needs root for real namespaces, cgroups and mounts") -> None:
    """Skip (or fail under CI) the calling test when not root."""
    if os.geteuid() == 0:
        return
    if STRICT_ROOT:
        pytest.fail(f"NSTUI_STRICT_ROOT=1 but not root: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("root")
    if marker is not None:
        require_root(*(marker.args[:1]))
