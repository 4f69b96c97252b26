"""The helper's start-up cost is a bare interpreter plus the pre-parsed cffi module."""

from __future__ import annotations

import subprocess

import pytest

from nstui.kernel import nshelper


@pytest.mark.parametrize("heavy", ["typing", "enum", "json", "argparse", "subprocess", "psutil"])
def test_helper_start_stays_light(heavy: str) -> None:
    """The helper pays a bare interpreter start plus _ffi: nothing heavier gets imported."""
    boot = nshelper.helper_command("run")[:7]  # python -I -S -c BOOT PKG CFFI
    code = (
        "import sys;sys.path[:0]=sys.argv[1:3];import nstui.kernel.nshelper_main;"
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [*boot[:4], code, *boot[5:7]], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "nstui.kernel._ffi" in loaded
    assert heavy not in loaded
