"""The nsfs ioctls: ask a namespace file about its owner, parent, type, owner uid and id.

Every query takes an open file descriptor of a namespace file (``/proc/PID/ns/X``, an nsfs
bind mount, or ``/proc/PID/fd/N`` pointing at one) and answers ``None`` when the kernel will
not tell: EPERM when the answer lies outside the caller's namespaces (the initial user
namespace has no owner), EINVAL for a question that does not apply (NS_GET_PARENT of a net
namespace, NS_GET_OWNER_UID of anything but a user namespace), ENOTTY on a kernel older than
the ioctl. None of them raises.
"""

from __future__ import annotations

import array
import fcntl
import os
from dataclasses import dataclass

from nstui.kernel.nstypes import CLONE_FLAGS, NsId, NsType

NS_GET_USERNS = 0xB701
NS_GET_PARENT = 0xB702
NS_GET_NSTYPE = 0xB703
NS_GET_OWNER_UID = 0xB704
NS_GET_ID = 0x8008B70D  # _IOR(0xb7, 13, __u64); Linux 6.11+

_TYPE_OF_FLAG: dict[int, NsType] = {flag: ns_type for ns_type, flag in CLONE_FLAGS.items()}


@dataclass(frozen=True, slots=True)
class NsLinks:
    """What the nsfs ioctls say about one namespace. Unknown answers are None."""

    owner: NsId | None  # owning user namespace
    parent: NsId | None  # parent namespace (pid and user only)
    owner_uid: int | None  # creator uid: of the namespace itself when it is a user ns,
    # else of its owning user namespace
    kernel_id: int | None  # NS_GET_ID, unique while the kernel runs


def open_ns(path: str) -> int | None:
    """Open a namespace file read-only; None when it cannot be opened (gone, EACCES...)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


def ioctl_fd(fd: int, request: int) -> int | None:
    try:
        return fcntl.ioctl(fd, request)
    except OSError:
        # EPERM (outside our view), EINVAL (not hierarchical), ENOTTY (old kernel)
        return None


def get_userns_fd(fd: int) -> int | None:
    """A new fd of the user namespace owning ``fd``'s namespace (caller closes it)."""
    return ioctl_fd(fd, NS_GET_USERNS)


def get_parent_fd(fd: int) -> int | None:
    """A new fd of the parent of a pid or user namespace (caller closes it)."""
    return ioctl_fd(fd, NS_GET_PARENT)


def get_nstype(fd: int) -> NsType | None:
    """The namespace type of ``fd`` (from its CLONE_NEW* flag)."""
    flag = ioctl_fd(fd, NS_GET_NSTYPE)
    return None if flag is None else _TYPE_OF_FLAG.get(flag)


def _ioctl_number(fd: int, request: int, typecode: str) -> int | None:
    """An ioctl that fills in one unsigned number (``typecode``: array's I or Q)."""
    buf = array.array(typecode, [0])
    try:
        fcntl.ioctl(fd, request, buf, True)
    except OSError:
        return None
    return int(buf[0])


def get_owner_uid(fd: int) -> int | None:
    """The uid that created the user namespace ``fd`` (only valid on user namespaces)."""
    return _ioctl_number(fd, NS_GET_OWNER_UID, "I")


def get_kernel_id(fd: int) -> int | None:
    """NS_GET_ID: a 64-bit id unique while the kernel runs (unlike inodes, never reused)."""
    return _ioctl_number(fd, NS_GET_ID, "Q")


def ns_id_of_fd(fd: int, ns_type: NsType) -> NsId | None:
    """Identity (type, device, inode) of an open namespace file."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return NsId(ns_type, st.st_dev, st.st_ino)


def _related(fd: int, opener: int, ns_type: NsType) -> NsId | None:
    other = ioctl_fd(fd, opener)
    if other is None:
        return None
    try:
        return ns_id_of_fd(other, ns_type)
    finally:
        os.close(other)


def owner_of(fd: int) -> NsId | None:
    """The owning user namespace's identity, or None (initial user ns, or unknown)."""
    return _related(fd, NS_GET_USERNS, NsType.USER)


def parent_of(fd: int, ns_type: NsType) -> NsId | None:
    """The parent namespace's identity (pid and user types); None at the top or otherwise."""
    if ns_type not in (NsType.PID, NsType.USER):
        return None
    return _related(fd, NS_GET_PARENT, ns_type)


def read_links(fd: int, ns_type: NsType) -> NsLinks:
    """Owner, parent, owner uid and kernel id of the namespace open as ``fd``."""
    owner: NsId | None = None
    owner_uid: int | None = get_owner_uid(fd) if ns_type is NsType.USER else None
    user_fd = get_userns_fd(fd)
    if user_fd is not None:
        try:
            owner = ns_id_of_fd(user_fd, NsType.USER)
            if ns_type is not NsType.USER:
                owner_uid = get_owner_uid(user_fd)
        finally:
            os.close(user_fd)
    return NsLinks(
        owner=owner,
        parent=parent_of(fd, ns_type),
        owner_uid=owner_uid,
        kernel_id=get_kernel_id(fd),
    )
