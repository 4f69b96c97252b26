"""The helper's own small parsers and checks, in process (nothing here enters a namespace)."""

from __future__ import annotations

import pytest

from nstui.kernel import nshelper_main as helper


def test_unsupported_type_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(helper, "supported", lambda ns_type: ns_type != "time")
    assert helper.check_types(["net", "uts"]) == 0x40000000 | 0x04000000
    with pytest.raises(helper.HelperError) as err:
        helper.check_types(["net", "time"])
    assert err.value.kind == helper.UNSUPPORTED
    assert err.value.message == "time namespaces are not supported by this kernel"


def test_unknown_type_is_invalid() -> None:
    with pytest.raises(helper.HelperError, match="unknown namespace type 'bogus'") as err:
        helper.check_types(["bogus"])
    assert err.value.kind == helper.INVALID


def test_args_split_options_from_the_command() -> None:
    args = helper.Args(["--status-fd", "5", "--ns", "", "--root", "--", "sh", "-c", "--x"])
    assert args.int("status-fd") == 5
    assert args.get("ns") == ""
    assert args.flag("root") and not args.flag("wd")
    assert args.argv == ["sh", "-c", "--x"]
    with pytest.raises(helper.HelperError, match="--hostname needs a value"):
        helper.Args(["--hostname"])


def test_mountinfo_unescape() -> None:
    assert helper.unescape(r"/tmp/a\040b\134c") == "/tmp/a b\\c"
    assert helper.unescape("/plain") == "/plain"


def test_main_reports_a_bad_mode_as_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert helper.main(["dance"]) == 1
    assert capsys.readouterr().err == "nstui: helper: mode must be run, enter, keep or release\n"
