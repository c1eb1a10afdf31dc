"""Nested projects (DESIGN §1.1): a folder below the PATHS that holds its own hoodsync.yaml is
left out of the scan with one line saying so, and is never planned under another configuration;
with no definitions left, no account is read. Symlink loops in a scanned folder are one-line
errors.

Every run that could reach an API points ``HOOD_API_URL`` / ``FALCONYTE_API_URL`` at a loopback
server that records each request it gets (and answers 401), never at a real API.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_cli_plan import ENV_VARS, EXAMPLES, campaign_yaml, cli, write

NOTE = "note: examples/ has its own hoodsync.yaml; skipped (run hoodsync there)"


class Recorder:
    """A loopback HTTP server that records every request (method and path) and answers each
    with a Hood-style 401, so that a client that does reach it fails at once."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                recorder.requests.append(f"{self.command} {self.path}")
                body = json.dumps(
                    {
                        "code": 401,
                        "title": "Unauthorized",
                        "message": "invalid token",
                        "trace_id": "00000000-0000-4000-8000-000000000000",
                    }
                ).encode()
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository root (the working directory) holding a copy of examples/, with its own
    hoodsync.yaml (which pins the sandbox), and no credentials in the environment."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    # Not the state a run in the source tree may have left there (ignored by git).
    shutil.copytree(EXAMPLES, root / "examples", ignore=shutil.ignore_patterns(".hoodsync"))
    monkeypatch.chdir(root)
    for var in (*ENV_VARS, "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    return root


@pytest.fixture
def real_looking(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Credentials set as for a real account, the URLs pointing at the recorder."""
    monkeypatch.setenv("HOOD_API_TOKEN", "x")
    monkeypatch.setenv("HOOD_API_URL", recorder.url + "/v1/hood")
    monkeypatch.setenv("FALCONYTE_API_KEY", "x")
    monkeypatch.setenv("FALCONYTE_API_URL", recorder.url + "/public/v1")
    return recorder


def notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("note:")]


def test_apply_at_the_repository_root_sends_nothing_for_the_examples(
    repo: Path, real_looking: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12 §4 "Done when": `HOOD_API_TOKEN=x hoodsync apply --auto-approve` at the root."""
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert real_looking.requests == []
    assert code == 1
    assert err.splitlines() == [
        NOTE,
        "error: no definitions found: nothing to plan (no account was read)",
    ]
    assert out == ""


def test_the_nested_project_itself_is_planned_under_its_own_configuration(
    repo: Path, real_looking: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "plan", "examples")
    assert code == 0, err
    assert real_looking.requests == []  # examples/hoodsync.yaml pins the sandbox
    assert "sandbox" in out and "18 to create" in out
    assert notes(err) == []


def test_validate_leaves_out_each_nested_project_with_one_note(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "defs/one.yaml", campaign_yaml("one", "One"))
    write(repo, "defs/deep/er/hoodsync.yml", "accounts: {default: {hood: {url: sandbox}}}\n")
    write(repo, "defs/deep/er/two.yaml", campaign_yaml("two", "Two"))
    write(repo, "defs/deep/three.yaml", campaign_yaml("three", "Three"))
    code, out, err = cli(capsys, "validate")
    assert code == 0, err
    assert out == "OK: 2 definition(s) in 2 file(s) are valid.\n"
    assert err.splitlines() == [
        "note: defs/deep/er/ has its own hoodsync.yml; skipped (run hoodsync there)",
        NOTE,
    ]

    # A project given as a PATH is scanned, under its own configuration, without a note.
    code, out, err = cli(capsys, "validate", "examples")
    assert code == 0 and out.startswith("OK: 18 definition(s)") and err == ""


@pytest.mark.parametrize(
    "argv", [["validate"], ["plan"], ["apply", "--auto-approve"], ["preview", "--out", "p.html"]]
)
def test_every_command_that_scans_says_what_it_left_out(
    repo: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "defs/one.yaml", campaign_yaml("one", "One"))
    code, out, err = cli(capsys, *argv)  # the root's own account: the sandbox
    assert code == 0, err
    assert notes(err) == [NOTE]
    assert "examples" not in out.replace(NOTE, "")


def test_no_definitions_means_no_account_is_read_unless_pruning(
    repo: Path, real_looking: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "plan", "--detailed-exitcode")
    assert (code, real_looking.requests) == (1, [])
    assert "error: no definitions found: nothing to plan (no account was read)" in err

    # With --prune an empty set still means "remove what hoodsync manages": it is planned
    # (here the recorder refuses the token), and apply's safety guard still stands in the way.
    code, _, err = cli(capsys, "plan", "--prune")
    assert code == 1 and real_looking.requests and "401" in err


def test_paths_of_two_projects_are_refused_before_anything_is_read(
    repo: Path, real_looking: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "defs/one.yaml", campaign_yaml("one", "One"))
    for argv in (
        ["apply", "--auto-approve", ".", "examples"],
        ["plan", "defs", "examples/campaigns/sms.yaml"],
    ):
        code, out, err = cli(capsys, *argv)
        assert (code, out, real_looking.requests) == (1, "", [])
        [line] = err.splitlines()
        assert line.startswith(
            f"error: {argv[-1]} belongs to another project (examples/hoodsync.yaml) than "
        )
        assert line.endswith("(no hoodsync.yaml); run hoodsync once per project")


def test_without_hoodsync_yaml_paths_of_two_repositories_are_refused_before_anything_is_read(
    repo: Path, real_looking: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without hoodsync.yaml a project is a repository, and its state folder (the apply
    journals, the sandbox) is the first PATH's: a later PATH of another repository, or of
    none, would have its journals kept where a run of its own project never reads them."""
    write(repo, "defs/one.yaml", campaign_yaml("one", "One"))
    other = repo.parent / "other"
    (other / ".git").mkdir(parents=True)
    write(other, "two.yaml", campaign_yaml("two", "Two"))
    write(repo.parent, "loose/three.yaml", campaign_yaml("three", "Three"))
    for argv, names in (
        (["apply", "--auto-approve", "defs", "../other"], (f"repository {other}", "repository .")),
        (["plan", "defs/one.yaml", "../loose/three.yaml"], ("no repository", "repository .")),
        (["plan", "../loose", "defs"], ("repository .", "no repository")),
    ):
        code, out, err = cli(capsys, *argv)
        assert (code, out, real_looking.requests) == (1, "", [])
        assert err == (
            f"error: {argv[-1]} belongs to another project ({names[0]}) than {argv[-2]} "
            f"({names[1]}); run hoodsync once per project\n"
        )
    # PATHS of one repository, or outside any (where the first PATH's folder is the project).
    assert cli(capsys, "validate", "defs", str(repo / "defs" / "one.yaml"))[0] == 0
    write(repo.parent, "loose/four.yaml", campaign_yaml("four", "Four"))
    assert cli(capsys, "validate", "../loose/three.yaml", "../loose/four.yaml")[0] == 0


def test_a_symlink_loop_in_a_scanned_folder_is_a_one_line_error(
    repo: Path, real_looking: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "defs/one.yaml", campaign_yaml("one", "One"))
    os.symlink("loop.yaml", repo / "defs" / "loop.yaml")
    os.symlink("b.yaml", repo / "defs" / "a.yaml")
    os.symlink("a.yaml", repo / "defs" / "b.yaml")
    os.symlink("..", repo / "defs" / "up")  # a folder loop: not followed, and said so
    for argv in (
        ["validate"],
        ["plan"],
        ["validate", "defs/loop.yaml"],
        ["plan", "defs/loop.yaml"],
        ["apply", "--auto-approve", "defs/loop.yaml"],
    ):
        code, out, err = cli(capsys, *argv)
        assert (code, out, real_looking.requests) == (1, "", [])
        lines = [line for line in err.splitlines() if line != NOTE]
        looping = (
            ["defs/loop.yaml"]
            if argv[-1].endswith(".yaml")
            else ["defs/a.yaml", "defs/b.yaml", "defs/loop.yaml", "defs/up"]
        )
        assert [line.split(": error: ")[0] for line in lines[:-1]] == [
            f"{name}:1:1" for name in looping
        ]
        assert all(
            ": error: cannot read: " in line
            if line.startswith("defs/") and ".yaml:" in line
            else ": error: symlink to a folder that holds it (-> ..): " in line
            for line in lines[:-1]
        )
        assert (
            lines[-1] == f"{len(looping)} error(s) in {len(looping)} file(s); "
            "nothing was sent anywhere."
        )


def test_a_symlinked_folder_is_validated_like_a_folder_and_once(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A symlinked folder under a PATH was skipped without a word: its campaigns turned into
    orphans, which --prune cancels. It is read like a folder, once under two names."""
    write(tmp_path, "shared/two.yaml", campaign_yaml("two", "Two"))
    write(repo, "defs/one.yaml", campaign_yaml("one", "One"))
    os.symlink("../../shared", repo / "defs" / "shared")
    os.symlink("shared", repo / "defs" / "again")  # the same folder again: no duplicate keys
    code, out, err = cli(capsys, "validate", "defs")
    assert code == 0, err
    assert out == "OK: 2 definition(s) in 2 file(s) are valid.\n"


def test_an_account_whose_paths_name_a_symlinked_folder_plans_its_definitions(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "shared/two.yaml", campaign_yaml("two", "Two"))
    os.symlink("../shared", repo / "linked")
    write(
        repo,
        "hoodsync.yaml",
        "accounts:\n  default:\n    hood: {url: sandbox}\n    paths: [linked/]\n",
    )
    code, out, err = cli(capsys, "plan")
    assert code == 0, err
    assert "— 1 definition," in out and "campaign.two will be created" in out
