"""Campaign statuses the docs show but do not model, and statuses they do not name (issue 13 §4),
end to end through ``hoodsync plan`` / ``apply``.

The campaign is created by hoodsync, then put into the status by the emulator's store helper (as
the API would on its own), then its labels are changed in git.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli_apply import rows
from test_cli_plan import Account, account, campaign_yaml, cli, emulated, write

from hoodsync.emulator.store import Store

#: (status, effective_status or None) — active with and without a refining effective status,
#: manual, and a word the docs never use.
CASES = [
    ("active", "active"),
    ("active", None),
    ("active", "running"),
    ("manual", None),
    ("archived", None),
]


def set_status(account: Account, name: str, status: str, effective: str | None) -> str:
    """Put the campaign named ``name`` into ``status``; return its id."""
    with account.remote() as remote:
        cid = str(remote.campaign(name)["id"])
    undocumented = status not in ("active", "manual")
    if account.emulator is not None:
        account.emulator.store.set_campaign_status(
            cid, status, effective_status=effective, undocumented=undocumented
        )
        return cid
    store = Store.open(Path(account.root) / ".hoodsync" / "sandbox.sqlite")
    try:
        store.set_campaign_status(
            cid, status, effective_status=effective, undocumented=undocumented
        )
    finally:
        store.close()
    return cid


@pytest.mark.parametrize(("status", "effective"), CASES)
def test_label_change_applies_in_any_status_and_the_next_plan_is_clean(
    account: Account, capsys: pytest.CaptureFixture[str], status: str, effective: str | None
) -> None:
    path = write(account.root, "c/promo.yaml", campaign_yaml("promo", "Promo"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    set_status(account, "Promo", status, effective)
    code, out, err = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0, out + err  # the status alone is no change

    path.write_text(campaign_yaml("promo", "Promo", labels="[a, c]"))
    code, out, err = cli(capsys, "plan", "--detailed-exitcode", "--no-color")
    assert code == 2, out + err
    assert "labels" in out and "error" not in out
    assert ("warning: " in out and f"'{status}'" in out) == (status == "archived")

    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 0, out + err
    assert rows(out)["campaign.promo"][:2] == ("update", "applied")
    with account.remote() as remote:
        item = remote.campaign("Promo")
    assert sorted(item["labels"].split(",")) == ["a", "c"]
    assert (item["status"], item["effective_status"]) == (status, effective or status)

    code, out, err = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes." in out, out + err


def test_active_running_campaign_is_edited_around_a_pause(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(account.root, "c/live.yaml", campaign_yaml("live", "Live"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    set_status(account, "Live", "active", "running")
    path.write_text(campaign_yaml("live", "Live", labels="[a, c]"))
    code, out, err = cli(capsys, "plan", "--no-color")
    assert code == 0 and "(running: pause, update, resume)" in out, out + err


def test_api_refusal_for_an_unknown_status_is_one_failed_change_and_the_rest_applies(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = write(emulated.root, "c/odd.yaml", campaign_yaml("odd", "Odd"))
    other = write(emulated.root, "c/other.yaml", campaign_yaml("other", "Other"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    set_status(emulated, "Odd", "archived", None)
    odd.write_text(campaign_yaml("odd", "Odd", extra="state: paused\n"))
    other.write_text(campaign_yaml("other", "Other", labels="[a, c]"))

    code, out, err = cli(capsys, "plan", "--detailed-exitcode", "--no-color")
    assert code == 2, out + err  # planned, with a warning; not a plan error
    assert "campaign.odd will be paused (archived -> paused)" in out
    assert "warning: " in out and "'archived'" in out

    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 1, out + err
    table = rows(out)
    action, result, detail = table["campaign.odd"]
    assert (action, result) == ("pause", "failed")
    assert "HTTP 400" in detail and "'archived' cannot be paused" in detail  # the API's answer
    assert table["campaign.other"][:2] == ("update", "applied")
    with emulated.remote() as remote:
        assert remote.campaign("Odd")["status"] == "archived"
        assert sorted(remote.campaign("Other")["labels"].split(",")) == ["a", "c"]


@pytest.mark.parametrize("status", ["active", "manual", "archived"])
def test_export_adopts_a_campaign_in_any_editable_status(
    emulated: Account, capsys: pytest.CaptureFixture[str], status: str
) -> None:
    with emulated.remote() as remote:
        remote.hood_post(
            "/campaigns",
            {
                "name": "Made in Hood",
                "labels": ["x"],
                "messages": [
                    {
                        "name": "Hi",
                        "channel": "push",
                        "push": {"title": {"en": "Hi"}, "landing_url": "https://example.com"},
                    }
                ],
            },
        )
    set_status(emulated, "Made in Hood", status, None)
    out_dir = emulated.root / "exported"
    code, out, err = cli(capsys, "export", "--out", str(out_dir))
    assert code == 0, err
    (exported,) = list(out_dir.rglob("*.yaml"))
    assert "\nkind: Campaign" in "\n" + exported.read_text()  # written live, not commented out

    code, out, err = cli(capsys, "plan", "--format", "json", str(out_dir))
    assert code == 0, err
    (planned,) = json.loads(out)["changes"]
    assert planned["action"] == "adopt" and [s["op"] for s in planned["steps"]] == ["patch"]
    code, out, err = cli(capsys, "apply", "--auto-approve", str(out_dir))
    assert code == 0, out + err
    code, out, err = cli(capsys, "plan", "--detailed-exitcode", str(out_dir))
    assert code == 0 and "No changes." in out, out + err
