"""Mount tests record their mounts in a per-test audit log, never in /var/log/nstui."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_audit_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    log_dir = tmp_path_factory.mktemp("audit")
    monkeypatch.setenv("NSTUI_AUDIT_LOG", str(Path(log_dir) / "audit.log"))
