from __future__ import annotations

import pytest

from nstui.kernel.nstypes import NS_TYPES, NsId, NsType, parse_ns_types


def test_parse_ns_types_keeps_order_and_drops_duplicates() -> None:
    assert parse_ns_types("net, uts,net,PID") == (NsType.NET, NsType.UTS, NsType.PID)


def test_parse_all() -> None:
    assert parse_ns_types("all") == NS_TYPES
    assert len(NS_TYPES) == 8


@pytest.mark.parametrize("text", ["", " , ", "net,bogus", "all,net"])
def test_parse_refuses_with_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        parse_ns_types(text)


def test_nsid_text_matches_proc_link() -> None:
    assert str(NsId(NsType.NET, 4, 4026531833)) == "net:[4026531833]"
