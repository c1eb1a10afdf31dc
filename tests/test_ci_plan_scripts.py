"""The CI templates' plan scripts, run for real: extracted from the workflow / pipeline YAML,
run with bash and the real hoodsync on a two-account ``hoodsync.yaml`` (both sandbox accounts;
nothing leaves the machine). GitHub's comments go through a recording ``gh`` on PATH; GitLab's
notes go to a small notes API on 127.0.0.1.

What must hold: every account is planned on its own, its comment (note) carries its own hidden
marker, the commit planned and only its own plan, an existing comment is edited instead of a
second one posted, a failed plan is posted too (and when no plan ran, the comments say so), and
no API secret reaches a comment or the step that posts it. The nightly drift pull request's
body shows `hoodsync pull`'s diff as one code block, whatever the definitions hold, as GitHub
renders it (cmark-gfm when installed, and markdown-it-py), and its commit holds only what pull
wrote. With environments (accounts without `paths:`, one set of definitions) every job that
calls the APIs works, each account named with --account.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from markdown_it import MarkdownIt

from hoodsync.emulator.sandbox import SANDBOX_HOOD_URL, open_sandbox

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / "examples" / ".github" / "workflows" / "hoodsync.yml"
GITLAB = ROOT / "examples" / ".gitlab-ci.yml"
EXAMPLES = ROOT / "examples" / "campaigns"
BIN = Path(sys.executable).parent  # the hoodsync under test

#: Per account: the example it plans (its key appears in its plan and in no other account's).
ACCOUNTS = {"alpha": "welcome-push", "beta": "car-brands-showcase"}
SECRETS = {"HOOD_API_TOKEN", "FALCONYTE_API_KEY", "GITLAB_API_TOKEN"}
#: The pull request's head commit, and the merge commit GitHub checks out (GITHUB_SHA).
HEAD_SHA = "c0ffee" * 6 + "c0ff"
MERGE_SHA = "3e7ge" * 8
#: The user of github.token, the author of the workflow's own comments.
BOT_LOGIN = "github-actions[bot]"


def secret_value(name: str) -> str:
    return f"not-a-real-{name.lower().replace('_', '-')}-0123456789"


def config(failing: str | None = None) -> str:
    """Both accounts pinned to the sandbox; ``failing`` instead names a token variable that is
    not set, so its plan stops with an error (and nothing is sent)."""
    accounts = {}
    for name in ACCOUNTS:
        hood = {"token_env": "UNSET_TOKEN_FOR_TEST"} if name == failing else {"url": "sandbox"}
        accounts[name] = {"hood": hood, "falconyte": {"url": "sandbox"}, "paths": [f"{name}/"]}
    return yaml.safe_dump({"accounts": accounts})


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A definitions repository with two accounts, each with one campaign under its path."""
    root = tmp_path / "repo"
    for name, key in ACCOUNTS.items():
        (root / name).mkdir(parents=True)
        shutil.copy(EXAMPLES / f"{key}.yaml", root / name)
    (root / "hoodsync.yaml").write_text(config(), encoding="utf-8")
    return root


def base_env(tmp_path: Path, bin_dir: Path | None = None) -> dict[str, str]:
    """A clean environment: no variable of the test run leaks into the scripts."""
    path = os.pathsep.join(str(p) for p in (bin_dir, BIN) if p) + os.pathsep + "/usr/bin:/bin"
    env = {
        "PATH": path,
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "HOODSYNC_LOCK_DIR": str(tmp_path / "locks"),
    }
    return env


# --------------------------------------------------------------------------- GitHub

GH_STUB = """\
#!{python}
# A recording `gh`: logs its arguments (and the file given as -F body=@FILE) with whether API
# secrets were in its environment; answers `gh api ... --jq FILTER` by running the real jq on
# $GH_STUB_COMMENTS, as gh runs its own jq on the API's answer.
import json, os, subprocess, sys
args = sys.argv[1:]
entry = {{"args": args, "secrets": sorted(n for n in {secrets!r} if os.environ.get(n)),
         "gh_token": bool(os.environ.get("GH_TOKEN"))}}
for i, arg in enumerate(args[:-1]):
    if arg in ("-F", "--field") and args[i + 1].startswith("body=@"):
        entry["body"] = open(args[i + 1][len("body=@"):], encoding="utf-8").read()
with open(os.environ["GH_STUB_LOG"], "a", encoding="utf-8") as fh:
    fh.write(json.dumps(entry) + "\\n")
if "--jq" in args:
    done = subprocess.run(["jq", "-r", args[args.index("--jq") + 1]], text=True, check=True,
                          input=os.environ.get("GH_STUB_COMMENTS", "[]"), capture_output=True)
    sys.stdout.write(done.stdout)
else:
    print("{{}}")
"""


@pytest.fixture()
def gh_stub(tmp_path: Path) -> Path:
    if shutil.which("jq") is None:
        pytest.skip(
            "jq is not installed (apt-get install jq): the gh stub runs the template's "
            "--jq filter with it"
        )
    bin_dir = tmp_path / "stub-bin"
    bin_dir.mkdir()
    stub = bin_dir / "gh"
    stub.write_text(GH_STUB.format(python=sys.executable, secrets=sorted(SECRETS)))
    stub.chmod(0o755)
    return bin_dir


_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def evaluate(value: str, account: str | None) -> str:
    """The few ``${{ ... }}`` expressions the template's step `env:` uses, as a runner would
    fill them for pull request 7 of acme/defs; any other expression fails the test."""
    known = {
        "github.token": "ghs_test_token",
        "github.event.pull_request.number": "7",
        "github.server_url": "https://github.example",
        "github.repository": "acme/defs",
        "github.run_id": "99",
        "github.event.pull_request.head.sha": HEAD_SHA,
        "github.event.repository.default_branch": "main",
    }

    def one(match: re.Match[str]) -> str:
        expr = match.group(1)
        if expr == "matrix.account" and account is not None:
            return account
        if expr.startswith("secrets."):
            return secret_value(expr.removeprefix("secrets."))
        return known[expr]

    return _EXPRESSION.sub(one, value)


class GitHubJob:
    """Runs a job's steps as the runner would: workflow `env:`, then the step's `env:`, the
    GITHUB_* files, `bash -e`, in the repository."""

    def __init__(
        self, job: str, repo: Path, tmp_path: Path, bin_dir: Path, account: str | None = None
    ) -> None:
        self.workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
        self.steps = self.workflow["jobs"][job]["steps"]
        self.repo, self.account = repo, account
        self.files = tmp_path / f"runner-{job}-{account}"
        self.files.mkdir(exist_ok=True)  # a job may run more than once in a test
        self.env = {
            **base_env(tmp_path, bin_dir),
            **{k: evaluate(str(v), account) for k, v in self.workflow["env"].items()},
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "GITHUB_REPOSITORY": "acme/defs",
            "GITHUB_SHA": MERGE_SHA,
            "GITHUB_OUTPUT": str(self.files / "output"),
            "GITHUB_STEP_SUMMARY": str(self.files / "summary"),
        }

    def step(self, name: str) -> dict[str, Any]:
        return next(s for s in self.steps if name in (s.get("id"), s.get("name")))

    def run(self, name: str, **extra: str) -> subprocess.CompletedProcess[str]:
        step = self.step(name)
        env = {
            **self.env,
            **{k: evaluate(str(v), self.account) for k, v in step.get("env", {}).items()},
            **extra,
        }
        (self.files / "output").write_text("")
        return subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            cwd=self.repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def output(self) -> dict[str, str]:
        lines = (self.files / "output").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines)

    def summary(self) -> str:
        return (self.files / "summary").read_text()


def gh_calls(tmp_path: Path) -> list[dict[str, Any]]:
    log = tmp_path / "gh.log"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    log.unlink(missing_ok=True)
    return calls


def run_github_pr(
    repo: Path, tmp_path: Path, gh: Path, comments: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The accounts job, then per account (the matrix) the plan and comment steps."""
    listing = GitHubJob("accounts", repo, tmp_path, gh)
    done = listing.run("accounts")
    assert done.returncode == 0, done.stderr
    names = json.loads(listing.output()["names"])
    results = {}
    for account in names:
        job = GitHubJob("plan", repo, tmp_path, gh, account)
        planned = job.run("plan")
        assert planned.returncode == 0, planned.stderr  # the job fails later, after commenting
        status = job.output()["status"]
        posted = job.run(
            "comment", GH_STUB_LOG=str(tmp_path / "gh.log"), GH_STUB_COMMENTS=json.dumps(comments)
        )
        assert posted.returncode == 0, posted.stderr
        # `if: steps.plan.outputs.status != '0'`
        assert job.step("Fail when the plan failed")["if"] == "steps.plan.outputs.status != '0'"
        failing = job.run("Fail when the plan failed") if status != "0" else None
        results[account] = {
            "status": status,
            "calls": gh_calls(tmp_path),
            "job": job,
            "fail_step": failing,
            "plan_log": planned.stderr,
        }
    return results


def test_two_accounts_each_get_their_own_comment(repo: Path, tmp_path: Path, gh_stub: Path) -> None:
    results = run_github_pr(repo, tmp_path, gh_stub, comments=[])
    assert list(results) == list(ACCOUNTS)
    for account, key in ACCOUNTS.items():
        result = results[account]
        assert result["status"] == "0", result["plan_log"]
        assert result["fail_step"] is None
        (listing, post) = result["calls"]
        assert listing["args"][:2] == ["api", "--paginate"]
        assert post["args"][:4] == ["api", "--method", "POST", "repos/acme/defs/issues/7/comments"]
        body = post["body"]
        assert body.startswith(f"<!-- hoodsync-plan:{account} -->\n")
        # The commit planned, right under the marker: the head, not the merge commit.
        assert body.split("\n")[1].startswith(f"Commit {HEAD_SHA}, the head of this pull request")
        assert MERGE_SHA not in body
        assert key in body and all(other not in body for other in ACCOUNTS.values() if other != key)
        assert f"artifact `hoodsync-plan-{account}`" in body
        # The comment step holds the GitHub token and no API secret.
        assert post["gh_token"] and post["secrets"] == []
        assert f"## hoodsync plan: account `{account}`" in result["job"].summary()
        assert f"Commit {HEAD_SHA}" in result["job"].summary()
        for artifact in ("plan.md", "plan.json", "preview.html"):
            assert (repo / artifact).exists()
    everything = json.dumps([r["calls"] for r in results.values()]) + "".join(
        r["job"].summary() for r in results.values()
    )
    assert not any(secret_value(name) in everything for name in SECRETS)


GH_BOT = {"type": "Bot", "login": BOT_LOGIN}
OTHER_APP = {"type": "Bot", "login": "other-app[bot]"}
MEMBER = {"type": "User", "login": "mallory"}


def test_an_existing_comment_is_edited_and_only_the_bots_own(
    repo: Path, tmp_path: Path, gh_stub: Path
) -> None:
    """Only the workflow's own comment (github-actions[bot]) is edited: another app's comment
    with the marker is a Bot's too, but GitHub would refuse the edit (403) and fail the job."""
    comments = [
        {"id": 10, "user": OTHER_APP, "body": "<!-- hoodsync-plan:alpha -->\nanother app"},
        {"id": 11, "user": GH_BOT, "body": "<!-- hoodsync-plan:alpha -->\nold plan"},
        {"id": 12, "user": MEMBER, "body": "<!-- hoodsync-plan:beta -->\nquoted"},
        {"id": 13, "user": GH_BOT, "body": "<!-- hoodsync-plan:alphabet -->\nx"},
        {"id": 14, "user": GH_BOT, "body": "<!-- hoodsync-plan -->\nbefore accounts"},
        {"id": 15, "user": OTHER_APP, "body": "<!-- hoodsync-plan:beta -->\nanother app"},
    ]
    results = run_github_pr(repo, tmp_path, gh_stub, comments)
    alpha = results["alpha"]["calls"][-1]
    assert alpha["args"][:4] == ["api", "--method", "PATCH", "repos/acme/defs/issues/comments/11"]
    beta = results["beta"]["calls"][-1]
    assert beta["args"][:4] == ["api", "--method", "POST", "repos/acme/defs/issues/7/comments"]


def run_plan_not_run(
    tmp_path: Path, gh: Path, comments: list[dict[str, Any]]
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """The plan-not-run job's one step, in an empty checkout (it needs none)."""
    checkout = tmp_path / "checkout"
    checkout.mkdir(exist_ok=True)
    job = GitHubJob("plan-not-run", checkout, tmp_path, gh)
    [step] = job.steps
    done = job.run(
        step["name"], GH_STUB_LOG=str(tmp_path / "gh.log"), GH_STUB_COMMENTS=json.dumps(comments)
    )
    return done, gh_calls(tmp_path)


def test_when_no_plan_ran_each_own_plan_comment_says_so_for_the_commit(
    tmp_path: Path, gh_stub: Path
) -> None:
    """Validation failed, so the plan matrix never ran: every plan comment of the workflow's
    own is edited to name this commit and say that it was not planned, instead of showing the
    plan of an older push; anyone else's comment is left alone."""
    comments = [
        {"id": 10, "user": OTHER_APP, "body": "<!-- hoodsync-plan:alpha -->\nanother app"},
        {"id": 11, "user": GH_BOT, "body": "<!-- hoodsync-plan:alpha -->\nold plan of alpha"},
        {"id": 12, "user": MEMBER, "body": "<!-- hoodsync-plan:beta -->\nquoted"},
        {"id": 13, "user": GH_BOT, "body": "<!-- hoodsync-plan:beta -->\r\nold plan of beta"},
        {"id": 14, "user": GH_BOT, "body": "an unrelated comment of the workflow"},
        {"id": 15, "user": GH_BOT, "body": "<!-- hoodsync-plan:x --> $(touch pwned)\nodd"},
    ]
    done, calls = run_plan_not_run(tmp_path, gh_stub, comments)
    assert done.returncode == 0, done.stdout + done.stderr
    listing, *edits = calls
    assert listing["args"][:3] == ["api", "--paginate", "repos/acme/defs/issues/7/comments"]
    assert [c["args"][:4] for c in edits] == [
        ["api", "--method", "PATCH", f"repos/acme/defs/issues/comments/{n}"] for n in (11, 13)
    ]
    for edit, account in zip(edits, ("alpha", "beta")):
        marker, commit, _, heading, *rest = edit["body"].split("\n")
        assert marker == f"<!-- hoodsync-plan:{account} -->"
        assert commit.startswith(f"Commit {HEAD_SHA}, the head of this pull request")
        assert heading == "### hoodsync plan not run"
        assert "https://github.example/acme/defs/actions/runs/99" in "\n".join(rest)
        assert edit["gh_token"] and edit["secrets"] == []
    assert not (tmp_path / "checkout" / "pwned").exists()


def test_when_no_plan_ran_and_no_comment_exists_none_is_posted(
    tmp_path: Path, gh_stub: Path
) -> None:
    done, calls = run_plan_not_run(tmp_path, gh_stub, [])
    assert done.returncode == 0, done.stdout + done.stderr
    assert [c["args"][:2] for c in calls] == [["api", "--paginate"]]


def test_a_failed_plan_is_posted_and_then_fails_the_job(
    repo: Path, tmp_path: Path, gh_stub: Path
) -> None:
    (repo / "hoodsync.yaml").write_text(config(failing="beta"), encoding="utf-8")
    results = run_github_pr(repo, tmp_path, gh_stub, comments=[])
    assert results["alpha"]["status"] == "0" and results["alpha"]["fail_step"] is None
    beta = results["beta"]
    assert beta["status"] == "1"
    body = beta["calls"][-1]["body"]
    assert body.startswith("<!-- hoodsync-plan:beta -->\n")
    assert "hoodsync plan failed (exit 1)" in body and "UNSET_TOKEN_FOR_TEST" in body
    assert beta["fail_step"].returncode == 1
    assert "::error title=hoodsync plan failed::account beta" in beta["fail_step"].stdout


def test_a_broken_hoodsync_yaml_stops_the_accounts_job_with_annotations(
    repo: Path, tmp_path: Path, gh_stub: Path
) -> None:
    (repo / "hoodsync.yaml").write_text("accounts:\n  Bad Name:\n    hood: {url: sandbox}\n")
    job = GitHubJob("accounts", repo, tmp_path, gh_stub)
    done = job.run("accounts")
    assert done.returncode == 1
    assert "::error file=hoodsync.yaml,line=2," in done.stderr
    assert "names" not in job.output()  # no empty matrix for the jobs after it


def test_an_oversized_plan_is_cut_at_a_line_under_githubs_limit(
    repo: Path, tmp_path: Path, gh_stub: Path
) -> None:
    job = GitHubJob("plan", repo, tmp_path, gh_stub, "alpha")
    line = "| ünïcödé row " + "x" * 80 + " |\n"
    (repo / "plan.md").write_text("## head\n" + line * 2000, encoding="utf-8")
    done = job.run("comment", GH_STUB_LOG=str(tmp_path / "gh.log"), GH_STUB_COMMENTS="[]")
    assert done.returncode == 0, done.stderr
    body = gh_calls(tmp_path)[-1]["body"]
    assert len(body) <= 65536 and "truncated" in body
    kept = body.split("\n", 1)[1].split("\n\n… (truncated")[0].splitlines()
    assert kept[0] == "## head" and set(kept[1:]) == {line.rstrip("\n")}


# --------------------------------------------------------------------------- GitHub: drift

#: A definition whose block scalar holds lines of backticks (YAML allows them there) followed by
#: markdown. Indented by one, so that its lines in the diff (" " + the line) are indented by 2
#: or 3: a markdown fence may close there.
FENCED = """\
kind: Campaign
key: fenced
spec:
 description: |
  ![ok](https://evil.example/ok.png)
  ```
  ## hoodsync pull: nothing changed, close this pull request
  `````
 name: Fenced
 messages:
  - name: M
    channel: push
    push:
     title: {en: T}
     body: {en: B}
     landing_url: https://x.example
"""


def render(markdown: str, renderer: str) -> str:
    """``markdown`` as HTML: GitHub's own renderer (cmark-gfm), or markdown-it-py's GFM-like
    preset."""
    if renderer == "markdown-it-py":
        return MarkdownIt("gfm-like").render(markdown)
    if shutil.which("cmark-gfm") is None:
        pytest.skip("cmark-gfm is not installed (apt-get install cmark-gfm)")
    done = subprocess.run(
        ["cmark-gfm", "-e", "table", "-e", "autolink", "-e", "strikethrough"],
        input=markdown,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout


def code_blocks(page: str) -> tuple[list[str], list[str]]:
    """The tags of ``page`` outside code blocks, and the text of each code block."""
    blocks = [html.unescape(b) for b in re.findall(r"<code[^>]*>(.*?)</code>", page, re.S)]
    outside = re.findall(r"</?([a-z0-9]+)", re.sub(r"<code[^>]*>.*?</code>", "", page, flags=re.S))
    return outside, blocks


def rename_in_the_ui(sandbox: Path, name: str, new_name: str) -> None:
    """Rename the campaign called ``name`` in a sandbox account, as someone would in Hood."""
    box = open_sandbox(sandbox)
    try:
        with httpx.Client(
            base_url=SANDBOX_HOOD_URL,
            transport=box.hood_transport,
            headers={"Authorization": f"Bearer {box.hood_token}"},
        ) as hood:
            items = hood.get("/campaigns", params={"view": "full"}).json()["items"]
            [campaign] = [c for c in items if c["name"] == name]
            renamed = hood.patch(f"/campaigns/{campaign['id']}", json={"name": new_name})
            assert renamed.status_code == 204, renamed.text
    finally:
        box.close()


def drift_step(repo: Path, tmp_path: Path, bin_dir: Path) -> tuple[str, str, GitHubJob]:
    """The drift-pull-request job's pull step, run as the runner would: (pull.diff, body.md)."""
    job = GitHubJob("drift-pull-request", repo, tmp_path, bin_dir)
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    done = job.run("Pull what changed in the UIs", RUNNER_TEMP=str(runner_temp))
    assert done.returncode == 0, done.stdout + done.stderr
    body = (runner_temp / "body.md").read_text(encoding="utf-8")
    return (runner_temp / "pull.diff").read_text(encoding="utf-8"), body, job


@pytest.mark.parametrize("renderer", ["cmark-gfm", "markdown-it-py"])
def test_the_drift_pull_request_body_is_one_code_block_whatever_the_diff_holds(
    tmp_path: Path, renderer: str
) -> None:
    """A definition line of backticks cannot close the body's fence: the diff renders as one
    code block holding it exactly, and nothing of it as markdown (no heading, no image)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "fenced.yaml").write_text(FENCED, encoding="utf-8")
    sandbox = {"hood": {"url": "sandbox"}, "falconyte": {"url": "sandbox"}}
    (repo / "hoodsync.yaml").write_text(yaml.safe_dump({"accounts": {"default": sandbox}}))
    env = base_env(tmp_path)
    applied = subprocess.run(
        [str(BIN / "hoodsync"), "apply", "--auto-approve"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    rename_in_the_ui(repo / ".hoodsync" / "sandbox.sqlite", "Fenced", "Fenced (UI)")

    diff, body, job = drift_step(repo, tmp_path, BIN)
    assert "\n   ```\n" in diff and "\n   `````\n" in diff and "+ name: Fenced (UI)\n" in diff
    outside, blocks = code_blocks(render(body, renderer))
    assert outside == ["h3", "h3", "pre", "pre"]
    assert blocks == [diff]
    assert job.summary() == body


def test_an_oversized_drift_diff_is_cut_at_a_line_under_githubs_limit(tmp_path: Path) -> None:
    """GitHub refuses a pull request body over 65,536 characters: the body keeps whole lines of
    the diff, still in one code block (its fence longer than a run of backticks in what is
    kept), and says that it was cut."""
    bin_dir = tmp_path / "stub-bin"
    bin_dir.mkdir()
    line = " ünïcödé context line " + "x" * 60 + "\n"
    diff = "diff --git a/big.yaml b/big.yaml\n" + line * 400 + " " + "`" * 40 + "\n" + line * 2000
    (tmp_path / "big.diff").write_text(diff, encoding="utf-8")
    stub = bin_dir / "hoodsync"
    stub.write_text(
        f"#!/bin/sh\n[ \"$1\" = accounts ] && echo default && exit\ncat '{tmp_path / 'big.diff'}'\n",
        encoding="utf-8",
    )
    stub.chmod(0o755)
    repo = tmp_path / "repo"
    repo.mkdir()

    _, body, _ = drift_step(repo, tmp_path, bin_dir)
    assert len(body) <= 65536 and len(body.encode("utf-8")) > 60000
    outside, blocks = code_blocks(render(body, "markdown-it-py"))
    assert outside == ["h3", "h3", "pre", "pre", "p", "p"]
    assert "truncated" in body.rsplit("\n", 2)[-2]
    [shown] = blocks
    assert diff.startswith(shown) and shown.endswith("\n") and "`" * 40 in shown


# --------------------------------------------------------------------------- GitLab


#: The token's own user (a project access token's bot) and another member of the project.
BOT = {"id": 99, "username": "project_7_bot"}
HUMAN = {"id": 5, "username": "mallory"}
NOTES = "/api/v4/projects/acme%2Fdefs/merge_requests/7/notes"


class NotesApi:
    """GitLab's ``/user`` and merge-request notes endpoints, as far as the template uses them,
    with GitLab's rule that a note can be edited only by its author (403 otherwise, 404 for a
    note that is not there). ``fail`` maps a method to the status every such request gets
    (a broken or refusing GitLab); ``full_pages`` answers every page of notes with 100 notes."""

    def __init__(self, notes: list[dict[str, Any]]) -> None:
        self.notes = notes
        self.requests: list[dict[str, Any]] = []
        self.fail: dict[str, int] = {}
        self.full_pages = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, payload: Any, status: int = 200) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _record(self) -> dict[str, Any]:
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size)) if size else None
                entry = {
                    "method": self.command,
                    "path": self.path,
                    "body": body,
                    "token": self.headers.get("PRIVATE-TOKEN"),
                }
                api.requests.append(entry)
                return entry

            def _refused(self) -> bool:
                status = api.fail.get(self.command)
                if status is not None:
                    self._answer({"message": f"{status} refused"}, status)
                return status is not None

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._record()
                if self._refused():
                    return
                if self.path == "/api/v4/user":
                    self._answer(BOT)
                elif api.full_pages:
                    self._answer([{"id": n, "author": HUMAN, "body": "hi"} for n in range(100)])
                else:
                    self._answer(api.notes)

            def do_POST(self) -> None:  # noqa: N802
                body = self._record()["body"]
                if not self._refused():
                    self._answer({"id": 100 + len(api.requests), "author": BOT, **body}, 201)

            def do_PUT(self) -> None:  # noqa: N802
                body = self._record()["body"]
                note_id = int(self.path.rsplit("/", 1)[1])
                note = next((n for n in api.notes if n["id"] == note_id), None)
                if note is None:
                    self._answer({"message": "404 Not found"}, 404)
                elif note.get("author") != BOT:
                    self._answer({"message": "403 Forbidden"}, 403)
                elif not self._refused():
                    self._answer({**note, **body})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v4"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def writes(self) -> list[tuple[str, str, str]]:
        """(method, path, the note's first line) of every POST and PUT, in order."""
        return [
            (r["method"], r["path"], r["body"]["body"].split("\n", 1)[0])
            for r in self.requests
            if r["method"] in ("POST", "PUT")
        ]

    def __enter__(self) -> NotesApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


#: The merge request's head (CI_COMMIT_SHA in a merge-request pipeline).
MR_HEAD_SHA = "beef" * 10


def run_gitlab_job(
    name: str, repo: Path, tmp_path: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    """A job's script as GitLab runs it: the pipeline's variables, the job's script lines in
    one shell that stops at the first failing line, in the repository."""
    pipeline = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    job = pipeline[name]
    assert job["extends"] == ".hoodsync"  # its before_script installs the wheels: skipped here
    env = {
        **base_env(tmp_path),
        **{k: str(v) for k, v in pipeline["variables"].items()},
        "CI_DEFAULT_BRANCH": "main",
        "CI_COMMIT_SHA": MR_HEAD_SHA,
        **{name: secret_value(name) for name in SECRETS},
        **extra,
    }
    script = "set -eo pipefail\n" + "\n".join(job["script"])
    return subprocess.run(
        ["bash", "-c", script],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def run_gitlab_plan(
    repo: Path, tmp_path: Path, api: NotesApi, **extra: str
) -> subprocess.CompletedProcess[str]:
    return run_gitlab_job(
        "plan",
        repo,
        tmp_path,
        CI_API_V4_URL=api.url,
        CI_PROJECT_ID="acme/defs",
        CI_MERGE_REQUEST_IID="7",
        CI_JOB_URL="https://gitlab.example/acme/defs/-/jobs/99",
        **extra,
    )


@pytest.fixture()
def notes_api() -> Iterator[NotesApi]:
    with NotesApi(notes=[]) as api:
        yield api


def test_gitlab_posts_one_note_per_account(repo: Path, tmp_path: Path, notes_api: NotesApi) -> None:
    notes_api.notes.append(
        {"id": 5, "system": False, "author": BOT, "body": "<!-- hoodsync-plan:beta -->\nolder"}
    )
    done = run_gitlab_plan(repo, tmp_path, notes_api)
    assert done.returncode == 0, done.stdout + done.stderr
    who, listing, *writes = notes_api.requests
    assert (who["method"], who["path"]) == ("GET", "/api/v4/user")
    assert listing["method"] == "GET"
    assert listing["path"].startswith(f"{NOTES}?")
    assert [(w["method"], w["path"]) for w in writes] == [
        ("POST", NOTES),
        ("PUT", f"{NOTES}/5"),
    ]
    for (account, key), write in zip(ACCOUNTS.items(), writes):
        body = write["body"]["body"]
        assert body.startswith(f"<!-- hoodsync-plan:{account} -->\n")
        assert body.split("\n")[1] == f"Commit {MR_HEAD_SHA}, the head of this merge request"
        assert key in body and all(other not in body for other in ACCOUNTS.values() if other != key)
        assert f"/artifacts/file/hoodsync-plan/{account}/preview.html" in body
        assert write["token"] == secret_value("GITLAB_API_TOKEN")
        assert secret_value("HOOD_API_TOKEN") not in body
        for artifact in ("plan.md", "plan.json", "preview.html"):
            assert (repo / "hoodsync-plan" / account / artifact).exists()


def test_gitlab_edits_only_its_own_note_whoever_writes_the_marker(
    repo: Path, tmp_path: Path, notes_api: NotesApi
) -> None:
    """A member's note that starts with the marker (a fake "No changes", written before the
    plan job's) is neither edited nor taken for the plan: alpha gets a note of its own, beta's
    own older note is edited in place."""
    fake = "<!-- hoodsync-plan:{} -->\n## hoodsync plan\n\n**No changes.**"
    notes_api.notes += [
        {"id": 1, "system": False, "author": HUMAN, "body": fake.format("alpha")},
        {"id": 2, "system": False, "author": HUMAN, "body": fake.format("beta")},
        {"id": 3, "system": False, "author": BOT, "body": "<!-- hoodsync-plan:beta -->\nold"},
        {"id": 4, "system": True, "author": BOT, "body": "<!-- hoodsync-plan:alpha -->\nx"},
    ]
    done = run_gitlab_plan(repo, tmp_path, notes_api)
    assert done.returncode == 0, done.stdout + done.stderr
    assert notes_api.writes() == [
        ("POST", NOTES, "<!-- hoodsync-plan:alpha -->"),
        ("PUT", f"{NOTES}/3", "<!-- hoodsync-plan:beta -->"),
    ]


@pytest.mark.parametrize(
    ("fail", "says"),
    [
        ({"PUT": 500}, "Could not edit note 3 (HTTP Error 500"),
        ({"GET": 403}, "Could not look through the notes (HTTP Error 403"),
    ],
    ids=["edit refused", "notes unreadable"],
)
def test_gitlab_posts_a_new_note_when_its_own_cannot_be_edited(
    repo: Path, tmp_path: Path, notes_api: NotesApi, fail: dict[str, int], says: str
) -> None:
    notes_api.notes.append(
        {"id": 3, "system": False, "author": BOT, "body": "<!-- hoodsync-plan:beta -->\nold"}
    )
    notes_api.fail = fail
    done = run_gitlab_plan(repo, tmp_path, notes_api)
    assert done.returncode == 0, done.stdout + done.stderr
    assert says in done.stdout and "Traceback" not in done.stderr
    assert [(m, p, first) for m, p, first in notes_api.writes() if m == "POST"] == [
        ("POST", NOTES, "<!-- hoodsync-plan:alpha -->"),
        ("POST", NOTES, "<!-- hoodsync-plan:beta -->"),
    ]


def test_gitlab_tries_every_account_then_fails_when_a_note_cannot_be_posted(
    repo: Path, tmp_path: Path, notes_api: NotesApi
) -> None:
    notes_api.fail = {"POST": 500}
    done = run_gitlab_plan(repo, tmp_path, notes_api)
    assert done.returncode == 1
    assert [first for _, _, first in notes_api.writes()] == [
        "<!-- hoodsync-plan:alpha -->",
        "<!-- hoodsync-plan:beta -->",
    ]
    assert "No note for account alpha: HTTP Error 500" in done.stdout
    assert "hoodsync plan notes not posted: alpha beta" in done.stderr
    assert "Traceback" not in done.stderr


def test_gitlab_looks_through_a_bounded_number_of_pages(
    repo: Path, tmp_path: Path, notes_api: NotesApi
) -> None:
    """An API that answers every page with a full page of notes does not keep the job
    listing for ever: at most 100 pages, then the notes are posted."""
    notes_api.full_pages = True
    done = run_gitlab_plan(repo, tmp_path, notes_api)
    assert done.returncode == 0, done.stdout + done.stderr
    pages = [r for r in notes_api.requests if r["path"].startswith(f"{NOTES}?")]
    assert len(pages) == 100
    assert [m for m, _, _ in notes_api.writes()] == ["POST", "POST"]


def test_gitlab_posts_a_failed_plan_then_fails_the_job(
    repo: Path, tmp_path: Path, notes_api: NotesApi
) -> None:
    (repo / "hoodsync.yaml").write_text(config(failing="alpha"), encoding="utf-8")
    done = run_gitlab_plan(repo, tmp_path, notes_api)
    assert done.returncode == 1
    assert "hoodsync plan failed: hoodsync-plan/alpha/status" in done.stdout
    posts = [r["body"]["body"] for r in notes_api.requests if r["method"] == "POST"]
    assert [p.split("\n", 1)[0] for p in posts] == [
        "<!-- hoodsync-plan:alpha -->",
        "<!-- hoodsync-plan:beta -->",
    ]
    assert "hoodsync plan failed (exit 1)" in posts[0] and "UNSET_TOKEN_FOR_TEST" in posts[0]
    assert "car-brands-showcase" in posts[1]


def test_gitlab_names_the_head_not_the_merge_commit_of_a_merged_results_pipeline(
    repo: Path, tmp_path: Path, notes_api: NotesApi
) -> None:
    head = "fade" * 10
    done = run_gitlab_plan(
        repo,
        tmp_path,
        notes_api,
        CI_COMMIT_SHA=MR_HEAD_SHA,
        CI_MERGE_REQUEST_SOURCE_BRANCH_SHA=head,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    bodies = [w["body"]["body"] for w in notes_api.requests if w["method"] == "POST"]
    assert len(bodies) == 2
    for body in bodies:
        assert body.split("\n")[1] == f"Commit {head}, the head of this merge request"
        assert MR_HEAD_SHA not in body
    assert (repo / "hoodsync-plan" / "alpha" / "plan.md").read_text().startswith(f"Commit {head}")


def test_gitlab_plans_definitions_that_do_not_validate_and_says_so(
    repo: Path, tmp_path: Path, notes_api: NotesApi
) -> None:
    """A push whose definitions do not validate still gets its plan notes (plan does not wait
    for validate): the account's plan fails, naming the problem, for this commit; the other
    account is planned as usual."""
    broken = repo / "alpha" / "welcome-push.yaml"
    broken.write_text(broken.read_text().replace("key: welcome-push", "key: Not A Key", 1))
    notes_api.notes.append(
        {"id": 5, "system": False, "author": BOT, "body": "<!-- hoodsync-plan:alpha -->\nold"}
    )
    done = run_gitlab_plan(repo, tmp_path, notes_api)
    assert done.returncode == 1
    [alpha] = [w for w in notes_api.requests if w["method"] == "PUT"]
    body = alpha["body"]["body"]
    assert alpha["path"] == f"{NOTES}/5"
    assert body.split("\n")[1] == f"Commit {MR_HEAD_SHA}, the head of this merge request"
    assert "hoodsync plan failed (exit 1)" in body and "welcome-push.yaml:" in body
    assert "old" not in body.split("\n")[1:]


def test_gitlab_when_no_account_can_be_listed_each_own_note_says_so(
    repo: Path, tmp_path: Path, notes_api: NotesApi
) -> None:
    """hoodsync.yaml cannot be read, so no account is planned: each plan note of the token's
    user is edited to say so for this commit (nobody else's), and the job fails."""
    (repo / "hoodsync.yaml").write_text("accounts: {alpha: [\n", encoding="utf-8")
    notes_api.notes += [
        {"id": 1, "system": False, "author": HUMAN, "body": "<!-- hoodsync-plan:alpha -->\nx"},
        {"id": 2, "system": False, "author": BOT, "body": "<!-- hoodsync-plan:alpha -->\nold"},
        {"id": 3, "system": False, "author": BOT, "body": "<!-- hoodsync-plan:beta -->\nold"},
        {"id": 4, "system": False, "author": BOT, "body": "unrelated"},
    ]
    done = run_gitlab_plan(repo, tmp_path, notes_api)
    assert done.returncode == 1
    assert "hoodsync plan not run" in done.stdout
    assert notes_api.writes() == [
        ("PUT", f"{NOTES}/2", "<!-- hoodsync-plan:alpha -->"),
        ("PUT", f"{NOTES}/3", "<!-- hoodsync-plan:beta -->"),
    ]
    for write in notes_api.requests[-2:]:
        lines = write["body"]["body"].split("\n")
        assert lines[1] == f"Commit {MR_HEAD_SHA}, the head of this merge request"
        assert "### hoodsync plan not run" in lines and "hoodsync.yaml:" in "\n".join(lines)


# --------------------------------------------------------------------------- environments

#: Two accounts without `paths:` sharing one set of definitions (README: Environments).
ENVIRONMENTS = ("production", "staging")


@pytest.fixture()
def environments(tmp_path: Path) -> Path:
    root = tmp_path / "envs"
    (root / "campaigns").mkdir(parents=True)
    for key in ACCOUNTS.values():
        shutil.copy(EXAMPLES / f"{key}.yaml", root / "campaigns")
    sandbox = {"hood": {"url": "sandbox"}, "falconyte": {"url": "sandbox"}}
    accounts = {name: sandbox for name in ENVIRONMENTS}
    (root / "hoodsync.yaml").write_text(yaml.safe_dump({"accounts": accounts}), encoding="utf-8")
    return root


def github_drift(repo: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    job = GitHubJob("drift", repo, tmp_path, BIN)
    return job.run("Check for drift", RUNNER_TEMP=str(job.files))


def test_environments_apply_and_drift_run_each_account(environments: Path, tmp_path: Path) -> None:
    """Without `paths:` a run without --account is refused: GitLab's apply and both drift
    checks name each account, so they plan, apply and compare every environment."""
    before = github_drift(environments, tmp_path)
    assert before.returncode == 1, before.stdout + before.stderr
    assert "Account(s) production staging differ from main" in before.stdout

    applied = run_gitlab_job("apply", environments, tmp_path)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    for name in ENVIRONMENTS:
        assert f"=== account {name} ===" in applied.stdout
        assert (environments / ".hoodsync" / f"sandbox-{name}.sqlite").exists()

    after = github_drift(environments, tmp_path)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "No drift: every account matches main." in after.stdout
    gitlab = run_gitlab_job("drift", environments, tmp_path)
    assert gitlab.returncode == 0, gitlab.stdout + gitlab.stderr
    assert "No drift: every account matches main." in gitlab.stdout

    rename_in_the_ui(
        environments / ".hoodsync" / "sandbox-staging.sqlite", "Car Brands Showcase", "Cars"
    )
    drifted = run_gitlab_job("drift", environments, tmp_path)
    assert drifted.returncode == 1
    assert "account(s) staging differ from main" in drifted.stdout


# --------------------------------------------------------------------------- drift pull request


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout.strip()


def checkout_with_origin(root: Path, tmp_path: Path, *tracked_state: str) -> None:
    """``root`` as the job's checkout: a git repository of its files on `main` (hoodsync's
    state in .hoodsync/ only for the files named), whose `origin` is a bare repository."""
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", "-A", "--", ".", ":(exclude).hoodsync")
    for path in tracked_state:
        git(root, "add", "--force", path)  # someone committed it, ignored or not
    git(root, "commit", "--quiet", "-m", "main")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "--quiet", "origin", "main")


def drift_pull_request(
    repo: Path, tmp_path: Path, gh: Path, **extra: str
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str] | None]:
    """The drift-pull-request job's pull step, then (when it passed) its pull-request step."""
    job = GitHubJob("drift-pull-request", repo, tmp_path, gh)
    runner = {"RUNNER_TEMP": str(job.files), **extra}
    pulled = job.run("Pull what changed in the UIs", **runner)
    if pulled.returncode != 0:
        return pulled, None
    opened = job.run(
        "Open or update the pull request",
        GH_STUB_LOG=str(tmp_path / "gh.log"),
        GH_STUB_COMMENTS=json.dumps({"state": "MERGED"}),
        **runner,
    )
    return pulled, opened


def pushed_files(tmp_path: Path) -> list[str] | None:
    """The files the pushed branch hoodsync/pull changes, or None when nothing was pushed."""
    origin = tmp_path / "origin.git"
    branches = git(origin, "branch", "--list", "hoodsync/pull")
    if not branches:
        return None
    return git(origin, "diff", "--name-only", "main", "hoodsync/pull").splitlines()


@pytest.fixture()
def applied_checkout(repo: Path, tmp_path: Path) -> Path:
    """The two-account repository applied to its sandboxes and checked out as the job sees
    it, carrying a tracked file of hoodsync's state (a journal someone committed)."""
    journal = repo / ".hoodsync" / "journal" / "committed.jsonl"
    journal.parent.mkdir(parents=True)
    journal.write_text('{"old": true}\n')
    (repo / "notes.txt").write_text("tracked, not a definition\n")
    for account in ACCOUNTS:
        applied = subprocess.run(
            [str(BIN / "hoodsync"), "apply", "--account", account, "--auto-approve"],
            cwd=repo,
            env=base_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert applied.returncode == 0, applied.stdout + applied.stderr
    checkout_with_origin(repo, tmp_path, ".hoodsync/journal/committed.jsonl")
    # What a job may leave in the checkout besides pull's edits: hoodsync's state (the sandbox,
    # journals, tracked or not) and other files.
    with journal.open("a") as fh:
        fh.write('{"new": true}\n')
    (repo / "notes.txt").write_text("changed by something else\n")
    (repo / "plan.json").write_text("{}\n")  # untracked
    return repo


def test_the_drift_pull_request_commits_only_the_definitions_pull_wrote(
    applied_checkout: Path, tmp_path: Path, gh_stub: Path
) -> None:
    repo = applied_checkout
    rename_in_the_ui(repo / ".hoodsync" / "sandbox-beta.sqlite", "Car Brands Showcase", "Cars")
    pulled, opened = drift_pull_request(repo, tmp_path, gh_stub)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert opened is not None and opened.returncode == 0, opened.stdout + opened.stderr
    assert pushed_files(tmp_path) == ["beta/car-brands-showcase.yaml"]
    assert [c["args"][:2] for c in gh_calls(tmp_path)] == [["pr", "view"], ["pr", "create"]]


def test_the_drift_pull_request_without_drift_opens_nothing(
    applied_checkout: Path, tmp_path: Path, gh_stub: Path
) -> None:
    """hoodsync's own state changed (and other files), but pull wrote nothing: no drift."""
    pulled, opened = drift_pull_request(applied_checkout, tmp_path, gh_stub)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert opened is not None and opened.returncode == 0, opened.stdout + opened.stderr
    assert "No drift" in opened.stdout
    assert pushed_files(tmp_path) is None and gh_calls(tmp_path) == []


def test_environments_drift_pull_request_takes_the_chosen_accounts_changes(
    environments: Path, tmp_path: Path, gh_stub: Path
) -> None:
    """Accounts sharing definitions are pulled with --account. Pulled together, the later one
    would write back what the earlier one wrote, so the job refuses a file two accounts
    changed; HOODSYNC_PULL_ACCOUNTS picks the one whose UI changes to take."""
    repo = environments
    applied = run_gitlab_job("apply", repo, tmp_path)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    checkout_with_origin(repo, tmp_path)
    rename_in_the_ui(repo / ".hoodsync" / "sandbox-production.sqlite", "Car Brands Showcase", "Hi")

    pulled, opened = drift_pull_request(repo, tmp_path, gh_stub)
    assert pulled.returncode == 1 and opened is None
    assert "two accounts changed one file (a/campaigns/car-brands-showcase.yaml" in pulled.stdout
    git(repo, "checkout", "--", "campaigns")

    pulled, opened = drift_pull_request(
        repo, tmp_path, gh_stub, HOODSYNC_PULL_ACCOUNTS="production"
    )
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert opened is not None and opened.returncode == 0, opened.stdout + opened.stderr
    assert pushed_files(tmp_path) == ["campaigns/car-brands-showcase.yaml"]
    assert "name: Hi" in git(
        tmp_path / "origin.git", "show", "hoodsync/pull:campaigns/car-brands-showcase.yaml"
    )
