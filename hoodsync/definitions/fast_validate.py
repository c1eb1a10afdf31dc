"""The fast "is it valid?" answer for a definition: jsonschema-rs in front of jsonschema.

``hoodsync.definitions.validate`` checks each document with jsonschema, whose errors become the
messages. jsonschema spends ~0.6 ms on a realistic definition, most of ``validate`` at 10,000
of them, and almost every document is valid. So each schema is also compiled by jsonschema-rs
(Rust, ~10 µs a definition), which only answers valid / invalid; a document it calls invalid
goes through jsonschema as before, so messages never depend on it.

**Contract** of a check made by :func:`compile_check`: ``check(data)`` is True only when
jsonschema's ``Draft202012Validator`` without a format checker (how ``validate`` runs it) finds no
error in ``data``. ``check(data, finite=True)`` is the same for a caller that has already made
sure ``data`` holds no NaN and no infinity (``validate`` scans every document for them anyway):
it skips the check's own scan for them, and only that. False promises nothing: the caller then asks jsonschema, which decides. Being
wrong towards "invalid" therefore only costs time; being wrong towards "valid" would let an
invalid definition through, and everything below exists to rule that out:

* **Patterns.** jsonschema runs ``pattern`` and ``patternProperties`` with Python's ``re``,
  jsonschema-rs with Rust's ``regex`` crate (after its own ECMA-262 rewriting of ``\\d``,
  ``\\w``, ``\\s``). Each pattern is translated by :func:`rust_pattern` into Rust syntax with
  the same meaning, and a schema with a pattern outside the subset translated exactly gets no
  fast check at all (``None``: every document takes the jsonschema path). Exactness matters in
  both directions, since ``not``, ``if`` and ``oneOf`` turn a "no match" into a "valid".
* **NaN and infinity** reach jsonschema-rs as ``null`` (it encodes through serde_json): a
  document holding one is answered False (unless the caller promised ``finite=True``).
* **Formats** are annotations on both sides (``validate_formats=False`` here).
* **Anything jsonschema-rs raises** on a document (a string it cannot encode, nesting beyond
  its recursion limit) is answered False.
* Numbers (big integers, ``1.0`` as an integer, ``1 == 1.0`` in ``enum``/``const``/
  ``uniqueItems``, booleans apart from numbers) and every other keyword behave alike; the
  project's schemas and edge values of every keyword are compared with jsonschema in
  ``tests/test_perf_equivalence.py``.

``validate`` reaches this module through :func:`compile_check` only; answering False for every
document instead would leave validation correct, only slower.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from typing import Any, Protocol

log = logging.getLogger(__name__)

__all__ = ["Check", "Untranslatable", "compile_check", "rust_pattern"]


class Check(Protocol):
    """A compiled fast check (see the module contract)."""

    def __call__(self, data: Any, *, finite: bool = False) -> bool: ...


class Untranslatable(ValueError):
    """A pattern uses something whose Rust meaning could differ from Python's."""


# --------------------------------------------------------------------------- patterns
#
# The subset translated exactly: literals; ``.``; ``^``; ``$`` at the very end (plain, or as
# the schemas' end-of-text idiom ``$(?!\n)``); groups ``( )`` and ``(?: )``; ``|``; the quantifiers
# ``* + ? {m} {m,} {m,n}`` (greedy or lazy); classes ``[...]`` / ``[^...]`` of literals and
# ranges; ``\s``; ``\xHH``, ``\uHHHH``, ``\t \n \r \f \v``; escaped punctuation.
#
# Refused, each for a reason: ``\d \w \b`` and their negations (Unicode tables of different
# versions, and jsonschema-rs narrows them to ASCII); ``\S`` (a negated set cannot be spelt
# inside a class); every ``(?...)`` but ``(?:`` (flags, lookaround, named groups); ``$``
# elsewhere (Python's also matches before a final newline, Rust's only at the end); ``[`` and
# ``&& -- ~~`` inside a class (nested classes and set operations in Rust, literal text in
# Python); any other ``{`` or ``}`` (``{,n}``; Python reads ``a{x}`` as literal text);
# possessive quantifiers (Python 3.11); back-references and every other escape.

#: Python's ``\s`` on ``str``: Unicode White_Space plus U+001C-U+001F (``str.isspace`` counts
#: them). Rust's ``\s`` lacks those four, and jsonschema-rs rewrites ``\s`` into a still
#: narrower ECMA-262 set, so it is spelt out, in Rust syntax, for use inside a class (a test
#: compares it with Python's ``\s`` over every code point).
PYTHON_SPACE = (
    r"\t\n\x0B\x0C\r\x1C-\x1F\x20\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}"
    r"\x{202F}\x{205F}\x{3000}"
)
#: How the project's schemas say "end of text" (Python's ``$`` also matches before a final
#: ``\n``); a Rust ``$`` is exactly that.
_END = r"$(?!\n)"
#: A plain ``$`` ending a Python pattern, in Rust: an optional final newline, then the end.
_PYTHON_END = r"\n?\z"
_PLAIN_ESCAPES = frozenset("tnrfv\\.^$*+?()[]{}|/-")
_HEX = re.compile(r"x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}")
_COUNTED = re.compile(r"\{[0-9]+(,[0-9]*)?\}")
_SET_OPERATORS = ("&&", "--", "~~")


def rust_pattern(pattern: str) -> str:
    """``pattern`` (Python ``re`` syntax, searched as jsonschema does) in Rust ``regex`` syntax
    with the same matches; :class:`Untranslatable` when it leaves the subset above."""
    body, end = (pattern[: -len(_END)], "$") if pattern.endswith(_END) else (pattern, "")
    out: list[str] = []
    at = 0
    class_start = -1  # index just past "[" or "[^" while inside a class, else -1
    quantified = False  # the previous token was a quantifier (so "+" would make it possessive)
    while at < len(body):
        char = body[at]
        if char == "\\":
            token, at = _escape(body, at, class_start >= 0)
            out.append(token)
            quantified = False
            continue
        if class_start >= 0:
            if char == "]" and at > class_start:
                class_start = -1
            elif char == "[" or body.startswith(_SET_OPERATORS, at):
                raise Untranslatable(f"{body[at : at + 2]!r} inside a class")
        elif char == "[":
            class_start = at + (2 if body.startswith("[^", at) else 1)
        elif char == "$":
            if at != len(body) - 1 or end:
                raise Untranslatable(
                    "'$' before the end (Python's also matches before a "
                    "final newline, Rust's only at the end)"
                )
            out.append(_PYTHON_END)  # what a final Python "$" matches, for a search
            break
        elif body.startswith("(?", at) and not body.startswith("(?:", at):
            raise Untranslatable(f"group {body[at : at + 4]!r}")
        elif char == "{" or char == "}":
            counted = _COUNTED.match(body, at)
            if counted is None:
                raise Untranslatable("'{' or '}' that is not a quantifier {m}, {m,} or {m,n}")
            out.append(counted.group())
            at = counted.end()
            quantified = True
            continue
        elif char == "+" and quantified:
            raise Untranslatable("possessive quantifier")
        quantified = class_start < 0 and char in "*+?"
        out.append(char)
        at += 1
    if class_start >= 0:
        raise Untranslatable("unterminated class")
    return "".join(out) + end


def _escape(body: str, at: int, in_class: bool) -> tuple[str, int]:
    """The Rust spelling of the escape at ``body[at]`` (a backslash) and where it ends."""
    letter = body[at + 1 : at + 2]
    if letter == "s":
        return (PYTHON_SPACE if in_class else f"[{PYTHON_SPACE}]"), at + 2
    if letter and letter in _PLAIN_ESCAPES:
        return body[at : at + 2], at + 2
    hexed = _HEX.match(body, at + 1)
    if hexed:
        return "\\x{" + hexed.group()[1:] + "}", hexed.end()
    raise Untranslatable(f"escape {body[at : at + 2]!r}")


#: Keywords whose value maps names (not keywords) to subschemas.
_NAME_MAPS = frozenset({"$defs", "definitions", "dependencies", "dependentSchemas", "properties"})
#: Keywords whose value is data, never a schema.
_DATA = frozenset({"const", "default", "enum", "examples"})


def _translated(node: Any) -> Any:
    """A copy of the schema ``node`` with every ``pattern`` and ``patternProperties`` key in
    Rust syntax. Every value is taken for a possible schema (a ``$ref`` may point anywhere)
    except data (``enum``, ``const``...) and the names of a name map, so no pattern escapes
    translation; a ``pattern`` that is not one only costs the fast check if untranslatable."""
    if isinstance(node, list):
        return [_translated(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "pattern" and isinstance(value, str):
            out[key] = rust_pattern(value)
        elif key == "patternProperties" and isinstance(value, dict):
            out[key] = {rust_pattern(p): _translated(s) for p, s in value.items()}
        elif key in _NAME_MAPS and isinstance(value, dict):
            out[key] = {name: _translated(s) for name, s in value.items()}
        elif key in _DATA:
            out[key] = value
        else:
            out[key] = _translated(value)
    return out


# --------------------------------------------------------------------------- the check


def _all_finite(root: Any) -> bool:
    """No NaN or infinity anywhere below ``root`` (an iterative walk: ~10 µs a definition)."""
    stack = [root]
    pop, extend, isfinite = stack.pop, stack.extend, math.isfinite
    while stack:
        node = pop()
        kind = type(node)
        if kind is dict:
            extend(node.values())
        elif kind is list:
            extend(node)
        elif kind is float and not isfinite(node):
            return False
    return True


def compile_check(root: Mapping[str, Any]) -> Check | None:
    """A check keeping the contract above for the draft 2020-12 schema ``root``, or ``None``
    when one cannot be made (a pattern outside the translated subset, or a schema jsonschema-rs
    refuses): then every document goes through jsonschema."""
    import jsonschema_rs  # here, not at the top: commands that validate nothing skip its ~10 ms

    try:
        validator = jsonschema_rs.Draft202012Validator(
            _translated(root),
            validate_formats=False,
            pattern_options=jsonschema_rs.RegexOptions(),  # linear time, no lookaround
            offline=True,  # never fetch a remote $ref
        )
    except (
        Untranslatable,
        ValueError,
        jsonschema_rs.ValidationError,
        jsonschema_rs.ReferencingError,
    ) as exc:
        log.debug("no fast check for schema %s: %s", root.get("$id", "?"), exc)
        return None
    is_valid = validator.is_valid

    def check(data: Any, *, finite: bool = False) -> bool:
        try:
            return (finite or _all_finite(data)) and is_valid(data)
        except Exception:  # noqa: BLE001 - whatever it is, jsonschema decides
            return False

    return check
