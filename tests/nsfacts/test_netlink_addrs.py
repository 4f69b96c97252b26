"""Exact addresses of nstui's own network namespace over rtnetlink, against `ip address`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nstui.kernel.netlink_addrs import own_addresses, parse_addr_messages
from nstui.kernel.nsfacts import read_net_facts

REPO = Path(__file__).resolve().parents[2]


def _ip_addresses() -> dict[str, list[str]]:
    ip = shutil.which("ip")
    if ip is None:
        pytest.fail("iproute2 ip is missing")
    out: dict[str, list[str]] = {}
    lines = subprocess.run([ip, "-o", "address"], capture_output=True, text=True, check=True)
    for line in lines.stdout.splitlines():
        words = line.split()
        out.setdefault(words[1], []).append(words[3])
    return out


def test_own_addresses_as_ip_prints_them() -> None:
    found = own_addresses()
    assert found is not None
    assert {k: sorted(v) for k, v in found.items()} == {
        k: sorted(v) for k, v in _ip_addresses().items()
    }


def test_own_namespace_facts_use_netlink() -> None:
    facts = read_net_facts(os.getpid())
    listed = {i.name: list(i.addresses) for i in facts.interfaces if i.addresses}
    assert {k: sorted(v) for k, v in listed.items()} == {
        k: sorted(v) for k, v in _ip_addresses().items()
    }


# Inside a private netns (it and its veth pair vanish when the command exits): the cases /proc
# cannot place are exact here. No traffic is sent.
_SETUP = """set -e
ip link set lo up
ip link add q0 type veth peer name q1
ip addr add 192.168.77.3/24 dev q0
ip addr add 192.168.77.4/24 dev q1
ip addr add 10.9.9.9/32 dev q0
exec "$@"
"""
_PRINT = (
    "import json, os\n"
    "from nstui.kernel.nsfacts import read_net_facts\n"
    "f = read_net_facts(os.getpid())\n"
    "print(json.dumps({i.name: i.addresses for i in f.interfaces}))\n"
)


@pytest.mark.root
def test_exact_where_proc_cannot_tell() -> None:
    argv = ["unshare", "--net", "sh", "-c", _SETUP, "sh", sys.executable, "-c", _PRINT]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["q0"][:2] == ["192.168.77.3/24", "10.9.9.9/32"]
    assert found["q1"][0] == "192.168.77.4/24"


@given(st.binary(max_size=300))
def test_parse_never_raises_but_oserror(data: bytes) -> None:
    try:
        found, _done = parse_addr_messages(data)
    except OSError:
        return
    assert all(isinstance(i, int) and "/" in c for i, c in found)
