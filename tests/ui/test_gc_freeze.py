"""With gc_freeze (as run_app starts the app), the cyclic collector is off until the first
snapshot is on screen, then what is alive is moved out of its sight and it is on again;
without gc_freeze (tests) neither happens."""

from __future__ import annotations

import gc

from nstui.ui.app import NstuiApp

from .fakes import SequenceSource, make_snapshot
from .helpers import settle, sync, wait_for
from .test_first_frame import HeldSource


@sync
async def test_gc_freeze_after_the_first_snapshot_only_when_asked() -> None:
    gc.unfreeze()
    try:
        plain = NstuiApp(SequenceSource([make_snapshot()]), None, interval=3600)
        async with plain.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            assert plain.complete == 1
            assert gc.get_freeze_count() == 0
        assert gc.isenabled()
        source = HeldSource()
        app = NstuiApp(source, None, interval=3600, gc_freeze=True)
        async with app.run_test(size=(120, 36)) as pilot:
            assert await wait_for(lambda: not gc.isenabled())  # while the first scan runs
            source.release.set()
            await settle(pilot)
            assert await wait_for(lambda: gc.isenabled() and gc.get_freeze_count() > 0)
            assert app.snapshot is not None
    finally:
        gc.enable()
        gc.unfreeze()  # give the test session its collector back
