"""The shared comparison machinery: projection, the differ, masking, templating."""

from __future__ import annotations

from hoodsync.definitions.interpolate import masked
from hoodsync.kinds.base import (
    Desired,
    changed_top_keys,
    diff,
    field_diffs,
    mask_paths,
    project,
    spec_hash,
    template_body,
)
from hoodsync.model import Definition, Kind, Location


def test_projection_keeps_only_stated_keys_element_by_element() -> None:
    desired = {"name": "A", "messages": [{"name": "m", "push": {"title": {"en": "Hi"}}}]}
    remote = {
        "name": "A",
        "id": "1",
        "utm_tracking": {"enabled": 1},
        "messages": [
            {"id": "7", "winner": 0, "name": "m", "push": {"title": {"en": "Hi"}, "icon": "x"}}
        ],
    }
    assert project(desired, remote) == desired


def test_projection_keeps_extra_remote_elements_and_maps_absent_to_null() -> None:
    assert project([{"a": 1}], [{"a": 1, "b": 2}, {"a": 3}]) == [{"a": 1}, {"a": 3}]
    assert project({"cron": None, "x": 1}, {"x": 1}) == {"cron": None, "x": 1}
    assert project({"x": 1}, {}) == {}


def test_diff_lists_field_level_paths() -> None:
    before = {"labels": ["spring", "sale"], "ab": {"split": 30}, "m": [{"n": "a"}]}
    after = {"labels": ["spring", "promo"], "ab": {"split": 40}, "m": [{"n": "a"}, {"n": "b"}]}
    got = diff(before, after)
    assert got == [
        (("labels", 1), "change", "sale", "promo"),
        (("ab", "split"), "change", 30, 40),
        (("m", 1), "add", None, {"n": "b"}),
    ]
    assert changed_top_keys(got) == ["labels", "ab", "m"]
    assert diff([1, 2, 3], [1]) == [((1,), "remove", 2, None), ((2,), "remove", 3, None)]
    assert diff({}, {"a": 1}) == [(("a",), "add", None, 1)]
    assert diff("x", {"a": 1}) == [((), "change", "x", {"a": 1})]


def test_diff_treats_numeric_and_boolean_spellings_as_equal() -> None:
    assert diff({"enabled": True}, {"enabled": 1}) == []
    assert diff({"n": 1.0}, {"n": 1}) == []


def test_field_diffs_mask_sensitive_values_on_both_sides() -> None:
    raw = [
        (("push", "url"), "change", "old-secret", "new-secret"),
        (("push",), "add", None, {"url": "new-secret", "t": "x"}),
        (("other",), "change", "a", "b"),
    ]
    out = field_diffs(raw, [("push", "url")])
    assert out[0].before == masked("old-secret") and out[0].after == masked("new-secret")
    assert out[1].after == {"url": masked("new-secret"), "t": "x"}
    assert out[2].before == "a" and out[2].after == "b"
    assert "secret" not in repr(out)


def test_mask_paths_ignores_missing_paths_and_copies() -> None:
    value = {"a": {"b": "s"}}
    assert mask_paths(value, [("a", "b"), ("zz", 1)]) == {"a": {"b": masked("s")}}
    assert value == {"a": {"b": "s"}}
    assert mask_paths("s", [()]) == masked("s")


def test_template_body_puts_templates_back() -> None:
    d = Definition(Kind.CAMPAIGN, "k", {"name": "N", "m": [{"u": "${env:U}"}]}, Location("f"))
    des = Desired(d, {"name": "N", "m": [{"u": "secret"}]}, (("m", 0, "u"),))
    assert template_body({"m": [{"u": "secret"}]}, des) == {"m": [{"u": "${env:U}"}]}
    assert template_body({"name": "N"}, des) == {"name": "N"}
    sv = des.sensitive_values()
    assert [(s.path, s.template) for s in sv] == [("m[0].u", "${env:U}")]


def test_spec_hash_depends_on_spec_state_and_secret_fingerprint_only() -> None:
    a = spec_hash({"n": "x", "u": "s1"}, "active", [("u",)])
    assert a == spec_hash({"u": "s1", "n": "x"}, "active", [("u",)])
    assert a != spec_hash({"n": "x", "u": "s1"}, "paused", [("u",)])
    assert a != spec_hash({"n": "x", "u": "s2"}, "active", [("u",)])
    assert len(a) == 16
