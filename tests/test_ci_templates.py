"""The CI templates and the pre-commit hook: valid YAML, the documented shape, and every
``hoodsync ...`` command line they contain uses only subcommands and options that exist.

The command table below mirrors the CLI contract (DESIGN §1.1 plus the options of issue 8); it is
a stand-in until the test asks click itself. The drift and plan shell steps are also run under
``bash -e`` with a fake ``hoodsync`` on PATH, so their exit-code handling is exercised for real.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / "examples" / ".github" / "workflows" / "hoodsync.yml"
GITLAB = ROOT / "examples" / ".gitlab-ci.yml"
PRE_COMMIT = ROOT / ".pre-commit-hooks.yaml"
MARKER = "<!-- hoodsync-plan -->"

FLAG = "flag"
VALUE = "value"


@dataclass(frozen=True)
class Command:
    """A subcommand: its options (FLAG, VALUE, or the set of allowed values) and positionals."""

    options: dict[str, Any] = field(default_factory=dict)
    max_positionals: int | None = None  # None = any number (PATH...)
    unchecked: bool = False  # `emulator ...`: options not listed here


def _commands_from_click() -> dict[str, Command]:
    """The real CLI, asked through click: every subcommand with its options and positionals."""
    import click

    from hoodsync.cli import cli

    out: dict[str, Command] = {}
    for name, command in cli.commands.items():
        options: dict[str, Any] = {}
        positionals: int | None = 0
        for param in command.params:
            if isinstance(param, click.Option):
                kind: Any = FLAG if param.is_flag else (
                    set(param.type.choices) if isinstance(param.type, click.Choice) else VALUE)
                for opt in (*param.opts, *param.secondary_opts):
                    options[opt] = kind
            elif isinstance(param, click.Argument):
                positionals = None if param.nargs == -1 or positionals is None \
                    else positionals + param.nargs
        out[name] = Command(options, max_positionals=positionals)
    return out


COMMANDS: dict[str, Command] = _commands_from_click()

_STARTS_COMMAND = {None, ";", "&&", "||", "|", "(", "then", "do", "else", "time", "exec", "!"}
_ENDS_COMMAND = {";", "&&", "||", "|", ")", ">", ">>", "<", "&", ">&", "<<", "<<<"}


# --------------------------------------------------------------------------- the checker

def hoodsync_commands(script: str) -> Iterator[list[str]]:
    """Every ``hoodsync`` invocation in a shell script, as the arguments after ``hoodsync``.

    Only words in command position count: ``pip install hoodsync`` or a quoted
    ``"hoodsync plan"`` inside an echo are not invocations.
    """
    for line in script.replace("\\\n", " ").splitlines():
        if not re.search(r"(^|[\s;&|(])hoodsync\s", line):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            if token != "hoodsync" or (tokens[i - 1] if i else None) not in _STARTS_COMMAND:
                continue
            args: list[str] = []
            for arg in tokens[i + 1:]:
                if arg in _ENDS_COMMAND:
                    if args and args[-1].isdigit():  # `2>`: a file descriptor, not an argument
                        args.pop()
                    break
                args.append(arg)
            yield args


def command_problems(args: list[str]) -> list[str]:
    """What is wrong with ``hoodsync <args>`` according to :data:`COMMANDS` (empty: fine)."""
    if not args:
        return ["no subcommand"]
    spec = COMMANDS.get(args[0])
    if spec is None:
        return [f"unknown subcommand {args[0]!r}"]
    if spec.unchecked:
        return []
    problems, positionals, rest = [], 0, iter(args[1:])
    for arg in rest:
        if not arg.startswith("-") or arg == "-":
            positionals += 1
            continue
        name, has_value, value = arg.partition("=")
        kind = spec.options.get(name)
        if kind is None:
            problems.append(f"{args[0]}: unknown option {name!r}")
        elif kind == FLAG:
            if has_value:
                problems.append(f"{args[0]}: {name} takes no value")
        else:
            value = value if has_value else next(rest, "")
            if not value or value.startswith("--"):
                problems.append(f"{args[0]}: {name} needs a value")
            elif isinstance(kind, set) and value not in kind:
                problems.append(f"{args[0]}: {name} {value!r} is not one of {sorted(kind)}")
    if spec.max_positionals is not None and positionals > spec.max_positionals:
        problems.append(f"{args[0]}: {positionals} positional argument(s)")
    return problems


# --------------------------------------------------------------------------- loading

def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def github_scripts(workflow: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if "run" in step:
                yield f"github {name}: {step.get('name', step['run'][:30])}", step["run"]


def gitlab_scripts(pipeline: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for name, job in pipeline.items():
        if not isinstance(job, dict):
            continue
        for key in ("before_script", "script", "after_script"):
            lines = job.get(key) or []
            for line in [lines] if isinstance(lines, str) else lines:
                yield f"gitlab {name}.{key}", line


def all_commands() -> list[tuple[str, list[str]]]:
    scripts = [*github_scripts(load(GITHUB)), *gitlab_scripts(load(GITLAB))]
    scripts += [(f"pre-commit {h['id']}", h["entry"]) for h in load(PRE_COMMIT)]
    return [(where, args) for where, script in scripts for args in hoodsync_commands(script)]


# --------------------------------------------------------------------------- tests

def test_every_hoodsync_command_in_the_templates_exists() -> None:
    found = all_commands()
    problems = [f"{where}: hoodsync {' '.join(args)}: {p}"
                for where, args in found for p in command_problems(args)]
    assert problems == []
    lines = {" ".join(args) for _, args in found}
    # The collector really saw the commands the templates are about (not a vacuous pass).
    assert {"validate", "apply --auto-approve", "plan --detailed-exitcode",
            "plan --format markdown --out plan.json --preview preview.html"} <= lines
    assert {where.split()[0] for where, _ in found} == {"github", "gitlab", "pre-commit"}


@pytest.mark.parametrize(
    ("script", "problem"),
    [
        ("hoodsync plan --bogus", "plan: unknown option '--bogus'"),
        ("hoodsync deploy", "unknown subcommand 'deploy'"),
        ("hoodsync plan --format html", "plan: --format 'html' is not one of"),
        ("hoodsync apply --auto-approve=yes", "apply: --auto-approve takes no value"),
        ("hoodsync apply --plan", "apply: --plan needs a value"),
        ("hoodsync export out/", "export: 1 positional argument(s)"),
        ("hoodsync schema Campaign PushTask", "schema: 2 positional argument(s)"),
        ("hoodsync validate -v", "validate: unknown option '-v'"),
        ("cd x && hoodsync plann > out.md", "unknown subcommand 'plann'"),
        ("out=$(hoodsync plan --detailed-exitcode --nope)", "plan: unknown option '--nope'"),
    ],
)
def test_the_checker_rejects_what_does_not_exist(script: str, problem: str) -> None:
    commands = list(hoodsync_commands(script))
    assert len(commands) == 1
    assert any(p.startswith(problem) for p in command_problems(commands[0])), commands


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ('python -m pip install "hoodsync==0.1.*"', []),
        ('echo "::error title=hoodsync plan failed::hoodsync plan --bogus"', []),
        ("hoodsync plan --out p.json > plan.md 2> plan.err", [["plan", "--out", "p.json"]]),
        ("hoodsync validate defs/ \\\n  other/", [["validate", "defs/", "other/"]]),
        ("hoodsync emulator --port 0 --seed 3", [["emulator", "--port", "0", "--seed", "3"]]),
    ],
)
def test_the_checker_finds_only_invocations(script: str, expected: list[list[str]]) -> None:
    found = list(hoodsync_commands(script))
    assert found == expected
    assert all(command_problems(args) == [] for args in found)


def test_github_workflow_shape() -> None:
    workflow = load(GITHUB)
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1); GitHub reads it as "on".
    triggers = workflow.get("on", workflow.get(True))
    assert set(triggers) >= {"pull_request", "push", "schedule"}
    assert triggers["push"]["branches"] == ["main"]
    assert re.fullmatch(r"(\S+ ){4}\S+", triggers["schedule"][0]["cron"])
    env = workflow["env"]
    assert env["HOOD_API_TOKEN"] == "${{ secrets.HOOD_API_TOKEN }}"
    assert env["FALCONYTE_API_KEY"] == "${{ secrets.FALCONYTE_API_KEY }}"

    plan, apply, drift = (workflow["jobs"][j] for j in ("plan", "apply", "drift"))
    assert "pull_request" in plan["if"] and plan["permissions"]["pull-requests"] == "write"
    runs = "\n".join(s.get("run", "") for s in plan["steps"])
    assert "$GITHUB_STEP_SUMMARY" in runs
    script = next(s for s in plan["steps"] if "actions/github-script" in s.get("uses", ""))
    body = script["with"]["script"]
    assert MARKER in body and "updateComment" in body and "createComment" in body
    upload = next(s for s in plan["steps"] if "actions/upload-artifact" in s.get("uses", ""))
    assert "preview.html" in upload["with"]["path"]

    assert "push" in apply["if"] and "refs/heads/main" in apply["if"]
    assert apply["concurrency"]["cancel-in-progress"] is False
    assert apply["concurrency"]["group"]
    assert "schedule" in drift["if"]


def test_gitlab_pipeline_shape() -> None:
    pipeline = load(GITLAB)
    assert set(pipeline["stages"]) == {"validate", "plan", "apply"}
    for job in ("validate", "plan", "apply", "drift"):
        assert pipeline[job]["stage"] in pipeline["stages"]
    assert "merge_request_event" in pipeline["plan"]["rules"][0]["if"]
    assert "preview.html" in pipeline["plan"]["artifacts"]["paths"]
    assert MARKER in "\n".join(pipeline["plan"]["script"])
    assert pipeline["apply"]["resource_group"]
    assert "CI_DEFAULT_BRANCH" in pipeline["apply"]["rules"][0]["if"]
    assert "schedule" in pipeline["drift"]["rules"][0]["if"]


def test_pre_commit_hook() -> None:
    hooks = load(PRE_COMMIT)
    assert [h["id"] for h in hooks] == ["hoodsync-validate"]
    hook = hooks[0]
    assert hook["entry"] == "hoodsync validate" and hook["language"] == "python"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert [bool(files.search(p)) for p in ("a.yaml", "d/b.yml", "c.json", "x.yaml.bak")] == [
        True, True, False, False]


# --------------------------------------------------------------------------- scripts, for real

@pytest.fixture()
def fake_hoodsync(tmp_path: Path) -> Path:
    """A ``hoodsync`` on PATH that records its arguments and exits with ``$FAKE_EXIT``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "hoodsync"
    fake.write_text('#!/bin/sh\necho "$@" >> "$FAKE_LOG"\necho "PLAN OUTPUT"\n'
                    'echo "some error" >&2\nexit "${FAKE_EXIT:-0}"\n', encoding="utf-8")
    fake.chmod(0o755)
    return bin_dir


def run_step(
    script: str, bin_dir: Path, exit_code: int, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "FAKE_EXIT": str(exit_code), "FAKE_LOG": str(cwd / "calls.log"),
           "GITHUB_STEP_SUMMARY": str(cwd / "summary.md"), "GITHUB_OUTPUT": str(cwd / "out.txt"),
           "CI_DEFAULT_BRANCH": "main"}
    # GitHub runs `run:` with `bash -e`; GitLab's shell fails a script line on error the same way.
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=30, check=False)


def drift_scripts() -> list[tuple[str, str]]:
    github = load(GITHUB)["jobs"]["drift"]["steps"]
    gitlab = load(GITLAB)["drift"]["script"]
    return [("github", next(s["run"] for s in github if "--detailed-exitcode" in s.get("run", ""))),
            ("gitlab", "\n".join(gitlab))]


@pytest.mark.parametrize(("which", "script"), drift_scripts(), ids=["github", "gitlab"])
@pytest.mark.parametrize(("exit_code", "job_exit", "says"), [
    (0, 0, "No drift"), (2, 1, "differs"), (1, 1, "failed")])
def test_drift_check_fails_on_drift_and_on_errors(
    which: str, script: str, exit_code: int, job_exit: int, says: str,
    fake_hoodsync: Path, tmp_path: Path,
) -> None:
    done = run_step(script, fake_hoodsync, exit_code, tmp_path)
    assert done.returncode == job_exit, done.stdout + done.stderr
    assert says in done.stdout
    assert (tmp_path / "calls.log").read_text().split() == ["plan", "--detailed-exitcode"]


@pytest.mark.parametrize("exit_code", [0, 1])
def test_github_plan_step_writes_comment_summary_and_status(
    exit_code: int, fake_hoodsync: Path, tmp_path: Path
) -> None:
    steps = load(GITHUB)["jobs"]["plan"]["steps"]
    script = next(s["run"] for s in steps if s.get("id") == "plan")
    done = run_step(script, fake_hoodsync, exit_code, tmp_path)
    assert done.returncode == 0, done.stderr  # a later step fails the job, after commenting
    plan_md = (tmp_path / "plan.md").read_text()
    assert plan_md.startswith("PLAN OUTPUT")
    assert ("plan failed" in plan_md and "some error" in plan_md) == (exit_code != 0)
    assert (tmp_path / "summary.md").read_text() == plan_md
    assert (tmp_path / "out.txt").read_text() == f"status={exit_code}\n"
