"""``nstui run``, ``enter``, ``keep`` and ``release``: the namespace actions on the command line.

Like util-linux unshare/nsenter/ip-netns: the exit status is the command's own (a signal N
gives 128+N); a failure of the namespace work itself is one line ``nstui: ...`` and status 1;
bad arguments status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from nstui.kernel import nshelper
from nstui.kernel.nshelper import EnterOptions, Launch, NsHelperError, UnshareOptions
from nstui.kernel.nstypes import NsType, parse_ns_types
from nstui.model.ns_actions import wait_in_foreground


def _takes_command_after_dashes(parser: Any) -> None:
    """Make everything after the first ``--`` the command, wherever the options stand.

    argparse (3.11) fills a ``*`` positional with nothing as soon as an option follows the
    PID, so ``enter PID --ns net -- CMD`` would reject CMD: the tail is split off first.
    """
    base = type(parser)

    class TailParser(base):  # type: ignore[valid-type,misc]
        def parse_known_args(
            self, args: Sequence[str] | None = None, namespace: Any = None
        ) -> tuple[argparse.Namespace, list[str]]:
            words = list(sys.argv[1:] if args is None else args)
            tail: list[str] = []
            if "--" in words:
                cut = words.index("--")
                words, tail = words[:cut], words[cut + 1 :]
            parsed, extras = super().parse_known_args(words, namespace)
            parsed.command = [*(parsed.command or []), *tail]
            return parsed, extras

    parser.__class__ = TailParser


def register(subparsers: Any) -> None:
    run = subparsers.add_parser(
        "run",
        help="run a command in new namespaces (like unshare)",
        usage="nstui run --ns TYPES [options] -- CMD [ARGS...]",
        description="Run CMD in new namespaces. Example: nstui run --ns net,uts,pid "
        "--hostname box --mount-proc -- bash",
    )
    run.add_argument("--ns", required=True, metavar="TYPES", help="e.g. net,uts,pid or all")
    run.add_argument("--hostname", help="hostname in the new uts namespace")
    run.add_argument(
        "--map-root", action="store_true", help="map your uid to root in a new user namespace"
    )
    run.add_argument("--mount-proc", action="store_true", help="mount a fresh /proc (implies mnt)")
    run.add_argument(
        "--propagation-unchanged",
        action="store_true",
        help="keep the mount propagation of / (default: make it private in a new mnt ns)",
    )
    run.add_argument("--wd", metavar="DIR", help="working directory of the command")
    _launch_arguments(run)
    run.set_defaults(func=cmd_run)

    enter = subparsers.add_parser(
        "enter",
        help="run a command in the namespaces of a process (like nsenter)",
        usage="nstui enter PID [--ns TYPES] [options] [-- CMD [ARGS...]]",
        description="Run CMD (default: the target's shell) in the namespaces of PID. "
        "Example: nstui enter 4242 --ns net,uts -- ip addr",
    )
    enter.add_argument("pid", type=int, metavar="PID")
    enter.add_argument(
        "--ns", metavar="TYPES", help="types to enter (default: every one that differs from ours)"
    )
    enter.add_argument("--root", action="store_true", help="chroot into the target's root")
    enter.add_argument("--wd", action="store_true", help="use the target's working directory")
    enter.add_argument("--cgroup", action="store_true", help="join the target's cgroups too")
    enter.add_argument(
        "--preserve-credentials",
        action="store_true",
        help="keep your uid/gid in the target's user namespace (default: become its root)",
    )
    _launch_arguments(enter)
    enter.set_defaults(func=cmd_enter)

    keep = subparsers.add_parser(
        "keep",
        help="keep a namespace alive by bind-mounting it (like ip netns add)",
        description="Bind-mount /proc/PID/ns/TYPE onto PATH (created when missing). "
        "A mnt namespace needs PATH on a private mount.",
    )
    keep.add_argument("pid", type=int, metavar="PID")
    keep.add_argument("type", metavar="TYPE")
    keep.add_argument("path", metavar="PATH")
    keep.add_argument("-J", "--json", action="store_true", help="JSON output")
    keep.set_defaults(func=cmd_keep)

    release = subparsers.add_parser(
        "release",
        help="unmount a namespace kept with keep",
        description="Unmount the namespace bind mount at PATH. When it was the last holder "
        "(no process left in it), the namespace is destroyed.",
    )
    release.add_argument("path", metavar="PATH")
    release.set_defaults(func=cmd_release)


def _launch_arguments(parser: argparse.ArgumentParser) -> None:
    """What run and enter share: --detach, --json and the command after ``--``."""
    parser.add_argument(
        "--detach", action="store_true", help="run in the background, output to a log file"
    )
    parser.add_argument(
        "-J", "--json", action="store_true", help="with --detach: pid and log as JSON"
    )
    parser.add_argument("command", nargs="*", metavar="CMD")
    _takes_command_after_dashes(parser)


def _usage_error(message: str) -> Exception:
    from nstui.cli.main import UsageError

    return UsageError(message)


def _types(text: str, prog: str) -> tuple[NsType, ...]:
    try:
        return parse_ns_types(text)
    except ValueError as exc:
        raise _usage_error(f"nstui {prog}: {exc}") from None


def _fail(exc: NsHelperError) -> int:
    print(f"nstui: {exc}", file=sys.stderr)
    return 1


def _finish(launch: Launch, args: argparse.Namespace) -> int:
    if args.detach:
        if args.json:
            started = {"pid": launch.pid, "log": launch.log_path, "command": list(launch.argv)}
            print(json.dumps(started, indent=2))
        else:
            print(f"started pid {launch.pid}; output in {launch.log_path}")
        return 0
    return wait_in_foreground(launch)


def cmd_run(args: argparse.Namespace) -> int:
    options = UnshareOptions(
        hostname=args.hostname,
        map_root=args.map_root,
        mount_proc=args.mount_proc,
        private_mounts=not args.propagation_unchanged,
        cwd=args.wd,
    )
    types = _types(args.ns, "run")
    if not args.command:
        raise _usage_error("nstui run: no command given (nstui run --ns TYPES -- CMD ARGS)")
    try:
        launch = nshelper.spawn_unshared(args.command, types, options, detach=args.detach)
    except NsHelperError as exc:
        if exc.kind == nshelper.INVALID:
            raise _usage_error(f"nstui run: {exc}") from None
        return _fail(exc)
    return _finish(launch, args)


def cmd_enter(args: argparse.Namespace) -> int:
    types = None if args.ns is None else _types(args.ns, "enter")
    options = EnterOptions(
        root=args.root,
        wd=args.wd,
        cgroup=args.cgroup,
        preserve_credentials=args.preserve_credentials,
    )
    try:
        argv = args.command or [_default_shell(args.pid, types, options)]
        launch = nshelper.spawn_in(args.pid, types, argv, options, detach=args.detach)
    except NsHelperError as exc:
        return _fail(exc)
    return _finish(launch, args)


def _default_shell(pid: int, types: tuple[NsType, ...] | None, options: EnterOptions) -> str:
    if types is None:
        inside = nshelper.namespace_differences(pid).get(NsType.MNT) is True
    else:
        inside = NsType.MNT in types
    return nshelper.target_shell(pid, inside or options.root)


def cmd_keep(args: argparse.Namespace) -> int:
    types = _types(args.type, "keep")
    if len(types) != 1:
        raise _usage_error("nstui keep: give one namespace type")
    ns_type = types[0]
    try:
        kept = nshelper.persist(args.pid, ns_type, args.path)
    except NsHelperError as exc:
        return _fail(exc)
    if args.json:
        result = {"path": kept.path, "type": kept.ns_type.value, "pid": args.pid}
        print(json.dumps(result | {"created": kept.created}, indent=2))
    else:
        print(f"kept the {kept.ns_type} namespace of {args.pid} at {kept.path}")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    try:
        nshelper.release(args.path)
    except NsHelperError as exc:
        return _fail(exc)
    print(f"released {args.path}")
    return 0
