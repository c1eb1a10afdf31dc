"""Campaign rules: normalisation, matching, every action and note of the state machine."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest

from hoodsync.kinds import campaign as campaign_module
from hoodsync.kinds.base import Context
from hoodsync.kinds.campaign import HASH, MARKER, CampaignRules
from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import Change
from hoodsync.planner import prepare

RULES = CampaignRules()

SPEC: dict[str, Any] = {
    "name": "Spring Sale",
    "labels": ["spring", "sale"],
    "metadata": {"team": "growth"},
    "ab_test": {"name": "t", "test_split": 30},
    "messages": [
        {
            "name": "Hello",
            "channel": "push",
            "priority": 3,
            "push": {"title": {"en": "Hello"}, "landing_url": "https://example.com"},
        }
    ],
}


def defn(
    key: str = "spring-sale",
    spec: Mapping[str, Any] | None = None,
    *,
    state: str | None = None,
    resume: Mapping[str, Any] | None = None,
) -> Definition:
    return Definition(
        Kind.CAMPAIGN, key, dict(spec or SPEC), Location("c.yaml"), state=state, resume=resume
    )


def plan_one(
    d: Definition,
    remote: Mapping[str, Any] | None,
    *,
    env: Mapping[str, str] | None = None,
    allow_replace: bool = False,
    now: dt.datetime | None = None,
) -> Change | None:
    (des,) = prepare([d], env or {})
    objs = [RULES.from_remote(remote)] if remote is not None else []
    match = RULES.match([des], objs)
    assert not match.blocked
    ctx = Context(allow_replace=allow_replace, now=now)
    return RULES.plan(des, match.pairs.get(d.address), ctx)


def created_remote(
    d: Definition, *, cid: str = "1017001", status: str = "scheduled", **overrides: Any
) -> dict[str, Any]:
    """What the API returns for ``d`` after hoodsync created it: the create body plus every
    server-side addition and retyping the emulator/API does."""
    change = plan_one(d, None)
    if change is None or not change.steps:  # states that create nothing: built as active
        change = plan_one(dataclasses.replace(d, state=None), None)
    assert change is not None and change.steps[0].op == "create"
    body = dict(change.steps[0].body or {})
    run_now = body.pop("run_immediately", None)
    body.pop("is_draft", None)
    messages = [
        {
            "id": str(8000 + i),
            "company_id": "6197120",
            "campaign_id": cid,
            "integration_id": m.get("integration_id", "0"),
            "winner": 0,
            "primary_lang": "en",
            **m,
            "priority": str(m["priority"]) if "priority" in m else None,
        }
        for i, m in enumerate(body.pop("messages", []))
    ]
    for m in messages:
        if m["priority"] is None:
            del m["priority"]
    out = {
        "id": int(cid),
        "company_id": 6197120,
        "creator_id": "1000223",
        **body,
        "labels": ",".join(body.get("labels", [])),
        "messages": messages,
        "status": "running" if run_now else status,
        "send_strategy": "immediate" if run_now else "manual",
        "is_draft": False,
        "run_immediately": None,
        "utm_tracking": {"enabled": 1, "utm_source": "${OCMH_UTM_SOURCE}"},
        "next_run_time": "2027-01-01 00:00:00",
        "run_counter": 0,
        "score": 0,
        "create_time": "2026-11-22 10:00:00",
        "update_time": "2026-11-22 10:00:00",
    }
    out.update(overrides)
    return out


# --- normalisation and "no perpetual diff" ---------------------------------------------------


def test_created_object_read_back_compares_clean() -> None:
    d = defn()
    assert plan_one(d, created_remote(d)) is None


def test_an_unchanged_campaign_is_planned_without_taking_its_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The hash (a canonical JSON encoding of the spec) is taken only when a step or the
    # drift flag reads it: most campaigns of a large plan are unchanged.
    d = defn()
    remote = created_remote(d)
    monkeypatch.setattr(campaign_module, "spec_hash", _no_hash)
    assert plan_one(d, remote) is None
    monkeypatch.undo()
    changed = created_remote(d, labels="other")
    monkeypatch.setattr(campaign_module, "spec_hash", _no_hash)
    with pytest.raises(AssertionError, match="hash taken"):
        plan_one(d, changed)  # a change needs it (the patch stores it)


def _no_hash(*args: Any, **kwargs: Any) -> str:
    raise AssertionError("hash taken")


def test_run_immediately_is_never_compared() -> None:
    d = defn(spec={**SPEC, "run_immediately": True})
    remote = created_remote(d)
    assert remote["status"] == "running" and remote["run_immediately"] is None
    assert plan_one(d, remote) is None


def test_retyped_values_on_either_side_compare_equal() -> None:
    spec = {
        **SPEC,
        "deal_id": 1000251,  # number in the definition, string from the API
        "ab_test": {"name": "t", "test_split": "30"},
        "messages": [{**SPEC["messages"][0], "integration_id": 1830}],
    }
    d = defn(spec=spec)
    remote = created_remote(d)
    remote["deal_id"] = "1000251"
    remote["ab_test"] = {"name": "t", "test_split": 30, "winner_delivery_mode": "manual"}
    remote["messages"][0]["integration_id"] = "1830"
    assert plan_one(d, remote) is None


def test_labels_are_an_unordered_collection() -> None:
    d = defn()
    assert plan_one(d, created_remote(d, labels="sale,spring")) is None
    assert plan_one(d, created_remote(d, labels=["sale", "spring"])) is None


def test_unstated_remote_fields_are_not_drift() -> None:
    d = defn()
    remote = created_remote(d, description="set in the UI", quiet_hours={"from": 1, "to": 2})
    assert plan_one(d, remote) is None


def test_from_remote_reads_status_marker_and_created_at() -> None:
    obj = RULES.from_remote(created_remote(defn(), status="paused"))
    assert (obj.id, obj.status, obj.marker, obj.created_at) == (
        "1017001",
        "paused",
        "spring-sale",
        "2026-11-22 10:00:00",
    )
    assert obj.body["labels"] == ["spring", "sale"]
    assert obj.body["company_id"] == "6197120"


def test_fingerprint_ignores_volatile_fields_but_not_edits() -> None:
    remote = created_remote(defn())
    fp = RULES.fingerprint(remote)
    assert (
        RULES.fingerprint({**remote, "next_run_time": "2030-01-01 00:00:00", "run_counter": 5})
        == fp
    )
    assert RULES.fingerprint({**remote, "labels": "spring"}) != fp
    assert RULES.fingerprint({**remote, "status": "paused"}) != fp


# --- create ------------------------------------------------------------------------------------


def test_create_writes_marker_and_hash_and_keeps_user_metadata() -> None:
    change = plan_one(defn(), None)
    assert change is not None
    assert change.action == "create" and change.description == "will be created"
    (step,) = change.steps
    assert step.op == "create" and step.id is None
    meta = step.body["metadata"]  # type: ignore[index]
    assert meta["team"] == "growth" and meta[MARKER] == "spring-sale" and len(meta[HASH]) == 16
    assert [d.path for d in change.diff] == ["name", "labels", "metadata", "ab_test", "messages"]
    assert all(d.op == "add" for d in change.diff)
    assert change.phase == 0 and change.fingerprint is None


def test_create_with_run_immediately_is_flagged() -> None:
    change = plan_one(defn(spec={**SPEC, "run_immediately": True}), None)
    assert change is not None and "sends_immediately" in change.flags
    assert change.steps[0].body["run_immediately"] is True  # type: ignore[index]


def test_create_paused_then_pauses_the_new_object() -> None:
    change = plan_one(defn(state="paused"), None)
    assert change is not None
    assert [(s.op, s.id) for s in change.steps] == [("create", None), ("pause", None)]
    assert change.description == "will be created and paused"


def test_missing_and_canceled_needs_nothing() -> None:
    assert plan_one(defn(state="canceled"), None) is None


def test_paused_draft_cannot_be_created() -> None:
    change = plan_one(defn(spec={**SPEC, "is_draft": True}, state="paused"), None)
    assert change is not None and change.action == "note" and change.has_errors
    assert not change.steps


# --- update / drift --------------------------------------------------------------------------


def test_changing_one_label_in_git_is_one_update_of_that_field() -> None:
    remote = created_remote(defn())
    d = defn(spec={**SPEC, "labels": ["spring", "promo"]})
    change = plan_one(d, remote)
    assert change is not None
    assert change.action == "update" and change.description == "will be updated in place"
    assert [(x.path, x.op, x.before, x.after) for x in change.diff] == [
        ("labels[1]", "change", "sale", "promo")
    ]
    (step,) = change.steps
    assert step.op == "patch" and step.id == "1017001"
    assert step.body["labels"] == ["spring", "promo"]  # type: ignore[index]
    # git changed: the stored hash is refreshed in the same merge patch
    assert set(step.body["metadata"]) == {MARKER, HASH}  # type: ignore[index]
    assert change.drift is False
    assert change.fingerprint == RULES.fingerprint(remote)


def test_remote_edit_behind_hoodsyncs_back_is_drift() -> None:
    d = defn()
    change = plan_one(d, created_remote(d, labels="spring,promo"))
    assert change is not None and change.action == "update" and change.drift is True
    (step,) = change.steps
    assert step.body == {"labels": ["spring", "sale"]}  # hash already right: not rewritten


def test_arrays_replace_whole_so_the_patch_holds_the_whole_top_level_value() -> None:
    remote = created_remote(defn())
    spec = {**SPEC, "messages": [{**SPEC["messages"][0], "push": {"title": {"en": "Hey"}}}]}
    change = plan_one(defn(spec=spec), remote)
    assert change is not None
    assert [x.path for x in change.diff] == ['messages["Hello"].push.title.en']
    assert change.steps[0].body["messages"] == spec["messages"]  # type: ignore[index]


def test_running_campaign_edit_is_pause_patch_resume() -> None:
    remote = created_remote(defn(), status="running")
    change = plan_one(defn(spec={**SPEC, "name": "Spring Sale 2"}), remote)
    assert change is not None
    assert [s.op for s in change.steps] == ["pause", "patch", "resume"]
    assert change.steps[2].body is None  # back to running without a new send trigger
    assert change.description == "will be updated in place (running: pause, update, resume)"
    assert "live_edit" in change.flags


def test_is_draft_cannot_be_set_back() -> None:
    d = defn(spec={**SPEC, "is_draft": True})
    remote = created_remote(d, is_draft=False)
    change = plan_one(d, remote)
    assert change is not None and change.action == "note" and change.has_errors
    assert "draft" in change.notes[0].message


def test_resume_block_scheduled_time_counts_as_matching() -> None:
    d = defn(
        spec={**SPEC, "scheduled_time": "2027-01-01 10:00:00"},
        resume={"scheduled_time": "2027-02-01 10:00:00"},
    )
    remote = created_remote(d, scheduled_time="2027-02-01 10:00:00")
    assert plan_one(d, remote) is None


# --- lifecycle -------------------------------------------------------------------------------


def test_paused_behind_hoodsyncs_back_is_exactly_one_resume_shown_as_drift() -> None:
    d = defn(state="active")
    change = plan_one(d, created_remote(d, status="paused"))
    assert change is not None
    assert change.action == "resume" and change.drift is True
    assert [(s.op, s.id, s.body) for s in change.steps] == [("resume", "1017001", None)]
    # A resume without options is documented only as "reactivates": the plan does not guess
    # whether it runs or waits.
    assert change.transition == ("paused", "active")
    assert change.description == (
        "will be resumed (paused -> active: running or waiting, as the server decides)"
    )


def test_git_state_change_to_active_resumes_with_the_resume_block() -> None:
    remote = created_remote(defn(state="paused"), status="paused")
    d = defn(state="active", resume={"run_immediately": True})
    change = plan_one(d, remote)
    assert change is not None and change.action == "resume" and change.drift is False
    assert [s.op for s in change.steps] == ["patch", "resume"]
    assert change.steps[0].body == {
        "metadata": {MARKER: "spring-sale", HASH: change.steps[0].body["metadata"][HASH]}
    }  # type: ignore[index]
    assert change.steps[1].body == {"run_immediately": True}
    assert change.transition == ("paused", "running")
    assert "sends_immediately" in change.flags


def test_update_and_resume_patch_before_resuming() -> None:
    remote = created_remote(defn(state="paused"), status="paused")
    change = plan_one(defn(spec={**SPEC, "name": "New"}, state="active"), remote)
    assert change is not None
    assert [s.op for s in change.steps] == ["patch", "resume"]
    assert change.description.startswith("will be updated and resumed (paused -> active: ")


@pytest.mark.parametrize("status", ["running", "scheduled"])
def test_state_paused_pauses(status: str) -> None:
    remote = created_remote(defn(), status=status)
    change = plan_one(defn(state="paused"), remote)
    assert change is not None and change.action == "pause"
    assert [s.op for s in change.steps] == ["pause", "patch"]  # pause, then refresh the hash
    assert change.transition == (status, "paused") and change.phase == 1


def test_state_paused_on_a_paused_campaign_with_current_hash_is_clean() -> None:
    d = defn(state="paused")
    assert plan_one(d, created_remote(d, status="paused")) is None


@pytest.mark.parametrize(
    "resume", [{"run_immediately": True}, {"scheduled_time": "2036-01-01 10:00:00"}]
)
def test_a_resume_block_beside_state_paused_is_a_warning_on_each_change(
    resume: dict[str, Any],
) -> None:
    """hoodsync resumes only for state: active, so beside state: paused the block cannot
    apply: the reviewer is told when the plan creates, pauses or edits the campaign."""
    where = {("resume",): Location("c.yaml", 4, 1)}
    d = dataclasses.replace(defn(state="paused", resume=resume), locations=where)
    running = created_remote(defn(), status="running")
    paused = created_remote(d, status="paused")
    for change in (
        plan_one(d, None),
        plan_one(d, running),
        plan_one(dataclasses.replace(d, spec={**SPEC, "name": "New"}), paused),
    ):
        assert change is not None and change.steps and not change.has_errors
        (note,) = change.notes
        assert note.severity == "warning" and note.message.startswith("c.yaml:4:1: the resume ")
        assert "state: paused" in note.message and "state: active" in note.message
    assert plan_one(d, paused) is None  # nothing to do: nothing to say
    for quiet in (plan_one(defn(state="paused"), running), plan_one(defn(resume=resume), None)):
        assert quiet is not None and not quiet.notes


@pytest.mark.parametrize("status", ["running", "scheduled", "paused"])
def test_state_canceled_cancels(status: str) -> None:
    d = defn(state="canceled")
    change = plan_one(d, created_remote(defn(), status=status))
    assert change is not None and change.action == "cancel"
    assert [s.op for s in change.steps] == ["cancel"]
    assert change.transition == (status, "canceled") and change.phase == 2
    assert set(change.flags) == {"irreversible", "removal"}


@pytest.mark.parametrize("state", ["paused", "canceled"])
def test_draft_cannot_be_paused_or_canceled(state: str) -> None:
    d = defn(spec={**SPEC, "is_draft": True}, state=state)
    change = plan_one(d, created_remote(d, status="draft", is_draft=True))
    assert change is not None and change.action == "note" and change.has_errors


@pytest.mark.parametrize("status", ["sent", "needs_decision"])
def test_finished_campaign_satisfies_active_and_is_clean(status: str) -> None:
    d = defn()
    assert plan_one(d, created_remote(d, status=status)) is None


@pytest.mark.parametrize("status", ["sent", "canceled", "needs_decision"])
def test_editing_a_frozen_campaign_is_an_error_note(status: str) -> None:
    remote = created_remote(defn(), status=status)
    change = plan_one(defn(spec={**SPEC, "name": "Changed"}), remote)
    assert change is not None and change.action == "note" and not change.steps
    assert change.has_errors and status in change.notes[0].message
    assert [x.path for x in change.diff] == ["name"]


def test_canceled_campaign_cannot_be_made_active_again() -> None:
    d = defn(state="active")
    change = plan_one(d, created_remote(d, status="canceled"))
    assert change is not None and change.has_errors and "irreversible" in change.notes[0].message
    assert "Set state: canceled to keep it as is" in change.notes[0].message
    d2 = defn(state="canceled")
    assert plan_one(d2, created_remote(d2, status="canceled")) is None


def test_state_canceled_settles_a_canceled_campaign_whatever_its_fields() -> None:
    """The error's advice works: with state: canceled a canceled campaign is done, even when
    the definition's fields differ (nothing can be written to it any more)."""
    remote = created_remote(defn(), status="canceled")
    assert plan_one(defn(spec={**SPEC, "name": "Changed"}, state="canceled"), remote) is None


# --- no state: the lifecycle is not managed (DESIGN §3) --------------------------------------


def test_without_state_a_paused_campaign_stays_paused() -> None:
    d = defn()
    assert plan_one(d, created_remote(d, status="paused")) is None
    # the stored hash of a campaign created before "no state" stopped meaning active is current
    assert plan_one(d, created_remote(defn(state="active"), status="paused")) is None


def test_without_state_a_paused_campaign_is_only_patched() -> None:
    remote = created_remote(defn(), status="paused")
    change = plan_one(defn(spec={**SPEC, "name": "New"}), remote)
    assert change is not None and change.action == "update" and change.transition is None
    assert [s.op for s in change.steps] == ["patch"]
    assert change.steps[0].body["name"] == "New"  # type: ignore[index]


def test_without_state_a_running_campaign_is_still_edited_around_a_pause() -> None:
    remote = created_remote(defn(), status="running")
    change = plan_one(defn(spec={**SPEC, "name": "New"}), remote)
    assert change is not None and change.action == "update"
    assert [s.op for s in change.steps] == ["pause", "patch", "resume"]
    assert "live_edit" in change.flags


@pytest.mark.parametrize("status", ["canceled", "sent", "draft", "scheduled"])
def test_without_state_any_status_is_accepted_when_the_spec_matches(status: str) -> None:
    d = defn()
    assert plan_one(d, created_remote(d, status=status)) is None


def test_without_state_a_missing_campaign_is_created_as_the_spec_says() -> None:
    change = plan_one(defn(), None)
    assert change is not None and change.action == "create"
    assert [s.op for s in change.steps] == ["create"]


def test_sent_campaign_cannot_be_paused() -> None:
    d = defn(state="paused")
    change = plan_one(d, created_remote(d, status="sent"))
    assert change is not None and change.has_errors


# --- statuses the docs show without rules, and statuses they do not name (issue 13 §4) --------

#: (status, effective_status) of a *waiting* campaign: planned like ``scheduled``.
WAITING = [("active", None), ("active", "active"), ("manual", None), ("manual", "manual")]


def in_status(
    status: str, effective: str | None = None, d: Definition | None = None, **overrides: Any
) -> dict[str, Any]:
    remote = created_remote(d or defn(), status=status, **overrides)
    if effective is not None:
        remote["effective_status"] = effective
    return remote


@pytest.mark.parametrize(("status", "effective"), WAITING)
def test_waiting_statuses_take_a_label_change_as_one_plain_patch(
    status: str, effective: str | None
) -> None:
    change = plan_one(
        defn(spec={**SPEC, "labels": ["spring", "promo"]}), in_status(status, effective)
    )
    assert change is not None and change.action == "update" and not change.has_errors
    assert [s.op for s in change.steps] == ["patch"]
    assert change.steps[0].body["labels"] == ["spring", "promo"]  # type: ignore[index]
    assert change.remote_status == status and change.transition is None
    assert [n.severity for n in change.notes] == ["info"]
    assert f"status {status!r}" in change.notes[0].message


@pytest.mark.parametrize(("status", "effective"), WAITING)
def test_waiting_statuses_are_clean_when_nothing_differs(
    status: str, effective: str | None
) -> None:
    for state in (None, "active"):
        d = defn(state=state)
        assert plan_one(d, in_status(status, effective, d)) is None


@pytest.mark.parametrize(("status", "effective"), WAITING)
def test_waiting_statuses_are_paused_and_canceled_like_scheduled(
    status: str, effective: str | None
) -> None:
    paused = plan_one(defn(state="paused"), in_status(status, effective))
    assert paused is not None and paused.action == "pause" and not paused.has_errors
    assert [s.op for s in paused.steps] == ["pause", "patch"]
    assert paused.transition == (status, "paused")
    canceled = plan_one(defn(state="canceled"), in_status(status, effective))
    assert canceled is not None and canceled.action == "cancel"
    assert [s.op for s in canceled.steps] == ["cancel"]
    assert canceled.transition == (status, "canceled")


@pytest.mark.parametrize("effective", ["running", "scheduled", "paused", "sent"])
def test_active_is_planned_as_its_documented_effective_status(effective: str) -> None:
    remote = in_status("active", effective)
    assert RULES.from_remote(remote).status == effective
    change = plan_one(defn(spec={**SPEC, "name": "New"}, state="active"), remote)
    assert change is not None and change.remote_status == effective
    expected = {
        "running": ["pause", "patch", "resume"],  # running refuses PATCH: edited around a pause
        "scheduled": ["patch"],
        "paused": ["patch", "resume"],
        "sent": [],
    }[effective]
    assert [s.op for s in change.steps] == expected
    assert change.has_errors == (effective == "sent")
    assert not any(
        n.severity == "info" and "no documented rules" in n.message for n in change.notes
    )


def test_effective_status_refines_only_active() -> None:
    assert RULES.from_remote(in_status("scheduled", "running")).status == "scheduled"
    assert RULES.from_remote(in_status("active", "archived")).status == "active"
    assert RULES.from_remote(in_status("active", None)).status == "active"


@pytest.mark.parametrize("status", ["archived", "pending_review", "active-ish"])
def test_unknown_status_gets_the_change_with_a_warning_and_the_api_decides(status: str) -> None:
    d = defn()
    change = plan_one(defn(spec={**SPEC, "labels": ["spring", "promo"]}), in_status(status, d=d))
    assert change is not None and change.action == "update" and not change.has_errors
    assert [s.op for s in change.steps] == ["patch"]  # a plain PATCH, never a pause around it
    (note,) = change.notes
    assert note.severity == "warning" and status in note.message and "API decides" in note.message
    assert plan_one(d, in_status(status, d=d)) is None  # nothing differs: quiet
    d_active = defn(state="active")
    assert plan_one(d_active, in_status(status, d=d_active)) is None  # resume only from paused


@pytest.mark.parametrize(
    ("state", "ops"), [("paused", ["pause", "patch"]), ("canceled", ["cancel"])]
)
def test_unknown_status_is_sent_the_state_action_the_definition_asks_for(
    state: str, ops: list[str]
) -> None:
    change = plan_one(defn(state=state), in_status("archived"))
    assert change is not None and not change.has_errors
    assert [s.op for s in change.steps] == ops and change.transition == ("archived", state)
    assert [n.severity for n in change.notes] == ["warning"]


def test_missing_status_reads_unknown_and_is_not_frozen() -> None:
    remote = created_remote(defn())
    del remote["status"]
    change = plan_one(defn(spec={**SPEC, "name": "New"}), remote)
    assert change is not None and change.remote_status == "unknown"
    assert [s.op for s in change.steps] == ["patch"] and not change.has_errors


@pytest.mark.parametrize("status", ["active", "manual", "archived"])
def test_unmarked_campaign_in_any_editable_status_is_adopted(status: str) -> None:
    d = defn()
    change = plan_one(d, _unmarked(d, status=status))
    assert change is not None and change.action == "adopt" and not change.has_errors
    assert change.steps[0].body["metadata"][MARKER] == d.key  # type: ignore[index]


# --- adopt and matching ------------------------------------------------------------------------


def _unmarked(d: Definition, **overrides: Any) -> dict[str, Any]:
    remote = created_remote(d, **overrides)
    remote["metadata"] = {"owner": "ui"}
    return remote


def test_same_name_without_marker_is_adopted() -> None:
    d = defn()
    change = plan_one(d, _unmarked(d))
    assert change is not None and change.action == "adopt"
    (step,) = change.steps
    assert step.op == "patch" and set(step.body) == {"metadata"}  # type: ignore[arg-type]
    assert step.body["metadata"][MARKER] == "spring-sale"  # type: ignore[index]
    assert "marker" in change.description


def test_adopting_a_running_campaign_with_changes_pauses_around_the_patch() -> None:
    d = defn()
    remote = _unmarked(d, status="running", labels="old")
    change = plan_one(d, remote)
    assert change is not None and change.action == "adopt"
    assert [s.op for s in change.steps] == ["pause", "patch", "resume"]
    assert change.steps[1].body["labels"] == ["spring", "sale"]  # type: ignore[index]
    assert change.description.startswith("will be adopted and updated")


@pytest.mark.parametrize("status", ["sent", "canceled"])
def test_finished_campaign_with_the_name_is_set_aside_and_a_new_one_created(status: str) -> None:
    """A finished campaign accepts no edit, so it can never take the marker: adopting it would
    block the definition for good. It is set aside, as finished copies of a marker are."""
    d = defn()
    (des,) = prepare([d], {})
    finished = RULES.from_remote(_unmarked(d, status=status))
    match = RULES.match([des], [finished])
    assert not match.pairs and not match.blocked and match.unmanaged == [finished]
    change = RULES.plan(des, None, Context())
    assert change is not None and change.action == "create" and not change.has_errors
    # beside one live namesake it is no ambiguity: the live one is adopted
    live = RULES.from_remote({**_unmarked(d, status="scheduled"), "id": 1017002})
    match = RULES.match([des], [finished, live])
    assert match.pairs == {d.address: live} and not match.blocked


def test_waiting_for_an_ab_winner_with_the_name_still_cannot_be_adopted() -> None:
    d = defn()
    change = plan_one(d, _unmarked(d, status="needs_decision"))
    assert change is not None and change.has_errors and "marker" in change.notes[0].message


def test_matching_prefers_marker_then_name_and_sorts_the_rest() -> None:
    a, b, c = (
        defn("a", {**SPEC, "name": "A"}),
        defn("b", {**SPEC, "name": "B"}),
        defn("c", {**SPEC, "name": "C"}),
    )
    desired = prepare([a, b, c], {})
    remote = [
        RULES.from_remote(
            {"id": "1", "name": "Renamed", "status": "paused", "metadata": {MARKER: "a"}}
        ),
        RULES.from_remote({"id": "2", "name": "A", "status": "paused"}),  # same name, not a's
        RULES.from_remote({"id": "3", "name": "B", "status": "paused"}),
        RULES.from_remote(
            {"id": "4", "name": "X", "status": "paused", "metadata": {MARKER: "gone"}}
        ),
        RULES.from_remote(
            {"id": "5", "name": "Y", "status": "canceled", "metadata": {MARKER: "old"}}
        ),
        RULES.from_remote(
            {"id": "6", "name": "Z", "status": "sent", "metadata": {MARKER: "older"}}
        ),
    ]
    m = RULES.match(desired, remote)
    assert {k: v.id for k, v in m.pairs.items()} == {"campaign.a": "1", "campaign.b": "3"}
    assert [r.id for r in m.unmanaged] == ["2"]
    assert [r.id for r in m.orphans] == ["4"]
    assert [r.id for r in m.retired] == ["5", "6"]
    assert not m.blocked


def test_two_candidates_are_an_error_not_a_guess() -> None:
    (a,) = prepare([defn("a", {**SPEC, "name": "A"})], {})
    marked = [
        RULES.from_remote(
            {"id": str(i), "name": "A", "status": "paused", "metadata": {MARKER: "a"}}
        )
        for i in (1, 2)
    ]
    m = RULES.match([a], marked)
    assert "campaign.a" in m.blocked and "1, 2" in m.blocked["campaign.a"][0].message
    named = [RULES.from_remote({"id": str(i), "name": "A", "status": "paused"}) for i in (3, 4)]
    m = RULES.match([a], named)
    assert "3, 4" in m.blocked["campaign.a"][0].message
    assert m.blocked["campaign.a"][0].severity == "error"


def test_two_definitions_claiming_one_remote_name_both_get_an_error() -> None:
    a, b, c = prepare(
        [
            defn("a", {**SPEC, "name": "Same"}),
            defn("b", {**SPEC, "name": "Same"}),
            defn("c", {**SPEC, "name": "Other"}),
        ],
        {},
    )
    remote = [
        RULES.from_remote({"id": "7", "name": "Same", "status": "paused"}),
        RULES.from_remote({"id": "8", "name": "Other", "status": "paused"}),
    ]
    m = RULES.match([a, b, c], remote)
    assert {k: v.id for k, v in m.pairs.items()} == {"campaign.c": "8"}
    (note_a,) = m.blocked["campaign.a"]
    (note_b,) = m.blocked["campaign.b"]
    assert note_a.severity == note_b.severity == "error"
    assert "campaign.b" in note_a.message and "campaign.a" in note_b.message
    assert "7" in note_a.message and not m.unmanaged


def test_a_campaign_matched_by_marker_is_never_adopted_by_another_definition() -> None:
    a, b = prepare([defn("a", {**SPEC, "name": "Same"}), defn("b", {**SPEC, "name": "Same"})], {})
    remote = [
        RULES.from_remote(
            {"id": "7", "name": "Same", "status": "paused", "metadata": {MARKER: "a"}}
        )
    ]
    m = RULES.match([a, b], remote)
    assert {k: v.id for k, v in m.pairs.items()} == {"campaign.a": "7"}
    assert not m.blocked  # b has nothing to adopt: it will be created


def test_two_definitions_with_one_name_and_no_remote_are_both_created() -> None:
    a, b = prepare([defn("a", {**SPEC, "name": "Same"}), defn("b", {**SPEC, "name": "Same"})], {})
    m = RULES.match([a, b], [])
    assert not m.pairs and not m.blocked


def test_orphan_is_canceled_with_prune_or_explained() -> None:
    orphan = RULES.from_remote(
        {"id": "4", "name": "X", "status": "paused", "metadata": {MARKER: "gone"}}
    )
    change = RULES.orphan_change(orphan, Context(prune=True))
    assert change is not None and change.action == "cancel" and change.address == "campaign.gone"
    assert [(s.op, s.id) for s in change.steps] == [("cancel", "4")]
    assert any("no delete" in n.message for n in change.notes)
    for status in ("active", "manual"):
        live = RULES.from_remote(
            {"id": "6", "name": "L", "status": status, "metadata": {MARKER: "l"}}
        )
        pruned = RULES.orphan_change(live, Context(prune=True))
        assert pruned is not None and [s.op for s in pruned.steps] == ["cancel"]
    draft = RULES.from_remote(
        {"id": "5", "name": "D", "status": "draft", "metadata": {MARKER: "d"}}
    )
    note = RULES.orphan_change(draft, Context(prune=True))
    assert note is not None and note.action == "note" and not note.steps
    assert note.notes[0].severity == "warning"


# --- execution options: one at a time --------------------------------------------------------

LATER = "2027-06-01 10:00:00"
DAILY = {"pattern": {"hour": 9, "minute": 0}}


@pytest.mark.parametrize("status", ["scheduled", "paused", "draft"])
def test_switching_to_recurrence_clears_the_scheduled_time_in_the_same_patch(status: str) -> None:
    """The API takes one execution option at a time: setting recurrence on a campaign that
    holds a scheduled_time sends scheduled_time: null with it (JSON merge patch removes it)."""
    remote = created_remote(defn(spec={**SPEC, "scheduled_time": LATER}), status=status)
    change = plan_one(defn(spec={**SPEC, "recurrence": DAILY}), remote)
    assert change is not None and not change.has_errors
    (patch,) = change.steps
    assert patch.body is not None
    assert patch.body["recurrence"] == DAILY and patch.body["scheduled_time"] is None
    shown = {(d.path, d.op) for d in change.diff}
    assert ("scheduled_time", "remove") in shown and ("recurrence", "add") in shown


def test_switching_to_a_scheduled_time_clears_the_recurrence() -> None:
    remote = created_remote(defn(spec={**SPEC, "recurrence": DAILY}))
    change = plan_one(defn(spec={**SPEC, "scheduled_time": LATER}), remote)
    assert change is not None
    (patch,) = change.steps
    assert patch.body is not None
    assert patch.body["scheduled_time"] == LATER and patch.body["recurrence"] is None


def test_a_running_campaign_switches_its_option_inside_the_pause() -> None:
    remote = created_remote(defn(spec={**SPEC, "scheduled_time": LATER}), status="running")
    change = plan_one(defn(spec={**SPEC, "recurrence": DAILY}), remote)
    assert change is not None
    assert [s.op for s in change.steps] == ["pause", "patch", "resume"]
    assert change.steps[1].body is not None and change.steps[1].body["scheduled_time"] is None


def test_an_option_is_cleared_only_when_the_patch_sets_another() -> None:
    d = defn(spec={**SPEC, "recurrence": DAILY})
    remote = created_remote(d, scheduled_time=LATER)  # held beside an unchanged recurrence
    assert plan_one(d, remote) is None
    change = plan_one(defn(spec={**SPEC, "recurrence": DAILY, "name": "New"}), remote)
    assert change is not None and change.steps[0].body is not None
    assert "scheduled_time" not in change.steps[0].body


# --- launching a draft -------------------------------------------------------------------------


def _draft(**spec: Any) -> dict[str, Any]:
    d = defn(spec={**SPEC, "is_draft": True, **spec})
    return created_remote(d, status="draft", is_draft=True)


def test_launching_a_draft_is_flagged() -> None:
    change = plan_one(defn(spec={**SPEC, "is_draft": False, "scheduled_time": LATER}), _draft())
    assert change is not None and change.action == "update"
    assert "launch" in change.flags and "sends_immediately" not in change.flags
    assert "launches the draft" in change.description
    assert change.steps[0].body is not None and "run_immediately" not in change.steps[0].body
    # a draft staying a draft, or a campaign that is no draft, launches nothing
    stays = plan_one(defn(spec={**SPEC, "is_draft": True, "name": "New"}), _draft())
    assert stays is not None and "launch" not in stays.flags


def test_launching_a_draft_with_run_immediately_sends_it_and_says_so() -> None:
    """The draft's create did not act on run_immediately; the launch does (PATCH with
    run_immediately: true "triggers execution right away")."""
    spec = {**SPEC, "is_draft": False, "run_immediately": True}
    change = plan_one(defn(spec=spec), _draft(scheduled_time=LATER))
    assert change is not None
    assert {"launch", "sends_immediately"} <= set(change.flags)
    body = change.steps[0].body
    assert body is not None and body["run_immediately"] is True and body["is_draft"] is False
    assert body["scheduled_time"] is None  # one execution option at a time
    assert ("run_immediately", "add") in {(d.path, d.op) for d in change.diff}


# --- times that have passed --------------------------------------------------------------------

NOW = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)
PAST = "2027-03-01 09:00:00"  # three hours before NOW


def test_a_create_for_a_time_that_has_passed_is_an_error() -> None:
    d = defn(spec={**SPEC, "scheduled_time": PAST})
    change = plan_one(d, None, now=NOW)
    assert change is not None and change.action == "note" and not change.steps
    assert change.has_errors and "in the past" in change.notes[0].message
    assert change.notes[0].message.startswith("c.yaml")  # where the time is written
    assert plan_one(d, None) is not None and not plan_one(d, None).has_errors  # type: ignore[union-attr]
    # a draft sends nothing: its time is checked when it is launched
    draft = plan_one(defn(spec={**SPEC, "scheduled_time": PAST, "is_draft": True}), None, now=NOW)
    assert draft is not None and draft.action == "create" and not draft.notes


def test_a_time_still_ahead_in_some_profile_time_zones_is_only_warned_about() -> None:
    """With send_in_profile_time_zone the time is read in each profile's zone: up to 12 hours
    past in GMT it is still ahead west of GMT (documented as meaningful: warned, not refused)."""
    spec = {**SPEC, "scheduled_time": PAST, "send_in_profile_time_zone": True}
    change = plan_one(defn(spec=spec), None, now=NOW)
    assert change is not None and change.action == "create" and not change.has_errors
    assert [n.severity for n in change.notes] == ["warning"]
    assert "sends_immediately" not in change.flags
    catch_up = plan_one(defn(spec={**spec, "send_if_profile_time_passed": True}), None, now=NOW)
    assert catch_up is not None and "sends_immediately" in catch_up.flags
    gone = {**spec, "scheduled_time": "2027-02-28 23:00:00"}  # 13 hours: passed everywhere
    refused = plan_one(defn(spec=gone), None, now=NOW)
    assert refused is not None and refused.has_errors and not refused.steps


def test_an_update_to_a_past_time_is_refused_before_any_pause() -> None:
    remote = created_remote(defn(spec={**SPEC, "scheduled_time": LATER}), status="running")
    change = plan_one(defn(spec={**SPEC, "scheduled_time": PAST}), remote, now=NOW)
    assert change is not None and change.has_errors and not change.steps
    # a time that simply passed, unchanged, is nothing to say
    d = defn(spec={**SPEC, "scheduled_time": PAST})
    assert plan_one(d, created_remote(d), now=NOW) is None


def test_launching_a_draft_whose_time_has_passed_is_refused() -> None:
    change = plan_one(defn(spec={**SPEC, "is_draft": False}), _draft(scheduled_time=PAST), now=NOW)
    assert change is not None and change.has_errors and not change.steps
    assert "launching the draft" in change.notes[0].message


def test_a_resume_at_a_time_that_has_passed_is_refused() -> None:
    remote = created_remote(defn(state="paused"), status="paused")
    d = defn(state="active", resume={"scheduled_time": PAST})
    change = plan_one(d, remote, now=NOW)
    assert change is not None and change.has_errors and not change.steps
    assert "resume.scheduled_time" in change.notes[0].message
    ahead = plan_one(defn(state="active", resume={"scheduled_time": LATER}), remote, now=NOW)
    assert ahead is not None and ahead.action == "resume" and not ahead.has_errors


# --- profile time zones: a time that has passed east of GMT ----------------------------------

SOON = "2027-03-01 18:00:00"  # six hours after NOW: already passed at UTC+7..UTC+14
PROFILE_TIME = {"send_in_profile_time_zone": True}
CATCH_UP = {**PROFILE_TIME, "send_if_profile_time_passed": True}


def test_a_create_whose_local_time_has_passed_east_of_gmt_sends_there_at_once() -> None:
    """Read in each profile's time zone, a time six hours ahead in GMT has passed for profiles
    six hours and more ahead of GMT (up to UTC+14): with send_if_profile_time_passed they get it
    as the create lands, so the create is flagged, naming that cause; without it they do not get
    it, which the same warning says. Not an error: most profiles still get it at that time."""
    spec = {**SPEC, "scheduled_time": SOON, **CATCH_UP}
    change = plan_one(defn(spec=spec), None, now=NOW)
    assert change is not None and change.action == "create" and not change.has_errors
    assert "sends_immediately" in change.flags
    assert change.send_cause == "send_if_profile_time_passed: its time has passed for some profiles"
    (note,) = change.notes
    assert note.severity == "warning" and note.message.startswith("c.yaml")
    assert "still ahead in GMT" in note.message
    assert "at least 6 h ahead of GMT (up to UTC+14)" in note.message
    assert "get it at once, as the apply lands" in note.message

    skipped = plan_one(defn(spec={**spec, "send_if_profile_time_passed": False}), None, now=NOW)
    assert skipped is not None and skipped.action == "create" and not skipped.flags
    assert [n.severity for n in skipped.notes] == ["warning"]
    assert "those whose time has passed do not get it" in skipped.notes[0].message
    assert skipped.send_cause is None

    # Read in GMT alone, or more than 14 hours ahead, it has passed nowhere: nothing to say.
    gmt = plan_one(defn(spec={**SPEC, "scheduled_time": SOON}), None, now=NOW)
    far = plan_one(defn(spec={**spec, "scheduled_time": "2027-03-02 02:01:00"}), None, now=NOW)
    for quiet in (gmt, far):
        assert quiet is not None and not quiet.notes and not quiet.flags
    edge = plan_one(defn(spec={**spec, "scheduled_time": "2027-03-02 02:00:00"}), None, now=NOW)
    assert edge is not None and "sends_immediately" in edge.flags  # UTC+14: just passed


def test_an_edit_or_a_resume_to_a_time_passed_east_of_gmt_is_flagged_too() -> None:
    """The same rule for every step that sends the time: a patch that sets it, a resume with
    it; the account's own settings count when the definition does not state them."""
    scheduled = created_remote(defn(spec={**SPEC, "scheduled_time": LATER}), **CATCH_UP)
    edit = plan_one(defn(spec={**SPEC, "scheduled_time": SOON}), scheduled, now=NOW)
    assert edit is not None and edit.action == "update" and not edit.has_errors
    assert "sends_immediately" in edit.flags and "the update would reschedule it" in str(edit.notes)

    paused = created_remote(defn(state="paused"), status="paused", **CATCH_UP)
    resume = plan_one(defn(state="active", resume={"scheduled_time": SOON}), paused, now=NOW)
    assert resume is not None and resume.action == "resume" and not resume.has_errors
    assert "sends_immediately" in resume.flags
    assert "resume.scheduled_time 2027-03-01 18:00:00 is read in each profile" in str(resume.notes)


def test_the_apply_judges_a_time_passed_east_of_gmt_by_its_own_clock() -> None:
    """:meth:`CampaignRules.timely` reads the same rule from the planned steps: a create
    reviewed while its time was ahead everywhere and applied after it passed at UTC+14 states
    something new (what makes a reviewed plan stale at apply)."""
    change = plan_one(defn(spec={**SPEC, "scheduled_time": SOON, **CATCH_UP}), None)
    assert change is not None and not change.flags  # no clock, nothing judged
    now = RULES.timely(change.steps, None, NOW)
    assert now == {
        "scheduled_time 2027-03-01 18:00:00 (GMT) has passed east of GMT (ahead in GMT) and "
        "the create would schedule it",
        "it may send at once: send_if_profile_time_passed: its time has passed for some profiles",
    }
    assert RULES.timely(change.steps, None, NOW - dt.timedelta(hours=9)) == set()


# --- a resume without options after the campaign's time passed ------------------------------


def test_resuming_a_campaign_whose_own_time_has_passed_is_flagged_with_the_reason() -> None:
    """A one-shot campaign paused while its scheduled_time passed, resumed with no resume
    block: Hood documents nothing for it (it may send at once, or never), as for a push task
    activated after its start passed. Flagged and warned, not refused: a campaign paused while
    it ran holds a time that has passed, and a resume is how it goes on."""
    d = defn(spec={**SPEC, "scheduled_time": PAST}, state="active")
    paused = created_remote(d, status="paused")
    change = plan_one(d, paused, now=NOW)
    assert change is not None and change.action == "resume" and not change.has_errors
    assert [s.op for s in change.steps] == ["resume"]
    assert "sends_immediately" in change.flags
    assert change.send_cause == "its scheduled_time has passed"
    (note,) = change.notes
    assert note.severity == "warning" and "which the campaign holds, has passed" in note.message
    assert "resume: {run_immediately: true}" in note.message
    # read again at apply, by the apply's clock
    facts = RULES.timely(change.steps, RULES.from_remote(paused), NOW)
    assert "it may send at once: its scheduled_time has passed" in facts
    assert (
        RULES.timely(change.steps, RULES.from_remote(paused), NOW - dt.timedelta(days=1)) == set()
    )

    # the definition's own resume block says what happens: nothing to flag
    said = plan_one(dataclasses.replace(d, resume={"scheduled_time": LATER}), paused, now=NOW)
    assert said is not None and not said.flags and not said.notes
    now = plan_one(dataclasses.replace(d, resume={"run_immediately": True}), paused, now=NOW)
    assert now is not None and now.send_cause == "resume: run_immediately"
    # a time still ahead, or a patch before the resume that moves it ahead: nothing either
    ahead = created_remote(defn(spec={**SPEC, "scheduled_time": LATER}), status="paused")
    moved = defn(spec={**SPEC, "scheduled_time": LATER}, state="active")
    assert plan_one(moved, ahead, now=NOW) is not None
    for quiet in (plan_one(moved, ahead, now=NOW), plan_one(moved, paused, now=NOW)):
        assert quiet is not None and not quiet.flags and not quiet.notes


def test_the_resume_of_an_edit_while_running_is_not_taken_for_one_after_a_pause() -> None:
    """A running campaign is edited as pause, patch, resume: that resume returns it to
    running, which its passed time does not make a send at once."""
    d = defn(spec={**SPEC, "scheduled_time": PAST})
    running = created_remote(d, status="running")
    change = plan_one(defn(spec={**SPEC, "scheduled_time": PAST, "name": "New"}), running, now=NOW)
    assert change is not None and [s.op for s in change.steps] == ["pause", "patch", "resume"]
    assert "sends_immediately" not in change.flags and not change.notes


# --- times the account holds that cannot be read -----------------------------------------------


@pytest.mark.parametrize("held", ["2020-01-01T00:00:00Z", "2020-01-01 00:00:00.000"])
def test_a_time_the_campaign_holds_that_cannot_be_read_may_send_at_once(held: str) -> None:
    """Launching a draft, or resuming a paused campaign, on a time in another spelling: it may
    have passed, so the change is flagged (and says the time could not be read), never taken
    for a time still ahead."""
    launch = plan_one(defn(spec={**SPEC, "is_draft": False}), _draft(scheduled_time=held), now=NOW)
    assert launch is not None and not launch.has_errors and launch.steps
    assert {"launch", "sends_immediately"} <= set(launch.flags)
    assert launch.send_cause == "its scheduled_time could not be read"
    assert repr(held) in launch.notes[0].message and "is_draft" not in launch.notes[0].message
    assert launch.notes[0].message.startswith("c.yaml")

    paused = created_remote(defn(), status="paused", scheduled_time=held)
    resume = plan_one(defn(state="active"), paused)  # no clock needed to know it is unread
    assert resume is not None and resume.send_cause == "its scheduled_time could not be read"
    facts = RULES.timely(resume.steps, RULES.from_remote(paused), None)
    assert f"scheduled_time {held!r} cannot be read as a time and " in str(facts)


# --- run_immediately on a campaign that exists -----------------------------------------------


def test_run_immediately_in_place_of_a_schedule_is_not_silently_ignored() -> None:
    """run_immediately acts only on a create (or a draft's launch) and is never compared, so
    replacing a scheduled_time by it changes nothing: the plan says so, and how to send now."""
    scheduled = created_remote(defn(spec={**SPEC, "scheduled_time": LATER}))
    now = defn(spec={**SPEC, "run_immediately": True})
    change = plan_one(now, scheduled)
    assert change is not None and change.action == "note" and not change.steps
    (note,) = change.notes
    assert note.severity == "warning" and not change.has_errors
    assert note.message.startswith("c.yaml")
    assert "run_immediately applies only when a campaign is created" in note.message
    assert f"keeps its scheduled_time {LATER} (GMT)" in note.message
    assert "set state: paused and apply, then set state: active with resume: " in note.message

    paused = created_remote(defn(spec={**SPEC, "recurrence": DAILY}), status="paused")
    kept = plan_one(dataclasses.replace(now, state="paused"), paused)
    assert kept is not None and "keeps its recurrence" in kept.notes[0].message
    assert "set state: paused" not in kept.notes[0].message

    # sent now by the resume, or no option held (created with run_immediately): no note
    resumed = plan_one(
        dataclasses.replace(now, state="active", resume={"run_immediately": True}),
        created_remote(defn(spec={**SPEC, "scheduled_time": LATER}), status="paused"),
    )
    assert resumed is not None and not resumed.notes
    assert plan_one(now, created_remote(now)) is None
    assert (
        plan_one(
            now, created_remote(defn(spec={**SPEC, "scheduled_time": LATER}), status="running")
        )
        is None
    )


# --- what is sent is what the plan shows --------------------------------------------------------


def test_bodies_carry_the_values_the_plan_shows() -> None:
    """Normalised values (a priority written "3", a test_split 30.0, labels as one string)
    are shown as the documented types, and sent so."""
    message = {**SPEC["messages"][0], "priority": "3"}
    spec = {**SPEC, "labels": "spring,sale", "ab_test": {"name": "t", "test_split": 30.0}}
    created = plan_one(defn(spec={**spec, "messages": [message]}), None)
    assert created is not None
    body = created.steps[0].body
    assert body is not None and body["labels"] == ["spring", "sale"]
    assert body["messages"][0]["priority"] == 3 and type(body["ab_test"]["test_split"]) is int
    remote = created_remote(defn())
    update = plan_one(defn(spec={**SPEC, "messages": [{**message, "priority": "4"}]}), remote)
    assert update is not None and update.steps[0].body is not None
    assert update.steps[0].body["messages"][0]["priority"] == 4
    assert [(d.path, d.after) for d in update.diff] == [('messages["Hello"].priority', 4)]


# --- what a resume says ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resume", "target", "detail"),
    [
        (None, "active", ": running or waiting, as the server decides"),
        ({"run_immediately": True}, "running", ", run_immediately: sends at once"),
        ({"scheduled_time": LATER}, "scheduled", f" at {LATER} GMT"),
    ],
)
def test_a_resume_says_what_its_body_tells_and_no_more(
    resume: dict[str, Any] | None, target: str, detail: str
) -> None:
    remote = created_remote(defn(state="paused"), status="paused", send_strategy="scheduled")
    change = plan_one(defn(state="active", resume=resume), remote)
    assert change is not None and change.transition == ("paused", target)
    assert change.description.endswith(f"(paused -> {target}{detail})")
