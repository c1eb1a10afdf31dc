"""The preview through the CLI: ``plan --preview`` against the emulator, ``preview`` offline.

``plan --preview`` must say about each message what the plan says about it: the chips of the
page are checked against the plan's own JSON document for the same edits.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_cli_plan import EXAMPLES, Account, cli, emulated, write  # noqa: F401 (a fixture)

from hoodsync.preview.cards import Sink
from hoodsync.terminal import UNSAFE

NEW_VARIANT = """\
    - name: Brand new variant
      channel: push
      push:
        title: {en: Totally new text}
        body: {en: New body}
        landing_url: https://ocamba.com/new
"""


def chips(page: str) -> dict[str, list[tuple[str, str]]]:
    """Address → (message name, chip) of each message its card compares, in page order."""
    out = {}
    for article in re.findall(r"<article.*?</article>", page, re.S):
        address = html.unescape(re.findall(r"<code>(.*?)</code>", article)[0])
        found = re.findall(r'<h3>[^<]*· ([^<·]+) <span class="chip (\w+)">', article)
        out[address] = [(html.unescape(name), chip) for name, chip in found]
    return out


def plan_chips(
    document: dict[str, Any], names: dict[str, list[str]]
) -> dict[str, list[tuple[str, str]]]:
    """What the plan's diff says about each named message: a line on ``messages["N"]`` itself
    is that op (add / remove / move), a line under it a change, no line no change."""
    out = {}
    for change in document["changes"]:
        address = change["address"]
        said = {}
        for line in change["diff"]:
            found = re.match(r'messages\[("(?:[^"\\]|\\.)*")\](.*)', line["path"])
            if found:
                name, rest = json.loads(found.group(1)), found.group(2)
                op = {"add": "added", "remove": "removed", "move": "moved"}[line["op"]]
                said.setdefault(name, "changed" if rest else op)
        out[address] = [(n, said.get(n, "unchanged")) for n in names[address]]
    return out


def test_plan_preview_chips_agree_with_the_plan(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = emulated.root / "campaigns"
    folder.mkdir()
    for name in ("headline-ab-test.yaml", "welcome-push.yaml"):
        shutil.copy(EXAMPLES / "campaigns" / name, folder / name)
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    # Only the name of one campaign; a message inserted between the two of the other.
    welcome = folder / "welcome-push.yaml"
    welcome.write_text(welcome.read_text().replace("name: Welcome Push\n", "name: Welcome v2\n"))
    ab = folder / "headline-ab-test.yaml"
    short = "    - name: Short headline\n"
    ab.write_text(ab.read_text().replace(short, NEW_VARIANT + short))

    code, out, err = cli(capsys, "plan", "--format", "json", "--preview", "preview.html")
    assert code == 0, err
    shown = chips((emulated.root / "preview.html").read_text())
    assert shown == {
        "campaign.headline-ab-test": [
            ("Long headline", "unchanged"),
            ("Brand new variant", "added"),
            ("Short headline", "unchanged"),
        ],
        "campaign.welcome-push": [("Welcome message", "unchanged")],
    }
    names = {a: [n for n, _ in messages] for a, messages in shown.items()}
    assert plan_chips(json.loads(out), names) == shown


def test_preview_prints_its_warnings_escaped() -> None:
    """Warnings quote values from the definitions (URLs): every character a terminal would act
    on is escaped, in the line the CLI prints and on the page. (Validation now refuses such
    URLs in definitions; the sink escapes whatever reaches it all the same.)"""
    sink = Sink("push_task.bidi")
    inline = sink.warn(
        ("spec", "message", "landing_url"),
        "landing URL is not https: http://example.com/\u202elmth.xedni\u202c\u2066\u200b\ufeff",
    )
    (line,) = sink.warnings
    assert not UNSAFE.search(line) and not UNSAFE.search(inline)
    assert line == (
        "push_task.bidi: landing URL is not https: "
        "http://example.com/\\u202elmth.xedni\\u202c\\u2066\\u200b\\ufeff "
        "(spec.message.landing_url)"
    )
