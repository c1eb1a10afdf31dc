"""Editors (issue 15 §5): every document points at a schema file an editor can load.

* Offline: every document of every example file (and of the README's definition examples)
  starts with its kind's ``# yaml-language-server: $schema=...`` line, resolving to a file in the
  repository; ``hoodsync schema --write DIR`` writes the schema files, atomically, reporting each,
  replacing only hoodsync's own schemas.
* With the real yaml-language-server (npm; looked up in ``$HOODSYNC_NODE_TOOLS`` or
  ``.ci/tools``, never downloaded by the tests; skipped, saying why, when node or it is missing):
  every example is accepted, and a bad key in any document — the second of a multi-document
  file included — is flagged on its line. The server runs offline (schemas from file paths, no
  JSON Schema Store); tests/yaml_ls.py drives it over stdio.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
import yaml
from test_cli_plan import cli
from yaml_ls import SERVER_VERSION, Diagnostic, YamlLanguageServer, language_server

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCHEMA_FILES = {
    "Campaign": "campaign.json",
    "PushTask": "push_task.json",
    "EmailCampaign": "email_campaign.json",
    "config": "hoodsync_config.json",
}
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")
BAD_KEY = "hoodsync_no_such_key: 1"


def example_files() -> list[Path]:
    files = sorted(EXAMPLES.glob("*/*.yaml"))
    assert files, "no example definitions found"
    return [*files, EXAMPLES / "hoodsync.yaml"]


def documents(text: str) -> list[tuple[int, list[str]]]:
    """The documents of a YAML text: (index of its first line, its lines), split at ``---``."""
    docs: list[tuple[int, list[str]]] = [(0, [])]
    for number, line in enumerate(text.splitlines()):
        if line.rstrip() == "---":
            docs.append((number + 1, []))
        else:
            docs[-1][1].append(line)
    return [d for d in docs if any(line.strip() for line in d[1])]


def schema_name(path: Path, lines: list[str]) -> str:
    """Which schema a document is checked against: its kind, or ``config`` for hoodsync.yaml."""
    if path.name == "hoodsync.yaml":
        return "config"
    kind: str = yaml.safe_load("\n".join(lines))["kind"]
    return kind


def modeline_target(path: Path, lines: list[str]) -> Path | None:
    """The schema file the document's leading comment points at (None without one)."""
    for line in lines:
        if not line.startswith("#"):
            return None
        if match := MODELINE.match(line):
            return (path.parent / match.group(1)).resolve()
    return None


# ------------------------------------------------------------------------- offline: modelines


def test_every_document_of_every_example_points_at_its_schema_file() -> None:
    checked = 0
    for path in example_files():
        for start, lines in documents(path.read_text(encoding="utf-8")):
            target = modeline_target(path, lines)
            where = f"{path.relative_to(ROOT)}:{start + 1}"
            assert target is not None, f"{where}: document without a schema line"
            assert target == ROOT / "schemas" / SCHEMA_FILES[schema_name(path, lines)], where
            assert target.is_file(), where
            checked += 1
    assert checked > len(example_files()), "no multi-document example"


def test_readme_definition_examples_carry_a_schema_line_per_document() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    docs = [
        lines
        for block in blocks
        if re.search(r"^kind: ", block, flags=re.M)
        for _, lines in documents(block)
    ]
    assert len(docs) >= 3
    for lines in docs:
        kind = next(line.split()[1] for line in lines if line.startswith("kind:"))
        assert MODELINE.match(lines[0]), lines[:2]
        assert lines[0].endswith("/" + SCHEMA_FILES[kind]), lines[0]


# --------------------------------------------------------------------- hoodsync schema --write


def shipped(name: str) -> bytes:
    return resources.files("hoodsync").joinpath("schemas", name).read_bytes()


def test_schema_write_creates_every_schema_file_as_shipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "schema", "--write", "defs/schemas")
    assert code == 0, err
    folder = tmp_path / "defs" / "schemas"
    assert sorted(p.name for p in folder.iterdir()) == sorted(SCHEMA_FILES.values())
    for name in SCHEMA_FILES.values():
        assert (folder / name).read_bytes() == shipped(name)
        # The repository's own schemas/ folder is exactly what --write writes.
        assert (ROOT / "schemas" / name).read_bytes() == shipped(name)
    assert out.splitlines() == [f"created   defs/schemas/{n}" for n in SCHEMA_FILES.values()]
    assert "Wrote 4 schema file(s) to defs/schemas." in err


def test_schema_write_again_leaves_current_files_alone_and_replaces_older_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "schemas"
    assert cli(capsys, "schema", "--write", str(folder))[0] == 0
    before = {p.name: p.stat().st_ino for p in folder.iterdir()}
    older = json.loads(shipped("push_task.json"))
    older["description"] = "an older hoodsync version"
    (folder / "push_task.json").write_text(json.dumps(older), encoding="utf-8")

    code, out, err = cli(capsys, "schema", "--write", str(folder))
    assert code == 0, err
    pairs = (line.split(maxsplit=1) for line in out.splitlines())
    actions = {path: action for action, path in pairs}
    assert actions == {
        str(folder / n): "updated" if n == "push_task.json" else "unchanged"
        for n in SCHEMA_FILES.values()
    }
    assert (folder / "push_task.json").read_bytes() == shipped("push_task.json")
    after = {p.name: p.stat().st_ino for p in folder.iterdir()}
    # Current files were not rewritten; the replaced one is a new file (temporary + rename).
    assert {n for n in after if after[n] != before[n]} == {"push_task.json"}
    assert "Wrote 1 schema file(s)" in err and "3 already current" in err


def test_schema_write_refuses_to_replace_a_file_that_is_not_a_hoodsync_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "schemas"
    folder.mkdir()
    mine = folder / "campaign.json"
    mine.write_text('{"title": "my own campaign data"}', encoding="utf-8")
    code, out, err = cli(capsys, "schema", "--write", str(folder))
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"error: refusing to replace {mine}: not a hoodsync schema; "
        "move it away or choose another folder"
    ]
    # Nothing written, not even the other schemas.
    assert [p.name for p in folder.iterdir()] == ["campaign.json"]
    assert mine.read_text(encoding="utf-8") == '{"title": "my own campaign data"}'


def test_schema_write_with_a_kind_writes_that_schema_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "schema", "push_task", "--write", str(tmp_path))
    assert code == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["push_task.json"]
    code, _, err = cli(capsys, "schema", "Pushtask", "--write", str(tmp_path / "x"))
    assert code == 1 and err.startswith("error: unknown schema 'Pushtask'")
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------- the real yaml-language-server


@pytest.fixture(scope="module")
def server() -> Iterator[YamlLanguageServer]:
    with language_server(ROOT) as started:
        yield started


def errors(found: list[Diagnostic]) -> list[tuple[int, str]]:
    return [(d["range"]["start"]["line"], d["message"]) for d in found]


def test_language_server_accepts_every_example(server: YamlLanguageServer) -> None:
    # A schema that cannot be loaded is itself a diagnostic, so none at all means every
    # document was checked against a loaded schema and passed.
    found = server.diagnostics((p, p.read_text(encoding="utf-8")) for p in example_files())
    assert {p.relative_to(ROOT).as_posix(): errors(d) for p, d in found.items() if d} == {}
    assert len(found) == len(example_files())


def with_bad_key(text: str, start: int, lines: list[str], path: Path) -> tuple[str, int]:
    """``text`` with a key no schema allows added at the top level of the document starting at
    line ``start``; also the (0-based) line it is on."""
    if path.name == "hoodsync.yaml":
        at = start + len(lines)  # after the last line: a top-level key of the config
    else:
        at = start + next(i for i, line in enumerate(lines) if line.startswith("kind:")) + 1
    all_lines = text.splitlines()
    all_lines.insert(at, BAD_KEY)
    return "\n".join(all_lines) + "\n", at


def test_language_server_flags_a_bad_key_in_every_document_of_every_example(
    server: YamlLanguageServer,
) -> None:
    """Each document gets its own bad key, in its own copy of the file, opened beside the
    original (so the relative schema lines resolve as for the file itself). Document 2 and 3
    of campaigns/email.yaml and document 2 of campaigns/sms.yaml are among them."""
    probes: dict[Path, tuple[str, int]] = {}
    for path in example_files():
        text = path.read_text(encoding="utf-8")
        for number, (start, lines) in enumerate(documents(text), start=1):
            probe = path.with_name(f".probe-{number}-{path.name}")
            probes[probe] = with_bad_key(text, start, lines, path)
    assert sum(1 for p in probes if p.name.startswith(".probe-2-")) == 2
    found = server.diagnostics((p, text) for p, (text, _) in probes.items())
    flagged = {p.name: [d["range"]["start"]["line"] for d in found[p]] for p in probes}
    assert flagged == {p.name: [line] for p, (_, line) in probes.items()}
    assert all(d["severity"] == 1 for p in probes for d in found[p])


def test_language_server_flags_a_bad_key_in_document_2_of_a_users_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], server: YamlLanguageServer
) -> None:
    """The user's side, as the README says: the examples copied into a repository (here as
    ``definitions/``), `hoodsync schema --write schemas` run at its root, a typo in the second
    document of a two-document file."""
    assert cli(capsys, "schema", "--write", str(tmp_path / "schemas"))[0] == 0
    source = (EXAMPLES / "campaigns" / "sms.yaml").read_text(encoding="utf-8")
    path = tmp_path / "definitions" / "campaigns" / "sms.yaml"
    typo = source.replace("\nkey: welcome-sms-draft\n", "\nkey: welcome-sms-draft\nstat: active\n")
    assert typo != source
    found = server.diagnostics([(path, source), (path.with_name("typo.yaml"), typo)])
    assert found[path] == []
    line = typo.splitlines().index("stat: active")
    assert [d["range"]["start"]["line"] for d in found[path.with_name("typo.yaml")]] == [line]


def test_ci_installs_the_server_version_the_tests_name() -> None:
    """.ci/run installs the node tools with ``npm ci`` from the lock file, which must pin the
    version the tests name (and the manifest ask for exactly it)."""
    tools = ROOT / ".ci" / "tools"
    wanted = json.loads((tools / "package.json").read_text(encoding="utf-8"))
    locked = json.loads((tools / "package-lock.json").read_text(encoding="utf-8"))
    assert wanted["dependencies"]["yaml-language-server"] == SERVER_VERSION
    assert locked["packages"]["node_modules/yaml-language-server"]["version"] == SERVER_VERSION
    assert "npm ci " in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
