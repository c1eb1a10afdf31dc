"""Campaign semantics end to end through ``hoodsync validate`` / ``plan`` / ``apply`` on the
emulator: a changed key, a finished campaign with a definition's name, switching execution
options (also while running), a recurring campaign resumed at a time, launching a draft, and
times that have passed or do not exist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_cli_apply import rows
from test_cli_plan import Account, cli, emulated, write

LATER = "2030-01-01 10:00:00"
PAST = "2020-01-01 10:00:00"


def campaign(key: str, *, top: str = "", spec: str = "", name: str = "Black Friday") -> str:
    """A push campaign named ``name``; ``spec`` adds lines under ``spec:`` (indented by 2)."""
    return f"""\
kind: Campaign
key: {key}
{top}spec:
  name: {name}
{spec}  messages:
    - name: M
      channel: push
      push: {{title: {{en: Hello}}, body: {{en: Body}}, landing_url: "https://example.com"}}
"""


def campaigns(account: Account) -> list[dict[str, Any]]:
    with account.remote() as remote:
        return remote.campaigns()


def set_status(account: Account, cid: Any, status: str) -> None:
    assert account.emulator is not None
    account.emulator.store.set_campaign_status(str(cid), status)


def applied_steps(account: Account, before: set[Path]) -> list[tuple[str, str]]:
    """(operation, result) of every write of the applies since ``before`` (the journal files
    there were then), from their journals."""
    journal = account.root / ".hoodsync" / "journal"
    lines = [
        json.loads(line)
        for path in sorted(set(journal.glob("*.jsonl")) - before)
        for line in path.read_text().splitlines()
    ]
    return [(x["op"], x["status"]) for x in lines if x["event"] == "result"]


def journals(account: Account) -> set[Path]:
    return set((account.root / ".hoodsync" / "journal").glob("*.jsonl"))


def test_a_changed_key_is_warned_in_the_banner_and_prune_retires_the_old_one(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        emulated.root, "c.yaml", campaign("black-friday", spec=f'  scheduled_time: "{LATER}"\n')
    )
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    [old] = campaigns(emulated)
    path.write_text(campaign("bf-2027", spec=f'  scheduled_time: "{LATER}"\n'))

    code, out, err = cli(capsys, "plan", "--no-color")
    assert code == 0, out + err
    assert "Warning: creates a second copy" in out and "campaign.bf-2027" in out
    assert f"campaign {old['id']} (scheduled, key black-friday)" in out
    code, md, _ = cli(capsys, "plan", "--format", "markdown")
    assert "**Creates a second copy**" in md and "`campaign.bf-2027`" in md

    # the note's advice: put the old key back ...
    path.write_text(campaign("black-friday", spec=f'  scheduled_time: "{LATER}"\n'))
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes." in out
    # ... or retire the old one
    path.write_text(campaign("bf-2027", spec=f'  scheduled_time: "{LATER}"\n'))
    code, out, err = cli(capsys, "apply", "--auto-approve", "--prune")
    assert code == 0, out + err
    assert {(c["metadata"]["hoodsync_key"], c["status"]) for c in campaigns(emulated)} == {
        ("black-friday", "canceled"),
        ("bf-2027", "scheduled"),
    }


@pytest.mark.parametrize("finished", ["canceled", "sent"])
def test_a_finished_campaign_with_the_name_no_longer_blocks_the_plan(
    emulated: Account, capsys: pytest.CaptureFixture[str], finished: str
) -> None:
    body = {
        "name": "Black Friday",
        "scheduled_time": LATER,
        "messages": [{"name": "M", "channel": "push", "push": {"title": {"en": "old"}}}],
    }
    with emulated.remote() as remote:
        old = remote.hood_post("/campaigns", body)
    set_status(emulated, old["id"], finished)
    other = write(emulated.root, "other.yaml", campaign("other", name="Other"))
    path = write(
        emulated.root, "c.yaml", campaign("bf-2027", spec=f'  scheduled_time: "{LATER}"\n')
    )

    code, out, err = cli(capsys, "plan", "--no-color")
    assert code == 0 and "error" not in out, out + err
    assert f"campaign {old['id']} ({finished}) has this definition's name" in out
    # One already sent: its audience may get it again, which belongs in the warnings banner.
    banner = "Warning: creates campaigns named like ones already sent"
    assert (banner in out) is (finished == "sent"), out
    code, md, _ = cli(capsys, "plan", "--format", "markdown")
    assert ("**Creates campaigns named like ones already sent**" in md) is (finished == "sent")
    # Reviewed, then applied: the saved plan's freshness check must not take the finished
    # namesake for the create's own object ("now exists"), or no reviewed apply could make it.
    assert cli(capsys, "plan", "--out", "p.json")[0] == 0
    code, out, err = cli(capsys, "apply", "--plan", "p.json", "--auto-approve")
    assert code == 0, out + err
    assert rows(out)["campaign.bf-2027"][:2] == ("create", "applied")
    assert rows(out)["campaign.other"][:2] == ("create", "applied")
    named = [c for c in campaigns(emulated) if c["name"] == "Black Friday"]
    assert sorted(c["status"] for c in named) == sorted([finished, "scheduled"])

    # "Set state: canceled to keep it as is" works for a definition of the finished one
    other.unlink()
    path.write_text(campaign("bf-old", top="state: canceled\n"))
    code, out, err = cli(capsys, "plan", "--no-color", "--target", "campaign.bf-old")
    assert code == 0 and "No changes." in out, out + err


@pytest.mark.parametrize("status", ["scheduled", "running"])
def test_switching_from_a_scheduled_time_to_a_recurrence_applies_once(
    emulated: Account, capsys: pytest.CaptureFixture[str], status: str
) -> None:
    path = write(emulated.root, "c.yaml", campaign("x", spec=f'  scheduled_time: "{LATER}"\n'))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    [item] = campaigns(emulated)
    set_status(emulated, item["id"], status)
    path.write_text(campaign("x", spec="  recurrence: {pattern: {hour: 9, minute: 0}}\n"))

    code, out, err = cli(capsys, "plan", "--no-color")
    assert code == 0 and "- scheduled_time" in out, out + err
    before = journals(emulated)
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 0, out + err
    steps = ["patch"] if status == "scheduled" else ["pause", "patch", "resume"]
    assert applied_steps(emulated, before) == [(op, "ok") for op in steps]
    [item] = campaigns(emulated)
    assert item["recurrence"] == {"pattern": {"hour": 9, "minute": 0}}
    assert "scheduled_time" not in item and item["status"] == status
    code, out, err = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes." in out, out + err


def test_a_recurring_campaign_resumed_at_a_time_keeps_its_recurrence(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    recurrence = "  recurrence: {pattern: {hour: 12, minute: 30, weekdays: [1, 2, 3, 4, 5]}}\n"
    path = write(emulated.root, "c.yaml", campaign("lunch", top="state: paused\n", spec=recurrence))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    resume = f'state: active\nresume: {{scheduled_time: "{LATER}"}}\n'
    path.write_text(campaign("lunch", top=resume, spec=recurrence))
    code, out, err = cli(capsys, "apply", "--auto-approve", "--no-color")
    assert code == 0, out + err
    assert f"will be resumed (paused -> scheduled at {LATER} GMT)" in out
    code, out, err = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes." in out, out + err


def test_launching_a_draft_is_in_the_banner_and_run_immediately_starts_it(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = "  is_draft: {draft}\n  run_immediately: true\n"
    path = write(emulated.root, "c.yaml", campaign("d", spec=spec.format(draft="true")))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    assert campaigns(emulated)[0]["status"] == "draft"
    path.write_text(campaign("d", spec=spec.format(draft="false")))

    code, out, err = cli(capsys, "plan", "--no-color")
    assert code == 0, out + err
    assert "Warning: launches drafts" in out and "Warning: sends immediately" in out
    assert "+ run_immediately = true" in out
    code, md, _ = cli(capsys, "plan", "--format", "markdown")
    assert "**Launches drafts**" in md
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 0, out + err
    assert campaigns(emulated)[0]["status"] == "running"
    code, out, err = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes." in out, out + err


def test_times_that_have_passed_or_do_not_exist_are_refused_before_any_call(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(emulated.root, "c.yaml", campaign("x", spec=f'  scheduled_time: "{PAST}"\n'))
    code, out, err = cli(capsys, "plan", "--no-color")
    assert (
        code == 1 and "c.yaml:5:3: scheduled_time 2020-01-01 10:00:00 (GMT) is in the past" in out
    )
    assert cli(capsys, "apply", "--auto-approve")[0] == 1 and campaigns(emulated) == []

    path.write_text(campaign("x", top="state: paused\n", spec=f'  scheduled_time: "{LATER}"\n'))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    resume = f'state: active\nresume: {{scheduled_time: "{PAST}"}}\n'
    path.write_text(campaign("x", top=resume, spec=f'  scheduled_time: "{LATER}"\n'))
    code, out, err = cli(capsys, "apply", "--auto-approve", "--no-color")
    assert code == 1 and "resume.scheduled_time 2020-01-01 10:00:00 (GMT) is in the past" in out
    assert campaigns(emulated)[0]["status"] == "paused"

    path.write_text(campaign("x", spec='  scheduled_time: "2027-02-29 10:00:00"\n'))
    code, out, err = cli(capsys, "validate")
    assert code == 1
    assert "c.yaml:5:3: error: scheduled_time '2027-02-29 10:00:00' is not a real date" in err + out
