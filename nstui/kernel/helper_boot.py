"""How nstui starts its short-lived helper programs (nshelper_main, ns_inside_main).

They run under ``python -I -S`` (no site: no .pth processing, ~10 ms instead of ~30 ms), so
the command line tells them where nstui and _cffi_backend live; the bootstrap puts those two
directories on sys.path and removes them from argv before the helper's ``main()`` sees it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import _cffi_backend

import nstui

PKG_DIR = str(Path(nstui.__file__).resolve().parent.parent)
CFFI_DIR = str(Path(_cffi_backend.__file__).resolve().parent)


def helper_argv(module: str, *args: str) -> list[str]:
    """The argv that runs ``module.main()`` (its return value the exit status) with ARGS as
    its sys.argv[1:]."""
    boot = (
        "import sys;sys.path[:0]=sys.argv[1:3];del sys.argv[1:3];"
        f"from {module} import main;sys.exit(main())"
    )
    return [sys.executable, "-I", "-S", "-c", boot, PKG_DIR, CFFI_DIR, *args]
