"""The strict YAML loader: typing, duplicates, limits, encodings, locations, discovery."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hoodsync.definitions.loader import Limits, discover, load_file, load_paths, load_text


def one(text: str) -> object:
    result = load_text(text, "t.yaml")
    assert result.problems == []
    assert len(result.documents) == 1
    return result.documents[0].data


@pytest.mark.parametrize(
    "scalar, expected",
    [
        ("NO", "NO"), ("no", "no"), ("yes", "yes"), ("Yes", "Yes"), ("on", "on"), ("off", "off"),
        ("y", "y"), ("true", True), ("False", False), ("TRUE", True),
        ("2026-01-01 00:00:00", "2026-01-01 00:00:00"), ("2026-01-01", "2026-01-01"),
        ("012", 12), ("0o17", 15), ("0x1F", 31), ("1:30", "1:30"), ("1_000", "1_000"),
        ("1.5", 1.5), ("1e3", 1000.0), ("~", None), ("null", None), ("", None),
        ("'123'", "123"), ('"true"', "true"), ("!!str 123", "123"), ("!!int '7'", 7),
    ],
)
def test_yaml_1_2_core_scalars(scalar: str, expected: object) -> None:
    data = one(f"v: {scalar}\n")
    assert isinstance(data, dict)
    assert data["v"] == expected
    assert type(data["v"]) is type(expected)


def test_norway_stays_a_string_in_targeting() -> None:
    data = one("targeting:\n  countries: {items: [NO, SE], op: include}\n")
    assert data == {"targeting": {"countries": {"items": ["NO", "SE"], "op": "include"}}}


def test_duplicate_key_names_both_lines() -> None:
    result = load_text("a: 1\nb:\n  c: 1\n  c: 2\n", "d.yaml")
    [problem] = result.problems
    assert str(problem) == "d.yaml:4:3: error: duplicate key 'c' (first defined at line 3) (b.c)"


def test_every_duplicate_in_every_document_is_reported() -> None:
    result = load_text("a: 1\na: 2\n---\nb: 1\nb: 2\n", "d.yaml")
    assert [(p.location.line, p.path) for p in result.problems] == [(2, ("a",)), (5, ("b",))]


def test_alias_bomb_fails_fast() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    started = time.perf_counter()
    result = load_text("\n".join(lines) + "\n", "bomb.yaml")
    assert time.perf_counter() - started < 1.0
    assert result.documents == []
    [problem] = result.problems
    assert "alias expansion exceeds" in problem.message
    assert problem.location.path == "bomb.yaml"


def test_small_aliases_are_fine_and_expand() -> None:
    data = one("base: &b {x: 1}\nother: *b\n")
    assert data == {"base": {"x": 1}, "other": {"x": 1}}


def test_recursive_alias_is_refused() -> None:
    result = load_text("a: &a [*a]\n", "r.yaml")
    assert result.documents == []
    assert "recursive alias" in result.problems[0].message


def test_nesting_limit() -> None:
    text = "a: " + "[" * 80 + "]" * 80 + "\n"
    result = load_text(text, "deep.yaml", Limits(max_depth=64))
    assert result.documents == []
    assert "nesting deeper than 64" in result.problems[0].message


def test_tab_indentation_is_a_located_error() -> None:
    result = load_text("spec:\n\tname: x\n", "tab.yaml")
    [problem] = result.problems
    assert problem.location.line == 2
    assert "tab character" in problem.message
    assert str(problem).startswith("tab.yaml:2:")


def test_syntax_error_has_line_and_column() -> None:
    result = load_text("a: [1, 2\nb: 3\n", "s.yaml")
    [problem] = result.problems
    assert problem.location.line >= 2
    assert problem.message.startswith("YAML syntax error:")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("a: !!python/object:os.system x\n", "not allowed"),
        ("a: !custom 1\n", "not allowed"),
        ("<<: {a: 1}\n", "merge keys"),
        ("1: a\n", "must be a string"),
        ("? [a]\n: 1\n", "plain strings"),
        ("a: !!timestamp 2026-01-01\n", "not allowed"),
    ],
)
def test_only_json_compatible_data(text: str, fragment: str) -> None:
    result = load_text(text, "x.yaml")
    assert result.documents == []
    assert fragment in result.problems[0].message


def test_locations_of_nodes() -> None:
    result = load_text("kind: Campaign\nspec:\n  messages:\n    - name: a\n    - name: b\n", "l.yaml")
    doc = result.documents[0]
    assert str(doc.locate(("spec", "messages", 1, "name"))) == "l.yaml:5:7"
    assert str(doc.locate(("spec", "messages", 1, "missing"))) == "l.yaml:5:7"
    assert str(doc.locate(("spec",))) == "l.yaml:2:1"


def test_multi_document_files_keep_each_start() -> None:
    result = load_text("a: 1\n---\nb: 2\n---\n", "m.yaml")
    assert [d.data for d in result.documents] == [{"a": 1}, {"b": 2}]
    assert [d.location.line for d in result.documents] == [1, 3]


def test_file_too_large_is_refused_without_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    started = time.perf_counter()
    result = load_file(big)
    assert time.perf_counter() - started < 0.5
    [problem] = result.problems
    assert "52,428,800 bytes" in problem.message
    assert problem.location.line == 1


def test_non_utf8_bytes_are_located(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"kind: Campaign\nspec:\n  name: Caf\xe9\n")
    [problem] = load_file(bad).problems
    assert (problem.location.line, problem.location.column) == (3, 12)
    assert "not valid UTF-8 (byte 0xe9)" in problem.message


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    f = tmp_path / "bom.yaml"
    f.write_bytes("\ufeffa: ž\n".encode("utf-8"))
    result = load_file(f)
    assert result.problems == [] and result.documents[0].data == {"a": "ž"}


def test_discover_walks_yaml_skipping_config_and_hidden(tmp_path: Path) -> None:
    for rel in ["a.yaml", "b.yml", "hoodsync.yaml", "notes.txt", "sub/c.yaml", ".hidden/d.yaml",
                "sub/.e.yaml", "sub/deeper/f.yaml"]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a: 1\n")
    files, problems = discover([tmp_path])
    assert problems == []
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "a.yaml", "b.yml", "sub/c.yaml", "sub/deeper/f.yaml"]


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    result = load_paths([tmp_path / "nope"])
    assert "no such file or directory" in result.problems[0].message


@pytest.mark.parametrize("opener, closer", [("[", "]"), ("{a: ", "}")])
def test_very_deep_flow_nesting_is_refused_before_composing(opener: str, closer: str) -> None:
    """200,000 levels would overflow the C composer's stack (a crash, not an exception)."""
    n = 200_000
    started = time.perf_counter()
    result = load_text("a: " + opener * n + "1" + closer * n + "\n", "deep.yaml")
    assert time.perf_counter() - started < 5.0
    assert result.documents == []
    [problem] = result.problems
    assert problem.message == "nesting deeper than 64 levels" and problem.location.line == 1


def test_a_fifo_named_yaml_is_refused_not_read(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result = load_paths([tmp_path])
    assert [p.message for p in result.problems] == ["not a regular file"]
