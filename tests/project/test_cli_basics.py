"""util-linux manners of the CLI: one-line errors and status 2 for bad arguments."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _nstui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nstui", *args], capture_output=True, text=True, timeout=60
    )


def test_unknown_option_is_one_line_and_status_2() -> None:
    result = _nstui("--no-such-option")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_unknown_subcommand_is_status_2() -> None:
    result = _nstui("no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e-9", "abc"])
def test_bad_interval_is_status_2(value: str) -> None:
    result = _nstui("--interval", value)
    assert result.returncode == 2
    assert "interval" in result.stderr
    assert "Traceback" not in result.stderr


def test_version() -> None:
    result = _nstui("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("nstui ")


def test_tui_without_a_terminal_says_so() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nstui"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "not a terminal" in result.stderr
    assert result.stdout == ""


def test_module_entry_point_keeps_one_line_errors() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nstui.cli.main", "ns", "--type", "bogus"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
