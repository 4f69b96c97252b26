"""No invalid value reaches a cgroup write.

1. Statically (ast over nstui/): the writer (nstui/kernel/cgroups/writer.py) is the only code
   that opens cgroup files for writing. Every place that opens any file for writing is listed
   below with the reason it is not a cgroup file; a new one fails until it is reviewed.
2. Dynamically: the writer accepts only a ``Validated`` value (a type only ``knobs.validate``
   can make); a string, or a value for the other cgroup version, is refused before anything
   is opened, audited or written.
"""

from __future__ import annotations

import ast
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from nstui.kernel.cgroups import writer
from nstui.kernel.cgroups.audit import AuditLog
from nstui.kernel.cgroups.hierarchy import Hierarchy
from nstui.kernel.cgroups.knobs import Validated, knob_for, validate
from nstui.kernel.cgroups.paths import CgroupRef
from nstui.kernel.cgroups.values import NoContext

from .fuzzkit import WRITES, WriteAttempted, no_writes

PACKAGE = Path(__file__).resolve().parents[2] / "nstui"
WRITER = "nstui/kernel/cgroups/writer.py"

#: Every function that opens a file for writing, and why it is not a cgroup file.
REVIEWED_WRITE_SITES: dict[str, str] = {
    "nstui/kernel/cgroups/writer.py:write_value": "the cgroup writer itself",
    "nstui/kernel/cgroups/audit.py:AuditLog._append": "the audit log",
    "nstui/kernel/cgroups/audit.py:AuditLog._overwrite": "a change's outcome, in its audit line",
    "nstui/kernel/nshelper.py:_open_log": "a detached command's output log (O_EXCL, 0600)",
    "nstui/kernel/nshelper.py:_registry_write": "the registry of nsfs files `keep` created",
    "nstui/kernel/nshelper_main.py:write_file": "uid_map/gid_map/setgroups of a new user "
    "namespace and the new uts namespace's hostname (enter --cgroup moves the helper from "
    "the caller, through the writer)",
    "nstui/kernel/nshelper_main.py:do_keep": "the empty file an nsfs bind mount goes on "
    "(O_CREAT|O_EXCL; cgroupfs refuses regular files)",
    "nstui/kernel/ffi_build.py:build": "the generated cffi module (build time)",
    "nstui/kernel/killpoint.py:reached": "the kill tests' fifo named in NSTUI_KILL_FIFO (set "
    "only by tests/reliability/test_kill_tui.py)",
    "nstui/ui/theme_store.py:ThemeStore.save": "the user's theme preference",
}

_WRITE_FLAGS = {"O_WRONLY", "O_RDWR", "O_APPEND", "O_CREAT", "O_TRUNC"}
_CGROUP_WORDS = ("cgroup.", "/sys/fs/cgroup", "tasks", "freezer.state", "memory.", "cpu.")


@dataclass(frozen=True)
class Site:
    module: str
    function: str
    line: int

    @property
    def key(self) -> str:
        return f"{self.module}:{self.function}"


def _names(node: ast.AST) -> set[str]:
    out: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Attribute):
            out.add(n.attr)
        elif isinstance(n, ast.Name):
            out.add(n.id)
    return out


def _mode_of(call: ast.Call, position: int) -> str | None:
    for kw in call.keywords:
        if kw.arg == "mode" and isinstance(kw.value, ast.Constant):
            return str(kw.value.value)
    arg = call.args[position] if len(call.args) > position else None
    return str(arg.value) if isinstance(arg, ast.Constant) else None


def _is_write_open(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name in ("write_text", "write_bytes"):
        return True
    if name == "open" and isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "os":
        flags = call.args[1] if len(call.args) > 1 else None
        return flags is not None and bool(_names(flags) & _WRITE_FLAGS)
    if name in ("open", "fdopen"):
        # builtins/io open(file, mode) or path.open(mode)
        position = 0 if isinstance(func, ast.Attribute) and name == "open" else 1
        mode = _mode_of(call, position) or _mode_of(call, 1)
        return mode is not None and any(c in mode for c in "wax+")
    return False


class _Finder(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module = module
        self.stack: list[str] = []
        self.sites: list[Site] = []
        self.functions: dict[str, ast.AST] = {}

    def _visit_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.stack.append(node.name)
        if not isinstance(node, ast.ClassDef):
            self.functions[".".join(self.stack)] = node
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _visit_def

    def visit_Call(self, node: ast.Call) -> None:
        if _is_write_open(node):
            self.sites.append(Site(self.module, ".".join(self.stack) or "<module>", node.lineno))
        self.generic_visit(node)


@functools.cache
def _scan() -> tuple[_Finder, ...]:
    finders: list[_Finder] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "_ffi.py":  # generated
            continue
        module = str(path.relative_to(PACKAGE.parent))
        finder = _Finder(module)
        finder.visit(ast.parse(path.read_text(), filename=module))
        finders.append(finder)
    return tuple(finders)


def test_every_write_site_is_reviewed() -> None:
    sites = [site for finder in _scan() for site in finder.sites]
    assert sites, "the scan found no write at all: it is broken"
    unknown = sorted(
        {f"{s.key} (line {s.line})" for s in sites if s.key not in REVIEWED_WRITE_SITES}
    )
    assert not unknown, (
        "new places open files for writing; make sure none can reach a cgroup file (only "
        f"{WRITER} may), then list them in REVIEWED_WRITE_SITES: {unknown}"
    )


def _strings(node: ast.AST) -> list[str]:
    return [
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def _called_names(node: ast.AST) -> set[str]:
    return {
        n.func.id
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }


def test_only_the_writer_opens_cgroup_files_for_writing() -> None:
    """Outside the writer, no function that writes (or calls a same-module function that
    writes) names a cgroup file or the cgroup mount."""
    offenders: list[str] = []
    for finder in _scan():
        if finder.module == WRITER:
            continue
        writing = {site.function for site in finder.sites}
        for name, node in finder.functions.items():
            calls = _called_names(node)
            if name not in writing and not calls & {w.rsplit(".", 1)[-1] for w in writing}:
                continue
            hits = [s for s in _strings(node) if any(w in s for w in _CGROUP_WORDS)]
            if hits:
                offenders.append(f"{finder.module}:{name} writes and names {hits}")
    assert not offenders, (
        "cgroup files written outside nstui/kernel/cgroups/writer.py (unvalidated, unaudited): "
        + "; ".join(offenders)
    )


def test_no_shell_strings() -> None:
    """No argv is ever joined into a shell string: no shell=True, os.system, os.popen."""
    offenders: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = getattr(func.value, "id", "") if isinstance(func, ast.Attribute) else ""
            if owner == "os" and name in ("system", "popen", "execl", "execlp", "spawnl"):
                offenders.append(f"{path.name}:{node.lineno} os.{name}")
            for kw in node.keywords:
                if kw.arg == "shell" and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    offenders.append(f"{path.name}:{node.lineno} shell=")  # fmt: skip
    assert not offenders, offenders


# --- the writer refuses anything but a validated value -------------------------------------


def _fake_ref(tmp_path: Path) -> CgroupRef:
    (tmp_path / "cgroup.procs").write_text("")
    (tmp_path / "memory.max").write_text("max\n")
    h = Hierarchy(hid=0, version=2, controllers=("memory",), mountpoint=str(tmp_path), root="/")
    return CgroupRef(h, "/")


@pytest.mark.parametrize("value", ["512M", b"512M", 536870912, None, ("memory.max", "1G")])
def test_writer_refuses_unvalidated_values(tmp_path: Path, value: object) -> None:
    ref = _fake_ref(tmp_path)
    audit = AuditLog(str(tmp_path / "audit.log"))
    with no_writes("writer given a raw value"), pytest.raises(TypeError):
        writer.write_value(ref, value, audit)  # type: ignore[arg-type]
    assert (tmp_path / "memory.max").read_text() == "max\n"
    assert not (tmp_path / "audit.log").exists(), "a refused value must not be audited as tried"
    assert not WRITES["writer given a raw value"]


def test_validated_values_cannot_be_forged() -> None:
    knob = knob_for(2, "memory.max")
    assert knob is not None
    with pytest.raises(TypeError):
        Validated(knob, "0", "0")
    with pytest.raises(ValueError, match="empty"):
        validate(knob, "  ", NoContext())  # an empty write would set the limit to 0


def test_writer_refuses_a_value_for_the_other_version(tmp_path: Path) -> None:
    ref = _fake_ref(tmp_path)
    v1_knob = knob_for(1, "memory.limit_in_bytes")
    assert v1_knob is not None
    value = validate(v1_knob, "1G", NoContext())
    audit = AuditLog(str(tmp_path / "audit.log"))
    with no_writes("writer given another version's value"), pytest.raises(ValueError):
        writer.write_value(ref, value, audit)
    assert not (tmp_path / "audit.log").exists()


def test_write_attempts_are_caught_by_the_guard(tmp_path: Path) -> None:
    """The guard the fuzz tests rely on does catch each way of opening for writing."""
    target = tmp_path / "f"
    for opener in (
        lambda: open(target, "w"),  # noqa: SIM115
        lambda: target.write_text("x"),
        lambda: os.open(str(target), os.O_WRONLY | os.O_CREAT),
    ):
        with pytest.raises(WriteAttempted), no_writes("guard self-test"):
            opener()
    assert WRITES["guard self-test"] == 3
    WRITES.pop("guard self-test")
    assert not target.exists()
