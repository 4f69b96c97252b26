"""QA: an attached command that takes the terminal must not leave nstui in the background.

An interactive shell (bash, zsh) puts itself in its own process group and makes it the
terminal's foreground group. Inside a new pid namespace it cannot give the terminal back when
it exits: nstui's process group is not visible there. nstui is then a background job of its own
terminal and the TUI hangs on its next write (found by QA: `n`, Enter, `exit` froze the TUI).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

# Does what bash's job control does at start: own process group, made the foreground one.
STEAL = (
    "import os, signal\n"
    "signal.signal(signal.SIGTTOU, signal.SIG_IGN)\n"
    "os.setpgid(0, 0)\n"
    "os.tcsetpgrp(0, os.getpgrp())\n"
)

# Runs as a session leader that opens the pty slave as its controlling terminal, as a login
# shell's job would, then launches STEAL attached in a new pid namespace.
DRIVER = (
    "import os, sys\n"
    "from nstui.kernel.nstypes import NsType\n"
    "from nstui.model.ns_actions import LiveNsActions, UnshareOptions, wait_in_foreground\n"
    "fd = os.open(sys.argv[1], os.O_RDWR)\n"
    "os.dup2(fd, 0)\n"
    "assert os.tcgetpgrp(0) == os.getpgrp(), 'driver is not the foreground job'\n"
    "launch = LiveNsActions().run([sys.executable, '-c', sys.argv[2]], [NsType.PID],"
    " UnshareOptions())\n"
    "status = wait_in_foreground(launch)\n"
    "print(status, os.tcgetpgrp(0) == os.getpgrp(), flush=True)\n"
)


@pytest.mark.root
def test_terminal_is_taken_back_after_an_attached_command(
    spawn: Callable[..., subprocess.Popen[str]],
) -> None:
    master, slave = os.openpty()
    try:
        name = os.ttyname(slave)
        os.close(slave)
        slave = -1
        driver = spawn(
            [sys.executable, "-c", DRIVER, name, STEAL],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out, err = driver.communicate(timeout=60)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert driver.returncode == 0, err
    status, foreground = out.split()
    assert status == "0"
    assert foreground == "True", "nstui was left in the background of its own terminal"
