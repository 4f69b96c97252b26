"""Name the layer directories of container runtimes: which image or container they belong to.

Recognised from the path and the runtime's own files, only where its layout says so:

- docker overlay2: ``ROOT/overlay2/ID/diff`` (or the short ``ROOT/overlay2/l/SHORT`` links of
  its lowerdir lists); ``ROOT/image/overlay2/layerdb/sha256/CHAIN/cache-id`` names the ID of an
  image layer, ``layerdb/mounts/CONTAINER/{mount-id,init-id}`` the container's own layers,
  ``repositories.json`` and ``imagedb/content/sha256/IMAGE`` (its ``rootfs.diff_ids``, chained
  as docker does) the images holding a layer, ``containers/CONTAINER/config.v2.json`` the name.
- containers/storage (podman, buildah, cri-o): ``ROOT/overlay/ID/diff``, with
  ``overlay-layers/layers.json``, ``overlay-images/images.json`` and
  ``overlay-containers/containers.json``.
- containerd: ``.../io.containerd.snapshotter.v1.overlayfs/snapshots/N/fs``; the snapshot
  keys live in a bolt database, so only the snapshot number is named.

Unreadable or foreign layouts give no label rather than a guess.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LayerLabel:
    runtime: str  # docker, containers-storage, containerd
    kind: str  # image layer, container layer, init layer, layer, snapshot, container rootfs
    name: str  # image or container name, or the layer id when nothing better is known
    detail: str = ""  # "layer 2 of 7", the short id...

    def __str__(self) -> str:
        text = f"{self.runtime} {self.kind} {self.name}"
        return f"{text} ({self.detail})" if self.detail else text


_DOCKER = re.compile(r"^(?P<root>.*)/overlay2/(?P<id>[^/]+)/(?P<part>diff|merged|work)/?$")
_DOCKER_SHORT = re.compile(r"^(?P<root>.*)/overlay2/l/(?P<short>[^/]+)/?$")
_STORAGE = re.compile(r"^(?P<root>.*)/overlay/(?P<id>[^/]+)/(?P<part>diff|merged|work)/?$")
_STORAGE_SHORT = re.compile(r"^(?P<root>.*)/overlay/l/(?P<short>[^/]+)/?$")
_CONTAINERD = re.compile(
    r"^(?P<root>.*/io\.containerd\.snapshotter\.v1\.overlayfs)/snapshots/(?P<n>\d+)/(?P<part>fs|work)/?$"
)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _json(path: str) -> Any:
    text = _read(path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def chain_ids(diff_ids: list[str]) -> list[str]:
    """Docker's layer chain ids: chain[0] = diff[0]; chain[n] = sha256(chain[n-1] + " " +
    diff[n])."""
    out: list[str] = []
    for diff in diff_ids:
        if not out:
            out.append(diff)
        else:
            digest = hashlib.sha256(f"{out[-1]} {diff}".encode()).hexdigest()
            out.append(f"sha256:{digest}")
    return out


def _short(ident: str) -> str:
    return ident.split(":", 1)[-1][:12]


@dataclass
class _DockerIndex:
    #: overlay2 dir id -> label
    labels: dict[str, LayerLabel]


def _load_docker(root: str) -> _DockerIndex:
    labels: dict[str, LayerLabel] = {}
    meta = os.path.join(root, "image", "overlay2")
    layerdb = os.path.join(meta, "layerdb", "sha256")
    chain_to_cache: dict[str, str] = {}
    try:
        chains = os.listdir(layerdb)
    except OSError:
        chains = []
    for chain in chains:
        cache = _read(os.path.join(layerdb, chain, "cache-id"))
        if cache:
            chain_to_cache[f"sha256:{chain}"] = cache
            labels[cache] = LayerLabel("docker", "image layer", _short(chain), "no image names it")
    # images: name -> image id -> diff ids -> chain ids -> cache ids
    repos = _json(os.path.join(meta, "repositories.json"))
    names: dict[str, list[str]] = {}
    if isinstance(repos, dict):
        for refs in (repos.get("Repositories") or {}).values():
            if isinstance(refs, dict):
                for ref, image in refs.items():
                    if "@" not in ref and isinstance(image, str):
                        names.setdefault(image, []).append(ref)
    for image, refs in sorted(names.items()):
        config = _json(os.path.join(meta, "imagedb", "content", "sha256", image.split(":")[-1]))
        if not isinstance(config, dict):
            continue
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        chained = chain_ids([d for d in diff_ids if isinstance(d, str)])
        for n, chain in enumerate(chained, start=1):
            cache = chain_to_cache.get(chain)
            if cache is None:
                continue
            current = labels.get(cache)
            name = ", ".join(sorted(refs))
            if current is None or current.detail == "no image names it":
                labels[cache] = LayerLabel(
                    "docker", "image layer", name, f"layer {n} of {len(chained)}"
                )
    mounts_dir = os.path.join(meta, "layerdb", "mounts")
    try:
        containers = os.listdir(mounts_dir)
    except OSError:
        containers = []
    for cid in containers:
        config = _json(os.path.join(root, "containers", cid, "config.v2.json"))
        name = cid[:12]
        if isinstance(config, dict) and isinstance(config.get("Name"), str):
            name = config["Name"].lstrip("/") or name
        mount_id = _read(os.path.join(mounts_dir, cid, "mount-id"))
        init_id = _read(os.path.join(mounts_dir, cid, "init-id"))
        if mount_id:
            labels[mount_id] = LayerLabel("docker", "container layer", name, cid[:12])
        if init_id:
            labels[init_id] = LayerLabel("docker", "init layer", name, cid[:12])
    return _DockerIndex(labels=labels)


def _load_storage(root: str) -> dict[str, LayerLabel]:
    labels: dict[str, LayerLabel] = {}
    layers = _json(os.path.join(root, "overlay-layers", "layers.json"))
    parent: dict[str, str | None] = {}
    if isinstance(layers, list):
        for layer in layers:
            if isinstance(layer, dict) and isinstance(layer.get("id"), str):
                parent[layer["id"]] = layer.get("parent")
                labels[layer["id"]] = LayerLabel(
                    "containers-storage", "layer", layer["id"][:12], "no image names it"
                )
    images = _json(os.path.join(root, "overlay-images", "images.json"))
    if isinstance(images, list):
        for image in images:
            if not isinstance(image, dict) or not isinstance(image.get("layer"), str):
                continue
            name = ", ".join(image.get("names") or []) or str(image.get("id", ""))[:12]
            chain: list[str] = []
            current: str | None = image["layer"]
            while current is not None and current in parent and current not in chain:
                chain.append(current)
                current = parent[current]
            chain.reverse()  # base layer first, as "layer 1 of N"
            for n, lid in enumerate(chain, start=1):
                old = labels.get(lid)
                if old is None or old.detail == "no image names it":
                    labels[lid] = LayerLabel(
                        "containers-storage", "image layer", name, f"layer {n} of {len(chain)}"
                    )
    containers = _json(os.path.join(root, "overlay-containers", "containers.json"))
    if isinstance(containers, list):
        for c in containers:
            if isinstance(c, dict) and isinstance(c.get("layer"), str):
                name = ", ".join(c.get("names") or []) or str(c.get("id", ""))[:12]
                labels[c["layer"]] = LayerLabel(
                    "containers-storage", "container layer", name, str(c.get("id", ""))[:12]
                )
    return labels


class RuntimeLabeler:
    """Labels layer paths; each runtime root's metadata is read once per labeler (make a new
    one per refresh). ``prefix`` is prepended when reading (``/proc/PID/root`` for another
    mount namespace's view)."""

    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix.rstrip("/")
        self._docker: dict[str, _DockerIndex] = {}
        self._storage: dict[str, dict[str, LayerLabel]] = {}

    def _real(self, path: str) -> str:
        return self._prefix + path if self._prefix else path

    def _resolve_short(self, root: str, short: str, dirname: str) -> str | None:
        try:
            target = os.readlink(self._real(os.path.join(root, dirname, "l", short)))
        except OSError:
            return None
        parts = [p for p in target.split("/") if p and p != ".."]
        return parts[0] if len(parts) >= 2 and parts[-1] == "diff" else None

    def label(self, path: str, base: str | None = None) -> LayerLabel | None:
        """The label of layer directory PATH; a relative PATH (docker's ``l/SHORT`` when
        its option string was long) is taken relative to BASE."""
        if not path.startswith("/") and base:
            path = os.path.join(base, path)
        path = os.path.normpath(path)
        match = _CONTAINERD.match(path)
        if match:
            n = match.group("n")
            return LayerLabel("containerd", "snapshot", n, "key in metadata.db")
        docker = self._docker_label(path)
        if docker is not None:
            return docker
        return self._storage_label(path)

    def _docker_label(self, path: str) -> LayerLabel | None:
        match = _DOCKER.match(path)
        short = _DOCKER_SHORT.match(path)
        if match:
            root, ident, part = match.group("root"), match.group("id"), match.group("part")
        elif short:
            root, part = short.group("root"), "diff"
            resolved = self._resolve_short(root, short.group("short"), "overlay2")
            if resolved is None:
                return None
            ident = resolved
        else:
            return None
        if not os.path.isdir(self._real(os.path.join(root, "image", "overlay2"))):
            return None  # an "overlay2" dir that is not docker's
        index = self._docker.get(root)
        if index is None:
            index = self._docker[root] = _load_docker(self._real(root))
        found = index.labels.get(ident)
        if found is None:
            found = LayerLabel("docker", "layer", ident[:12], "unknown to layerdb")
        if part == "merged":
            return LayerLabel("docker", "container rootfs", found.name, found.detail)
        return found

    def _storage_label(self, path: str) -> LayerLabel | None:
        match = _STORAGE.match(path)
        short = _STORAGE_SHORT.match(path)
        if match:
            root, ident, part = match.group("root"), match.group("id"), match.group("part")
        elif short:
            root, part = short.group("root"), "diff"
            resolved = self._resolve_short(root, short.group("short"), "overlay")
            if resolved is None:
                return None
            ident = resolved
        else:
            return None
        if not os.path.isfile(self._real(os.path.join(root, "overlay-layers", "layers.json"))):
            return None
        labels = self._storage.get(root)
        if labels is None:
            labels = self._storage[root] = _load_storage(self._real(root))
        found = labels.get(ident)
        if found is None:
            found = LayerLabel("containers-storage", "layer", ident[:12], "unknown to layers.json")
        if part == "merged":
            return LayerLabel("containers-storage", "container rootfs", found.name, found.detail)
        return found
