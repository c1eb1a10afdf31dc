"""hoodsync.wire: the campaign status vocabulary, and that the client's re-read and apply's
settle check read statuses through it (issue 13 §4)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_apply import ACCOUNT, FakeHood, change, run
from test_hood_client import FAST, LoseAnswers, campaign_body, client_for

from hoodsync.apply import Outcome
from hoodsync.plan import Plan, Step
from hoodsync.wire import (
    CAMPAIGN_AFTER_RESUME,
    CAMPAIGN_CANCELLABLE,
    CAMPAIGN_ID_PATHS,
    CAMPAIGN_INT_PATHS,
    CAMPAIGN_LOCKED,
    CAMPAIGN_NOT_EDITABLE,
    CAMPAIGN_PAUSABLE,
    CAMPAIGN_STATUSES,
    campaign_labels,
    campaign_status,
    coerce,
    coerce_paths,
    email_campaign_status,
    merged,
    to_int,
    to_str_id,
)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"status": "scheduled", "effective_status": "scheduled"}, "scheduled"),
        ({"status": "active", "effective_status": "active"}, "active"),  # seed 000
        ({"status": "active"}, "active"),
        ({"status": "active", "effective_status": "running"}, "running"),
        ({"status": "active", "effective_status": "paused"}, "paused"),
        ({"status": "active", "effective_status": "whatever"}, "active"),
        ({"status": "scheduled", "effective_status": "running"}, "scheduled"),  # only active
        ({"status": "manual", "send_strategy": "manual"}, "manual"),
        ({"status": "archived"}, "archived"),
        ({"status": None}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_campaign_status_reads_active_through_effective_status(
    obj: dict[str, Any], expected: str
) -> None:
    assert campaign_status(obj) == expected


def test_the_sets_follow_the_documented_rules_and_the_waiting_reading() -> None:
    assert {"running", "canceled", "sent", "needs_decision"} == CAMPAIGN_NOT_EDITABLE
    assert {"active", "manual"} <= set(CAMPAIGN_STATUSES)
    assert not {"active", "manual"} & CAMPAIGN_NOT_EDITABLE  # the deny list does not name them
    assert {"running", "scheduled", "active", "manual"} == CAMPAIGN_PAUSABLE
    assert CAMPAIGN_PAUSABLE | {"paused"} == CAMPAIGN_CANCELLABLE
    assert {"canceled", "sent", "needs_decision"} == CAMPAIGN_LOCKED
    assert CAMPAIGN_AFTER_RESUME == CAMPAIGN_PAUSABLE


# ------------------------------------------------------------------------------ the layers


def test_apply_settles_a_pause_on_the_effective_status(tmp_path: Path) -> None:
    """A server that keeps ``status: active`` and reports the pause as ``effective_status``."""

    class CoarseHood(FakeHood):
        def pause_campaign(self, campaign_id: str, reason: str | None = None) -> None:
            self._record("pause_campaign", campaign_id)
            self.campaigns[campaign_id]["effective_status"] = "paused"

    hood = CoarseHood()
    hood.campaigns["5"] = {"id": "5", "status": "active", "effective_status": "running"}
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    plan = Plan(
        account=ACCOUNT,
        changes=(
            change(
                "live",
                "pause",
                (Step("pause", "5"), Step("patch", "5", {"name": "x"})),
                remote_id="5",
            ),
        ),
    )
    report = run(tmp_path, plan, hood, clock=lambda: now[0], sleep=sleep, settle_timeout=5.0)
    (result,) = report.results
    assert result.outcome is Outcome.APPLIED, result.detail
    assert now[0] == 0.0  # seen as paused on the first re-read
    assert ("patch_campaign", "5") in hood.calls


def test_lost_resume_answer_of_a_campaign_paused_from_active_counts_as_done(
    make_emulator: Callable[..., Any],
) -> None:
    emulator = make_emulator(**FAST)
    hood = client_for(emulator)
    campaign = hood.create_campaign(campaign_body("a"), key="a")
    emulator.store.set_campaign_status(campaign["id"], "active")
    hood.pause_campaign(campaign["id"])
    first = threading.Event()

    def lose_first_resume(request: httpx.Request) -> bool:
        if request.url.path.endswith("/resume") and not first.is_set():
            first.set()
            return True
        return False

    lossy = client_for(emulator, transport=LoseAnswers(lose_first_resume))
    lossy.resume_campaign(campaign["id"])  # 503 (but resumed), retry → 400, re-read → active
    assert hood.get_campaign(campaign["id"])["status"] == "active"


def test_ids_and_integers_are_converted_one_way_for_clients_and_kinds() -> None:
    assert to_int("3600") == 3600 and to_int("-1") == -1 and to_int(3600.0) == 3600
    assert to_int("36a") == "36a" and to_int(True) is True and to_int("٣") == "٣"
    assert to_str_id(1057) == "1057" and to_str_id(1057.0) == "1057"
    assert to_str_id(True) is True and to_str_id(None) is None
    data: dict[str, Any] = {"m": [{"p": "3"}, {"p": 4}, {}], "q": {"from": "2"}}
    coerce(data, ("m", "*", "p"), to_int)
    coerce(data, ("q", "from"), to_int)
    coerce(data, ("missing", "x"), to_int)
    assert data == {"m": [{"p": 3}, {"p": 4}, {}], "q": {"from": 2}}
    campaign: dict[str, Any] = {
        "id": 7,
        "creator": {"id": 9},
        "ab_test": {"test_split": "30"},
        "messages": [{"id": 1, "priority": "2"}],
    }
    coerce_paths(campaign, CAMPAIGN_ID_PATHS, CAMPAIGN_INT_PATHS)
    assert campaign == {
        "id": "7",
        "creator": {"id": "9"},
        "ab_test": {"test_split": 30},
        "messages": [{"id": "1", "priority": 2}],
    }
    assert campaign_labels("a, b,,c ") == ["a", "b", "c"] and campaign_labels(None) == []


def test_an_email_campaign_whose_state_is_not_shown_reads_unknown() -> None:
    on = {"draft_data": {"send_data": {"event_triggered_send": {"enabled": True}}}}
    assert email_campaign_status(on) == "active"
    assert email_campaign_status({"campaign_sends": [{"status": "paused"}]}) == "stopped"
    assert email_campaign_status({}) == "unknown"


def test_is_object_id_takes_only_non_blank_strings_and_integers() -> None:
    from hoodsync.wire import is_object_id

    assert all(is_object_id(v) for v in ["1057", "3c90c3cc-0d44", 0, 1057, -1])
    assert not any(is_object_id(v) for v in [None, True, False, "", "  ", 1.5, 1e300, 7.0, {}, []])


def test_a_patch_merges_as_a_json_merge_patch() -> None:
    """RFC 7386: ``null`` removes a key, objects merge, anything else replaces; neither side
    is changed."""
    body = {"scheduled_time": "2036-01-01 10:00:00", "metadata": {"a": 1, "b": 2}, "labels": [1]}
    patch = {"scheduled_time": None, "metadata": {"b": None, "c": 3}, "labels": [2], "x": {"y": 1}}
    assert merged(body, patch) == {"metadata": {"a": 1, "c": 3}, "labels": [2], "x": {"y": 1}}
    assert body["scheduled_time"] == "2036-01-01 10:00:00" and body["metadata"] == {"a": 1, "b": 2}
