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
