"""Text that is safe to print on a terminal, whatever it holds.

Names, statuses and values read from an account, and values quoted from a definition in a
problem message, are shown to people through a terminal or a CI log. A character in them that the
terminal acts on instead of showing could forge or hide a line (a newline followed by
``  + campaign "x"``), move the cursor or erase a line (ESC ``[2K``), or reorder what a line
appears to say. Everything hoodsync prints that it did not write itself goes through
:func:`printable` or :func:`quoted` (or, for JSON text, :func:`json_safe`).
"""

from __future__ import annotations

import json
import re

__all__ = ["UNSAFE", "printable", "quoted", "json_safe"]

#: Characters a terminal may act on rather than show: C0 controls (newline, carriage return,
#: ESC, which starts every escape sequence), DEL, C1 controls (U+009B is a one-character CSI,
#: U+0085 a newline to some terminals), the Unicode line and paragraph separators, and the
#: bidirectional embedding / override / isolate controls. Letters of any script, emoji and their
#: joiners are not in it.
UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _text_escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def printable(text: object) -> str:
    """``text`` (made a string) with every :data:`UNSAFE` character written as an escape
    (``\\n``, ``\\x1b``, ``\\u202e``); anything else is unchanged."""
    return UNSAFE.sub(_text_escape, str(text))


def json_safe(encoded: str) -> str:
    """JSON text (as ``json.dumps(..., ensure_ascii=False)`` writes it, which escapes only C0
    controls) with the other :data:`UNSAFE` characters written as ``\\uXXXX``: the same JSON
    value, now safe to print."""
    return UNSAFE.sub(_json_escape, encoded)


def quoted(text: object) -> str:
    """``text`` as a double-quoted JSON string that is safe to print."""
    return json_safe(json.dumps(str(text), ensure_ascii=False))
