"""Fixtures for the UI tests: deterministic clocks, no blinking cursor, no user config, and
the recorded snapshot (tests/data/recorded_snapshot.json) with a refresh sequence from it."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from textual.widgets import Input

from nstui.model.snapshot import Snapshot


@pytest.fixture(autouse=True)
def _stable_ui(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Times print in UTC, inputs do not blink, and no test touches the user's config."""
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(Input, "cursor_blink", False)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def load_recorded_module() -> ModuleType:
    """tests/data/recorded.py, imported by path (tests/ is no package)."""
    name = "nstui_tests_recorded"
    module = sys.modules.get(name)
    if module is None:
        path = Path(__file__).resolve().parents[1] / "data" / "recorded.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


@pytest.fixture
def recorded_snapshot() -> Snapshot:
    """The recorded host (a fresh copy per test: ~60 processes, docker, kubepods, nspawn,
    rootless podman, bind- and fd-held namespaces, hybrid cgroups)."""
    snapshot: Snapshot = load_recorded_module().load_recorded_snapshot()
    return snapshot


@pytest.fixture
def recorded_sequence() -> tuple[Snapshot, Snapshot, Snapshot]:
    """Three snapshots 2 s apart: the recorded one; then pid 2505 appears (docker exec sh in
    nginx); then pid 1253 vanishes and pid 2420 moves to /nstui-demo (memory, pids)."""
    sequence: tuple[Snapshot, Snapshot, Snapshot] = (
        load_recorded_module().recorded_snapshots_sequence()
    )
    return sequence
