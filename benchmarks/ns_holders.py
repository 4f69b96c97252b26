"""What finding namespace holders costs: build_namespaces with and without ``holders``.

Starts N extra ``sleep`` processes (by default 2000; each in its own new net namespace every
--per-ns processes, so there are namespaces to describe), takes one process scan, then
times in the same run (medians of --runs):

- ``build_namespaces(holders=False)``: members, nsfs ioctls, per-type facts,
- ``build_namespaces(holders=True)``: the same plus the bind-mount and open-fd scans,
- ``scan_open_fds`` and ``scan_bind_mounts`` alone,
- ``lsns`` for reference.

Everything it started is killed by pid at the end, also on Ctrl-C or an exception.

Usage (root): python benchmarks/ns_holders.py [N] [--per-ns K] [--runs R]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nstui.kernel import procfs
from nstui.kernel.namespaces import (
    build_namespaces,
    scan_bind_mounts,
    scan_open_fds,
)


def median_seconds(func: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=2000, help="extra processes")
    parser.add_argument("--per-ns", type=int, default=50, help="processes per new net ns")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (new namespaces, other processes' fds)", file=sys.stderr)
        return 1

    started: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(args.n):
            argv = ["sleep", "infinity"]
            if i % args.per_ns == 0:
                argv = ["unshare", "--net", *argv]
            started.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL))
        time.sleep(1.0)  # let the unshares exec sleep
        processes = procfs.scan_processes()
        nprocs = len(processes)
        dev = os.stat("/proc/self/ns/net").st_dev
        results = {
            "build_namespaces(holders=False)": median_seconds(
                lambda: build_namespaces(processes, holders=False), args.runs
            ),
            "build_namespaces(holders=True)": median_seconds(
                lambda: build_namespaces(processes, holders=True), args.runs
            ),
            "  scan_open_fds": median_seconds(lambda: scan_open_fds(processes, dev), args.runs),
            "  scan_bind_mounts": median_seconds(lambda: scan_bind_mounts(processes), args.runs),
            "lsns": median_seconds(
                lambda: subprocess.run(["lsns"], capture_output=True, check=True), args.runs
            ),
        }
        nns = len(build_namespaces(processes, holders=True))
        print(f"{nprocs} processes, {nns} namespaces, medians of {args.runs} runs:")
        for name, seconds in results.items():
            print(f"  {name:34s} {seconds * 1000:8.1f} ms")
        ratio = results["build_namespaces(holders=True)"] / results["lsns"]
        print(f"  holders=True / lsns: {ratio:.2f}")
    finally:
        for proc in started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
        for proc in started:
            proc.wait()
        procfs.close_helper()
    return 0


if __name__ == "__main__":
    sys.exit(main())
