"""The pre-commit hook as a definitions repository uses it: the real `pre-commit` tool, the
README's `.pre-commit-config.yaml` snippet, and this repository's `.pre-commit-hooks.yaml`.

pre-commit clones the hook repository at `rev` and installs it with pip into an environment of
its own, so the test commits a copy of this checkout (working files included) to a temporary git
repository and points the snippet at that copy and its commit. Needs git and pre-commit (in the
test extra); installing the hook's environment takes the package index, like any user's first run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GOOD = """\
kind: PushTask
key: demo
state: inactive
spec:
  name: Demo
  targeting:
    countries: {items: [NO, SE], op: include}
"""
BAD = GOOD.replace("  name: Demo\n", "  name: Demo\n  nmae: typo\n")  # line 6
SKIP = {
    ".git",
    ".venv",
    ".hoodsync",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    "build",
    "dist",
}

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("pre_commit") is None,
        reason="pre-commit is not installed (pip install -e '.[test]')",
    ),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def committed_copy(dest: Path) -> str:
    """This checkout's files (as they are now) committed to a new repository; its commit SHA."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in SKIP or n.endswith(".egg-info")}
        if Path(folder).resolve() == (ROOT / ".ci").resolve():
            skipped.add("tools")  # the linters .ci/run installs
        return skipped

    shutil.copytree(ROOT, dest, ignore=ignore)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "hoodsync under test")
    return git(dest, "rev-parse", "HEAD")


def readme_snippet() -> dict[str, object]:
    """The README's .pre-commit-config.yaml (in its CI section)."""
    ci = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## CI\n", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", ci.split("\n## ", 1)[0], re.S)
    assert block is not None
    config: dict[str, object] = yaml.safe_load(textwrap.dedent(block.group(1)))
    return config


def pre_commit(cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_hook_passes_valid_and_stops_invalid_definitions(tmp_path: Path) -> None:
    sha = committed_copy(tmp_path / "hoodsync")
    defs = tmp_path / "definitions"
    defs.mkdir()
    git(defs, "init", "-q")
    config = readme_snippet()
    repos = config["repos"]
    assert isinstance(repos, list) and len(repos) == 1
    repos[0].update(repo=str(tmp_path / "hoodsync"), rev=sha)
    (defs / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (defs / "push-tasks").mkdir()
    (defs / "push-tasks" / "demo.yaml").write_text(GOOD, encoding="utf-8")
    git(defs, "add", "-A")

    done = pre_commit(defs, tmp_path / "pre-commit-home")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^hoodsync validate\.+Passed$", done.stdout, re.M), done.stdout

    (defs / "push-tasks" / "other.yaml").write_text(
        BAD.replace("key: demo", "key: other"), encoding="utf-8"
    )
    git(defs, "add", "-A")
    done = pre_commit(defs, tmp_path / "pre-commit-home")
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"^hoodsync validate\.+Failed$", done.stdout, re.M), done.stdout
    assert "push-tasks/other.yaml:6:3: error: unknown key 'nmae'" in done.stdout
    assert "demo.yaml" not in done.stdout  # the whole tree is checked, the valid file passes
