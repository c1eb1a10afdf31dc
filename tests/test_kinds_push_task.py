"""Push-task rules: numeric normalisation, name matching, update, activate/deactivate, finished."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest

from hoodsync.apply import resolve_steps
from hoodsync.kinds.base import Context
from hoodsync.kinds.push_task import PushTaskRules
from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import Change
from hoodsync.planner import prepare

RULES = PushTaskRules()

SPEC: dict[str, Any] = {
    "name": "Hourly Headlines",
    "status": 1,
    "start_time": "immediately",
    "frequency": "3600",
    "ttl": 3600,
    "quiet_time": {"from": "2", "to": 12},
    "message": {"title": {"en": "News"}, "landing_url": "https://example.com"},
}


def defn(spec: Mapping[str, Any] | None = None, *, state: str | None = None) -> Definition:
    return Definition(Kind.PUSH_TASK, "hourly", dict(spec or SPEC), Location("p.yaml"), state=state)


def remote_of(spec: Mapping[str, Any], *, tid: str = "1057", **overrides: Any) -> dict[str, Any]:
    """The task as the API returns it: numbers as strings, start time resolved, extras added."""
    out: dict[str, Any] = {
        "id": tid,
        **spec,
        "status": str(spec.get("status", 0)),
        "start_time": "2026-11-22 10:00:00",
        "frequency": str(spec.get("frequency")) if spec.get("frequency") is not None else None,
        "ttl": str(spec.get("ttl", 2419200)),
        "user_time_zone": "0",
        "quiet_time": {k: str(v) for k, v in spec["quiet_time"].items()}
        if spec.get("quiet_time")
        else None,
        "cron": None,
        "end_time": None,
        "custom_data": None,
        "next_execution_time": "2026-11-22 11:00:00",
        "last_execution_time": None,
        "create_time": "2026-11-22 10:00:00",
    }
    out.update(overrides)
    return out


def plan_one(
    d: Definition, remote: Mapping[str, Any] | None, *, now: dt.datetime | None = None
) -> Change | None:
    (des,) = prepare([d], {})
    objs = [RULES.from_remote(remote)] if remote is not None else []
    match = RULES.match([des], objs)
    return RULES.plan(des, match.pairs.get(d.address), Context(now=now))


def test_read_back_compares_clean_despite_strings_and_resolved_start_time() -> None:
    assert plan_one(defn(), remote_of(SPEC)) is None


def test_null_in_definition_matches_absent_remote_key() -> None:
    spec = {**SPEC, "cron": None, "adex": None}
    remote = remote_of(SPEC)
    remote.pop("cron")
    assert plan_one(defn(spec), remote) is None


def test_from_remote_status_words() -> None:
    assert RULES.from_remote(remote_of(SPEC)).status == "active"
    assert RULES.from_remote(remote_of(SPEC, status="0")).status == "inactive"
    obj = RULES.from_remote(remote_of(SPEC, status="2", id=1057))
    assert obj.status == "finished" and obj.id == "1057" and obj.body["ttl"] == 3600


def test_create_sends_the_spec_with_state_as_status() -> None:
    change = plan_one(defn(state="inactive"), None)
    assert change is not None and change.action == "create"
    (step,) = change.steps
    assert step.op == "create" and step.body is not None and step.body["status"] == 0
    # sent as the plan shows it: the documented integer, not the digit string written
    assert step.body["frequency"] == 3600 and type(step.body["frequency"]) is int


def test_update_patches_only_changed_keys() -> None:
    change = plan_one(defn({**SPEC, "ttl": "7200"}), remote_of(SPEC))
    assert change is not None and change.action == "update"
    assert [(x.path, x.before, x.after) for x in change.diff] == [("ttl", 3600, 7200)]
    # the value the diff shows is the one sent
    assert [(s.op, s.id, s.body) for s in change.steps] == [("patch", "1057", {"ttl": 7200})]


def test_state_wins_over_spec_status() -> None:
    change = plan_one(defn(state="inactive"), remote_of(SPEC))
    assert change is not None and change.action == "deactivate"
    assert change.steps[0].body == {"status": 0}
    assert change.transition == ("active", "inactive") and change.phase == 2


def test_activate_merges_other_changes_into_one_patch() -> None:
    remote = remote_of({**SPEC, "status": 0})
    change = plan_one(defn({**SPEC, "ttl": 60}, state="active"), remote)
    assert change is not None and change.action == "activate"
    assert change.steps[0].body == {"ttl": 60, "status": 1}
    assert change.description == "will be updated and activated (inactive -> active)"


def test_an_activation_that_may_send_at_once_is_flagged() -> None:
    """The server keeps ``immediately`` as the create time; activating a task whose start has
    passed may send as the apply lands (undocumented), so the reviewer is warned, as for a
    create starting ``immediately``. A start still ahead is not flagged."""
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    inactive = remote_of({**SPEC, "status": 0})  # stored start: 2026-11-22 10:00:00
    change = plan_one(defn(state="active"), inactive, now=now)
    assert change is not None and change.action == "activate"
    assert "sends_immediately" in change.flags
    later = {**SPEC, "start_time": "2027-03-01 09:00:00"}
    ahead = remote_of({**later, "status": 0}, start_time="2027-03-01 09:00:00")
    change = plan_one(defn(later, state="active"), ahead, now=now)
    assert change is not None and change.action == "activate" and not change.flags
    past = {**SPEC, "start_time": "2026-11-30 09:00:00"}
    stored = remote_of({**past, "status": 0}, start_time="2026-11-30 09:00:00")
    change = plan_one(defn(past, state="active"), stored, now=now)
    assert change is not None and "sends_immediately" in change.flags


@pytest.mark.parametrize("held", ["2020-01-01T00:00:00Z", "2020-01-01 00:00:00.000", ""])
def test_an_activation_whose_start_cannot_be_read_may_send_at_once(held: str) -> None:
    """A start the account holds in another spelling (or empty) may have passed: it is never
    taken for a start still ahead. The activation is flagged, says why, and a warning names the
    value; the apply's own reading of the steps agrees."""
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    remote = remote_of({**SPEC, "status": 0}, start_time=held)
    change = plan_one(defn(state="active"), remote, now=now)
    assert change is not None and change.action == "activate" and change.steps
    assert "sends_immediately" in change.flags
    assert change.send_cause == "activated: its start could not be read"
    (note,) = change.notes
    assert note.severity == "warning" and f"holds start_time {held!r}" in note.message
    assert note.message.startswith("p.yaml")
    facts = RULES.timely(change.steps, RULES.from_remote(remote), now)
    assert facts == {"activating it may send at once: its start could not be read"}


def test_each_immediate_send_names_its_cause() -> None:
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    created = plan_one(defn(state="active"), None)
    assert created is not None and created.send_cause == "start_time: immediately"
    activated = plan_one(defn(state="active"), remote_of({**SPEC, "status": 0}), now=now)
    assert activated is not None and activated.send_cause == "activated: its start has passed"
    assert not activated.notes
    deactivated = plan_one(defn(state="inactive"), remote_of(SPEC), now=now)
    assert deactivated is not None and deactivated.send_cause is None


def test_values_are_sent_as_the_plan_shows_them() -> None:
    """quiet_time hours written 7.0 and "07" show as 7 and 7, and go out so (the schema's
    integer hours), on a create and in a patch alike."""
    spec = {**SPEC, "quiet_time": {"from": 7.0, "to": "07"}}
    created = plan_one(defn(spec), None)
    assert created is not None and created.steps[0].body is not None
    sent = created.steps[0].body["quiet_time"]
    shown = {d.path: d.after for d in created.diff}["quiet_time"]
    assert sent == shown == {"from": 7, "to": 7}
    assert all(type(v) is int for v in sent.values())
    patched = plan_one(defn(spec), remote_of(SPEC))
    assert patched is not None and patched.steps[0].body == {"quiet_time": {"from": 7, "to": 7}}
    assert all(type(v) is int for v in patched.steps[0].body["quiet_time"].values())


def test_no_wanted_status_means_status_is_not_compared() -> None:
    spec = {k: v for k, v in SPEC.items() if k != "status"}
    assert plan_one(defn(spec), remote_of({**spec, "status": 0})) is None


def test_finished_task_satisfies_status_and_notes_edits() -> None:
    assert plan_one(defn(), remote_of(SPEC, status="2")) is None
    change = plan_one(defn({**SPEC, "ttl": 1}), remote_of(SPEC, status="2"))
    assert change is not None and change.action == "note" and change.has_errors
    assert "finished" in change.notes[0].message and not change.steps


def test_duplicate_remote_names_are_an_error_and_others_unmanaged() -> None:
    (des,) = prepare([defn()], {})
    objs = [RULES.from_remote(remote_of(SPEC, tid=t)) for t in ("1", "2")]
    objs.append(RULES.from_remote(remote_of({**SPEC, "name": "Other"}, tid="3")))
    m = RULES.match([des], objs)
    assert "1, 2" in m.blocked["push_task.hourly"][0].message
    assert [r.id for r in m.unmanaged] == ["3"]
    assert not m.pairs


# --- start_time in the past (only when the change would send it) -------------------------------

NOW = dt.datetime(2027, 6, 1, 12, 0, tzinfo=dt.UTC)
FIXED = {**SPEC, "start_time": "2027-01-01 12:00:00"}


def test_past_start_time_is_an_error_on_create() -> None:
    change = plan_one(defn(FIXED), None, now=NOW)
    assert change is not None and change.action == "note" and not change.steps
    (note,) = change.notes
    assert note.severity == "error" and "2027-01-01 12:00:00" in note.message
    assert "in the past" in note.message and "2027-06-01 12:00:00" in note.message
    future = plan_one(defn(FIXED), None, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert future is not None and future.action == "create"
    assert plan_one(defn(FIXED), None).action == "create"  # type: ignore[union-attr]  # no clock


def test_an_existing_task_whose_start_passed_is_left_alone() -> None:
    remote = remote_of(FIXED, start_time="2027-01-01 12:00:00")
    assert plan_one(defn(FIXED), remote, now=NOW) is None
    # other edits still go through, without the start_time
    change = plan_one(defn({**FIXED, "ttl": 7200}), remote, now=NOW)
    assert change is not None and change.action == "update" and not change.has_errors
    assert change.steps[0].body == {"ttl": 7200}


def test_past_start_time_in_a_patch_is_an_error() -> None:
    remote = remote_of(FIXED, start_time="2026-12-01 12:00:00")
    change = plan_one(defn(FIXED), remote, now=NOW)
    assert change is not None and change.has_errors and not change.steps
    assert "this update would send it" in change.notes[0].message


# --- end_time before the start the server would hold ---------------------------------------------


def located(spec: Mapping[str, Any]) -> Definition:
    """A definition whose spec fields sit on lines of their own, as the loader records them."""
    d = defn(spec)
    locations = {("spec", k): Location("p.yaml", 4 + i, 3) for i, k in enumerate(spec)}
    return Definition(d.kind, d.key, d.spec, d.location, locations=locations)


def test_immediately_with_a_past_end_time_is_an_error_at_end_time() -> None:
    """The API stores "immediately" as the create time and refuses an end before it, so a
    create that validation (no clock) lets through is an error in the plan, not at apply."""
    spec = {**SPEC, "end_time": "2027-05-31 00:00:00"}
    change = plan_one(located(spec), None, now=NOW)
    assert change is not None and change.action == "note" and not change.steps
    (note,) = change.notes
    assert note.severity == "error" and note.message.startswith("p.yaml:11:3: end_time ")
    assert "2027-05-31 00:00:00" in note.message and "2027-06-01 12:00:00" in note.message
    later = plan_one(located({**spec, "end_time": "2027-07-01 00:00:00"}), None, now=NOW)
    assert later is not None and later.action == "create"
    assert plan_one(located(spec), None).action == "create"  # type: ignore[union-attr]  # no clock


def test_a_patched_end_time_is_checked_against_the_start_the_account_holds() -> None:
    spec = {**SPEC, "end_time": "2026-11-01 00:00:00"}  # before the stored 2026-11-22 10:00:00
    change = plan_one(located(spec), remote_of(SPEC), now=NOW)
    assert change is not None and change.has_errors and not change.steps
    assert "this update would send it" in change.notes[0].message
    assert "2026-11-22 10:00:00" in change.notes[0].message
    # An end already held is not re-sent, so a task that simply ended is left alone.
    held = remote_of(SPEC, end_time="2026-12-01 00:00:00")
    assert plan_one(located({**SPEC, "end_time": "2026-12-01 00:00:00"}), held, now=NOW) is None


# --- frequency and cron exclude each other -------------------------------------------------------


def test_switching_from_frequency_to_cron_clears_frequency() -> None:
    spec = {k: v for k, v in SPEC.items() if k != "frequency"}
    spec["cron"] = "0 12 * * 1-5"
    change = plan_one(defn(spec), remote_of(SPEC))
    assert change is not None and change.action == "update"
    assert change.steps[0].body == {"cron": "0 12 * * 1-5", "frequency": None}
    assert ("frequency", "remove") in [(d.path, d.op) for d in change.diff]


def test_switching_from_cron_to_frequency_clears_cron() -> None:
    old = {k: v for k, v in SPEC.items() if k != "frequency"}
    remote = remote_of(old, cron="0 9 * * *")
    change = plan_one(defn(SPEC), remote)
    assert change is not None
    assert change.steps[0].body == {"frequency": 3600, "cron": None}


def test_no_clearing_when_the_definition_states_the_other_key_or_on_create() -> None:
    spec = {**SPEC, "cron": None}
    change = plan_one(
        defn(spec), remote_of({k: v for k, v in SPEC.items() if k != "frequency"}, cron="0 9 * * *")
    )
    assert change is not None and change.steps[0].body == {"frequency": 3600, "cron": None}
    created = plan_one(defn(SPEC), None)
    assert created is not None and "cron" not in created.steps[0].body  # type: ignore[operator]


def test_an_active_task_starting_immediately_is_flagged_as_sending_on_create() -> None:
    """The reviewer's "sends immediately" warning covers push tasks, not only campaigns."""
    sends = plan_one(defn({**SPEC, "status": "1"}), None)
    assert sends is not None and "sends_immediately" in sends.flags
    unstated = {k: v for k, v in SPEC.items() if k != "status"}
    by_state = plan_one(defn(unstated, state="active"), None)
    assert by_state is not None and "sends_immediately" in by_state.flags
    for quiet in (
        plan_one(defn(state="inactive"), None),
        plan_one(defn({**SPEC, "start_time": "2099-01-01 10:00:00"}), None),
        plan_one(defn(), remote_of(SPEC, status="0")),  # activated, not created
    ):
        assert quiet is not None and "sends_immediately" not in quiet.flags


def test_a_duplicates_rename_sends_the_accounts_name_as_it_is() -> None:
    """Apply resolves step bodies as templates: a name from the account that reads as a
    reference is escaped, so the rename sends it as it is, never a variable's value."""
    dup = RULES.from_remote(remote_of(SPEC, tid="1058", name="Promo ${env:PROMO}"))
    kept = RULES.from_remote(remote_of(SPEC, name="Promo ${env:PROMO}"))
    (des,) = prepare([defn()], {})
    change = RULES.duplicate_change(des, dup, kept)
    (step,) = resolve_steps(change, {"PROMO": "secret-value"}, None)
    assert step.body == {"name": "Promo ${env:PROMO} (duplicate)", "status": 0}


def test_a_duplicates_name_from_a_variable_is_shown_masked() -> None:
    """A definition whose name comes from ``${env:...}``: every copy of its object holds the
    value in its name, so the retirement of a duplicate shows the name masked, as the plan
    shows the definition's own."""
    spec = {**SPEC, "name": "Promo ${env:CODE}"}
    (des,) = prepare([defn(spec)], {"CODE": "987654"})
    dup = RULES.from_remote(remote_of({**SPEC, "name": "Promo 987654"}, tid="1058"))
    kept = RULES.from_remote(remote_of({**SPEC, "name": "Promo 987654"}))
    change = RULES.duplicate_change(des, dup, kept)
    shown = repr([change.name, [(d.path, d.before, d.after) for d in change.diff]])
    assert "987654" not in shown and "sensitive ${env:CODE}" in shown, shown
