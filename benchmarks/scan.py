"""Scan speed and memory of nstui snapshots against `ps` and `lsns`, side by side.

Starts N holder processes (`sleep`) spread over 200 namespace sets (each made by util-linux
`unshare` with new pid, mnt, uts, ipc, net and cgroup namespaces) and 100 v1 cgroups under
/sys/fs/cgroup/pids/nstui-bench-<pid>, then times, in the same run (medians of --runs):

- a full snapshot (``LiveSource(holders=False).take()``: 8 namespace types, cgroup
  membership, process facts, namespaces with owners/parents/facts, cgroup trees, mounts),
  in this process (its scan helper process and kept /proc fds already there, as in the TUI)
  and as the first one of a new process,
- the same with the holders scan (bind mounts in every mount namespace, every process's
  fds: what finds namespaces no process is in), which the TUI runs on full takes only,
- an incremental refresh (``take()`` again on the same source),
- ``ps -eo pid,cgroup,ipcns,mntns,netns,pidns,userns,utsns`` and ``lsns``,
- the process scan alone (``procfs.scan_processes()``: the files ps reads, plus cmdline),

and the Python memory the snapshot holds (tracemalloc). Everything it made (processes, by pid;
cgroups, by path) is removed at the end, also on Ctrl-C, SIGTERM or an exception.

Usage (root): python benchmarks/scan.py [N ...] [--full] [--runs R]
Default N is 1000; --full runs 1000, 5000 and 10000.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nstui.kernel import procfs
from nstui.model.scanner import LiveSource

PS_ARGS = ["ps", "-eo", "pid,cgroup,ipcns,mntns,netns,pidns,userns,utsns"]
CGROUP_ROOT = Path("/sys/fs/cgroup/pids")
#: Each namespace set's pid 1: start $1 sleeps, say so, then wait (a shell constant; the
#: count is an argument, never spliced into the script).
HOLDER_SCRIPT = (
    'i=0; while [ "$i" -lt "$1" ]; do sleep infinity & i=$((i+1)); done; echo ready; wait'
)
UNSHARE = [
    "unshare",
    "--kill-child",  # when unshare dies, its child (the set's pid 1) gets SIGKILL
    "--pid",
    "--mount-proc",
    "--uts",
    "--ipc",
    "--net",
    "--cgroup",
    "--",
]


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def holders(total: int, sets: int, ncgroups: int) -> Iterator[list[int]]:
    """TOTAL processes in SETS namespace sets and NCGROUPS cgroups; yields unshare pids."""
    parent = CGROUP_ROOT / f"nstui-bench-{os.getpid()}"
    cgroups = [parent / f"cg{i:03d}" for i in range(ncgroups)]
    procs: list[subprocess.Popen[bytes]] = []
    made: list[Path] = []
    try:
        parent.mkdir()
        made.append(parent)
        for cg in cgroups:
            cg.mkdir()
            made.append(cg)
        per_set = max(1, total // sets - 1)  # the set's shell counts as one holder
        for i in range(sets):
            target = cgroups[i % ncgroups] / "cgroup.procs"
            procs.append(
                subprocess.Popen(
                    [*UNSHARE, "sh", "-c", HOLDER_SCRIPT, "sh", str(per_set)],
                    stdout=subprocess.PIPE,
                    stdin=subprocess.DEVNULL,
                    # join the cgroup before exec, so every holder is born inside it
                    preexec_fn=_join_cgroup(target),
                )
            )
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != b"ready":
                raise RuntimeError(f"holder set {p.pid} did not start")
            p.stdout.close()
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        for p in procs:
            p.wait()
            if p.stdout is not None and not p.stdout.closed:
                p.stdout.close()
        _remove_cgroups(list(reversed(made)))


def _join_cgroup(procs_file: Path) -> Callable[[], None]:
    def join() -> None:
        procs_file.write_text(str(os.getpid()))

    return join


def _remove_cgroups(dirs: list[Path], timeout: float = 60.0) -> None:
    """rmdir each (children first) once the killed holders have left it."""
    deadline = time.monotonic() + timeout
    for d in dirs:
        while True:
            try:
                d.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    print(f"warning: could not remove {d}", file=sys.stderr)
                    break
                time.sleep(0.05)


def _cpu_now() -> float:
    """CPU seconds used so far by this process, its reaped children (ps, lsns) and the
    scan helper process."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    pid = procfs.helper_pid()
    if pid is not None:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / procfs.CLK_TCK
        except OSError:
            pass
    return total


class Timings:
    """Wall and CPU seconds of each timed thing, for medians."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def time(self, name: str, func: Callable[[], object]) -> None:
        """Time FUNC; what it returns is freed after the clock stops (a source's kept fds
        closed, a snapshot dropped: not part of taking one)."""
        cpu0, start = _cpu_now(), time.perf_counter()
        result = func()
        self.wall.setdefault(name, []).append(time.perf_counter() - start)
        self.cpu.setdefault(name, []).append(_cpu_now() - cpu0)
        del result  # (a source closes its kept fds when freed)

    def median(self, name: str) -> tuple[float, float]:
        return statistics.median(self.wall[name]), statistics.median(self.cpu[name])


def _first_take(holders: bool) -> tuple[LiveSource, object]:
    """A new source and its first (full) snapshot: both returned, to be freed untimed."""
    source = LiveSource(holders=holders)
    return source, source.take()


def _run(argv: list[str]) -> None:
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


#: A first snapshot in a fresh process: no scan helper yet, no kept fds (what `nstui` and
#: `nstui snapshot` pay on start). Prints wall and CPU seconds of the take alone.
COLD_TAKE = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from nstui.kernel import procfs
from nstui.model.scanner import LiveSource
source = LiveSource(holders=False)
r0 = resource.getrusage(resource.RUSAGE_SELF)
start = time.perf_counter()
source.take()
wall = time.perf_counter() - start
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
pid = procfs.helper_pid()
if pid is not None:
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    cpu += (int(fields[11]) + int(fields[12])) / procfs.CLK_TCK
print(json.dumps([wall, cpu]))
"""


def _cold_take() -> tuple[float, float]:
    """(wall, CPU) seconds of a first snapshot in a new process."""
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", COLD_TAKE, root], capture_output=True, text=True, check=True
    )
    wall, cpu = json.loads(done.stdout)
    return float(wall), float(cpu)


def _snapshot_memory() -> tuple[float, int]:
    """(MB held by one full snapshot and its source's caches, process count)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    source = LiveSource()
    snapshot = source.take()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    count = len(snapshot.processes)
    del snapshot, source
    return held / 1e6, count


def measure(total: int, runs: int, sets: int, ncgroups: int) -> None:
    started = time.perf_counter()
    with holders(total, sets, ncgroups):
        setup = time.perf_counter() - started
        LiveSource().take()  # warm caches (imports, dentries) for everyone alike
        _run(PS_ARGS)
        source = LiveSource()
        source.take()
        source.take()  # the first refresh opens the kept stat fds
        # Round-robin, so that load from other users of the machine falls on all alike.
        t = Timings()
        for i in range(runs):
            t.time("full", lambda: _first_take(holders=False))
            t.time("ps", lambda: _run(PS_ARGS))
            t.time("scan", procfs.scan_processes)
            t.time("refresh", source.take)
            t.time("holders", lambda: _first_take(holders=True))
            t.time("refresh", source.take)
            if i < 3:
                t.time("lsns", lambda: _run(["lsns"]))
            cold_wall, cold_cpu = _cold_take()
            t.wall.setdefault("cold", []).append(cold_wall)
            t.cpu.setdefault("cold", []).append(cold_cpu)
        mem_mb, seen = _snapshot_memory()
    (full, full_cpu), (with_holders, holders_cpu) = t.median("full"), t.median("holders")
    (refresh, refresh_cpu), (ps, ps_cpu) = t.median("refresh"), t.median("ps")
    lsns, lsns_cpu = t.median("lsns")
    scan, scan_cpu = t.median("scan")
    cold, cold_cpu = t.median("cold")
    print(
        f"N={total}: {seen} processes seen, {sets} namespace sets, {ncgroups} cgroups "
        f"(setup {setup:.1f} s, medians of {runs} runs; load average {os.getloadavg()[0]:.1f})"
    )
    print("                      wall        CPU")
    print(f"  full snapshot     {full:7.3f} s  {full_cpu:7.3f} s")
    print(
        f"  first in new proc {cold:7.3f} s  {cold_cpu:7.3f} s"
        f"   cold/ps      = {cold / ps:.2f} wall   (no helper process or kept fds yet)"
    )
    print(
        f"  + holders scan    {with_holders:7.3f} s  {holders_cpu:7.3f} s"
        "   (bind mounts, fds; full takes only)"
    )
    print(
        f"  refresh           {refresh:7.3f} s  {refresh_cpu:7.3f} s"
        f"   refresh/full = {refresh / full:.2f} wall, {refresh_cpu / full_cpu:.2f} CPU"
    )
    print(
        f"  ps -eo ...        {ps:7.3f} s  {ps_cpu:7.3f} s"
        f"   full/ps      = {full / ps:.2f} wall, {full_cpu / ps_cpu:.2f} CPU"
    )
    print(
        f"  process scan only {scan:7.3f} s  {scan_cpu:7.3f} s"
        f"   scan/ps      = {scan / ps:.2f} wall, {scan_cpu / ps_cpu:.2f} CPU"
        "   (what ps reads, plus cmdline)"
    )
    print(
        f"  lsns              {lsns:7.3f} s  {lsns_cpu:7.3f} s"
        f"   lsns/full    = {lsns / full:.1f}x wall, {lsns_cpu / full_cpu:.1f}x CPU"
    )
    print(f"  snapshot memory   {mem_mb:7.1f} MB (tracemalloc, snapshot + source caches)")
    # Each round times everything within a second or two: ratios taken within a round are
    # spared the load other users of the machine put on some rounds and not others.
    print("  per round (wall), median [min-max]:")
    for label, num, den in (
        ("full/ps", t.wall["full"], t.wall["ps"]),
        ("refresh/full", t.wall["refresh"], [f for f in t.wall["full"] for _ in range(2)]),
        ("cold/ps", t.wall["cold"], t.wall["ps"]),
    ):
        ratios = [a / b for a, b in zip(num, den, strict=True)]
        print(
            f"    {label:13s} {statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]"
        )
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, help="process counts (default 1000)")
    parser.add_argument("--full", action="store_true", help="run 1000, 5000 and 10000")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (default 5)")
    parser.add_argument("--sets", type=int, default=200, help="namespace sets (default 200)")
    parser.add_argument("--cgroups", type=int, default=100, help="cgroups (default 100)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("needs root (unshare of pid/net namespaces, cgroup directories)")
    sizes = [1000, 5000, 10000] if args.full else (args.sizes or [1000])
    if any(n < args.sets for n in sizes) or args.runs < 1:
        parser.error("each N must be at least --sets, and --runs at least 1")
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        for n in sizes:
            measure(n, args.runs, args.sets, args.cgroups)
    except KeyboardInterrupt:
        print("interrupted; removed what was made", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
