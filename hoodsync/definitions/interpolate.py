"""``${env:NAME}`` interpolation inside a definition's ``spec``.

A string anywhere in a spec (a value, never a key) may contain one or more ``${env:NAME}``
references; each is replaced by the value of ``NAME`` in the *injected* environment mapping (this
module never reads ``os.environ``). ``$${env:NAME}`` is an escape for the literal text
``${env:NAME}``. Other ``${...}`` forms (the Hood API's own ``${OCMH_UTM_SOURCE}`` placeholders)
are left exactly as written.

Every string that contained a reference is *sensitive*: its resolved value must never appear in a
plan, a rendering or a log. :func:`resolve` returns the JSON paths of those strings so the planner
can mask them as ``(sensitive ${env:NAME}, fp 3f2a)`` (:func:`fingerprint`) and store the
template instead. References to the account's credential variables (``forbidden``) are refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from hoodsync.definitions.fast_interpolate import MARK, may_reference
from hoodsync.errors import DefinitionError, Problem
from hoodsync.model import Definition, JsonPath, Location

__all__ = [
    "resolve",
    "has_reference",
    "reference_names",
    "reference_paths",
    "credential_problems",
    "fingerprint",
    "masked",
    "REFERENCE",
]

#: ``${env:NAME}`` with an optional leading ``$`` (the escape). NAME follows shell rules.
REFERENCE = re.compile(r"(\$?)\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def fingerprint(value: str) -> str:
    """First 4 hex digits of the sha256 of ``value``: enough to notice a change, useless to guess."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:4]


def masked(value: str, names: Sequence[str] = ()) -> str:
    """The text shown instead of a sensitive value: ``(sensitive ${env:PROMO_CODE}, fp 3f2a)``
    naming the variables it came from (a name is not secret, and reviewers need it), or
    ``(sensitive, fp 3f2a)`` when the names are not known."""
    refs = "".join(f" ${{env:{n}}}" for n in names)
    return f"(sensitive{refs}, fp {fingerprint(value)})"


def has_reference(text: str) -> bool:
    """True when ``text`` holds at least one unescaped ``${env:NAME}``."""
    return any(m.group(1) == "" for m in REFERENCE.finditer(text))


def reference_names(text: str) -> tuple[str, ...]:
    """The variable names ``text`` references (unescaped only), each once, in order."""
    seen: dict[str, None] = {}
    for m in REFERENCE.finditer(text):
        if m.group(1) == "":
            seen.setdefault(m.group(2), None)
    return tuple(seen)


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
    sensitive: list[JsonPath] = []
    missing: list[tuple[str, JsonPath]] = []
    if not may_reference(spec):  # the fast pre-check (fast_interpolate): no walk needed
        return spec, sensitive
    resolved = _walk(spec, (), _Guarded(env, forbidden), sensitive, missing)
    if missing:
        problems = []
        for name, path in missing:
            full = tuple(base_path) + path
            where = definition.locate(full) if definition is not None else location
            if name in forbidden:
                message = _credential(name)
            else:
                message = f"environment variable {name} is not set (used as ${{env:{name}}})"
            problems.append(Problem(where or Location("<definition>"), message, full))
        raise DefinitionError(problems)
    return resolved, sensitive


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

    def substitute(m: re.Match[str]) -> str:
        nonlocal found
        if m.group(1):  # "$${env:X}" -> literal "${env:X}"
            return m.group(0)[1:]
        found = True
        name = m.group(2)
        value = env.get(name)
        if value is None:
            missing.append((name, path))
            return ""
        return value

    out = REFERENCE.sub(substitute, text)
    if found:
        sensitive.append(path)
    return out
