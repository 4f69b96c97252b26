"""Make text from the host safe to put on a terminal.

Command lines, comm, cgroup and mount paths, hostnames and container names are chosen by
whoever runs a process, and may hold escape sequences: Textual passes ESC through to the
terminal, so a process named ``\\x1b]0;...`` could retitle or garble the operator's screen.
Everything nstui shows from the host goes through ``printable`` first. Like ``ps`` it keeps
the text readable, but it shows what was there instead of a bare ``?``.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, lone surrogates (undecodable bytes kept by surrogateescape) and the
# bidirectional overrides that can make text read backwards.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\e"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the byte that did not decode
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """TEXT with control characters, undecodable bytes and bidi overrides written as escapes
    (``\\e``, ``\\n``, ``\\x07``, ``\\xff``, ``\\u202e``). Returns TEXT itself when it is clean."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def printable_lines(text: str) -> str:
    """Like ``printable`` but keeps line breaks, for multi-line kernel files."""
    return "\n".join(printable(line) for line in text.split("\n"))
