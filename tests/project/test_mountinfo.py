from __future__ import annotations

from nstui.kernel.mountinfo import parse_mountinfo, parse_mountinfo_line, unescape_octal


def test_octal_escapes() -> None:
    assert unescape_octal(r"/mnt/a\040b\011c\134d") == "/mnt/a b\tc\\d"
    assert unescape_octal(r"/keep\x") == r"/keep\x"


def test_optional_fields_and_separator() -> None:
    line = "36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 shared:2 - ext3 /dev/root rw"
    m = parse_mountinfo_line(line)
    assert m is not None
    assert (m.mount_id, m.parent_id, m.major, m.minor) == (36, 35, 98, 0)
    assert m.mountpoint == "/mnt/a b"
    assert m.optional == ("master:1", "shared:2")
    assert (m.fstype, m.source, m.super_options) == ("ext3", "/dev/root", "rw")


def test_nsfs_bind_mount_root() -> None:
    line = "600 28 0:4 net:[4026532281] /run/netns/x rw shared:5 - nsfs nsfs rw"
    m = parse_mountinfo_line(line)
    assert m is not None and m.root == "net:[4026532281]" and m.fstype == "nsfs"


def test_malformed_lines_are_skipped() -> None:
    text = "garbage\n1 2 x:y / / rw - ext4 /dev/a rw\n22 1 0:21 / /proc rw - proc proc rw\n"
    mounts = parse_mountinfo(text)
    assert [m.mountpoint for m in mounts] == ["/proc"]


def test_unicode_spaces_stay_inside_a_field() -> None:
    # Only ASCII space separates fields; the kernel leaves other characters as they are.
    line = "36 25 0:32 / /mnt/a\xa0b\u2028c rw shared:1 - tmpfs tmp\x85fs rw"
    mounts = parse_mountinfo(line + "\n")
    assert [(m.mountpoint, m.source) for m in mounts] == [("/mnt/a\xa0b\u2028c", "tmp\x85fs")]
