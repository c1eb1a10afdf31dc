"""``hoodsync.config``: where hoodsync.yaml is found, how each endpoint's URL and secret variable
are resolved (never a silent sandbox for a named secret), and how hoodsync.yaml problems read.
Offline: nothing here opens a connection."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hoodsync.config import (
    CI_SECRETS,
    FALCONYTE_DEFAULT_URL,
    HOOD_DEFAULT_URL,
    SANDBOX,
    Config,
    find_config_file,
    load_config,
)
from hoodsync.errors import ConfigError, DefinitionError
from hoodsync.session import account_info, check_secrets

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def tree(root: Path, *names: str) -> None:
    """Create files (``a/b.yaml``) and folders (``a/.git/``) under ``root``."""
    for name in names:
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("accounts: {default: {}}\n")


# ------------------------------------------------------------------------------ finding it


def test_found_beside_the_first_path_or_in_a_parent_up_to_the_repository_root(
    tmp_path: Path,
) -> None:
    tree(tmp_path, "repo/.git/", "repo/hoodsync.yaml", "repo/a/b/c.yaml", "elsewhere/")
    repo = tmp_path / "repo"
    assert find_config_file(["a/b"], cwd=repo) == repo / "hoodsync.yaml"
    assert find_config_file(["a/b/c.yaml"], cwd=repo) == repo / "hoodsync.yaml"
    # From a subfolder (no PATH): the working directory's parents are searched too.
    assert find_config_file([], cwd=repo / "a" / "b") == repo / "hoodsync.yaml"
    # PATH outside the working directory: its own parents are what count.
    assert find_config_file([str(repo / "a")], cwd=tmp_path / "elsewhere") == repo / "hoodsync.yaml"


def test_search_stops_at_the_folder_holding_git(tmp_path: Path) -> None:
    tree(tmp_path, "hoodsync.yaml", "repo/.git/", "repo/sub/x.yaml")
    repo = tmp_path / "repo"
    assert find_config_file(["sub"], cwd=repo) is None  # the stray file above .git is ignored
    tree(tmp_path, "repo/hoodsync.yml")
    assert find_config_file(["sub"], cwd=repo / "sub") == repo / "hoodsync.yml"


def test_the_working_directory_is_the_fallback(tmp_path: Path) -> None:
    tree(tmp_path, "defs/.git/", "defs/x.yaml", "repo/.git/", "repo/hoodsync.yaml")
    found = find_config_file([str(tmp_path / "defs")], cwd=tmp_path / "repo")
    assert found == tmp_path / "repo" / "hoodsync.yaml"


# ------------------------------------------------------------------------------ the state folder


@pytest.mark.parametrize(
    ("cwd", "paths"),
    [
        (".", ["repo/defs/a.yaml"]),  # a file, from the parent
        (".", ["repo/defs"]),  # a folder
        (".", ["repo/defs/a.yaml", "repo/more"]),  # several: the first one's
        (".", ["repo"]),
        ("repo/defs", []),  # none, from a subfolder: the working directory's repository
        ("repo/defs", ["."]),
        ("repo/more", ["../defs/a.yaml"]),
        ("elsewhere", ["../repo/more/b.yaml", "../repo/defs"]),
    ],
)
def test_without_hoodsync_yaml_the_state_folder_is_the_repositorys_wherever_run_from(
    tmp_path: Path, cwd: str, paths: list[str]
) -> None:
    """The journals an apply leaves must be where the next plan of the project looks, and the
    sandbox the same account, whichever folder either is run from (not the working
    directory's, as it was)."""
    tree(tmp_path, "repo/.git/", "repo/defs/a.yaml", "repo/more/b.yaml", "elsewhere/")
    config = load_config(paths, env={}, cwd=tmp_path / cwd)
    state = tmp_path.resolve() / "repo" / ".hoodsync"
    assert config.state_dir == state
    assert config.sandbox_db(config.account(None)) == state / "sandbox.sqlite"


@pytest.mark.parametrize(
    ("cwd", "paths", "state"),
    [
        (".", ["defs/a.yaml"], "defs"),  # a file: its folder
        ("other", ["../defs/a.yaml"], "defs"),
        (".", ["defs"], "defs"),  # a folder: itself
        ("other", ["../defs", "../other"], "defs"),  # several: the first one's
        ("defs", [], "defs"),  # none: the working directory
    ],
)
def test_outside_any_repository_the_state_folder_is_the_first_paths(
    tmp_path: Path, cwd: str, paths: list[str], state: str
) -> None:
    tree(tmp_path, "defs/a.yaml", "other/")
    config = load_config(paths, env={}, cwd=tmp_path / cwd)
    assert config.state_dir == tmp_path.resolve() / state / ".hoodsync"


@pytest.mark.parametrize(
    ("cwd", "paths"), [("repo", []), ("repo/defs", []), (".", ["repo/defs/a.yaml"])]
)
def test_with_hoodsync_yaml_the_state_folder_is_beside_it(
    tmp_path: Path, cwd: str, paths: list[str]
) -> None:
    tree(tmp_path, "repo/.git/", "repo/hoodsync.yaml", "repo/defs/a.yaml")
    config = load_config(paths, env={}, cwd=tmp_path / cwd)
    assert config.state_dir == tmp_path.resolve() / "repo" / ".hoodsync"


# ------------------------------------------------------------------------------ endpoints


def config_in(
    tmp_path: Path, text: str | None, env: dict[str, str], folders: tuple[str, ...] = ()
) -> Config:
    (tmp_path / ".git").mkdir(exist_ok=True)
    for folder in folders:
        (tmp_path / folder).mkdir(exist_ok=True)
    if text is not None:
        (tmp_path / "hoodsync.yaml").write_text(text)
    return load_config([], env=env, cwd=tmp_path)


def test_no_config_and_no_token_is_the_sandbox(tmp_path: Path) -> None:
    account = config_in(tmp_path, None, {}).account(None)
    assert account.hood.url == SANDBOX and account.falconyte.url == SANDBOX
    check_secrets(account, need_falconyte=True, env={})  # the sandbox needs no secret
    info = account_info(account)
    assert info.sandbox and info.falconyte_url is None and info.falconyte_sandbox


def test_standard_token_selects_the_real_api(tmp_path: Path) -> None:
    account = config_in(tmp_path, None, {"HOOD_API_TOKEN": "t"}).account(None)
    assert account.hood.url == HOOD_DEFAULT_URL
    assert not account_info(account).sandbox


def test_no_secret_at_all_is_the_sandbox(tmp_path: Path) -> None:
    account = config_in(tmp_path, None, {}).account(None)
    assert account.hood.url == SANDBOX and account.falconyte.url == SANDBOX
    check_secrets(account, need_falconyte=True, env={})


@pytest.mark.parametrize("value", ["", "   "])
def test_a_standard_variable_set_to_nothing_is_not_the_sandbox(tmp_path: Path, value: str) -> None:
    """A CI secret that is not defined for the job arrives as an empty string: the sandbox
    would make the run look fine (\"Apply complete\") while nothing reached the account."""
    env = {"HOOD_API_TOKEN": value}
    account = config_in(tmp_path, None, env).account(None)
    assert account.hood.url == HOOD_DEFAULT_URL
    with pytest.raises(ConfigError) as info:
        check_secrets(account, env=env)
    message = str(info.value)
    assert message.startswith("HOOD_API_TOKEN is not set or empty: account 'default'")
    assert "a CI secret not defined for this job?" in message
    assert "set HOOD_API_URL=sandbox" in message  # how to use the sandbox on purpose


def test_one_api_real_makes_the_other_real_too_unless_asked(tmp_path: Path) -> None:
    """A real Hood with an emulated Falconyte nobody asked for is a missing key: the run
    would report email campaigns made that reached no one. Asked for, it is allowed."""
    env = {"HOOD_API_TOKEN": "t"}
    account = config_in(tmp_path, None, env).account(None)
    assert account.falconyte.url == FALCONYTE_DEFAULT_URL
    check_secrets(account, need_falconyte=False, env=env)  # no email: Falconyte not needed
    with pytest.raises(ConfigError) as info:
        check_secrets(account, need_falconyte=True, env=env)
    assert str(info.value).startswith("FALCONYTE_API_KEY is not set or empty")
    assert "set FALCONYTE_API_URL=sandbox" in str(info.value)
    env = {"FALCONYTE_API_KEY": "k"}
    account = config_in(tmp_path, None, env).account(None)
    assert account.hood.url == HOOD_DEFAULT_URL
    with pytest.raises(ConfigError, match="set HOOD_API_URL=sandbox"):
        check_secrets(account, env=env)
    env = {"HOOD_API_TOKEN": "t", "FALCONYTE_API_URL": "sandbox"}
    account = config_in(tmp_path, None, env).account(None)
    assert account.falconyte.url == SANDBOX
    check_secrets(account, need_falconyte=True, env=env)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_named_token_variable_that_is_unset_or_empty_never_falls_back_to_the_sandbox(
    tmp_path: Path, value: str | None
) -> None:
    env = {} if value is None else {"HOOD_PROD_TOKEN": value}
    config = config_in(
        tmp_path, "accounts:\n  prod:\n    hood: {token_env: HOOD_PROD_TOKEN}\n", env
    )
    account = config.account("prod")
    assert account.hood.url == HOOD_DEFAULT_URL
    with pytest.raises(ConfigError) as info:
        check_secrets(account, env=env)
    message = str(info.value)
    assert message.startswith("HOOD_PROD_TOKEN is not set or empty: account 'prod'")
    assert "url: sandbox" in message  # how to ask for the sandbox on purpose


def test_a_named_key_variable_is_only_needed_when_email_is_planned(tmp_path: Path) -> None:
    config = config_in(
        tmp_path,
        "accounts:\n  prod:\n    hood: {url: sandbox}\n    falconyte: {key_env: PROD_KEY}\n",
        {},
    )
    account = config.account("prod")
    assert account.falconyte.url == FALCONYTE_DEFAULT_URL
    check_secrets(account, need_falconyte=False, env={})
    with pytest.raises(ConfigError, match="^PROD_KEY is not set or empty"):
        check_secrets(account, need_falconyte=True, env={})


def test_explicit_sandbox_url_wins(tmp_path: Path) -> None:
    config = config_in(
        tmp_path, "accounts:\n  dev:\n    hood: {url: sandbox, token_env: DEV}\n", {}
    )
    assert config.account("dev").hood.is_sandbox
    (tmp_path / "no-config").mkdir()
    env = {"HOOD_API_URL": "sandbox", "HOOD_API_TOKEN": "t"}
    assert config_in(tmp_path / "no-config", None, env).account(None).hood.is_sandbox


def test_a_real_url_without_the_standard_token_names_it(tmp_path: Path) -> None:
    env = {"HOOD_API_URL": "https://hood.example.com/v1/hood"}
    account = config_in(tmp_path, None, env).account(None)
    with pytest.raises(
        ConfigError, match="^HOOD_API_TOKEN is not set or empty.*HOOD_API_URL=sandbox"
    ):
        check_secrets(account, env=env)


@pytest.mark.parametrize("var", ["HOOD_API_URL", "FALCONYTE_API_URL"])
@pytest.mark.parametrize(
    "value",
    ["foo", "ftp://x.example.com", "https://", "api.ocamba.com/v1", "http://[::1:9/v1/hood"],
)
def test_url_variables_must_be_sandbox_or_an_http_url(tmp_path: Path, var: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_in(tmp_path, None, {var: value})
    assert str(info.value).startswith(f"{var}={value!r} is neither 'sandbox' nor an http(s) URL")


@pytest.mark.parametrize(
    "url",
    [
        "https://u:hunter2@api.example.com/v1/hood",
        "https://hunter2@api.example.com/v1/hood",
        "https://:hunter2@api.example.com/v1/hood",
        "htps://u:hunter2@api.example.com/v1/hood",  # and a wrong scheme
        "u:hunter2@api.example.com/v1/hood",  # no scheme at all
        "https://deploy:hunter2?x@api.example.com/v1/hood",  # '@' past the netloc
        "https://u:hunter2@api.example.com/v1/hood[",  # an unclosed [ (was a traceback)
        "http://[u:hunter2@api.example.com/v1/hood",
    ],
)
def test_a_url_with_credentials_is_refused_without_repeating_them(tmp_path: Path, url: str) -> None:
    # Refused when the configuration is read, whatever else is wrong with the URL: before,
    # with the token unset, the "not set" message showed the whole URL, password included,
    # and a wrong scheme or a schema error quoted it.
    with pytest.raises(ConfigError) as from_env:
        config_in(tmp_path, None, {"HOOD_API_URL": url})
    message = str(from_env.value)
    assert message.startswith("HOOD_API_URL: refusing an API URL with a user name or password")
    assert "hunter2" not in message and "…@api.example.com)" in message
    (tmp_path / "yaml").mkdir()
    with pytest.raises(DefinitionError) as from_yaml:
        config_in(tmp_path / "yaml", f"accounts:\n  prod:\n    falconyte: {{url: '{url}'}}\n", {})
    (problem,) = from_yaml.value.problems
    assert problem.path == ("accounts", "prod", "falconyte", "url")
    assert "user name or password" in problem.message and "hunter2" not in str(problem)


def test_secret_names_cover_every_account_and_the_standard_variables(tmp_path: Path) -> None:
    config = config_in(
        tmp_path,
        """\
accounts:
  a: {hood: {token_env: A_TOKEN}, paths: [a/]}
  b: {falconyte: {key_env: B_KEY}, paths: [b/]}
""",
        {},
        folders=("a", "b"),
    )
    assert config.secret_names() == {
        "A_TOKEN",
        "B_KEY",
        "HOOD_API_TOKEN",
        "FALCONYTE_API_KEY",
        *CI_SECRETS,
    }


def test_the_ci_systems_credentials_are_secrets_too(tmp_path: Path) -> None:
    # The variables GitHub Actions and GitLab CI put in a job, and every credential variable
    # the CI templates under examples/ hand to their jobs (GitLab's apply job holds
    # GITLAB_API_TOKEN, GitHub's steps GH_TOKEN): none may be interpolated into a definition.
    names = config_in(tmp_path, None, {}).secret_names()
    assert {
        "GITHUB_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "CI_JOB_TOKEN",
        "GITLAB_API_TOKEN",
    } <= names
    templates = [EXAMPLES / ".github" / "workflows" / "hoodsync.yml", EXAMPLES / ".gitlab-ci.yml"]
    used = {
        name
        for template in templates
        for name in re.findall(
            r"\b[A-Z][A-Z0-9_]*(?:TOKEN|KEY|PASSWORD|SECRET|JWT)[A-Z0-9_]*\b",
            template.read_text(encoding="utf-8"),
        )
    }
    assert used and used <= names, used - names


def test_each_sandbox_account_has_its_own_database(tmp_path: Path) -> None:
    config = config_in(
        tmp_path, "accounts:\n  default: {paths: [d/]}\n  qa: {paths: [q/]}\n", {}, ("d", "q")
    )
    assert config.sandbox_db(config.account("default")) == tmp_path / ".hoodsync" / "sandbox.sqlite"
    assert config.sandbox_db(config.account("qa")) == tmp_path / ".hoodsync" / "sandbox-qa.sqlite"


def test_account_info_describes_falconyte_honestly(tmp_path: Path) -> None:
    env = {"FALCONYTE_API_KEY": "k", "HOOD_API_URL": "sandbox"}
    info = account_info(config_in(tmp_path, None, env).account(None))
    assert info.sandbox and info.falconyte_url == FALCONYTE_DEFAULT_URL
    assert info.falconyte_sandbox is False
    env = {"HOOD_API_TOKEN": "t", "FALCONYTE_API_URL": "sandbox"}
    info = account_info(config_in(tmp_path, None, env).account(None))
    assert not info.sandbox and info.falconyte_url is None
    assert info.falconyte_sandbox is True
    config = config_in(
        tmp_path, "accounts:\n  p: {hood: {token_env: P_T}, falconyte: {key_env: P_K}}\n", {}
    )
    info = account_info(config.account("p"))
    assert (info.token_env, info.key_env) == ("P_T", "P_K")  # the notices name these


# ------------------------------------------------------------------------------ problems


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        config_in(tmp_path, text, {})
    return [str(p) for p in info.value.problems]


def test_schema_problems_read_like_definition_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    found = problems(
        tmp_path,
        """\
accounts:
  Prod:
    hood: {url: foo}
  ok:
    pathz: [a/]
    safety: {max_removals: -1}
""",
    )
    assert found[0].startswith(
        'hoodsync.yaml:2:3: error: "Prod" does not match the expected format'
    )
    assert found[0].endswith("(accounts.Prod)")
    assert found[1].startswith('hoodsync.yaml:3:12: error: "foo" does not match')
    assert (
        "hoodsync.yaml:5:5: error: unknown key 'pathz'; did you mean 'paths'? (accounts.ok.pathz)"
        in found
    )
    assert any(p.startswith("hoodsync.yaml:6:") and "out of range" in p for p in found)
    for line in found:
        assert line.count("hoodsync.yaml") == 1  # no doubled prefix
        assert "None is not" not in line and "^(" not in line  # no raw jsonschema text


def test_empty_or_several_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert problems(tmp_path, "") == [
        "hoodsync.yaml:1:1: error: the file is empty; it needs an `accounts:` mapping "
        "(or delete it to use the environment)"
    ]
    assert problems(tmp_path, "# only a comment\n---\n")[0].startswith("hoodsync.yaml:")
    [several] = problems(tmp_path, "accounts: {a: {}}\n---\naccounts: {b: {}}\n")
    assert "one YAML document" in several


def test_paths_that_do_not_exist_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "real").mkdir()
    [found] = problems(tmp_path, "accounts:\n  a:\n    paths: [real/, nonexistent/]\n")
    assert found.startswith("hoodsync.yaml:3:20: error: path 'nonexistent/' does not exist")
    assert found.endswith("(accounts.a.paths[1])")


# ------------------------------------------------------------------------------ credentials


TOKEN = "hood_5F6C7sKStBQ1JrjvUUFSnaZixxJRnLfK"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (TOKEN + "\n", "starts or ends with whitespace or a line break"),  # pasted with its end
        (TOKEN + "\r\n", "starts or ends with whitespace or a line break"),
        (TOKEN + "\t", "starts or ends with whitespace or a line break"),
        (" " + TOKEN, "starts or ends with whitespace or a line break"),
        (TOKEN + " ", "starts or ends with whitespace or a line break"),
        ("\u201c" + TOKEN + "\u201d", "holds a character other than ASCII"),  # smart quotes
        (TOKEN[:10] + "\x00" + TOKEN[10:], "holds a space or a control character"),
        (TOKEN[:10] + " " + TOKEN[10:], "holds a space or a control character"),
    ],
)
@pytest.mark.parametrize(
    ("yaml", "variable"),
    [
        (None, "HOOD_API_TOKEN"),
        (None, "FALCONYTE_API_KEY"),
        ("accounts:\n  prod:\n    hood: {token_env: PROD_TOKEN}\n", "PROD_TOKEN"),
        ("accounts:\n  prod:\n    falconyte: {key_env: PROD_KEY}\n", "PROD_KEY"),
    ],
)
def test_a_credential_an_http_header_cannot_carry_is_refused_naming_only_its_variable(
    tmp_path: Path, yaml: str | None, variable: str, value: str, why: str
) -> None:
    # Before, it went into the header as it was: httpx refused the header and its message,
    # printed as the run's error, quoted it whole ("Illegal header value b'Bearer hood_…\n'"),
    # or a non-ASCII character ended the run in a traceback. Nothing is stripped silently.
    with pytest.raises(ConfigError) as info:
        config_in(tmp_path, yaml, {variable: value})
    message = str(info.value)
    assert message.startswith(f"{variable} {why}") and message.endswith("nothing was sent")
    assert "\n" not in message and TOKEN not in message and TOKEN[:8] not in message


def test_a_variable_no_real_endpoint_uses_is_not_checked(tmp_path: Path) -> None:
    # An account that says `url: sandbox` never sends the variable; it may hold anything.
    yaml = "accounts:\n  dev:\n    hood: {url: sandbox}\n    falconyte: {url: sandbox}\n"
    env = {"HOOD_API_TOKEN": TOKEN + "\n", "FALCONYTE_API_KEY": " x"}
    assert config_in(tmp_path, yaml, env).account("dev").hood.is_sandbox
    # A blank one is "not set", as before (check_secrets names it when it is needed).
    assert config_in(tmp_path, None, {"HOOD_API_TOKEN": "\n"}).account(None).hood.is_sandbox


# ------------------------------------------------------------------------------ the file itself


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_a_config_file_that_cannot_be_read_is_an_error_not_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # Before, a hoodsync.yaml that is a dangling (or looping) symbolic link was passed over:
    # the run fell back to the environment's default account — the real API with a token set.
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    link = tmp_path / "hoodsync.yaml"
    link.symlink_to("../shared/hoodsync.yaml" if kind == "dangling" else "hoodsync.yaml")
    assert find_config_file([], cwd=tmp_path) == link
    with pytest.raises(DefinitionError) as info:
        load_config([], env={"HOOD_API_TOKEN": "t"}, cwd=tmp_path)
    [problem] = info.value.problems
    assert str(problem).startswith("hoodsync.yaml:")


def test_hoodsync_yaml_and_yml_side_by_side_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tree(tmp_path, ".git/", "hoodsync.yaml", "hoodsync.yml", "sub/")
    with pytest.raises(ConfigError, match="hoodsync.yaml and hoodsync.yml are side by side"):
        find_config_file(["sub"], cwd=tmp_path)
    with pytest.raises(ConfigError):
        load_config([], env={}, cwd=tmp_path)


@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.inf", "1e999"])
def test_nan_and_infinity_are_refused_where_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    # Before, `max_removal_percent: .nan` passed and turned the percentage guard off (every
    # comparison with NaN is false).
    monkeypatch.chdir(tmp_path)
    found = problems(tmp_path, f"accounts:\n  a:\n    safety: {{max_removal_percent: {value}}}\n")
    assert found == [
        "hoodsync.yaml:3:14: error: not a finite number (.nan and .inf mean nothing here) "
        "(accounts.a.safety.max_removal_percent)"
    ]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://api.example.com/v1/hood?x=1", "no query (?…) or fragment"),
        ("https://api.example.com/v1/hood?", "no query (?…) or fragment"),
        ("https://api.example.com/v1/hood#top", "no query (?…) or fragment"),
        ("https://api.example.com:99999/v1/hood", "the port is not a number from 1 to 65535"),
        ("https://api.example.com:0/v1/hood", "the port is not a number from 1 to 65535"),
        ("https://${env:HOST}/v1/hood", "nothing is interpolated in an API URL"),
        ("https://api.example.com/${env:PATH}", "nothing is interpolated in an API URL"),
    ],
)
def test_urls_the_client_could_not_use_are_refused_where_they_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, why: str
) -> None:
    # Before, validate passed them and the run failed later and misleadingly (every request a
    # 404 under the query, five connection attempts, "Invalid port: 'HOST}'").
    (tmp_path / "yaml").mkdir()
    monkeypatch.chdir(tmp_path / "yaml")
    [found] = problems(tmp_path / "yaml", f"accounts:\n  a:\n    hood: {{url: '{url}'}}\n")
    assert found.startswith("hoodsync.yaml:3:") and why in found
    assert found.endswith("(accounts.a.hood.url)")
    with pytest.raises(ConfigError) as info:
        config_in(tmp_path, None, {"FALCONYTE_API_URL": url})
    shown = url.replace("?x=1", "?…").replace("#top", "#…")  # no query repeated: see below
    assert str(info.value).startswith(f"FALCONYTE_API_URL={shown!r}: ") and why in str(info.value)


@pytest.mark.parametrize("var", ["HOOD_API_URL", "FALCONYTE_API_URL"])
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/v1/hood?api_key=XYZ-SECRET", "ftp://host/x#XYZ-SECRET"]
)
def test_a_url_variable_refused_is_not_repeated_past_its_query(
    tmp_path: Path, var: str, url: str
) -> None:
    # Before, the error repeated the whole value, and a query may carry a key (hoodsync.yaml's
    # problem line never quoted it): the error is printed, and CI copies it into a PR comment.
    with pytest.raises(ConfigError) as info:
        config_in(tmp_path, None, {var: url, "HOOD_API_TOKEN": "t" * 20})
    message = str(info.value)
    base = url.split("?")[0].split("#")[0]
    assert (
        message.startswith(f"{var}='{base}") and "XYZ" not in message and "api_key" not in message
    )


# ------------------------------------------------------------------------------ accounts' paths


def test_with_several_accounts_each_needs_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before, validate passed and `--account staging` (what the CI templates run per account)
    # planned every definition — production's — into staging.
    monkeypatch.chdir(tmp_path)
    tree(tmp_path, "prod/")
    found = problems(
        tmp_path,
        "accounts:\n  prod:\n    paths: [prod/]\n  staging:\n    hood: {url: sandbox}\n",
    )
    assert found == [
        "hoodsync.yaml:4:3: error: account 'staging' has no paths: beside accounts that list "
        "theirs, each lists the definition files or folders that are its own (accounts.staging)"
    ]
    # None listing paths: environments, each chosen with --account (not a problem here).
    environments = config_in(tmp_path, "accounts:\n  prod: {}\n  staging: {}\n", {})
    assert [a.paths for a in environments.accounts.values()] == [(), ()]
    # One account needs none: it takes every definition.
    assert config_in(tmp_path, "accounts:\n  staging: {}\n", {}).account(None).paths == ()


@pytest.mark.parametrize(
    ("a", "b", "where"),
    [
        ("[push/]", "[email/, push/shared.yaml]", "6:21"),  # a file of one under the other
        ("[push/]", "[./push]", "6:13"),  # one folder, spelled two ways
        ("[push/eu/]", "[push/]", "6:13"),  # the other's folder inside this one
        ("[.]", "[email/]", "6:13"),
    ],
)
def test_paths_of_two_accounts_may_not_overlap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, a: str, b: str, where: str
) -> None:
    # Before, validate passed and a definition under both accounts was created in both.
    monkeypatch.chdir(tmp_path)
    tree(tmp_path, "push/shared.yaml", "push/eu/", "email/")
    found = problems(
        tmp_path,
        f"accounts:\n  push:\n    paths: {a}\n  email:\n    hood: {{url: sandbox}}\n"
        f"    paths: {b}\n",
    )
    assert len(found) == 1, found
    assert found[0].startswith(f"hoodsync.yaml:{where}: error: path ")
    assert "of account 'push': a definition under both would be planned in both" in found[0]
    # Entries of one account may overlap: each definition is still that account's once.
    yaml = "accounts:\n  push: {paths: [push/, push/eu/]}\n  email: {paths: [email/]}\n"
    assert config_in(tmp_path, yaml, {}).account("push").paths == ("push/", "push/eu/")


# ------------------------------------------------------------------------------ all at once


def test_every_problem_of_the_file_comes_out_in_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before, a schema problem hid the rest: each fix showed the next problem (up to four
    # runs for this file: prune, then the URLs and the missing folder, then the overlap).
    monkeypatch.chdir(tmp_path)
    tree(tmp_path, "defs/")
    found = problems(
        tmp_path,
        """\
accounts:
  default:
    paths: [defs/]
    prune: "yes"
  other:
    hood: {url: "https://user:pw@api.example.com/v1"}
    falconyte: {url: "https://api.example.com:99999/x?y=1"}
    paths: [defs/, missing/, ../up/]
  bare:
    hood: "sandbox"
""",
    )
    assert [line.split(": error: ")[0] for line in found] == [
        "hoodsync.yaml:4:5",  # prune
        "hoodsync.yaml:6:12",  # user:pw@
        "hoodsync.yaml:7:17",  # query (one reason per URL)
        "hoodsync.yaml:8:13",  # defs/ overlaps default's
        "hoodsync.yaml:8:20",  # missing/
        "hoodsync.yaml:8:30",  # ../up/ (the schema)
        "hoodsync.yaml:9:3",  # bare has no paths:
        "hoodsync.yaml:10:5",  # hood is not a mapping
    ], found
    assert "expected boolean" in found[0] and "user name or password" in found[1]
    assert "pw" not in found[1] and "no query" in found[2]
    assert "overlaps 'defs/' of account 'default'" in found[3]
    assert "'missing/' does not exist" in found[4]
    assert "account 'bare' has no paths:" in found[6]


def test_an_entry_that_is_not_a_usable_path_is_left_out_of_the_later_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a check cannot run on a part the schema refused, it runs on the others: no
    traceback, and nothing said twice of one value."""
    monkeypatch.chdir(tmp_path)
    tree(tmp_path, "defs/sub/")
    found = problems(
        tmp_path,
        "accounts:\n  a: {paths: [defs/, 3, /defs]}\n  b: {paths: 7, hood: {url: 5}}\n"
        "  c: null\n  d: {paths: [defs/sub/]}\n",
    )
    assert [line.split(" (")[-1] for line in found] == [
        "accounts.a.paths[1])",
        "accounts.a.paths[2])",
        "accounts.b.paths)",
        "accounts.b.hood.url)",
        "accounts.c)",
        "accounts.d.paths[0])",
    ], found
    assert "path 'defs/sub/' overlaps 'defs/' of account 'a'" in found[-1]


def test_a_variable_holding_a_credential_is_a_secret_too(tmp_path: Path) -> None:
    # Before, only the credential variables' names were secrets: PROMO=$HOOD_API_TOKEN could be
    # interpolated and the token sent as content.
    token, key = "hood_5F6C7sKStBQ1JrjvUUFSnaZi", "fy_0d3b5e7a9c1f"
    env = {
        "HOOD_API_TOKEN": token,
        "B_KEY": key,
        "SHORT_TOKEN": "t",  # no real credential: counted only as a whole value
        "PROMO": token,
        "LINK": f"https://example.com/?k={key}",
        "SAME_SHORT": "t",
        "GREETING": "thanks",
        "ELSE": "hood_5F6C7",
    }
    config = config_in(
        tmp_path,
        "accounts:\n  a: {paths: [a/]}\n  b: {falconyte: {key_env: B_KEY}, hood: "
        "{token_env: SHORT_TOKEN}, paths: [b/]}\n",
        env,
        folders=("a", "b"),
    )
    assert config.holders == {"PROMO", "LINK", "SAME_SHORT"}
    assert {"PROMO", "LINK", "SAME_SHORT", "B_KEY"} <= config.secret_names()
    assert not {"GREETING", "ELSE"} & config.secret_names()
    assert token not in repr(config) and key not in repr(config)
