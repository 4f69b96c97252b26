"""QA: a namespace kept by a bind mount after nstui started shows up at the next refresh the
user asks for (``r``, or closing the keep pane), and goes when it is released.

Found by QA: K on a namespace, then its last process exits: the namespace vanished from the
namespaces view for good (holders were only scanned at start-up), and a released one stayed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from ui.helpers import sync

from nstui.kernel.namespaces import HolderKind
from nstui.kernel.nstypes import NsType
from nstui.model.scanner import LiveSource
from nstui.model.snapshot import Snapshot
from nstui.ui.app import NstuiApp


async def _applied(pilot: Pilot[int], app: NstuiApp, after: int) -> None:
    """Wait until a snapshot newer than the ``after``-th is on screen."""
    deadline = time.monotonic() + 120
    while app.refreshes <= after:
        assert time.monotonic() < deadline, "no refresh applied"
        await asyncio.sleep(0.05)
        await pilot.pause()


async def _refresh(pilot: Pilot[int], app: NstuiApp) -> None:
    """What `r` does, waited for."""
    before = app.refreshes
    app.action_refresh_now()
    await _applied(pilot, app, before)


def _mnt_ns(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/mnt").st_ino
    except OSError:
        return None


def _mnt_of(snapshot: Snapshot, pid: int) -> int | None:
    """The mount namespace a process was in when the snapshot was taken."""
    process = snapshot.processes.get(pid)
    mnt = None if process is None else process.ns.get(NsType.MNT)
    return None if mnt is None else mnt.ino


def _wait_for_exec(pid: int, comm: str) -> None:
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}/comm").read_text().strip() != comm:
        assert time.monotonic() < deadline, f"{pid} did not exec {comm}"
        time.sleep(0.01)


@pytest.mark.root
@sync
async def test_kept_namespace_appears_on_refresh_and_goes_when_released(
    spawn: Callable[..., subprocess.Popen[bytes]], tmp_mount: object, tmp_path: Path
) -> None:
    proc = spawn(["unshare", "--uts", "sleep", "60"], stdin=subprocess.DEVNULL)
    _wait_for_exec(proc.pid, "sleep")
    ino = os.stat(f"/proc/{proc.pid}/ns/uts").st_ino
    own_mnt = _mnt_ns(os.getpid())
    keep = tmp_path / "uts"
    keep.touch()
    app = NstuiApp(LiveSource(), None, interval=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        await _applied(pilot, app, 0)
        assert app.snapshot is not None

        def kept_here() -> bool:
            """Held by our bind mount, seen in our mount namespace (other processes that
            unshared their mount namespace meanwhile hold copies: those may stay)."""
            snapshot = app.snapshot
            assert snapshot is not None
            return any(
                holder.kind is HolderKind.BIND_MOUNT
                and holder.path == str(keep)
                and _mnt_of(snapshot, holder.pid) == own_mnt
                for ns in snapshot.namespaces.values()
                if ns.type is NsType.UTS and ns.id.ino == ino
                for holder in ns.holders
            )

        subprocess.run(["mount", "--bind", f"/proc/{proc.pid}/ns/uts", str(keep)], check=True)
        tmp_mount.track(keep)  # type: ignore[attr-defined]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        await _refresh(pilot, app)
        assert kept_here(), "a namespace kept after start-up is missing after a refresh"

        subprocess.run(["umount", str(keep)], check=True)
        await _refresh(pilot, app)
        assert not kept_here(), "a released namespace is still listed as kept after a refresh"
