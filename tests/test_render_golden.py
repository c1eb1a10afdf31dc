"""Golden files for the three renderers, from one plan that uses every kind of entry.

Run with ``UPDATE_GOLDEN=1`` to rewrite ``tests/golden/*`` after an intended output change,
then review the diff of those files like any other code change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from hoodsync.identity import ValueKey
from hoodsync.kinds.campaign import MARKER
from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import AccountInfo
from hoodsync.planner import make_plan
from hoodsync.render import render

GOLDEN = Path(__file__).resolve().parent / "golden"
T1 = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
M1 = "8f14e45f-ceea-467f-a0e6-1b2d3c4d5e6f"
PUSH = {"title": {"en": "Hello"}, "body": {"en": "Thanks for subscribing"}}


def _campaign(
    key: str, name: str, *, state: str | None = None, order: int = 0, **spec: Any
) -> Definition:
    body = {"name": name, "messages": [{"name": "Hello", "channel": "push", "push": PUSH}], **spec}
    return Definition(
        Kind.CAMPAIGN, key, body, Location(f"campaigns/{key}.yaml"), state=state, order=order
    )


def _created_metadata(d: Definition) -> dict[str, Any]:
    """The metadata hoodsync writes when it creates ``d`` (marker + hash)."""
    active = Definition(d.kind, d.key, d.spec, d.location)
    (change,) = make_plan([active], {}, account=ACCOUNT).changes
    return dict(change.steps[0].body["metadata"])  # type: ignore[index]


def _remote(
    cid: str,
    d: Definition | None,
    name: str,
    status: str,
    *,
    labels: str = "",
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": cid,
        "name": name,
        "status": status,
        "send_strategy": "manual",
        "labels": labels,
        "metadata": metadata if metadata is not None else (_created_metadata(d) if d else {}),
        "messages": [{"id": "81", "name": "Hello", "channel": "push", "push": PUSH, "winner": 0}],
        "utm_tracking": {"enabled": 1},
        "create_time": "2026-11-01 10:00:00",
    }


ACCOUNT = AccountInfo(
    "default", "https://api.ocamba.com/v1/hood", falconyte_url="https://api.falconyte.com/public/v1"
)
#: The account's key of the sensitive values' fingerprints (fixed: the fps are golden too).
VALUE_KEY = ValueKey(b"golden-value-key-0123456789abcdef")


def rich_doc(*, sandbox: bool = False) -> dict[str, Any]:
    """A plan with a create (sensitive value, run_immediately), a running edit, drift → resume,
    an adopt, a cancel, a push-task deactivate, a refused email replacement, a sent campaign
    that cannot be edited, an orphan, unmanaged and superseded objects."""
    welcome = _campaign(
        "welcome-push",
        "Welcome",
        run_immediately=True,
        metadata={"api_key": "${env:PUSH_KEY}"},
        labels=["onboarding"],
    )
    spring_old = _campaign("spring-sale", "Spring Sale", labels=["spring", "sale"])
    spring = _campaign("spring-sale", "Spring Sale", labels=["spring", "promo"])
    winter = _campaign("winter", "Winter", state="active", order=1)
    adopted = _campaign("summer", "Summer")
    promo = _campaign("old-promo", "Old Promo", state="canceled")
    sent = _campaign("black-friday", "Black Friday 2026", description="new text")
    task = Definition(
        Kind.PUSH_TASK,
        "nightly",
        {"name": "Nightly", "ttl": "3600"},
        Location("push-tasks/nightly.yaml"),
        state="inactive",
    )
    email = Definition(
        Kind.EMAIL_CAMPAIGN,
        "welcome-flow",
        {
            "name": "Welcome flow",
            "template_ids": [T1],
            "mail_account_ids": [M1],
            "events": ["lead.created"],
        },
        Location("email/welcome-flow.yaml"),
    )
    send = {"template_ids": [T1], "mail_account_ids": [M1]}
    remote = {
        Kind.CAMPAIGN: [
            _remote("1017001", spring_old, "Spring Sale", "running", labels="spring,sale"),
            _remote("1017002", winter, "Winter", "paused"),
            _remote("1017003", None, "Summer", "scheduled"),
            _remote("1017004", promo, "Old Promo", "scheduled"),
            _remote("1017005", sent, "Black Friday 2026", "sent"),
            _remote("1017006", None, "Retired", "paused", metadata={MARKER: "retired"}),
            _remote("1017007", None, "Made in the UI", "running"),
        ],
        Kind.PUSH_TASK: [{"id": "1051", "name": "Nightly", "status": "1", "ttl": "3600"}],
        Kind.EMAIL_CAMPAIGN: [
            {
                "id": "e-old",
                "name": "Welcome flow",
                "created_at": "2026-01-01T00:00:00.000000Z",
                "draft_data": {
                    "send_data": {
                        **send,
                        "event_triggered_send": {"events": ["contact.saved"], "enabled": False},
                    }
                },
            },
            {
                "id": "e-new",
                "name": "Welcome flow",
                "created_at": "2026-02-01T00:00:00.000000Z",
                "draft_data": {
                    "send_data": {
                        **send,
                        "event_triggered_send": {"events": ["contact.saved"], "enabled": True},
                    }
                },
            },
        ],
    }
    account = AccountInfo(
        "default",
        "sandbox" if sandbox else ACCOUNT.url,
        sandbox=sandbox,
        falconyte_url=ACCOUNT.falconyte_url,
    )
    plan = make_plan(
        [welcome, spring, winter, adopted, promo, sent, task, email],
        remote,
        account=account,
        env={"PUSH_KEY": "pk_live_SECRET"},
        read_requests=3,
        value_key=VALUE_KEY,
    )
    return plan.to_dict()


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from its golden file; if the change is intended, rerun with "
        "UPDATE_GOLDEN=1 and review the diff"
    )


@pytest.mark.parametrize(
    ("name", "fmt", "opts"),
    [
        ("plan.txt", "text", {}),
        ("plan_color.txt", "text", {"color": True}),
        ("plan.json", "json", {}),
        ("plan.md", "markdown", {}),
    ],
)
def test_rich_plan_matches_golden(name: str, fmt: str, opts: dict[str, Any]) -> None:
    text = render(rich_doc(), fmt, **opts)
    assert "pk_live_SECRET" not in text
    check_golden(name, text)


@pytest.mark.parametrize(
    ("name", "fmt"), [("no_changes.txt", "text"), ("no_changes.md", "markdown")]
)
def test_no_changes_sandbox_plan_matches_golden(name: str, fmt: str) -> None:
    d = _campaign("winter", "Winter")
    plan = make_plan(
        [d],
        {
            Kind.CAMPAIGN: [
                _remote("1017002", d, "Winter", "scheduled"),
                _remote("1017009", None, "Other", "draft"),
            ]
        },
        account=AccountInfo("default", "sandbox", sandbox=True),
        read_requests=1,
    )
    check_golden(name, render(plan.to_dict(), fmt))


def test_the_rich_plan_exercises_every_section() -> None:
    doc = rich_doc()
    actions = {c["address"]: c["action"] for c in doc["changes"]}
    assert actions == {
        "campaign.welcome-push": "create",
        "campaign.spring-sale": "update",
        "campaign.winter": "resume",
        "campaign.summer": "adopt",
        "campaign.old-promo": "cancel",
        "campaign.black-friday": "note",
        "push_task.nightly": "deactivate",
        "email_campaign.welcome-flow": "replace",
    }
    assert [c["address"] for c in doc["changes"] if c["drift"]] == ["campaign.winter"]
    assert doc["counts"]["orphans"] == 1 and doc["counts"]["unmanaged"] == 1
    assert doc["counts"]["superseded"] == 1 and doc["errors"] == 2
