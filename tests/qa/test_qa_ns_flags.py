"""QA: a process whose namespaces could not be read shows ``?`` in the NS column, as help says.

Found by QA: pid 1 (EACCES here even for root) and, without root, every other user's process
had an empty NS cell, which reads as "nothing differs".
"""

from __future__ import annotations

from ui.fakes import HOST_NS

from nstui.ui.format import ns_flags


def test_unreadable_namespaces_are_question_marks() -> None:
    assert ns_flags({}, HOST_NS) == ("????????", 0)
    assert ns_flags(HOST_NS, HOST_NS) == ("········", 0)
