"""Which remote message each desired message is shown beside, and what the plan says of it.

Internal to :mod:`hoodsync.preview`. An update's card shows each message of the remote object
(before) next to the desired one (after) with a chip — ``unchanged``, ``changed``, ``moved``,
``added`` or ``removed`` — and the chip must say what the plan says. So nothing here decides
anything of its own: both sides are normalised by the kind's rules, as the planner normalises
them; a campaign's messages are paired by the plan's own identity, ``(name, channel)``
(positionally where the plan pairs them by position: unnamed or repeated identities); and the
chips are read off the planner's own field diff of the message array
(:func:`hoodsync.kinds.base.diff` of :func:`hoodsync.kinds.base.project`), so a message is
"changed" exactly when the plan shows a line under it, "moved" when it shows it moved. Fields
the server fills in (``primary_lang``, ids, defaults) are no change, as in the plan.

Known limit: the preview shows definitions with ``${env:...}`` unresolved and the remote side
masked there, so a message holding an interpolation compares as changed whatever its value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from hoodsync.kinds import rules_for

# message_keys: the plan's identity of a campaign message (``(name, channel)``, or None where
# the array is aligned by position). Imported rather than restated: the pairing must be the
# plan's own.
from hoodsync.kinds.base import (
    Element,
    RawDiff,
    diff,
    message_keys,
    project,
    projects_to_itself,
)
from hoodsync.kinds.email_campaign import SET_FIELDS
from hoodsync.model import Kind
from hoodsync.preview.cards import Block, blocks

__all__ = ["Pair", "pairs"]


class Pair(NamedTuple):
    """One row of an update: the remote message, the desired one, and the plan's word for it.

    ``old`` is None for an added message, ``new`` None for a removed one; ``state`` is one of
    ``unchanged``, ``changed``, ``moved``, ``added``, ``removed``. ``moved`` is also set on a
    message that changed and moved (the plan shows both)."""

    old: Block | None
    new: Block | None
    state: str
    moved: bool = False


def pairs(kind: Kind, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Pair]:
    """The messages of ``before`` (remote) and ``after`` (desired), paired and named as the
    plan pairs and names them, in the plan's order: desired order, a removed message at its
    remote index (before the desired message at the same index)."""
    rules = rules_for(kind)
    old_norm, new_norm = rules.normalise(before), rules.normalise(after)
    if kind is Kind.CAMPAIGN:
        return _campaign_pairs(before, after, old_norm, new_norm)
    olds = {b.path: b for b in blocks(kind, before)}
    old_cmp = {b.path: b.content for b in blocks(kind, old_norm)}
    new_cmp = {b.path: b.content for b in blocks(kind, new_norm)}
    if kind is Kind.EMAIL_CAMPAIGN:  # compared as the plan does: these arrays as sets
        old_cmp = {p: _as_sets(c) for p, c in old_cmp.items()}
        new_cmp = {p: _as_sets(c) for p, c in new_cmp.items()}
    out = []
    for new in blocks(kind, after):
        old = olds.pop(new.path, None)
        if old is None:
            out.append(Pair(None, new, "added"))
        else:
            same = projects_to_itself(new_cmp[new.path], old_cmp[new.path])
            out.append(Pair(old, new, "unchanged" if same else "changed"))
    out.extend(Pair(old, None, "removed") for old in olds.values())
    return out


def _as_sets(spec: Mapping[str, Any]) -> dict[str, Any]:
    """An email campaign with the fields its plan compares as sets put in one order."""
    return {
        k: sorted(map(str, v)) if k in SET_FIELDS and isinstance(v, list) else v
        for k, v in spec.items()
    }


def _messages(spec: Mapping[str, Any]) -> list[Any]:
    messages = spec.get("messages")
    return messages if isinstance(messages, list) else []


def _campaign_pairs(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    old_norm: Mapping[str, Any],
    new_norm: Mapping[str, Any],
) -> list[Pair]:
    """:func:`pairs` for a campaign's ``messages``."""
    have, want = _messages(old_norm), _messages(new_norm)
    raws = diff(project(want, have), want)
    old_blocks = {b.path[2]: b for b in blocks(Kind.CAMPAIGN, before)}
    new_blocks = {b.path[2]: b for b in blocks(Kind.CAMPAIGN, after)}
    have_keys, want_keys = message_keys(have), message_keys(want)
    if have_keys is None or want_keys is None or any(type(r[0][0]) is int for r in raws):
        matched = {j: j for j in range(min(len(have), len(want)))}  # by position
    else:
        where = {key: i for i, key in enumerate(have_keys)}
        matched = {j: where[key] for j, key in enumerate(want_keys) if key in where}
    states = _states(raws)
    ranked: list[tuple[int, bool, Pair]] = []
    unclaimed = set(range(len(have))) - set(matched.values())
    for i in sorted(unclaimed):
        if i in old_blocks:
            ranked.append((i, False, Pair(old_blocks[i], None, "removed")))
    for j in range(len(want)):
        new = new_blocks.get(j)
        if new is None:  # not an object: nothing to show (validation refuses it anyway)
            continue
        old = old_blocks.get(matched[j]) if j in matched else None
        changed, moved = states.get(j, (False, False))
        state = (
            "added" if old is None else "changed" if changed else "moved" if moved else "unchanged"
        )
        ranked.append((j, True, Pair(old, new, state, moved)))
    return [pair for _, _, pair in sorted(ranked, key=lambda r: (r[0], r[1]))]


def _states(raws: Sequence[RawDiff]) -> dict[int, tuple[bool, bool]]:
    """Desired message index → (changed, moved), from the plan's diff of the array: a line
    under a message (or replacing it at its index) is a change, its move line a move."""
    out: dict[int, tuple[bool, bool]] = {}
    for path, op, _, _ in raws:
        head = path[0]
        index = head.index if isinstance(head, Element) else head
        if not isinstance(index, int) or (len(path) == 1 and op in ("add", "remove")):
            continue  # a whole message added or removed: the pairing says so
        changed, moved = out.get(index, (False, False))
        if len(path) == 1 and op == "move":
            out[index] = (changed, True)
        else:
            out[index] = (True, moved)
    return out
