"""The CI templates and the pre-commit hook: valid YAML, the documented shape, and every
``hoodsync ...`` command line they contain uses only subcommands and options that exist (asked
of click itself). hoodsync is installed from a pinned commit, never by package name, and the API
secrets reach only the steps that call the APIs. The drift and plan shell steps are also run
under ``bash -e`` with a fake ``hoodsync`` on PATH, so their exit-code handling is exercised for
real; tests/test_ci_plan_scripts.py runs the plan scripts with the real hoodsync.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / "examples" / ".github" / "workflows" / "hoodsync.yml"
GITLAB = ROOT / "examples" / ".gitlab-ci.yml"
PRE_COMMIT = ROOT / ".pre-commit-hooks.yaml"
README = ROOT / "README.md"
MARKER = "<!-- hoodsync-plan:"  # + account + " -->"

FLAG = "flag"
VALUE = "value"


@dataclass(frozen=True)
class Command:
    """A subcommand: its options (FLAG, VALUE, or the set of allowed values) and positionals."""

    options: dict[str, Any] = field(default_factory=dict)
    max_positionals: int | None = None  # None = any number (PATH...)
    unchecked: bool = False


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
                kind: Any = (
                    FLAG
                    if param.is_flag
                    else (
                        set(param.type.choices) if isinstance(param.type, click.Choice) else VALUE
                    )
                )
                for opt in (*param.opts, *param.secondary_opts):
                    options[opt] = kind
            elif isinstance(param, click.Argument):
                positionals = (
                    None if param.nargs == -1 or positionals is None else positionals + param.nargs
                )
        out[name] = Command(options, max_positionals=positionals)
    return out


COMMANDS: dict[str, Command] = _commands_from_click()

_STARTS_COMMAND = {None, ";", "&&", "||", "|", "(", "then", "do", "else", "time", "exec", "!"}
_ENDS_COMMAND = {";", "&&", "||", "|", ")", ">", ">>", "<", "&", ">&", "<<", "<<<"}


# --------------------------------------------------------------------------- the checker

_SUBSTITUTION = re.compile(r"\$\(([^()]*)\)")


def hoodsync_commands(script: str) -> Iterator[list[str]]:
    """Every ``hoodsync`` invocation in a shell script, as the arguments after ``hoodsync``.

    Only words in command position count: ``pip install hoodsync`` or a quoted
    ``"hoodsync plan"`` inside an echo are not invocations; a command substitution
    (``"names=$(hoodsync accounts)"``) is a script of its own, quoted or not.
    """
    for line in script.replace("\\\n", " ").splitlines():
        for part in (_SUBSTITUTION.sub("SUBSTITUTION", line), *_SUBSTITUTION.findall(line)):
            yield from _line_commands(part)


def _line_commands(line: str) -> Iterator[list[str]]:
    if not re.search(r"(^|[\s;&|(])hoodsync\s", line):
        return
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    for i, token in enumerate(tokens):
        if token != "hoodsync" or (tokens[i - 1] if i else None) not in _STARTS_COMMAND:
            continue
        args: list[str] = []
        for arg in tokens[i + 1 :]:
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
    problems = [
        f"{where}: hoodsync {' '.join(args)}: {p}"
        for where, args in found
        for p in command_problems(args)
    ]
    assert problems == []
    lines = {" ".join(args) for _, args in found}
    # The collector really saw the commands the templates are about (not a vacuous pass).
    assert {
        "validate",
        "accounts --format json",
        "accounts",
        "validate --codequality gl-code-quality-report.json",
        "apply --account $ACCOUNT --auto-approve",
        "apply --account $account --auto-approve",
        "plan --account $account --detailed-exitcode",
        "pull --account $account",
        "plan --account $ACCOUNT --format markdown --out plan.json --preview preview.html",
    } <= lines
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
        ('echo "n=$(hoodsync accounts --format yaml)"', "accounts: --format 'yaml' is not one of"),
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


def steps_by_name(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step.get("name", step.get("uses", "")): step for step in job["steps"]}


def test_github_workflow_shape() -> None:
    workflow = load(GITHUB)
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1); GitHub reads it as "on".
    triggers = workflow.get("on", workflow.get(True))
    assert set(triggers) >= {"pull_request", "push", "schedule"}
    assert triggers["push"]["branches"] == ["main"]
    assert re.fullmatch(r"(\S+ ){4}\S+", triggers["schedule"][0]["cron"])
    jobs = workflow["jobs"]
    accounts, plan, apply, drift = (jobs[j] for j in ("accounts", "plan", "apply", "drift"))

    # One job validates and lists the accounts; plan and apply run once per account.
    listing = next(s for s in accounts["steps"] if s.get("id") == "accounts")
    assert "hoodsync accounts --format json" in listing["run"]
    assert accounts["outputs"]["names"] == "${{ steps.accounts.outputs.names }}"
    for job in (plan, apply):
        assert job["needs"] == "accounts"
        assert (
            job["strategy"]["matrix"]["account"] == "${{ fromJSON(needs.accounts.outputs.names) }}"
        )
        assert job["strategy"]["fail-fast"] is False

    assert "pull_request" in plan["if"] and plan["permissions"]["pull-requests"] == "write"
    runs = "\n".join(s.get("run", "") for s in plan["steps"])
    assert "$GITHUB_STEP_SUMMARY" in runs and "account \\`$ACCOUNT\\`" in runs
    assert MARKER + "${ACCOUNT} -->" in runs
    upload = next(s for s in plan["steps"] if "actions/upload-artifact" in s.get("uses", ""))
    assert upload["with"]["name"] == "hoodsync-plan-${{ matrix.account }}"
    assert "preview.html" in upload["with"]["path"]

    assert "push" in apply["if"] and "refs/heads/main" in apply["if"]
    assert apply["concurrency"] == {
        "group": "hoodsync-apply-${{ matrix.account }}",
        "cancel-in-progress": False,
    }
    assert "schedule" in drift["if"]


def test_github_a_newer_push_cancels_the_older_pull_request_run_and_never_an_apply() -> None:
    """One group per pull request, cancelled by the next push (its plans and comments go with
    it); every other run is in a group of its own and never cancelled, and the applies keep
    their own never-cancelled group per account."""
    workflow = load(GITHUB)
    pr = "github.event_name == 'pull_request'"
    assert workflow["concurrency"] == {
        "group": "hoodsync-${{ "
        + pr
        + " && format('pr-{0}', github.event.pull_request.number)"
        + " || format('run-{0}', github.run_id) }}",
        "cancel-in-progress": "${{ " + pr + " }}",
    }
    jobs = workflow["jobs"]
    # No job has a group a pull request's run could share (or cancel), apply's aside.
    assert {name for name, job in jobs.items() if "concurrency" in job} == {"apply"}
    assert jobs["apply"]["concurrency"]["cancel-in-progress"] is False
    assert "pull_request" not in jobs["apply"]["if"]


def test_github_the_plan_comments_say_when_no_plan_ran() -> None:
    """When the accounts job fails (validation), the plan matrix is skipped: a job of its own,
    on pull requests only and only then, edits the plan comments (its script runs in
    tests/test_ci_plan_scripts.py)."""
    job = load(GITHUB)["jobs"]["plan-not-run"]
    assert job["needs"] == "accounts"
    assert job["if"] == "github.event_name == 'pull_request' && failure()"
    assert job["permissions"] == {"pull-requests": "write"}
    [step] = job["steps"]
    assert MARKER in step["run"] and "--method PATCH" in step["run"]


def test_github_actions_are_pinned_to_a_commit_with_its_release_named() -> None:
    """A tag can be moved to other code, a commit cannot: every ``uses:`` names a full SHA,
    and the comment after it says which release that is (for the person who bumps it)."""
    uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", GITHUB.read_text(), re.MULTILINE)
    assert len(uses) >= 3
    for ref, comment in uses:
        action, _, version = ref.partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", version), ref
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), (ref, comment)
        assert action.startswith("actions/"), ref


def test_gitlab_pipeline_shape() -> None:
    pipeline = load(GITLAB)
    assert pipeline["stages"] == ["build", "validate", "plan", "apply"]
    for job in ("hoodsync-wheels", "validate", "plan", "apply", "drift"):
        assert pipeline[job]["stage"] in pipeline["stages"]
    assert (
        pipeline["validate"]["artifacts"]["reports"]["codequality"]
        in pipeline["validate"]["script"][0]
    )
    assert "merge_request_event" in pipeline["plan"]["rules"][0]["if"]
    assert pipeline["plan"]["artifacts"]["paths"] == ["hoodsync-plan/"]
    assert "hoodsync accounts" in pipeline["plan"]["script"][1]
    assert 'f"<!-- hoodsync-plan:{account} -->"' in "\n".join(pipeline["plan"]["script"])
    assert pipeline["apply"]["resource_group"]
    assert "CI_DEFAULT_BRANCH" in pipeline["apply"]["rules"][0]["if"]
    assert "schedule" in pipeline["drift"]["rules"][0]["if"]


def test_gitlab_a_newer_push_cancels_the_older_plan_and_never_an_apply() -> None:
    """Merge-request pipelines cancel their interruptible jobs on a newer commit; plan is one,
    and it does not wait for validate (a plan of invalid definitions fails, and its note says so
    for that commit). Nothing else is interruptible, and default-branch pipelines keep GitLab's
    default auto-cancel, which never stops a started non-interruptible job such as apply."""
    pipeline = load(GITLAB)
    rules = pipeline["workflow"]["rules"]
    assert rules[0] == {
        "if": '$CI_PIPELINE_SOURCE == "merge_request_event"',
        "auto_cancel": {"on_new_commit": "interruptible"},
    }
    assert all("auto_cancel" not in rule for rule in rules[1:])
    assert "auto_cancel" not in pipeline["workflow"]
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and "stage" in job}
    assert {name for name, job in jobs.items() if job.get("interruptible")} == {"plan"}
    assert [rule["if"] for rule in pipeline["plan"]["rules"]] == [
        '$CI_PIPELINE_SOURCE == "merge_request_event"'
    ]
    assert pipeline["plan"]["needs"] == ["hoodsync-wheels"]


def test_pre_commit_hook() -> None:
    hooks = load(PRE_COMMIT)
    assert [h["id"] for h in hooks] == ["hoodsync-validate"]
    hook = hooks[0]
    assert hook["entry"] == "hoodsync validate" and hook["language"] == "python"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert [bool(files.search(p)) for p in ("a.yaml", "d/b.yml", "c.json", "x.yaml.bak")] == [
        True,
        True,
        False,
        False,
    ]


# --------------------------------------------------------------------------- pinned installs

SHA = re.compile(r"[0-9a-f]{40}")


def pip_commands(script: str) -> Iterator[list[str]]:
    """The arguments after ``pip install`` / ``pip wheel`` in a script (``python -m pip ...``)."""
    for line in script.replace("\\\n", " ").splitlines():
        if not re.search(r"\bpip\s+(install|wheel)\b", line):
            continue
        tokens = shlex.split(line, comments=True)
        at = next(i for i, t in enumerate(tokens) if t == "pip")
        yield tokens[at + 2 :]


def all_pip_commands() -> list[tuple[str, list[str]]]:
    scripts = [*github_scripts(load(GITHUB)), *gitlab_scripts(load(GITLAB))]
    return [(where, args) for where, script in scripts for args in pip_commands(script)]


def pip_problems(args: list[str]) -> list[str]:
    """Why ``pip install <args>`` could fetch hoodsync by a name someone could register.

    Allowed: a direct reference to a git URL at ``${HOODSYNC_COMMIT}`` (which the step checks is
    a full SHA), or ``--no-index`` (only the local wheels that such a reference built)."""
    if "--no-index" in args:
        return []
    takes_value = {"--wheel-dir", "-w", "--find-links", "-f", "-r", "--requirement", "-c"}
    problems, rest = [], iter(args)
    for arg in rest:
        if arg in takes_value:
            next(rest, None)
        elif not arg.startswith("-") and not re.fullmatch(
            r"hoodsync @ git\+\S+@\$\{HOODSYNC_COMMIT\}", arg
        ):
            problems.append(f"installs {arg!r} from the package index")
    return problems


def test_no_template_installs_hoodsync_by_package_name() -> None:
    found = all_pip_commands()
    assert [f"{where}: {p}" for where, args in found for p in pip_problems(args)] == []
    # Every job that runs hoodsync installs it; only GitLab's wheel job downloads anything.
    jobs = {w.split(":")[0] for w, _ in found if w.startswith("github")}
    assert jobs == {
        "github accounts",
        "github plan",
        "github apply",
        "github drift",
        "github drift-pull-request",
    }
    assert {w for w, a in found if "--no-index" not in a and w.startswith("gitlab")} == {
        "gitlab hoodsync-wheels.script"
    }


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["hoodsync==0.1.*"], "'hoodsync==0.1.*'"),
        (["--quiet", "hoodsync"], "'hoodsync'"),
        (["hoodsync @ git+https://example.com/x@main"], "from the package index"),
        (["pyyaml"], "'pyyaml'"),
    ],
)
def test_the_pin_checker_rejects_names_and_moving_refs(args: list[str], problem: str) -> None:
    assert any(problem in p for p in pip_problems(args))


def install_scripts() -> list[tuple[str, str]]:
    github = load(GITHUB)
    scripts = [
        (f"github {name}", step["run"])
        for name, job in github["jobs"].items()
        for step in job["steps"]
        if "pip install" in step.get("run", "")
    ]
    gitlab = load(GITLAB)["hoodsync-wheels"]["script"]
    return scripts + [("gitlab hoodsync-wheels", "\n".join(gitlab))]


def test_dependencies_come_from_the_lock_with_hashes_and_hoodsync_adds_none() -> None:
    """Every install of hoodsync first installs (GitLab: builds) the dependencies from a lock
    file in hash-checking mode, then hoodsync itself with --no-deps: nothing is resolved from
    the package index by name and version range."""
    scripts = install_scripts()
    assert len(scripts) == 6
    for where, script in scripts:
        commands = list(pip_commands(script))
        assert len(commands) == 2, where
        lock, package = commands
        assert "--require-hashes" in lock and "-r" in lock, where
        assert lock[lock.index("-r") + 1].endswith("requirements.lock") or lock[
            lock.index("-r") + 1
        ].endswith("hoodsync.lock"), where
        assert "--no-deps" in package and "-r" not in package, where
        assert re.fullmatch(r"hoodsync @ git\+\S+@\$\{HOODSYNC_COMMIT\}", package[-1]), where


@dataclass
class HoodsyncRepo:
    """A local stand-in for HOODSYNC_REPO: two commits whose requirements.lock differ."""

    url: str
    first: str
    locks: dict[str, str]


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


@pytest.fixture()
def hoodsync_repo(tmp_path: Path) -> HoodsyncRepo:
    root = tmp_path / "hoodsync-upstream"
    root.mkdir()
    git(root, "init", "--quiet")
    locks = {}
    for n in ("first", "second"):
        (root / "requirements.lock").write_text(f"pinned-at-the-{n}-commit==1 --hash=sha256:00\n")
        git(root, "add", "requirements.lock")
        git(root, "commit", "--quiet", "-m", n)
        locks[git(root, "rev-parse", "HEAD")] = (root / "requirements.lock").read_text()
    first = next(iter(locks))
    return HoodsyncRepo(url=root.as_uri(), first=first, locks=locks)


#: A `python` that records each call's arguments (and a copy of the file after `-r`).
FAKE_PYTHON = """#!/bin/sh
printf '%s\\n' "$@" -- >> "$PIP_LOG"
prev=""
for arg in "$@"; do
  if [ "$prev" = "-r" ]; then cat "$arg" >> "$PIP_LOG.locks"; fi
  prev=$arg
done
"""


@pytest.mark.parametrize(
    ("where", "script"), install_scripts(), ids=[w for w, _ in install_scripts()]
)
def test_install_refuses_an_unpinned_commit_and_installs_the_pinned_one(
    where: str, script: str, tmp_path: Path, hoodsync_repo: HoodsyncRepo
) -> None:
    """Run for real with git on a local HOODSYNC_REPO and a recording `python`: the lock is
    the one of the pinned commit (not of a newer one), installed with hashes, then hoodsync at
    that commit with --no-deps; an unpinned or unknown commit stops the step before pip."""
    from packaging.requirements import Requirement

    template = load(GITHUB)["env"] if where.startswith("github") else load(GITLAB)["variables"]
    # The shipped placeholder is refused before pip runs.
    assert not SHA.fullmatch(template["HOODSYNC_COMMIT"])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(FAKE_PYTHON)
    (bin_dir / "python").chmod(0o755)
    log = tmp_path / "pip.log"
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PIP_LOG": str(log),
        "HOODSYNC_REPO": hoodsync_repo.url,
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
        "TMPDIR": str(tmp_path),
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    (tmp_path / "runner-temp").mkdir()
    unknown = "0123456789abcdef" * 2 + "01234567"
    for commit, pinned in [
        (template["HOODSYNC_COMMIT"], False),
        ("a" * 39, False),
        ("A" * 40, False),
        (unknown, False),  # a full SHA that HOODSYNC_REPO does not have
        (hoodsync_repo.first, True),
    ]:
        done = subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=work,
            env={**env, "HOODSYNC_COMMIT": commit},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (done.returncode == 0) == pinned, done.stdout + done.stderr
        if not pinned:
            assert not log.exists(), commit
            if commit != unknown:
                assert "40-hex commit SHA" in done.stdout
    calls = [c.strip("\n").split("\n") for c in log.read_text().split("--\n") if c.strip()]
    assert len(calls) == 2, calls
    lock, package = calls
    assert lock[:3] == ["-m", "pip", package[2]] and package[2] in ("install", "wheel")
    assert "--require-hashes" in lock
    # The lock of the pinned commit, not of the newer one.
    assert Path(f"{log}.locks").read_text() == hoodsync_repo.locks[hoodsync_repo.first]
    assert "--no-deps" in package
    requirement = Requirement(package[-1])
    assert package[:2] == ["-m", "pip"] and requirement.name == "hoodsync"
    assert requirement.url == f"git+{hoodsync_repo.url}@{hoodsync_repo.first}"


# --------------------------------------------------------------------------- secrets

SECRET = re.compile(r"\$\{\{\s*secrets\.")


def test_github_secrets_reach_only_the_steps_that_call_the_apis() -> None:
    workflow = load(GITHUB)
    assert not SECRET.search(yaml.safe_dump(workflow.get("env", {})))
    calling = []
    for name, job in workflow["jobs"].items():
        assert not SECRET.search(yaml.safe_dump(job.get("env", {}))), name
        for step in job["steps"]:
            env = yaml.safe_dump(step.get("env", {}))
            run = step.get("run", "")
            calls_api = any(args[0] in ("plan", "apply", "pull") for args in hoodsync_commands(run))
            if SECRET.search(env):
                calling.append(name)
                assert calls_api, f"{name}: {step.get('name')} gets secrets"
                assert "pip" not in run
            else:
                assert not calls_api, f"{name}: {step.get('name')} calls the APIs without secrets"
            # The GitHub token only where the comment or the pull request is posted, with no
            # API secret beside it.
            if "github.token" in env:
                assert not SECRET.search(env) and ("gh api" in run or "gh pr" in run)
    assert sorted(calling) == ["apply", "drift", "drift-pull-request", "plan"]
    assert not SECRET.search(
        yaml.safe_dump([s.get("with", {}) for j in workflow["jobs"].values() for s in j["steps"]])
    )


def test_gitlab_secrets_reach_only_the_jobs_that_call_the_apis() -> None:
    pipeline = load(GITLAB)
    jobs = {
        name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job
    }
    # Environment-scoped variables are given only to jobs that name the environment.
    with_env = {name for name, job in jobs.items() if "environment" in job}
    assert with_env == {"plan", "apply", "drift"}
    assert {job["environment"]["name"] for name, job in jobs.items() if name in with_env} == {
        "hoodsync"
    }
    assert pipeline["plan"]["environment"]["action"] == "access"  # not a deployment
    calling = {
        name
        for name, job in jobs.items()
        for args in hoodsync_commands("\n".join(job["script"]))
        if args[0] in ("plan", "apply")
    }
    assert calling == with_env
    assert not SECRET.search(GITLAB.read_text())
    assert "HOOD_API_TOKEN" not in yaml.safe_dump(pipeline.get("variables", {}))


# --------------------------------------------------------------------------- README


def readme_pre_commit_rev() -> tuple[str, str]:
    ci = README.read_text(encoding="utf-8").split("\n## CI\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```yaml\n(.*?)```", ci, re.S)
    assert block, "the CI section shows a .pre-commit-config.yaml"
    config = yaml.safe_load(textwrap.dedent(block.group(1)))
    repo = config["repos"][0]
    assert repo["hooks"] == [{"id": "hoodsync-validate"}]
    return repo["repo"], str(repo["rev"])


def test_readme_pre_commit_rev_is_a_commit_that_has_the_hook() -> None:
    _, rev = readme_pre_commit_rev()
    assert SHA.fullmatch(rev), f"rev {rev!r} is not a full commit SHA (no release is tagged)"
    git = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"],
        capture_output=True,
        text=True,
        check=False,
    )
    if git.returncode != 0:
        pytest.skip("the checkout is not a git repository: cannot look the commit up")
    if git.stdout.strip() == "true":
        pytest.skip("shallow clone: the commit may be outside the fetched history")
    exists = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{rev}:.pre-commit-hooks.yaml"],
        capture_output=True,
        check=False,
    )
    assert exists.returncode == 0, f"{rev} has no .pre-commit-hooks.yaml in this repository"


# --------------------------------------------------------------------------- scripts, for real


@pytest.fixture()
def fake_hoodsync(tmp_path: Path) -> Path:
    """A ``hoodsync`` on PATH that records its arguments. ``accounts`` lists ``$FAKE_ACCOUNTS``
    (default: ``default``); any other subcommand prints a plan and an error line and exits with
    ``$FAKE_EXIT_<account>`` for its ``--account``, else ``$FAKE_EXIT``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "hoodsync"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "$@" >> "$FAKE_LOG"\n'
        'if [ "$1" = accounts ]; then printf "%s\\n" ${FAKE_ACCOUNTS:-default}; exit 0; fi\n'
        'echo "PLAN OUTPUT"\necho "some error" >&2\n'
        'account=""; prev=""\n'
        'for arg in "$@"; do [ "$prev" = --account ] && account=$arg; prev=$arg; done\n'
        'eval "code=\\${FAKE_EXIT_$account:-\\${FAKE_EXIT:-0}}"\n'
        'exit "$code"\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    return bin_dir


def run_step(
    script: str, bin_dir: Path, exit_code: int, cwd: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_EXIT": str(exit_code),
        "FAKE_LOG": str(cwd / "calls.log"),
        "GITHUB_STEP_SUMMARY": str(cwd / "summary.md"),
        "GITHUB_OUTPUT": str(cwd / "out.txt"),
        "RUNNER_TEMP": str(cwd),
        "CI_DEFAULT_BRANCH": "main",
        **extra,
    }
    # GitHub runs `run:` with `bash -e`; GitLab's shell fails a script line on error the same way.
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def drift_scripts() -> list[tuple[str, str]]:
    github = load(GITHUB)["jobs"]["drift"]["steps"]
    gitlab = load(GITLAB)["drift"]["script"]
    return [
        ("github", next(s["run"] for s in github if "--detailed-exitcode" in s.get("run", ""))),
        ("gitlab", "\n".join(gitlab)),
    ]


def calls(cwd: Path) -> list[str]:
    return (cwd / "calls.log").read_text().splitlines()


@pytest.mark.parametrize(("which", "script"), drift_scripts(), ids=["github", "gitlab"])
@pytest.mark.parametrize(
    ("exit_code", "job_exit", "says"), [(0, 0, "No drift"), (2, 1, "differ"), (1, 1, "failed")]
)
def test_drift_check_fails_on_drift_and_on_errors(
    which: str,
    script: str,
    exit_code: int,
    job_exit: int,
    says: str,
    fake_hoodsync: Path,
    tmp_path: Path,
) -> None:
    done = run_step(script, fake_hoodsync, exit_code, tmp_path)
    assert done.returncode == job_exit, done.stdout + done.stderr
    assert says in done.stdout
    assert calls(tmp_path) == ["accounts", "plan --account default --detailed-exitcode"]


@pytest.mark.parametrize(("which", "script"), drift_scripts(), ids=["github", "gitlab"])
def test_drift_check_plans_each_account_on_its_own_and_names_the_bad_ones(
    which: str, script: str, fake_hoodsync: Path, tmp_path: Path
) -> None:
    """Accounts that share their definitions (environments) cannot be planned without
    --account: each is planned alone, every one even after one failed, and the job names
    which drifted and which failed."""
    done = run_step(
        script,
        fake_hoodsync,
        0,
        tmp_path,
        FAKE_ACCOUNTS="alpha beta gamma",
        FAKE_EXIT_alpha="1",
        FAKE_EXIT_beta="2",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert calls(tmp_path) == [
        "accounts",
        "plan --account alpha --detailed-exitcode",
        "plan --account beta --detailed-exitcode",
        "plan --account gamma --detailed-exitcode",
    ]
    assert re.search(r"account\(s\) beta differ from main", done.stdout, re.I)
    assert re.search(r"failed for account\(s\) alpha \(", done.stdout)
    assert "No drift" not in done.stdout


HEAD_SHA = "c0ffee" * 6 + "c0ff"


@pytest.mark.parametrize("exit_code", [0, 1])
def test_github_plan_step_writes_comment_summary_and_status(
    exit_code: int, fake_hoodsync: Path, tmp_path: Path
) -> None:
    steps = load(GITHUB)["jobs"]["plan"]["steps"]
    step = next(s for s in steps if s.get("id") == "plan")
    assert step["env"]["HEAD_SHA"] == "${{ github.event.pull_request.head.sha }}"
    done = run_step(
        step["run"], fake_hoodsync, exit_code, tmp_path, ACCOUNT="alpha", HEAD_SHA=HEAD_SHA
    )
    assert done.returncode == 0, done.stderr  # a later step fails the job, after commenting
    assert calls(tmp_path)[0].split()[:3] == ["plan", "--account", "alpha"]
    plan_md = (tmp_path / "plan.md").read_text()
    # The commit planned comes first (the comment and the summary are built from plan.md).
    head, _, rest = plan_md.partition("\n\n")
    assert head == f"Commit {HEAD_SHA}, the head of this pull request (merged with its base branch)"
    assert rest.startswith("PLAN OUTPUT")
    assert ("plan failed" in plan_md and "some error" in plan_md) == (exit_code != 0)
    summary = (tmp_path / "summary.md").read_text()
    assert summary == f"## hoodsync plan: account `alpha`\n\n{plan_md}"
    assert (tmp_path / "out.txt").read_text() == f"status={exit_code}\n"
