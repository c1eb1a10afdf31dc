"""What the CLI gives CI: `hoodsync accounts` (the accounts a matrix runs over), workflow-command
annotations under GitHub Actions, and `validate --codequality FILE` for GitLab."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hoodsync.annotations import CHECK_NAME, codequality_report, workflow_command
from hoodsync.cli import main
from hoodsync.errors import Problem
from hoodsync.model import Location

TWO_ACCOUNTS = """\
accounts:
  beta:
    hood: {url: sandbox}
    paths: [beta/]
  alpha:
    hood: {url: sandbox}
    paths: [alpha/]
"""
# Two problems in one file: an unknown key and a rule (an active push task needs a message).
BAD = """\
kind: PushTask
key: demo
state: active
spec:
  name: Demo
  nmae: typo
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.fixture()
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return tmp_path


# --------------------------------------------------------------------------- accounts


def test_accounts_lists_the_configured_names_sorted(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "hoodsync.yaml").write_text(TWO_ACCOUNTS)
    for name in ("alpha", "beta"):
        (in_tmp / name).mkdir()
    assert run(capsys, "accounts") == (0, "alpha\nbeta\n", "")
    assert run(capsys, "accounts", "--format", "json") == (0, '["alpha", "beta"]\n', "")
    # Found as plan finds it: beside the first PATH, from another working directory too.
    os.chdir(in_tmp.parent)
    assert run(capsys, "accounts", str(in_tmp / "alpha"))[1] == "alpha\nbeta\n"


def test_accounts_without_hoodsync_yaml_is_default(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "accounts", "--format", "json") == (0, '["default"]\n', "")


def test_accounts_reports_a_broken_hoodsync_yaml_located(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "hoodsync.yaml").write_text("accounts:\n  Bad Name:\n    hood: {url: sandbox}\n")
    code, out, err = run(capsys, "accounts")
    assert (code, out) == (1, "")
    assert err.startswith("hoodsync.yaml:2:")


# --------------------------------------------------------------------------- GitHub annotations


def test_validate_annotates_each_problem_under_github_actions(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = in_tmp / "defs, v2: new"  # a comma and a colon, which delimit command properties
    folder.mkdir()
    (folder / "t.yaml").write_text(BAD)
    code, plain_out, plain_err = run(capsys, "validate")
    assert code == 1 and "::" not in plain_err  # not on a terminal or another CI

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out, err = run(capsys, "validate")
    assert (code, out) == (1, plain_out)
    lines = err.splitlines()
    problems = [line for line in plain_err.splitlines() if ": error: " in line]
    commands = [line for line in lines if line.startswith("::")]
    assert len(problems) >= 2 and len(commands) == len(problems)
    # Each problem line is followed by its command; the plain lines are unchanged.
    assert [line for line in lines if not line.startswith("::")] == plain_err.splitlines()
    for problem, command in zip(problems, commands):
        assert lines[lines.index(problem) + 1] == command
        where, _, message = problem.partition(": error: ")
        _, line, col = where.rsplit(":", 2)
        assert command == (
            f"::error file=defs%2C v2%3A new/t.yaml,line={line},col={col},"
            f"title={CHECK_NAME}::{message}"
        )
    assert any("nmae" in c for c in commands)


def test_workflow_command_escapes_as_github_requires() -> None:
    problem = Problem(
        Location("a,b:c%.yaml", 3, 7), "100% sure\r\nsecond line: yes, really", ("spec", "name")
    )
    assert workflow_command(problem) == (
        "::error file=a%2Cb%3Ac%25.yaml,line=3,col=7,title=hoodsync validate::"
        "100%25 sure%0D%0Asecond line: yes, really (spec.name)"
    )
    warning = Problem(Location("w.yaml", 1, 1), "careful", severity="warning")
    assert workflow_command(warning).startswith("::warning file=w.yaml,")


# --------------------------------------------------------------------------- GitLab Code Quality


def test_validate_writes_a_codequality_report(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "t.yaml").write_text(BAD)
    code, _, err = run(capsys, "validate", "--codequality", "cq.json")
    assert code == 1
    report = json.loads((in_tmp / "cq.json").read_text())
    problems = [line for line in err.splitlines() if ": error: " in line]
    assert len(report) == len(problems) >= 2
    for finding, line in zip(report, problems):
        where, _, message = line.partition(": error: ")
        path, begin, _ = where.rsplit(":", 2)
        assert finding["description"] == message
        assert finding["location"] == {"path": path, "lines": {"begin": int(begin)}}
        assert finding["check_name"] == CHECK_NAME and finding["severity"] == "critical"
        assert len(finding["fingerprint"]) == 64
    assert len({f["fingerprint"] for f in report}) == len(report)

    (in_tmp / "t.yaml").write_text(BAD.replace("  nmae: typo\n", "").replace("active", "inactive"))
    code, out, _ = run(capsys, "validate", "--codequality", "cq.json")
    assert code == 0 and out.startswith("OK: ")
    assert json.loads((in_tmp / "cq.json").read_text()) == []


def test_codequality_into_a_missing_folder_fails_before_validating(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "t.yaml").write_text(BAD)
    code, out, err = run(capsys, "validate", "--codequality", "no/such/cq.json")
    assert (code, out) == (1, "")
    assert err.splitlines() == [err.splitlines()[0]] and "no/such/cq.json" in err


def test_codequality_fingerprints_tell_identical_messages_apart() -> None:
    same = [
        Problem(Location("f.yaml", line, 1), "missing required key 'name'", ("spec",))
        for line in (3, 9)
    ]
    report = codequality_report(same)
    assert report[0]["fingerprint"] != report[1]["fingerprint"]
    assert codequality_report([]) == []
