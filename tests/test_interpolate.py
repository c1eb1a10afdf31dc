"""${env:NAME} interpolation: resolution, escaping, sensitive paths, missing variables."""

from __future__ import annotations

import hashlib
import hmac
import random
from typing import Any

import pytest

from hoodsync.definitions.interpolate import (
    escape,
    has_reference,
    malformed,
    masked,
    reference_names,
    reference_paths,
    resolve,
    resolve_reporting,
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
