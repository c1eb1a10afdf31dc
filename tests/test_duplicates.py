"""A way out of duplicated objects (issue 12 §2): the ambiguity error names the flag that
resolves it; `--resolve-duplicates` keeps the oldest, cancels the others where the API allows,
and releases drafts (marker removed, renamed "… (duplicate)"); it shows in the plan like any
other change, and the next plan is clean. Against the emulator over loopback."""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_cli_plan import Account, campaign_yaml, cli, emulated, plan_json, write  # noqa: F401


def _campaign_body(name: str, key: str, *, draft: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "labels": ["a", "b"],
        "scheduled_time": "2030-01-01 10:00:00",
        "is_draft": draft,
        "metadata": {"hoodsync_key": key},
        "messages": [
            {
                "name": "Hello",
                "channel": "push",
                "push": {
                    "title": {"en": f"Hello {name}"},
                    "body": {"en": "Thanks for subscribing"},
                    "landing_url": "https://example.com",
                },
            }
        ],
    }


def _duplicated(account: Account, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """`one` applied by hoodsync, then two more copies carrying its marker (a scheduled one and
    a draft), as two racing applies would leave; `two` has a draft twin. Returns name → id."""
    write(account.root, "c/one.yaml", campaign_yaml("one", "One"))
    write(account.root, "c/two.yaml", campaign_yaml("two", "Two", extra="state: active\n"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with account.remote() as remote:
        ids = {"one": str(remote.campaign("One")["id"]), "two": str(remote.campaign("Two")["id"])}
        ids["one-copy"] = str(remote.hood_post("/campaigns", _campaign_body("One", "one"))["id"])
        ids["one-draft"] = str(
            remote.hood_post("/campaigns", _campaign_body("One", "one", draft=True))["id"]
        )
        ids["two-draft"] = str(
            remote.hood_post("/campaigns", _campaign_body("Two", "two", draft=True))["id"]
        )
    return ids


def test_the_ambiguity_error_names_the_way_out(
    emulated: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = _duplicated(emulated, capsys)
    code, out, _ = cli(capsys, "plan")
    assert code == 1
    assert re.search(
        rf"3 remote campaigns carry the marker hoodsync_key=one \(ids [^)]*\).*"
        rf"keep the oldest \(id {ids['one']}\).*hoodsync apply --resolve-duplicates",
        out.replace("\n", " "),
    )


def test_resolve_duplicates_keeps_the_oldest_and_retires_the_others(
    emulated: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = _duplicated(emulated, capsys)
    doc = plan_json(capsys, "--resolve-duplicates")
    by_address = {c["address"]: c for c in doc["changes"]}
    assert set(by_address) == {
        f"campaign.one#{ids['one-copy']}",
        f"campaign.one#{ids['one-draft']}",
        f"campaign.two#{ids['two-draft']}",
    }
    cancel = by_address[f"campaign.one#{ids['one-copy']}"]
    assert cancel["action"] == "cancel" and "irreversible" in cancel["flags"]
    assert f"duplicate of id {ids['one']}" in cancel["description"]
    release = by_address[f"campaign.one#{ids['one-draft']}"]
    assert release["action"] == "update"
    assert release["steps"] == [
        {
            "op": "patch",
            "id": ids["one-draft"],
            "body": {
                "name": "One (duplicate)",
                "metadata": {"hoodsync_key": None, "hoodsync_hash": None},
            },
        }
    ]

    code, out, _ = cli(capsys, "plan", "--resolve-duplicates")  # shown like any other change
    assert code == 0
    assert f"# campaign.one#{ids['one-copy']} will be canceled (duplicate of id {ids['one']}" in out
    assert re.search(r'~ name +=\s"One" -> "One \(duplicate\)"', out)

    code, out, err = cli(capsys, "apply", "--resolve-duplicates", "--auto-approve")
    assert code == 0, err
    with emulated.remote() as remote:
        campaigns = {str(c["id"]): c for c in remote.campaigns()}
    assert campaigns[ids["one-copy"]]["status"] == "canceled"
    assert campaigns[ids["one-draft"]]["name"] == "One (duplicate)"
    assert "hoodsync_key" not in (campaigns[ids["one-draft"]].get("metadata") or {})
    assert campaigns[ids["one"]]["status"] == "scheduled"  # the oldest stays, untouched
    assert len(campaigns) == 5  # nothing deleted, nothing created
    assert cli(capsys, "plan", "--detailed-exitcode")[0] == 0


def test_resolving_duplicates_is_not_counted_as_a_mass_removal(
    emulated: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(emulated.root, "c/one.yaml", campaign_yaml("one", "One"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with emulated.remote() as remote:
        for _ in range(12):  # more than max_removals (10)
            remote.hood_post("/campaigns", _campaign_body("One", "one"))
    code, out, err = cli(capsys, "apply", "--resolve-duplicates", "--auto-approve")
    assert code == 0, err
    assert "12 applied" in out
    assert cli(capsys, "plan", "--detailed-exitcode")[0] == 0


def test_push_task_duplicates_are_deactivated_and_renamed(
    emulated: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    task = """\
kind: PushTask
key: daily
state: active
spec:
  name: Daily
  start_time: "2030-01-01 12:00:00"
  frequency: 86400
  message:
    title: {en: Hi}
    body: {en: There}
    landing_url: https://example.com
"""
    write(emulated.root, "t/daily.yaml", task)
    code, _, err = cli(capsys, "apply", "--auto-approve")
    if code != 0:
        pytest.fail(err)
    with emulated.remote() as remote:
        [first] = remote.push_tasks()
        body = {k: first[k] for k in ("name", "start_time", "frequency", "message")}
        remote.hood_post("/push-tasks", {**body, "status": 1})
    assert cli(capsys, "plan")[0] == 1
    code, out, err = cli(capsys, "apply", "--resolve-duplicates", "--auto-approve")
    assert code == 0, err
    with emulated.remote() as remote:
        tasks = {str(t["id"]): t for t in remote.push_tasks()}
    copy = next(t for i, t in tasks.items() if i != str(first["id"]))
    assert copy["name"] == "Daily (duplicate)" and int(copy["status"]) == 0
    assert cli(capsys, "plan", "--detailed-exitcode")[0] == 0
