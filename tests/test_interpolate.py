"""${env:NAME} interpolation: resolution, escaping, sensitive paths, missing variables."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from hoodsync.definitions.interpolate import fingerprint, has_reference, masked, resolve
from hoodsync.errors import DefinitionError
from hoodsync.model import Definition, Kind, Location


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


def test_fingerprint_is_the_first_four_hex_of_sha256() -> None:
    assert fingerprint("abc") == hashlib.sha256(b"abc").hexdigest()[:4]
    assert masked("abc") == f"(sensitive, fp {fingerprint('abc')})"
    assert "abc" not in masked("abc")
