"""Device mapper, read-only: a recorded /sys/block tree and recorded `dmsetup table` output;
this host has no dm devices (no device-mapper in its kernel), so the live report says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nstui.kernel.devmapper import NONE_HERE, dm_report, parse_dmsetup_table
from nstui.kernel.mountinfo import parse_mountinfo_line
from nstui.kernel.nstypes import NsId, NsType
from nstui.kernel.union_mounts import MountNamespace, MountScan

TABLE = """\
vg0-root: 0 41943040 linear 8:2 2048
vg0-pool_tmeta: 0 8192 linear 8:2 41945088
vg0-pool_tdata: 0 20971520 linear 8:2 41953280
vg0-pool-tpool: 0 20971520 thin-pool 253:1 253:2 128 0 0
vg0-thin1: 0 4194304 thin 253:3 1
vg0-snap: 0 41943040 snapshot 253:0 8:3 P 8
vg0-striped: 0 1024 striped 2 64 8:2 0 8:3 0
vg0-striped: 1024 1024 linear 8:4 0
"""


def _device(base: Path, kname: str, dev: str, name: str, sectors: int, slaves: list[str]) -> None:
    d = base / kname
    (d / "dm").mkdir(parents=True)
    (d / "slaves").mkdir()
    (d / "dev").write_text(dev + "\n")
    (d / "size").write_text(f"{sectors}\n")
    (d / "ro").write_text("0\n")
    (d / "dm" / "name").write_text(name + "\n")
    (d / "dm" / "uuid").write_text(f"LVM-{name}\n")
    (d / "dm" / "suspended").write_text("0\n")
    for slave in slaves:
        (d / "slaves" / slave).mkdir()


def test_table_parser() -> None:
    tables = parse_dmsetup_table(TABLE)
    assert [t.type for t in tables["vg0-striped"]] == ["striped", "linear"]
    assert tables["vg0-thin1"][0].args == "253:3 1"
    assert tables["vg0-root"][0].length == 41943040
    assert parse_dmsetup_table("No devices found\n") == {}


def test_report_from_recorded_tree(tmp_path: Path) -> None:
    block = tmp_path / "block"
    _device(block, "dm-0", "253:0", "vg0-root", 41943040, ["sda2"])
    _device(block, "dm-4", "253:4", "vg0-thin1", 4194304, ["dm-3"])
    (block / "sda").mkdir()  # not a dm device
    line = "30 1 253:0 / / rw,relatime - ext4 /dev/mapper/vg0-root rw"
    mount = parse_mountinfo_line(line)
    assert mount is not None
    ns = MountNamespace(
        ns=NsId(NsType.MNT, 4, 4026531841), pids=(1, 2), read_via=1, mounts=(mount,), label="init"
    )
    report = dm_report(MountScan(namespaces=(ns,)), sys_block=str(block), table_text=TABLE)
    assert [d.name for d in report.devices] == ["vg0-root", "vg0-thin1"]
    root, thin = report.devices
    assert root.size == 41943040 * 512 and root.slaves == ("sda2",)
    assert root.target_types == ("linear",)
    assert [(m.mountpoint, m.ns) for m in root.mounts] == [("/", ns.ns)]
    assert thin.target_types == ("thin",) and thin.mounts == ()


def test_live_host_has_none() -> None:
    report = dm_report()
    if report.devices:  # a host with dm devices: each has its /dev/mapper name
        assert all(d.name and d.major > 0 for d in report.devices)
    else:
        assert report.notes and report.notes[0].startswith(NONE_HERE)


def test_cli_says_none_or_lists() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nstui", "dm", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["devices"] or data["notes"][0].startswith(NONE_HERE)
    text = subprocess.run(
        [sys.executable, "-m", "nstui", "dm"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert text.returncode == 0
    assert data["devices"] or NONE_HERE in text.stdout
