"""JSON shapes of mounts, union mounts, layers, change sets and dm devices (CLI ``--json``)."""

from __future__ import annotations

from typing import Any

from nstui.kernel.devmapper import DmDevice, DmReport
from nstui.kernel.layers import Change, ChangeSet, Layer, LayerStack, MergedEntry
from nstui.kernel.mountinfo import Mount
from nstui.kernel.union_mounts import MountNamespace, UnionMount
from nstui.model.mount_actions import MountsState


def namespace_json(ns: MountNamespace, state: MountsState | None = None) -> dict[str, Any]:
    return {
        "ns": str(ns.ns),
        "inode": ns.ns.ino,
        "pids": list(ns.pids),
        "nprocs": len(ns.pids),
        "read_via": ns.read_via,
        "label": ns.label,
        "container": state.containers.get(str(ns.ns)) if state is not None else None,
        "own": ns.is_own,
        "error": ns.error,
    }


def mount_json(mount: Mount) -> dict[str, Any]:
    return {
        "id": mount.mount_id,
        "parent": mount.parent_id,
        "maj:min": f"{mount.major}:{mount.minor}",
        "root": mount.root,
        "target": mount.mountpoint,
        "fstype": mount.fstype,
        "source": mount.source,
        "options": mount.options,
        "propagation": list(mount.optional),
        "super_options": mount.super_options,
    }


def _label(state: MountsState | None, path: str | None) -> str | None:
    if state is None or path is None:
        return None
    label = state.labels.get(path)
    return str(label) if label is not None else None


def union_json(union: UnionMount, state: MountsState | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "namespace": str(union.namespace.ns),
        "pids": list(union.namespace.pids),
        "container": state.containers.get(str(union.namespace.ns)) if state else None,
        "target": union.target,
        "fstype": union.kind,
        "mount_id": union.mount.mount_id,
        "maj:min": f"{union.mount.major}:{union.mount.minor}",
        "target_label": _label(state, union.target),
    }
    if union.overlay is not None:
        opts = union.overlay.options
        out.update(
            lowers=[{"path": p, "label": _label(state, p)} for p in opts.lowers],
            data_lowers=list(opts.data_lowers),
            upper={"path": opts.upper, "label": _label(state, opts.upper)} if opts.upper else None,
            work=opts.work,
            lowerdir_plus=opts.lowerdir_plus,
            features=opts.features(),
            options=[k if v is None else f"{k}={v}" for k, v in opts.raw],
        )
    if union.aufs is not None:
        out.update(
            si=union.aufs.si,
            branches=[
                {"index": b.index, "path": b.path, "perm": b.perm, "brid": b.brid}
                for b in union.aufs.branches
            ],
            note=union.aufs.note,
        )
    return out


def layer_json(layer: Layer) -> dict[str, Any]:
    return {"layer": layer.name, "role": layer.role, "path": layer.path}


def stack_json(stack: LayerStack) -> list[dict[str, Any]]:
    return [layer_json(layer) for layer in stack.layers]


def entry_json(entry: MergedEntry) -> dict[str, Any]:
    return {
        "path": entry.path,
        "kind": entry.kind,
        "layer": entry.layer.name,
        "hides": [layer.name for layer in entry.hides],
        "merged_from": [layer.name for layer in entry.merged_from],
        "opaque": entry.opaque,
        "copied_up": entry.copied_up,
    }


def change_json(change: Change) -> dict[str, Any]:
    return {
        "change": change.kind,
        "path": change.path,
        "kind": change.file_kind,
        "shadows": [layer.name for layer in change.shadows],
        "copied_up": change.copied_up,
        "metacopy": change.metacopy,
        "redirect": change.redirect,
    }


def change_set_json(changes: ChangeSet) -> dict[str, Any]:
    return {
        "upper": changes.upper.path if changes.upper else None,
        "counts": changes.counts(),
        "changes": [change_json(c) for c in changes.changes],
        "truncated": changes.truncated,
        "note": changes.note,
    }


def dm_device_json(dev: DmDevice) -> dict[str, Any]:
    return {
        "name": dev.name,
        "kname": dev.kname,
        "maj:min": f"{dev.major}:{dev.minor}",
        "uuid": dev.uuid,
        "size": dev.size,
        "ro": dev.read_only,
        "suspended": dev.suspended,
        "slaves": list(dev.slaves),
        "targets": [
            {"start": t.start, "length": t.length, "type": t.type, "args": t.args}
            for t in dev.targets
        ],
        "mounts": [
            {
                "namespace": str(m.ns),
                "label": m.ns_label,
                "target": m.mountpoint,
                "fstype": m.fstype,
                "pids": list(m.pids),
            }
            for m in dev.mounts
        ],
    }


def dm_json(report: DmReport) -> dict[str, Any]:
    return {"devices": [dm_device_json(d) for d in report.devices], "notes": list(report.notes)}
