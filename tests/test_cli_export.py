"""`hoodsync export` through the CLI (issue 8 "Done when"): apply examples/, remove the markers,
export, plan the export — only adopts, no updates, no creates; then the plan of the export is clean.
Its editor schema lines (issue 15 §5) resolve, from each file, to the schemas `hoodsync schema
--write` puts in the repository, and yaml-language-server (when installed) checks the files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli_plan import Account, cli, copy_examples, emulated  # noqa: F401 (a fixture)
from yaml_ls import language_server


def _remove_markers(account: Account) -> int:
    with account.remote() as remote:
        campaigns = remote.campaigns()
        for campaign in campaigns:
            path = f"/campaigns/{campaign['id']}"
            running = campaign["status"] == "running"  # the API refuses edits while running
            if running:
                remote.hood_post(path + "/pause", {})
            response = remote.hood.patch(
                path, json={"metadata": {"hoodsync_key": None, "hoodsync_hash": None}}
            )
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
    assert all(
        c["diff"] == [] or all(d["path"].startswith("metadata") for d in c["diff"])
        for c in doc["changes"]
    )
    assert doc["counts"]["unmanaged"] == 0

    code, _, err = cli(capsys, "apply", "--auto-approve", str(out_dir))
    assert code == 0, err
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode", str(out_dir))
    assert code == 0 and "No changes." in out


def test_export_ends_with_the_check_that_works_under_accounts_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under a hoodsync.yaml whose account lists paths:, an export outside them cannot be
    planned as it is: the last line says what to do first (export.check_hint)."""
    monkeypatch.chdir(tmp_path)
    for var in ("HOOD_API_URL", "HOOD_API_TOKEN", "FALCONYTE_API_URL", "FALCONYTE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / ".git").mkdir()
    (tmp_path / "defs").mkdir()
    (tmp_path / "hoodsync.yaml").write_text(
        "accounts:\n  default:\n    hood: {url: sandbox}\n    paths: [defs/]\n", encoding="utf-8"
    )
    code, _, err = cli(capsys, "export", "--out", "exported", "--kind", "Campaign")
    assert code == 0, err
    [wrote] = [line for line in err.splitlines() if line.startswith("Wrote ")]
    assert "Before planning them: exported is under no account's paths: in " in wrote, err
    assert "First move the files into default's paths (defs/), then check with " in wrote
    assert "Check with `hoodsync plan exported`" not in err  # it would fail as it is


def test_export_refuses_to_overwrite(
    emulated: Account, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    account = emulated
    copy_examples(account.root)
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    out_dir = account.root / "exported"
    assert cli(capsys, "export", "--kind", "Campaign", "--out", str(out_dir))[0] == 0
    code, _, err = cli(capsys, "export", "--kind", "campaign", "--out", str(out_dir))
    assert code == 1 and "--overwrite" in err
    assert cli(capsys, "export", "--kind", "campaign", "--out", str(out_dir), "--overwrite")[0] == 0
    assert not (out_dir / "push-tasks").exists()


# --- editor schema lines (issue 15 §5) ----------------------------------------------------------

KIND_SCHEMAS = {
    "campaigns": "campaign.json",
    "push-tasks": "push_task.json",
    "email": "email_campaign.json",
}


def _schema_targets(out_dir: Path) -> dict[Path, Path]:
    """Every exported file and the file its first line (the editor's schema line) resolves to,
    from the file's own folder, as an editor resolves it."""
    targets = {}
    for path in sorted(out_dir.rglob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        prefix = "# yaml-language-server: $schema="
        assert first.startswith(prefix), path
        targets[path] = (path.parent / first.removeprefix(prefix)).resolve()
    return targets


def test_exported_schema_lines_resolve_to_the_schemas_folder_once_written(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    account = emulated  # the working directory is account.root, the repository root
    copy_examples(account.root)
    assert cli(capsys, "apply", "--auto-approve")[0] == 0

    code, _, err = cli(capsys, "export", "--out", "exported")
    assert code == 0, err
    # Nothing to point at yet: export says how to write the schemas.
    assert "`hoodsync schema --write schemas`" in err
    targets = _schema_targets(account.root / "exported")
    assert len(targets) == 18
    for path, target in targets.items():
        assert target == account.root / "schemas" / KIND_SCHEMAS[path.parent.name], path
        assert not target.exists()

    code, _, err = cli(capsys, "schema", "--write", "schemas")
    assert code == 0, err
    assert all(target.is_file() for target in targets.values())
    code, _, err = cli(capsys, "export", "--out", "exported", "--overwrite")
    assert code == 0 and "schema --write" not in err

    # Schemas of another hoodsync version: the same advice; a file that is no hoodsync schema
    # cannot be replaced by it, so the advice is another folder.
    older = account.root / "schemas" / "push_task.json"
    older.write_text(
        older.read_text(encoding="utf-8").replace('"description"', '"$comment"', 1),
        encoding="utf-8",
    )
    code, _, err = cli(capsys, "export", "--out", "exported", "--overwrite")
    assert code == 0 and "`hoodsync schema --write schemas`" in err
    older.write_text("{}", encoding="utf-8")
    code, _, err = cli(capsys, "export", "--out", "exported", "--overwrite")
    assert code == 0 and "schema --write" not in err and "--schemas" in err


def test_export_points_at_another_schemas_folder_from_any_depth(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    account = emulated
    copy_examples(account.root)
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    assert cli(capsys, "schema", "--write", "tools/json-schemas")[0] == 0
    out_dir = account.root / "accounts" / "main"
    code, _, err = cli(
        capsys,
        "export",
        "--kind",
        "PushTask",
        "--out",
        str(out_dir),
        "--schemas",
        "tools/json-schemas",
    )
    assert code == 0, err
    assert "schema --write" not in err  # the schemas are there
    targets = _schema_targets(out_dir)
    assert targets and all(
        t == account.root / "tools" / "json-schemas" / "push_task.json" for t in targets.values()
    )
    first = next(iter(targets)).read_text(encoding="utf-8").splitlines()[0]
    assert first.endswith("=../../../tools/json-schemas/push_task.json")

    # Editors read the path up to the first space: such a folder is refused, nothing written.
    code, out, err = cli(capsys, "export", "--out", "other", "--schemas", "json schemas")
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "space" in err
    assert not (account.root / "other").exists()


def test_the_language_server_accepts_an_export_and_flags_a_bad_key_in_it(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    account = emulated
    copy_examples(account.root)
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    assert cli(capsys, "export", "--out", "exported")[0] == 0
    assert cli(capsys, "schema", "--write", "schemas")[0] == 0
    files = sorted((account.root / "exported").rglob("*.yaml"))
    texts = {p: p.read_text(encoding="utf-8") for p in files}
    probe = files[0].with_name("probe.yaml")
    bad = texts[files[0]].replace("\nkey: ", "\nno_such_key: 1\nkey: ", 1)
    with language_server(account.root) as server:
        found = server.diagnostics([*texts.items(), (probe, bad)])
    assert {p.name: d for p, d in found.items() if p != probe and d} == {}
    assert [d["range"]["start"]["line"] for d in found[probe]] == [
        bad.splitlines().index("no_such_key: 1")
    ]
