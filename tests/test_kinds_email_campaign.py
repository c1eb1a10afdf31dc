"""Email-campaign rules: newest-wins matching, superseded, start/stop, replace."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from hoodsync.kinds.base import Context
from hoodsync.kinds.email_campaign import EmailCampaignRules
from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import Change
from hoodsync.planner import prepare

RULES = EmailCampaignRules()
T1, T2 = "3c90c3cc-0d44-4b50-8888-8dd25736052a", "9b2f6a55-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
M1 = "8f14e45f-ceea-467f-a0e6-1b2d3c4d5e6f"
SPEC: dict[str, Any] = {
    "name": "Welcome flow",
    "template_ids": [T1, T2],
    "mail_account_ids": [M1],
    "events": ["contact.saved", "lead.created"],
}


def defn(spec: Mapping[str, Any] | None = None, *, state: str | None = None) -> Definition:
    return Definition(
        Kind.EMAIL_CAMPAIGN, "welcome", dict(spec or SPEC), Location("e.yaml"), state=state
    )


def remote_of(
    spec: Mapping[str, Any],
    *,
    cid: str = "a1",
    enabled: bool = True,
    created: str = "2026-11-22T10:00:00.000001Z",
) -> dict[str, Any]:
    """The campaign resource as Falconyte returns it."""
    send_data = {
        "campaign_type": "event_triggered",
        "template_ids": list(spec["template_ids"]),
        "mail_account_ids": list(spec["mail_account_ids"]),
        "event_triggered_send": {
            "events": list(spec["events"]),
            "contact_cooldown_interval": 3600,
            "contact_daily_email_cap": 3,
            "enabled": enabled,
        },
    }
    return {
        "id": cid,
        "team_id": "t",
        "name": spec["name"],
        "delivery_type": "event_triggered",
        "campaign_type": "event_triggered",
        "meta": [],
        "created_at": created,
        "updated_at": created,
        "draft_data": {"last_sent_at": None, "send_data": send_data},
        "campaign_sends": [
            {
                "id": "s1",
                "status": "active" if enabled else "stopped",
                "next_send_countdown": {"total": 10, "remaining": 3},
                "send_data": send_data,
            }
        ],
    }


def plan_one(
    d: Definition, remotes: list[Mapping[str, Any]], *, allow_replace: bool = False
) -> Change | None:
    (des,) = prepare([d], {})
    match = RULES.match([des], [RULES.from_remote(r) for r in remotes])
    assert not match.blocked
    ctx = Context(allow_replace=allow_replace)
    change = RULES.plan(des, match.pairs.get(d.address), ctx)
    if d.address in match.leftovers:  # as the planner does
        change = RULES.finish_leftovers(
            des, change, match.leftovers[d.address], ctx, match.pairs.get(d.address)
        )
    return change


def test_read_back_compares_clean_and_sets_ignore_order() -> None:
    assert plan_one(defn(), [remote_of(SPEC)]) is None
    reordered = {**SPEC, "template_ids": [T2, T1], "events": ["lead.created", "contact.saved"]}
    assert plan_one(defn(), [remote_of(reordered)]) is None


def test_status_word_comes_from_enabled() -> None:
    assert RULES.from_remote(remote_of(SPEC)).status == "active"
    assert RULES.from_remote(remote_of(SPEC, enabled=False)).status == "stopped"


def test_fingerprint_ignores_countdowns_but_sees_status() -> None:
    r = remote_of(SPEC)
    moved = remote_of(SPEC)
    moved["campaign_sends"][0]["next_send_countdown"]["remaining"] = 1
    assert RULES.fingerprint(r) == RULES.fingerprint(moved)
    assert RULES.fingerprint(r) != RULES.fingerprint(remote_of(SPEC, enabled=False))


def test_create_and_create_stopped() -> None:
    change = plan_one(defn(), [])
    assert change is not None and [s.op for s in change.steps] == ["create"]
    assert change.steps[0].body == SPEC
    change = plan_one(defn(state="stopped"), [])
    assert change is not None and [(s.op, s.id) for s in change.steps] == [
        ("create", None),
        ("stop", None),
    ]


def test_start_and_stop_follow_state() -> None:
    change = plan_one(defn(state="stopped"), [remote_of(SPEC)])
    assert change is not None and change.action == "stop" and change.phase == 2
    assert [(s.op, s.id) for s in change.steps] == [("stop", "a1")]
    change = plan_one(defn(state="active"), [remote_of(SPEC, enabled=False)])
    assert (
        change is not None
        and change.action == "start"
        and change.transition == ("stopped", "active")
    )


def test_spec_change_without_allow_replace_is_an_error() -> None:
    change = plan_one(defn({**SPEC, "events": ["sale.created"]}), [remote_of(SPEC)])
    assert change is not None and change.action == "replace" and not change.steps
    assert change.has_errors and "--allow-replace" in change.notes[0].message
    assert change.description == "will be replaced (create new, stop old)"


def test_replace_creates_new_then_stops_old() -> None:
    spec = {**SPEC, "events": ["sale.created"]}
    change = plan_one(defn(spec), [remote_of(SPEC)], allow_replace=True)
    assert change is not None and not change.has_errors
    assert [(s.op, s.id) for s in change.steps] == [("create", None), ("stop", "a1")]
    assert change.steps[0].body == spec
    assert [x.path for x in change.diff] == ["events[0]", "events[1]"]


def test_newest_is_managed_older_stopped_are_superseded() -> None:
    old = remote_of(SPEC, cid="old", enabled=False, created="2026-01-01T00:00:00.000000Z")
    new = remote_of(SPEC, cid="new", created="2026-02-01T00:00:00.000000Z")
    (des,) = prepare([defn()], {})
    m = RULES.match([des], [RULES.from_remote(new), RULES.from_remote(old)])
    assert m.pairs["email_campaign.welcome"].id == "new"
    assert [(a, r.id) for a, r in m.superseded] == [("email_campaign.welcome", "old")]
    assert not m.unmanaged


def test_two_active_with_one_name_is_an_error_naming_the_ids() -> None:
    other = {**SPEC, "events": ["lead.created"]}
    old = remote_of({**SPEC, "events": ["sale.created"]}, cid="old", created="2026-01-01T00:00Z")
    new = remote_of(other, cid="new", created="2026-02-01T00:00:00.000000Z")
    (des,) = prepare([defn()], {})
    m = RULES.match([des], [RULES.from_remote(old), RULES.from_remote(new)])
    (note,) = m.blocked["email_campaign.welcome"]
    assert note.severity == "error" and "old" in note.message and "new" in note.message
    assert "manages only the newest (new); stop the older" in note.message


def test_an_older_live_campaign_that_is_the_definitions_own_is_not_to_be_stopped() -> None:
    """The older live campaign is exactly what the definition says, the newest is not (made in
    Falconyte, or for another definition whose name resolved to this one). Before: the note
    called the newest managed and said to stop the older ones — the definition's own."""
    other = {**SPEC, "events": ["lead.created"]}
    old = remote_of(SPEC, cid="old", created="2026-01-01T00:00:00.000000Z")
    new = remote_of(other, cid="new", created="2026-02-01T00:00:00.000000Z")
    (des,) = prepare([defn()], {})
    m = RULES.match([des], [RULES.from_remote(old), RULES.from_remote(new)])
    (note,) = m.blocked["email_campaign.welcome"]
    assert note.severity == "error" and "are not stopped: old (" in note.message
    assert "old is exactly what this definition says, the newest (new) is not" in note.message
    assert "stop the older" not in note.message and "manages only" not in note.message


def test_interrupted_replacement_is_an_error_that_names_allow_replace() -> None:
    """Issue 7: two live campaigns with one name is an error, even when the newest matches the
    definition (an apply cut off between create-new and stop-old); the note says so."""
    previous = {**SPEC, "events": ["lead.created"]}
    old = remote_of(previous, cid="old", created="2026-01-01T00:00:00.000000Z")
    new = remote_of(SPEC, cid="new", created="2026-02-01T00:00:00.000000Z")
    change = plan_one(defn(state="active"), [old, new])
    assert change is not None and change.has_errors and not change.steps
    assert change.action == "note"
    (note,) = change.notes
    assert "old" in note.message and "new" in note.message
    assert "interrupted" in note.message and "--allow-replace" in note.message


def test_interrupted_replacement_is_finished_with_allow_replace() -> None:
    previous = {**SPEC, "events": ["lead.created"]}
    old = remote_of(previous, cid="old", created="2026-01-01T00:00:00.000000Z")
    new = remote_of(SPEC, cid="new", created="2026-02-01T00:00:00.000000Z")
    change = plan_one(defn(state="active"), [old, new], allow_replace=True)
    assert change is not None and not change.has_errors
    assert change.action == "stop" and change.remote_id is None
    assert [(s.op, s.id) for s in change.steps] == [("stop", "old")]
    assert any("interrupted" in n.message for n in change.notes)
    # With the new one stopped by hand too and state active, it is started first.
    stopped_new = remote_of(SPEC, cid="new", enabled=False, created="2026-02-01T00:00:00.000000Z")
    change = plan_one(defn(state="active"), [old, stopped_new], allow_replace=True)
    assert change is not None
    assert [(s.op, s.id) for s in change.steps] == [("start", "new"), ("stop", "old")]


def test_superseded_never_lists_a_campaign_that_is_still_live() -> None:
    older = remote_of(SPEC, cid="oldest", enabled=False, created="2025-12-01T00:00:00.000000Z")
    old = remote_of(SPEC, cid="old", created="2026-01-01T00:00:00.000000Z")
    new = remote_of(SPEC, cid="new", created="2026-02-01T00:00:00.000000Z")
    (des,) = prepare([defn()], {})
    m = RULES.match([des], [RULES.from_remote(r) for r in (older, old, new)])
    assert [r.id for _, r in m.superseded] == ["oldest"]
    assert [r.id for r in m.leftovers["email_campaign.welcome"]] == ["old"]


# --- no state: the trigger is not managed -------------------------------------------------------


def test_without_state_neither_start_nor_stop() -> None:
    assert plan_one(defn(), [remote_of(SPEC, enabled=False)]) is None
    assert plan_one(defn(), [remote_of(SPEC)]) is None
    change = plan_one(defn(), [])
    assert change is not None and [s.op for s in change.steps] == ["create"]


@pytest.mark.parametrize("enabled", [True, False])
def test_without_state_a_replacement_keeps_the_old_status(enabled: bool) -> None:
    spec = {**SPEC, "events": ["sale.created"]}
    change = plan_one(defn(spec), [remote_of(SPEC, enabled=enabled)], allow_replace=True)
    assert change is not None and change.action == "replace"
    want = [("create", None), ("stop", "a1")] if enabled else [("create", None), ("stop", None)]
    assert [(s.op, s.id) for s in change.steps] == want
