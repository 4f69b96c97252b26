"""Where the UI gets snapshots from: the live kernel or a recorded file.

The UI only sees ``SnapshotSource``; tests and screenshots feed a ``RecordedSource``.
"""

from __future__ import annotations

from typing import Protocol

from nstui.model.snapshot import Snapshot


class SnapshotSource(Protocol):
    def take(self) -> Snapshot:
        """Return a fresh snapshot. Blocking: call it from a worker thread."""
        ...
