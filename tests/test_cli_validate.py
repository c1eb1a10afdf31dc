"""`hoodsync validate`, `schema` and `--version` as a user meets them: exit codes and one-liners."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hoodsync.cli import main

REPO = Path(__file__).resolve().parent.parent
GOOD = """\
kind: PushTask
key: demo
state: inactive
spec:
  name: Demo
  targeting:
    countries: {items: [NO, SE], op: include}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_validate_examples_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "validate", str(REPO / "examples"))
    assert (code, err) == (0, "")
    assert out.startswith("OK: ")


def test_validate_good_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "d.yaml").write_text(GOOD)
    code, out, _ = run(capsys, "validate", str(tmp_path))
    assert code == 0 and "1 definition(s) in 1 file(s)" in out


def test_validate_checks_hoodsync_yaml_and_the_accounts_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What plan would refuse in the configuration, validate refuses too (offline, without
    secrets: a real account with no token set is no problem here)."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "d.yaml").write_text(GOOD)
    (tmp_path / "b" / "e.yaml").write_text(GOOD.replace("demo", "other").replace("Demo", "Other"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOOD_API_TOKEN", raising=False)
    monkeypatch.setenv("HOOD_API_URL", "staging")  # what plan would refuse: not validate's
    config = tmp_path / "hoodsync.yaml"
    config.write_text("accounts:\n  prod:\n    paths: [a]\n    hood: {token_env: PROD_TOKEN}\n")
    code, _, err = run(capsys, "validate")
    assert code == 1 and err.startswith("b/e.yaml:") and "under no account's paths" in err
    config.write_text("accounts:\n  prod:\n    pathz: [a, b]\n")
    code, _, err = run(capsys, "validate")
    assert code == 1 and err.startswith("hoodsync.yaml:3:5: error: unknown key 'pathz'")
    config.write_text("accounts: [\n")
    code, _, err = run(capsys, "validate")
    assert code == 1 and err.startswith("hoodsync.yaml:") and "YAML syntax error" in err
    config.write_text("accounts:\n  prod:\n    paths: [a, b]\n    hood: {token_env: PROD_TOKEN}\n")
    assert run(capsys, "validate")[0] == 0
    # A credential variable of the account, interpolated: refused offline, where it is used.
    (tmp_path / "b" / "e.yaml").write_text(
        GOOD.replace("demo", "other").replace("name: Demo", 'name: "x ${env:PROD_TOKEN}"')
    )
    code, _, err = run(capsys, "validate")
    assert code == 1 and err.startswith("b/e.yaml:5:3: error: PROD_TOKEN holds an API credential")


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_stray_definition_is_reported_beside_the_schema_errors_of_others(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    # Before, the file under no account's paths: came out only once no definition had a
    # schema error: two runs for two independent problems.
    (tmp_path / ".git").mkdir()
    (tmp_path / "defs").mkdir()
    (tmp_path / "stray").mkdir()
    (tmp_path / "hoodsync.yaml").write_text(
        "accounts:\n  default:\n    hood: {url: sandbox}\n    paths: [defs]\n"
    )
    (tmp_path / "defs" / "bad.yaml").write_text(
        "kind: PushTask\nkey: bad\nstat: x\nspec: {name: Bad}\n"
    )
    (tmp_path / "stray" / "s.yaml").write_text("kind: PushTask\nkey: s\nspec: {name: Stray}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CI", "true")
    code, out, err = run(capsys, command)
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("defs/bad.yaml:3:1: error: unknown key 'stat'")
    assert lines[1].startswith("stray/s.yaml:1:1: error: push_task.s is under no account's paths:")
    assert lines[2].startswith("2 error(s) in 2 file(s)") and len(lines) == 3
    assert not (tmp_path / ".hoodsync").exists()  # plan read nothing


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_link_into_another_accounts_paths_is_refused_at_the_link(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """A file is read once, whatever its names, and belongs to the account whose paths: hold
    the file itself: a link in beta/ to alpha's file (or folder) used to leave beta without the
    definition, without a word (its object an orphan to --prune there)."""
    (tmp_path / ".git").mkdir()
    for name in ("alpha", "beta", "alpha/shared", "outside"):
        (tmp_path / name).mkdir()
    (tmp_path / "alpha" / "d.yaml").write_text(GOOD)
    (tmp_path / "alpha" / "shared" / "e.yaml").write_text(
        GOOD.replace("demo", "other").replace("Demo", "Other")
    )
    (tmp_path / "alpha" / "again.yaml").symlink_to("d.yaml")  # within one account: fine
    (tmp_path / "hoodsync.yaml").write_text(
        "accounts:\n"
        "  alpha: {hood: {url: sandbox}, paths: [alpha]}\n"
        "  beta: {hood: {url: sandbox}, paths: [beta]}\n"
    )
    monkeypatch.chdir(tmp_path)
    assert run(capsys, command)[0] == 0
    (tmp_path / "beta" / "d.yaml").symlink_to("../alpha/d.yaml")
    (tmp_path / "beta" / "shared").symlink_to("../alpha/shared")
    (tmp_path / "beta" / ".hidden.yaml").symlink_to("../alpha/d.yaml")  # the loader skips it
    code, _, err = run(capsys, command)
    lines = err.splitlines()
    assert code == 1
    assert (
        lines[0].startswith("beta/d.yaml:")
        and "the file alpha/d.yaml of account 'alpha'" in (lines[0])
    )
    assert lines[1].startswith("beta/shared:") and "the folder alpha/shared" in lines[1]
    assert "account 'beta' would not get it" in lines[0] and len(lines) == 3


def bad_cases(tmp_path: Path) -> dict[str, tuple[Path, int]]:
    """Each broken file and the line its error must point at."""
    cases: dict[str, tuple[bytes, int]] = {
        "duplicate": (GOOD.replace("  name: Demo\n", "  name: Demo\n  name: Again\n").encode(), 6),
        "bomb": (
            (
                "a: &a ["
                + ",".join(['"x"'] * 9)
                + "]\n"
                + "".join(
                    f"{n}: &{n} [" + ",".join([f"*{p}"] * 9) + "]\n"
                    for p, n in zip("abcdefgh", "bcdefghi")
                )
            ).encode(),
            1,
        ),
        "tab": (b"kind: PushTask\nkey: demo\nspec:\n\tname: Demo\n", 4),
        "latin1": (GOOD.replace("Demo", "Caf\u00e9").encode("latin-1"), 5),
        "unknown": (GOOD.replace("  name: Demo", "  nmae: Demo\n  name: Demo"), 5),
        "type": (GOOD.replace("state: inactive\n", "state: inactive\norder: soon\n"), 4),
        "rule": (GOOD.replace("state: inactive", "state: active"), 4),
    }
    out: dict[str, tuple[Path, int]] = {}
    for name, (content, line) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        path = folder / "def.yaml"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        out[name] = (path, line)
    return out


@pytest.mark.parametrize("case", ["duplicate", "bomb", "tab", "latin1", "unknown", "type", "rule"])
def test_bad_input_is_one_located_line_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    path, line = bad_cases(tmp_path)[case]
    # How much work each refusal costs is bounded and counted in tests/test_loader.py (the
    # alias bomb, the file too large to read); how long it takes is measured in bench/.
    code, out, err = run(capsys, "validate", str(path.parent))
    assert code == 1 and out == ""
    first = err.splitlines()[0]
    assert first.startswith(f"{path}:{line}:") or first.startswith(
        f"{path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}:{line}:"
    ), err
    assert ": error: " in first
    assert "Traceback" not in err


def test_fifty_megabyte_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    code, _, err = run(capsys, "validate", str(tmp_path))
    assert code == 1 and f"{big}:1:1: error: file is 52,428,800 bytes" in err


def test_usage_error_exits_1_not_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "validate", "--bogus")
    assert code == 1 and "No such option" in err


def test_schema_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema", "PushTask")
    assert code == 0 and json.loads(out)["$id"].endswith("push_task")
    code, _, err = run(capsys, "schema", "Nope")
    assert code == 1 and "unknown schema" in err


def test_version_and_module_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hoodsync", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and proc.stdout.startswith("hoodsync, version ")
