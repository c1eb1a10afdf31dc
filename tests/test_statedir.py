"""The state folder ignores itself in git (hoodsync.statedir): a CI job that commits what changed
(``git add -A``) must never commit the sandbox's database, its secret plan key or journals."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EmulatorHandle
from test_cli_plan import campaign_yaml, cli, make_account, write
from test_cli_projects import repo  # noqa: F401  (fixture)

from hoodsync.statedir import IGNORE_TEXT, holding_folder, make_folder


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_what_plan_and_apply_keep_is_ignored_by_git(
    repo: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.rmtree(repo / ".git")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    code, _, err = cli(capsys, "apply", "--auto-approve", "examples")
    assert code == 0, err
    state = repo / "examples" / ".hoodsync"  # beside examples/hoodsync.yaml
    assert (state / ".gitignore").read_text() == IGNORE_TEXT
    assert any(state.glob("journal/*.jsonl")) and any(state.glob("*.sqlite"))
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status and ".hoodsync" not in status, status


def test_a_state_folder_made_by_someone_else_is_left_as_it_is(tmp_path: Path) -> None:
    (tmp_path / ".hoodsync").mkdir()
    make_folder(tmp_path / ".hoodsync" / "journal")
    assert not (tmp_path / ".hoodsync" / ".gitignore").exists()
    make_folder(tmp_path / "elsewhere" / ".hoodsync" / "journal")
    assert (tmp_path / "elsewhere" / ".hoodsync" / ".gitignore").read_text() == IGNORE_TEXT
    make_folder(tmp_path / "plain")
    assert not (tmp_path / "plain" / ".gitignore").exists()


def test_holding_folder_sees_through_dots_and_links(tmp_path: Path) -> None:
    state = tmp_path / ".hoodsync"
    (state / "journal").mkdir(parents=True)
    (tmp_path / "plan.json").symlink_to(state / "plan-key")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / ".hoodsync").symlink_to(tmp_path / "elsewhere")
    assert holding_folder(state) == state
    assert holding_folder(state / "journal" / "x.jsonl") == state
    assert holding_folder(tmp_path / "a" / ".." / ".hoodsync" / "sandbox.sqlite") == state
    assert holding_folder(tmp_path / "plan.json") == state
    assert holding_folder(tmp_path / "proj" / ".hoodsync" / "plan-key") is not None
    assert holding_folder(state / ".." / "plan.json.new") is None
    assert holding_folder(tmp_path / "hoodsync" / "plan.json") is None


@pytest.mark.parametrize(
    "argv",
    [
        ("plan", "--out", ".hoodsync/sandbox.sqlite"),
        ("plan", "--out", ".hoodsync/plan-key"),
        ("plan", "--out", "JOURNAL"),
        ("plan", "--preview", ".hoodsync/preview.html"),
        ("preview", "--out", ".hoodsync/sandbox.sqlite"),
        ("validate", "--codequality", ".hoodsync/plan-key"),
        ("schema", "--write", ".hoodsync/journal"),
        ("export", "--out", ".hoodsync"),
        ("pull", "--new", ".hoodsync/journal"),
    ],
)
def test_no_output_is_written_into_the_state_folder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
) -> None:
    """The sandbox's database, its plan key and an interrupted apply's journal are what the
    next run and the recovery rely on: an output named there is refused, nothing written."""
    root = make_account("sandbox", tmp_path, monkeypatch, make_emulator).root
    write(root, "c.yaml", campaign_yaml("one", "One"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0  # makes the plan key
    state = root / ".hoodsync"
    (journal,) = state.glob("journal/*.jsonl")
    before = {p: p.read_bytes() for p in state.rglob("*") if p.is_file()}
    target = str(journal.relative_to(root)) if argv[2] == "JOURNAL" else argv[2]
    code, out, err = cli(capsys, *argv[:2], target)
    assert code == 1 and err == (
        f"error: {argv[1]} {Path(target)}: that is in {state}, hoodsync's state folder (the "
        "sandbox, its plan key, the apply journals); choose a path outside it\n"
    )
    assert {p: p.read_bytes() for p in state.rglob("*") if p.is_file()} == before
