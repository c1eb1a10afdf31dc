"""From loaded YAML documents to validated :class:`~hoodsync.model.Definition` objects.

Three layers of checks, all of which report every problem they find (never just the first):

1. the envelope: each document is a mapping with a known ``kind``;
2. the kind's JSON Schema (``hoodsync/schemas/*.json``, draft 2020-12): types, enums, formats,
   unknown keys (with the closest known key suggested). Each schema is also compiled into a
   fast "is it valid?" check (:func:`compile_check`); only documents it rejects go through
   jsonschema, whose errors become the messages, so messages never depend on the fast check;
3. the rules a schema cannot express: no NaN or infinity anywhere and a plain-integer
   ``order`` (every kind), then the API rules (DESIGN §3, the API docs): A/B tests, message
   counts, integration ids, execution options, push-task timing, uniqueness of keys and names.

What the schemas themselves refuse so that a valid definition converges and is safe to send:
control characters in text (single-line fields allow none; message bodies, HTML, SMS text,
descriptions and custom_data allow line breaks and tabs, since the API docs show multi-line
content and YAML block scalars produce them), labels the API's comma-joined storage would
change, and URLs whose scheme is not http or https.

Nothing here touches the network. ``now`` is injected so time-dependent rules are testable.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import logging
import math
import numbers
import re
from collections import Counter
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence, Sized, cast


from hoodsync.definitions.loader import (
    DEFAULT_LIMITS, Document, Limits, collector_paused, load_paths,
)
from hoodsync.errors import DefinitionError, Problem
from hoodsync.model import Definition, JsonPath, Kind
from hoodsync.terminal import json_safe

if TYPE_CHECKING:  # jsonschema is imported only when a document has schema errors
    import jsonschema.protocols
    from jsonschema.exceptions import ValidationError

log = logging.getLogger(__name__)

__all__ = [
    "SCHEMA_NAMES",
    "compile_check",
    "schema",
    "validate_documents",
    "load_definitions",
    "parse_api_time",
]

#: Schema file stem per schema name accepted by ``hoodsync schema``.
SCHEMA_NAMES: Mapping[str, str] = {
    "Campaign": "campaign",
    "PushTask": "push_task",
    "EmailCampaign": "email_campaign",
    "config": "hoodsync_config",
}

API_TIME = "%Y-%m-%d %H:%M:%S"
_MAX_SHOWN = 60


def parse_api_time(text: str) -> dt.datetime | None:
    """Parse the APIs' ``YYYY-MM-DD HH:MM:SS`` (UTC) form; ``None`` if it is not that form."""
    try:
        return dt.datetime.strptime(text, API_TIME).replace(tzinfo=dt.timezone.utc)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- schemas

def _resolve_schema_name(name: str) -> str:
    for accepted, stem in SCHEMA_NAMES.items():
        if name in (accepted, stem, accepted.lower()):
            return stem
    if name in ("hoodsync.yaml", "hoodsync_config"):
        return "hoodsync_config"
    raise KeyError(name)


@lru_cache(maxsize=None)
def schema(name: str) -> Mapping[str, Any]:
    """The JSON Schema called ``name`` (a kind, its slug, or ``config``); KeyError if unknown."""
    stem = _resolve_schema_name(name)
    text = resources.files("hoodsync").joinpath("schemas", f"{stem}.json").read_text("utf-8")
    loaded: Mapping[str, Any] = json.loads(text)
    return loaded


@lru_cache(maxsize=None)
def _validator(name: str) -> "jsonschema.protocols.Validator":
    # One validator per schema, reused for every document that fails the fast check. Imported
    # here: jsonschema costs ~40 ms of startup that a valid repository never needs.
    import jsonschema

    return jsonschema.Draft202012Validator(schema(name))


# --------------------------------------------------------------------------- fast verdict
#
# jsonschema's ``iter_errors`` costs ~0.6 ms per realistic definition ($ref resolution and
# ``evolve`` on every node), most of ``validate`` at 10,000 definitions. Almost every document is
# valid, so each schema is also compiled once into nested closures that only answer "valid?".
# A document they accept has no schema errors; any other goes through ``iter_errors`` exactly
# as before, so messages never change. The closures mirror jsonschema's draft 2020-12 keyword
# semantics (bool is neither integer nor number, 1.0 is an integer, enum/const/uniqueItems
# compare with jsonschema's bool-aware equality, ``pattern`` is ``re.search``); a schema using
# a validating keyword not handled here gets no fast check at all (everything takes the full
# path). ``tests/test_perf_equivalence.py`` compares verdicts with jsonschema on mutated inputs.

Check = Callable[[Any], bool]


class _Unsupported(Exception):
    """The schema uses something the fast checker does not mirror; use jsonschema only."""


#: Draft 2020-12 keywords that assert something but are not compiled here (jsonschema's
#: ``Draft202012Validator.VALIDATORS`` minus the handled ones; a test keeps the two in step).
_UNHANDLED = frozenset({
    "$dynamicRef", "contains", "dependentRequired", "dependentSchemas", "prefixItems",
    "unevaluatedItems", "unevaluatedProperties",
})
_HANDLED = frozenset({
    "$ref", "additionalProperties", "allOf", "anyOf", "const", "enum", "exclusiveMaximum",
    "exclusiveMinimum", "format", "if", "items", "maxItems", "maxLength", "maxProperties",
    "maximum", "minItems", "minLength", "minProperties", "minimum", "multipleOf", "not", "oneOf",
    "pattern", "patternProperties", "properties", "propertyNames", "required", "type",
    "uniqueItems",
})
#: Keywords that change how references resolve below the root.
_SCOPE_KEYWORDS = frozenset({"$id", "$anchor", "$dynamicAnchor", "$recursiveAnchor",
                             "$recursiveRef", "$vocabulary"})
_OBJECT_KEYWORDS = ("properties", "required", "additionalProperties", "patternProperties",
                    "propertyNames", "minProperties", "maxProperties")


def _true(_: Any) -> bool:
    return True


def _false(_: Any) -> bool:
    return False


def _unbool(value: Any, true: object = object(), false: object = object()) -> Any:
    """jsonschema's trick: True/False must not compare equal to 1/0."""
    if value is True:
        return true
    if value is False:
        return false
    return value


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's ``equal``: recursive, bool-aware."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(_equal(i, j) for i, j in zip(one, two))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(k in two and _equal(v, two[k]) for k, v in one.items())
    return bool(_unbool(one) == _unbool(two))


def _unique(items: list[Any]) -> bool:
    """jsonschema's ``uniq``, including its sort-then-compare-neighbours shortcut."""
    kinds = {type(i) for i in items}
    if kinds == {int} or kinds == {str}:  # the common case; equal() is plain == for these
        return len(set(items)) == len(items)
    try:
        ordered = sorted(_unbool(i) for i in items)
        return not any(_equal(i, j) for i, j in zip(ordered, ordered[1:]))
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for item in items:
            item = _unbool(item)
            if any(_equal(i, item) for i in seen):
                return False
            seen.append(item)
        return True


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


_TYPE_TESTS: Mapping[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": lambda v: (not isinstance(v, bool) and isinstance(v, int))
    or (isinstance(v, float) and v.is_integer()),
}


class _Compiler:
    """Compiles one root schema (with ``#/...`` references into itself) into a :data:`Check`."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.done: dict[int, Check] = {}

    def compile(self, node: Any, is_root: bool = False) -> Check:
        if node is True:
            return _true
        if node is False:
            return _false
        if not isinstance(node, dict):
            raise _Unsupported(f"schema is a {type(node).__name__}")
        known = self.done.get(id(node))
        if known is not None:
            return known
        cell: list[Check] = []
        self.done[id(node)] = lambda v: cell[0](v)  # a $ref cycle calls through this cell
        check = self._schema(node, is_root)
        cell.append(check)
        self.done[id(node)] = check
        return check

    def _schema(self, node: Mapping[str, Any], is_root: bool) -> Check:
        bad = (_UNHANDLED | (set() if is_root else _SCOPE_KEYWORDS)) & node.keys()
        if bad or ("$schema" in node and not is_root):
            raise _Unsupported(f"keywords {sorted(bad)}")
        checks: list[Check] = []
        is_object = any(k in node for k in _OBJECT_KEYWORDS)
        if is_object and node.get("type") == "object":
            checks.append(self._object(node, only_objects=True))  # one call per object node
        else:
            if "type" in node:
                checks.append(self._type(node["type"]))
            if is_object:
                checks.append(self._object(node, only_objects=False))
        for keyword, value in node.items():
            build = self._BUILDERS.get(keyword)
            if build is not None:
                checks.append(build(self, value, node))
            elif keyword in _LEAVES:
                checks.append(_LEAVES[keyword](value))
        if not checks:
            return _true
        if len(checks) == 1:
            return checks[0]
        if len(checks) == 2:
            first, second = checks
            return lambda v: first(v) and second(v)

        def all_of(value: Any) -> bool:
            for check in checks:
                if not check(value):
                    return False
            return True

        return all_of

    # -- keywords with subschemas ---------------------------------------------------------------

    @staticmethod
    def _type(types: Any) -> Check:
        names = [types] if isinstance(types, str) else types
        if not isinstance(names, list) or not names or any(n not in _TYPE_TESTS for n in names):
            raise _Unsupported(f"type {types!r}")
        tests = [_TYPE_TESTS[n] for n in names]
        if len(tests) == 1:
            return tests[0]
        return lambda v: any(t(v) for t in tests)

    def _object(self, node: Mapping[str, Any], only_objects: bool) -> Check:
        props = {k: self.compile(s) for k, s in node.get("properties", {}).items()}
        required = tuple(node.get("required", ()))
        patterns = [(re.compile(p).search, self.compile(s))
                    for p, s in node.get("patternProperties", {}).items()]
        # jsonschema decides what is "additional" with the patterns joined by "|".
        joined = "|".join(node.get("patternProperties", {}))
        extra_search = re.compile(joined).search if joined else None
        additional = node.get("additionalProperties", True)
        extra: Check | None = None if additional is True else self.compile(additional)
        names = self.compile(node["propertyNames"]) if "propertyNames" in node else None
        least, most = node.get("minProperties"), node.get("maxProperties")
        if not all(isinstance(r, str) for r in required) or not all(
            b is None or _is_count(b) for b in (least, most)
        ):
            raise _Unsupported("object keyword values")

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return not only_objects
            for key in required:
                if key not in value:
                    return False
            if least is not None and len(value) < least:
                return False
            if most is not None and len(value) > most:
                return False
            for key, item in value.items():
                sub = props.get(key)
                if sub is not None:
                    if not sub(item):
                        return False
                elif extra is not None and not (extra_search is not None and extra_search(key)):
                    if not extra(item):
                        return False
                for search, pattern_check in patterns:
                    if search(key) and not pattern_check(item):
                        return False
                if names is not None and not names(key):
                    return False
            return True

        return check

    def _items(self, schema_: Any, node: Mapping[str, Any]) -> Check:
        sub = self.compile(schema_)

        def check(value: Any) -> bool:
            if isinstance(value, list):
                for item in value:
                    if not sub(item):
                        return False
            return True

        return check

    def _ref(self, ref: Any, node: Mapping[str, Any]) -> Check:
        if not isinstance(ref, str) or not ref.startswith("#/") or "~" in ref or "%" in ref:
            raise _Unsupported(f"$ref {ref!r}")
        target: Any = self.root
        for part in ref[2:].split("/"):
            if not isinstance(target, dict) or part not in target:
                raise _Unsupported(f"$ref {ref!r}")
            target = target[part]
        return self.compile(target)

    def _subschemas(self, schemas: Any) -> list[Check]:
        if not isinstance(schemas, list) or not schemas:
            raise _Unsupported("subschema list")
        return [self.compile(s) for s in schemas]

    def _all_of(self, schemas: Any, node: Mapping[str, Any]) -> Check:
        subs = self._subschemas(schemas)
        return lambda v: all(s(v) for s in subs)

    def _any_of(self, schemas: Any, node: Mapping[str, Any]) -> Check:
        subs = self._subschemas(schemas)
        return lambda v: any(s(v) for s in subs)

    def _one_of(self, schemas: Any, node: Mapping[str, Any]) -> Check:
        subs = self._subschemas(schemas)

        def check(value: Any) -> bool:
            found = 0
            for sub in subs:
                if sub(value):
                    found += 1
                    if found > 1:
                        return False
            return found == 1

        return check

    def _not(self, schema_: Any, node: Mapping[str, Any]) -> Check:
        sub = self.compile(schema_)
        return lambda v: not sub(v)

    def _if(self, schema_: Any, node: Mapping[str, Any]) -> Check:
        test = self.compile(schema_)
        then = self.compile(node["then"]) if "then" in node else _true
        other = self.compile(node["else"]) if "else" in node else _true
        return lambda v: then(v) if test(v) else other(v)

    _BUILDERS: Mapping[str, Callable[["_Compiler", Any, Mapping[str, Any]], Check]] = {
        "$ref": _ref,
        "items": _items,
        "allOf": _all_of,
        "anyOf": _any_of,
        "oneOf": _one_of,
        "not": _not,
        "if": _if,
    }


# -- keywords without subschemas -----------------------------------------------------------------

def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _enum(values: Any) -> Check:
    if not isinstance(values, list):
        raise _Unsupported("enum")
    if values and all(isinstance(e, str) for e in values):
        strings = frozenset(values)  # equal() is plain == as soon as one side is a string
        return lambda v: isinstance(v, str) and v in strings
    return lambda v: any(_equal(e, v) for e in values)


def _const(value: Any) -> Check:
    if isinstance(value, str):
        return lambda v: bool(v == value)  # what equal() reduces to when one side is a string
    return lambda v: _equal(v, value)


def _pattern(pattern: Any) -> Check:
    search = re.compile(pattern).search
    return lambda v: not isinstance(v, str) or search(v) is not None


def _bound(test: Callable[[Any, Any], bool]) -> Callable[[Any], Check]:
    def build(bound: Any) -> Check:
        if not _is_number(bound):
            raise _Unsupported("numeric bound")
        return lambda v: not _is_number(v) or test(v, bound)

    return build


def _multiple_of(factor: Any) -> Check:
    if not isinstance(factor, int) or isinstance(factor, bool) or factor <= 0:
        raise _Unsupported("multipleOf")  # float factors need jsonschema's Fraction fallback
    return lambda v: not _is_number(v) or not v % factor


def _length(kind: type, least: bool) -> Callable[[Any], Check]:
    def build(bound: Any) -> Check:
        if not _is_count(bound):
            raise _Unsupported("length bound")
        if least:
            return lambda v: not isinstance(v, kind) or len(cast(Sized, v)) >= bound
        return lambda v: not isinstance(v, kind) or len(cast(Sized, v)) <= bound

    return build


def _unique_items(flag: Any) -> Check:
    if not flag:
        return _true
    return lambda v: not isinstance(v, list) or _unique(v)


_LEAVES: Mapping[str, Callable[[Any], Check]] = {
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "minimum": _bound(lambda v, b: not v < b),
    "maximum": _bound(lambda v, b: not v > b),
    "exclusiveMinimum": _bound(lambda v, b: not v <= b),
    "exclusiveMaximum": _bound(lambda v, b: not v >= b),
    "multipleOf": _multiple_of,
    "minLength": _length(str, True),
    "maxLength": _length(str, False),
    "minItems": _length(list, True),
    "maxItems": _length(list, False),
    "uniqueItems": _unique_items,
    "format": lambda name: _true,  # an annotation: these validators have no format checker
}


def compile_check(root: Mapping[str, Any]) -> Check | None:
    """A fast "is it valid?" predicate for ``root`` (draft 2020-12, no format assertion), or
    ``None`` when the schema uses a keyword the compiler does not mirror exactly."""
    try:
        return _Compiler(root).compile(root, is_root=True)
    except (_Unsupported, re.error) as exc:
        log.debug("no fast check for schema %s: %s", root.get("$id", "?"), exc)
        return None


@lru_cache(maxsize=None)
def _fast_check(name: str) -> Check | None:
    # ``format`` is an annotation only because _validator() sets no format checker.
    return compile_check(schema(name))


def _fast_valid(data: Any, name: str) -> bool:
    """True only when the document certainly has no schema errors."""
    check = _fast_check(name)
    if check is None:
        return False
    try:
        return check(data)
    except Exception:  # noqa: BLE001 - any surprise means "ask jsonschema"
        return False


# --------------------------------------------------------------------------- schema errors

def _short(value: Any) -> str:
    """``value`` as JSON for a message, at most ``_MAX_SHOWN`` characters, safe to print (a
    definition's text may hold control characters: that is what some problems are about)."""
    text = json_safe(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
               int: "integer", float: "number"}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _known_keys(subschema: Mapping[str, Any]) -> list[str]:
    return sorted(subschema.get("properties", {}))


def _suggest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _schema_problems(doc: Document, name: str) -> Iterator[Problem]:
    """Every schema violation in ``doc`` as Problems located at the offending node."""
    if _fast_valid(doc.data, name):
        return
    for error in _validator(name).iter_errors(doc.data):
        yield from _translate(error, doc)


def _translate(error: ValidationError, doc: Document) -> Iterator[Problem]:
    path: JsonPath = tuple(error.absolute_path)
    kind = error.validator
    if kind in ("additionalProperties", "unevaluatedProperties") and isinstance(error.instance, dict):
        known = _known_keys(error.schema) if isinstance(error.schema, dict) else []
        patterns = error.schema.get("patternProperties", {}) if isinstance(error.schema, dict) else {}
        unknown = [
            k for k in error.instance
            if k not in known and not any(re.search(p, k) for p in patterns)
        ]
        if kind == "unevaluatedProperties" and not known:
            unknown = re.findall(r"'([^']+)'", error.message.split("(", 1)[-1]) or unknown
        for key in sorted(unknown) or [""]:
            where = path + (key,) if key else path
            yield Problem(doc.locate(where), f"unknown key {key!r}{_suggest(key, known)}", where)
        return
    if kind in ("oneOf", "anyOf") and error.context:
        from jsonschema.exceptions import best_match

        # The forms whose type the value does not have say nothing useful ("X or null", "a
        # string or a language map"): the errors of the form the value was meant as explain.
        context = [e for e in error.context if e.validator != "type" or e.relative_path]
        context = context or list(error.context)
        best = best_match(context)
        if best.validator not in ("oneOf", "anyOf", "const", "type") or len(context) == 1:
            yield from _translate(best, doc)
            return
    yield Problem(doc.locate(path), _message(error), path)


def _message(error: ValidationError) -> str:
    kind, inst = error.validator, error.instance
    value: Any = error.validator_value
    if kind == "required" and isinstance(inst, dict):
        missing = [k for k in value if k not in inst]
        return "missing required key " + ", ".join(repr(k) for k in missing)
    if kind == "type":
        wanted = value if isinstance(value, str) else " or ".join(value)
        got = "null" if inst is None else f"{_json_type(inst)} {_short(inst)}"
        return f"expected {wanted}, got {got}"
    if kind == "enum":
        return f"{_short(inst)} is not one of: {', '.join(_short(v) for v in value)}"
    if kind == "const":
        return f"must be {_short(value)}, got {_short(inst)}"
    if kind == "pattern":
        hint = error.schema.get("description") if isinstance(error.schema, dict) else None
        return f"{_short(inst)} does not match the expected format " + (
            f"({hint})" if hint else f"/{value}/"
        )
    described = error.schema.get("description") if isinstance(error.schema, dict) else None
    if kind in ("not", "minProperties", "maxProperties") and described:
        # The schema's own sentence says what the combination rule is; jsonschema's would not.
        if kind == "not":
            return f"{_short(inst)} is not allowed: {described}"
        count = len(inst) if isinstance(inst, dict) else 0
        bound = "at most" if kind == "maxProperties" else "at least"
        return f"has {count} key(s), {bound} {value} allowed — {described}"
    if kind in ("minItems", "minLength", "minProperties"):
        return f"must not be shorter than {value}" if kind == "minLength" else (
            f"needs at least {value} item(s)" if kind == "minItems" else f"needs at least {value} key(s)"
        )
    if kind in ("maxItems", "maxLength", "maxProperties"):
        return f"too long: at most {value}" + (" item(s)" if kind == "maxItems" else "")
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{_short(inst)} is out of range ({kind} {value})"
    if kind == "uniqueItems":
        return "items must be unique"
    if kind == "oneOf":
        return "must match exactly one of the allowed forms" + (
            f": {error.schema.get('description')}" if isinstance(error.schema, dict)
            and error.schema.get("description") else ""
        )
    if kind == "not":
        return f"{_short(inst)} is not allowed here"
    return error.message if len(error.message) <= 200 else error.message[:199] + "…"


# --------------------------------------------------------------------------- envelope

def _envelope_problems(doc: Document) -> tuple[Kind | None, list[Problem]]:
    data = doc.data
    if not isinstance(data, dict):
        return None, [Problem(doc.location, f"a definition must be a mapping, got {_json_type(data)}")]
    raw = data.get("kind")
    if raw is None:
        return None, [Problem(doc.location, "missing required key 'kind' "
                              "(one of Campaign, PushTask, EmailCampaign)")]
    try:
        return Kind(raw), []
    except ValueError:
        names = [k.value for k in Kind]
        hint = _suggest(str(raw), names) or f" (one of {', '.join(names)})"
        return None, [Problem(doc.locate(("kind",)), f"unknown kind {_short(raw)}{hint}", ("kind",))]


def _definition(doc: Document, kind: Kind) -> Definition:
    data = doc.data
    return Definition(
        kind=kind,
        key=data["key"],
        spec=data.get("spec") or {},
        location=doc.location,
        state=data.get("state"),
        order=_order(data),
        resume=data.get("resume"),
        locations=doc.locations,
    )


def _order(data: Mapping[str, Any]) -> int:
    """The sync wave; 0 when ``order`` is absent or not a plain integer (a problem reported by
    :func:`_with_value_problems`, so never the order of a valid definition)."""
    order = data.get("order", 0)
    return order if _is_plain_int(order) else 0


# --------------------------------------------------------------------------- values of any kind
#
# Two rules hold for every document, whatever its kind and wherever the value sits (metadata
# included), and neither can be said in JSON Schema: there a float NaN passes every bound, and
# 2.0 is an "integer".

def _is_plain_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _has_non_finite(root: Any) -> bool:
    """Does ``root`` hold a NaN or an infinity anywhere? The cheap test every document gets
    (no paths, no recursion: ~10 µs for a large definition); :func:`_non_finite` finds them."""
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
            return True
    return False


def _non_finite(node: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, float]]:
    """Every NaN or infinity below ``node`` with its path."""
    if isinstance(node, float) and not math.isfinite(node):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _non_finite(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _non_finite(value, path + (index,))


def _yaml_float(value: float) -> str:
    return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")


def _with_value_problems(doc: Document, schema_problems: Sequence[Problem]) -> list[Problem]:
    """``schema_problems`` plus NaN / infinity anywhere and an ``order`` that is not a plain
    integer.

    NaN and infinity have no JSON form (the API cannot store them) and NaN never equals itself,
    so such a definition could never converge. Where one sits, its message replaces the
    schema's ("Infinity is out of range" would only puzzle). ``order: 2.0`` or ``1e3`` is an
    integer to JSON Schema but not how a sync wave is written; reported unless the schema
    already said something about ``order``."""
    data = doc.data
    found = list(schema_problems)
    if _has_non_finite(data):
        bad = list(_non_finite(data))
        paths = {path for path, _ in bad}
        found = [p for p in found if p.path not in paths]
        found += [Problem(doc.locate(path), f"{_yaml_float(value)} is not allowed: NaN and "
                          "infinity have no JSON form, so the API cannot store them", path)
                  for path, value in bad]
    order = data.get("order") if isinstance(data, dict) else None
    if order is not None and not _is_plain_int(order) and all(p.path != ("order",) for p in found):
        found.append(Problem(doc.locate(("order",)), "order must be a plain integer such as 0, "
                             f"10 or -5, got {_short(order)}", ("order",)))
    return found


# --------------------------------------------------------------------------- API rules

Rule = Callable[[Definition, dt.datetime], Iterator[Problem]]


def _problem(defn: Definition, path: JsonPath, message: str) -> Problem:
    return Problem(defn.locate(path), message, path)


def _campaign_rules(defn: Definition, now: dt.datetime) -> Iterator[Problem]:
    spec = defn.spec
    messages = spec.get("messages") or []
    per_channel = Counter(m.get("channel") for m in messages if isinstance(m, dict))
    for channel, count in sorted(per_channel.items(), key=lambda kv: str(kv[0])):
        if count > 1 and not spec.get("ab_test"):
            yield _problem(defn, ("spec", "messages"),
                           f"{count} {channel} messages need an ab_test block "
                           "(several messages of one channel are an A/B test)")
        if count > 4:
            yield _problem(defn, ("spec", "messages"),
                           f"{count} {channel} messages; at most 4 per channel are allowed")
    for i, msg in enumerate(messages):
        if isinstance(msg, dict) and msg.get("channel") in ("sms", "email") \
                and not msg.get("integration_id"):
            yield _problem(defn, ("spec", "messages", i),
                           f"integration_id is required for {msg['channel']} messages")
    options = [k for k in ("run_immediately", "scheduled_time", "recurrence")
               if spec.get(k) not in (None, False, 0)]
    if len(options) > 1:
        # Located at the second option but filed under "spec": it is about the combination,
        # so a schema problem on either field must not hide it.
        yield Problem(defn.locate(("spec", options[1])),
                      f"set at most one of run_immediately, scheduled_time, recurrence "
                      f"(found {', '.join(options)})", ("spec",))
    metadata = spec.get("metadata")
    if isinstance(metadata, dict) and ("hoodsync_key" in metadata or "hoodsync_hash" in metadata):
        yield _problem(defn, ("spec", "metadata"),
                       "metadata.hoodsync_key and metadata.hoodsync_hash are written by hoodsync; "
                       "remove them from the definition")
    if defn.resume is not None:
        if len([k for k in ("run_immediately", "scheduled_time") if k in defn.resume]) != 1:
            yield _problem(defn, ("resume",),
                           "resume holds exactly one of run_immediately or scheduled_time")


_CRON_SINGLE = re.compile(r"^[0-9]+$")
_FREQ_MIN, _FREQ_MAX = 3600, 94_608_000


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _push_task_rules(defn: Definition, now: dt.datetime) -> Iterator[Problem]:
    spec = defn.spec
    status = _as_int(spec.get("status"))
    if defn.state is not None and status is not None and status != (1 if defn.state == "active" else 0):
        yield _problem(defn, ("spec", "status"),
                       f"spec.status {status} contradicts state: {defn.state}; keep one of them")
    active = defn.state == "active" or (defn.state is None and status == 1)
    start_raw = spec.get("start_time")
    if active and start_raw in (None, ""):
        yield _problem(defn, ("spec",), "an active push task needs a start_time")
    start = None
    if isinstance(start_raw, str) and start_raw != "immediately":
        start = parse_api_time(start_raw)
        if start is None:
            yield _problem(defn, ("spec", "start_time"),
                           f"start_time {start_raw!r} is not 'immediately' or YYYY-MM-DD HH:MM:SS")
    # "start_time not in the past" and an end_time after an immediate start depend on the clock
    # and on whether the task exists yet, which only the planner knows (it refuses a past
    # start_time when a create or patch would send it). Checking them here would turn every
    # definition invalid the day its start passes.
    end_raw = spec.get("end_time")
    if isinstance(end_raw, str):
        end = parse_api_time(end_raw)
        if end is None:
            yield _problem(defn, ("spec", "end_time"), f"end_time {end_raw!r} is not YYYY-MM-DD HH:MM:SS")
        elif start is not None and end < start:
            yield _problem(defn, ("spec", "end_time"), "end_time is before start_time")
    yield from _push_task_repeat_rules(defn)


def _push_task_repeat_rules(defn: Definition) -> Iterator[Problem]:
    spec = defn.spec
    freq_raw = spec.get("frequency")
    if freq_raw is not None:
        freq = _as_int(freq_raw)
        if freq is None or freq % 60 or not _FREQ_MIN <= freq <= _FREQ_MAX:
            yield _problem(defn, ("spec", "frequency"),
                           f"frequency {_short(freq_raw)} must be a multiple of 60 seconds "
                           f"from {_FREQ_MIN} to {_FREQ_MAX:,}")
    cron = spec.get("cron")
    if cron is not None and freq_raw is not None:
        yield _problem(defn, ("spec", "cron"), "set frequency or cron, not both")
    if isinstance(cron, str):
        fields = cron.split()
        if len(fields) != 5:
            yield _problem(defn, ("spec", "cron"), f"cron {cron!r} must have 5 fields")
        else:
            if not _CRON_SINGLE.match(fields[0]):
                yield _problem(defn, ("spec", "cron"),
                               f"cron minute field {fields[0]!r} must be a single value "
                               "(no lists, ranges or wildcards)")
            if _as_int(spec.get("user_time_zone")) == 1 and not _CRON_SINGLE.match(fields[1]):
                yield _problem(defn, ("spec", "cron"),
                               f"with user_time_zone on, the cron hour field {fields[1]!r} "
                               "must be a single value")


_RULES: Mapping[Kind, Rule] = {
    Kind.CAMPAIGN: _campaign_rules,
    Kind.PUSH_TASK: _push_task_rules,
}


def _uniqueness_problems(definitions: Sequence[Definition]) -> Iterator[Problem]:
    seen_keys: dict[tuple[Kind, str], Definition] = {}
    seen_names: dict[tuple[Kind, str], Definition] = {}
    for defn in definitions:
        first = seen_keys.setdefault((defn.kind, defn.key), defn)
        if first is not defn:
            yield _problem(defn, ("key",), f"duplicate key {defn.key!r} for kind {defn.kind.value} "
                                           f"(also at {first.locate(('key',))})")
        if defn.kind in (Kind.PUSH_TASK, Kind.EMAIL_CAMPAIGN) and defn.name is not None:
            other = seen_names.setdefault((defn.kind, defn.name), defn)
            if other is not defn:
                yield _problem(defn, ("spec", "name"),
                               f"duplicate name {defn.name!r} for kind {defn.kind.value} "
                               f"(also at {other.locate(('spec', 'name'))}); "
                               f"{defn.kind.value} objects are matched by name")


# --------------------------------------------------------------------------- entry points

def _rule_problems(
    doc: Document, kind: Kind, now: dt.datetime, schema_problems: Sequence[Problem]
) -> list[Problem]:
    """The kind's API rules, also on a document with schema errors (so every problem shows at
    once). Rules read defensively; one that trips over a malformed value is skipped, since the
    schema problem already covers that value. A problem the schema already reported at the same
    place is not repeated."""
    rule = _RULES.get(kind)
    data = doc.data
    if rule is None or not isinstance(data.get("spec"), dict) or not isinstance(data.get("key"), str):
        return []
    try:
        defn = _definition(doc, kind)
        found = list(rule(defn, now))
    except (TypeError, AttributeError, ValueError, KeyError):
        return []
    taken = {p.path for p in schema_problems}
    return [p for p in found if p.path not in taken]


def validate_documents(
    documents: Sequence[Document], *, now: dt.datetime | None = None
) -> tuple[list[Definition], list[Problem]]:
    """Check every document; return the valid definitions and every problem found.

    A document with any error-level problem is left out of the returned definitions. The
    returned definitions keep the order of ``documents``; problems are sorted by location.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    definitions: list[Definition] = []
    problems: list[Problem] = []
    for doc in documents:
        kind, envelope = _envelope_problems(doc)
        problems.extend(envelope)
        if kind is None:
            continue
        schema_found = list(_schema_problems(doc, kind.value))
        found = _with_value_problems(doc, schema_found)
        found += _rule_problems(doc, kind, now, found)
        if not schema_found and not any(p.severity == "error" for p in found):
            definitions.append(_definition(doc, kind))
        problems.extend(found)
    problems.extend(_uniqueness_problems(definitions))
    return definitions, sorted(problems, key=Problem.sort_key)


#: ``Kind.value`` without the enum property lookup (noticeable when sorting 10,000).
_KIND_NAMES: Mapping[Kind, str] = {kind: kind.value for kind in Kind}


def load_definitions(
    paths: Sequence[str | Path],
    *,
    now: dt.datetime | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Definition]:
    """Load and validate every definition under ``paths``.

    Raises :class:`DefinitionError` carrying every problem of every file when anything is
    invalid; otherwise returns the definitions sorted by (kind, key).
    """
    with collector_paused():
        loaded = load_paths(paths, limits)
        definitions, problems = validate_documents(loaded.documents, now=now)
    problems = sorted(loaded.problems + problems, key=Problem.sort_key)
    if any(p.severity == "error" for p in problems):
        raise DefinitionError(problems)
    return sorted(definitions, key=lambda d: (_KIND_NAMES[d.kind], d.key))
