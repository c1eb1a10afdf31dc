"""Pieces the three renderers share. Every function reads the ``Plan.to_dict()`` document (or a
part of it), never a Plan object, so the three renderings cannot disagree.

Values and paths of field diffs may come from the account, so :func:`value_text`,
:func:`diff_line` and :func:`drift_line` escape them; renderers escape the rest of what they
print with ``printable`` / ``quoted`` (re-exported from :mod:`hoodsync.terminal`), and show an
object's name with ``quoted_name`` (re-exported from :mod:`hoodsync.lookalikes`: its
look-alikes of ASCII characters amid ASCII text escaped, as a diff shows them)."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hoodsync.lookalikes import distinct, quoted_name
from hoodsync.terminal import json_safe as _json_safe
from hoodsync.terminal import printable, quoted

__all__ = [
    "SUMMARY_ORDER",
    "change_texts",
    "header_line",
    "sandbox_line",
    "involves_email",
    "warning_items",
    "summary_line",
    "estimate_line",
    "no_changes_line",
    "printable",
    "quoted",
    "quoted_name",
    "value_text",
    "diff_line",
    "drift_line",
    "Line",
    "Spread",
    "spread",
    "names_element",
    "symbol",
    "duration_text",
    "plural",
    "path_width",
]

#: Actions always named in the summary line, then the others when non-zero.
_ALWAYS = ("create", "update", "resume", "pause", "cancel")
SUMMARY_ORDER = _ALWAYS + ("adopt", "replace", "activate", "deactivate", "start", "stop")

_SYMBOLS = {
    "create": "+",
    "replace": "-/+",
    "cancel": "-",
    "stop": "-",
    "deactivate": "-",
    "note": "!",
}


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 definition`` / ``3 definitions``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def symbol(action: str) -> str:
    """Terraform-like marker for a change: ``+`` create, ``~`` edit/state, ``-`` removal."""
    return _SYMBOLS.get(action, "~")


def involves_email(doc: Mapping[str, Any]) -> bool:
    """True when the plan concerns Falconyte: email-campaign definitions or remote objects
    (``kinds``), changes, listed objects or estimated requests of that kind."""
    if "EmailCampaign" in doc.get("kinds", ()):
        return True
    if any(str(c["address"]).startswith("email_campaign.") for c in doc["changes"]):
        return True
    refs = list(doc["orphans"]) + list(doc.get("unmanaged", ())) + list(doc["superseded"])
    if any(r.get("kind") == "EmailCampaign" for r in refs):
        return True
    return bool(doc.get("estimate", {}).get("falconyte_requests"))


def header_line(doc: Mapping[str, Any], quote: Callable[[Any], str] = str) -> str:
    """``Account: default (URL) — 3 definitions, 14 remote objects read in 2 requests``.

    When the plan involves email campaigns, both endpoints are named (unless both are the
    sandbox), so a reviewer sees which Falconyte account the email changes go to, and the
    header cannot suggest everything is real (or emulated) when only one is the sandbox.
    ``quote`` writes the account's name and URLs (the markdown comment puts them in code
    spans); the rest is hoodsync's own words and numbers."""
    acc, counts = doc["account"], doc["counts"]
    where = quote(acc["url"])
    both_sandbox = bool(acc.get("sandbox")) and bool(acc.get("falconyte_sandbox"))
    if involves_email(doc) and not both_sandbox:
        hood = "sandbox" if acc.get("sandbox") else acc["url"]
        falc = "sandbox" if acc.get("falconyte_sandbox") else acc.get("falconyte_url")
        where = f"Hood {quote(hood)}, Falconyte {quote(falc)}"
    return (
        f"Account: {quote(acc['name'])} ({where}) — {plural(counts['definitions'], 'definition')}, "
        f"{plural(counts['remote_objects'], 'remote object')} read in "
        f"{plural(counts['read_requests'], 'request')}"
    )


def sandbox_line(doc: Mapping[str, Any], quote: Callable[[Any], str] = str) -> str | None:
    """The one-line sandbox notice, or ``None`` when nothing the plan touches is emulated.

    It tells the truth per endpoint: Hood and Falconyte are each either the embedded sandbox or
    a real account, and Falconyte is mentioned only when the plan involves email campaigns.
    ``quote`` writes the variable names and the URL, which come from the configuration."""
    acc = doc["account"]
    hood_sb = bool(acc.get("sandbox"))
    email = involves_email(doc)
    falc_sb = email and bool(acc.get("falconyte_sandbox"))
    if not hood_sb and not falc_sb:
        return None
    token_env = quote(acc.get("token_env") or "HOOD_API_TOKEN")
    key_env = quote(acc.get("key_env") or "FALCONYTE_API_KEY")
    parts = []
    if hood_sb:
        parts.append(
            "Hood is the embedded emulated account, not a real one (for a real account set "
            f"{token_env}, or the account's url in hoodsync.yaml)"
        )
    if falc_sb:
        parts.append(
            "Falconyte is the embedded sandbox, not a real account (for a real one set "
            f"{key_env}, or the account's falconyte url in hoodsync.yaml)"
        )
    elif email and hood_sb:
        parts.append(
            f"Falconyte is a real account ({quote(acc.get('falconyte_url'))}): email-campaign "
            "changes are real"
        )
    return "Sandbox: " + "; ".join(parts) + "."


def warning_items(doc: Mapping[str, Any]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """What deserves a warning before anyone applies: ``(what, changes)`` for removals
    (cancel, stop, deactivate), immediate sends (each change's ``send_cause`` says why:
    ``run_immediately``, a push task's ``start_time: immediately``, a campaign time that has
    passed for some profiles with ``send_if_profile_time_passed``, ...), drafts launched
    (``is_draft: true -> false``), creates beside a live object that is probably the
    definition's own under an old key or name (both would send), creates named like a live
    object but for characters that look alike (a reviewer cannot tell the two apart), creates
    named like a campaign already sent (its audience would get it again) and edits of running
    campaigns, in that order, each only when non-empty. Only changes that will make calls."""
    active = [c for c in doc["changes"] if c["steps"]]
    removals = [c for c in active if "removal" in c["flags"] or c["action"] in ("cancel", "stop")]
    sends = [c for c in active if "sends_immediately" in c["flags"]]
    launches = [c for c in active if "launch" in c["flags"]]
    copies = [c for c in active if "second_copy" in c["flags"]]
    lookalikes = [c for c in active if "lookalike_name" in c["flags"]]
    resends = [c for c in active if "beside_sent" in c["flags"]]
    live = [c for c in active if "live_edit" in c["flags"]]
    out: list[tuple[str, list[Mapping[str, Any]]]] = []
    for what, items in (
        ("removes", removals),
        ("sends", sends),
        ("launches", launches),
        ("copies", copies),
        ("lookalikes", lookalikes),
        ("resends", resends),
        ("live", live),
    ):
        if items:
            out.append((what, items))
    return out


def summary_line(doc: Mapping[str, Any]) -> str:
    """``Plan: 1 to create, 1 to update, … 11 unchanged, 2 unmanaged.``"""
    summary, counts = doc["summary"], doc["counts"]
    parts = [f"{summary.get(a, 0)} to {a}" for a in _ALWAYS]
    parts += [f"{summary[a]} to {a}" for a in SUMMARY_ORDER[len(_ALWAYS) :] if summary.get(a)]
    tail = [f"{counts['unchanged']} unchanged", f"{counts['unmanaged']} unmanaged"]
    if counts.get("orphans"):
        tail.append(plural(counts["orphans"], "orphan"))
    if counts.get("superseded"):
        tail.append(f"{counts['superseded']} superseded")
    line = f"Plan: {', '.join(parts)}. {', '.join(tail)}."
    if doc.get("errors"):
        line += f" {plural(doc['errors'], 'error')}: this plan cannot be applied."
    return line


def duration_text(seconds: float) -> str:
    """``~1 s``, ``~45 s``, ``~2 min``, ``~3 min 10 s`` (never below 1 s)."""
    total = max(1, math.ceil(seconds))
    if total < 60:
        return f"~{total} s"
    minutes, rest = divmod(total, 60)
    return f"~{minutes} min" + (f" {rest} s" if rest else "")


def estimate_line(doc: Mapping[str, Any]) -> str:
    """``Apply needs about 6 requests (~1 s at 10/s, 150/min).``"""
    est = doc["estimate"]
    split = ""
    if est.get("falconyte_requests"):
        split = f"{est['hood_requests']} Hood, {est['falconyte_requests']} Falconyte; "
    return (
        f"Apply needs about {plural(est['requests'], 'request')} ({split}"
        f"{duration_text(est['seconds'])} at {est['per_second']}/s, {est['per_minute']}/min)."
    )


def no_changes_line(doc: Mapping[str, Any]) -> str:
    """The line printed when there is nothing to do."""
    counts = doc["counts"]
    return (
        "No changes. The account matches the definitions "
        f"({counts['unchanged']} unchanged, {counts['unmanaged']} unmanaged)."
    )


#: One encoder for every value shown (``json.dumps`` with options builds a new one per call,
#: and a large plan shows hundreds of thousands of values).
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
_encode_str = json.encoder.encode_basestring  # what _ENCODER.encode does with a str


def _encoded(value: Any) -> str:
    """``_ENCODER.encode(value)``, with the scalars a plan is mostly made of written directly:
    the encoder builds a new C encoder for each number, true, false or null it is given, and
    a large plan shows hundreds of thousands of values. The same text (the C encoder writes an
    int with ``int.__repr__``; floats and everything else still go through it)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    t = type(value)
    if t is str:
        return _encode_str(value)
    if t is int:
        return int.__repr__(value)
    return _ENCODER.encode(value)


def value_text(value: Any, limit: int | None = 60) -> str:
    """A value as compact JSON; with ``limit``, long arrays/objects become ``[ ... ]`` /
    ``{ ... }`` and long strings are cut with ``...``. Control characters are escaped (JSON
    escapes C0; :func:`quoted` explains the rest), so a value can never span or forge lines.
    A string's look-alikes among ASCII text are escaped too (:func:`quoted_name`), alone or in
    an array of scalars: a create's ``https://ex\u0430mple.com`` (a Cyrillic ``а``) shows
    what it is. (Deeper containers are shown whole only by the JSON plan; a spread block shows
    each of their strings through this function.)"""
    if type(value) is str and not value.isascii():
        if limit is None or len(_encode_str(value)) <= limit:
            return quoted_name(value)
        return quoted_name(value[: limit - 5])[:-1] + '..."'
    if type(value) is list and _revealing(value):
        text = "[" + ", ".join(value_text(v, None) for v in value) + "]"
        if limit is None or len(text) <= limit:
            return text
        return f"[ ... {plural(len(value), 'item')} ]"
    text = _encoded(value)
    if limit is None or len(text) <= limit:
        return _json_safe(text)
    if isinstance(value, list):
        return f"[ ... {plural(len(value), 'item')} ]"
    if isinstance(value, dict):
        return f"{{ ... {plural(len(value), 'key')} }}"
    if isinstance(value, str):
        return _json_safe(json.dumps(value[: limit - 5], ensure_ascii=False)[:-1] + '..."')
    return _json_safe(text)


def _revealing(items: list[Any]) -> bool:
    """An array of scalars (the encoder's separators are ``, ``) with a string that is not
    ASCII: shown item by item, so that each string's look-alikes are revealed."""
    return any(type(v) is str and not v.isascii() for v in items) and not any(
        isinstance(v, (dict, list)) for v in items
    )


#: Characters of unchanged text shown on each side of what changed in a long string.
_CONTEXT = 20


def change_texts(before: Any, after: Any, limit: int | None = 60) -> tuple[str, str]:
    """``before`` and ``after`` of a changed value, as :func:`value_text` shows them, except
    that nothing the reviewer must see is cut. Of two strings too long to show whole, only the
    text both share is left out: each shows from a little before the first difference to a
    little after the last (``"...served to you by the App." -> "...served to you by the App!"``),
    so every difference is on screen however long the strings are (cut at 60 characters, the
    two sides of a change past them looked the same). Other values are shown whole (a value
    changing type, ``"x" -> {"en": "x"}``: rare, and one side is what will be sent)."""
    if not (isinstance(before, str) and isinstance(after, str)):
        return value_text(before, None), value_text(after, None)
    if limit is None or (len(_encode_str(before)) <= limit and len(_encode_str(after)) <= limit):
        return distinct(before, after)
    shortest = min(len(before), len(after))
    head = 0
    while head < shortest and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < shortest - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    start = max(head - _CONTEXT, 0)
    keep = max(tail - _CONTEXT, 0)
    return distinct(before, after, start, len(before) - keep, len(after) - keep)


def names_element(path: str) -> bool:
    """True when ``path`` ends with an array element named by identity (``messages["Old"]``)."""
    return _ELEMENT_END.search(path) is not None


_ELEMENT_END = re.compile(r'\["(?:[^"\\]|\\.)*"(?: \([^)]*\))?\]\Z')


def _move_text(entry: Mapping[str, Any], path: str, remotely: bool = False) -> str:
    """``labels: "b" moved 1 → 3`` (a scalar, shown by value) or ``messages["C"] moved 2 → 0``."""
    start, end = (
        (entry["after"], entry["before"]) if remotely else (entry["before"], entry["after"])
    )
    what = (
        path.rstrip()
        if entry.get("item") is None
        else (f"{path.rstrip()}: {value_text(entry['item'], None)}")
    )
    return f"{what} moved {'remotely ' if remotely else ''}{printable(start)} → {printable(end)}"


#: The path of an object's own name in a field diff (a create's ``+ name = ...``).
_NAME_PATH = "name"


def _field_text(entry: Mapping[str, Any], side: str, limit: int | None) -> str:
    """One side (``before`` / ``after``) of a field diff added or removed whole, as
    :func:`value_text` shows it; the object's name is shown whole, with its look-alikes
    among ASCII text escaped (:func:`hoodsync.lookalikes.quoted_name`: a create named
    ``D\\u0430ily news`` beside a live ``Daily news`` shows which is which)."""
    value = entry[side]
    if entry["path"] == _NAME_PATH and isinstance(value, str):
        return quoted_name(value)
    return value_text(value, limit)


def diff_line(entry: Mapping[str, Any], width: int = 0, limit: int | None = 60) -> tuple[str, str]:
    """``(symbol, text)`` for one field diff, e.g. ``("~", 'labels[1] = "sale" -> "promo"')``.
    Paths and values are escaped (:func:`printable`, :func:`value_text`): either may hold keys
    or text read from the account. An added value is shown whole (``limit`` does not cut it:
    the reviewer approves what will be sent); a removed message is its path alone
    (``- messages["Old"]``); a move is ``labels: "b" moved 1 → 3``."""
    path = printable(entry["path"]).ljust(width)
    op = entry["op"]
    if op == "add":
        return "+", f"{path} = {_field_text(entry, 'after', None)}"
    if op == "remove":
        if names_element(entry["path"]):
            return "-", path.rstrip()
        return "-", f"{path} = {_field_text(entry, 'before', limit)}"
    if op == "move":
        return "~", _move_text(entry, path)
    before, after = change_texts(entry["before"], entry["after"], limit)
    return "~", f"{path} = {before} -> {after}"


def drift_line(entry: Mapping[str, Any], width: int = 0, limit: int | None = 60) -> tuple[str, str]:
    """A field diff seen as drift: how the remote moved away from the definition
    (``definition value -> remote value``), escaped as :func:`diff_line` is."""
    path = printable(entry["path"]).ljust(width)
    op = entry["op"]
    if op == "add":  # the remote lost a field the definition states
        return "-", f"{path} = {_field_text(entry, 'after', limit)} (removed remotely)"
    if op == "remove":
        if names_element(entry["path"]):
            return "+", f"{path.rstrip()} (added remotely)"
        return "+", f"{path} = {_field_text(entry, 'before', limit)} (added remotely)"
    if op == "move":
        return "~", _move_text(entry, path, remotely=True)
    # The definition's value, then the remote's: what the remote changed is shown whole.
    wanted, remote = change_texts(entry["after"], entry["before"], limit)
    return "~", f"{path} = {wanted} -> {remote}"


#: One line of a spread value: (depth, text, opens) — ``opens`` is true for a line that shows a
#: value or opens a block (it carries the ``+``), false for a closing bracket.
Line = tuple[int, str, bool]

#: Keys shown without quotes in a spread block (as Terraform shows attribute names).
_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
#: An array of scalars stays on one line up to this many characters.
_INLINE_ARRAY = 60


@dataclass(frozen=True, slots=True)
class Spread:
    """An added object or array shown as Terraform shows a new resource: ``head`` opens it
    (``messages = [``), each of ``items`` is the lines of one element or key (one level
    deeper), ``tail`` closes it. Renderers cut a spread only between items."""

    head: str
    items: tuple[tuple[Line, ...], ...]
    tail: str

    def lines(self) -> list[Line]:
        """Every line, head to tail."""
        return (
            [(0, self.head, True)]
            + [x for item in self.items for x in item]
            + [(0, self.tail, False)]
        )


def spread(entry: Mapping[str, Any], width: int = 0) -> Spread | None:
    """The added value of ``entry`` spread over nested blocks, every leaf with its value, or
    ``None`` when it is not an ``add`` of a non-empty object or of an array too long or too
    nested for one line. Keys, strings and paths are escaped as :func:`diff_line` escapes."""
    value = entry["after"]
    if entry["op"] != "add" or _one_line(value) is not None:
        return None
    path = printable(entry["path"]).ljust(width)
    if isinstance(value, dict):
        keys = _key_width(value)
        items = tuple(
            tuple(_lines(f"{_key(k).ljust(keys)} = ", value[k], 1, "")) for k in sorted(value)
        )
        return Spread(f"{path} = {{", items, "}")
    items = tuple(tuple(_lines("", v, 1, ",")) for v in value)
    return Spread(f"{path} = [", items, "]")


def _one_line(value: Any) -> str | None:
    """``value``'s text when it is shown on one line (scalars, empty containers and short
    arrays of scalars), else ``None``. Each value is encoded once: a short array's text is
    both the test and the line, and this runs on every value of every created object."""
    if isinstance(value, (dict, list)):
        if value and (isinstance(value, dict) or any(isinstance(v, (dict, list)) for v in value)):
            return None
        text = value_text(value, None)
        return text if not value or len(text) <= _INLINE_ARRAY else None
    return value_text(value, None)


@functools.lru_cache(maxsize=4096)
def _key(key: Any) -> str:
    """A key as a spread block shows it: bare when it is a plain name, else quoted (cached:
    the same few keys — ``title``, ``en`` — repeat through every message of a large plan)."""
    text = str(key)
    return text if _BARE_KEY.match(text) else quoted(text)


def _key_width(value: Mapping[str, Any]) -> int:
    return min(32, max(map(len, map(_key, value))))


def _lines(prefix: str, value: Any, depth: int, comma: str) -> list[Line]:
    """``value`` at ``depth`` after ``prefix`` (``key = `` or nothing for an array element)."""
    text = _one_line(value)
    if text is not None:
        return [(depth, f"{prefix}{text}{comma}", True)]
    if isinstance(value, dict):
        width = _key_width(value)
        out: list[Line] = [(depth, prefix + "{", True)]
        for k in sorted(value):
            out += _lines(f"{_key(k).ljust(width)} = ", value[k], depth + 1, "")
        return out + [(depth, "}" + comma, False)]
    out = [(depth, prefix + "[", True)]
    for v in value:
        out += _lines("", v, depth + 1, ",")
    return out + [(depth, "]" + comma, False)]


def path_width(entries: Sequence[Mapping[str, Any]], cap: int = 32) -> int:
    """Column width that aligns the ``=`` of a block (capped so one long path does not push
    every line right)."""
    return min(cap, max((len(e["path"]) for e in entries), default=0))
