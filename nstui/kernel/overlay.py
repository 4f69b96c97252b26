r"""Overlay (overlayfs) mount options: parse them from mountinfo, escape them for mount(2).

Two escape layers meet in a mountinfo line of an overlay:

1. mountinfo's own octal escapes (``\040`` space, ``\054`` comma, ``\134`` backslash,
   ``\075`` ``=``...), applied by the kernel to every option value it shows;
2. overlay's option escapes inside what the user passed to mount(2): ``\\`` for ``\``, ``\:``
   for ``:`` and ``\,`` for ``,``. ``lowerdir=`` keeps the user's string as given, so the
   layers are split on *unescaped* ``:`` only (and ``::`` starts the data-only layers).

Layers added with the new mount API (``lowerdir+``/``datadir+``, one fsconfig call per layer)
are shown one ``lowerdir+=`` entry per layer, without overlay escapes: the kernel resolves them
verbatim. ``upperdir``/``workdir`` are unescaped by the kernel in both APIs.

Checked on kernel 6.18: the literal commas of the raw option string only ever separate
options; commas inside values come as ``\054``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from nstui.kernel.mountinfo import Mount, unescape_octal

#: Options that change how an overlay behaves, shown in their own columns.
FEATURE_OPTIONS: tuple[str, ...] = ("index", "redirect_dir", "metacopy", "volatile", "userxattr")


def overlay_unescape(text: str) -> str:
    r"""Undo overlay's option escapes as the kernel does (ovl_unescape): a backslash takes the
    next character literally, so ``\\`` is ``\``, ``\:`` is ``:`` and ``\,`` is ``,``."""
    if "\\" not in text:
        return text
    out: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == "\\":
            ch = next(chars, "")
        out.append(ch)
    return "".join(out)


def overlay_escape(path: str) -> str:
    r"""Escape a path for an overlay option value of mount(2): ``\`` ``:`` ``,``."""
    return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


def split_lowerdir(value: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    r"""Split a ``lowerdir=`` value (overlay-escaped, octal escapes already undone) into
    (lower layers top first, data-only layers). Layers are separated by unescaped ``:``; a
    ``::`` separates the data-only layers that follow it. Each layer is unescaped."""
    groups: list[list[str]] = [[]]
    current: list[str] = []
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch == "\\" and i + 1 < n:
            current.append(value[i : i + 2])  # kept escaped until the layer is complete
            i += 2
            continue
        if ch == ":":
            groups[-1].append("".join(current))
            current = []
            if i + 1 < n and value[i + 1] == ":":
                groups.append([])
                i += 1
            i += 1
            continue
        current.append(ch)
        i += 1
    groups[-1].append("".join(current))
    layers = [overlay_unescape(layer) for layer in groups[0] if layer]
    data = [overlay_unescape(layer) for group in groups[1:] for layer in group if layer]
    return tuple(layers), tuple(data)


def split_super_options(raw: str) -> tuple[tuple[str, str | None], ...]:
    """Split a raw (octal-escaped) super-options field into (key, value) pairs, values with
    mountinfo's octal escapes undone (overlay escapes, where any, are left in place)."""
    pairs: list[tuple[str, str | None]] = []
    for item in raw.split(","):
        if not item:
            continue
        key, sep, value = item.partition("=")
        pairs.append((unescape_octal(key), unescape_octal(value) if sep else None))
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class OverlayOptions:
    """The options of one overlay mount, parsed."""

    #: lower layers, top (leftmost, closest to the merged view) first
    lowers: tuple[str, ...]
    #: data-only lower layers (``::`` in lowerdir= or ``datadir+=``), reached by metacopy only
    data_lowers: tuple[str, ...] = ()
    upper: str | None = None
    work: str | None = None
    #: True when the layers came as ``lowerdir+=`` entries (new mount API)
    lowerdir_plus: bool = False
    #: every option as the kernel shows it (octal escapes undone), in order
    raw: tuple[tuple[str, str | None], ...] = ()

    def option(self, key: str) -> str | None:
        """An option's value; ``"on"`` for a present flag option, None when absent."""
        for k, v in self.raw:
            if k == key:
                return "on" if v is None else v
        return None

    @property
    def read_only_stack(self) -> bool:
        return self.upper is None

    @property
    def index(self) -> str | None:
        return self.option("index")

    @property
    def redirect_dir(self) -> str | None:
        return self.option("redirect_dir")

    @property
    def metacopy(self) -> str | None:
        return self.option("metacopy")

    @property
    def volatile(self) -> bool:
        # 6.x shows volatile as "fsync=volatile"; older kernels as the flag "volatile".
        return self.option("volatile") is not None or self.option("fsync") == "volatile"

    @property
    def userxattr(self) -> bool:
        return self.option("userxattr") is not None

    def features(self) -> dict[str, str]:
        """The behaviour options shown in views: index, redirect_dir, metacopy, volatile,
        userxattr (absent ones omitted)."""
        out: dict[str, str] = {}
        for key in ("index", "redirect_dir", "metacopy"):
            value = self.option(key)
            if value is not None:
                out[key] = value
        if self.volatile:
            out["volatile"] = "on"
        if self.userxattr:
            out["userxattr"] = "on"
        return out


def parse_overlay_options(raw: str) -> OverlayOptions:
    """Parse the raw super-options field of an overlay line of mountinfo."""
    pairs = split_super_options(raw)
    lowers: list[str] = []
    data: list[str] = []
    upper: str | None = None
    work: str | None = None
    plus = False
    for key, value in pairs:
        if value is None:
            continue
        if key == "lowerdir":
            top, data_only = split_lowerdir(value)
            lowers.extend(top)
            data.extend(data_only)
        elif key == "lowerdir+":
            plus = True
            lowers.append(value)  # verbatim: the kernel does not unescape lowerdir+ layers
        elif key == "datadir+":
            plus = True
            data.append(value)
        elif key == "upperdir":
            upper = overlay_unescape(value)
        elif key == "workdir":
            work = overlay_unescape(value)
    return OverlayOptions(
        lowers=tuple(lowers),
        data_lowers=tuple(data),
        upper=upper,
        work=work,
        lowerdir_plus=plus,
        raw=pairs,
    )


@dataclass(frozen=True, slots=True)
class OverlayMount:
    """An overlay mount as one mount namespace sees it."""

    mount: Mount
    options: OverlayOptions

    @property
    def target(self) -> str:
        return self.mount.mountpoint

    @property
    def lowers(self) -> tuple[str, ...]:
        return self.options.lowers

    @property
    def upper(self) -> str | None:
        return self.options.upper

    @property
    def work(self) -> str | None:
        return self.options.work

    @property
    def base_dir(self) -> str | None:
        """Where relative layer paths start, when the mount has any.

        docker's overlay2 driver mounts with paths relative to its home (``l/SHORT``,
        ``ID/diff``) when the absolute option string would not fit in a page, after a chdir
        there; mountinfo keeps them relative. The home is two levels above the merged dir
        (``HOME/ID/merged``). None when every path is absolute or the layout is unknown."""
        paths = [*self.lowers, *self.options.data_lowers, self.upper or "/", self.work or "/"]
        if all(p.startswith("/") for p in paths):
            return None
        target = self.mount.mountpoint
        if target.endswith("/merged"):
            return os.path.dirname(os.path.dirname(target))
        return None

    def absolute(self, path: str) -> str:
        """PATH made absolute against ``base_dir`` when it is relative (else unchanged)."""
        base = self.base_dir
        if path.startswith("/") or base is None:
            return path
        return os.path.normpath(os.path.join(base, path))


def overlay_from_mount(mount: Mount) -> OverlayMount | None:
    """The overlay view of a mountinfo record, or None when it is not an overlay."""
    if mount.fstype != "overlay":
        return None
    return OverlayMount(mount=mount, options=parse_overlay_options(mount.super_options))


def mount_data(
    lowers: tuple[str, ...] | list[str],
    upper: str | None = None,
    work: str | None = None,
    extra: tuple[str, ...] | list[str] = (),
) -> str:
    """The option string for mount(2) with every path escaped. ``extra`` options are passed
    as given (``index=on``, ``volatile``...)."""
    parts = ["lowerdir=" + ":".join(overlay_escape(p) for p in lowers)]
    if upper is not None:
        parts.append("upperdir=" + overlay_escape(upper))
    if work is not None:
        parts.append("workdir=" + overlay_escape(work))
    parts.extend(extra)
    return ",".join(parts)
