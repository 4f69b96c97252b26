"""``nstui`` entry point: argument parsing and dispatch to one module per subcommand.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which adds its parser and
sets ``func`` (taking the parsed namespace, returning the exit status) as a default.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from collections.abc import Sequence
from typing import NoReturn

from nstui import __version__

#: One module per subcommand group, in the order ``nstui --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "nstui.cli.snapshot_cmd",
    "nstui.cli.ns_cmd",
    "nstui.cli.cg_cmd",
    "nstui.cli.subsys_cmd",
    "nstui.cli.run_cmd",
    "nstui.cli.mounts_cmd",
    "nstui.cli.overlay_cmd",
    "nstui.cli.dm_cmd",
    "nstui.cli.describe_cmd",
)


MIN_INTERVAL = 0.2


class UsageError(Exception):
    """Bad arguments: printed as one line, exit status 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with util-linux manners: a bad argument is one line on stderr and status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="nstui",
        description="Browse and control Linux namespaces, cgroups and union mounts.",
    )
    parser.add_argument("--version", action="version", version=f"nstui {__version__}")
    parser.add_argument(
        "--interval",
        type=float,
        default=2.0,
        help=f"TUI refresh interval in seconds (default 2, at least {MIN_INTERVAL})",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def run_tui(args: argparse.Namespace) -> int:
    # A refresh costs a /proc scan: below MIN_INTERVAL it would only burn CPU on the host.
    if not math.isfinite(args.interval) or args.interval < MIN_INTERVAL:
        raise UsageError(f"nstui: --interval must be a number of seconds >= {MIN_INTERVAL}")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # cron, `ssh host nstui` without -t, a pipe: a full-screen UI would only spray escapes.
        raise UsageError(
            "nstui: not a terminal; use a subcommand for scripts (nstui snapshot --json, "
            "nstui ns, nstui cg ...)"
        )
    from nstui.ui.app import run_app  # textual is imported only when the TUI starts

    return run_app(interval=args.interval)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        func = getattr(args, "func", None)
        return int(func(args)) if func is not None else run_tui(args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `nstui ns | head`: the reader went away; not an error worth a traceback.
        sys.stderr.close()
        return 141


if __name__ == "__main__":
    # Run through the imported module: as __main__ this file would be a second copy whose
    # UsageError is not the class the subcommand modules raise.
    from nstui.cli.main import main as _main

    sys.exit(_main())
