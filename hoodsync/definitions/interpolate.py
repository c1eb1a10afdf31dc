"""``${env:NAME}`` interpolation inside a definition's ``spec``.

A string anywhere in a spec (a value, never a key) may contain one or more ``${env:NAME}``
references; each is replaced by the value of ``NAME`` in the *injected* environment mapping (this
module never reads ``os.environ``). The grammar, exactly:

* a **reference** is ``${env:NAME}``: ``env`` in lower case, no spaces, ``NAME`` of letters,
  digits and ``_``, not starting with a digit (shell rules);
* anything else that starts like one — ``${``, optional white space, then ``env`` in any case
  not followed by a letter, digit or ``_`` (``${ENV:X}``, ``${env: X}``, ``${env:A-B}``,
  ``${env:X`` without its ``}``) — is **malformed**: :func:`malformed` finds each one, and
  validation refuses it at its line (sent as written, it would reach every recipient as
  text);
* a ``$`` right before either makes it **literal text**: ``$${env:NAME}`` is sent as
  ``${env:NAME}``, ``$${ENV}`` as ``${ENV}`` (:func:`escape` writes any text that way);
* every other ``${...}`` (the Hood API's own ``${OCMH_UTM_SOURCE}`` placeholders,
  ``${ENVIRONMENT}``) and every other ``$`` are plain text, left exactly as written.

Every string that contained a reference is *sensitive*: its resolved value must never appear in a
plan, a rendering or a log. :func:`resolve` returns the JSON paths of those strings so the planner
can mask them as ``(sensitive ${env:NAME}, fp 3f2a)`` (:func:`masked`) and store the template
instead. The ``fp`` is keyed with the account's :class:`~hoodsync.identity.ValueKey`: the text
around a variable is in git, so an unkeyed hash would let any reader of a plan test guesses of
the value. Where no key is at hand there is no ``fp`` at all: ``(sensitive ${env:NAME})``.
References to the account's credential variables (``forbidden``) are refused.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from hoodsync.definitions.fast_interpolate import MARK, may_reference
from hoodsync.errors import DefinitionError, Problem
from hoodsync.identity import ValueKey
from hoodsync.model import Definition, JsonPath, Location

__all__ = [
    "resolve",
    "resolve_reporting",
    "has_reference",
    "reference_names",
    "reference_paths",
    "credential_problems",
    "masked",
    "malformed",
    "escape",
    "template_literals",
    "fits_template",
    "TemplateIndex",
    "REFERENCE",
]

T = TypeVar("T")

#: ``${env:NAME}`` with an optional leading ``$`` (the escape). NAME follows shell rules.
REFERENCE = re.compile(r"(\$?)\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
#: A reference without the escape, no group captured (for splitting a template at them).
_PLAIN_REFERENCE = re.compile(r"\$\{env:[A-Za-z_][A-Za-z0-9_]*\}")
#: A reference (group 2: its NAME) or a malformed one (group 2: None), each with the optional
#: escaping ``$`` before it (group 1). A ``$`` before ``${`` is always taken as its escape: in
#: ``$$${env:X}`` the token starts at the second ``$``.
_TOKEN = re.compile(r"(\$?)\$\{(?:env:([A-Za-z_][A-Za-z0-9_]*)\}|\s*[eE][nN][vV](?![A-Za-z0-9_]))")
#: A malformed reference that is a reference but for its spelling (case, spaces).
_LOOSE = re.compile(r"\s*env\s*:\s*([A-Za-z_][A-Za-z0-9_]*)\s*", re.IGNORECASE)
#: ... or but for its name.
_NAMED = re.compile(r"\s*env\s*:\s*(.*?)\s*", re.IGNORECASE | re.DOTALL)
#: A malformed reference that no ``}`` closes, as shown: up to the end of what could be a name.
_UNCLOSED = re.compile(r"\$\{\s*[eE][nN][vV]\s*:?\s*[^\s}$]{0,40}")
#: How far a malformed reference is looked at for its closing ``}``.
_SHOWN = 60


def masked(value: str, names: Sequence[str] = (), *, key: ValueKey | None) -> str:
    """The text shown instead of a sensitive value: ``(sensitive ${env:PROMO_CODE}, fp 3f2a)``
    naming the variables it came from (a name is not secret, and reviewers need it), or
    ``(sensitive, fp 3f2a)`` when the names are not known. The ``fp`` is
    :meth:`ValueKey.shown` of ``value`` under the account's ``key``: one value gives one ``fp``
    in one account, so a reviewer sees whether a value changed, and nobody without the key can
    compute it. ``key`` ``None`` (no account key at hand) shows no ``fp``:
    ``(sensitive ${env:PROMO_CODE})``, never an unkeyed one."""
    refs = "".join(f" ${{env:{n}}}" for n in names)
    if key is None:
        return f"(sensitive{refs})"
    return f"(sensitive{refs}, fp {key.shown(value)})"


def has_reference(text: str) -> bool:
    """True when ``text`` holds at least one unescaped ``${env:NAME}``."""
    return any(m.group(1) == "" and m.group(2) for m in _TOKEN.finditer(text))


def reference_names(text: str) -> tuple[str, ...]:
    """The variable names ``text`` references (unescaped only), each once, in order."""
    seen: dict[str, None] = {}
    if MARK not in text:
        return ()
    for m in _TOKEN.finditer(text):
        if m.group(1) == "" and m.group(2):
            seen.setdefault(m.group(2), None)
    return tuple(seen)


def template_literals(text: str) -> tuple[str, ...]:
    """The text of ``text`` (a template) around its references, as sent: ``Mail ${env:A}-${env:B}``
    gives ``("Mail ", "-", "")`` — ``k`` references give ``k + 1`` pieces, empty ones too. An
    escaped ``$${env:X}`` is the literal ``${env:X}``, a malformed reference its text as written
    (validation refuses it). What :func:`fits_template` and :class:`TemplateIndex` match by."""
    if "$$" not in text:  # no escape; when every "${" starts a reference, none is malformed
        split = _PLAIN_REFERENCE.split(text)
        if len(split) == text.count("${") + 1:
            return tuple(split)
    pieces: list[str] = []
    literal: list[str] = []
    at = 0
    for m in _TOKEN.finditer(text):
        literal.append(text[at : m.start()])
        if m.group(1):  # escaped: the text without its "$"
            literal.append(m.group(0)[1:])
        elif m.group(2):
            pieces.append("".join(literal))
            literal = []
        else:  # malformed: sent as written
            literal.append(m.group(0))
        at = m.end()
    literal.append(text[at:])
    pieces.append("".join(literal))
    return tuple(pieces)


def fits_template(literals: Sequence[str], text: str) -> bool:
    """Whether ``text`` is what the template of ``literals`` (:func:`template_literals`)
    resolves to under *some* values: its text as written, each reference any text (an empty
    one, one with line ends). ``Mail ${env:PROMO}`` fits ``Mail NEWCODE`` and ``Mail OLDCODE``.
    For telling which strings of an account may hold a value, current or old, of a variable.

    Without backtracking (a remote name is anyone's text; a regex of ``k`` wildcards tries
    ~``n ** k`` splits of a name that does not fit): the first and last pieces must be the
    text's prefix and suffix, and each middle piece is found left to right, at the first place
    after the one before. Taking the first place is exact: a wildcard takes any text, so what
    lies between two pieces never matters, and an earlier end leaves the rest more room. At most
    ``len(literals)`` searches of ``text``."""
    first, last = literals[0], literals[-1]
    if len(literals) == 1:
        return text == first
    end = len(text) - len(last)
    if end < len(first) or not text.startswith(first) or not text.endswith(last):
        return False
    at = len(first)
    for piece in literals[1:-1]:
        found = text.find(piece, at, end)
        if found < 0:
            return False
        at = found + len(piece)
    return True


#: One template in a :class:`TemplateIndex`: the order it was added in, its literal pieces, and
#: the value it stands for.
_Entry = tuple[int, tuple[str, ...], T]


class TemplateIndex(Generic[T]):
    """Templates (:func:`template_literals`), each with a value, looked up by a text that may
    be one of them resolved: :meth:`first` gives the value of the first template added that the
    text fits (:func:`fits_template`).

    A text is tested only against the templates whose first piece is a prefix of it and whose
    last piece is a suffix of it, found by a dictionary lookup for each length such pieces have;
    so listing many objects beside many templates costs about one lookup per distinct length,
    not one match per template. A template whose first and last pieces are both empty (it
    starts and ends with a reference) is found by its longest middle piece instead, looked up
    at every place in the text for each length such pieces have. A template of references
    alone (no text of its own) is a candidate for every text, as it fits every text."""

    def __init__(self) -> None:
        #: first piece → (last piece → entries, in the order added; the last pieces' lengths).
        self._by_first: dict[str, tuple[dict[str, list[_Entry[T]]], list[int]]] = {}
        self._first_lengths: list[int] = []
        #: Templates with both ends references: longest middle piece → entries; its lengths.
        self._by_middle: dict[str, list[_Entry[T]]] = {}
        self._middle_lengths: list[int] = []
        self._added = 0

    def add(self, template: str, value: T) -> None:
        """Index ``template``'s text (``${env:...}`` unresolved) with ``value``."""
        literals = template_literals(template)
        first = literals[0]
        last = literals[-1] if len(literals) > 1 else ""  # one piece: all of it is "first"
        middle = max(literals[1:-1], key=len, default="")
        if not first and not last and middle:
            if middle not in self._by_middle:
                self._by_middle[middle] = []
                _add_length(self._middle_lengths, len(middle))
            self._by_middle[middle].append((self._added, literals, value))
            self._added += 1
            return
        if first not in self._by_first:
            self._by_first[first] = ({}, [])
            _add_length(self._first_lengths, len(first))
        by_last, last_lengths = self._by_first[first]
        if last not in by_last:
            by_last[last] = []
            _add_length(last_lengths, len(last))
        by_last[last].append((self._added, literals, value))
        self._added += 1

    def _by_middle_piece(self, text: str) -> list[_Entry[T]]:
        """The templates with both ends references whose longest middle piece ``text``
        holds."""
        if not self._by_middle:
            return []
        return _middle_candidates(self._by_middle, self._middle_lengths, text)

    def first(self, text: str) -> T | None:
        """The value of the first template added that ``text`` fits, else ``None``."""
        size = len(text)
        found: list[_Entry[T]] = []
        for head in self._first_lengths:
            if head > size:
                break
            group = self._by_first.get(text[:head])
            if group is None:
                continue
            by_last, last_lengths = group
            for tail in last_lengths:
                if head + tail > size:
                    break
                found.extend(by_last.get(text[size - tail :], ()))
        found.extend(self._by_middle_piece(text))
        found.sort(key=lambda entry: entry[0])
        return next((value for _, literals, value in found if fits_template(literals, text)), None)


def _middle_candidates(
    by_middle: Mapping[str, list[_Entry[T]]], lengths: Sequence[int], text: str
) -> list[_Entry[T]]:
    """The entries of ``by_middle`` whose key occurs somewhere in ``text``, each once."""
    found: dict[int, _Entry[T]] = {}
    size = len(text)
    for length in lengths:
        if length > size:
            break
        for at in range(size - length + 1):
            for entry in by_middle.get(text[at : at + length], ()):
                found[entry[0]] = entry
    return list(found.values())


def _add_length(lengths: list[int], length: int) -> None:
    """Add ``length`` to the sorted, distinct ``lengths``, unless it is there."""
    at = bisect.bisect_left(lengths, length)
    if at == len(lengths) or lengths[at] != length:
        lengths.insert(at, length)


def escape(text: str) -> str:
    """``text`` written so that it is sent exactly as it is: a ``$`` before each reference
    and each malformed one (which is then literal text, not a problem). For a value read from
    an account (``hoodsync export``, ``pull``); ``resolve`` gives ``text`` back."""
    return _TOKEN.sub(_escaped, text) if MARK in text else text


def _escaped(m: re.Match[str]) -> str:
    return "$" + m.group(0)


def malformed(text: str) -> list[tuple[str, str]]:
    """Each malformed reference in ``text`` (see the module's grammar; escaped ones are
    literal text, not malformed), in order: (the text, up to its ``}`` when that is near;
    why it is not a reference, with the reference it was likely meant as)."""
    out: list[tuple[str, str]] = []
    if MARK not in text:
        return out
    for m in _TOKEN.finditer(text):
        if m.group(1) or m.group(2):
            continue
        start = m.start()
        following = text.find(MARK, m.end())
        close = text.find(
            "}", m.end(), following if 0 < following < start + _SHOWN else start + _SHOWN
        )
        if close != -1:
            out.append((text[start : close + 1], _why(text[start + 2 : close])))
        else:
            unclosed = _UNCLOSED.match(text, start)
            out.append((unclosed.group() if unclosed else m.group(), _why(None)))
    return out


def _why(inside: str | None) -> str:
    """Why ``${inside}`` is no reference (``inside`` None: no ``}`` closes it)."""
    if inside is None:
        return "no '}' closes it"
    loose = _LOOSE.fullmatch(inside)
    if loose:
        return f"did you mean ${{env:{loose.group(1)}}}?"
    named = _NAMED.fullmatch(inside)
    if named and named.group(1):
        return (
            f"{named.group(1)!r} is not a variable name "
            "(letters, digits and _, not starting with a digit)"
        )
    if named:
        return "it names no variable"
    return "it is not ${env:NAME}"


def reference_paths(spec: Any) -> dict[JsonPath, tuple[str, ...]]:
    """The paths (relative to ``spec``) of the strings :func:`resolve` would mark sensitive,
    each with the variable names it references, read from the templates without resolving
    them (no environment needed)."""
    out: dict[JsonPath, tuple[str, ...]] = {}
    if not may_reference(spec):
        return out

    def walk(node: Any, path: JsonPath) -> None:
        if isinstance(node, str):
            names = reference_names(node)
            if names:
                out[path] = names
        elif isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, path + (k,))
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                walk(v, path + (i,))

    walk(spec, ())
    return out


def resolve(
    spec: Any,
    env: Mapping[str, str],
    *,
    definition: Definition | None = None,
    location: Location | None = None,
    base_path: JsonPath = ("spec",),
    forbidden: frozenset[str] = frozenset(),
) -> tuple[Any, list[JsonPath]]:
    """Replace every ``${env:NAME}`` in ``spec`` by ``env[NAME]``.

    Returns ``(resolved, sensitive_paths)``: a new structure (the input is not modified; when
    it holds no reference at all the input itself is returned — treat both as read-only) and the
    paths, relative to ``spec``, of every string that held a reference, in document order.
    Raises :class:`DefinitionError` naming each missing variable and where it is used
    (``definition.locate`` gives the line when a definition is passed, else ``location``).

    A reference to a name in ``forbidden`` (the variables that hold the account's API
    credentials) is refused the same way, whether or not it is set: interpolating a token into
    campaign content would send it to every recipient. The value is never read.
    """
    resolved, sensitive, problems = resolve_reporting(
        spec,
        env,
        definition=definition,
        location=location,
        base_path=base_path,
        forbidden=forbidden,
    )
    if problems:
        raise DefinitionError(problems)
    return resolved, sensitive


def resolve_reporting(
    spec: Any,
    env: Mapping[str, str],
    *,
    definition: Definition | None = None,
    location: Location | None = None,
    base_path: JsonPath = ("spec",),
    forbidden: frozenset[str] = frozenset(),
) -> tuple[Any, list[JsonPath], list[Problem]]:
    """:func:`resolve`, with its problems returned instead of raised: ``(resolved,
    sensitive_paths, problems)``. A string using a missing or forbidden variable is left as
    written (the template, which validation accepted) and is not among the sensitive paths,
    so the values that did resolve can still be checked
    (:func:`~hoodsync.definitions.validate.resolved_problems`) and every problem of a
    definition is reported at once."""
    sensitive: list[JsonPath] = []
    missing: list[tuple[str, JsonPath]] = []
    if not may_reference(spec):  # the fast pre-check (fast_interpolate): no walk needed
        return spec, sensitive, []
    resolved = _walk(spec, (), _Guarded(env, forbidden), sensitive, missing)
    problems = []
    for name, path in missing:
        full = tuple(base_path) + path
        where = definition.locate(full) if definition is not None else location
        if name in forbidden:
            message = _credential(name)
        else:
            message = f"environment variable {name} is not set (used as ${{env:{name}}})"
        problems.append(Problem(where or Location("<definition>"), message, full))
    return resolved, sensitive, problems


def _credential(name: str) -> str:
    return f"{name} holds an API credential; it cannot be interpolated into a definition"


def credential_problems(definition: Definition, forbidden: frozenset[str]) -> list[Problem]:
    """Each reference in ``definition`` to a name in ``forbidden`` (the variables holding the
    accounts' API credentials), as :func:`resolve` reports it, read from the templates alone:
    offline, without the environment (``validate``)."""
    return [
        Problem(definition.locate(("spec", *path)), _credential(name), ("spec", *path))
        for path, names in reference_paths(definition.spec).items()
        for name in names
        if name in forbidden
    ]


class _Guarded:
    """``env`` seen through the forbidden names: a forbidden name reads as unset, so its value
    never enters a resolved spec; :func:`resolve` words its problem differently."""

    __slots__ = ("_env", "_forbidden")

    def __init__(self, env: Mapping[str, str], forbidden: frozenset[str]) -> None:
        self._env = env
        self._forbidden = forbidden

    def get(self, name: str) -> str | None:
        """The value of ``name``, or ``None`` when unset or forbidden."""
        if name in self._forbidden:
            return None
        return self._env.get(name)


_ATOMS = frozenset({int, float, bool, type(None)})


def _walk(
    node: Any,
    path: JsonPath,
    env: _Guarded,
    sensitive: list[JsonPath],
    missing: list[tuple[str, JsonPath]],
) -> Any:
    t = type(node)
    if t is str:
        return _resolve_string(node, path, env, sensitive, missing)
    if t in _ATOMS:
        return node
    if t is dict or isinstance(node, Mapping):
        return {k: _walk(v, path + (k,), env, sensitive, missing) for k, v in node.items()}
    if t is list or isinstance(node, tuple):
        return [_walk(v, path + (i,), env, sensitive, missing) for i, v in enumerate(node)]
    if isinstance(node, str):
        return _resolve_string(node, path, env, sensitive, missing)
    return node


def _resolve_string(
    text: str,
    path: JsonPath,
    env: _Guarded,
    sensitive: list[JsonPath],
    missing: list[tuple[str, JsonPath]],
) -> str:
    if MARK not in text:  # fast path: the overwhelming majority of strings
        return text
    found = False
    unset = len(missing)

    def substitute(m: re.Match[str]) -> str:
        nonlocal found
        if m.group(1):  # "$${env:X}" -> literal "${env:X}" (also "$${ENV:X}" -> "${ENV:X}")
            return m.group(0)[1:]
        name = m.group(2)
        if name is None:  # malformed: validation refuses it; it never gets this far
            return m.group(0)
        found = True
        value = env.get(name)
        if value is None:
            missing.append((name, path))
            return ""
        return value

    out = _TOKEN.sub(substitute, text)
    if len(missing) > unset:
        # Left as written: half a value is no value to check, and the template passed
        # validation, so only the strings that did resolve can add a problem.
        return text
    if found:
        sensitive.append(path)
    return out
