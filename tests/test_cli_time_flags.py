"""Sends that depend on the clock, end to end through ``hoodsync plan`` / ``apply`` on the
emulator: a campaign time read in each profile's time zone that has passed east of GMT, a
campaign resumed after its time passed while it was paused, ``run_immediately`` put in place of
a schedule, a push task's start the account spells otherwise, and what the warnings banner
says caused each immediate send. A time that passes is set in the emulator's store (as if the
hours had gone by); nothing sleeps."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from test_cli_campaigns import LATER, campaign, campaigns
from test_cli_plan import Account, cli, emulated, plan_json, write
from test_saved_plan_fresh import push_yaml

from hoodsync.wire import API_TIME

CATCH_UP = "send_if_profile_time_passed: its time has passed for some profiles"


def _in(hours: float) -> str:
    """The GMT time ``hours`` from now, as the API writes it."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).strftime(API_TIME)


def _set_campaign(account: Account, cid: Any, **spec: Any) -> None:
    """Change what the account holds for a campaign, as time or the UI would."""
    assert account.emulator is not None
    row = account.emulator.store.get_campaign("default", int(cid))
    assert row is not None
    row.spec.update(spec)
    account.emulator.store.save_campaign(row)


def test_a_time_already_passed_east_of_gmt_is_flagged_with_its_cause(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """Six hours ahead in GMT, read in each profile's time zone, the time has passed from
    UTC+6 to UTC+14: with send_if_profile_time_passed those profiles get it as the create
    lands. The plan warns, flags it and names that cause, in every format."""
    spec = (
        f'  scheduled_time: "{_in(6)}"\n'
        "  send_in_profile_time_zone: true\n  send_if_profile_time_passed: true\n"
    )
    write(emulated.root, "c.yaml", campaign("morning", top="state: active\n", spec=spec))
    code, out, err = cli(capsys, "plan", "--no-color")
    assert code == 0, out + err
    assert "has already passed for profiles at least 6 h" in out
    assert f"Warning: sends immediately: campaign.morning ({CATCH_UP})" in out
    assert "run_immediately" not in out
    [change] = plan_json(capsys)["changes"]
    assert change["action"] == "create" and change["send_cause"] == CATCH_UP
    code, md, _ = cli(capsys, "plan", "--format", "markdown")
    assert f"> **Sends immediately:** `campaign.morning` (`{CATCH_UP}`)" in md


def test_a_campaign_resumed_after_its_time_passed_while_paused_is_flagged(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """Paused, its scheduled_time passes; state: active with no resume block resumes it with
    no options, which Hood documents nothing for: flagged "sends immediately" with the reason
    and how to say what should happen; a resume block that says it is planned plainly."""
    spec = f'  scheduled_time: "{LATER}"\n'
    path = write(emulated.root, "c.yaml", campaign("oneshot", top="state: paused\n", spec=spec))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    [item] = campaigns(emulated)
    passed = _in(-1)
    _set_campaign(emulated, item["id"], scheduled_time=passed)
    path.write_text(
        campaign("oneshot", top="state: active\n", spec=f'  scheduled_time: "{passed}"\n')
    )
    code, out, err = cli(capsys, "plan", "--no-color")
    assert code == 0, out + err
    assert "will be resumed (paused -> active" in out
    assert f"scheduled_time {passed} (GMT), which the campaign holds, has passed" in out
    assert "Warning: sends immediately: campaign.oneshot (its scheduled_time has passed)" in out

    resume = f'state: active\nresume: {{scheduled_time: "{LATER}"}}\n'
    path.write_text(campaign("oneshot", top=resume, spec=f'  scheduled_time: "{passed}"\n'))
    code, out, err = cli(capsys, "plan", "--no-color")
    assert code == 0 and "sends immediately" not in out and "warning" not in out, out + err


def test_run_immediately_in_place_of_a_schedule_is_said_not_done(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """The edit a reviewer reads as "send now" changes nothing (run_immediately acts only on a
    create): instead of "No changes", the plan says the campaign keeps its schedule and how to
    send it now; apply sends nothing."""
    path = write(emulated.root, "c.yaml", campaign("promo", spec=f'  scheduled_time: "{LATER}"\n'))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    path.write_text(campaign("promo", spec="  run_immediately: true\n"))
    code, out, err = cli(capsys, "plan", "--no-color")
    assert code == 0 and "No changes" not in out, out + err
    assert "c.yaml:5:3: run_immediately applies only when a campaign is created" in out
    assert f"keeps its scheduled_time {LATER} (GMT)" in out
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    [item] = campaigns(emulated)
    assert item["status"] == "scheduled" and item["scheduled_time"] == LATER


@pytest.mark.parametrize("held", ["2020-01-01T00:00:00Z", "2020-01-01 00:00:00.000", ""])
def test_an_activation_on_a_start_spelled_otherwise_is_flagged(
    emulated: Account, capsys: pytest.CaptureFixture[str], held: str
) -> None:
    """A start the account holds in a form hoodsync cannot read may have passed: activating
    the task is flagged as sending at once, saying the start could not be read."""
    path = write(emulated.root, "t.yaml", push_yaml("odd", "Odd", state="inactive"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    assert emulated.emulator is not None
    store = emulated.emulator.store
    with emulated.remote() as remote:
        [task] = remote.push_tasks()
    row = store.get_push_task("default", int(task["id"]))
    assert row is not None
    row.spec["start_time"] = held
    store.save_push_task(row)
    path.write_text(push_yaml("odd", "Odd", state="active", start="immediately"))
    code, out, err = cli(capsys, "plan", "--no-color")
    assert code == 0, out + err
    assert f"holds start_time {held!r}, which is not a time hoodsync can read" in out
    assert (
        "Warning: sends immediately: push_task.odd (activated: its start could not be read)" in out
    )


def test_quiet_time_is_sent_as_the_plan_shows_it(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hours written 7.0 and "07" are shown as 7 and 7; the body sent (as the emulator stores
    it) carries those integers, the form the schema documents."""
    text = push_yaml("quiet", "Quiet", state="inactive")
    write(emulated.root, "t.yaml", text + '  quiet_time: {from: 7.0, to: "07"}\n')
    code, out, err = cli(capsys, "plan", "--no-color")
    assert code == 0 and "+ from = 7\n" in out and "+ to   = 7\n" in out, out + err
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with emulated.remote() as remote:
        [task] = remote.push_tasks()
    quiet = task["quiet_time"]
    assert quiet == {"from": 7, "to": 7} and all(type(v) is int for v in quiet.values())
    code, out, err = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes." in out, out + err
