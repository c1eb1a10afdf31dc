"""make_plan: counts, targets, prune, waves, safety, and secrets never leaving the planner."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hoodsync.errors import DefinitionError, PlanError, SafetyError
from hoodsync.kinds.campaign import MARKER
from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import AccountInfo, Plan, check_safety
from hoodsync.planner import make_plan
from hoodsync.render import render

ACCOUNT = AccountInfo("default", "https://api.example.test/v1/hood")


def campaign(key: str, name: str | None = None, *, order: int = 0, state: str | None = None,
             **spec: Any) -> Definition:
    body = {
        "name": name or key.title(),
        "messages": [{"name": "m", "channel": "push", "push": {"title": {"en": "Hi"}}}],
        **spec,
    }
    return Definition(Kind.CAMPAIGN, key, body, Location(f"{key}.yaml"), state=state, order=order)


def remote_campaign(cid: str, name: str, *, key: str | None = None, status: str = "scheduled",
                    **extra: Any) -> dict[str, Any]:
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
    remote = {Kind.CAMPAIGN: [remote_campaign("1", "A", key="a"), remote_campaign("2", "Stranger")],
              Kind.PUSH_TASK: [{"id": "5", "name": "Task", "status": "1"}]}
    plan = make_plan(defs, remote, account=ACCOUNT, read_requests=3)
    c = plan.counts
    assert (c.definitions, c.remote_objects, c.read_requests, c.unchanged, c.unmanaged) == (2, 3, 3, 1, 2)
    assert [ch.address for ch in plan.changes] == ["campaign.b"]
    assert [u.name for u in plan.unmanaged] == ["Stranger", "Task"]


def test_targets_limit_changes_but_matching_sees_everything() -> None:
    defs = [campaign("a"), campaign("b", labels=["x"])]
    remote = {Kind.CAMPAIGN: [remote_campaign("2", "B", key="b"), remote_campaign("3", "Old", key="old")]}
    plan = make_plan(defs, remote, account=ACCOUNT, targets=frozenset({"campaign.a", "campaign.nope"}),
                     prune=True)
    assert [c.address for c in plan.changes] == ["campaign.a"]
    assert plan.counts.unmanaged == 0  # b's remote is still managed, not "unmanaged"
    assert [o.address for o in plan.orphans] == ["campaign.old"]  # listed, not pruned (not targeted)
    assert [n.message for n in plan.notes] == ["--target campaign.nope matches no definition and no orphan"]
    plan = make_plan(defs, remote, account=ACCOUNT, targets=frozenset({"campaign.old"}), prune=True)
    assert [(c.address, c.action) for c in plan.changes] == [("campaign.old", "cancel")]


def test_orphans_are_listed_and_pruned_only_with_prune() -> None:
    remote = {Kind.CAMPAIGN: [remote_campaign("3", "Old", key="old", status="paused"),
                              remote_campaign("4", "Done", key="done", status="canceled")]}
    plan = make_plan([campaign("a")], remote, account=ACCOUNT)
    assert [o.address for o in plan.orphans] == ["campaign.old"]
    assert plan.counts.retired == 1 and plan.counts.orphans == 1
    assert [c.action for c in plan.changes] == ["create"]
    pruned = make_plan([campaign("a")], remote, account=ACCOUNT, prune=True)
    assert [(c.address, c.action) for c in pruned.changes] == [("campaign.a", "create"), ("campaign.old", "cancel")]
    assert pruned.counts.managed == 1


def test_waves_order_changes_across_kinds() -> None:
    defs = [
        campaign("late", order=10),
        campaign("early", order=-1, state="paused"),
        Definition(Kind.PUSH_TASK, "t", {"name": "T"}, Location("t.yaml")),
        campaign("mid"),
    ]
    plan = make_plan(defs, {}, account=ACCOUNT)
    assert [c.address for c in plan.changes] == ["campaign.early", "campaign.mid", "push_task.t", "campaign.late"]


def test_missing_variables_in_several_definitions_are_reported_together() -> None:
    defs = [campaign("a", description="${env:ONE}"), campaign("b", description="${env:TWO}")]
    with pytest.raises(DefinitionError) as info:
        make_plan(defs, {}, account=ACCOUNT)
    text = " ".join(str(p) for p in info.value.problems)
    assert "ONE" in text and "TWO" in text and "a.yaml" in text and "b.yaml" in text


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


def test_sensitive_values_never_appear_in_any_output() -> None:
    url = "https://example.com/?k=${env:LANDING_KEY}"
    defs = [
        campaign("fresh", metadata={"api": "${env:LANDING_KEY}"}),
        campaign("edited", messages=[{"name": "m", "channel": "push",
                                      "push": {"title": {"en": "Hi"}, "landing_url": url}}]),
        Definition(Kind.PUSH_TASK, "t", {"name": "T", "custom_data": "${env:LANDING_KEY}"},
                   Location("t.yaml")),
        campaign("named", "Promo ${env:LANDING_KEY}"),
    ]
    remote = {
        Kind.CAMPAIGN: [
            remote_campaign("2", "Edited", key="edited", status="running",
                            messages=[{"id": "1", "name": "m", "channel": "push",
                                       "push": {"title": {"en": "Hi"},
                                                "landing_url": f"https://example.com/?k={SECRET_OLD}"}}]),
            remote_campaign("3", f"Promo {SECRET_NEW}"),
        ],
        Kind.PUSH_TASK: [{"id": "5", "name": "T", "status": "1", "custom_data": SECRET_OLD}],
    }
    plan = make_plan(defs, remote, account=ACCOUNT, env={"LANDING_KEY": SECRET_NEW})
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
    assert "(sensitive, fp " in text
    # the saved plan keeps the template so apply can resolve it again
    edited = next(c for c in plan.changes if c.address == "campaign.edited")
    patch = next(s for s in edited.steps if s.op == "patch")
    assert patch.body["messages"][0]["push"]["landing_url"] == url  # type: ignore[index]
    assert [s.template for s in edited.sensitive] == [url]
    assert {c.address: c.action for c in plan.changes} == {
        "campaign.fresh": "create", "campaign.edited": "update", "push_task.t": "update",
        "campaign.named": "adopt",
    }


def test_drift_is_rendered_before_the_changes() -> None:
    d = campaign("a")
    created = make_plan([d], {}, account=ACCOUNT).changes[0].steps[0].body
    assert created is not None
    remote = remote_campaign("1", "A", status="paused", metadata=created["metadata"])
    plan = make_plan([d], {Kind.CAMPAIGN: [remote]}, account=ACCOUNT)
    (change,) = plan.changes
    assert change.drift and change.action == "resume" and len(change.steps) == 1
    text = render(plan.to_dict(), "text")
    assert text.index("has changed outside hoodsync") < text.index("hoodsync will perform")
    assert "status = active -> paused" in text
