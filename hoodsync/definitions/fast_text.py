"""The loader's fastest path: plain block-style YAML read line by line, without a YAML parser.

Even through libyaml, composing costs about a microsecond and a half per node (a Python node
object, two marks and the resolver's calls for each), and at 10,000 files that made reading
the definitions the largest part of a plan. Most definition files use only a small, regular
part of YAML: block mappings and sequences, one scalar per line, plain or quoted, and a few
one-line flow sequences. :func:`block_data` reads exactly that part with one regular
expression (which runs in C) and a short loop over its lines, in about half the time.

**Contract.** For ``text`` (one file, BOM already removed), :func:`block_data` either returns
the data of each of its documents and where each starts, exactly as the loader's exact path
builds them, for a text in which the exact path finds no problem, or raises
:class:`Fallback`, and the loader reads the text the usual way (libyaml), which reports any
problem. It accepts only lines it reads exactly as libyaml does, and refuses anything else,
which includes every syntax error, so no input is ever read differently:

* characters: only those libyaml accepts, without tabs, carriage returns and the Unicode line
  breaks (NEL, LS, PS) and without a byte order mark;
* each line is blank, a comment, or ``[- ]key: value`` / ``[- ]key:`` / ``- value`` / ``-``
  with ``key`` a plain word (letters, digits, ``_``, ``-``) that is a string in the YAML 1.2
  core schema, and ``value`` a plain scalar on one line (no ``: `` or `` #`` inside, no
  indicator at its start), a single-quoted scalar, a double-quoted one without escapes, ``[]``,
  ``{}`` or a one-line flow sequence of simple words and quoted scalars;
* the structure: documents separated by ``---`` lines (none of them empty), a mapping at the
  root of each,
  every entry exactly where block indentation puts it (sequences under a key indented or not),
  no line deeper than the value before it allows (which would be a multi-line scalar or an
  error), no duplicate key, and nesting well inside the depth limit.

The types of plain scalars are the loader's own (:class:`Scalars`), so the two paths cannot
disagree on the YAML 1.2 core schema. ``tests/test_perf_equivalence.py`` compares this path with the
exact one on the examples, on generated YAML of many styles and on random corruptions of both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Fallback", "Scalars", "block_data"]


class Fallback(Exception):
    """The text is not in the part of YAML this module reads; the loader parses it."""


#: A mapping key: a plain word, far below libyaml's 1,024-character limit for simple keys.
_KEY = r"[A-Za-z_][A-Za-z0-9_\-]{0,127}"
#: A plain scalar on one line, in block context: it starts with no indicator (``-?:`` only
#: when a non-space follows), holds no ``: `` and no `` #``, does not end in ``:`` or a space.
_PLAIN = (
    r"""(?:[^ \n\-?:,\[\]{}#&*!|>'"%@`]|[-?:](?=[^ \n]))"""
    r"[^ :\n]*+(?:(?::(?=[^ \n])| ++(?=[^ #\n]))[^ :\n]*+)*+"
)
_SINGLE = r"'(?:[^'\n]|'')*'"
_DOUBLE = r'"[^"\\\n]*"'
#: An item of a one-line flow sequence: words (single spaces between them), or a quoted
#: scalar without escapes or commas.
_ITEM = (
    r"-?[A-Za-z0-9_.][A-Za-z0-9_.+/\-]*(?: +[A-Za-z0-9_.+/\-]+)*"
    r"""|"[^"\\\n,]*"|'[^'\n,]*'"""
)
#: ``[]``, ``{}`` and one-line flow sequences of items (``[en, de]``, ``["1723"]``).
_FLOW = r"\[ *(?:(?:" + _ITEM + r")(?: *, *(?:" + _ITEM + r"))*)? *\]|\{\}"
#: One line: (indent, "- " or "", key, value, the whole line when it is none of these). The
#: parts cannot overlap (each starts where the one before cannot go on), so the possessive
#: quantifiers (Python 3.11) change no match; they only spare the engine its backtracking.
_LINE = re.compile(
    r"^( *+)(-(?: ++|$))?+(?:(" + _KEY + r"):(?: ++|$))?+"
    r"(" + _PLAIN + "|" + _SINGLE + "|" + _DOUBLE + "|" + _FLOW + r")?+"
    r" *+(?:(?<![^ \n])#.*)?+$"
    r"|^(.+)$",
    re.MULTILINE,
)
#: Any character outside what libyaml reads, or that it reads as a line break or byte order
#: mark, or a tab (allowed in places, never needed).
_UNSAFE = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
#: What ``_UNSAFE`` allows of ASCII: the line feed and the printable characters.
_ASCII_SAFE = b"\n" + bytes(range(0x20, 0x7F))


def _unsafe(text: str) -> bool:
    """Does ``text`` hold a character ``_UNSAFE`` matches? For ASCII text (the usual case)
    answered by deleting the allowed bytes (in C, ~10 times faster than the search): what is
    left are the characters ``_UNSAFE`` matches."""
    if text.isascii():
        return bool(text.encode("ascii").translate(None, _ASCII_SAFE))
    return _UNSAFE.search(text) is not None


Typed = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class Scalars:
    """How the loader types plain scalars (its YAML 1.2 core schema), given by the loader so
    that the two paths cannot disagree: ``typed(text)`` is the value of the plain scalar
    ``text`` and raises ``ValueError`` for one the exact builder refuses; ``first`` holds every
    character such a scalar can start with when it is not a string (for any other start,
    ``typed`` is not asked: the value is the text)."""

    typed: Typed
    first: frozenset[str]


_NEVER = 1 << 30


def block_data(text: str, max_depth: int, scalars: Scalars) -> list[tuple[Any, int, int]]:
    """(data, line, column) of each document of ``text`` (line and column 1-based, where its
    root mapping starts), or raise :class:`Fallback` (see the module contract)."""
    if _unsafe(text):
        raise Fallback
    try:
        return _read(text, max_depth - 1, scalars)
    except ValueError:  # a scalar the exact builder refuses: it reports it
        raise Fallback from None


def _read(text: str, limit: int, scalars: Scalars) -> list[tuple[Any, int, int]]:
    """One pass over the lines of ``text``, keeping the open collections on a stack; at most
    ``limit`` of them may be open (below the exact builder's depth limit)."""
    typed, maybe_typed = scalars.typed, scalars.first
    known = _known(scalars)
    starts = _starts(scalars)
    string_keys = _string_keys(scalars)
    documents: list[tuple[Any, int, int]] = []
    # Open collections of the document being read, innermost last: [indent, the collection,
    # is a mapping]. The first is the document's root mapping.
    stack: list[list[Any]] = []
    # The innermost one (stack[-1]) also as three names, kept in step with every change of
    # the stack: most lines add to it, and then only these are compared.
    top_indent: int = -1
    top_collection: Any = None
    top_is_map = False
    # A key or dash whose value starts on a later line: (collection, key or None for a
    # sequence item, indent of the key or dash, is a mapping key).
    pending: tuple[Any, Any, int, bool] | None = None
    floor = _NEVER  # a later line indented deeper than this would continue a scalar: refuse
    explicit = False  # the document being read started with "---"
    for number, (indent, dash, key, value, bad) in enumerate(_LINE.findall(text), 1):
        if bad:
            raise Fallback
        if value:
            start = starts.get(value[0])  # None: a plain scalar that is a string
            if start is _SINGLE:
                value = value[1:-1].replace("''", "'")
            elif start is _DOUBLE:
                value = value[1:-1]
            elif start is _FLOW_START:
                value = _flow(value, scalars)
            elif start is _TYPED:
                if value == "---" and not key and not dash and not indent:
                    # A document start: the one before it (if any) ends here.
                    if stack:
                        _end(pending)
                    elif explicit:
                        raise Fallback  # an empty document
                    stack, pending, floor, explicit = [], None, _NEVER, True
                    continue
                typed_value = known.get(value, _MISSING)
                value = _remember(known, value, typed) if typed_value is _MISSING else typed_value
            has_value = True
        elif key or dash:
            has_value = False
        else:
            continue  # a blank line or a comment
        here = len(indent)
        if here > floor:
            raise Fallback
        if key:
            seen_key = string_keys.get(key)
            if seen_key is None:
                if key[0] in maybe_typed and _remember(known, key, typed) != key:
                    raise Fallback  # true, null, ...: not a string key (only a string equals one)
                _keep(string_keys, key)
            else:
                key = seen_key  # one string object per distinct key across all documents
        if pending is not None:
            owner, at, owner_indent, is_key = pending
            pending = None
            if here > owner_indent or (dash and is_key and here == owner_indent):
                child: Any = [] if dash else {}
                if at is None:
                    owner.append(child)
                else:
                    owner[at] = child
                stack.append([here, child, not dash])
                top_indent, top_collection, top_is_map = here, child, not dash
                if len(stack) >= limit:
                    raise Fallback
            elif at is None:
                owner.append(None)
        elif not stack:
            if dash or not key:
                raise Fallback  # a root that is not a mapping
            root: dict[str, Any] = {}
            documents.append((root, number, here + 1))
            stack.append([here, root, True])
            top_indent, top_collection, top_is_map = here, root, True
            if len(stack) >= limit:
                raise Fallback
        if dash:
            if top_indent != here or top_is_map:  # else: an item of the innermost sequence
                top = stack[-1]
                while top[0] > here:
                    stack.pop()
                    if not stack:
                        raise Fallback
                    top = stack[-1]
                if top[0] != here or top[2]:
                    raise Fallback
                top_indent, top_collection, top_is_map = top
            items = top_collection
            if key:
                entry = {key: value if has_value else None}
                items.append(entry)
                inner = here + len(dash)
                stack.append([inner, entry, True])
                top_indent, top_collection, top_is_map = inner, entry, True
                if len(stack) >= limit:
                    raise Fallback
                if has_value:
                    floor = inner
                else:
                    pending, floor = (entry, key, inner, True), _NEVER
            elif has_value:
                items.append(value)
                floor = here
            else:
                pending, floor = (items, None, here, False), _NEVER
        elif key:
            if top_indent != here or not top_is_map:  # else: a key of the innermost mapping
                top = stack[-1]
                while top[0] > here or (top[0] == here and not top[2]):
                    stack.pop()
                    if not stack:
                        raise Fallback
                    top = stack[-1]
                if top[0] != here or not top[2]:
                    raise Fallback
                top_indent, top_collection, top_is_map = top
            mapping = top_collection
            if key in mapping:
                raise Fallback  # a duplicate key: the exact builder reports it
            if has_value:
                mapping[key] = value
                floor = here
            else:
                mapping[key] = None
                pending, floor = (mapping, key, here, True), _NEVER
        else:
            raise Fallback  # a scalar on a line of its own
    if stack:
        _end(pending)
    elif explicit or not documents:
        raise Fallback  # an empty document, or no document at all
    return documents


_MISSING = object()

#: Plain scalars already typed, per :class:`Scalars` (there is one: the loader's), keeping
#: repeated keys and short values from costing a call each time.
_KNOWN: dict[Scalars, dict[str, Any]] = {}
_KNOWN_MAX = 50_000


V = TypeVar("V")


def _known(scalars: Scalars) -> dict[str, Any]:
    """The values remembered for ``scalars`` (a throwaway dict beyond a few of them)."""
    return _kept_for(_KNOWN, scalars)


def _kept_for(kept: dict[Scalars, dict[str, V]], scalars: Scalars) -> dict[str, V]:
    """``kept``'s dict for ``scalars``, made empty when missing; kept only for the first few
    :class:`Scalars` (a program loading with many resolvers gets throwaway ones)."""
    found = kept.get(scalars)
    if found is None:
        found = {}
        if len(kept) < 4:
            kept[scalars] = found
    return found


#: How a scalar starts, by its first character (absent: a plain scalar that is a string).
_SINGLE, _DOUBLE, _FLOW_START, _TYPED = "single", "double", "flow", "typed"
_STARTS: dict[Scalars, dict[str, str]] = {}
#: Keys already found to be strings, per :class:`Scalars` (as for ``_KNOWN``), each mapped to
#: itself: documents then share one string object per key (10,000 definitions repeat a few
#: hundred keys ~400,000 times; sharing them saves ~20 MB).
_STRING_KEYS: dict[Scalars, dict[str, str]] = {}


def _starts(scalars: Scalars) -> dict[str, str]:
    """First character → how to read the scalar: quoted and flow starts first, then the
    characters with which ``scalars`` may type a plain scalar as something else than a string
    (the order in which a line's value is told apart)."""
    starts = _STARTS.get(scalars)
    if starts is None:
        starts = dict.fromkeys(scalars.first, _TYPED)
        starts.update({"'": _SINGLE, '"': _DOUBLE, "[": _FLOW_START, "{": _FLOW_START})
        if len(_STARTS) < 4:
            _STARTS[scalars] = starts
    return starts


def _string_keys(scalars: Scalars) -> dict[str, str]:
    """The keys already found to be strings under ``scalars`` (each mapped to itself)."""
    return _kept_for(_STRING_KEYS, scalars)


def _keep(keys: dict[str, str], key: str) -> None:
    """Remember that ``key`` is a string key (bounded, like ``_KNOWN``)."""
    if len(keys) >= _KNOWN_MAX:
        keys.clear()
    keys[key] = key


def _remember(known: dict[str, Any], text: str, typed: Typed) -> Any:
    """``typed(text)``, remembered when ``text`` is short (long texts rarely repeat)."""
    value = typed(text)
    if len(text) <= 40:
        if len(known) >= _KNOWN_MAX:
            known.clear()
        known[text] = value
    return value


def _end(pending: tuple[Any, Any, int, bool] | None) -> None:
    """Close a document: a dash still waiting for its value holds null (a key waiting for one
    already does)."""
    if pending is not None and pending[1] is None:
        pending[0].append(None)


def _flow(value: str, scalars: Scalars) -> Any:
    """``[]``, ``{}`` or a one-line flow sequence (as matched by ``_FLOW``)."""
    if value == "{}":
        return {}
    inner = value[1:-1].strip(" ")
    if not inner:
        return []
    out: list[Any] = []
    for part in inner.split(","):
        item = part.strip(" ")
        first = item[0]
        if first == '"' or first == "'":
            out.append(item[1:-1])
        else:
            out.append(scalars.typed(item) if first in scalars.first else item)
    return out
