"""Pieces shared by the namespace-action panes (run, enter, keep, release)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

from textual import on
from textual.app import App
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from nstui.kernel.nstypes import NsType
from nstui.model.ns_actions import LaunchHandle, NsHelperError, wait_in_foreground

ResultT = TypeVar("ResultT")


def nsactions_css() -> Path:
    """styles/nsactions.tcss, shipped in the wheel as nstui.styles."""
    return Path(str(files("nstui.styles").joinpath("nsactions.tcss")))


#: What a new namespace of each type isolates, in a few words (checkbox labels).
TYPE_HINTS: dict[NsType, str] = {
    NsType.PID: "process ids (command is pid 1)",
    NsType.NET: "network stack (loopback only)",
    NsType.MNT: "mount table",
    NsType.UTS: "hostname",
    NsType.IPC: "System V IPC, message queues",
    NsType.USER: "uids, gids, capabilities",
    NsType.CGROUP: "view of the cgroup tree",
    NsType.TIME: "monotonic and boot clocks",
}


class NsDialog(ModalScreen[ResultT | None]):
    """A namespace-action pane: its stylesheet, the #message line, Cancel/escape (None)."""

    CSS_PATH = nsactions_css()

    def __init__(self) -> None:
        super().__init__(classes="ns-dialog")

    def _say(self, text: str, kind: str = "error") -> None:
        message = self.query_one("#message", Static)
        message.set_classes(kind)
        message.update(text)

    def _typed_command(self) -> list[str] | None:
        """The argv typed in the pane's #command input, or None after saying what is wrong."""
        try:
            argv = split_command(self.query_one("#command", Input).value)
        except ValueError as exc:
            self._say(f"The command cannot be split: {exc}.")
            return None
        if not argv:
            self._say("Type a command to run.")
            return None
        return argv

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)


def split_command(text: str) -> list[str]:
    """The argv a shell would make of ``text`` (quotes and escapes; no expansion).
    ValueError for unbalanced quotes, and for a NUL, which no argument to execve can hold."""
    if "\0" in text:
        raise ValueError("a command cannot contain a NUL character")
    return shlex.split(text)


def argv_preview(text: str) -> str:
    """The line under the command input: the argv that will run, or why there is none."""
    try:
        argv = split_command(text)
    except ValueError as exc:
        return f"cannot split: {exc}"
    return f"argv: {argv!r}" if argv else "argv: (empty)"


def run_attached(
    app: App[Any], start: Callable[[], LaunchHandle], pause: bool
) -> tuple[int | None, str | None]:
    """Hand the terminal to the command ``start`` launches and wait for it to exit:
    (exit status, None), or (None, the reason it did not run).

    Runs on the event loop on purpose: the TUI is suspended while the command owns the
    terminal and resumes when it exits. SuspendNotSupported (no terminal to hand over) is
    left to the caller, which knows what to suggest instead.
    """
    error: str | None = None
    status: int | None = None
    try:
        with app.suspend():
            try:
                launch = start()
            except NsHelperError as exc:
                error = str(exc)
            else:
                status = wait_in_foreground(launch)
                if pause:
                    pause_for_enter(status)
    except OSError as exc:
        error = f"cannot hand over the terminal: {exc}"
    app.refresh()
    return status, error


def pause_for_enter(status: int) -> None:
    """After an attached command: let the user read its last output before the TUI returns."""
    message = f"\n[nstui: the command exited with status {status}; press Enter to return]"
    try:
        os.write(2, message.encode())
        os.read(0, 4096)
    except OSError:
        pass
