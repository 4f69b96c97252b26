"""Exact interface addresses for network namespaces where /proc is ambiguous.

/proc shows every namespace's local IPv4 addresses but cannot always say on which interface
(a /32, noprefixroute, one subnet on two interfaces: nsfacts leaves those "unplaced"). For
those namespaces only, ``NetAddressCache`` asks the helper (nstui.kernel.ns_inside), which joins
the namespace and asks rtnetlink, as ``ip address`` does. The answer is kept per namespace
(NsId plus kernel id) together with what /proc showed at the time: while /proc keeps showing
the same addresses, later descriptions (fresh counters) get the exact placement again without
a helper; when /proc's addresses change, the helper is asked again. A full take forgets all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from nstui.kernel.namespaces import Namespace, NsFacts
from nstui.kernel.ns_inside import own_netns, read_net_addresses
from nstui.kernel.nstypes import NsId, NsType
from nstui.model.ask_members import ask_members

_Key = tuple[NsId, int | None]
Reader = Callable[..., dict[int, dict[str, list[str]]]]
_Signature = tuple[tuple[tuple[str, tuple[str, ...]], ...], tuple[str, ...]]


@dataclass(slots=True)
class _Entry:
    signature: _Signature  # the addresses /proc showed when the helper was asked
    exact: dict[str, list[str]] | None  # the helper's answer; None: could not be read
    applied: NsFacts | None = None  # the facts last made from it (already exact: skip)


def _signature(facts: NsFacts) -> _Signature:
    return tuple((i.name, i.addresses) for i in facts.interfaces), facts.unplaced_addresses


def exact_facts(facts: NsFacts, exact: dict[str, list[str]]) -> NsFacts:
    """FACTS with every interface's addresses from EXACT; addresses of interfaces /proc did
    not list (appeared since) stay unplaced."""
    names = {i.name for i in facts.interfaces}
    interfaces = tuple(replace(i, addresses=tuple(exact.get(i.name, ()))) for i in facts.interfaces)
    rest = tuple(c for name, cidrs in exact.items() if name not in names for c in cidrs)
    return replace(facts, interfaces=interfaces, unplaced_addresses=rest)


class NetAddressCache:
    """Places the unplaced addresses of net namespaces; one instance per snapshot source."""

    def __init__(self, proc: str = "/proc", reader: Reader = read_net_addresses) -> None:
        self.proc = proc
        self._reader = reader
        self._known: dict[_Key, _Entry] = {}
        #: helper starts so far (for tests and benchmarks: an unchanged refresh adds none)
        self.helper_runs = 0

    def apply(
        self, namespaces: dict[NsId, Namespace], *, full: bool = False
    ) -> dict[NsId, Namespace]:
        """NAMESPACES with exact addresses where /proc left some unplaced (the same dict when
        nothing changed; else a copy)."""
        if full:
            self._known.clear()
        own = own_netns(self.proc)
        own_id = None if own is None else NsId(NsType.NET, *own)
        todo: list[Namespace] = []
        present: set[_Key] = set()
        out: dict[NsId, Namespace] | None = None
        for ns in namespaces.values():
            if ns.type is not NsType.NET or ns.id == own_id:
                continue  # nstui's own namespace is read exactly already (rtnetlink)
            key = (ns.id, ns.kernel_id)
            present.add(key)
            entry = self._known.get(key)
            if entry is not None:
                if ns.facts is entry.applied:
                    continue  # carried over from the last take: exact already
                if _signature(ns.facts) == entry.signature:
                    # /proc shows what it showed when the helper was asked: reuse its answer
                    # on these (fresher) facts, or leave them if it could not read them
                    if entry.exact is not None:
                        entry.applied = exact_facts(ns.facts, entry.exact)
                        out = dict(namespaces) if out is None else out
                        out[ns.id] = replace(ns, facts=entry.applied)
                    continue
                del self._known[key]  # the addresses changed: ask again
            if ns.facts.unplaced_addresses and ns.pids:
                todo.append(ns)
        if todo:
            out = self._read(todo, namespaces if out is None else out)
        for key in [k for k in self._known if k not in present]:
            del self._known[key]
        return namespaces if out is None else out

    def _read(
        self, todo: list[Namespace], namespaces: dict[NsId, Namespace]
    ) -> dict[NsId, Namespace]:
        self.helper_runs += 1
        answers = ask_members(self._reader, todo, self.proc)
        out = dict(namespaces)
        for ns in todo:
            exact = answers[ns.id]
            entry = _Entry(_signature(ns.facts), exact)
            self._known[(ns.id, ns.kernel_id)] = entry
            if exact is not None:
                entry.applied = exact_facts(ns.facts, exact)
                out[ns.id] = replace(ns, facts=entry.applied)
        return out
