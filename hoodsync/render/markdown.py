"""Markdown rendering for a pull-request comment. Reads only the ``Plan.to_dict()`` document.

Order — everything that can block or surprise comes before any detail:

1. the summary: title, account, a caution when apply's safety guard will refuse the plan, the
   summary table and line, a warning banner for removals (cancel, stop, deactivate), immediate
   sends (each with its cause: ``run_immediately``, ``start_time: immediately``, ...), draft
   launches, second copies,
   look-alike names, creates beside sent campaigns and edits of running campaigns, the errors
   and warnings;
2. every changed resource by name, in a compact list grouped by action;
3. one ``<details>`` block per resource with its field diff; an added object or array (a new
   campaign's messages) is spread over nested blocks with every leaf, as the text plan shows it;
4. orphans and superseded objects.

Size: a comment stays within ``max_chars`` (GitHub refuses comments over 65,536 characters; the
default leaves room for the marker line and link the CI templates add). Sizes are counted in
UTF-8 bytes, never fewer than characters, so a CI step that counts either agrees. The summary is
never cut. The list of names is cut only if it alone would not fit, at a whole name. Detail is
cut only when the budget forces it: whole blocks from the end, the last one shown cut between
whole fields or array items, and the comment says what was left out. :func:`render_accounts`
puts several accounts' plans in one comment under one budget, each account's part being what
:func:`render` gives for it alone, within its share.

Text read from an account or a definition (names, statuses, ids, keys, URLs, and the notes,
descriptions and refusals that quote them) is written in code spans (:func:`_code`, or
``<code>`` inside HTML tags): a remote campaign named ``![x](https://…)`` shows those
characters, never an image or a link, and one named ``@octocat see www.example.com`` is neither
a mention (GitHub notifies whoever is mentioned, and a backslash does not stop it) nor a link:
GitHub makes neither inside code. Only hoodsync's own words and numbers are written as prose.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hoodsync.render.common import (
    SUMMARY_ORDER,
    diff_line,
    drift_line,
    estimate_line,
    header_line,
    no_changes_line,
    plural,
    printable,
    quoted_name,
    sandbox_line,
    spread,
    summary_line,
    warning_items,
)

__all__ = ["render", "render_accounts", "escape", "GITHUB_LIMIT", "COMMENT_BUDGET"]

GITHUB_LIMIT = 65_536
#: Room left for what CI adds around the plan (the hidden marker line that finds the comment
#: again, the link to the artifacts).
CI_RESERVE = 1_536
#: The default size of one comment.
COMMENT_BUDGET = GITHUB_LIMIT - CI_RESERVE
#: Addresses named per banner line / notes listed in the summary before "and N more".
_LIST_CAP = 20
#: Room kept for the closing notices while detail is packed.
_NOTICE_RESERVE = 700
#: A details block is cut rather than dropped only when at least this much room is left.
_MIN_CUT_ROOM = 1_000
#: Between two accounts' parts of one comment.
_ACCOUNT_SEPARATOR = "\n---\n\n"


def render(
    doc: Mapping[str, Any], *, max_chars: int = COMMENT_BUDGET, refusal: str | None = None
) -> str:
    """The plan as GitHub-flavoured markdown, at most ``max_chars`` (UTF-8 bytes). ``refusal``:
    why apply's safety guard would refuse this plan (shown first, never cut), or ``None``."""
    head = "\n".join(_head(doc, refusal)) + "\n"
    budget = max_chars - _NOTICE_RESERVE
    used = _size(head)
    parts = [head]
    names, names_cut = _names_section(doc, budget - used)
    if names:
        parts.append("\n" + names)
        used += _size(names) + 1
    details, hidden, cut = _details_section(doc, budget - used)
    if details:
        parts.append("\n" + details)
        used += _size(details) + 1
    listing = _listing(doc)
    if listing and used + _size(listing) + 1 <= budget:
        parts.append("\n" + listing)
    notice = _cut_notice(hidden, cut, names_cut, max_chars)
    if notice:
        parts.append("\n" + notice)
    return _fit("".join(parts), max_chars)


def render_accounts(
    plans: Sequence[tuple[Mapping[str, Any], str | None]],
    *,
    max_chars: int = COMMENT_BUDGET,
) -> str:
    """Several accounts' plans (each ``(doc, refusal)``) as one comment of at most ``max_chars``.
    Each account's part is :func:`render` of its plan alone, so it stands on its own (title,
    summary, names, details); the budget is shared so that an account needing less than an
    equal share leaves the rest to the others."""
    if len(plans) == 1:
        doc, refusal = plans[0]
        return render(doc, max_chars=max_chars, refusal=refusal)
    room = max_chars - _size(_ACCOUNT_SEPARATOR) * (len(plans) - 1)
    # What each part needs to be shown whole (render keeps _NOTICE_RESERVE free while packing).
    needs = [
        _size(render(doc, max_chars=10**9, refusal=refusal)) + _NOTICE_RESERVE
        for doc, refusal in plans
    ]
    shares = _shares(needs, room)
    return _ACCOUNT_SEPARATOR.join(
        render(doc, max_chars=share, refusal=refusal)
        for (doc, refusal), share in zip(plans, shares)
    )


def _shares(needs: Sequence[int], room: int) -> list[int]:
    """Split ``room`` over parts needing ``needs``: whoever needs less than an equal share of
    what is left gets what it needs, the others split the rest equally (water-filling)."""
    shares = [0] * len(needs)
    left = room
    pending = sorted(range(len(needs)), key=lambda i: needs[i])
    while pending:
        equal = left // len(pending)
        i = pending[0]
        if needs[i] <= equal:
            shares[i] = needs[i]
            left -= needs[i]
            pending.pop(0)
            continue
        for i in pending:
            shares[i] = equal
        break
    return shares


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _fit(text: str, max_chars: int) -> str:
    """The last resort when even the summary is too long: whole lines up to the limit."""
    if _size(text) <= max_chars:
        return text
    tail = "\n… (cut: this comment reached its size limit)\n"
    room = max_chars - _size(tail)
    cut = text.encode("utf-8")[: max(room, 0)].decode("utf-8", "ignore")
    return cut[: cut.rfind("\n") + 1] + tail


# --- escaping -----------------------------------------------------------------------------


#: Characters GFM or HTML may act on: emphasis, links and images, code, HTML, tables,
#: strikethrough, headings, entities; the backslash first so escapes stay escapes.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]!<>|~#&])")


def escape(text: object) -> str:
    """``text`` shown literally by a GFM renderer: control characters written as escapes
    (:func:`printable`: a newline cannot start a block) and every character markdown or HTML
    could act on (``* _ [ ] ! ` < > | ~ # & \\``) backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", printable(text))


def _code(text: object) -> str:
    """``text`` as an inline code span, whatever backticks it holds (the fence is longer
    than any run of them inside, as CommonMark allows)."""
    value = printable(text)
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _html(text: object) -> str:
    return html.escape(printable(text), quote=False)


#: A phrase of hoodsync's own words, numbers and punctuation (``will be stopped (active ->
#: stopped)``), in which GitHub finds nothing to link or mention: no ``@``, ``#``, ``/``,
#: capital (``GH-1`` is an issue reference) nor ``www.``.
_PLAIN_PHRASE = re.compile(r"(?!.*www\.)[a-z0-9 ,;:()>.'-]*\Z")


def _phrase(text: object) -> str:
    """A change's description inside an HTML tag: as it is when it is a plain phrase, else in
    ``<code>`` (it quotes statuses and ids read from the account)."""
    plain = _PLAIN_PHRASE.match(printable(text)) is not None
    return _html(text) if plain else f"<code>{_html(text)}</code>"


# --- summary ------------------------------------------------------------------------------


def _head(doc: Mapping[str, Any], refusal: str | None) -> list[str]:
    out = [f"## hoodsync plan: {_code(doc['account']['name'])}", ""]
    out.append(header_line(doc, quote=_code))
    notice = sandbox_line(doc, quote=_code)
    if notice:
        out += ["", f"> {notice}"]
    if refusal:  # it names the objects removed, orphans' marker keys among them
        out += ["", "> [!CAUTION]", f"> **Apply will refuse this plan:** {_code(refusal)}"]
    if not doc["changes"] and all(n["severity"] == "info" for n in doc["notes"]):
        return out + ["", f"**{no_changes_line(doc)}**"] + _info(doc)
    out += ["", "| | count |", "|:--|--:|"]
    summary, counts = doc["summary"], doc["counts"]
    for action in SUMMARY_ORDER:
        if summary.get(action) or action in ("create", "update", "resume", "pause", "cancel"):
            out.append(f"| to {action} | {summary.get(action, 0)} |")
    drift = sum(1 for c in doc["changes"] if c["drift"])
    extra = [
        ("drift (changed outside hoodsync)", drift),
        ("unchanged", counts["unchanged"]),
        ("unmanaged", counts["unmanaged"]),
        ("orphans", counts.get("orphans", 0)),
        ("superseded", counts.get("superseded", 0)),
        ("errors", doc.get("errors", 0)),
        ("warnings", doc.get("warnings", 0)),
    ]
    out += [f"| {label} | {n} |" for label, n in extra if n or label in ("unchanged", "unmanaged")]
    out += ["", f"**{summary_line(doc)}**"]  # hoodsync's words and numbers only
    if doc["has_changes"]:
        out.append(estimate_line(doc))
    out += _banner(doc)
    out += _notes(doc)
    out += _info(doc)
    return out


def _info(doc: Mapping[str, Any]) -> list[str]:
    """Plan-wide info notes (a change's own info notes are in its details block)."""
    infos = [n for n in doc["notes"] if n["severity"] == "info"]
    if not infos:
        return []
    lines = [f"> {_code(n['message'])}" for n in infos[:_LIST_CAP]]
    if len(infos) > _LIST_CAP:
        lines.append(f"> … and {len(infos) - _LIST_CAP} more")
    return ["", "> [!NOTE]"] + lines


def _addresses(
    changes: Sequence[Mapping[str, Any]], detail: bool = False, cause: bool = False
) -> str:
    """The changes' addresses for a banner line, each with its action (``detail``) or what
    makes it send at once (``cause``: its ``send_cause``, when the plan records one)."""
    shown = []
    for c in changes[:_LIST_CAP]:
        text = _code(c["address"])
        if detail:
            text += f" ({c['action']}{', irreversible' if 'irreversible' in c['flags'] else ''})"
        if cause and c.get("send_cause"):
            text += f" ({_code(c['send_cause'])})"
        shown.append(text)
    more = len(changes) - _LIST_CAP
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _banner(doc: Mapping[str, Any]) -> list[str]:
    lines = []
    for what, items in warning_items(doc):
        if what == "removes":
            lines.append(f"> **Removes {plural(len(items), 'object')}:** {_addresses(items, True)}")
        elif what == "sends":
            lines.append(f"> **Sends immediately:** {_addresses(items, cause=True)}")
        elif what == "launches":
            lines.append(
                "> **Launches drafts** (`is_draft: true -> false`; they start sending): "
                + _addresses(items)
            )
        elif what == "copies":
            lines.append(
                "> **Creates a second copy** beside a live object that is probably its own under "
                "an old key or name (both send): " + _addresses(items)
            )
        elif what == "lookalikes":
            lines.append(
                "> **Creates a look-alike:** named like a live object but for characters that "
                "look alike (the two cannot be told apart; both send; the warnings show both "
                "names): " + _addresses(items)
            )
        elif what == "resends":
            lines.append(
                "> **Creates campaigns named like ones already sent**, which hoodsync does not "
                "manage (their audiences may get them again): " + _addresses(items)
            )
        else:
            lines.append(
                "> **Edits running campaigns** (pause, update, resume): " + _addresses(items)
            )
    if not lines:
        return []
    return ["", "> [!WARNING]"] + [x for line in lines for x in (line, ">")][:-1]


def _notes(doc: Mapping[str, Any]) -> list[str]:
    notes = list(doc["notes"]) + [n for c in doc["changes"] for n in c["notes"]]
    errors = [n for n in notes if n["severity"] == "error"]
    warnings = [n for n in notes if n["severity"] == "warning"]
    out: list[str] = []
    for kind, title, items in (
        ("CAUTION", f"{plural(len(errors), 'error')}: this plan cannot be applied", errors),
        ("NOTE", plural(len(warnings), "warning"), warnings),
    ):
        if not items:
            continue
        out += ["", f"> [!{kind}]", f"> **{title}**"]
        for n in items[:_LIST_CAP]:
            where = f"{_code(n['address'])}: " if n.get("address") else ""
            out.append(f"> - {where}{_code(n['message'])}")
        if len(items) > _LIST_CAP:
            out.append(f"> - … and {len(items) - _LIST_CAP} more")
    return out


# --- every changed resource by name -----------------------------------------------------


#: The list's order: what cannot be undone or cannot be done first (a list too long for the
#: comment is cut at its end), then the other actions in summary order.
_LIST_ORDER = ("cancel", "stop", "deactivate", "replace", "note") + tuple(
    a for a in SUMMARY_ORDER if a not in ("cancel", "stop", "deactivate", "replace")
)


def _groups(doc: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """``(what happens, [(kind word, [keys])])`` for every change (``note``: a change that
    cannot be made), in :data:`_LIST_ORDER`, kinds and keys in plan order. A change is named
    under every action the summary counts it under (``counted_as``: a paused campaign updated
    and resumed is under "to update" and "to resume"), so each line agrees with its count."""
    by_action: dict[str, dict[str, list[str]]] = {}
    for c in doc["changes"]:
        counted = c.get("counted_as", [c["action"]]) if c["steps"] else ["note"]
        kind = str(c["address"]).split(".", 1)[0]
        for action in counted:
            by_action.setdefault(action, {}).setdefault(kind, []).append(str(c["key"]))
    order = [a for a in _LIST_ORDER if a in by_action] + sorted(
        a for a in by_action if a not in _LIST_ORDER
    )
    return [(a, list(by_action[a].items())) for a in order]


def _names_section(doc: Mapping[str, Any], room: int) -> tuple[str, int]:
    """The compact list naming every changed resource, and how many names did not fit in
    ``room`` (0 unless the list alone is larger than the comment: then it is cut at a whole
    name)."""
    lines = [_name_pieces(action, kinds) for action, kinds in _groups(doc)]
    if not lines:
        return "", 0
    title = "**Every changed resource:**\n\n"
    full = title + "".join("".join(pieces) + "\n" for pieces in lines)
    if _size(full) <= room:
        return full, 0
    ending = " … (cut: size limit)\n"
    used = _size(title)
    out = [title]
    named = 0
    for pieces in lines:
        take = 0
        cost = _size(pieces[0]) + _size(ending)
        for piece in pieces[1:]:
            if used + cost + _size(piece) > room:
                break
            cost += _size(piece)
            take += 1
        if take == len(pieces) - 1:
            out.append("".join(pieces) + "\n")
            used += _size(out[-1])
            named += take
            continue
        if take:
            out.append("".join(pieces[: take + 1]) + ending)
            named += take
        break
    total = sum(len(pieces) - 1 for pieces in lines)
    return ("".join(out) if named else ""), total - named


def _name_pieces(action: str, kinds: Sequence[tuple[str, list[str]]]) -> list[str]:
    """One list line as pieces: the line's start, then one piece per name (with the separator
    and kind word before it), so the line can be cut at any whole name."""
    label = "cannot be changed" if action == "note" else f"to {action}"
    total = sum(len(keys) for _, keys in kinds)
    pieces = [f"- **{label}** ({total}):"]
    for n, (kind, keys) in enumerate(kinds):
        for i, key in enumerate(keys):
            lead = (" " if n == 0 else "; ") + f"{kind} " if i == 0 else ", "
            pieces.append(lead + _code(key))
    return pieces


# --- details ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    """One field diff in a details block: ``head`` (the whole text when ``items`` is empty),
    the text of each item of an added object or array, and ``tail`` closing it."""

    head: str
    items: tuple[str, ...] = ()
    tail: str = ""
    path: str = ""

    def text(self) -> str:
        return self.head + "".join(self.items) + self.tail


@dataclass(frozen=True, slots=True)
class _Block:
    """One resource's details: ``pre`` (summary line, drift), ``entries`` (inside a diff
    fence), ``post`` (remote id, API steps, notes, the closing tag)."""

    pre: str
    entries: tuple[_Entry, ...]
    post: str

    def text(self) -> str:
        return self.pre + self._fenced("".join(e.text() for e in self.entries)) + self.post

    def _fenced(self, body: str) -> str:
        return f"```diff\n{body}```\n\n" if self.entries else ""

    def cut(self, room: int) -> tuple[str, str] | None:
        """The block within ``room``, cut between whole entries and whole items, and a note of
        what was left out; ``None`` when not even its frame fits."""
        frame = _size(self.pre + self._fenced("") + self.post) + 200  # 200: the note
        if frame > room:
            return None
        left = room - frame
        body: list[str] = []
        left_out: list[str] = []
        for n, entry in enumerate(self.entries):
            text = entry.text()
            if _size(text) <= left:
                body.append(text)
                left -= _size(text)
                continue
            rest = len(self.entries) - n
            frame = _size(entry.head + entry.tail)
            if entry.items and frame < left:  # the field opened and closed, whole items inside
                left -= frame
                kept = 0
                for item in entry.items:
                    if _size(item) > left:
                        break
                    left -= _size(item)
                    kept += 1
                body.append(entry.head + "".join(entry.items[:kept]) + entry.tail)
                left_out.append(
                    f"{len(entry.items) - kept} of {len(entry.items)} items of {_code(entry.path)}"
                )
                rest -= 1
            if rest:
                left_out.append(plural(rest, "more field"))
            break
        note = ""
        if left_out:
            note = (
                f"… Not shown here: {' and '.join(left_out)} (this comment reached its size "
                "limit; `hoodsync plan` prints everything).\n\n"
            )
        return self.pre + self._fenced("".join(body)) + note + self.post, note


def _details_section(doc: Mapping[str, Any], room: int) -> tuple[str, int, bool]:
    """``### Changes`` and as many whole details blocks as fit in ``room``, the first that does
    not fit cut at whole items; returns the text, how many blocks were left out and whether a
    block was cut."""
    changes = doc["changes"]
    if not changes:
        return "", 0, False
    title = "### Changes\n\n"
    used = _size(title)
    if used > room:
        return "", len(changes), False
    out = [title]
    cut = False
    shown = 0
    for c in changes:
        block = _block(c)
        text = block.text()
        if used + _size(text) + 1 <= room:
            out.append(text + "\n")
            used += _size(text) + 1
            shown += 1
            continue
        if room - used >= _MIN_CUT_ROOM:
            trimmed = block.cut(room - used - 1)
            if trimmed is not None:
                out.append(trimmed[0] + "\n")
                shown += 1
                cut = bool(trimmed[1])
        break
    if shown == 0:
        return "", len(changes), False
    return "".join(out).rstrip("\n") + "\n", len(changes) - shown, cut


def _block(c: Mapping[str, Any]) -> _Block:
    title = f"<code>{_html(c['address'])}</code> {_phrase(c['description'])}"
    if c["drift"]:
        title += " — undoes drift (changed outside hoodsync)"
    if c["action"] == "note":
        title = "⚠️ " + title
    pre = [f"<details><summary>{title}</summary>", ""]
    if c["drift"]:
        drift = [_diff_text(*drift_line(e, 0, None)) for e in c["diff"]]
        if c.get("transition"):
            wanted = "active" if c["action"] == "resume" else c["transition"][1]
            drift.append(_diff_text("~", printable(f"status = {wanted} -> {c['remote_status']}")))
        pre += ["Changed outside hoodsync (definition → remote now):", "", "```diff"]
        pre += drift + ["```", ""]
    post: list[str] = []
    if c.get("remote_id"):
        post.append(f"Remote id {_code(c['remote_id'])}, status {_code(c['remote_status'])}.")
        post.append("")
    steps = " → ".join(s["op"] for s in c["steps"])
    if steps:
        post += [f"API steps: {steps}", ""]
    for n in c["notes"]:
        post.append(f"- **{n['severity']}**: {_code(n['message'])}")
    if c["notes"]:
        post.append("")
    post.append("</details>")
    return _Block(
        "\n".join(pre) + "\n", tuple(_entry(e) for e in c["diff"]), "\n".join(post) + "\n"
    )


def _entry(entry: Mapping[str, Any]) -> _Entry:
    """One field diff: a line, or an added object or array spread over nested lines that all
    carry ``+`` (GitHub colours them as added), indented two spaces per level."""
    value = spread(entry)
    if value is None:
        return _Entry(_diff_text(*diff_line(entry, 0, None)) + "\n")

    def text(lines: Sequence[tuple[int, str, bool]]) -> str:
        return "".join(_diff_text("+", "  " * depth + line) + "\n" for depth, line, _ in lines)

    return _Entry(
        text([(0, value.head, True)]),
        tuple(text(item) for item in value.items),
        text([(0, value.tail, False)]),
        entry["path"],
    )


def _diff_text(sym: str, text: str) -> str:
    # GitHub's diff highlighting colours "+", "-" and "!" lines; "!" marks a change. A line
    # starting with a marker cannot close the fence; breaking up ``` is belt and braces.
    marker = "!" if sym == "~" else sym
    return f"{marker} {text}".replace("```", "`\u200b``")


def _cut_notice(hidden: int, cut: bool, names_cut: int, max_chars: int) -> str:
    if not (hidden or cut or names_cut):
        return ""
    parts = []
    if names_cut:
        parts.append(f"{plural(names_cut, 'more changed resource')} could not be named above")
    if hidden:
        parts.append(f"details of {plural(hidden, 'more resource')} are not shown")
    elif cut:
        parts.append("the last details block shown is cut")
    said = "; ".join(parts)
    return (
        f"> [!NOTE]\n> {said[0].upper()}{said[1:]}, to keep this comment within its size "
        f"limit ({max_chars:,} characters). The summary above is complete; run "
        "`hoodsync plan` (or `--format json`) for every detail.\n"
    )


# --- orphans and superseded ---------------------------------------------------------------


def _listing(doc: Mapping[str, Any]) -> str:
    parts = []
    if doc["orphans"] and not doc["options"]["prune"]:
        parts.append(
            _refs(
                "Orphans (hoodsync marker, no definition; removed only with --prune)",
                doc["orphans"],
            )
        )
    if doc["superseded"]:
        parts.append(
            _refs("Superseded (replaced by a newer campaign; never touched)", doc["superseded"])
        )
    return "\n".join(parts)


def _refs(title: str, refs: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"<details><summary>{html.escape(title)}: {len(refs)}</summary>", ""]
    for r in refs[:100]:
        name = _code(quoted_name(r["name"]))
        lines.append(f"- {_code(r['address'])} id {_code(r['id'])} {name} ({_code(r['status'])})")
    if len(refs) > 100:
        lines.append(f"- … and {len(refs) - 100} more")
    lines += ["", "</details>", ""]
    return "\n".join(lines)
