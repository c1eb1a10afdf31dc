"""Which accounts a run plans and which definitions each gets (``hoodsync.engine.prepare``),
end to end through the CLI: an account plans only its own ``paths:``, never another account's
definitions; PATHS narrower than an account's ``paths:`` never decide its orphans; two
configured accounts that are one remote account are refused; a credential an HTTP header cannot
carry is refused naming only its variable. Every refusal comes before any request.

Runs that could reach an API point at a loopback server that records every request
(``test_cli_projects.Recorder``); the rest use the embedded sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import EmulatorHandle
from test_cli_plan import ENV_VARS, Remote, campaign_yaml, cli, plan_json, write
from test_cli_projects import Recorder

TOKEN = "hood_5F6C7sKStBQ1JrjvUUFSnaZixxJRnLfK"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty repository root as the working directory; no credentials in the environment."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    monkeypatch.chdir(root)
    for var in (*ENV_VARS, "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CI", "true")
    return root


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


def notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("note:")]


def last_error(err: str) -> str:
    """The one error line of a refused run (notes may come before it)."""
    lines = [line for line in err.splitlines() if not line.startswith("note:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


# ------------------------------------------------------------------ PATHS narrower than paths:

TEAMS_YAML = """\
accounts:
  prod:
    hood: {url: sandbox}
    paths: [prod/]
    prune: %s
  staging:
    hood: {url: sandbox}
    paths: [staging/]
"""


@pytest.fixture
def teams(repo: Path, capsys: pytest.CaptureFixture[str]) -> Callable[[bool], Path]:
    """Two sandbox accounts: prod (prod/team-a, prod/team-b) and staging, all applied."""

    def make(prune: bool) -> Path:
        write(repo, "hoodsync.yaml", TEAMS_YAML % ("true" if prune else "false"))
        write(repo, "prod/team-a/a.yaml", campaign_yaml("team-a", "Team A"))
        write(repo, "prod/team-b/b.yaml", campaign_yaml("team-b", "Team B"))
        write(repo, "staging/s.yaml", campaign_yaml("stage", "Stage"))
        code, _, err = cli(capsys, "apply", "--auto-approve")
        assert code == 0, err
        return repo

    return make


def prod_is_untouched(capsys: pytest.CaptureFixture[str]) -> None:
    doc = plan_json(capsys, "--account", "prod")
    assert doc["changes"] == [] and doc["counts"]["orphans"] == 0


@pytest.mark.parametrize(
    ("prune", "argv", "why"),
    [
        (True, ("prod/team-a",), "prune: true in "),
        (False, ("prod/team-a", "--prune"), "--prune"),
        (True, ("prod/team-a/a.yaml",), "prune: true in "),
    ],
)
@pytest.mark.parametrize("command", ["plan", "apply"])
def test_narrower_paths_never_decide_an_accounts_orphans(
    teams: Callable[[bool], Path],
    capsys: pytest.CaptureFixture[str],
    command: str,
    prune: bool,
    argv: tuple[str, ...],
    why: str,
) -> None:
    # Before, `apply prod/team-a --account prod` with prune: true cancelled campaign.team-b
    # ("orphan: no definition has this key") although prod/team-b/b.yaml defines it.
    teams(prune)
    extra = ("--auto-approve",) if command == "apply" else ()
    code, out, err = cli(capsys, command, *argv, "--account", "prod", *extra)
    assert code == 1 and "will be canceled" not in out
    error = last_error(err)
    assert error.startswith(
        "error: account 'prod': the PATHS given cover only part of its paths: (prod/) and "
        f"prune is on ({why}"
    )
    assert "--target" in error  # what narrows a run safely
    prod_is_untouched(capsys)


def test_narrower_paths_from_a_subfolder_are_refused_too(
    teams: Callable[[bool], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = teams(True)
    monkeypatch.chdir(root / "prod" / "team-a")
    code, out, err = cli(capsys, "apply", "--account", "prod", "--auto-approve")
    assert code == 1 and "will be canceled" not in out
    assert "cover only part of its paths: (prod/) and prune is on" in last_error(err)
    monkeypatch.chdir(root)
    prod_is_untouched(capsys)


def test_narrower_paths_without_prune_plan_with_a_note_and_remove_nothing(
    teams: Callable[[bool], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    teams(False)
    code, out, err = cli(capsys, "apply", "prod/team-a", "--auto-approve")
    assert code == 0, err
    assert "will be canceled" not in out and "Account: staging" not in out
    assert notes(err) == [
        "note: prod/team-a cover only part of account 'prod' (paths: prod/): objects defined "
        "elsewhere show as orphans here, and cannot be pruned from such a run",
        "note: account 'staging' has no definition under prod/team-a; not planned",
    ]
    prod_is_untouched(capsys)


def test_all_of_an_accounts_paths_may_prune_and_other_accounts_are_left_out(
    teams: Callable[[bool], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # Before, `plan prod` also planned staging with 0 definitions: every object it manages an
    # orphan, and apply refused it ("the definitions set is empty").
    root = teams(True)
    (root / "prod" / "team-b" / "b.yaml").unlink()
    code, out, err = cli(capsys, "apply", "prod", "--auto-approve")
    assert code == 0, err
    assert "Account: prod" in out and "Account: staging" not in out
    assert "campaign.team-b will be canceled" in out
    assert notes(err) == ["note: account 'staging' has no definition under prod; not planned"]
    code, out, err = cli(capsys, "plan", "prod", "--account", "staging")
    assert code == 1 and out == ""
    assert last_error(err) == (
        "error: no definition under prod belongs to 'staging': nothing to plan "
        "(no account was read)"
    )


# ------------------------------------------------------------------ accounts without paths:


def test_an_account_without_paths_beside_others_is_refused_by_every_command(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before, validate passed, `accounts` listed both (the CI matrix) and `plan --account
    # staging` planned prod/'s push task into staging.
    write(
        repo,
        "hoodsync.yaml",
        "accounts:\n  prod:\n    hood: {url: sandbox}\n    paths: [prod/]\n"
        "  staging:\n    hood: {url: sandbox}\n",
    )
    write(repo, "prod/c.yaml", campaign_yaml("prod-only", "Prod only"))
    problem = (
        "hoodsync.yaml:5:3: error: account 'staging' has no paths: beside accounts that list "
        "theirs, each lists the definition files or folders that are its own (accounts.staging)"
    )
    for argv in (
        ("validate",),
        ("accounts", "--format", "json"),
        ("plan",),
        ("plan", "--account", "staging"),
        ("apply", "--account", "staging", "--auto-approve"),
    ):
        code, out, err = cli(capsys, *argv)
        assert code == 1 and "will be created" not in out, argv
        assert err.splitlines()[0] == problem, argv
    assert not (repo / ".hoodsync" / "sandbox-staging.sqlite").exists()


def test_accounts_none_of_which_list_paths_are_environments_chosen_with_account(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One set of definitions for several environments: no account lists ``paths:``; each run
    chooses one with --account and plans every definition into it; without --account, refused."""
    write(
        repo,
        "hoodsync.yaml",
        "accounts:\n  staging:\n    hood: {url: sandbox}\n  production:\n    hood: {url: sandbox}\n",
    )
    write(repo, "c/one.yaml", campaign_yaml("one", "One"))
    assert cli(capsys, "validate")[0] == 0
    for name in ("staging", "production"):
        code, out, err = cli(capsys, "apply", "--account", name, "--auto-approve")
        assert code == 0, err
        assert f"Account: {name}" in out and "campaign.one" in out
    code, out, err = cli(capsys, "plan")
    assert (
        code == 1
        and "with several accounts each needs paths: (or choose one with --account)" in err
    )


def test_a_file_under_two_accounts_paths_is_refused_where_the_second_lists_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before, validate passed and apply created the campaign in both accounts.
    write(
        repo,
        "hoodsync.yaml",
        "accounts:\n  push: {hood: {url: sandbox}, paths: [push/]}\n"
        "  email: {hood: {url: sandbox}, paths: [email/, push/shared.yaml]}\n",
    )
    write(repo, "push/shared.yaml", campaign_yaml("shared", "Shared"))
    (repo / "email").mkdir()
    for argv in (("validate",), ("apply", "--auto-approve")):
        code, out, err = cli(capsys, *argv)
        assert code == 1 and "will be created" not in out
        assert err.splitlines()[0].startswith(
            "hoodsync.yaml:3:49: error: path 'push/shared.yaml' overlaps 'push/' of account 'push'"
        )


# ------------------------------------------------------------------ one remote account, twice


@pytest.mark.parametrize(
    ("yaml", "env", "variables"),
    [
        (
            "accounts:\n  push: {paths: [push/]}\n  email: {paths: [email/]}\n",
            {"HOOD_API_TOKEN": TOKEN},
            "both use HOOD_API_TOKEN",
        ),
        (
            "accounts:\n  push: {hood: {token_env: PUSH_TOKEN}, paths: [push/]}\n"
            "  email: {hood: {token_env: EMAIL_TOKEN}, paths: [email/]}\n",
            {"PUSH_TOKEN": TOKEN, "EMAIL_TOKEN": TOKEN},
            "EMAIL_TOKEN and PUSH_TOKEN hold the same credential",
        ),
    ],
)
@pytest.mark.parametrize("command", ["plan", "apply"])
def test_two_accounts_that_are_one_remote_account_are_refused_before_any_request(
    repo: Path,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    yaml: str,
    env: dict[str, str],
    variables: str,
) -> None:
    # Before, each account read the other's campaigns as its orphans, and `apply --prune`
    # cancelled both teams' campaigns.
    monkeypatch.setenv("HOOD_API_URL", recorder.url + "/v1/hood")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    write(repo, "hoodsync.yaml", yaml)
    write(repo, "push/a.yaml", campaign_yaml("team-a", "Team A"))
    write(repo, "email/b.yaml", campaign_yaml("team-b", "Team B"))
    extra = ("--auto-approve",) if command == "apply" else ()
    code, out, err = cli(capsys, command, "--prune", *extra)
    assert code == 1 and out == ""
    assert last_error(err) == (
        f"error: accounts 'email' and 'push' are one Hood account ({recorder.url}/v1/hood; "
        f"{variables}): each would take the other's objects for its own orphans; give each "
        "account its own credential"
    )
    assert TOKEN[:8] not in err
    assert recorder.requests == []
    # A run of one of them is refused just the same: before, `--account push` (how each CI
    # job runs) was an ordinary run, and its prune cancelled the other team's campaigns.
    code, out, err = cli(capsys, command, "--account", "push", "--prune", *extra)
    assert (code, out, recorder.requests) == (1, "", [])
    assert last_error(err).startswith("error: accounts 'email' and 'push' are one Hood account")
    if "EMAIL_TOKEN" in env:
        # The other account's variable unset (a job given only its own secret): nothing to
        # compare it with, and the run is an ordinary one (its requests reach the server).
        monkeypatch.delenv("EMAIL_TOKEN")
        code, _, err = cli(capsys, "plan", "--account", "push")
        assert code == 1 and recorder.requests and "one Hood account" not in err


def test_two_other_accounts_on_one_credential_do_not_stop_a_run_of_a_third(
    repo: Path,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before, `--account prod` was refused because staging-eu and staging-us share a token:
    # a run of prod cannot harm them (it reads and writes prod only), and their own runs are
    # refused. A run of either of them still is.
    monkeypatch.setenv("HOOD_API_URL", recorder.url + "/v1/hood")
    monkeypatch.setenv("PROD_TOKEN", TOKEN[::-1])
    monkeypatch.setenv("STAGING_TOKEN", TOKEN)
    write(
        repo,
        "hoodsync.yaml",
        "accounts:\n  prod: {hood: {token_env: PROD_TOKEN}, paths: [prod/]}\n"
        "  staging-eu: {hood: {token_env: STAGING_TOKEN}, paths: [eu/]}\n"
        "  staging-us: {hood: {token_env: STAGING_TOKEN}, paths: [us/]}\n",
    )
    for folder in ("prod", "eu", "us"):
        write(repo, f"{folder}/c.yaml", campaign_yaml(f"promo-{folder}", f"Promo {folder}"))
    code, _, err = cli(capsys, "plan", "--account", "prod")
    assert "one Hood account" not in err
    assert code == 1 and recorder.requests  # prod was read (its server refuses the token)
    recorder.requests.clear()
    for argv in (("--account", "staging-us"), ("--account", "prod", "--account", "staging-eu")):
        code, out, err = cli(capsys, "plan", *argv)
        assert (code, out, recorder.requests) == (1, "", [])
        assert last_error(err) == (
            f"error: accounts 'staging-eu' and 'staging-us' are one Hood account ({recorder.url}"
            "/v1/hood; both use STAGING_TOKEN): each would take the other's objects for its own "
            "orphans; give each account its own credential"
        )


def test_one_credential_at_two_spellings_of_a_server_is_one_account(
    repo: Path,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before, `localhost` and `127.0.0.1` gave two identities (host names are not resolved),
    # so the two accounts were "distinct" and each took the other's campaigns for orphans.
    port = recorder.url.rsplit(":", 1)[1]
    monkeypatch.setenv("PUSH_TOKEN", TOKEN)
    monkeypatch.setenv("EMAIL_TOKEN", TOKEN)
    write(
        repo,
        "hoodsync.yaml",
        f"accounts:\n  push: {{hood: {{url: 'http://127.0.0.1:{port}/v1/hood', "
        "token_env: PUSH_TOKEN}, paths: [push/]}\n"
        f"  email: {{hood: {{url: 'http://localhost:{port}/v1/hood', "
        "token_env: EMAIL_TOKEN}, paths: [email/]}\n",
    )
    write(repo, "push/a.yaml", campaign_yaml("team-a", "Team A"))
    write(repo, "email/b.yaml", campaign_yaml("team-b", "Team B"))
    code, out, err = cli(capsys, "plan", "--account", "push")
    assert (code, out, recorder.requests) == (1, "", [])
    assert last_error(err) == (
        f"error: accounts 'email' and 'push' are one Hood account (http://localhost:{port}"
        f"/v1/hood and http://127.0.0.1:{port}/v1/hood; EMAIL_TOKEN and PUSH_TOKEN hold the "
        "same credential): each would take the other's objects for its own orphans; give each "
        "account its own credential"
    )
    assert TOKEN[:8] not in err


def test_a_run_of_one_account_never_prunes_its_twins_campaigns(
    repo: Path,
    make_emulator: Callable[..., EmulatorHandle],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The hostile case end to end: ``alpha`` applied while ``beta``'s variable is unset, then
    ``beta`` run alone with prune, directly and through a plan saved while ``alpha``'s variable
    was unset. Before, beta's apply cancelled alpha's campaign (irreversible)."""
    emu = make_emulator()
    write(
        repo,
        "hoodsync.yaml",
        f"accounts:\n  alpha: {{hood: {{url: '{emu.hood_url}', token_env: TOK_ALPHA}}, "
        "paths: [a/]}\n"
        f"  beta: {{hood: {{url: '{emu.hood_url}', token_env: TOK_BETA}}, paths: [b/]}}\n",
    )
    write(repo, "a/c.yaml", campaign_yaml("promo-a", "Promo A"))
    write(repo, "b/c.yaml", campaign_yaml("promo-b", "Promo B"))
    monkeypatch.setenv("TOK_ALPHA", emu.hood_token)
    assert cli(capsys, "apply", "--account", "alpha", "--auto-approve")[0] == 0
    monkeypatch.delenv("TOK_ALPHA")
    monkeypatch.setenv("TOK_BETA", emu.hood_token)
    code, out, _ = cli(capsys, "plan", "--account", "beta", "--prune", "--out", "p.json")
    assert code == 0 and "campaign.promo-a will be canceled" in out  # alpha's var unset
    monkeypatch.setenv("TOK_ALPHA", emu.hood_token)
    for argv in (("--prune", "--auto-approve"), ("--plan", "p.json")):
        code, out, err = cli(capsys, "apply", "--account", "beta", *argv)
        assert (code, out) == (1, "")
        assert last_error(err).startswith("error: accounts 'alpha' and 'beta' are one Hood")
        assert emu.hood_token[:10] not in err
    [campaign] = Remote(emu.hood_client(), emu.falconyte_client()).campaigns()
    assert (campaign["name"], campaign["status"]) == ("Promo A", "scheduled")


def test_an_account_on_the_sandbox_beside_a_real_one_is_another_account(
    repo: Path,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOOD_API_URL", recorder.url + "/v1/hood")
    monkeypatch.setenv("HOOD_API_TOKEN", TOKEN)
    write(
        repo,
        "hoodsync.yaml",
        "accounts:\n  push: {paths: [push/]}\n  dev: {hood: {url: sandbox}, paths: [dev/]}\n",
    )
    write(repo, "push/a.yaml", campaign_yaml("team-a", "Team A"))
    write(repo, "dev/b.yaml", campaign_yaml("team-b", "Team B"))
    code, _, err = cli(capsys, "plan")
    assert "one Hood account" not in err
    assert code == 1 and recorder.requests  # push was read (its server refuses the token)


# ------------------------------------------------------------------ ${env:...} of several accounts


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_every_accounts_unresolved_values_come_out_in_one_run_before_any_request(
    repo: Path,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    # Before, the first account was read and its plan stopped at its own missing variable:
    # the other account's refused value came out only in the next run.
    monkeypatch.setenv("HOOD_API_URL", recorder.url + "/v1/hood")
    monkeypatch.setenv("PUSH_TOKEN", TOKEN)
    monkeypatch.setenv("EMAIL_TOKEN", TOKEN[::-1])
    monkeypatch.setenv("LABEL", "a,b")
    monkeypatch.delenv("PROMO", raising=False)
    write(
        repo,
        "hoodsync.yaml",
        "accounts:\n  push: {hood: {token_env: PUSH_TOKEN}, paths: [push/]}\n"
        "  email: {hood: {token_env: EMAIL_TOKEN}, paths: [email/]}\n",
    )
    write(repo, "push/a.yaml", campaign_yaml("team-a", "Team A", labels='["${env:PROMO}"]'))
    write(repo, "email/b.yaml", campaign_yaml("team-b", "Team B", labels='["${env:LABEL}"]'))
    extra = ("--auto-approve",) if command == "apply" else ()
    code, out, err = cli(capsys, command, *extra)
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert [line.split(": error: ")[0] for line in lines[:-1]] == [
        "email/b.yaml:5:12",
        "push/a.yaml:5:12",
    ], err
    assert "${env:LABEL} resolved, the value is refused" in lines[0]
    assert "environment variable PROMO is not set" in lines[1]
    assert lines[-1].startswith("2 error(s) in 2 file(s)")
    assert recorder.requests == []


# ------------------------------------------------------------------ credentials


@pytest.mark.parametrize("command", [("plan",), ("export", "--out", "x")])
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HOOD_API_TOKEN", TOKEN + "\n"),
        ("FALCONYTE_API_KEY", TOKEN + "\n"),
        ("HOOD_API_TOKEN", TOKEN + "\t"),
        ("HOOD_API_TOKEN", "\u201c" + TOKEN + "\u201d"),
    ],
)
def test_a_credential_pasted_with_its_line_end_is_one_error_line_without_its_value(
    repo: Path,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: tuple[str, ...],
    variable: str,
    value: str,
) -> None:
    # Before: "error: list campaigns (...): request failed ... (LocalProtocolError: Illegal
    # header value b'Bearer hood_...\n')" — the whole token — or, with smart quotes, a traceback.
    monkeypatch.setenv("HOOD_API_URL", recorder.url + "/v1/hood")
    monkeypatch.setenv("FALCONYTE_API_URL", recorder.url + "/public/v1")
    monkeypatch.setenv("HOOD_API_TOKEN", "x")
    monkeypatch.setenv("FALCONYTE_API_KEY", "x")
    monkeypatch.setenv(variable, value)
    write(repo, "c.yaml", campaign_yaml("one", "One"))
    code, out, err = cli(capsys, *command)
    assert code == 1 and out == ""
    assert last_error(err).startswith(f"error: {variable} ")
    assert "nothing was sent" in err and TOKEN[:8] not in err and "Traceback" not in err
    assert recorder.requests == []
    assert json.dumps(err).count("\\n") == 1  # one line
