"""``nstui run/enter/keep/release`` end to end: exit statuses and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.nsactions.conftest import Targets, nsfs_mounted

pytestmark = pytest.mark.root


def nstui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nstui", *args], capture_output=True, text=True, timeout=30
    )


def test_run_prints_the_new_hostname_and_returns_the_command_status() -> None:
    done = nstui("run", "--ns", "uts", "--hostname", "clibox", "--", "sh", "-c", "hostname; exit 4")
    assert (done.returncode, done.stdout, done.stderr) == (4, "clibox\n", "")


def test_run_pid_namespace_with_fresh_proc() -> None:
    done = nstui("run", "--ns", "pid", "--mount-proc", "--", "sh", "-c", "echo $$; ls /proc | wc")
    assert done.returncode == 0
    assert done.stdout.splitlines()[0] == "1"


def test_bad_arguments_exit_2_and_helper_errors_exit_1(targets: Targets) -> None:
    bad = nstui("run", "--ns", "net,bogus", "--", "true")
    assert bad.returncode == 2
    assert bad.stderr.startswith("nstui run: unknown namespace type 'bogus'")
    gone = nstui("enter", "999999999", "--", "true")
    assert (gone.returncode, gone.stderr) == (1, "nstui: process 999999999 does not exist\n")
    pid = targets.start(["--net"], "exec sleep 1000")
    missing = nstui("enter", str(pid), "--ns", "net", "--", "no-such-command-nstui")
    assert missing.returncode == 1
    assert missing.stderr == (
        f"nstui: no-such-command-nstui: command not found in process {pid}'s namespaces\n"
    )


def test_enter_matches_nsenter(targets: Targets) -> None:
    pid = targets.start(["--net", "--uts"], "hostname clitarget; exec sleep 1000")
    ours = nstui("enter", str(pid), "--", "sh", "-c", "hostname; ip -o link")
    theirs = subprocess.run(
        ["nsenter", "-t", str(pid), "-n", "-u", "sh", "-c", "hostname; ip -o link"],
        capture_output=True,
        text=True,
    )
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout


def test_keep_and_release(
    targets: Targets, tmp_path: Path, kept_paths: Callable[[Path], str]
) -> None:
    pid = targets.start(["--uts"], "exec sleep 1000")
    path = kept_paths(tmp_path / "uts-kept")
    kept = nstui("keep", str(pid), "uts", path)
    assert kept.returncode == 0, kept.stderr
    assert nsfs_mounted(path)
    assert os.stat(path).st_ino == os.stat(f"/proc/{pid}/ns/uts").st_ino
    again = nstui("keep", str(pid), "uts", path)
    assert again.returncode == 1 and "already keeps uts:[" in again.stderr
    released = nstui("release", path)
    assert released.returncode == 0, released.stderr
    assert not nsfs_mounted(path) and not os.path.exists(path)


def test_detached_run_reports_pid_and_log_as_json() -> None:
    done = nstui("run", "--ns", "pid", "--detach", "-J", "--", "sh", "-c", "echo started; exit 0")
    assert done.returncode == 0, done.stderr
    started = json.loads(done.stdout)
    assert started["command"] == ["sh", "-c", "echo started; exit 0"]
    log = Path(started["log"])
    try:
        deadline = time.monotonic() + 10
        while "started" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert log.read_text().splitlines()[-1] == "started"
        assert log.stat().st_mode & 0o077 == 0  # output of a root command: owner only
    finally:
        log.unlink(missing_ok=True)
