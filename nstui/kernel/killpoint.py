"""Named points inside operations that make kernel objects, where tests kill nstui.

tests/reliability/test_kill_tui.py SIGKILLs the app at each of these points to prove that
nothing is left half made. With ``NSTUI_KILL_POINT=<name>`` and ``NSTUI_KILL_FIFO=<fifo>`` in
the environment, the first thread to reach point ``<name>`` writes ``"<name> <pid>\\n"`` to the
fifo and then waits (at most ``WAIT`` seconds, then goes on) for the test's SIGKILL; that is
the synchronisation, no sleeps or tracing. Without both variables a point costs one
environment lookup and does nothing.
"""

from __future__ import annotations

import os
import time

POINT_ENV = "NSTUI_KILL_POINT"
FIFO_ENV = "NSTUI_KILL_FIFO"
#: how long a process stopped at its point waits for the kill before carrying on
WAIT = 120.0


def reached(name: str) -> None:
    """Stop here for the test's SIGKILL when the environment names this point."""
    if os.environ.get(POINT_ENV) != name:
        return
    fifo = os.environ.get(FIFO_ENV)
    if not fifo:
        return
    fd = os.open(fifo, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, f"{name} {os.getpid()}\n".encode())
    finally:
        os.close(fd)
    time.sleep(WAIT)
