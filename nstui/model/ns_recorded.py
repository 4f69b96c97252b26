"""Namespace actions that answer from a recorded snapshot: for UI tests and screenshots,
never live data. The panes can be opened and read; running, entering, keeping and releasing
are refused with a message, as a read-only recording should."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from nstui.kernel import nshelper
from nstui.kernel.nshelper import EnterOptions, KeptNamespace, NsHelperError, UnshareOptions
from nstui.kernel.nstypes import NS_TYPES, NsId, NsType
from nstui.model.ns_actions import LaunchHandle
from nstui.model.snapshot import Snapshot

REFUSED = "this is a recorded snapshot: nothing runs on this host"


class RecordedNsActions:
    """``differences`` compares a recorded process with the recording's host namespaces."""

    def __init__(self, snapshot: Snapshot | None = None, shell: str = "/bin/bash") -> None:
        self.snapshot = snapshot
        self.shell = shell

    def run(
        self,
        argv: Sequence[str],
        namespaces: Iterable[NsType | str],
        options: UnshareOptions,
        *,
        detach: bool = False,
    ) -> LaunchHandle:
        raise NsHelperError(nshelper.INVALID, REFUSED)

    def enter(
        self,
        target_pid: int,
        namespaces: Iterable[NsType | str] | None,
        argv: Sequence[str],
        options: EnterOptions,
        *,
        detach: bool = False,
    ) -> LaunchHandle:
        raise NsHelperError(nshelper.INVALID, REFUSED)

    def keep(self, pid: int, ns_type: NsType, path: str) -> KeptNamespace:
        raise NsHelperError(nshelper.INVALID, REFUSED)

    def release(self, path: str) -> None:
        raise NsHelperError(nshelper.INVALID, REFUSED)

    def differences(self, pid: int) -> dict[NsType, bool | None]:
        process = self.snapshot.processes.get(pid) if self.snapshot is not None else None
        if process is None or self.snapshot is None:
            return dict.fromkeys(NS_TYPES)
        host = self.snapshot.host.host_ns
        out: dict[NsType, bool | None] = {}
        for ns_type in NS_TYPES:
            mine, reference = process.ns.get(ns_type), host.get(ns_type)
            out[ns_type] = None if mine is None or reference is None else mine != reference
        return out

    def default_shell(self, pid: int, inside_root: bool = True) -> str:
        return self.shell

    def default_keep_path(self, ns: NsId) -> str:
        return nshelper.default_keep_path(ns.type, ns.ino)

    def unavailable_reason(self) -> str | None:
        return REFUSED
