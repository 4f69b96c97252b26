"""What the detail pane (and ``nstui`` text output) says about a process, namespace or cgroup.

Pure functions over a ``Snapshot``: they return a ``Description`` of titled sections of
(label, value) rows with a tone hint, and never read the kernel. The UI renders the tones as
colours; ``render_text`` prints them as plain aligned text.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from nstui.kernel.cgroups.hierarchy import Cgroup, Hierarchy
from nstui.kernel.namespaces import HolderKind, Namespace
from nstui.kernel.nstypes import NS_TYPES, NsId, NsType
from nstui.kernel.procfs import Process
from nstui.model.containers import (
    ContainerLabel,
    label_for_cgroup_path,
    label_for_namespace,
    label_for_process,
)
from nstui.model.glossary import cgroup_term, namespace_term
from nstui.model.printable import printable, printable_lines
from nstui.model.snapshot import Snapshot

#: At most this many member processes are listed; the rest are counted.
MAX_LISTED = 40

#: v1 reports "no memory limit" as the largest page-aligned signed 64-bit number.
_V1_UNLIMITED = 1 << 62


class Tone(StrEnum):
    PLAIN = "plain"
    MUTED = "muted"  # absent, not read, or "as usual"
    HIGHLIGHT = "highlight"  # differs from the host: what makes something a container
    WARNING = "warning"  # unreadable, held only by a mount, gone


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    value: str
    tone: Tone = Tone.PLAIN


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    rows: tuple[Row, ...]
    note: str = ""  # a line under the title (what this kind of thing is)
    #: values may span lines (cgroup files); elsewhere a line break is shown escaped
    multiline: bool = False


@dataclass(frozen=True, slots=True)
class Description:
    kind: str  # process | namespace | cgroup
    title: str
    subtitle: str
    sections: tuple[Section, ...]

    def section(self, title: str) -> Section | None:
        return next((s for s in self.sections if s.title == title), None)


STATE_NAMES: dict[str, str] = {
    "R": "running",
    "S": "sleeping",
    "D": "disk sleep (uninterruptible)",
    "Z": "zombie",
    "T": "stopped",
    "t": "stopped by a tracer",
    "X": "dead",
    "I": "idle kernel thread",
    "P": "parked",
}


# --- formatting -------------------------------------------------------------------------------


def _done(kind: str, title: str, subtitle: str, sections: Sequence[Section]) -> Description:
    """The Description, with every text from the host made safe for a terminal (commands,
    paths and names may carry escape sequences)."""
    clean = []
    for section in sections:
        fix = printable_lines if section.multiline else printable
        rows = tuple(Row(printable(r.label), fix(r.value), r.tone) for r in section.rows)
        clean.append(Section(section.title, rows, section.note, section.multiline))
    return Description(kind, printable(title), printable(subtitle), tuple(clean))


def human_bytes(value: int) -> str:
    """1536 -> ``1.5 KiB``; IEC units as free(1) -h prints them."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(size) < 1024 or unit == "PiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"  # not reached


def human_duration(seconds: float) -> str:
    """90061 -> ``1d 1h``; short, largest two units."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _plural(count: int, word: str) -> str:
    if count == 1:
        return f"{count} {word}"
    return f"{count} {word}es" if word.endswith("s") else f"{count} {word}s"


# --- processes --------------------------------------------------------------------------------


def _namespace_row(snapshot: Snapshot, process: Process, ns_type: NsType) -> Row:
    ns_id = process.ns.get(ns_type)
    if ns_id is None:
        return Row(ns_type.value, "unreadable", Tone.WARNING)
    namespace = snapshot.namespaces.get(ns_id)
    others = max(0, (namespace.nprocs if namespace else 1) - 1)
    host = snapshot.host.host_ns.get(ns_type)
    sharing = "not shared" if others == 0 else f"shared with {_plural(others, 'other process')}"
    if host is not None and ns_id == host:
        return Row(ns_type.value, f"{ns_id.ino}  same as host", Tone.MUTED)
    if namespace is not None and namespace.facts.hostname is not None:
        sharing += f" · hostname {namespace.facts.hostname or '(empty)'}"
    if host is None:
        return Row(ns_type.value, f"{ns_id.ino}  {sharing}")
    return Row(ns_type.value, f"{ns_id.ino}  own · {sharing}", Tone.HIGHLIGHT)


def _hierarchy_name(snapshot: Snapshot, hid: int) -> str:
    for hierarchy in snapshot.hierarchies:
        if hierarchy.hid == hid:
            return hierarchy.name
    return "unified" if hid == 0 else f"hierarchy {hid}"


def uid_inside(snapshot: Snapshot, process: Process) -> int | None:
    """PROCESS's uid as its own user namespace sees it, through that namespace's uid_map
    (read from the host, whose ids the map's outside column is in); None for the host's user
    namespace or when the map is unread or does not cover the uid."""
    user_ns = process.ns.get(NsType.USER)
    if process.uid is None or user_ns is None or user_ns == snapshot.host.host_ns.get(NsType.USER):
        return None
    namespace = snapshot.namespaces.get(user_ns)
    if namespace is None:
        return None
    for line in namespace.facts.uid_map:
        if line.outside <= process.uid < line.outside + line.count:
            return line.inside + process.uid - line.outside
    return None


def _process_rows(snapshot: Snapshot, process: Process) -> list[Row]:
    processes = snapshot.processes
    rows = [Row("command", shlex.join(process.cmdline) if process.cmdline else process.command)]
    parent = processes.get(process.ppid)
    parent_text = f"{process.ppid} {parent.comm}" if parent else str(process.ppid)
    rows.append(Row("parent", parent_text, Tone.PLAIN if parent or process.ppid else Tone.MUTED))
    if process.uid is None:
        rows.append(Row("user", "unreadable", Tone.WARNING))
    else:
        user = f"{process.user} ({process.uid})" if process.user else str(process.uid)
        rows.append(Row("user", user))
        inside = uid_inside(snapshot, process)
        if inside is not None:
            root = "  (root in its user namespace)" if inside == 0 else ""
            rows.append(Row("uid inside", f"{inside}{root}", Tone.HIGHLIGHT))
    rows.append(Row("state", f"{process.state} ({STATE_NAMES.get(process.state, 'unknown')})"))
    rows.append(Row("threads", str(process.nthreads)))
    age = human_duration(snapshot.taken_at - process.start_time)
    rows.append(Row("started", f"{_utc(process.start_time)} ({age} ago)"))
    cpu = f"{process.cpu_time:.2f} s"
    if process.cpu_percent is not None:
        cpu += f", {process.cpu_percent:.1f}% now"
    rows.append(Row("cpu time", cpu))
    if process.rss is None:
        rows.append(Row("memory (rss)", "unreadable", Tone.WARNING))
    else:
        rows.append(Row("memory (rss)", human_bytes(process.rss)))
    if len(process.nspid) > 1:
        chain = " → ".join(str(p) for p in process.nspid)
        rows.append(Row("NSpid", f"{chain}  (host → inner)", Tone.HIGHLIGHT))
    elif process.nspid:
        rows.append(Row("NSpid", str(process.nspid[0]), Tone.MUTED))
    if process.unreadable:
        rows.append(Row("unreadable", ", ".join(sorted(process.unreadable)), Tone.WARNING))
    return rows


def _label_rows(label: ContainerLabel | None, own: Sequence[str] = ()) -> list[Row]:
    """``own``: the namespace types the process does not share with the host."""
    if label is None and own:
        return [
            Row("container", f"no runtime seen; own {', '.join(own)} namespaces", Tone.HIGHLIGHT)
        ]
    if label is None:
        return [Row("container", "none (a host process)", Tone.MUTED)]
    if not label.is_container:
        kind = "systemd unit" if label.runtime == "systemd" else label.runtime
        return [
            Row("unit" if label.runtime == "systemd" else "monitor of", label.display),
            Row("kind", kind, Tone.MUTED),
        ]
    rows = [Row("container", label.display, Tone.HIGHLIGHT), Row("runtime", label.runtime)]
    if label.id is not None and label.id != label.name:
        rows.append(Row("id", label.id))
    if label.pod is not None:
        rows.append(Row("pod", label.pod))
    return rows


def describe_process(snapshot: Snapshot, pid: int) -> Description:
    """A process: identity and facts, its container, its 8 namespaces compared with the host's,
    its cgroup in every hierarchy, and threads that sit in other namespaces."""
    process = snapshot.processes.get(pid)
    if process is None:
        gone = Section("Process", (Row("pid", str(pid)), Row("state", "gone", Tone.WARNING)))
        return _done("process", f"pid {pid}", "not in this snapshot", (gone,))
    label = label_for_process(snapshot, pid)
    sections = [Section("Process", tuple(_process_rows(snapshot, process)))]
    host_ns = snapshot.host.host_ns
    own = [
        t.value
        for t in NS_TYPES
        if t in process.ns and t in host_ns and process.ns[t] != host_ns[t]
    ]
    sections.append(Section("Container", tuple(_label_rows(label, own))))
    ns_rows = tuple(_namespace_row(snapshot, process, t) for t in NS_TYPES)
    note = ""
    if snapshot.host.host_ns_source != "pid 1":
        note = (
            f"compared with the namespaces of {snapshot.host.host_ns_source} (pid 1's unreadable)"
        )
    sections.append(Section("Namespaces", ns_rows, note))
    known = [h.hid for h in snapshot.hierarchies]
    hids = [h for h in known if h in process.cgroups]
    hids += sorted(h for h in process.cgroups if h not in known)
    cg_rows = tuple(Row(_hierarchy_name(snapshot, h), process.cgroups[h]) for h in hids)
    if not cg_rows:
        cg_rows = (Row("cgroups", "unreadable" if "cgroup" in process.unreadable else "none"),)
    sections.append(Section("Cgroups", cg_rows))
    if process.odd_threads:
        odd_rows = []
        for thread in process.odd_threads:
            differing = [
                str(ns_id)
                for ns_type, ns_id in sorted(thread.ns.items())
                if process.ns.get(ns_type) != ns_id
            ]
            odd_rows.append(Row(f"tid {thread.tid}", " ".join(differing), Tone.HIGHLIGHT))
        sections.append(
            Section(
                "Threads in other namespaces",
                tuple(odd_rows),
                "setns/unshare move one thread; these differ from the process's own",
            )
        )
    subtitle = label.display if label is not None else process.command
    return _done("process", f"{pid} {process.comm}", subtitle, sections)


# --- namespaces -------------------------------------------------------------------------------


def _user_of_uid(snapshot: Snapshot, uid: int) -> str | None:
    for process in snapshot.processes.values():
        if process.uid == uid and process.user:
            return process.user
    return None


_KEEPER_WORDS = {
    HolderKind.BIND_MOUNT: "a bind mount",
    HolderKind.OPEN_FD: "an open fd",
    HolderKind.REFERENCE: "a namespace it owns or parents",
    HolderKind.PROCESS: "a thread",
}


def _ns_rows(snapshot: Snapshot, namespace: Namespace) -> list[Row]:
    ns_id = namespace.id
    host = snapshot.host.host_ns.get(ns_id.type)
    rows = [Row("type", ns_id.type.value), Row("id", str(ns_id))]
    if namespace.kernel_id is not None:
        rows.append(Row("kernel id", str(namespace.kernel_id), Tone.MUTED))
    if host is not None and host == ns_id:
        rows.append(Row("host", "the host's (initial) namespace", Tone.MUTED))
    elif ns_id.is_initial:
        rows.append(Row("host", "an initial namespace", Tone.MUTED))
    else:
        rows.append(Row("host", "not the host's", Tone.HIGHLIGHT))
    if namespace.owner is not None:
        owner = str(namespace.owner)
        if snapshot.host.host_ns.get(NsType.USER) == namespace.owner:
            owner += " (host)"
        if namespace.owner_uid is not None:
            who = _user_of_uid(snapshot, namespace.owner_uid)
            owner += f", created by uid {namespace.owner_uid}" + (f" ({who})" if who else "")
        rows.append(Row("owner", owner))
    if ns_id.type in (NsType.PID, NsType.USER):
        parent = str(namespace.parent) if namespace.parent else "none (top of the tree)"
        rows.append(Row("parent", parent, Tone.PLAIN if namespace.parent else Tone.MUTED))
    rows.append(Row("processes", str(namespace.nprocs)))
    if namespace.held_only:
        kinds = sorted({_KEEPER_WORDS.get(h.kind, h.kind.value) for h in namespace.holders})
        rows.append(Row("kept alive", "only by " + " and ".join(kinds), Tone.WARNING))
    return rows


_HOLDER_LABELS = {
    HolderKind.BIND_MOUNT: "bind mount",
    HolderKind.OPEN_FD: "open fd",
    HolderKind.PROCESS: "thread",
}


def _holder_rows(snapshot: Snapshot, namespace: Namespace) -> list[Row]:
    rows = []
    for holder in namespace.holders:
        process = snapshot.processes.get(holder.pid)
        who = f"pid {holder.pid}" + (f" {process.comm}" if process else "")
        if holder.kind is HolderKind.REFERENCE:
            rows.append(Row("reference", holder.path))
            continue
        label = _HOLDER_LABELS.get(holder.kind, holder.kind.value)
        rows.append(Row(label, f"{holder.path}  ({who})"))
    return rows


def _format_map(ranges: Sequence[tuple[int, int, int]]) -> list[str]:
    return [
        f"{inside}-{inside + count - 1} → {outside}-{outside + count - 1}"
        if count > 1
        else f"{inside} → {outside}"
        for inside, outside, count in ranges
    ]


def _interfaces_section(snapshot: Snapshot, namespace: Namespace) -> Section:
    facts = namespace.facts
    rows = []
    for iface in facts.interfaces:
        traffic = (
            f"rx {human_bytes(iface.rx_bytes)} ({iface.rx_packets} pkts)  "
            f"tx {human_bytes(iface.tx_bytes)} ({iface.tx_packets} pkts)"
        )
        rows.append(Row(iface.name, traffic))
        if iface.addresses:
            rows.append(Row("", "  ".join(iface.addresses)))
    if not rows:
        rows.append(Row("interfaces", "not read", Tone.MUTED))
    elif facts.unplaced_addresses:
        rows.append(Row("other", "  ".join(facts.unplaced_addresses)))
        rows.append(Row("", "(/proc does not say which interface)", Tone.MUTED))
    return Section("Interfaces", tuple(rows))


def _id_maps_section(snapshot: Snapshot, namespace: Namespace) -> Section:
    facts = namespace.facts
    rows = []
    for name, ranges in (("uid map", facts.uid_map), ("gid map", facts.gid_map)):
        lines = _format_map([(r.inside, r.outside, r.count) for r in ranges])
        if not lines:
            rows.append(Row(name, "not read", Tone.MUTED))
        for i, line in enumerate(lines):
            rows.append(Row(name if i == 0 else "", line))
    return Section("ID maps", tuple(rows), "inside → outside (ids on the parent's side)")


def _pid_ns_section(snapshot: Snapshot, namespace: Namespace) -> Section:
    facts = namespace.facts
    rows = [
        Row(
            "level",
            "not read" if facts.pid_level is None else str(facts.pid_level),
            Tone.MUTED if facts.pid_level is None else Tone.PLAIN,
        )
    ]
    init = facts.init_pid
    if init is None:
        rows.append(Row("init", "not seen", Tone.MUTED))
    else:
        process = snapshot.processes.get(init)
        rows.append(Row("init", f"{init} {process.command}" if process else str(init)))
    return Section("Pid namespace", tuple(rows), "its pid 1; when it exits, all members die")


def _clock_offsets_section(snapshot: Snapshot, namespace: Namespace) -> Section:
    rows = [
        Row(clock, f"{secs} s {nsecs} ns")
        for clock, (secs, nsecs) in sorted(namespace.facts.time_offsets.items())
    ]
    if not rows:
        rows.append(Row("offsets", "none read (same clocks as the host)", Tone.MUTED))
    return Section("Clock offsets", tuple(rows))


def _uts_section(snapshot: Snapshot, namespace: Namespace) -> Section:
    host = snapshot.host.host_ns.get(NsType.UTS)
    hostname = namespace.facts.hostname
    if hostname is None and host == namespace.id:
        hostname = snapshot.host.hostname
    if hostname is not None:
        tone = Tone.HIGHLIGHT if host is not None and host != namespace.id else Tone.PLAIN
        return Section("UTS", (Row("hostname", hostname or "(empty)", tone),))
    why = "not read (needs entering it: root)" if namespace.pids else "not read (no process)"
    return Section("UTS", (Row("hostname", why, Tone.MUTED),))


#: What can be read about a namespace beyond its identity, per type (the others: nothing).
_FACT_SECTIONS: dict[NsType, Callable[[Snapshot, Namespace], Section]] = {
    NsType.NET: _interfaces_section,
    NsType.USER: _id_maps_section,
    NsType.PID: _pid_ns_section,
    NsType.TIME: _clock_offsets_section,
    NsType.UTS: _uts_section,
}


def describe_namespace(snapshot: Snapshot, ns_id: NsId) -> Description:
    """A namespace: identity, owner and parent, what holds it, what can be read about it
    (interfaces, id maps, pid level and init, clock offsets, hostname) and its processes."""
    namespace = snapshot.namespaces.get(ns_id)
    term = namespace_term(ns_id.type)
    if namespace is None:
        gone = Section("Namespace", (Row("id", str(ns_id)), Row("state", "gone", Tone.WARNING)))
        return _done("namespace", f"{ns_id.type.value} namespace {ns_id.ino}", "", (gone,))
    sections = [Section("Namespace", tuple(_ns_rows(snapshot, namespace)), term.what)]
    holders = _holder_rows(snapshot, namespace)
    if holders:
        sections.append(Section("Held by", tuple(holders)))
    facts_section = _FACT_SECTIONS.get(ns_id.type)
    if facts_section is not None:
        sections.append(facts_section(snapshot, namespace))
    sections.append(_members_section(snapshot, namespace.pids))
    title = f"{ns_id.type.value} namespace {ns_id.ino}"
    return _done("namespace", title, label_for_namespace(snapshot, ns_id), sections)


def _members_section(snapshot: Snapshot, pids: Sequence[int]) -> Section:
    rows = []
    for pid in pids[:MAX_LISTED]:
        process = snapshot.processes.get(pid)
        rows.append(Row(str(pid), process.command if process else "(gone)"))
    if len(pids) > MAX_LISTED:
        rows.append(Row("…", f"and {len(pids) - MAX_LISTED} more", Tone.MUTED))
    if not rows:
        rows.append(Row("", "no processes", Tone.MUTED))
    return Section("Processes", tuple(rows))


# --- cgroups ----------------------------------------------------------------------------------

_BYTE_KEYS = (
    "memory.limit_in_bytes",
    "memory.soft_limit_in_bytes",
    "memory.usage_in_bytes",
    "memory.max_usage_in_bytes",
    "memory.memsw.limit_in_bytes",
    "memory.memsw.usage_in_bytes",
    "memory.kmem.usage_in_bytes",
    "memory.max",
    "memory.high",
    "memory.low",
    "memory.min",
    "memory.current",
    "memory.peak",
    "memory.swap.max",
    "memory.swap.current",
)


def humanize_knob(key: str, value: str) -> str:
    """A cgroup file's value for people: bytes in IEC units, v1's huge "no limit" and v2's
    ``max`` as unlimited, CPU quotas as a number of CPUs. Unknown files stay as they are."""
    text = value.strip()
    hugetlb = key.startswith("hugetlb.") and ("bytes" in key or key.endswith((".max", ".current")))
    if key in _BYTE_KEYS or hugetlb:
        if text == "max":
            return "unlimited (max)"
        if text.isdecimal():
            number = int(text)
            if number >= _V1_UNLIMITED:
                return "unlimited"
            return f"{human_bytes(number)} ({number})"
        return text
    if key == "cpu.max":
        parts = text.split()
        if len(parts) == 2 and parts[0] == "max":
            return f"unlimited (period {parts[1]} µs)"
        if len(parts) == 2 and parts[0].isdecimal() and parts[1].isdecimal() and int(parts[1]):
            return f"{int(parts[0]) / int(parts[1]):.2f} CPUs ({parts[0]}/{parts[1]} µs)"
        return text
    if key == "cpu.cfs_quota_us" and text == "-1":
        return "unlimited (-1)"
    if key in ("cpuacct.usage", "cpuacct.usage_user", "cpuacct.usage_sys") and text.isdecimal():
        return f"{int(text) / 1e9:.2f} s"
    if key == "pids.max" and text == "max":
        return "unlimited (max)"
    return text


#: The files a cgroup's detail shows first, in this order (limits beside their usage); other
#: files follow, dimmed, in the order given.
HEADLINE_FILES: tuple[str, ...] = (
    "memory.max",
    "memory.high",
    "memory.current",
    "memory.peak",
    "memory.swap.max",
    "memory.swap.current",
    "memory.limit_in_bytes",
    "memory.soft_limit_in_bytes",
    "memory.usage_in_bytes",
    "memory.max_usage_in_bytes",
    "memory.memsw.limit_in_bytes",
    "memory.memsw.usage_in_bytes",
    "cpu.max",
    "cpu.weight",
    "cpu.cfs_quota_us",
    "cpu.cfs_period_us",
    "cpu.shares",
    "cpuacct.usage",
    "pids.max",
    "pids.current",
    "cpuset.cpus",
    "cpuset.mems",
    "freezer.state",
    "cgroup.freeze",
    "io.max",
    "io.weight",
    "blkio.weight",
)
#: Membership lists: the Processes section shows them already.
_MEMBER_FILES = frozenset({"cgroup.procs", "tasks", "cgroup.threads"})
#: Lines of a multi-line file (memory.stat, io.max...) shown before "… N more lines".
MAX_VALUE_LINES = 4


def _usage_rows(usage: Mapping[str, str]) -> list[Row]:
    rank = {name: i for i, name in enumerate(HEADLINE_FILES)}
    keys = [k for k in usage if k not in _MEMBER_FILES]
    headline = sorted((k for k in keys if k in rank), key=rank.__getitem__)
    rest = [k for k in keys if k not in rank and not k.startswith("hugetlb.")]
    hugetlb = [k for k in keys if k.startswith("hugetlb.")]
    rows = []
    for key in [*headline, *hugetlb, *rest]:
        tone = Tone.MUTED if key in rest else Tone.PLAIN
        lines = humanize_knob(key, usage[key]).splitlines() or ["(empty)"]
        if len(lines) > MAX_VALUE_LINES:
            more = len(lines) - MAX_VALUE_LINES + 1
            lines = [*lines[: MAX_VALUE_LINES - 1], f"… {more} more lines"]
        rows.append(Row(key, "\n".join(lines), tone))
    return rows


def _find_hierarchy(snapshot: Snapshot, hid: int) -> Hierarchy | None:
    return next((h for h in snapshot.hierarchies if h.hid == hid), None)


def _cgroup_directory(hierarchy: Hierarchy, path: str) -> str:
    """Where the cgroup's files are: the mount point plus the path below the mount's root."""
    root = hierarchy.root.rstrip("/")
    inner = path[len(root) :] if root and (path == root or path.startswith(root + "/")) else path
    return hierarchy.mountpoint.rstrip("/") + ("" if inner in ("", "/") else inner)


def _cgroup_rows(
    snapshot: Snapshot, hierarchy: Hierarchy | None, hid: int, path: str, cgroup: Cgroup
) -> list[Row]:
    rows = []
    if hierarchy is not None:
        rows.append(Row("hierarchy", f"{hierarchy.name} (cgroup v{hierarchy.version}, id {hid})"))
        directory = _cgroup_directory(hierarchy, path)
        rows.append(Row("directory", directory, Tone.MUTED))
    else:
        rows.append(Row("hierarchy", f"id {hid}"))
    rows.append(Row("path", path))
    rows.append(Row("controllers", ", ".join(cgroup.controllers) or "none", Tone.PLAIN))
    if cgroup.subtree_control or (hierarchy is not None and hierarchy.version == 2):
        rows.append(Row("enabled for children", ", ".join(cgroup.subtree_control) or "none"))
    if cgroup.threaded:
        rows.append(Row("type", "threaded"))
    rows.append(Row("processes", str(len(cgroup.pids))))
    rows.append(Row("threads", str(len(cgroup.tids))))
    prefix = "/" if path == "/" else path + "/"
    children = sum(
        1
        for (other_hid, other_path) in snapshot.cgroups
        if other_hid == hid
        and other_path.startswith(prefix)
        and other_path != path
        and "/" not in other_path[len(prefix) :]
    )
    rows.append(Row("child cgroups", str(children)))
    label = label_for_cgroup_path(path)
    if label is not None:
        tone = Tone.HIGHLIGHT if label.is_container else Tone.PLAIN
        rows.append(Row("container" if label.is_container else "unit", label.display, tone))
    return rows


def describe_cgroup(
    snapshot: Snapshot, hid: int, path: str, usage: Mapping[str, str] | None = None
) -> Description:
    """A cgroup: hierarchy, controllers, counts, its container, headline limits and usage
    (from USAGE, which the caller read from the cgroup's files; None means not read yet)."""
    hierarchy = _find_hierarchy(snapshot, hid)
    name = hierarchy.name if hierarchy is not None else f"hierarchy {hid}"
    cgroup = snapshot.cgroups.get((hid, path))
    title = f"{name}:{path}"
    if cgroup is None:
        gone = Section("Cgroup", (Row("path", path), Row("state", "gone", Tone.WARNING)))
        return _done("cgroup", title, "", (gone,))
    note = ""
    if hierarchy is not None:
        terms = [cgroup_term(c) for c in hierarchy.controllers] if hierarchy.version == 1 else []
        if hierarchy.version == 2:
            terms = [cgroup_term("unified")]
        note = " ".join(t.what for t in terms[:1] if t is not None)
    sections = [
        Section("Cgroup", tuple(_cgroup_rows(snapshot, hierarchy, hid, path, cgroup)), note)
    ]
    if usage is None:
        usage_rows: tuple[Row, ...] = (Row("", "not read yet", Tone.MUTED),)
    elif not usage:
        usage_rows = (Row("", "no limit or usage files here", Tone.MUTED),)
    else:
        usage_rows = tuple(_usage_rows(usage)) or (
            Row("", "no limit or usage files here", Tone.MUTED),
        )
    sections.append(Section("Limits and usage", usage_rows, multiline=True))
    sections.append(_members_section(snapshot, cgroup.pids))
    label = label_for_cgroup_path(path)
    return _done("cgroup", title, label.display if label else "", sections)


# --- plain text -------------------------------------------------------------------------------


def render_text(description: Description) -> str:
    """The description as aligned plain text (for the CLI and logs)."""
    lines = [description.title + (f"  —  {description.subtitle}" if description.subtitle else "")]
    for section in description.sections:
        lines.append("")
        lines.append(section.title)
        if section.note:
            lines.append(f"  {section.note}")
        width = max((len(row.label) for row in section.rows), default=0)
        for row in section.rows:
            label = f"{row.label:<{width}}  " if width else ""
            first, *more = row.value.split("\n")
            lines.append(f"  {label}{first}".rstrip())
            lines.extend(f"  {' ' * len(label)}{line}".rstrip() for line in more)
    return "\n".join(lines) + "\n"
