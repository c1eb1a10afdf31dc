"""apply_plan's own contract, with a small in-memory fake of the clients' interface, plus a few
runs through the real clients against the emulator where the point is what the API answers.

(End-to-end applies through the CLI live in tests/test_cli_apply.py.)
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import socket
import stat
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EmulatorHandle, FakeClock
from test_cli_apply import remote_campaigns, titled_campaign
from test_cli_plan import Account, cli, make_account, write
from test_hood_client import LateCommitServer, campaign_body, late_client
from test_recovery import AheadClock

from hoodsync import engine
from hoodsync.apply import ApplyReport, Clients, Outcome, Result, apply_plan
from hoodsync.errors import ApiError, PlanError, StalePlanError
from hoodsync.hooks import NoHooks
from hoodsync.identity import ValueKey
from hoodsync.journal import Journal
from hoodsync.model import Kind
from hoodsync.plan import (
    AccountInfo,
    Change,
    Flag,
    Note,
    Plan,
    RemoteRef,
    SensitiveValue,
    Step,
    sort_changes,
)
from hoodsync.recovery import read_leftovers
from hoodsync.remote.falconyte import FalconyteClient, email_campaign_enabled
from hoodsync.remote.hood import HoodClient
from hoodsync.remote.ratelimit import RateLimiter
from hoodsync.remote.transport import ApiTransport, RetryPolicy, Secret

TEMPLATE = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


class FakeHood:
    """Campaigns and push tasks in a dict; records every call; can be told to fail."""

    #: Creates whose outcome was unknown (a fake create always knows).
    unknown_outcomes = 0

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.campaigns: dict[str, dict[str, Any]] = {}
        self.fail: dict[tuple[str, str | None], ApiError] = {}
        self.bodies: list[Mapping[str, Any]] = []
        self._next = 1000
        self._lock = threading.Lock()

    def _record(self, op: str, ident: str | None) -> None:
        with self._lock:
            self.calls.append((op, ident))
        err = self.fail.get((op, ident))
        if err is not None:
            raise err

    def create_campaign(
        self,
        body: Mapping[str, Any],
        *,
        key: str | None,
        on_resend: Any = None,
        stopping: Any = None,
        stop_elapsed: Any = None,
    ) -> dict[str, Any]:
        self._record("create_campaign", key)
        self.bodies.append(body)
        with self._lock:
            self._next += 1
            ident = str(self._next)
        self.campaigns[ident] = {"id": ident, "status": "scheduled", **body}
        return self.campaigns[ident]

    def get_campaign(self, campaign_id: str) -> dict[str, Any]:
        self._record("get_campaign", campaign_id)
        return self.campaigns[campaign_id]

    def patch_campaign(self, campaign_id: str, patch: Mapping[str, Any]) -> None:
        self._record("patch_campaign", campaign_id)
        self.bodies.append(patch)
        self.campaigns[campaign_id].update(patch)

    def pause_campaign(self, campaign_id: str, reason: str | None = None) -> None:
        self._record("pause_campaign", campaign_id)
        self.campaigns[campaign_id]["status"] = "paused"

    def resume_campaign(self, campaign_id: str, body: Mapping[str, Any] | None = None) -> None:
        self._record("resume_campaign", campaign_id)
        self.campaigns[campaign_id]["status"] = "running"

    def cancel_campaign(self, campaign_id: str, reason: str | None = None) -> None:
        self._record("cancel_campaign", campaign_id)
        self.campaigns[campaign_id]["status"] = "canceled"

    def create_push_task(
        self,
        body: Mapping[str, Any],
        on_resend: Any = None,
        stopping: Any = None,
        stop_elapsed: Any = None,
    ) -> dict[str, Any]:
        self._record("create_push_task", str(body.get("name")))
        return {"id": "77", **body}

    def patch_push_task(self, task_id: str, patch: Mapping[str, Any]) -> None:
        self._record("patch_push_task", task_id)

    def list_campaigns(self) -> list[dict[str, Any]]:
        self._record("list_campaigns", None)
        return list(self.campaigns.values())

    def list_push_tasks(self) -> list[dict[str, Any]]:
        self._record("list_push_tasks", None)
        return []

    def within_stop(self, stop_elapsed: Any) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


ACCOUNT = AccountInfo(name="default", url="http://sandbox.localhost/v1/hood", sandbox=True)
KEY = ValueKey(b"k" * 32)


def change(
    key: str,
    action: str,
    steps: tuple[Step, ...],
    *,
    order: int = 0,
    remote_id: str | None = None,
    kind: Kind = Kind.CAMPAIGN,
    **extra: Any,
) -> Change:
    return Change(
        address=f"{kind.slug}.{key}",
        kind=kind,
        key=key,
        action=action,
        description=f"will be {action}d",
        remote_id=remote_id,
        steps=steps,
        order=order,
        **extra,
    )


def run(tmp_path: Path, plan: Plan, hood: FakeHood, **kw: Any) -> Any:
    journal = Journal.create(tmp_path / "journal")
    kw.setdefault("sleep", lambda s: None)
    try:
        return apply_plan(plan, Clients(hood=hood), journal=journal, **kw)
    finally:
        journal.close()


def test_steps_in_order_and_ids_flow_from_create(tmp_path: Path) -> None:
    hood = FakeHood()
    plan = Plan(
        account=ACCOUNT,
        changes=(change("a", "create", (Step("create", body={"name": "A"}), Step("pause"))),),
    )
    report = run(tmp_path, plan, hood)
    assert report.ok and report.results[0].remote_id == "1001"
    # The pause is asynchronous: re-read until it shows, before the change is reported done.
    assert hood.calls == [
        ("create_campaign", "a"),
        ("pause_campaign", "1001"),
        ("get_campaign", "1001"),
    ]


def test_live_edit_waits_for_pause_then_patches_then_resumes_and_waits_for_that(
    tmp_path: Path,
) -> None:
    hood = FakeHood()
    hood.campaigns["5"] = {"id": "5", "status": "running"}
    plan = Plan(
        account=ACCOUNT,
        changes=(
            change(
                "live",
                "update",
                (Step("pause", "5"), Step("patch", "5", {"labels": ["x"]}), Step("resume", "5")),
                remote_id="5",
                flags=("live_edit",),
            ),
        ),
    )
    report = run(tmp_path, plan, hood)
    assert report.ok
    assert hood.calls == [
        ("pause_campaign", "5"),
        ("get_campaign", "5"),
        ("patch_campaign", "5"),
        ("resume_campaign", "5"),
        ("get_campaign", "5"),
    ]


def test_failed_edit_of_live_campaign_is_resumed_and_reported(tmp_path: Path) -> None:
    hood = FakeHood()
    hood.campaigns["5"] = {"id": "5", "status": "running"}
    hood.fail[("patch_campaign", "5")] = ApiError(
        400, title="Bad request.", message="nope", trace_id="t-1"
    )
    plan = Plan(
        account=ACCOUNT,
        changes=(
            change(
                "live",
                "update",
                (Step("pause", "5"), Step("patch", "5", {"name": "x"}), Step("resume", "5")),
                remote_id="5",
                flags=("live_edit",),
            ),
        ),
    )
    report = run(tmp_path, plan, hood)
    [result] = report.results
    assert result.outcome is Outcome.FAILED
    assert "patch failed (after 1 of its steps succeeded)" in result.detail
    assert "trace_id t-1" in result.detail
    # The resume is waited for, as any status change, before the change is reported.
    assert hood.calls[-2:] == [("resume_campaign", "5"), ("get_campaign", "5")]
    assert hood.campaigns["5"]["status"] == "running"


def test_independent_changes_go_on_later_waves_are_not_attempted(tmp_path: Path) -> None:
    hood = FakeHood()
    for ident in ("1", "2", "3"):
        hood.campaigns[ident] = {"id": ident, "status": "scheduled"}
    hood.fail[("patch_campaign", "1")] = ApiError(500, title="Internal server error.")
    plan = Plan(
        account=ACCOUNT,
        changes=(
            change("a", "update", (Step("patch", "1", {"name": "A"}),), remote_id="1"),
            change("b", "update", (Step("patch", "2", {"name": "B"}),), remote_id="2"),
            change("c", "update", (Step("patch", "3", {"name": "C"}),), remote_id="3", order=1),
        ),
    )
    report = run(tmp_path, plan, hood)
    outcomes = {r.address: r.outcome for r in report.results}
    assert outcomes == {
        "campaign.a": Outcome.FAILED,
        "campaign.b": Outcome.APPLIED,
        "campaign.c": Outcome.NOT_ATTEMPTED,
    }
    assert ("patch_campaign", "3") not in hood.calls
    assert not report.ok


def test_a_create_the_client_sends_again_is_journaled_before_it_goes(tmp_path: Path) -> None:
    """A later run waits for a late commit from the last time a create was sent: each new send
    of an unanswered create is a journal line, written before it goes."""

    class ResendingHood(FakeHood):
        def create_campaign(
            self,
            body: Mapping[str, Any],
            *,
            key: str | None,
            on_resend: Any = None,
            stopping: Any = None,
            stop_elapsed: Any = None,
        ) -> dict[str, Any]:
            on_resend(2)  # the first send's outcome was unknown and it never showed
            self.journal_at_resend = self.journal_path.read_text()
            return super().create_campaign(body, key=key, on_resend=on_resend)

    hood = ResendingHood()
    journal = Journal.create(tmp_path / "journal")
    hood.journal_path = journal.path
    plan = Plan(account=ACCOUNT, changes=(change("a", "create", (Step("create", body={}),)),))
    try:
        report = apply_plan(plan, Clients(hood=hood), journal=journal, sleep=lambda s: None)
    finally:
        journal.close()
    assert report.ok
    lines = [json.loads(x) for x in report.journal_path.read_text().splitlines()]
    assert [(x["event"], x.get("send")) for x in lines] == [
        ("start", None),
        ("intent", None),
        ("resend", 2),
        ("result", None),
        ("end", None),
    ]
    assert '"event": "resend"' in hood.journal_at_resend


def test_journal_records_intent_and_result_without_bodies(tmp_path: Path) -> None:
    hood = FakeHood()
    plan = Plan(
        account=ACCOUNT,
        changes=(
            change(
                "a",
                "create",
                (Step("create", body={"name": "A", "secret": "${env:TOK}"}),),
                sensitive=(SensitiveValue("secret", "${env:TOK}", KEY.check("test")),),
            ),
        ),
    )
    report = run(tmp_path, plan, hood, env={"TOK": "test"}, value_key=KEY)
    lines = [json.loads(x) for x in report.journal_path.read_text().splitlines()]
    events = [(x["event"], x.get("op"), x.get("status")) for x in lines]
    assert events == [
        ("start", None, None),
        ("intent", "create", None),
        ("result", "create", "ok"),
        ("end", None, None),
    ]
    assert "test" not in report.journal_path.read_text().replace('"ts"', "")
    assert hood.bodies[0]["secret"] == "test"  # the client, and only the client, got the value


def test_changed_secret_refuses_before_any_write(tmp_path: Path) -> None:
    hood = FakeHood()
    plan = Plan(
        account=ACCOUNT,
        changes=(
            change(
                "a",
                "create",
                (Step("create", body={"name": "${env:TOK}"}),),
                sensitive=(SensitiveValue("name", "${env:TOK}", KEY.check("test")),),
            ),
        ),
    )
    with pytest.raises(StalePlanError):
        run(tmp_path, plan, hood, env={"TOK": "other"}, value_key=KEY)
    assert hood.calls == []


def test_plan_with_errors_is_refused(tmp_path: Path) -> None:
    hood = FakeHood()
    plan = Plan(
        account=ACCOUNT,
        changes=(change("a", "note", (), notes=(Note("error", "cannot edit a sent campaign"),)),),
    )
    with pytest.raises(PlanError):
        run(tmp_path, plan, hood)
    assert hood.calls == []


def test_the_hooks_see_every_change_as_it_finishes(tmp_path: Path) -> None:
    hood = FakeHood()
    plan = Plan(
        account=ACCOUNT,
        changes=tuple(
            change(f"c{i}", "create", (Step("create", body={"name": f"C{i}"}),)) for i in range(7)
        ),
    )
    seen: list[tuple[str, int, int]] = []

    class Hooks:
        def change_finished(self, account: str, result: Any, done: int, total: int) -> None:
            assert account == ACCOUNT.name
            seen.append((result.address, done, total))

    run(tmp_path, plan, hood, parallelism=3, hooks=Hooks())
    assert sorted(a for a, _, _ in seen) == [f"campaign.c{i}" for i in range(7)]
    assert [n for _, n, _ in seen] == list(range(1, 8)) and {t for _, _, t in seen} == {7}


def test_a_slow_change_does_not_hold_back_the_report_of_those_done_after_it(
    tmp_path: Path,
) -> None:
    """Progress is reported in the order changes finish, not in plan order."""
    release = threading.Event()

    class SlowFirst(FakeHood):
        def create_campaign(
            self,
            body: Mapping[str, Any],
            *,
            key: str | None,
            on_resend: Any = None,
            stopping: Any = None,
            stop_elapsed: Any = None,
        ) -> dict[str, Any]:
            if body["name"] == "A":
                assert release.wait(5.0), "the others were never reported"
            return super().create_campaign(body, key=key)

    order: list[str] = []

    class Hooks:
        def change_finished(self, account: str, result: Any, done: int, total: int) -> None:
            order.append(result.address)
            if len(order) == 3:
                release.set()  # only now may the first change finish

    plan = Plan(
        account=ACCOUNT,
        changes=tuple(
            change(k, "create", (Step("create", body={"name": k.upper()}),)) for k in "abcd"
        ),
    )
    report = run(tmp_path, plan, SlowFirst(), parallelism=4, hooks=Hooks())
    assert order[-1] == "campaign.a" and sorted(order) == [f"campaign.{k}" for k in "abcd"]
    assert [r.address for r in report.results] == [f"campaign.{k}" for k in "abcd"]


# ------------------------------------------------------------------ replace, settle, real APIs


class FakeFalconyte:
    """Email campaigns in a dict; creates record the ids they were told to exclude."""

    unknown_outcomes = 0

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.campaigns: dict[str, dict[str, Any]] = {}
        self.excluded: list[list[str]] = []

    def list_campaigns(self) -> list[dict[str, Any]]:
        return list(self.campaigns.values())

    def within_stop(self, stop_elapsed: Any) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def create_campaign(
        self,
        body: Mapping[str, Any],
        *,
        exclude_ids: Any = (),
        on_resend: Any = None,
        stopping: Any = None,
        stop_elapsed: Any = None,
    ) -> dict[str, Any]:
        self.calls.append(("create", None))
        self.excluded.append(list(exclude_ids))
        ident = f"new-{len(self.campaigns)}"
        self.campaigns[ident] = {"id": ident, "name": body["name"], "enabled": True}
        return self.campaigns[ident]

    def _set(self, campaign_id: str, on: bool) -> None:
        self.calls.append(("start" if on else "stop", campaign_id))
        self.campaigns[campaign_id]["draft_data"] = {
            "send_data": {"event_triggered_send": {"enabled": on}}
        }

    def start_campaign(self, campaign_id: str) -> None:
        self._set(campaign_id, True)

    def stop_campaign(self, campaign_id: str) -> None:
        self._set(campaign_id, False)


def test_replace_reports_the_new_id_and_creates_excluding_older_namesakes(tmp_path: Path) -> None:
    falc = FakeFalconyte()
    falc.campaigns["old"] = {"id": "old", "name": "W"}
    falc.campaigns["older"] = {"id": "older", "name": "W"}
    plan = Plan(
        account=ACCOUNT,
        changes=(
            change(
                "w",
                "replace",
                (Step("create", body={"name": "W"}), Step("stop"), Step("stop", "old")),
                kind=Kind.EMAIL_CAMPAIGN,
                remote_id="old",
            ),
        ),
        superseded=(
            RemoteRef(Kind.EMAIL_CAMPAIGN, "older", "W", "stopped", address="email_campaign.w"),
        ),
    )
    journal = Journal.create(tmp_path / "journal", label="acct")
    try:
        report = apply_plan(
            plan, Clients(hood=None, falconyte=falc), journal=journal, sleep=lambda s: None
        )
    finally:
        journal.close()
    [result] = report.results
    assert result.outcome is Outcome.APPLIED
    assert result.remote_id == "new-2"  # the campaign the create made, not the one stopped last
    assert falc.calls == [("create", None), ("stop", "new-2"), ("stop", "old")]
    assert falc.excluded == [["old", "older"]]
    assert report.journal_path is not None and report.journal_path.name.endswith("-acct.jsonl")
    intents = [json.loads(x) for x in report.journal_path.read_text().splitlines()]
    assert [(x["op"], x["id"]) for x in intents if x["event"] == "intent"] == [
        ("create", None),
        ("stop", "new-2"),
        ("stop", "old"),
    ]


def test_a_state_that_never_shows_fails_that_change_only(tmp_path: Path) -> None:
    class StuckHood(FakeHood):
        def pause_campaign(self, campaign_id: str, reason: str | None = None) -> None:
            self._record("pause_campaign", campaign_id)  # accepted, never takes effect

    hood = StuckHood()
    hood.campaigns["5"] = {"id": "5", "status": "running"}
    hood.campaigns["6"] = {"id": "6", "status": "scheduled"}
    clock = FakeClock(0.0)
    plan = Plan(
        account=ACCOUNT,
        changes=(
            change(
                "live",
                "update",
                (Step("pause", "5"), Step("patch", "5", {"name": "x"}), Step("resume", "5")),
                remote_id="5",
                flags=("live_edit",),
            ),
            change("other", "update", (Step("patch", "6", {"name": "y"}),), remote_id="6"),
        ),
    )
    report = run(tmp_path, plan, hood, clock=clock, sleep=clock.sleep, settle_timeout=5.0)
    by = {r.address: r for r in report.results}
    assert by["campaign.other"].outcome is Outcome.APPLIED
    failed = by["campaign.live"]
    assert failed.outcome is Outcome.FAILED
    assert "patch failed (after 1 of its steps succeeded)" in failed.detail
    assert "still 'running' after 5 s; expected paused" in failed.detail
    assert ("patch_campaign", "5") not in hood.calls


@pytest.mark.parametrize(
    ("fails", "error", "left_paused"),
    [
        # The resume after the failed edit fails too: the campaign is paused.
        (
            ("patch_campaign", "resume_campaign"),
            ApiError(500, title="Internal server error."),
            True,
        ),
        # The pause's answer was lost (a 5xx after retries): it may have paused the campaign.
        (("pause_campaign",), ApiError(503, title="Unavailable."), True),
        # The API refused the pause: nothing was paused, nothing to say.
        (("pause_campaign",), ApiError(400, title="Bad request.", message="not running"), False),
    ],
)
def test_a_live_edit_that_may_leave_the_campaign_paused_says_so_in_the_table_and_journal(
    tmp_path: Path, fails: tuple[str, ...], error: ApiError, left_paused: bool
) -> None:
    hood = FakeHood()
    hood.campaigns["5"] = {"id": "5", "status": "running"}
    for op in fails:
        hood.fail[(op, "5")] = error
    report = run(tmp_path, paused_edits("a", live=True), hood)
    [result] = report.results
    assert result.outcome is Outcome.FAILED
    said = "the campaign, running before, may be left paused; apply again to resume it"
    assert result.detail.endswith(said) is left_paused, result.detail
    end = journal_lines(report)[-1]
    assert end["may_be_left_paused"] == (["campaign.a"] if left_paused else [])
    intent = journal_lines(report)[1]
    assert (intent["op"], intent["of"], intent["live_edit"]) == ("pause", 3, True)


class FirstEmailCreateFails(httpx.BaseTransport):
    """The real emulator behind a real transport, except that the first email-campaign create
    is answered 500 without reaching it (the emulator's fail_rate cannot single one out)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.failed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (
            request.method == "POST"
            and request.url.path.endswith("/email/campaigns")
            and not self.failed
        ):
            self.failed = True
            return httpx.Response(
                500,
                json={"ok": False, "error": {"code": "INTERNAL_SERVER_ERROR", "message": "boom"}},
            )
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_replacement_create_that_did_not_happen_is_sent_again_not_confused_with_the_old(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    body = {
        "name": "W",
        "template_ids": [TEMPLATE],
        "mail_account_ids": [TEMPLATE],
        "events": ["contact.saved"],
    }
    with emulator.falconyte_client() as http:
        old = http.post("/email/campaigns", json=body).json()["campaign"]["id"]
    transport = ApiTransport(
        emulator.falconyte_url,
        Secret(emulator.falconyte_key),
        api="falconyte",
        transport=FirstEmailCreateFails(),
        sleep=lambda s: None,
    )
    falc = FalconyteClient(transport)
    plan = Plan(
        account=ACCOUNT,
        changes=(
            change(
                "w",
                "replace",
                (Step("create", body={**body, "events": ["sale.created"]}), Step("stop", old)),
                kind=Kind.EMAIL_CAMPAIGN,
                remote_id=old,
            ),
        ),
    )
    journal = Journal.create(tmp_path / "journal")
    try:
        report = apply_plan(plan, Clients(hood=None, falconyte=falc), journal=journal)
    finally:
        journal.close()
        transport.close()
    [result] = report.results
    assert result.outcome is Outcome.APPLIED, result.detail
    with ApiTransport(
        emulator.falconyte_url, Secret(emulator.falconyte_key), api="falconyte"
    ) as reader:
        campaigns = {c["id"]: c for c in FalconyteClient(reader).list_campaigns()}
    assert len(campaigns) == 2 and result.remote_id in campaigns and result.remote_id != old
    assert email_campaign_enabled(campaigns[result.remote_id]) is True
    assert email_campaign_enabled(campaigns[old]) is False


def test_api_failure_detail_carries_the_message_and_trace_id(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    from hoodsync.cli.views import result_table

    transport = ApiTransport(emulator.hood_url, Secret(emulator.hood_token), api="hood")
    plan = Plan(
        account=ACCOUNT,
        changes=(
            change("gone", "update", (Step("patch", "999999", {"name": "x"}),), remote_id="999999"),
        ),
    )
    journal = Journal.create(tmp_path / "journal")
    try:
        report = apply_plan(plan, Clients(hood=HoodClient(transport)), journal=journal)
    finally:
        journal.close()
        transport.close()
    [result] = report.results
    assert result.outcome is Outcome.FAILED
    assert "HTTP 400 Bad request. Specified campaign does not exist." in result.detail
    assert re.search(r"\(trace_id [0-9a-f-]{36}\)", result.detail)
    table = result_table(report)
    assert re.search(
        r"^campaign\.gone\s+update\s+failed\s+patch failed: update campaign "
        r"999999: HTTP 400 .*trace_id",
        table,
        re.M,
    )
    assert "Apply finished with failures: 0 applied, 1 failed, 0 not attempted." in table


def test_credential_variable_in_a_hand_edited_plan_is_refused_before_any_write(
    tmp_path: Path,
) -> None:
    from hoodsync.errors import DefinitionError

    hood = FakeHood()
    plan = Plan(
        account=ACCOUNT,
        changes=(change("a", "create", (Step("create", body={"name": "${env:HOOD_API_TOKEN}"}),)),),
    )
    with pytest.raises(DefinitionError):
        run(
            tmp_path,
            plan,
            hood,
            env={"HOOD_API_TOKEN": "s3cret"},
            forbidden_env=frozenset({"HOOD_API_TOKEN"}),
        )
    assert hood.calls == []


# ------------------------------------------------------------------------------ duplicates


def create_plan(*keys: str) -> Plan:
    return Plan(
        account=ACCOUNT,
        changes=tuple(change(k, "create", (Step("create", body=campaign_body(k)),)) for k in keys),
    )


def test_a_create_committed_late_is_applied_once_and_checked_for_duplicates(
    tmp_path: Path,
) -> None:
    server = LateCommitServer(FakeClock(), lag=33.0, timeout=30.0)
    hood = late_client(server, policy=RetryPolicy(timeout=30.0))
    report = run(tmp_path, create_plan("late"), hood)  # type: ignore[arg-type]
    assert report.ok and report.duplicates == [] and report.duplicate_check_error is None
    assert server.posts == 1 and len(server.settled()) == 1


def closed_port() -> int:
    """A loopback port nothing listens on (bound for a moment, then released): connecting to
    it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("stopping", [False, True])
def test_a_create_that_never_reached_the_server_is_not_waited_for_by_the_next_plan(
    tmp_path: Path, stopping: bool
) -> None:
    """Every connection refused (a real closed loopback port): the transport knows the create
    was never sent, so its journal line says ``not_done`` and the next plan does not wait a
    settle window for it — also when the apply was stopping (Ctrl-C) meanwhile, which would
    otherwise leave its outcome "unknown"."""
    clock = FakeClock(1000.0)
    stop = threading.Event()
    api = ApiTransport(
        f"http://127.0.0.1:{closed_port()}/v1/hood",
        Secret("tok"),
        limiter=RateLimiter(1000, 100_000, clock=clock, sleep=clock.sleep),
        clock=clock,
        sleep=clock.sleep,
        policy=RetryPolicy(max_attempts=3),
        on_request=(lambda record: stop.set()) if stopping else None,
    )
    folder = tmp_path / "journal"
    journal = Journal.create(folder, label="default")
    try:
        report = apply_plan(
            create_plan("a"), Clients(hood=HoodClient(api)), journal=journal, stop=stop
        )
    finally:
        journal.close()
        api.close()
    [result] = report.results
    assert result.outcome is Outcome.FAILED and "could not connect" in result.detail
    [line] = [
        x for x in map(json.loads, journal.path.read_text().splitlines()) if x["event"] == "result"
    ]
    assert line["not_done"] is True
    found = read_leftovers(folder, "default", None, 60.0, alive=lambda pid: False)
    assert found.error is None and found.unanswered == ()


def test_a_duplicate_the_final_listing_finds_is_reported_and_fails_the_apply(
    tmp_path: Path,
) -> None:
    """A server slower than the settle window: the create is sent again and both go through.
    Nothing can stop that afterwards, but it is never silent."""
    from hoodsync.cli.views import result_table

    server = LateCommitServer(FakeClock(), lag=100.0, timeout=30.0)
    hood = late_client(server, policy=RetryPolicy(timeout=30.0, settle_window=20.0))
    report = run(
        tmp_path,
        create_plan("slow", "fine"),
        hood,  # type: ignore[arg-type]
        parallelism=1,
    )  # one fake clock: keep the timeline deterministic
    ids = tuple(c["id"] for c in server.campaigns if c["metadata"]["hoodsync_key"] == "slow")
    assert len(ids) == 2
    assert [(d.address, d.ids) for d in report.duplicates] == [("campaign.slow", ids)]
    assert not report.ok
    table = result_table(report)
    assert f"DUPLICATE campaign.slow: 2 objects carry its identity (ids {', '.join(ids)})" in table
    assert "created more than once" in table
    end = json.loads(report.journal_path.read_text().splitlines()[-1])
    assert end["event"] == "end" and end["duplicates"] == ["campaign.slow"]


class TwiceCreatingHood(FakeHood):
    """A create whose outcome was unknown and that went through twice: the listing then holds
    two push tasks of the name that was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[dict[str, Any]] = []

    def create_push_task(
        self,
        body: Mapping[str, Any],
        on_resend: Any = None,
        stopping: Any = None,
        stop_elapsed: Any = None,
    ) -> dict[str, Any]:
        self._record("create_push_task", None)
        self.unknown_outcomes += 1
        self.tasks += [{**body, "id": "77", "status": 1}, {**body, "id": "78", "status": 1}]
        return self.tasks[0]

    def list_push_tasks(self) -> list[dict[str, Any]]:
        self._record("list_push_tasks", None)
        return list(self.tasks)


def test_a_duplicate_is_found_by_the_name_sent_not_the_masked_one_plans_show(
    tmp_path: Path,
) -> None:
    """A push task's name interpolates a secret: the plan shows it masked, the server holds it
    resolved. The final listing for duplicates compares the name that was sent."""
    hood = TwiceCreatingHood()
    create = Step("create", body={"name": "Task ${env:PROMO}", "frequency": 86400})
    plan = Plan(
        account=ACCOUNT,
        changes=(
            change(
                "t",
                "create",
                (create,),
                kind=Kind.PUSH_TASK,
                name="Task (sensitive ${env:PROMO}, fp 1a2b)",
            ),
        ),
    )
    report = run(tmp_path, plan, hood, env={"PROMO": "X9"})
    assert [(d.address, d.ids) for d in report.duplicates] == [("push_task.t", ("77", "78"))]
    assert not report.ok


def test_without_an_unknown_outcome_there_is_no_final_listing(tmp_path: Path) -> None:
    hood = FakeHood()
    report = run(tmp_path, create_plan("a", "b"), hood)
    assert report.ok and [op for op, _ in hood.calls] == ["create_campaign"] * 2


# ------------------------------------------------------------------------------ journal durability


class WatchedDisk:
    """Stands in for :func:`os.fsync` (and does it): what the journal file held each time it
    was synced, and how often a folder was."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.synced: list[list[dict[str, Any]]] = []
        self.folders = 0

    def __call__(self, fd: int) -> None:
        os.fsync(fd)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            self.folders += 1
        else:
            self.synced.append([json.loads(x) for x in self.path.read_text().splitlines()])


class SeesTheDisk(FakeHood):
    """Records, with every call, the last journal line that was on disk when it was made."""

    def __init__(self, disk: WatchedDisk) -> None:
        super().__init__()
        self.disk = disk
        self.on_disk: list[tuple[str, dict[str, Any] | None]] = []

    def _record(self, op: str, ident: str | None) -> None:
        last = self.disk.synced[-1][-1] if self.disk.synced else None
        self.on_disk.append((op, last))
        super()._record(op, ident)


def test_an_intent_is_synced_to_the_disk_before_its_request_is_sent(tmp_path: Path) -> None:
    """Write-ahead across a machine going down, not only a killed process: every mutation's
    intent line is fsynced before its request goes (the folder once, for the new file's
    name); result lines are flushed, not synced (losing one leaves the intent open: recovery
    reads that as "may have been sent")."""
    path = tmp_path / "journal" / "j.jsonl"
    disk = WatchedDisk(path)
    hood = SeesTheDisk(disk)
    hood.campaigns["5"] = {"id": "5", "status": "running"}
    plan = Plan(
        account=ACCOUNT,
        changes=(
            change("a", "create", (Step("create", body={"name": "A"}), Step("pause"))),
            change(
                "live",
                "update",
                (Step("pause", "5"), Step("patch", "5", {"labels": ["x"]}), Step("resume", "5")),
                remote_id="5",
                flags=("live_edit",),
            ),
        ),
    )
    journal = Journal(path, sync=disk)
    try:
        report = apply_plan(
            plan, Clients(hood=hood), journal=journal, sleep=lambda s: None, parallelism=1
        )  # type: ignore[arg-type]
    finally:
        journal.close()
    assert report.ok
    writes = [(op, last) for op, last in hood.on_disk if op != "get_campaign"]
    assert [op for op, _ in writes] == [
        "create_campaign",
        "pause_campaign",
        "pause_campaign",
        "patch_campaign",
        "resume_campaign",
    ]
    for op, last in writes:  # the last line on disk is this call's intent
        assert last is not None and (last["event"], last["op"]) == ("intent", op.split("_")[0])
    assert all(lines[-1]["event"] == "intent" for lines in disk.synced)
    assert len(disk.synced) == 5 and disk.folders == 1


def test_a_create_is_not_sent_again_when_its_resend_line_cannot_be_written(
    tmp_path: Path,
) -> None:
    """The settle window of a create counts from its last send, which the ``resend`` line
    records: a send whose line is not on disk does not go."""

    class ResendsOnce(FakeHood):
        def create_campaign(self, body: Mapping[str, Any], **kw: Any) -> dict[str, Any]:
            kw["on_resend"](2)  # the first send's answer was lost, and it did not show
            return super().create_campaign(body, **kw)

    hood = ResendsOnce()
    # Room for "start" and the create's intent: the resend line does not fit.
    journal = Journal(tmp_path / "j.jsonl", file=FillsUp(2))
    report = apply_plan(create_plan("a"), Clients(hood=hood), journal=journal, sleep=lambda s: None)  # type: ignore[arg-type]
    journal.close()
    assert hood.calls == []
    [result] = report.results
    assert result.outcome is Outcome.FAILED and "not sent again: the journal" in result.detail


# ------------------------------------------------------------------------------ journal failures


class FillsUp(io.StringIO):
    """A journal file with room for ``lines`` more lines; after that every write fails the way
    a full disk does."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.room = lines

    def write(self, text: str) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= 1
        return super().write(text)


def test_a_journal_that_fills_up_stops_new_work_resumes_the_paused_and_still_reports(
    tmp_path: Path,
) -> None:
    from hoodsync.cli.views import result_table

    hood = FakeHood()
    hood.campaigns["5"] = {"id": "5", "status": "running"}
    hood.campaigns["6"] = {"id": "6", "status": "scheduled"}
    plan = Plan(
        account=ACCOUNT,
        changes=(
            change(
                "live",
                "update",
                (Step("pause", "5"), Step("patch", "5", {"labels": ["x"]}), Step("resume", "5")),
                remote_id="5",
                flags=("live_edit",),
            ),
            change("later", "update", (Step("patch", "6", {"name": "L"}),), remote_id="6", order=1),
        ),
    )
    # Room for "start", the pause's intent and its result: the patch's intent does not fit.
    journal = Journal(tmp_path / "j.jsonl", file=FillsUp(3))
    report = apply_plan(
        plan, Clients(hood=hood), journal=journal, sleep=lambda s: None, parallelism=1
    )  # type: ignore[arg-type]
    journal.close()  # does not raise again
    assert ("patch_campaign", "5") not in hood.calls  # write-ahead: no intent, no request
    assert ("resume_campaign", "5") in hood.calls  # the compensation still ran
    assert hood.campaigns["5"]["status"] == "running"
    assert ("patch_campaign", "6") not in hood.calls  # no new work started
    by = {r.address: r for r in report.results}
    assert by["campaign.live"].outcome is Outcome.FAILED
    assert "patch not sent (after 1 of its steps succeeded)" in by["campaign.live"].detail
    assert by["campaign.later"].outcome is Outcome.NOT_ATTEMPTED
    assert "No space left on device" in (report.journal_error or "")
    assert not report.ok
    table = result_table(report)
    assert "campaign.live" in table and "campaign.later" in table
    assert "(incomplete: it could not be written: No space left on device" in table


def test_a_journal_full_from_the_start_sends_nothing(tmp_path: Path) -> None:
    hood = FakeHood()
    journal = Journal(tmp_path / "j.jsonl", file=FillsUp(0))
    report = apply_plan(
        create_plan("a"),
        Clients(hood=hood),  # type: ignore[arg-type]
        journal=journal,
        sleep=lambda s: None,
    )
    assert hood.calls == []
    assert [r.outcome for r in report.results] == [Outcome.NOT_ATTEMPTED]
    assert "the journal could not be written" in report.results[0].detail


# ------------------------------------------------------------------------------ Ctrl-C: stop, stop at once


class StopsDuring(FakeHood):
    """A fake whose ``op`` call, the first time, sets ``stop`` (and with ``at_once`` also
    ``abort``: Ctrl-C twice) while the call is in flight. With ``at_once`` the call then waits
    for ``release`` (bounded), so the test sees apply_plan return while it is still on the
    wire; ``returned`` is set once it has."""

    def __init__(self, op: str, stop: threading.Event, abort: threading.Event | None = None):
        super().__init__()
        self.op, self.stop, self.abort = op, stop, abort
        self.release, self.returned = threading.Event(), threading.Event()

    def _record(self, op: str, ident: str | None) -> None:
        super()._record(op, ident)
        if op != self.op or self.stop.is_set():
            return
        self.stop.set()
        if self.abort is not None:
            self.abort.set()
            try:
                assert self.release.wait(10), "the test never released the call in flight"
            finally:
                self.returned.set()


def paused_edits(*keys: str, live: bool = False) -> Plan:
    """One two- (or, ``live``, three-) step edit per key, in key order: patch → resume of a
    paused campaign, or pause → patch → resume of a running one."""
    changes = []
    for i, key in enumerate(keys):
        rid = str(5 + i)
        steps = (Step("patch", rid, {"name": key.upper()}), Step("resume", rid))
        if live:
            steps = (Step("pause", rid), *steps)
        changes.append(
            change(
                key,
                "update" if live else "resume",
                steps,
                remote_id=rid,
                flags=("live_edit",) if live else (),
            )
        )
    return Plan(account=ACCOUNT, changes=tuple(changes))


def journal_lines(report: Any) -> list[dict[str, Any]]:
    return [json.loads(x) for x in report.journal_path.read_text().splitlines()]


def intents(lines: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    return [
        (x["address"], x["op"], bool(x.get("compensating")))
        for x in lines
        if x["event"] == "intent"
    ]


def test_a_stop_during_a_step_lets_that_change_finish_and_starts_no_other(
    tmp_path: Path,
) -> None:
    """Ctrl-C while a change's first step is on the wire: that change runs to its end (its
    steps are one sequence), and the change behind it never starts."""
    from hoodsync.cli.views import result_table

    stop = threading.Event()
    hood = StopsDuring("patch_campaign", stop)
    for rid in ("5", "6"):
        hood.campaigns[rid] = {"id": rid, "status": "paused"}
    report = run(tmp_path, paused_edits("a", "b"), hood, stop=stop, parallelism=1)
    assert [c for c in hood.calls if c[0] != "get_campaign"] == [
        ("patch_campaign", "5"),
        ("resume_campaign", "5"),
    ]
    lines = journal_lines(report)
    assert intents(lines) == [("campaign.a", "patch", False), ("campaign.a", "resume", False)]
    a, b = report.results
    assert (a.outcome, a.steps_done, a.steps_total) == (Outcome.APPLIED, 2, 2)
    assert (b.outcome, b.detail) == (Outcome.NOT_ATTEMPTED, "interrupted")
    assert report.interrupted and not report.stopped_at_once and not report.ok
    assert lines[-1]["event"] == "end"
    assert (lines[-1]["interrupted"], lines[-1]["not_attempted"]) == (0, 1)
    table = result_table(report)
    assert "Apply interrupted (Ctrl-C): 1 applied, 0 failed, 1 not attempted." in table


@pytest.mark.parametrize("during", ["pause_campaign", "patch_campaign"])
def test_a_stop_during_a_live_edit_finishes_it_and_never_leaves_the_campaign_paused(
    tmp_path: Path, during: str
) -> None:
    stop = threading.Event()
    hood = StopsDuring(during, stop)
    hood.campaigns["5"] = {"id": "5", "status": "running"}
    report = run(tmp_path, paused_edits("a", live=True), hood, stop=stop)
    assert [op for op, _ in hood.calls if op != "get_campaign"] == [
        "pause_campaign",
        "patch_campaign",
        "resume_campaign",
    ]
    assert hood.campaigns["5"]["status"] == "running"
    assert report.results[0].outcome is Outcome.APPLIED


def test_a_second_stop_returns_at_once_with_the_call_in_flight_unknown(tmp_path: Path) -> None:
    """Ctrl-C twice while a step is on the wire: apply returns without waiting for it, the
    journal gives that call an ``unknown`` result and ends; the call's thread, once answered,
    writes and sends nothing more."""
    from hoodsync.cli.views import result_table

    stop, abort = threading.Event(), threading.Event()
    hood = StopsDuring("patch_campaign", stop, abort)
    for rid in ("5", "6"):
        hood.campaigns[rid] = {"id": rid, "status": "paused"}
    try:
        report = run(tmp_path, paused_edits("a", "b"), hood, stop=stop, abort=abort, parallelism=1)
        assert not hood.returned.is_set()  # returned while the patch was still in flight
    finally:
        hood.release.set()
    lines = journal_lines(report)
    assert [(x["event"], x.get("op"), x.get("status")) for x in lines] == [
        ("start", None, None),
        ("intent", "patch", None),
        ("interrupted", None, None),
        ("result", "patch", "unknown"),
        ("skipped", None, None),
        ("end", None, None),
    ]
    assert lines[-1]["at_once"] is True and lines[-1]["interrupted"] == 1
    a, b = report.results
    assert a.outcome is Outcome.INTERRUPTED and a.steps_done == 0
    assert a.detail == "patch was in flight: its outcome is unknown"
    assert (b.outcome, b.detail) == (Outcome.NOT_ATTEMPTED, "interrupted")
    assert report.stopped_at_once and not report.ok
    assert "Apply stopped at once (Ctrl-C twice): 0 applied, 0 failed, 1 interrupted" in (
        result_table(report)
    )

    assert hood.returned.wait(10)
    for thread in threading.enumerate():  # the thread left behind has ended by now
        if thread.name.startswith("apply-"):
            thread.join(10)
    assert journal_lines(report) == lines  # nothing written after the end
    assert hood.calls == [("patch_campaign", "5")]  # its resume was never sent


def test_a_second_stop_between_the_steps_of_a_live_edit_says_the_campaign_may_be_paused(
    tmp_path: Path,
) -> None:
    """Ctrl-C twice while apply waits for a pause to show (a read, not a mutation): nothing is
    in flight in the journal, and the result says the live campaign may be left paused."""
    stop, abort = threading.Event(), threading.Event()
    hood = StopsDuring("get_campaign", stop, abort)
    hood.campaigns["5"] = {"id": "5", "status": "running"}
    try:
        report = run(tmp_path, paused_edits("a", live=True), hood, stop=stop, abort=abort)
    finally:
        hood.release.set()
    (a,) = report.results
    assert (a.outcome, a.steps_done) == (Outcome.INTERRUPTED, 1)
    assert a.detail == (
        "stopped at once after 1 of its 3 steps; the campaign, running before, may be left "
        "paused; apply again to resume it"
    )
    assert [x["event"] for x in journal_lines(report)][-2:] == ["interrupted", "end"]
    assert journal_lines(report)[-1]["may_be_left_paused"] == ["campaign.a"]
    assert hood.returned.wait(10)
    assert ("resume_campaign", "5") not in hood.calls


class NotingJournal(Journal):
    """Runs ``hook`` right after the first stop's ``interrupted`` line is written: a second
    Ctrl-C arriving while the first one is being noted."""

    def __init__(self, path: Path, hook: Any) -> None:
        super().__init__(path)
        self.hook = hook

    def write(self, event: str, **fields: Any) -> None:
        super().write(event, **fields)
        if event == "interrupted" and not fields.get("at_once"):
            self.hook()


class AnsweredLate(FakeHood):
    """Its patch sets ``stop`` (a first Ctrl-C) and is answered once ``release`` is set."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop, self.release, self.answered = stop, threading.Event(), threading.Event()

    def patch_campaign(self, campaign_id: str, patch: Mapping[str, Any]) -> None:
        self.stop.set()
        assert self.release.wait(10)
        super().patch_campaign(campaign_id, patch)
        self.answered.set()


def test_a_second_stop_while_the_first_is_noted_still_ends_with_the_table(
    tmp_path: Path,
) -> None:
    """The call in flight is answered and its thread sees the stop at once before the waiting
    thread looks again: the change is still reported (from the journal) and the journal ends,
    instead of the thread's exception escaping the apply (whose repr would have shown the
    environment, secrets included)."""
    stop, abort = threading.Event(), threading.Event()
    hood = AnsweredLate(stop)
    hood.campaigns["5"] = {"id": "5", "status": "paused"}

    def second_ctrl_c() -> None:
        abort.set()
        hood.release.set()
        assert hood.answered.wait(10)
        threading.Event().wait(0.2)  # its thread, answered, now meets the stop at once

    journal = NotingJournal(tmp_path / "j.jsonl", second_ctrl_c)
    plan = Plan(
        account=ACCOUNT,
        changes=(change("a", "update", (Step("patch", "5", {"name": "A"}),), remote_id="5"),),
    )
    try:
        report = apply_plan(
            plan,
            Clients(hood=hood),
            journal=journal,
            stop=stop,
            abort=abort,
            env={"PROMO": "s3cret"},
            sleep=lambda s: None,
        )
    finally:
        journal.close()
    events = [json.loads(x)["event"] for x in (tmp_path / "j.jsonl").read_text().splitlines()]
    assert events[-1] == "end" and report.stopped_at_once
    assert [r.address for r in report.results] == ["campaign.a"]


class GatedHood(FakeHood):
    """Campaign 5's patch is answered once campaign 6's live edit has started."""

    def __init__(self) -> None:
        super().__init__()
        self.paused = threading.Event()

    def pause_campaign(self, campaign_id: str, reason: str | None = None) -> None:
        super().pause_campaign(campaign_id, reason)
        self.paused.set()

    def patch_campaign(self, campaign_id: str, patch: Mapping[str, Any]) -> None:
        if campaign_id == "5":
            assert self.paused.wait(10)
        super().patch_campaign(campaign_id, patch)


class SlowLiveEdit(GatedHood):
    """Campaign 5's patch fails in a way apply does not expect (a bug, not an API error), once
    campaign 6's live edit has started; campaign 6's patch is still on the wire then."""

    def patch_campaign(self, campaign_id: str, patch: Mapping[str, Any]) -> None:
        if campaign_id == "5":
            assert self.paused.wait(10)
            self._record("patch_campaign", campaign_id)
            raise KeyError("a bug")
        threading.Event().wait(0.3)  # still on the wire when the error reaches apply
        super().patch_campaign(campaign_id, patch)


def two_changes_one_live() -> Plan:
    return Plan(
        account=ACCOUNT,
        changes=(
            change("a", "update", (Step("patch", "5", {"name": "A"}),), remote_id="5"),
            change(
                "b",
                "update",
                (Step("pause", "6"), Step("patch", "6", {"name": "B"}), Step("resume", "6")),
                remote_id="6",
                flags=("live_edit",),
            ),
        ),
    )


def test_an_unexpected_error_lets_the_started_changes_finish_before_it_is_raised(
    tmp_path: Path,
) -> None:
    hood = SlowLiveEdit()
    hood.campaigns["5"] = {"id": "5", "status": "paused"}
    hood.campaigns["6"] = {"id": "6", "status": "running"}
    with pytest.raises(KeyError):
        run(tmp_path, two_changes_one_live(), hood, parallelism=2)
    # By the time apply_plan raised, the live edit had run to its end: never left paused.
    assert [c for c in hood.calls if c[1] == "6" and c[0] != "get_campaign"] == [
        ("pause_campaign", "6"),
        ("patch_campaign", "6"),
        ("resume_campaign", "6"),
    ]
    assert hood.campaigns["6"]["status"] == "running"


class BrokenProgress:
    """A view whose progress lines cannot be written (stderr a closed pipe)."""

    def change_finished(self, account: str, result: Any, done: int, total: int) -> None:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def test_a_progress_line_that_cannot_be_written_stops_new_changes_not_started_ones(
    tmp_path: Path,
) -> None:
    hood = GatedHood()
    hood.campaigns["5"] = {"id": "5", "status": "paused"}
    hood.campaigns["6"] = {"id": "6", "status": "running"}
    hood.campaigns["7"] = {"id": "7", "status": "paused"}
    plan = Plan(
        account=ACCOUNT,
        changes=(
            *two_changes_one_live().changes,
            change("c", "update", (Step("patch", "7", {"name": "C"}),), remote_id="7", order=1),
        ),
    )
    report = run(tmp_path, plan, hood, parallelism=2, hooks=BrokenProgress())
    outcomes = {r.address: r.outcome for r in report.results}
    assert outcomes["campaign.a"] is Outcome.APPLIED and outcomes["campaign.b"] is Outcome.APPLIED
    assert outcomes["campaign.c"] is Outcome.NOT_ATTEMPTED  # the next wave never starts
    assert hood.campaigns["6"]["status"] == "running"
    lines = report.journal_path.read_text().splitlines()
    assert json.loads(lines[-1])["event"] == "end"


class HeldLiveEdit(GatedHood):
    """Campaign 5's patch fails unexpectedly once campaign 6's live edit has started, and a
    second Ctrl-C follows shortly; campaign 6's patch is held until ``release``."""

    def __init__(self, abort: threading.Event) -> None:
        super().__init__()
        self.abort, self.release, self.returned = abort, threading.Event(), threading.Event()

    def patch_campaign(self, campaign_id: str, patch: Mapping[str, Any]) -> None:
        if campaign_id == "5":
            assert self.paused.wait(10)
            threading.Timer(0.1, self.abort.set).start()
            raise KeyError("a bug")
        try:
            assert self.release.wait(10)
            super().patch_campaign(campaign_id, patch)
        finally:
            self.returned.set()


def test_a_stop_at_once_ends_the_wait_that_follows_an_unexpected_error(tmp_path: Path) -> None:
    abort = threading.Event()
    hood = HeldLiveEdit(abort)
    hood.campaigns["5"] = {"id": "5", "status": "paused"}
    hood.campaigns["6"] = {"id": "6", "status": "running"}
    try:
        with pytest.raises(KeyError):
            run(tmp_path, two_changes_one_live(), hood, parallelism=2, abort=abort)
        assert not hood.returned.is_set()  # not waited for: its call is still held
    finally:
        hood.release.set()
    assert hood.returned.wait(10)


# ------------------------------------------------------------------ after a failure


def test_after_a_failure_nothing_that_cannot_be_taken_back_starts(tmp_path: Path) -> None:
    """A key rename run with --prune is a create and a cancel of the old campaign: when the API
    refuses the create, the cancel must not go, or nothing is left. Once any change has
    failed, no removal and no immediate send starts: each is "not attempted", naming the
    failure, and journaled as skipped — nothing the next run has to finish or wait for, so
    its plan simply plans them again. Reversible changes of the wave go on."""
    hood = FakeHood()
    for ident, status in (
        ("1", "scheduled"),
        ("2", "scheduled"),
        ("3", "paused"),
        ("4", "scheduled"),
    ):
        hood.campaigns[ident] = {"id": ident, "status": status}
    hood.fail[("create_campaign", "renamed")] = ApiError(
        400, title="Bad request.", message="scheduled_time must be a date-time", trace_id="t-9"
    )
    plan = Plan(
        account=ACCOUNT,
        changes=sort_changes(
            [
                change("renamed", "create", (Step("create", body={"name": "Sale"}),)),
                change("edited", "update", (Step("patch", "2", {"name": "E"}),), remote_id="2"),
                change("paused", "pause", (Step("pause", "4"),), remote_id="4"),
                change(
                    "sends",
                    "resume",
                    (Step("resume", "3", {"run_immediately": True}),),
                    remote_id="3",
                    flags=(Flag.SENDS_IMMEDIATELY,),
                ),
                change(
                    "old",
                    "cancel",
                    (Step("cancel", "1", {"reason": "hoodsync: pruned (no definition)"}),),
                    remote_id="1",
                    flags=(Flag.IRREVERSIBLE, Flag.REMOVAL),
                ),
            ]
        ),
    )
    folder = tmp_path / "journal"
    journal = Journal.create(folder, label="default")
    try:
        report = apply_plan(plan, Clients(hood=hood), journal=journal, sleep=lambda s: None)
    finally:
        journal.close()

    by = {r.address: r for r in report.results}
    assert {a: r.outcome for a, r in by.items()} == {
        "campaign.renamed": Outcome.FAILED,
        "campaign.edited": Outcome.APPLIED,
        "campaign.paused": Outcome.APPLIED,
        "campaign.sends": Outcome.NOT_ATTEMPTED,
        "campaign.old": Outcome.NOT_ATTEMPTED,
    }
    failed = "held back: campaign.renamed failed earlier in this apply"
    assert by["campaign.old"].detail == f"{failed}, and this cancel cannot be taken back"
    assert by["campaign.sends"].detail == f"{failed}, and this immediate send cannot be taken back"
    assert not report.ok
    assert ("cancel_campaign", "1") not in hood.calls
    assert ("resume_campaign", "3") not in hood.calls
    assert hood.campaigns["1"]["status"] == "scheduled"

    lines = journal_lines(report)
    skipped = {x["address"]: x["reason"] for x in lines if x["event"] == "skipped"}
    assert skipped == {"campaign.old": by["campaign.old"].detail, "campaign.sends": ANY_HELD}
    assert not any(x.get("address") in skipped for x in lines if x["event"] == "intent")
    assert (lines[-1]["event"], lines[-1]["failed"], lines[-1]["not_attempted"]) == ("end", 1, 2)
    # Read back, the journal leaves nothing of the held changes to wait for or to finish (the
    # failed create is the one change it calls unfinished): the next plan plans them afresh.
    left = read_leftovers(folder, "default", None, 60.0)
    assert (left.error, left.unanswered, list(left.unfinished)) == (None, (), ["campaign.renamed"])


class _Held:
    """Any skipped reason that says a change was held back after a failure."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith("held back: ")


ANY_HELD: Any = _Held()


@pytest.mark.parametrize("flags", [(), (Flag.REMOVAL,)])
def test_a_removal_that_fails_holds_back_the_removals_not_yet_started(
    tmp_path: Path, flags: tuple[Flag, ...]
) -> None:
    """Deactivating push tasks (the removal phase, flagged or not): one is refused, and the next
    one is not sent."""
    hood = FakeHood()
    hood.fail[("patch_push_task", "71")] = ApiError(500, title="Internal server error.")
    plan = Plan(
        account=ACCOUNT,
        changes=tuple(
            change(
                key,
                "deactivate",
                (Step("patch", rid, {"status": 0}),),
                remote_id=rid,
                kind=Kind.PUSH_TASK,
                flags=flags,
            )
            for key, rid in (("a", "71"), ("b", "72"))
        ),
    )
    report = run(tmp_path, plan, hood, parallelism=1)
    first, second = report.results
    assert first.outcome is Outcome.FAILED and first.detail.startswith("patch failed: HTTP 500")
    assert second.outcome is Outcome.NOT_ATTEMPTED
    assert second.detail.startswith("held back: push_task.a failed earlier in this apply")
    assert second.detail.endswith("this deactivation cannot be taken back")
    assert ("patch_push_task", "72") not in hood.calls


# ------------------------------------------------------------------ status changes that show late


def apply_with_server_time(acc: Account, server_time: AheadClock) -> ApplyReport:
    """The account's plan applied through the real clients, every wait of apply on a fake
    clock that moves the server's clock as much (nothing really sleeps)."""
    prep = engine.prepare((), (), (), NoHooks())
    [planned] = engine.make_plans(prep, None, False, None)
    clock = FakeClock(0.0)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        server_time.advance(seconds)

    journal = Journal.create(acc.root / ".hoodsync" / "journal", label="default")
    try:
        return apply_plan(
            planned.plan,
            Clients(hood=planned.session.hood),
            journal=journal,
            clock=clock,
            sleep=sleep,
        )
    finally:
        journal.close()
        planned.session.close()


def test_a_status_change_shows_before_apply_ends_so_a_plan_right_after_sends_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Hood takes pause, resume and cancel asynchronously (its docs: the change "will be
    automatically synchronized"): 204 at once, the new status seconds later. Apply waits for
    each to show before it reports the change applied, so a plan right after (a CI re-run, the
    next merge) has nothing to do — instead of taking the old status for drift and sending
    the same action again, which the API refuses."""
    server_time = AheadClock()
    acc = make_account(
        "emulator", tmp_path, monkeypatch, make_emulator, async_delay_s=4, clock=server_time
    )
    for state, status in (("paused", "paused"), ("active", "scheduled"), ("canceled", "canceled")):
        write(acc.root, "c/x.yaml", titled_campaign("x", "X", state=state))
        report = apply_with_server_time(acc, server_time)
        assert report.ok, report.results
        assert remote_campaigns(acc) == [("Campaign x", status, "X")]
        code, out, err = cli(capsys, "plan")
        assert code == 0 and "No changes." in out, (state, out, err)


class NeverShows(FakeHood):
    """Accepts cancels and resumes that never take effect."""

    def cancel_campaign(self, campaign_id: str, reason: str | None = None) -> None:
        self._record("cancel_campaign", campaign_id)

    def resume_campaign(self, campaign_id: str, body: Mapping[str, Any] | None = None) -> None:
        self._record("resume_campaign", campaign_id)


def test_a_last_status_change_that_never_shows_fails_its_change_within_the_bound(
    tmp_path: Path,
) -> None:
    hood = NeverShows()
    hood.campaigns["5"] = {"id": "5", "status": "scheduled"}
    hood.campaigns["6"] = {"id": "6", "status": "scheduled"}
    clock = FakeClock(0.0)
    plan = Plan(
        account=ACCOUNT,
        changes=(
            change("other", "update", (Step("patch", "6", {"name": "y"}),), remote_id="6"),
            change("gone", "cancel", (Step("cancel", "5"),), remote_id="5"),
        ),
    )
    report = run(tmp_path, plan, hood, clock=clock, sleep=clock.sleep, settle_timeout=5.0)
    other, gone = report.results
    assert other.outcome is Outcome.APPLIED
    assert gone.outcome is Outcome.FAILED
    assert gone.detail == (
        "cancel was accepted but did not show: cancel 5: still 'scheduled' after 5 s; "
        "expected canceled"
    )
    assert 5.0 <= clock() < 8.0  # bounded: no sleep of more than 2 s past the bound
    settle = [x for x in journal_lines(report) if x["event"] == "settle"]
    assert [(x["address"], x["op"], x["status"]) for x in settle] == [
        ("campaign.gone", "cancel", "failed")
    ]


def test_a_stop_at_once_ends_the_wait_for_a_status_to_show(tmp_path: Path) -> None:
    """Waiting for a resume to show, a second Ctrl-C (``abort``) returns at once."""
    hood = NeverShows()
    hood.campaigns["5"] = {"id": "5", "status": "paused"}
    clock = FakeClock(0.0)
    abort = threading.Event()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        abort.set()

    plan = Plan(
        account=ACCOUNT,
        changes=(change("x", "resume", (Step("resume", "5"),), remote_id="5"),),
    )
    report = run(tmp_path, plan, hood, clock=clock, sleep=sleep, abort=abort)
    assert report.stopped_at_once
    assert clock() < 1.0
    assert hood.calls.count(("get_campaign", "5")) == 1


def test_a_campaign_resumed_to_send_that_finished_before_the_re_read_is_not_waited_for(
    tmp_path: Path,
) -> None:
    """Resumed to send at once, a small campaign may be sent by the time apply looks: that
    shows the resume happened (no wait until the bound, no failure)."""

    class SendsAtOnce(FakeHood):
        def resume_campaign(self, campaign_id: str, body: Mapping[str, Any] | None = None) -> None:
            self._record("resume_campaign", campaign_id)
            self.campaigns[campaign_id]["status"] = "sent"

    hood = SendsAtOnce()
    hood.campaigns["5"] = {"id": "5", "status": "paused"}
    clock = FakeClock(0.0)
    plan = Plan(
        account=ACCOUNT,
        changes=(
            change(
                "x",
                "resume",
                (Step("resume", "5", {"run_immediately": True}),),
                remote_id="5",
                flags=(Flag.SENDS_IMMEDIATELY,),
            ),
        ),
    )
    report = run(tmp_path, plan, hood, clock=clock, sleep=clock.sleep)
    assert report.ok, report.results
    assert clock.sleeps == []


# ------------------------------------------------------------------ creates that get no answer


class UnansweredPosts(httpx.BaseTransport):
    """The real emulator behind a real transport, except that every POST of a push task is
    taken and never answered (a read timeout at once: no real wait), and ``on_post`` runs as
    it is taken; or, with ``refuse``, answered 400 (an ordinary API error)."""

    def __init__(
        self, on_post: Callable[[httpx.Request], None] = lambda r: None, *, refuse: bool = False
    ):
        self.inner = httpx.HTTPTransport()
        self.on_post = on_post
        self.refuse = refuse
        self.posts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/push-tasks"):
            self.posts += 1
            self.on_post(request)
            if self.refuse:
                return httpx.Response(400, json={"code": 400, "title": "Bad request."})
            raise httpx.ReadTimeout("timed out", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def push_creates(*keys: str) -> Plan:
    def steps(key: str) -> tuple[Step, ...]:
        return (Step("create", body={"name": f"T-{key}", "start_time": "2027-01-01 12:00:00"}),)

    return Plan(
        account=ACCOUNT,
        changes=tuple(change(k, "create", steps(k), kind=Kind.PUSH_TASK) for k in keys),
    )


def apply_unanswered(
    tmp_path: Path, emulator: EmulatorHandle, server: UnansweredPosts, plan: Plan, **kw: Any
) -> ApplyReport:
    transport = ApiTransport(
        emulator.hood_url,
        Secret(emulator.hood_token),
        transport=server,
        sleep=lambda s: None,
        policy=RetryPolicy(settle_window=0.0, max_attempts=3),
    )
    journal = Journal.create(tmp_path / "journal", label="default")
    try:
        return apply_plan(
            plan, Clients(hood=HoodClient(transport)), journal=journal, **{"parallelism": 1, **kw}
        )
    finally:
        journal.close()
        transport.close()


def test_after_two_creates_get_no_answer_no_new_create_starts(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    from hoodsync.cli.views import result_table

    server = UnansweredPosts()
    report = apply_unanswered(tmp_path, emulator, server, push_creates("a", "b", "c", "d"))
    outcomes = [r.outcome for r in report.results]
    assert outcomes == [Outcome.FAILED] * 2 + [Outcome.NOT_ATTEMPTED] * 2
    assert server.posts == 2 * 3  # every send of the first two, none of the others
    assert report.unanswered_creates == ("push_task.a", "push_task.b")
    assert report.held_creates == 2
    assert "push_task.a, push_task.b" in report.results[2].detail
    assert "Apply cut short (2 creates got no answer" in result_table(report)
    lines = journal_lines(report)
    skipped = [line["address"] for line in lines if line["event"] == "skipped"]
    assert skipped == ["push_task.c", "push_task.d"]
    # The next plan waits for the two unanswered creates and plans the other two afresh.
    left = read_leftovers(tmp_path / "journal", "default", None, 60.0)
    assert (left.error, left.unanswered) == (None, ("push_task.a", "push_task.b"))
    assert sorted(left.unfinished) == ["push_task.a", "push_task.b"]


def test_creates_the_api_refuses_do_not_hold_back_the_others(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    server = UnansweredPosts(refuse=True)
    report = apply_unanswered(tmp_path, emulator, server, push_creates("a", "b", "c"))
    assert [r.outcome for r in report.results] == [Outcome.FAILED] * 3
    assert (server.posts, report.unanswered_creates, report.held_creates) == (3, (), 0)


def test_a_stop_while_a_create_waits_for_its_answer_sends_it_no_more_and_journals_it_unknown(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    from hoodsync.cli.views import result_table

    stop = threading.Event()
    server = UnansweredPosts(lambda r: stop.set())  # a SIGTERM arrives while it is on the wire
    report = apply_unanswered(
        tmp_path, emulator, server, push_creates("a", "b"), stop=stop, unanswered_limit=5
    )
    first, second = report.results
    assert server.posts == 1
    assert first.outcome is Outcome.INTERRUPTED and "outcome is unknown" in first.detail
    assert second.outcome is Outcome.NOT_ATTEMPTED
    assert "Apply interrupted" in result_table(report)
    [result] = [line for line in journal_lines(report) if line["event"] == "result"]
    assert (result["address"], result["op"], result["status"]) == (
        "push_task.a",
        "create",
        "unknown",
    )
    left = read_leftovers(tmp_path / "journal", "default", None, 60.0)
    assert (left.error, left.unanswered) == (None, ("push_task.a",))


class NoteFinished(NoHooks):
    def __init__(self) -> None:
        self.finished: dict[str, threading.Event] = {}

    def change_finished(self, account: str, result: Result, done: int, total: int) -> None:
        self.finished.setdefault(result.address, threading.Event()).set()


def test_a_create_in_flight_when_the_limit_is_reached_is_not_sent_again(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    hooks = NoteFinished()
    a_done = hooks.finished.setdefault("push_task.a", threading.Event())
    sent: list[str] = []

    def on_post(request: httpx.Request) -> None:
        name = json.loads(request.content)["name"]
        sent.append(name)
        if name == "T-b":  # b's first send is answered (not) only after a got no answer at all
            assert a_done.wait(5)

    server = UnansweredPosts(on_post)
    report = apply_unanswered(
        tmp_path,
        emulator,
        server,
        push_creates("a", "b"),
        unanswered_limit=1,
        hooks=hooks,
        parallelism=2,
    )
    assert [r.outcome for r in report.results] == [Outcome.FAILED] * 2
    assert sent.count("T-a") == 3 and sent.count("T-b") == 1


# ------------------------------------------------------------------ a server that stops answering


class HungServer(httpx.BaseTransport):
    """The real emulator until the first POST of a push task; from then on the server answers
    nothing: every request (that POST included) takes ``read_timeout`` seconds of ``clock``
    and times out (no real wait). ``on_hang`` runs once, when it stops answering. Counts the
    requests sent after that, by method."""

    def __init__(
        self,
        clock: FakeClock,
        on_hang: Callable[[], None] = lambda: None,
        read_timeout: float = 30.0,
    ) -> None:
        self.inner = httpx.HTTPTransport()
        self.clock = clock
        self.on_hang = on_hang
        self.read_timeout = read_timeout
        self.hung_at: float | None = None
        self.after: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.hung_at is None and request.method == "POST":
            self.hung_at = self.clock()
            self.on_hang()
        if self.hung_at is None:
            return self.inner.handle_request(request)
        self.after.append(request.method)
        self.clock.advance(self.read_timeout)
        raise httpx.ReadTimeout("timed out", request=request)

    def close(self) -> None:
        self.inner.close()


def stop_while_hung(
    tmp_path: Path, emulator: EmulatorHandle, *, signal: bool
) -> tuple[ApplyReport, HungServer, FakeClock]:
    """Two push task creates, one at a time, against a server that stops answering when the
    first one is sent; with ``signal``, a SIGTERM arrives at that moment (and is noted by the
    apply before the POST times out). Default bounds: 60 s request deadline, 5 attempts."""
    clock = FakeClock()
    stop = threading.Event()
    journal = Journal.create(tmp_path / "journal", label="default")

    def stopped() -> None:
        if signal:
            stop.set()
            for _ in range(200):  # the apply notes a stop within 0.05 s
                if '"interrupted"' in journal.path.read_text():
                    return
                threading.Event().wait(0.025)
            raise AssertionError("the stop was never noted")

    server = HungServer(clock, stopped)
    transport = ApiTransport(
        emulator.hood_url,
        Secret(emulator.hood_token),
        transport=server,
        clock=clock,
        sleep=clock.sleep,
        policy=RetryPolicy(settle_window=60.0),
    )
    try:
        report = apply_plan(
            push_creates("a", "b"),
            Clients(hood=HoodClient(transport)),
            journal=journal,
            parallelism=1,
            stop=stop,
            clock=clock,
            sleep=clock.sleep,
        )
    finally:
        journal.close()
        transport.close()
    return report, server, clock


def test_a_stop_while_the_server_hangs_takes_at_most_one_request_deadline(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    """The create on the wire is waited for (30 s: its read timeout); the one look for it is
    one listing, sent once with what is left of the deadline (30 s); the final listing for
    duplicates finds the deadline spent and sends nothing. 60 s from the signal, not minutes:
    the outcome stays unknown in the journal, and the next plan waits for it."""
    from hoodsync.cli.views import result_table

    report, server, clock = stop_while_hung(tmp_path, emulator, signal=True)
    assert server.hung_at is not None
    assert clock() - server.hung_at <= 60.0
    assert server.after == ["POST", "GET"]  # the create, one look; nothing retried
    first, second = report.results
    assert first.outcome is Outcome.INTERRUPTED and "outcome is unknown" in first.detail
    assert second.outcome is Outcome.NOT_ATTEMPTED
    assert report.duplicate_check_error is not None
    assert "not sent: stopping" in report.duplicate_check_error
    assert "The final listing for duplicates failed" in result_table(report)
    [result] = [line for line in journal_lines(report) if line["event"] == "result"]
    assert (result["address"], result["status"]) == ("push_task.a", "unknown")
    left = read_leftovers(tmp_path / "journal", "default", None, 60.0)
    assert left.unanswered == ("push_task.a",)
