"""The writer is the only nstui code that opens cgroup files for writing (plus the audit log,
which is no cgroup file): a source scan of every module of the cgroup feature."""

from __future__ import annotations

import re
from pathlib import Path

import nstui

ROOT = Path(nstui.__file__).parent
#: modules allowed to open files for writing, and why
ALLOWED = {
    "kernel/cgroups/writer.py": "the one cgroup writer",
    "kernel/cgroups/audit.py": "appends to the audit log (not a cgroup file)",
}
WRITE_OPEN = re.compile(
    r"O_WRONLY|O_RDWR|open\([^)]*(?:,\s*|mode=)['\"][rbt]*[wax+][rwabxt+]*['\"]"
    r"|\.write_text\(|\.write_bytes\(|os\.write\("
)


def _feature_modules() -> list[Path]:
    paths = sorted((ROOT / "kernel" / "cgroups").glob("*.py"))
    paths += sorted((ROOT / "model").glob("cgroup*.py"))
    paths += [ROOT / "cli" / "cg_cmd.py"]
    paths += [
        ROOT / "ui" / "screens" / name
        for name in ("limits.py", "audit_history.py", "move_cgroup.py", "cg_dialogs.py")
    ]
    return [p for p in paths if p.exists()]


def test_only_the_writer_opens_files_for_writing() -> None:
    offenders = []
    for path in _feature_modules():
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if WRITE_OPEN.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, offenders
    assert len(_feature_modules()) > 15


def test_the_writer_takes_validated_values_only() -> None:
    text = (ROOT / "kernel" / "cgroups" / "writer.py").read_text()
    assert "def write_value(" in text and "value: Validated" in text
    assert "isinstance(value, Validated)" in text
