"""Union mounts, layers, overlay mount/umount and device mapper: the ``mounts`` part of Actions.

Everything here blocks (it reads /proc of every mount namespace, walks layer trees, mounts):
the UI calls it from thread workers. Mounting inside another process's mount namespace runs
``nstui overlay mount`` in a single-threaded helper that entered that namespace: the threaded
app never calls setns itself (the kernel refuses setns(mnt) to a threaded process). The
paths of such a mount are those the target process sees (its namespace and root), where
``nstui`` itself must be reachable at the same path (true for namespaces sharing the host's
root filesystem). With ``layers_here`` the layers are this namespace's directories instead:
nstui.kernel.overlay_inject builds a detached mount here and attaches it over there.

Every mount and unmount is recorded first in ``mounts.log`` beside the audit log, with the
mount at the target before and after; a change that cannot be recorded is refused.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from nstui.kernel.aufs import aufs_absent_reason
from nstui.kernel.cgroups.audit import AuditError, AuditLog, default_audit_path
from nstui.kernel.devmapper import DmReport, dm_report
from nstui.kernel.layers import (
    ChangeSet,
    LayerStack,
    MergedEntry,
    change_set,
    list_merged,
    stack_from_aufs,
    stack_from_overlay,
)
from nstui.kernel.mount_users import MountUser, processes_using
from nstui.kernel.mountinfo import read_mountinfo
from nstui.kernel.nshelper import EnterOptions, NsHelperError, spawn_in
from nstui.kernel.nstypes import NsType
from nstui.kernel.overlay_build import (
    MountResult,
    OverlayError,
    OverlaySpec,
    check_spec,
    mount_overlay,
    umount_overlay,
)
from nstui.kernel.runtime_layers import LayerLabel, RuntimeLabeler
from nstui.kernel.union_mounts import (
    MountNamespace,
    MountScan,
    UnionMount,
    mount_at,
    mount_ns_of,
    scan_mount_namespaces,
    union_mounts_of,
)
from nstui.model.containers import label_for_cgroup_path

#: How long a helper mounting in another namespace may take before it is killed.
HELPER_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class MountsState:
    """Everything the mounts view shows, read in one go (in a worker)."""

    taken_at: float
    scan: MountScan
    unions: tuple[UnionMount, ...]
    #: layer path (as mountinfo shows it) -> runtime label, for paths a runtime owns
    labels: dict[str, LayerLabel] = field(default_factory=dict)
    #: mount namespace -> container label of its first process, where it has one
    containers: dict[str, str] = field(default_factory=dict)
    dm: DmReport = field(default_factory=lambda: DmReport(devices=()))
    aufs_note: str | None = None  # "aufs is not available in this kernel..." or None


@dataclass(frozen=True, slots=True)
class MountOutcome:
    """The result of a mount or unmount, as one message for the user."""

    ok: bool
    message: str
    target: str
    method: str = ""
    in_pid: int | None = None


class MountActions(Protocol):
    def read_state(self) -> MountsState:
        """Every mount namespace, its union mounts with labels, dm devices, aufs presence."""
        ...

    def layer_stack(self, union: UnionMount) -> LayerStack:
        """The layers of a union mount, readable from this namespace."""
        ...

    def list_merged(self, union: UnionMount, rel: str = "") -> list[MergedEntry]:
        """The merged directory REL of a union mount, each entry with its layer."""
        ...

    def change_set(self, union: UnionMount) -> ChangeSet:
        """The upper layer as added/modified/deleted/opaque against the lowers."""
        ...

    def users(self, union: UnionMount) -> tuple[MountUser, ...]:
        """Processes of the mount's namespace whose cwd, root, files or maps are on it."""
        ...

    def mount_overlay(
        self, spec: OverlaySpec, in_pid: int | None = None, layers_here: bool = False
    ) -> MountOutcome:
        """Check and mount SPEC, in this namespace or in IN_PID's mount namespace. With
        ``layers_here`` the layer paths are nstui's and only the target is IN_PID's."""
        ...

    def umount(self, target: str, lazy: bool = False, in_pid: int | None = None) -> MountOutcome:
        """Unmount the union mount at TARGET (lazily: MNT_DETACH)."""
        ...


def layer_root(ns: MountNamespace) -> str:
    """Where this process reads the layers of a mount of NS: directly in our own namespace,
    through ``/proc/PID/root`` of a member process elsewhere."""
    if ns.is_own or ns.read_via is None:
        return ""
    return f"/proc/{ns.read_via}/root"


def _container_of(ns: MountNamespace) -> str | None:
    for pid in ns.pids[:8]:
        try:
            with open(f"/proc/{pid}/cgroup", encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            path = line.split(":", 2)[-1]
            label = label_for_cgroup_path(path)
            if label is not None and label.is_container:
                return label.display
    return None


def _labels(unions: Sequence[UnionMount]) -> dict[str, LayerLabel]:
    """Runtime labels of every layer path (keyed as mountinfo shows the path)."""
    labeler = RuntimeLabeler()
    out: dict[str, LayerLabel] = {}
    for union in unions:
        paths = [*union.layers]
        if union.upper:
            paths.append(union.upper)
        paths.append(union.target)
        for path in paths:
            if path in out:
                continue
            real = union.overlay.absolute(path) if union.overlay is not None else path
            label = labeler.label(real)
            if label is not None:
                out[path] = label
    return out


def _absolute_spec(spec: OverlaySpec) -> None:
    paths = [*spec.lowers, spec.target, spec.upper or "/", spec.work or "/"]
    relative = [p for p in paths if not p.startswith("/")]
    if relative:
        raise OverlayError(
            f"paths are looked up in the target's mount namespace: give absolute paths "
            f"(not {relative[0]!r})"
        )


def _run_helper(in_pid: int, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ARGV in IN_PID's mount namespace through the single-threaded namespace helper
    (nstui.kernel.nshelper: setns, then exec) and capture its output. Raises NsHelperError
    (target gone, permission denied...) and subprocess.TimeoutExpired."""
    # root=True: paths as the process sees them (its chroot), as /proc/PID/mountinfo shows
    launch = spawn_in(in_pid, (NsType.MNT,), argv, EnterOptions(root=True), capture=True)
    try:
        status, out, err = launch.communicate(timeout=HELPER_TIMEOUT)
    except subprocess.TimeoutExpired:
        launch.stop(grace=1.0)
        raise
    return subprocess.CompletedProcess(argv, status, out, err)


def _overlay_args(spec: OverlaySpec) -> list[str]:
    """The layer and option arguments of ``nstui overlay mount`` for SPEC (no target)."""
    args: list[str] = []
    for lower in spec.lowers:
        args += ["--lower", lower]
    if spec.upper is not None and spec.work is not None:
        args += ["--upper", spec.upper, "--work", spec.work]
    for option in spec.options:
        args += ["--option", option]
    return args


def _self_argv() -> list[str]:
    return [sys.executable, "-m", "nstui"]


def mounts_audit_path(audit_path: str | None = None) -> str:
    """The mount audit log: ``mounts.log`` beside the cgroup audit log (its records have the
    same shape; kept apart because cgroup undo cannot read them)."""
    return os.path.join(os.path.dirname(audit_path or default_audit_path()), "mounts.log")


class LiveMountActions:
    """Mount actions on this host's kernel. Every mount and unmount is recorded first in the
    mount audit log (refused when it cannot be), with the mount before and after."""

    def __init__(self, audit_path: str | None = None, audit: bool = True, **options: Any) -> None:
        # Other options shared by every part of Actions (interval...) are not ours.
        self._proc = str(options.get("proc", "/proc"))
        self._audit = AuditLog(mounts_audit_path(audit_path)) if audit else None

    @property
    def audit_location(self) -> str | None:
        return self._audit.path if self._audit is not None else None

    def _mount_text(self, target: str, in_pid: int | None) -> str | None:
        """The mount on top at TARGET (as IN_PID sees it), for the audit record."""
        try:
            mounts = read_mountinfo(in_pid if in_pid is not None else "self", self._proc)
        except OSError:
            return None
        path = target if in_pid is not None else os.path.abspath(target)
        m = mount_at(mounts, path)
        if m is None:
            return None
        return f"{m.mountpoint} {m.fstype} {m.source} {m.super_options} (id {m.mount_id})"

    def _audited(
        self,
        what: str,
        target: str,
        in_pid: int | None,
        command: list[str],
        do: Callable[[], MountOutcome],
    ) -> MountOutcome:
        if self._audit is None:
            return do()
        try:
            ns = str(mount_ns_of(in_pid if in_pid is not None else "self", self._proc))
        except OSError:
            ns = f"mnt of pid {in_pid}"
        before = self._mount_text(target, in_pid)
        typed = shlex.join(command)
        try:
            entry = self._audit.attempt(ns, f"({what})", before, typed, typed)
        except AuditError as exc:
            return MountOutcome(False, str(exc), target, in_pid=in_pid)
        outcome = do()
        after = self._mount_text(target, in_pid)
        try:
            self._audit.result(entry, after, "ok" if outcome.ok else f"error: {outcome.message}")
        except AuditError as exc:
            if outcome.ok:
                return replace(outcome, message=f"{outcome.message} (not recorded: {exc})")
        return outcome

    def read_state(self) -> MountsState:
        scan = scan_mount_namespaces(self._proc)
        unions = scan.union_mounts()
        containers: dict[str, str] = {}
        for ns in scan.namespaces:
            label = _container_of(ns)
            if label is not None:
                containers[str(ns.ns)] = label
        return MountsState(
            taken_at=time.time(),
            scan=scan,
            unions=unions,
            labels=_labels(unions),
            containers=containers,
            dm=dm_report(scan),
            aufs_note=aufs_absent_reason(self._proc),
        )

    def layer_stack(self, union: UnionMount) -> LayerStack:
        root = layer_root(union.namespace)
        if union.overlay is not None:
            return stack_from_overlay(union.overlay, root)
        if union.aufs is not None:
            return stack_from_aufs(union.aufs, root)
        return LayerStack(layers=())

    def list_merged(self, union: UnionMount, rel: str = "") -> list[MergedEntry]:
        return list_merged(self.layer_stack(union), rel)

    def change_set(self, union: UnionMount) -> ChangeSet:
        return change_set(self.layer_stack(union))

    def users(self, union: UnionMount) -> tuple[MountUser, ...]:
        m = union.mount
        return processes_using(m.major, m.minor, union.namespace.pids, self._proc)

    def mount_overlay(
        self, spec: OverlaySpec, in_pid: int | None = None, layers_here: bool = False
    ) -> MountOutcome:
        command = ["nstui", "overlay", "mount", *_overlay_args(spec)]
        if in_pid is not None:
            command += ["--in-pid", str(in_pid)] + (["--layers-here"] if layers_here else [])
        return self._audited(
            "mount overlay",
            spec.target,
            in_pid,
            [*command, spec.target],
            lambda: self._mount(spec, in_pid, layers_here),
        )

    def umount(self, target: str, lazy: bool = False, in_pid: int | None = None) -> MountOutcome:
        command = ["nstui", "overlay", "umount", *(["--lazy"] if lazy else [])]
        if in_pid is not None:
            command += ["--in-pid", str(in_pid)]
        return self._audited(
            "umount", target, in_pid, [*command, target], lambda: self._umount(target, lazy, in_pid)
        )

    def _mount(self, spec: OverlaySpec, in_pid: int | None, layers_here: bool) -> MountOutcome:
        if in_pid is not None and layers_here:
            return self._inject(spec, in_pid)
        if in_pid is None:
            try:
                result = mount_overlay(spec)
            except OverlayError as exc:
                return MountOutcome(False, str(exc), spec.target)
            return MountOutcome(True, _mounted_message(result), result.target, result.method)
        try:
            _absolute_spec(spec)
        except OverlayError as exc:
            return MountOutcome(False, str(exc), spec.target, in_pid=in_pid)
        argv = [*_self_argv(), "overlay", "mount", "--json", "--no-audit", *_overlay_args(spec)]
        argv += ["--", spec.target]
        return self._in_namespace(in_pid, argv, spec.target)

    def _umount(self, target: str, lazy: bool, in_pid: int | None) -> MountOutcome:
        if in_pid is None:
            try:
                umount_overlay(target, lazy=lazy)
            except OverlayError as exc:
                return MountOutcome(False, str(exc), target)
            how = "detached (lazy)" if lazy else "unmounted"
            return MountOutcome(True, f"{os.path.abspath(target)} {how}", target)
        if not target.startswith("/"):
            return MountOutcome(False, "give an absolute target path", target, in_pid=in_pid)
        argv = [*_self_argv(), "overlay", "umount", "--json", "--no-audit"]
        if lazy:
            argv.append("--lazy")
        argv += ["--", target]
        return self._in_namespace(in_pid, argv, target)

    def _inject(self, spec: OverlaySpec, in_pid: int) -> MountOutcome:
        """Layers from this namespace, attached in IN_PID's: a single-threaded helper
        creates the detached mount, enters the namespace and attaches it."""
        if not spec.target.startswith("/"):
            return MountOutcome(
                False,
                "the target is looked up in the process's mount namespace: give it absolute",
                spec.target,
                in_pid=in_pid,
            )
        argv = [sys.executable, "-I", "-m", "nstui.kernel.overlay_inject", "--pid", str(in_pid)]
        for lower in spec.lowers:
            argv += ["--lower", os.path.abspath(lower)]
        if spec.upper is not None and spec.work is not None:
            argv += ["--upper", os.path.abspath(spec.upper), "--work", os.path.abspath(spec.work)]
        for option in spec.options:
            argv += ["--option", option]
        argv += ["--", spec.target]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=HELPER_TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return MountOutcome(
                False, f"the mount helper failed: {exc}", spec.target, in_pid=in_pid
            )
        try:
            payload = json.loads(done.stdout) if done.stdout.strip() else {}
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        if done.returncode == 0 and "message" in payload:
            message = str(payload["message"])
            return MountOutcome(True, message, spec.target, "fsmount + move_mount", in_pid)
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        error = str(payload.get("error") or (lines[-1] if lines else f"exit {done.returncode}"))
        return MountOutcome(False, error, spec.target, in_pid=in_pid)

    def _in_namespace(self, in_pid: int, argv: list[str], target: str) -> MountOutcome:
        try:
            os.stat(f"{self._proc}/{in_pid}/ns/mnt")
        except FileNotFoundError:
            return MountOutcome(False, f"process {in_pid} does not exist", target, in_pid=in_pid)
        except OSError as exc:
            return MountOutcome(False, f"process {in_pid}: {exc.strerror}", target, in_pid=in_pid)
        if not os.path.exists(f"{self._proc}/{in_pid}/root{sys.executable}"):
            return MountOutcome(
                False,
                f"process {in_pid}'s mount namespace has no {sys.executable}: the helper runs "
                "nstui there, so it must see the same files; to mount directories of nstui's "
                "namespace there, take the layers from here (--layers-here)",
                target,
                in_pid=in_pid,
            )
        try:
            done = _run_helper(in_pid, argv)
        except subprocess.TimeoutExpired:
            return MountOutcome(
                False,
                f"the helper in process {in_pid}'s namespace timed out",
                target,
                in_pid=in_pid,
            )
        except NsHelperError as exc:
            return MountOutcome(False, str(exc), target, in_pid=in_pid)
        except OSError as exc:
            return MountOutcome(False, f"starting the helper: {exc}", target, in_pid=in_pid)
        return _outcome_from_helper(done, target, in_pid)


def _mounted_message(result: MountResult) -> str:
    layers = ""
    if result.mount is not None:
        layers = f" ({result.mount.fstype}, mount id {result.mount.mount_id})"
    return f"mounted on {result.target} with {result.method}{layers}"


def _outcome_from_helper(
    done: subprocess.CompletedProcess[str], target: str, in_pid: int
) -> MountOutcome:
    payload: dict[str, Any] = {}
    try:
        parsed = json.loads(done.stdout) if done.stdout.strip() else {}
        if isinstance(parsed, dict):
            payload = parsed
    except ValueError:
        payload = {}
    where = f" in the mount namespace of process {in_pid}"
    if done.returncode == 0:
        message = str(payload.get("message") or "done")
        return MountOutcome(True, message + where, target, str(payload.get("method", "")), in_pid)
    error = str(payload.get("error") or "").strip()
    if not error:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        error = lines[-1] if lines else f"exit status {done.returncode}"
    return MountOutcome(False, error + where, target, in_pid=in_pid)


def find_union(
    state: MountsState, target: str, in_pid: int | None = None, proc: str = "/proc"
) -> UnionMount | None:
    """The union mount on top at TARGET, in nstui's namespace or as IN_PID sees it.

    mountinfo paths are relative to the reading process's root, and a namespace is read
    through one of its processes: when IN_PID is another one (a chrooted process), its own
    mountinfo is read here (blocking), so TARGET means what IN_PID sees."""
    if in_pid is None:
        namespaces = [ns for ns in state.scan.namespaces if ns.is_own]
    else:
        found = state.scan.find_namespace(in_pid)
        if found is None:
            return None
        if found.read_via != in_pid:
            try:
                mounts = read_mountinfo(in_pid, proc)
            except OSError:
                return None
            found = replace(found, read_via=in_pid, mounts=tuple(mounts))
        namespaces = [found]
    for ns in namespaces:
        top = mount_at(ns.mounts, target)
        if top is None:
            continue
        for union in union_mounts_of(ns):
            if union.mount.mount_id == top.mount_id:
                return union
    return None


__all__ = [
    "LiveMountActions",
    "MountActions",
    "MountOutcome",
    "MountsState",
    "OverlaySpec",
    "check_spec",
    "find_union",
]
