"""Pieces shared by the namespace-action panes (run, enter, keep, release)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from nstui.kernel.nstypes import NsType


def nsactions_css() -> Path:
    """styles/nsactions.tcss, shipped in the wheel as nstui.styles."""
    return Path(str(files("nstui.styles").joinpath("nsactions.tcss")))


#: What a new namespace of each type isolates, in a few words (checkbox labels).
TYPE_HINTS: dict[NsType, str] = {
    NsType.PID: "process ids (command is pid 1)",
    NsType.NET: "network stack (loopback only)",
    NsType.MNT: "mount table",
    NsType.UTS: "hostname",
    NsType.IPC: "System V IPC, message queues",
    NsType.USER: "uids, gids, capabilities",
    NsType.CGROUP: "view of the cgroup tree",
    NsType.TIME: "monotonic and boot clocks",
}


def pause_for_enter(status: int) -> None:
    """After an attached command: let the user read its last output before the TUI returns."""
    import os

    message = f"\n[nstui: the command exited with status {status}; press Enter to return]"
    try:
        os.write(2, message.encode())
        os.read(0, 4096)
    except OSError:
        pass
