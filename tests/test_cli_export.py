"""`hoodsync export` through the CLI (issue 8 "Done when"): apply examples/ (then remove their
files: export leaves out what the project's definitions manage), remove the markers, export, plan
the export — only adopts, no updates, no creates; then the plan of the export is clean. Its editor
schema lines (issue 15 §5) resolve, from each file, to the schemas `hoodsync schema --write` puts
in the repository, and yaml-language-server (when installed) checks the files. In a project,
export writes only what no definition manages; outside any, it reads no file below the working
directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import EmulatorHandle
from test_cli_plan import (  # noqa: F401 (a fixture)
    FAST,
    Account,
    campaign_yaml,
    cli,
    copy_examples,
    emulated,
    write,
)
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


def _applied_elsewhere(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    """The examples applied to the account, then their files removed: the account holds
    objects of which the project has no definition (the ones it has, export leaves out)."""
    copy_examples(account.root)
    code, _, err = cli(capsys, "apply", "--auto-approve")
    assert code == 0, err
    for folder in ("campaigns", "push-tasks", "email"):
        shutil.rmtree(account.root / folder)


def test_export_then_plan_shows_only_adopts(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    account = emulated  # raw HTTP below would trip the sandbox's real rate limits
    _applied_elsewhere(account, capsys)
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
    _applied_elsewhere(account, capsys)
    out_dir = tmp_path / "exported"  # outside the project: its files are no definitions of it
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
    _applied_elsewhere(account, capsys)

    code, _, err = cli(capsys, "export", "--out", "exported")
    assert code == 0, err
    # Nothing to point at yet: export says how to write the schemas.
    assert "`hoodsync schema --write schemas`" in err
    targets = _schema_targets(account.root / "exported")
    assert len(targets) == 18
    for path, target in targets.items():
        assert target == account.root / "schemas" / KIND_SCHEMAS[path.parent.name], path
        assert not target.exists()

    def export_again() -> str:
        # The files exported are the project's definitions now, and export leaves out what
        # they manage: without them, the account's objects are no definition's again.
        shutil.rmtree(account.root / "exported")
        code, _, err = cli(capsys, "export", "--out", "exported")
        assert code == 0 and "Wrote 18 file(s)" in err, err
        return err

    code, _, err = cli(capsys, "schema", "--write", "schemas")
    assert code == 0, err
    assert all(target.is_file() for target in targets.values())
    assert "schema --write" not in export_again()

    # Schemas of another hoodsync version: the same advice; a file that is no hoodsync schema
    # cannot be replaced by it, so the advice is another folder.
    older = account.root / "schemas" / "push_task.json"
    older.write_text(
        older.read_text(encoding="utf-8").replace('"description"', '"$comment"', 1),
        encoding="utf-8",
    )
    assert "`hoodsync schema --write schemas`" in export_again()
    older.write_text("{}", encoding="utf-8")
    err = export_again()
    assert "schema --write" not in err and "--schemas" in err


def test_export_points_at_another_schemas_folder_from_any_depth(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    account = emulated
    _applied_elsewhere(account, capsys)
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
    _applied_elsewhere(account, capsys)
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


# --- what the project already has (export in a project; export outside any) --------------------


def _task_yaml(key: str, name: str) -> str:
    return f"""\
kind: PushTask
key: {key}
state: inactive
spec:
  name: {name}
  frequency: 3600
  start_time: "2030-01-01 12:00:00"
  message: {{title: {{en: Hi}}, body: {{en: News}}, landing_url: "https://example.com/"}}
"""


def _hand_made(name: str, title: str = "Hi") -> dict[str, Any]:
    """A campaign made in the Hood UI: no hoodsync marker."""
    push = {"title": {"en": title}, "landing_url": "https://example.com"}
    return {"name": name, "messages": [{"name": "Hi", "channel": "push", "push": push}]}


def test_export_in_a_project_writes_only_what_no_definition_manages(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """campaign.x (applied: matched by its marker), campaign.z (matched by name: the plan
    adopts the unmarked "Zed") and push task "Morning news" (by name) are the project's; "Y"
    and "Evening news" (its definition deleted) are no definition's. Export writes those two
    only and counts the others per kind; the plan of the whole project, export included, then
    adopts Y and Zed. Before, export wrote all five, x.yaml with the key x again, and that plan
    failed on the duplicate key."""
    root = emulated.root
    write(root, "defs/x.yaml", campaign_yaml("x", "X"))
    write(root, "defs/morning.yaml", _task_yaml("morning", "Morning news"))
    evening = write(root, "defs/evening.yaml", _task_yaml("evening", "Evening news"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    evening.unlink()  # a push task carries no marker: now no definition's
    with emulated.remote() as remote:
        for name in ("Y", "Zed"):
            remote.hood_post("/campaigns", _hand_made(name))
    write(root, "defs/z.yaml", campaign_yaml("z", "Zed"))

    code, out, err = cli(capsys, "export", "--out", "exported")
    assert code == 0, err
    written = sorted(p.relative_to(root).as_posix() for p in root.glob("exported/*/*.yaml"))
    assert written == ["exported/campaigns/y.yaml", "exported/push-tasks/evening-news.yaml"]
    assert out.splitlines() == [
        str(Path("exported", p)) for p in ("campaigns/y.yaml", "push-tasks/evening-news.yaml")
    ]
    assert "2 campaign(s) already managed by the project were not written." in err.splitlines()
    assert "1 push task(s) already managed by the project were not written." in err.splitlines()
    assert "email campaign" not in err  # nothing of that kind: no line

    code, out, err = cli(capsys, "plan", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    changes = sorted((c["action"], c["address"]) for c in doc["changes"])
    assert changes == [("adopt", "campaign.y"), ("adopt", "campaign.z")], err
    assert doc["counts"]["unmanaged"] == 0


#: Runs ``hoodsync ARGV`` (argv[2:]) and writes every path it opened or listed, as JSON, into
#: argv[1]: the interpreter's audit events, so nothing of hoodsync is replaced.
_WATCHED = """\
import atexit, json, os, sys
seen = []
def watch(event, args):
    if event in ("open", "os.scandir", "os.listdir") and args:
        if isinstance(args[0], (str, bytes, os.PathLike)):
            seen.append(os.path.abspath(os.fsdecode(args[0])))
sys.addaudithook(watch)
report = sys.argv[1]
atexit.register(lambda: open(report, "w").write(json.dumps(seen)))
from hoodsync.cli import main
main(sys.argv[2:])
"""


def _watched_export(
    emulator: EmulatorHandle, cwd: Path, *argv: str, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """``hoodsync export ARGV`` run from ``cwd`` against ``emulator``, in a process of its own;
    what it did and every path it opened or listed."""
    report = cwd.parent / "opened.json"
    done = subprocess.run(
        # -P: the working directory is not put on sys.path (the import system would list it)
        [sys.executable, "-P", "-c", _WATCHED, str(report), "export", *argv],
        cwd=cwd,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("HOOD", "FALCONYTE"))},
            "HOOD_API_URL": emulator.hood_url,
            "HOOD_API_TOKEN": emulator.hood_token,
            "FALCONYTE_API_URL": emulator.falconyte_url,
            "FALCONYTE_API_KEY": emulator.falconyte_key,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, json.loads(report.read_text())


def _in_no_project(folder: Path) -> None:
    for above in (folder, *folder.parents):
        assert not any((above / n).exists() for n in (".git", "hoodsync.yaml", "hoodsync.yml"))


def test_export_outside_any_project_reads_no_yaml_below_the_working_directory(
    tmp_path: Path, make_emulator: Callable[..., EmulatorHandle]
) -> None:
    """No hoodsync.yaml and no .git above the working directory: no definitions, no project
    variables. An unrelated file there that reads ${env:FOO} is not read, and the campaign
    holding FOO's value is written (exit 0). Before, export loaded every YAML file below the
    working directory (13.7 s from /) and kept that campaign back (exit 1)."""
    loose = tmp_path / "loose"
    unrelated = write(loose, "deploy/compose.yaml", "app: {environment: {FOO: '${env:FOO}'}}\n")
    _in_no_project(loose)
    emulator = make_emulator(**FAST)
    with emulator.hood_client() as hood:
        answer = hood.post("/campaigns", json=_hand_made("Launch", "Use launch-code-4711"))
        assert answer.status_code < 300, answer.text

    done, seen = _watched_export(
        emulator, loose, "--kind", "Campaign", "--out", "out", env={"FOO": "launch-code-4711"}
    )
    assert done.returncode == 0, done.stderr
    assert "launch-code-4711" in (loose / "out" / "campaigns" / "launch.yaml").read_text()
    assert "already managed" not in done.stderr
    assert not [p for p in seen if Path(p) in (loose, unrelated.parent, unrelated)]


def test_export_from_outside_into_a_project_never_writes_its_variables_values(
    tmp_path: Path, make_emulator: Callable[..., EmulatorHandle]
) -> None:
    """Run from no project, with --out inside one: the files land in that project, so a value
    of a variable its definitions interpolate is not written there (the campaign is kept back,
    exit 1), and nothing outside that project is read."""
    loose = tmp_path / "loose"
    write(loose, "deploy/compose.yaml", "app: {environment: {FOO: '${env:FOO}'}}\n")
    _in_no_project(loose)
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(
        repo, "promo.yaml", campaign_yaml("promo", "Promo").replace("Hello Promo", "${env:PROMO}")
    )
    emulator = make_emulator(**FAST)
    with emulator.hood_client() as hood:
        for name, title in (("Plain", "Hi"), ("Pasted", "Use launch-code-4711")):
            answer = hood.post("/campaigns", json=_hand_made(name, title))
            assert answer.status_code < 300, answer.text

    done, seen = _watched_export(
        emulator,
        loose,
        "--kind",
        "Campaign",
        "--out",
        str(repo / "imported"),
        env={"PROMO": "launch-code-4711", "FOO": "Plain"},
    )
    assert done.returncode == 1, done.stderr
    assert "holds the value of ${env:PROMO}" in done.stderr
    assert "launch-code-4711" not in done.stdout + done.stderr
    assert sorted(p.name for p in repo.glob("imported/*/*.yaml")) == ["plain.yaml"]
    assert not [p for p in seen if Path(p).is_relative_to(loose / "deploy")]
