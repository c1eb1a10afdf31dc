"""Message previews people can look at: one self-contained HTML page per set of definitions.

:func:`render_preview` turns :class:`PreviewItem` s (an address, a kind, the spec after the change,
the remote spec before it or ``None``, and an action label) into ONE HTML page: push messages as a
notification card per language, email messages as sender / subject / preheader plus the HTML body
in a sandboxed ``<iframe srcdoc>`` per language, SMS as a phone bubble per language with character
and segment counts, Falconyte email campaigns as a summary card (they carry template ids, not
content). Updates show the remote (before) and the desired (after) message side by side.

Contracts:

- The page fetches nothing by itself: inline CSS, no script, no fonts, no stylesheet links, and a
  Content-Security-Policy that forbids scripts. The only outside references are images and links
  the definitions themselves name (``<img loading="lazy">`` over a fallback box, so the layout does
  not depend on them loading) and whatever the email HTML references inside its sandboxed frame.
- Every piece of user content is escaped; a ``<script>`` in a title renders as text. Only
  ``http(s)`` URLs ever become ``src`` / ``href`` attributes.
- Output is deterministic: the same items give the same bytes (no clock, no random ids).
- Warnings (missing translations, byte / character / segment limits, non-https links) are shown
  inline next to what they are about and are also returned as data by :func:`preview_warnings`,
  from the same code path, so the page and the list never disagree. Only the *after* side is
  checked: the remote (before) side is what exists already.

Nothing here does I/O; the CLI writes the page to a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from hoodsync.kinds.push_task import STATUS_WORDS
from hoodsync.model import Definition, Kind
from hoodsync.preview.cards import (
    EMAIL_HTML_MAX_CHARS,
    EMAIL_PREHEADER_MAX_CHARS,
    EMAIL_SUBJECT_MAX_CHARS,
    PUSH_BODY_MAX_BYTES,
    PUSH_TITLE_MAX_BYTES,
    SMS_MAX_SEGMENTS,
    Sink,
    blocks,
    esc,
    render_block,
    targeted_languages,
)
from hoodsync.preview.compare import Pair, pairs
from hoodsync.preview.sms import SmsInfo, sms_info
from hoodsync.preview.style import CSP, CSS
from hoodsync.wire import to_int

__all__ = [
    "PreviewItem",
    "SmsInfo",
    "items_from_definitions",
    "preview_warnings",
    "render_preview",
    "sms_info",
    "PUSH_TITLE_MAX_BYTES",
    "PUSH_BODY_MAX_BYTES",
    "SMS_MAX_SEGMENTS",
    "EMAIL_SUBJECT_MAX_CHARS",
    "EMAIL_PREHEADER_MAX_CHARS",
    "EMAIL_HTML_MAX_CHARS",
]


class PreviewItem(NamedTuple):
    """One object to preview: ``after`` is the desired spec, ``before`` the remote one (or None),
    ``state`` the definition's ``state:`` (None when it states none)."""

    address: str
    kind: Kind
    after: Mapping[str, Any]
    before: Mapping[str, Any] | None = None
    action: str = "definition"
    state: str | None = None


def items_from_definitions(
    definitions: Iterable[Definition],
    *,
    before: Mapping[str, Mapping[str, Any]] | None = None,
    actions: Mapping[str, str] | None = None,
) -> list[PreviewItem]:
    """One item per definition, in (kind, key) order.

    ``before`` maps an address to the remote spec it replaces; ``actions`` maps an address to the
    label shown on its card (default ``"update"`` when a before spec is given, else
    ``"definition"``).
    """
    before = before or {}
    actions = actions or {}
    items = []
    for d in sorted(definitions, key=lambda d: (d.kind.value, d.key)):
        prior = before.get(d.address)
        label = actions.get(d.address, "update" if prior is not None else "definition")
        items.append(PreviewItem(d.address, d.kind, d.spec, prior, label, d.state))
    return items


def _duration(seconds: Any) -> str:
    """``86400`` → ``1 d``, ``3600`` → ``1 h``, ``90`` → ``90 s``; anything else as given."""
    text = str(seconds)
    if not text.isdigit() or int(text) == 0:
        return text
    value = int(text)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if value % size == 0:
            return f"{value // size} {unit}"
    return f"{value} s"


def _two(value: Any) -> str:
    """An hour or minute as two digits (``9`` → ``09``); anything else as given."""
    return f"{value:02d}" if isinstance(value, int) else str(value if value is not None else "00")


def _push_status(spec: Mapping[str, Any], state: str | None) -> tuple[str | None, str]:
    """The status word a push task is to have, and where that comes from. As the planner
    has it, ``state:`` (active / inactive) wins over ``spec.status`` (1 / 0)."""
    if state is not None:
        return state, f"state: {state}"
    status = to_int(spec.get("status"))
    word = STATUS_WORDS.get(status) if isinstance(status, int) else None
    return word, f"status {status}"


def _push_schedule(spec: Mapping[str, Any], state: str | None) -> str:
    """When a push task sends: its start and repetition, unless its status says it does not."""
    when = ", ".join(
        x
        for x in (
            f"starts {spec['start_time']}" if spec.get("start_time") else "",
            f"every {_duration(spec['frequency'])}" if spec.get("frequency") else "",
            f"cron {spec['cron']}" if spec.get("cron") else "",
        )
        if x
    )
    word, why = _push_status(spec, state)
    if word == "inactive":
        return f"nothing: inactive ({why})" + (f"; when active: {when}" if when else "")
    if word == "finished":
        return f"nothing: finished ({why})"
    return ", ".join(x for x in (word, when) if x)


def _campaign_schedule(spec: Mapping[str, Any]) -> str:
    """When a campaign sends, from its creation and execution options."""
    recurrence = spec.get("recurrence")
    if spec.get("is_draft"):
        return "draft (saved, not started)"
    if spec.get("run_immediately"):
        return "sends as soon as it is created"
    if isinstance(recurrence, Mapping) and recurrence.get("cron"):
        return f"recurring, cron {recurrence['cron']}"
    if isinstance(recurrence, Mapping) and isinstance(recurrence.get("pattern"), Mapping):
        p = recurrence["pattern"]
        days = ",".join(str(x) for x in p.get("weekdays") or []) or "every day"
        months = ",".join(str(x) for x in p.get("months") or []) or "every month"
        return (
            f"recurring at {_two(p.get('hour'))}:{_two(p.get('minute'))} UTC, "
            f"weekdays {days}, months {months}"
        )
    if spec.get("scheduled_time"):
        return f"scheduled for {spec['scheduled_time']} UTC"
    return "manual (sent on command)"


def _schedule(kind: Kind, spec: Mapping[str, Any], state: str | None) -> str:
    """A one-line summary of when the object sends. A ``state:`` that stops it sending says
    so first: the page never claims that something sends when its definition says it will not
    (a campaign being canceled, a paused one, an inactive push task, a stopped email campaign).
    """
    if kind is Kind.PUSH_TASK:
        return _push_schedule(spec, state)
    if kind is Kind.EMAIL_CAMPAIGN:
        if state == "stopped":
            return "nothing: stopped (state: stopped)"
        return "when one of its events happens"
    if state == "canceled":
        return "nothing: canceled for good (state: canceled)"
    when = _campaign_schedule(spec)
    if state != "paused":
        return when
    if spec.get("run_immediately") and not spec.get("is_draft"):
        # Created with run_immediately, it sends at once; the pause follows the create.
        return (
            "nothing while paused (state: paused); created with run_immediately, it starts "
            "sending at once and is paused right after"
        )
    return f"nothing while paused (state: paused); when resumed: {when}"


def _meta(kind: Kind, spec: Mapping[str, Any], state: str | None) -> str:
    """Definition-list rows: state, when it sends, targeted languages and countries, A/B test."""
    rows: list[tuple[str, str]] = [("State", state)] if state else []
    rows.append(("Sends", _schedule(kind, spec, state)))
    targeting = spec.get("targeting")
    for key in ("languages", "countries"):
        target = targeting.get(key) if isinstance(targeting, Mapping) else None
        if isinstance(target, Mapping) and isinstance(target.get("items"), list):
            items = ", ".join(map(str, target["items"]))
            rows.append((key.capitalize(), f"{target.get('op')} {items}"))
    ab = spec.get("ab_test")
    if isinstance(ab, Mapping):
        rows.append(
            (
                "A/B test",
                f"{ab.get('test_split', '?')} % test split, window "
                f"{ab.get('evaluation_window', '?')}, "
                f"by {ab.get('winning_metric', '?')}, "
                f"{ab.get('winner_delivery_mode', '?')} winner",
            )
        )
    return "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in rows)


def _badge(action: str) -> str:
    """The action label as a coloured badge; none for plain definitions (nothing to say)."""
    if action == "definition":
        return ""
    tone = {
        "create": "good",
        "update": "change",
        "replace": "change",
        "unchanged": "quiet",
        "cancel": "bad",
        "stop": "bad",
        "deactivate": "bad",
    }
    return f'<span class="badge {tone.get(action, "info")}">{esc(action)}</span>'


def _row(pair: Pair, old_t: Sequence[str], new_t: Sequence[str], sink: Sink) -> str:
    """One message of an update: its chip(s), then before and after side by side."""
    label = pair.new.label if pair.new else pair.old.label if pair.old else ""
    chips = f'<span class="chip {pair.state}">{pair.state}</span>'
    if pair.moved and pair.state != "moved":
        chips += ' <span class="chip moved">moved</span>'
    silent = Sink(sink.address, active=False)
    left = (
        render_block(pair.old, old_t, silent) if pair.old else '<p class="muted">Not present.</p>'
    )
    right = render_block(pair.new, new_t, sink) if pair.new else '<p class="muted">Removed.</p>'
    return (
        f'<section class="message"><h3>{esc(label)} {chips}</h3><div class="compare">'
        f"<div><h4>Before (remote)</h4>{left}</div><div><h4>After</h4>{right}</div></div>"
        "</section>"
    )


def _compare(item: PreviewItem, before: Mapping[str, Any], sink: Sink) -> str:
    """Before (remote) and after (desired) side by side, message by message, paired and
    named as the plan pairs and names them (:mod:`hoodsync.preview.compare`)."""
    old_t, new_t = targeted_languages(before), targeted_languages(item.after)
    return "".join(_row(p, old_t, new_t, sink) for p in pairs(item.kind, before, item.after))


def _render_item(index: int, item: PreviewItem, sink: Sink) -> str:
    """One object: heading, action badge, schedule/targeting summary, then its messages."""
    name = item.after.get("name")
    if item.before is not None:
        body = _compare(item, item.before, sink)
    else:
        targeted = targeted_languages(item.after)
        sections = "".join(
            f'<section class="message"><h3>{esc(b.label)}</h3>'
            f"{render_block(b, targeted, sink)}</section>"
            for b in blocks(item.kind, item.after)
        )
        body = f'<div class="messages">{sections}</div>' if sections else ""
    body = body or '<p class="muted">No message content to show.</p>'
    return (
        f'<article class="item" id="item-{index}" aria-labelledby="item-{index}-h">'
        f'<header><h2 id="item-{index}-h"><code>{esc(item.address)}</code>'
        f"{' ' + esc(name) if isinstance(name, str) else ''}</h2>{_badge(item.action)}</header>"
        f'<dl class="meta">{_meta(item.kind, item.after, item.state)}</dl>{body}</article>'
    )


def preview_warnings(items: Sequence[PreviewItem]) -> list[str]:
    """Every warning :func:`render_preview` shows, as ``address: message (json.path)`` lines.

    Items in the given order, each item's warnings in document order (deterministic).
    """
    out: list[str] = []
    for i, item in enumerate(items):
        sink = Sink(item.address)
        _render_item(i, item, sink)
        out.extend(sink.warnings)
    return out


def render_preview(items: Sequence[PreviewItem], *, title: str = "hoodsync preview") -> str:
    """One self-contained HTML page previewing ``items`` (see the module docstring)."""
    sections: list[str] = []
    nav: list[str] = []
    warnings: list[tuple[int, str]] = []
    for i, item in enumerate(items):
        sink = Sink(item.address)
        sections.append(_render_item(i, item, sink))
        warnings.extend((i, w) for w in sink.warnings)
        count = len(sink.warnings)
        flag = f' <span class="wcount">⚠ {count}</span>' if count else ""
        nav.append(
            f'<li><a href="#item-{i}"><code>{esc(item.address)}</code></a> '
            f"{_badge(item.action)}{flag}</li>"
        )
    kinds = sorted({item.kind.value for item in items})
    per_kind = ", ".join(f"{sum(1 for it in items if it.kind.value == k)} {k}" for k in kinds)
    summary = (
        f"{len(items)} object(s){': ' + per_kind if per_kind else ''} · {len(warnings)} warning(s)"
    )
    warn_list = "".join(f'<li><a href="#item-{i}">{esc(w)}</a></li>' for i, w in warnings)
    warn_html = (
        (
            f'<section class="all-warnings" aria-labelledby="w-h"><h2 id="w-h">Warnings</h2>'
            f"<ul>{warn_list}</ul></section>"
        )
        if warnings
        else ""
    )
    main = "".join(sections) or '<p class="muted">Nothing to preview.</p>'
    nav_html = (f'<nav aria-label="Objects"><ul>{"".join(nav)}</ul></nav>') if nav else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<header class="top"><h1>{esc(title)}</h1><p>{esc(summary)}</p></header>'
        f'<div class="layout">{nav_html}<main>{warn_html}{main}</main></div>'
        "<footer><p>Images are loaded from the addresses the definitions name; a grey box stands "
        "in for any that cannot be loaded. Email bodies are shown in sandboxed frames.</p>"
        "</footer></body></html>\n"
    )
