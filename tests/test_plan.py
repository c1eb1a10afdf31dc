"""Plan as data: round trip, ordering, estimate, safety guards, re-resolving secrets."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from hoodsync.apply import resolve_steps
from hoodsync.errors import DefinitionError, PlanError, SafetyError, StalePlanError
from hoodsync.identity import ValueKey
from hoodsync.model import Kind
from hoodsync.plan import (
    AccountInfo,
    Change,
    Counts,
    FieldDiff,
    Flag,
    Namesake,
    Note,
    Plan,
    RemoteRef,
    SensitiveValue,
    Step,
    check_safety,
    sort_changes,
    waits_after,
)
from hoodsync.planner import estimate, requests_for
from hoodsync.remote.ratelimit import minimum_duration

ACCOUNT = AccountInfo("default", "https://api.example.test/v1/hood")


def change(
    address: str,
    action: str = "update",
    *,
    order: int = 0,
    steps: int = 1,
    kind: Kind | None = None,
) -> Change:
    slug, key = address.split(".", 1)
    return Change(
        address=address,
        kind=kind or Kind.from_slug(slug),
        key=key,
        action=action,
        description=f"will be {action}d",
        steps=tuple(Step("patch", "1", {"x": 1}) for _ in range(steps)),
        order=order,
    )


def full_plan() -> Plan:
    c = Change(
        address="campaign.a",
        kind=Kind.CAMPAIGN,
        key="a",
        action="resume",
        description="will be resumed (paused -> running)",
        name="A",
        remote_id="17",
        remote_status="paused",
        transition=("paused", "running"),
        steps=(Step("patch", "17", {"u": "${env:U}"}), Step("resume", "17", None)),
        diff=(FieldDiff("labels[1]", "change", "a", "b"), FieldDiff("x", "add", None, {"y": [1]})),
        drift=True,
        notes=(Note("warning", "careful", "campaign.a"),),
        fingerprint="ab" * 32,
        order=-1,
        sensitive=(SensitiveValue("u", "${env:U}", "1234"),),
        flags=("sends_immediately",),
        namesakes=(Namesake("17", True), Namesake("18", False)),
    )
    return Plan(
        account=ACCOUNT,
        changes=(c,),
        counts=Counts(
            definitions=3,
            remote_objects=5,
            read_requests=2,
            unchanged=1,
            unmanaged=1,
            orphans=1,
            managed=3,
        ),
        notes=(Note("warning", "plan-wide"),),
        orphans=(RemoteRef(Kind.CAMPAIGN, "9", "Old", "paused", "campaign.old"),),
        unmanaged=(RemoteRef(Kind.PUSH_TASK, "3", "Other", "active"),),
        superseded=(
            RemoteRef(Kind.EMAIL_CAMPAIGN, "e", "W", "stopped", "email_campaign.w", "2026"),
        ),
        estimate=estimate((c,), ACCOUNT),
        prune=True,
        targets=("campaign.a",),
        planned_at=dt.datetime(2026, 5, 1, 10, 0, 20, tzinfo=dt.UTC),
    )


def test_to_dict_round_trips_through_json() -> None:
    plan = full_plan()
    doc = plan.to_dict()
    assert doc["format_version"] == 3
    assert doc["planned_at"] == "2026-05-01T10:00:20+00:00"
    assert doc["changes"][0]["namesakes"] == [
        {"id": "17", "live": True},
        {"id": "18", "live": False},
    ]
    again = Plan.from_dict(json.loads(json.dumps(doc)))
    assert again == plan
    assert again.to_dict() == doc


def test_to_dict_is_stable() -> None:
    a = json.dumps(full_plan().to_dict(), sort_keys=True)
    b = json.dumps(full_plan().to_dict(), sort_keys=True)
    assert a == b


def test_from_dict_refuses_other_versions_and_garbage() -> None:
    doc = full_plan().to_dict()
    with pytest.raises(PlanError, match="format_version 4"):
        Plan.from_dict({**doc, "format_version": 4})
    # Version 2 recorded no namesakes and no planning time: apply could not check them.
    with pytest.raises(PlanError, match="format_version 2; this hoodsync reads 3"):
        Plan.from_dict({**doc, "format_version": 2})
    with pytest.raises(PlanError, match="malformed"):
        Plan.from_dict({"format_version": 3})
    with pytest.raises(PlanError, match="malformed"):
        Plan.from_dict({**doc, "planned_at": "2026-05-01T10:00:20"})  # no UTC offset
    bad = json.loads(json.dumps(doc))
    bad["changes"][0]["steps"][0]["op"] = "delete"
    with pytest.raises(PlanError, match="unknown step op"):
        Plan.from_dict(bad)


def _with_each_value_replaced(doc: Any) -> Iterator[Any]:
    """``doc`` once for each of its values (at any depth) replaced by each other JSON shape."""
    if isinstance(doc, dict):
        items: list[tuple[Any, Any]] = list(doc.items())
    elif isinstance(doc, list):
        items = list(enumerate(doc))
    else:
        return
    for key, value in items:
        for other in (None, "x", 1, 1.5, True, [], {}, [None], {"x": None}):
            if other != value:
                copy = json.loads(json.dumps(doc))
                copy[key] = other
                yield copy
        for inner in _with_each_value_replaced(value):
            copy = json.loads(json.dumps(doc))
            copy[key] = inner
            yield copy


def test_from_dict_reads_any_shape_of_json_or_says_it_is_malformed() -> None:
    """A saved plan is input: JSON of an unexpected shape anywhere in it (``"changes": [null]``,
    a string ``transition``) is a :class:`PlanError`, never another exception (a traceback)."""
    doc = full_plan().to_dict()
    tried = 0
    for bad in _with_each_value_replaced(doc):
        if bad.get("format_version") != doc["format_version"]:
            continue
        tried += 1
        with contextlib.suppress(PlanError):
            Plan.from_dict(bad)
    assert tried > 1000


def test_summary_errors_and_changes_flags() -> None:
    plan = full_plan()
    assert plan.summary()["resume"] == 1 and plan.has_changes and not plan.has_errors
    blocked = Change(
        "campaign.b", Kind.CAMPAIGN, "b", "note", "cannot", notes=(Note("error", "no"),)
    )
    p2 = Plan(account=ACCOUNT, changes=(blocked,))
    assert p2.has_errors and not p2.has_changes and p2.summary()["update"] == 0
    assert p2.to_dict()["errors"] == 1


def test_every_change_that_edits_content_counts_as_an_update() -> None:
    """A change of another action that also patches the object's fields (a paused campaign
    updated and resumed, paused and updated, adopted and updated, a push task updated and
    activated) counts under "to update" as well as under its own action; an edit of a running
    campaign (pause, update, resume) counts once, as the update it is; a resume or an adopt
    with no field diff is not an update. The JSON summary and the text and markdown summaries
    say the same."""
    from hoodsync.render import render

    title = (FieldDiff("messages[0].push.title.en", "change", "Hello", "Hello again"),)

    def made(
        key: str, action: str, ops: tuple[str, ...], *, diff: bool = True, **kw: Any
    ) -> Change:
        return Change(
            address=f"campaign.{key}",
            kind=Kind.CAMPAIGN,
            key=key,
            action=action,
            description=f"will be {action}d",
            remote_id=key,
            steps=tuple(Step(op, key, {} if op == "resume" else {"name": "x"}) for op in ops),
            diff=title if diff else (),
            **kw,
        )

    changes = (
        made("resumed-and-updated", "resume", ("patch", "resume")),
        made("paused-and-updated", "pause", ("pause", "patch")),
        made("adopted-and-updated", "adopt", ("patch",)),
        made("live-edit", "update", ("pause", "patch", "resume"), flags=(Flag.LIVE_EDIT,)),
        made("resumed", "resume", ("resume",), diff=False),
        made("adopted", "adopt", ("patch",), diff=False),
        Change(
            "push_task.t",
            Kind.PUSH_TASK,
            "t",
            "activate",
            "will be updated and activated",
            remote_id="9",
            steps=(Step("patch", "9", {"status": 1, "title": "x"}),),
            diff=title,
        ),
    )
    plan = Plan(account=ACCOUNT, changes=changes)
    assert [c.counted_as for c in changes] == [
        ("resume", "update"),
        ("pause", "update"),
        ("adopt", "update"),
        ("update",),
        ("resume",),
        ("adopt",),
        ("activate", "update"),
    ]
    summary = plan.summary()
    assert (summary["update"], summary["resume"], summary["pause"]) == (5, 2, 1)
    assert (summary["adopt"], summary["activate"]) == (2, 1)
    doc = plan.to_dict()
    assert doc["summary"] == summary
    assert [c["counted_as"] for c in doc["changes"]] == [list(c.counted_as) for c in changes]
    line = "Plan: 0 to create, 5 to update, 2 to resume, 1 to pause, 0 to cancel, 2 to adopt"
    assert line in render(doc, "text", color=False)
    markdown = render(doc, "markdown")
    assert line in markdown and "| to update | 5 |" in markdown
    # The list of names agrees with the counts: each change under every action it counts as.
    [updates] = [x for x in markdown.splitlines() if x.startswith("- **to update** (5):")]
    for key in ("resumed-and-updated", "paused-and-updated", "adopted-and-updated", "live-edit"):
        assert f"`{key}`" in updates
    assert "`t`" in updates


def test_order_is_wave_then_phase_then_kind_then_key() -> None:
    changes = [
        change("email_campaign.a", "stop"),
        change("campaign.z", "cancel"),
        change("campaign.b", "resume"),
        change("push_task.a", "create"),
        change("campaign.y", "create"),
        change("campaign.late", "create", order=5),
        change("campaign.early", "cancel", order=-5),
    ]
    assert [c.address for c in sort_changes(changes)] == [
        "campaign.early",
        "campaign.y",
        "push_task.a",
        "campaign.b",
        "campaign.z",
        "email_campaign.a",
        "campaign.late",
    ]


def test_estimate_counts_steps_rereads_and_push_task_reads() -> None:
    live = Change(
        "campaign.a",
        Kind.CAMPAIGN,
        "a",
        "update",
        "x",
        steps=(Step("pause", "1"), Step("patch", "1", {}), Step("resume", "1")),
    )
    # Re-read after the pause before patching, and after the resume before it is reported done.
    assert requests_for(live) == 5
    task = Change(
        "push_task.t", Kind.PUSH_TASK, "t", "create", "x", steps=(Step("create", None, {}),)
    )
    assert requests_for(task) == 2
    # Falconyte: a stop another step follows is waited for (a listing), the last one is not.
    stops = Change(
        "email_campaign.s",
        Kind.EMAIL_CAMPAIGN,
        "s",
        "replace",
        "x",
        steps=(Step("create", None, {}), Step("stop"), Step("stop", "old")),
    )
    assert [waits_after(stops, i) for i in range(3)] == [False, True, False]
    assert requests_for(stops) == 4
    assert [waits_after(live, i) for i in range(3)] == [True, False, True]
    mail = Change(
        "email_campaign.e",
        Kind.EMAIL_CAMPAIGN,
        "e",
        "create",
        "x",
        steps=(Step("create", None, {}),),
    )
    est = estimate([live, task, mail], ACCOUNT)
    assert (est.requests, est.hood_requests, est.falconyte_requests) == (8, 7, 1)
    many = [change(f"campaign.c{i}") for i in range(300)]
    assert estimate(many, ACCOUNT).seconds == minimum_duration(300, 10, 150) == 74.0


def _removal_plan(n: int, managed: int, definitions: int = 5) -> Plan:
    return Plan(
        account=ACCOUNT,
        changes=tuple(change(f"campaign.c{i}", "cancel") for i in range(n)),
        counts=Counts(definitions=definitions, managed=managed),
    )


def test_safety_max_removals() -> None:
    check_safety(_removal_plan(10, 100))
    with pytest.raises(SafetyError, match="removes 11 objects, more than the limit of 10"):
        check_safety(_removal_plan(11, 100))
    check_safety(_removal_plan(11, 100), allow_removals=11)
    with pytest.raises(SafetyError, match="allow-removals 5"):
        check_safety(_removal_plan(6, 100), allow_removals=5)


def test_safety_percentage_applies_from_ten_managed_objects() -> None:
    check_safety(_removal_plan(2, 3))  # 66 % of a tiny account: fine
    check_safety(_removal_plan(3, 10))
    with pytest.raises(SafetyError, match="4 of 10 managed objects \\(40 %\\)"):
        check_safety(_removal_plan(4, 10))
    check_safety(_removal_plan(4, 10), max_removal_percent=50)


def test_safety_percentage_applies_in_a_small_account_from_three_removals() -> None:
    """A wrong path in an account of 9 would cancel 8 of them, for good."""
    with pytest.raises(SafetyError, match="8 of 9 managed objects \\(88 %\\)"):
        check_safety(_removal_plan(8, 9))
    with pytest.raises(SafetyError, match="3 of 9 managed objects"):
        check_safety(_removal_plan(3, 9))
    check_safety(_removal_plan(2, 9))  # 22 %
    check_safety(_removal_plan(2, 2))  # the first two removals of a tiny account pass
    check_safety(_removal_plan(8, 9), allow_removals=8)


def test_safety_empty_definitions_with_managed_objects() -> None:
    with pytest.raises(SafetyError, match="no definitions were found"):
        check_safety(_removal_plan(0, 4, definitions=0))
    check_safety(_removal_plan(0, 0, definitions=0))
    check_safety(_removal_plan(4, 4, definitions=0), allow_removals=4)


KEY = ValueKey(b"k" * 32)


def _sensitive_change(fp: str | None) -> Change:
    return Change(
        "campaign.a",
        Kind.CAMPAIGN,
        "a",
        "update",
        "x",
        steps=(Step("patch", "1", {"m": [{"u": "https://x/${env:TOKEN}"}]}), Step("resume", "1")),
        sensitive=(SensitiveValue("m[0].u", "https://x/${env:TOKEN}", fp),),
    )


def test_resolve_steps_fills_templates_and_detects_changed_values() -> None:
    c = _sensitive_change(KEY.check("https://x/abc"))
    steps = resolve_steps(c, {"TOKEN": "abc"}, KEY)
    assert steps[0].body == {"m": [{"u": "https://x/abc"}]}
    assert steps[1] == Step("resume", "1")
    with pytest.raises(StalePlanError, match="campaign.a"):
        resolve_steps(c, {"TOKEN": "other"}, KEY)
    with pytest.raises(DefinitionError) as info:
        resolve_steps(c, {"TOKEN": "abc"}, KEY, forbidden_env=frozenset({"TOKEN"}))
    assert "TOKEN holds an API credential" in info.value.problems[0].message


def test_resolve_steps_checks_values_with_the_account_key_only() -> None:
    c = _sensitive_change(KEY.check("https://x/abc"))
    with pytest.raises(StalePlanError, match="value changed"):
        resolve_steps(c, {"TOKEN": "abc"}, ValueKey(b"o" * 32))  # another account's key
    with pytest.raises(StalePlanError, match="cannot be checked"):
        resolve_steps(c, {"TOKEN": "abc"}, None)  # recorded, but nothing to check it with
    # What is checked is the 32-digit fingerprint, not the 4 digits plans show: a short one
    # (hand-written, or of the old format) never passes.
    shown_only = _sensitive_change(KEY.check("https://x/abc")[:4])
    with pytest.raises(StalePlanError):
        resolve_steps(shown_only, {"TOKEN": "abc"}, KEY)
    # A plan made without a key recorded no fingerprint: there is nothing to check.
    assert resolve_steps(_sensitive_change(None), {"TOKEN": "x"}, None)[0].body == {
        "m": [{"u": "https://x/x"}]
    }
