"""The state folder ignores itself in git (hoodsync.statedir): a CI job that commits what changed
(``git add -A``) must never commit the sandbox's database, its secret plan key or journals."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from test_cli_plan import cli
from test_cli_projects import repo  # noqa: F401  (fixture)

from hoodsync.statedir import IGNORE_TEXT, make_folder


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
