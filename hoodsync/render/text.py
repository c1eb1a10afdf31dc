"""Terminal rendering of a plan, Terraform-like. Reads only the ``Plan.to_dict()`` document.

Layout: header (account, counts) · sandbox notice · drift (objects changed outside hoodsync,
shown before the changes that undo them) · one block per change (``# address will be …``, field
diffs with ``+ ~ -`` — an added object or array spread over nested blocks with every leaf, as
Terraform shows a new resource —, notes) · orphans / superseded · plan-wide notes · warning
lines (removals, immediate sends, edits of running campaigns: the markdown banner) · summary
line · estimate.
ANSI colours only with ``color=True`` (the CLI decides: TTY and no ``NO_COLOR``).

Everything read from an account (names, ids, statuses, marker keys, values in diffs, notes that
quote them) is escaped on the way in (``common.printable`` / ``quoted`` / ``value_text``): a
remote name holding a newline or a terminal escape sequence cannot forge or hide a plan line.
The painter escapes whatever it colours; every other piece is escaped where the line is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hoodsync.render.common import (
    Spread,
    diff_line,
    drift_line,
    estimate_line,
    header_line,
    no_changes_line,
    path_width,
    plural,
    printable,
    quoted,
    quoted_name,
    sandbox_line,
    spread,
    summary_line,
    symbol,
    warning_items,
)

__all__ = ["render"]

_CODES = {"+": "32", "-": "31", "~": "33", "-/+": "35", "!": "31", "bold": "1", "dim": "2"}
_SEVERITY_CODES = {"error": "31", "warning": "33", "info": "36"}


def render(doc: Mapping[str, Any], *, color: bool = False) -> str:
    """The plan as terminal text (ends with a newline)."""
    paint = _painter(color)
    out: list[str] = [paint(header_line(doc), "bold")]
    notice = sandbox_line(doc)
    if notice:
        out.append(printable(notice))
    changes = doc["changes"]
    if not changes and all(n["severity"] == "info" for n in doc["notes"]):
        out += _listing(doc)
        if doc["notes"]:  # info only (e.g. what --prune cannot do): still "No changes"
            out.append("")
            out += [_note_text(n, paint, "") for n in doc["notes"]]
        out += ["", no_changes_line(doc)]
        return "\n".join(out) + "\n"
    drifted = [c for c in changes if c["drift"]]
    if drifted:
        out += ["", "Objects changed outside hoodsync since it last applied them (drift):"]
        for c in drifted:
            out += [""] + _drift_block(c, paint)
        out += ["", "The changes below undo that drift."]
    if changes:
        out += ["", "hoodsync will perform the following actions:"]
        for c in changes:
            out += [""] + _change_block(c, paint)
    out += _listing(doc)
    if doc["notes"]:
        out.append("")
        out += [_note_text(n, paint, "") for n in doc["notes"]]
    warnings = _warning_lines(doc, paint)
    if warnings:
        out += [""] + warnings
    out += ["", summary_line(doc)]
    if doc["has_changes"]:
        out.append(estimate_line(doc))
    return "\n".join(out) + "\n"


def _painter(color: bool) -> Callable[[str, str], str]:
    def paint(text: str, key: str) -> str:
        text = printable(text)
        code = _CODES.get(key) or _SEVERITY_CODES.get(key)
        return f"\x1b[{code}m{text}\x1b[0m" if color and code else text

    return paint


def _kind_word(change: Mapping[str, Any]) -> str:
    return str(change["address"]).split(".", 1)[0]


def _change_block(c: Mapping[str, Any], paint: Callable[[str, str], str]) -> list[str]:
    description = c["description"]
    if c["drift"]:
        description += " — undoes drift"
    lines = [paint(f"  # {c['address']} {description}", "bold")]
    sym = symbol(c["action"])
    if c["diff"]:
        width = path_width(c["diff"])
        lines.append(paint(f"  {sym} {_kind_word(c)} {quoted(c['key'])} {{", sym))
        for entry in c["diff"]:
            spread_value = spread(entry, width)
            if spread_value is not None:
                lines += _spread_lines(spread_value, paint)
                continue
            s, text = diff_line(entry, width)
            lines.append(f"      {paint(s, s)} {text}")
        lines.append("    }")
    for note in c["notes"]:
        lines.append(_note_text(note, paint, "    "))
    return lines


def _spread_lines(value: Spread, paint: Callable[[str, str], str]) -> list[str]:
    """An added object or array as nested blocks, Terraform-like: every line that shows a value
    or opens a block carries ``+``; closing brackets line up under the key they close."""
    plus = paint("+", "+")
    return [
        f"{' ' * (6 + 4 * depth)}{plus} {text}" if opens else f"{' ' * (8 + 4 * depth)}{text}"
        for depth, text, opens in value.lines()
    ]


def _drift_block(c: Mapping[str, Any], paint: Callable[[str, str], str]) -> list[str]:
    lines = [paint(f"  # {c['address']} has changed outside hoodsync", "bold")]
    width = path_width(c["diff"])
    for entry in c["diff"]:
        s, text = drift_line(entry, width)
        lines.append(f"      {paint(s, s)} {text}")
    transition = c.get("transition")
    if transition:
        wanted = "active" if c["action"] == "resume" else transition[1]
        moved = printable(f"status = {wanted} -> {c['remote_status']}")
        lines.append(f"      {paint('~', '~')} {moved}")
    return lines


#: How many addresses a warning line names before "and N more".
_WARNING_CAP = 10


def _warning_lines(doc: Mapping[str, Any], paint: Callable[[str, str], str]) -> list[str]:
    """The markdown banner as text: removals, immediate sends, draft launches, second copies,
    look-alike names, creates beside sent campaigns, edits of running campaigns."""
    out = []
    for what, items in warning_items(doc):
        names = []
        for c in items[:_WARNING_CAP]:
            if what == "removes":
                irreversible = ", irreversible" if "irreversible" in c["flags"] else ""
                names.append(f"{c['address']} ({c['action']}{irreversible})")
            elif what == "sends" and c.get("send_cause"):
                names.append(f"{c['address']} ({c['send_cause']})")
            else:
                names.append(str(c["address"]))
        more = len(items) - _WARNING_CAP
        listed = ", ".join(names) + (f" and {more} more" if more > 0 else "")
        if what == "removes":
            text = f"removes {plural(len(items), 'object')}: {listed}"
        elif what == "sends":
            text = f"sends immediately: {listed}"
        elif what == "launches":
            text = f"launches drafts (is_draft: true -> false; they start sending): {listed}"
        elif what == "copies":
            text = (
                "creates a second copy beside a live object that is probably its own under an "
                f"old key or name (both send): {listed}"
            )
        elif what == "lookalikes":
            text = (
                "creates objects named like a live one but for characters that look alike (the "
                f"two cannot be told apart; both send; the notes show both names): {listed}"
            )
        elif what == "resends":
            text = (
                "creates campaigns named like ones already sent, which hoodsync does not manage "
                f"(their audiences may get them again): {listed}"
            )
        else:
            text = f"edits running campaigns (pause, update, resume): {listed}"
        out.append(f"{paint('Warning', 'warning')}: {printable(text)}")
    return out


def _note_text(note: Mapping[str, Any], paint: Callable[[str, str], str], indent: str) -> str:
    severity = note["severity"]
    where = f"{note['address']}: " if note.get("address") and not indent else ""
    return f"{indent}{paint(severity, severity)}: {printable(where + str(note['message']))}"


def _listing(doc: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    if doc["orphans"] and not doc["options"]["prune"]:
        out += [
            "",
            "Orphans (carry a hoodsync marker but no definition; removed only with --prune):",
        ]
        out += [_ref_text(r) for r in doc["orphans"]]
    if doc["superseded"]:
        out += ["", "Superseded (older campaigns replaced by a newer one; never touched):"]
        out += [_ref_text(r) for r in doc["superseded"]]
    return out


def _ref_text(ref: Mapping[str, Any]) -> str:
    created = f", created {ref['created_at']}" if ref.get("created_at") else ""
    return (
        f"  {printable(ref['address'])}  id {printable(ref['id'])}  {quoted_name(ref['name'])} "
        f"({printable(str(ref['status']) + created)})"
    )
