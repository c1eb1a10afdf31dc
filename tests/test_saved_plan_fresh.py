"""What apply re-checks of a reviewed plan beyond the object each change acts on: the objects
sharing its identity (a same-name object created since the plan), and the flags that depend on
the clock (a start that passed since the plan). Both for a saved plan (`apply --plan`) and for
the plan an interactive apply showed (checked after `yes`). Against the emulator over loopback;
the clock is injected (``engine.apply(clock=...)``), nothing sleeps."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
import time
from typing import Any

import pytest
from test_cli_apply import EditedWhileAsked, rows
from test_cli_plan import Account, cli, email_yaml, emulated, write

from hoodsync import engine
from hoodsync.errors import StalePlanError
from hoodsync.hooks import NoHooks
from hoodsync.identity import AccountKey, real_endpoint_key, seal
from hoodsync.kinds import RULES
from hoodsync.kinds.namesakes import IdentityIndex
from hoodsync.model import Kind, RemoteObject
from hoodsync.wire import CAMPAIGN_RETIRED

API_TIME = "%Y-%m-%d %H:%M:%S"
MESSAGE = "{title: {en: Daily digest}, body: {en: Top stories}, landing_url: https://example.com}"


def push_yaml(key: str, name: str, *, state: str, start: str = "2030-01-01 10:00:00") -> str:
    return f"""\
kind: PushTask
key: {key}
state: {state}
spec:
  name: {name}
  start_time: "{start}"
  frequency: 86400
  message: {MESSAGE}
"""


def by_hand_push_task(account: Account, name: str, status: int = 1) -> str:
    """A push task someone made in the UI; its id."""
    with account.remote() as remote:
        body = {
            "name": name,
            "status": status,
            "start_time": "2030-01-02 10:00:00",
            "message": {"title": {"en": "x"}, "body": {"en": "y"}, "landing_url": "https://e.com"},
        }
        return str(remote.hood_post("/push-tasks", body)["id"])


def by_hand_email_campaign(account: Account, name: str) -> str:
    """An email campaign someone made in Falconyte (enabled, as the API creates one); its id."""
    with account.remote() as remote:
        body = {
            "name": name,
            "template_ids": ["0b7e6c52-3f1a-4d8e-9c2b-5a6f7e8d9c01"],
            "mail_account_ids": ["8f14e45f-ceea-467f-a0e6-1b2d3c4d5e6f"],
            "events": ["lead.created"],
        }
        return str(remote.falconyte_post("/email/campaigns", body)["campaign"]["id"])


def live_push_tasks(account: Account, name: str) -> list[dict[str, Any]]:
    with account.remote() as remote:
        return [t for t in remote.push_tasks() if t["name"] == name and int(t["status"]) == 1]


def enabled_email_campaigns(account: Account, name: str) -> list[dict[str, Any]]:
    with account.remote() as remote:
        found = remote.email_campaigns()
    trigger = "event_triggered_send"
    return [
        c for c in found if c["name"] == name and c["draft_data"]["send_data"][trigger]["enabled"]
    ]


# ------------------------------------------------------------------ same-name newcomers


def test_saved_plan_is_stale_when_same_name_objects_appeared_since(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reviewed plan starts an email campaign and activates a push task; then someone
    creates one of each with the same names. A fresh plan refuses both (two push tasks named
    "Digest"; the newest "Reactivation" needs a replacement), so the saved plan must not go
    ahead and leave two live objects per name: it is refused, naming each change and the new
    object's id, and nothing is sent."""
    write(emulated.root, "e.yaml", email_yaml("react", "Reactivation", state="stopped"))
    write(emulated.root, "p.yaml", push_yaml("digest", "Digest", state="inactive"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    write(emulated.root, "e.yaml", email_yaml("react", "Reactivation", state="active"))
    write(emulated.root, "p.yaml", push_yaml("digest", "Digest", state="active"))
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0

    push_id = by_hand_push_task(emulated, "Digest")
    email_id = by_hand_email_campaign(emulated, "Reactivation")
    code, out, err = cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert code == 1, out
    assert "the saved plan is stale" in err
    assert f"push_task.digest (the push tasks named like it changed: id {push_id} appeared)" in err
    assert (
        f"email_campaign.react (the email campaigns named like it changed: id {email_id} appeared)"
    ) in err
    assert "nothing was sent: make a new plan" in err
    assert "Apply complete" not in out
    assert [str(t["id"]) for t in live_push_tasks(emulated, "Digest")] == [push_id]
    assert [c["id"] for c in enabled_email_campaigns(emulated, "Reactivation")] == [email_id]


def test_saved_replacement_is_stale_when_a_same_name_campaign_appeared(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reviewed `--allow-replace` plan would create a new campaign and stop the old one; a
    live campaign with the same name made by hand since would be left sending beside the new
    one (a third campaign of that name)."""
    write(emulated.root, "e.yaml", email_yaml("react", "Reactivation"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    write(emulated.root, "e.yaml", email_yaml("react", "Reactivation", events="[lead.created]"))
    assert cli(capsys, "plan", "--allow-replace", "--out", "plan.json")[0] == 0
    by_hand = by_hand_email_campaign(emulated, "Reactivation")
    code, _, err = cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert code == 1
    assert f"email_campaign.react (the email campaigns named like it changed: id {by_hand}" in err
    with emulated.remote() as remote:
        assert len([c for c in remote.email_campaigns() if c["name"] == "Reactivation"]) == 2


@pytest.mark.parametrize(
    "alike_name",
    # a Cyrillic "а"; a Hangul filler at the end (drawn as blank space; before: not counted)
    ["D\u0430ily digest", "Daily digest\u3164", " Daily digest"],
)
def test_saved_create_is_stale_when_a_look_alike_name_appeared(
    emulated: Account, capsys: pytest.CaptureFixture[str], alike_name: str
) -> None:
    """A create planned with no warning, then a push task named like it but for a Cyrillic
    "а", a blank-drawn filler or a leading space appears: a fresh plan warns that the two
    cannot be told apart (both would send), which the reviewer was not shown. The exact-name
    check alone lets it through."""
    write(emulated.root, "p.yaml", push_yaml("digest", "Daily digest", state="active"))
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0
    alike = by_hand_push_task(emulated, alike_name)
    code, _, err = cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert code == 1
    assert f"push_task.digest (the push tasks named like it changed: id {alike} appeared)" in err
    with emulated.remote() as remote:
        assert [str(t["id"]) for t in remote.push_tasks()] == [alike]


def test_saved_start_is_stale_when_a_superseded_namesake_came_back_to_life(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a replacement the old campaign is superseded (stopped, same name). Someone starts
    it again in Falconyte after the plan: a fresh plan refuses (two campaigns of that name not
    stopped), so starting the newest now would leave both sending."""
    write(emulated.root, "e.yaml", email_yaml("react", "Reactivation"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    write(emulated.root, "e.yaml", email_yaml("react", "Reactivation", events="[lead.created]"))
    assert cli(capsys, "apply", "--allow-replace", "--auto-approve")[0] == 0
    write(
        emulated.root,
        "e.yaml",
        email_yaml("react", "Reactivation", events="[lead.created]", state="stopped"),
    )
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    write(emulated.root, "e.yaml", email_yaml("react", "Reactivation", events="[lead.created]"))
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0
    with emulated.remote() as remote:
        [old] = [
            c
            for c in remote.email_campaigns()
            if c["draft_data"]["send_data"]["event_triggered_send"]["events"] == ["contact.saved"]
        ]
        remote.falconyte_post(f"/email/campaigns/{old['id']}/start")
    code, _, err = cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert code == 1
    assert (
        f"email_campaign.react (the email campaigns named like it changed: id {old['id']} live again)"
        in err
    )
    assert [c["id"] for c in enabled_email_campaigns(emulated, "Reactivation")] == [old["id"]]


def test_shown_plan_is_stale_when_a_same_name_push_task_appeared_while_it_asked(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """The interactive path: the plan (activate "Digest") is on screen; while the question
    waits, someone creates a second "Digest". After `yes`, the check refuses: nothing sent."""
    write(emulated.root, "p.yaml", push_yaml("digest", "Digest", state="inactive"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    write(emulated.root, "p.yaml", push_yaml("digest", "Digest", state="active"))
    made: list[str] = []
    hooks = EditedWhileAsked(lambda: made.append(by_hand_push_task(emulated, "Digest")))
    with pytest.raises(StalePlanError) as info:
        engine.apply(engine.ApplyOptions(), hooks, threading.Event())
    assert str(info.value) == (
        "the plan is stale; changed since it was shown: push_task.digest (the push tasks "
        f"named like it changed: id {made[0]} appeared); nothing was sent: run apply again to "
        "see the new plan"
    )
    assert [str(t["id"]) for t in live_push_tasks(emulated, "Digest")] == [made[0]]


# ------------------------------------------------------------------ a second copy beside a create


def created_body(account: Account, plan_file: str, address: str) -> dict[str, Any]:
    """The body the saved plan ``plan_file`` sends to create ``address``."""
    doc = json.loads((account.root / plan_file).read_text())
    [change] = [c for c in doc["changes"] if c["address"] == address]
    assert change["steps"][0]["op"] == "create"
    return dict(change["steps"][0]["body"])


def copy_under_another_name(account: Account, kind: str, body: dict[str, Any], name: str) -> str:
    """An object made by hand with ``body``'s content under ``name``; its id."""
    with account.remote() as remote:
        if kind == "push_task":
            return str(remote.hood_post("/push-tasks", {**body, "name": name})["id"])
        made = remote.falconyte_post("/email/campaigns", {**body, "name": name})
        return str(made["campaign"]["id"])


def second_copy(address: str, ident: str) -> str:
    """How the check names a create beside an object that appeared since the plan."""
    return (
        f"{address} (id {ident} appeared since the plan, differing from it in its name only: "
        "probably this definition's own, renamed, or a copy (another definition's, applied "
        "since, or one made by hand); the create would make a second one: make a new plan)"
    )


def test_saved_create_is_stale_when_its_own_object_was_renamed_since(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """The saved plan creates push task "RT daily" and is applied; the task is renamed through
    the API; the same plan is applied again where the first apply's journal is not (a CI job
    from a clean checkout). The create's name is free again and its namesakes are as planned,
    so before, the create went through: a second push task, and both send. A fresh plan warns
    (the renamed task differs from the definition in its name only): the saved plan, which
    did not say so, is refused, and nothing is sent."""
    write(emulated.root, "p.yaml", push_yaml("rt-daily", "RT daily", state="active"))
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0
    assert cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")[0] == 0
    with emulated.remote() as remote:
        [task] = remote.push_tasks()
        remote.hood_patch(f"/push-tasks/{task['id']}", {"name": "RT daily (renamed in UI)"})
    shutil.rmtree(emulated.root / ".hoodsync" / "journal")

    code, out, err = cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert (code, out) == (1, "")
    assert "the saved plan is stale" in err
    assert second_copy("push_task.rt-daily", str(task["id"])) in err
    with emulated.remote() as remote:
        assert [str(t["id"]) for t in remote.push_tasks()] == [str(task["id"])]
    code, out, _ = cli(capsys, "plan")
    assert code == 0 and f"PushTask id {task['id']} (unmanaged) differs from this" in out


@pytest.mark.parametrize("kind", ["push_task", "email_campaign"])
def test_saved_create_is_stale_when_a_copy_under_another_name_appeared(
    emulated: Account, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """Between `plan --out` and `apply --plan`, someone makes an object with the create's very
    content under another name. A fresh plan warns that the create makes a second one beside
    it; the saved plan did not, and is refused."""
    if kind == "push_task":
        address = "push_task.digest"
        write(emulated.root, "d.yaml", push_yaml("digest", "Digest", state="active"))
    else:
        address = "email_campaign.react"
        write(emulated.root, "d.yaml", email_yaml("react", "Reactivation"))
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0
    body = created_body(emulated, "plan.json", address)
    copy = copy_under_another_name(emulated, kind, body, "Copy of it")

    code, out, err = cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert (code, out) == (1, "")
    assert second_copy(address, copy) in err
    with emulated.remote() as remote:
        found = remote.push_tasks() if kind == "push_task" else remote.email_campaigns()
    assert [str(o["id"]) for o in found] == [copy]


def test_shown_create_is_stale_when_a_copy_under_another_name_appeared_while_it_asked(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """The interactive path: while the plan creating "Digest" waits for `yes`, someone makes
    the same push task named "Digest 2". After `yes` the check refuses: nothing sent."""
    write(emulated.root, "p.yaml", push_yaml("digest", "Digest", state="active"))
    doc = json.loads(cli(capsys, "plan", "--format", "json")[1])
    [change] = doc["changes"]
    made: list[str] = []

    def copy() -> None:
        made.append(
            copy_under_another_name(emulated, "push_task", change["steps"][0]["body"], "Digest 2")
        )

    with pytest.raises(StalePlanError) as info:
        engine.apply(engine.ApplyOptions(), EditedWhileAsked(copy), threading.Event())
    assert str(info.value) == (
        f"the plan is stale; changed since it was shown: {second_copy('push_task.digest', made[0])}"
        "; nothing was sent: run apply again to see the new plan"
    )
    with emulated.remote() as remote:
        assert [str(t["id"]) for t in remote.push_tasks()] == made


def test_a_create_beside_a_managed_twin_or_one_it_warned_about_applies(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """Objects the plan was made beside are not new: a push task another definition manages
    whose content is the create's but for its name (no warning: it is that definition's), and
    an unmanaged one the plan warned about (the reviewer saw it). Neither makes the saved plan,
    or the plan an interactive apply showed, stale."""
    write(emulated.root, "a.yaml", push_yaml("a", "Digest A", state="active"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    write(emulated.root, "b.yaml", push_yaml("b", "Digest B", state="active"))
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0
    code, out, err = cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert code == 0, err
    assert rows(out)["push_task.b"][:2] == ("create", "applied")

    write(emulated.root, "c.yaml", push_yaml("c", "Digest C", state="active"))
    assert engine.apply(engine.ApplyOptions(), Approve(), threading.Event()) is True

    (emulated.root / "c.yaml").unlink()  # its task turns unmanaged: a twin of d's create
    write(emulated.root, "d.yaml", push_yaml("d", "Digest D", state="active"))
    code, out, _ = cli(capsys, "plan", "--out", "plan-d.json")
    assert code == 0 and "(unmanaged) differs from this definition in its name only" in out
    code, out, err = cli(capsys, "apply", "--plan", "plan-d.json", "--auto-approve")
    assert code == 0, err
    with emulated.remote() as remote:
        assert len(remote.push_tasks()) == 4


def test_a_saved_create_by_name_without_the_objects_it_was_made_beside_is_refused(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """A saved plan of an older hoodsync records no list of the objects it was made beside, so
    apply cannot tell which appeared since: one that creates a push task is refused (made
    again, it is applied)."""
    write(emulated.root, "p.yaml", push_yaml("digest", "Digest", state="active"))
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0
    doc = json.loads((emulated.root / "plan.json").read_text())
    handle = emulated.emulator
    assert handle is not None
    key = AccountKey((real_endpoint_key("hood", handle.hood_url, handle.hood_token),))
    older = seal({k: v for k, v in doc.items() if k != "objects_seen"}, key)
    write(emulated.root, "older.json", json.dumps(older))
    code, _, err = cli(capsys, "apply", "--plan", "older.json", "--auto-approve")
    assert code == 1
    assert "older.json records no list of the PushTask objects it was made beside" in err
    with emulated.remote() as remote:
        assert remote.push_tasks() == []
    assert cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")[0] == 0


# ------------------------------------------------------------------ the clock


class Approve(NoHooks):
    """An apply answered `yes` at once (as `--auto-approve`)."""

    def approve(self) -> bool:
        return True


def _later(seconds: float) -> Any:
    """A clock ``seconds`` ahead of the real one: the answer, or the apply, came that late."""
    return lambda: time.time() + seconds


def _soon(minutes: int) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).strftime(API_TIME)


def test_saved_activation_is_stale_when_its_start_passed_since_the_plan(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reviewed while the start was ahead: "will be activated", no warning. Applied after the
    start passed, the activation sends at once, which a fresh plan warns about: the saved plan
    is refused instead, naming the change and what now differs; the same plan applied in time
    goes through."""
    start = _soon(30)
    write(emulated.root, "p.yaml", push_yaml("flash", "Flash sale", state="inactive", start=start))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    write(emulated.root, "p.yaml", push_yaml("flash", "Flash sale", state="active", start=start))
    code, out, _ = cli(capsys, "plan", "--out", "plan.json")
    assert code == 0 and "sends immediately" not in out

    options = engine.ApplyOptions(plan_file=emulated.root / "plan.json")
    with pytest.raises(StalePlanError) as info:
        engine.apply(options, Approve(), threading.Event(), clock=_later(3600))
    assert str(info.value) == (
        "the saved plan is stale; changed since it was made: push_task.flash (activating it "
        "may send at once: its start has passed, which it did not when the plan was made); "
        "nothing was sent: make a new plan (`hoodsync plan --out`) and review it"
    )
    assert live_push_tasks(emulated, "Flash sale") == []

    assert engine.apply(options, Approve(), threading.Event()) is True  # in time
    assert len(live_push_tasks(emulated, "Flash sale")) == 1


def test_shown_activation_is_stale_when_its_start_passed_before_the_answer(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """The interactive path: the plan was shown while the start was ahead; `yes` came after
    it passed."""
    start = _soon(30)
    write(emulated.root, "p.yaml", push_yaml("flash", "Flash sale", state="inactive", start=start))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    write(emulated.root, "p.yaml", push_yaml("flash", "Flash sale", state="active", start=start))
    with pytest.raises(StalePlanError, match=r"push_task\.flash \(activating it may send at once"):
        engine.apply(engine.ApplyOptions(), Approve(), threading.Event(), clock=_later(3600))
    assert live_push_tasks(emulated, "Flash sale") == []


def test_saved_resume_is_stale_when_its_scheduled_time_passed_since_the_plan(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """A campaign's time-dependent rules too: a resume at ``resume.scheduled_time`` reviewed
    while that time was ahead is an error once it has passed (Hood documents nothing for a
    past time: it may send at once, or never)."""
    when = _soon(30)
    campaign = f"""\
kind: Campaign
key: spring
state: {{state}}
resume: {{{{scheduled_time: "{when}"}}}}
spec:
  name: Spring
  scheduled_time: "2030-01-01 10:00:00"
  messages:
    - name: Hello
      channel: push
      push: {{{{title: {{{{en: Hi}}}}, body: {{{{en: There}}}}, landing_url: https://example.com}}}}
"""
    write(emulated.root, "c.yaml", campaign.format(state="paused"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    write(emulated.root, "c.yaml", campaign.format(state="active"))
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0
    options = engine.ApplyOptions(plan_file=emulated.root / "plan.json")
    with pytest.raises(StalePlanError) as info:
        engine.apply(options, Approve(), threading.Event(), clock=_later(3600))
    assert (
        f"campaign.spring (resume.scheduled_time {when} (GMT) has passed and the resume would "
        "schedule it, which it did not when the plan was made)"
    ) in str(info.value)
    with emulated.remote() as remote:
        assert remote.campaign("Spring")["status"] == "paused"


def test_saved_plan_in_time_with_unchanged_namesakes_applies(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """Objects named like a change's that were there when it was planned (and did not move)
    do not make it stale: a look-alike push task beside the one activated."""
    write(emulated.root, "p.yaml", push_yaml("digest", "Digest", state="inactive"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    by_hand_push_task(emulated, "Dig\u0435st", status=0)  # a Cyrillic "е"
    write(emulated.root, "p.yaml", push_yaml("digest", "Digest", state="active"))
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0
    code, out, err = cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert code == 0, err
    assert rows(out)["push_task.digest"][:2] == ("activate", "applied")


# ------------------------------------------------------------------ "now exists", by one lookup


def _matched_one_by_one(kind: Kind, key: str, name: str | None, obj: RemoteObject) -> bool:
    """How apply judged a create's object to exist before: one object at a time, every object
    for every create (a 10,000-create plan beside 10,000 objects took minutes)."""
    if kind is Kind.CAMPAIGN and obj.marker:
        return obj.marker == key
    if kind is Kind.CAMPAIGN and obj.status in CAMPAIGN_RETIRED:
        return False
    return name is not None and obj.name == name


def _remote(
    kind: Kind, ident: str, name: str, status: str, marker: str | None = None
) -> RemoteObject:
    return RemoteObject(kind, ident, name, status, {}, marker)


CAMPAIGNS = [
    _remote(Kind.CAMPAIGN, "1", "Spring", "scheduled", marker="spring"),
    _remote(Kind.CAMPAIGN, "2", "Summer", "scheduled", marker="old-key"),  # an orphan's marker
    _remote(Kind.CAMPAIGN, "3", "Autumn", "paused"),  # made in the UI
    _remote(Kind.CAMPAIGN, "4", "Winter", "canceled"),  # finished, unmarked: never adopted
    _remote(Kind.CAMPAIGN, "5", "Easter", "sent", marker="easter"),  # finished, marked
    _remote(Kind.CAMPAIGN, "6", "D\u0430ily", "active"),  # a look-alike of "Daily"
]
PUSH_TASKS = [
    _remote(Kind.PUSH_TASK, "7", "Digest", "active"),
    _remote(Kind.PUSH_TASK, "8", "Weekly", "finished", marker="weekly"),  # no marker counts
]


@pytest.mark.parametrize(
    ("kind", "key", "name", "exists"),
    [
        (Kind.CAMPAIGN, "spring", "Anything", True),  # by its marker, whatever its name
        (Kind.CAMPAIGN, "spring", None, True),
        (Kind.CAMPAIGN, "summer", "Summer", False),  # another key's marker: never it
        (Kind.CAMPAIGN, "old-key", "Other", True),
        (Kind.CAMPAIGN, "autumn", "Autumn", True),  # unmarked, by exact name
        (Kind.CAMPAIGN, "autumn", "autumn", False),
        (Kind.CAMPAIGN, "autumn", None, False),
        (Kind.CAMPAIGN, "winter", "Winter", False),  # finished and unmarked
        (Kind.CAMPAIGN, "easter", "Other", True),  # marked: finished or not
        (Kind.CAMPAIGN, "daily", "Daily", False),  # alike to the eye only (namesakes' rule)
        (Kind.CAMPAIGN, "x", "D\u0430ily", True),
        (Kind.PUSH_TASK, "digest", "Digest", True),
        (Kind.PUSH_TASK, "digest", "Dig\u0435st", False),
        (Kind.PUSH_TASK, "weekly", "Other", False),  # push tasks: by name alone
        (Kind.PUSH_TASK, "weekly", "Weekly", True),  # finished ones too
        (Kind.PUSH_TASK, "digest", None, False),
    ],
)
def test_a_create_finds_the_object_it_would_be_matched_to_as_before(
    kind: Kind, key: str, name: str | None, exists: bool
) -> None:
    """The "now exists" check of :func:`check_fresh` looks a create up in one index per kind
    (not a scan of every object per create), with the planner's matching rules unchanged."""
    objects = CAMPAIGNS if kind is Kind.CAMPAIGN else PUSH_TASKS
    index = IdentityIndex(RULES[kind], objects)
    assert index.matches(key, name) is exists
    assert exists is any(_matched_one_by_one(kind, key, name, o) for o in objects)


def test_the_existence_index_agrees_with_the_one_by_one_rule_on_every_mix() -> None:
    """Every key and name of a mixed account (and some of none), against each object set."""
    everything = CAMPAIGNS + PUSH_TASKS
    keys = {str(o.marker) for o in everything if o.marker} | {"autumn", "none"}
    names: set[str | None] = {o.name for o in everything} | {None, "Nothing", "Daily"}
    for kind, objects in ((Kind.CAMPAIGN, CAMPAIGNS), (Kind.PUSH_TASK, PUSH_TASKS)):
        for some in (objects, objects[::2], objects[1::2], []):
            index = IdentityIndex(RULES[kind], some)
            for key in keys:
                for name in names:
                    expected = any(_matched_one_by_one(kind, key, name, o) for o in some)
                    assert index.matches(key, name) is expected, (kind, key, name)


# ------------------------------------------------------------------ the environment, not the account


@pytest.mark.parametrize("value", [None, "Weekly digest"], ids=["unset", "changed"])
def test_a_saved_create_named_from_a_variable_that_moved_is_refused_for_the_variable(
    emulated: Account,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str | None,
) -> None:
    """A create named from ``${env:DIGEST_NAME}`` planned beside a look-alike push task; at
    apply the variable is unset, or holds another name. Before, the account was read first and
    the look-alike was looked for under another name: the refusal said "the push tasks named
    like it changed: id … gone or renamed", pointing the reviewer at an account that had not
    moved. The variable is checked first and named."""
    monkeypatch.setenv("DIGEST_NAME", "Daily digest")
    alike = by_hand_push_task(emulated, "D\u0430ily digest", status=0)
    write(emulated.root, "p.yaml", push_yaml("digest", '"${env:DIGEST_NAME}"', state="active"))
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0
    if value is None:
        monkeypatch.delenv("DIGEST_NAME")
    else:
        monkeypatch.setenv("DIGEST_NAME", value)
    code, out, err = cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert (code, out) == (1, "")
    assert "named like it" not in err and alike not in err
    if value is None:
        assert "push_task.digest: environment variable DIGEST_NAME is not set" in err
    else:
        assert "push_task.digest (a ${env:...} value changed)" in err
    with emulated.remote() as remote:
        assert [str(t["id"]) for t in remote.push_tasks()] == [alike]
