"""${env:NAME} interpolation: resolution, escaping, sensitive paths, missing variables."""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from typing import Any

import pytest

from hoodsync.definitions.interpolate import (
    _TOKEN,
    TemplateIndex,
    escape,
    fits_template,
    has_reference,
    malformed,
    masked,
    reference_names,
    reference_paths,
    resolve,
    resolve_reporting,
    template_literals,
)
from hoodsync.errors import DefinitionError
from hoodsync.identity import ValueKey
from hoodsync.model import Definition, Kind, Location

KEY = ValueKey(b"k" * 32)


def test_resolves_nested_values_and_reports_their_paths() -> None:
    spec: dict[str, Any] = {
        "name": "Welcome",
        "messages": [{"push": {"landing_url": "https://x.test/?t=${env:TOKEN}", "n": 3}}],
        "metadata": {"a": "${env:A}${env:B}"},
    }
    resolved, paths = resolve(spec, {"TOKEN": "s3cr3t", "A": "1", "B": "2"})
    assert resolved["messages"][0]["push"]["landing_url"] == "https://x.test/?t=s3cr3t"
    assert resolved["metadata"]["a"] == "12"
    assert resolved["messages"][0]["push"]["n"] == 3
    assert paths == [("messages", 0, "push", "landing_url"), ("metadata", "a")]
    # the input is left untouched
    assert spec["messages"][0]["push"]["landing_url"].endswith("${env:TOKEN}")


def test_plain_strings_and_api_placeholders_are_not_sensitive() -> None:
    spec = {"utm_tracking": {"utm_source": "${OCMH_UTM_SOURCE}"}, "name": "plain"}
    resolved, paths = resolve(spec, {})
    assert resolved == spec
    assert paths == []


def test_escape_gives_the_literal_reference() -> None:
    resolved, paths = resolve({"x": "$${env:HOME} stays"}, {"HOME": "/root"})
    assert resolved == {"x": "${env:HOME} stays"}
    assert paths == []
    assert not has_reference("$${env:HOME}")
    assert has_reference("a ${env:HOME}")


def test_missing_variables_are_all_reported_with_their_location() -> None:
    loc = Location("campaigns/a.yaml", 3, 1)
    d = Definition(
        Kind.CAMPAIGN,
        "a",
        {"name": "${env:NAME_ONE}", "description": "${env:NAME_TWO}"},
        loc,
        locations={("spec", "description"): Location("campaigns/a.yaml", 9, 16)},
    )
    with pytest.raises(DefinitionError) as info:
        resolve(d.spec, {}, definition=d)
    lines = sorted(str(p) for p in info.value.problems)
    assert lines == [
        "campaigns/a.yaml:3:1: error: environment variable NAME_ONE is not set "
        "(used as ${env:NAME_ONE}) (spec.name)",
        "campaigns/a.yaml:9:16: error: environment variable NAME_TWO is not set "
        "(used as ${env:NAME_TWO}) (spec.description)",
    ]


def test_a_string_with_a_missing_variable_stays_as_written_and_the_rest_resolves() -> None:
    spec = {"a": "x ${env:SET} ${env:UNSET}", "b": "${env:SET}", "c": "${env:TOKEN}"}
    resolved, paths, problems = resolve_reporting(
        spec,
        {"SET": "v", "TOKEN": "t"},
        location=Location("f.yaml", 2, 1),
        forbidden=frozenset({"TOKEN"}),
    )
    assert resolved == {"a": "x ${env:SET} ${env:UNSET}", "b": "v", "c": "${env:TOKEN}"}
    assert paths == [("b",)]
    assert [(p.path, p.message.split(" ")[0]) for p in problems] == [
        (("spec", "a"), "environment"),
        (("spec", "c"), "TOKEN"),
    ]


def test_the_shown_fingerprint_is_keyed_not_a_hash_anyone_can_compute() -> None:
    """Anyone can hash a guess: the fp must be an HMAC under the account's key."""
    value = "Use code 482913 today"
    shown = hmac.new(b"k" * 32, value.encode(), hashlib.sha256).hexdigest()[:4]
    assert masked(value, key=KEY) == f"(sensitive, fp {shown})"
    assert shown != hashlib.sha256(value.encode()).hexdigest()[:4]  # what an attacker computes
    other = ValueKey(b"o" * 32)  # another account: another fp for the same value
    assert masked(value, key=other) != masked(value, key=KEY)
    assert masked(value, key=KEY) == masked(value, key=ValueKey(b"k" * 32))  # stable
    assert "482913" not in masked(value, key=KEY)


def test_without_a_key_no_fingerprint_is_shown() -> None:
    assert masked("abc", key=None) == "(sensitive)"
    assert masked("abc", ("PROMO",), key=None) == "(sensitive ${env:PROMO})"


def test_masked_names_its_variables_but_not_the_value() -> None:
    text = masked("SPRING-24", ("PROMO_CODE",), key=KEY)
    assert text == f"(sensitive ${{env:PROMO_CODE}}, fp {KEY.shown('SPRING-24')})"
    assert "SPRING" not in text
    assert masked("x", ("A", "B"), key=KEY).startswith("(sensitive ${env:A} ${env:B}, fp ")


def test_reference_names_skip_escapes_and_repeats() -> None:
    assert reference_names("${env:A}-$${env:B}-${env:A}-${env:C}") == ("A", "C")


def test_forbidden_names_are_refused_without_reading_them() -> None:
    class Spy(dict[str, str]):
        def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
            assert key != "HOOD_API_TOKEN", "a forbidden value was read"
            return super().get(key, default)

    env = Spy(HOOD_API_TOKEN="tok-1", OK="fine")
    with pytest.raises(DefinitionError) as info:
        resolve(
            {"a": "${env:OK}", "b": ["x ${env:HOOD_API_TOKEN}"]},
            env,
            location=Location("d.yaml", 3, 1),
            forbidden=frozenset({"HOOD_API_TOKEN"}),
        )
    (problem,) = info.value.problems
    assert problem.path == ("spec", "b", 0)
    assert "HOOD_API_TOKEN holds an API credential" in problem.message
    assert "tok-1" not in str(info.value)


def test_reference_paths_lists_what_resolve_marks_sensitive_without_an_environment() -> None:
    spec = {"name": "N", "m": [{"t": "a ${env:A} ${env:B}"}, {"t": "$${env:C}"}], "n": 3}
    assert reference_paths(spec) == {("m", 0, "t"): ("A", "B")}
    assert list(reference_paths(spec)) == resolve(spec, {"A": "1", "B": "2"})[1]
    assert reference_paths({"name": "plain"}) == {}


# --------------------------------------------------------------------------- the grammar's edges


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("${env:PROMO-CODE}", [("${env:PROMO-CODE}", "'PROMO-CODE' is not a variable name")]),
        ("${env: PROMO}", [("${env: PROMO}", "did you mean ${env:PROMO}?")]),
        ("${ENV:PROMO}", [("${ENV:PROMO}", "did you mean ${env:PROMO}?")]),
        ("${Env :  X }", [("${Env :  X }", "did you mean ${env:X}?")]),
        ("a ${env:PROMO b", [("${env:PROMO", "no '}' closes it")]),
        ("${env:A ${env:B}", [("${env:A", "no '}' closes it")]),
        ("${env}", [("${env}", "it is not ${env:NAME}")]),
        ("${env:}", [("${env:}", "it names no variable")]),
        ("${env:1X}", [("${env:1X}", "'1X' is not a variable name")]),
        # not malformed: references, escapes, and ${...} that does not start like a reference
        ("${env:A} $${env:B} $${ENV:C} $${env:D-E}", []),
        ("${OCMH_UTM_SOURCE} ${ENVIRONMENT} ${env_x} ${environ} $env:X {env:X}", []),
    ],
)
def test_malformed_references_say_what_was_meant(text: str, found: list[tuple[str, str]]) -> None:
    assert [(shown, why.split(" (")[0]) for shown, why in malformed(text)] == found


def test_a_dollar_before_anything_that_starts_like_a_reference_makes_it_text() -> None:
    spec = {"a": "$${ENV:X} $${env: X} $${env:A-B} $${env:X", "b": "$$${env:X}"}
    resolved, paths = resolve(spec, {"X": "value"})
    assert resolved == {"a": "${ENV:X} ${env: X} ${env:A-B} ${env:X", "b": "$${env:X}"}
    assert paths == []


def test_escape_keeps_any_text_as_written() -> None:
    """What export and pull write for a value read from an account: interpolated, it is the
    value again, and it holds no malformed reference (validation would refuse it)."""
    rng = random.Random("escape")
    pieces = ["$", "$$", "${", "{", "}", "env", "ENV", "Env", ":", " ", "X", "-", "1", "\n", "é"]
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        written = escape(text)
        assert malformed(written) == [], (text, written)
        assert not has_reference(written)
        assert resolve({"v": written}, {"X": "no"}) == ({"v": text}, []), (text, written)


def _regex_of(text: str) -> re.Pattern[str]:
    """The pattern the planner matched remote names against before :func:`fits_template`
    (``template_pattern``): each reference ``.*`` across line ends, the rest literal. Kept
    as the reference the matcher must agree with."""
    parts: list[str] = []
    at = 0
    for m in _TOKEN.finditer(text):
        parts.append(re.escape(text[at : m.start()]))
        if m.group(1):
            parts.append(re.escape(m.group(0)[1:]))
        elif m.group(2):
            parts.append(".*")
        else:
            parts.append(re.escape(m.group(0)))
        at = m.end()
    parts.append(re.escape(text[at:]))
    return re.compile("".join(parts), re.DOTALL)


#: What random templates and names are made of: literal text that repeats (so that pieces
#: recur and overlap), line ends, references, escaped and malformed ones.
_TEMPLATE_BITS = ["a", "b", "ab", "aba", " ", "\n", "$", "{", "}", "${env:X}", "${env:Y}"]
_TEMPLATE_BITS += ["$${env:X}", "${ENV:Z}", "${env:", "$$"]
_NAME_BITS = ["a", "b", "ab", " ", "\n", "$", "{", "}", "${env:X}", "${ENV:Z}", "${env:"]


def _random_text(rng: random.Random, bits: list[str], most: int) -> str:
    return "".join(rng.choice(bits) for _ in range(rng.randrange(most + 1)))


def test_fits_template_agrees_with_the_regex_it_replaced() -> None:
    rng = random.Random(20261206)
    for _ in range(1500):
        template = _random_text(rng, _TEMPLATE_BITS, 6)
        literals = template_literals(template)
        assert len(literals) == 1 + sum(1 for _ in REFERENCE_ONLY.finditer(template))
        pattern = _regex_of(template)
        names = [_random_text(rng, _NAME_BITS, 8) for _ in range(20)]
        # ... and names that fit by construction: the literals around random values
        names += ["".join(_join_with(literals, rng)) for _ in range(5)]
        for name in names:
            expected = pattern.fullmatch(name) is not None
            assert fits_template(literals, name) is expected, (template, name)


REFERENCE_ONLY = re.compile(r"(?<!\$)\$\{env:[A-Za-z_][A-Za-z0-9_]*\}")


def _join_with(literals: tuple[str, ...], rng: random.Random) -> list[str]:
    out = [literals[0]]
    for piece in literals[1:]:
        out += [_random_text(rng, _NAME_BITS, 3), piece]
    return out


def test_template_index_finds_the_first_template_a_name_fits() -> None:
    rng = random.Random(7)
    for _ in range(300):
        templates = [_random_text(rng, _TEMPLATE_BITS, 5) for _ in range(rng.randrange(1, 8))]
        index: TemplateIndex[int] = TemplateIndex()
        for at, template in enumerate(templates):
            index.add(template, at)
        patterns = [_regex_of(t) for t in templates]
        for _ in range(20):
            name = _random_text(rng, _NAME_BITS, 8)
            expected = next((i for i, p in enumerate(patterns) if p.fullmatch(name)), None)
            assert index.first(name) == expected, (templates, name)


class _CountingName(str):
    """A name that counts the searches made in it (one per template piece looked for)."""

    searches = 0

    def startswith(self, *args: Any) -> bool:  # type: ignore[override]
        _CountingName.searches += 1
        return super().startswith(*args)

    def endswith(self, *args: Any) -> bool:  # type: ignore[override]
        _CountingName.searches += 1
        return super().endswith(*args)

    def find(self, *args: Any) -> int:  # type: ignore[override]
        _CountingName.searches += 1
        return super().find(*args)


def test_templates_that_start_and_end_with_a_reference_are_found_by_a_middle_piece() -> None:
    # Their first and last pieces are empty, so the prefix and suffix lookups could not tell
    # them apart: 10,000 templates "${env:P} promo N ${env:C}" beside 10,000 names cost 68 s.
    index: TemplateIndex[int] = TemplateIndex()
    for i in range(10_000):
        index.add(f"${{env:P}} promo {i} ${{env:C}}", i)
    index.add("${env:A}${env:B}", -2)  # references alone fit every name, and still mask
    for name, value in [
        ("Spring promo 42 EN", 42),
        ("Spring promo 4242 FR", 4242),  # " promo 4242 " is there, and " promo 42 " is not
        ("promo 7 ", -2),  # the references may be empty, but not the spaces around "promo"
        ("unmanaged object number 5", -2),
    ]:
        _CountingName.searches = 0
        assert index.first(_CountingName(name)) == value
        # the templates whose longest middle piece the name holds, and the catch-all
        assert _CountingName.searches <= 12


def test_a_long_name_that_does_not_fit_costs_one_search_per_piece() -> None:
    # Before, each reference was a ".*": against six of them, a regex tried ~n**6 ways to split
    # a 120-character name that did not fit (half a minute); remote names are anyone's text.
    template = " ".join(f"${{env:V{i}}}" for i in range(6)) + " weekly"
    literals = template_literals(template)
    assert literals == ("", " ", " ", " ", " ", " ", " weekly")
    for name in (" " * 120, " ".join(["word"] * 100), " " * 100_000 + " weekl", "x" * 120):
        _CountingName.searches = 0
        assert not fits_template(literals, _CountingName(name))
        assert _CountingName.searches <= len(literals)
    fitting = "a b c d e f weekly"
    assert fits_template(literals, fitting) and fits_template(literals, "      weekly")


def test_the_index_tests_a_name_only_against_templates_it_may_fit() -> None:
    # Before, every unmanaged object was matched against every template of its kind: 10,000
    # push tasks named "${env:BRAND} digest N" beside 10,000 others planned in 20 s.
    index: TemplateIndex[int] = TemplateIndex()
    for i in range(10_000):
        index.add(f"${{env:BRAND}} digest {i}", i)
    index.add("Digest ${env:BRAND}", -1)
    index.add("${env:ANY}", -2)  # a reference alone fits every name, and still masks
    for name, value in [
        ("Other task 5", -2),
        ("Brand digest 42", 42),  # the one template with its suffix, before the catch-all
        ("Digest of the week", -1),
        ("Brand digest 42 old", -2),
    ]:
        _CountingName.searches = 0
        assert index.first(_CountingName(name)) == value
        # one or two templates tested (a prefix, a suffix, a middle piece each), not 10,002
        assert _CountingName.searches <= 6
