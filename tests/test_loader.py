"""The strict YAML loader: typing, duplicates, limits, encodings, locations, discovery."""

from __future__ import annotations

import builtins
import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from hoodsync.definitions import loader
from hoodsync.definitions.loader import (
    Limits,
    discover,
    load_file,
    load_paths,
    load_text,
    separate_projects,
)


def one(text: str) -> object:
    result = load_text(text, "t.yaml")
    assert result.problems == []
    assert len(result.documents) == 1
    return result.documents[0].data


@pytest.mark.parametrize(
    "scalar, expected",
    [
        ("NO", "NO"),
        ("no", "no"),
        ("yes", "yes"),
        ("Yes", "Yes"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("2026-01-01 00:00:00", "2026-01-01 00:00:00"),
        ("2026-01-01", "2026-01-01"),
        ("012", 12),
        ("0o17", 15),
        ("0x1F", 31),
        ("1:30", "1:30"),
        ("1_000", "1_000"),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("~", None),
        ("null", None),
        ("", None),
        ("'123'", "123"),
        ('"true"', "true"),
        ("!!str 123", "123"),
        ("!!int '7'", 7),
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


@pytest.mark.parametrize("limit", [Limits().max_alias_nodes, 500])
def test_alias_bomb_is_refused_after_a_bounded_number_of_nodes(
    limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nine levels of nine aliases each: expanded, 9**9 (387 million) nodes.
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    # The work is counted, not timed: every node the exact builder builds is one call.
    built = 0
    real_build = loader._Builder.build

    def counting_build(self: loader._Builder, *args: Any) -> Any:
        nonlocal built
        built += 1
        return real_build(self, *args)

    monkeypatch.setattr(loader._Builder, "build", counting_build)
    result = load_text("\n".join(lines) + "\n", "bomb.yaml", Limits(max_alias_nodes=limit))
    assert result.documents == []
    [problem] = result.problems
    assert f"alias expansion exceeds {limit} nodes" in problem.message
    assert problem.location.path == "bomb.yaml"
    written = 1 + 9 * 2 + 9 * 9  # the root, nine keys and values, 81 items written out
    assert limit < built <= limit + written + 1


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
    result = load_text("a: b\n  c: d\n", "s.yaml")
    [problem] = result.problems
    assert problem.location.line == 2
    assert problem.message.startswith("YAML syntax error:")


@pytest.mark.parametrize(
    "text, opened",
    [
        ('kind: C\nspec:\n  name: "open\n' + "  - x: 1\n" * 50, (3, 9)),
        ("a: 1\nb: 'open\nc: 2\n\n\n", (2, 4)),
        ("a: [1, 2\n\nb: 3\n", (1, 4)),
        ("a:\n  b: {x: 1,\n\n\nc: 2\n", (2, 6)),
    ],
)
def test_an_unclosed_quote_or_bracket_is_reported_where_it_opens(
    text: str, opened: tuple[int, int]
) -> None:
    """The parser notices an unclosed quote or bracket lines later, often at the end of the
    file; the user is sent to where it opens, in one line that still says where it failed."""
    [problem] = load_text(text, "o.yaml").problems
    assert (problem.location.line, problem.location.column) == opened
    assert problem.message.startswith("YAML syntax error:") and "\n" not in problem.message
    assert " at line " in problem.message and "that starts here" in problem.message


def test_other_syntax_errors_stay_where_the_parser_failed() -> None:
    """A context that is not a quote or bracket (a block mapping) says nothing closer."""
    [problem] = load_text("a:\n  - b\n c: d\n", "s.yaml").problems
    assert (problem.location.line, problem.location.column) == (3, 2)
    assert "starts here" not in problem.message


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
    result = load_text(
        "kind: Campaign\nspec:\n  messages:\n    - name: a\n    - name: b\n", "l.yaml"
    )
    doc = result.documents[0]
    assert str(doc.locate(("spec", "messages", 1, "name"))) == "l.yaml:5:7"
    assert str(doc.locate(("spec", "messages", 1, "missing"))) == "l.yaml:5:7"
    assert str(doc.locate(("spec",))) == "l.yaml:2:1"


def test_multi_document_files_keep_each_start() -> None:
    result = load_text("a: 1\n---\nb: 2\n---\n", "m.yaml")
    assert [d.data for d in result.documents] == [{"a": 1}, {"b": 2}]
    assert [d.location.line for d in result.documents] == [1, 3]


def test_file_too_large_is_refused_without_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    small = tmp_path / "small.yaml"
    small.write_text("a: 1\n")
    opened: list[str] = []
    real_open = builtins.open

    def recording_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording_open)
    result = load_file(big)
    assert str(big) not in opened  # refused on its size alone: never opened, so never read
    [problem] = result.problems
    assert "52,428,800 bytes" in problem.message
    assert problem.location.line == 1
    assert load_file(small).documents and str(small) in opened  # the spy sees a real read


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
    for rel in [
        "a.yaml",
        "b.yml",
        "hoodsync.yaml",
        "notes.txt",
        "sub/c.yaml",
        ".hidden/d.yaml",
        "sub/.e.yaml",
        "sub/deeper/f.yaml",
    ]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a: 1\n")
    files, problems = discover([tmp_path])
    assert problems == []
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "a.yaml",
        "b.yml",
        "sub/c.yaml",
        "sub/deeper/f.yaml",
    ]


def test_folders_below_the_paths_with_their_own_config_are_left_out(tmp_path: Path) -> None:
    for rel in [
        "a.yaml",
        "proj/hoodsync.yaml",
        "proj/b.yaml",
        "proj/sub/c.yaml",
        "other/d.yaml",
        "other/p2/hoodsync.yml",
        "other/p2/e.yaml",
        ".hidden/hoodsync.yaml",
        ".hidden/f.yaml",
    ]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a: 1\n")

    def names(paths: list[Path]) -> list[str]:
        return [p.relative_to(tmp_path).as_posix() for p in paths]

    files, problems = discover([tmp_path])
    assert problems == [] and names(files) == ["a.yaml", "other/d.yaml"]
    assert names(separate_projects([tmp_path])) == ["other/p2/hoodsync.yml", "proj/hoodsync.yaml"]
    # A project given as a PATH, or a folder inside it, is scanned like any folder given.
    assert names(discover([tmp_path / "proj"])[0]) == ["proj/b.yaml", "proj/sub/c.yaml"]
    assert separate_projects([tmp_path / "proj"]) == []
    assert names(separate_projects([tmp_path, tmp_path / "proj" / "sub"])) == [
        "other/p2/hoodsync.yml"
    ]


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    result = load_paths([tmp_path / "nope"])
    assert "no such file or directory" in result.problems[0].message


#: Deeply nested flow text, and where its first node deeper than 64 levels starts.
DEEP = {"[": ("]", 68), "{a: ": ("}", 260)}
#: 200,000 levels would overflow the C composer's stack (a crash, not an exception); PyYAML
#: 6.0.4's libyaml refuses 1,000 levels or more with its own error; 80 reaches the builder.
DEEP_LEVELS = (200_000, 1_500, 80)


def deep_text(opener: str, levels: int) -> str:
    closer = DEEP[opener][0]
    return "a: " + opener * levels + "1" + closer * levels + "\n"


@pytest.mark.parametrize("levels", DEEP_LEVELS)
@pytest.mark.parametrize("opener", list(DEEP))
def test_very_deep_flow_nesting_is_refused_before_composing(opener: str, levels: int) -> None:
    result = load_text(deep_text(opener, levels), "deep.yaml")
    assert result.documents == []
    assert [str(p) for p in result.problems] == [
        f"deep.yaml:1:{DEEP[opener][1]}: error: nesting deeper than 64 levels"
    ]


def test_deep_nesting_is_reported_alike_by_pure_python_pyyaml() -> None:
    """Without libyaml, PyYAML parses in Python (its composer recursing once per level): the
    problem is the same, whatever the PyYAML build."""
    program = textwrap.dedent("""
        import json, sys
        sys.modules["yaml._yaml"] = None  # as if PyYAML had been built without libyaml
        import yaml
        assert not yaml.__with_libyaml__
        from hoodsync.definitions.loader import load_text
        from test_loader import DEEP, DEEP_LEVELS, deep_text
        print(json.dumps({f"{o} {n}": [str(p) for p in load_text(deep_text(o, n), "d.yaml").problems]
                          for o in DEEP for n in DEEP_LEVELS}))
    """)
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == {
        f"{o} {n}": [f"d.yaml:1:{DEEP[o][1]}: error: nesting deeper than 64 levels"]
        for o in DEEP
        for n in DEEP_LEVELS
    }


@pytest.mark.parametrize("padding", ["", "b: [" + ", ".join(["[]"] * 2_100) + "]\n"])
def test_depth_limit_is_the_same_with_or_without_the_pre_check(padding: str) -> None:
    """Over 2,000 flow openers the depth is checked on parse events before composing; under,
    on the composed nodes. Both allow 64 levels below the root and refuse the 65th."""

    def chain(levels: int) -> str:
        return "a: " + "{a: " * levels + "1" + "}" * levels + "\n" + padding

    assert load_text(chain(63), "x.yaml").problems == []
    assert [str(p) for p in load_text(chain(64), "x.yaml").problems] == [
        "x.yaml:1:260: error: nesting deeper than 64 levels"
    ]


def test_syntax_error_after_a_too_deep_document_is_reported_too() -> None:
    result = load_text(deep_text("[", 80) + "---\nb: [1, 2\n", "two.yaml")
    deep, syntax = result.problems
    assert (deep.location.line, deep.message) == (1, "nesting deeper than 64 levels")
    assert syntax.location.line >= 3 and syntax.message.startswith("YAML syntax error")


def test_a_fifo_named_yaml_is_refused_not_read(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result = load_paths([tmp_path])
    assert [p.message for p in result.problems] == ["not a regular file"]
    result = load_paths([fifo])  # given by name: it exists, it is just not a file
    assert [p.message for p in result.problems] == ["not a regular file"]


EXAMPLE_TASK = (
    Path(__file__).resolve().parents[1] / "examples" / "push-tasks" / "adex-daily-feed.yaml"
)


def test_a_file_reached_under_two_names_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file given twice, or found beside a symlink to it, is one file: read once, so its
    definitions are not duplicates of themselves ("duplicate key ... (also at <itself>)"),
    and named as itself. A symlink to a file found nowhere else is named as the link."""
    import os

    from hoodsync.definitions.validate import load_definitions

    (tmp_path / "defs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "defs" / "a.yaml").write_bytes(EXAMPLE_TASK.read_bytes())
    os.symlink("a.yaml", tmp_path / "defs" / "b.yaml")
    other = EXAMPLE_TASK.read_text(encoding="utf-8").replace("adex-daily-feed", "other")
    (tmp_path / "elsewhere" / "c.yaml").write_text(
        other.replace("name: ", "name: Other ", 1), encoding="utf-8"
    )
    os.symlink("../elsewhere/c.yaml", tmp_path / "defs" / "c.yaml")
    monkeypatch.chdir(tmp_path)
    for paths in (["defs"], ["defs", str(tmp_path / "defs" / "a.yaml")], ["defs/b.yaml", "defs"]):
        assert discover(paths)[0] == [Path("defs/a.yaml"), Path("defs/c.yaml")], paths
        definitions = load_definitions(paths)
        assert sorted(d.location.path for d in definitions) == ["defs/a.yaml", "defs/c.yaml"]


def test_a_symlink_loop_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    import os

    os.symlink("loop.yaml", tmp_path / "loop.yaml")
    for paths in ([tmp_path], [tmp_path / "loop.yaml"]):
        [problem] = load_paths(paths).problems
        assert problem.location.path.endswith("loop.yaml")
        assert problem.message.startswith("cannot read: ")


# --------------------------------------------------------------------------- locations at scale

PROBLEM_TASK = """\
---
kind: PushTask
key: t{i}
spec:
  name: T{i}
  start_time: immediately
  frequency: {frequency}
  message: {{title: {{en: "${{env:{var}}}"}}, body: {{en: b}}, landing_url: "https://e.com"}}
"""


def test_problems_in_many_documents_of_one_file_cost_one_exact_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The faster paths keep no locations: a problem's line comes from parsing the file again,
    exactly. Once per file, however many of its documents have problems (once per problem,
    from the top of the file, took minutes for 4,000 documents), whether validation or
    interpolation asks."""
    from hoodsync.definitions.interpolate import resolve
    from hoodsync.definitions.validate import load_definitions
    from hoodsync.errors import DefinitionError

    parses: list[str] = []
    nodes = loader._nodes

    def counted(text: str) -> Any:
        parses.append(text)
        return nodes(text)

    monkeypatch.setattr(loader, "_nodes", counted)
    count = 60
    invalid = "".join(PROBLEM_TASK.format(i=i, frequency=100, var="H") for i in range(count))
    (tmp_path / "invalid.yaml").write_text(invalid, encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_definitions([tmp_path / "invalid.yaml"])
    assert [p.location.line for p in caught.value.problems] == [7 + 8 * i for i in range(count)]
    assert len(parses) == 1

    parses.clear()
    valid = "".join(PROBLEM_TASK.format(i=i, frequency=3600, var="H") for i in range(count))
    (tmp_path / "valid.yaml").write_text(valid, encoding="utf-8")
    lines = []
    for definition in load_definitions([tmp_path / "valid.yaml"]):
        with pytest.raises(DefinitionError) as unset:  # as planning resolves each definition
            resolve(definition.spec, {}, definition=definition)
        lines += [p.location.line for p in unset.value.problems]
    assert sorted(lines) == [8 + 8 * i for i in range(count)]
    assert len(parses) == 1


# --------------------------------------------------------------------------- symlinked folders


def test_a_symlinked_folder_is_walked_once_and_a_loop_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A symlinked folder is read as a folder is (skipped, its definitions were silently
    missing: orphans to --prune); one reached under several names is read once, under the
    name that involves no symlink; a link to a folder holding it is a problem, not a loop."""
    import os

    (tmp_path / "repo" / "defs" / "sub").mkdir(parents=True)
    (tmp_path / "shared" / "deeper").mkdir(parents=True)
    for name in ("defs/a.yaml", "defs/sub/b.yaml"):
        (tmp_path / "repo" / name).write_text("x: 1\n", encoding="utf-8")
    (tmp_path / "shared" / "deeper" / "c.yaml").write_text("x: 1\n", encoding="utf-8")
    os.symlink("../../shared", tmp_path / "repo" / "defs" / "shared")  # outside the tree
    os.symlink("../../../shared", tmp_path / "repo" / "defs" / "sub" / "again")  # 2nd name
    os.symlink("sub", tmp_path / "repo" / "defs" / "alias")  # a folder walked anyway
    os.symlink("..", tmp_path / "repo" / "defs" / "sub" / "up")  # a loop
    os.symlink(".", tmp_path / "repo" / "defs" / "self")  # a loop
    monkeypatch.chdir(tmp_path / "repo")
    files, problems = discover(["defs"])
    assert [str(f) for f in files] == [
        "defs/a.yaml",
        "defs/shared/deeper/c.yaml",
        "defs/sub/b.yaml",
    ]
    assert sorted(str(p) for p in problems) == [
        "defs/self:1:1: error: symlink to a folder that holds it (-> .): following it would "
        "never end; remove it, or hide it by starting its name with '.'",
        "defs/sub/up:1:1: error: symlink to a folder that holds it (-> ..): following it "
        "would never end; remove it, or hide it by starting its name with '.'",
    ]
    # given as a PATH, a symlinked folder is read too (and so is its content, once)
    files, problems = discover(["defs/shared", "defs/sub/again"])
    assert [str(f) for f in files] == ["defs/shared/deeper/c.yaml"] and problems == []


def test_a_symlinked_folder_with_its_own_configuration_is_a_separate_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    (tmp_path / "repo" / "defs").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "hoodsync.yaml").write_text("accounts: {}\n", encoding="utf-8")
    (tmp_path / "other" / "o.yaml").write_text("x: 1\n", encoding="utf-8")
    os.symlink("../../other", tmp_path / "repo" / "defs" / "other")
    monkeypatch.chdir(tmp_path / "repo")
    assert discover(["defs"]) == ([], [])
    assert separate_projects(["defs"]) == [Path("defs/other/hoodsync.yaml")]


def test_a_folder_that_cannot_be_read_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.yaml").write_text("x: 1\n", encoding="utf-8")
    if os.geteuid() == 0:  # root reads any folder: the kernel's refusal, made here instead
        real = os.scandir

        def scandir(path: Any) -> Any:
            if Path(path) == locked:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(os, "scandir", scandir)
    locked.chmod(0)
    try:
        files, problems = discover([tmp_path])
    finally:
        locked.chmod(0o755)
    assert files == []
    assert [p.message for p in problems] == ["cannot read folder: Permission denied"]


# --------------------------------------------------------------------------- characters


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            'kind: PushTask\nkey: t1\nspec:\n  name: "T\x1b1"\n',
            "x.yaml:4:11",
            "control character U+001B is not allowed in a YAML file; remove it",
        ),
        (
            "a: é 😀\nb: x\x00y\n",  # the reader counts bytes: the line is ours to find
            "x.yaml:2:5",
            "control character U+0000 is not allowed in a YAML file; remove it",
        ),
        ("a: \ufffe\n", "x.yaml:1:4", "character U+FFFE is not allowed in a YAML file; remove it"),
    ],
)
def test_a_character_yaml_refuses_is_reported_where_it_is(
    text: str, where: str, message: str
) -> None:
    result = load_text(text, "x.yaml")
    assert [str(p) for p in result.problems] == [f"{where}: error: {message}"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\n---\n\ufeffb: 2\n", 3),  # two files joined, each with its own mark
        ("a: 1\n\ufeff---\nb: 2\n", 2),
        ("---\na: 1\n...\n\ufeff---\nb: 2\n", 4),
    ],
)
def test_a_byte_order_mark_starting_a_line_is_one_problem(text: str, line: int) -> None:
    result = load_text(text, "x.yaml")
    assert [str(p) for p in result.problems] == [
        f"x.yaml:{line}:1: error: byte order mark (U+FEFF) at the start of a line: only the "
        "start of a file may hold one (were two files joined?); remove it"
    ]
    # the file's own mark, and one inside a value, are fine
    assert load_text("\ufeffa: 1\n", "x.yaml").problems == []
    assert load_text('a: "x\ufeffy"\nb: x\ufeffy\n', "x.yaml").problems == []
