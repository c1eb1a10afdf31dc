"""`hoodsync export` through the CLI (issue 8 "Done when"): apply examples/, remove the markers,
export, plan the export — only adopts, no updates, no creates; then the plan of the export is clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_cli_plan import Account, cli, copy_examples, emulated  # noqa: F401 (a fixture)


def _remove_markers(account: Account) -> int:
    with account.remote() as remote:
        campaigns = remote.campaigns()
        for campaign in campaigns:
            path = f"/campaigns/{campaign['id']}"
            running = campaign["status"] == "running"  # the API refuses edits while running
            if running:
                remote.hood_post(path + "/pause", {})
            response = remote.hood.patch(path, json={"metadata": {"hoodsync_key": None,
                                                                  "hoodsync_hash": None}})
            assert response.status_code == 204, response.text
            if running:
                remote.hood_post(path + "/resume", {})
        return len(campaigns)


def test_export_then_plan_shows_only_adopts(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    account = emulated  # raw HTTP below would trip the sandbox's real rate limits
    copy_examples(account.root)
    code, _, err = cli(capsys, "apply", "--auto-approve")
    assert code == 0, err
    campaigns = _remove_markers(account)

    out_dir = account.root / "exported"
    code, out, err = cli(capsys, "export", "--out", str(out_dir))
    assert code == 0, err
    assert len(out.splitlines()) == 18 and "Wrote 18 file(s)" in err

    code, out, err = cli(capsys, "plan", "--format", "json", str(out_dir))
    assert code == 0, err
    doc = json.loads(out)
    actions = [c["action"] for c in doc["changes"]]
    assert actions == ["adopt"] * campaigns
    assert all(c["diff"] == [] or all(d["path"].startswith("metadata") for d in c["diff"])
               for c in doc["changes"])
    assert doc["counts"]["unmanaged"] == 0

    code, _, err = cli(capsys, "apply", "--auto-approve", str(out_dir))
    assert code == 0, err
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode", str(out_dir))
    assert code == 0 and "No changes." in out


def test_export_refuses_to_overwrite(emulated: Account, capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    account = emulated
    copy_examples(account.root)
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    out_dir = account.root / "exported"
    assert cli(capsys, "export", "--kind", "Campaign", "--out", str(out_dir))[0] == 0
    code, _, err = cli(capsys, "export", "--kind", "campaign", "--out", str(out_dir))
    assert code == 1 and "--overwrite" in err
    assert cli(capsys, "export", "--kind", "campaign", "--out", str(out_dir), "--overwrite")[0] == 0
    assert not (out_dir / "push-tasks").exists()
