"""The overlay option parser on recorded mountinfo lines (kernel 6.18 on this host) and on
generated paths: mountinfo's octal escapes over overlay's own, lowerdir+ entries."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nstui.kernel.mountinfo import parse_mountinfo_line
from nstui.kernel.overlay import (
    OverlayMount,
    mount_data,
    overlay_escape,
    overlay_from_mount,
    overlay_unescape,
    parse_overlay_options,
    split_lowerdir,
)

# Recorded from /proc/self/mountinfo after mounting the same four lowers ("l 1", "l,2",
# "l:3", "l\4") with fsopen/lowerdir+ and with mount(2).
NEW_API = (
    r"47 27 0:39 / /tmp/ovx/m rw,relatime - overlay none rw,lowerdir+=/tmp/ovx/l\0401,"
    r"lowerdir+=/tmp/ovx/l\0542,lowerdir+=/tmp/ovx/l:3,lowerdir+=/tmp/ovx/l\1344,"
    r"upperdir=/tmp/ovx/u,workdir=/tmp/ovx/w,uuid=on"
)
LEGACY = (
    r"47 27 0:39 / /tmp/ovx/m rw,relatime - overlay overlay rw,lowerdir=/tmp/ovx/l\0401:"
    r"/tmp/ovx/l\134\0542:/tmp/ovx/l\134:3:/tmp/ovx/l\134\1344,upperdir=/tmp/ovx/u,"
    r"workdir=/tmp/ovx/w"
)
FOUR = ("/tmp/ovx/l 1", "/tmp/ovx/l,2", "/tmp/ovx/l:3", "/tmp/ovx/l\\4")
ESCAPED_UPPER = (
    r"45 27 0:39 / /tmp/ovx/m rw,relatime - overlay overlay rw,lowerdir=/tmp/ovx/l\0401:"
    r"/tmp/ovx/l\134\0542,upperdir=/tmp/ovx/u\134\054x,workdir=/tmp/ovx/w\134\054x,"
    r"redirect_dir=on,index=on,uuid=on,metacopy=on"
)
VOLATILE = (
    r"45 27 0:39 / /tmp/ovx/m rw,relatime - overlay overlay rw,lowerdir=/tmp/ovx/l\0401:"
    r"/tmp/ovx/l\134\0542,upperdir=/tmp/ovx/u:y,workdir=/tmp/ovx/w:y,"
    r"redirect_dir=nofollow,uuid=on,fsync=volatile,userxattr"
)
DATA_ONLY = (
    r"44 27 0:39 / /tmp/a\040b rw,relatime - overlay overlay ro,lowerdir=/tmp/ovx/l\0401::"
    r"/tmp/ovx/l\134\0542,redirect_dir=on"
)
DOCKER = (
    "1234 28 0:123 / /var/lib/docker/overlay2/abc/merged rw,relatime shared:580 - overlay "
    "overlay rw,lowerdir=/var/lib/docker/overlay2/l/X7Q:/var/lib/docker/overlay2/l/Y2P,"
    "upperdir=/var/lib/docker/overlay2/abc/diff,workdir=/var/lib/docker/overlay2/abc/work,"
    "nouserxattr"
)


def _overlay(line: str) -> OverlayMount:
    mount = parse_mountinfo_line(line)
    assert mount is not None
    ovl = overlay_from_mount(mount)
    assert ovl is not None
    return ovl


def test_lowerdir_plus_entries_are_layers_in_order() -> None:
    ovl = _overlay(NEW_API)
    assert ovl.lowers == FOUR
    assert ovl.options.lowerdir_plus
    assert (ovl.upper, ovl.work) == ("/tmp/ovx/u", "/tmp/ovx/w")


def test_legacy_lowerdir_split_on_unescaped_colon_only() -> None:
    ovl = _overlay(LEGACY)
    assert ovl.lowers == FOUR
    assert not ovl.options.lowerdir_plus


def test_upper_and_work_lose_overlay_escapes() -> None:
    ovl = _overlay(ESCAPED_UPPER)
    assert ovl.upper == "/tmp/ovx/u,x"
    assert ovl.work == "/tmp/ovx/w,x"
    assert ovl.options.features() == {"index": "on", "redirect_dir": "on", "metacopy": "on"}


def test_volatile_and_userxattr_and_colon_in_upper() -> None:
    ovl = _overlay(VOLATILE)
    assert ovl.upper == "/tmp/ovx/u:y"
    assert ovl.options.volatile and ovl.options.userxattr
    assert ovl.options.redirect_dir == "nofollow"
    assert ovl.options.index is None


def test_data_only_layers_after_double_colon() -> None:
    ovl = _overlay(DATA_ONLY)
    assert ovl.target == "/tmp/a b"
    assert ovl.lowers == ("/tmp/ovx/l 1",)
    assert ovl.options.data_lowers == ("/tmp/ovx/l,2",)
    assert ovl.options.read_only_stack


def test_datadir_plus_entries() -> None:
    opts = parse_overlay_options("ro,lowerdir+=/a,lowerdir+=/b,datadir+=/d1,datadir+=/d2")
    assert opts.lowers == ("/a", "/b")
    assert opts.data_lowers == ("/d1", "/d2")


def test_docker_line() -> None:
    ovl = _overlay(DOCKER)
    assert ovl.lowers == ("/var/lib/docker/overlay2/l/X7Q", "/var/lib/docker/overlay2/l/Y2P")
    assert ovl.upper == "/var/lib/docker/overlay2/abc/diff"
    assert ovl.mount.optional == ("shared:580",)


def test_not_an_overlay() -> None:
    mount = parse_mountinfo_line("22 1 0:21 / /proc rw,relatime - proc proc rw")
    assert mount is not None and overlay_from_mount(mount) is None


def test_escape_examples() -> None:
    assert overlay_escape("a\\b:c,d") == "a\\\\b\\:c\\,d"
    assert overlay_unescape("a\\\\b\\:c\\,d") == "a\\b:c,d"
    assert split_lowerdir("/a\\:b:/c") == (("/a:b", "/c"), ())
    data = mount_data(["/x:1", "/y,2"], "/u", "/w", ["index=on"])
    assert data == "lowerdir=/x\\:1:/y\\,2,upperdir=/u,workdir=/w,index=on"


def _kernel_show(value: str) -> str:
    """What seq_show_option does to an option value in mountinfo."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\,=" else c for c in value)


paths = st.lists(
    st.text(
        alphabet=st.characters(exclude_characters="\x00/", exclude_categories=["Cs"]),
        min_size=1,
        max_size=12,
    ).map(lambda s: "/" + s),
    min_size=1,
    max_size=6,
)


@given(paths)
def test_legacy_roundtrip_through_mountinfo(layers: list[str]) -> None:
    value = ":".join(overlay_escape(p) for p in layers)
    opts = parse_overlay_options("rw,lowerdir=" + _kernel_show(value))
    assert opts.lowers == tuple(layers)


@given(paths)
def test_lowerdir_plus_roundtrip_through_mountinfo(layers: list[str]) -> None:
    raw = ",".join("lowerdir+=" + _kernel_show(p) for p in layers)
    assert parse_overlay_options("rw," + raw).lowers == tuple(layers)


def test_docker_relative_layers_resolve_against_its_home() -> None:
    """docker mounts with paths relative to /var/lib/docker/overlay2 when the absolute
    option string would not fit in a page; mountinfo keeps them relative."""
    line = (
        "1300 28 0:140 / /var/lib/docker/overlay2/abc/merged rw,relatime - overlay overlay "
        "rw,lowerdir=l/X7Q:l/Y2P,upperdir=abc/diff,workdir=abc/work,index=off"
    )
    ovl = _overlay(line)
    assert ovl.lowers == ("l/X7Q", "l/Y2P")
    assert ovl.base_dir == "/var/lib/docker/overlay2"
    assert ovl.absolute("l/X7Q") == "/var/lib/docker/overlay2/l/X7Q"
    assert ovl.absolute(ovl.upper or "") == "/var/lib/docker/overlay2/abc/diff"
    assert _overlay(NEW_API).base_dir is None
