"""Markdown renderer: what a reviewer sees once GitHub renders the comment (checked with a GFM
renderer, markdown-it-py's "gfm-like" preset), the size budget with a complete summary, the
list naming every changed resource, banner conditions, escaping."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import EmulatorHandle
from markdown_it import MarkdownIt
from test_cli_plan import cli, copy_examples, make_account, write

from hoodsync.definitions.validate import load_definitions
from hoodsync.kinds.campaign import MARKER
from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import AccountInfo
from hoodsync.planner import make_plan
from hoodsync.render import markdown

ACCOUNT = AccountInfo("default", "https://api.ocamba.com/v1/hood")
MESSAGE = {
    "name": "Hello",
    "channel": "push",
    "push": {
        "title": {"en": "Hello there"},
        "body": {"en": "A body long enough to matter " * 3},
        "landing_url": "https://example.com/landing/page",
    },
}
GITHUB = 65_536


def gfm(text: str) -> str:
    """The comment as HTML, rendered as GitHub would (tables, autolinks, raw HTML)."""
    return MarkdownIt("gfm-like").render(text)


def visible_text(page: str) -> str:
    """The characters a reader sees: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def outside_details(page: str, needle: str) -> bool:
    """True when ``needle`` is in ``page`` and not inside a collapsed ``<details>``."""
    at = page.find(needle)
    return at >= 0 and page.count("<details", 0, at) == page.count("</details>", 0, at)


def _big_plan(n_create: int, n_cancel: int, prefix: str = "campaign") -> dict[str, Any]:
    defs = [
        Definition(
            Kind.CAMPAIGN,
            f"{prefix}-{i:04d}",
            {"name": f"Campaign {i}", "labels": ["a", "b"], "messages": [MESSAGE]},
            Location("c.yaml"),
        )
        for i in range(n_create)
    ]
    remote = {
        Kind.CAMPAIGN: [
            {
                "id": str(9000 + i),
                "name": f"Old {i}",
                "status": "scheduled",
                "metadata": {MARKER: f"old-{i:04d}"},
            }
            for i in range(n_cancel)
        ]
    }
    return make_plan(defs, remote, account=ACCOUNT, prune=True).to_dict()


def _keys(doc: dict[str, Any]) -> list[str]:
    return [c["key"] for c in doc["changes"]]


# --- size budget, with everything that blocks or surprises first --------------------------


def test_two_thousand_changes_fit_with_the_full_summary_and_every_name() -> None:
    doc = _big_plan(1900, 100)
    assert len(doc["changes"]) == 2000
    refusal = "the plan removes 100 objects, more than the limit of 10"
    out = markdown.render(doc, refusal=refusal)
    assert len(out.encode()) <= markdown.COMMENT_BUDGET < GITHUB
    assert "**Plan: 1900 to create, 0 to update, 0 to resume, 0 to pause, 100 to cancel." in out
    assert "| to create | 1900 |" in out and "| to cancel | 100 |" in out
    assert "> **Removes 100 objects:**" in out and "and 80 more" in out
    assert "more resources are not shown" in out
    assert out.count("<details>") < 2000
    assert out.count("```") % 2 == 0
    page = gfm(out)
    assert outside_details(page, "Apply will refuse this plan:")
    assert out.index("Apply will refuse this plan") < out.index("| to create |")
    shown = visible_text(page)
    assert all(key in shown for key in _keys(doc))  # every changed resource is named


def test_two_accounts_of_a_thousand_changes_share_one_comment() -> None:
    plans = [
        (_big_plan(950, 50, prefix), f"the plan removes 50 objects ({prefix})")
        for prefix in ("alpha", "beta")
    ]
    out = markdown.render_accounts(plans, max_chars=GITHUB)
    assert len(out.encode()) <= GITHUB
    page = gfm(out)
    shown = visible_text(page)
    for doc, refusal in plans:
        assert outside_details(page, html.escape(refusal, quote=False))
        assert all(key in shown for key in _keys(doc))
    assert out.count("## hoodsync plan:") == 2


def test_a_small_account_next_to_a_large_one_is_shown_whole() -> None:
    small, large = _big_plan(3, 0, "small"), _big_plan(1900, 100, "large")
    out = markdown.render_accounts([(small, None), (large, "refused")])
    alone = markdown.render(small)
    assert out.startswith(alone) and "not shown" not in alone
    assert len(out.encode()) <= markdown.COMMENT_BUDGET and "more resources are not shown" in out


def test_two_accounts_of_two_thousand_changes_stay_within_one_budget() -> None:
    """Too many names for one comment: each account gets half, its summary and refusal whole,
    and the comment says how many names it left out (each account's own comment — one per
    account, as the CI templates post them — names them all)."""
    plans = [
        (_big_plan(1900, 100, f"{prefix}-campaign"), f"refused {prefix}")
        for prefix in ("alpha", "beta")
    ]
    out = markdown.render_accounts(plans)
    assert len(out.encode()) <= markdown.COMMENT_BUDGET
    page = gfm(out)
    for doc, refusal in plans:
        assert outside_details(page, refusal)
        assert "| to create | 1900 |" in out
        alone = markdown.render(doc, refusal=refusal)
        assert len(alone.encode()) <= markdown.COMMENT_BUDGET
        shown = visible_text(gfm(alone))  # rendered once, not once per key
        assert all(key in shown for key in _keys(doc))
    assert "could not be named above" in out
    assert all(f"old-{i:04d}" in out for i in range(100))  # removals are named first


def test_small_plan_is_not_truncated() -> None:
    out = markdown.render(_big_plan(3, 0))
    assert "not shown" not in out and out.count("<details>") == 3


def test_tiny_limit_still_keeps_the_summary() -> None:
    doc = _big_plan(50, 0)
    out = markdown.render(doc, max_chars=6_000)
    assert len(out.encode()) <= 6_000
    assert "**Plan: 50 to create" in out
    shown = out.count("<details>")
    assert 0 < shown < 50 and f"{50 - shown} more resources are not shown" in out


def test_banner_only_for_dangerous_changes() -> None:
    assert "[!WARNING]" not in markdown.render(_big_plan(2, 0))
    d = Definition(
        Kind.CAMPAIGN,
        "now",
        {"name": "Now", "run_immediately": True, "messages": [MESSAGE]},
        Location("c.yaml"),
    )
    out = markdown.render(make_plan([d], {}, account=ACCOUNT).to_dict())
    assert "[!WARNING]" in out and "**Sends immediately:**" in out and "`campaign.now`" in out


# --- creates shown whole -------------------------------------------------------------------


def test_examples_comment_shows_every_message_title_and_body(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The examples planned against an empty sandbox account, as GitHub would show them."""
    account = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    copy_examples(account.root)
    code, out, err = cli(capsys, "plan", "--format", "markdown")
    assert code == 0, err
    assert len(out.encode()) <= markdown.COMMENT_BUDGET and "not shown" not in out
    shown = visible_text(gfm(out))
    texts = [
        text
        for d in load_definitions(["."])
        if d.kind is not Kind.EMAIL_CAMPAIGN
        for text in _message_texts(d.spec.get("messages", [d.spec.get("message")]))
    ]
    assert len(texts) >= 40
    missing = [t for t in texts if markdown_value(t) not in shown]
    assert missing == []
    # car-brands-showcase states `run_immediately: null`: absent and null are one, not listed.
    assert "run_immediately = null" not in out and "campaign.car-brands-showcase" in out


def markdown_value(text: str) -> str:
    """A string value as diff lines print it (JSON)."""
    return json.dumps(text, ensure_ascii=False)


def _message_texts(messages: Any) -> list[str]:
    """Every title, body, subject, HTML body and SMS text in ``messages``."""
    out: list[str] = []

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k if k in ("title", "body", "subject", "html", "content") else key)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key:
            out.append(node)

    walk(messages)
    return out


def test_a_long_message_is_not_cut_when_the_comment_has_room() -> None:
    body = "word " * 600  # 3,000 characters: cut at 500 before
    spec = {
        "name": "Long",
        "messages": [{**MESSAGE, "push": {"title": {"en": "T"}, "body": {"en": body}}}],
    }
    d = Definition(Kind.CAMPAIGN, "long", spec, Location("c.yaml"))
    out = markdown.render(make_plan([d], {}, account=ACCOUNT).to_dict())
    assert markdown_value(body) in visible_text(gfm(out))
    assert "truncated" not in out and "not shown" not in out


def test_the_budget_cuts_a_create_between_whole_messages_and_says_so() -> None:
    messages = [
        {
            "name": f"M{i}",
            "channel": "push",
            "push": {"title": {"en": f"Title {i}"}, "body": {"en": f"{i} " * 900}},
        }
        for i in range(6)
    ]
    d = Definition(
        Kind.CAMPAIGN,
        "many",
        {"name": "Many", "messages": messages, "labels": ["x"]},
        Location("c.yaml"),
    )
    doc = make_plan([d], {}, account=ACCOUNT).to_dict()
    assert len(markdown.render(doc).encode()) > 12_000  # the whole create
    out = markdown.render(doc, max_chars=9_000)
    assert len(out.encode()) <= 9_000 and out.count("```") % 2 == 0
    shown = visible_text(gfm(out))
    whole = [i for i in range(6) if markdown_value(f"{i} " * 900) in shown]
    assert whole and len(whole) < 6 and whole == list(range(len(whole)))
    assert f"{6 - len(whole)} of 6 items of `messages`" in out
    assert "1 more field" in out  # labels, after messages
    # Nothing of a message that was left out is shown in part.
    assert f"Title {len(whole)}" not in shown


# --- escaping ------------------------------------------------------------------------------


EVIL = "![x](https://evil.example/x.png) <img src=x> *b* _i_ [l](https://evil.example) `c` | ~s~"


def test_remote_names_are_shown_literally() -> None:
    remote = {
        Kind.CAMPAIGN: [
            {"id": "1", "name": EVIL, "status": "paused", "metadata": {MARKER: "gone"}},
            {"id": "2`x", "name": "Twice", "status": "scheduled", "metadata": {MARKER: "twice"}},
        ]
    }
    d = Definition(Kind.CAMPAIGN, "twice", {"name": "Twice", "labels": ["a"]}, Location("c.yaml"))
    out = markdown.render(make_plan([d], remote, account=ACCOUNT).to_dict())
    page = gfm(out)
    [item] = [line for line in page.splitlines() if "evil.example" in line]  # the orphan's line
    assert item.startswith("<li><code>campaign.gone</code>")
    for tag in ("<img", "<em>", "<strong>", "<del>", "<s>", ">l</a>"):
        assert tag not in item
    # A bare URL may be linked (GitHub links them too), but only as itself.
    for target, text in re.findall(r'<a href="([^"]*)">([^<]*)</a>', page):
        assert html.unescape(target) == text
    assert EVIL in visible_text(page)
    assert "<code>2`x</code>" in page  # an id holding a backtick stays one code span


#: Text GitHub would make a link, a mention (which notifies the user or team) or a reference.
LINKING = (
    "@octocat @acme/team mail@evil.example https://evil.example/x.png> www.evil.example #1 GH-2"
)
GOLDEN = Path(__file__).resolve().parent / "golden"


def _with_text(node: Any, text: str) -> Any:
    """``node`` with ``text`` added to every string a definition or the account controls."""
    free = {"name", "key", "address", "remote_id", "remote_status", "message", "id", "status"}
    free |= {"created_at", "description", "url", "falconyte_url", "token_env", "key_env"}
    if isinstance(node, dict):
        return {
            k: f"{v} {text}" if k in free and isinstance(v, str) else _with_text(v, text)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_with_text(v, text) for v in node]
    return node


def prose(page: str) -> str:
    """The text of ``page`` that GitHub reads for links, mentions and references: outside
    code spans, code blocks and links (GitHub does none of them there)."""
    page = re.sub(r"<(code|pre|a)\b[^>]*>.*?</\1>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_text_from_the_account_or_a_definition_makes_no_link_or_mention() -> None:
    """Names, statuses, ids, keys, notes, descriptions, the refusal and the account's name and
    URLs are all in code: a campaign named ``@octocat`` notifies nobody, a URL in a name is no
    link (and a markdown escape does not end up inside one)."""
    doc = _with_text(json.loads((GOLDEN / "plan.json").read_text()), LINKING)
    doc["notes"] = [
        {"severity": "info", "message": f"info {LINKING}"},
        {"severity": "warning", "message": f"warning {LINKING}", "address": "campaign.x"},
    ]
    doc["account"].update(sandbox=True, falconyte_sandbox=False)
    refusal = f"the plan removes 12 objects: campaign.{LINKING}"
    comment = markdown.render(doc, refusal=refusal)
    for page in [gfm(comment)] + _cmark(comment):
        assert "<a " not in page
        assert re.search(r"@\w|www\.|://|#\d|GH-\d", prose(page)) is None, prose(page)
        assert "@octocat @acme/team" in visible_text(page)


def _cmark(comment: str) -> list[str]:
    """The comment rendered by cmark-gfm, GitHub's own renderer, when it is installed."""
    tool = shutil.which("cmark-gfm")
    if tool is None:
        return []
    args = [tool, "--unsafe", "-e", "autolink", "-e", "table", "-e", "strikethrough"]
    result = subprocess.run(args, input=comment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [result.stdout]


def test_escape_makes_every_markdown_character_literal() -> None:
    for text in (EVIL, "a\\*b", "# heading", "x\n# forged heading", "&copy; &lt;", "a|b"):
        page = gfm(f"Name: {markdown.escape(text)}")
        assert page.startswith("<p>Name: ") and page.count("<p>") == 1
        shown = visible_text(page).strip()
        assert shown == "Name: " + text.replace("\n", "\\n")


# --- the CLI: several accounts, one comment --------------------------------------------------


def test_plan_markdown_for_two_accounts_is_one_comment_within_one_budget(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    account = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    write(
        account.root, "hoodsync.yaml", "accounts:\n  main: {paths: [main/]}\n  qa: {paths: [qa/]}\n"
    )
    body = "A message long enough to fill a comment quickly. " * 40  # 2 KB per create
    for folder in ("main", "qa"):
        for i in range(25):
            write(
                account.root,
                f"{folder}/c{i}.yaml",
                f"""\
kind: Campaign
key: {folder}-{i}
spec:
  name: {folder} {i}
  messages:
    - name: Hello
      channel: push
      push: {{title: {{en: Hi}}, body: {{en: "{body}"}}, landing_url: https://example.com}}
""",
            )
    code, out, err = cli(capsys, "plan", "--format", "markdown")
    assert code == 0, err
    assert out.count("## hoodsync plan:") == 2  # one comment: both accounts' parts
    assert len(out.encode()) <= markdown.COMMENT_BUDGET  # 2 × 50 KB of detail, cut to fit
    shown = visible_text(gfm(out))
    assert all(f"{folder}-{i}" in shown for folder in ("main", "qa") for i in range(25))
