"""Text renderer details: summary/estimate wording, colours, empty plans, value abbreviation."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hoodsync.errors import Problem
from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import AccountInfo
from hoodsync.planner import make_plan
from hoodsync.render import json as json_render
from hoodsync.render import markdown, text
from hoodsync.render.common import (
    change_texts,
    duration_text,
    printable,
    quoted,
    summary_line,
    value_text,
)

ACCOUNT = AccountInfo("default", "https://api.ocamba.com/v1/hood")
GOLDEN = Path(__file__).resolve().parent / "golden"


def _doc(n: int = 1, **spec: Any) -> dict[str, Any]:
    defs = [
        Definition(Kind.CAMPAIGN, f"c{i}", {"name": f"C{i}", **spec}, Location("c.yaml"))
        for i in range(n)
    ]
    return make_plan(defs, {}, account=ACCOUNT, read_requests=1).to_dict()


def test_summary_and_estimate_lines_read_like_the_design() -> None:
    out = text.render(_doc(3))
    assert (
        "Account: default (https://api.ocamba.com/v1/hood) — 3 definitions, 0 remote objects read in 1 request\n"
        in out
    )
    assert (
        "Plan: 3 to create, 0 to update, 0 to resume, 0 to pause, 0 to cancel. 0 unchanged, 0 unmanaged.\n"
        in out
    )
    assert out.endswith("Apply needs about 3 requests (~1 s at 10/s, 150/min).\n")
    assert (
        '  # campaign.c0 will be created\n  + campaign "c0" {\n      + name = "C0"\n    }\n' in out
    )


def test_no_colour_codes_unless_asked() -> None:
    doc = _doc()
    assert "\x1b[" not in text.render(doc)
    coloured = text.render(doc, color=True)
    assert "\x1b[32m+\x1b[0m" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == text.render(doc)


def test_empty_plan_says_no_changes() -> None:
    out = text.render(make_plan([], {}, account=ACCOUNT).to_dict())
    assert out.endswith(
        "\n\nNo changes. The account matches the definitions (0 unchanged, 0 unmanaged).\n"
    )
    assert "Sandbox" not in out and "Apply needs" not in out


def test_long_values_are_abbreviated_in_text() -> None:
    assert value_text(list(range(40))) == "[ ... 40 items ]"
    assert value_text({"k": "x" * 80}) == "{ ... 1 key }"
    assert value_text("y" * 100).endswith('..."') and len(value_text("y" * 100)) <= 60
    assert value_text([1, 2]) == "[1, 2]"


BODY = "This is a message from the Ocamba Platform, served to you by the Hood Engage App."


def test_a_long_string_changed_past_the_cut_shows_the_change() -> None:
    """Cut at 60 characters, both sides of this change read the same."""
    before, after = change_texts(BODY, BODY[:-1] + "!")
    assert before != after
    assert before == '"... the Hood Engage App."'  # 20 characters before the change
    assert after == '"... the Hood Engage App!"'


def test_a_long_string_changed_in_the_middle_shows_every_difference() -> None:
    old = "a" * 100 + "one" + "b" * 50 + "two" + "c" * 100
    new = "a" * 100 + "ONE" + "b" * 50 + "TWO" + "c" * 100
    before, after = change_texts(old, new)
    assert "one" in before and "two" in before and "ONE" in after and "TWO" in after
    # Only text both sides share is left out, a little of it kept on each side.
    assert before == '"...' + "a" * 20 + "one" + "b" * 50 + "two" + "c" * 20 + '..."'
    assert after.startswith('"...' + "a" * 20) and after.endswith("c" * 20 + '..."')


def test_short_or_other_changed_values_are_shown_whole() -> None:
    assert change_texts("sale", "promo") == ('"sale"', '"promo"')
    assert change_texts("x", "y" * 100) == ('"x"', '"' + "y" * 100 + '"')
    assert change_texts("x", {"en": "x" * 80}) == ('"x"', '{"en": "' + "x" * 80 + '"}')
    assert change_texts("\x9b" * 80, "\x9b" * 79 + "e")[1].endswith('\\u009be"')


def test_duration_wording() -> None:
    assert [duration_text(s) for s in (0, 0.2, 14, 59.5, 60, 74, 3600)] == [
        "~1 s",
        "~1 s",
        "~14 s",
        "~1 min",
        "~1 min",
        "~1 min 14 s",
        "~60 min",
    ]


def test_summary_names_extra_actions_only_when_present() -> None:
    doc = _doc()
    doc["summary"]["stop"] = 2
    doc["counts"]["orphans"] = 1
    assert summary_line(doc) == (
        "Plan: 1 to create, 0 to update, 0 to resume, 0 to pause, 0 to cancel, 2 to stop. "
        "0 unchanged, 0 unmanaged, 1 orphan."
    )


def _email_def() -> Definition:
    return Definition(
        Kind.EMAIL_CAMPAIGN,
        "flow",
        {"name": "Flow", "events": ["lead.created"]},
        Location("e.yaml"),
    )


def _account(**kw: Any) -> AccountInfo:
    return AccountInfo(
        "default",
        kw.pop("url", "sandbox"),
        falconyte_url=kw.pop("falconyte_url", "https://api.falconyte.com/public/v1"),
        **kw,
    )


def _plan_doc(account: AccountInfo, defs: list[Definition]) -> dict[str, Any]:
    return make_plan(defs, {}, account=account).to_dict()


def test_sandbox_notice_tells_the_truth_per_endpoint() -> None:
    campaign = Definition(Kind.CAMPAIGN, "c", {"name": "C"}, Location("c.yaml"))
    # Hood sandbox, Falconyte real, email involved: both named, Falconyte as real.
    out = text.render(_plan_doc(_account(sandbox=True), [campaign, _email_def()]))
    assert "Sandbox: Hood is the embedded emulated account" in out
    assert "Falconyte is a real account (https://api.falconyte.com/public/v1)" in out
    assert out.startswith(
        "Account: default (Hood sandbox, Falconyte https://api.falconyte.com/public/v1) — "
    )
    # Hood sandbox, no email campaign anywhere: Falconyte is not mentioned.
    out = text.render(_plan_doc(_account(sandbox=True), [campaign]))
    assert "Sandbox: Hood is the embedded" in out and "Falconyte" not in out
    # Real Hood, sandbox Falconyte: only matters with email campaigns.
    real = _account(
        url="https://api.ocamba.com/v1/hood",
        falconyte_sandbox=True,
        falconyte_url="sandbox",
        key_env="ACME_FALCONYTE_KEY",
    )
    out = text.render(_plan_doc(real, [campaign, _email_def()]))
    assert "Sandbox: Falconyte is the embedded sandbox" in out and "Hood is" not in out
    assert "set ACME_FALCONYTE_KEY" in out
    # It names the setting as hoodsync.yaml spells it (falconyte: {url: ...}).
    assert "the account's falconyte url in hoodsync.yaml" in out and "falconyte_url" not in out
    assert out.startswith(
        "Account: default (Hood https://api.ocamba.com/v1/hood, Falconyte sandbox)"
    )
    assert "Sandbox" not in text.render(_plan_doc(real, [campaign]))
    # Both sandboxes: one notice naming both, the account's own token variable.
    both = _account(sandbox=True, falconyte_sandbox=True, token_env="HOOD_PROD_TOKEN")
    out = text.render(_plan_doc(both, [_email_def()]))
    assert "set HOOD_PROD_TOKEN" in out and "Falconyte is the embedded sandbox" in out
    assert out.startswith("Account: default (sandbox) — ")


def test_the_header_names_the_falconyte_account_its_email_changes_go_to() -> None:
    """Both endpoints real and the plan involves email campaigns: the header names Falconyte's
    too, so a reviewer sees which account the email changes go to (the JSON plan has it; the
    text and markdown showed only Hood's). Without email campaigns, only Hood's."""
    campaign = Definition(Kind.CAMPAIGN, "c", {"name": "C"}, Location("c.yaml"))
    real = _account(
        url="https://api.ocamba.com/v1/hood", falconyte_url="https://mail.example/public/v1"
    )
    where = "(Hood https://api.ocamba.com/v1/hood, Falconyte https://mail.example/public/v1)"
    assert text.render(_plan_doc(real, [campaign, _email_def()])).startswith(
        f"Account: default {where} — "
    )
    assert "`https://mail.example/public/v1`" in markdown.render(_plan_doc(real, [_email_def()]))
    assert text.render(_plan_doc(real, [campaign])).startswith(
        "Account: default (https://api.ocamba.com/v1/hood) — "
    )


def test_account_info_round_trips_the_new_fields() -> None:
    acc = _account(sandbox=True, falconyte_sandbox=True, token_env="T", key_env="K")
    assert AccountInfo.from_dict(acc.to_dict()) == acc
    assert AccountInfo.from_dict({"name": "a", "url": "u"}).falconyte_sandbox is False


def test_text_warns_like_the_markdown_banner() -> None:
    doc = _doc(1, run_immediately=True)
    out = text.render(doc)
    assert "Warning: sends immediately: campaign.c0 (run_immediately)\n" in out
    assert out.index("Warning:") < out.index("Plan: ")
    assert "Warning" not in text.render(_doc(1))


def test_the_sends_immediately_banner_names_each_changes_own_cause() -> None:
    """Each change flagged as sending at once is named with what makes it so, in the text and
    in the markdown banner: never run_immediately for a change that does not say it."""
    now = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    message = {"name": "M", "channel": "push", "push": {"title": {"en": "Hi"}}}
    west = {"scheduled_time": "2027-03-01 11:00:00", "send_in_profile_time_zone": True}
    defs = [
        Definition(Kind.CAMPAIGN, "now", {"name": "Now", "run_immediately": True}, Location("a")),
        Definition(
            Kind.CAMPAIGN,
            "west",
            {"name": "West", **west, "send_if_profile_time_passed": True, "messages": [message]},
            Location("b"),
        ),
        Definition(
            Kind.PUSH_TASK,
            "task",
            {"name": "Task", "start_time": "immediately", "message": {"title": {"en": "Hi"}}},
            Location("c"),
            state="active",
        ),
    ]
    doc = make_plan(defs, {}, account=ACCOUNT, now=now).to_dict()
    catch_up = "send_if_profile_time_passed: its time has passed for some profiles"
    assert "Warning: sends immediately: " + ", ".join(
        [
            "campaign.now (run_immediately)",
            f"campaign.west ({catch_up})",
            "push_task.task (start_time: immediately)",
        ]
    ) in text.render(doc)
    assert (
        "> **Sends immediately:** `campaign.now` (`run_immediately`), "
        f"`campaign.west` (`{catch_up}`), `push_task.task` (`start_time: immediately`)"
        in markdown.render(doc)
    )
    # a plan document without causes (made before they were recorded) still names the changes
    for change in doc["changes"]:
        change.pop("send_cause", None)
    assert (
        "Warning: sends immediately: campaign.now, campaign.west, push_task.task\n"
        in text.render(doc)
    )


# ------------------------------------------------------------------ text read from the account

#: What a remote object could be named, stamped or valued to forge, hide or recolour plan lines.
FORGERIES = [
    'x\n  + campaign "evil" {',  # a newline and a made-up plan line
    "\x1b[2K",  # erase the line (CSI)
    "ok\x1b]0;title\x07",  # set the terminal title (OSC)
    "x\r  # nothing to do",  # carriage return: overwrite the line from its start
    "x\x9b2K",  # C1 CSI, one character
    "x\x85y",  # C1 next-line
    "x\u2028y",  # Unicode line separator
    "x\u202ey",  # right-to-left override
    "x\x7f",  # DEL
]
_UNSAFE_OUTPUT = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_MESSAGE = {"name": "m", "channel": "push", "push": {"title": {"en": "Hi"}}}


def _hostile_plan(text_: str, *, prune: bool) -> dict[str, Any]:
    """A plan in which ``text_`` is, as read from the account: an orphan's name, marker key
    (hence address), status and creation time; a managed campaign's description (a diff value);
    an unknown status (a note)."""
    defs = [
        Definition(
            Kind.CAMPAIGN,
            "kept",
            {
                "name": "Kept",
                "description": "new",
                "metadata": {"team": "x"},
                "messages": [_MESSAGE],
            },
            Location("c.yaml"),
        ),
        Definition(
            Kind.CAMPAIGN, "odd", {"name": "Odd", "messages": [_MESSAGE]}, Location("c.yaml")
        ),
    ]
    remote = {
        Kind.CAMPAIGN: [
            {
                "id": "1",
                "name": "Kept",
                "status": "paused",
                "description": text_,
                "metadata": {"hoodsync_key": "kept"},
                "messages": [_MESSAGE],
            },
            {
                "id": "2",
                "name": text_,
                "status": "paused",
                "create_time": text_,
                "metadata": {"hoodsync_key": "gone" + text_},
                "messages": [_MESSAGE],
            },
            {
                "id": "3",
                "name": "Odd",
                "status": "weird" + text_,
                "metadata": {"hoodsync_key": "odd"},
                "messages": [],
            },
        ]
    }
    return make_plan(defs, remote, account=ACCOUNT, read_requests=1, prune=prune).to_dict()


@pytest.mark.parametrize("forged", FORGERIES, ids=[repr(f) for f in FORGERIES])
@pytest.mark.parametrize("prune", [False, True], ids=["orphan listed", "orphan pruned"])
def test_text_read_from_the_account_cannot_forge_or_hide_a_line(forged: str, prune: bool) -> None:
    plain = text.render(_hostile_plan("harmless", prune=prune))
    out = text.render(_hostile_plan(forged, prune=prune))
    assert _UNSAFE_OUTPUT.search(out) is None, repr(out)
    assert len(out.splitlines()) == len(plain.splitlines()), out
    assert not any(
        line.lstrip().startswith(('+ campaign "evil"', "# nothing")) for line in out.splitlines()
    ), out
    coloured = text.render(_hostile_plan(forged, prune=prune), color=True)
    # the only escape sequences left are the painter's own colours
    assert _UNSAFE_OUTPUT.search(re.sub(r"\x1b\[[0-9;]*m", "", coloured)) is None
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == out


def test_forged_names_are_shown_escaped_not_dropped() -> None:
    out = text.render(_hostile_plan('x\n  + campaign "evil" {', prune=False))
    assert '"x\\n  + campaign \\"evil\\" {"' in out  # the orphan's name, quoted as JSON
    out = text.render(_hostile_plan("\x1b[2K", prune=False))
    assert "campaign.gone\\x1b[2K" in out  # the orphan's address, from its marker
    assert re.search(r'description += "\\u001b\[2K" -> "new"', out)  # a diff value


def test_printable_escapes_only_what_a_terminal_acts_on() -> None:
    assert printable("Olá 👋🏽 שלום 👨‍👩‍👧 \\n") == "Olá 👋🏽 שלום 👨‍👩‍👧 \\n"
    assert printable("a\nb\tc\rd\x1b[2Ke\x9bf\x7fg\u2028h\u202ei") == (
        "a\\nb\\tc\\rd\\x1b[2Ke\\x9bf\\x7fg\\u2028h\\u202ei"
    )
    assert quoted('say "hi"\n\x85') == '"say \\"hi\\"\\n\\u0085"'
    assert value_text({"k": "\x9b"}) == '{"k": "\\u009b"}'
    assert value_text("\x9b" * 100).endswith('..."') and "\x9b" not in value_text("\x9b" * 100)


def test_invisible_characters_and_lone_surrogates_are_escaped() -> None:
    """Shown as nothing, they could hide a difference or a word; a lone surrogate (from an
    account's JSON) cannot be written to a terminal at all and crashed the text plan."""
    assert printable("a\u200bb\u00adc\u2060d\ufeffe\u200ff\U000e0041g") == (
        "a\\u200bb\\xadc\\u2060d\\ufeffe\\u200ff\\U000e0041g"
    )
    assert printable("x\ud800y") == "x\\ud800y"
    assert quoted("\U000e0041") == '"\\udb40\\udc41"'  # JSON's own spelling of it
    assert "\ud800" not in value_text("\ud800")
    assert printable("👩\u200d💻 ❤\ufe0f") == "👩\u200d💻 ❤\ufe0f"  # emoji stay whole


def test_a_change_that_would_look_alike_is_shown_escaped() -> None:
    assert change_texts("a b", "a\u00a0b") == ('"a b"', '"a\\u00a0b"')
    assert change_texts("cafe\u0301", "caf\u00e9") == ('"cafe\\u0301"', '"caf\\u00e9"')
    assert change_texts("❤", "❤\ufe0f") == ('"\\u2764"', '"\\u2764\\ufe0f"')
    before, after = change_texts(BODY, BODY.replace(" by", "\u00a0by"))
    assert "\\u00a0by" in after and " by" in before
    assert change_texts("Olá", "Olé") == ('"Olá"', '"Olé"')  # visibly different: unescaped


def test_a_look_alike_letter_from_another_script_shows_as_an_escape() -> None:
    """A Cyrillic ``а`` for a Latin ``a`` is another domain; the change must not read as
    ``"X" -> "X"``, nor hide next to an edit that does show."""
    real, fake = "https://ocamba.com", "https://oc\u0430mba.com"
    assert change_texts(real, fake) == ('"https://ocamba.com"', '"https://oc\\u0430mba.com"')
    assert change_texts(fake, real) == ('"https://oc\\u0430mba.com"', '"https://ocamba.com"')
    before, after = change_texts("http://ocamba.com/?u=1", "https://oc\u0430mba.com/?u=2")
    assert after == '"https://oc\\u0430mba.com/?u=2"'
    # every letter of a word replaced by one that looks the same (Cyrillic, Greek, Cherokee)
    assert change_texts("apple", "\u0430\u0440\u0440\u04c0\u0435")[1] == (
        '"\\u0430\\u0440\\u0440\\u04c0\\u0435"'
    )
    assert "\\u13a0" in change_texts("Deal", "\u13a0eal")[1]
    assert "\\u03bf" in change_texts("https://promo.example", "https://pr\u03bfmo.example/x")[1]
    # a Latin letter slipped into a Cyrillic word is shown against the escaped rest of it
    latin_p = "\u041fp\u0438\u0432\u0435\u0442"  # "Привет" with a Latin p
    assert change_texts("Привет", latin_p)[1] == '"\\u041fp\\u0438\\u0432\\u0435\\u0442"'
    assert "\\u041fp" in change_texts("Привет мир", latin_p + " всем")[1]
    # long values: the look-alike is inside the window that is shown
    long_before = "x" * 70 + "ocamba" + "y" * 70
    long_after = "x" * 70 + "oc\u0430mba" + "y" * 70
    assert "oc\\u0430mba" in change_texts(long_before, long_after)[1]


def test_text_edited_normally_in_other_scripts_stays_readable() -> None:
    for before, after in (
        ("Привет мир", "Пока мир"),
        ("Скидки", "Скидка 50% на iPhone"),
        ("Sale 50%", "Скидка 50%"),
        ("Grüße aus Berlin", "Schöne Grüße"),
        ("Angebote fur Sie", "Angebote für Sie"),
        ("Καλημέρα", "Καλησπέρα"),
        ("Sale – 50%", "Sale — 60% “now”"),
        ("🎉 Hello", "🎉 Hallo"),
    ):
        assert change_texts(before, after) == (quoted(before), quoted(after)), (before, after)


def test_a_look_alike_change_shows_in_the_text_and_markdown_plans() -> None:
    def message(url: str) -> dict[str, Any]:
        return {"name": "m", "channel": "push", "push": {"title": {"en": "t"}, "landing_url": url}}

    d = Definition(
        Kind.CAMPAIGN,
        "c",
        {"name": "C", "messages": [message("https://oc\u0430mba.com")]},
        Location("c.yaml"),
    )
    remote = {
        Kind.CAMPAIGN: [
            {
                "id": "1",
                "name": "C",
                "status": "paused",
                "metadata": {"hoodsync_key": "c"},
                "messages": [message("https://ocamba.com")],
            }
        ]
    }
    doc = make_plan([d], remote, account=ACCOUNT).to_dict()
    line = '.landing_url = "https://ocamba.com" -> "https://oc\\u0430mba.com"'
    assert line in text.render(doc)
    assert line in markdown.render(doc)


def test_a_look_alike_in_a_created_value_shows_in_the_text_and_markdown_plans() -> None:
    # Before: a create showed its values raw, so a landing URL with a Cyrillic "а" (a phishing
    # look-alike of the real domain) or a label with a Cyrillic "Ѕ" read as the ASCII ones.
    message = {
        "name": "m",
        "channel": "push",
        "push": {"title": {"en": "Grüße"}, "landing_url": "https://oc\u0430mba.com/x"},
    }
    spec = {"name": "C", "labels": ["\u0405ale", "vip"], "messages": [message]}
    d = Definition(Kind.CAMPAIGN, "c", spec, Location("c.yaml"))
    doc = make_plan([d], {Kind.CAMPAIGN: []}, account=ACCOUNT).to_dict()
    for rendered in (text.render(doc), markdown.render(doc)):
        assert 'landing_url = "https://oc\\u0430mba.com/x"' in rendered
        assert '= ["\\u0405ale", "vip"]' in rendered
        assert '"Grüße"' in rendered  # other scripts stay readable
        assert "\u0430" not in rendered and "\u0405" not in rendered


def test_characters_drawn_blank_show_escaped_in_the_text_and_markdown_plans() -> None:
    """A Hangul filler (U+3164) ending a created name beside a live "Daily news", and the
    blank Braille pattern (U+2800) for a space in a changed title. Before: both printed raw,
    so the name read "Daily news" and the two sides of the change read "Hello world"."""

    def task(key: str, name: str, title: str) -> Definition:
        spec = {"name": name, "frequency": 3600, "message": {"title": {"en": title}}}
        return Definition(Kind.PUSH_TASK, key, spec, Location(f"{key}.yaml"))

    live = [
        {"id": "1", "status": "1", "name": "Daily news", "frequency": 60},
        {"id": "2", "status": "1", "name": "Promo", "frequency": 3600},
    ]
    live[1]["message"] = {"title": {"en": "Hello world"}}
    definitions = [
        task("daily", "Daily news\u3164", "Hi"),
        task("promo", "Promo", "Hello\u2800world"),
    ]
    doc = make_plan(definitions, {Kind.PUSH_TASK: live}, account=ACCOUNT).to_dict()
    for rendered in (text.render(doc, color=False), markdown.render(doc)):
        assert re.search(r'\+ name += "Daily news\\u3164"', rendered), rendered
        assert 'this definition "Daily news\\u3164": the names differ only' in rendered
        assert '"Hello world" -> "Hello\\u2800world"' in rendered
        assert "\u3164" not in rendered and "\u2800" not in rendered


#: Lines a GitHub Actions runner would take as workflow commands (and not log): ``##[`` anywhere
#: in a line, ``::`` at its start after blanks (the runner trims them first).
RUNNER_COMMANDS = (
    "##[debug]x",
    "https://evil.example/#/##[debug]",
    "a ###[add-mask]b",
    "::error::x",
    "::debug::x",
    "  ::warning file=a::x",
    "\u00a0::notice::x",
    "\u3000::group::x",
)


def _runner_command_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "##[" in line or line.lstrip().startswith("::")]


def test_printed_text_never_holds_a_runner_command() -> None:
    assert printable("https://evil.example/#/##[debug]") == "https://evil.example/#/#\\x23[debug]"
    assert quoted("##[debug]") == '"#\\u0023[debug]"'  # the same JSON string
    assert printable("###[x") == "##\\x23[x"
    assert printable("# heading #[1] ##") == "# heading #[1] ##"  # a # alone stays
    assert printable("::error::x") == "\\x3a:error::x"
    assert printable("  ::x") == "  \\x3a:x" and printable("a::b") == "a::b"
    assert value_text("##[debug]") == '"#\\u0023[debug]"'
    assert change_texts("a", "##[debug]") == ('"a"', '"#\\u0023[debug]"')


def _replaced(node: Any, text: str) -> Any:
    """``node`` with every string a user or the account controls replaced by ``text`` (an
    address keeps its kind: ``campaign.`` + a marker key read from the account)."""
    free = {"name", "key", "remote_id", "remote_status", "message", "id", "status"}
    free |= {"created_at", "description", "url", "falconyte_url", "path", "before", "after"}
    if isinstance(node, dict):
        out = {
            k: text if k in free and isinstance(v, str) else _replaced(v, text)
            for k, v in node.items()
        }
        if isinstance(node.get("address"), str):
            out["address"] = node["address"].split(".", 1)[0] + "." + text
        return out
    if isinstance(node, list):
        return [_replaced(v, text) for v in node]
    return node


@pytest.mark.parametrize("command", RUNNER_COMMANDS)
def test_no_value_can_make_a_plan_line_a_runner_command(command: str) -> None:
    """Every value, in every place, in all three renderings (a CI log shows any of them)."""
    doc = _replaced(json.loads((GOLDEN / "plan.json").read_text()), command)
    doc["notes"] = [{"severity": "warning", "message": command, "address": command}]
    doc["options"]["prune"] = False
    outputs = (
        text.render(doc),
        text.render(doc, color=True),
        markdown.render(doc, refusal=command),
        json_render.render(doc),
    )
    for out in outputs:
        assert command.strip() in out or "\\x" in out or "\\u" in out
        assert _runner_command_lines(out) == []


def test_a_problem_escapes_the_file_name() -> None:
    problem = Problem(Location("c\x1b[2Kq.yaml", 6, 1), "bad")
    assert str(problem) == "c\\x1b[2Kq.yaml:6:1: error: bad"


def test_a_create_shows_nested_values_whole_like_a_new_terraform_resource() -> None:
    body = "A body longer than sixty characters, which the text plan used to cut short."
    push = {"title": {"en": "Hello", "pt-BR": "Olá"}, "body": {"en": body}}
    doc = _doc(
        messages=[{"name": "Hi", "channel": "push", "push": push}],
        run_immediately=None,
        labels=["a", "b"],
    )
    out = text.render(doc)
    assert '  + campaign "c0" {\n' in out
    assert (
        "      + messages = [\n"
        "          + {\n"
        '              + channel = "push"\n'
        '              + name    = "Hi"\n'
        "              + push    = {\n"
        "                  + body  = {\n"
        f'                      + en = "{body}"\n'
        "                    }\n"
        "                  + title = {\n"
        '                      + en    = "Hello"\n'
        '                      + pt-BR = "Olá"\n'
        "                    }\n"
        "                }\n"
        "            },\n"
        "        ]\n"
    ) in out
    assert '      + labels   = ["a", "b"]\n' in out
    assert "run_immediately" not in out  # null: nothing is sent that the reviewer must see


def test_spread_values_are_escaped() -> None:
    doc = _doc(metadata={"we\nird": "line\n  + forged = 1", "ok": "\x1b[2K"})
    out = text.render(doc)
    assert "\x1b" not in out and "\n  + forged" not in out
    assert '          + "we\\nird" = "line\\n  + forged = 1"\n' in out
    assert '          + ok        = "\\u001b[2K"\n' in out
