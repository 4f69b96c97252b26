"""``make reliability``: the reliability figures of issue 7, measured on this machine.

1. process starts survived: benchmarks/churn.py starts 10,000 processes (new namespaces,
   cgroups created and removed, threads) while LiveSource snapshots run back to back and a
   headless TUI refreshes; every snapshot is checked (tests/reliability/churncheck.py).
2. fuzz cases tried per parser: the reliability tests (tests/reliability, churn excepted)
   run with ``NSTUI_FUZZ_EXAMPLES`` cases per property instead of the quick default.
3. invalid writes reaching the kernel: write attempts the guard caught while parsers and
   validators ran, plus validated values the kernel still refused as invalid (must be 0).
4. leaked objects: mounts, cgroups, /run/netns entries and processes left behind by all of
   the above (compared with a list taken before; must be 0).

Needs root. Prints the figures; exit status 0 only when every figure is as it must be.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


class Outcomes:
    """A pytest plugin counting test outcomes."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.failed: list[str] = []

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or report.outcome != "passed":
            self.counts[report.outcome] += 1
            if report.outcome == "failed":
                lines = [ln for ln in report.longreprtext.splitlines() if ln.startswith("E ")]
                why = lines[0][1:].strip()[:160] if lines else ""
                self.failed.append(f"{report.nodeid}\n      {why}")


def run_tests(examples: int, basetemp: str) -> tuple[Outcomes, Any]:
    os.environ["NSTUI_FUZZ_EXAMPLES"] = str(examples)
    import pytest

    # after the variable is set (it is read at import); by name, since this script is
    # itself called reliability
    fuzzkit = importlib.import_module("reliability.fuzzkit")

    outcomes = Outcomes()
    args = [
        str(TESTS / "reliability"),
        f"--ignore={TESTS / 'reliability' / 'test_churn.py'}",
        f"--rootdir={ROOT}",
        f"--basetemp={basetemp}",
        "-o",
        "addopts=--strict-markers",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:terminal",  # the figures below say what failed
    ]
    pytest.main(args, plugins=[outcomes])
    return outcomes, fuzzkit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="print nstui's reliability figures")
    parser.add_argument("--starts", type=int, default=10_000, help="process starts (10000)")
    parser.add_argument("--fuzz-examples", type=int, default=300, help="cases per property")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("reliability: needs root (namespaces, cgroups, mounts)", file=sys.stderr)
        return 1
    sys.path.insert(0, str(TESTS))
    sys.path.insert(1, str(ROOT / "benchmarks"))
    churn = importlib.import_module("churn")
    leaks = importlib.import_module("reliability.leaks")

    basetemp = tempfile.mkdtemp(prefix="nstui-test-reliability-")
    markers = leaks.Markers(tag=uuid.uuid4().hex[:10], session_pid=os.getpid(), basetemp=basetemp)
    os.environ[leaks.SESSION_ENV] = markers.tag
    before = leaks.take_inventory(markers)
    started = time.monotonic()

    figures = churn.run_benchmark(args.starts)
    outcomes, fuzzkit = run_tests(args.fuzz_examples, basetemp)
    importlib.import_module("reliability.leakcheck").close_nstui_helpers()
    _, report = leaks.settle(before, markers)
    elapsed = time.monotonic() - started
    shutil.rmtree(basetemp, ignore_errors=True)

    watch = figures["watch"]
    driver = figures["driver"]
    problems = sum(watch["error_counts"].values()) + len(watch["exceptions"])
    survived = driver.get("starts", 0) if figures["driver_status"] == 0 else 0
    guard = sum(fuzzkit.WRITES.values())
    refused = sum(fuzzkit.KERNEL_REFUSED.values())
    print(f"nstui reliability figures — {platform.node()}, kernel {platform.release()}, ")
    print(f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print()
    print(f"process starts survived: {survived}")
    print(
        f"  {figures['starts_per_second']:.0f} starts/s while {watch['snapshots']} snapshots "
        f"({watch['full_snapshots']} full) and {watch['tui_refreshes']} TUI refreshes ran; "
        f"{watch['marked_checked']} churn processes cross-checked against known namespaces"
    )
    rates = figures.get("watch_rates", {})
    alone = figures.get("driver_alone", {})
    print(
        f"  the generator alone, same run: {alone.get('starts_per_second', 0):.0f} starts/s; "
        f"snapshots/s quiet {rates.get('snapshots_per_second_quiet', 0)}, in the churn "
        f"{rates.get('snapshots_per_second_in_churn', 0)} (TUI refreshes/s "
        f"{rates.get('tui_refreshes_per_second_in_churn', 0)}); the kernel counted "
        f"{driver.get('kernel_forks', 0)} forks and clones meanwhile (threads included)"
    )
    print(f"  snapshot problems: {problems} {dict(watch['error_counts']) or ''}")
    for name in ("exceptions",):
        for text in watch[name][:3]:
            print(f"  {name[:-1]}: {text.strip().splitlines()[-1]}")
    print(f"fuzz cases tried per parser ({args.fuzz_examples} per property):")
    for name, count in sorted(fuzzkit.COUNTS.items()):
        print(f"  {name:42} {count:7}")
    print(f"  {'total':42} {sum(fuzzkit.COUNTS.values()):7}")
    print(f"invalid writes reaching the kernel: {refused}")
    by_file = dict(fuzzkit.KERNEL_REFUSED) or ""
    print(f"  validated values the kernel refused as invalid: {refused} {by_file}")
    print(f"  write attempts by parsers and validators (caught by the guard): {guard}")
    print(f"leaked objects: {len(report.leaks)}")
    lines = report.lines()
    for line in lines[:25]:
        print(f"  {line}")
    if len(lines) > 25:
        print(f"  ... {len(lines) - 25} more lines")
    print(
        f"reliability tests: {outcomes.counts['passed']} passed, {outcomes.counts['failed']} "
        f"failed, {outcomes.counts['skipped']} skipped ({elapsed:.0f} s in all)"
    )
    for nodeid in outcomes.failed:
        print(f"  FAILED {nodeid}")
    ok = (
        survived >= args.starts
        and problems == 0
        and guard == 0
        and refused == 0
        and report.ok
        and not outcomes.failed
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
