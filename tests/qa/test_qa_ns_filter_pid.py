"""QA: `/ PID` in the namespaces view shows the namespaces that process is in.

Found by QA: the filter line promises "pid, command, user, namespace id, ..." but in view 2 a
pid matched nothing (only the rows of expanded namespaces carried member pids).
"""

from __future__ import annotations

from ui.fakes import CONTAINER_NS, HOST_NS, SequenceSource, make_snapshot
from ui.helpers import settle, sync

from nstui.kernel.nstypes import NsType
from nstui.ui.app import NstuiApp


@sync
async def test_filter_by_pid_finds_its_namespaces() -> None:
    app = NstuiApp(SequenceSource([make_snapshot()]), None, interval=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        view = app.namespaces_view
        app.set_filter("22")  # pid 22 (nginx worker): in the container's namespaces
        await pilot.pause()
        shown = {line.key for line in view.lines}
        assert CONTAINER_NS[NsType.PID] in shown
        assert CONTAINER_NS[NsType.NET] in shown
        assert HOST_NS[NsType.PID] not in shown
