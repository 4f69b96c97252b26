"""One question to the ns_inside helper about many namespaces, each asked through its members.

The helper joins a namespace through one of its processes; a process may exit between the scan
and the helper, so up to TRIES members of each namespace are named, each with the namespace's
(dev, inode) so that a reused pid is skipped rather than misread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from nstui.kernel.nstypes import NsId

#: Members of one namespace tried (a pid may vanish between the scan and the helper).
TRIES = 3

AnswerT = TypeVar("AnswerT")


class WithMembers(Protocol):
    """A namespace as far as asking it goes (a Namespace, or a stand-in made before it)."""

    @property
    def id(self) -> NsId: ...

    @property
    def pids(self) -> tuple[int, ...]: ...


def ask_members(
    reader: Callable[..., dict[int, AnswerT]], namespaces: Sequence[WithMembers], proc: str
) -> dict[NsId, AnswerT | None]:
    """Per namespace, the answer READER gave for the first of its members that it could read,
    or None. READER is called once: ``reader(pids, expected={pid: (dev, ino)}, proc=proc)``."""
    pids: list[int] = []
    expected: dict[int, tuple[int, int]] = {}
    for ns in namespaces:
        for pid in ns.pids[:TRIES]:
            pids.append(pid)
            expected[pid] = (ns.id.dev, ns.id.ino)
    answers = reader(pids, expected=expected, proc=proc)
    return {
        ns.id: next((answers[p] for p in ns.pids[:TRIES] if p in answers), None)
        for ns in namespaces
    }
