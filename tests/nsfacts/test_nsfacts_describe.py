"""The detail text for addresses and hostnames, on the recorded host with facts filled in."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from nstui.kernel.nstypes import NsType
from nstui.model.describe import Tone, describe_namespace, describe_process, render_text
from nstui.model.snapshot import Snapshot

NGINX = 1220  # the nginx container's master process in the recorded snapshot


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    path = Path(__file__).resolve().parents[1] / "data" / "recorded.py"
    spec = importlib.util.spec_from_file_location("nstui_tests_recorded_nsfacts", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    loaded: Snapshot = module.load_recorded_snapshot()
    return loaded


def _with_facts(snap: Snapshot, ns_type: NsType, **facts: Any) -> Snapshot:
    ns_id = snap.processes[NGINX].ns[ns_type]
    ns = snap.namespaces[ns_id]
    changed = dataclasses.replace(ns, facts=dataclasses.replace(ns.facts, **facts))
    return dataclasses.replace(snap, namespaces={**snap.namespaces, ns_id: changed})


def test_net_addresses_under_their_interface(snap: Snapshot) -> None:
    ns = snap.namespaces[snap.processes[NGINX].ns[NsType.NET]]
    lo, eth0 = ns.facts.interfaces[:2]
    interfaces = (
        dataclasses.replace(lo, addresses=("127.0.0.1/8", "::1/128")),
        dataclasses.replace(eth0, addresses=("172.17.0.2/16",)),
        *ns.facts.interfaces[2:],
    )
    changed = _with_facts(snap, NsType.NET, interfaces=interfaces, unplaced_addresses=("10.9.9.9",))
    section = describe_namespace(changed, ns.id).section("Interfaces")
    assert section is not None
    pairs = [(row.label, row.value) for row in section.rows]
    at = pairs.index(("", "127.0.0.1/8  ::1/128"))
    assert pairs[at - 1][0] == lo.name  # right under its interface's traffic row
    assert ("", "172.17.0.2/16") in pairs
    assert ("other", "10.9.9.9") in pairs
    assert section.rows[-1].tone is Tone.MUTED  # says why those are "other"


def test_no_addresses_keeps_the_old_rows(snap: Snapshot) -> None:
    ns_id = snap.processes[NGINX].ns[NsType.NET]
    section = describe_namespace(snap, ns_id).section("Interfaces")
    assert section is not None
    assert all(row.label for row in section.rows)  # one row per interface, nothing else


def test_uts_hostname_of_a_container(snap: Snapshot) -> None:
    changed = _with_facts(snap, NsType.UTS, hostname="1e80f2b3c4d5")
    uts = changed.processes[NGINX].ns[NsType.UTS]
    section = describe_namespace(changed, uts).section("UTS")
    assert section is not None
    (row,) = section.rows
    assert (row.label, row.value, row.tone) == ("hostname", "1e80f2b3c4d5", Tone.HIGHLIGHT)
    text = render_text(describe_process(changed, NGINX))
    assert "hostname 1e80f2b3c4d5" in text  # the process's uts row names it too


def test_uts_hostname_unread(snap: Snapshot) -> None:
    uts = snap.processes[NGINX].ns[NsType.UTS]
    section = describe_namespace(snap, uts).section("UTS")
    assert section is not None
    assert section.rows[0].value.startswith("not read") and section.rows[0].tone is Tone.MUTED


def test_hostname_text_made_printable(snap: Snapshot) -> None:
    """sethostname takes any bytes: an escape sequence must not reach the terminal."""
    changed = _with_facts(snap, NsType.UTS, hostname="evil\x1b]0;pwned\x07")
    uts = changed.processes[NGINX].ns[NsType.UTS]
    assert "\x1b" not in render_text(describe_namespace(changed, uts))
