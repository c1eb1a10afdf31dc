"""A saved plan applies exactly what was reviewed, to the account it was made for (issue 12 §3).

``plan --out`` seals the plan with the account's credential (hoodsync.identity); ``apply --plan``
refuses, before a single request, a plan whose bytes were edited or whose credential differs —
even at the same URL, which every real account shares.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_cli_plan import Account, campaign_yaml, cli, emulated, write  # noqa: F401

from hoodsync.errors import PlanError
from hoodsync.identity import AccountKey, real_endpoint_key, seal, unseal


def _snapshot(account: Account) -> list[dict[str, Any]]:
    with account.remote() as remote:
        return sorted(remote.campaigns(), key=lambda c: str(c["id"]))


def _planned(account: Account, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Two applied campaigns, then a label edit of one saved as p.json."""
    write(account.root, "c/one.yaml", campaign_yaml("one", "One"))
    write(account.root, "c/two.yaml", campaign_yaml("two", "Two"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    write(account.root, "c/one.yaml", campaign_yaml("one", "One", labels="[a, c]"))
    assert cli(capsys, "plan", "--out", "p.json")[0] == 0
    return dict(json.loads((account.root / "p.json").read_text()))


def _other_id(account: Account) -> str:
    with account.remote() as remote:
        return str(remote.campaign("Two")["id"])


def _edit(doc: dict[str, Any], how: str, other_id: str) -> dict[str, Any]:
    change = doc["changes"][0]
    step = change["steps"][0]
    if how == "step id":  # would rename another campaign
        step["id"] = other_id
    elif how == "step op":  # an irreversible cancel instead of a label edit
        step["op"], step["body"] = "cancel", {"reason": "x"}
    elif how == "step body":
        step["body"] = {"name": "Hijacked"}
    elif how == "action":
        change["action"] = "cancel"
    elif how == "fingerprint":
        change["fingerprint"] = "0" * 64
    elif how == "env template":
        step["body"] = {"labels": "${env:HOME}"}
    elif how == "options":
        doc["options"]["prune"] = True
    elif how == "seal removed":
        del doc["seal"]
    return doc


TAMPERING = [
    "step id",
    "step op",
    "step body",
    "action",
    "fingerprint",
    "env template",
    "options",
    "seal removed",
]


@pytest.mark.parametrize("how", TAMPERING)
def test_an_edited_plan_is_refused_with_zero_writes(
    emulated: Account,
    capsys: pytest.CaptureFixture[str],
    how: str,
) -> None:
    doc = _planned(emulated, capsys)
    before = _snapshot(emulated)
    write(emulated.root, "p.json", json.dumps(_edit(doc, how, _other_id(emulated)), indent=2))
    code, out, err = cli(capsys, "apply", "--plan", "p.json", "--auto-approve")
    assert code == 1
    assert "modified" in err and "nothing was applied" in err
    assert "Traceback" not in err and out == ""
    assert _snapshot(emulated) == before


@pytest.mark.parametrize(
    "what, expected",
    [
        ("fifo", "not a regular file"),
        ("device", "not a regular file"),
        ("deep", "nested too deeply"),
        ("change is a string", "was modified or made by another program"),
        ("account is a string", "was modified or made by another program"),
        ("a list", "format_version"),
    ],
)
def test_what_is_not_a_saved_plan_is_refused_in_one_line_without_waiting(
    emulated: Account, capsys: pytest.CaptureFixture[str], what: str, expected: str
) -> None:
    """A FIFO would block reading for ever, a device never end (``/dev/zero`` filled the
    memory), deep nesting overflowed the parser's stack: each is one line, exit 1, nothing
    written, before any request."""
    doc = _planned(emulated, capsys)
    before = _snapshot(emulated)
    target = emulated.root / "p2.json"
    if what == "fifo":
        os.mkfifo(target)
    elif what == "device":
        target.symlink_to("/dev/zero")
    elif what == "deep":
        target.write_text("[" * 100_000 + "]" * 100_000)
    elif what == "a list":
        target.write_text("[]")
    else:
        if what == "change is a string":
            doc["changes"][0] = "x"
        else:
            doc["account"] = "default"
        target.write_text(json.dumps(doc))
    code, out, err = cli(capsys, "apply", "--plan", "p2.json", "--auto-approve")
    assert code == 1 and out == "" and "Traceback" not in err
    assert expected in err and len(err.strip().splitlines()) == 1, err
    assert _snapshot(emulated) == before


def test_the_untouched_plan_still_applies_and_reformatting_is_not_an_edit(
    emulated: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = _planned(emulated, capsys)
    write(emulated.root, "p.json", json.dumps(doc, indent=None, sort_keys=False))  # same content
    code, out, err = cli(capsys, "apply", "--plan", "p.json", "--auto-approve")
    assert code == 0, err
    with emulated.remote() as remote:
        assert remote.campaign("One")["labels"] in ("a,c", ["a", "c"])


def test_a_plan_made_with_another_accounts_token_at_the_same_url_is_refused(
    emulated: Account,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _planned(emulated, capsys)
    before = _snapshot(emulated)
    monkeypatch.setenv("HOOD_API_TOKEN", "another-accounts-token")
    code, _, err = cli(capsys, "apply", "--plan", "p.json", "--auto-approve")
    assert code == 1
    assert "was made for another account" in err and "nothing was applied" in err
    assert "another-accounts-token" not in err
    assert _snapshot(emulated) == before


def test_the_sandbox_seals_its_plans_too(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    monkeypatch.chdir(root)
    for var in ("HOOD_API_URL", "HOOD_API_TOKEN", "FALCONYTE_API_URL", "FALCONYTE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    write(root, "c/one.yaml", campaign_yaml("one", "One"))
    assert cli(capsys, "plan", "--out", "p.json")[0] == 0
    key_file = root / ".hoodsync" / "plan-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    doc = json.loads((root / "p.json").read_text())
    doc["changes"][0]["steps"][0]["body"]["name"] = "Other"
    write(root, "edited.json", json.dumps(doc))
    code, _, err = cli(capsys, "apply", "--plan", "edited.json", "--auto-approve")
    assert code == 1 and "was modified" in err
    assert cli(capsys, "apply", "--plan", "p.json", "--auto-approve")[0] == 0

    # A sandbox made anew has a new plan key: the message says so, beside "modified".
    write(root, "c/two.yaml", campaign_yaml("two", "Two"))
    assert cli(capsys, "plan", "--out", "p2.json")[0] == 0
    key_file.unlink()
    code, _, err = cli(capsys, "apply", "--plan", "p2.json", "--auto-approve")
    assert code == 1 and "was modified" in err
    assert "or the sandbox's plan key (" in err and "plan-key) was made anew since" in err


def test_identity_and_seal_reveal_nothing_and_bind_every_byte() -> None:
    token = "s3cr3t-token-value"
    key = AccountKey((real_endpoint_key("hood", "https://api.example.test/v1/hood", token),))
    assert token not in repr(key)
    doc = seal({"format_version": 1, "changes": [{"a": 1}]}, key)
    assert token not in json.dumps(doc)
    unseal(doc, key, "p.json")  # untouched: accepted
    for edited in ({**doc, "changes": [{"a": 2}]}, {**doc, "extra": True}):
        with pytest.raises(PlanError, match="was modified"):
            unseal(edited, key, "p.json")
    other = AccountKey((real_endpoint_key("hood", "https://api.example.test/v1/hood", "x"),))
    with pytest.raises(PlanError, match="another account"):
        unseal(doc, other, "p.json")
    elsewhere = AccountKey(
        (real_endpoint_key("hood", "https://other.example.test/v1/hood", token),)
    )
    assert elsewhere.identities() != key.identities()
