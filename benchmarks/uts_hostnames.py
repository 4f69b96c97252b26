"""Cost of reading uts namespaces' hostnames (nstui.kernel.ns_inside), side by side with
util-linux nsenter.

Starts N processes (default 50), each in its own uts namespace made by util-linux
``unshare --uts`` with hostname ``bench-I``, then times (medians of --runs):

- ``read_hostnames`` for all N at once (one helper process),
- the same with one pid (the fixed cost: the helper's interpreter start),
- ``nsenter -t PID -u hostname`` run N times (what a shell script would do),
- ``HostnameCache.apply`` on a snapshot it has seen (a refresh: no helper), and on a new one.

Everything it started is killed by pid at the end, also on Ctrl-C, SIGTERM or an exception.

Usage (root): python benchmarks/uts_hostnames.py [N] [--runs R]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nstui.kernel.ns_inside import read_hostnames
from nstui.kernel.nstypes import NsType
from nstui.model.hostnames import HostnameCache
from nstui.model.scanner import LiveSource


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _start(n: int) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    procs: list[subprocess.Popen[bytes]] = []
    for i in range(n):
        argv = ["unshare", "--uts", "sh", "-c", f"hostname bench-{i}; exec sleep 600"]
        procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL))
    deadline = time.monotonic() + 30
    for proc in procs:  # unshare without --fork execs sh, which execs sleep: same pid
        while Path(f"/proc/{proc.pid}/comm").read_text().strip() != "sleep":
            if time.monotonic() > deadline:
                raise RuntimeError("holders did not start")
            time.sleep(0.01)
    return procs, [p.pid for p in procs]


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=50)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (setns into other uts namespaces)", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs, pids = _start(args.n)
        names = read_hostnames(pids)
        assert names == {pid: f"bench-{i}" for i, pid in enumerate(pids)}, names
        all_ms = _median_ms(lambda: read_hostnames(pids), args.runs)
        one_ms = _median_ms(lambda: read_hostnames(pids[:1]), args.runs)

        def nsenter_all() -> None:
            for pid in pids:
                subprocess.run(
                    ["nsenter", "-t", str(pid), "-u", "hostname"],
                    stdout=subprocess.DEVNULL,
                    check=True,
                )

        nsenter_ms = _median_ms(nsenter_all, max(1, args.runs // 2))
        source = LiveSource(holders=False)
        try:
            namespaces = dict(source.take().namespaces)
        finally:
            source.close()
        n_uts = sum(1 for ns in namespaces.values() if ns.type is NsType.UTS)
        cache = HostnameCache()
        cache.apply(namespaces)
        seen_ms = _median_ms(lambda: cache.apply(namespaces), args.runs)
        new_ms = _median_ms(lambda: HostnameCache().apply(namespaces), args.runs)
        per_ns = (all_ms - one_ms) / max(1, args.n - 1) * 1000
        rows = [
            (f"read_hostnames, {args.n} pids, one helper", f"{all_ms:.1f} ms"),
            ("read_hostnames, 1 pid (the helper's start)", f"{one_ms:.1f} ms"),
            ("  per extra namespace", f"{per_ns:.0f} us"),
            (f"nsenter -t PID -u hostname, {args.n} times", f"{nsenter_ms:.1f} ms"),
            ("  ratio nsenter / read_hostnames", f"{nsenter_ms / all_ms:.1f}x"),
            ("HostnameCache.apply, all seen (a refresh)", f"{seen_ms:.3f} ms"),
            ("HostnameCache.apply, all new (a full take)", f"{new_ms:.1f} ms"),
        ]
        print(f"uts namespaces: {args.n} made here, {n_uts} in the snapshot")
        for label, value in rows:
            print(f"{label:<46}{value:>10}")
    finally:
        _stop(procs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
