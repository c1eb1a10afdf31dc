"""The state folder ignores itself in git (hoodsync.statedir): a CI job that commits what changed
(``git add -A``) must never commit the sandbox's database, its secret plan key or journals."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EmulatorHandle
from test_cli_plan import Account, campaign_yaml, cli, emulated, make_account, write
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


# ------------------------------------------------------------------ where the state folder is


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_emulator: Callable[..., EmulatorHandle]
) -> Account:
    """A sandbox account in ``tmp_path/repo`` (a repository, no hoodsync.yaml) holding
    ``c/one.yaml``; the working directory is the folder above it."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    write(acc.root, "c/one.yaml", campaign_yaml("one", "One"))
    monkeypatch.chdir(tmp_path)
    return acc


def test_the_sandbox_and_journals_are_the_projects_whichever_folder_runs(
    project: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without hoodsync.yaml, an apply of a file of the project run from the folder above it
    keeps its sandbox and journal in the project's state folder: a plan run inside the project
    (no PATHS), or of the folder, sees the same sandbox account."""
    state, parent = project.root / ".hoodsync", project.root.parent
    code, _, err = cli(capsys, "apply", "--auto-approve", "repo/c/one.yaml")
    assert code == 0, err
    assert (state / "sandbox.sqlite").is_file() and any(state.glob("journal/*.jsonl"))
    assert not (parent / ".hoodsync").exists()
    monkeypatch.chdir(project.root / "c")
    assert cli(capsys, "plan", "--detailed-exitcode")[0] == 0  # no changes
    monkeypatch.chdir(parent)
    assert cli(capsys, "plan", "--detailed-exitcode", "repo/c", "repo/c/one.yaml")[0] == 0
    assert not (project.root / "c" / ".hoodsync").exists()
    with project.remote() as remote:
        assert [c["name"] for c in remote.campaigns()] == ["One"]


def test_a_saved_plan_is_applied_with_the_state_folder_it_was_made_with(
    project: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`plan repo --out` from the folder above the project, `apply --plan` (no PATHS) from a
    folder outside it: the saved plan records its state folder, so the apply uses the sandbox
    it was planned against (its seal is checked with that sandbox's key) and journals there."""
    state, parent = project.root / ".hoodsync", project.root.parent
    assert cli(capsys, "plan", "repo", "--out", "plan.json")[0] == 0
    saved = json.loads((parent / "plan.json").read_text())
    assert saved["state_folder"] == str(state)
    (parent / "elsewhere").mkdir()
    monkeypatch.chdir(parent / "elsewhere")
    code, out, err = cli(capsys, "apply", "--auto-approve", "--plan", "../plan.json")
    assert code == 0, err
    assert "Apply complete: 1 applied" in out
    assert any(state.glob("journal/*.jsonl"))
    assert not (parent / "elsewhere" / ".hoodsync").exists()
    with project.remote() as remote:
        assert [c["name"] for c in remote.campaigns()] == ["One"]


def test_a_saved_plan_whose_state_folder_was_edited_is_refused(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """The recorded state folder is under the seal: pointing it at another project's journals
    makes the plan "modified", refused before anything is sent or made there."""
    acc = emulated
    write(acc.root, "c/one.yaml", campaign_yaml("one", "One"))
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0
    saved = json.loads((acc.root / "plan.json").read_text())
    other = acc.root.parent / "other"
    other.mkdir()
    saved["state_folder"] = str(other / ".hoodsync")
    (acc.root / "plan.json").write_text(json.dumps(saved))
    code, out, err = cli(capsys, "apply", "--auto-approve", "--plan", "plan.json")
    assert code == 1 and "plan.json was modified after it was written" in err
    assert not (other / ".hoodsync").exists()
    with acc.remote() as remote:
        assert remote.campaigns() == []


def test_an_edited_state_folder_of_a_sandbox_plan_gets_nothing_written_in_it(
    project: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sandbox's seal key is a file in its state folder: checking the seal of a plan whose
    recorded folder was edited must not make that file (nor the folder) where it points."""
    repo = str(project.root)
    assert cli(capsys, "plan", repo, "--out", f"{repo}/plan.json")[0] == 0
    saved = json.loads((project.root / "plan.json").read_text())
    other = project.root.parent / "elsewhere"
    other.mkdir()
    saved["state_folder"] = str(other / ".hoodsync")
    (project.root / "plan.json").write_text(json.dumps(saved))
    code, _, err = cli(capsys, "apply", repo, "--auto-approve", "--plan", f"{repo}/plan.json")
    assert code == 1 and "nothing was applied" in err
    assert not (other / ".hoodsync").exists()


def test_a_state_folder_an_older_hoodsync_left_in_a_subfolder_is_named_not_moved(
    project: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run from a subfolder of a project without hoodsync.yaml, hoodsync used to keep its state
    there: such a folder is no longer read, and plan says so; nothing in it is touched."""
    former = project.root / "c" / ".hoodsync"
    (former / "journal").mkdir(parents=True)
    (former / "journal" / "x.jsonl").write_text("{}\n")
    monkeypatch.chdir(project.root / "c")
    code, _, err = cli(capsys, "plan")
    assert code == 0, err
    assert (
        f"note: {former} is not read: without hoodsync.yaml the state folder (apply journals, "
        f"sandbox) is the project's, {project.root / '.hoodsync'}; move what that one holds there "
        "if it is this project's"
    ) in err.splitlines()
    assert (former / "journal" / "x.jsonl").read_text() == "{}\n"
    monkeypatch.chdir(project.root)  # the project's own folder: nothing to say
    assert "is not read" not in cli(capsys, "plan")[2]
