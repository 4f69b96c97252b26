"""Start-up cost of the namespace helper against util-linux, run side by side.

Prints the median wall time (ms) of N runs of each: entering a process's namespaces with
``nsenter`` and with ``nshelper.spawn_in``, creating namespaces with ``unshare`` and with
``nshelper.spawn_unshared``, and a bare interpreter start for reference. Needs root.
Usage: python benchmarks/nshelper.py [RUNS]
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from nstui.kernel import nshelper


def median_ms(runs: int, action: Callable[[], object]) -> float:
    action()  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def run(argv: list[str]) -> None:
    subprocess.run(argv, check=True)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    holder = subprocess.Popen(
        [
            "unshare",
            "--net",
            "--uts",
            "--ipc",
            "--mount",
            "--pid",
            "--fork",
            "--mount-proc",
            "sleep",
            "1000",
        ],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 5
        target = 0
        while not target and time.monotonic() < deadline:
            with open(f"/proc/{holder.pid}/task/{holder.pid}/children") as fh:
                kids = fh.read().split()
            target = int(kids[0]) if kids else 0
            time.sleep(0.01)
        t = str(target)
        rows = [
            (
                "python -I -S -c pass (reference)",
                lambda: run([sys.executable, "-I", "-S", "-c", "pass"]),
            ),
            ("nsenter -t PID -n -u true", lambda: run(["nsenter", "-t", t, "-n", "-u", "true"])),
            (
                "spawn_in(PID, [net, uts], [true])",
                lambda: nshelper.spawn_in(target, ["net", "uts"], ["true"]).wait(),
            ),
            ("nsenter -t PID --all true", lambda: run(["nsenter", "-t", t, "--all", "true"])),
            (
                "spawn_in(PID, None, [true]) (all that differ)",
                lambda: nshelper.spawn_in(target, None, ["true"]).wait(),
            ),
            ("unshare --uts true", lambda: run(["unshare", "--uts", "true"])),
            (
                "spawn_unshared([true], [uts])",
                lambda: nshelper.spawn_unshared(["true"], ["uts"]).wait(),
            ),
            (
                "unshare --pid --fork --mount-proc true",
                lambda: run(["unshare", "--pid", "--fork", "--mount-proc", "true"]),
            ),
            (
                "spawn_unshared([true], [pid], mount_proc)",
                lambda: nshelper.spawn_unshared(
                    ["true"], ["pid"], nshelper.UnshareOptions(mount_proc=True)
                ).wait(),
            ),
        ]
        print(f"median of {runs} runs, ms")
        for label, action in rows:
            print(f"{median_ms(runs, action):8.1f}  {label}")
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
