"""The read-only surface runs as an unprivileged user (nobody, via util-linux setpriv): it
starts, shows what it can, marks what it cannot read; every change says why it is refused.

The repo must be readable by nobody (it is checked). This machine's venv interpreter lives
under /root (mode 0700), which nobody cannot execute; the tests then use the system Python of
the same version with the venv's site-packages on PYTHONPATH, as a user's own install would.
Without any interpreter nobody can run, the tests skip (and fail under CI).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest

from .fixtures import STRICT_ROOT

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534
SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
PROBE = (
    "import subprocess, sys; import nstui.cli.main, nstui.ui.app, textual, psutil, cffi; "
    "subprocess.run([sys.executable, '-c', '0'], check=True)"
)
SITE = sysconfig.get_paths()["purelib"]
#: site.addsitedir runs the venv's .pth files (the editable install maps styles/ to
#: nstui.styles there), which a bare PYTHONPATH would not.
PRELUDE = f"import site, sys; site.addsitedir({SITE!r}); "
RUN_NSTUI = PRELUDE + (
    "import runpy; sys.argv[0] = 'nstui'; runpy.run_module('nstui', run_name='__main__')"
)


def _env(home: Path, pythonpath: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": pythonpath,
        "LANG": "C.UTF-8",
    }
    for name in ("NSTUI_TEST_SESSION",):  # keeps the leak check's tag on these processes
        if name in os.environ:
            env[name] = os.environ[name]
    return env


@functools.cache
def _interpreter() -> tuple[str, str] | str:
    """(python for nobody, PYTHONPATH), or why there is none."""
    if shutil.which("setpriv") is None:
        return "util-linux setpriv is not installed"
    home = Path("/tmp")
    pythonpath = f"{REPO}:{SITE}"
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
    tried: list[str] = []
    for candidate in (sys.executable, f"/usr/bin/{minor}", f"/usr/local/bin/{minor}"):
        if not os.path.exists(candidate):
            continue
        probe = subprocess.run(
            [*SETPRIV, candidate, "-c", PRELUDE + PROBE],
            env=_env(home, pythonpath),
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
        if probe.returncode == 0:
            return candidate, pythonpath
        tried.append(f"{candidate}: {probe.stderr.strip().splitlines()[-1:]}")
    return f"no Python nobody can run with this repo ({'; '.join(tried)})"


@pytest.fixture
def as_nobody(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m nstui ARGS`` (or ``python -c CODE``) as nobody."""
    found = _interpreter()
    if isinstance(found, str):
        if STRICT_ROOT:
            pytest.fail(f"cannot run as nobody: {found}")
        pytest.skip(f"cannot run as nobody: {found}")
    python, pythonpath = found
    home = tmp_path / "nobody-home"
    for d in (home, home / "state", home / "run"):
        d.mkdir()
        os.chown(d, NOBODY, NOBODY)
    os.chmod(tmp_path, 0o755)  # tmp_path and the base dirs above it are 0700 by default
    for parent in tmp_path.parents:
        if parent in (Path("/tmp"), Path("/")) or not str(parent).startswith("/tmp/"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o005)

    def run(
        *args: str, code: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        script = PRELUDE + code if code else RUN_NSTUI
        argv = [python, "-c", script, *args]
        return subprocess.run(
            [*SETPRIV, *argv],
            env=_env(home, pythonpath),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
        )

    return run


def _clean(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout


def test_repo_is_readable_by_nobody() -> None:
    def readable(p: Path) -> bool:
        return bool(os.stat(p).st_mode & (0o005 if p.is_dir() else 0o004))

    paths = [REPO, *REPO.joinpath("nstui").rglob("*"), *REPO.joinpath("styles").rglob("*")]
    unreadable = [str(p) for p in paths if "__pycache__" not in p.parts and not readable(p)]
    assert not unreadable, f"not readable by other users: {unreadable[:10]}"


def test_snapshot_as_nobody_marks_what_it_cannot_read(
    as_nobody: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = as_nobody("snapshot", "--json")
    _clean(result)
    assert result.returncode == 0, result.stderr
    snap = json.loads(result.stdout)["snapshot"]
    assert snap["host"]["is_root"] is False and snap["host"]["viewer_uid"] == NOBODY
    assert any("not root" in note for note in snap["limitations"]), snap["limitations"]
    procs = list(snap["processes"].values())
    refused = [p for p in procs if "ns" in p.get("unreadable", [])]
    own = [p for p in procs if p.get("uid") == NOBODY and p.get("ns")]
    assert refused, "root's processes' namespaces should be marked unreadable for nobody"
    assert own, "nobody's own processes' namespaces should be readable"


READ_ONLY = [
    ["snapshot"],
    ["ns"],
    ["ns", "--json"],
    ["ns", "--tree"],
    ["cg"],
    ["cg", "--json"],
    ["subsys"],
    ["mounts"],
    ["mounts", "--union", "--json"],
    ["dm"],
]

#: Runs several nstui command lines in one process (one interpreter start instead of ten):
#: each one's exit status, output and any exception that escaped main().
BATCH = """
import contextlib, io, json, sys, traceback
from nstui.cli.main import main
out = []
for argv in json.loads(sys.argv[1]):
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            rc = -1
            e.write(traceback.format_exc())
    out.append([argv, rc, o.getvalue(), e.getvalue()])
print(json.dumps(out))
"""


def test_read_only_cli_as_nobody(
    as_nobody: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = as_nobody(json.dumps(READ_ONLY), code=BATCH)
    assert result.returncode == 0, result.stderr[-3000:]
    failures = []
    for argv, rc, out, err in json.loads(result.stdout.strip().splitlines()[-1]):
        if rc != 0 or "Traceback" in err or not out.strip():
            failures.append(f"nstui {' '.join(argv)}: status {rc}, stderr {err[-500:]!r}")
        elif "--json" in argv:
            json.loads(out)
    assert not failures, "\n".join(failures)


def test_ns_listing_as_nobody_says_what_it_cannot_see(
    as_nobody: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = as_nobody("ns")
    assert result.returncode == 0
    assert "not root" in result.stderr, result.stderr


def _says_why(result: subprocess.CompletedProcess[str]) -> None:
    _clean(result)
    assert result.returncode != 0
    message = result.stderr.lower()
    assert any(w in message for w in ("permission", "not permitted", "root", "eperm", "eacces")), (
        result.stderr
    )
    assert len(result.stderr.strip().splitlines()) <= 3, "one clear message, not a dump"


def test_cgroup_changes_as_nobody_are_refused_with_a_reason(
    as_nobody: Callable[..., subprocess.CompletedProcess[str]],
    test_cgroup_parent: Callable[[str], Path],
) -> None:
    parent = test_cgroup_parent("pids")
    spec = f"pids:/{parent.name}"
    before = (parent / "pids.max").read_text()
    _says_why(as_nobody("cg", "set", spec, "pids.max=5"))
    assert (parent / "pids.max").read_text() == before
    _says_why(as_nobody("cg", "mk", f"{spec}/child"))
    assert not (parent / "child").exists()


def test_namespace_and_mount_actions_as_nobody_say_why(
    as_nobody: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    _says_why(as_nobody("run", "--ns", "net", "--", "true"))
    _says_why(as_nobody("keep", "1", "net", str(tmp_path / "nobody-home" / "netns")))
    lower = [str(tmp_path / name) for name in ("l1", "l2")]
    for d in [*lower, str(tmp_path / "target")]:
        os.mkdir(d)
    _says_why(
        as_nobody(
            "overlay", "mount", "--lower", lower[0], "--lower", lower[1], str(tmp_path / "target")
        )
    )


TUI_AS_NOBODY = """
import asyncio, json
from nstui.model.scanner import LiveSource
from nstui.ui.app import NstuiApp

try:
    from nstui.model.actions import live_actions
    actions = live_actions()
except ImportError:
    actions = None


async def main():
    app = NstuiApp(LiveSource(), actions, 0.2)
    async with app.run_test(size=(140, 40)) as pilot:
        for _ in range(150):
            if app.snapshot is not None and app.refreshes >= 1:
                break
            await pilot.pause(0.1)
        banner = app.query_one("#banner")
        for key in ("2", "j", "3", "j", "1", "slash", "escape", "question_mark", "escape"):
            await pilot.press(key)
            await pilot.pause(0.05)
        reasons = {}
        if actions is not None:
            reasons = {
                "namespaces": actions.namespaces.unavailable_reason(),
                "cgroups": actions.cgroups.edit_unavailable(),
            }
        return {
            "reasons": reasons,
            "snapshot": app.snapshot is not None,
            "processes": len(app.snapshot.processes) if app.snapshot else 0,
            "refreshes": app.refreshes,
            "banner": str(banner.render()),
            "banner_shown": bool(banner.display),
        }


print(json.dumps(asyncio.run(main())))
"""


def test_tui_as_nobody_starts_and_says_what_it_cannot_read(
    as_nobody: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = as_nobody(code=TUI_AS_NOBODY, timeout=180)
    _clean(result)
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state["snapshot"] and state["processes"] > 0 and state["refreshes"] >= 1, state
    assert state["banner_shown"] and "not running as root" in state["banner"], state
    # what the panes show before any action is tried
    for part, reason in state["reasons"].items():
        assert reason and "root" in reason, f"{part}: no reason given as nobody ({reason!r})"
