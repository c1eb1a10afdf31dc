"""The shared comparison machinery: projection, the differ, masking, templating."""

from __future__ import annotations

import hashlib

from hoodsync.definitions.interpolate import masked
from hoodsync.identity import ValueKey
from hoodsync.kinds.base import (
    Desired,
    changed_top_keys,
    diff,
    field_diffs,
    follow_order,
    mask_alike,
    mask_paths,
    project,
    spec_hash,
    template_body,
)
from hoodsync.model import Definition, Kind, Location

KEY = ValueKey(b"k" * 32)


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
    out = field_diffs(raw, [("push", "url")], key=KEY)
    assert out[0].before == masked("old-secret", key=KEY)
    assert out[0].after == masked("new-secret", key=KEY)
    assert out[1].after == {"url": masked("new-secret", key=KEY), "t": "x"}
    assert out[2].before == "a" and out[2].after == "b"
    assert "secret" not in repr(out)


def test_mask_paths_ignores_missing_paths_and_copies() -> None:
    value = {"a": {"b": "s"}}
    assert mask_paths(value, [("a", "b"), ("zz", 1)], key=KEY) == {"a": {"b": masked("s", key=KEY)}}
    assert value == {"a": {"b": "s"}}
    assert mask_paths("s", [()], key=KEY) == masked("s", key=KEY)


def test_template_body_puts_templates_back() -> None:
    d = Definition(Kind.CAMPAIGN, "k", {"name": "N", "m": [{"u": "${env:U}"}]}, Location("f"))
    des = Desired(d, {"name": "N", "m": [{"u": "secret"}]}, (("m", 0, "u"),))
    assert template_body({"m": [{"u": "secret"}]}, des) == {"m": [{"u": "${env:U}"}]}
    assert template_body({"name": "N"}, des) == {"name": "N"}
    sv = des.sensitive_values()
    assert [(s.path, s.template) for s in sv] == [("m[0].u", "${env:U}")]


def test_sensitive_values_record_a_long_keyed_fingerprint_or_none_without_a_key() -> None:
    d = Definition(Kind.CAMPAIGN, "k", {"name": "${env:N}", "u": "x ${env:U}"}, Location("f"))
    des = Desired(d, {"name": "Secret", "u": "x 42"}, (("name",), ("u",)), KEY)
    name, u = des.sensitive_values()
    assert u.fp == KEY.check("x 42") and len(u.fp) == 32  # 128 bits: no change slips through
    assert u.fp != hashlib.sha256(b"x 42").hexdigest()[:32]
    assert des.shown_name == f"(sensitive ${{env:N}}, fp {KEY.check('Secret')[:4]})"
    keyless = Desired(d, des.spec, des.sensitive)
    assert [s.fp for s in keyless.sensitive_values()] == [None, None]
    assert keyless.shown_name == "(sensitive ${env:N})"


def test_spec_hash_depends_on_spec_state_and_secret_fingerprint_only() -> None:
    a = spec_hash({"n": "x", "u": "s1"}, "active", [("u",)], key=KEY)
    assert a == spec_hash({"u": "s1", "n": "x"}, "active", [("u",)], key=KEY)
    assert a != spec_hash({"n": "x", "u": "s1"}, "paused", [("u",)], key=KEY)
    assert a != spec_hash({"n": "x", "u": "s2"}, "active", [("u",)], key=KEY)
    assert len(a) == 16
    # Keyed: another account's key hashes the same spec differently (the hash is in plans).
    assert a != spec_hash({"n": "x", "u": "s1"}, "active", [("u",)], key=ValueKey(b"o" * 32))
    # Without a key the value does not enter at all.
    keyless = spec_hash({"n": "x", "u": "s1"}, "active", [("u",)], key=None)
    assert keyless == spec_hash({"n": "x", "u": "s2"}, "active", [("u",)], key=None)


def test_spec_hash_without_sensitive_values_is_the_one_campaigns_already_store() -> None:
    spec = {"n": "x", "labels": ["a"]}
    stored = hashlib.sha256(b'{"spec":{"labels":["a"],"n":"x"},"state":"active"}').hexdigest()
    assert spec_hash(spec, "active", [], key=KEY) == stored[:16]
    assert spec_hash(spec, "active", [], key=None) == stored[:16]


# --- aligned arrays -------------------------------------------------------------------------


def _msg(name: str, title: str = "t", channel: str = "push", **extra: object) -> dict[str, object]:
    return {"name": name, "channel": channel, "push": {"title": {"en": title}}, **extra}


def _shown(before: object, after: object) -> list[tuple[str, str, object, object]]:
    """The field diffs as (path, op, before, after) after projecting ``before`` on ``after``."""
    return [
        (d.path, d.op, d.before, d.after)
        for d in field_diffs(diff(project(after, before), after), [], key=KEY)
    ]


def test_scalar_insertion_removal_and_move_are_one_diff_each() -> None:
    assert _shown({"l": ["a", "b", "c"]}, {"l": ["z", "a", "b", "c"]}) == [
        ("l[0]", "add", None, "z")
    ]
    assert _shown({"l": ["a", "b", "c"]}, {"l": ["a", "c"]}) == [("l[1]", "remove", "b", None)]
    [moved] = field_diffs(
        diff({"l": ["a", "b", "c", "d"]}, {"l": ["a", "c", "d", "b"]}), [], key=KEY
    )
    assert (moved.path, moved.op, moved.before, moved.after, moved.item) == ("l", "move", 1, 3, "b")
    assert moved.to_dict()["item"] == "b"
    # A value replaced in place stays one change; repeated values are matched one to one.
    assert _shown({"l": ["a", "b", "c"]}, {"l": ["a", "x", "c"]}) == [("l[1]", "change", "b", "x")]
    assert [d.op for d in field_diffs(diff(["a", "a", "b"], ["b", "a", "a"]), [], key=KEY)] == [
        "move"
    ]
    # Swapping two around a fixed element moves the two, never the one that stayed in place.
    swapped = field_diffs(diff(["x", "y", "z"], ["z", "y", "x"]), [], key=KEY)
    assert [(d.item, d.before, d.after) for d in swapped] == [("z", 2, 0), ("x", 0, 2)]
    assert _shown({"l": ["a", "b"]}, {"l": ["c", "d", "e"]}) == [
        ("l[0]", "change", "a", "c"),
        ("l[1]", "change", "b", "d"),
        ("l[2]", "add", None, "e"),
    ]


def test_messages_are_aligned_by_name_and_projected_on_the_same_message() -> None:
    remote = [_msg("A", id="1", winner=0), _msg("B", id="2"), _msg("C", id="3")]
    desired = [_msg("New"), _msg("A"), _msg("B"), _msg("C")]
    # Each remote message is cut down on the desired message of its name, wherever it sits.
    assert project(desired, remote) == [_msg("A"), _msg("B"), _msg("C")]
    assert _shown({"messages": remote}, {"messages": desired}) == [
        ('messages["New"]', "add", None, _msg("New"))
    ]
    assert _shown({"messages": remote}, {"messages": [_msg("A"), _msg("C")]}) == [
        ('messages["B"]', "remove", _msg("B", id="2"), None)
    ]
    assert _shown({"messages": remote}, {"messages": [_msg("A"), _msg("B", "u"), _msg("C")]}) == [
        ('messages["B"].push.title.en', "change", "t", "u")
    ]
    reordered = [_msg("C"), _msg("A"), _msg("B", "u")]
    assert _shown({"messages": remote}, {"messages": reordered}) == [
        ('messages["C"]', "move", 2, 0),
        ('messages["B"].push.title.en', "change", "t", "u"),
    ]
    # A renamed message is another message: the old one removed, the new one added.
    assert [
        (p, op) for p, op, *_ in _shown({"messages": remote[:1]}, {"messages": [_msg("Z")]})
    ] == [('messages["A"]', "remove"), ('messages["Z"]', "add")]


def test_a_name_on_two_channels_is_shown_with_its_channel() -> None:
    remote = [_msg("Hi"), _msg("Hi", channel="email")]
    desired = [_msg("Hi", channel="email", title="u"), _msg("Hi")]
    # (A swap of two is one move: of the element the longest kept run leaves out.)
    assert _shown({"m": remote}, {"m": desired}) == [
        ('m["Hi" (email)]', "move", 1, 0),
        ('m["Hi" (email)].push.title.en', "change", "t", "u"),
    ]


def test_arrays_of_other_objects_and_equal_spellings_keep_today_s_rules() -> None:
    actions = [{"title": "a"}, {"title": "b"}]
    assert _shown({"actions": actions}, {"actions": [{"title": "b"}]}) == [
        ("actions[0].title", "change", "a", "b"),
        ("actions[1]", "remove", {"title": "b"}, None),
    ]
    assert diff({"l": [1, True, 2]}, {"l": [True, 1, 2.0]}) == []
    # Messages without names are aligned by position.
    assert project([{"channel": "push", "x": 1}], [{"channel": "push", "x": 2, "id": "9"}]) == [
        {"channel": "push", "x": 2}
    ]


def test_field_diffs_hide_null_create_fields_and_sensitive_move_and_names() -> None:
    raw = [(("run_immediately",), "add", None, None), (("name",), "add", None, "N")]
    assert [d.path for d in field_diffs(raw, [], key=KEY)] == ["name"]
    moved = diff({"l": ["a", "s3cret"]}, {"l": ["s3cret", "a"]})
    [shown] = field_diffs(moved, [("l", 0)], key=KEY)
    assert shown.op == "move" and "s3cret" not in repr(shown)
    changed = diff([_msg("Secret name", "t")], [_msg("Secret name", "u")])
    [named] = field_diffs(changed, [(0, "name")], key=KEY)
    assert named.path == "[0].push.title.en" and "Secret" not in repr(named)


def test_field_diffs_mask_a_message_only_the_remote_holds_and_name_it_by_index() -> None:
    # The definition's first message takes its name and title from ${env:PROMO}; the account
    # still holds the message made with the old value, which is a secret too.
    before = [_msg("plain", "x"), _msg("msg OLDSECRET", "Code OLDSECRET", winner=0)]
    after = [_msg("plain", "x"), _msg("msg NEW", "Code NEW")]
    sensitive = [(1, "name"), (1, "push", "title", "en")]
    names = {p: ("PROMO",) for p in sensitive}
    shown = field_diffs(diff(project(after, before), after), sensitive, names, key=KEY)
    assert [(d.path, d.op) for d in shown] == [("[1]", "remove"), ("[1]", "add")]
    assert "OLDSECRET" not in repr(shown) and "NEW" not in repr(shown)
    removed = shown[0].before
    assert removed["name"] == masked("msg OLDSECRET", ("PROMO",), key=KEY)
    assert removed["push"]["title"]["en"] == masked("Code OLDSECRET", ("PROMO",), key=KEY)
    assert removed["winner"] == 0  # what no definition interpolates stays readable


def test_field_diffs_keep_a_remote_only_message_label_when_no_name_is_sensitive() -> None:
    before = [_msg("a", "x"), _msg("gone", "OLDSECRET")]
    after = [_msg("a", "x")]  # its title is interpolated, and unchanged
    [gone] = field_diffs(diff(project(after, before), after), [(0, "push", "title", "en")], key=KEY)
    assert gone.path == '["gone"]' and gone.op == "remove"
    assert gone.before["push"]["title"]["en"] == masked("OLDSECRET", key=KEY)


def test_field_diffs_mask_unpaired_elements_of_an_array_of_scalars() -> None:
    # labels: ["${env:LBL}"] resolved to "a,b": the account splits it into two labels.
    shown = field_diffs(diff({"labels": ["a", "b"]}, {"labels": ["a,b"]}), [("labels", 0)], key=KEY)
    assert [(d.path, d.op) for d in shown] == [("labels[0]", "change"), ("labels[1]", "remove")]
    assert shown[1].before == masked("b", key=KEY)
    # A value replaced in place where another element is the secret: its old value may be it.
    raw = diff({"l": ["OLD", "y"]}, {"l": ["x", "NEW"]})
    assert [d.before for d in field_diffs(raw, [("l", 1)], key=KEY)] == [
        masked("OLD", key=KEY),
        masked("y", key=KEY),
    ]
    assert [d.after for d in field_diffs(raw, [("l", 1)], key=KEY)] == ["x", masked("NEW", key=KEY)]
    assert field_diffs(raw, [], key=KEY)[0].before == "OLD"  # nothing sensitive: nothing masked


def test_mask_alike_masks_every_element_of_arrays_on_the_path() -> None:
    remote = {
        "name": "N",
        "labels": ["a", "b"],
        "messages": [_msg("m1", "OLD1"), _msg("m2", "OLD2"), "odd"],
    }
    paths = {("messages", 0, "push", "title", "en"): ("T",), ("labels", 3): ()}
    got = mask_alike(remote, paths, key=KEY)
    assert got["name"] == "N"
    assert got["labels"] == [masked("a", key=KEY), masked("b", key=KEY)]
    assert [m["push"]["title"]["en"] for m in got["messages"][:2]] == [
        masked("OLD1", ("T",), key=KEY),
        masked("OLD2", ("T",), key=KEY),
    ]
    assert got["messages"][2] == masked(
        "odd", ("T",), key=KEY
    )  # a path into a scalar masks it whole
    assert remote["labels"] == ["a", "b"]  # a copy
    assert mask_alike(remote, {}, key=KEY) is remote


def test_follow_order_puts_shared_elements_in_the_wanted_order_in_place() -> None:
    assert follow_order(["a", "bmw", "c"], ["c", "mini", "a"]) == ["c", "bmw", "a"]
    assert follow_order(["a", "a"], ["a"]) == ["a", "a"]  # duplicates: left alone
    assert follow_order([["x"]], [["x"]]) == [["x"]]  # unhashable: left alone
