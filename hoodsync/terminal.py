"""Text that is safe to print on a terminal, whatever it holds.

Names, statuses and values read from an account, and values quoted from a definition in a
problem message, are shown to people through a terminal or a CI log. A character in them that the
terminal acts on instead of showing could forge or hide a line (a newline followed by
``  + campaign "x"``), move the cursor or erase a line (ESC ``[2K``), or reorder what a line
appears to say. A CI runner reads lines too: GitHub Actions takes ``##[command]`` anywhere in a
line of a step's output, and ``::command::`` at the start of one (after blanks), as a workflow
command, and does not log that line (``##[debug]``, ``::debug::``) or acts on it
(``##[add-mask]`` hides text in every later line, ``##[group]`` folds what follows). Everything
hoodsync prints that it did not write itself goes through :func:`printable` or :func:`quoted`
(or, for JSON text, :func:`json_safe`).
"""

from __future__ import annotations

import json
import re

__all__ = ["BLANKS", "UNSAFE", "RUNNER_COMMAND", "printable", "quoted", "json_safe"]

#: Characters that Unicode calls letters or symbols but that fonts draw as blank space: the
#: Hangul fillers (U+115F, U+1160, U+3164 and the halfwidth U+FFA0), which stand for a missing
#: jamo, and the blank Braille pattern (U+2800). ``Daily news`` with one of them appended reads
#: ``Daily news``; :func:`hoodsync.lookalikes.skeleton` counts each as a space.
BLANKS = "\u115f\u1160\u2800\u3164\uffa0"
#: Characters a terminal may act on rather than show, or that show as nothing: C0 controls
#: (newline, carriage return, ESC, which starts every escape sequence), DEL, C1 controls (U+009B
#: is a one-character CSI, U+0085 a newline to some terminals), the Unicode line and paragraph
#: separators, the bidirectional marks and embedding / override / isolate controls, lone
#: surrogates (which no terminal encoding can write), the interlinear annotation characters,
#: :data:`BLANKS`, and every default-ignorable code point (Unicode's
#: ``Default_Ignorable_Code_Point``: soft hyphen, combining grapheme joiner, zero-width space,
#: word joiner, invisible operators, byte order mark, Khmer inherent vowels, shorthand and
#: musical format controls, tag characters, and the unassigned code points reserved for more)
#: but the joiners (U+200C, U+200D) and variation selectors (U+FE00-U+FE0F, U+E0100-U+E01EF,
#: the Mongolian ones), which scripts and emoji rely on. Other letters of any script and emoji
#: are not in it (a changed value whose sides would look alike shows the difference escaped,
#: see ``render.common.change_texts``).
UNSAFE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\xad\u034f\u061c\u17b4\u17b5\u180e\u200b\u200e\u200f\u2028-\u202e"
    r"\u2060-\u206f\ufeff\ufff0-\ufffb\ud800-\udfff\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    r"\U000e0000-\U000e00ff\U000e01f0-\U000e0fff"
    f"{BLANKS}]"
)
#: What would make a CI runner read a line as a workflow command: ``##[`` anywhere in it
#: (GitHub's runner looks for it anywhere; the second ``#`` is escaped, ``#\x23[`` reads the same
#: and is not one, a lone ``#`` stays as it is) ...
RUNNER_COMMAND = re.compile(r"(?<=#)#(?=\[)")
#: ... and ``::`` opening the text, after blanks: GitHub honours ``::command::`` only at the
#: start of a line, less its blanks. Every value in a plan follows hoodsync's own text, but a
#: file name opens each line of a problem report.
_LEADING_COMMAND = re.compile(r"\s*:(?=:)")
#: Everything :func:`printable` and :func:`json_safe` escape.
_ESCAPED = re.compile(f"{UNSAFE.pattern}|{RUNNER_COMMAND.pattern}")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _text_escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code > 0xFFFF:
        return f"\\U{code:08x}"
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # JSON writes it as its UTF-16 surrogate pair
        high, low = divmod(code - 0x10000, 0x400)
        return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"
    return f"\\u{code:04x}"


def _plain(text: str) -> bool:
    """Printable ASCII without ``##[``, which holds nothing :func:`printable` escapes inside
    a text (the only ASCII members of :data:`UNSAFE` are the C0 controls and DEL). The tests
    are single C passes (``isascii`` reads a flag), far cheaper than the pattern's scan; a
    large plan prints ~100,000 such texts."""
    return type(text) is str and text.isascii() and text.isprintable() and "##[" not in text


def printable(text: object) -> str:
    """``text`` (made a string) with every :data:`UNSAFE` character written as an escape
    (``\\n``, ``\\x1b``, ``\\u202e``), the second ``#`` of ``##[`` as ``\\x23`` and a ``:``
    that opens ``::`` at its start (after blanks) as ``\\x3a``; anything else is unchanged."""
    shown = str(text)
    if not _plain(shown):
        shown = _ESCAPED.sub(_text_escape, shown)
    lead = _LEADING_COMMAND.match(shown)
    if lead is None:
        return shown
    colon = lead.end() - 1
    return f"{shown[:colon]}\\x3a{shown[colon + 1 :]}"


def json_safe(encoded: str) -> str:
    """JSON text (as ``json.dumps(..., ensure_ascii=False)`` writes it, which escapes only C0
    controls) with the other :data:`UNSAFE` characters, and the second ``#`` of ``##[``,
    written as ``\\uXXXX``: the same JSON value, now safe to print. (JSON text never starts
    with ``:``.)"""
    return encoded if _plain(encoded) else _ESCAPED.sub(_json_escape, encoded)


def quoted(text: object) -> str:
    """``text`` as a double-quoted JSON string that is safe to print."""
    return json_safe(json.dumps(str(text), ensure_ascii=False))
