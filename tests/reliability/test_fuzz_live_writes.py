"""Fuzzed values against the real kernel: whatever passes validation, the kernel accepts.

Each typed value goes through ``knobs.validate`` (with the cgroup itself as context) and, when
accepted, through the writer into a test cgroup on this host. A kernel refusal that means
"invalid value" (EINVAL, ERANGE) is an invalid write that reached the kernel: the validator
let through something it should have refused. Refusals about state (EBUSY, EPERM, ENOSPC)
are not counted. fuzzkit.KERNEL_REFUSED keeps the count for ``make reliability``.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from nstui.kernel.cgroups.audit import AuditLog
from nstui.kernel.cgroups.hierarchy import discover_hierarchies
from nstui.kernel.cgroups.knobs import knob_for, validate
from nstui.kernel.cgroups.paths import CgroupDir, parse_cgroup_spec
from nstui.kernel.cgroups.writer import write_value

from .fuzzkit import COUNTS, FUZZ, KERNEL_REFUSED, typed_text
from .kobjects import MountTracker

pytestmark = pytest.mark.root

#: (controller, version, file) of knobs that take a value on an empty test cgroup here
LIVE_KNOBS = [
    ("pids", 1, "pids.max"),
    ("memory", 1, "memory.limit_in_bytes"),
    ("memory", 1, "memory.soft_limit_in_bytes"),
    ("memory", 1, "memory.swappiness"),
    ("cpu", 1, "cpu.shares"),
    ("cpu", 1, "cpu.cfs_quota_us"),
    ("cpu", 1, "cpu.cfs_period_us"),
    ("cpuset", 1, "cpuset.cpus"),
    ("cpuset", 1, "cpuset.mems"),
    ("unified", 2, "cgroup.max.depth"),
    ("unified", 2, "cgroup.max.descendants"),
]

INVALID_VALUE_ERRNOS = (errno.EINVAL, errno.ERANGE)

plausible = st.one_of(
    typed_text,
    st.integers(min_value=-5, max_value=2**64).map(str),
    st.builds(
        lambda n, unit: f"{n}{unit}",
        st.integers(min_value=0, max_value=2**40),
        st.sampled_from(["", "K", "M", "G", "T", "P", "%", "ms", "s", "us"]),
    ),
    st.builds(lambda a, b: f"{a}-{b}", st.integers(0, 9), st.integers(0, 9)),
)


@pytest.mark.parametrize(("controller", "version", "file"), LIVE_KNOBS, ids=lambda v: str(v))
def test_validated_values_are_accepted_by_the_kernel(
    test_cgroup_parent: Callable[[str], Path],
    tmp_mount: MountTracker,
    controller: str,
    version: int,
    file: str,
) -> None:
    parent = test_cgroup_parent(controller)
    spec = f"/{parent.name}" if version == 2 else f"{controller}:/{parent.name}"
    ref = parse_cgroup_spec(spec, discover_hierarchies())
    knob = knob_for(version, file)
    assert knob is not None and ref.version == version
    if not (parent / file).exists():
        pytest.skip(f"{file} does not exist on this kernel")
    # the audit log fsyncs every record: keep it on tmpfs, where that costs nothing
    logdir = tmp_mount.dir("audit")
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "nstui-test-audit", str(logdir)], check=True
    )
    audit = AuditLog(str(logdir / "audit.log"))
    name = f"live {file}"

    @FUZZ
    @given(typed=plausible)
    @example(typed="4194305")  # found by this test: above the kernel's PID_MAX_LIMIT
    @example(typed="17592186044416")  # 2**44 us: above the kernel's largest cfs quota
    @example(typed="2147483648")  # INT_MAX + 1
    @example(typed="9223372036854775807")
    def check(typed: str) -> None:
        COUNTS[name] += 1
        with CgroupDir(ref) as ctx:
            try:
                value = validate(knob, typed, ctx)
            except ValueError as exc:
                assert str(exc).strip()
                return
        result = write_value(ref, value, audit)
        if not result.ok and result.errno in INVALID_VALUE_ERRNOS:
            KERNEL_REFUSED[file] += 1
            raise AssertionError(
                f"{file}: {typed!r} passed validation as {value.text!r} but the kernel "
                f"refused it: {result.message}"
            )

    check()
