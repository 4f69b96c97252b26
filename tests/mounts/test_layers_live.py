"""The layer inspector against a real overlay: changes made through the merged dir show up
as whiteouts, opaque directories and copied-up files with the layer they shadow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from reliability.kobjects import MountTracker

from nstui.kernel.layers import change_set, list_merged, resolve, stack_from_overlay
from nstui.kernel.mountinfo import read_mountinfo
from nstui.kernel.overlay import OverlayMount, overlay_from_mount
from nstui.kernel.overlay_build import OverlaySpec, mount_overlay
from nstui.kernel.union_mounts import mount_at

pytestmark = pytest.mark.root


def _stack(tmp_path: Path, tmp_mount: MountTracker) -> tuple[Path, OverlayMount]:
    top, bottom, upper, work = (tmp_path / n for n in ("top", "bottom", "upper", "work"))
    for d in (top, bottom, upper, work, bottom / "dir", top / "dir", bottom / "gone"):
        d.mkdir()
    (top / "shared").write_text("top\n")
    (bottom / "shared").write_text("bottom\n")
    (bottom / "only-bottom").write_text("b\n")
    (bottom / "dir" / "a").write_text("a\n")
    (top / "dir" / "b").write_text("b\n")
    (bottom / "gone" / "x").write_text("x\n")
    target = tmp_mount.dir("merged")
    mount_overlay(OverlaySpec((str(top), str(bottom)), str(target), str(upper), str(work)))
    mount = mount_at(read_mountinfo(), str(target))
    assert mount is not None
    ovl = overlay_from_mount(mount)
    assert ovl is not None
    return target, ovl


def test_untouched_stack_merges(tmp_path: Path, tmp_mount: MountTracker) -> None:
    _, ovl = _stack(tmp_path, tmp_mount)
    stack = stack_from_overlay(ovl)
    entries = {e.name: e for e in list_merged(stack)}
    assert entries["shared"].layer.name == "lower 1"
    assert [x.name for x in entries["shared"].hides] == ["lower 2"]
    assert entries["dir"].kind == "dir"
    assert [x.name for x in entries["dir"].merged_from] == ["lower 1", "lower 2"]
    assert {e.name: e.layer.name for e in list_merged(stack, "dir")} == {
        "a": "lower 2",
        "b": "lower 1",
    }
    assert change_set(stack).changes == ()


def test_whiteout_opaque_and_copy_up(tmp_path: Path, tmp_mount: MountTracker) -> None:
    target, ovl = _stack(tmp_path, tmp_mount)
    (target / "only-bottom").unlink()  # delete a lower file: whiteout
    shutil.rmtree(target / "dir")  # replace a merged directory: opaque
    (target / "dir").mkdir()
    (target / "dir" / "c").write_text("c\n")
    with open(target / "shared", "a") as f:  # write a lower file: copied up
        f.write("more\n")
    (target / "added").write_text("new\n")
    shutil.rmtree(target / "gone")  # a whole lower directory deleted
    stack = stack_from_overlay(ovl)
    changes = change_set(stack)
    got = {(c.kind, c.path): c for c in changes.changes}
    assert set(got) == {
        ("deleted", "only-bottom"),
        ("opaque", "dir"),
        ("added", "dir/c"),
        ("modified", "shared"),
        ("added", "added"),
        ("deleted", "gone"),
    }
    assert [x.name for x in got["deleted", "only-bottom"].shadows] == ["lower 2"]
    assert [x.name for x in got["opaque", "dir"].shadows] == ["lower 1", "lower 2"]
    modified = got["modified", "shared"]
    assert [x.name for x in modified.shadows] == ["lower 1", "lower 2"]
    assert modified.copied_up  # trusted.overlay.origin, written by this kernel on copy-up
    # the merged view as the inspector shows it
    root = {e.name: e for e in list_merged(stack)}
    assert root["only-bottom"].whiteout and root["only-bottom"].layer.name == "upper"
    assert root["dir"].opaque and [x.name for x in root["dir"].hides] == ["lower 1", "lower 2"]
    assert root["shared"].layer.name == "upper"
    assert [e.name for e in list_merged(stack, "dir")] == ["c"]  # nothing shows through
    assert resolve(stack, "dir/a") is None
    # the kernel agrees
    assert sorted(p.name for p in target.iterdir()) == ["added", "dir", "shared"]
    assert [p.name for p in (target / "dir").iterdir()] == ["c"]


def test_cli_layers_and_diff(tmp_path: Path, tmp_mount: MountTracker) -> None:
    target, _ = _stack(tmp_path, tmp_mount)
    (target / "only-bottom").unlink()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nstui", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    done = cli("overlay", "diff", "--json", str(target))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["counts"] == {"added": 0, "modified": 0, "deleted": 1, "opaque": 0}
    assert data["changes"][0]["shadows"] == ["lower 2"]
    text = cli("overlay", "diff", str(target)).stdout
    assert "D only-bottom  whiteout over lower 2" in text
    layers = json.loads(cli("overlay", "layers", "--json", str(target)).stdout)
    assert [x["layer"] for x in layers["layers"]] == ["upper", "lower 1", "lower 2"]
    entries = {e["path"]: e for e in layers["entries"]}
    assert entries["only-bottom"]["kind"] == "whiteout"
    assert entries["shared"]["layer"] == "lower 1"
    missing = cli("overlay", "layers", str(tmp_path))
    assert missing.returncode == 1 and "no overlay or aufs mount there" in missing.stderr


def test_renamed_directory_follows_redirect(tmp_path: Path, tmp_mount: MountTracker) -> None:
    """With redirect_dir=on a renamed lower directory is not copied: the upper holds it with
    an overlay.redirect xattr and its contents stay in the lower, under the old path."""
    lower, upper, work = (tmp_path / n for n in ("lower", "upper", "work"))
    for d in (lower / "dir", lower / "other", upper, work):
        d.mkdir(parents=True)
    (lower / "dir" / "f").write_text("f\n")
    target = tmp_mount.dir("merged")
    mount_overlay(
        OverlaySpec((str(lower),), str(target), str(upper), str(work), options=("redirect_dir=on",))
    )
    (target / "dir").rename(target / "other" / "moved")
    (target / "other" / "moved" / "g").write_text("g\n")
    mount = mount_at(read_mountinfo(), str(target))
    assert mount is not None
    ovl = overlay_from_mount(mount)
    assert ovl is not None and ovl.options.redirect_dir == "on"
    stack = stack_from_overlay(ovl)
    moved = {e.name: e for e in list_merged(stack, "other/moved")}
    assert {n: e.layer.name for n, e in moved.items()} == {"f": "lower 1", "g": "upper"}
    entry = resolve(stack, "other/moved")
    assert entry is not None and entry.redirect == "/dir"
    assert sorted(p.name for p in (target / "other" / "moved").iterdir()) == ["f", "g"]
    changes = {(c.kind, c.path): c for c in change_set(stack).changes}
    assert set(changes) == {
        ("deleted", "dir"),
        ("modified", "other/moved"),
        ("added", "other/moved/g"),
    }
    assert changes["modified", "other/moved"].redirect == "/dir"
