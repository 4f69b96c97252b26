"""The hostname helper's answer parser, and its caller without privileges."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nstui.kernel.ns_inside import parse_answer


def test_parse_answer() -> None:
    data = b"12 71612d6e73\n13 \n14 zz\nnot a line\n15 ff00\n"
    assert parse_answer(data) == {12: "qa-ns", 15: "\udcff\x00"}  # bytes kept as fsdecode does


@given(st.binary(max_size=200))
def test_parse_answer_never_raises(data: bytes) -> None:
    for pid, name in parse_answer(data).items():
        assert pid >= 0 and isinstance(name, str)


@pytest.mark.root
def test_without_cap_sys_admin_no_helper_and_no_error() -> None:
    """A user without CAP_SYS_ADMIN gets an empty answer at once (no helper is started)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("util-linux setpriv is missing")
    code = (
        "from nstui.kernel.ns_inside import can_enter, read_hostnames;"
        "print(can_enter(), read_hostnames([1, 2]))"
    )
    done = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "{}"]


def test_helper_stays_light_for_hostnames() -> None:
    """The hostname helper pays only a bare interpreter start: no socket, enum or typing."""
    from nstui.kernel.helper_boot import CFFI_DIR, PKG_DIR

    code = (
        "import sys;sys.path[:0]=sys.argv[1:3];"
        "from nstui.kernel.ns_inside_main import main;main(['/proc']);"
        "print(' '.join(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, PKG_DIR, CFFI_DIR],
        input=f"{os.getpid()} 0 0\n".encode(),
        capture_output=True,
        timeout=60,
        check=True,
    )
    *answer, modules = done.stdout.decode().splitlines()
    assert answer == [f"{os.getpid()} {os.fsencode(os.uname().nodename).hex()}"]
    loaded = set(modules.split())
    assert {"nstui.kernel.ns_inside_main", "nstui.kernel._ffi"} <= loaded
    assert not loaded & {"socket", "enum", "typing", "ipaddress", "subprocess", "dataclasses"}
