"""How a Hood campaign is rendered in answers: as a dict, and straight from its stored JSON text.

A campaign as GET returns it is its stored writable fields (``spec``) plus the server's fields
(:func:`server_fields`), ``labels`` joined into one comma string, cut down by ``view`` or
``fields``; :func:`render_campaign` builds that dict. Serialised, every answer has sorted keys and
no spaces (:func:`hoodsync.emulator.wire.dump_json`).

A list page of 100 full campaigns would otherwise parse each stored spec, copy it and encode it
again; :func:`campaign_json` gives the same bytes without any of that. The store keeps each
spec as canonical JSON text (sorted keys, no spaces) with an index of its top-level entries
(:class:`~hoodsync.emulator.store.CampaignText`); since the answer's keys are sorted too, the
answer is the spec's entries (``labels`` re-encoded) merged with the encoded server fields, in key
order. A row without a usable index is parsed and rendered as a dict: same output, slower.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Mapping
from itertools import repeat
from json.encoder import encode_basestring
from typing import Any, Protocol

from hoodsync.emulator.query import Presentation
from hoodsync.emulator.store import Account, CampaignText
from hoodsync.emulator.wire import json_fragment

__all__ = [
    "HEAVY_FIELDS",
    "SERVER_FIELDS",
    "render_campaign",
    "campaign_json",
    "server_fields",
    "effective_word",
    "spec_entries",
    "joined_labels",
]

#: Left out by ``view=default``.
HEAVY_FIELDS = frozenset(
    {
        "messages",
        "targeting",
        "ab_test",
        "recurrence",
        "utm_tracking",
        "quiet_hours",
        "callbacks",
    }
)


class StoredCampaign(Protocol):
    """What rendering reads of a stored campaign besides its spec (CampaignRow, CampaignText)."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def send_strategy(self) -> str: ...
    @property
    def next_run_time(self) -> str | None: ...
    @property
    def run_counter(self) -> int: ...
    @property
    def create_time(self) -> str: ...
    @property
    def update_time(self) -> str: ...
    @property
    def extra(self) -> Mapping[str, Any]: ...


def effective_word(row: StoredCampaign) -> str:
    """What GET shows as ``effective_status``: the stored one, else the status."""
    stored = row.extra.get("effective_status")
    return str(stored) if stored else row.status


#: The fields the server adds to a campaign's spec, in the order :func:`server_fields` gives
#: their values. Each is a plain word (the fast path below relies on it).
SERVER_FIELDS = (
    "id",
    "company_id",
    "creator_id",
    "status",
    "effective_status",
    "send_strategy",
    "is_draft",
    "run_immediately",
    "next_run_time",
    "run_counter",
    "score",
    "was_launched",
    "create_time",
    "update_time",
)


def server_fields(row: StoredCampaign, account: Account) -> dict[str, Any]:
    """The fields the server adds to a campaign's spec (they win over a spec key of that name)."""
    values = (
        str(row.id),
        account.company_id,
        account.creator_id,
        row.status,
        effective_word(row),
        row.send_strategy,
        row.status == "draft",
        None,
        row.next_run_time,
        row.run_counter,
        0,
        bool(row.extra.get("was_launched", False)),
        row.create_time,
        row.update_time,
    )
    return dict(zip(SERVER_FIELDS, values))


def render_campaign(
    spec: dict[str, Any],
    row: StoredCampaign,
    account: Account,
    presentation: Presentation,
    *,
    labels_as_string: bool = True,
) -> dict[str, Any]:
    """The campaign object as GET returns it, honouring view/fields.

    The result shares nested values with ``spec`` (only top-level keys are set or removed
    here): callers serialise it and must not modify it.
    """
    obj = dict(spec)
    obj.update(server_fields(row, account))
    if labels_as_string and isinstance(obj.get("labels"), list):
        obj["labels"] = ",".join(obj["labels"])
    if presentation.fields is not None:
        return {k: obj[k] for k in presentation.fields if k in obj}
    if presentation.view == "default":
        for key in HEAVY_FIELDS:
            obj.pop(key, None)
    return obj


def spec_entries(text: str, index: str | None) -> list[str] | None:
    """The top-level ``"key":value`` entries of a stored spec, cut out by its index, in key
    order; ``None`` when there is no index or it does not fit the text (then parse instead)."""
    if index is None:
        return None
    if not index:
        return [] if text == "{}" else None
    offsets = list(map(int, index.split(",")))
    if len(offsets) % 2 or offsets[0] != 1 or offsets[-1] != len(text) - 1:
        return None
    return list(map(text.__getitem__, map(slice, offsets[0::2], offsets[1::2])))


def _scalar(value: Any) -> str:
    """JSON text of a scalar, as :func:`json_fragment` writes it (fast for the usual types)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is str:
        return encode_basestring(value)
    if type(value) is int:
        return int.__repr__(value)
    return json_fragment(value)


def joined_labels(value: str) -> str:
    """JSON text of ``",".join(labels)`` for ``value``, the JSON text of a list of strings.

    Without a backslash, a list whose only quotes are those around its items is
    ``["a","b"]`` exactly, with nothing in the items to escape: joining is then a text edit.
    Anything else is parsed (and fails as the dict path would on a non-string item).
    """
    if value == "[]":
        return '""'
    if value.startswith('["') and value.endswith('"]') and "\\" not in value:
        inner = value[2:-2]
        if value.count('"') == 2 * (inner.count('","') + 1):
            return '"' + inner.replace('","', ",") + '"'
    return encode_basestring(",".join(json.loads(value)))


def _server_entries(row: StoredCampaign, account: Account) -> list[str]:
    """``"key":value`` of each of :func:`server_fields`, written directly (the per-row work of
    a list page; ``tests/test_emulator_rendering.py`` holds it to :func:`server_fields`)."""
    status = row.status
    stored = row.extra.get("effective_status")
    next_run = row.next_run_time
    return [
        f'"company_id":{encode_basestring(account.company_id)}',
        f'"create_time":{encode_basestring(row.create_time)}',
        f'"creator_id":{encode_basestring(account.creator_id)}',
        f'"effective_status":{encode_basestring(str(stored) if stored else status)}',
        f'"id":"{int(row.id)}"',
        '"is_draft":true' if status == "draft" else '"is_draft":false',
        f'"next_run_time":{"null" if next_run is None else encode_basestring(next_run)}',
        f'"run_counter":{_scalar(row.run_counter)}',
        '"run_immediately":null',
        '"score":0',
        f'"send_strategy":{encode_basestring(row.send_strategy)}',
        f'"status":{encode_basestring(status)}',
        f'"update_time":{encode_basestring(row.update_time)}',
        '"was_launched":true' if row.extra.get("was_launched", False) else '"was_launched":false',
    ]


_LABELS = '"labels":'
_HEAVY_PREFIXES = tuple(f'"{key}":' for key in sorted(HEAVY_FIELDS))
_SERVER_PREFIXES = tuple(f'"{key}":' for key in SERVER_FIELDS)


def _key(entry: str) -> str:
    return entry[1 : entry.index('"', 1)]


def campaign_json(row: CampaignText, account: Account, presentation: Presentation) -> str:
    """The JSON text of :func:`render_campaign` for a stored campaign, byte for byte, without
    parsing its spec (labels as a string, as lists and reads answer).

    Entries with plain-word keys sort as strings in key order (see ``dump_indexed``), so the
    answer is the sorted union of the spec's entries and the server fields' entries.
    """
    entries = spec_entries(row.spec_text, row.spec_index)
    if entries is None or any(map(str.startswith, entries, repeat(_SERVER_PREFIXES))):
        spec = json.loads(row.spec_text)
        return json_fragment(render_campaign(spec, row, account, presentation))
    at = bisect_left(entries, _LABELS)  # where "labels" is, if it is there
    if at < len(entries) and entries[at].startswith(_LABELS + "["):
        entries[at] = _LABELS + joined_labels(entries[at][len(_LABELS) :])
    entries += _server_entries(row, account)
    entries.sort()
    if presentation.fields is not None:
        wanted = set(presentation.fields)
        entries = [entry for entry in entries if _key(entry) in wanted]
    elif presentation.view == "default":
        entries = [entry for entry in entries if not entry.startswith(_HEAVY_PREFIXES)]
    return "{" + ",".join(entries) + "}"
