"""Watch process churn with nstui: snapshots back to back (and a refreshing TUI), each checked.

What a snapshot promises (nstui/model/snapshot.py, nstui/model/scanner.py) and what is
checked here, for every snapshot taken while benchmarks/churn.py starts 1,000+ processes a
second:

- keys agree: ``processes[pid].pid == pid``; ``namespaces[i].id == i``; a process's
  ``ns[t].type == t``;
- namespaces and processes agree both ways: each process is listed in the namespace it
  carries, and each namespace lists only processes of the snapshot that carry it;
- members of a cgroup exist in that snapshot (issue 7), and a process's cgroup (in a
  hierarchy the snapshot walked) is one of the snapshot's cgroups;
- no namespace is attributed to the wrong process: a process the churn runs in anchor K's
  namespaces (recognised by its argv ``[dash, -s, MARKER-K]`` — the anchor's forking helper
  and every child it forks, in those namespaces from their fork — or ``[sleep, 0.2,
  MARKER-K]``, exec'd by such a child) carries exactly anchor K's namespace identities, for
  every type that was read.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nstui.kernel.nstypes import NsId, NsType
from nstui.model.snapshot import Snapshot

MAX_ERRORS = 50


@dataclass
class Watch:
    snapshots: int = 0
    full_snapshots: int = 0
    tui_refreshes: int = 0
    tui_note: str = ""
    marked_checked: int = 0  # churn processes whose namespaces were cross-checked
    processes_seen: int = 0
    errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    slowest_take: float = 0.0

    error_counts: dict[str, int] = field(default_factory=dict)  # per kind of problem

    def error(self, text: str) -> None:
        """Record a problem ``"KIND: text"`` (kinds: keys, namespaces, attribution, cgroups)."""
        kind = text.partition(":")[0]
        self.error_counts[kind] = self.error_counts.get(kind, 0) + 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(text)

    def errors_of(self, kind: str) -> list[str]:
        return [e for e in self.errors if e.startswith(f"{kind}:")]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


Anchors = dict[str, dict[NsType, NsId]]  # argv marker -> expected namespaces


def load_anchors(ready: Path) -> Anchors:
    described = json.loads(ready.read_text())
    return {
        a["marker"]: {
            NsType(t): NsId(NsType(t), int(dev), int(ino)) for t, (dev, ino) in a["ns"].items()
        }
        for a in described["anchors"]
    }


def check_snapshot(snap: Snapshot, anchors: Anchors) -> tuple[list[str], int]:
    """Problems in one snapshot, and how many churn processes were cross-checked."""
    problems: list[str] = []
    checked = 0
    procs = snap.processes
    for pid, p in procs.items():
        if p.pid != pid:
            problems.append(f"keys: processes[{pid}] holds pid {p.pid}")
        for t, ns_id in p.ns.items():
            if ns_id.type != t:
                problems.append(f"keys: pid {pid}: ns[{t}] is a {ns_id.type} namespace")
            ns = snap.namespaces.get(ns_id)
            if ns is None:
                problems.append(f"namespaces: pid {pid}: its {ns_id} is not in the snapshot")
            elif pid not in ns.pids:
                problems.append(f"namespaces: pid {pid}: {ns_id} does not list it")
        if len(p.cmdline) == 3 and p.cmdline[2] in anchors:
            checked += 1
            expected = anchors[p.cmdline[2]]
            for t, ns_id in p.ns.items():
                if ns_id != expected.get(t):
                    problems.append(
                        f"attribution: pid {pid} ({p.command}): {t} is {ns_id}, "
                        f"expected {expected.get(t)}"
                    )
    for key, ns in snap.namespaces.items():
        if ns.id != key:
            problems.append(f"keys: namespaces[{key}] holds {ns.id}")
        for pid in ns.pids:
            member = procs.get(pid)
            if member is None:
                problems.append(f"namespaces: {key} lists pid {pid}, absent from the snapshot")
            elif member.ns.get(key.type) != key:
                problems.append(f"namespaces: {key} lists pid {pid}, in {member.ns.get(key.type)}")
    walked = {h.hid for h in snap.hierarchies}
    for (hid, path), cg in snap.cgroups.items():
        for pid in cg.pids:
            if pid not in procs:
                problems.append(f"cgroups: {hid}:{path} lists pid {pid}, absent from the snapshot")
    for pid, p in procs.items():
        for hid, path in p.cgroups.items():
            if hid in walked and (hid, path) not in snap.cgroups:
                problems.append(f"cgroups: pid {pid} is in {hid}:{path}, absent from the snapshot")
    return problems, checked


def _wait_ready(driver: subprocess.Popen[str], ready: Path, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready.exists():
            return True
        if driver.poll() is not None:
            return False
        time.sleep(0.01)
    return False


def _tui_thread(stop: threading.Event, watch: Watch) -> threading.Thread:
    """A headless NstuiApp on a live source, refreshing until ``stop``; counts refreshes."""

    async def run() -> None:
        from nstui.model.scanner import LiveSource
        from nstui.ui.app import NstuiApp

        counting = _CountingSource(LiveSource(), watch)
        app = NstuiApp(counting, _actions(), 0.05)
        async with app.run_test(size=(120, 40)) as pilot:
            keys = ["j", "j", "k", "down", "up", "tab"]
            i = 0
            while not stop.is_set():
                await pilot.press(keys[i % len(keys)])
                i += 1
                await pilot.pause(0.05)

    def target() -> None:
        try:
            asyncio.run(run())
        except Exception:
            watch.exceptions.append("TUI: " + traceback.format_exc())

    thread = threading.Thread(target=target, name="churn-tui", daemon=True)
    thread.start()
    return thread


def _actions() -> Any:
    from nstui.model.actions import live_actions

    try:
        return live_actions()
    except ImportError:
        return None


class _CountingSource:
    def __init__(self, inner: Any, watch: Watch) -> None:
        self.inner = inner
        self.watch = watch

    def take(self) -> Snapshot:
        snap: Snapshot = self.inner.take()
        self.watch.tui_refreshes += 1
        return snap

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def tui_available() -> str:
    """Empty when the TUI can be driven, else why not."""
    try:
        import nstui.ui.app as app_module
    except ImportError as exc:
        return f"nstui.ui.app not importable: {exc}"
    if not hasattr(app_module, "NstuiApp"):
        return "nstui.ui.app has no NstuiApp"
    return ""


def watch_churn(
    driver: subprocess.Popen[str],
    ready: Path,
    *,
    with_tui: bool = True,
    full_every: int = 3,
    source_options: Mapping[str, Any] | None = None,
    stop_file: Path | None = None,
    min_snapshots: int = 4,
) -> Watch:
    """Take LiveSource snapshots back to back until ``driver`` exits, checking each one.
    Once ``min_snapshots`` are taken (one of them full) and at least one churn process was
    cross-checked, ``stop_file`` is created, telling the driver it may end: on a slow, busy
    machine the churn then lasts as long as the watch needs (within the driver's time limit).
    """
    from nstui.model.scanner import LiveSource

    watch = Watch()
    if not _wait_ready(driver, ready):
        watch.exceptions.append("churn driver exited or hung before its anchors were ready")
        return watch
    anchors = load_anchors(ready)
    stop = threading.Event()
    tui: threading.Thread | None = None
    if with_tui:
        watch.tui_note = tui_available()
        if not watch.tui_note:
            tui = _tui_thread(stop, watch)
    source = LiveSource(**(source_options or {}))
    try:
        while driver.poll() is None:
            full = watch.snapshots % full_every == full_every - 1
            started = time.monotonic()
            try:
                snap = source.take_full() if full else source.take()
            except Exception:
                watch.exceptions.append(traceback.format_exc())
                break
            watch.slowest_take = max(watch.slowest_take, time.monotonic() - started)
            watch.snapshots += 1
            watch.full_snapshots += int(full)
            watch.processes_seen += len(snap.processes)
            problems, checked = check_snapshot(snap, anchors)
            watch.marked_checked += checked
            for problem in problems:
                kind, _, text = problem.partition(": ")
                watch.error(f"{kind}: snapshot {watch.snapshots}{' full' if full else ''}: {text}")
            enough = watch.snapshots >= max(min_snapshots, full_every) and watch.marked_checked
            if stop_file is not None and enough:
                stop_file.touch()
    finally:
        stop.set()
        if tui is not None:
            tui.join(timeout=30)
            if tui.is_alive():
                watch.exceptions.append("TUI did not stop within 30 s")
    return watch


CHURN_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "churn.py"


@dataclass
class ChurnResult:
    driver: dict[str, Any]  # the generator's JSON summary
    driver_status: int | None
    driver_stderr: str
    watch: Watch

    @property
    def rate(self) -> float:
        elapsed = float(self.driver.get("elapsed") or 0.0)
        return float(self.driver.get("starts", 0)) / elapsed if elapsed else 0.0

    @property
    def ok(self) -> bool:
        return (
            self.driver_status == 0
            and not self.driver.get("failures")
            and "Traceback" not in self.driver_stderr
            and not self.watch.errors
            and not self.watch.exceptions
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "starts_per_second": round(self.rate, 1),
            "driver": self.driver,
            "driver_status": self.driver_status,
            "driver_stderr": self.driver_stderr[-2000:],
            "watch": self.watch.as_dict(),
        }


def _start_driver(argv: list[str]) -> subprocess.Popen[str]:
    """The churn generator, in its own session (killed as a group), output captured."""
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def run_churn(
    starts: int,
    cgroup_parents: list[str],
    *,
    tag: str,
    max_rate: float = 1_500.0,
    with_tui: bool = True,
    timeout: float = 600,
    min_snapshots: int = 4,
) -> ChurnResult:
    """Run benchmarks/churn.py's generator for ``starts`` process starts, watching it."""
    with tempfile.TemporaryDirectory(prefix="nstui-churn-") as tmp:
        ready = Path(tmp) / "ready.json"
        stop_file = Path(tmp) / "enough"
        argv = [sys.executable, str(CHURN_SCRIPT), "drive", "--starts", str(starts)]
        argv += ["--tag", tag, "--ready", str(ready), "--max-rate", str(max_rate)]
        argv += ["--stop-file", str(stop_file), "--max-seconds", str(max(timeout - 30, 30))]
        for parent in cgroup_parents:
            argv += ["--cgroup-parent", parent]
        driver = _start_driver(argv)
        try:
            watch = watch_churn(
                driver, ready, with_tui=with_tui, stop_file=stop_file, min_snapshots=min_snapshots
            )
            out, err = driver.communicate(timeout=timeout)
        finally:
            if driver.poll() is None:
                # the whole group: anchors and in-flight children too
                os.killpg(driver.pid, signal.SIGKILL)
                driver.communicate()
    summary = json.loads(out) if driver.returncode == 0 and out.strip() else {}
    return ChurnResult(summary, driver.returncode, err, watch)


def run_driver_alone(
    starts: int, cgroup_parents: list[str], *, tag: str, timeout: float = 300
) -> dict[str, Any]:
    """The generator alone (nothing watching): its JSON summary, the reference rate."""
    argv = [sys.executable, str(CHURN_SCRIPT), "drive", "--starts", str(starts), "--tag", tag]
    argv += ["--max-seconds", str(max(timeout - 30, 30))]
    for parent in cgroup_parents:
        argv += ["--cgroup-parent", parent]
    driver = _start_driver(argv)
    try:
        out, err = driver.communicate(timeout=timeout)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.communicate()
    if driver.returncode != 0 or not out.strip():
        return {"starts": 0, "elapsed": 0.0, "failures": {"driver": 1}, "stderr": err[-2000:]}
    summary: dict[str, Any] = json.loads(out)
    return summary
