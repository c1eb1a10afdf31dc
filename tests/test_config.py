"""``hoodsync.config``: where hoodsync.yaml is found, how each endpoint's URL and secret variable
are resolved (never a silent sandbox for a named secret), and how hoodsync.yaml problems read.
Offline: nothing here opens a connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from hoodsync.config import (
    FALCONYTE_DEFAULT_URL,
    HOOD_DEFAULT_URL,
    SANDBOX,
    Config,
    find_config_file,
    load_config,
)
from hoodsync.errors import ConfigError, DefinitionError
from hoodsync.session import account_info, check_secrets


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


# ------------------------------------------------------------------------------ endpoints


def config_in(tmp_path: Path, text: str | None, env: dict[str, str]) -> Config:
    (tmp_path / ".git").mkdir(exist_ok=True)
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
    assert account.hood.url == HOOD_DEFAULT_URL and account.falconyte.url == SANDBOX
    assert not account_info(account).sandbox


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
@pytest.mark.parametrize("value", ["foo", "ftp://x.example.com", "https://", "api.ocamba.com/v1"])
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
  a: {hood: {token_env: A_TOKEN}, paths: [.]}
  b: {falconyte: {key_env: B_KEY}, paths: [.]}
""",
        {},
    )
    assert config.secret_names() == {"A_TOKEN", "B_KEY", "HOOD_API_TOKEN", "FALCONYTE_API_KEY"}


def test_each_sandbox_account_has_its_own_database(tmp_path: Path) -> None:
    config = config_in(tmp_path, "accounts:\n  default: {paths: [.]}\n  qa: {paths: [.]}\n", {})
    assert config.sandbox_db(config.account("default")) == tmp_path / ".hoodsync" / "sandbox.sqlite"
    assert config.sandbox_db(config.account("qa")) == tmp_path / ".hoodsync" / "sandbox-qa.sqlite"


def test_account_info_describes_falconyte_honestly(tmp_path: Path) -> None:
    env = {"FALCONYTE_API_KEY": "k"}
    info = account_info(config_in(tmp_path, None, env).account(None))
    assert info.sandbox and info.falconyte_url == FALCONYTE_DEFAULT_URL
    assert info.falconyte_sandbox is False
    info = account_info(config_in(tmp_path, None, {"HOOD_API_TOKEN": "t"}).account(None))
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
