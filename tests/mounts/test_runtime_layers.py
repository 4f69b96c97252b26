"""Runtime layer labels on small recorded directory trees of docker, containers/storage and
containerd (the layout only: the files each runtime keeps, with made-up ids)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from nstui.kernel.runtime_layers import RuntimeLabeler, chain_ids

DIFF1 = "sha256:" + "1" * 64
DIFF2 = "sha256:" + "2" * 64
IMAGE = "f" * 64
CID = "c" * 64


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_docker(root: Path) -> None:
    for ident in ("AAA", "BBB", "CCC", "CCC-init", "ORPHAN"):
        (root / "overlay2" / ident / "diff").mkdir(parents=True)
    (root / "overlay2" / "l").mkdir()
    os.symlink("../AAA/diff", root / "overlay2" / "l" / "SHORTA")
    _write(root / "overlay2" / "AAA" / "link", "SHORTA")
    chain2 = hashlib.sha256(f"{DIFF1} {DIFF2}".encode()).hexdigest()
    layerdb = root / "image" / "overlay2" / "layerdb"
    _write(layerdb / "sha256" / DIFF1.split(":")[1] / "cache-id", "AAA")
    _write(layerdb / "sha256" / chain2 / "cache-id", "BBB")
    _write(layerdb / "mounts" / CID / "mount-id", "CCC")
    _write(layerdb / "mounts" / CID / "init-id", "CCC-init")
    meta = root / "image" / "overlay2"
    _write(
        meta / "imagedb" / "content" / "sha256" / IMAGE,
        json.dumps({"rootfs": {"type": "layers", "diff_ids": [DIFF1, DIFF2]}}),
    )
    _write(
        meta / "repositories.json",
        json.dumps(
            {
                "Repositories": {
                    "nginx": {
                        "nginx:latest": f"sha256:{IMAGE}",
                        "nginx@sha256:" + "9" * 64: f"sha256:{IMAGE}",
                    }
                }
            }
        ),
    )
    _write(root / "containers" / CID / "config.v2.json", json.dumps({"Name": "/web"}))


def test_chain_ids_follow_docker() -> None:
    expected = "sha256:" + hashlib.sha256(f"{DIFF1} {DIFF2}".encode()).hexdigest()
    assert chain_ids([DIFF1, DIFF2]) == [DIFF1, expected]


def test_docker_layers(tmp_path: Path) -> None:
    root = tmp_path / "var" / "lib" / "docker"
    make_docker(root)
    labeler = RuntimeLabeler()
    base = root / "overlay2"
    top = labeler.label(str(base / "BBB" / "diff"))
    assert top is not None and str(top) == "docker image layer nginx:latest (layer 2 of 2)"
    short = labeler.label(str(base / "l" / "SHORTA"))
    assert short is not None and (short.name, short.detail) == ("nginx:latest", "layer 1 of 2")
    relative = labeler.label("l/SHORTA", base=str(base))
    assert relative == short
    rw = labeler.label(str(base / "CCC" / "diff"))
    assert rw is not None and (rw.kind, rw.name) == ("container layer", "web")
    init = labeler.label(str(base / "CCC-init" / "diff"))
    assert init is not None and (init.kind, init.name) == ("init layer", "web")
    merged = labeler.label(str(base / "CCC" / "merged"))
    assert merged is not None and merged.kind == "container rootfs" and merged.name == "web"
    orphan = labeler.label(str(base / "ORPHAN" / "diff"))
    assert orphan is not None and orphan.detail == "unknown to layerdb"


def test_overlay2_dir_without_docker_metadata_is_not_labelled(tmp_path: Path) -> None:
    (tmp_path / "overlay2" / "X" / "diff").mkdir(parents=True)
    assert RuntimeLabeler().label(str(tmp_path / "overlay2" / "X" / "diff")) is None
    assert RuntimeLabeler().label("/usr/lib") is None


def test_containers_storage(tmp_path: Path) -> None:
    root = tmp_path / "var" / "lib" / "containers" / "storage"
    for ident in ("base", "mid", "ctr"):
        (root / "overlay" / ident / "diff").mkdir(parents=True)
    _write(
        root / "overlay-layers" / "layers.json",
        json.dumps(
            [
                {"id": "base"},
                {"id": "mid", "parent": "base"},
                {"id": "ctr", "parent": "mid"},
            ]
        ),
    )
    _write(
        root / "overlay-images" / "images.json",
        json.dumps([{"id": "img1", "names": ["docker.io/library/alpine:3.19"], "layer": "mid"}]),
    )
    _write(
        root / "overlay-containers" / "containers.json",
        json.dumps([{"id": "ctr0123456789abc", "names": ["db"], "image": "img1", "layer": "ctr"}]),
    )
    labeler = RuntimeLabeler()
    base = labeler.label(str(root / "overlay" / "base" / "diff"))
    assert base is not None and base.runtime == "containers-storage"
    assert (base.name, base.detail) == ("docker.io/library/alpine:3.19", "layer 1 of 2")
    ctr = labeler.label(str(root / "overlay" / "ctr" / "diff"))
    assert ctr is not None and (ctr.kind, ctr.name) == ("container layer", "db")


def test_containerd_snapshot(tmp_path: Path) -> None:
    snap = tmp_path / "io.containerd.snapshotter.v1.overlayfs" / "snapshots" / "17" / "fs"
    snap.mkdir(parents=True)
    label = RuntimeLabeler().label(str(snap))
    assert label is not None and (label.runtime, label.kind, label.name) == (
        "containerd",
        "snapshot",
        "17",
    )
