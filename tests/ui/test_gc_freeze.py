"""With gc_freeze (as run_app starts the app), what is alive once the first snapshot is on
screen is moved out of the cyclic collector's sight; without it (tests), nothing is."""

from __future__ import annotations

import gc

from nstui.ui.app import NstuiApp

from .fakes import SequenceSource, make_snapshot
from .helpers import settle, sync, wait_for


@sync
async def test_gc_freeze_after_the_first_snapshot_only_when_asked() -> None:
    gc.unfreeze()
    try:
        plain = NstuiApp(SequenceSource([make_snapshot()]), None, interval=3600)
        async with plain.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            assert plain.complete == 1
            assert gc.get_freeze_count() == 0
        app = NstuiApp(SequenceSource([make_snapshot()]), None, interval=3600, gc_freeze=True)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            assert await wait_for(lambda: gc.get_freeze_count() > 0)
            assert app.snapshot is not None
    finally:
        gc.unfreeze()  # give the test session its collector back
