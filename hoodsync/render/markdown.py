"""Markdown rendering for a pull-request comment. Reads only the ``Plan.to_dict()`` document.

Order: header, summary table and summary line (never truncated), a warning banner when the plan
removes something (cancel/stop/deactivate), sends immediately (``run_immediately`` on create or
resume) or edits a running campaign, the errors, then one ``<details>`` block per resource with
its field diff. The whole comment stays under ``max_chars`` (GitHub's limit is 65,536): detail
blocks are dropped from the end — never the summary — and the comment says how many.
"""

from __future__ import annotations

import html
import json
from typing import Any, Mapping, Sequence

from hoodsync.render.common import (
    SUMMARY_ORDER,
    diff_line,
    drift_line,
    estimate_line,
    header_line,
    no_changes_line,
    plural,
    sandbox_line,
    summary_line,
    warning_items,
)

__all__ = ["render", "GITHUB_LIMIT"]

GITHUB_LIMIT = 65_536
#: Addresses named per banner line / errors listed in the summary before "and N more".
_LIST_CAP = 20
#: One resource's details block is cut to this many characters.
_BLOCK_CAP = 6_000
#: One diff line is cut to this many characters.
_LINE_CAP = 500
_FOOTER_RESERVE = 600


def render(doc: Mapping[str, Any], *, max_chars: int = GITHUB_LIMIT) -> str:
    """The plan as GitHub-flavoured markdown, at most ``max_chars`` characters."""
    head = "\n".join(_head(doc)) + "\n"
    changes = doc["changes"]
    blocks = [_details(c) for c in changes]
    listing = _listing(doc)
    budget = max_chars - len(head) - _FOOTER_RESERVE
    body: list[str] = []
    used = 0
    shown = 0
    if blocks:
        body.append("### Changes\n")
        used += len(body[0]) + 1
    for block in blocks:
        if used + len(block) + 1 > budget:
            break
        body.append(block)
        used += len(block) + 1
        shown += 1
    if listing and used + len(listing) + 1 <= budget:
        body.append(listing)
    hidden = len(blocks) - shown
    if hidden:
        body.append(
            f"> [!NOTE]\n> Details of {plural(hidden, 'more resource')} are not shown: this "
            f"comment would exceed {max_chars:,} characters. The summary above is complete; run "
            "`hoodsync plan --format json` for every detail.\n"
        )
    text = head + ("\n" + "\n".join(body) if body else "")
    return text if len(text) <= max_chars else text[: max_chars - 1] + "\n"


# --- summary ------------------------------------------------------------------------------


def _head(doc: Mapping[str, Any]) -> list[str]:
    out = [f"## hoodsync plan: `{doc['account']['name']}`", "", _escape(header_line(doc))]
    notice = sandbox_line(doc)
    if notice:
        out += ["", f"> {notice}"]
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
    out += ["", f"**{_escape(summary_line(doc))}**"]
    if doc["has_changes"]:
        out.append(_escape(estimate_line(doc)))
    out += _banner(doc)
    out += _notes(doc)
    out += _info(doc)
    return out


def _info(doc: Mapping[str, Any]) -> list[str]:
    """Plan-wide info notes (a change's own info notes are in its details block)."""
    infos = [n for n in doc["notes"] if n["severity"] == "info"]
    if not infos:
        return []
    return ["", "> [!NOTE]"] + [f"> {_escape(n['message'])}" for n in infos]


def _names(changes: Sequence[Mapping[str, Any]], detail: bool = False) -> str:
    shown = []
    for c in changes[:_LIST_CAP]:
        text = f"`{c['address']}`"
        if detail:
            text += f" ({c['action']}{', irreversible' if 'irreversible' in c['flags'] else ''})"
        shown.append(text)
    more = len(changes) - _LIST_CAP
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _banner(doc: Mapping[str, Any]) -> list[str]:
    lines = []
    for what, items in warning_items(doc):
        if what == "removes":
            lines.append(f"> **Removes {plural(len(items), 'object')}:** {_names(items, True)}")
        elif what == "sends":
            lines.append(f"> **Sends immediately** (`run_immediately`): {_names(items)}")
        else:
            lines.append("> **Edits running campaigns** (pause, update, resume): " + _names(items))
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
            where = f"`{n['address']}`: " if n.get("address") else ""
            out.append(f"> - {where}{_escape(n['message'])}")
        if len(items) > _LIST_CAP:
            out.append(f"> - … and {len(items) - _LIST_CAP} more")
    return out


# --- details ------------------------------------------------------------------------------


def _details(c: Mapping[str, Any]) -> str:
    title = f"<code>{html.escape(c['address'])}</code> {html.escape(c['description'])}"
    if c["drift"]:
        title += " — undoes drift (changed outside hoodsync)"
    if c["action"] == "note":
        title = "⚠️ " + title
    lines = [f"<details><summary>{title}</summary>", ""]
    if c["drift"]:
        drift = [_diff_text(*drift_line(e, 0, None)) for e in c["diff"]]
        if c.get("transition"):
            wanted = "active" if c["action"] == "resume" else c["transition"][1]
            drift.append(f"! status = {wanted} -> {c['remote_status']}")
        lines += ["Changed outside hoodsync (definition → remote now):", "", "```diff"]
        lines += drift + ["```", ""]
    if c["diff"]:
        lines.append("```diff")
        lines += [_diff_text(*diff_line(e, 0, None)) for e in c["diff"]]
        lines += ["```", ""]
    if c.get("remote_id"):
        lines.append(f"Remote id `{c['remote_id']}`, status `{c['remote_status']}`.")
        lines.append("")
    steps = " → ".join(s["op"] for s in c["steps"])
    if steps:
        lines += [f"API steps: {steps}", ""]
    for n in c["notes"]:
        lines.append(f"- **{n['severity']}**: {_escape(n['message'])}")
    if c["notes"]:
        lines.append("")
    lines.append("</details>")
    text = "\n".join(lines) + "\n"
    if len(text) > _BLOCK_CAP:
        cut = text[: _BLOCK_CAP - 200]
        if cut.count("```") % 2:
            cut += "\n```"
        text = cut + "\n\n… (detail truncated)\n\n</details>\n"
    return text


def _diff_text(sym: str, text: str) -> str:
    # GitHub's diff highlighting colours "+", "-" and "!" lines; "!" marks a change.
    marker = "!" if sym == "~" else sym
    line = f"{marker} {text}".replace("```", "`\u200b``")
    return line if len(line) <= _LINE_CAP else line[: _LINE_CAP - 3] + "..."


def _listing(doc: Mapping[str, Any]) -> str:
    parts = []
    if doc["orphans"] and not doc["options"]["prune"]:
        parts.append(_refs("Orphans (hoodsync marker, no definition; removed only with --prune)",
                           doc["orphans"]))
    if doc["superseded"]:
        parts.append(_refs("Superseded (replaced by a newer campaign; never touched)",
                           doc["superseded"]))
    return "\n".join(parts)


def _refs(title: str, refs: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"<details><summary>{html.escape(title)}: {len(refs)}</summary>", ""]
    for r in refs[:100]:
        name = _escape(json.dumps(r["name"], ensure_ascii=False))
        lines.append(f"- `{r['address']}` id `{r['id']}` {name} ({r['status']})")
    if len(refs) > 100:
        lines.append(f"- … and {len(refs) - 100} more")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    """Neutralise markdown/HTML that user-controlled text (names, messages) could inject."""
    return html.escape(text, quote=False).replace("|", "\\|")
