"""``nstui ns`` against util-linux lsns on the live host, and its argument manners."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nstui.cli.main import main
from nstui.kernel.nstypes import NS_TYPES

from .conftest import Procs, forked_sleeper, ns_inode


def nstui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nstui", *args], capture_output=True, text=True, timeout=120
    )


def lsns_json() -> dict[int, dict[str, Any]]:
    """lsns -J's namespaces by inode. lsns nests an entry under ``children`` of the one whose
    lowest pid is an ancestor of its own (a process tree); nstui's list is flat like
    ``lsns -J --list``, so flatten."""
    out = subprocess.run(["lsns", "-J"], capture_output=True, text=True, timeout=120, check=True)
    flat: dict[int, dict[str, Any]] = {}
    todo: list[dict[str, Any]] = list(json.loads(out.stdout)["namespaces"])
    while todo:
        entry = todo.pop()
        todo.extend(entry.pop("children", []))
        flat[entry["ns"]] = entry
    return flat


def forks_since_boot() -> int:
    """/proc/stat ``processes``: every fork and clone since boot."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("processes "):
            return int(line.split()[1])
    raise AssertionError("no processes line in /proc/stat")


def live_pids() -> set[int]:
    return {int(name) for name in os.listdir("/proc") if name.isdigit()}


def quiet_namespaces(procs: Procs) -> tuple[int, dict[int, int]]:
    """A child in new namespaces of every type whose membership nothing else changes:
    (child pid, inode -> expected process count)."""
    argv = ["unshare", "--user", "--map-root-user", "--pid", "--net", "--uts", "--ipc"]
    argv += ["--mount", "--cgroup", "--time", "--fork", "sleep", "1000"]
    _outer, child = forked_sleeper(procs, argv)
    # unshare itself joins all but pid and time (those apply to its children)
    return child, {
        ns_inode(child, t.value): 1 if t.value in ("pid", "time") else 2 for t in NS_TYPES
    }


@pytest.mark.root
def test_every_lsns_namespace_is_listed_with_type_and_count(procs: Procs) -> None:
    child, quiet = quiet_namespaces(procs)
    pids_before, forks_before = live_pids(), forks_since_boot()
    first = lsns_json()
    result = nstui("ns", "--json")
    second = lsns_json()
    forks_during = forks_since_boot() - forks_before
    # processes that started or ended between the runs: every fork (lsns, nstui and any
    # other activity on the host) plus every process that was there before and is gone now
    churn = forks_during + len(pids_before - live_pids())

    assert result.returncode == 0, result.stderr
    ours = {e["ns"]: e for e in json.loads(result.stdout)["namespaces"]}
    stable = [ino for ino in first if ino in second]
    assert stable, "lsns listed nothing"
    for ino in stable:
        theirs = first[ino]
        assert ino in ours, f"lsns lists {theirs['type']}:[{ino}], nstui ns does not"
        assert ours[ino]["type"] == theirs["type"]
        assert isinstance(ours[ino]["ns"], int)
        low = min(theirs["nprocs"], second[ino]["nprocs"]) - churn
        high = max(theirs["nprocs"], second[ino]["nprocs"]) + churn
        assert low <= ours[ino]["nprocs"] <= high, (ino, theirs, ours[ino]["nprocs"], churn)

    # the quiet namespaces cannot have changed: exact agreement, pid and command too
    for ino, count in quiet.items():
        assert first[ino]["nprocs"] == second[ino]["nprocs"] == count
        assert ours[ino]["nprocs"] == count
        for key in ("type", "pid", "user", "command"):
            assert ours[ino][key] == first[ino][key], (ino, key)
    assert ours[ns_inode(child, "pid")]["command"] == "sleep 1000"


@pytest.mark.root
def test_json_has_lsns_fields_with_lsns_types_and_own_fields(procs: Procs) -> None:
    child, _quiet = quiet_namespaces(procs)
    result = nstui("ns", "--json", "--type", "pid,user")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)["namespaces"]
    assert {e["type"] for e in entries} == {"pid", "user"}
    by_ino = {e["ns"]: e for e in entries}
    pid_ns = by_ino[ns_inode(child, "pid")]
    user_ino = ns_inode(child, "user")
    assert pid_ns["pid"] == child and pid_ns["nprocs"] == 1
    assert pid_ns["ons"] == pid_ns["owner"] == user_ino
    assert pid_ns["pns"] == pid_ns["parent"] == ns_inode("self", "pid")
    assert pid_ns["held_only"] is False and pid_ns["holders"] == []
    assert pid_ns["facts"] == {"level": 1, "init_pid": child}
    assert by_ino[user_ino]["facts"]["uid_map"] == [
        {"inside": 0, "outside": os.geteuid(), "count": 1}
    ]
    # the initial user namespace has no owner: lsns prints 0, nstui's own field null
    top = by_ino[ns_inode("self", "user")]
    assert top["ons"] == 0 and top["owner"] is None


@pytest.mark.root
def test_table_and_tree(procs: Procs) -> None:
    child, _quiet = quiet_namespaces(procs)
    table = nstui("ns", "-t", "net")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NS", "TYPE", "NPROCS", "PID", "USER", "OWNER", "PARENT", "COMMAND"]
    row = next(line.split() for line in lines if line.split()[0] == str(ns_inode(child, "net")))
    assert row[1:4] == ["net", "2", str(min(child, *[int(w) for w in row[3:4]]))]
    assert row[5] == str(ns_inode(child, "user"))

    tree = nstui("ns", "--tree", "-t", "pid")
    assert tree.returncode == 0, tree.stderr
    host_line, *rest = [line for line in tree.stdout.splitlines()[1:] if line]
    assert host_line.startswith(str(ns_inode("self", "pid")))
    nested = [line for line in rest if str(ns_inode(child, "pid")) in line]
    assert len(nested) == 1 and nested[0].lstrip("│ ").startswith(("└─", "├─"))


def test_bad_type_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ns", "--type", "bogus"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "bogus" in err
    assert out == ""


def test_tree_of_a_flat_type_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ns", "--tree", "--type", "net"]) == 2
    _out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "--tree" in err


@pytest.mark.root
def test_without_root_lists_what_it_can_read() -> None:
    """As nobody, like lsns: only namespaces of readable processes (its own), no traceback,
    and a note on stderr saying why."""
    argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    argv += [sys.executable, "-m", "nstui", "ns", "--json"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "not root" in result.stderr
    entries = json.loads(result.stdout)["namespaces"]
    assert {e["type"] for e in entries} == {t.value for t in NS_TYPES}
    assert all(e["user"] == "nobody" for e in entries if e["nprocs"])


@pytest.mark.root
def test_task_and_namespace_filters(procs: Procs) -> None:
    child, _quiet = quiet_namespaces(procs)
    result = nstui("ns", "--json", "-p", str(child))
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)["namespaces"]
    assert {(e["type"], e["ns"]) for e in entries} == {
        (t.value, ns_inode(child, t.value)) for t in NS_TYPES
    }
    net = ns_inode(child, "net")
    for arg in (str(net), f"net:[{net}]"):
        result = nstui("ns", "--json", arg)
        assert result.returncode == 0, result.stderr
        assert [e["ns"] for e in json.loads(result.stdout)["namespaces"]] == [net]


def test_bad_namespace_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ns", "bogus:[1]"]) == 2
    _out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "bogus" in err
