"""make_plan: counts, targets, prune, waves, safety, and secrets never leaving the planner."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest

from hoodsync.errors import DefinitionError, PlanError, SafetyError
from hoodsync.identity import ValueKey
from hoodsync.kinds.campaign import MARKER
from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import AccountInfo, Plan, check_safety
from hoodsync.planner import make_plan
from hoodsync.render import render

ACCOUNT = AccountInfo("default", "https://api.example.test/v1/hood")


def campaign(
    key: str, name: str | None = None, *, order: int = 0, state: str | None = None, **spec: Any
) -> Definition:
    body = {
        "name": name or key.title(),
        "messages": [{"name": "m", "channel": "push", "push": {"title": {"en": "Hi"}}}],
        **spec,
    }
    return Definition(Kind.CAMPAIGN, key, body, Location(f"{key}.yaml"), state=state, order=order)


def remote_campaign(
    cid: str, name: str, *, key: str | None = None, status: str = "scheduled", **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": cid,
        "name": name,
        "status": status,
        "messages": [{"id": "1", "name": "m", "channel": "push", "push": {"title": {"en": "Hi"}}}],
        **extra,
    }
    if key:
        out["metadata"] = {MARKER: key}
    return out


def test_counts_and_header_numbers() -> None:
    defs = [campaign("a"), campaign("b")]
    remote = {
        Kind.CAMPAIGN: [remote_campaign("1", "A", key="a"), remote_campaign("2", "Stranger")],
        Kind.PUSH_TASK: [{"id": "5", "name": "Task", "status": "1"}],
    }
    plan = make_plan(defs, remote, account=ACCOUNT, read_requests=3)
    c = plan.counts
    assert (c.definitions, c.remote_objects, c.read_requests, c.unchanged, c.unmanaged) == (
        2,
        3,
        3,
        1,
        2,
    )
    assert [ch.address for ch in plan.changes] == ["campaign.b"]
    assert [u.name for u in plan.unmanaged] == ["Stranger", "Task"]


def test_targets_limit_changes_but_matching_sees_everything() -> None:
    defs = [campaign("a"), campaign("b", labels=["x"])]
    remote = {
        Kind.CAMPAIGN: [remote_campaign("2", "B", key="b"), remote_campaign("3", "Old", key="old")]
    }
    plan = make_plan(
        defs,
        remote,
        account=ACCOUNT,
        targets=frozenset({"campaign.a", "campaign.nope"}),
        prune=True,
    )
    assert [c.address for c in plan.changes] == ["campaign.a"]
    assert plan.counts.unmanaged == 0  # b's remote is still managed, not "unmanaged"
    assert [o.address for o in plan.orphans] == [
        "campaign.old"
    ]  # listed, not pruned (not targeted)
    assert [n.message for n in plan.notes] == [
        "--target campaign.nope matches no definition and no orphan"
    ]
    plan = make_plan(defs, remote, account=ACCOUNT, targets=frozenset({"campaign.old"}), prune=True)
    assert [(c.address, c.action) for c in plan.changes] == [("campaign.old", "cancel")]


def test_orphans_are_listed_and_pruned_only_with_prune() -> None:
    remote = {
        Kind.CAMPAIGN: [
            remote_campaign("3", "Old", key="old", status="paused"),
            remote_campaign("4", "Done", key="done", status="canceled"),
        ]
    }
    plan = make_plan([campaign("a")], remote, account=ACCOUNT)
    assert [o.address for o in plan.orphans] == ["campaign.old"]
    assert plan.counts.retired == 1 and plan.counts.orphans == 1
    assert [c.action for c in plan.changes] == ["create"]
    pruned = make_plan([campaign("a")], remote, account=ACCOUNT, prune=True)
    assert [(c.address, c.action) for c in pruned.changes] == [
        ("campaign.a", "create"),
        ("campaign.old", "cancel"),
    ]
    assert pruned.counts.managed == 1


def test_waves_order_changes_across_kinds() -> None:
    defs = [
        campaign("late", order=10),
        campaign("early", order=-1, state="paused"),
        Definition(Kind.PUSH_TASK, "t", {"name": "T"}, Location("t.yaml")),
        campaign("mid"),
    ]
    plan = make_plan(defs, {}, account=ACCOUNT)
    assert [c.address for c in plan.changes] == [
        "campaign.early",
        "campaign.mid",
        "push_task.t",
        "campaign.late",
    ]


def test_missing_variables_in_several_definitions_are_reported_together() -> None:
    defs = [campaign("a", description="${env:ONE}"), campaign("b", description="${env:TWO}")]
    with pytest.raises(DefinitionError) as info:
        make_plan(defs, {}, account=ACCOUNT)
    text = " ".join(str(p) for p in info.value.problems)
    assert "ONE" in text and "TWO" in text and "a.yaml" in text and "b.yaml" in text


def test_credential_variables_cannot_be_interpolated() -> None:
    defs = [
        campaign("a", description="token ${env:HOOD_API_TOKEN}"),
        campaign("b", description="${env:PROMO}"),
    ]
    env = {"HOOD_API_TOKEN": "tok-secret-value", "PROMO": "x"}
    with pytest.raises(DefinitionError) as info:
        make_plan(
            defs,
            {},
            account=ACCOUNT,
            env=env,
            forbidden_env=frozenset({"HOOD_API_TOKEN", "FALCONYTE_API_KEY"}),
        )
    problems = info.value.problems
    assert len(problems) == 1
    assert problems[0].message == (
        "HOOD_API_TOKEN holds an API credential; it cannot be interpolated into a definition"
    )
    assert problems[0].path == ("spec", "description")
    assert str(problems[0].location).startswith("a.yaml")
    assert "tok-secret-value" not in str(info.value)
    # without the guard the same definitions plan (the parameter is what refuses)
    assert make_plan(defs, {}, account=ACCOUNT, env=env).changes


def test_forbidden_variable_is_refused_even_when_unset() -> None:
    with pytest.raises(DefinitionError) as info:
        make_plan(
            [campaign("a", description="${env:FALCONYTE_API_KEY}")],
            {},
            account=ACCOUNT,
            forbidden_env=frozenset({"FALCONYTE_API_KEY"}),
        )
    assert "FALCONYTE_API_KEY holds an API credential" in info.value.problems[0].message


def test_a_missing_variable_does_not_hide_the_refused_values_of_its_definition() -> None:
    # Before, the unset variable was the only problem reported: the label and the URL came
    # out only in the next run, once it was set.
    d = campaign(
        "a",
        labels=["${env:LABEL}"],
        messages=[
            {
                "name": "m",
                "channel": "push",
                "push": {
                    "title": {"en": "Hi"},
                    "body": {"en": "Price ${env:UNDEF_VAR} (${env:LABEL})"},
                    "landing_url": "https://${env:HOST}/x",
                },
            }
        ],
    )
    with pytest.raises(DefinitionError) as info:
        make_plan([d], {}, account=ACCOUNT, env={"LABEL": "a,b", "HOST": "evil.com/ ?x"})
    found = [(p.path, p.message.split(" resolved")[0]) for p in info.value.problems]
    assert sorted(found) == sorted(
        [
            (("spec", "labels", 0), "with ${env:LABEL}"),
            (
                ("spec", "messages", 0, "push", "body", "en"),
                "environment variable UNDEF_VAR is not set (used as ${env:UNDEF_VAR})",
            ),
            (("spec", "messages", 0, "push", "landing_url"), "with ${env:HOST}"),
        ]
    )
    assert "evil.com" not in str([str(p) for p in info.value.problems])


def test_duplicate_address_is_refused() -> None:
    with pytest.raises(PlanError, match="defined twice"):
        make_plan([campaign("a"), campaign("a")], {}, account=ACCOUNT)


def test_empty_definitions_with_managed_objects_trips_the_guard() -> None:
    remote = {Kind.CAMPAIGN: [remote_campaign("3", "Old", key="old", status="paused")]}
    plan = make_plan([], remote, account=ACCOUNT, prune=True)
    with pytest.raises(SafetyError, match="no definitions"):
        check_safety(plan)


SECRET_NEW = "tok-NEW-value-123456"
SECRET_OLD = "tok-OLD-value-654321"


KEY = ValueKey(b"k" * 32)


def _sensitive_case() -> tuple[list[Definition], dict[Kind, list[dict[str, Any]]]]:
    url = "https://example.com/?k=${env:LANDING_KEY}"
    defs = [
        campaign("fresh", metadata={"api": "${env:LANDING_KEY}"}),
        campaign(
            "edited",
            messages=[
                {
                    "name": "m",
                    "channel": "push",
                    "push": {"title": {"en": "Hi"}, "landing_url": url},
                }
            ],
        ),
        Definition(
            Kind.PUSH_TASK,
            "t",
            {"name": "T", "custom_data": "${env:LANDING_KEY}"},
            Location("t.yaml"),
        ),
        campaign("named", "Promo ${env:LANDING_KEY}"),
    ]
    remote = {
        Kind.CAMPAIGN: [
            remote_campaign(
                "2",
                "Edited",
                key="edited",
                status="running",
                messages=[
                    {
                        "id": "1",
                        "name": "m",
                        "channel": "push",
                        "push": {
                            "title": {"en": "Hi"},
                            "landing_url": f"https://example.com/?k={SECRET_OLD}",
                        },
                    }
                ],
            ),
            remote_campaign("3", f"Promo {SECRET_NEW}"),
        ],
        Kind.PUSH_TASK: [{"id": "5", "name": "T", "status": "1", "custom_data": SECRET_OLD}],
    }
    return defs, remote


def test_sensitive_values_never_appear_in_any_output() -> None:
    url = "https://example.com/?k=${env:LANDING_KEY}"
    defs, remote = _sensitive_case()
    plan = make_plan(defs, remote, account=ACCOUNT, env={"LANDING_KEY": SECRET_NEW}, value_key=KEY)
    doc = plan.to_dict()
    outputs = [
        json.dumps(doc),
        render(doc, "text"),
        render(doc, "text", color=True),
        render(doc, "markdown"),
        render(doc, "json"),
        repr(plan),
        json.dumps(Plan.from_dict(doc).to_dict()),
    ]
    for out in outputs:
        assert SECRET_NEW not in out and SECRET_OLD not in out
        assert "tok-" not in out
    text = render(doc, "text")
    assert "(sensitive ${env:LANDING_KEY}, fp " in text
    # the saved plan keeps the template so apply can resolve it again
    edited = next(c for c in plan.changes if c.address == "campaign.edited")
    patch = next(s for s in edited.steps if s.op == "patch")
    assert patch.body["messages"][0]["push"]["landing_url"] == url  # type: ignore[index]
    assert [s.template for s in edited.sensitive] == [url]
    assert {c.address: c.action for c in plan.changes} == {
        "campaign.fresh": "create",
        "campaign.edited": "update",
        "push_task.t": "update",
        "campaign.named": "adopt",
    }


def test_unmanaged_objects_named_with_an_old_value_are_listed_masked() -> None:
    """A push task and an email campaign named from ``${env:PROMO}``: after the variable
    changed, the objects named with the old value are unmanaged. Before, the plan's warning
    masked the old name, but the document's ``unmanaged`` list (the JSON plan, the saved plan
    CI uploads) held it in clear. Now it is masked there, as the warning masks it; an object
    whose name does not fit the template is listed as it is."""
    task_spec = {"name": "Task ${env:PROMO}", "frequency": 3600, "message": {"title": {"en": "Hi"}}}
    mail_spec = {
        "name": "Mail ${env:PROMO}",
        "template_ids": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
        "mail_account_ids": ["9b2f6c1e-4d7a-4f5e-8a3b-2c1d0e9f8a7b"],
        "events": ["contact.saved"],
    }
    defs = [
        Definition(Kind.PUSH_TASK, "t", task_spec, Location("t.yaml")),
        Definition(Kind.EMAIL_CAMPAIGN, "m", mail_spec, Location("m.yaml")),
    ]
    old_task = {"id": "5", "status": "1", **task_spec, "name": f"Task {SECRET_OLD}"}
    drifted = {**old_task, "id": "6", "frequency": 60}  # more than its name: no warning
    email = {
        "id": "e1",
        "name": f"Mail {SECRET_OLD}",
        "created_at": "2026-01-01T00:00:00Z",
        "draft_data": {"send_data": {"event_triggered_send": {"enabled": True}}},
    }
    other = {"id": "7", "status": "1", **task_spec, "name": "Weekly digest"}
    remote = {Kind.PUSH_TASK: [old_task, drifted, other], Kind.EMAIL_CAMPAIGN: [email]}
    plan = make_plan(defs, remote, account=ACCOUNT, env={"PROMO": SECRET_NEW}, value_key=KEY)
    doc = plan.to_dict()
    outputs = [
        json.dumps(doc),
        render(doc, "text"),
        render(doc, "markdown"),
        render(doc, "json"),
        json.dumps(Plan.from_dict(doc).to_dict()),
    ]
    for out in outputs:
        assert SECRET_OLD not in out and "OLD-value" not in out
    names = {r["id"]: r["name"] for r in doc["unmanaged"]}
    mask = f"(sensitive ${{env:PROMO}}, fp {KEY.shown(f'Task {SECRET_OLD}')})"
    assert names == {
        "5": mask,
        "6": mask,
        "7": "Weekly digest",
        "e1": f"(sensitive ${{env:PROMO}}, fp {KEY.shown(f'Mail {SECRET_OLD}')})",
    }
    # the same mask as the warning on the create shows
    task_create = next(c for c in plan.changes if c.address == "push_task.t")
    assert f"it is named {mask}" in task_create.notes[0].message.replace('"', "")


def _shown_fps(plan: Plan) -> list[str]:
    return re.findall(r"fp ([0-9a-f]{4})\)", json.dumps(plan.to_dict()))


def test_fingerprints_are_keyed_with_the_account_key_on_both_sides() -> None:
    """Anyone can take sha256 of a guess; only the account key's holder can take the fp."""
    defs, remote = _sensitive_case()
    env = {"LANDING_KEY": SECRET_NEW}
    plan = make_plan(defs, remote, account=ACCOUNT, env=env, value_key=KEY)
    shown = _shown_fps(plan)
    old = f"https://example.com/?k={SECRET_OLD}"  # the account's side of the edited message
    new = f"https://example.com/?k={SECRET_NEW}"
    assert KEY.shown(old) in shown and KEY.shown(new) in shown and KEY.shown(SECRET_OLD) in shown
    unkeyed = {hashlib.sha256(v.encode()).hexdigest()[:4] for v in (old, new, SECRET_OLD)}
    assert not unkeyed & set(shown)
    other = make_plan(defs, remote, account=ACCOUNT, env=env, value_key=ValueKey(b"o" * 32))
    assert len(_shown_fps(other)) == len(shown) and _shown_fps(other) != shown
    assert _shown_fps(make_plan(defs, remote, account=ACCOUNT, env=env, value_key=KEY)) == shown
    edited = next(c for c in plan.changes if c.address == "campaign.edited")
    assert [s.fp for s in edited.sensitive] == [KEY.check(new)]

    # The hash a create writes (shown in the JSON plan) is keyed through its masks too: with
    # another key, or none (all an attacker has), it is another hash.
    def stored_hash(p: Plan) -> Any:
        fresh = next(c for c in p.changes if c.address == "campaign.fresh")
        return fresh.steps[0].body["metadata"]["hoodsync_hash"]  # type: ignore[index]

    keyless = make_plan(defs, remote, account=ACCOUNT, env=env)
    assert len({stored_hash(plan), stored_hash(other), stored_hash(keyless)}) == 3


def test_without_an_account_key_no_fingerprint_is_shown_or_recorded() -> None:
    defs, remote = _sensitive_case()
    plan = make_plan(defs, remote, account=ACCOUNT, env={"LANDING_KEY": SECRET_NEW})
    text = json.dumps(plan.to_dict())
    assert "(sensitive ${env:LANDING_KEY})" in text and ", fp " not in text
    assert all(s.fp is None for c in plan.changes for s in c.sensitive)


def test_drift_is_rendered_before_the_changes() -> None:
    d = campaign("a", state="active")
    created = make_plan([d], {}, account=ACCOUNT).changes[0].steps[0].body
    assert created is not None
    remote = remote_campaign("1", "A", status="paused", metadata=created["metadata"])
    plan = make_plan([d], {Kind.CAMPAIGN: [remote]}, account=ACCOUNT)
    (change,) = plan.changes
    assert change.drift and change.action == "resume" and len(change.steps) == 1
    text = render(plan.to_dict(), "text")
    assert text.index("has changed outside hoodsync") < text.index("hoodsync will perform")
    assert "status = active -> paused" in text


def test_prune_says_once_that_push_tasks_and_email_campaigns_are_not_pruned() -> None:
    task = {"id": "5", "name": "Forgotten task", "status": "1"}
    email = {
        "id": "e1",
        "name": "Forgotten flow",
        "created_at": "2026-01-01T00:00:00Z",
        "draft_data": {"send_data": {"event_triggered_send": {"enabled": True}}},
    }
    remote = {Kind.PUSH_TASK: [task], Kind.EMAIL_CAMPAIGN: [email]}
    plan = make_plan([campaign("a")], remote, account=ACCOUNT, prune=True)
    (note,) = plan.notes
    assert note.severity == "info" and "1 push task and 1 email campaign" in note.message
    assert "no hoodsync marker" in note.message and not plan.has_errors
    assert not make_plan([campaign("a")], remote, account=ACCOUNT).notes  # only with --prune
    only_campaigns = {Kind.CAMPAIGN: [remote_campaign("3", "UI made")]}
    assert not make_plan([campaign("a")], only_campaigns, account=ACCOUNT, prune=True).notes
    # a task that matches a definition is managed, not a reason for the note
    managed = Definition(Kind.PUSH_TASK, "t", {"name": "Forgotten task"}, Location("t.yaml"))
    assert not make_plan([managed], {Kind.PUSH_TASK: [task]}, account=ACCOUNT, prune=True).notes
    # with nothing to change the renderings still say "No changes", and show the note
    clean = make_plan([], {Kind.PUSH_TASK: [task]}, account=ACCOUNT, prune=True).to_dict()
    for fmt in ("text", "markdown"):
        out = render(clean, fmt)
        assert "No changes." in out and "1 push task matching no" in out


def test_now_reaches_the_push_task_start_time_check() -> None:
    import datetime as dt

    d = Definition(
        Kind.PUSH_TASK, "t", {"name": "T", "start_time": "2027-01-01 12:00:00"}, Location("t.yaml")
    )
    late = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)
    plan = make_plan([d], {}, account=ACCOUNT, now=late)
    assert plan.has_errors and "in the past" in plan.changes[0].notes[0].message
    assert not make_plan([d], {}, account=ACCOUNT).has_errors


def test_plan_lists_the_kinds_it_involves() -> None:
    plan = make_plan(
        [campaign("a")],
        {Kind.PUSH_TASK: [{"id": "5", "name": "T", "status": "0"}]},
        account=ACCOUNT,
    )
    assert plan.to_dict()["kinds"] == ["Campaign", "PushTask"]
    assert Plan.from_dict(plan.to_dict()).involved_kinds() == (Kind.CAMPAIGN, Kind.PUSH_TASK)


def test_a_create_beside_an_object_that_differs_in_its_name_only_is_warned() -> None:
    """Push tasks are matched by name: renamed in the UI (or in git), the managed task turns
    unmanaged and the definition plans a create of a second, live one. Said, by id, with both
    names."""
    spec = {"name": "Replay 2", "frequency": 86400, "message": {"title": {"en": "Hi"}}}
    d = Definition(Kind.PUSH_TASK, "replay", spec, Location("t.yaml"))
    renamed = {"id": "51", "status": "1", **spec, "name": "Replay (edited in UI)"}
    other = {**renamed, "id": "52", "frequency": 3600}  # differs in more than its name
    plan = make_plan([d], {Kind.PUSH_TASK: [renamed, other]}, account=ACCOUNT)
    (create,) = plan.changes
    assert create.action == "create"
    (note,) = create.notes
    assert note.severity == "warning" and note.message.startswith("PushTask id 51 (unmanaged)")
    assert 'it is named "Replay (edited in UI)", this definition "Replay 2".' in note.message
    assert "52" not in note.message and "look alike" not in note.message
    assert "lookalike_name" not in create.flags
    assert not plan.has_errors
    # With nothing of the kind unmanaged, or the task matched, nothing to say; nor beside a
    # finished task (it cannot be managed again) or one in another state (more than its name).
    assert not make_plan([d], {Kind.PUSH_TASK: [other]}, account=ACCOUNT).changes[0].notes
    for status in ("2", "0"):
        unlike = {**renamed, "status": status}
        inactive = Definition(Kind.PUSH_TASK, "replay", spec, Location("t.yaml"), state="active")
        plan = make_plan([inactive], {Kind.PUSH_TASK: [unlike]}, account=ACCOUNT)
        assert not plan.changes[0].notes, status
    matched = make_plan([d], {Kind.PUSH_TASK: [{**renamed, "name": "Replay 2"}]}, account=ACCOUNT)
    assert matched.changes == ()


def _applied(d: Definition, cid: str, **extra: Any) -> dict[str, Any]:
    """What hoodsync's create of ``d`` left in the account (marker and hash included)."""
    create = make_plan([d], {}, account=ACCOUNT).changes[0].steps[0].body
    assert create is not None
    return {"id": cid, "status": "scheduled", **create, **extra}


def test_a_changed_campaign_key_is_warned_as_a_second_live_copy() -> None:
    """A key renamed in git turns the campaign an orphan and plans a create beside it: two live
    campaigns, both sending. The create is flagged for the warnings banner, and its note names
    the old campaign by id and key and says how to keep or retire it."""
    old = campaign("black-friday", "Black Friday", scheduled_time="2027-06-01 10:00:00")
    new = campaign("bf-2027", "Black Friday", scheduled_time="2027-06-01 10:00:00")
    remote = {Kind.CAMPAIGN: [_applied(old, "1017000")]}
    plan = make_plan([new], remote, account=ACCOUNT)
    (create,) = plan.changes
    assert create.action == "create" and "second_copy" in create.flags
    (note,) = create.notes
    assert note.severity == "warning" and "1017000" in note.message
    assert "key: black-friday" in note.message and "--target campaign.black-friday" in note.message
    assert "name and content" in note.message
    for fmt, line in (
        ("text", "Warning: creates a second copy"),
        ("markdown", "**Creates a second copy**"),
    ):
        out = render(plan.to_dict(), fmt)
        banner = next(x for x in out.splitlines() if line in x)
        assert "campaign.bf-2027" in banner
    # renamed in Hood as well: the stored hash still tells it
    moved = {Kind.CAMPAIGN: [_applied(old, "1017000", name="Black Friday (edited)")]}
    (create,) = make_plan([new], moved, account=ACCOUNT).changes
    assert "second_copy" in create.flags and "this definition's content" in create.notes[0].message
    # another campaign entirely: nothing to say
    other = campaign("other", "Other", scheduled_time="2027-06-01 10:00:00")
    unrelated = {Kind.CAMPAIGN: [_applied(other, "1017000")]}
    (create,) = make_plan([new], unrelated, account=ACCOUNT).changes
    assert not create.notes and not create.flags


def test_a_changed_key_with_prune_replaces_the_old_campaign_and_says_so() -> None:
    old = campaign("black-friday", "Black Friday", scheduled_time="2027-06-01 10:00:00")
    new = campaign("bf-2027", "Black Friday", scheduled_time="2027-06-01 10:00:00")
    plan = make_plan(
        [new], {Kind.CAMPAIGN: [_applied(old, "1017000")]}, account=ACCOUNT, prune=True
    )
    create, cancel = plan.changes
    assert (create.action, cancel.action, cancel.remote_id) == ("create", "cancel", "1017000")
    assert "second_copy" not in create.flags  # the old one does not stay live
    assert "cancels it (--prune)" in create.notes[0].message


def test_a_finished_unmarked_namesake_is_named_on_the_create() -> None:
    d = campaign("bf-2027", "Black Friday")
    sent = remote_campaign("1017001", "Black Friday", status="sent")
    plan = make_plan([d], {Kind.CAMPAIGN: [sent]}, account=ACCOUNT)
    (create,) = plan.changes
    assert create.action == "create" and not plan.has_errors
    assert "second_copy" not in create.flags
    (note,) = create.notes
    assert "1017001 (sent)" in note.message and "state: canceled" in note.message
    assert plan.counts.unmanaged == 1
    # and the advice holds: state: canceled creates nothing and says nothing
    done = campaign("bf-2027", "Black Friday", state="canceled")
    assert make_plan([done], {Kind.CAMPAIGN: [sent]}, account=ACCOUNT).changes == ()


def test_a_renamed_push_task_create_is_in_the_warnings_banner_too() -> None:
    spec = {"name": "Replay 2", "frequency": 86400, "message": {"title": {"en": "Hi"}}}
    d = Definition(Kind.PUSH_TASK, "replay", spec, Location("t.yaml"))
    renamed = {"id": "51", "status": "1", **spec, "name": "Replay (edited in UI)"}
    plan = make_plan([d], {Kind.PUSH_TASK: [renamed]}, account=ACCOUNT)
    assert "second_copy" in plan.changes[0].flags
    assert "creates a second copy" in render(plan.to_dict(), "text")


_PUSH_SPEC = {
    "name": "Replay",
    "start_time": "2030-01-01 10:00:00",
    "frequency": 86400,
    "message": {"title": {"en": "Hi"}, "landing_url": "https://e.com"},
}
_EMAIL_SPEC = {
    "name": "Replay",
    "template_ids": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
    "mail_account_ids": ["8f14e45f-ceea-467f-a0e6-1b2d3c4d5e6f"],
    "events": ["contact.saved"],
}


def _email_remote(ident: str, name: str, enabled: bool, events: list[str]) -> dict[str, Any]:
    send = {
        "template_ids": _EMAIL_SPEC["template_ids"],
        "mail_account_ids": _EMAIL_SPEC["mail_account_ids"],
        "event_triggered_send": {"enabled": enabled, "events": events},
    }
    return {"id": ident, "name": name, "draft_data": {"send_data": send}}


@pytest.mark.parametrize("allow_replace", [False, True])
@pytest.mark.parametrize(
    ("kind", "state", "spec"),
    [
        (Kind.PUSH_TASK, None, _PUSH_SPEC),
        (Kind.PUSH_TASK, "active", _PUSH_SPEC),
        (Kind.PUSH_TASK, "inactive", _PUSH_SPEC),
        (Kind.PUSH_TASK, None, {**_PUSH_SPEC, "status": 1, "start_time": "immediately"}),
        (Kind.EMAIL_CAMPAIGN, None, _EMAIL_SPEC),
        (Kind.EMAIL_CAMPAIGN, "active", _EMAIL_SPEC),
        (Kind.EMAIL_CAMPAIGN, "stopped", _EMAIL_SPEC),
    ],
)
def test_a_create_rebuilt_from_its_steps_differs_in_name_only_from_what_its_definition_does(
    kind: Kind, state: str | None, spec: dict[str, Any], allow_replace: bool
) -> None:
    """Apply judges a saved create against objects that appeared since the plan by the
    definition its steps show (:meth:`KindRules.desired_of_create`), with the planner's own
    rule (:func:`renamed_candidates`). It finds every object the planner would warn about for
    the definition itself, and only those — but for ``state: active`` email campaigns with
    ``--allow-replace`` beside a stopped one, which the steps cannot tell from no ``state:``."""
    from hoodsync.kinds import RULES
    from hoodsync.kinds.base import Context
    from hoodsync.planner import prepare, renamed_candidates

    rules = RULES[kind]
    (des,) = prepare([Definition(kind, "replay", spec, Location("t.yaml"), state=state)], {})
    ctx = Context(allow_replace=allow_replace)
    change = rules.plan(des, None, ctx)
    assert change is not None and change.action == "create"
    rebuilt = rules.desired_of_create(change, change.steps)
    assert rebuilt is not None
    if kind is Kind.PUSH_TASK:
        others = [
            {"id": str(i), **_PUSH_SPEC, "name": name, "status": status}
            for i, (name, status) in enumerate(
                [("Renamed", 0), ("Renamed", 1), ("Renamed", 2), ("Replay", 1)], 1
            )
        ]
        others.append({"id": "9", **_PUSH_SPEC, "name": "Other", "frequency": 3600, "status": 1})
    else:
        others = [
            _email_remote("1", "Renamed", True, ["contact.saved"]),
            _email_remote("2", "Renamed", False, ["contact.saved"]),
            _email_remote("3", "Replay", True, ["contact.saved"]),
            _email_remote("9", "Other", True, ["lead.created"]),
        ]
    objs = [rules.from_remote(o) for o in others]

    def flagged(d: Any) -> set[str]:
        return {o.id for o in renamed_candidates({"x": d}, objs, rules, ctx).get("x", [])}

    planner, apply = flagged(des), flagged(rebuilt)
    assert planner, "the cases hold at least one object differing in its name alone"
    if kind is Kind.EMAIL_CAMPAIGN and state == "active" and allow_replace:
        assert apply == planner | {"2"}  # stopped: the planner would start it, not warn
    else:
        assert apply == planner


#: "Spring Sale" with a Cyrillic Ѕ (U+0405), and as the plan shows it beside "Spring Sale".
SPRING = "\u0405pring Sale"


def test_a_create_beside_a_live_look_alike_is_flagged_whatever_the_object_is_to_hoodsync() -> None:
    """A definition named like a live campaign but for look-alike characters is a create
    (never an adoption), flagged and noted by id, with both names escaped; whether the other
    campaign is unmanaged, managed by another definition or an orphan, the note says which.
    Finished campaigns and names that differ to the eye are not look-alikes."""
    d = campaign("spring", SPRING)
    for other, relation in (
        (remote_campaign("7", "Spring Sale"), "scheduled, unmanaged"),
        (
            remote_campaign("7", "Spring Sale", key="old", status="paused"),
            "paused, orphan of key old",
        ),
    ):
        plan = make_plan([d], {Kind.CAMPAIGN: [other]}, account=ACCOUNT)
        (create,) = plan.changes
        assert create.action == "create" and create.flags == ("lookalike_name",)
        (note,) = create.notes
        assert note.severity == "warning" and note.message.startswith(
            f'Campaign id 7 ({relation}) is named "Spring Sale", this definition '
            '"\\u0405pring Sale": the names differ only in characters that look alike'
        )
    managed = campaign("sale", "Spring Sale")
    remote = {Kind.CAMPAIGN: [remote_campaign("7", "Spring Sale", key="sale")]}
    plan = make_plan([managed, d], remote, account=ACCOUNT)
    (create,) = plan.changes
    assert "(scheduled, managed by campaign.sale)" in create.notes[0].message
    # not live, or not alike: nothing to say
    for other in (
        remote_campaign("7", "Spring Sale", status="sent"),
        remote_campaign("7", "Spring Sale 2"),
        remote_campaign("7", SPRING + " 2"),
    ):
        (create,) = make_plan([d], {Kind.CAMPAIGN: [other]}, account=ACCOUNT).changes
        assert (create.flags, create.notes) == ((), ()), other


def test_a_look_alike_whose_name_comes_from_env_is_named_by_its_masks_only() -> None:
    """A definition whose name comes from ``${env:...}``: the look-alike is found on the
    values, but the note shows both names masked (the live one's holds that secret, or an old
    value of it)."""
    spec = {"name": "${env:TASK_NAME}", "frequency": 3600, "message": {"title": {"en": "Hi"}}}
    d = Definition(Kind.PUSH_TASK, "t", spec, Location("t.yaml"))
    live = {"id": "9", "status": "1", **spec, "name": "Daily news", "frequency": 60}
    env = {"TASK_NAME": "D\u0430ily news"}
    plan = make_plan([d], {Kind.PUSH_TASK: [live]}, account=ACCOUNT, env=env, value_key=KEY)
    (create,) = plan.changes
    assert create.flags == ("lookalike_name",)
    (note,) = create.notes
    assert note.message.count("(sensitive ${env:TASK_NAME}, fp ") == 2
    assert "aily news" not in note.message


@pytest.mark.parametrize(
    ("live_name", "name", "shown"),
    [
        ("Daily news", "Daily news\u3164", '"Daily news\\u3164"'),  # Hangul fillers: blank
        ("Daily news", "Daily news\u115f", '"Daily news\\u115f"'),
        ("Daily news", "Daily news\u1160", '"Daily news\\u1160"'),
        ("Daily news", "Daily news\uffa0", '"Daily news\\uffa0"'),
        ("Daily news", "Daily news\u2800", '"Daily news\\u2800"'),  # the blank Braille pattern
        ("Daily news", "Daily news\u00a0", '"Daily news\u00a0"'),  # a no-break space at the end
        ("Daily news", " Daily news", '" Daily news"'),
        ("Daily news", "Daily news ", '"Daily news "'),
        ("Daily news", "Daily  news", '"Daily  news"'),
        ("Daily\tnews", "Daily news", '"Daily news"'),  # a tab in the live name
    ],
)
def test_a_create_beside_a_live_name_but_for_blanks_is_flagged_as_a_look_alike(
    live_name: str, name: str, shown: str
) -> None:
    """Characters drawn as blank space, and spaces at an end or doubled, are look-alikes:
    the create is flagged and its note names both, the blank ones escaped. Before: a plain
    create, no warning and nothing in the banner (only a tab at an end counted)."""
    spec = {"name": name, "frequency": 3600, "message": {"title": {"en": "Hi"}}}
    d = Definition(Kind.PUSH_TASK, "t", spec, Location("t.yaml"))
    live = {"id": "9", "status": "1", **spec, "name": live_name, "frequency": 60}
    (create,) = make_plan([d], {Kind.PUSH_TASK: [live]}, account=ACCOUNT).changes
    assert create.action == "create" and create.flags == ("lookalike_name",)
    (note,) = create.notes
    assert f"this definition {shown}: the names differ only in characters that look" in (
        note.message
    )


def test_notes_quoting_a_name_escape_its_look_alikes() -> None:
    """The notes that quote a definition's name (two remote push tasks claiming it) show its
    look-alikes of ASCII characters escaped, as the diffs do (before: the raw name)."""
    spec = {"name": "D\u0430ily news", "frequency": 3600, "message": {"title": {"en": "Hi"}}}
    d = Definition(Kind.PUSH_TASK, "t", spec, Location("t.yaml"))
    twins = [{"id": str(i), "status": "1", **spec} for i in (1, 2)]
    (blocked,) = make_plan([d], {Kind.PUSH_TASK: twins}, account=ACCOUNT).changes
    assert 'are named "D\\u0430ily news" (ids 1, 2)' in blocked.notes[0].message


def test_orphans_are_listed_with_look_alikes_in_their_names_escaped() -> None:
    remote = {Kind.CAMPAIGN: [remote_campaign("3", SPRING, key="old", status="paused")]}
    doc = make_plan([campaign("a")], remote, account=ACCOUNT).to_dict()
    assert doc["orphans"][0]["name"] == SPRING  # the document holds the data as it is
    assert '  campaign.old  id 3  "\\u0405pring Sale" (paused' in render(doc, "text")
    assert '`"\\u0405pring Sale"`' in render(doc, "markdown")


def _task(key: str, name: str, line: int) -> Definition:
    spec = {"name": name, "frequency": 3600, "message": {"title": {"en": "Hi"}}}
    return Definition(Kind.PUSH_TASK, key, spec, Location("d.yaml", line))


def _mail(key: str, name: str, line: int) -> Definition:
    spec = {
        "name": name,
        "template_ids": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
        "mail_account_ids": ["8f14e45f-ceea-467f-a0e6-1b2d3c4d5e6f"],
        "events": ["contact.saved"],
    }
    return Definition(Kind.EMAIL_CAMPAIGN, key, spec, Location("d.yaml", line))


def test_names_that_become_one_once_env_is_resolved_are_refused_all_at_once() -> None:
    """Distinct as written (validate passes), one once resolved: two creates both matched by
    that name. Before: planned as two creates. Every collision of every kind matched by name
    is one problem, at the later definition, naming both templates and places, never the
    value; alike to the eye counts as the same (validate's rule for written names)."""
    env = {"A": "S3CRET", "B": "S3CRET", "C": "S3CR\u0415T", "D": "other"}
    definitions = [
        _task("a", "Promo ${env:A}", 1),
        _task("b", "Promo ${env:B}", 10),
        _task("c", "Promo ${env:C}", 20),  # a Cyrillic Е: alike to the eye
        _task("d", "Promo ${env:D}", 30),
        _mail("m", "Promo S3CRET", 40),  # another kind: its names are its own
        _mail("n", "Mail ${env:A}", 50),
        _mail("o", "Mail S3CRET", 60),  # a written name colliding with an interpolated one
    ]
    with pytest.raises(DefinitionError) as info:
        make_plan(definitions, {}, account=ACCOUNT, env=env)
    problems = [str(p) for p in info.value.problems]
    assert problems == [
        'd.yaml:10:1: error: names "Promo ${env:B}" of push_task.b and "Promo ${env:A}" of '
        "push_task.a (at d.yaml:1:1) resolve to the same name: PushTask objects are matched "
        "by name, so both would be created, and neither matched again; give them names that "
        "stay distinct whatever the variables hold (spec.name)",
        'd.yaml:20:1: error: names "Promo ${env:C}" of push_task.c and "Promo ${env:A}" of '
        "push_task.a (at d.yaml:1:1) resolve to names that differ only in characters that "
        "look alike: PushTask objects are matched by name, so both would be created, and no "
        "one could tell them apart; give them names that stay distinct whatever the "
        "variables hold (spec.name)",
        'd.yaml:60:1: error: names "Mail S3CRET" of email_campaign.o and "Mail ${env:A}" of '
        "email_campaign.n (at d.yaml:50:1) resolve to the same name: EmailCampaign objects "
        "are matched by name, so both would be created, and neither matched again; give them "
        "names that stay distinct whatever the variables hold (spec.name)",
    ]
    # Distinct values, or campaigns (matched by their marker: one name is no ambiguity), plan.
    plan = make_plan(definitions[:1] + definitions[3:5], {}, account=ACCOUNT, env=env)
    assert [c.action for c in plan.changes] == ["create"] * 3
    twins = [campaign("x", "Promo ${env:A}"), campaign("y", "Promo ${env:B}")]
    assert len(make_plan(twins, {}, account=ACCOUNT, env=env).changes) == 2
