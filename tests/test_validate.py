"""Validation: envelope, schema errors with locations and suggestions, and every API rule."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from hoodsync.definitions.validate import load_definitions, schema
from hoodsync.errors import DefinitionError, Problem
from hoodsync.model import Kind

NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.timezone.utc)

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
        "kind: Campaign\nkey: welcome\n" + top + "spec:\n  name: Welcome\n" + extra
        + "  messages:\n" + textwrap.indent(textwrap.dedent(messages), "    ")
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


@pytest.mark.parametrize("channel, body", [
    ("sms", "sms: {content: {en: Hi}}"),
    ("email", "email: {sender_name: A, sender_email: a@example.com, subject: S, html: {en: x}}"),
])
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


def push_task(spec: str, top: str = "") -> str:
    return "kind: PushTask\nkey: task\n" + top + "spec:\n  name: Task\n" + textwrap.indent(
        textwrap.dedent(spec), "  ")


def test_push_task_valid(tmp_path: Path) -> None:
    write(tmp_path, "p.yaml", push_task('status: 1\nstart_time: immediately\nfrequency: "3600"\n'))
    [defn] = load_definitions([tmp_path], now=NOW)
    assert defn.spec["frequency"] == "3600"


@pytest.mark.parametrize("spec, top, fragment, line", [
    ("status: 1\n", "", "needs a start_time", 3),
    ("start_time: immediately\n", "state: active\n", None, None),
    ('start_time: "2020-01-01 00:00:00"\n', "", None, None),  # past: the planner's call
    ('start_time: "2027-01-02 00:00:00"\nend_time: "2027-01-01 00:00:00"\n', "", "end_time is before start_time", 6),
    ("frequency: 3601\n", "", "multiple of 60", 5),
    ("frequency: 60\n", "", "multiple of 60 seconds from 3600", 5),
    ("frequency: 94608060\n", "", "multiple of 60", 5),
    ('frequency: 3600\ncron: "0 12 * * 1"\n', "", "not both", 6),
    ('cron: "*/5 12 * * 1"\n', "", "minute", 5),
    ("status: 0\n", "state: active\n", "contradicts state", 6),
])
def test_push_task_rules(tmp_path: Path, spec: str, top: str, fragment: str | None,
                         line: int | None) -> None:
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
    assert "duplicate key 'welcome' for kind Campaign (also at a.yaml:2:1)" in problem.message \
        or "duplicate key 'welcome' for kind Campaign (also at " in problem.message
    assert Path(problem.location.path).name == "b.yaml"


def test_same_key_in_different_kinds_is_fine(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", campaign())
    write(tmp_path, "b.yaml", push_task("status: 0\n").replace("key: task", "key: welcome"))
    assert len(load_definitions([tmp_path], now=NOW)) == 2


@pytest.mark.parametrize("make", [
    lambda key: push_task("status: 0\n").replace("key: task", f"key: {key}"),
    lambda key: (
        f"kind: EmailCampaign\nkey: {key}\nspec:\n  name: Same\n"
        "  template_ids: [3c90c3cc-0d44-4b50-8888-8dd25736052a]\n"
        "  mail_account_ids: [3c90c3cc-0d44-4b50-8888-8dd25736052a]\n"
        "  events: [contact.saved]\n"
    ),
])
def test_names_unique_for_push_tasks_and_email_campaigns(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path, "a.yaml", make("one"))
    [problem] = problems_for(tmp_path, make("two"), name="b.yaml")
    assert "duplicate name" in problem.message and "matched by name" in problem.message


@pytest.mark.parametrize("spec, fragment", [
    ("template_ids: [not-a-uuid]", "template_ids"),
    ("events: []", "events"),
    ("events: [contact.deleted]", "events"),
])
def test_email_campaign_bad_input(tmp_path: Path, spec: str, fragment: str) -> None:
    base = {
        "template_ids": "template_ids: [3c90c3cc-0d44-4b50-8888-8dd25736052a]",
        "mail_account_ids": "mail_account_ids: [3c90c3cc-0d44-4b50-8888-8dd25736052a]",
        "events": "events: [contact.saved]",
    }
    base[spec.split(":")[0]] = spec
    text = "kind: EmailCampaign\nkey: e\nspec:\n  name: E\n" + "".join(f"  {v}\n" for v in base.values())
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
    assert any(p.message == "expected object, got null" for p in problems), \
        [str(p) for p in problems]
