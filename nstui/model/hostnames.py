"""Hostnames of a snapshot's uts namespaces, read once per namespace.

Reading a hostname means entering the namespace (in a helper process, see
nstui.kernel.ns_inside), so ``HostnameCache`` asks only about uts namespaces it has not seen
before, all at once: a refresh of an unchanged host starts no process. A namespace is known by
its NsId plus its kernel id (NS_GET_ID, where the kernel has it): inodes are reused, kernel
ids are not. A full take forgets everything and reads again, which is when a hostname changed
inside a namespace shows (nobody is told about sethostname). nstui's own uts namespace needs
no helper: gethostname, on every take.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from nstui.kernel.namespaces import Namespace
from nstui.kernel.ns_inside import StartedHelper, own_hostname, own_uts, read_hostnames
from nstui.kernel.nstypes import NsId, NsType
from nstui.model.ask_members import ask_members

_Key = tuple[NsId, int | None]
Reader = Callable[..., dict[int, str]]


@dataclass(frozen=True, slots=True)
class UtsCandidate:
    """What ``prefetch`` needs of a uts namespace before its Namespace record exists."""

    id: NsId
    kernel_id: int | None
    pids: tuple[int, ...]


class HostnameCache:
    """Fills ``NsFacts.hostname`` of uts namespaces; one instance per snapshot source."""

    def __init__(self, proc: str = "/proc", reader: Reader = read_hostnames) -> None:
        self.proc = proc
        self._reader = reader
        self._known: dict[_Key, str | None] = {}
        self._pending: threading.Thread | None = None
        self._started: StartedHelper | None = None
        self._cleared = False  # by a prefetch for a full take
        #: helper starts so far (for tests and benchmarks: an unchanged refresh adds none)
        self.helper_runs = 0

    def start(self) -> None:
        """Start the helper a full take will ask now, so that its interpreter start overlaps
        the scan (only with the real reader: a reader given for tests starts its own)."""
        self.close()
        if self._reader is read_hostnames:
            self._started = StartedHelper(self.proc)

    def close(self) -> None:
        """End a helper started and not asked (the end of a take, or of the source)."""
        self._wait()
        started, self._started = self._started, None
        if started is not None:
            started.close()

    def prefetch(self, candidates: Sequence[UtsCandidate], *, full: bool = False) -> None:
        """Start reading the hostnames ``apply`` will want, in a thread (the helper process
        runs on another core meanwhile); ``apply`` waits for it. FULL forgets first, as
        ``apply(full=True)`` would."""
        self._wait()
        if full:
            self._known.clear()
            self._cleared = True
        own_id = self._own_id()
        wanted = [c for c in candidates if c.id != own_id and c.pids]
        if not any((c.id, c.kernel_id) not in self._known for c in wanted):
            return
        self._pending = threading.Thread(
            target=self._read_new, args=(wanted,), name="nstui-hostnames", daemon=True
        )
        self._pending.start()

    def _own_id(self) -> NsId | None:
        """nstui's own uts namespace: its hostname needs no helper."""
        own = own_uts(self.proc)
        return None if own is None else NsId(NsType.UTS, *own)

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.join()
            self._pending = None

    def apply(
        self, namespaces: dict[NsId, Namespace], *, full: bool = False
    ) -> dict[NsId, Namespace]:
        """NAMESPACES with the hostname of every uts namespace that could be read (the same
        dict when nothing changed; else a copy, the argument is left as it was)."""
        self._wait()
        if full and not self._cleared:
            self._known.clear()
        self._cleared = False
        uts = [ns for ns in namespaces.values() if ns.type is NsType.UTS]
        own_id = self._own_id()
        self._read_new([ns for ns in uts if ns.id != own_id and ns.pids])
        self.close()
        present = {(ns.id, ns.kernel_id) for ns in uts}
        for key in [k for k in self._known if k not in present]:
            del self._known[key]
        out: dict[NsId, Namespace] | None = None
        for ns in uts:
            name = own_hostname() if ns.id == own_id else self._known.get((ns.id, ns.kernel_id))
            if ns.facts.hostname != name:
                if out is None:
                    out = dict(namespaces)
                out[ns.id] = replace(ns, facts=replace(ns.facts, hostname=name))
        return namespaces if out is None else out

    def _read_new(self, candidates: Sequence[Namespace | UtsCandidate]) -> None:
        wanted = [ns for ns in candidates if (ns.id, ns.kernel_id) not in self._known]
        if not wanted:
            return
        self.helper_runs += 1
        started, self._started = self._started, None
        reader = (
            self._reader if started is None else functools.partial(read_hostnames, started=started)
        )
        try:
            names = ask_members(reader, wanted, self.proc)
        finally:
            if started is not None:
                started.close()  # when it was not asked after all
        for ns in wanted:
            # None is remembered too: an unreadable namespace (not root) is not asked again
            self._known[(ns.id, ns.kernel_id)] = names[ns.id]
