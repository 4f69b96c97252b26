"""QA: the mounts view's NAMESPACE column cuts a long label at its end, not its start.

Found by QA: a namespace labelled by a long command line showed its last characters
(``4026531832 (nstui's) …: "/root/.terraformrc"}``), which names nothing.
"""

from __future__ import annotations

from dataclasses import replace

from nstui.model.mounts_recorded import RecordedMountActions
from nstui.ui.widgets.mounts_view import ns_name


def test_long_label_keeps_its_beginning() -> None:
    state = RecordedMountActions().read_state()
    own = next(ns for ns in state.scan.namespaces if ns.is_own)
    long = replace(own, label='line_io_tools/binary_backend --env {"HOME": "/root"}')
    name = ns_name(long, state, None)
    assert name.startswith(f"{own.ns.ino} (nstui's) line_io_tools/"), name
    assert name.endswith("…") and len(name) < 60, name
