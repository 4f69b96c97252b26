"""The layering rules of the brief, checked on the code itself."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import nstui.kernel.ffi_build as ffi_build

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _modules_loaded_by(import_line: str) -> set[str]:
    code = f"import json, sys\n{import_line}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return set(json.loads(out.stdout))


def test_kernel_and_model_import_without_textual() -> None:
    # Like harlequin's adapter contract: the data layers must load in a process with no UI.
    mods = _modules_loaded_by(
        "import pkgutil, importlib, nstui.kernel, nstui.model\n"
        "for pkg in (nstui.kernel, nstui.model):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)"
    )
    assert not {m for m in mods if m.split(".")[0] in {"textual", "rich"}}
    assert not {m for m in mods if m.startswith("nstui.ui")}


def test_generated_ffi_module_is_current(tmp_path: pathlib.Path) -> None:
    generated = ffi_build.build(tmp_path)
    committed = ROOT / "nstui" / "kernel" / "_ffi.py"
    assert generated.read_text() == committed.read_text(), "run python -m nstui.kernel.ffi_build"


def test_styles_ship_inside_the_package() -> None:
    from importlib.resources import files

    names = {p.name for p in files("nstui.styles").iterdir()}
    assert any(n.endswith(".tcss") for n in names)
