"""Aligned array diffs in all three renderings (golden files ``tests/golden/list_diffs.*``).

One plan holds one campaign (or push task) per case: an insertion at the front, a removal in
the middle, a reorder, and a change inside the second of three messages; for labels, messages
and a push task's countries. Each case must be exactly one field diff — the elements around the
inserted, removed or moved one add nothing — and apply must still send whole top-level arrays.
Run with ``UPDATE_GOLDEN=1`` to rewrite the golden files after an intended change.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_render_golden import _created_metadata, check_golden

from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import AccountInfo
from hoodsync.planner import make_plan
from hoodsync.render import render

ACCOUNT = AccountInfo("default", "https://api.ocamba.com/v1/hood")


def message(name: str, title: str | None = None, channel: str = "push") -> dict[str, Any]:
    return {
        "name": name,
        "channel": channel,
        "push": {"title": {"en": title or f"{name} title"}, "body": {"en": f"{name} body"}},
    }


ABC = [message("A"), message("B"), message("C")]

#: key → (remote spec, desired spec) of each campaign case.
CAMPAIGNS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "label-front": ({"labels": ["a", "b", "c"]}, {"labels": ["z", "a", "b", "c"]}),
    "label-middle": ({"labels": ["a", "b", "c"]}, {"labels": ["a", "c"]}),
    "message-front": ({"messages": ABC}, {"messages": [message("New")] + ABC}),
    "message-middle": ({"messages": ABC}, {"messages": [ABC[0], ABC[2]]}),
    "message-reorder": ({"messages": ABC}, {"messages": [ABC[2], ABC[0], ABC[1]]}),
    "message-second": (
        {"messages": ABC},
        {"messages": [ABC[0], message("B", "B changed"), ABC[2]]},
    ),
}


def _campaign(key: str, spec: dict[str, Any]) -> Definition:
    body = {"name": key, "messages": [message("A")], **spec}
    return Definition(Kind.CAMPAIGN, key, body, Location(f"campaigns/{key}.yaml"))


def _remote_campaign(n: int, key: str, spec: dict[str, Any]) -> dict[str, Any]:
    d = _campaign(key, spec)
    body = dict(d.spec)
    body["labels"] = ",".join(body.get("labels", []))  # as the API returns them
    body["messages"] = [
        {**m, "id": str(80 + i), "winner": 0}  # server-side fields
        for i, m in enumerate(body["messages"])
    ]
    return {
        **body,
        "id": str(1017100 + n),
        "status": "scheduled",
        "metadata": _created_metadata(d),
        "create_time": "2026-11-01 10:00:00",
    }


def _task(countries: list[str]) -> dict[str, Any]:
    return {"name": "Countries", "targeting": {"countries": {"op": "include", "items": countries}}}


def list_plan() -> dict[str, Any]:
    """Every case in one plan (the document the three renderers read)."""
    desired = [_campaign(key, after) for key, (_, after) in CAMPAIGNS.items()]
    remote = [
        _remote_campaign(n, key, before) for n, (key, (before, _)) in enumerate(CAMPAIGNS.items())
    ]
    desired.append(
        Definition(
            Kind.PUSH_TASK,
            "countries",
            _task(["NO", "FR", "DE"]),
            Location("push-tasks/countries.yaml"),
        )
    )
    task = {**_task(["FR", "DE", "NO"]), "id": "1051", "status": "1"}
    return make_plan(
        desired, {Kind.CAMPAIGN: remote, Kind.PUSH_TASK: [task]}, account=ACCOUNT, read_requests=2
    ).to_dict()


EXPECTED = {
    "campaign.label-front": [("labels[0]", "add")],
    "campaign.label-middle": [("labels[1]", "remove")],
    "campaign.message-front": [('messages["New"]', "add")],
    "campaign.message-middle": [('messages["B"]', "remove")],
    "campaign.message-reorder": [('messages["C"]', "move")],
    "campaign.message-second": [('messages["B"].push.title.en', "change")],
    "push_task.countries": [("targeting.countries.items", "move")],
}


def test_each_insertion_removal_and_move_is_one_diff_in_the_document() -> None:
    doc = list_plan()
    got = {c["address"]: [(d["path"], d["op"]) for d in c["diff"]] for c in doc["changes"]}
    assert got == EXPECTED
    diffs = {c["address"]: c["diff"][0] for c in doc["changes"]}
    assert diffs["campaign.label-front"]["after"] == "z"
    assert diffs["campaign.message-reorder"] | {} == {
        "path": 'messages["C"]',
        "op": "move",
        "before": 2,
        "after": 0,
        "item": None,
    }
    assert diffs["push_task.countries"]["item"] == "NO"
    assert (diffs["push_task.countries"]["before"], diffs["push_task.countries"]["after"]) == (2, 0)


def test_each_case_is_one_line_in_text_and_markdown() -> None:
    doc = list_plan()
    text = render(doc, "text")
    assert '      + labels[0] = "z"\n    }' in text
    assert '      - labels[1] = "b"\n    }' in text
    assert '      - messages["B"]\n    }' in text
    assert '      ~ messages["C"] moved 2 → 0\n    }' in text
    assert '      ~ messages["B"].push.title.en = "B title" -> "B changed"\n    }' in text
    assert '      ~ targeting.countries.items: "NO" moved 2 → 0\n    }' in text
    # The inserted message is one entry, spread over nested lines like a new resource.
    block = text.split("# campaign.message-front will be updated in place")[1].split("\n\n")[0]
    entries = [
        line
        for line in block.splitlines()
        if line.startswith("      ") and line[6:7] in "+-~" and line[6:8] != "  "
    ]
    assert entries == ['      + messages["New"] = {']
    assert '              + en = "New body"' in block

    md = render(doc, "markdown")
    for line in (
        '+ labels[0] = "z"',
        '- labels[1] = "b"',
        '- messages["B"]',
        '! messages["C"] moved 2 → 0',
        '! messages["B"].push.title.en = "B title" -> "B changed"',
        '! targeting.countries.items: "NO" moved 2 → 0',
    ):
        assert f"```diff\n{line}\n```" in md
    assert '```diff\n+ messages["New"] = {\n' in md


def test_apply_still_sends_the_whole_top_level_arrays() -> None:
    doc = list_plan()
    bodies = {c["address"]: c["steps"][0]["body"] for c in doc["changes"]}
    for key, (_, after) in CAMPAIGNS.items():
        (field,) = after  # the one top-level key each case changes
        assert bodies[f"campaign.{key}"][field] == after[field]
    assert bodies["push_task.countries"]["targeting"]["countries"]["items"] == ["NO", "FR", "DE"]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("list_diffs.txt", "text"), ("list_diffs.md", "markdown"), ("list_diffs.json", "json")],
)
def test_list_diffs_match_golden(name: str, fmt: str) -> None:
    text = render(list_plan(), fmt)
    if fmt == "json":
        assert json.loads(text)["format_version"] == 3
    check_golden(name, text)
