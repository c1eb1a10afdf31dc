"""``hoodsync.pull``: which edits drift needs, and how they land in the text (issue 16).

The account is made here as apply would leave it (the definitions' own values, campaigns with
hoodsync's marker and hash), then changed "in the UI" by editing those dicts; the pull is the
real one (:func:`hoodsync.pull.pull_account` on a real plan), so every check it makes (load
back, validate, plan again) runs too.

Golden files: ``tests/golden/pull/<case>.yaml`` is the definition file before, and
``<case>.pulled.yaml`` the file pull writes. Run with ``UPDATE_GOLDEN=1`` to rewrite the
``.pulled.yaml`` files after an intended change, then review their diff like code.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from hoodsync.config import load_config
from hoodsync.definitions.loader import load_text
from hoodsync.definitions.validate import load_definitions
from hoodsync.engine import read_definition, write_pulled
from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import AccountInfo
from hoodsync.planner import make_plan, prepare
from hoodsync.pull import (
    Edit,
    FileChange,
    PullReport,
    apply_edits,
    edit_text,
    pull_account,
    pulled_state,
    unified_diff,
)
from hoodsync.terminal import UNSAFE

GOLDEN = Path(__file__).resolve().parent / "golden" / "pull"
ACCOUNT = AccountInfo(
    "default", "https://api.ocamba.com/v1/hood", falconyte_url="https://api.falconyte.com/public/v1"
)
Remote = dict[Kind, list[dict[str, Any]]]
SECRET = "Promo for members only"
ENV = {"PROMO_TITLE": SECRET}


def applied(definitions: list[Definition], env: Mapping[str, str] = ENV) -> Remote:
    """The account as ``apply`` leaves it for ``definitions`` (client dicts per kind)."""
    created = make_plan(definitions, {}, account=ACCOUNT, env=env)
    metadata = {
        c.address: c.steps[0].body["metadata"]  # type: ignore[index]
        for c in created.changes
        if c.kind is Kind.CAMPAIGN
    }
    remote: Remote = {k: [] for k in Kind}
    for n, des in enumerate(prepare(definitions, env), start=1):
        d, spec = des.definition, copy.deepcopy(dict(des.spec))
        if d.kind is Kind.CAMPAIGN:
            spec.pop("run_immediately", None)
            status = {"paused": "paused", "canceled": "canceled"}.get(
                d.state or "", "draft" if spec.get("is_draft") else "scheduled"
            )
            remote[d.kind].append(
                {
                    **spec,
                    "id": str(1000 + n),
                    "status": status,
                    "metadata": dict(metadata[d.address]),
                }
            )
        elif d.kind is Kind.PUSH_TASK:
            spec["status"] = {"active": 1, "inactive": 0}.get(d.state or "", spec.get("status", 1))
            remote[d.kind].append({**spec, "id": str(2000 + n)})
        else:
            remote[d.kind].append(
                {
                    "id": str(3000 + n),
                    "name": spec["name"],
                    "created_at": "2026-01-01 00:00:00",
                    "draft_data": {
                        "send_data": {
                            "template_ids": spec["template_ids"],
                            "mail_account_ids": spec["mail_account_ids"],
                            "event_triggered_send": {
                                "enabled": d.state != "stopped",
                                "events": spec["events"],
                            },
                        }
                    },
                }
            )
    return remote


def named(remote: Remote, name: str) -> dict[str, Any]:
    return next(o for items in remote.values() for o in items if o.get("name") == name)


def read(path: str) -> str:
    return Path(path).read_bytes().decode("utf-8")


def pull(
    paths: list[str], change: Callable[[Remote], None], env: Mapping[str, str] = ENV
) -> PullReport:
    """Apply the definitions at ``paths``, let ``change`` act in the UI, pull."""
    definitions = load_definitions(paths)
    remote = applied(definitions, env)
    change(remote)
    plan = make_plan(definitions, remote, account=ACCOUNT, env=env)
    return pull_account(definitions, plan, remote, read_text=read, env=env)


def golden(case: str, change: Callable[[Remote], None]) -> PullReport:
    """Pull ``case`` and compare the written text with its golden file."""
    report = pull([str(GOLDEN / f"{case}.yaml")], change)
    [written] = report.files
    expected = GOLDEN / f"{case}.pulled.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_bytes(written.after.encode("utf-8"))
    assert written.after == expected.read_bytes().decode("utf-8")
    return report


def still_differs(path: Path, env: Mapping[str, str], remote: Remote) -> list[str]:
    """What a plan of the file at ``path`` still changes against ``remote``."""
    plan = make_plan(load_definitions([str(path)]), remote, account=ACCOUNT, env=env)
    return [c.address for c in plan.changes]


# ------------------------------------------------------------------------------ golden files


def test_comments_key_order_and_quoting_stay(tmp_path: Path) -> None:
    """Comments, quoting, flow maps inside block style, a literal block: only values move."""

    def ui(remote: Remote) -> None:
        c = named(remote, "Commented campaign")
        c["name"] = "Commented campaign 2"  # single-quoted stays single-quoted
        c["description"] = "A new description"  # double-quoted stays double-quoted
        c["labels"] = "spring,promo,new"  # as Hood returns labels
        c["messages"][0]["push"]["title"]["de"] = "Guten Tag"  # inside a flow map
        c["messages"][1]["push"]["title"]["en"] = "Don't forget it"
        c["messages"][1]["push"]["body"]["en"] = "Line one\nLine 2\nLine three\n"
        c["targeting"]["countries"]["items"] = ["NO", "FI", "DK", "IS"]
        c["utm_tracking"] = {"enabled": False}  # written as the file writes it: 0
        c["status"] = "paused"

    report = golden("comments", ui)
    assert report.problems == []


def test_messages_are_matched_by_name_and_secrets_are_not_written() -> None:
    """A title changed in one language is one line; a message renamed is edited where it
    stands; a value from ${env:...} is reported, not written, while the rest of the object is
    pulled; a message added in the account is not, and so neither is one removed (below)."""

    def ui(remote: Remote) -> None:
        c = named(remote, "Messages")
        first, second, _third, fourth = c["messages"]
        first["push"]["title"]["en"] = "Changed in Hood"  # from ${env:PROMO_TITLE}
        first["push"]["body"]["en"] = "One, edited"
        second["name"] = "Second, renamed"
        fourth["push"]["title"]["de"] = "Vier!"
        fourth["push"]["body"]["en"] = "Costs ${env:HOME} nothing"
        new = {
            "id": "99",
            "name": "Inserted",
            "channel": "push",
            "winner": 0,
            "push": {"title": {"en": "New"}, "body": {"en": "Costs ${env:HOME} nothing"}},
        }
        c["messages"] = [first, new, second, fourth]

    report = golden("messages", ui)
    conflict, inserted = report.problems
    # A message only the account holds is not added beside messages that take values from
    # ${env:...}: it may be an old one of theirs, renamed and edited, old secret included. Nor
    # is one the account no longer holds removed ("Third"): a message moved or renamed would
    # lose its old place and not gain its new one.
    assert inserted.path == ("spec", "messages") and "not added" in inserted.message
    assert "${env:PROMO_TITLE}" in inserted.message
    assert conflict.path == ("spec", "messages", 0, "push", "title", "en")
    assert "${env:PROMO_TITLE}" in conflict.message and "not written" in conflict.message
    assert conflict.location.line == 18  # where the secret's template is
    [written] = report.files
    assert SECRET not in written.after and "Changed in Hood" not in written.after
    assert 'title: {en: "${env:PROMO_TITLE}", de: Erste}' in written.after
    # Text that looks like a reference, held by the account, stays literal text.
    assert "$${env:HOME}" in written.after


def test_multi_document_file_keeps_separators_and_untouched_documents() -> None:
    def ui(remote: Remote) -> None:
        daily = named(remote, "Daily")
        daily["frequency"], daily["cron"] = None, "0 7 * * *"  # switched to cron in Hood
        daily["targeting"]["countries"]["items"] = ["NO", "SE", "FI"]
        daily["status"] = 0
        welcome = named(remote, "Welcome")
        welcome["draft_data"]["send_data"]["event_triggered_send"]["enabled"] = False

    report = golden("multi-document", ui)
    assert report.problems == []
    assert report.files[0].addresses == ("email_campaign.welcome", "push_task.daily")


def test_flow_style_is_edited_in_flow_style() -> None:
    def ui(remote: Remote) -> None:
        c = named(remote, "Flow style")
        c["labels"] = "a,c"
        c["metadata"]["brief"] = "q4: autumn"  # needs quotes in a flow map
        c["messages"][1]["push"]["landing_url"] = "https://example.com/two"
        c["messages"].append(
            {
                "name": "Three",
                "channel": "push",
                "push": {"title": {"en": "Three"}, "body": {"en": "Third"}},
            }
        )
        c["targeting"]["countries"]["items"] = ["DE", "CH"]

    assert golden("flow", ui).problems == []


def test_anchor_shared_by_every_changed_place_is_edited_once() -> None:
    def ui(remote: Remote) -> None:
        for message in named(remote, "Anchors")["messages"]:
            message["push"]["icon"] = "https://example.com/new-icon.png"
        named(remote, "Anchors")["messages"][1]["push"]["landing_url"] = "https://example.com/2"

    assert golden("anchors", ui).problems == []


def test_a_value_under_an_anchor_changed_in_one_place_only_is_refused() -> None:
    def ui(remote: Remote) -> None:
        named(remote, "Anchors")["messages"][0]["push"]["landing_url"] = "https://example.com/1"

    report = pull([str(GOLDEN / "anchors.yaml")], ui)
    assert report.files == []
    [problem] = report.problems
    assert "anchor &landing" in problem.message and "not written" in problem.message
    assert (problem.location.line, problem.location.column) == (14, 22)


# ------------------------------------------------------------------------------ behaviour


CAMPAIGN = """\
kind: Campaign
key: c
state: active
spec:
  name: C
  labels: [one]
  scheduled_time: "2030-01-01 10:00:00"
  ab_test: {test_split: 20, winning_metric: click_rate, evaluation_window: 1D, winner_delivery_mode: automatic}
  messages:
    - name: Hello
      channel: push
      push:
        title: {en: Hello}
        body: {en: Body}
        icon: https://example.com/i.png
        landing_url: https://example.com
"""


ONE_AB_TEST = (
    "  ab_test: {test_split: 20, winning_metric: click_rate, evaluation_window: 1D, "
    "winner_delivery_mode: automatic}\n"
)


def write(tmp_path: Path, text: str, name: str = "c.yaml", encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_crlf_line_ends_and_a_byte_order_mark_are_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeff" + CAMPAIGN.replace("\n", "\r\n"))

    def ui(remote: Remote) -> None:
        named(remote, "C")["messages"][0]["push"]["body"]["en"] = "Two\nlines"
        named(remote, "C")["labels"] = "one,two"

    [written] = pull([path], ui).files
    assert written.after.startswith("\ufeffkind: Campaign\r\n")
    assert "\n" not in written.after.replace("\r\n", "")
    assert '        body: {en: "Two\\nlines"}\r\n' in written.after
    assert "  labels: [one, two]\r\n" in written.after


def test_removed_keys_and_items_are_removed_with_their_lines(tmp_path: Path) -> None:
    block = CAMPAIGN.replace("  labels: [one]\n", "  labels:\n    - one\n    - two\n")
    path = write(tmp_path, block)

    def ui(remote: Remote) -> None:
        c = named(remote, "C")
        c["labels"] = "two"
        del c["messages"][0]["push"]["icon"]

    [written] = pull([path], ui).files
    assert "  labels:\n    - two\n  scheduled_time" in written.after
    assert "icon" not in written.after
    assert written.after.count("\n") == written.before.count("\n") - 2


def test_a_pulled_file_plans_clean_and_the_state_follows_the_account(tmp_path: Path) -> None:
    path = write(tmp_path, CAMPAIGN)
    definitions = load_definitions([path])
    remote = applied(definitions)
    named(remote, "C")["status"] = "canceled"
    named(remote, "C")["scheduled_time"] = "2030-02-01 10:00:00"
    plan = make_plan(definitions, remote, account=ACCOUNT, env=ENV)
    report = pull_account(definitions, plan, remote, read_text=read, env=ENV)
    assert report.problems == []
    Path(path).write_text(report.files[0].after)
    assert "state: canceled\n" in report.files[0].after
    assert still_differs(Path(path), ENV, remote) == []


def test_a_field_that_would_not_validate_is_left_out_and_the_rest_written(
    tmp_path: Path,
) -> None:
    """A value the account holds that no definition may (a test_split of 0): that field is
    not written, said where it is; the file's other changes are (before, the whole file was
    refused, every run)."""
    path = write(tmp_path, CAMPAIGN)

    def ui(remote: Remote) -> None:
        named(remote, "C")["ab_test"]["test_split"] = 0

    report = pull([path], ui)
    assert report.files == []
    [problem] = report.problems
    assert problem.message.startswith(
        "campaign.c: not written: the account's value would not validate: "
    )
    assert problem.path == ("spec", "ab_test", "test_split")
    assert (problem.location.line, problem.location.column) == (8, 13)

    def also(remote: Remote) -> None:
        ui(remote)
        named(remote, "C")["labels"] = "one,two"

    report = pull([path], also)
    [written] = report.files
    assert written.after == CAMPAIGN.replace("[one]", "[one, two]")
    [problem] = report.problems  # what still differs is that field alone, said once
    assert problem.path == ("spec", "ab_test", "test_split")


def test_what_still_differs_after_the_edits_is_reported(tmp_path: Path) -> None:
    """The edited definitions are planned again: anything the edits did not settle is a
    problem naming the field (here the account moved again after the plan was made)."""
    path = write(tmp_path, CAMPAIGN)
    definitions = load_definitions([path])
    planned = applied(definitions)
    named(planned, "C")["labels"] = "one,two"
    plan = make_plan(definitions, planned, account=ACCOUNT, env=ENV)
    now = copy.deepcopy(planned)
    named(now, "C")["messages"][0]["push"]["title"]["en"] = "Moved on"
    report = pull_account(definitions, plan, now, read_text=read, env=ENV)
    assert "labels: [one, two]" in report.files[0].after
    [problem] = report.problems
    assert "campaign.c: still differs from the account after pull" in problem.message
    assert 'messages["Hello"].push.title.en' in problem.message  # the plan's form


def test_published_draft_and_push_task_lifecycle(tmp_path: Path) -> None:
    draft = write(
        tmp_path,
        CAMPAIGN.replace("state: active\n", "").replace(
            '  scheduled_time: "2030-01-01 10:00:00"\n', "  is_draft: true\n"
        ),
    )
    task = write(
        tmp_path,
        """\
kind: PushTask
key: t
state: active
spec:
  name: T
  status: "1"
  start_time: immediately
  frequency: 3600
  message: {title: {en: A}, body: {en: B}, landing_url: "https://example.com"}
""",
        "t.yaml",
    )

    def ui(remote: Remote) -> None:
        named(remote, "C")["status"], named(remote, "C")["is_draft"] = "scheduled", False
        named(remote, "T")["status"] = 0

    report = pull([draft, task], ui)
    assert report.problems == []
    after = {Path(f.path).name: f.after for f in report.files}
    assert "  is_draft: false\n" in after["c.yaml"] and "state:" not in after["c.yaml"]
    assert "state: inactive\n" in after["t.yaml"] and '  status: "0"\n' in after["t.yaml"]


def test_nothing_differs_nothing_is_written(tmp_path: Path) -> None:
    report = pull([write(tmp_path, CAMPAIGN)], lambda remote: None)
    assert report.files == [] and report.problems == []


def test_what_a_definition_does_not_state_is_not_pulled(tmp_path: Path) -> None:
    """Fields the server adds, a language the title does not state, a lifecycle with no
    ``state:``: not drift, not written."""
    path = write(tmp_path, CAMPAIGN.replace("state: active\n", ""))

    def ui(remote: Remote) -> None:
        c = named(remote, "C")
        c["status"] = "paused"
        c["messages"][0]["push"]["title"]["fr"] = "Bonjour"
        c["description"] = "Added in Hood"

    assert pull([path], ui).files == []


# ------------------------------------------------------------------------------ pieces


@pytest.mark.parametrize(
    ("kind", "stated", "status", "expected"),
    [
        (Kind.CAMPAIGN, "active", "paused", "paused"),
        (Kind.CAMPAIGN, "active", "running", None),
        (Kind.CAMPAIGN, "active", "sent", None),
        (Kind.CAMPAIGN, "paused", "running", "active"),
        (Kind.CAMPAIGN, "paused", "canceled", "canceled"),
        (Kind.CAMPAIGN, None, "paused", None),
        (Kind.PUSH_TASK, "active", "inactive", "inactive"),
        (Kind.PUSH_TASK, "inactive", "finished", None),
        (Kind.EMAIL_CAMPAIGN, "active", "stopped", "stopped"),
        (Kind.EMAIL_CAMPAIGN, "stopped", "unknown", None),
    ],
)
def test_pulled_state(kind: Kind, stated: str | None, status: str, expected: str | None) -> None:
    assert pulled_state(kind, stated, status) == expected


def test_apply_edits_uses_the_original_indexes() -> None:
    data = {"spec": {"a": [1, 2, 3, 4], "m": {"x": 1, "y": 2, "z": 3}}}
    edits = [
        Edit("delete", ("spec", "a", 1)),
        Edit("insert", ("spec", "a"), [9, 8], index=1),
        Edit("set", ("spec", "a", 3), 7),
        Edit("insert", ("spec", "a"), [5], index=4),
        Edit("rename", ("spec", "m", "y"), 20, key="w"),
        Edit("delete", ("spec", "m", "x")),
    ]
    assert apply_edits(data, edits) == {"spec": {"a": [1, 9, 8, 3, 7, 5], "m": {"w": 20, "z": 3}}}
    assert list(apply_edits(data, edits)["spec"]["m"]) == ["w", "z"]
    assert data["spec"]["a"] == [1, 2, 3, 4]  # the input is not modified


def test_edit_text_places_block_and_flow_edits() -> None:
    text = "kind: X\nkey: k\nspec:\n  a:\n  - 1\n  - 2\n  b: [x, y]\n  c: {p: 1}\n"
    new, _ = edit_text(
        text,
        {
            Location("f", 1, 1): [
                Edit("insert", ("spec", "a"), [{"q": 1, "r": [2]}], index=2),
                Edit("delete", ("spec", "b", 0)),
                Edit("set", ("spec", "c"), {"p": 2, "s": "t: u"}),
            ]
        },
    )
    assert new == (
        "kind: X\nkey: k\nspec:\n  a:\n  - 1\n  - 2\n  - q: 1\n    r:\n      - 2\n"
        "  b: [y]\n  c: {p: 2, s: 't: u'}\n"
    )
    assert load_text(new, "f").documents[0].data["spec"] == {
        "a": [1, 2, {"q": 1, "r": [2]}],
        "b": ["y"],
        "c": {"p": 2, "s": "t: u"},
    }


def test_strings_that_would_read_as_something_else_are_quoted() -> None:
    text = "kind: X\nkey: k\nspec: {a: plain, b: plain, c: plain, d: plain}\n"
    new, _ = edit_text(
        text,
        {
            Location("f", 1, 1): [
                Edit("set", ("spec", "a"), "NO"),
                Edit("set", ("spec", "b"), "12"),
                Edit("set", ("spec", "c"), "2026-01-01 00:00:00"),
                Edit("set", ("spec", "d"), "a, b"),
            ]
        },
    )
    [doc] = load_text(new, "f").documents
    assert doc.data["spec"] == {"a": "NO", "b": "12", "c": "2026-01-01 00:00:00", "d": "a, b"}
    assert "a: 'NO'" in new  # quoted for YAML 1.1 readers too


def test_unified_diff_is_shaped_like_git_diff() -> None:
    diff = unified_diff("c/x.yaml", "a\nb\nc", "a\nB\nc")
    assert diff.splitlines() == [
        "diff --git a/c/x.yaml b/c/x.yaml",
        "--- a/c/x.yaml",
        "+++ b/c/x.yaml",
        "@@ -1,3 +1,3 @@",
        " a",
        "-b",
        "+B",
        " c",
        "\\ No newline at end of file",
    ]
    new = unified_diff("n.yaml", None, "k: v\n")
    assert new.splitlines()[:5] == [
        "diff --git a/n.yaml b/n.yaml",
        "new file mode 100644",
        "--- /dev/null",
        "+++ b/n.yaml",
        "@@ -0,0 +1 @@",
    ]
    assert unified_diff("x", "same\n", "same\n") == ""


#: File names a terminal or a reader of the diff could be fooled by: a newline that starts a
#: forged hunk, ESC sequences that erase and recolour, a space, a quote and a backslash, a
#: non-ASCII letter, a right-to-left override.
HOSTILE_NAMES = [
    "x\n@@ -1 +1 @@ forged hunk\n\x1b[2K\x1b[1A\x1b[31mFORGED\x1b[0m\ny.yaml",
    'sp ace \u00e9"\\.yaml',
    "tab\there\x7f.yaml",
    "evil\u202eLMTH.yaml",
    "c/plain-name.yaml",
]


def _git_diff(tmp_path: Path, name: str, before: str | None, after: str) -> str:
    """What ``git diff`` (git's defaults, no user configuration) prints for this change, less
    its ``index`` line (blob ids, which hoodsync does not compute)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot compare with git diff")
    repo = tmp_path / "git"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=repo, env=env, capture_output=True, check=True, timeout=30
        )
        return done.stdout.decode("utf-8")

    repo.mkdir()
    git("init", "-q")
    file = repo / name
    file.parent.mkdir(parents=True, exist_ok=True)
    if before is not None:
        file.write_bytes(before.encode("utf-8"))
        git("add", "-A")
        git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "before")
    file.write_bytes(after.encode("utf-8"))
    if before is None:
        git("add", "-N", "--", name)
    shown = git("diff", "--no-color", "--no-ext-diff")
    return "".join(
        line for line in shown.splitlines(keepends=True) if not line.startswith("index ")
    )


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("before", ["k: 1\nold: a\n", None], ids=["changed", "new"])
def test_unified_diff_names_a_file_exactly_as_git_diff_does(
    tmp_path: Path, name: str, before: str | None
) -> None:
    after = "k: 1\nold: b\n"
    diff = unified_diff(name, before, after)
    assert diff == _git_diff(tmp_path, name, before, after)
    assert diff.isascii() and not UNSAFE.search(diff.replace("\n", "").replace("\t", ""))
    assert [line for line in diff.splitlines() if line.startswith("@@")] == [
        "@@ -1,2 +1,2 @@" if before else "@@ -0,0 +1,2 @@"
    ]


def test_unified_diff_lines_carry_no_control_character() -> None:
    """Lines end at ``\\n`` only (as git's): a lone CR, NEL or line separator stays inside its
    line; there, and everything else a terminal acts on (a byte order mark, a right-to-left
    override, a CRLF line end), is shown escaped. A tab is shown as it is."""
    before = "\ufeffkind: Campaign\r\n# note\rforged\x85nel\u2028ls \u202eevil\nold:\tx\n"
    after = before.replace("old:", "new:")
    diff = unified_diff("c.yaml", before, after)
    assert diff.splitlines()[3:] == [
        "@@ -1,3 +1,3 @@",
        " \\ufeffkind: Campaign\\r",
        " # note\\rforged\\x85nel\\u2028ls \\u202eevil",
        "-old:\tx",
        "+new:\tx",
    ]
    assert not UNSAFE.search(diff.replace("\n", "").replace("\t", ""))
    assert "No newline" not in diff
    assert unified_diff("c.yaml", "a\n", "a\n\x1b[2Kb").endswith(
        "+\\x1b[2Kb\n\\ No newline at end of file\n"
    )


# ------------------------------------------------------------------------------ edits at random

_VALUES: list[Any] = [
    "x",
    "NO",
    "12",
    "a: b",
    "# c",
    "multi\nline\n",
    "multi\nline",
    "  lead",
    "quote's",
    'dq"',
    "é ü",
    "",
    "null",
    "{x}",
    "- z",
    "true",
    "2026-01-01 00:00:00",
    "$${env:X}",
    "tab\tx",
    "long " * 30,
    0,
    -5,
    3.5,
    True,
    None,
    {"k": "v"},
    ["a", "b"],
    {"n": {"m": [1, 2]}},
    [],
    {},
]
_EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
_FILES = sorted(_EXAMPLES.rglob("*.yaml")) + [
    GOLDEN / f"{c}.yaml" for c in ("comments", "messages", "multi-document", "flow")
]


def _random_edits(data: Any, rnd: Any, count: int) -> list[Edit]:
    """Up to ``count`` edits at unrelated places (no path inside another)."""
    places: list[tuple[tuple[Any, ...], Any]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if len(path) >= 2:
            places.append((path, node))
        children = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else []
        )
        for key, child in children:
            walk(child, path + (key,))

    walk(data, ())
    edits: list[Edit] = []
    taken: list[tuple[Any, ...]] = []
    for path, node in rnd.sample(places, min(count, len(places))):
        if any(path[: len(t)] == t or t[: len(path)] == path for t in taken):
            continue
        taken.append(path)
        roll = rnd.random()
        if isinstance(node, list) and roll < 0.3:
            at = rnd.randint(0, len(node))
            edits.append(Edit("insert", path, [rnd.choice(_VALUES)], index=at))
        elif roll < 0.5:
            edits.append(Edit("delete", path))
        else:
            edits.append(Edit("set", path, rnd.choice(_VALUES)))
    return edits


@pytest.mark.parametrize("path", _FILES, ids=lambda p: p.name)
def test_random_edits_read_back_exactly_as_meant(path: Path) -> None:
    """Whatever is set, removed or inserted wherever (block or flow, comments, quotes,
    several documents), the edited text loads as exactly the edited data."""
    import random

    text = path.read_text(encoding="utf-8")
    documents = load_text(text, "f").documents
    for seed in range(25):
        rnd = random.Random(seed)
        edits = {doc.location: _random_edits(doc.data, rnd, 4) for doc in documents}
        new, _ = edit_text(text, edits)
        loaded = load_text(new, "f")
        assert loaded.problems == [], (seed, new)
        assert json.dumps([d.data for d in loaded.documents]) == json.dumps(
            [apply_edits(doc.data, edits[doc.location]) for doc in documents]
        ), (seed, new)


# ------------------------------------------------------------------ files that change meanwhile


def test_a_file_that_stops_being_utf8_while_pulling_is_one_line_not_a_traceback(
    tmp_path: Path,
) -> None:
    """The file is read (as UTF-8) to load the definitions, then again to edit it once the
    account has been read, which can take minutes: an editor may have saved it in another
    encoding meanwhile. That is the one-line "changed while pulling" (before: a traceback),
    both where pull reads it and where the write checks it once more."""
    path = write(tmp_path, CAMPAIGN)
    definitions = load_definitions([path])
    remote = applied(definitions)
    named(remote, "C")["labels"] = "one,two"
    plan = make_plan(definitions, remote, account=ACCOUNT, env=ENV)
    with open(path, "ab") as fh:
        fh.write(b"# caf\xe9\n")  # Latin-1
    report = pull_account(definitions, plan, remote, read_text=read_definition, env=ENV)
    assert report.files == []
    [problem] = report.problems
    assert str(problem) == (
        f"{path}:1:1: error: not written: the file changed while pulling (it is no longer "
        "UTF-8); pull again"
    )

    change = FileChange(path, CAMPAIGN, CAMPAIGN.replace("[one]", "[one, two]"), ("campaign.c",))
    [line] = write_pulled([change], [])
    assert line.endswith(
        "not written: the file changed while pulling (it is no longer UTF-8); pull again"
    )
    assert Path(path).read_bytes().endswith(b"# caf\xe9\n")


# ------------------------------------------------------------------ fields pull cannot write


def test_a_message_added_in_the_ui_brings_its_ab_test_block(tmp_path: Path) -> None:
    """A second push message added in Hood makes the campaign an A/B test, and Hood adds the
    ab_test block. The definition states none: pull adds the account's (before, the message
    alone made the file invalid, and nothing of it was ever written), and the next plan has
    nothing to do."""
    path = write(tmp_path, CAMPAIGN.replace(ONE_AB_TEST, ""))
    block = {
        "test_split": 30,
        "winning_metric": "click_rate",
        "evaluation_window": "1D",
        "winner_delivery_mode": "automatic",
    }

    def ui(remote: Remote) -> None:
        c = named(remote, "C")
        c["name"] = "C 2"
        second = copy.deepcopy(c["messages"][0])
        second["name"], second["push"]["title"]["en"] = "Other", "Other title"
        c["messages"].append(second)
        c["ab_test"] = block

    definitions = load_definitions([path])
    remote = applied(definitions)
    ui(remote)
    plan = make_plan(definitions, remote, account=ACCOUNT, env=ENV)
    report = pull_account(definitions, plan, remote, read_text=read, env=ENV)
    assert report.problems == []
    [written] = report.files
    assert "  name: C 2\n" in written.after and "    - name: Other\n" in written.after
    assert written.after.endswith(
        "  ab_test:\n    test_split: 30\n    winning_metric: click_rate\n"
        "    evaluation_window: 1D\n    winner_delivery_mode: automatic\n"
    )
    Path(path).write_text(written.after)
    assert still_differs(Path(path), ENV, remote) == []


def test_without_an_ab_test_block_the_new_message_is_left_out_and_the_rest_written(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, CAMPAIGN.replace(ONE_AB_TEST, ""))

    def ui(remote: Remote) -> None:
        c = named(remote, "C")
        c["name"] = "C 2"
        second = copy.deepcopy(c["messages"][0])
        second["name"] = "Other"
        c["messages"].append(second)

    report = pull([path], ui)
    [written] = report.files
    assert written.after == written.before.replace("name: C\n", "name: C 2\n")
    [problem] = report.problems
    assert problem.path == ("spec", "messages")
    assert "not written: the account's value would not validate: 2 push messages" in str(problem)


def test_a_carriage_return_in_a_text_is_left_out_and_the_rest_written(tmp_path: Path) -> None:
    """A body saved with CRLF line ends (what a browser form submits). A definition cannot
    hold a carriage return, and written as a plain line break the plan would still tell the
    two apart: that field is left out, saying why; the new title is written (before, the
    whole file was refused, every run)."""
    path = write(
        tmp_path,
        """\
kind: PushTask
key: t
spec:
  name: T
  frequency: 3600
  start_time: "2030-01-01 12:00:00"
  message:
    title: {en: Title}
    body: {en: "line one\\nline two"}
    landing_url: https://example.com/
""",
    )

    def ui(remote: Remote) -> None:
        task = named(remote, "T")
        task["message"]["title"]["en"] = "New title"
        task["message"]["body"]["en"] = "line one\r\nline two!"

    report = pull([path], ui)
    [written] = report.files
    assert written.after == written.before.replace("{en: Title}", "{en: New title}")
    [problem] = report.problems
    assert problem.path == ("spec", "message", "body", "en")
    assert (problem.location.line, problem.location.column) == (9, 12)
    assert "it holds a carriage return" in problem.message
    assert "\r" not in str(problem)  # shown escaped


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("spec:\n  name: C\n", "spec:\n  name: C\n  extra:\n    a: 1\n"),
        ("spec:\n  name: C", "spec:\n  name: C\n  extra:\n    a: 1"),
        ("spec: {name: C}\n", "spec: {name: C, extra: {a: 1}}\n"),
        ("spec: {}\n", "spec: {extra: {a: 1}}\n"),
        ("spec:\n  name: C\n# end\n", "spec:\n  name: C\n  extra:\n    a: 1\n# end\n"),
    ],
)
def test_a_key_is_added_after_the_last_entry_in_the_mappings_style(
    spec: str, expected: str
) -> None:
    text = "kind: Campaign\nkey: c\n" + spec
    edit = Edit("add", ("spec", "extra"), {"a": 1})
    after, _ = edit_text(text, {Location("x.yaml", 1, 1): [edit]})
    assert after == "kind: Campaign\nkey: c\n" + expected
    assert load_text(after, "x.yaml").documents[0].data == apply_edits(
        load_text(text, "x.yaml").documents[0].data, [edit]
    )


def test_the_write_checks_again_that_no_link_takes_the_file_out_of_the_repository(
    tmp_path: Path,
) -> None:
    """The file became a link to a file outside the repository after pull read it: the write
    looks again (the diff was checked when printed), and refuses."""
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    outside = Path(write(tmp_path, CAMPAIGN, "elsewhere.yaml"))
    link = tmp_path / "repo" / "c.yaml"
    link.symlink_to(outside)
    change = FileChange(str(link), CAMPAIGN, CAMPAIGN.replace("[one]", "[one, two]"), ("c",))
    config = load_config([], env={}, cwd=tmp_path / "repo")
    [line] = write_pulled([change], [], config)
    assert line == (
        f"{link}:1:1: error: not written: a symbolic link takes it outside the repository, "
        f"to {outside}; edit that file by hand"
    )
    assert outside.read_text() == CAMPAIGN
