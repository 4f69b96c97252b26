"""The suite's leak check and shared fixtures, tested on real kernel objects.

A nested pytest run that leaks a cgroup, a mount, an nsfs bind mount and a process must fail
and name each; one that makes the same objects through the shared fixtures must pass; and
after both, nothing is left on the host.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from . import kobjects, leaks
from .leakcheck import session_tag

TESTS_DIR = Path(__file__).resolve().parents[1]

INNER_CONFTEST = f"""
import sys
sys.path.insert(0, {str(TESTS_DIR)!r})
from reliability import leakcheck
from reliability.fixtures import spawn, test_cgroup_parent, tmp_mount  # noqa: F401


def pytest_configure(config):
    config.pluginmanager.register(leakcheck.LeakCheckPlugin(), "nstui-leakcheck")
"""

LEAKY_TEST = """
import os
import pathlib
import subprocess


def test_leaks(tmp_path):
    tag = os.environ["NSTUI_TEST_SESSION"]
    cg = pathlib.Path("/sys/fs/cgroup/pids") / f"nstui-test-{tag}-leaky"
    cg.mkdir()
    mnt = tmp_path / "m"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "nstui-leak", str(mnt)], check=True)
    netfile = tmp_path / "netns"
    netfile.touch()
    subprocess.run(["unshare", f"--net={netfile}", "true"], check=True)
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    subprocess.run(["setsid", "--fork", "sleep", "301"], check=True)  # an orphan, parent pid 1
    pathlib.Path(os.environ["LEAK_RECORD"]).write_text(
        "\\n".join([str(cg), str(mnt), str(netfile), str(proc.pid)])
    )
"""

TIDY_TEST = """
import subprocess

from nstui.kernel import procfs
from nstui.model.scanner import LiveSource


def test_tidy(test_cgroup_parent, spawn, tmp_mount, monkeypatch):
    # nstui's scan helper process lives as long as its parent: not a leak
    monkeypatch.setattr(procfs, "PARALLEL_MIN", 1)
    LiveSource().take()
    parent = test_cgroup_parent("pids")
    (parent / "child").mkdir()
    proc = spawn(["sleep", "300"])
    (parent / "child" / "cgroup.procs").write_text(str(proc.pid))
    spawn(["unshare", "--fork", "--pid", "sleep", "300"])  # its pid 1 outlives a plain kill
    target = tmp_mount.dir("m")
    subprocess.run(["mount", "-t", "tmpfs", "nstui-tidy", str(target)], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "nstui-tidy2", str(target)], check=True)
"""


def _run_inner(
    workdir: Path, test_source: str, env_extra: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    workdir.mkdir()
    (workdir / "conftest.py").write_text(INNER_CONFTEST)
    (workdir / "pytest.ini").write_text("[pytest]\n")
    (workdir / "test_inner.py").write_text(textwrap.dedent(test_source))
    env = {**os.environ, **env_extra, "NSTUI_LEAK_CHECK": "1"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--basetemp={workdir / 'tmp'}",
            "test_inner.py",
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.root
def test_leaking_session_fails_and_names_each_object(tmp_path: Path) -> None:
    record = tmp_path / "record"
    result = _run_inner(tmp_path / "leaky", LEAKY_TEST, {"LEAK_RECORD": str(record)})
    out = result.stdout + result.stderr
    cg, mnt, netfile, pid = record.read_text().split("\n")
    assert result.returncode == 1, out
    assert "1 passed" in out, out  # the test passed; the leak check failed the run
    assert "LEAKED by this test session (5):" in out, out
    assert f"cgroup {cg}" in out
    assert f"mount {mnt} (tmpfs nstui-leak)" in out
    assert f"mount {netfile} (nsfs net:[" in out
    assert f"process {pid} (sleep 300)" in out
    assert "(sleep 301)" in out, "an orphaned process is found by the tag in its environment"
    # ... and the check removed them, so later runs start clean.
    assert not Path(cg).exists()
    assert not kobjects.mounted_at(mnt)
    assert not kobjects.mounted_at(netfile)
    assert not Path(f"/proc/{pid}").exists() or _state(int(pid)) in ("Z", "X")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return "X"


@pytest.mark.root
def test_shared_fixtures_clean_up_so_the_check_passes(tmp_path: Path) -> None:
    result = _run_inner(tmp_path / "tidy", TIDY_TEST, {})
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "1 passed" in out
    assert "LEAKED" not in out


@pytest.mark.root
def test_inventory_tells_session_objects_from_foreign_ones(tmp_path: Path) -> None:
    markers = leaks.Markers(tag=session_tag(), session_pid=os.getpid(), basetemp=str(tmp_path))
    before = leaks.take_inventory(markers)
    foreign = Path("/sys/fs/cgroup/pids") / "nstui-h6-foreign-not-a-test-object"
    foreign.mkdir()
    ours = kobjects.make_cgroup_parent("pids", markers.tag)
    spawner = kobjects.Spawner()
    try:
        proc = spawner(["sleep", "60"], env={"PATH": os.environ.get("PATH", "/usr/bin")})
        report = leaks.compare(before, leaks.take_inventory(markers), markers)
        assert f"cgroup {ours}" in report.leaks
        assert f"cgroup {foreign}" in report.notes  # new, but not marked as a test object
        # descended from this process, even though its environment lost the session tag
        assert any(line.startswith(f"process {proc.pid} ") for line in report.leaks)
    finally:
        spawner.close()
        kobjects.remove_cgroup_tree(ours)
        foreign.rmdir()
    assert leaks.compare(before, leaks.take_inventory(markers), markers).ok


def test_netns_entries_are_listed(tmp_path: Path) -> None:
    (tmp_path / "nstui-test-x").touch()
    assert leaks.list_netns(str(tmp_path)) == frozenset({str(tmp_path / "nstui-test-x")})
    assert leaks.list_netns(str(tmp_path / "absent")) == frozenset()


def test_spawn_refuses_a_shell_string() -> None:
    with pytest.raises(TypeError, match="argv list"):
        kobjects.Spawner()("sleep 1")
