"""Markdown renderer: size limit with a complete summary, banner conditions, escaping."""

from __future__ import annotations

from typing import Any

from hoodsync.kinds.campaign import MARKER
from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import AccountInfo
from hoodsync.planner import make_plan
from hoodsync.render import markdown

ACCOUNT = AccountInfo("default", "https://api.ocamba.com/v1/hood")
MESSAGE = {
    "name": "Hello",
    "channel": "push",
    "push": {"title": {"en": "Hello there"}, "body": {"en": "A body long enough to matter " * 3},
             "landing_url": "https://example.com/landing/page"},
}


def _big_plan(n_create: int, n_cancel: int) -> dict[str, Any]:
    defs = [
        Definition(Kind.CAMPAIGN, f"campaign-{i:04d}",
                   {"name": f"Campaign {i}", "labels": ["a", "b"], "messages": [MESSAGE]},
                   Location("c.yaml"))
        for i in range(n_create)
    ]
    remote = {Kind.CAMPAIGN: [
        {"id": str(9000 + i), "name": f"Old {i}", "status": "scheduled",
         "metadata": {MARKER: f"old-{i:04d}"}}
        for i in range(n_cancel)
    ]}
    return make_plan(defs, remote, account=ACCOUNT, prune=True).to_dict()


def test_two_thousand_changes_fit_with_the_full_summary() -> None:
    doc = _big_plan(1900, 100)
    assert len(doc["changes"]) == 2000
    out = markdown.render(doc)
    assert len(out) < 65_536
    assert "**Plan: 1900 to create, 0 to update, 0 to resume, 0 to pause, 100 to cancel." in out
    assert "| to create | 1900 |" in out and "| to cancel | 100 |" in out
    assert "> **Removes 100 objects:**" in out and "and 80 more" in out
    assert "more resources are not shown" in out
    assert out.count("<details>") < 2000
    assert out.count("```") % 2 == 0


def test_small_plan_is_not_truncated() -> None:
    out = markdown.render(_big_plan(3, 0))
    assert "not shown" not in out and out.count("<details>") == 3


def test_tiny_limit_still_keeps_the_summary() -> None:
    doc = _big_plan(50, 0)
    out = markdown.render(doc, max_chars=3_000)
    assert len(out) <= 3_000
    assert "**Plan: 50 to create" in out
    shown = out.count("<details>")
    assert 0 < shown < 50 and f"{50 - shown} more resources are not shown" in out


def test_banner_only_for_dangerous_changes() -> None:
    assert "[!WARNING]" not in markdown.render(_big_plan(2, 0))
    d = Definition(Kind.CAMPAIGN, "now", {"name": "Now", "run_immediately": True, "messages": [MESSAGE]},
                   Location("c.yaml"))
    out = markdown.render(make_plan([d], {}, account=ACCOUNT).to_dict())
    assert "[!WARNING]" in out and "**Sends immediately**" in out and "`campaign.now`" in out


def test_names_and_messages_are_escaped() -> None:
    remote = {Kind.CAMPAIGN: [{"id": "1", "name": "<img src=x>|pipe", "status": "paused",
                               "metadata": {MARKER: "gone"}}]}
    out = markdown.render(make_plan([], remote, account=ACCOUNT).to_dict())
    assert "<img" not in out and "&lt;img src=x&gt;\\|pipe" in out
