"""QA: entering a live process one may not enter says so; it does not claim the process is gone.

Found by QA: as nobody, ``nstui enter 1 -- true`` printed "process 1 is gone" (the helper's
liveness probe, pidfd_send_signal(0), fails with EPERM for another user's process).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
from reliability.test_unprivileged import as_nobody  # noqa: F401  (fixture)

pytestmark = pytest.mark.root


def test_enter_a_root_process_as_nobody_is_refused_for_permission(
    as_nobody: Callable[..., subprocess.CompletedProcess[str]],  # noqa: F811
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    target = spawn(["sleep", "60"], stdin=subprocess.DEVNULL)
    result = as_nobody("enter", str(target.pid), "--ns", "net", "--", "true")
    assert target.poll() is None
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "is gone" not in result.stderr, result.stderr
    assert "not permitted" in result.stderr or "ermission" in result.stderr, result.stderr
