"""hoodsync.preview: SMS arithmetic, warnings, escaping, self-containment, and a real browser.

The browser tests run Debian's headless Chromium (``/usr/bin/chromium``, or ``$HOODSYNC_CHROMIUM``)
on the preview of ``examples/``. Where it is missing they are skipped, saying why; ``.ci/run``
installs it and sets ``HOODSYNC_REQUIRE_CHROMIUM=1``, under which they fail instead, so CI
always runs them.
"""

from __future__ import annotations

import copy
import html
import os
import re
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from hoodsync.definitions.validate import load_definitions
from hoodsync.model import Definition, Kind, Location
from hoodsync.preview import (
    PreviewItem,
    items_from_definitions,
    preview_warnings,
    render_preview,
    sms_info,
)
from hoodsync.terminal import UNSAFE

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def example_items() -> list[PreviewItem]:
    return items_from_definitions(load_definitions([EXAMPLES]))


def campaign(messages: list[dict[str, Any]], **spec: Any) -> PreviewItem:
    return PreviewItem("campaign.t", Kind.CAMPAIGN, {"name": "T", "messages": messages, **spec})


def push(title: Any, body: Any, **extra: Any) -> dict[str, Any]:
    return {
        "channel": "push",
        "push": {"title": title, "body": body, "landing_url": "https://example.com", **extra},
    }


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Tags:
    parser = Tags()
    parser.feed(page)
    parser.close()
    return parser


# --------------------------------------------------------------------------- SMS

SMS_CASES = [
    ("", "GSM-7", 0, 0),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€" * 80, "GSM-7", 160, 1),  # extension characters cost two septets
    ("€" * 81, "GSM-7", 162, 2),
    ("^{}\\[~]|", "GSM-7", 16, 1),
    # 152 + [escape pair] + 152: naive ceil(306 / 153) says 2, but the pair cannot be split.
    ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
    ("Grüße, Ñoño! ÄÖÜ ù", "GSM-7", 18, 1),
    ("ú", "UCS-2", 1, 1),  # ù is in the GSM basic table, ú is not
    ("ж" * 70, "UCS-2", 70, 1),
    ("ж" * 71, "UCS-2", 71, 2),
    ("ж" * 134, "UCS-2", 134, 2),
    ("ж" * 135, "UCS-2", 135, 3),
    ("ç", "UCS-2", 1, 1),  # only the capital Ç is in the GSM basic table
    ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: a surrogate pair each
    ("😀" * 36, "UCS-2", 72, 2),
    ("ж" * 66 + "😀" * 2, "UCS-2", 70, 1),
    ("ж" * 66 + "😀" * 3, "UCS-2", 72, 2),
]


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    SMS_CASES,
    ids=[f"{i}-{enc}-{units}u-{segs}seg" for i, (_, enc, units, segs) in enumerate(SMS_CASES)],
)
def test_sms_info(text: str, encoding: str, units: int, segments: int) -> None:
    info = sms_info(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)
    assert info.characters == len(text)


# --------------------------------------------------------------------------- warnings


def test_examples_warn_about_missing_targeted_translations(
    example_items: list[PreviewItem],
) -> None:
    assert preview_warnings(example_items) == [
        "campaign.car-brands-showcase: missing translation for targeted language 'de': "
        "title, body (spec.messages[0].push)",
        "campaign.car-brands-showcase: missing translation for targeted language 'de': "
        "title, body (spec.messages[1].push)",
        "campaign.pro-upgrade-offer: missing translation for targeted language 'de': "
        "title, body (spec.messages[0].push)",
        "campaign.pro-upgrade-offer: missing translation for targeted language 'fr': "
        "title, body (spec.messages[0].push)",
        "push_task.platform-intro: missing translation for targeted language 'es': "
        "title, body, actions[0].title, actions[1].title (spec.message)",
    ]


def test_every_warning_is_shown_inline_and_in_the_summary(example_items: list[PreviewItem]) -> None:
    page = render_preview(example_items)
    text = "".join(parse(page).text)
    for warning in preview_warnings(example_items):
        address, _, rest = warning.partition(": ")
        message, _, where = rest.rpartition(" (")
        assert text.count(message) >= 2, warning  # once in the summary, once next to the card
        assert where.rstrip(")") in text
    assert "5 warning(s)" in text


def test_limits_are_warned_at_the_documented_figures() -> None:
    at_limits = campaign(
        [
            push({"en": "ж" * 30}, {"en": "b" * 120}),  # 60 and 120 UTF-8 bytes exactly
            {"channel": "sms", "integration_id": "1", "sms": {"content": {"en": "a" * 459}}},
            {
                "channel": "email",
                "integration_id": "1",
                "email": {
                    "subject": "s" * 78,
                    "preheader": {"en": "p" * 100},
                    "html": {"en": "<p>x</p>"},
                },
            },
        ],
        ab_test={"test_split": 30},
    )
    assert preview_warnings([at_limits]) == []

    over = campaign(
        [
            push(
                {"en": "ж" * 30 + "!"},
                {"en": "b" * 121},
                actions=[{"title": {"en": "Go"}, "url": "http://example.com/a"}],
            ),
            {"channel": "sms", "integration_id": "1", "sms": {"content": {"en": "a" * 460}}},
            {
                "channel": "email",
                "integration_id": "1",
                "email": {
                    "subject": "s" * 79,
                    "preheader": {"en": "p" * 101},
                    "html": {"en": "<p>x</p>"},
                },
            },
        ]
    )
    over.after["messages"][0]["push"]["landing_url"] = "http://example.com"
    assert preview_warnings([over]) == [
        "campaign.t: title is 61 bytes in UTF-8 (limit 60) (spec.messages[0].push.title[en])",
        "campaign.t: body is 121 bytes in UTF-8 (limit 120) (spec.messages[0].push.body[en])",
        "campaign.t: landing URL is not https: http://example.com "
        "(spec.messages[0].push.landing_url)",
        "campaign.t: action URL is not https: http://example.com/a "
        "(spec.messages[0].push.actions[0].url)",
        "campaign.t: SMS needs 4 segments (GSM-7; more than 3) (spec.messages[1].sms.content[en])",
        "campaign.t: subject is 79 characters (limit 78) (spec.messages[2].email.subject)",
        "campaign.t: preheader is 101 characters (limit 100) "
        "(spec.messages[2].email.preheader[en])",
    ]


def test_primary_language_and_partial_translations_are_checked() -> None:
    item = campaign([{**push({"en": "Hi", "de": "Hallo"}, {"en": "Body"}), "primary_lang": "fr"}])
    assert preview_warnings([item]) == [
        "campaign.t: missing translation for primary_lang 'fr': title, body "
        "(spec.messages[0].push)",
        "campaign.t: missing translation for language 'de': body (spec.messages[0].push)",
    ]
    page = render_preview([item])
    assert "Missing translation" in page  # the stub card for fr


def test_push_task_limits_and_adex_fallback() -> None:
    spec = {
        "name": "P",
        "message": {
            "title": {"en": "t" * 61},
            "body": {"en": "ok"},
            "landing_url": "https://example.com",
        },
        "adex": {
            "fallback_message": {
                "title": "Fallback",
                "body": "b",
                "landing_url": "ftp://example.com",
                "actions": [{"title": "Go", "url": None}],
            }
        },
    }
    item = PreviewItem("push_task.p", Kind.PUSH_TASK, spec)
    assert preview_warnings([item]) == [
        "push_task.p: title is 61 bytes in UTF-8 (limit 60) (spec.message.title[en])",
        "push_task.p: landing URL is not https: ftp://example.com "
        "(spec.adex.fallback_message.landing_url)",
    ]
    page = render_preview([item])
    assert "AdEx fallback notification" in page and "any language" in page
    assert 'href="ftp:' not in page  # only http(s) becomes a link


# --------------------------------------------------------------------------- markup

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_user_content_is_escaped_everywhere() -> None:
    item = PreviewItem(
        "campaign.<b>",
        Kind.CAMPAIGN,
        {
            "name": HOSTILE,
            "messages": [
                push(
                    {"en": HOSTILE},
                    {"en": HOSTILE},
                    icon="javascript:alert(1)",
                    image={"en": 'https://img.example.com/a.png"onload="alert(1)'},
                ),
                {
                    "channel": "email",
                    "integration_id": "1",
                    "email": {
                        "sender_name": HOSTILE,
                        "sender_email": "a@b.c",
                        "subject": HOSTILE,
                        "html": {"en": '<p title="q">Hi</p><script>alert(2)</script>'},
                    },
                },
                {"channel": "sms", "integration_id": "1", "sms": {"content": {"en": HOSTILE}}},
            ],
            "ab_test": {"name": HOSTILE},
        },
    )
    item.after["messages"][0]["push"]["landing_url"] = "javascript:alert(1)"
    page = render_preview([item], title=HOSTILE)
    doc = parse(page)
    assert [t for t, _ in doc.tags if t == "script"] == []
    assert all(not k.startswith("on") for _, attrs in doc.tags for k in attrs)
    for tag, attrs in doc.tags:
        for key in ("src", "href"):
            value = attrs.get(key)
            assert value is None or value.startswith(("https://", "http://", "#")), (tag, value)
    assert "".join(doc.text).count(HOSTILE) >= 5  # title, name, push title/body, subject, sms
    # The email body survives intact inside srcdoc, for the sandboxed frame to render.
    frames = [attrs for tag, attrs in doc.tags if tag == "iframe"]
    assert frames and frames[0]["sandbox"] == ""
    assert frames[0]["srcdoc"] == '<p title="q">Hi</p><script>alert(2)</script>'


def test_urls_and_warnings_show_invisible_and_bidi_characters_escaped() -> None:
    # A right-to-left override makes "…/‮lmth.xedni" read as "…/index.html"; a zero-width
    # space or a BOM hides in a host. The reader of the page (and of the printed warnings)
    # must see them; the link itself still goes where the definition says.
    landing = "http://example.com/\u202elmth.xedni\u202c"
    action = "http://\u2066example.com\u200b\ufeff"
    spec = {
        "name": "Bidi",
        "message": {
            "title": {"en": "T"},
            "body": {"en": "B"},
            "landing_url": landing,
            "actions": [{"title": {"en": "Go"}, "url": action}],
        },
    }
    item = PreviewItem("push_task.bidi", Kind.PUSH_TASK, spec)
    assert preview_warnings([item]) == [
        "push_task.bidi: landing URL is not https: http://example.com/\\u202elmth.xedni\\u202c "
        "(spec.message.landing_url)",
        "push_task.bidi: action URL is not https: http://\\u2066example.com\\u200b\\ufeff "
        "(spec.message.actions[0].url)",
    ]
    doc = parse(render_preview([item]))
    text = "".join(doc.text)
    assert not UNSAFE.search(text.replace("\n", ""))  # the page's own line breaks aside
    assert text.count("http://example.com/\\u202elmth.xedni\\u202c") == 3  # link, inline, list
    assert [a["href"] for t, a in doc.tags if t == "a" and a.get("rel")] == [landing]


def test_page_is_self_contained(example_items: list[PreviewItem]) -> None:
    page = render_preview(example_items)
    doc = parse(page)
    names = {tag for tag, _ in doc.tags}
    assert not names & {"script", "link", "object", "embed", "base", "form"}
    style = page[page.index("<style>") : page.index("</style>")]
    assert "@import" not in style and "url(" not in style
    csp = next(
        a["content"] for _, a in doc.tags if a.get("http-equiv") == "Content-Security-Policy"
    )
    assert csp is not None and "default-src 'none'" in csp and "script" not in csp
    # The only fetched resources are images the definitions name, each lazy over a fallback.
    defined = set()
    for item in example_items:
        for url in _strings(item.after):
            defined.add(url)
    images = [a for t, a in doc.tags if t == "img"]
    assert images
    for attrs in images:
        assert attrs["src"] in defined
        assert attrs["loading"] == "lazy" and attrs["alt"] == "" and attrs["data-fallback"]
    assert all(a.get("sandbox") == "" for t, a in doc.tags if t == "iframe")


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def test_output_is_deterministic(example_items: list[PreviewItem]) -> None:
    assert render_preview(example_items) == render_preview(list(example_items))


def test_items_from_definitions_orders_and_labels() -> None:
    def definition(kind: Kind, key: str) -> Definition:
        return Definition(kind, key, {"name": key}, Location("x.yaml"))

    defs = [
        definition(Kind.PUSH_TASK, "b"),
        definition(Kind.CAMPAIGN, "z"),
        definition(Kind.CAMPAIGN, "a"),
    ]
    items = items_from_definitions(
        defs, before={"campaign.z": {"name": "old"}}, actions={"campaign.a": "create"}
    )
    assert [(i.address, i.action, i.before) for i in items] == [
        ("campaign.a", "create", None),
        ("campaign.z", "update", {"name": "old"}),
        ("push_task.b", "definition", None),
    ]


def test_update_shows_before_and_after_side_by_side() -> None:
    before = campaign(
        [push({"en": "Old title"}, {"en": "Same body"}), push({"en": "Kept"}, {"en": "Kept"})]
    ).after
    after = copy.deepcopy(dict(before))
    after["messages"][0]["push"]["title"] = {"en": "New title", "de": "Neuer Titel"}
    after["messages"].append(
        {"channel": "sms", "integration_id": "1", "sms": {"content": {"en": "x" * 500}}}
    )
    before["messages"][1]["push"]["title"] = {"en": "Kept", "de": "b" * 70}  # remote is over
    item = PreviewItem("campaign.t", Kind.CAMPAIGN, after, before, "update")
    page = render_preview([item])
    text = "".join(parse(page).text)
    assert text.count("Before (remote)") == 3 and "Old title" in text and "New title" in text
    assert [w.split(": ", 1)[1] for w in preview_warnings([item])] == [
        "missing translation for language 'de': body (spec.messages[0].push)",
        "SMS needs 4 segments (GSM-7; more than 3) (spec.messages[2].sms.content[en])",
    ]  # nothing about the remote side: its 70-byte title is what exists already
    chips = [part.split("<", 1)[0] for part in page.split('class="chip ')[1:]]
    assert [c.split('">')[1] for c in chips] == ["changed", "unchanged", "added"]


def named(name: str, title: str, **extra: Any) -> dict[str, Any]:
    """A named push message, as a definition states it."""
    return {"name": name, **push({"en": title}, {"en": f"{title} body"}), **extra}


def remote_copy(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` as the account returns them: ids and server defaults filled in."""
    out = copy.deepcopy(messages)
    for i, m in enumerate(out):
        m.update({"id": str(900 + i), "primary_lang": "en", "priority": 1, "winner": 0})
    return out


def chips(page: str) -> list[tuple[str, str]]:
    """(message name, chip) of each compared message, in page order."""
    found = re.findall(r'<h3>[^<]*· ([^<·]+) <span class="chip (\w+)">', page)
    return [(html.unescape(name), chip) for name, chip in found]


def sides(page: str) -> dict[str, tuple[str, str]]:
    """Message name → (text of its Before column, text of its After column)."""
    out = {}
    for section in page.split('<section class="message">')[1:]:
        name = html.unescape(re.findall(r"<h3>[^<]*· ([^<·]+) <span", section)[0])
        before, _, after = section.partition("<h4>After</h4>")
        out[name] = ("".join(parse(before).text), "".join(parse(after).text))
    return out


def test_messages_are_paired_by_name_and_channel_as_the_plan_pairs_them() -> None:
    long_, short = named("Long headline", "Long"), named("Short headline", "Short")
    new = named("Brand new variant", "Totally new")
    before = {"name": "AB", "messages": remote_copy([long_, short])}
    after = {"name": "AB", "messages": [long_, new, short]}
    page = render_preview([PreviewItem("campaign.ab", Kind.CAMPAIGN, after, before, "update")])
    # The plan shows one line, `+ messages["Brand new variant"]`: nothing else changed.
    assert chips(page) == [
        ("Long headline", "unchanged"),
        ("Brand new variant", "added"),
        ("Short headline", "unchanged"),
    ]
    shown = sides(page)
    assert "Short body" in shown["Short headline"][0]  # beside its own remote message
    assert "Not present." in shown["Brand new variant"][0]
    assert "Long body" not in shown["Short headline"][0]


def test_moved_removed_and_changed_messages_are_named_as_the_plan_names_them() -> None:
    a, b, c, d = (named(n, n) for n in ("A", "B", "C", "D"))
    before = {"name": "M", "messages": remote_copy([a, b, c, d])}
    changed_c = named("C", "C, reworded")
    after = {"name": "M", "messages": [b, changed_c, a]}
    page = render_preview([PreviewItem("campaign.m", Kind.CAMPAIGN, after, before, "update")])
    # The plan: B and C keep their order, A moved after them, D is gone, C's text changed.
    assert chips(page) == [("B", "unchanged"), ("C", "changed"), ("A", "moved"), ("D", "removed")]
    shown = sides(page)
    assert "C body" in shown["C"][0] and "C, reworded" in shown["C"][1]
    assert "Removed." in shown["D"][1]
    # Moved and changed: the plan shows both, and so does the page.
    after["messages"] = [b, c, named("A", "A, reworded")]
    page = render_preview([PreviewItem("campaign.m", Kind.CAMPAIGN, after, before, "update")])
    assert chips(page)[2] == ("A", "changed")
    assert '<span class="chip changed">changed</span> <span class="chip moved">moved</span>' in page


def test_a_message_on_another_channel_is_another_message() -> None:
    sms = {"name": "Hi", "channel": "sms", "integration_id": "1", "sms": {"content": "Hi"}}
    before = {"name": "X", "messages": remote_copy([named("Hi", "Hi")])}
    after = {"name": "X", "messages": [sms]}
    page = render_preview([PreviewItem("campaign.x", Kind.CAMPAIGN, after, before, "update")])
    assert chips(page) == [("Hi", "removed"), ("Hi", "added")]  # the plan: removal first


def test_what_the_server_fills_in_is_no_change() -> None:
    # The account adds primary_lang, ids and defaults, and returns numbers as numbers: a
    # definition that does not state them, or states "1" for 1, has not changed the message.
    msg = named("Welcome message", "Welcome", priority="1")
    before = {"name": "Welcome Push", "messages": remote_copy([msg])}
    after = {"name": "Welcome Push v2", "messages": [msg]}
    page = render_preview([PreviewItem("campaign.w", Kind.CAMPAIGN, after, before, "update")])
    assert chips(page) == [("Welcome message", "unchanged")]
    after["messages"] = [{**msg, "primary_lang": "de"}]
    page = render_preview([PreviewItem("campaign.w", Kind.CAMPAIGN, after, before, "update")])
    assert chips(page) == [("Welcome message", "changed")]


def test_push_task_messages_compare_as_the_plan_compares_them() -> None:
    message = {"title": {"en": "T"}, "body": {"en": "B"}, "landing_url": "https://e.com"}
    before = {"name": "P", "ttl": 3600, "message": {**message, "image": None, "icon": ""}}
    after = {"name": "P", "ttl": "3600", "message": message}
    item = PreviewItem("push_task.p", Kind.PUSH_TASK, after, before, "update")
    assert re.findall(r'class="chip (\w+)"', render_preview([item])) == ["unchanged"]
    after["message"] = {**message, "title": {"en": "T2"}}
    assert re.findall(r'class="chip (\w+)"', render_preview([item])) == ["changed"]


def meta(page: str) -> dict[str, str]:
    """The summary rows (``Sends``, ``State``, ...) of a one-item page."""
    return {
        html.unescape(k): html.unescape(v)
        for k, v in re.findall(r"<dt>([^<]*)</dt><dd>([^<]*)</dd>", page)
    }


def defined(kind: Kind, spec: dict[str, Any], state: str | None = None) -> str:
    """The page of one definition with ``state:``, through :func:`items_from_definitions`."""
    definition = Definition(kind, "k", spec, Location("k.yaml"), state=state)
    return render_preview(items_from_definitions([definition]))


@pytest.mark.parametrize(
    ("state", "sends"),
    [
        (None, "sends as soon as it is created"),
        ("active", "sends as soon as it is created"),
        (
            "paused",
            "nothing while paused (state: paused); created with run_immediately, it "
            "starts sending at once and is paused right after",
        ),
        ("canceled", "nothing: canceled for good (state: canceled)"),
    ],
)
def test_a_campaign_says_what_its_state_means_for_sending(state: str | None, sends: str) -> None:
    spec = {"name": "C", "run_immediately": True, "messages": [named("M", "M")]}
    rows = meta(defined(Kind.CAMPAIGN, spec, state))
    assert rows["Sends"] == sends
    assert rows.get("State") == state


def test_a_paused_scheduled_campaign_is_not_said_to_send() -> None:
    spec = {"name": "C", "scheduled_time": "2030-01-01 10:00:00", "messages": [named("M", "M")]}
    assert meta(defined(Kind.CAMPAIGN, spec, "paused"))["Sends"] == (
        "nothing while paused (state: paused); when resumed: scheduled for 2030-01-01 10:00:00 UTC"
    )


@pytest.mark.parametrize(
    ("status", "state", "sends"),
    [
        (None, None, "starts immediately, every 1 d"),
        (None, "active", "active, starts immediately, every 1 d"),
        (
            None,
            "inactive",
            "nothing: inactive (state: inactive); when active: starts immediately, every 1 d",
        ),
        (0, None, "nothing: inactive (status 0); when active: starts immediately, every 1 d"),
        (0, "active", "active, starts immediately, every 1 d"),  # state: wins over status
        (
            1,
            "inactive",
            "nothing: inactive (state: inactive); when active: starts immediately, every 1 d",
        ),
    ],
)
def test_a_push_task_says_whether_it_sends(
    status: int | None, state: str | None, sends: str
) -> None:
    spec: dict[str, Any] = {
        "name": "P",
        "start_time": "immediately",
        "frequency": 86400,
        "message": {"title": "T", "body": "B", "landing_url": "https://e.com"},
    }
    if status is not None:
        spec["status"] = status
    rows = meta(defined(Kind.PUSH_TASK, spec, state))
    assert rows["Sends"] == sends
    assert rows.get("State") == state


@pytest.mark.parametrize(
    ("state", "sends"),
    [
        (None, "when one of its events happens"),
        ("active", "when one of its events happens"),
        ("stopped", "nothing: stopped (state: stopped)"),
    ],
)
def test_an_email_campaign_says_whether_it_sends(state: str | None, sends: str) -> None:
    spec = {"name": "E", "template_ids": ["t"], "mail_account_ids": ["m"], "events": ["x"]}
    rows = meta(defined(Kind.EMAIL_CAMPAIGN, spec, state))
    assert rows["Sends"] == sends
    assert rows.get("State") == state


def test_falconyte_campaign_card(example_items: list[PreviewItem]) -> None:
    flow = [i for i in example_items if i.address == "email_campaign.welcome-flow"]
    page = render_preview(flow)
    for text in (
        "Welcome flow",
        "contact.saved",
        "3c90c3cc-0d44-4b50-8888-8dd25736052a",
        "8f14e45f-ceea-467f-a0e6-1b2d3c4d5e6f",
    ):
        assert text in page


def test_empty_preview_is_a_valid_page() -> None:
    page = render_preview([], title="Nothing")
    assert "<title>Nothing</title>" in page and "Nothing to preview." in page


# --------------------------------------------------------------------------- real browser


def chromium_or_skip() -> str:
    """The Chromium to run; skips the test, with the reason, when there is none. Fails instead
    under ``HOODSYNC_REQUIRE_CHROMIUM=1`` (set by .ci/run, which installs it): a browser test
    that CI skipped would check nothing."""
    binary = os.environ.get("HOODSYNC_CHROMIUM", "/usr/bin/chromium")
    if not Path(binary).exists():
        reason = (
            f"Chromium not found at {binary}: install Debian's chromium package "
            "(apt-get install -y chromium) or set HOODSYNC_CHROMIUM"
        )
        if os.environ.get("HOODSYNC_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"{reason}; .ci/run installs it")
        pytest.skip(reason)
    return binary


def test_without_chromium_browser_tests_skip_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOODSYNC_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("HOODSYNC_REQUIRE_CHROMIUM", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium not found at .*no-chromium"):
        chromium("about:blank", tmp_path / "x.png", tmp_path / "profile")
    monkeypatch.setenv("HOODSYNC_REQUIRE_CHROMIUM", "1")
    with pytest.raises(pytest.fail.Exception, match="Chromium not found.*.ci/run installs it"):
        chromium("about:blank", tmp_path / "x.png", tmp_path / "profile")


def chromium(url: str, png: Path, profile: Path, size: str = "1280,2000") -> str:
    """Screenshot ``url`` with headless Chromium; return its stderr (console lines included)."""
    args = [
        chromium_or_skip(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--screenshot={png}",
        f"--window-size={size}",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        # No DNS at all: remote images fail at once, the same with or without a network.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        url,
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and unfiltered rows of an 8-bit RGB/RGBA PNG (stdlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], b""
    while pos < len(data):
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + size]
        pos += 12 + size
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind_of, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
            if kind_of == 1:
                line[x] = (line[x] + a) & 0xFF
            elif kind_of == 2:
                line[x] = (line[x] + b) & 0xFF
            elif kind_of == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif kind_of == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [r if bpp == 3 else bytes(_drop_alpha(r)) for r in rows]


def _drop_alpha(row: bytes) -> bytearray:
    out = bytearray()
    for i in range(0, len(row), 4):
        out += row[i : i + 3]
    return out


def test_examples_render_in_headless_chromium(
    example_items: list[PreviewItem], tmp_path: Path
) -> None:
    page = tmp_path / "preview.html"
    page.write_text(render_preview(example_items), encoding="utf-8")
    png = tmp_path / "preview.png"
    stderr = chromium(page.as_uri(), png, tmp_path / "profile")

    assert console_lines(stderr) == []
    assert png.exists() and png.stat().st_size > 10_000
    width, height, rows = decode_png(png.read_bytes())
    assert (width, height) == (1280, 2000)
    pixels = Counter(row[x : x + 3] for row in rows[::4] for x in range(0, len(row), 12))
    background, count = pixels.most_common(1)[0]
    total = sum(pixels.values())
    assert len(pixels) > 200, "too few colours: the page looks blank"
    assert count / total < 0.8, "one colour covers the page: it looks blank"
    dark = sum(n for px, n in pixels.items() if max(px) < 90)
    assert dark / total > 0.005, "no dark text pixels on the light page"


def test_console_check_catches_errors(tmp_path: Path) -> None:
    # The harness itself: a page with a console error and an uncaught exception must be caught,
    # or the check above could pass without looking.
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><p>x</p><script>console.error("boom");nope();</script>', encoding="utf-8"
    )
    stderr = chromium(page.as_uri(), tmp_path / "bad.png", tmp_path / "profile", "400,300")
    lines = console_lines(stderr)
    assert any("boom" in line for line in lines)
    assert any("Uncaught ReferenceError" in line for line in lines)


def test_a_long_name_does_not_push_the_action_badge_off_the_page(tmp_path: Path) -> None:
    """A 400-character name (one word, the worst case) wraps: the ``cancel`` badge stays on
    the card, inside the window."""
    spec = {"name": "N" * 400, "messages": [named("M", "M")]}
    item = PreviewItem("campaign." + "k" * 64, Kind.CAMPAIGN, spec, None, "cancel", "canceled")
    page = tmp_path / "long.html"
    page.write_text(render_preview([item]), encoding="utf-8")
    png = tmp_path / "long.png"
    assert console_lines(chromium(page.as_uri(), png, tmp_path / "profile", "1280,700")) == []
    width, _, rows = decode_png(png.read_bytes())
    bad = bytes((0xB4, 0x23, 0x18))  # --bad, the cancel badge's background (light scheme)
    # The navigation (x < 280) has its own badges; the card's is right of it, on screen.
    card_badge = [x for row in rows for x in range(280 * 3, len(row), 3) if row[x : x + 3] == bad]
    assert card_badge, "the card's cancel badge is not on the screen"
    assert max(card_badge) // 3 < width - 20
