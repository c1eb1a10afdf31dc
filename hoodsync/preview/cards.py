"""The cards of one message: push notifications, emails, SMS bubbles, Falconyte summaries.

Internal to :mod:`hoodsync.preview`. A :class:`Block` is one message of an object (a campaign
message, a push task's message or AdEx fallback, a Falconyte campaign); :func:`render_block` turns
it into one card per language and reports warnings to a :class:`Sink`, which both records them
(for :func:`hoodsync.preview.preview_warnings`) and returns their inline markup, so the page and
the warning list come from one code path.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from hoodsync.errors import format_json_path
from hoodsync.model import JsonPath, Kind
from hoodsync.preview.sms import sms_info
from hoodsync.terminal import printable

__all__ = [
    "Block",
    "Sink",
    "blocks",
    "esc",
    "render_block",
    "targeted_languages",
    "PUSH_TITLE_MAX_BYTES",
    "PUSH_BODY_MAX_BYTES",
    "SMS_MAX_SEGMENTS",
    "EMAIL_SUBJECT_MAX_CHARS",
    "EMAIL_PREHEADER_MAX_CHARS",
    "EMAIL_HTML_MAX_CHARS",
]

# Push text limits are counted in UTF-8 bytes (hood-api reference §4.2). The docs only give "a
# 60-byte field" as their worked example and state no per-field figures, so title <= 60 bytes is
# that documented example figure and body <= 120 bytes is a conservative choice of ours. Campaign
# push messages have no documented limit; the same figures are applied to them because the
# notification is truncated by the device just the same (a warning, never an error).
PUSH_TITLE_MAX_BYTES = 60
PUSH_BODY_MAX_BYTES = 120
#: More SMS parts than this is worth a warning (cost and delivery both suffer).
SMS_MAX_SEGMENTS = 3
# Email limits from the historical schema revision quoted in hood-api reference §3.3.
EMAIL_SUBJECT_MAX_CHARS = 78
EMAIL_PREHEADER_MAX_CHARS = 100
EMAIL_HTML_MAX_CHARS = 65_535

#: Pseudo-language of content written as plain strings (AdEx fallback notifications).
_ANY_LANG = "*"


def esc(value: object) -> str:
    """Escape for element text and double-quoted attributes."""
    return html.escape(str(value), quote=True)


def _safe_url(value: Any) -> str | None:
    """``value`` if it is an absolute http(s) URL (the only kind put in src/href), else None."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def _host(url: str) -> str:
    """The host of ``url`` as the page shows it (invisible and bidi characters escaped)."""
    try:
        return printable(urlsplit(url).hostname or url)
    except ValueError:
        return printable(url)


def _is_https(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.netloc)


def _text(value: Any, lang: str) -> str | None:
    """The text for ``lang`` from a language map, or a plain string (same for every language)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        text = value.get(lang)
        return text if isinstance(text, str) else None
    return None


def _map_langs(values: Iterable[Any]) -> set[str]:
    return {k for v in values if isinstance(v, Mapping) for k in v}


def _ordered_langs(langs: Iterable[str], primary: str | None) -> list[str]:
    """Primary language first, then alphabetical."""
    return sorted(set(langs), key=lambda lang: (lang != primary, lang))


def targeted_languages(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """Languages the object is sent to: ``targeting.languages.items`` with an including op."""
    targeting = spec.get("targeting")
    languages = targeting.get("languages") if isinstance(targeting, Mapping) else None
    if not isinstance(languages, Mapping) or languages.get("op") not in ("in", "include"):
        return ()
    items = languages.get("items")
    return tuple(str(x) for x in items) if isinstance(items, list) else ()


@dataclass
class Sink:
    """Collects warnings while rendering; an inactive sink (the before side) shows none.

    Warnings quote values from the definitions (URLs, language codes). Each is recorded, and
    shown inline, with every character a terminal would act on or that shows as nothing
    (bidi overrides and isolates, zero-width spaces, byte order marks, controls) written as an
    escape by :func:`hoodsync.terminal.printable`: the CLI prints these lines, and on the page
    a warning about a URL must show what the URL really holds, not what it pretends to be."""

    address: str
    active: bool = True
    warnings: list[str] = field(default_factory=list)

    def warn(self, path: JsonPath, message: str) -> str:
        """Record a warning and return its inline markup ("" when inactive)."""
        if not self.active:
            return ""
        shown, where = printable(message), printable(format_json_path(path))
        self.warnings.append(f"{printable(self.address)}: {shown} ({where})")
        return (
            f'<p class="warn" role="note"><span aria-hidden="true">⚠</span> {esc(shown)}'
            f" <code>{esc(where)}</code></p>"
        )


class Block(NamedTuple):
    """One message of an object: its heading, channel, content object and JSON path."""

    label: str
    channel: str  # push | email | sms | falconyte
    content: Mapping[str, Any]
    path: JsonPath
    primary: str | None


def blocks(kind: Kind, spec: Mapping[str, Any]) -> list[Block]:
    """The messages of a spec, in document order."""
    if kind is Kind.EMAIL_CAMPAIGN:
        return [Block("Email campaign (Falconyte)", "falconyte", spec, ("spec",), None)]
    out: list[Block] = []
    if kind is Kind.PUSH_TASK:
        message = spec.get("message")
        if isinstance(message, Mapping):
            out.append(Block("Push message", "push", message, ("spec", "message"), None))
        adex = spec.get("adex")
        fallback = adex.get("fallback_message") if isinstance(adex, Mapping) else None
        if isinstance(fallback, Mapping):
            path: JsonPath = ("spec", "adex", "fallback_message")
            out.append(Block("AdEx fallback notification", "push", fallback, path, None))
        return out
    messages = spec.get("messages")
    for i, msg in enumerate(messages if isinstance(messages, list) else []):
        if not isinstance(msg, Mapping):
            continue
        channel = str(msg.get("channel", "push"))
        content = msg.get(channel)
        name = msg.get("name")
        label = f"Message {i + 1} · {channel}" + (f" · {name}" if isinstance(name, str) else "")
        primary = msg.get("primary_lang") if isinstance(msg.get("primary_lang"), str) else None
        out.append(
            Block(
                label,
                channel,
                content if isinstance(content, Mapping) else {},
                ("spec", "messages", i, channel),
                primary,
            )
        )
    return out


# --------------------------------------------------------------------------- languages

#: Per channel, the text fields every language should have.
_TEXT_FIELDS: Mapping[str, tuple[str, ...]] = {
    "push": ("title", "body"),
    "email": ("subject", "preheader", "html"),
    "sms": ("content",),
}


def _text_fields(block: Block) -> list[tuple[str, Any]]:
    """(name, value) of the fields that need a translation, action titles included."""
    fields = [(name, block.content.get(name)) for name in _TEXT_FIELDS.get(block.channel, ())]
    actions = block.content.get("actions")
    for i, action in enumerate(actions if isinstance(actions, list) else []):
        if isinstance(action, Mapping):
            fields.append((f"actions[{i}].title", action.get("title")))
    return [(name, value) for name, value in fields if value is not None]


def _block_langs(block: Block, targeted: Sequence[str]) -> list[str]:
    """Languages to show a card for: every language named, plus targeted and primary ones."""
    named = _map_langs([v for _, v in _text_fields(block)] + [block.content.get("image")])
    if not named and not targeted and block.primary is None:
        return [_ANY_LANG]
    extra = {block.primary} if block.primary else set()
    return _ordered_langs(named | set(targeted) | extra, block.primary)


def _missing(block: Block, lang: str, targeted: Sequence[str], sink: Sink) -> tuple[bool, str]:
    """(has no text at all, warning markup) for ``lang`` in ``block``."""
    fields = _text_fields(block)
    missing = [name for name, value in fields if _text(value, lang) is None]
    if not missing:
        return False, ""
    if lang in targeted:
        reason = "targeted language"
    elif lang == block.primary:
        reason = "primary_lang"
    else:
        reason = "language"
    fields_text = ", ".join(missing)
    note = sink.warn(block.path, f"missing translation for {reason} '{lang}': {fields_text}")
    return len(missing) == len(fields), note


def _label(lang: str) -> str:
    return "any language" if lang == _ANY_LANG else lang


def _caption(lang: str, block: Block, targeted: Sequence[str], channel: str) -> str:
    """Language code, primary/targeted chips and the channel, above each card."""
    flags = (("primary", lang == block.primary), ("targeted", lang in targeted))
    chips = "".join(f' <span class="chip">{t}</span>' for t, on in flags if on)
    return (
        f'<figcaption><span class="lang">{esc(_label(lang))}</span>{chips} '
        f'<span class="channel">{channel}</span></figcaption>'
    )


def _stub_card(lang: str, block: Block, targeted: Sequence[str], note: str) -> str:
    """A dashed placeholder for a language that has no text in this message."""
    fallback = ""
    if block.primary and block.primary != lang:
        fallback = (
            f'<p class="muted">Profiles with language {esc(lang)} get the primary '
            f"language ({esc(block.primary)}) text.</p>"
        )
    return (
        f'<figure class="card stub" aria-label="{esc(block.channel)} message, {esc(lang)}: '
        f'missing translation">{_caption(lang, block, targeted, block.channel)}'
        f'<p class="stub-title">Missing translation</p>{fallback}{note}</figure>'
    )


# --------------------------------------------------------------------------- cards


def _image_box(url: Any, css: str, label: str, fallback: str) -> str:
    """An image over a fallback box: the layout never depends on the image loading.

    ``fallback`` is shown when the image cannot load: in the box under the image, and again
    through the image's ``::before`` (browsers draw pseudo-elements only on a broken image),
    which hides the broken-image glyph.
    """
    safe = _safe_url(url)
    if safe is None:
        return ""
    return (
        f'<div class="{css}" role="img" aria-label="{esc(label)}: {esc(_host(safe))}">'
        f'<span class="img-fallback" aria-hidden="true">{esc(fallback)}</span>'
        f'<img src="{esc(safe)}" alt="" data-fallback="{esc(fallback)}" loading="lazy" '
        f'decoding="async" referrerpolicy="no-referrer"></div>'
    )


def _link(url: str) -> str:
    """A link to ``url`` when it is http(s), else its text. The text shown has invisible and
    bidi characters escaped (:func:`hoodsync.terminal.printable`): a reader must see where it
    goes (``…/\\u202elmth.xedni`` rather than an ``index.html`` it is not)."""
    safe = _safe_url(url)
    text = printable(url)
    shown = esc(text if len(text) <= 60 else text[:57] + "…")
    if safe is None:
        return f"<span>{shown}</span>"
    return f'<a href="{esc(safe)}" rel="noopener noreferrer nofollow" target="_blank">{shown}</a>'


def _count(label: str, value: int, limit: int, unit: str) -> str:
    css = "over" if value > limit else ""
    return f'<span class="{css}">{label} {value}/{limit} {unit}</span>'


def _tag(lang: str) -> str:
    """``[en]`` for a language-map entry; nothing for plain-string content."""
    return "" if lang == _ANY_LANG else f"[{lang}]"


def _push_head(c: Mapping[str, Any], title: str, body: str, landing: str | None) -> str:
    """Icon (over its initial-letter fallback), site, title and body of a notification."""
    initial = ((_host(landing)[:1] if landing else "") or "•").upper()
    return (
        f'<div class="push-head"><div class="icon-wrap" aria-hidden="true">{esc(initial)}'
        f'{_image_box(c.get("icon"), "icon", "Icon", initial)}</div><div class="push-text">'
        f'<p class="site">{esc(_host(landing)) if landing else "—"}</p>'
        f'<p class="title">{esc(title)}</p><p class="body">{esc(body)}</p></div></div>'
    )


def _push_card(block: Block, lang: str, targeted: Sequence[str], sink: Sink, note: str) -> str:
    """A notification as a desktop browser shows it, with UTF-8 byte counts."""
    c, path = block.content, block.path
    title = _text(c.get("title"), lang) or ""
    body = _text(c.get("body"), lang) or ""
    landing = c.get("landing_url") if isinstance(c.get("landing_url"), str) else None
    image = _text(c.get("image"), lang)
    parts = [
        f'<figure class="card push" aria-label="Push notification, {esc(_label(lang))}">',
        _caption(lang, block, targeted, "push"),
        _push_head(c, title, body, landing),
        _image_box(image, "hero", "Image", f"image · {_host(image)}" if image else ""),
    ]
    actions = [a for a in c.get("actions") or [] if isinstance(a, Mapping)]
    if actions:
        buttons = "".join(
            f'<span class="btn">{esc(_text(a.get("title"), lang) or "—")}</span>' for a in actions
        )
        parts.append(f'<div class="actions" aria-label="Action buttons">{buttons}</div>')
    if landing:
        parts.append(f'<p class="landing">Opens {_link(landing)}</p>')
    t_bytes, b_bytes = len(title.encode()), len(body.encode())
    parts.append(
        f'<p class="counts">{_count("title", t_bytes, PUSH_TITLE_MAX_BYTES, "B")} · '
        f"{_count('body', b_bytes, PUSH_BODY_MAX_BYTES, 'B')}</p>{note}"
    )
    for name, size, limit in (
        ("title", t_bytes, PUSH_TITLE_MAX_BYTES),
        ("body", b_bytes, PUSH_BODY_MAX_BYTES),
    ):
        if size > limit:
            parts.append(
                sink.warn(
                    (*path, name + _tag(lang)), f"{name} is {size} bytes in UTF-8 (limit {limit})"
                )
            )
    return "".join(parts) + "</figure>"


def _push_links(block: Block, sink: Sink) -> str:
    """Message-level warnings: landing and action URLs that are not https."""
    out = []
    landing = block.content.get("landing_url")
    if isinstance(landing, str) and not _is_https(landing):
        out.append(sink.warn((*block.path, "landing_url"), f"landing URL is not https: {landing}"))
    actions = block.content.get("actions")
    for i, action in enumerate(actions if isinstance(actions, list) else []):
        url = action.get("url") if isinstance(action, Mapping) else None
        if isinstance(url, str) and not _is_https(url):
            out.append(
                sink.warn((*block.path, "actions", i, "url"), f"action URL is not https: {url}")
            )
    return "".join(out)


def _sender(c: Mapping[str, Any]) -> str:
    """``Name <address>``, or whichever half is stated, or a dash."""
    name, address = c.get("sender_name"), c.get("sender_email")
    parts = [
        x
        for x in (name, f"<{address}>" if isinstance(address, str) else None)
        if isinstance(x, str)
    ]
    return " ".join(parts) or "—"


def _email_card(block: Block, lang: str, targeted: Sequence[str], sink: Sink, note: str) -> str:
    """Sender, subject, preheader and the HTML body in a sandboxed frame."""
    c, path = block.content, block.path
    texts = {name: _text(c.get(name), lang) or "" for name in ("subject", "preheader", "html")}
    rows = [("From", _sender(c)), ("Subject", texts["subject"] or "—")]
    counts = [_count("subject", len(texts["subject"]), EMAIL_SUBJECT_MAX_CHARS, "chars")]
    if texts["preheader"]:
        rows.append(("Preheader", texts["preheader"]))
        counts.append(
            _count("preheader", len(texts["preheader"]), EMAIL_PREHEADER_MAX_CHARS, "chars")
        )
    counts.append(f"<span>html {len(texts['html'])} chars</span>")
    head = "".join(f"<dt>{k}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    parts = [
        f'<figure class="card email" aria-label="Email, {esc(_label(lang))}">',
        _caption(lang, block, targeted, "email"),
        f'<dl class="email-head">{head}</dl>',
        # sandbox="": no scripts, forms, popups or navigation; a unique opaque origin.
        f'<iframe sandbox="" referrerpolicy="no-referrer" '
        f'title="Email body, {esc(_label(lang))}" srcdoc="{esc(texts["html"])}"></iframe>',
        f'<p class="counts">{" · ".join(counts)}</p>',
        note,
    ]
    for name, limit in (
        ("subject", EMAIL_SUBJECT_MAX_CHARS),
        ("preheader", EMAIL_PREHEADER_MAX_CHARS),
        ("html", EMAIL_HTML_MAX_CHARS),
    ):
        if len(texts[name]) > limit:
            where = name + (_tag(lang) if isinstance(c.get(name), Mapping) else "")
            parts.append(
                sink.warn(
                    (*path, where), f"{name} is {len(texts[name])} characters (limit {limit})"
                )
            )
    return "".join(parts) + "</figure>"


def _sms_card(block: Block, lang: str, targeted: Sequence[str], sink: Sink, note: str) -> str:
    """A phone-style bubble with character, encoding and segment counts."""
    text = _text(block.content.get("content"), lang) or ""
    info = sms_info(text)
    unit = "septets" if info.encoding == "GSM-7" else "code units"
    units = f" ({info.units} {unit})" if info.units != info.characters else ""
    over = "over" if info.segments > SMS_MAX_SEGMENTS else ""
    parts = [
        f'<figure class="card sms" aria-label="SMS, {esc(_label(lang))}">',
        _caption(lang, block, targeted, "sms"),
        f'<div class="phone"><p class="bubble">{esc(text)}</p></div>',
        f'<p class="counts"><span class="{over}">{info.characters} characters{units} · '
        f"{info.encoding} · {info.segments} segment{'' if info.segments == 1 else 's'}"
        f"</span></p>",
        note,
    ]
    if over:
        parts.append(
            sink.warn(
                (*block.path, "content" + _tag(lang)),
                f"SMS needs {info.segments} segments ({info.encoding}; "
                f"more than {SMS_MAX_SEGMENTS})",
            )
        )
    return "".join(parts) + "</figure>"


def _falconyte_card(spec: Mapping[str, Any]) -> str:
    def ids(key: str) -> str:
        values = spec.get(key)
        items = "".join(
            f"<li><code>{esc(v)}</code></li>" for v in (values if isinstance(values, list) else [])
        )
        return f'<ul class="ids">{items}</ul>'

    events = spec.get("events")
    chips = "".join(
        f'<span class="chip">{esc(ev)}</span> '
        for ev in (events if isinstance(events, list) else [])
    )
    return (
        '<figure class="card falconyte" aria-label="Falconyte email campaign">'
        '<figcaption><span class="channel">event-triggered email</span></figcaption>'
        f'<p class="title">{esc(spec.get("name", "—"))}</p>'
        f'<dl class="email-head"><dt>Events</dt><dd>{chips or "—"}</dd>'
        f"<dt>Templates</dt><dd>{ids('template_ids')}</dd>"
        f"<dt>Mail accounts</dt><dd>{ids('mail_account_ids')}</dd></dl>"
        '<p class="muted">Falconyte campaigns carry template ids, not content: the templates '
        "are edited in Falconyte.</p></figure>"
    )


_CARDS = {"push": _push_card, "email": _email_card, "sms": _sms_card}


def render_block(block: Block, targeted: Sequence[str], sink: Sink) -> str:
    """The cards of one message (one per language) and its message-level warnings."""
    if block.channel == "falconyte":
        return _falconyte_card(block.content)
    card = _CARDS.get(block.channel)
    if card is None:
        return sink.warn(block.path, f"cannot preview channel {block.channel!r}")
    cards = []
    for lang in _block_langs(block, targeted):
        empty, note = _missing(block, lang, targeted, sink)
        if empty and lang != _ANY_LANG:
            cards.append(_stub_card(lang, block, targeted, note))
        else:
            cards.append(card(block, lang, targeted, sink, note))
    # Message-level warnings go under the cards so before/after cards stay level.
    links = _push_links(block, sink) if block.channel == "push" else ""
    return f'<div class="cards">{"".join(cards)}</div>{links}'
