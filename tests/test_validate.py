"""Validation: envelope, schema errors with locations and suggestions, and every API rule."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

import pytest

from hoodsync.definitions.validate import load_definitions, schema
from hoodsync.errors import DefinitionError, Problem
from hoodsync.model import Kind

NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.UTC)

PUSH_MESSAGE = """\
      - name: Hello
        channel: push
        push:
          title: {en: Hello}
          body: {en: Thanks}
          landing_url: https://example.com
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def problems_for(tmp_path: Path, text: str, name: str = "def.yaml") -> list[Problem]:
    write(tmp_path, name, text)
    with pytest.raises(DefinitionError) as info:
        load_definitions([tmp_path], now=NOW)
    return list(info.value.problems)


def campaign(extra: str = "", messages: str = PUSH_MESSAGE, top: str = "") -> str:
    return (
        "kind: Campaign\nkey: welcome\n"
        + top
        + "spec:\n  name: Welcome\n"
        + extra
        + "  messages:\n"
        + textwrap.indent(textwrap.dedent(messages), "    ")
    )


def test_valid_campaign_loads(tmp_path: Path) -> None:
    write(tmp_path, "c.yaml", campaign())
    [defn] = load_definitions([tmp_path], now=NOW)
    assert defn.kind is Kind.CAMPAIGN and defn.key == "welcome"
    assert defn.spec["messages"][0]["push"]["title"] == {"en": "Hello"}
    assert defn.address == "campaign.welcome"
    assert defn.location.line == 1


def test_unknown_key_suggests_closest(tmp_path: Path) -> None:
    [problem] = problems_for(tmp_path, campaign(extra="  descripton: typo\n"))
    assert problem.location.line == 5
    assert "unknown key 'descripton'; did you mean 'description'?" in problem.message
    assert problem.path == ("spec", "descripton")


def test_unknown_top_level_key(tmp_path: Path) -> None:
    [problem] = problems_for(tmp_path, campaign(top="stat: active\n"))
    assert problem.location.line == 3
    assert "did you mean 'state'?" in problem.message


def test_unknown_kind_suggests(tmp_path: Path) -> None:
    [problem] = problems_for(tmp_path, "kind: Campagin\nkey: x\nspec: {}\n")
    assert problem.location.line == 1
    assert "unknown kind \"Campagin\"; did you mean 'Campaign'?" in problem.message


def test_wrong_type_points_at_value(tmp_path: Path) -> None:
    [problem] = problems_for(tmp_path, campaign(extra="  labels: sale\n"))
    assert problem.location.line == 5
    assert "expected array" in problem.message
    assert str(problem).endswith("(spec.labels)")


def test_every_problem_in_every_file_at_once(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", campaign(extra="  descripton: x\n"))
    write(tmp_path, "b/b.yaml", "kind: Campaign\nkey: b\nspec:\n  name: B\n  name: C\n")
    write(tmp_path, "c.yaml", "kind: PushTask\nkey: Bad Key\nspec: {name: x}\n")
    with pytest.raises(DefinitionError) as info:
        load_definitions([tmp_path], now=NOW)
    files = sorted({Path(p.location.path).name for p in info.value.problems})
    assert files == ["a.yaml", "b.yaml", "c.yaml"]


def test_key_pattern(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, "kind: PushTask\nkey: Bad Key\nspec: {name: x}\n")
    assert any(p.path == ("key",) and p.location.line == 2 for p in problems)


# --------------------------------------------------------------------------- API rules

AB = "  ab_test: {test_split: 30, winning_metric: click_rate, evaluation_window: 1D}\n"


def test_two_messages_of_a_channel_need_ab_test(tmp_path: Path) -> None:
    [problem] = problems_for(tmp_path, campaign(messages=PUSH_MESSAGE * 2))
    assert "2 push messages need an ab_test block" in problem.message
    assert problem.location.line == 5
    write(tmp_path, "def.yaml", campaign(extra=AB, messages=PUSH_MESSAGE * 2))
    assert len(load_definitions([tmp_path], now=NOW)) == 1


def test_at_most_four_messages_per_channel(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, campaign(extra=AB, messages=PUSH_MESSAGE * 5))
    assert any("at most 4 per channel" in p.message for p in problems)


@pytest.mark.parametrize(
    "channel, body",
    [
        ("sms", "sms: {content: {en: Hi}}"),
        (
            "email",
            "email: {sender_name: A, sender_email: a@example.com, subject: S, html: {en: x}}",
        ),
    ],
)
def test_integration_id_required_for_sms_and_email(tmp_path: Path, channel: str, body: str) -> None:
    messages = f"- name: M\n  channel: {channel}\n  {body}\n"
    [problem] = problems_for(tmp_path, campaign(messages=messages))
    assert "integration_id" in problem.message
    assert problem.location.line == 6
    assert problem.path == ("spec", "messages", 0) or problem.path[:3] == ("spec", "messages", 0)


def test_at_most_one_execution_option(tmp_path: Path) -> None:
    extra = '  run_immediately: true\n  scheduled_time: "2027-01-01 10:00:00"\n'
    [problem] = problems_for(tmp_path, campaign(extra=extra))
    assert "at most one of run_immediately, scheduled_time, recurrence" in problem.message
    assert problem.location.line == 6


def test_resume_holds_exactly_one(tmp_path: Path) -> None:
    top = 'resume: {run_immediately: true, scheduled_time: "2027-01-01 10:00:00"}\n'
    problems = problems_for(tmp_path, campaign(top=top))
    assert problems and all(p.location.line == 3 for p in problems)


def test_campaign_times_no_calendar_has_are_refused_at_their_line(tmp_path: Path) -> None:
    """The schema's pattern lets 2027-02-29 and 2027-04-31 through; the API refuses them in the
    middle of an apply. Refused offline, at their line, as a push task's start_time is."""
    top = 'state: active\nresume: {scheduled_time: "2027-04-31 10:00:00"}\n'
    extra = '  scheduled_time: "2027-02-29 10:00:00"\n'
    problems = problems_for(tmp_path, campaign(extra=extra, top=top))
    assert [(p.location.line, p.path) for p in problems] == [
        (4, ("resume", "scheduled_time")),
        (7, ("spec", "scheduled_time")),
    ]
    assert "'2027-04-31 10:00:00' is not a real date" in problems[0].message
    assert "'2027-02-29 10:00:00' is not a real date" in problems[1].message
    # a leap day that exists, and a form the schema refuses itself (reported once, by it)
    write(tmp_path, "def.yaml", campaign(extra='  scheduled_time: "2028-02-29 10:00:00"\n'))
    assert load_definitions([tmp_path], now=NOW)
    [bad] = problems_for(tmp_path, campaign(extra='  scheduled_time: "2027-13-01 10:00:00"\n'))
    assert bad.path == ("spec", "scheduled_time") and "real date" not in bad.message


def push_task(spec: str, top: str = "") -> str:
    return (
        "kind: PushTask\nkey: task\n"
        + top
        + "spec:\n  name: Task\n"
        + textwrap.indent(textwrap.dedent(spec), "  ")
    )


def test_push_task_times_no_calendar_has_say_so_as_a_campaigns_do(tmp_path: Path) -> None:
    # Before: "start_time '2027-02-29 10:00:00' is not 'immediately' or YYYY-MM-DD HH:MM:SS",
    # although that is its form.
    spec = 'start_time: "2027-02-29 10:00:00"\nend_time: "2027-04-31 10:00:00"\n'
    problems = problems_for(tmp_path, push_task(spec))
    assert [(p.location.line, p.path, p.message) for p in problems] == [
        (
            5,
            ("spec", "start_time"),
            "start_time '2027-02-29 10:00:00' is not a real date and time "
            "(YYYY-MM-DD HH:MM:SS, GMT)",
        ),
        (
            6,
            ("spec", "end_time"),
            "end_time '2027-04-31 10:00:00' is not a real date and time (YYYY-MM-DD HH:MM:SS, GMT)",
        ),
    ]


def test_push_task_valid(tmp_path: Path) -> None:
    write(tmp_path, "p.yaml", push_task('status: 1\nstart_time: immediately\nfrequency: "3600"\n'))
    [defn] = load_definitions([tmp_path], now=NOW)
    assert defn.spec["frequency"] == "3600"


@pytest.mark.parametrize(
    "spec, top, fragment, line",
    [
        ("status: 1\n", "", "needs a start_time", 3),
        ("start_time: immediately\n", "state: active\n", None, None),
        ('start_time: "2020-01-01 00:00:00"\n', "", None, None),  # past: the planner's call
        (
            'start_time: "2027-01-02 00:00:00"\nend_time: "2027-01-01 00:00:00"\n',
            "",
            "end_time is before start_time",
            6,
        ),
        ("frequency: 3601\n", "", "multiple of 60", 5),
        ("frequency: 60\n", "", "multiple of 60 seconds from 3600", 5),
        ("frequency: 94608060\n", "", "multiple of 60", 5),
        ("frequency: 3600.0\n", "", "must be a whole number of seconds (no decimal point)", 5),
        ('frequency: 3600\ncron: "0 12 * * 1"\n', "", "not both", 6),
        ('cron: "*/5 12 * * 1"\n', "", "minute", 5),
        ("status: 0\n", "state: active\n", "contradicts state", 6),
    ],
)
def test_push_task_rules(
    tmp_path: Path, spec: str, top: str, fragment: str | None, line: int | None
) -> None:
    write(tmp_path, "p.yaml", push_task(spec, top))
    if fragment is None:
        assert len(load_definitions([tmp_path], now=NOW)) == 1
        return
    with pytest.raises(DefinitionError) as info:
        load_definitions([tmp_path], now=NOW)
    matching = [p for p in info.value.problems if fragment in p.message]
    assert matching, [str(p) for p in info.value.problems]
    assert matching[0].location.line == line


def test_keys_unique_per_kind(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", campaign())
    [problem] = problems_for(tmp_path, campaign(), name="b.yaml")
    assert (
        "duplicate key 'welcome' for kind Campaign (also at a.yaml:2:1)" in problem.message
        or "duplicate key 'welcome' for kind Campaign (also at " in problem.message
    )
    assert Path(problem.location.path).name == "b.yaml"


def test_same_key_in_different_kinds_is_fine(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", campaign())
    write(tmp_path, "b.yaml", push_task("status: 0\n").replace("key: task", "key: welcome"))
    assert len(load_definitions([tmp_path], now=NOW)) == 2


@pytest.mark.parametrize(
    "make",
    [
        lambda key: push_task("status: 0\n").replace("key: task", f"key: {key}"),
        lambda key: (
            f"kind: EmailCampaign\nkey: {key}\nspec:\n  name: Same\n"
            "  template_ids: [3c90c3cc-0d44-4b50-8888-8dd25736052a]\n"
            "  mail_account_ids: [3c90c3cc-0d44-4b50-8888-8dd25736052a]\n"
            "  events: [contact.saved]\n"
        ),
    ],
)
def test_names_unique_for_push_tasks_and_email_campaigns(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path, "a.yaml", make("one"))
    [problem] = problems_for(tmp_path, make("two"), name="b.yaml")
    assert "duplicate name" in problem.message and "matched by name" in problem.message


@pytest.mark.parametrize(
    "make",
    [
        lambda key, name: (
            push_task("status: 0\n")
            .replace("key: task", f"key: {key}")
            .replace("name: Task", f"name: {name}")
        ),
        lambda key, name: (
            f"kind: EmailCampaign\nkey: {key}\nspec:\n  name: {name}\n"
            "  template_ids: [3c90c3cc-0d44-4b50-8888-8dd25736052a]\n"
            "  mail_account_ids: [3c90c3cc-0d44-4b50-8888-8dd25736052a]\n"
            "  events: [contact.saved]\n"
        ),
    ],
)
def test_names_alike_to_the_eye_are_refused_for_kinds_matched_by_name(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    # Before: both were valid, and the plan created two objects no one could tell apart.
    write(tmp_path, "a.yaml", make("one", "Daily news"))
    [problem] = problems_for(tmp_path, make("two", "D\u0430ily news"), name="b.yaml")
    assert problem.path == ("spec", "name")
    assert '"D\\u0430ily news" looks like "Daily news" of ' in problem.message
    assert "a.yaml:" in problem.message
    # Names that only share letters with other scripts stay distinct ("Привет" is not ASCII).
    write(tmp_path, "b.yaml", make("two", "Привет"))
    assert len(load_definitions([tmp_path], now=NOW)) == 2


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Daily news\u3164", '"Daily news\\u3164"'),  # Hangul fillers, drawn as blank space
        ("Daily news\u115f", '"Daily news\\u115f"'),
        ("Daily news\u1160", '"Daily news\\u1160"'),
        ("Daily news\uffa0", '"Daily news\\uffa0"'),
        ("Daily news\u2800", '"Daily news\\u2800"'),  # the blank Braille pattern
        ("Daily news\u00a0", '"Daily news\u00a0"'),  # a no-break space at the end
        (" Daily news", '" Daily news"'),
        ("Daily news ", '"Daily news "'),
        ("Daily  news", '"Daily  news"'),
    ],
)
def test_names_alike_but_for_blanks_are_refused(tmp_path: Path, name: str, shown: str) -> None:
    """Before: both definitions were valid (only look-alike letters and inner no-break spaces
    counted), and the plan created two push tasks that read "Daily news"."""

    def named(key: str, name: str) -> str:  # name as a YAML double-quoted scalar (JSON's)
        return (
            push_task("status: 0\n")
            .replace("key: task", f"key: {key}")
            .replace("name: Task", f"name: {json.dumps(name)}")
        )

    write(tmp_path, "a.yaml", named("one", "Daily news"))
    [problem] = problems_for(tmp_path, named("two", name), name="b.yaml")
    assert problem.path == ("spec", "name")
    assert f'name {shown} looks like "Daily news" of push_task.one (at ' in problem.message
    assert "a.yaml:4:3) but for characters that look alike" in problem.message


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("template_ids: [not-a-uuid]", "template_ids"),
        ("events: []", "events"),
        ("events: [contact.deleted]", "events"),
    ],
)
def test_email_campaign_bad_input(tmp_path: Path, spec: str, fragment: str) -> None:
    base = {
        "template_ids": "template_ids: [3c90c3cc-0d44-4b50-8888-8dd25736052a]",
        "mail_account_ids": "mail_account_ids: [3c90c3cc-0d44-4b50-8888-8dd25736052a]",
        "events": "events: [contact.saved]",
    }
    base[spec.split(":")[0]] = spec
    text = "kind: EmailCampaign\nkey: e\nspec:\n  name: E\n" + "".join(
        f"  {v}\n" for v in base.values()
    )
    problems = problems_for(tmp_path, text)
    assert problems and all(fragment in ".".join(map(str, p.path)) for p in problems)
    assert all(p.location.path.endswith("def.yaml") and p.location.line >= 4 for p in problems)


def test_marker_is_reserved(tmp_path: Path) -> None:
    [problem] = problems_for(tmp_path, campaign(extra="  metadata: {hoodsync_key: x}\n"))
    assert "written by hoodsync" in problem.message


def test_schemas_are_loadable_for_every_kind() -> None:
    for kind in Kind:
        assert schema(kind.value)["$schema"].endswith("2020-12/schema")
    assert "accounts" in schema("config")["properties"]


def test_null_where_an_object_is_expected_reads_well(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, "kind: Campaign\nkey: n\nspec:\n")
    assert any(p.message == "expected object, got null" for p in problems), [
        str(p) for p in problems
    ]


# ------------------------------------------------- inputs that would never converge, or are unsafe
#
# Each document below is valid but for one value, which validate must refuse at its own place
# (file:line:col and JSON path): what the API would store differently (so every plan would
# show a change again), what has no JSON form, and what is unsafe to send to people.


def _push_campaign(
    push: str = "title: {en: Hello}", top: str = "", extra: str = "", name: str = "Hello"
) -> str:
    return (
        f"kind: Campaign\nkey: c\n{top}spec:\n  name: C\n{extra}  messages:\n"
        f"    - name: {name}\n      channel: push\n      push:\n        {push}\n"
    )


def _push_task(message: str = "", spec: str = "", name: str = "Task", top: str = "") -> str:
    return f"kind: PushTask\nkey: t\n{top}spec:\n  name: {name}\n{spec}" + (
        f"  message:\n{message}" if message else ""
    )


def _email_campaign(name: str = "Flow", top: str = "") -> str:
    return (
        f"kind: EmailCampaign\nkey: e\n{top}spec:\n  name: {name}\n"
        "  template_ids: [3c90c3cc-0d44-4b50-8888-8dd25736052a]\n"
        "  mail_account_ids: [3c90c3cc-0d44-4b50-8888-8dd25736052a]\n"
        "  events: [contact.saved]\n"
    )


EMAIL_MESSAGE = (
    "kind: Campaign\nkey: c\nspec:\n  name: C\n  messages:\n    - channel: email\n"
    "      integration_id: '1830'\n      email:\n        sender_name: {sender}\n"
    "        subject: {subject}\n        html: {{en: <p>Hi</p>}}\n"
)

#: (what, document, (line, column), JSON path) — the one problem each document must have. A
#: value in a mapping is located at its key, an item of a sequence at the item.
REFUSED: list[tuple[str, str, tuple[int, int], tuple[str | int, ...]]] = [
    # labels: the API keeps them as one comma-joined string
    (
        "label with a comma",
        _push_campaign(extra='  labels: [ok, "a,b"]\n'),
        (5, 16),
        ("spec", "labels", 1),
    ),
    (
        "label with a leading space",
        _push_campaign(extra='  labels: [" sale"]\n'),
        (5, 12),
        ("spec", "labels", 0),
    ),
    (
        "label with a trailing space",
        _push_campaign(extra='  labels: ["sale "]\n'),
        (5, 12),
        ("spec", "labels", 0),
    ),
    (
        "label with a trailing no-break space",
        _push_campaign(extra='  labels: ["sale\\u00a0"]\n'),
        (5, 12),
        ("spec", "labels", 0),
    ),
    ("empty label", _push_campaign(extra='  labels: [a, ""]\n'), (5, 15), ("spec", "labels", 1)),
    (
        "label with a newline",
        _push_campaign(extra='  labels: ["a\\nb"]\n'),
        (5, 12),
        ("spec", "labels", 0),
    ),
    # NaN and infinity, anywhere
    (
        "NaN in metadata",
        _push_campaign(extra="  metadata: {ratio: .nan}\n"),
        (5, 14),
        ("spec", "metadata", "ratio"),
    ),
    (
        "infinity deep in metadata",
        _push_campaign(extra="  metadata: {a: [1, {b: .inf}]}\n"),
        (5, 22),
        ("spec", "metadata", "a", 1, "b"),
    ),
    (
        "minus infinity as a priority",
        _push_campaign(name="Hello\n      priority: -.inf"),
        (7, 7),
        ("spec", "messages", 0, "priority"),
    ),
    ("infinity as a push-task ttl", _push_task(spec="  ttl: .inf\n"), (5, 3), ("spec", "ttl")),
    ("NaN as an email campaign's order", _email_campaign(top="order: .nan\n"), (3, 1), ("order",)),
    (
        "NaN as a description",
        _push_campaign(extra="  description: .NaN\n"),
        (5, 3),
        ("spec", "description"),
    ),
    # order: a plain integer only
    ("order infinity", _push_campaign(top="order: .inf\n"), (3, 1), ("order",)),
    ("order minus infinity", _push_task(top="order: -.inf\n"), (3, 1), ("order",)),
    ("order 2.0", _push_campaign(top="order: 2.0\n"), (3, 1), ("order",)),
    ("order 1e2", _email_campaign(top="order: 1e2\n"), (3, 1), ("order",)),
    # control characters in text
    (
        "escape sequence in a campaign name",
        _push_campaign().replace("name: C\n", 'name: "C\\e[2K"\n'),
        (4, 3),
        ("spec", "name"),
    ),
    (
        "tab in a push title",
        _push_campaign(push='title: {en: "Hi\\tthere"}'),
        (9, 17),
        ("spec", "messages", 0, "push", "title", "en"),
    ),
    (
        "newline in a push title",
        _push_campaign(push='title: {en: "Hi\\n"}'),
        (9, 17),
        ("spec", "messages", 0, "push", "title", "en"),
    ),
    (
        "bell in a push body",
        _push_campaign(push='body: {en: "Hi\\a"}'),
        (9, 16),
        ("spec", "messages", 0, "push", "body", "en"),
    ),
    (
        "carriage return in a push body",
        _push_campaign(push='body: {en: "a\\rb"}'),
        (9, 16),
        ("spec", "messages", 0, "push", "body", "en"),
    ),
    (
        "C1 control in a message name",
        _push_campaign(name='"Hi\\x9b2K"'),
        (6, 7),
        ("spec", "messages", 0, "name"),
    ),
    ("line separator in a push-task name", _push_task(name='"T\\L"'), (4, 3), ("spec", "name")),
    (
        "DEL in an email campaign name",
        _email_campaign(name='"Flow\\x7f"'),
        (4, 3),
        ("spec", "name"),
    ),
    (
        "escape in an email subject",
        EMAIL_MESSAGE.format(sender="Me", subject='"\\e]0;x\\a"'),
        (10, 9),
        ("spec", "messages", 0, "email", "subject"),
    ),
    (
        "newline in a sender name",
        EMAIL_MESSAGE.format(sender='"Me\\n"', subject="S"),
        (9, 9),
        ("spec", "messages", 0, "email", "sender_name"),
    ),
    (
        "NUL in a targeting item",
        _push_task(spec='  targeting: {countries: {op: include, items: ["RS\\0"]}}\n'),
        (5, 48),
        ("spec", "targeting", "countries", "items", 0),
    ),
    (
        "escape in a fallback tag",
        _push_task(spec='  adex: {fallback_message: {tag: "t\\e"}}\n'),
        (5, 29),
        ("spec", "adex", "fallback_message", "tag"),
    ),
    # URLs: http and https only
    (
        "javascript: landing URL",
        _push_campaign(push='landing_url: "javascript:alert(1)"'),
        (9, 9),
        ("spec", "messages", 0, "push", "landing_url"),
    ),
    (
        "data: icon",
        _push_campaign(push='icon: "data:image/png;base64,AAAA"'),
        (9, 9),
        ("spec", "messages", 0, "push", "icon"),
    ),
    (
        "file: image",
        _push_campaign(push='image: {en: "file:///etc/passwd"}'),
        (9, 17),
        ("spec", "messages", 0, "push", "image", "en"),
    ),
    (
        "scheme-relative landing URL",
        _push_campaign(push='landing_url: "//evil.example"'),
        (9, 9),
        ("spec", "messages", 0, "push", "landing_url"),
    ),
    (
        "URL with a newline",
        _push_campaign(push='landing_url: "https://e.com/\\n"'),
        (9, 9),
        ("spec", "messages", 0, "push", "landing_url"),
    ),
    (
        "escape in a callback URL",
        _push_campaign(extra='  callbacks: {push: {on_click: ["https://e.com/\\e[2K"]}}\n'),
        (5, 33),
        ("spec", "callbacks", "push", "on_click", 0),
    ),
    (
        "javascript: action URL",
        _push_task("    actions:\n      - {title: {en: Go}, url: 'javascript:x'}\n"),
        (7, 27),
        ("spec", "message", "actions", 0, "url"),
    ),
    (
        "vbscript: action icon",
        _push_task("    actions:\n      - {title: {en: Go}, icon: 'vbscript:x'}\n"),
        (7, 27),
        ("spec", "message", "actions", 0, "icon"),
    ),
    (
        "javascript: push-task landing URL",
        _push_task("    landing_url: javascript:x\n"),
        (6, 5),
        ("spec", "message", "landing_url"),
    ),
    (
        "data: fallback image",
        _push_task(spec="  adex: {fallback_message: {image: 'data:x'}}\n"),
        (5, 29),
        ("spec", "adex", "fallback_message", "image"),
    ),
    (
        "javascript: fallback action URL",
        _push_task(spec="  adex: {fallback_message: {actions: [{url: 'javascript:x'}]}}\n"),
        (5, 40),
        ("spec", "adex", "fallback_message", "actions", 0, "url"),
    ),
    (
        "ftp: fallback badge",
        _push_task(spec="  adex: {fallback_message: {badge: 'ftp://x'}}\n"),
        (5, 29),
        ("spec", "adex", "fallback_message", "badge"),
    ),
]


_LABEL = "A label: not empty, no comma, no space at either end"
_LINE = "One line of text: no line breaks, tabs or other control characters"
_TEXT = "line breaks and tabs are allowed, other control characters are not"
_URL = "An http:// or https:// URL"
_NON_FINITE = "is not allowed: NaN and infinity have no JSON form"
_ORDER = "order must be a plain integer"

#: What each refusal says (hoodsync's words: what is wrong and why), by case.
SAYS: dict[str, str] = {
    "label with a comma": _LABEL,
    "label with a leading space": _LABEL,
    "label with a trailing space": _LABEL,
    "label with a trailing no-break space": _LABEL,
    "empty label": _LABEL,
    "label with a newline": _LABEL,
    "NaN in metadata": ".nan " + _NON_FINITE,
    "infinity deep in metadata": ".inf " + _NON_FINITE,
    "minus infinity as a priority": "-.inf " + _NON_FINITE,
    "infinity as a push-task ttl": ".inf " + _NON_FINITE,
    "NaN as an email campaign's order": ".nan " + _NON_FINITE,
    "NaN as a description": ".nan " + _NON_FINITE,
    "order infinity": ".inf " + _NON_FINITE,
    "order minus infinity": "-.inf " + _NON_FINITE,
    "order 2.0": _ORDER + " such as 0, 10 or -5, got 2.0",
    "order 1e2": _ORDER + " such as 0, 10 or -5, got 100.0",
    "escape sequence in a campaign name": _LINE,
    "tab in a push title": _LINE,
    "newline in a push title": _LINE,
    "bell in a push body": _TEXT,
    "carriage return in a push body": _TEXT,
    "C1 control in a message name": _LINE,
    "line separator in a push-task name": _LINE,
    "DEL in an email campaign name": _LINE,
    "escape in an email subject": _LINE,
    "newline in a sender name": _LINE,
    "NUL in a targeting item": _LINE,
    "escape in a fallback tag": _LINE,
    "javascript: landing URL": _URL,
    "data: icon": _URL,
    "file: image": _URL,
    "scheme-relative landing URL": _URL,
    "URL with a newline": _URL,
    "escape in a callback URL": _URL,
    "javascript: action URL": _URL,
    "vbscript: action icon": _URL,
    "javascript: push-task landing URL": _URL,
    "data: fallback image": _URL,
    "javascript: fallback action URL": _URL,
    "ftp: fallback badge": _URL,
}


@pytest.mark.parametrize(("what", "text", "where", "path"), REFUSED, ids=[r[0] for r in REFUSED])
def test_values_that_cannot_converge_or_are_unsafe_are_refused_where_they_are(
    tmp_path: Path,
    what: str,
    text: str,
    where: tuple[int, int],
    path: tuple[str | int, ...],
) -> None:
    [problem] = problems_for(tmp_path, text)
    assert (problem.location.line, problem.location.column) == where, str(problem)
    assert problem.path == path and problem.severity == "error", str(problem)
    assert str(problem).startswith(f"{problem.location.path}:{where[0]}:{where[1]}: error: ")
    assert SAYS[what] in problem.message, str(problem)
    # the offending value is quoted escaped: the message stays one printable line
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c == "\u2028" for c in str(problem))


def test_refused_cases_do_not_share_ids_and_each_says_why() -> None:
    ids = [r[0] for r in REFUSED]
    assert len(ids) == len(set(ids))
    assert sorted(SAYS) == sorted(ids)


#: Values close to the refused ones that converge and are safe: the new rules must not catch them.
ACCEPTED: list[tuple[str, str]] = [
    (
        "multi-line push body, tab included",
        _push_campaign(
            push="body:\n          en: |\n            Line one\n            \tLine two\n"
        ),
    ),
    ("multi-line description", _push_campaign(extra="  description: |\n    One\n    Two\n")),
    (
        "multi-line email HTML",
        EMAIL_MESSAGE.format(sender="Me", subject="S").replace(
            "html: {en: <p>Hi</p>}",
            "html:\n          en: |\n            <p>\n              Hi\n            </p>",
        ),
    ),
    (
        "multi-line push-task body and custom_data",
        _push_task('    body: {en: "a\\nb"}\n', spec='  custom_data: "a=1\\nb=2"\n'),
    ),
    (
        "labels with inner spaces and letters of any script",
        _push_campaign(extra='  labels: [spring sale, vår, "日本", "🚀"]\n'),
    ),
    ("non-ASCII and emoji text", _push_campaign(push='title: {en: "Olá 👋🏽 ש"}')),
    (
        "upper-case scheme and placeholders in URLs",
        _push_campaign(push="landing_url: HTTPS://Example.com/?c=${OCMH_CAMPAIGN_NAME}"),
    ),
    (
        "null action icon and URL",
        _push_task(spec="  adex: {fallback_message: {actions: [{url: null, icon: null}]}}\n"),
    ),
    ("negative order", _push_campaign(top="order: -5\n")),
    ("finite floats in metadata", _push_campaign(extra="  metadata: {ratio: 0.5, big: 1e300}\n")),
]


@pytest.mark.parametrize(("what", "text"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_unusual_but_convergent_values_are_accepted(tmp_path: Path, what: str, text: str) -> None:
    write(tmp_path, "ok.yaml", text)
    assert len(load_definitions([tmp_path], now=NOW)) == 1


def test_order_infinity_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    # `order: .inf` once raised OverflowError from the rule checks of an otherwise invalid
    # document; it must come out as one problem among the others.
    text = _push_campaign(
        top="order: .inf\n",
        extra="  run_immediately: true\n"
        "  scheduled_time: '2027-01-01 10:00:00'\n  labels: ['a,b']\n",
    )
    problems = problems_for(tmp_path, text)
    assert {p.path for p in problems} == {("order",), ("spec",), ("spec", "labels", 0)}, [
        str(p) for p in problems
    ]


def test_one_problem_said_by_two_schema_rules_is_reported_once(tmp_path: Path) -> None:
    found = problems_for(tmp_path, "kind: Campaign\nkey: x\nspec: {}\n")
    assert [f"{p.location.line}: {p.message}" for p in found] == [
        "3: missing required key 'name', 'messages'"
    ]


def test_resolved_values_are_checked_by_the_schema_without_quoting_them(tmp_path: Path) -> None:
    from hoodsync.definitions.interpolate import resolve
    from hoodsync.definitions.validate import resolved_problems

    write(
        tmp_path,
        "c.yaml",
        campaign(
            '  labels: ["${env:L}", "x-${env:L}"]\n  description: "${env:D}"\n',
            messages="""\
            - name: Hello
              channel: push
              push:
                title: {en: "${env:T}"}
                landing_url: "https://${env:H}/x"
            """,
        ),
    )
    [defn] = load_definitions([tmp_path], now=NOW)

    def check(**env: str) -> list[Problem]:
        resolved, paths = resolve(defn.spec, env)
        return resolved_problems(defn, resolved, paths)

    assert check(L="a", D="two\nlines", T="Hi", H="example.com") == []  # body text may wrap
    found = check(L=",zq1", D="zq2\x00", T="zq3\t", H="a zq4")
    assert [(p.path, p.location.line) for p in found] == [
        (("spec", "labels", 0), 5),
        (("spec", "labels", 1), 5),
        (("spec", "description"), 6),
        (("spec", "messages", 0, "push", "title", "en"), 11),
        (("spec", "messages", 0, "push", "landing_url"), 12),
    ]
    assert [p.message.split(" resolved")[0] for p in found] == [
        "with ${env:L}",
        "with ${env:L}",
        "with ${env:D}",
        "with ${env:T}",
        "with ${env:H}",
    ]
    assert not any(s in str(p) for p in found for s in ("zq1", "zq2", "zq3", "zq4"))
    assert check(L="a", D="d", T="x" * 70, H="e.com") == []  # lengths are the preview's business


# --------------------------------------------------------------------------- ${env:...} grammar


def test_a_malformed_interpolation_is_an_error_at_its_line(tmp_path: Path) -> None:
    """Text meant as an interpolation that is not one would be sent as written, to every
    recipient: each is refused where it is, saying what was likely meant. Escaped ones, the
    API's own placeholders and other ${...} text are fine."""
    text = campaign(
        extra=(
            '  description: "Code ${env:PROMO-CODE}, ${env: PROMO}"\n'
            '  labels: ["${ENV:PROMO}", "${env:PROMO"]\n'
            '  metadata: {ok: "$${ENV:X} $${env:Y} ${OCMH_UTM_SOURCE} ${ENVIRONMENT} ${env:Z}"}\n'
        )
    )
    found = sorted((p.location.line, p.path, p.message) for p in problems_for(tmp_path, text))
    assert [(line, path) for line, path, _ in found] == [
        (5, ("spec", "description")),
        (5, ("spec", "description")),
        (6, ("spec", "labels", 0)),
        (6, ("spec", "labels", 1)),
    ]
    messages = [message for _, _, message in found]
    assert messages[0].startswith(
        '"${env: PROMO}" is not an interpolation: did you mean ${env:PROMO}?'
    )
    assert messages[1].startswith('"${env:PROMO-CODE}" is not an interpolation: ')
    assert "'PROMO-CODE' is not a variable name" in messages[1]
    assert messages[2].startswith(
        '"${ENV:PROMO}" is not an interpolation: did you mean ${env:PROMO}?'
    )
    assert messages[3].startswith("\"${env:PROMO\" is not an interpolation: no '}' closes it")
    assert all(m.endswith(")") and '(to send it as text, write "$' in m for m in messages)
