"""Layer inspector: where each entry of a union mount comes from, and the upper change set.

Works from the layer directories themselves (not the merged mount), so it also explains
entries that are hidden, and works for a mount of another mount namespace when the layer
paths are reached through ``/proc/PID/root`` (the ``root`` argument).

Union rules followed (overlayfs, Documentation/filesystems/overlayfs.rst; aufs likewise):
- the topmost layer holding a name decides what it is; a non-directory hides every layer
  below it; directories of the same name merge, down to the first *opaque* one;
- a whiteout deletes the name from the layers below: a character device 0/0 (overlay), a
  zero-size file with the ``overlay.whiteout`` xattr (overlay on 6.7+), or a ``.wh.NAME``
  file beside it (aufs);
- an opaque directory carries ``trusted.overlay.opaque=y`` (``user.overlay.opaque`` with
  userxattr), or holds ``.wh..wh..opq`` (aufs);
- a file copied up from a lower layer carries ``trusted.overlay.origin`` (with index or
  nfs_export; plain copy-ups are recognised by the same name existing below).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from nstui.kernel.aufs import OPAQUE_MARK, PRIVATE_ENTRIES, WHITEOUT_PREFIX, AufsMount
from nstui.kernel.overlay import OverlayMount

#: Change-set walks stop after this many upper entries (a huge upper must not hang a view).
MAX_WALK = 100_000


@dataclass(frozen=True, slots=True)
class Layer:
    """One directory of a union stack."""

    role: str  # "upper" or "lower"
    number: int  # 0 for upper; lower layers 1..N, 1 is the top (leftmost)
    path: str  # as the mount shows it
    real: str  # where nstui reads it (path under ``root``)

    @property
    def name(self) -> str:
        return "upper" if self.role == "upper" else f"lower {self.number}"


@dataclass(frozen=True, slots=True)
class LayerStack:
    """The layers of a union mount, top first, and how its whiteouts are written."""

    layers: tuple[Layer, ...]
    style: str = "overlay"  # or "aufs"
    xattr_prefix: str = "trusted."  # "user." for overlay's userxattr

    @property
    def upper(self) -> Layer | None:
        return self.layers[0] if self.layers and self.layers[0].role == "upper" else None

    @property
    def lowers(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in self.layers if layer.role == "lower")


def _under(root: str, path: str) -> str:
    """Where to read layer PATH of a mount seen through ROOT (``/proc/PID/root``).

    Overlay shows layer paths as the mounter gave them, relative to the mounter's root, which
    may not be the reader's: docker mounts a container's layers from the host, so inside the
    container's namespace they are host paths. So: the path under ROOT when it exists there,
    else the path in nstui's own view when it exists here, else the path under ROOT."""
    if not root or root == "/":
        return path
    inside = os.path.join(root, path.lstrip("/"))
    if not os.path.lexists(inside) and os.path.isabs(path) and os.path.isdir(path):
        return path
    return inside


def stack_from_overlay(ovl: OverlayMount, root: str = "") -> LayerStack:
    """The layer stack of an overlay; ``root`` is prepended to every layer path (use
    ``/proc/PID/root`` for a mount of another mount namespace)."""
    layers: list[Layer] = []
    if ovl.upper is not None:
        layers.append(Layer("upper", 0, ovl.upper, _under(root, ovl.absolute(ovl.upper))))
    for i, path in enumerate(ovl.lowers, start=1):
        layers.append(Layer("lower", i, path, _under(root, ovl.absolute(path))))
    prefix = "user." if ovl.options.userxattr else "trusted."
    return LayerStack(tuple(layers), style="overlay", xattr_prefix=prefix)


def stack_from_aufs(mount: AufsMount, root: str = "") -> LayerStack:
    """aufs branches as a stack: the top writable branch is the upper layer."""
    layers: list[Layer] = []
    number = 0
    for i, branch in enumerate(mount.branches):
        if i == 0 and branch.writable:
            layers.append(Layer("upper", 0, branch.path, _under(root, branch.path)))
            continue
        number += 1
        layers.append(Layer("lower", number, branch.path, _under(root, branch.path)))
    return LayerStack(tuple(layers), style="aufs")


@dataclass(frozen=True, slots=True)
class Probe:
    """What one layer holds at one path."""

    kind: str  # absent, whiteout, dir, file, symlink, other
    opaque: bool = False
    origin: bool = False  # overlay.origin xattr: copied up from a lower layer
    metacopy: bool = False  # overlay.metacopy xattr: only metadata was copied up
    redirect: str | None = None  # overlay.redirect xattr of a renamed directory


def _xattr(path: str, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None  # ENODATA, ENOTSUP, EPERM for trusted.* without CAP_SYS_ADMIN


def probe(stack: LayerStack, layer: Layer, rel: str) -> Probe:
    """What LAYER holds at the merged-tree path REL ("" or "a/b")."""
    path = os.path.join(layer.real, rel) if rel else layer.real
    if stack.style == "aufs" and rel:
        parent, name = os.path.split(path)
        if os.path.lexists(os.path.join(parent, WHITEOUT_PREFIX + name)):
            return Probe("whiteout")
    try:
        st = os.lstat(path)
    except OSError:
        return Probe("absent")
    mode = st.st_mode
    px = stack.xattr_prefix + "overlay."
    if stat.S_ISCHR(mode) and st.st_rdev == 0:
        return Probe("whiteout")
    if stat.S_ISDIR(mode):
        if stack.style == "aufs":
            opaque = os.path.lexists(os.path.join(path, OPAQUE_MARK))
            return Probe("dir", opaque=opaque)
        redirect = _xattr(path, px + "redirect")
        return Probe(
            "dir",
            opaque=_xattr(path, px + "opaque") == b"y",
            origin=_xattr(path, px + "origin") is not None,
            redirect=redirect.decode(errors="replace") if redirect is not None else None,
        )
    # overlay 6.7+ can also write a whiteout as an empty file with an xattr
    if (
        stack.style == "overlay"
        and stat.S_ISREG(mode)
        and st.st_size == 0
        and _xattr(path, px + "whiteout") is not None
    ):
        return Probe("whiteout")
    kind = "file" if stat.S_ISREG(mode) else "symlink" if stat.S_ISLNK(mode) else "other"
    if stack.style == "aufs":
        return Probe(kind)
    return Probe(
        kind,
        origin=_xattr(path, px + "origin") is not None,
        metacopy=_xattr(path, px + "metacopy") is not None,
    )


@dataclass(frozen=True, slots=True)
class MergedEntry:
    """One name of a merged directory and where it comes from."""

    name: str
    path: str  # merged-tree path, relative ("a/b")
    kind: str  # dir, file, symlink, other, whiteout
    layer: Layer  # the layer that decides it (for a whiteout: the layer holding it)
    #: layers below that hold the same name and are hidden by this entry (a merged
    #: directory hides nothing: its contents merge, except below an opaque one)
    hides: tuple[Layer, ...] = ()
    #: for a merged directory, every layer contributing entries to it, top first
    merged_from: tuple[Layer, ...] = ()
    opaque: bool = False
    copied_up: bool = False  # overlay.origin present
    metacopy: bool = False
    #: a renamed directory (redirect_dir): where its lower contents are, as the xattr says
    redirect: str | None = None
    #: for a merged directory, each contributing layer with the directory's path in it
    sources: tuple[tuple[Layer, str], ...] = ()

    @property
    def whiteout(self) -> bool:
        return self.kind == "whiteout"


#: A merged directory's sources: each contributing layer with the directory's path in it
#: (the same path, except below a renamed directory: overlay's redirect xattr).
Sources = tuple[tuple[Layer, str], ...]


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _redirected(value: str, parent_in_layer: str) -> str:
    """Where a redirect xattr points in a lower layer: an absolute value is from the layer
    root, a relative one is a name in the same parent directory."""
    if value.startswith("/"):
        return value.strip("/")
    return _join(parent_in_layer, value)


def _probe_all(
    stack: LayerStack, visible: Sources, name: str, redirect: str | None = None
) -> list[tuple[Layer, str, Probe]]:
    """Probe NAME in every source, following redirects of renamed directories downwards
    (REDIRECT: one already seen above these sources)."""
    out: list[tuple[Layer, str, Probe]] = []
    for layer, parent in visible:
        path = _join(parent, name) if redirect is None else _redirected(redirect, parent)
        p = probe(stack, layer, path)
        out.append((layer, path, p))
        if p.kind == "dir" and p.redirect:
            redirect = p.redirect
    return out


def _resolve_name(stack: LayerStack, visible: Sources, rel: str, name: str) -> MergedEntry:
    """Decide NAME inside merged dir REL whose sources are VISIBLE."""
    path = _join(rel, name)
    present = [(ly, lp, p) for ly, lp, p in _probe_all(stack, visible, name) if p.kind != "absent"]
    top_layer, top_path, top = present[0]
    below = [(ly, p) for ly, _, p in present[1:]]
    if top.kind == "whiteout":
        return MergedEntry(name, path, "whiteout", top_layer, hides=_until_whiteout(below))
    if top.kind == "dir":
        sources: list[tuple[Layer, str]] = [(top_layer, top_path)]
        hides: list[Layer] = []
        stop = top.opaque
        for layer, lpath, p in present[1:]:
            if stop:
                hides.extend(_until_whiteout([(layer, p)]))
                continue
            if p.kind == "dir":
                sources.append((layer, lpath))
                stop = p.opaque
            else:
                # a whiteout or non-directory below a directory ends the merge there
                stop = True
                if p.kind != "whiteout":
                    hides.append(layer)
        return MergedEntry(
            name,
            path,
            "dir",
            top_layer,
            hides=tuple(hides),
            merged_from=tuple(layer for layer, _ in sources),
            opaque=top.opaque,
            copied_up=top.origin,
            redirect=top.redirect,
            sources=tuple(sources),
        )
    return MergedEntry(
        name,
        path,
        top.kind,
        top_layer,
        hides=_until_whiteout(below),
        copied_up=top.origin,
        metacopy=top.metacopy,
    )


def _until_whiteout(below: list[tuple[Layer, Probe]]) -> tuple[Layer, ...]:
    """Layers holding a real entry, down to (not including) the next whiteout."""
    out: list[Layer] = []
    for layer, p in below:
        if p.kind == "whiteout":
            break
        out.append(layer)
    return tuple(out)


def _names(stack: LayerStack, layer: Layer, rel: str) -> list[str]:
    path = os.path.join(layer.real, rel) if rel else layer.real
    try:
        names = os.listdir(path)
    except OSError:
        return []
    if stack.style != "aufs":
        return names
    out = []
    for name in names:
        if name in PRIVATE_ENTRIES or name == OPAQUE_MARK:
            continue
        out.append(name[len(WHITEOUT_PREFIX) :] if name.startswith(WHITEOUT_PREFIX) else name)
    return out


def merged_sources(stack: LayerStack, rel: str) -> Sources | None:
    """The sources of merged directory REL (layer and path in it), top first; None when REL
    is not a directory of the merged tree (missing, deleted, or not a directory)."""
    visible: Sources = tuple((layer, "") for layer in stack.layers)
    current = ""
    for part in (p for p in rel.split("/") if p):
        if not _any_present(stack, visible, part):
            return None
        entry = _resolve_name(stack, visible, current, part)
        if entry.kind != "dir":
            return None
        visible = entry.sources
        current = entry.path
    return visible


def visible_layers(stack: LayerStack, rel: str) -> tuple[Layer, ...] | None:
    """The layers contributing to merged directory REL, top first (None: not a directory)."""
    sources = merged_sources(stack, rel)
    return None if sources is None else tuple(layer for layer, _ in sources)


def _any_present(stack: LayerStack, visible: Sources, name: str) -> bool:
    return any(p.kind != "absent" for _, _, p in _probe_all(stack, visible, name))


def list_merged(
    stack: LayerStack, rel: str = "", include_whiteouts: bool = True
) -> list[MergedEntry]:
    """The entries of merged directory REL, sorted by name; whiteouts included (marked) so
    a viewer can show what was deleted. Empty when REL is not a merged directory."""
    visible = merged_sources(stack, rel)
    if visible is None:
        return []
    names: set[str] = set()
    for layer, path in visible:
        names.update(_names(stack, layer, path))
    entries = [_resolve_name(stack, visible, rel, name) for name in sorted(names)]
    return [e for e in entries if include_whiteouts or not e.whiteout]


def resolve(stack: LayerStack, rel: str) -> MergedEntry | None:
    """Which layer merged-tree path REL comes from (None when no layer holds it)."""
    rel = "/".join(p for p in rel.split("/") if p)
    if not rel:
        return None
    parent, _, name = rel.rpartition("/")
    visible = merged_sources(stack, parent)
    if visible is None or not _any_present(stack, visible, name):
        return None
    return _resolve_name(stack, visible, parent, name)


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the upper layer, compared with the lowers."""

    kind: str  # added, modified, deleted, opaque
    path: str  # merged-tree path, relative
    file_kind: str  # dir, file, symlink, other, whiteout
    #: lower layers holding the same path that this entry shadows (modified), deletes
    #: (deleted) or hides (opaque), top first
    shadows: tuple[Layer, ...] = ()
    copied_up: bool = False  # overlay.origin xattr present
    metacopy: bool = False
    redirect: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """The upper layer as changes against the lowers."""

    upper: Layer | None
    changes: tuple[Change, ...] = ()
    truncated: bool = False  # the walk stopped at MAX_WALK entries
    note: str | None = None  # why there is nothing to show (read-only stack...)

    def of_kind(self, kind: str) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind == kind)

    @property
    def added(self) -> tuple[Change, ...]:
        return self.of_kind("added")

    @property
    def modified(self) -> tuple[Change, ...]:
        return self.of_kind("modified")

    @property
    def deleted(self) -> tuple[Change, ...]:
        return self.of_kind("deleted")

    @property
    def opaque(self) -> tuple[Change, ...]:
        return self.of_kind("opaque")

    def counts(self) -> dict[str, int]:
        return {k: len(self.of_kind(k)) for k in ("added", "modified", "deleted", "opaque")}


@dataclass
class _Walk:
    stack: LayerStack
    upper: Layer
    limit: int
    seen: int = 0
    truncated: bool = False
    changes: list[Change] = field(default_factory=list)


def _walk(w: _Walk, rel: str, lowers: Sources) -> None:
    """Compare upper dir REL with the lower sources still visible there."""
    for name in sorted(_names(w.stack, w.upper, rel)):
        if w.seen >= w.limit:
            w.truncated = True
            return
        w.seen += 1
        path = _join(rel, name)
        up = probe(w.stack, w.upper, path)
        redirect = up.redirect if up.kind == "dir" else None
        probes = _probe_all(w.stack, lowers, name, redirect)
        present = [(ly, lp, p) for ly, lp, p in probes if p.kind != "absent"]
        real_below = _until_whiteout([(ly, p) for ly, _, p in present])
        if up.kind == "whiteout":
            if real_below:
                w.changes.append(Change("deleted", path, "whiteout", shadows=real_below))
            continue  # a whiteout over nothing (left after its lower went away) changes nothing
        if up.kind == "dir":
            if up.opaque:
                if real_below:
                    w.changes.append(Change("opaque", path, "dir", shadows=real_below))
                else:
                    w.changes.append(Change("added", path, "dir"))
                _walk(w, path, ())
            elif present and present[0][2].kind == "dir":
                merged = _merged_below(present)
                if redirect is not None:  # a renamed directory: its contents stay below
                    shadows = tuple(layer for layer, _ in merged)
                    w.changes.append(
                        Change("modified", path, "dir", shadows=shadows, redirect=redirect)
                    )
                _walk(w, path, merged)
            else:
                if real_below:  # a directory replacing a lower non-directory
                    w.changes.append(Change("modified", path, "dir", shadows=real_below))
                else:
                    w.changes.append(Change("added", path, "dir"))
                _walk(w, path, ())
            continue
        if real_below:
            w.changes.append(
                Change(
                    "modified",
                    path,
                    up.kind,
                    shadows=real_below,
                    copied_up=up.origin,
                    metacopy=up.metacopy,
                )
            )
        else:
            w.changes.append(Change("added", path, up.kind, copied_up=up.origin))


def _merged_below(present: list[tuple[Layer, str, Probe]]) -> Sources:
    """Lower sources whose directory merges under an upper directory, down to the first
    opaque one, non-directory or whiteout."""
    out: list[tuple[Layer, str]] = []
    for layer, path, p in present:
        if p.kind != "dir":
            break
        out.append((layer, path))
        if p.opaque:
            break
    return tuple(out)


def change_set(stack: LayerStack, limit: int = MAX_WALK) -> ChangeSet:
    """Every entry of the upper layer classified as added, modified (copied up, with the
    lower layer it shadows), deleted (whiteout) or opaque (a replaced directory)."""
    upper = stack.upper
    if upper is None:
        return ChangeSet(upper=None, note="read-only stack: no upper layer, nothing changed")
    if not os.path.isdir(upper.real):
        return ChangeSet(upper=upper, note=f"upper layer {upper.real} is not readable here")
    w = _Walk(stack=stack, upper=upper, limit=limit)
    _walk(w, "", tuple((layer, "") for layer in stack.lowers))
    return ChangeSet(upper=upper, changes=tuple(w.changes), truncated=w.truncated)


def iter_tree(stack: LayerStack, rel: str = "", depth: int = 64) -> Iterator[MergedEntry]:
    """Every entry of the merged tree under REL, depth first (whiteouts included)."""
    for entry in list_merged(stack, rel):
        yield entry
        if entry.kind == "dir" and depth > 0:
            yield from iter_tree(stack, entry.path, depth - 1)
