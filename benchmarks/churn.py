"""Process churn: start and end processes as fast as this machine allows, while nstui scans.

Two roles in one file:

``python benchmarks/churn.py drive --starts N --tag T --cgroup-parent DIR ... --ready FILE``
    The generator (a separate process, so it does not compete with the scanner for the GIL).
    A single-threaded loop keeps up to ``--inflight`` children running and reaps them with
    waitpid(-1), mixing four kinds of start:

    - ``plain``: /bin/true (1 process start);
    - ``unshare``: util-linux ``unshare --fork --pid --uts --ipc [--net]`` true: new
      namespaces that die at once (2 starts: unshare and its forked child);
    - ``enter``: util-linux ``nsenter -t ANCHOR --all -- sleep 0.03 MARKER`` (every 10th
      sleeps 0.5 s, so slow scans on a busy host still meet some): the forked
      child is born in all eight namespaces of anchor K (2 starts); MARKER is a number too
      small to change the sleep, unique to the run and the anchor, so the cross-check can
      recognise the process and knows exactly which namespaces it must carry;
    - ``cgroup``: mkdir a cgroup under a parent, start ``sleep 0.02``, move it in by writing
      its pid to cgroup.procs, rmdir the cgroup once the child is reaped (1 start).

    Beside it, one Python child starts and joins threads continuously (threads that exit).
    The anchors (long-lived processes in new pid, net, uts, ipc, mnt, cgroup, time and user
    namespaces) are described in the ``--ready`` file as JSON before churning starts; the
    summary (starts per kind, failures, elapsed) is printed as JSON on stdout at the end.
    Everything it made is removed before it exits, also on SIGTERM.

``python benchmarks/churn.py [--starts 10000]``
    The benchmark: runs the generator and, in this process, LiveSource snapshots back to back
    (every snapshot checked by tests/reliability/churncheck.py) plus a headless TUI
    refreshing on a live source when nstui.ui.app is available. Prints the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NS_NAMES = ("pid", "net", "mnt", "uts", "ipc", "user", "cgroup", "time")
KIND_STARTS = {"plain": 1, "unshare": 2, "enter": 2, "cgroup": 1}
#: share of each kind in the mix, out of 20 slots
MIX = ("plain",) * 9 + ("unshare",) * 4 + ("enter",) * 5 + ("cgroup",) * 2
THREAD_CHURNER = """
import signal, sys, threading, time
deadline = time.monotonic() + float(sys.argv[1])
n = 0
def stop(signum, frame):
    print(n, flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while time.monotonic() < deadline:
    batch = [threading.Thread(target=time.sleep, args=(0.001,)) for _ in range(8)]
    for t in batch:
        t.start()
    for t in batch:
        t.join()
    n += len(batch)
print(n)
"""


def _which(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/bin:/bin")
    if found is None:
        raise SystemExit(f"churn: {name} not found (util-linux/coreutils)")
    return found


@dataclass
class Anchor:
    index: int
    launcher: subprocess.Popen[bytes]
    pid: int = 0  # the forked child living in the new namespaces
    ns: dict[str, tuple[int, int]] = field(default_factory=dict)  # type -> (dev, ino)


def _child_of(ppid: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            text = Path(f"/proc/{ppid}/task/{ppid}/children").read_text().split()
            if text:
                return int(text[0])
        time.sleep(0.005)
    raise RuntimeError(f"anchor launcher {ppid} has no child")


def start_anchors(count: int, tag: str) -> list[Anchor]:
    unshare = _which("unshare")
    sleep = _which("sleep")
    anchors: list[Anchor] = []
    for index in range(count):
        argv = [
            unshare, "--fork", "--pid", "--mount-proc", "--net", "--uts", "--ipc",
            "--cgroup", "--time", "--user", "--map-root-user",
            sleep, "infinity",
        ]  # fmt: skip
        launcher = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        anchor = Anchor(index, launcher)
        anchors.append(anchor)
        anchor.pid = _child_of(launcher.pid)
        # The child exists before it execs sleep; wait until it is in its own pid namespace.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            ns = {t: os.stat(f"/proc/{anchor.pid}/ns/{t}") for t in NS_NAMES}
            mine = {t: os.stat(f"/proc/self/ns/{t}") for t in NS_NAMES}
            comm = Path(f"/proc/{anchor.pid}/comm").read_text().strip()
            if comm == "sleep" and all(ns[t].st_ino != mine[t].st_ino for t in NS_NAMES):
                anchor.ns = {t: (ns[t].st_dev, ns[t].st_ino) for t in NS_NAMES}
                break
            time.sleep(0.005)
        else:
            raise RuntimeError(f"anchor {index} did not settle in its namespaces")
    return anchors


def stop_anchors(anchors: Sequence[Anchor]) -> None:
    for anchor in anchors:
        # pid 1 of a pid namespace ignores SIGTERM from outside: SIGKILL, then reap the launcher.
        if anchor.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(anchor.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            anchor.launcher.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            anchor.launcher.wait(timeout=5)


def marker(tag: str, index: int) -> str:
    """A sleep(1) operand that adds nothing measurable but names the run and the anchor."""
    return f"0.0000000{zlib.crc32(tag.encode()) % 10**9:09d}{index}"


@dataclass
class DriveResult:
    starts: int = 0
    launched: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    failure_examples: list[str] = field(default_factory=list)
    cgroups_made: int = 0
    cgroups_removed: int = 0
    threads: int = 0
    elapsed: float = 0.0


class Driver:
    def __init__(self, tag: str, parents: Sequence[str], inflight: int, netns_every: int) -> None:
        self.tag = tag
        self.parents = [Path(p) for p in parents]
        self.inflight = inflight
        self.netns_every = netns_every
        self.true = _which("true")
        self.sleep = _which("sleep")
        self.unshare = _which("unshare")
        self.nsenter = _which("nsenter")
        self.env = dict(os.environ)
        self.pending: dict[int, tuple[str, Path | None, list[str]]] = {}
        self.result = DriveResult()
        self.anchors: list[Anchor] = []
        self.serial = 0
        self.entered = 0

    def _spawn(self, argv: list[str]) -> int:
        return os.posix_spawn(argv[0], argv, self.env)

    def launch(self, kind: str) -> None:
        self.serial += 1
        cg: Path | None = None
        if kind == "plain":
            argv = [self.true]
        elif kind == "unshare":
            net = ["--net"] if self.serial % self.netns_every == 0 else []
            argv = [self.unshare, "--fork", "--pid", "--uts", "--ipc", *net, self.true]
        elif kind == "enter":
            anchor = self.anchors[self.serial % len(self.anchors)]
            argv = [self.nsenter, "-t", str(anchor.pid), "--all", "--"]
            # every 10th lives longer, so a slow scan on a busy host still meets some
            self.entered += 1
            nap = "0.5" if self.entered % 10 == 0 else "0.03"
            argv += [self.sleep, nap, marker(self.tag, anchor.index)]
        else:
            parent = self.parents[self.serial % len(self.parents)]
            cg = parent / f"c{self.serial}"
            cg.mkdir()
            self.result.cgroups_made += 1
            argv = [self.sleep, "0.02"]
        pid = self._spawn(argv)
        if cg is not None:
            try:
                (cg / "cgroup.procs").write_text(str(pid))
            except OSError as exc:  # the child may already be gone: still a start
                self._fail(kind, argv, f"move into {cg}: {exc.strerror}")
        self.pending[pid] = (kind, cg, argv)
        self.result.launched[kind] = self.result.launched.get(kind, 0) + 1
        self.result.starts += KIND_STARTS[kind]

    def _fail(self, kind: str, argv: list[str], why: str) -> None:
        self.result.failures[kind] = self.result.failures.get(kind, 0) + 1
        if len(self.result.failure_examples) < 10:
            self.result.failure_examples.append(f"{' '.join(argv)}: {why}")

    def reap_one(self) -> None:
        pid, status = os.waitpid(-1, 0)
        entry = self.pending.pop(pid, None)
        if entry is None:
            return  # the thread churner or an anchor launcher
        kind, cg, argv = entry
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            self._fail(kind, argv, f"exit status {code}")
        if cg is not None:
            self._rmdir(cg)

    def _rmdir(self, cg: Path) -> None:
        for _ in range(200):
            try:
                cg.rmdir()
                self.result.cgroups_removed += 1
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.001)  # EBUSY: the killed member is still leaving
        self._fail("cgroup", ["rmdir", str(cg)], "still busy")

    def run(
        self,
        target_starts: int,
        ready: Path | None,
        max_seconds: float,
        stop_file: Path | None = None,
    ) -> DriveResult:
        """Churn until ``target_starts`` starts are made and, when ``stop_file`` is given,
        until it exists too (the watcher creates it once it has seen enough); at most
        ``max_seconds``."""
        churner: subprocess.Popen[str] | None = None
        self.anchors = start_anchors(4, self.tag)
        try:
            if ready is not None:
                tmp = ready.with_suffix(".tmp")
                tmp.write_text(json.dumps(self.describe()))
                tmp.rename(ready)
            churner = subprocess.Popen(
                [sys.executable, "-c", THREAD_CHURNER, str(max_seconds)],
                stdout=subprocess.PIPE,
                text=True,
            )
            start = time.monotonic()
            i = rounds = 0
            while time.monotonic() - start < max_seconds:
                rounds += 1
                if self.result.starts >= target_starts and (
                    stop_file is None or (rounds % 64 == 0 and stop_file.exists())
                ):
                    break
                while len(self.pending) < self.inflight:
                    self.launch(MIX[i % len(MIX)])
                    i += 1
                self.reap_one()
            while self.pending:
                self.reap_one()
            self.result.elapsed = time.monotonic() - start
        finally:
            for pid in list(self.pending):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            while self.pending:
                with contextlib.suppress(ChildProcessError):
                    self.reap_one()
                    continue
                break
            if churner is not None:
                churner.terminate()
                out, _ = churner.communicate()
                with contextlib.suppress(ValueError):
                    self.result.threads = int(out.strip() or 0)
            stop_anchors(self.anchors)
        return self.result

    def describe(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "anchors": [
                {
                    "index": a.index,
                    "pid": a.pid,
                    "marker": marker(self.tag, a.index),
                    "ns": {t: list(v) for t, v in a.ns.items()},
                }
                for a in self.anchors
            ],
        }


def _drive_main(args: argparse.Namespace) -> int:
    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    driver = Driver(args.tag, args.cgroup_parent, args.inflight, args.netns_every)
    try:
        result = driver.run(args.starts, args.ready, args.max_seconds, args.stop_file)
    except KeyboardInterrupt:
        return 130
    print(json.dumps(result.__dict__))
    return 0


# --- benchmark mode ------------------------------------------------------------------------


def _reliability() -> Any:
    """tests/reliability (by name: benchmarks/reliability.py shares its name)."""
    sys.path.insert(0, str(ROOT / "tests"))
    importlib.import_module("reliability.churncheck")
    importlib.import_module("reliability.kobjects")
    return importlib.import_module("reliability")


def run_benchmark(starts: int, inflight: int = 32, with_tui: bool = True) -> dict[str, Any]:
    """Churn ``starts`` process starts while snapshotting (and refreshing a headless TUI);
    returns the figures and every consistency problem found."""
    import uuid

    rel = _reliability()
    tag = uuid.uuid4().hex[:8]
    made: list[Path] = []
    try:
        for controller in ("pids", "unified"):
            with contextlib.suppress(rel.kobjects.ControllerMissing):
                made.append(rel.kobjects.make_cgroup_parent(controller, tag))
        result = rel.churncheck.run_churn(
            starts,
            [str(p) for p in made],
            tag=tag,
            inflight=inflight,
            with_tui=with_tui,
            min_snapshots=8,
            timeout=300,  # the churn goes on past --starts only until 8 snapshots are checked
        )
    finally:
        for path in made:
            rel.kobjects.remove_cgroup_tree(path)
    figures: dict[str, Any] = result.as_dict()
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    sub = parser.add_subparsers(dest="mode")
    drive = sub.add_parser("drive", help="only generate churn (used by tests and the benchmark)")
    drive.add_argument("--starts", type=int, default=10_000)
    drive.add_argument("--tag", required=True)
    drive.add_argument("--cgroup-parent", action="append", default=[])
    drive.add_argument("--ready", type=Path)
    drive.add_argument("--inflight", type=int, default=32)
    drive.add_argument("--netns-every", type=int, default=4)
    drive.add_argument("--max-seconds", type=float, default=300.0)
    drive.add_argument("--stop-file", type=Path, help="after --starts, go on until it exists")
    parser.add_argument("--starts", type=int, default=10_000)
    parser.add_argument("--inflight", type=int, default=32)
    parser.add_argument("--no-tui", action="store_true")
    args = parser.parse_args(argv)
    if args.mode == "drive":
        if not args.cgroup_parent:
            parser.error("drive needs at least one --cgroup-parent")
        return _drive_main(args)
    if os.geteuid() != 0:
        print("churn: needs root (namespaces, cgroups)", file=sys.stderr)
        return 1
    figures = run_benchmark(args.starts, args.inflight, with_tui=not args.no_tui)
    print(json.dumps(figures, indent=2))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
