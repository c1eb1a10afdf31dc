"""Every way a command can fail ends in one line, ``error: <what>: <reason>``, exit 1, no
traceback — and, where possible, before anything was read or written: files that cannot be
written, folders that cannot be created, ports that cannot be bound, misconfigured accounts,
command lines that name nothing."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EmulatorHandle
from test_cli_plan import Account, campaign_yaml, cli, make_account, write


@pytest.fixture
def sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_emulator: Callable[..., EmulatorHandle]
) -> Account:
    """The embedded sandbox in ``tmp_path/repo`` (a git work tree) with one definition."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    write(acc.root, "c/one.yaml", campaign_yaml("one", "One"))
    return acc


def one_error(err: str) -> str:
    """The single line on stderr, which must be an ``error:`` line (not a traceback)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------------------ files


@pytest.mark.parametrize(
    "argv",
    [
        ("plan", "--out", "{missing}/p.json"),
        ("plan", "--preview", "{missing}/p.html"),
        ("preview", "--out", "{missing}/x.html"),
        ("plan", "--out", "{file}/p.json"),
    ],
)
def test_an_unwritable_output_fails_before_the_account_is_read(
    sandbox: Account, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    names = {"missing": str(sandbox.root / "no" / "such"), "file": "c/one.yaml"}
    args = [a.format(**names) for a in argv]
    code, out, err = cli(capsys, *args)
    assert code == 1 and out == ""
    line = one_error(err)
    assert line.startswith(f"error: {args[-1]}: ")
    assert not (sandbox.root / ".hoodsync").exists()  # the sandbox was never opened


def test_a_device_is_written_not_replaced_and_a_symlink_is_followed(
    sandbox: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "plan", "--out", "/dev/full")
    assert code == 1 and "error: /dev/full: No space left on device" in err
    assert "Traceback" not in err
    assert os.path.exists("/dev/full") and not Path("/dev/full").is_file()  # still the device

    assert cli(capsys, "plan", "--out", "/dev/null")[0] == 0
    assert not Path("/dev/null").is_file()

    link = sandbox.root / "link.json"
    link.symlink_to("real.json")
    assert cli(capsys, "plan", "--out", "link.json")[0] == 0
    assert link.is_symlink() and (sandbox.root / "real.json").read_text().startswith("{")
    assert not list(sandbox.root.glob(".*.tmp"))  # no temporary file left behind


@pytest.mark.parametrize(
    ("instead", "said"),
    [
        ("file", "it is a file, not a folder"),
        ("link to /dev/null", "it is a symbolic link to /dev/null, not a folder"),
        ("link to nothing", "it is a symbolic link to nowhere, not a folder"),
        ("link to /sys", "Permission denied"),  # even for root
    ],
)
def test_journal_folder_that_cannot_be_created_stops_apply_before_any_change(
    sandbox: Account, capsys: pytest.CaptureFixture[str], instead: str, said: str
) -> None:
    """One line naming the folder, why, that nothing was sent, and what to fix."""
    if instead == "link to /sys" and not os.path.isdir("/sys"):
        pytest.skip("no /sys here")
    (sandbox.root / ".hoodsync").mkdir()
    journal = sandbox.root / ".hoodsync" / "journal"
    if instead == "file":
        journal.write_text("a file where the folder goes")
    else:
        journal.symlink_to(instead.removeprefix("link to ").replace("nothing", "nowhere"))
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 1 and "Apply complete" not in out
    line = one_error(err)
    assert line.startswith(f"error: {journal}: cannot create the apply journal: ")
    assert said in line and "nothing was sent" in line
    fix = "let this user create" if instead == "link to /sys" else f"move {journal} out of the way"
    assert f"Fix: {fix}" in line and line.endswith("then apply again")
    with sandbox.remote() as remote:
        assert remote.campaigns() == []  # nothing was applied


def test_sandbox_that_cannot_be_created_is_one_line(
    sandbox: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    (sandbox.root / ".hoodsync").write_text("a file where the folder goes")
    code, _, err = cli(capsys, "plan")
    assert code == 1
    assert one_error(err).startswith(
        f"error: {sandbox.root / '.hoodsync'}: cannot create the sandbox"
    )


def test_emulator_port_in_use_or_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = cli(capsys, "emulator", "--port", str(port))
    assert code == 1 and "listening" not in out
    assert one_error(err) == f"error: 127.0.0.1:{port}: Address already in use"
    code, _, err = cli(capsys, "emulator", "--port", "99999")
    assert code == 1 and "99999 is not in the range 0<=x<=65535" in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["-1", "inf", "nan", "NaN", "-nan"])
def test_lock_timeout_out_of_range_or_nan_is_refused_before_anything_is_read(
    sandbox: Account, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """``nan`` passes every comparison, so a plain range let it through and it meant 0."""
    code, out, err = cli(capsys, "apply", "--auto-approve", "--lock-timeout", value)
    assert code == 1 and not out and "Traceback" not in err
    assert "--lock-timeout" in err and "is not in the range 0<=x<=86400" in err
    assert not (sandbox.root / ".hoodsync").exists()  # no account was read


# ------------------------------------------------------------------------------ accounts


def test_named_token_variable_unset_never_uses_the_sandbox(
    sandbox: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        sandbox.root,
        "hoodsync.yaml",
        "accounts:\n  prod:\n    hood: {token_env: HOOD_PROD_TOKEN}\n",
    )
    for value in (None, ""):
        if value is None:
            monkeypatch.delenv("HOOD_PROD_TOKEN", raising=False)
        else:
            monkeypatch.setenv("HOOD_PROD_TOKEN", value)
        code, out, err = cli(capsys, "apply", "--auto-approve")
        assert code == 1 and out == ""
        assert one_error(err).startswith(
            "error: HOOD_PROD_TOKEN is not set or empty: account 'prod'"
        )
    assert not (sandbox.root / ".hoodsync").exists()


def test_bad_url_variable_names_it(
    sandbox: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOOD_API_URL", "foo")
    code, _, err = cli(capsys, "plan")
    assert code == 1
    assert one_error(err).startswith(
        "error: HOOD_API_URL='foo' is neither 'sandbox' nor an http(s) URL"
    )


def test_config_and_definition_problems_are_reported_together(
    sandbox: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    write(sandbox.root, "hoodsync.yaml", "accounts:\n  default:\n    prnue: true\n")
    write(sandbox.root, "c/bad.yaml", "kind: Campaign\nkey: Bad Key\nspec: {name: x}\n")
    code, _, err = cli(capsys, "plan")
    assert code == 1
    assert (
        "hoodsync.yaml:3:5: error: unknown key 'prnue'; did you mean 'prune'? "
        "(accounts.default.prnue)" in err
    )
    assert "c/bad.yaml:2:" in err


def two_sandbox_accounts(root: Path) -> None:
    write(
        root, "hoodsync.yaml", "accounts:\n  alpha: {paths: [alpha/]}\n  beta: {paths: [beta/]}\n"
    )
    write(root, "alpha/a.yaml", campaign_yaml("a", "A"))
    write(root, "beta/b.yaml", campaign_yaml("b", "B"))


def test_definition_under_no_accounts_paths_is_an_error(
    sandbox: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    two_sandbox_accounts(sandbox.root)  # c/one.yaml is under neither
    code, out, err = cli(capsys, "plan")
    assert code == 1 and out == ""
    assert err.startswith("c/one.yaml:1:1: error: campaign.one is under no account's paths: ")
    assert "alpha: alpha/; beta: beta/" in err
    write(sandbox.root, "hoodsync.yaml", "accounts:\n  alpha: {paths: [alpha/, nonexistent/]}\n")
    code, _, err = cli(capsys, "plan")
    assert code == 1 and "hoodsync.yaml:2:27: error: path 'nonexistent/' does not exist" in err


# ------------------------------------------------------------------------------ command line


def test_target_spellings_and_a_target_that_matches_nothing(
    sandbox: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    for spelling in ("campaign.one", "Campaign.one"):
        code, out, _ = cli(capsys, "plan", "--target", spelling)
        assert code == 0 and "campaign.one will be created" in out
    code, out, err = cli(capsys, "plan", "--target", "Campaign.oen")
    assert code == 1 and out == ""
    assert one_error(err) == (
        "error: --target matches no definition and no orphan: "
        "'campaign.oen' (did you mean 'campaign.one'?)"
    )
    # A stray space or an invisible character shows: the value never reads as its suggestion.
    for typo, shown in (("campaign.one ", "'campaign.one '"), ("campaign.o\u200bne", "\\u200b")):
        code, _, err = cli(capsys, "plan", "--target", typo)
        assert code == 1 and shown in one_error(err) and "(did you mean 'campaign.one'?)" in err
    code, _, err = cli(capsys, "apply", "--auto-approve", "--target", "PushTask.zzz")
    assert code == 1 and "push_task.zzz" in one_error(err)


def test_json_with_several_accounts_asks_for_one(
    sandbox: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    (sandbox.root / "c" / "one.yaml").unlink()
    two_sandbox_accounts(sandbox.root)
    code, out, err = cli(capsys, "plan", "--format", "json")
    assert code == 1 and out == ""
    assert "choose it with --account (alpha, beta)" in one_error(err)
    code, out, _ = cli(capsys, "plan", "--format", "json", "--account", "beta")
    assert code == 0 and out.count('"format_version"') == 1


@pytest.mark.parametrize("variable", ["HOOD_API_TOKEN", "FALCONYTE_API_KEY", "QA_TOKEN"])
def test_definitions_may_not_interpolate_an_accounts_secret(
    sandbox: Account,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
) -> None:
    (sandbox.root / "d").mkdir()
    write(
        sandbox.root,
        "hoodsync.yaml",
        "accounts:\n  default: {paths: [d/]}\n"
        "  qa: {hood: {url: sandbox, token_env: QA_TOKEN}, paths: [c/]}\n",
    )
    monkeypatch.setenv(variable, "s3cr3t-value-1234")
    spec = campaign_yaml("one", "One").replace(
        "  labels: [a, b]\n", f'  labels: [a, b]\n  description: "${{env:{variable}}}"\n'
    )
    write(sandbox.root, "c/one.yaml", spec)
    code, out, err = cli(capsys, "plan", "--account", "qa")  # qa is the sandbox in any case
    assert code == 1 and "campaign.one will be created" not in out
    assert "c/one.yaml:" in err and variable in err
    assert "s3cr3t-value-1234" not in out + err
    assert err.splitlines()[-1].startswith("1 error(s) in 1 file(s)")  # a definition error
