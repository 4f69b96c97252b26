"""Text from the host never reaches the terminal with escape sequences in it."""

from __future__ import annotations

import pytest

from nstui.kernel.namespaces import HolderKind, Namespace, NsHolder
from nstui.kernel.nstypes import NsId, NsType
from nstui.kernel.procfs import Process
from nstui.model.containers import ContainerLabel, label_for_cgroup_path, label_for_namespace
from nstui.model.describe import describe_cgroup, describe_process, render_text
from nstui.model.printable import printable, printable_lines
from nstui.model.snapshot import HostInfo, Snapshot


def proc(pid: int, ppid: int, *cmdline: str, cgroup: str, comm: str) -> Process:
    return Process(
        pid=pid,
        ppid=ppid,
        comm=comm,
        cmdline=cmdline,
        state="S",
        uid=0,
        user="root",
        nthreads=1,
        start_time=1_700_000_000.0,
        rss=1 << 20,
        cpu_time=0.0,
        nspid=(pid,),
        cgroups={0: cgroup},
    )


def snapshot_of(*processes: Process, namespaces: dict[NsId, Namespace]) -> Snapshot:
    host = HostInfo("host", "6.18", 1_700_000_000.0, 2, 1 << 33, 0, True)
    return Snapshot(
        taken_at=1_700_000_100.0,
        host=host,
        processes={p.pid: p for p in processes},
        namespaces=namespaces,
        hierarchies=(),
        cgroups={},
    )


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("nginx: worker", "nginx: worker"),
        ("\x1b]0;pwned\x07", "\\e]0;pwned\\x07"),
        ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
        ("del\x7f c1\x9b", "del\\x7f c1\\x9b"),
        ("bad\udcffbyte", "bad\\xffbyte"),  # surrogateescape of byte 0xff
        ("abc\u202edcba", "abc\\u202edcba"),
        ("ünïcode ✓ 容器", "ünïcode ✓ 容器"),
    ],
)
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_clean_text_is_returned_as_is() -> None:
    text = "/system.slice/nginx.service"
    assert printable(text) is text


def test_printable_lines_keeps_line_breaks() -> None:
    assert printable_lines("a 1\nb \x1b[2J") == "a 1\nb \\e[2J"


def test_descriptions_and_labels_are_escaped() -> None:
    evil_cmd = ("sh", "-c", "\x1b[2J\x1b]0;owned\x07")
    evil_path = "/lxc.payload.web\x1b[31m"
    snap = snapshot_of(
        proc(1, 0, "/sbin/init", cgroup="/init.scope", comm="systemd"),
        proc(66, 1, *evil_cmd, cgroup=evil_path, comm="x\x1by"),
        namespaces={
            NsId(NsType.NET, 4, 9): Namespace(
                NsId(NsType.NET, 4, 9),
                (),
                holders=(NsHolder(HolderKind.BIND_MOUNT, 1, "/run/\x1bx"),),
            ),
            NsId(NsType.UTS, 4, 8): Namespace(NsId(NsType.UTS, 4, 8), (66,)),
        },
    )
    label = label_for_cgroup_path(evil_path)
    assert label == ContainerLabel("lxc", "web\\e[31m")
    text = render_text(describe_process(snap, 66))
    assert "\x1b" not in text and "\x07" not in text
    assert "\\e[2J\\e]0;owned\\x07" in text and "66 x\\ey" in text
    assert "\x1b" not in render_text(describe_cgroup(snap, 0, evil_path, {"x": "1\n\x1b"}))
    assert label_for_namespace(snap, NsId(NsType.NET, 4, 9)) == "(bind mount /run/\\ex)"
    assert "\x1b" not in label_for_namespace(snap, NsId(NsType.UTS, 4, 8))
