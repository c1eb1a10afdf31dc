"""hoodsync.lookalikes: how one name, and two names side by side, are shown."""

from __future__ import annotations

import pytest

from hoodsync.lookalikes import distinct, look_alike, quoted_name


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
