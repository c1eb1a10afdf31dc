"""hoodsync.lookalikes: how one name, and two names side by side, are shown."""

from __future__ import annotations

import pytest

from hoodsync.lookalikes import distinct, look_alike, quoted_name, skeleton


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Daily news", '"Daily news"'),
        ("D\u0430ily news", '"D\\u0430ily news"'),  # a Cyrillic а amid ASCII
        ("\u0405pring Sale", '"\\u0405pring Sale"'),  # a Cyrillic Ѕ
        ("Sale at oc\u0430mba", '"Sale at oc\\u0430mba"'),
        ("Привет", '"Привет"'),  # another script: as written
        ("Grüße", '"Grüße"'),
        ("Скидка на iPhone", '"Скидка на iPhone"'),
        ('say "hi"\n', '"say \\"hi\\"\\n"'),  # JSON quoting, controls escaped
        ("x ##[group]", '"x #\\u0023[group]"'),  # no runner command
        ("Daily news\u3164", '"Daily news\\u3164"'),  # a Hangul filler, drawn blank
        ("Hello\u2800world", '"Hello\\u2800world"'),  # the blank Braille pattern
        ("\u115f\u1160\uffa0", '"\\u115f\\u1160\\uffa0"'),  # the other Hangul fillers
    ],
)
def test_quoted_name_escapes_look_alikes_amid_ascii_only(name: str, shown: str) -> None:
    assert quoted_name(name) == shown


def test_look_alike_names_differ_only_in_characters_that_look_alike() -> None:
    assert look_alike("Daily news", "D\u0430ily news")
    assert look_alike("Spring Sale", "Spring\u00a0Sale")  # a no-break space
    assert not look_alike("Daily news", "Daily news")  # the same name
    assert not look_alike("Daily news", "daily news")  # case shows
    assert not look_alike("Daily news", "D\u0430ily news 2")


def test_two_names_side_by_side_are_shown_as_a_diff_shows_a_change() -> None:
    """Alike: every character outside ASCII escaped on both sides; otherwise each side's
    look-alikes amid ASCII."""
    assert distinct("Spring\u00a0Sale", "Spring Sale") == ('"Spring\\u00a0Sale"', '"Spring Sale"')
    assert distinct("Daily", "D\u0430ily!") == ('"Daily"', '"D\\u0430ily!"')
    assert distinct("Grüße", "Grüß dich") == ('"Grüße"', '"Grüß dich"')


#: "Daily news" as the eye reads it, but not as written: a Hangul filler (U+115F, U+1160,
#: U+3164, U+FFA0) or the blank Braille pattern (U+2800), drawn as blank space; a no-break
#: space or a space at an end; two spaces for one; a tab; a filler for the inner space.
BLANK_VARIANTS = [f"Daily news{end}" for end in "\u115f\u1160\u3164\uffa0\u2800\u00a0 \t"]
BLANK_VARIANTS += [" Daily news", "Daily  news", "Daily\tnews", "Daily\u3164news"]
BLANK_VARIANTS += ["\u2800Daily\u00a0\u3000news\u200b "]


@pytest.mark.parametrize("name", BLANK_VARIANTS)
def test_blank_characters_and_spaces_at_the_ends_or_in_runs_look_alike(name: str) -> None:
    """Before: only the tab counted; a create so named beside a live "Daily news" had no
    warning, and validate let both definitions through."""
    assert look_alike("Daily news", name) and look_alike(name, "Daily news")
    assert skeleton(name) == "Daily news"


def test_what_shows_as_nothing_is_dropped_and_what_shows_as_a_space_is_one() -> None:
    assert look_alike("Dailynews", "Daily\u200bnews")  # a zero-width space shows as nothing
    assert not look_alike("Daily news", "Dailynews")
    assert not look_alike("Daily news", "Daily news.")
    assert skeleton("  ") == "" and skeleton("a \u2800 b") == "a b"
