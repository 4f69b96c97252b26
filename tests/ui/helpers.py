"""Driving the app in Pilot tests."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec

from textual.pilot import Pilot

from nstui.ui.app import NstuiApp

P = ParamSpec("P")


def sync(fn: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test with asyncio.run (the suite has no async pytest plugin)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll until the condition holds (the machine is shared: no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def settle(pilot: Pilot[int]) -> None:
    """Wait until running refresh workers ended and their results are on screen."""
    app = pilot.app
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def refresh(pilot: Pilot[int]) -> None:
    """Take the next snapshot now and wait until it is applied."""
    app = pilot.app
    assert isinstance(app, NstuiApp)
    app.action_refresh_now()
    await settle(pilot)


def screen_line(app: NstuiApp, table_id: str = "#processes-view") -> int | None:
    """The cursor's line within the table's body, counted from the top of the viewport."""
    table = app.query_one(table_id)
    index = getattr(table, "cursor_index", None)
    if index is None:
        return None
    return int(index) - int(table.scroll_y)
