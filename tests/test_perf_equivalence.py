"""The fast paths of ``validate`` give exactly what the slow, exact paths give.

* Schema: the jsonschema-rs "is it valid?" check (``fast_validate.compile_check``) agrees
  with jsonschema's ``Draft202012Validator.is_valid`` on the examples, on thousands of random
  mutations of them and on hand-picked edge values for every keyword, except where its
  contract allows "invalid" for a valid document (NaN, infinity, strings it cannot encode);
  every pattern of the project's schemas matches the same strings in its Rust translation as
  in Python; ``validate_documents`` returns the same definitions and the same problems (same
  text, same place) with and without the fast check.
* Loader: ``load_text`` gives the same documents, locations and problems with and without its
  fast paths (block-style text read without a parser; anchor-free documents built without
  per-node bookkeeping), on valid and invalid YAML, on generated YAML of many styles and on
  random corruptions of the examples and of that; the anchor pre-check never misses an
  anchor; the faster resolver and path display agree with the originals.
* ``wire.coerce_paths`` (all paths walked as one tree) converts exactly what ``wire.coerce``
  converts path by path, and ``wire.coerced_paths`` (copy-on-write) gives what it gives on a
  deep copy, leaving its input unchanged; ``kinds.base.project`` gives what it gave before its shortcuts, and
  ``projects_to_itself`` answers what comparing its projection answers.
* ``validate`` scans each document for NaN and infinity once, and a check told ``finite=True``
  answers what it answers without that promise; the ``${env:`` pre-check
  (``fast_interpolate``) never misses a reference.
* The text renderer's shortcuts (scalars written without the JSON encoder, printable ASCII
  compared without Unicode normalisation, and not scanned for terminal escapes) give what the
  general code gives.

Randomness is seeded: a failure reproduces, and its message names the input.
"""

from __future__ import annotations

import copy
import datetime as dt
import gc
import json
import math
import os
import random
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hoodsync import lookalikes, terminal, wire
from hoodsync.definitions import (
    fast_interpolate,
    fast_load,
    fast_text,
    fast_validate,
    loader,
    validate,
)
from hoodsync.definitions.fast_validate import compile_check
from hoodsync.definitions.loader import load_text
from hoodsync.definitions.validate import schema, validate_documents
from hoodsync.kinds import RULES
from hoodsync.kinds import base as kinds_base
from hoodsync.model import Kind, Location
from hoodsync.render import common as render_common
from hoodsync.wire import coerce_paths

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))
KINDS = ("Campaign", "PushTask", "EmailCampaign")
NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.UTC)

#: Values a mutation may put anywhere: every JSON type, bool/int look-alikes, edge numbers,
#: strings that match or almost match the schemas' patterns and enums (URLs, labels, control
#: characters included).
POOL: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    7,
    99,
    100,
    3600,
    1.0,
    0.5,
    -0.0,
    1e300,
    2**70,
    math.inf,
    -math.inf,
    math.nan,
    "",
    " ",
    "x",
    "NO",
    "0",
    "1",
    "12",
    "3600",
    "3601",
    "-5",
    "push",
    "email",
    "sms",
    "in",
    "nin",
    "include",
    "exclude",
    "active",
    "paused",
    "canceled",
    "inactive",
    "stopped",
    "immediately",
    "click_rate",
    "open_rate",
    "manual",
    "automatic",
    "1D",
    "5D 20H 30M",
    "1X",
    "2027-03-22 10:00:00",
    "2027-13-22 10:00:00",
    "2027-03-22 10:00:00\n",
    "https://example.com",
    "ftp://x",
    "a@b.co",
    "a@b",
    "en",
    "pt-BR",
    "javascript:alert(1)",
    "HTTPS://E.COM/x",
    "https://e.com/a b",
    "https://evil.example\\@bank.example/",
    "https://e.com/\u202efdp.exe",
    "https://e.com/a\u200bb",
    "https://b\u00fccher.example/\u0430",
    "a,b",
    " x",
    "x ",
    "x\x1b[2K",
    "a\nb",
    "a\tb",
    "a\rb",
    "a\x85b",
    "a\u2028b",
    "vår 🚀",
    "a\u2000b@c.de",
    "x\x1cy",
    "\u3000",
    "https://e.com/\u2000",
    "\ufeffx",
    "EN",
    "0 12 * * 1,5",
    "61 12 * * 1",
    "3c90c3cc-0d44-4b50-8888-8dd25736052a",
    "contact.saved",
    "Campaign",
    "PushTask",
    "EmailCampaign",
    "welcome-push",
    "Bad Key",
    "1830",
    "18a",
    [],
    [1],
    ["a"],
    ["a", "a"],
    [1, True],
    [1, 1.0],
    [0, False],
    [[1], [True]],
    [{"a": 1}, {"a": 1}],
    ["FR", "DE"],
    [1, 2, 3],
    {},
    {"en": "x"},
    {"EN": "x"},
    {"en": 1},
    {"x": 1},
    {"items": ["a"], "op": "in"},
    {"from": 0, "to": 4},
    {"pattern": {"hour": 1}},
]


def _documents(path: Path) -> list[Any]:
    return [d.data for d in load_text(path.read_text("utf-8"), str(path)).documents]


def _examples(kind: str) -> list[dict[str, Any]]:
    docs = [d for p in EXAMPLES for d in _documents(p)]
    return [d for d in docs if isinstance(d, dict) and d.get("kind") == kind]


def _schema_words(node: Any, out: set[str]) -> set[str]:
    """Every property name a schema mentions (keys a mutation may add)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("properties", "$defs"):
                out.update(value)
            _schema_words(value, out)
    elif isinstance(node, list):
        for item in node:
            _schema_words(item, out)
    return out


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, path + (index,))


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def mutate(doc: Any, rng: random.Random, words: list[str]) -> Any:
    """One random edit somewhere in ``doc`` (a deep copy is returned)."""
    doc = copy.deepcopy(doc)
    path = rng.choice(list(_paths(doc)))
    target = _get(doc, path)
    parent = _get(doc, path[:-1]) if path else None
    roll = rng.random()
    if isinstance(target, dict) and roll < 0.3:
        key = rng.choice(words) if rng.random() < 0.8 else rng.choice(["zz", "Name", "naem"])
        target[key] = copy.deepcopy(rng.choice(POOL))
    elif isinstance(target, dict) and target and roll < 0.45:
        del target[rng.choice(list(target))]
    elif isinstance(target, list) and target and roll < 0.45:
        if rng.random() < 0.5:
            target.append(copy.deepcopy(rng.choice(target)))
        else:
            del target[rng.randrange(len(target))]
    elif isinstance(target, str) and roll < 0.5:
        target = rng.choice(
            [target.upper(), target + "x", target[:-1], " " + target, target + "\n"]
        )
        if parent is None:
            return target
        parent[path[-1]] = target
    elif parent is None:
        return copy.deepcopy(rng.choice(POOL))
    else:
        parent[path[-1]] = copy.deepcopy(rng.choice(POOL))
    return doc


# --------------------------------------------------------------------------- schema verdicts
#
# The contract (hoodsync/definitions/fast_validate.py): the fast check says True only when
# jsonschema finds no error. It may say False for a valid document only where the module says
# so (a NaN or an infinity anywhere, a string jsonschema-rs cannot encode): ``agrees`` below
# allows exactly that and nothing else, so any other disagreement, in either direction, fails
# (a library that drifts shows up here, even where the drift would only cost time).


def _anywhere(test: Callable[[Any], bool], value: Any) -> bool:
    if isinstance(value, dict):
        return any(_anywhere(test, v) for v in [*value, *value.values()])
    if isinstance(value, list):
        return any(_anywhere(test, v) for v in value)
    return test(value)


def _non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _unencodable(value: Any) -> bool:
    return isinstance(value, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def agrees(fast: bool, exact: bool, value: Any) -> bool:
    """The fast verdict keeps the contract, and is exact except where the module allows."""
    if _anywhere(_non_finite, value):
        return fast is False  # read as null by jsonschema-rs: always "ask jsonschema"
    if _anywhere(_unencodable, value):
        return fast is exact or fast is False  # an encoding error means "ask jsonschema"
    return fast is exact


def _check(root: Any) -> fast_validate.Check:
    check = compile_check(root)
    assert check is not None, root
    return check


@pytest.mark.parametrize("name", KINDS)
def test_every_definition_schema_gets_a_fast_check(name: str) -> None:
    assert compile_check(schema(name)) is not None


def test_config_schema_gets_none_and_is_not_checked_fast() -> None:
    # Its path pattern needs lookahead, outside the subset translated exactly; the config
    # goes through jsonschema only (hoodsync/config.py), so nothing is lost.
    assert compile_check(schema("config")) is None


@pytest.mark.parametrize("name", [*KINDS, "config"])
def test_slow_path_validators_do_not_assert_formats(name: str) -> None:
    # The fast check treats "format" as an annotation; that is only right without a checker.
    assert getattr(validate._validator(name), "format_checker", None) is None


@pytest.mark.parametrize("kind", KINDS)
def test_fast_check_agrees_with_jsonschema_on_mutated_examples(kind: str) -> None:
    rng = random.Random(f"verdicts-{kind}")
    check = _check(schema(kind))
    slow = jsonschema.Draft202012Validator(schema(kind))
    words = sorted(_schema_words(schema(kind), set()))
    bases = _examples(kind)
    assert bases, f"no {kind} examples to mutate"
    verdicts = {True: 0, False: 0}
    for round_ in range(1500):
        doc = rng.choice(bases)
        for _ in range(rng.choice((1, 1, 2, 3))):
            doc = mutate(doc, rng, words)
        expected = slow.is_valid(doc)
        assert agrees(check(doc), expected, doc), f"round {round_}: {doc!r}"
        verdicts[expected] += 1
    # the mutations must exercise both answers, or this test could not fail
    assert verdicts[True] > 100 and verdicts[False] > 300, verdicts


EDGE_SCHEMAS: list[Any] = [
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
    {"type": "null"},
    {"type": ["string", "null"]},
    {"type": "object"},
    {"type": "array"},
    {"enum": [True, 1]},
    {"enum": [0, "0", None]},
    {"enum": [[1], {"a": 1}]},
    {"enum": ["a", "b"]},
    {"enum": [1.0]},
    {"not": {"enum": [1]}},
    {"const": 1},
    {"const": True},
    {"const": "x"},
    {"const": [1, {"a": False}]},
    {"const": None},
    {"const": 2**70},
    {"minimum": 1},
    {"maximum": 1},
    {"exclusiveMinimum": 0},
    {"exclusiveMaximum": 1.5},
    {"maximum": 2**64},
    {"minimum": -(2**63) - 1},
    {"multipleOf": 3},
    {"multipleOf": 0.5},
    {"minLength": 2, "maxLength": 3},
    {"minItems": 1, "maxItems": 2},
    {"uniqueItems": True},
    {"uniqueItems": False},
    {"pattern": "^[a-z]+$(?!\\n)"},
    {"pattern": "b"},
    {"pattern": "^x$"},
    {"not": {"pattern": "^x$"}},
    {"format": "email"},
    {"format": "uri"},
    {"required": ["a"]},
    {"minProperties": 1, "maxProperties": 1},
    {"properties": {"a": {"type": "string"}}, "additionalProperties": False},
    {"properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}},
    {
        "patternProperties": {"^a": {"type": "integer"}, "b$": {"minimum": 5}},
        "additionalProperties": False,
    },
    {"propertyNames": {"pattern": "^[a-z]+$"}},
    {"propertyNames": {"maxLength": 1}},
    {"items": {"type": "integer"}},
    {"items": False},
    {"prefixItems": [{"type": "integer"}]},
    {"contains": {"type": "string"}},
    {"dependentRequired": {"a": ["b"]}},
    {"unevaluatedProperties": False, "properties": {"a": True}},
    {"not": {"type": "string"}},
    {"allOf": [{"minimum": 0}, {"maximum": 10}]},
    {"anyOf": [{"type": "string"}, {"minimum": 5}]},
    {"oneOf": [{"type": "integer"}, {"minimum": 2}]},
    {"if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {"required": ["c"]}},
    {"if": {"type": "string"}},
    {"then": {"type": "string"}},
    True,
    False,
    {
        "$defs": {
            "n": {
                "type": "object",
                "properties": {"next": {"$ref": "#/$defs/n"}, "v": {"type": "integer"}},
                "additionalProperties": False,
            }
        },
        "$ref": "#/$defs/n",
    },
    {"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "minLength": 2},
    {"title": "annotations only", "description": "d", "examples": [1], "default": 2},
    # A property named like a keyword is not one (the pattern translation must not touch it).
    {"properties": {"pattern": {"type": "integer"}, "not": {"const": 1}}},
    # A $ref may point anywhere: patterns are translated wherever they sit.
    {"definitions": {"s": {"pattern": "^x$"}}, "$ref": "#/definitions/s"},
    {"x-extra": {"s": {"not": {"pattern": "^x$"}}}, "$ref": "#/x-extra/s"},
]
EDGE_VALUES: list[Any] = POOL + [
    {"a": "x"},
    {"a": 1},
    {"a": "x", "b": 1},
    {"b": 1},
    {"c": 1},
    {"a": 1, "b": 2},
    {"ab": 1},
    {"xb": 7},
    {"xb": 3},
    {"A": 1},
    {"next": {"next": {"v": 1}}},
    {"next": {"v": "x"}},
    {"next": {"w": 1}},
    [1, 2, 2],
    [1.5, 1.5],
    [{"a": [1]}, {"a": [True]}],
    ["ab"],
    "ab",
    "abcd",
    6,
    9,
    10,
    11,
    -0.5,
    1.5,
    2**64,
    2**64 + 1,
    -(2**63) - 1,
    2**70,
    2.0**70,
    1e308,
    5e-324,
    "x\n",
    "x\n\n",
    "\nx",
    {"x\n": 1},
    {"b\n": 9},
    {"pattern": 1},
    {"pattern": "x"},
    {"not": 1},
    "\ud800",
    {"a": "\udfff"},
    "a\u2000b@c.de",
    "\x1c",
    "é" * 3,
    "🚀🚀",
    [1, 1.0],
    [True, 1],
    [0.5, 0.5, 1],
    [[1.0], [1]],
    {"a": math.nan},
    [math.inf],
]


@pytest.mark.parametrize("index", range(len(EDGE_SCHEMAS)))
def test_fast_check_agrees_on_keyword_edge_cases(index: int) -> None:
    root = EDGE_SCHEMAS[index]
    if isinstance(root, dict):
        root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **root}
    check = _check(root)
    slow = jsonschema.Draft202012Validator(root)
    for value in EDGE_VALUES:
        try:
            exact = slow.is_valid(value)
        except (OverflowError, ValueError):  # e.g. multipleOf 0.5 on infinity
            assert check(value) is False, (root, value)  # jsonschema must be the one to fail
            continue
        assert agrees(check(value), exact, value), (root, value)


def test_nan_and_infinity_are_never_called_valid() -> None:
    # jsonschema-rs reads them as null: without the module's own scan these would pass.
    check = _check({"type": ["number", "null"], "maximum": 1, "items": {"type": "null"}})
    assert check(None) and check(0.5)
    for value in (math.nan, math.inf, -math.inf, [math.nan]):
        assert check(value) is False


# --------------------------------------------------------------------------- patterns


def _patterns(node: Any, out: set[str]) -> set[str]:
    """Every pattern (and patternProperties key) of a schema; a superset is harmless."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                out.add(value)
            elif key == "patternProperties" and isinstance(value, dict):
                out.update(value)
            _patterns(value, out)
    elif isinstance(node, list):
        for item in node:
            _patterns(item, out)
    return out


PROJECT_PATTERNS = sorted(set().union(*(_patterns(schema(k), set()) for k in KINDS)))
#: Every code point where Python's and Rust's classes could plausibly differ: controls, Latin
#: and the other small scripts, every whitespace and separator, the BOM; plus samples of every
#: plane.
PROBE_POINTS = [
    *range(0x800),
    0x1680,
    0x180E,
    *range(0x2000, 0x2070),
    0x3000,
    0x3100,
    0xFEFF,
    0xFFFD,
    0xFFFF,
    0x10000,
    0x1F680,
    0x10FFFF,
]


def _base_strings(pattern: str) -> list[str]:
    """Strings from the examples and the mutation pool that ``pattern`` matches."""
    strings: set[str] = {v for v in POOL if isinstance(v, str)}
    for path in EXAMPLES:
        for doc in _documents(path):
            stack = [doc]
            while stack:
                node = stack.pop()
                if isinstance(node, dict):
                    stack.extend(node.values())
                elif isinstance(node, list):
                    stack.extend(node)
                elif isinstance(node, str):
                    strings.add(node)
    return sorted(s for s in strings if re.search(pattern, s))[:3]


@pytest.mark.parametrize("pattern", PROJECT_PATTERNS)
def test_translated_patterns_match_what_python_matches(pattern: str) -> None:
    # Each project pattern, as jsonschema runs it (Python re.search) and as the fast check
    # runs it (translated, in Rust), on every probe character alone, and put into strings the
    # pattern matches (inserted, or replacing a character, at the start, middle and end), and
    # on those strings with a trailing newline.
    probes = [chr(c) for c in PROBE_POINTS]
    bases = _base_strings(pattern)
    texts = probes + bases + [base + "\n" for base in bases]
    for base in bases:
        for cut in (0, len(base) // 2, len(base) - 1):
            texts += [base[:cut] + p + base[cut:] for p in probes]
            texts += [base[:cut] + p + base[cut + 1 :] for p in probes]
    matched = [t for t in texts if re.search(pattern, t)]
    unmatched = [t for t in texts if not re.search(pattern, t)]
    assert len(matched) > len(bases) or not bases  # the probes exercise both answers
    # One call per side: "every item matches" and "no item matches".
    if not _check({"items": {"pattern": pattern}})(matched):
        assert not [t for t in matched if not _check({"pattern": pattern})(t)], pattern
    if not _check({"items": {"not": {"pattern": pattern}}})(unmatched):
        assert not [t for t in unmatched if _check({"pattern": pattern})(t)], pattern


def test_python_space_is_exactly_pythons_backslash_s() -> None:
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    python = set(re.findall(r"\s", every))
    check = _check({"type": "array", "items": {"not": {"pattern": "[\\s]"}}})
    # Rust, through the translation: exactly the characters Python's \s matches are refused.
    assert check([c for c in every if c not in python])
    assert not any(check([c]) for c in python)
    assert python >= {"\x1c", "\x85", "\u2028", "\u3000"}  # the ones Rust's \s lacks, and more


@pytest.mark.parametrize(
    ("pattern", "rust"),
    [
        ("^[a-z]+$(?!\\n)", "^[a-z]+$"),
        ("^[a-z]+$", "^[a-z]+\\n?\\z"),
        ("^\\u0041\\x42[\\u0000-\\u001f]", "^\\x{0041}\\x{42}[\\x{0000}-\\x{001f}]"),
        ("a{2}b{1,}c{0,3}?(?:d|e)*", "a{2}b{1,}c{0,3}?(?:d|e)*"),
        ("[]a][^]b]\\.\\-\\\\", "[]a][^]b]\\.\\-\\\\"),
        ("[$(]", "[$(]"),
    ],
)
def test_rust_pattern_translation(pattern: str, rust: str) -> None:
    assert fast_validate.rust_pattern(pattern) == rust


@pytest.mark.parametrize(
    "pattern",
    [
        "\\d",
        "[\\w]",
        "\\bx",
        "\\S",
        "(?i)a",
        "(?=a)",
        "(?!a)",
        "(?<=a)b",
        "(?P<n>a)",
        "a$b",
        "a$|b",
        "a$(?!\\n)$",
        "[a[b]",
        "[a&&b]",
        "[a--b]",
        "a{,2}",
        "a{x}",
        "a}",
        "a*+",
        "a{2}+",
        "(a)\\1",
        "\\Z",
        "\\A",
        "\\N{BULLET}",
        "[a",
        "a\\",
    ],
)
def test_patterns_outside_the_translated_subset_are_refused(pattern: str) -> None:
    with pytest.raises(fast_validate.Untranslatable):
        fast_validate.rust_pattern(pattern)
    assert compile_check({"properties": {"x": {"pattern": pattern}}}) is None
    assert compile_check({"patternProperties": {pattern: True}}) is None


def test_schemas_jsonschema_rs_refuses_get_no_fast_check() -> None:
    assert compile_check({"$ref": "https://example.invalid/other.json"}) is None
    assert compile_check({"$ref": "#/$defs/missing"}) is None
    assert compile_check({"type": "decimal"}) is None


# --------------------------------------------------------------------------- validate


def _validate(text: str, fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[str]]:
    docs = load_text(text, "m.yaml").documents
    with monkeypatch.context() as patched:
        if not fast:
            patched.setattr(validate, "_fast_valid", lambda data, name, **_: False)
        definitions, problems = validate_documents(docs, now=NOW)
    return (
        [(d.kind, d.key, d.spec, d.state, d.order, d.resume) for d in definitions],
        [f"{p} [{p.severity}] {p.path}" for p in problems],
    )


def test_validate_gives_the_same_problems_with_and_without_the_fast_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random("validate-problems")
    bases = [d for kind in KINDS for d in _examples(kind)]
    words = sorted(set().union(*(_schema_words(schema(k), set()) for k in KINDS)))
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    invalid = 0
    for round_ in range(250):
        docs = [mutate(rng.choice(bases), rng, words) for _ in range(rng.randint(1, 3))]
        text = yaml.dump_all(docs, Dumper=dumper, sort_keys=False, allow_unicode=True)
        fast = _validate(text, True, monkeypatch)
        assert fast == _validate(text, False, monkeypatch), f"round {round_}:\n{text}"
        invalid += bool(fast[1])
    assert invalid > 100


# --------------------------------------------------------------------------- loader


def _no_text_path(*args: Any) -> Any:
    raise fast_text.Fallback


def _load(
    text: str,
    fast: bool,
    monkeypatch: pytest.MonkeyPatch,
    limits: loader.Limits = loader.DEFAULT_LIMITS,
    *,
    text_path: bool | None = None,
) -> tuple[Any, ...]:
    """What ``load_text`` gives, with every fast path (``fast``) or none; ``text_path``
    switches the text path alone (default: as ``fast``)."""
    with monkeypatch.context() as patched:
        if not fast:
            patched.setattr(fast_load, "may_have_anchor", lambda text: True)
        if not (fast if text_path is None else text_path):
            patched.setattr(fast_text, "block_data", _no_text_path)
        result = load_text(text, "f.yaml", limits)
    return (
        [(repr(d.data), d.location, dict(d.locations)) for d in result.documents],
        [(p.location, p.message, p.path, p.severity) for p in result.problems],
    )


LOADER_CASES = [
    "kind: Campaign\nkey: a\nspec:\n  name: x\n  messages: [{channel: push}]\n",
    "a: 1\n---\nb: [1, 2.5, .inf, -.Inf, .nan, 0x1F, 0o17, 012, ~, null, '', true, NO]\n---\n",
    "a: 1\na: 2\n",
    "a: {b: 1, b: 2}\nc: [{d: 1, d: 1}]\n",
    "<<: {a: 1}\n",
    "'<<': 1\n",
    "1: a\n",
    "? [a]\n: 1\n",
    "~: 1\n",
    "true: 1\n",
    "a: !!python/object:os.system x\n",
    "a: !custom 1\n",
    "a: !!int '7'\n",
    "a: !!int x\n",
    "a: !!float x\n",
    "a: !!bool yes\n",
    "a: !!null x\n",
    "a: !!str 1\n",
    "a: !!timestamp 2026-01-01\n",
    "!!map {a: 1}\n",
    "!!seq [1]\n",
    "a: !!map [1]\n",
    "a: [1, 2\nb: 3\n",
    "spec:\n\tname: x\n",
    "",
    "# only a comment\n",
    "---\n---\n",
    "a: " + "[" * 70 + "]" * 70 + "\n",
    "a: " + "[" * 20 + "]" * 20 + "\n",
    "base: &b {x: 1}\nother: *b\n",
    "a: &a [*a]\n",
    "a: *nope\n",
    "x: &s str\ny: [*s, *s]\n",
    "url: https://e.com/?a=1&b=2&c\n",
    "t: Tom & Jerry\n",
    "t: 'quoted &a'\n",
    "t: [a,&b c, *b]\n",
    "k: {&x a: 1, *x : 2}\n",
    "- &a 1\n- *a\n",
    "a: |\n  block &text\n  more\n",
    "a: 'x'\nb: \"y\\n\"\nc: >\n  folded\n",
    "dup: 1\nok: &o 2\ndup: 3\n",
    "a:\n  - b: 1\n    b: 2\n  - c\n",
    "[1, 2]\n",
    "plain\n",
    "a: 1\na: 2\n---\nb: {c: [1, {d: x}]}\n---\n~\n---\ne: !!int z\n---\nf: [g]\n",
]


@pytest.mark.parametrize("index", range(len(LOADER_CASES)))
def test_loader_fast_path_matches_the_exact_builder(
    index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = LOADER_CASES[index]
    assert _load(text, True, monkeypatch) == _load(text, False, monkeypatch)
    tight = loader.Limits(max_depth=5, max_alias_nodes=3)
    assert _load(text, True, monkeypatch, tight) == _load(text, False, monkeypatch, tight)


CORRUPTIONS: list[Callable[[str, random.Random], str]] = [
    lambda line, rng: line + line[-3:],
    lambda line, rng: " " + line,
    lambda line, rng: line.replace(": ", ": &a ", 1),
    lambda line, rng: line.replace(": ", ": *a ", 1),
    lambda line, rng: line.replace(": ", ": !!int ", 1),
    lambda line, rng: line.replace(": ", ": !!str ", 1),
    lambda line, rng: "\t" + line.lstrip(),
    lambda line, rng: (
        line.split(":")[0] + ": " + rng.choice(["yes", "1e3", "0x10", "~", "[", "{a"])
    ),
    lambda line, rng: line.replace("&", " & "),
]


def test_loader_agrees_on_corrupted_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random("loader-corruptions")
    texts = [p.read_text("utf-8") for p in EXAMPLES]
    for round_ in range(200):
        lines = rng.choice(texts).splitlines()
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(lines))
            if rng.random() < 0.3:
                lines.insert(at, lines[at])  # a duplicated key, most of the time
            else:
                lines[at] = rng.choice(CORRUPTIONS)(lines[at], rng)
        text = "\n".join(lines) + "\n"
        assert _load(text, True, monkeypatch) == _load(text, False, monkeypatch), (
            f"round {round_}:\n{text}"
        )


# --------------------------------------------------------------------------- loader: text path
#
# ``fast_text.block_data`` reads the common block-style part of YAML without libyaml. Every
# comparison below is between ``load_text`` with every fast path and with none (and with only
# the text path off): same documents, same locations, same problems. The cases also check that
# the text path really reads what it should, or these tests could pass without it.

#: Texts the text path reads (``block_data`` returns), covering each construct it accepts.
TEXT_READ = [
    "kind: Campaign\nkey: a\nspec:\n  name: x\n",
    "# c\n\nkind: Campaign   # trailing\nspec:   # c\n  n: 1\n  f: 1.5\n  b: true\n  z: ~\n",
    "---\nkind: X\n",
    "--- # start\n# c\nkind: X\n",
    "a:\n- 1\n- two\n-\nb: x\n",
    "a:\n  - x\n  - y: 1\n    z: [a, -1, 2.5, .inf, true, null]\n  -   w: 2\n      v:\n      - q\n",
    "a: []\nb: {}\nc: [ ]\nd: [a,b , c]\ne: ''\nf: 'it''s: # x'\ng: \"x: #y\"\n",
    "a: http://x.org/a?b=1&c=2#frag\nb: a#b\nc: 1:30\nd: -5\ne: +7\nf: 012\ng: 0x1F\nh: 0o17\n",
    "a: NO\nb: yes\nc: Off\nd: 2026-01-01 10:00:00\ne: 1_000\nf: .NaN\ng: -.Inf\nh: 1e3\n",
    "a: x, y]\nb: a{b}\nc: ?x\nd: :x\ne: --x\nf: <<\ng: vår 🚀\nh: a' b\" c\ni: 'x'   \n",
    "a:\n  b:\n    c:\n      d: 1\n  e: 2\nf:\n",
    "a:\n-\n  b: 1\n- c\n-\n  - d\n",
    "  indented: 1\n  root: 2\n",
    "a:\n- b\nc:\n  - d\n  -\n",
    "no_newline: at end",
    "a: 1\n---\nb: 2\n--- # c\n\n  c: [x y, 'q', \"1723\", -1]\n",
    "a: 1\n\n\n# tail\n",
    "a: #x\n",
    "a: 1\n  # deeper comment\nb: 2\n",
]

#: Texts the text path leaves to libyaml (valid or not); the loader must still agree.
TEXT_LEFT = [
    "",
    "# only\n",
    "- a\n",
    "plain\n",
    "a: 1\n...\n",
    "%YAML 1.2\n---\na: 1\n",
    "a: 1\n---\n",
    "---\n---\na: 1\n",
    "a: b\n  c\n",
    "a: b\n\n  c\n",
    "a: 'x'\n  b\n",
    "- a\n  b\n",
    "a:\n  plain\n",
    "a: |\n  text\n",
    "a: >\n  text\n",
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "a: !x 1\n",
    "a:\tb\n",
    "a: b\r\nc: d\r\n",
    "a: \x85b\n",
    "a: b\u2028c\n",
    "a: \ufeffb\n",
    "a: \x07\n",
    "a: 1\na: 2\n",
    "true: 1\n",
    "null: 1\n",
    "'a': 1\n",
    "a b: 1\n",
    "a : 1\n",
    "a:b\n",
    "a: b: c\n",
    "a: b:\n",
    "a: - b\n",
    "a: [a, [b]]\n",
    "a: ['a''b']\n",
    "a: [1, 2,]\n",
    "a: {b: 1}\n",
    "a: [\n  1]\n",
    "a: 'open\n",
    'kind: C\nspec:\n  name: "open\n' + "  - x: 1\n" * 20,
    "a: [1,\n\nb: 3\n",
    'a: "esc\\n"\n',
    "a: @x\n",
    "a: `x\n",
    "a: %x\n",
    "a: ,x\n",
    "a: -\n",
    "? a\n: 1\n",
    "a: 1\n b: 2\n",
    "a:\n  b: 1\n c: 2\n",
    "a:\n- b\n  - c\n",
    "- - a\n",
    "a: 1\n- b\n",
    "a:\n  - b\n  c: 1\n",
    "<<: {a: 1}\n",
    "x" * 200 + ": 1\n",
    "a: " + "[" * 70 + "]" * 70 + "\n",
    "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 70)),
]


@pytest.mark.parametrize("text", TEXT_READ)
def test_text_path_reads_these_exactly_as_libyaml(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_text.block_data(text, 64, loader._SCALARS)  # read by the text path
    exact = _load(text, False, monkeypatch)
    assert exact[0] and not exact[1]  # valid YAML: one document, no problem
    assert _load(text, True, monkeypatch) == exact
    assert _load(text, True, monkeypatch, text_path=False) == exact


@pytest.mark.parametrize("text", TEXT_LEFT)
def test_text_path_leaves_these_to_libyaml(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(fast_text.Fallback):
        fast_text.block_data(text, 64, loader._SCALARS)
    assert _load(text, True, monkeypatch) == _load(text, False, monkeypatch)


def test_text_path_stays_within_the_depth_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "a:\n  b:\n    c:\n      d: [1]\n"
    for depth in range(7):
        limits = loader.Limits(max_depth=depth)
        assert _load(text, True, monkeypatch, limits) == _load(text, False, monkeypatch, limits)


#: Keys and values random documents are made of: words the text path reads, and everything
#: near its edges (indicators, quotes, comments, colons, types of the core schema, spaces,
#: line breaks, tabs, non-ASCII, long texts that the dumper folds over several lines).
TEXT_KEYS = [
    "kind",
    "spec",
    "name",
    "a",
    "b-c",
    "_x",
    "key1",
    "true",
    "null",
    "NO",
    "on",
    "a b",
    "a:b",
    "-x",
    "1",
    "ü",
    "",
    "<<",
    "x#y",
    "k" * 130,
    "t",
    "n",
]
TEXT_VALUES: list[Any] = [
    *POOL,
    "a: b",
    "a #b",
    "#a",
    "- a",
    "-",
    "'q'",
    '"dq"',
    "a\\b",
    "x,y",
    "[a]",
    "{a}",
    "a:",
    ":a",
    "?a",
    "? a",
    "1:30",
    "012",
    "0o17",
    "0x1F",
    ".inf",
    "-.5",
    "+1",
    "~",
    "null",
    "true",
    " lead",
    "trail ",
    "two\nlines",
    "tab\tx",
    "\x85",
    "é",
    "😀",
    "&a",
    "*a",
    "!a",
    "%a",
    "@a",
    "`a",
    "|",
    ">",
    "a  b",
    "a ' b",
    "---",
    "...",
    "x: ",
    "word " * 30,
    "<<",
    "a\\nb",
]


def _random_value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth < 4 and roll < 0.25:
        return {
            rng.choice(TEXT_KEYS): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))
        }
    if depth < 4 and roll < 0.4:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return copy.deepcopy(rng.choice(TEXT_VALUES))


def _random_yaml(rng: random.Random) -> str:
    doc = {rng.choice(TEXT_KEYS[:8]): _random_value(rng, 1) for _ in range(rng.randint(1, 5))}
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(  # type: ignore[no-any-return]
        doc,
        Dumper=dumper,
        sort_keys=rng.random() < 0.5,
        allow_unicode=rng.random() < 0.7,
        default_flow_style=rng.choice([False, False, None, True]),
        default_style=rng.choice([None] * 8 + ["'", '"']),
        width=rng.choice([20, 80, 1000]),
        indent=rng.choice([2, 2, 4]),
        explicit_start=rng.random() < 0.2,
    )


def test_text_path_agrees_on_generated_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random("text-path")
    read = 0
    for round_ in range(700):
        text = _random_yaml(rng)
        assert _load(text, True, monkeypatch) == _load(text, False, monkeypatch), (
            f"round {round_}:\n{text}"
        )
        try:
            fast_text.block_data(text, 64, loader._SCALARS)
            read += 1
        except fast_text.Fallback:
            pass
    assert read > 80  # the text path read a good share, so it was really compared


TEXT_CORRUPTIONS: list[Callable[[str, random.Random], str]] = [
    lambda line, rng: " " + line,
    lambda line, rng: line[1:],
    lambda line, rng: "  " + line,
    lambda line, rng: "- " + line,
    lambda line, rng: line.replace(": ", ":", 1),
    lambda line, rng: line.replace(": ", " : ", 1),
    lambda line, rng: line.replace(": ", ":\n  ", 1),
    lambda line, rng: line + rng.choice([" #c", "#c", ":", " :", " ", "'", "\t", "]", ": x"]),
    lambda line, rng: line.replace("- ", "-", 1),
    lambda line, rng: line.replace("- ", "- - ", 1),
    lambda line, rng: line.replace("'", "", 1),
    lambda line, rng: rng.choice(["---", "...", "#", "-", "? x", "  -", "x", "  x: 1"]),
    lambda line, rng: line.upper(),
]


def test_text_path_agrees_on_corrupted_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random("text-corruptions")
    sources = [p.read_text("utf-8") for p in EXAMPLES]
    for round_ in range(600):
        base = rng.choice(sources) if rng.random() < 0.5 else _random_yaml(rng)
        lines = base.splitlines() or [""]
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(lines))
            if rng.random() < 0.2:
                lines.insert(at, lines[at])
            else:
                lines[at] = rng.choice(TEXT_CORRUPTIONS)(lines[at], rng)
        text = "\n".join(lines) + rng.choice(["\n", "", "\n\n"])
        assert _load(text, True, monkeypatch) == _load(text, False, monkeypatch), (
            f"round {round_}:\n{text}"
        )


def test_text_path_agrees_on_random_token_soup(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random("text-soup")
    pieces = [
        "a",
        "b",
        ": ",
        ":",
        "- ",
        "-",
        "  ",
        " ",
        "\n",
        "\n  ",
        "\n- ",
        "#",
        " #x",
        "'",
        "''",
        '"',
        "[",
        "]",
        "{}",
        ", ",
        "1",
        "~",
        "true",
        "x y",
        "---",
        "?",
        "&",
        "*",
        "!",
        "|",
        "\\",
    ]
    for round_ in range(3000):
        text = "k: " + "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        assert _load(text, True, monkeypatch) == _load(text, False, monkeypatch), (
            f"round {round_}: {text!r}"
        )


def test_text_path_reads_every_example() -> None:
    for path in EXAMPLES:
        fast_text.block_data(path.read_text("utf-8"), 64, loader._SCALARS)


def _shares_nodes(text: str) -> bool:
    """Does any document of ``text`` reach one node twice (i.e. use an alias)?"""
    for root in loader._nodes(text):
        seen: set[int] = set()
        stack: list[Node] = [root]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                return True
            seen.add(id(node))
            if isinstance(node, SequenceNode):
                stack.extend(node.value)
            elif isinstance(node, MappingNode):
                for key, value in node.value:
                    stack.extend((key, value))
    return False


ANCHORED = [
    "a: &x 1\nb: *x\n",
    "- &x 1\n- *x\n",
    "[&x 1, *x]\n",
    "{a: &x 1, b: *x}\n",
    "[a,&x 1, *x]\n",
    '{"a":&x 1, b: *x}\n',
    "&x [1]\n",
    "? &x a\n: *x\n",
    "a: !!str &x 1\nb: *x\n",
    "a:\n  &x\n  b: 1\nc: *x\n",
    "---\n&x a\n",
]


@pytest.mark.parametrize("text", ANCHORED)
def test_anchor_precheck_sees_every_anchor(text: str) -> None:
    try:
        shares = _shares_nodes(text)
    except yaml.YAMLError:
        shares = False
    assert fast_load.may_have_anchor(text), text
    assert shares or "---" in text or "&x [1]" in text  # the case is really an anchor


def test_anchor_precheck_is_never_wrong_on_random_texts() -> None:
    rng = random.Random("anchors")
    pieces = [
        "a",
        "b: ",
        "- ",
        "&x ",
        "*x ",
        "[",
        "]",
        "{",
        "}",
        ", ",
        ":",
        "?",
        "!",
        "\n",
        "  ",
        "&",
        "=",
        "1",
        "'",
        '"',
        "https://e.com/?q=1&r=2",
        "\t",
        "#",
    ]
    checked = 0
    for _ in range(4000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        try:
            shares = _shares_nodes(text)
        except yaml.YAMLError:
            continue
        checked += 1
        if shares:
            assert fast_load.may_have_anchor(text), repr(text)
    assert checked > 500


def test_fast_resolver_gives_the_original_tags() -> None:
    rng = random.Random("resolver")
    words = [
        "",
        "~",
        "null",
        "Null",
        "NULL",
        "nul",
        "true",
        "True",
        "TRUE",
        "tRue",
        "false",
        "no",
        "yes",
        "on",
        "0",
        "012",
        "0o17",
        "0x1F",
        "0x",
        "-1",
        "+1",
        "1.5",
        ".5",
        "1e3",
        "1E-3",
        ".inf",
        "-.Inf",
        ".NaN",
        ".nan",
        "1_000",
        "1:30",
        "2026-01-01",
        "name",
        "title",
        "<<",
        "=",
        "-",
        ".",
        "+",
        "+.inf",
        "0b1",
        "1.",
        "-.5e+3",
    ]
    words += [
        "".join(rng.choice("0123456789.+-eE_xoabnNtTfF~:") for _ in range(rng.randint(1, 6)))
        for _ in range(3000)
    ]
    original: Callable[..., Any] = loader._CoreResolver().resolve
    fast: Callable[..., Any] = loader._FastCoreResolver().resolve
    for word in words + words:  # twice: the second time comes from the cache
        for implicit in ((True, False), (False, True), (False, False)):
            assert fast(ScalarNode, word, implicit) == original(ScalarNode, word, implicit), (
                word,
                implicit,
            )
    for kind in (SequenceNode, MappingNode):
        assert fast(kind, None, (False, False)) == original(kind, None, (False, False))


def test_path_display_matches_the_general_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "repo" / "sub").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    for rel in ("repo/a.yaml", "repo/sub/b.yaml", "elsewhere/c.yaml"):
        (tmp_path / rel).write_text("a: 1\n")
    os.symlink(tmp_path / "elsewhere", tmp_path / "repo" / "link")
    os.symlink(tmp_path / "repo" / "a.yaml", tmp_path / "repo" / "sub" / "alias.yaml")
    monkeypatch.chdir(tmp_path / "repo")
    display = loader._Displayer()
    for raw in (
        "a.yaml",
        "./sub/b.yaml",
        "sub/../a.yaml",
        "link/c.yaml",
        "sub/alias.yaml",
        str(tmp_path / "repo" / "sub" / "b.yaml"),
        str(tmp_path / "elsewhere" / "c.yaml"),
        "../elsewhere/c.yaml",
        "missing/x.yaml",
    ):
        assert display(Path(raw)) == loader.display_path(Path(raw)), raw


def test_lazy_locations_are_those_of_the_exact_builder() -> None:
    text = "kind: Campaign\nspec:\n  messages:\n    - name: a\n    - name: b\n---\nx: [1, {y: 2}]\n"
    fast_docs = load_text(text, "l.yaml").documents
    assert all(isinstance(d.locations, fast_load.LazyLocations) for d in fast_docs)
    assert str(fast_docs[0].locate(("spec", "messages", 1, "name"))) == "l.yaml:5:7"
    assert dict(fast_docs[1].locations) == {
        (): Location("l.yaml", 7, 1),
        ("x",): Location("l.yaml", 7, 1),
        ("x", 0): Location("l.yaml", 7, 5),
        ("x", 1): Location("l.yaml", 7, 8),
        ("x", 1, "y"): Location("l.yaml", 7, 9),
    }


def test_collector_pause_nests_and_restores() -> None:
    assert gc.isenabled()
    with loader.collector_paused():
        assert not gc.isenabled()
        with loader.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block still holds it
    assert gc.isenabled()
    with pytest.raises(RuntimeError), loader.collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_file_that_grew_after_stat_is_read_whole_or_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("kind: Campaign\nkey: grown\nspec: {name: x}\n")
    real_stat = os.stat

    def shrunk_stat(file: Any, *args: Any, **kwargs: Any) -> Any:
        st = real_stat(file, *args, **kwargs)
        if isinstance(file, (str, os.PathLike)) and os.fspath(file) == str(path):
            # stat() saw the file before its last 20 bytes were written
            return os.stat_result(
                (
                    st.st_mode,
                    st.st_ino,
                    st.st_dev,
                    st.st_nlink,
                    st.st_uid,
                    st.st_gid,
                    st.st_size - 20,
                    0,
                    0,
                    0,
                )
            )
        return st

    monkeypatch.setattr(os, "stat", shrunk_stat)
    [doc] = loader.load_file(path).documents
    assert doc.data == {"kind": "Campaign", "key": "grown", "spec": {"name": "x"}}
    [problem] = loader.load_file(path, loader.Limits(max_file_bytes=30)).problems
    assert "file is 31 bytes" in problem.message


class _Trickle:
    """An unbuffered file whose reads return at most ``step`` bytes (as a raw read may)."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.at, self.step = data, 0, step

    def read(self, size: int) -> bytes:
        chunk = self.data[self.at : self.at + min(size, self.step)]
        self.at += len(chunk)
        return chunk


def test_short_raw_reads_still_read_the_whole_file() -> None:
    data = b"kind: Campaign\nkey: k\n" * 10
    for step in (1, 7, len(data), len(data) + 5):
        assert loader._read_up_to(_Trickle(data, step), len(data) + 1) == data  # type: ignore[arg-type]
        assert loader._read_up_to(_Trickle(data, step), 5) == data[:5]  # type: ignore[arg-type]


# --------------------------------------------------------------------------- wire: coerce_paths


def _coerce_one_path_at_a_time(data: dict[str, Any], ids: Any, ints: Any) -> None:
    """``coerce_paths`` as it was written before its paths were walked as one tree."""
    for path in ids:
        if path[0] in data:
            wire.coerce(data, path, wire.to_str_id)
    for path in ints:
        if path[0] in data:
            wire.coerce(data, path, wire.to_int)


_COERCE_LEAVES: list[Any] = [1, 7.0, 2.5, "12", " 3 ", "-4", "x", "", True, None, "٣", 2**70]


def _coerce_value(rng: random.Random, keys: list[str], depth: int) -> Any:
    roll = rng.random()
    if depth < 4 and roll < 0.3:
        return {
            rng.choice(keys): _coerce_value(rng, keys, depth + 1) for _ in range(rng.randint(0, 5))
        }
    if depth < 4 and roll < 0.5:
        return [_coerce_value(rng, keys, depth + 1) for _ in range(rng.randint(0, 4))]
    return rng.choice(_COERCE_LEAVES)


PATH_LISTS = [
    (wire.CAMPAIGN_ID_PATHS, wire.CAMPAIGN_INT_PATHS),
    (wire.PUSH_TASK_ID_PATHS, wire.PUSH_TASK_INT_PATHS),
    # overlapping, repeated and "*"-first paths, and one field in both lists
    ((("a",), ("a", "b"), ("*", "c"), ("a", "*"), ("a", "b")), (("a", "b"), ("*",), ("d",))),
]


@pytest.mark.parametrize("lists", range(len(PATH_LISTS)))
def test_coerce_paths_is_coerce_along_each_path(lists: int) -> None:
    ids, ints = PATH_LISTS[lists]
    keys = sorted({part for path in (*ids, *ints) for part in path} | {"zz"})
    rng = random.Random(f"coerce-{lists}")
    for round_ in range(2000):
        data = {rng.choice(keys): _coerce_value(rng, keys, 1) for _ in range(rng.randint(0, 6))}
        expected = copy.deepcopy(data)
        _coerce_one_path_at_a_time(expected, ids, ints)
        coerce_paths(data, ids, ints)
        assert repr(data) == repr(expected), f"round {round_}"


@pytest.mark.parametrize("lists", range(len(PATH_LISTS)))
def test_coerced_paths_is_coerce_paths_on_a_deep_copy_and_leaves_its_input_alone(
    lists: int,
) -> None:
    ids, ints = PATH_LISTS[lists]
    keys = sorted({part for path in (*ids, *ints) for part in path} | {"zz"})
    rng = random.Random(f"coerced-{lists}")
    for round_ in range(2000):
        data = {rng.choice(keys): _coerce_value(rng, keys, 1) for _ in range(rng.randint(0, 6))}
        if data and rng.random() < 0.2:  # one container reachable twice (a YAML alias)
            first = next(iter(data))
            data[rng.choice(keys)] = data[first]
        before = repr(data)
        expected = kinds_base.copy_json(data)
        coerce_paths(expected, ids, ints)
        got = wire.coerced_paths(data, ids, ints)
        assert repr(got) == repr(expected), f"round {round_}"
        assert repr(data) == before and got is not data, f"round {round_}"


def test_coerced_paths_copies_only_what_it_changes() -> None:
    messages = [{"id": 1, "push": {"title": {"en": "Hi"}}}, {"id": "2", "push": {}}]
    spec = {"name": "x", "labels": ["a"], "messages": messages, "ab_test": {"test_split": 5}}
    got = wire.coerced_paths(spec, wire.CAMPAIGN_ID_PATHS, wire.CAMPAIGN_INT_PATHS)
    assert got["messages"][0] == {"id": "1", "push": {"title": {"en": "Hi"}}}
    assert messages[0]["id"] == 1  # the input keeps its own values
    assert got["messages"][0]["push"] is messages[0]["push"]  # unchanged below: shared
    assert got["messages"][1] is messages[1] and got["labels"] is spec["labels"]
    assert got["ab_test"] is spec["ab_test"]


@pytest.mark.parametrize("kind", KINDS)
def test_normalise_shared_equals_normalise_on_mutated_specs(kind: str) -> None:
    """What planning normalises specs with (sharing unchanged containers) is what the deep
    copy gave, value and type for value and type, and the spec is left as it was."""
    rules = RULES[Kind(kind)]
    rng = random.Random(f"normalise-{kind}")
    words = sorted(_schema_words(schema(kind), set()) | {"id", "company_id", "priority"})
    bases = [d["spec"] for d in _examples(kind) if isinstance(d.get("spec"), dict)]
    assert bases, f"no {kind} examples"
    for round_ in range(1500):
        spec = rng.choice(bases)
        for _ in range(rng.choice((0, 1, 2, 3))):
            spec = mutate(spec, rng, words)
        if not isinstance(spec, dict):
            continue
        before = repr(spec)
        assert repr(rules.normalise_shared(spec)) == repr(rules.normalise(spec)), round_
        assert repr(spec) == before, f"round {round_}: the spec was changed"
    # A spec that is another Mapping is normalised into a plain dict, ids coerced, as before.
    spec = _ReadOnly({"name": "x", "id": 7, "messages": [{"id": 1, "priority": "2"}]})
    assert repr(rules.normalise_shared(spec)) == repr(rules.normalise(spec))


# --------------------------------------------------------------------------- kinds: project


def _project_as_written_first(desired: Any, remote: Any) -> Any:
    """``kinds.base.project`` before its exact-type shortcuts."""
    if isinstance(desired, dict):
        if not isinstance(remote, dict):
            return remote
        out = {}
        for k, v in desired.items():
            if k in remote:
                out[k] = _project_as_written_first(v, remote[k])
            elif v is None:
                out[k] = None
        return out
    if isinstance(desired, list):
        if not isinstance(remote, list):
            return remote
        n = len(desired)
        head = [_project_as_written_first(d, r) for d, r in zip(desired, remote)]
        return head + list(remote[n:])
    return remote


def test_project_gives_what_it_gave_before_its_shortcuts() -> None:
    rng = random.Random("project")
    keys = ["a", "b", "c", "labels", "messages"]
    values: list[Any] = [None, 0, 1, 1.0, True, "x", "", [], {}]

    def value(depth: int) -> Any:
        roll = rng.random()
        if depth < 4 and roll < 0.3:
            return {rng.choice(keys): value(depth + 1) for _ in range(rng.randint(0, 4))}
        if depth < 4 and roll < 0.5:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return copy.deepcopy(rng.choice(values))

    for round_ in range(3000):
        desired = value(0)
        remote = value(0) if rng.random() < 0.5 else mutate(desired, rng, keys)
        expected = _project_as_written_first(desired, remote)
        got = kinds_base.project(desired, remote)
        assert repr(got) == repr(expected), f"round {round_}"


def test_projects_to_itself_answers_what_comparing_the_projection_answers() -> None:
    rng = random.Random("projects-to-itself")
    keys = ["a", "b", "labels", "name", "channel"]
    nan = float("nan")
    values: list[Any] = [None, 0, 1, 1.0, True, "x", "", "push", [], {}, nan, (1,), _ReadOnly({})]

    def value(depth: int) -> Any:
        roll = rng.random()
        if depth < 4 and roll < 0.3:
            return {rng.choice(keys): value(depth + 1) for _ in range(rng.randint(0, 4))}
        if depth < 4 and roll < 0.45:  # an array of messages, identified by name and channel
            return [
                {"name": rng.choice("xyz"), "channel": "push", "a": value(depth + 1)}
                for _ in range(rng.randint(1, 3))
            ]
        if depth < 4 and roll < 0.55:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return rng.choice(values)  # not copied: the same NaN object is equal to itself

    answers = {True: 0, False: 0}
    for round_ in range(5000):
        desired = value(0)
        roll = rng.random()
        if roll < 0.3:
            remote = value(0)
        elif roll < 0.6:
            remote = kinds_base.copy_json(desired)  # equal, with extra keys added below
            if isinstance(remote, dict):
                remote["zz"] = 1
        elif roll < 0.75 and isinstance(desired, list):
            remote = desired[::-1]  # messages in another order
        else:
            remote = mutate(desired, rng, keys)
        expected = kinds_base.project(desired, remote) == desired
        assert kinds_base.projects_to_itself(desired, remote) is expected, f"round {round_}"
        answers[expected] += 1
    assert answers[True] > 1000 and answers[False] > 1000, answers


def test_copy_json_copies_every_container_into_plain_ones() -> None:
    rng = random.Random("copy-json")

    def value(depth: int) -> Any:
        roll = rng.random()
        if depth < 4 and roll < 0.35:
            data = {rng.choice("abcde"): value(depth + 1) for _ in range(rng.randint(0, 4))}
            return _ReadOnly(data) if rng.random() < 0.1 else data
        if depth < 4 and roll < 0.55:
            items = [value(depth + 1) for _ in range(rng.randint(0, 4))]
            return tuple(items) if rng.random() < 0.1 else items
        return rng.choice(POOL[:20])

    def plain(v: Any) -> Any:  # what copy_json promises: the same data in plain dicts/lists
        if isinstance(v, Mapping):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    def containers(v: Any) -> Iterator[int]:
        if isinstance(v, (dict, list)):
            yield id(v)
            for x in v.values() if isinstance(v, dict) else v:
                yield from containers(x)

    for round_ in range(2000):
        original = value(0)
        before = repr(plain(original))
        copied = kinds_base.copy_json(original)
        assert repr(copied) == before, f"round {round_}"  # same data, plain containers only
        assert repr(plain(original)) == before  # the original is untouched
        assert not set(containers(copied)) & set(containers(original))  # nothing shared


def test_text_path_asks_the_loader_to_type_every_scalar_that_may_not_be_a_string() -> None:
    # The text path takes a plain scalar whose first character is not in ``first`` as a
    # string without asking: true of every such scalar under the loader's resolver.
    rng = random.Random("first-characters")
    alphabet = [chr(c) for c in range(0x20, 0x7F)] + ["é", "€", "😀"]
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        if text[0] not in loader._SCALARS.first:
            assert loader._SCALARS.typed(text) == text, text


# --------------------------------------------------------------------------- one scan per document


def test_validate_scans_each_document_for_nan_and_infinity_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The fast check used to scan every document again for what the value rule had found;
    # the scan for strings holding "${" (malformed interpolations) is the same walk.
    text = "".join(p.read_text(encoding="utf-8") + "\n---\n" for p in EXAMPLES)
    docs = [
        d
        for d in load_text(text.rstrip("-\n"), "all.yaml").documents
        if isinstance(d.data, dict) and d.data.get("kind") in KINDS
    ]
    scans: list[int] = []
    for owner, name in ((validate, "_scan"), (fast_validate, "_all_finite")):
        original = getattr(owner, name)

        def counted(root: Any, original: Callable[[Any], Any] = original) -> Any:
            scans.append(1)
            return original(root)

        monkeypatch.setattr(owner, name, counted)
    definitions, problems = validate_documents(docs, now=NOW)
    assert definitions and not problems
    assert len(scans) == len(docs)


@pytest.mark.parametrize("kind", KINDS)
def test_fast_check_told_finite_answers_as_without_the_promise(kind: str) -> None:
    rng = random.Random(f"finite-{kind}")
    check = _check(schema(kind))
    words = sorted(_schema_words(schema(kind), set()))
    for base in _examples(kind):
        for _ in range(60):
            value = mutate(base, rng, words)
            if not _anywhere(_non_finite, value):
                assert check(value, finite=True) is check(value), value


# --------------------------------------------------------------------------- ${env: pre-check


def _holds_mark(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_holds_mark(k) or _holds_mark(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_holds_mark(v) for v in value)
    return isinstance(value, str) and fast_interpolate.MARK in value


def test_reference_precheck_never_misses_a_reference() -> None:
    rng = random.Random("may-reference")

    class Text(str):  # a str subclass: marshal refuses it
        pass

    pieces = [
        "${env:",
        "${env:A}",
        "$${env:B}",
        "${OCMH}",
        "$",
        "{env:",
        "env:",
        "é",
        "😀",
        "x" * 300,
        "ü" * 200,
        "\n",
        "\x00",
        "\ud800",
    ]

    def text() -> str:
        out = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4)))
        return Text(out) if rng.random() < 0.05 else out

    def value(depth: int, shared: list[Any]) -> Any:
        roll = rng.random()
        if shared and roll < 0.1:
            return rng.choice(shared)  # the same object again (marshal writes a reference)
        if depth < 4 and roll < 0.4:
            out: Any = {text(): value(depth + 1, shared) for _ in range(rng.randint(0, 4))}
            if rng.random() < 0.05:
                out = _ReadOnly(out)
        elif depth < 4 and roll < 0.6:
            out = [value(depth + 1, shared) for _ in range(rng.randint(0, 4))]
            if rng.random() < 0.05:
                out = tuple(out)
        elif roll < 0.85:
            out = text()
        else:
            out = rng.choice(POOL[:20])
        shared.append(out)
        return out

    seen = 0
    for round_ in range(4000):
        spec = value(0, [])
        holds = _holds_mark(spec)
        seen += holds
        if holds:
            assert fast_interpolate.may_reference(spec), f"round {round_}: {spec!r}"
    assert seen > 1000


class _ReadOnly(Mapping[str, Any]):
    """A Mapping that is not a dict."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_plan_plain_copies_as_before_its_exact_type_checks() -> None:
    from hoodsync import plan as plan_module

    def reference(value: Any) -> Any:  # _plain before its exact-type shortcuts
        if isinstance(value, Mapping):
            return {str(k): reference(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [reference(v) for v in value]
        return value

    class Key(str):
        pass

    rng = random.Random("plain")

    def value(depth: int) -> Any:
        roll = rng.random()
        if depth < 4 and roll < 0.35:
            data = {
                rng.choice(["a", "b", Key("c"), 1, None]): value(depth + 1)
                for _ in range(rng.randint(0, 4))
            }
            return _ReadOnly(data) if rng.random() < 0.1 else data
        if depth < 4 and roll < 0.55:
            items = [value(depth + 1) for _ in range(rng.randint(0, 4))]
            return tuple(items) if rng.random() < 0.1 else items
        return rng.choice([*POOL[:20], Key("k")])

    for round_ in range(2000):
        original = value(0)
        got, expected = plan_module._plain(original), reference(original)
        assert repr(got) == repr(expected), f"round {round_}"
        assert [type(k) for k in _keys(got)] == [type(k) for k in _keys(expected)]


def _keys(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def test_canonical_json_is_json_dumps_with_its_options() -> None:
    from hoodsync.plan import canonical_json

    rng = random.Random("canonical")

    def value(depth: int) -> Any:
        roll = rng.random()
        if depth < 4 and roll < 0.35:
            return {rng.choice(["b", "a", "é", "10", "9"]): value(depth + 1) for _ in range(4)}
        if depth < 4 and roll < 0.55:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return rng.choice(POOL)

    for _ in range(2000):
        data = value(0)
        expected = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert canonical_json(data) == expected


def test_text_path_documents_share_their_key_strings() -> None:
    # 10,000 definitions repeat a few hundred keys ~400,000 times: one object per key.
    texts = ["kind: Campaign\nspec:\n  name: a\n", "kind: PushTask\nspec:\n  name: b\n"]
    (first, _, _), (second, _, _) = (fast_text.block_data(t, 64, loader._SCALARS)[0] for t in texts)
    for one, other in ((first, second), (first["spec"], second["spec"])):
        assert [id(k) for k in one] == [id(k) for k in other]


def test_unsafe_character_check_is_the_unsafe_pattern() -> None:
    rng = random.Random("unsafe")
    alphabet = [chr(c) for c in range(0x80)] + ["é", "\u2028", "\ufeff", "\x85", "😀"]
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        if rng.random() < 0.5:
            text = "key: value\n" * 3 + text
        assert fast_text._unsafe(text) is (fast_text._UNSAFE.search(text) is not None), text
    for code in range(0x80):
        assert fast_text._unsafe(chr(code)) is (fast_text._UNSAFE.search(chr(code)) is not None)


def _discover_with_paths(paths: list[str]) -> list[str]:
    """``loader.discover`` by another route: ``os.walk`` following symlinked folders (not
    into a folder holding the link), a ``Path`` per file, every name of every file; then each
    real file once: under its first name through no symlink, else its first name through
    one; a name given as a PATH only when no walk found a better one. (``discover`` reads a
    folder once, so of the names through symlinks it sees only some, and takes the least:
    the trees compared give the same answer either way.)"""
    walked: dict[str, list[tuple[bool, str]]] = {}
    for raw in paths or ["."]:
        path = Path(raw)
        if not path.is_dir():
            continue
        real_root = os.path.realpath(path)
        for folder, dirnames, filenames in os.walk(path, followlinks=True):
            real = os.path.realpath(folder)
            relative = os.path.relpath(folder, path)
            linked = real != os.path.normpath(os.path.join(real_root, relative))
            own = folder != str(path) and any(n in filenames for n in loader.CONFIG_FILENAMES)
            dirnames[:] = [
                d
                for d in sorted(dirnames)
                if not own
                and not d.startswith(".")
                and not (real + os.sep).startswith(
                    os.path.realpath(os.path.join(folder, d)).rstrip(os.sep) + os.sep
                )
            ]
            if own:
                continue
            for name in sorted(filenames):
                if not name.startswith(".") and loader._is_definition_file(name):
                    file = Path(folder) / name
                    names = walked.setdefault(os.path.realpath(file), [])
                    names.append((linked or file.is_symlink(), str(file)))
    found = {}
    for real, names in walked.items():
        plain = [name for linked, name in names if not linked]
        found[real] = (False, plain[0]) if plain else (True, names[0][1])
    for raw in paths or ["."]:
        path = Path(raw)
        if not path.is_dir() and os.path.lexists(path):
            real = os.path.realpath(path)
            if real not in found or (found[real][0] and not path.is_symlink()):
                found[real] = (path.is_symlink(), str(path))
    return sorted(name for _, name in found.values())


def test_discover_names_are_the_paths_discover_gave(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for rel in ["a.yaml", "b.yml", "sub/c.yaml", "sub/deeper/d.yaml", "sub/x.txt", "e f.yaml"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("a: 1\n")
    (tmp_path / "link").symlink_to(tmp_path / "sub")
    (tmp_path / "sub" / "deeper" / "z.yaml").symlink_to(tmp_path / "a.yaml")
    (tmp_path / "sub" / "deeper" / "up").symlink_to(tmp_path / "sub")  # a loop
    (tmp_path.parent / f"{tmp_path.name}-out").mkdir()
    (tmp_path.parent / f"{tmp_path.name}-out" / "o.yaml").write_text("a: 1\n")
    (tmp_path / "outside").symlink_to(tmp_path.parent / f"{tmp_path.name}-out")
    monkeypatch.chdir(tmp_path)
    spellings = [
        [],
        ["."],
        ["./"],
        [".", "./sub", "sub/", "sub//deeper", "./sub/../sub"],
        [str(tmp_path), str(tmp_path) + "/", str(tmp_path) + "/./sub"],
        ["a.yaml", "./a.yaml", "sub/x.txt", "sub/c.yaml", "sub"],
        ["link", "link/"],
        ["missing", "sub"],
        ["/" + str(tmp_path).lstrip("/"), "/" + str(tmp_path)],  # "//tmp/...": its own root
        ["sub/deeper/z.yaml", "link", "outside/o.yaml"],
    ]
    for paths in spellings:
        names, problems = loader.discover_names(paths)
        assert names == _discover_with_paths(paths), paths
        assert [str(p) for p in loader.discover(paths)[0]] == names
        assert problems == loader.discover(paths)[1]
        # the names problems carry, from the walk, are those the general rule gives
        files, _ = loader.discover_files(paths)
        assert [name for name, _ in files] == names
        assert [display for _, display in files] == [
            loader.display_path(Path(name)) for name in names
        ], paths


# --------------------------------------------------------------------------- render: value texts


class _Word(str):
    pass


class _Count(int):
    pass


def test_encoded_is_what_the_encoder_writes() -> None:
    """``render.common._encoded`` writes scalars itself; the text is the encoder's."""
    rng = random.Random("encoded")
    values: list[Any] = [None, True, False, 0, -1, 2**63, -(2**70), 10**300, _Count(3)]
    values += [1.0, -0.0, 1e16, 1.5e-7, math.nan, math.inf, -math.inf, _Word("w\\n")]
    values += ["", "x", 'q"\\', "\x00\x1f\x7f\x85", "\u2028é😀", "\ud800", [1, "a"], {"b": 1}]
    for _ in range(2000):
        values.append("".join(chr(rng.randrange(0x110000)) for _ in range(rng.randint(0, 8))))
        values.append(rng.randint(-(2**80), 2**80))
    for value in values:
        assert render_common._encoded(value) == render_common._ENCODER.encode(value), repr(value)


def _full_skeleton(text: str) -> str:
    """``lookalikes.skeleton`` without its shortcut for printable ASCII, character by
    character: compatibility forms folded, what shows as nothing dropped, whitespace and the
    characters drawn blank a space, look-alikes their ASCII character; then runs of spaces one,
    and none at either end."""
    kept = []
    for char in unicodedata.normalize("NFKC", text):
        if char.isspace() or char in terminal.BLANKS:
            kept.append(" ")
        elif unicodedata.category(char) not in ("Cf", "Mn", "Me", "Cc", "Cs", "Co", "Cn"):
            kept.append(lookalikes.LOOKALIKES.get(char, char))
    return re.sub(" +", " ", "".join(kept)).strip(" ")


def test_printable_ascii_needs_no_skeleton() -> None:
    """``skeleton`` and ``differ_to_the_eye`` answer what the full skeleton answers."""
    rng = random.Random("skeleton")
    pool = ["a", "b", " ", "~", "\x7f", "\x1f", "\u00a0", "\u0301", "é", "\u200b", "\t", "A"]
    pool += ["\u0430", "\u0405", "\u3164", "\uffa0", "\u2800", "\u3000", "\n", "\u2028"]
    for round_ in range(5000):
        one = "".join(rng.choice(pool) for _ in range(rng.randint(0, 6)))
        other = one if rng.random() < 0.2 else "".join(rng.choice(pool[:4]) for _ in range(3))
        assert lookalikes.skeleton(one) == _full_skeleton(one), f"round {round_}"
        expected = _full_skeleton(one) != _full_skeleton(other)
        assert lookalikes.differ_to_the_eye(one, other) is expected, f"round {round_}"


def test_printable_ascii_skips_the_terminal_escaping_and_nothing_else() -> None:
    """``printable`` and ``json_safe`` give what the pattern alone gives, on every ASCII
    character, the unsafe ones beyond it, runner commands (``##[``, a leading ``::``) and
    random strings of all of them."""
    rng = random.Random("terminal")
    specials = [chr(c) for c in range(0x80)] + ["\x85", "\u00a0", "\u200b", "\u202e", "é"]
    specials += ["\u3164", "\u2800", "\u034f", "\u206f", "\U0001d173", "\U000e0100"]
    specials += ["\ud800", "\U000e0041", "😀", "\ufeff", "##[", "::", "#", "["]
    texts = specials + ["plain text", 'messages["Hello"].push.title.en', "", _Word("w")]
    for _ in range(5000):
        texts.append("".join(rng.choice(specials) for _ in range(rng.randint(0, 10))))
    for text in texts:
        shown = terminal._ESCAPED.sub(terminal._text_escape, str(text))
        lead = terminal._LEADING_COMMAND.match(shown)
        if lead is not None:
            shown = shown[: lead.end() - 1] + "\\x3a" + shown[lead.end() :]
        assert terminal.printable(text) == shown, repr(text)
        assert terminal.json_safe(text) == terminal._ESCAPED.sub(terminal._json_escape, text), repr(
            text
        )
    assert terminal.printable(12) == "12" and terminal.printable(None) == "None"
