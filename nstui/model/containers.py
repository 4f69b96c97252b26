"""Which container (or systemd unit) a process or cgroup belongs to, named briefly.

Runtimes leave two kinds of trace: the cgroup directory they put a container in (docker's
``/docker/<64 hex>``, podman's ``libpod-<id>.scope``, lxc's ``lxc.payload.<name>`` ...) and the
monitor process that stays the container's parent (``containerd-shim``, ``conmon``,
``lxc-start``, ``systemd-nspawn``, ``runc run``). ``label_for_cgroup_path`` reads the first,
``label_for_process`` combines both, ``label_for_namespace`` names a namespace by its members.

Names are short the way ``docker ps`` prints them: a 12-character id prefix, or the name when
the path or the monitor's command line has one. ``runtime`` is one of ``RUNTIMES``.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nstui.kernel.namespaces import HolderKind
from nstui.kernel.nstypes import NsId, NsType
from nstui.kernel.procfs import Process
from nstui.model.printable import printable
from nstui.model.snapshot import Snapshot

#: Runtime kinds a label can carry. ``*-monitor`` labels mark the supervising process of a
#: container (conmon, the lxc monitor): it belongs to the container but runs outside it.
RUNTIMES: tuple[str, ...] = (
    "docker",
    "containerd",
    "cri-o",
    "cri-o-monitor",
    "podman",
    "podman-monitor",
    "runc",
    "crun",
    "lxc",
    "lxc-monitor",
    "nspawn",
    "kubepods",
    "systemd",
)

#: How many characters of an id to show, as docker ps does.
SHORT_ID = 12
#: How many characters of a pod uid to show (the first group of the UUID).
SHORT_POD = 8


@dataclass(frozen=True)
class ContainerLabel:
    """A short name for what a process or cgroup belongs to.

    ``name`` is short (an id prefix or a real name); ``id`` the full container id when known;
    ``pod`` the full pod uid (kubepods) or podman pod id when the container is in a pod.
    """

    runtime: str
    name: str
    id: str | None = None
    pod: str | None = None

    def __post_init__(self) -> None:
        # Names come from cgroup paths and command lines anyone can choose: never let an
        # escape sequence through to a terminal.
        for field in ("name", "id", "pod"):
            value = getattr(self, field)
            if value is not None and printable(value) is not value:
                object.__setattr__(self, field, printable(value))

    @property
    def is_container(self) -> bool:
        """False for systemd units and container monitors: they run on the host."""
        return self.runtime != "systemd" and not self.runtime.endswith("-monitor")

    @property
    def short_pod(self) -> str | None:
        return None if self.pod is None else self.pod[:SHORT_POD]

    @property
    def display(self) -> str:
        """One short word for a table column: ``docker:3f4e5d6c7b8a``, ``nginx.service``,
        ``kubepods:8a7f1c2e/3f4e5d6c7b8a``."""
        if self.runtime == "systemd":
            return self.name
        if self.pod is not None:
            if self.id is None:
                return f"{self.runtime}:pod {self.short_pod}"
            return f"{self.runtime}:{self.short_pod}/{self.name}"
        return f"{self.runtime}:{self.name}"

    def __str__(self) -> str:
        return self.display


_HEX_ID = re.compile(r"[0-9a-f]{32,128}")
_UNIT_SUFFIXES = (".service", ".scope", ".slice")
_SYSTEMD_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def short_id(ident: str) -> str:
    """A hex id cut to 12 characters as docker ps shows it; a real name stays whole."""
    return ident[:SHORT_ID] if _HEX_ID.fullmatch(ident) else ident


def _unescape_unit(text: str) -> str:
    r"""Undo systemd's unit-name escapes (``\x2d`` is ``-``, ``\x5f`` is ``_``)."""
    return _SYSTEMD_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _strip_unit(component: str) -> str:
    for suffix in _UNIT_SUFFIXES:
        if component.endswith(suffix):
            return component[: -len(suffix)]
    return component


def _label(runtime: str, ident: str, pod: str | None = None) -> ContainerLabel:
    return ContainerLabel(runtime=runtime, name=short_id(ident), id=ident, pod=pod)


# Prefixes of container scopes, systemd cgroup driver: ``<prefix><id>.scope``. Longer
# prefixes first so ``libpod-conmon-`` wins over ``libpod-``.
_SCOPE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("libpod-conmon-", "podman-monitor"),
    ("libpod-", "podman"),
    ("crio-conmon-", "cri-o-monitor"),
    ("crio-", "cri-o"),
    ("cri-containerd-", "containerd"),
    ("nerdctl-", "containerd"),
    ("docker-", "docker"),
)

# Top-level directories of the cgroupfs drivers whose child is a container id.
_CGROUPFS_PARENTS: dict[str, str] = {
    "docker": "docker",
    "libpod_parent": "podman",
    "default": "containerd",  # ctr's default namespace
    "k8s.io": "containerd",
    "moby": "containerd",
    "lxc": "lxc",
    "lxc.payload": "lxc",
    "lxc.monitor": "lxc-monitor",
}

_POD_COMPONENT = re.compile(r"(?:kubepods(?:-[a-z]+)*-)?pod([0-9a-f_-]{32,36})(?:\.slice)?")
_PODMAN_POD = re.compile(r"machine-libpod_pod_([0-9a-f]{32,64})\.slice")


def _container_in_component(component: str, parent: str | None) -> ContainerLabel | None:
    """The container a single path component names, given the component before it."""
    if component.endswith(".scope"):
        for prefix, runtime in _SCOPE_PREFIXES:
            if component.startswith(prefix):
                ident = component[len(prefix) : -len(".scope")]
                # docker-compose.scope or nerdctl-run.scope are not containers: ids are hex
                if _HEX_ID.fullmatch(ident):
                    return _label(runtime, ident)
                break
    if component.startswith("lxc.payload."):
        return ContainerLabel("lxc", component[len("lxc.payload.") :])
    if component.startswith("lxc.monitor."):
        return ContainerLabel("lxc-monitor", component[len("lxc.monitor.") :])
    if component.startswith("systemd-nspawn@") and component.endswith(".service"):
        name = _unescape_unit(component[len("systemd-nspawn@") : -len(".service")])
        return ContainerLabel("nspawn", name)
    if component.startswith("machine-") and component.endswith(".scope"):
        name = _unescape_unit(component[len("machine-") : -len(".scope")])
        return ContainerLabel("nspawn", name)
    if parent is not None and parent in _CGROUPFS_PARENTS:
        runtime = _CGROUPFS_PARENTS[parent]
        if runtime in ("lxc", "lxc-monitor"):
            return ContainerLabel(runtime, component)
        if runtime == "podman" and component.startswith("libpod-"):
            return _label(runtime, component[len("libpod-") :])
        if runtime == "docker" or _HEX_ID.fullmatch(component) or parent == "default":
            return _label(runtime, component)
    return None


def _kubepods_label(components: Sequence[str]) -> ContainerLabel | None:
    """``/kubepods/<qos>/pod<uid>/<id>`` and the systemd-driver form with
    ``kubepods-<qos>-pod<uid_with_underscores>.slice/<runtime>-<id>.scope``."""
    for i, component in enumerate(components):
        match = _POD_COMPONENT.fullmatch(component)
        if match is None or not any(c.startswith("kubepods") for c in components[:i]):
            continue
        pod = match.group(1).replace("_", "-")
        if i + 1 >= len(components):
            return ContainerLabel("kubepods", pod[:SHORT_POD], None, pod)
        child = components[i + 1]
        inner = _container_in_component(child, None)
        ident = inner.id if inner is not None and inner.id is not None else _strip_unit(child)
        return ContainerLabel("kubepods", short_id(ident), ident, pod)
    return None


def _systemd_unit_label(components: Sequence[str]) -> ContainerLabel | None:
    """The innermost service or scope (``init.scope`` below another unit names that unit),
    else the innermost slice."""
    units = [c for c in components if c.endswith((".service", ".scope"))]
    if len(units) > 1 and units[-1] == "init.scope":
        units.pop()
    if units:
        return ContainerLabel("systemd", _unescape_unit(units[-1]))
    slices = [c for c in components if c.endswith(".slice")]
    if slices:
        return ContainerLabel("systemd", _unescape_unit(slices[-1]))
    return None


@functools.lru_cache(maxsize=65536)
def label_for_cgroup_path(path: str) -> ContainerLabel | None:
    """The container (or systemd unit) a cgroup path such as ``/docker/<64 hex>`` or
    ``/system.slice/nginx.service`` names; None for the root and unrecognised paths.

    The innermost container wins (docker inside lxc is docker), and a container beats the
    systemd unit around it. Paths are as /proc/PID/cgroup prints them.
    """
    components = [c for c in path.split("/") if c]
    if not components:
        return None
    kube = _kubepods_label(components)
    if kube is not None:
        return kube
    for i in range(len(components) - 1, -1, -1):
        parent = components[i - 1] if i > 0 else None
        # A cgroupfs-driver parent only counts at the top, or below a container (nesting):
        # ``/srv/default/x`` is not containerd's.
        if parent is not None and i > 1 and parent in _CGROUPFS_PARENTS:
            outer = label_for_cgroup_path("/" + "/".join(components[: i - 1]))
            if outer is None or not outer.is_container:
                parent = None
        label = _container_in_component(components[i], parent)
        if label is not None:
            pod = _podman_pod(components[:i])
            if pod is not None and label.runtime.startswith("podman"):
                return ContainerLabel(label.runtime, label.name, label.id, pod)
            return label
    return _systemd_unit_label(components)


def _podman_pod(components: Sequence[str]) -> str | None:
    for component in components:
        match = _PODMAN_POD.fullmatch(component)
        if match is not None:
            return match.group(1)
    return None


# --- process tree ---------------------------------------------------------------------------


def _option(args: Sequence[str], *names: str, attached: bool = False) -> str | None:
    """Value of ``-n NAME``, ``--name=NAME`` or ``--name NAME``; with ATTACHED also the
    getopt forms ``-nNAME`` and ``-bD DIR`` (the option last in a cluster of flags)."""
    for i, arg in enumerate(args[1:], start=1):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg[len(name) + 1 :]
            if not attached or len(name) != 2 or arg.startswith("--") or len(arg) < 3:
                continue
            if arg.startswith(name):  # -nNAME
                return arg[2:]
            if arg[0] == "-" and arg[-1] == name[1] and i + 1 < len(args):  # -bD DIR
                return args[i + 1]
    return None


def _program(process: Process) -> str:
    if process.cmdline:
        return os.path.basename(process.cmdline[0])
    return process.comm


def _shim_label(args: Sequence[str]) -> ContainerLabel | None:
    ident = _option(args, "-id", "--id")
    namespace = _option(args, "-namespace", "--namespace")
    if ident is None:
        # docker 17-18: docker-containerd-shim <id> <bundle> <runtime>
        positional = [a for a in args[1:] if not a.startswith("-")]
        ident = next((a for a in positional if _HEX_ID.fullmatch(a)), None)
        namespace = namespace or "moby"
    if ident is None:
        return None
    runtime = {"moby": "docker", "k8s.io": "kubepods"}.get(namespace or "", "containerd")
    return _label(runtime, ident)


def _conmon_label(args: Sequence[str]) -> ContainerLabel | None:
    ident = _option(args, "-c", "--cid")
    name = _option(args, "-n", "--name")
    runtime = "cri-o" if any("crio" in a for a in args) else "podman"
    if ident is None and name is None:
        return None
    if ident is None:
        return ContainerLabel(runtime, name or "")
    return ContainerLabel(runtime, name or short_id(ident), ident)


def _lxc_label(args: Sequence[str]) -> ContainerLabel | None:
    if args and args[0].startswith("[lxc monitor]"):
        # "[lxc monitor] /var/lib/lxc NAME", one argv word or several
        words = " ".join(args).split()
        return ContainerLabel("lxc", words[-1]) if len(words) >= 4 else None
    name = _option(args, "-n", "--name", attached=True)
    return ContainerLabel("lxc", name) if name else None


def _nspawn_label(args: Sequence[str]) -> ContainerLabel | None:
    name = _option(args, "-M", "--machine", attached=True)
    if name is None:
        directory = _option(args, "-D", "--directory", attached=True) or _option(
            args, "-i", "--image", attached=True
        )
        if directory is not None:
            name = os.path.basename(directory.rstrip("/")).split(".", 1)[0]
    return ContainerLabel("nspawn", name) if name else None


def _oci_runtime_label(runtime: str, args: Sequence[str]) -> ContainerLabel | None:
    """``runc [global options] run [options] <id>``: the id is the last word."""
    command = next((i for i, a in enumerate(args) if a in ("run", "create")), None)
    if command is None or command + 1 >= len(args) or args[-1].startswith("-"):
        return None
    return _label(runtime, args[-1])


#: comm (15 characters at most) of every monitor ``monitor_label`` recognises: a cheap
#: first test, since nearly every process is not one.
_MONITOR_COMMS = ("containerd-shim", "docker-contain", "conmon", "lxc-start", "systemd-nspawn")


def monitor_label(process: Process) -> ContainerLabel | None:
    """The container whose children PROCESS supervises, when it is a runtime's monitor
    (containerd-shim, conmon, lxc-start, systemd-nspawn, runc/crun run); else None."""
    comm = process.comm
    if not comm.startswith(_MONITOR_COMMS) and comm not in ("runc", "crun"):
        return None
    program = _program(process)
    args = process.cmdline
    if program.startswith(("containerd-shim", "docker-containerd-shim")):
        return _shim_label(args)
    if program == "conmon":
        return _conmon_label(args)
    if comm == "lxc-start" or program == "lxc-start":
        return _lxc_label(args)
    if program == "systemd-nspawn":
        return _nspawn_label(args)
    if program in ("runc", "crun"):
        return _oci_runtime_label(program, args)
    return None


# --- per-snapshot cache ---------------------------------------------------------------------


#: "not computed yet" in the label memos, where None is a valid result (compared by identity)
_UNSET = ContainerLabel("", "")


class _SnapshotLabels:
    """Labels of one snapshot's processes, computed on demand and remembered."""

    def __init__(self, snapshot: Snapshot, previous: _SnapshotLabels | None = None) -> None:
        self.snapshot = snapshot
        self.labels: dict[int, ContainerLabel | None] = {}
        self.tree: dict[int, ContainerLabel | None] = {}
        self.monitors: dict[int, ContainerLabel | None] = {}
        self.hid_order = _hierarchy_order(snapshot)
        # The scanner shares one cgroups dict among processes with the same /proc/PID/cgroup
        # text and keeps it across scans: label each dict once. Entries hold the dict, so an
        # id is never reused while it is a key here.
        self.by_cgroups: dict[int, tuple[dict[int, str], ContainerLabel | None]] = {}
        self.previous = previous if previous and previous.hid_order == self.hid_order else None

    def process(self, pid: int) -> ContainerLabel | None:
        label = self.labels.get(pid, _UNSET)
        if label is not _UNSET:
            return label
        process = self.snapshot.processes.get(pid)
        label = None if process is None else self._compute(process)
        self.labels[pid] = label
        return label

    def _compute(self, process: Process) -> ContainerLabel | None:
        from_cgroup = self._cgroup_label(process)
        from_tree = self._tree_label(process.pid)
        if from_cgroup is not None and from_cgroup.is_container:
            # conmon and lxc-start know names the cgroup path lacks; use them when they agree.
            if (
                from_tree is not None
                and from_tree.id is not None
                and from_tree.id == from_cgroup.id
                and from_tree.name != from_cgroup.name
            ):
                return ContainerLabel(
                    from_cgroup.runtime, from_tree.name, from_cgroup.id, from_cgroup.pod
                )
            return from_cgroup
        if from_tree is not None:
            return from_tree
        if from_cgroup is None and process.cmdline[1:2] == ("init",):
            # runc/crun's own init, before it execs the container's command: runc's
            # default cgroup is /<id>
            program = _program(process)
            path = self._best_path(process)
            if program in ("runc", "crun") and path is not None and path.strip("/"):
                return _label(program, _strip_unit(path.rstrip("/").rsplit("/", 1)[-1]))
        return from_cgroup

    def _best_path(self, process: Process) -> str | None:
        for hid in self.hid_order:
            if hid in process.cgroups:
                return process.cgroups[hid]
        return next(iter(process.cgroups.values()), None)

    def _cgroup_label(self, process: Process) -> ContainerLabel | None:
        paths = process.cgroups
        key = id(paths)
        hit = self.by_cgroups.get(key)
        previous = self.previous  # once: another thread may drop it meanwhile
        if hit is None and previous is not None:
            hit = previous.by_cgroups.get(key)
        label = hit[1] if hit is not None and hit[0] is paths else self._paths_label(paths)
        self.by_cgroups[key] = (paths, label)
        return label

    def _paths_label(self, paths: dict[int, str]) -> ContainerLabel | None:
        """A container named by any hierarchy's path beats a systemd unit; among units, the
        v2 path, then name=systemd, then the v1 controllers'."""
        fallback: ContainerLabel | None = None
        found = 0
        for hid in self.hid_order:
            path = paths.get(hid)
            if path is None:
                continue
            found += 1
            label = label_for_cgroup_path(path)
            if label is None:
                continue
            if label.runtime != "systemd":
                return label
            if fallback is None:
                fallback = label
        if found < len(paths):  # hierarchies the snapshot does not list
            for hid in sorted(set(paths) - set(self.hid_order)):
                label = label_for_cgroup_path(paths[hid])
                if label is not None and label.runtime != "systemd":
                    return label
                fallback = fallback or label
        return fallback

    def _monitor(self, pid: int) -> ContainerLabel | None:
        label = self.monitors.get(pid, _UNSET)
        if label is not _UNSET:
            return label
        process = self.snapshot.processes.get(pid)
        label = None if process is None else monitor_label(process)
        self.monitors[pid] = label
        return label

    def _tree_label(self, pid: int) -> ContainerLabel | None:
        """The label a supervising ancestor gives PID (memoised along the chain)."""
        tree = self.tree
        if pid in tree:
            return tree[pid]
        process = self.snapshot.processes.get(pid)
        if process is not None and process.ppid > 0 and process.ppid in tree:
            # the common case: the parent (usually a lower pid) was labelled already
            label = self._monitor(process.ppid) or tree[process.ppid]
            tree[pid] = label
            return label
        chain: list[int] = []
        visited: set[int] = set()  # a torn scan can show a parent loop
        result: ContainerLabel | None = None
        current = pid
        processes = self.snapshot.processes
        while True:
            if current in self.tree:
                result = self.tree[current]
                break
            process = processes.get(current)
            if process is None or current in visited:
                break
            chain.append(current)
            visited.add(current)
            if process.ppid <= 0:
                break
            label = self._monitor(process.ppid)
            if label is not None:
                result = label
                break
            current = process.ppid
        for member in chain:
            self.tree[member] = result
        return result


def _hierarchy_order(snapshot: Snapshot) -> list[int]:
    """Hierarchies to read a process's cgroup from, best first: the v2 tree, name=systemd,
    then the v1 controllers."""
    v2 = [h.hid for h in snapshot.hierarchies if h.version == 2]
    named = [
        h.hid
        for h in snapshot.hierarchies
        if h.version == 1 and any(c.startswith("name=") for c in h.controllers)
    ]
    rest = sorted(h.hid for h in snapshot.hierarchies if h.hid not in v2 and h.hid not in named)
    order = v2 + named + rest
    return order if 0 in order else [0, *order]


_cache_lock = threading.Lock()
_cache: list[_SnapshotLabels] = []
#: Snapshots whose labels are kept: the current one and the previous (diffs compare both).
_CACHE_SNAPSHOTS = 2


def _labels_of(snapshot: Snapshot) -> _SnapshotLabels:
    # Keyed by identity and holding the snapshot itself, so an id is never reused while cached.
    with _cache_lock:
        for entry in _cache:
            if entry.snapshot is snapshot:
                return entry
        previous = _cache[0] if _cache else None
        entry = _SnapshotLabels(snapshot, previous)
        if previous is not None:
            previous.previous = None  # keep one generation: no chain of old snapshots
        _cache.insert(0, entry)
        del _cache[_CACHE_SNAPSHOTS:]
        return entry


def label_for_process(snapshot: Snapshot, pid: int) -> ContainerLabel | None:
    """The container (or, failing that, systemd unit) PID belongs to; None when neither is
    known or the pid is not in the snapshot.

    Reads the v2 path, then name=systemd, then any v1 path; a supervising ancestor
    (containerd-shim, conmon, lxc-start, systemd-nspawn, runc) names the container when the
    cgroup path does not. Results are cached per snapshot.
    """
    return _labels_of(snapshot).process(pid)


def container_labels(snapshot: Snapshot) -> Mapping[int, ContainerLabel]:
    """Every process's label that is not None, by pid (for columns and filters)."""
    labels = _labels_of(snapshot)
    out: dict[int, ContainerLabel] = {}
    for pid in snapshot.processes:
        label = labels.process(pid)
        if label is not None:
            out[pid] = label
    return out


def label_for_namespace(snapshot: Snapshot, ns_id: NsId) -> str:
    """A namespace's name for people: its container (or pod) when its first process is in one,
    else that process's command; a namespace without processes is named by what holds it.

    The first process is the pid namespace's init where known, else the lowest member pid
    that is not a kernel thread.
    """
    namespace = snapshot.namespaces.get(ns_id)
    if namespace is None:
        return ""
    if not namespace.pids:
        holder = namespace.holders[0] if namespace.holders else None
        if holder is None:
            return "(no processes)"
        if holder.kind is HolderKind.REFERENCE:
            return printable(f"({holder.path})")
        kind = {HolderKind.BIND_MOUNT: "bind mount", HolderKind.OPEN_FD: "fd"}.get(
            holder.kind, "thread"
        )
        return printable(f"({kind} {holder.path})")
    # Kernel threads live in every initial namespace and name none of them: skip them (pid 1
    # may be missing where /proc/1/ns is unreadable, and [kthreadd] would stand in for it).
    processes = snapshot.processes
    first = next(
        (p for p in namespace.pids if p in processes and not processes[p].is_kernel_thread),
        namespace.pids[0],
    )
    if (
        ns_id.type is NsType.PID
        and namespace.facts.init_pid is not None
        and namespace.facts.init_pid in snapshot.processes
    ):
        first = namespace.facts.init_pid
    labels = _labels_of(snapshot)
    label = labels.process(first)
    if label is not None and label.is_container:
        if label.pod is not None and label.runtime == "kubepods":
            others = {labels.process(pid) for pid in namespace.pids[:64]}
            if len({o.id for o in others if o is not None and o.pod == label.pod}) > 1:
                return f"kubepods:pod {label.short_pod}"
        return label.display
    process = snapshot.processes.get(first)
    return printable(process.command) if process is not None else str(first)
