"""Strict YAML loading: the only place hoodsync reads definition and config files.

What "strict" means here (DESIGN §1.4), and why each rule exists:

* YAML 1.2 core scalars only. ``NO``, ``yes``, ``off``, ``on`` stay strings (the "Norway
  problem"); only ``true``/``false`` (and their capitalised forms) are booleans; ``2026-01-01
  00:00:00`` stays a string (no implicit timestamps); ``012`` is the integer 12, never octal;
  ``1:30`` is a string, never sexagesimal.
* Duplicate mapping keys are errors naming both lines (YAML parsers usually keep the last one).
* Only JSON-compatible data: string keys, the standard scalar tags; merge keys (``<<``), custom
  and Python tags are refused.
* Limits: file size, nesting depth, and how many nodes alias expansion may produce (an "alias
  bomb" fails fast instead of eating the machine).
* Bytes must be UTF-8; a bad byte is reported with its line and column.

Every problem comes back as a :class:`~hoodsync.errors.Problem` with ``file:line:col``; nothing
here raises for bad input. Every node's location is available (keyed by JSON path) so that later
checks can point at the exact line; for documents that loaded cleanly it is computed only when
first asked for (see :mod:`hoodsync.definitions.fast_load`: loading 10,000 files is dominated
by per-node work).

Three paths, each behind the one it speeds up, give the same documents and problems: the text
path (:mod:`~hoodsync.definitions.fast_text`, plain block-style files read without a parser),
the fast builder over libyaml's nodes (:mod:`~hoodsync.definitions.fast_load`), and the exact
builder, which every document any faster path declines ends up in.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import gc
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from hoodsync.definitions import fast_load, fast_text
from hoodsync.errors import Problem
from hoodsync.model import JsonPath, Location

__all__ = [
    "collector_paused",
    "Document",
    "LoadResult",
    "Limits",
    "discover",
    "discover_files",
    "discover_names",
    "load_file",
    "load_files",
    "load_named",
    "load_paths",
    "load_text",
    "separate_projects",
]

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}
CONFIG_FILENAMES = ("hoodsync.yaml", "hoodsync.yml")


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps that keep a hostile or mistaken file from hurting the machine."""

    max_file_bytes: int = 8 * 1024 * 1024
    max_depth: int = 64
    #: Nodes that alias expansion may add per document (plain nodes are bounded by file size).
    max_alias_nodes: int = 10_000


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document: plain JSON-like ``data``, where it starts, and where each node is.

    ``locations`` maps every node's JSON path to where it starts (a mapping entry: where its
    key starts). For documents that loaded cleanly it is computed on first use (see
    :class:`~hoodsync.definitions.fast_load.LazyLocations`), since only problem reports ever
    read it.
    """

    data: Any
    location: Location
    locations: Mapping[JsonPath, Location] = field(repr=False)

    def locate(self, path: JsonPath) -> Location:
        """Where ``path`` is, or its nearest located ancestor, or the document start."""
        for end in range(len(path), -1, -1):
            loc = self.locations.get(tuple(path[:end]))
            if loc is not None:
                return loc
        return self.location


@dataclass(slots=True)
class LoadResult:
    """Documents read and problems found, over one or many files."""

    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def extend(self, other: LoadResult) -> None:
        self.documents.extend(other.documents)
        self.problems.extend(other.problems)
        self.files.extend(other.files)


# --------------------------------------------------------------------------- resolver


class _CoreResolver(BaseResolver):
    """Implicit typing by the YAML 1.2 core schema, nothing more."""


#: The YAML 1.2 core schema's implicit types: (tag suffix, pattern, possible first characters).
#: The loader types plain scalars by these; the exporter quotes strings that match them.
CORE_SCALARS: tuple[tuple[str, str, Sequence[str]], ...] = (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
)

for _tag, _regex, _first in CORE_SCALARS:
    _CoreResolver.add_implicit_resolver(_TAG + _tag, re.compile(_regex), list(_first))

_DEFAULT_TAGS = {
    ScalarNode: BaseResolver.DEFAULT_SCALAR_TAG,
    SequenceNode: BaseResolver.DEFAULT_SEQUENCE_TAG,
    MappingNode: BaseResolver.DEFAULT_MAPPING_TAG,
}


class _FastCoreResolver(_CoreResolver):
    """:class:`_CoreResolver` without per-node bookkeeping the composer pays for.

    ``BaseResolver`` spends a Python call per node on path resolvers (we register none) and
    looks up the implicit resolvers the long way on every scalar; these overrides give the same
    tags (``tests/test_perf_equivalence.py`` compares them) and remember the tags of short plain
    scalars, which repeat in every file (keys). Composing gets ~20 % cheaper.
    """

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass  # no path resolvers are registered, so there is no path to track

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            tag = _RESOLVED.get(value)
            return _plain_tag(value) if tag is None else tag
        return _DEFAULT_TAGS[kind]


_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    first: list(resolvers) for first, resolvers in _CoreResolver.yaml_implicit_resolvers.items()
}
assert None not in _IMPLICIT  # no wildcard resolvers: _implicit_tag() relies on it


def _plain_tag(value: str) -> str:
    """The tag of the plain scalar ``value``, remembered when short (keys and short values
    repeat in every file; long texts rarely do)."""
    tag = _implicit_tag(value)
    if len(value) <= 40:
        if len(_RESOLVED) >= _RESOLVED_MAX:
            _RESOLVED.clear()
        _RESOLVED[value] = tag
    return tag


def _implicit_tag(value: str) -> str:
    """The tag ``BaseResolver.resolve`` gives a plain scalar (no wildcard or path resolvers)."""
    for tag, regexp in _IMPLICIT.get(value[:1], ()):
        if regexp.match(value):
            return tag
    return BaseResolver.DEFAULT_SCALAR_TAG


#: Tags of plain scalars already seen (every file repeats the same keys), within bounds.
_RESOLVED: dict[str, str] = {}
_RESOLVED_MAX = 50_000


if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser as _CParser

    # libyaml's C parser/composer is several times faster; typing stays ours via the resolver.
    class _Loader(_CParser, _FastCoreResolver):
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            _FastCoreResolver.__init__(self)

else:  # pragma: no cover - exercised only where libyaml is missing

    class _Loader(  # type: ignore[no-redef]
        yaml.reader.Reader,
        yaml.scanner.Scanner,
        yaml.parser.Parser,
        yaml.composer.Composer,
        _FastCoreResolver,
    ):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _FastCoreResolver.__init__(self)


# --------------------------------------------------------------------------- construction


class _Invalid(Exception):
    """A problem that stops construction of the current document."""

    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class _Builder:
    """Turns a composed node tree into plain data, recording locations and enforcing limits."""

    def __init__(self, display: str, limits: Limits) -> None:
        self.display = display
        self.limits = limits
        self.locations: dict[JsonPath, Location] = {}
        self.problems: list[Problem] = []
        self.alias_nodes = 0
        self._open: set[int] = set()  # ids of collections being built (to catch recursion)

    def loc(self, node: Node) -> Location:
        mark = node.start_mark
        return Location(self.display, mark.line + 1, mark.column + 1)

    def build(self, node: Node, path: JsonPath, depth: int, seen: set[int], in_alias: bool) -> Any:
        if depth > self.limits.max_depth:
            raise _Invalid(node, f"nesting deeper than {self.limits.max_depth} levels")
        ident = id(node)
        if ident in seen:
            # Composed nodes are shared by aliases: meeting one again means an alias occurrence.
            if ident in self._open:
                raise _Invalid(node, "recursive alias (an anchor that contains itself)")
            in_alias = True
        seen.add(ident)
        if in_alias:
            self.alias_nodes += 1
            if self.alias_nodes > self.limits.max_alias_nodes:
                raise _Invalid(
                    node,
                    f"alias expansion exceeds {self.limits.max_alias_nodes} nodes "
                    "(an alias bomb?); write the data out instead",
                )
        if not in_alias:
            self.locations[path] = self.loc(node)
        if isinstance(node, ScalarNode):
            return _scalar(node)
        self._open.add(ident)
        try:
            if isinstance(node, SequenceNode):
                self._check_tag(node, "seq")
                return [
                    self.build(item, path + (i,), depth + 1, seen, in_alias)
                    for i, item in enumerate(node.value)
                ]
            if isinstance(node, MappingNode):
                self._check_tag(node, "map")
                return self._mapping(node, path, depth, seen, in_alias)
        finally:
            self._open.discard(ident)
        raise _Invalid(node, "unsupported YAML node")  # pragma: no cover

    def _check_tag(self, node: Node, expected: str) -> None:
        if node.tag != _TAG + expected:
            raise _Invalid(node, f"tag {node.tag!r} is not allowed here")

    def _mapping(
        self, node: MappingNode, path: JsonPath, depth: int, seen: set[int], in_alias: bool
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _TAG + "merge":
                raise _Invalid(key_node, "mapping keys must be plain strings")
            if key_node.value == "<<" and not key_node.style:  # plain, not quoted
                raise _Invalid(key_node, "merge keys (<<) are not supported; write the keys out")
            key = _scalar(key_node)
            if not isinstance(key, str):
                raise _Invalid(
                    key_node, f"mapping key {key_node.value!r} must be a string (quote it)"
                )
            line = key_node.start_mark.line + 1
            if key in first_line:
                self.problems.append(
                    Problem(
                        self.loc(key_node),
                        f"duplicate key {key!r} (first defined at line {first_line[key]})",
                        path + (key,),
                    )
                )
                continue
            first_line[key] = line
            child = path + (key,)
            value = self.build(value_node, child, depth + 1, seen, in_alias)
            if not in_alias:
                # The key's position is the most useful place to point at for the entry.
                self.locations[child] = self.loc(key_node)
            out[key] = value
        return out


def _scalar(node: ScalarNode) -> Any:
    try:
        return _scalar_value(node.tag, node.value)
    except _Refused as exc:
        raise _Invalid(node, str(exc)) from exc


class _Refused(ValueError):
    """A scalar whose tag or text the loader refuses (the message says why)."""


def _scalar_value(tag: str, text: str) -> Any:
    """The value of a scalar with ``tag``; raises :class:`_Refused` for one that is not
    JSON-compatible or not valid for its tag."""
    if tag not in _SCALAR_TAGS:
        raise _Refused(f"tag {tag!r} is not allowed (only JSON-compatible values)")
    if tag == _TAG + "str":
        return text
    if tag == _TAG + "null":
        if text not in ("", "~", "null", "Null", "NULL"):
            raise _Refused(f"{text!r} is not a null")
        return None
    if tag == _TAG + "bool":
        if text not in ("true", "True", "TRUE", "false", "False", "FALSE"):
            raise _Refused(f"{text!r} is not a boolean (use true or false)")
        return text.lower() == "true"
    try:
        if tag == _TAG + "int":
            if text.startswith(("0o", "0x")):
                return int(text[2:], 8 if text[1] == "o" else 16)
            return int(text, 10)
        return float(
            text.replace(".inf", "inf")
            .replace(".Inf", "inf")
            .replace(".INF", "inf")
            .replace(".nan", "nan")
            .replace(".NaN", "nan")
            .replace(".NAN", "nan")
        )
    except ValueError as exc:
        raise _Refused(f"{text!r} is not a valid {tag.rsplit(':', 1)[-1]}") from exc


def _plain_scalar(text: str) -> Any:
    """The value the exact builder gives the plain scalar ``text`` (typed by the core schema,
    as the resolver types it); raises ``ValueError`` where the exact builder refuses it."""
    tag = _RESOLVED.get(text)
    return _scalar_value(_plain_tag(text) if tag is None else tag, text)


#: The core schema as the text path applies it: a plain scalar starting with any character
#: other than those of the implicit resolvers is a string.
_SCALARS = fast_text.Scalars(_plain_scalar, frozenset(_IMPLICIT))


# --------------------------------------------------------------------------- fast path


def _fast_document(
    node: Node, index: int, display: str, limits: Limits, exact: _FileLocations
) -> tuple[bool, Document | None]:
    """Document ``index`` of the file (root ``node``) by the fast path (:mod:`fast_load`):
    (True, the document, or None for an empty one) when it built it; (False, None) when it
    could not, and the exact builder must build it (and report its problem). ``exact`` gives
    its locations when they are first read."""
    try:
        data = fast_load.plain_data(node, limits.max_depth, _scalar)
    except (fast_load.Fallback, RecursionError):
        return False, None
    if data is None:
        return True, None
    mark = node.start_mark
    return True, Document(
        data,
        Location(display, mark.line + 1, mark.column + 1),
        fast_load.LazyLocations(_locations_of(exact, index)),
    )


def _text_documents(text: str, display: str, limits: Limits) -> list[Document] | None:
    """The documents of ``text`` by the text path (:mod:`fast_text`), or None when that path
    does not read it and libyaml must. Their locations are the exact builder's, computed when
    first read, as for the fast path."""
    try:
        read = fast_text.block_data(text, limits.max_depth, _SCALARS)
    except fast_text.Fallback:
        return None
    exact = _FileLocations(text, display, limits)
    return [
        Document(
            data,
            Location(display, line, column),
            fast_load.LazyLocations(_locations_of(exact, index)),
        )
        for index, (data, line, column) in enumerate(read)
    ]


class _FileLocations:
    """The exact builder's locations of every document of one file, from one parse of the
    whole file, done when the locations of any of its documents are first read.

    Shared by the documents of the file that a faster path built: reporting a problem in each
    of 4,000 documents of one file costs one parse, where parsing from the top of the file
    for each problem was quadratic (minutes). Pickled without what it computed (:mod:`~hoodsync.definitions.parallel_load` sends
    documents between processes): that is computed again if needed there.
    """

    __slots__ = ("_documents", "display", "limits", "text")

    def __init__(self, text: str, display: str, limits: Limits) -> None:
        self.text = text
        self.display = display
        self.limits = limits
        self._documents: list[dict[JsonPath, Location]] | None = None

    def of(self, index: int) -> dict[JsonPath, Location]:
        """The locations of document ``index`` (counting the documents that are not empty)."""
        if self._documents is None:
            self._documents = _all_exact_locations(self.text, self.display, self.limits)
        return self._documents[index] if index < len(self._documents) else {}

    def __getstate__(self) -> tuple[str, str, Limits]:
        return self.text, self.display, self.limits

    def __setstate__(self, state: tuple[str, str, Limits]) -> None:
        self.text, self.display, self.limits = state
        self._documents = None


def _locations_of(exact: _FileLocations, index: int) -> Callable[[], dict[JsonPath, Location]]:
    """A function giving the exact locations of document ``index`` of ``exact``'s file; a
    ``partial`` of a module function rather than a closure, so that a document can be pickled
    (:mod:`~hoodsync.definitions.parallel_load` sends documents between processes)."""
    return functools.partial(_document_locations, exact, index)


def _document_locations(exact: _FileLocations, index: int) -> dict[JsonPath, Location]:
    return exact.of(index)


def _all_exact_locations(text: str, display: str, limits: Limits) -> list[dict[JsonPath, Location]]:
    """The locations the exact builder records for each (non-empty) document of ``text``, in
    order. A document it refuses keeps those recorded before the refusal (the loader reported
    that document's problem with the exact builder's own locations); a syntax error ends the
    list (the documents before it are all there: the loader read them from the same parse)."""
    out: list[dict[JsonPath, Location]] = []
    try:
        for node in _nodes(text):
            builder = _Builder(display, limits)
            with contextlib.suppress(_Invalid, RecursionError):
                builder.build(node, (), 0, set(), False)
            out.append(builder.locations)
    except (yaml.YAMLError, RecursionError):
        pass
    return out


def parse_events(text: str) -> Iterator[yaml.Event]:
    """The parse events of ``text``, from the same parser :func:`load_text` composes with.

    For tools that edit a file in place (``hoodsync pull``): every event carries the character
    offsets where it starts and ends, aliases included. The data itself is read with
    :func:`load_text`; this only says where things are. Raises ``yaml.YAMLError`` on bad YAML.
    """
    parser = _Loader(text)
    try:
        while True:
            event = parser.get_event()
            if event is None:
                return
            yield event
            if isinstance(event, yaml.StreamEndEvent):
                return
    finally:
        parser.dispose()


def _nodes(text: str) -> Iterator[Node]:
    """The root node of each (non-empty) document of ``text``."""
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield node
    finally:
        loader.dispose()


# --------------------------------------------------------------------------- files


def _decode(raw: bytes, display: str) -> tuple[str | None, Problem | None]:
    """UTF-8 (an optional BOM is dropped); a bad byte is reported where it is."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = raw[exc.start : exc.start + 1].hex()
        return None, Problem(
            Location(display, line, col), f"file is not valid UTF-8 (byte 0x{byte})"
        )
    return text.lstrip("\ufeff"), None


#: A character the YAML reader refuses: outside its printable set (YAML 1.1 §5.1, as libyaml
#: and PyYAML's reader apply it). Text decoded from UTF-8 holds no surrogate.
_UNREADABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _at(text: str, index: int, display: str) -> Location:
    """Where character ``index`` of ``text`` is (1-based line and column)."""
    line_start = text.rfind("\n", 0, index) + 1
    return Location(display, text.count("\n", 0, index) + 1, index - line_start + 1)


def _unreadable_problem(text: str, display: str) -> Problem | None:
    """The first character the YAML reader refuses, where it is: the reader's own error says
    only "position N" (in bytes, for libyaml) and names no line."""
    found = _UNREADABLE.search(text)
    if found is None:
        return None
    code = ord(found.group())
    what = "control character" if code < 0x20 or 0x7F <= code <= 0x9F else "character"
    return Problem(
        _at(text, found.start(), display),
        f"{what} U+{code:04X} is not allowed in a YAML file; remove it",
    )


#: A byte order mark starting a line (after the first line: the file's own is dropped).
_LINE_START_BOM = re.compile("(?<=\n)\ufeff")


def _stray_bom_problem(text: str, display: str) -> Problem | None:
    """A byte order mark at the start of a line after the first (two files joined, each with
    its own): libyaml skips it without counting its column, so the line reads as indented and
    the errors that follow name anything but the mark. One clear problem instead."""
    if "\ufeff" not in text:  # at once for ASCII text
        return None
    found = _LINE_START_BOM.search(text)
    if found is None:
        return None
    return Problem(
        _at(text, found.start(), display),
        "byte order mark (U+FEFF) at the start of a line: only the start of a file may hold "
        "one (were two files joined?); remove it",
    )


def _syntax_problem(exc: yaml.YAMLError, display: str, text: str) -> Problem:
    if isinstance(exc, yaml.reader.ReaderError):
        # Its text ends in "in <unicode string>, position N": not for a user's eyes.
        return _unreadable_problem(text, display) or Problem(
            Location(display), f"YAML syntax error: {exc.reason}"
        )
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = str(problem)
    offending = text[mark.index : mark.index + 1] if mark is not None else ""
    opened = _opened_at(exc, text)
    if offending == "\t" or "'\\t'" in message:
        message = "tab character where YAML allows only spaces (indent with spaces)"
    elif opened is not None and context:
        # An unclosed quote or bracket is found where the parser gives up, often the end of
        # the file; the user fixes it where it opens, so that is where it is reported.
        message = f"{message} at line {line}, column {col} ({context} that starts here)"
        line, col = opened
    elif context:
        message = f"{message} ({context})"
    return Problem(Location(display, line, col), f"YAML syntax error: {message}")


#: What opens a scalar or collection that runs until its closing character.
_OPENERS = frozenset("\"'[{")


def _opened_at(exc: yaml.YAMLError, text: str) -> tuple[int, int] | None:
    """(line, column), 1-based, of the quote or flow bracket whose scalar or collection the
    parser was reading when it failed (its ``context_mark``), when that mark is on one; else
    ``None`` (other contexts, e.g. a block mapping, are best reported where they failed)."""
    mark = getattr(exc, "context_mark", None)
    index = getattr(mark, "index", None)
    if mark is None or not isinstance(index, int) or text[index : index + 1] not in _OPENERS:
        return None
    return mark.line + 1, mark.column + 1


#: Flow openers below which composing cannot overflow the C stack (it survives ~20,000 levels).
_SAFE_FLOW_OPENERS = 2_000
#: How often :func:`_nesting_problem` counts a shorter part of a text again (each part is
#: shorter than the last, so this only bounds the work on a pathological parser).
_MAX_RECOUNTS = 4


def _too_deep(text: str, display: str, limits: Limits) -> Problem | None:
    """Refuse flow-style nesting deeper than the limit *before* composing.

    libyaml's composer recurses in C, so a file of a few hundred thousand ``[`` would overflow
    the C stack (a crash, not an exception) before any depth check on the composed nodes could
    run. Block-style nesting needs indentation, which the file-size cap already bounds.
    """
    if text.count("[") + text.count("{") <= max(limits.max_depth, _SAFE_FLOW_OPENERS):
        # Too few openers to threaten the C stack: the exact builder checks the depth limit
        # on the composed nodes. Skipping the extra pass keeps big ordinary files fast.
        return None
    return _nesting_problem(text, display, limits)


def _nesting_problem(
    text: str, display: str, limits: Limits, *, start: int = 0, end: int | None = None
) -> Problem | None:
    """hoodsync's depth problem: the first node deeper than the limit that starts at or after
    character ``start`` of ``text[:end]``; None when there is none.

    Depth is counted on parse events, which come from an iterative state machine (in libyaml
    and in pure-Python PyYAML alike), so counting is safe at any depth; it is the exact
    builder's depth (the root node is at depth 0), so both refuse the same documents.

    The parser may refuse the text first, with a limit of its own: PyYAML 6.0.4's libyaml
    stops at 1,000 levels, and it reads up to a line ahead of the events it hands out, so it
    refuses ``a: [[[[...`` before the 65th opening event. What comes before a refusal is what
    the parser accepted, so that part is counted again on its own (cut short, it ends in a
    syntax error at its end, which says nothing about depth). The answer therefore does not
    depend on the PyYAML version, as long as the parser's own limit, if any, is above ours.
    """
    end = len(text) if end is None else min(end, len(text))
    for _ in range(_MAX_RECOUNTS):
        too_deep, refused = _count_depth(
            text if end == len(text) else text[:end], limits.max_depth, start
        )
        if too_deep is not None:
            return Problem(
                Location(display, *too_deep), f"nesting deeper than {limits.max_depth} levels"
            )
        if refused is None or refused >= end:
            return None  # parsed to the end, or refused only where the part was cut short
        end = refused
    return None


def _count_depth(
    text: str, max_depth: int, start: int
) -> tuple[tuple[int, int] | None, int | None]:
    """((line, column), None) where the first node deeper than ``max_depth`` at or after
    character ``start`` begins (1-based), or (None, the character index where the parser
    refused the text), or (None, None) when neither happens.

    Mapping keys are not counted, as the builder does not count them: a key too deep is
    followed by its value, which is (so both report the same node)."""
    parser = _Loader(text)
    # One entry per open collection: [is a mapping, child nodes seen so far].
    open_: list[list[Any]] = []
    try:
        while True:
            event = parser.get_event()
            if event is None or isinstance(event, yaml.StreamEndEvent):
                return None, None
            if isinstance(event, yaml.NodeEvent):
                is_key = False
                if open_:
                    parent = open_[-1]
                    is_key = parent[0] and parent[1] % 2 == 0
                    parent[1] += 1
                mark = event.start_mark
                if (
                    len(open_) > max_depth
                    and not is_key
                    and mark is not None
                    and mark.index >= start
                ):
                    return (mark.line + 1, mark.column + 1), None
                if isinstance(event, yaml.CollectionStartEvent):
                    open_.append([isinstance(event, yaml.MappingStartEvent), 0])
            elif isinstance(event, yaml.CollectionEndEvent):
                open_.pop()
    except yaml.YAMLError as exc:
        return None, _refused_at(exc)
    finally:
        parser.dispose()


def _refused_at(exc: yaml.YAMLError) -> int | None:
    """The character index a parser error points at, when it has one."""
    mark = getattr(exc, "problem_mark", None)
    index = getattr(mark, "index", None)
    return index if isinstance(index, int) else None


def load_text(text: str, display: str, limits: Limits = DEFAULT_LIMITS) -> LoadResult:
    """Parse YAML text (possibly several documents) strictly; never raises for bad input."""
    result = LoadResult(files=[display])
    refused = _stray_bom_problem(text, display) or _too_deep(text, display, limits)
    if refused is not None:
        result.problems.append(refused)
        return result
    documents = _text_documents(text, display, limits)
    if documents is not None:
        result.documents.extend(documents)
        return result
    loader = _Loader(text)
    fast = not fast_load.may_have_anchor(text)  # no anchor, so no alias: no node is shared
    exact = _FileLocations(text, display, limits)
    index = -1
    composed = 0  # where the document being composed starts, at the latest
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            composed = node.end_mark.index
            index += 1
            if fast:
                built, document = _fast_document(node, index, display, limits, exact)
                if built:
                    if document is not None:
                        result.documents.append(document)
                    continue
                # else the exact builder below builds it again and reports the problem
            builder = _Builder(display, limits)
            try:
                data = builder.build(node, (), 0, set(), False)
            except _Invalid as exc:
                result.problems.extend(builder.problems)
                result.problems.append(Problem(builder.loc(exc.node), exc.message))
                continue
            except RecursionError:
                result.problems.append(Problem(builder.loc(node), "document nests too deeply"))
                continue
            result.problems.extend(builder.problems)
            if data is None:
                continue  # an empty document (e.g. a trailing "---") defines nothing
            result.documents.append(Document(data, builder.loc(node), builder.locations))
    except yaml.YAMLError as exc:
        # The parser's own depth limit may have fired before ours (see _nesting_problem):
        # a document too deep is reported as such whatever the PyYAML version says.
        deep = _nesting_problem(text, display, limits, start=composed, end=_refused_at(exc))
        result.problems.append(deep or _syntax_problem(exc, display, text))
    except RecursionError:  # the pure-Python composer recurses once per level
        deep = _nesting_problem(text, display, limits, start=composed)
        result.problems.append(deep or Problem(Location(display), "document nests too deeply"))
    finally:
        loader.dispose()
    return result


def display_path(path: Path) -> str:
    """The path as a user would type it: relative to the working directory when inside it. A
    file that is a symlink is named as itself (its folder resolved), not as what it points to:
    that is the name the user gave it, and two names for one file must not read as one."""
    try:
        if path.name not in ("", ".", "..") and path.is_symlink():
            resolved = path.parent.resolve() / path.name
        else:
            resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        return str(path)  # reading it reports the loop, at this path
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class _Displayer:
    """:func:`display_path` for many files: resolves each folder once, not each file's every
    component (at 10,000 files that was ~0.4 s of ``lstat`` and ``pathlib`` work)."""

    def __init__(self) -> None:
        cwd = os.path.realpath(os.getcwd())
        #: The working directory's real path, ending in a separator.
        self.prefix = cwd if cwd.endswith(os.sep) else cwd + os.sep
        self._folders: dict[str, str] = {}

    def __call__(self, path: str | Path) -> str:
        text = str(path)
        folder, name = os.path.split(text)
        if os.sep != "/" or name in ("", ".", "..") or os.path.islink(text):
            return display_path(Path(text))  # the general (slower) rule covers the odd cases
        real_folder = self._folders.get(folder)
        if real_folder is None:
            real_folder = self._folders[folder] = os.path.realpath(folder or ".")
        real = os.path.join(real_folder, name)
        return real[len(self.prefix) :] if real.startswith(self.prefix) else text


def load_file(path: Path, limits: Limits = DEFAULT_LIMITS) -> LoadResult:
    """Read and parse one file; size, encoding and syntax problems come back as Problems."""
    return _load_file(path, display_path(path), limits)


def _load_file(path: str | Path, display: str, limits: Limits) -> LoadResult:
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            # A FIFO or device named *.yaml would block the read forever or never end.
            return LoadResult(
                problems=[Problem(Location(display), "not a regular file")], files=[display]
            )
        size = info.st_size
        if size > limits.max_file_bytes:
            return LoadResult(
                problems=[Problem(Location(display), _too_big(size, limits))], files=[display]
            )
        # Unbuffered: setting up a buffer costs more than reading a small file through it.
        with open(path, "rb", buffering=0) as fh:
            # Ask for what stat() saw plus one byte: a read of n allocates n bytes up front,
            # and max_file_bytes (8 MiB) per file made loading 10,000 small files ~20 % slower.
            raw = _read_up_to(fh, size + 1)
            if len(raw) > size:  # it grew since stat(): read on, up to the limit
                raw += _read_up_to(fh, limits.max_file_bytes + 1 - len(raw))
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        return LoadResult(problems=[Problem(Location(display), f"cannot read: {reason}")])
    if len(raw) > limits.max_file_bytes:  # grew while we looked
        return LoadResult(problems=[Problem(Location(display), _too_big(len(raw), limits))])
    text, problem = _decode(raw, display)
    if problem is not None or text is None:
        return LoadResult(problems=[problem] if problem else [], files=[display])
    return load_text(text, display, limits)


def _read_up_to(fh: BinaryIO, size: int) -> bytes:
    """``size`` bytes from the unbuffered ``fh``, or fewer at the end of the file (one raw
    read may return less than asked before the end)."""
    chunk = fh.read(size) or b""
    if len(chunk) in (0, size):
        return chunk
    parts = [chunk]
    left = size - len(chunk)
    while left > 0:
        chunk = fh.read(left) or b""
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _too_big(size: int, limits: Limits) -> str:
    return (
        f"file is {size:,} bytes; definition files are limited to "
        f"{limits.max_file_bytes // (1024 * 1024)} MiB"
    )


_SUFFIXES = (".yaml", ".yml")


def _is_definition_file(name: str) -> bool:
    return name.endswith(_SUFFIXES) and name not in CONFIG_FILENAMES


def discover(paths: Sequence[str | Path]) -> tuple[list[Path], list[Problem]]:
    """Every definition file named by ``paths`` (DESIGN §1.1), sorted, each once.

    A file is taken as given (even ``hoodsync.yaml`` is skipped only when found by walking);
    a directory contributes every ``*.yaml`` / ``*.yml`` below it except ``hoodsync.yaml``,
    anything inside hidden folders or hidden files, and anything in a folder below it that is
    a project of its own (see :func:`separate_projects`). Symlinked folders are followed like
    any folder (see :func:`_folders`: each folder is read once; a link into a folder that
    holds it is a problem, not a loop). Something that exists but is neither a file nor a
    directory (a FIFO, a broken or looping symlink) is taken as given too, so that reading it
    reports what it is. A path that does not exist is a Problem.

    A file reached under several names (given twice, given and found, or through a symlink to
    it or to a folder holding it) is one file: it is read once (its definitions would
    otherwise be duplicates of themselves), under a name that goes through no symlink when it
    has one, else under the least of its names.
    """
    names, problems = discover_names(paths)
    return [Path(name) for name in names], problems


def discover_names(paths: Sequence[str | Path]) -> tuple[list[str], list[Problem]]:
    """:func:`discover`, each file as the ``str()`` of the ``Path`` it gives: what loading
    needs, without building and hashing a ``Path`` per file (~0.1 s at 10,000 files)."""
    files, problems = discover_files(paths)
    return [name for name, _ in files], problems


def discover_files(paths: Sequence[str | Path]) -> tuple[list[tuple[str, str]], list[Problem]]:
    """:func:`discover_names`, each file with the name its problems carry (what
    :func:`display_path` gives): for a file the walk listed, from the real path of its folder,
    which the walk knows, instead of asking the file system again for each file whether it is
    a symlink and where its folder is (~5 % of loading 10,000 files)."""
    found: dict[str, _Name] = {}  # by real path
    problems: list[Problem] = []
    roots: list[Path] = []
    given: list[Path] = []
    for raw in paths or ["."]:
        path = Path(raw)
        if path.is_dir():
            roots.append(path)
        elif os.path.lexists(path):  # a file, or something reading it will name
            given.append(path)
        else:
            problems.append(Problem(Location(str(raw)), "no such file or directory"))
    displayer = _Displayer()
    here = displayer.prefix
    for folder in _folders(roots, problems):
        if folder.own is not None:
            continue
        prefix = _child_prefix(folder.path)
        real = folder.real if folder.real.endswith(os.sep) else folder.real + os.sep
        inside = real.startswith(here)
        linked = folder.linked
        for entry in folder.files:
            name = entry.name
            # _is_definition_file and not hidden, inline: this runs once per file
            if name[:1] == "." or not name.endswith(_SUFFIXES) or name in CONFIG_FILENAMES:
                continue
            shown = str(Path(folder.path) / name) if prefix is None else prefix + name
            try:
                link = entry.is_symlink()  # known from the listing: no system call
            except OSError:
                link = False
            if link:
                _found(found, _Name(shown, True, displayer(shown)), os.path.realpath(entry.path))
                continue
            key = real + name
            # As _Displayer names it: its real path, from the working directory when in it.
            if prefix is None:  # not POSIX: the general rule
                display = displayer(shown)
            elif inside:
                display = key[len(here) :]
            else:
                display = shown
            if key in found:  # a symlink to it, or to its folder, came first
                _found(found, _Name(shown, linked, display), key)
            else:
                found[key] = _Name(shown, linked, display)
    for path in given:  # after the walk: a file also found there keeps the walk's name
        named = _Name(str(path), os.path.islink(path), displayer(path))
        _found(found, named, os.path.realpath(path), ties=False)
    files = [(name.name, name.display) for name in found.values()]
    files.sort()
    return files, problems


class _Name(NamedTuple):
    """A name of a file found (:func:`discover_files`)."""

    name: str
    #: Through a symlink (to the file, or to a folder above it).
    linked: bool
    #: What problems call it (:func:`display_path`).
    display: str


def _found(found: dict[str, _Name], name: _Name, real: str, ties: bool = True) -> None:
    """``name`` is a name of the file ``real``; keep the one :func:`discover` reads it under:
    one through no symlink, else (``ties``) the first in name order, whatever order the folder
    listed them in."""
    known = found.get(real)
    if (
        known is None
        or (known.linked and not name.linked)
        or (ties and known.linked is name.linked and name.name < known.name)
    ):
        found[real] = name


def separate_projects(paths: Sequence[str | Path]) -> list[Path]:
    """The configuration file of each folder below ``paths`` that holds its own
    ``hoodsync.yaml`` (or ``.yml``), sorted: such a folder is a project of its own, which
    :func:`discover` leaves out, whole, so that nothing in it is ever planned under another
    configuration (DESIGN §1.1). A folder given in ``paths`` is not "below" them: it is
    scanned, and its own configuration governs it; so is one holding a given path.
    """
    roots = [Path(raw) for raw in paths or ["."]]
    given = [_resolved(root) for root in roots]
    found: set[Path] = set()
    for folder in _folders([root for root in roots if root.is_dir()], None):
        own = folder.own
        if own and not any(g.is_relative_to(_resolved(Path(folder.path))) for g in given):
            found.add(Path(folder.path) / own)
    return sorted(found, key=lambda p: str(p))


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        return Path(os.path.abspath(path))


def _child_prefix(folder: str) -> str | None:
    """What ``str(Path(folder) / name)`` puts before a plain file ``name`` (one that
    ``os.scandir`` lists: no separator, not ``.`` or ``..``), computed once per folder; None
    where that is not simply the folder's normal form and a separator (not POSIX)."""
    if os.sep != "/" or os.altsep:
        return None
    base = str(Path(folder))  # the normal form: no "." parts, no doubled or trailing "/"
    return "" if base == "." else base if base.endswith("/") else base + "/"


class _Folder(NamedTuple):
    """One folder of a walk (:func:`_folders`)."""

    #: As walked: a root as given, then ``os.path.join(parent, name)``.
    path: str
    #: Its real path (every symlink resolved): what tells two names of one folder apart.
    real: str
    #: Reached through a symlinked folder (below a root).
    linked: bool
    #: Its entries that are not folders (files, and whatever reading them will name).
    files: list[os.DirEntry[str]]
    #: For a folder below a root that is a project of its own: its configuration file's name.
    own: str | None


def _folders(roots: Sequence[Path], problems: list[Problem] | None) -> Iterator[_Folder]:
    """Each folder of the trees under ``roots``: those reached without a symlink first (the
    roots in order, each followed by its tree, top-down in name order), then those reached
    through one; nothing below a folder that is a project of its own is visited, and hidden
    folders are left out.

    A symlinked folder is followed as a folder is, as users of ``ls``, ``git`` and editors
    expect (not following it made its definitions silently absent: orphans to ``--prune``).
    Each folder is read once, by real path (the same folder under two names would give every
    definition in it twice); folders reached without a symlink come first, so they keep their
    own names. A symlink to a folder that holds it (``loop -> ..``) would make the walk
    endless: it is not followed, and is a problem (in ``problems`` when given), as is a folder
    that cannot be read (its definitions would be missing without a word).
    """
    read: set[str] = set()
    pending: list[_Pending] = []
    for root in roots:
        top = str(root)
        real = os.path.realpath(top)
        if real not in read:
            read.add(real)
            pending.append(_Pending(top, real, False, True))
    pending.reverse()  # popped from the end: the roots in the order given
    links: collections.deque[tuple[str, str]] = collections.deque()  # (link, real holder)
    while pending or links:
        if not pending:  # every folder reached without a symlink is read: now the links
            followed = _followed(*links.popleft(), read, problems)
            if followed is not None:
                pending.append(followed)
            continue
        path, real, linked, is_root = pending.pop()
        listed = _entries(path, problems)
        if listed is None:
            continue
        files, folders = listed
        own = None
        if not is_root:
            names = [entry.name for entry in files]
            own = next((n for n in CONFIG_FILENAMES if n in names), None)
        yield _Folder(path, real, linked, files, own)
        if own is not None:
            continue
        below = []
        for entry in folders:
            if entry.name.startswith("."):
                continue
            if _is_link(entry):
                links.append((entry.path, real))
                continue
            child = os.path.join(real, entry.name)
            if child not in read:
                read.add(child)
                below.append(_Pending(entry.path, child, linked, False))
        pending.extend(reversed(below))


class _Pending(NamedTuple):
    """A folder a walk will read: as :class:`_Folder` says, and whether it is a root."""

    path: str
    real: str
    linked: bool
    is_root: bool


def _followed(
    link: str, holder: str, read: set[str], problems: list[Problem] | None
) -> _Pending | None:
    """The symlinked folder ``link`` (in the folder whose real path is ``holder``) as a
    folder to walk; None when it is not walked: read already (under another name), or a loop
    (a problem)."""
    real = os.path.realpath(link)
    if holder == real or holder.startswith(real.rstrip(os.sep) + os.sep):
        if problems is not None:
            try:
                target = f" (-> {os.readlink(link)})"
            except OSError:
                target = ""
            problems.append(
                Problem(
                    Location(str(Path(link))),
                    f"symlink to a folder that holds it{target}: following it would never "
                    "end; remove it, or hide it by starting its name with '.'",
                )
            )
        return None
    if real in read:
        return None
    read.add(real)
    return _Pending(link, real, True, False)


def _entries(
    folder: str, problems: list[Problem] | None
) -> tuple[list[os.DirEntry[str]], list[os.DirEntry[str]]] | None:
    """The entries of ``folder``: (those that are not folders, in the order listed; folders,
    by name); None when it cannot be read (a problem)."""
    files: list[os.DirEntry[str]] = []
    folders: list[os.DirEntry[str]] = []
    file, subfolder = files.append, folders.append
    try:
        with os.scandir(folder) as listing:
            for entry in listing:
                try:
                    is_dir = entry.is_dir()  # a folder, or a symlink to one (as os.walk has it)
                except OSError:
                    is_dir = False
                if is_dir:
                    subfolder(entry)
                else:
                    file(entry)
    except OSError as exc:
        if problems is not None:
            reason = exc.strerror or exc.__class__.__name__
            problems.append(Problem(Location(str(Path(folder))), f"cannot read folder: {reason}"))
        return None
    folders.sort(key=_name)
    return files, folders


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _is_link(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


def load_paths(paths: Sequence[str | Path], limits: Limits = DEFAULT_LIMITS) -> LoadResult:
    """Discover and load every definition file under ``paths``; problems from all of them."""
    files, problems = discover(paths)
    result = LoadResult(problems=list(problems))
    result.extend(load_files(files, limits))
    return result


def load_files(files: Sequence[str | Path], limits: Limits = DEFAULT_LIMITS) -> LoadResult:
    """Load ``files`` (as :func:`discover` or :func:`discover_names` found them), in order;
    problems from all of them."""
    display = _Displayer()
    return load_named([(path, display(path)) for path in files], limits)


def load_named(
    files: Sequence[tuple[str | Path, str]], limits: Limits = DEFAULT_LIMITS
) -> LoadResult:
    """Load ``files``, each given with the name its problems carry (as :func:`discover_files`
    found them), in order; problems from all of them."""
    result = LoadResult()
    with collector_paused():
        for path, display in files:
            result.extend(_load_file(path, display, limits))
    return result


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a block that builds large, acyclic data.

    Loading (and then planning) 10,000 definitions allocates millions of small containers that
    all stay alive, so the collector's passes over them find nothing and cost ~10-30 % of the
    time. Reference counting still frees everything that is dropped; only reference cycles wait
    for the collector, which runs again (as before) once the outermost block ends. Nests.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def iter_documents(results: Iterable[LoadResult]) -> Iterator[Document]:
    """All documents of several results, in order."""
    for result in results:
        yield from result.documents
