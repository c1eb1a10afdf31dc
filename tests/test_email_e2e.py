"""Falconyte email campaigns end to end (issue 7 "Done when"), through the CLI, against the
emulator over loopback and against the sandbox."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import EmulatorHandle
from test_cli_plan import (
    Account,
    account,
    campaign_yaml,
    cli,
    email_yaml,
    make_account,
    plan_json,
    write,
)

_ = account  # the parametrised fixture (emulator, sandbox)


def enabled(campaign: dict[str, Any]) -> bool:
    return bool(campaign["draft_data"]["send_data"]["event_triggered_send"]["enabled"])


def result_id(out: str, address: str) -> str:
    match = re.search(rf"^{re.escape(address)}\s+\S+\s+applied\s+(\S+)$", out, re.M)
    assert match, out
    return match[1]


def test_create_stop_start_and_replace(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(account.root, "email/welcome.yaml", email_yaml("welcome", "Welcome flow"))

    code, out, _ = cli(capsys, "apply", "--auto-approve")
    assert code == 0
    first = result_id(out, "email_campaign.welcome")
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes." in out

    # state: stopped → stop; then active again → start. Each leaves a clean plan.
    for state, action, want in (("stopped", "stop", False), ("active", "start", True)):
        path.write_text(email_yaml("welcome", "Welcome flow", state=state))
        doc = plan_json(capsys)
        assert [(c["address"], c["action"]) for c in doc["changes"]] == [
            ("email_campaign.welcome", action)
        ]
        assert cli(capsys, "apply", "--auto-approve")[0] == 0
        with account.remote() as remote:
            [campaign] = remote.email_campaigns()
            assert enabled(campaign) is want
        assert cli(capsys, "plan", "--detailed-exitcode")[0] == 0

    # A spec change needs a new campaign: refused without --allow-replace.
    path.write_text(email_yaml("welcome", "Welcome flow", events="[contact.saved, lead.created]"))
    code, out, err = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 1
    assert "the Falconyte API has no update" in out and "--allow-replace" in out
    assert "the plan has errors" in err
    code, _, err = cli(capsys, "apply", "--auto-approve")
    assert code == 1 and "nothing was applied" in err
    with account.remote() as remote:
        assert [c["id"] for c in remote.email_campaigns()] == [first]

    # With it: the plan says what will happen, and apply does exactly that.
    doc = plan_json(capsys, "--allow-replace")
    [change] = doc["changes"]
    assert (change["action"], change["name"], change["remote_id"]) == (
        "replace",
        "Welcome flow",
        first,
    )
    assert [s["op"] for s in change["steps"]] == ["create", "stop"]
    code, out, _ = cli(capsys, "apply", "--auto-approve", "--allow-replace")
    assert code == 0
    new = result_id(out, "email_campaign.welcome")
    assert new != first  # the result names the NEW campaign
    with account.remote() as remote:
        by_id = {c["id"]: c for c in remote.email_campaigns()}
    assert set(by_id) == {first, new}
    assert {c["name"] for c in by_id.values()} == {"Welcome flow"}
    assert enabled(by_id[new]) and not enabled(by_id[first])
    assert sorted(by_id[new]["draft_data"]["send_data"]["event_triggered_send"]["events"]) == [
        "contact.saved",
        "lead.created",
    ]
    doc = plan_json(capsys)
    assert doc["changes"] == [] and [s["id"] for s in doc["superseded"]] == [first]


def test_lost_create_answers_are_not_duplicated(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every create is committed and its answer dropped: the client lists before sending again
    and finds it by name, for a first create and for a replacement's create alike. (A create
    that did NOT happen while an older campaign has the name: tests/test_apply.py.)"""
    acc = make_account("emulator", tmp_path, monkeypatch, make_emulator, drop_after_commit_rate=1.0)
    path = write(acc.root, "email/welcome.yaml", email_yaml("welcome", "Welcome flow"))
    code, out, _ = cli(capsys, "apply", "--auto-approve")
    assert code == 0
    with acc.remote() as remote:
        [first] = remote.email_campaigns()
    assert result_id(out, "email_campaign.welcome") == first["id"]

    path.write_text(email_yaml("welcome", "Welcome flow", events="[sale.created]"))
    code, out, _ = cli(capsys, "apply", "--auto-approve", "--allow-replace")
    assert code == 0
    with acc.remote() as remote:
        campaigns = remote.email_campaigns()
    assert len(campaigns) == 2
    [new] = [c for c in campaigns if c["id"] != first["id"]]
    assert result_id(out, "email_campaign.welcome") == new["id"]
    assert enabled(new) and not enabled(next(c for c in campaigns if c["id"] == first["id"]))
    assert cli(capsys, "plan", "--detailed-exitcode")[0] == 0


def test_falconyte_key_is_needed_only_by_plans_with_email_campaigns(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    acc = make_account("emulator", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("FALCONYTE_API_URL", "https://api.falconyte.example/public/v1")
    monkeypatch.delenv("FALCONYTE_API_KEY")
    write(acc.root, "c/one.yaml", campaign_yaml("one", "One"))
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 2 and "campaign.one" in out

    # With an email campaign, the missing key is reported before any request to either API:
    # both URLs point at a socket that would see any connection.
    with socket.socket() as trap:
        trap.bind(("127.0.0.1", 0))
        trap.listen(8)
        url = f"http://127.0.0.1:{trap.getsockname()[1]}"
        monkeypatch.setenv("HOOD_API_URL", url + "/v1/hood")
        monkeypatch.setenv("FALCONYTE_API_URL", url + "/public/v1")
        write(acc.root, "email/welcome.yaml", email_yaml("welcome", "Welcome flow"))
        for argv in (["plan"], ["apply", "--auto-approve"]):
            code, out, err = cli(capsys, *argv)
            assert code == 1
            assert "FALCONYTE_API_KEY is not set" in err
            assert out == ""
        trap.setblocking(False)
        with pytest.raises(BlockingIOError):
            trap.accept()  # nobody connected


def test_replacement_cut_off_before_the_stop_is_finished_by_the_next_apply(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """A replace is create-new then stop-old; if the apply dies between the two, two active
    campaigns share the name. Issue 7: the next plan is an error that says so and names
    --allow-replace; with it, the plan stops the old one and the account converges."""
    write(
        account.root,
        "email/welcome.yaml",
        email_yaml("welcome", "Welcome flow", events="[lead.created]"),
    )
    with account.remote() as remote:  # the state a killed replace leaves behind
        for events in (["contact.saved"], ["lead.created"]):
            remote.falconyte_post(
                "/email/campaigns",
                {
                    "name": "Welcome flow",
                    "template_ids": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
                    "mail_account_ids": ["8f14e45f-ceea-467f-a0e6-1b2d3c4d5e6f"],
                    "events": events,
                },
            )
        older = remote.email_campaigns()[0]["id"]
    code, out, err = cli(capsys, "plan")
    assert code == 1 and "interrupted" in out + err and "--allow-replace" in out + err
    doc = plan_json(capsys, "--allow-replace")
    [change] = doc["changes"]
    assert change["action"] == "stop" and [s["id"] for s in change["steps"]] == [older]
    assert doc["superseded"] == []  # the old one is being stopped, not yet superseded
    assert cli(capsys, "apply", "--auto-approve", "--allow-replace")[0] == 0
    with account.remote() as remote:
        states = {c["id"]: enabled(c) for c in remote.email_campaigns()}
    assert states[older] is False and sum(states.values()) == 1
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes." in out
