"""Text renderer details: summary/estimate wording, colours, empty plans, value abbreviation."""

from __future__ import annotations

import re
from typing import Any

from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import AccountInfo
from hoodsync.planner import make_plan
from hoodsync.render import text
from hoodsync.render.common import duration_text, summary_line, value_text

ACCOUNT = AccountInfo("default", "https://api.ocamba.com/v1/hood")


def _doc(n: int = 1, **spec: Any) -> dict[str, Any]:
    defs = [
        Definition(Kind.CAMPAIGN, f"c{i}", {"name": f"C{i}", **spec}, Location("c.yaml"))
        for i in range(n)
    ]
    return make_plan(defs, {}, account=ACCOUNT, read_requests=1).to_dict()


def test_summary_and_estimate_lines_read_like_the_design() -> None:
    out = text.render(_doc(3))
    assert "Account: default (https://api.ocamba.com/v1/hood) — 3 definitions, 0 remote objects read in 1 request\n" in out
    assert "Plan: 3 to create, 0 to update, 0 to resume, 0 to pause, 0 to cancel. 0 unchanged, 0 unmanaged.\n" in out
    assert out.endswith("Apply needs about 3 requests (~1 s at 10/s, 150/min).\n")
    assert "  # campaign.c0 will be created\n  + campaign \"c0\" {\n      + name = \"C0\"\n    }\n" in out


def test_no_colour_codes_unless_asked() -> None:
    doc = _doc()
    assert "\x1b[" not in text.render(doc)
    coloured = text.render(doc, color=True)
    assert "\x1b[32m+\x1b[0m" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == text.render(doc)


def test_empty_plan_says_no_changes() -> None:
    out = text.render(make_plan([], {}, account=ACCOUNT).to_dict())
    assert out.endswith("\n\nNo changes. The account matches the definitions (0 unchanged, 0 unmanaged).\n")
    assert "Sandbox" not in out and "Apply needs" not in out


def test_long_values_are_abbreviated_in_text() -> None:
    assert value_text(list(range(40))) == "[ ... 40 items ]"
    assert value_text({"k": "x" * 80}) == "{ ... 1 key }"
    assert value_text("y" * 100).endswith('..."') and len(value_text("y" * 100)) <= 60
    assert value_text([1, 2]) == "[1, 2]"


def test_duration_wording() -> None:
    assert [duration_text(s) for s in (0, 0.2, 14, 59.5, 60, 74, 3600)] == [
        "~1 s", "~1 s", "~14 s", "~1 min", "~1 min", "~1 min 14 s", "~60 min"
    ]


def test_summary_names_extra_actions_only_when_present() -> None:
    doc = _doc()
    doc["summary"]["stop"] = 2
    doc["counts"]["orphans"] = 1
    assert summary_line(doc) == (
        "Plan: 1 to create, 0 to update, 0 to resume, 0 to pause, 0 to cancel, 2 to stop. "
        "0 unchanged, 0 unmanaged, 1 orphan."
    )


def _email_def() -> Definition:
    return Definition(Kind.EMAIL_CAMPAIGN, "flow", {"name": "Flow", "events": ["lead.created"]},
                      Location("e.yaml"))


def _account(**kw: Any) -> AccountInfo:
    return AccountInfo("default", kw.pop("url", "sandbox"), falconyte_url=kw.pop(
        "falconyte_url", "https://api.falconyte.com/public/v1"), **kw)


def _plan_doc(account: AccountInfo, defs: list[Definition]) -> dict[str, Any]:
    return make_plan(defs, {}, account=account).to_dict()


def test_sandbox_notice_tells_the_truth_per_endpoint() -> None:
    campaign = Definition(Kind.CAMPAIGN, "c", {"name": "C"}, Location("c.yaml"))
    # Hood sandbox, Falconyte real, email involved: both named, Falconyte as real.
    out = text.render(_plan_doc(_account(sandbox=True), [campaign, _email_def()]))
    assert "Sandbox: Hood is the embedded emulated account" in out
    assert "Falconyte is a real account (https://api.falconyte.com/public/v1)" in out
    assert out.startswith(
        "Account: default (Hood sandbox, Falconyte https://api.falconyte.com/public/v1) — ")
    # Hood sandbox, no email campaign anywhere: Falconyte is not mentioned.
    out = text.render(_plan_doc(_account(sandbox=True), [campaign]))
    assert "Sandbox: Hood is the embedded" in out and "Falconyte" not in out
    # Real Hood, sandbox Falconyte: only matters with email campaigns.
    real = _account(url="https://api.ocamba.com/v1/hood", falconyte_sandbox=True,
                    falconyte_url="sandbox", key_env="ACME_FALCONYTE_KEY")
    out = text.render(_plan_doc(real, [campaign, _email_def()]))
    assert "Sandbox: Falconyte is the embedded sandbox" in out and "Hood is" not in out
    assert "set ACME_FALCONYTE_KEY" in out
    assert out.startswith(
        "Account: default (Hood https://api.ocamba.com/v1/hood, Falconyte sandbox)")
    assert "Sandbox" not in text.render(_plan_doc(real, [campaign]))
    # Both sandboxes: one notice naming both, the account's own token variable.
    both = _account(sandbox=True, falconyte_sandbox=True, token_env="HOOD_PROD_TOKEN")
    out = text.render(_plan_doc(both, [_email_def()]))
    assert "set HOOD_PROD_TOKEN" in out and "Falconyte is the embedded sandbox" in out
    assert out.startswith("Account: default (sandbox) — ")


def test_account_info_round_trips_the_new_fields() -> None:
    acc = _account(sandbox=True, falconyte_sandbox=True, token_env="T", key_env="K")
    assert AccountInfo.from_dict(acc.to_dict()) == acc
    assert AccountInfo.from_dict({"name": "a", "url": "u"}).falconyte_sandbox is False


def test_text_warns_like_the_markdown_banner() -> None:
    doc = _doc(1, run_immediately=True)
    out = text.render(doc)
    assert "Warning: sends immediately (run_immediately): campaign.c0\n" in out
    assert out.index("Warning:") < out.index("Plan: ")
    assert "Warning" not in text.render(_doc(1))
