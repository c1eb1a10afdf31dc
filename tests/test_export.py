"""hoodsync.export: definitions for what exists remotely, proven by planning them.

The end-to-end tests apply examples/ to an in-memory sandbox through the real clients and apply
code, export, load the export with the real loader and validator, and plan it against the same
account: without markers only adopts (and after applying them, nothing), with markers nothing at
all. The other tests feed the export client-shaped dicts directly for the cases the examples do
not produce (duplicates, odd strings, values the schema refuses, finished and canceled objects).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from hoodsync.apply import Clients, apply_plan
from hoodsync.definitions.loader import load_text
from hoodsync.definitions.validate import load_definitions, validate_documents
from hoodsync.emulator.app import EmulatorConfig
from hoodsync.emulator.sandbox import SANDBOX_FALCONYTE_URL, SANDBOX_HOOD_URL, Sandbox, open_sandbox
from hoodsync.errors import ConfigError, HoodsyncError
from hoodsync.export import (
    ExportedFile,
    check_hint,
    dump_yaml,
    export_documents,
    is_definition,
    parse_kind,
    parse_kinds,
    slugify,
    unique_key,
    write_export,
)
from hoodsync.journal import Journal
from hoodsync.model import Definition, Kind
from hoodsync.plan import AccountInfo, Plan
from hoodsync.planner import make_plan
from hoodsync.remote.falconyte import FalconyteClient
from hoodsync.remote.hood import HoodClient
from hoodsync.remote.ratelimit import RateLimiter
from hoodsync.remote.transport import ApiTransport, Secret

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ACCOUNT = AccountInfo(
    "default", SANDBOX_HOOD_URL, sandbox=True, falconyte_url=SANDBOX_FALCONYTE_URL
)
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"

Remote = dict[Kind, list[dict[str, Any]]]


# --- helpers --------------------------------------------------------------------------------


def load_export(files: Sequence[ExportedFile], now: dt.datetime) -> list[Definition]:
    """Every file through the strict loader and the validator; zero problems required."""
    documents = []
    for f in files:
        loaded = load_text(f.text, f.path)
        assert loaded.problems == [], (f.path, [str(p) for p in loaded.problems])
        documents.extend(loaded.documents)
    definitions, problems = validate_documents(documents, now=now)
    assert problems == [], [str(p) for p in problems]
    return definitions


def by_path(files: Sequence[ExportedFile]) -> dict[str, str]:
    return {f.path: f.text for f in files}


def only_doc(text: str) -> dict[str, Any]:
    loaded = load_text(text, "x.yaml")
    assert loaded.problems == [] and len(loaded.documents) == 1
    data: dict[str, Any] = loaded.documents[0].data
    return data


def plan_of(
    files: Sequence[ExportedFile],
    remote: Mapping[Kind, Sequence[Mapping[str, Any]]],
    now: dt.datetime = NOW,
) -> Plan:
    return make_plan(load_export(files, now), remote, account=ACCOUNT)


def message(title: str = "Hi") -> dict[str, Any]:
    return {
        "id": "2600",
        "company_id": "6409977",
        "campaign_id": "1",
        "winner": 0,
        "name": "m",
        "channel": "push",
        "integration_id": "0",
        "primary_lang": "en",
        "push": {"title": {"en": title}, "landing_url": "https://example.com"},
    }


def campaign(
    ident: int, name: str, status: str = "scheduled", marker: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A campaign as HoodClient returns it (read-only fields included)."""
    meta: dict[str, Any] = dict(fields.pop("metadata", {}))
    if marker is not None:
        meta.update(hoodsync_key=marker, hoodsync_hash="0123456789abcdef")
    return {
        "id": str(ident),
        "company_id": "6409977",
        "creator_id": "1017382",
        "create_time": f"2026-05-01 10:00:{ident % 60:02d}",
        "update_time": "2026-05-01 10:00:00",
        "status": status,
        "effective_status": status,
        "send_strategy": "manual",
        "next_run_time": None,
        "run_counter": 0,
        "score": 0,
        "was_launched": False,
        "run_immediately": None,
        "name": name,
        "metadata": meta,
        "messages": [message()],
        "is_draft": status == "draft",
        **fields,
    }


def push_task(ident: int, name: str, status: int = 1, **fields: Any) -> dict[str, Any]:
    return {
        "id": str(ident),
        "name": name,
        "status": status,
        "create_time": "2026-05-01 10:00:00",
        "next_execution_time": None,
        "last_execution_time": None,
        "total_user": 17,
        "start_time": "2026-05-01 10:00:00",
        "end_time": None,
        "frequency": 3600,
        "cron": None,
        "custom_data": None,
        "quiet_time": None,
        "ttl": 3600,
        "user_time_zone": 0,
        "message": {"title": {"en": "Hello"}, "landing_url": "https://example.com/"},
        **fields,
    }


def email(ident: str, name: str, enabled: bool, created: str) -> dict[str, Any]:
    send = {
        "template_ids": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
        "mail_account_ids": ["8f14e45f-ceea-467f-a0e6-1b2d3c4d5e6f"],
        "event_triggered_send": {"enabled": enabled, "events": ["contact.saved"]},
        "click_tracking": True,
        "from_name": None,
    }
    return {
        "id": ident,
        "name": name,
        "created_at": created,
        "team_id": "t",
        "campaign_type": "event_triggered",
        "draft_data": {"send_data": send},
        "campaign_sends": [{"id": "s", "status": "active" if enabled else "stopped"}],
    }


# --- the sandbox account --------------------------------------------------------------------


class Account:
    """The sandbox seen through the real clients, applied to by the real apply code."""

    def __init__(self, sandbox: Sandbox, journal_dir: Path) -> None:
        def transport(url: str, secret: str, api: Any, inner: Any) -> ApiTransport:
            return ApiTransport(
                url, Secret(secret), api=api, transport=inner, limiter=RateLimiter(10_000, 100_000)
            )

        self.hood = HoodClient(
            transport(SANDBOX_HOOD_URL, sandbox.hood_token, "hood", sandbox.hood_transport)
        )
        self.falconyte = FalconyteClient(
            transport(
                SANDBOX_FALCONYTE_URL,
                sandbox.falconyte_key,
                "falconyte",
                sandbox.falconyte_transport,
            )
        )
        self.journal_dir = journal_dir

    def read(self) -> Remote:
        return {
            Kind.CAMPAIGN: self.hood.list_campaigns(),
            Kind.PUSH_TASK: self.hood.list_push_tasks(),
            Kind.EMAIL_CAMPAIGN: self.falconyte.list_campaigns(),
        }

    def plan(self, definitions: Sequence[Definition]) -> Plan:
        return make_plan(definitions, self.read(), account=ACCOUNT)

    def apply(self, plan: Plan) -> None:
        journal = Journal.create(self.journal_dir)
        try:
            report = apply_plan(
                plan,
                Clients(self.hood, self.falconyte),
                journal=journal,
                env={},
                sleep=lambda _s: None,
            )
        finally:
            journal.close()
        assert report.ok, [(r.address, r.detail) for r in report.results]

    def remove_markers(self) -> dict[str, str]:
        """Make every campaign look hand-made: merge-patch the markers away (a running campaign
        refuses edits, so it is paused around the patch, as hoodsync itself does). Returns the
        statuses, which must be what they were."""
        unmark = {"metadata": {"hoodsync_key": None, "hoodsync_hash": None}}
        for c in self.hood.list_campaigns():
            if c["status"] == "running":
                self.hood.pause_campaign(c["id"], "test: unmark")
                self.hood.patch_campaign(c["id"], unmark)
                self.hood.resume_campaign(c["id"], None)
            else:
                self.hood.patch_campaign(c["id"], unmark)
        return {c["name"]: c["status"] for c in self.hood.list_campaigns()}


@pytest.fixture
def account(tmp_path: Path) -> Iterator[Account]:
    sandbox = open_sandbox(
        ":memory:", config=EmulatorConfig(rate_burst=10_000, rate_minute=100_000)
    )
    try:
        yield Account(sandbox, tmp_path / "journal")
    finally:
        sandbox.close()


@pytest.fixture
def applied(account: Account) -> tuple[Account, list[Definition]]:
    """examples/ applied to an empty sandbox; the second plan is clean."""
    definitions = load_definitions([EXAMPLES])
    assert {d.kind for d in definitions} == set(Kind)
    account.apply(account.plan(definitions))
    assert account.plan(definitions).changes == ()
    return account, definitions


def now_utc() -> dt.datetime:
    # The sandbox runs on the real clock, so its start times are checked against it too.
    return dt.datetime.now(dt.UTC)


# --- end to end -----------------------------------------------------------------------------


def test_export_without_markers_plans_only_adopts_then_nothing(
    applied: tuple[Account, list[Definition]], tmp_path: Path
) -> None:
    account, examples = applied
    before = {c["name"]: c["status"] for c in account.hood.list_campaigns()}
    assert account.remove_markers() == before
    remote = account.read()
    assert not any(c.get("metadata", {}).get("hoodsync_key") for c in remote[Kind.CAMPAIGN])

    now = now_utc()
    files = export_documents(remote, now=now)
    assert len(files) == len(examples) == sum(len(v) for v in remote.values())
    written = write_export(files, tmp_path / "exported")
    assert len(written) == len(files)
    definitions = load_definitions([tmp_path / "exported"], now=now)  # the real path loader
    assert len(definitions) == len(files)
    assert all(re.match(KEY_PATTERN, d.key) for d in definitions)

    plan = account.plan(definitions)
    campaigns = [d for d in definitions if d.kind is Kind.CAMPAIGN]
    assert {c.address for c in plan.changes} == {d.address for d in campaigns}
    assert {c.action for c in plan.changes} == {"adopt"}
    assert all(c.diff == () for c in plan.changes), [(c.address, c.diff) for c in plan.changes]
    assert not plan.has_errors and plan.counts.unmanaged == 0
    assert plan.counts.unchanged == len(definitions) - len(campaigns)
    # The state each campaign is in is stated (paused) or the default (everything else).
    states = {d.spec["name"]: d.state for d in campaigns}
    assert states["Weekday Lunch Digest"] == "paused"
    assert {s for n, s in states.items() if n != "Weekday Lunch Digest"} == {None}

    account.apply(plan)
    again = account.plan(definitions)
    assert again.changes == () and again.counts.unchanged == len(definitions)


def test_export_with_markers_plans_clean_and_keeps_the_keys(
    applied: tuple[Account, list[Definition]],
) -> None:
    account, examples = applied
    remote = account.read()
    now = now_utc()
    files = export_documents(remote, now=now)
    definitions = load_export(files, now)
    plan = make_plan(definitions, remote, account=ACCOUNT)
    assert plan.changes == () and not plan.has_errors
    assert plan.counts.unchanged == len(examples) and plan.counts.unmanaged == 0
    exported = {d.address for d in definitions if d.kind is Kind.CAMPAIGN}
    assert exported == {d.address for d in examples if d.kind is Kind.CAMPAIGN}
    texts = by_path(files)
    assert "adopt" not in texts["campaigns/welcome-push.yaml"]
    # Server-owned and hoodsync-owned fields stay out; what the user wrote stays in.
    showcase = only_doc(texts["campaigns/car-brands-showcase.yaml"])["spec"]
    assert showcase["metadata"] == {"team": "automotive", "brief": "spring-showcase"}
    assert showcase["labels"] == ["cars", "bmw", "audi", "volkswagen"]
    assert showcase["deal_id"] == "1000251" and showcase["is_draft"] is True
    for key in ("id", "status", "create_time", "run_counter", "run_immediately", "score"):
        assert key not in showcase
    assert set(showcase["messages"][0]) == {
        "name",
        "channel",
        "integration_id",
        "primary_lang",
        "push",
    }
    welcome = only_doc(texts["email/welcome-flow.yaml"])
    assert "state" not in welcome and set(welcome["spec"]) == {
        "name",
        "template_ids",
        "mail_account_ids",
        "events",
    }
    assert only_doc(texts["email/sales-follow-up.yaml"])["state"] == "stopped"
    # A task that started (start time in the past) is written with the create-time value.
    intro = only_doc(texts["push-tasks/platform-introduction.yaml"])
    assert intro["state"] == "active" and intro["spec"]["start_time"] == "immediately"
    assert "status" not in intro["spec"] and "total_user" not in intro["spec"]
    hourly = only_doc(texts["push-tasks/hourly-headlines.yaml"])
    assert hourly["spec"]["start_time"] == "2036-01-01 12:00:00"
    assert hourly["spec"]["frequency"] == 3600  # a number, as the schema prefers


# --- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Headline A/B Test", "headline-a-b-test"),
        ("  Über Straße — Ærø! ", "uber-strasse-aero"),
        ("--Hello--World--", "hello-world"),
        ("v1.2_beta", "v1.2_beta"),
        ("...x...", "x"),
        ("Привет", ""),
        ("🎉", ""),
        ("a" * 80, "a" * 64),
        ("a" * 63 + " b", "a" * 63),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_unique_key_appends_a_counter_within_64_characters() -> None:
    assert unique_key("spring", set()) == "spring"
    assert unique_key("spring", {"spring"}) == "spring-2"
    assert unique_key("spring", {"spring", "spring-2"}) == "spring-3"
    long = "a" * 63 + "b"
    key = unique_key(long, {long})
    assert key == "a" * 62 + "-2" and len(key) == 64
    dotted = "x" * 61 + "..y"
    assert unique_key(dotted, {dotted}) == "x" * 61 + "-2"


def test_keys_are_deduplicated_markers_are_kept_and_the_plan_adopts() -> None:
    remote: Remote = {
        Kind.CAMPAIGN: [
            campaign(5, "Spring Sale!"),
            campaign(6, "spring sale"),
            campaign(7, "Spring-Sale"),
            campaign(
                8, "Anything", marker="spring-sale-2"
            ),  # its marker is its key, whatever its name
            campaign(9, "Весна"),
        ]
    }
    files = export_documents(remote, now=NOW)
    keys = {only_doc(t)["spec"]["name"]: only_doc(t)["key"] for t in by_path(files).values()}
    assert keys == {
        "Spring Sale!": "spring-sale",
        "spring sale": "spring-sale-3",  # -2 belongs to the marker
        "Spring-Sale": "spring-sale-4",
        "Anything": "spring-sale-2",
        "Весна": "campaign-9",
    }
    assert sorted(f.path for f in files) == [f.path for f in files]
    assert all(f.path == f"campaigns/{keys[only_doc(f.text)['spec']['name']]}.yaml" for f in files)
    plan = plan_of(files, remote)
    assert sorted((c.address, c.action) for c in plan.changes) == [
        ("campaign.campaign-9", "adopt"),
        ("campaign.spring-sale", "adopt"),
        ("campaign.spring-sale-3", "adopt"),
        ("campaign.spring-sale-4", "adopt"),
    ]
    assert all(c.diff == () for c in plan.changes)
    # Input order does not matter: same files, byte for byte.
    shuffled = list(remote[Kind.CAMPAIGN])
    random.Random(4).shuffle(shuffled)
    assert export_documents({Kind.CAMPAIGN: shuffled}, now=NOW) == files


def test_a_kept_campaign_is_exported_live_beside_its_retired_copies() -> None:
    """After --resolve-duplicates canceled the newer copy, export writes the one plan manages
    live (not commented out as a duplicate), and the plan of the export changes nothing; with
    --prune it still cancels nothing."""
    remote: Remote = {
        Kind.CAMPAIGN: [
            campaign(5, "Welcome", marker="welcome-push"),
            campaign(6, "Welcome", status="canceled", marker="welcome-push"),
            campaign(7, "Old", status="sent", marker="old"),
            campaign(8, "Old", status="canceled", marker="old"),
        ]
    }
    files = export_documents(remote, now=NOW)
    assert all(is_definition(f) for f in files)
    docs = [only_doc(f.text) for f in files]
    assert sorted((d["key"], d.get("state")) for d in docs) == [
        ("old", None),
        ("welcome-push", None),
    ]
    welcome = by_path(files)["campaigns/welcome-push.yaml"]
    assert "ids 6 (canceled)" in welcome and "this file manages id 5" in welcome
    for prune in (False, True):
        plan = make_plan(load_export(files, NOW), remote, account=ACCOUNT, prune=prune)
        assert [c for c in plan.changes if c.steps] == []


def test_two_live_copies_are_exported_commented_out_naming_only_the_live_ones() -> None:
    remote: Remote = {
        Kind.CAMPAIGN: [
            campaign(5, "Welcome", marker="welcome-push"),
            campaign(6, "Welcome", marker="welcome-push"),
            campaign(7, "Welcome", status="canceled", marker="welcome-push"),
        ]
    }
    files = export_documents(remote, now=NOW)
    assert not any(is_definition(f) for f in files)
    assert all("2 campaigns carry hoodsync_key=welcome-push (ids 5, 6)" in f.text for f in files)


def test_objects_plan_could_not_match_are_written_commented_out_with_the_reason() -> None:
    remote: Remote = {
        Kind.CAMPAIGN: [
            campaign(1, "Twin"),
            campaign(2, "Twin"),  # two unmarked, one name
            campaign(3, "Old news", status="sent"),  # unmarked, not editable
            campaign(4, "Bad marker", marker="Not A Key"),
            campaign(5, "Kept", status="canceled", marker="kept"),  # marked: fine as it is
            campaign(6, "Holiday", status="paused"),
        ],
        Kind.PUSH_TASK: [push_task(10, "Same"), push_task(11, "Same")],
        Kind.EMAIL_CAMPAIGN: [
            email("e1", "Live twice", True, "2026-01-01T00:00:00Z"),
            email("e2", "Live twice", True, "2026-02-01T00:00:00Z"),
        ],
    }
    files = export_documents(remote, now=NOW)
    texts = by_path(files)
    assert len(files) == 10
    commented = {f.path for f in files if not is_definition(f)}
    assert commented == {p for p, t in texts.items() if not load_text(t, p).documents}
    assert commented == {
        "campaigns/twin.yaml",
        "campaigns/twin-2.yaml",
        "campaigns/old-news.yaml",
        "campaigns/bad-marker.yaml",
        "push-tasks/same.yaml",
        "push-tasks/same-2.yaml",
        "email/live-twice.yaml",
        "email/live-twice-2.yaml",
    }
    assert "2 campaigns without a hoodsync marker are named" in texts["campaigns/twin.yaml"]
    assert "plan shows it as adopt" in texts["campaigns/holiday.yaml"]
    assert "plan shows it as adopt" not in texts["campaigns/twin.yaml"]
    assert "It is sent and carries no hoodsync marker" in texts["campaigns/old-news.yaml"]
    assert "not a valid key" in texts["campaigns/bad-marker.yaml"]
    assert "push tasks are matched by name" in texts["push-tasks/same.yaml"]
    assert "are not stopped: e1" in texts["email/live-twice.yaml"]
    # The commented-out body is the definition, ready to uncomment.
    lines = texts["campaigns/old-news.yaml"].splitlines()
    body = "\n".join(line[2:] for line in lines[lines.index("# kind: Campaign") :]) + "\n"
    assert only_doc(body)["spec"]["name"] == "Old news"
    assert only_doc(texts["campaigns/kept.yaml"])["state"] == "canceled"
    assert only_doc(texts["campaigns/holiday.yaml"])["state"] == "paused"
    plan = plan_of(files, remote)
    assert not plan.has_errors
    assert [(c.address, c.action) for c in plan.changes] == [("campaign.holiday", "adopt")]


def test_a_finished_namesake_does_not_make_a_live_campaign_ambiguous() -> None:
    """Plan adopts by name among campaigns that are not canceled or sent; so does export."""
    remote: Remote = {
        Kind.CAMPAIGN: [campaign(1, "Weekly", status="sent"), campaign(2, "Weekly")],
    }
    files = export_documents(remote, now=NOW)
    texts = by_path(files)
    [live] = [t for t in texts.values() if "plan shows it as adopt" in t]
    assert only_doc(live)["spec"]["name"] == "Weekly"
    [sent] = [t for t in texts.values() if "It is sent" in t]
    assert "plan would create a new campaign from this file" in sent
    plan = plan_of(files, remote)
    assert not plan.has_errors
    assert [(c.action, c.remote_id) for c in plan.changes] == [("adopt", "2")]


# --- states and fields --------------------------------------------------------------------------


def test_push_task_states_start_times_and_finished_tasks() -> None:
    remote: Remote = {
        Kind.PUSH_TASK: [
            push_task(1, "Running", status=1),
            push_task(2, "Off", status=0, start_time="2026-09-01 08:00:00"),
            push_task(3, "Done", status=2, end_time="2026-05-02 00:00:00"),
            push_task(4, "Odd", status=1, start_time=None, frequency="7200"),
        ]
    }
    files = export_documents(remote, now=NOW)
    docs = {only_doc(t)["spec"]["name"]: (only_doc(t), t) for t in by_path(files).values()}
    running, text = docs["Running"]
    assert running["state"] == "active" and running["spec"]["start_time"] == "immediately"
    assert '"2026-05-01 10:00:00" is in the past' in text
    assert docs["Off"][0]["state"] == "inactive"
    assert docs["Off"][0]["spec"]["start_time"] == "2026-09-01 08:00:00"
    done, text = docs["Done"]
    assert "state" not in done and "Finished (status 2)" in text
    # A finished task's end_time stays as it is: it plans clean, and a finished task is never
    # created again from this file.
    assert done["spec"]["end_time"] == "2026-05-02 00:00:00" and "Left out" not in text
    odd = docs["Odd"][0]
    assert odd["spec"]["start_time"] == "immediately" and odd["spec"]["frequency"] == 7200
    plan = plan_of(files, remote)
    assert plan.changes == () and plan.counts.unchanged == 4


def test_email_campaign_superseded_ones_get_no_file_and_plan_is_clean() -> None:
    remote: Remote = {
        Kind.EMAIL_CAMPAIGN: [
            email("old", "Welcome flow", False, "2026-01-01T00:00:00Z"),
            email("new", "Welcome flow", True, "2026-02-01T00:00:00Z"),
            email("off", "Paused flow", False, "2026-03-01T00:00:00Z"),
        ]
    }
    files = export_documents(remote, now=NOW)
    texts = by_path(files)
    assert sorted(texts) == ["email/paused-flow.yaml", "email/welcome-flow.yaml"]
    assert "superseded, never touched): old." in texts["email/welcome-flow.yaml"]
    assert "Falconyte email campaign new (status: active)" in texts["email/welcome-flow.yaml"]
    assert only_doc(texts["email/paused-flow.yaml"])["state"] == "stopped"
    plan = plan_of(files, remote)
    assert plan.changes == () and plan.counts.superseded == 1


def test_a_value_the_schema_refuses_is_left_out_with_a_comment() -> None:
    remote: Remote = {
        Kind.CAMPAIGN: [
            campaign(
                1,
                "Strange",
                end_time="2027-01-01 00:00:00",  # an older API revision's field
                labels=["ok", 5],  # items must be strings
                quiet_hours={"from": 25, "to": 7},  # hour out of range
                send_in_profile_time_zone=1,  # == true: retyped, not dropped
                utm_tracking={"enabled": True, "utm_source": "hood"},
                archived=0,
            )
        ]
    }
    files = export_documents(remote, now=NOW)
    (text,) = by_path(files).values()
    spec = only_doc(text)["spec"]
    assert (
        '# Left out spec.end_time = "2027-01-01 00:00:00": validation refuses it: unknown key'
        in text
    )
    assert "# Left out spec.archived = 0" in text
    assert '# Left out spec.labels = ["ok", 5]: validation refuses spec.labels[1]' in text
    assert "# Left out spec.quiet_hours.from = 25" in text
    for gone in ("end_time", "labels", "archived"):
        assert gone not in spec
    assert spec["quiet_hours"] == {"to": 7}
    assert spec["send_in_profile_time_zone"] is True
    assert spec["utm_tracking"] == {"enabled": True, "utm_source": "hood"}
    plan = plan_of(files, remote)
    ((address, action, diff),) = [(c.address, c.action, c.diff) for c in plan.changes]
    assert (address, action, diff) == ("campaign.strange", "adopt", ())


def test_a_document_that_cannot_be_made_valid_is_commented_out() -> None:
    broken = campaign(1, "No messages")
    broken["messages"] = []
    files = export_documents({Kind.CAMPAIGN: [broken]}, now=NOW)
    (text,) = by_path(files).values()
    assert load_text(text, "x").documents == []
    assert "COMMENTED OUT" in text
    assert "Validation refuses it: needs at least 1 item(s) (spec.messages)" in text
    assert "#   messages: []\n" in text  # the object as it is, nothing removed


def test_schedule_and_recurrence_together_keep_the_recurrence() -> None:
    remote: Remote = {
        Kind.CAMPAIGN: [
            campaign(
                1, "Both", scheduled_time="2026-07-01 10:00:00", recurrence={"cron": "0 9 * * 1"}
            )
        ]
    }
    files = export_documents(remote, now=NOW)
    spec = only_doc(files[0].text)["spec"]
    assert spec["recurrence"] == {"cron": "0 9 * * 1"} and "scheduled_time" not in spec
    assert "Left out spec.scheduled_time" in files[0].text
    assert [c.action for c in plan_of(files, remote).changes] == ["adopt"]


# --- YAML ---------------------------------------------------------------------------------------

TRICKY = [
    "NO",
    "no",
    "yes",
    "Off",
    "on",
    "y",
    "true",
    "True",
    "FALSE",
    "null",
    "Null",
    "~",
    "",
    "1",
    "-1",
    "+1",
    "012",
    "0o17",
    "0x1F",
    "1.0",
    "1e3",
    "1E-3",
    ".5",
    ".inf",
    "-.inf",
    ".nan",
    "1_000",
    "1:30",
    "2026-01-01",
    "2026-01-01 00:00:00",
    " lead",
    "trail ",
    "  ",
    "#hash",
    "a #b",
    "- x",
    ": x",
    "x:",
    "? x",
    "@x",
    "`x",
    "!x",
    "&x",
    "*x",
    "%x",
    "|x",
    ">x",
    "'q'",
    '"dq"',
    "{x}",
    "[x]",
    "<<",
    "=",
    "tab\there",
    "é ü 漢字 🎉",
    "multi\nline\n",
    "no end\nline",
    "\nlead break",
    "  indented\nblock",
    "trailing spaces  \nx",
    "crlf\r\nx",
    "a\u2028b",
    "a\x85b",
    "nul\x00byte",
    "${OCMH_UTM_SOURCE}",
    "${env:SECRET}",
    "$${env:SECRET}",
    "a ${env:X} b",
    "${ENV:X}",
    "${env: X}",
    "${env:A-B}",
    "${env:X",
    "$${ENV:X}",
    "x" * 150 + " " + "y" * 150,
    " ".join(["word"] * 60),
]


#: How export writes the tricky strings that read as interpolations, or as malformed ones
#: (a "$" before each keeps it as text); the others are written as they are.
ESCAPED = {
    "${env:SECRET}": "$${env:SECRET}",
    "$${env:SECRET}": "$$${env:SECRET}",
    "a ${env:X} b": "a $${env:X} b",
    "${ENV:X}": "$${ENV:X}",
    "${env: X}": "$${env: X}",
    "${env:A-B}": "$${env:A-B}",
    "${env:X": "$${env:X",
    "$${ENV:X}": "$$${ENV:X}",
}


#: The tricky strings a label can be (validate refuses labels the API's comma-joined storage
#: would change: empty, space at either end, control characters).
TRICKY_LABELS = [s for s in TRICKY if s and s == s.strip() and s.isprintable()]


def test_tricky_strings_round_trip_through_strict_and_yaml11_readers() -> None:
    meta: dict[str, Any] = {f"k{i}": s for i, s in enumerate(TRICKY)}
    meta.update({s: "as key" for s in TRICKY if s})
    meta["list"] = TRICKY  # every tricky string as a sequence item too
    remote: Remote = {
        Kind.CAMPAIGN: [
            campaign(1, "Tricky", labels=TRICKY_LABELS, description="NO", metadata=meta)
        ]
    }
    files = export_documents(remote, now=NOW)
    (text,) = by_path(files).values()
    spec = only_doc(text)["spec"]
    # ${env:...} text (well-formed or not) is escaped so that it stays literal: neither an
    # interpolation nor a malformed one (which validation would refuse).
    escaped = [ESCAPED.get(s, s) for s in TRICKY]
    labels = [ESCAPED.get(s, s) for s in TRICKY_LABELS]
    assert spec["labels"] == labels and spec["description"] == "NO"
    assert spec["metadata"] == {
        **{k: ESCAPED.get(v, v) for k, v in meta.items() if k != "list"},
        "list": escaped,
    }
    # Other YAML tools (1.1 resolvers) read the same thing.
    assert yaml.safe_load(text)["spec"]["labels"] == labels
    assert yaml.safe_load(text)["spec"]["metadata"]["list"] == escaped
    for quoted in (
        "'NO'",
        "'true'",
        "'1.0'",
        "'1e3'",
        "'0o17'",
        "'2026-01-01 00:00:00'",
        "''",
        "'null'",
        "' lead'",
        "'trail '",
    ):
        assert f"- {quoted}\n" in text, quoted
    assert "description: 'NO'\n" in text
    # The planner sees the remote values exactly: adopt, no field differences, no env lookup.
    (change,) = plan_of(files, remote).changes
    assert change.action == "adopt" and change.diff == ()


def test_multiline_text_is_a_literal_block() -> None:
    html = "<html>\n  <body>Hi</body>\n</html>\n"
    text = dump_yaml({"html": html, "n": 1})
    assert text == "html: |\n  <html>\n    <body>Hi</body>\n  </html>\nn: 1\n"
    assert only_doc(text) == {"html": html, "n": 1}


def test_header_names_the_schema_and_the_remote_object() -> None:
    files = export_documents({Kind.CAMPAIGN: [campaign(42, "Hello")]}, now=NOW)
    lines = files[0].text.splitlines()
    # A path editors can load, relative to campaigns/hello.yaml: schemas/ beside the export.
    assert lines[0] == "# yaml-language-server: $schema=../../schemas/campaign.json"
    assert "`hoodsync schema --write DIR`" in lines[1]
    assert lines[2] == "# Exported from Hood campaign 42 (status: scheduled)."
    assert lines.index("kind: Campaign") < lines.index("key: hello") < lines.index("spec:")
    spec_keys = list(only_doc(files[0].text)["spec"])
    assert spec_keys[0] == "name" and spec_keys[-1] == "messages"


@pytest.mark.parametrize(
    ("schemas", "expected"),
    [
        ("../schemas", "../../schemas/{}"),  # default: export folder at the repository root
        ("schemas", "../schemas/{}"),  # exported into the repository root itself
        ("../../defs/schemas", "../../../defs/schemas/{}"),
        ("/repo/schemas", "/repo/schemas/{}"),  # absolute stays absolute
    ],
)
def test_every_file_points_at_its_kind_schema_in_the_schemas_folder(
    schemas: str, expected: str
) -> None:
    remote = {
        Kind.CAMPAIGN: [campaign(1, "C")],
        Kind.PUSH_TASK: [push_task(2, "P")],
        Kind.EMAIL_CAMPAIGN: [email("e1", "E", True, "2026-01-01 00:00:00")],
    }
    files = export_documents(remote, now=NOW, schemas=schemas)
    first = {f.path.split("/")[0]: f.text.splitlines()[0] for f in files}
    assert first == {
        folder: "# yaml-language-server: $schema=" + expected.format(name)
        for folder, name in (
            ("campaigns", "campaign.json"),
            ("push-tasks", "push_task.json"),
            ("email", "email_campaign.json"),
        )
    }


def test_a_commented_out_file_keeps_its_schema_line() -> None:
    files = export_documents(
        {Kind.PUSH_TASK: [push_task(1, "Twin"), push_task(2, "Twin")]}, now=NOW, schemas="schemas"
    )
    assert files and not any(is_definition(f) for f in files)
    assert all(
        f.text.startswith("# yaml-language-server: $schema=../schemas/push_task.json\n")
        for f in files
    )


# --- kinds --------------------------------------------------------------------------------------


def test_parse_kind_accepts_names_slugs_and_folders() -> None:
    assert parse_kind("Campaign") is Kind.CAMPAIGN
    assert parse_kind("campaign") is Kind.CAMPAIGN
    assert parse_kind("PushTask") is Kind.PUSH_TASK
    assert parse_kind("push_task") is Kind.PUSH_TASK
    assert parse_kind("push-tasks") is Kind.PUSH_TASK
    assert parse_kind("EMAILCAMPAIGN") is Kind.EMAIL_CAMPAIGN
    assert parse_kind("email_campaign") is Kind.EMAIL_CAMPAIGN
    with pytest.raises(ConfigError, match="unknown kind 'sms'.*Campaign \\(campaign\\)"):
        parse_kind("sms")
    assert parse_kinds([]) == tuple(Kind)
    assert parse_kinds(["email", "Campaign", "campaign"]) == (Kind.CAMPAIGN, Kind.EMAIL_CAMPAIGN)


def test_only_the_kinds_given_are_exported() -> None:
    files = export_documents({Kind.PUSH_TASK: [push_task(1, "Only")]}, now=NOW)
    assert [f.path for f in files] == ["push-tasks/only.yaml"]


# --- writing ------------------------------------------------------------------------------------


def test_write_export_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    files = [
        ExportedFile("campaigns/a.yaml", "kind: Campaign\n"),
        ExportedFile("push-tasks/b.yaml", "kind: PushTask\n"),
    ]
    out = tmp_path / "out"
    written = write_export(files, out)
    assert written == [out / "campaigns" / "a.yaml", out / "push-tasks" / "b.yaml"]
    assert (out / "campaigns" / "a.yaml").read_text(encoding="utf-8") == "kind: Campaign\n"
    assert oct((out / "campaigns" / "a.yaml").stat().st_mode & 0o777) == oct(0o644)

    (out / "push-tasks" / "b.yaml").write_text("mine\n", encoding="utf-8")
    changed = [ExportedFile("campaigns/new.yaml", "x: 1\n"), *files]
    with pytest.raises(ConfigError) as err:
        write_export(changed, out)
    assert "2 existing file(s)" in str(err.value)
    assert "a.yaml" in str(err.value) and "b.yaml" in str(err.value)
    assert not (out / "campaigns" / "new.yaml").exists()  # nothing written at all
    assert (out / "push-tasks" / "b.yaml").read_text(encoding="utf-8") == "mine\n"

    write_export(changed, out, overwrite=True)
    assert (out / "push-tasks" / "b.yaml").read_text(encoding="utf-8") == "kind: PushTask\n"
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


@pytest.mark.parametrize("bad", ["../x.yaml", "/etc/x.yaml", "a/../../x.yaml", ""])
def test_write_export_keeps_paths_inside_the_folder(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="relative"):
        write_export([ExportedFile(bad, "x: 1\n")], tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "x.yaml").exists()


def test_write_export_reports_io_failures(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file, not a folder", encoding="utf-8")
    from hoodsync.errors import HoodsyncError

    with pytest.raises(HoodsyncError, match="cannot write"):
        write_export([ExportedFile("campaigns/a.yaml", "x: 1\n")], tmp_path / "out")
    assert os.path.isfile(tmp_path / "out")


EXPORT = [
    ExportedFile("campaigns/a.yaml", "kind: Campaign\n"),
    ExportedFile("campaigns/b.yaml", "kind: Campaign\n"),
    ExportedFile("push-tasks/c.yaml", "kind: PushTask\n"),
]


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("overwrite", [False, True])
def test_write_export_checks_every_target_before_writing_any(
    tmp_path: Path, overwrite: bool
) -> None:
    """A stray file where a folder is needed, a symlink to nothing, a folder where a file
    goes: refused before anything is written (it used to write the campaigns, then fail on
    the push tasks with "File exists"), with a message naming the path and what it is."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "push-tasks").write_text("stray\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        write_export(EXPORT, out, overwrite=overwrite)
    assert str(err.value).startswith(f"cannot write into {out / 'push-tasks'}: it is a file, ")
    assert _tree(out) == ["push-tasks"]

    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    with pytest.raises(ConfigError) as err:
        write_export(EXPORT, tmp_path / "dangling", overwrite=overwrite)
    assert str(err.value).startswith(
        f"cannot write into {tmp_path / 'dangling'}: it is a symlink to {tmp_path / 'nowhere'}, "
        "which does not exist"
    )
    assert not (tmp_path / "nowhere").exists()

    (out / "push-tasks").unlink()
    (out / "push-tasks" / "c.yaml").mkdir(parents=True)
    with pytest.raises(ConfigError) as err:
        write_export(EXPORT, out, overwrite=overwrite)
    assert str(err.value) == f"cannot write {out / 'push-tasks' / 'c.yaml'}: it is a directory"
    assert _tree(out) == ["push-tasks", "push-tasks/c.yaml"]

    (out / "push-tasks" / "c.yaml").rmdir()
    (tmp_path / "file").write_text("x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        write_export(EXPORT, tmp_path / "file" / "deeper" / "out", overwrite=overwrite)
    assert str(err.value).startswith(f"cannot write into {tmp_path / 'file'}: it is a file, ")

    assert write_export(EXPORT, out, overwrite=overwrite) == [out / f.path for f in EXPORT]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_write_export_failing_half_way_leaves_nothing_it_made(tmp_path: Path) -> None:
    """A write that fails after the checks (here: a full device) removes the files and
    folders the export made before it."""
    out = tmp_path / "out"
    (out / "push-tasks").mkdir(parents=True)
    os.symlink("/dev/full", out / "push-tasks" / "c.yaml")  # written through: no space left
    with pytest.raises(HoodsyncError) as err:
        write_export(EXPORT, out, overwrite=True)
    assert str(err.value).startswith(f"cannot write {out / 'push-tasks' / 'c.yaml'}: ")
    assert _tree(out) == ["push-tasks", "push-tasks/c.yaml"]  # campaigns/ and its files: gone


def _config(tmp_path: Path, accounts: str) -> Any:
    from hoodsync.config import load_config

    (tmp_path / "hoodsync.yaml").write_text("accounts:\n" + accounts, encoding="utf-8")
    return load_config([], env={}, cwd=tmp_path)


EXPECT = "expect no changes, or adopt for campaigns hoodsync did not create."


def test_the_check_after_an_export_is_a_command_that_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hoodsync plan OUT` fails "under no account's paths" when accounts list paths: and OUT
    is under none of them, and plans OUT as another account's when it is under that one's:
    the hint says what to do first."""
    monkeypatch.chdir(tmp_path)
    out = Path("exported")
    config = _config(tmp_path, "  default:\n    hood: {url: sandbox}\n")
    assert check_hint(out, config, config.account(None)) == (
        f"Check with `hoodsync plan exported`: {EXPECT}"
    )
    two = "  prod:\n    hood: {url: sandbox}\n    paths: [prod/]\n"
    two += "  staging:\n    hood: {url: sandbox}\n    paths: [staging/, exported/]\n"
    for folder in ("prod", "staging", "exported"):
        (tmp_path / folder).mkdir()
    config = _config(tmp_path, two)
    assert check_hint(out, config, config.account("staging")) == (
        f"Check with `hoodsync plan exported --account staging`: {EXPECT}"
    )
    assert check_hint(Path("prod/new"), config, config.account("prod")) == (
        f"Check with `hoodsync plan prod/new --account prod`: {EXPECT}"
    )
    assert check_hint(out, config, config.account("prod")) == (
        "Before planning them: exported is under account staging's paths: in "
        f"{tmp_path / 'hoodsync.yaml'}, not prod's: planned there, these objects would be "
        "created in staging. First move the files into prod's paths (prod/), then check "
        f"with `hoodsync plan --account prod`: {EXPECT}"
    )
    assert check_hint(Path("elsewhere"), config, config.account("prod")) == (
        f"Before planning them: elsewhere is under no account's paths: in "
        f"{tmp_path / 'hoodsync.yaml'}. First move the files into prod's paths (prod/), then "
        f"check with `hoodsync plan --account prod`: {EXPECT}"
    )


def test_export_never_writes_a_file_named_like_the_config() -> None:
    remote: Remote = {
        Kind.CAMPAIGN: [campaign(1, "hoodsync"), campaign(2, "Other", marker="hoodsync")],
        Kind.PUSH_TASK: [push_task(10, "HoodSync")],
        Kind.EMAIL_CAMPAIGN: [email("e1", "hoodsync", True, "2026-01-01T00:00:00Z")],
    }
    files = export_documents(remote, now=NOW)
    names = [f.path.rsplit("/", 1)[-1] for f in files]
    assert "hoodsync.yaml" not in names and "hoodsync.yml" not in names
    texts = by_path(files)
    # the marker is an identity: the key stays, only the file name moves
    marked = next(t for t in texts.values() if "name: Other" in t)
    assert only_doc(marked)["key"] == "hoodsync"
    named = only_doc(texts["push-tasks/hoodsync-2.yaml"])
    assert named["key"] == "hoodsync-2" and named["spec"]["name"] == "HoodSync"
    assert len({f.path for f in files}) == len(files) == 4
    plan = plan_of(files, remote)
    assert not plan.has_errors


def test_live_twice_note_names_the_newest_and_allow_replace() -> None:
    remote: Remote = {
        Kind.EMAIL_CAMPAIGN: [
            email("e1", "Live twice", True, "2026-01-01T00:00:00Z"),
            email("e2", "Live twice", True, "2026-02-01T00:00:00Z"),
        ]
    }
    text = by_path(export_documents(remote, now=NOW))["email/live-twice.yaml"]
    flat = " ".join(line.lstrip("# ") for line in text.splitlines())
    assert "the newest, e2," in flat and "--allow-replace" in flat
