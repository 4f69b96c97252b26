"""Container labels and detail text at 10,000 processes, from the recorded snapshot.

    .venv/bin/python benchmarks/labels.py [--processes 10000]

The recorded host (tests/data/recorded_snapshot.json) is grown to N processes by copying
its processes (copies share their cgroups dicts, as the live scanner's interned ones do).
Prints, best of ten: labelling every process of a new snapshot (what the processes view's
refresh worker does), naming every namespace, describing one process, namespace and cgroup,
and for reference a bare pass over the processes touching three fields, in the same process.
No kernel access, nothing started.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from nstui.kernel.nstypes import NsType
from nstui.model.containers import container_labels, label_for_cgroup_path, label_for_namespace
from nstui.model.describe import describe_cgroup, describe_namespace, describe_process
from nstui.model.snapshot import Snapshot

RECORDED = Path(__file__).resolve().parents[1] / "tests" / "data" / "recorded.py"


def _recorded() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nstui_bench_recorded", RECORDED)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def grown_snapshot(count: int) -> Snapshot:
    recorded = _recorded()
    base: Snapshot = recorded.load_recorded_snapshot()
    processes = dict(base.processes)
    templates = list(base.processes.values())
    pid = 100_000
    while len(processes) < count:
        template = templates[pid % len(templates)]
        processes[pid] = dataclasses.replace(template, pid=pid)
        pid += 1
    grown: Snapshot = recorded.with_processes(base, processes)
    return grown


def best_ms(fn: Callable[[int], object], runs: int = 10) -> float:
    times = []
    for k in range(runs):
        start = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--processes", type=int, default=10_000)
    args = parser.parse_args()
    snap = grown_snapshot(args.processes)
    n = len(snap.processes)

    def fresh(k: int) -> Snapshot:
        return dataclasses.replace(snap, taken_at=snap.taken_at + k + 1)

    label_for_cgroup_path.cache_clear()
    start = time.perf_counter()
    container_labels(fresh(-2))
    cold = (time.perf_counter() - start) * 1000
    reference = best_ms(
        lambda k: [(p.pid, p.comm, p.cgroups.get(0)) for p in snap.processes.values()]
    )
    labels = best_ms(lambda k: container_labels(fresh(k)))
    names = best_ms(lambda k: [label_for_namespace(snap, ns) for ns in snap.namespaces])
    host_net = snap.host.host_ns[NsType.NET]
    detail_p = best_ms(lambda k: describe_process(snap, 1252))
    detail_n = best_ms(lambda k: describe_namespace(snap, host_net))
    detail_c = best_ms(lambda k: describe_cgroup(snap, 0, "/"))

    print(f"processes: {n}, namespaces: {len(snap.namespaces)}, cgroups: {len(snap.cgroups)}")
    print(f"reference pass over the processes:   {reference:7.1f} ms")
    print(f"container_labels, first snapshot:     {cold:7.1f} ms")
    print(f"container_labels, each new snapshot:  {labels:7.1f} ms ({labels / reference:.0f}x ref)")
    print(f"label_for_namespace, all namespaces:  {names:7.1f} ms")
    print(f"describe_process:                     {detail_p:7.2f} ms")
    print(f"describe_namespace (host net):        {detail_n:7.2f} ms")
    print(f"describe_cgroup (v2 root):            {detail_c:7.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
