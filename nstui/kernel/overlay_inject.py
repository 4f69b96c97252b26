"""Helper program: build an overlay from layers of nstui's mount namespace and attach it in
another process's mount namespace.

    python -I -m nstui.kernel.overlay_inject --pid PID --lower A --lower B
           [--upper U --work W] [--option O] TARGET

The layer paths are checked and resolved here (nstui's namespace), the overlay is created as
a detached mount (fsopen/fsconfig/fsmount), then this process enters PID's mount namespace
(setns) and attaches it at TARGET there (move_mount). So a running container gets a new
union mount of host directories without any nstui file being visible inside it.

It runs as its own single-threaded process, started with subprocess: the kernel refuses
setns(mnt) to a threaded process, so the TUI never calls this code itself. Output: one JSON
object on stdout (``message`` or ``error``); exit status 0 or 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from nstui.kernel import syscalls
from nstui.kernel.nstypes import CLONE_FLAGS, NsType
from nstui.kernel.overlay_build import (
    OverlayError,
    OverlaySpec,
    Unsupported,
    attach,
    check_layers,
    create_detached,
    parse_options,
)


def inject(pid: int, spec: OverlaySpec) -> str:
    """Create SPEC's overlay here and attach it at its target in PID's mount namespace.
    Call only in a single-threaded process that may change namespace. Raises OverlayError."""
    if not spec.target.startswith("/"):
        raise OverlayError("the target is looked up in the process's namespace: give it absolute")
    try:
        ns_fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        # its root too: a chrooted process's "/" is not its namespace's root
        root_fd = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise OverlayError(f"process {pid} does not exist") from None
    except OSError as exc:
        raise OverlayError(f"process {pid}'s mount namespace: {exc.strerror}") from None
    try:
        checked = check_layers(spec)
        flags = parse_options(checked.options)
        try:
            mnt_fd = create_detached(checked, flags)
            method = "lowerdir+"
        except Unsupported:
            mnt_fd = create_detached(checked, flags, plus=False)
            method = "lowerdir"
        try:
            try:
                syscalls.setns(ns_fd, CLONE_FLAGS[NsType.MNT], f"mnt namespace of pid {pid}")
            except OSError as exc:
                raise OverlayError(f"entering process {pid}'s mount namespace: {exc}") from None
            # from here on, paths resolve as the process sees them (nsenter --root does so)
            os.fchdir(root_fd)
            os.chroot(".")
            target = os.path.normpath(spec.target)
            if not os.path.isdir(target):
                raise OverlayError(f"target {target}: no such directory in process {pid}'s view")
            attach(mnt_fd, target)
        finally:
            os.close(mnt_fd)
    finally:
        os.close(ns_fd)
        os.close(root_fd)
    return (
        f"mounted on {spec.target} in the mount namespace of process {pid} "
        f"(layers from nstui's namespace, fsmount with {method})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nstui.kernel.overlay_inject")
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--lower", action="append", required=True)
    parser.add_argument("--upper")
    parser.add_argument("--work")
    parser.add_argument("--option", action="append", default=[])
    parser.add_argument("target")
    args = parser.parse_args(argv)
    spec = OverlaySpec(
        lowers=tuple(args.lower),
        target=args.target,
        upper=args.upper,
        work=args.work,
        options=tuple(args.option),
    )
    try:
        message = inject(args.pid, spec)
    except OverlayError as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps({"message": message, "method": "fsmount + setns + move_mount"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
