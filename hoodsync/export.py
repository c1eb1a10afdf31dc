"""``hoodsync export``: definition files for what already exists in an account (bootstrap a repo).

Contract: for the objects the clients return, :func:`export_documents` builds one definition
file per remote object such that a plan of the exported files against the same account shows no
update and no create — campaigns without a hoodsync marker show only **adopt** (matched by
their exact name; apply then writes the marker), everything else shows no change. That holds
because the planner compares only what a definition states (DESIGN §3): the export states the
remote values themselves, after the kind module's own normalisation (which the planner applies
to both sides), and leaves out whatever it cannot state faithfully. Leaving a field out never
creates a difference; changing a value could, so values are never "fixed up" except into forms
the planner's ``==`` treats as equal (``30.0`` → ``30``, ``1`` ↔ ``true``).

What goes into a file:

* ``kind``, ``key``, ``state`` (only when it is not the default) and ``spec`` with the API's
  field names — only fields a user can set. Read-only fields (ids, creator, counters,
  timestamps, statuses), create-time triggers (``run_immediately``) and hoodsync's own
  metadata keys are dropped; ``null`` values mean "unset" and are dropped too.
* Keys: a campaign carrying ``metadata.hoodsync_key`` keeps it; everything else gets its name
  slugified (``[a-z0-9][a-z0-9._-]{0,63}``), made unique per kind with ``-2``, ``-3``… in
  creation order (oldest first), never taking a key that a remote marker uses.
* A header: the editor's schema line (``# yaml-language-server: $schema=PATH``, PATH relative
  from the file to the kind's schema in the repository's schemas folder, see
  :mod:`hoodsync.schemafiles`), the remote id and status, and a comment for every value left
  out because the schema or the API rules refuse it.
* Every document is dumped, loaded back with the strict loader and validated with ``now``; a
  problem inside ``spec`` removes the offending field (with a comment) and the check runs again.
  A document that still cannot be valid, or that the planner could not match to its remote
  object (an unmarked campaign that can no longer be edited, two unmarked campaigns or two push
  tasks with one name, a live older email campaign of the same name, an invalid or duplicated
  marker), is written **commented out**, with the reason and how to fix it: nothing is lost and
  the export still validates and plans cleanly.

Output is strict-YAML-safe: any string that a YAML 1.1 *or* 1.2 core reader would take as
something else (``"NO"``, ``"true"``, ``"1.0"``, ``"1e3"``, ``"0o17"``, ``"2026-01-01
00:00:00"``, ``""``, ``"null"``, leading or trailing spaces) is quoted; multi-line strings use
literal blocks. Text held by the remote that reads as an interpolation (``${env:NAME}``) or as a
malformed one (``${ENV:X}``) is escaped with a ``$`` (:func:`hoodsync.definitions.interpolate.escape`)
so that it stays literal text instead of becoming an interpolation or an error.

Only :func:`write_export` and :func:`write_schemas` (the schema files those lines point at)
touch the file system.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import logging
import os
import re
import textwrap
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml

from hoodsync.atomic import write_atomic
from hoodsync.definitions.interpolate import escape
from hoodsync.definitions.loader import CORE_SCALARS, load_text
from hoodsync.definitions.validate import parse_api_time, validate_documents
from hoodsync.errors import ConfigError, HoodsyncError, Problem, format_json_path
from hoodsync.kinds import from_remote
from hoodsync.kinds.base import oldest
from hoodsync.kinds.email_campaign import EmailCampaignRules
from hoodsync.model import JsonPath, Kind, RemoteObject
from hoodsync.schemafiles import (
    SCHEMA_FILES,
    SchemaStatus,
    modeline,
    schema_file,
    schema_reference,
    schema_status,
    schema_text,
)
from hoodsync.wire import CAMPAIGN_LOCKED, CAMPAIGN_RETIRED, HASH, MARKER

if TYPE_CHECKING:
    from hoodsync.config import Account, Config

__all__ = [
    "DEFAULT_SCHEMAS",
    "Dumper",
    "ExportedFile",
    "KIND_DIRS",
    "SchemaWrite",
    "check_hint",
    "dump_yaml",
    "export_documents",
    "is_definition",
    "parse_kind",
    "parse_kinds",
    "settable",
    "slugify",
    "unique_key",
    "write_export",
    "write_schemas",
]

log = logging.getLogger(__name__)


class ExportedFile(NamedTuple):
    """One file of an export: ``path`` relative to the output folder (POSIX separators) and
    its complete YAML ``text``."""

    path: str
    text: str


#: Folder per kind inside the export.
KIND_DIRS: Mapping[Kind, str] = {
    Kind.CAMPAIGN: "campaigns",
    Kind.PUSH_TASK: "push-tasks",
    Kind.EMAIL_CAMPAIGN: "email",
}

#: Where :func:`export_documents` expects the schemas, relative to the export folder: a
#: ``schemas`` folder beside it — the repository root's ``schemas/`` for an export folder at the
#: root, which is what the CLI's defaults (``--out exported``, ``--schemas schemas``) give.
DEFAULT_SCHEMAS = "../schemas"

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_KEY_MAX = 64

# --- what a user can set ------------------------------------------------------------------------

#: Campaign fields the server owns (read-only, counters, timestamps, derived status) or that are
#: create-time triggers (never state, DESIGN §3).
_CAMPAIGN_DROP = frozenset(
    {
        "id",
        "company_id",
        "creator_id",
        "creator",
        "create_time",
        "update_time",
        "status",
        "effective_status",
        "send_strategy",
        "status_code",
        "scheduled_run_times",
        "max_runs",
        "score",
        "was_launched",
        "next_run_time",
        "run_counter",
        "financial_performance",
        "run_immediately",
    }
)
_MESSAGE_DROP = frozenset({"id", "company_id", "campaign_id", "winner"})
#: Push-task fields the server owns. ``total_user`` moves on its own (the kind module treats it
#: as volatile), so stating it would turn into drift; ``status`` becomes ``state``.
_PUSH_TASK_DROP = frozenset(
    {
        "id",
        "status",
        "create_time",
        "update_time",
        "next_execution_time",
        "last_execution_time",
        "total_user",
    }
)

# --- key order ----------------------------------------------------------------------------------

_SPEC_ORDER: Mapping[Kind, tuple[str, ...]] = {
    Kind.CAMPAIGN: (
        "name",
        "description",
        "labels",
        "metadata",
        "deal_id",
        "is_draft",
        "scheduled_time",
        "recurrence",
        "send_in_profile_time_zone",
        "send_if_profile_time_passed",
        "quiet_hours",
        "ab_test",
        "messages",
        "targeting",
        "utm_tracking",
        "callbacks",
    ),
    Kind.PUSH_TASK: (
        "name",
        "start_time",
        "end_time",
        "frequency",
        "cron",
        "user_time_zone",
        "quiet_time",
        "ttl",
        "custom_data",
        "message",
        "targeting",
        "adex",
    ),
    Kind.EMAIL_CAMPAIGN: ("name", "template_ids", "mail_account_ids", "events"),
}
#: Preferred order of keys in nested objects; other keys follow, sorted.
_NESTED_ORDER = {
    k: i
    for i, k in enumerate(
        (
            "name",
            "channel",
            "integration_id",
            "template_id",
            "primary_lang",
            "priority",
            "push",
            "email",
            "sms",
            "title",
            "body",
            "image",
            "icon",
            "landing_url",
            "actions",
            "sender_name",
            "sender_email",
            "subject",
            "preheader",
            "html",
            "content",
            "test_split",
            "winning_metric",
            "evaluation_window",
            "winner_delivery_mode",
            "pattern",
            "cron",
            "hour",
            "minute",
            "weekdays",
            "months",
            "enabled",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_term",
            "utm_content",
            "items",
            "op",
            "from",
            "to",
            "action",
            "url",
        )
    )
}

# --- YAML output --------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """SafeDumper that also quotes every string a YAML 1.2 core reader would type differently.

    PyYAML decides whether a string may stay plain by asking its (YAML 1.1) resolvers; adding the
    1.2 core patterns — the ones hoodsync's strict loader uses — makes it quote ``1e3`` and
    ``0o17`` too, which 1.1 reads as strings but 1.2 as numbers.
    """

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Lists indented under their key, as in the examples (PyYAML's default is flush).
        super().increase_indent(flow, False)


for _tag, _regex, _first in CORE_SCALARS:
    _Dumper.add_implicit_resolver("tag:yaml.org,2002:" + _tag, re.compile(_regex), list(_first))

#: Characters YAML 1.1 treats as line breaks but 1.2 does not: always escaped.
_ODD_BREAKS = ("\x85", "\u2028", "\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Multi-line text as a literal block (the emitter falls back to double quotes when a block
    cannot hold it exactly, e.g. trailing spaces); the 1.1-only line breaks escaped."""
    style: str | None = None
    if any(ch in value for ch in _ODD_BREAKS):
        style = '"'
    elif "\n" in value:
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)

#: The dumper behind :func:`dump_yaml`: ``hoodsync pull`` asks it whether a string may stay
#: plain, so that pulled values are quoted exactly as exported ones.
Dumper = _Dumper


def dump_yaml(data: Any) -> str:
    """``data`` as block-style YAML that hoodsync's strict loader reads back unchanged (keys in
    the given order, unicode kept, lines folded at 100 columns)."""
    text: str = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return text


# --- kinds and keys -----------------------------------------------------------------------------


def parse_kind(text: str) -> Kind:
    """A kind from what a user types: ``Campaign`` / ``PushTask`` / ``EmailCampaign`` (any case),
    their slugs (``push_task``, ``push-task``) or export folder names (``push-tasks``).
    Raises :class:`ConfigError` naming the accepted spellings."""
    wanted = text.strip().lower()
    for kind in Kind:
        names = {kind.value.lower(), kind.slug, kind.slug.replace("_", "-"), KIND_DIRS[kind]}
        if wanted in names:
            return kind
    raise ConfigError(
        f"unknown kind {text!r}: use one of " + ", ".join(f"{k.value} ({k.slug})" for k in Kind)
    )


def parse_kinds(values: Iterable[str]) -> tuple[Kind, ...]:
    """Every ``--kind`` value parsed, without repeats, in :class:`Kind` order; no values means
    every kind."""
    chosen = {parse_kind(v) for v in values}
    return tuple(k for k in Kind if not chosen or k in chosen)


#: Letters NFKD does not decompose into ASCII.
_TRANSLITERATE = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "ae",
        "ø": "o",
        "Ø": "o",
        "œ": "oe",
        "Œ": "oe",
        "đ": "d",
        "Đ": "d",
        "ł": "l",
        "Ł": "l",
        "þ": "th",
        "Þ": "th",
        "ð": "d",
        "Ð": "d",
        "ı": "i",
    }
)


def slugify(name: str) -> str:
    """A key made from ``name``: ASCII-folded, lower case, runs of other characters → ``-``,
    starting with a letter or digit, at most 64 characters. ``""`` when nothing usable is left
    (e.g. a name written only in a non-Latin script)."""
    text = unicodedata.normalize("NFKD", name.translate(_TRANSLITERATE))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9._-]+", "-", text)
    text = re.sub(r"-{2,}", "-", text)
    text = re.sub(r"^[^a-z0-9]+", "", text)[:_KEY_MAX]
    return re.sub(r"[._-]+$", "", text)


def unique_key(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3``… (shortened to stay within 64 characters): the first
    one not in ``taken``. ``base`` must be a valid key. Does not modify ``taken``."""
    if base not in taken:
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = base[: _KEY_MAX - len(suffix)].rstrip("._-") + suffix
        if candidate not in taken:
            return candidate
        n += 1


# --- one object ---------------------------------------------------------------------------------


@dataclass
class _Draft:
    """One remote object on its way to a file."""

    kind: Kind
    remote: RemoteObject
    spec: dict[str, Any]
    state: str | None = None
    #: The key the object must keep (its campaign marker), else one is made from the name.
    reserved_key: str | None = None
    key: str = ""
    #: Header comments (one entry per paragraph).
    comments: list[str] = field(default_factory=list)
    #: Why the document is written commented out; empty when it is live.
    disabled: list[str] = field(default_factory=list)
    #: An unmarked campaign the first plan will adopt (said in the header when live).
    adopted: bool = False
    #: The file name without ``.yaml`` (the key, unless the key would name a config file).
    stem: str = ""


def _clean(value: Any) -> Any:
    """A JSON-like copy with ``null`` members dropped (absent and null are one thing to these
    APIs and to the planner), integral floats as ints (``==``-equal, and what the schema types
    as integer) and text that reads as an interpolation escaped so it stays literal."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return escape(value)
    return value


def settable(value: Any, *, message: bool = False) -> Any:
    """A remote value (in a definition's shape) as a definition states it, the way export writes
    it: ``null`` members dropped, integral floats as ints, text that reads as an interpolation
    escaped so it stays literal, nested keys in export's order. ``message``: a campaign message, whose server-owned
    fields (``id``, ``campaign_id``, ``winner``...) are left out too."""
    cleaned = _clean(value)
    if message and isinstance(cleaned, dict):
        cleaned = {k: v for k, v in cleaned.items() if k not in _MESSAGE_DROP}
    return _ordered(cleaned)


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _campaign_spec(obj: RemoteObject) -> tuple[dict[str, Any], list[str]]:
    """The settable part of a campaign, and comments about what was left out."""
    notes: list[str] = []
    spec = {k: v for k, v in _clean(obj.body).items() if k not in _CAMPAIGN_DROP}
    messages = spec.get("messages")
    if isinstance(messages, list):
        spec["messages"] = [
            {k: v for k, v in m.items() if k not in _MESSAGE_DROP} if isinstance(m, dict) else m
            for m in messages
        ]
    meta = spec.get("metadata")
    if isinstance(meta, dict):
        user = {k: v for k, v in meta.items() if k not in (MARKER, HASH)}
        if user:
            spec["metadata"] = user
        else:
            del spec["metadata"]
    if spec.get("labels") == []:
        del spec["labels"]
    if spec.get("recurrence") and spec.get("scheduled_time"):
        notes.append(
            f"Left out spec.scheduled_time = {_short(spec['scheduled_time'])}: a campaign sets at "
            "most one of scheduled_time and recurrence, and the recurrence is what schedules it."
        )
        del spec["scheduled_time"]
    return spec, notes


def _retired_copies(objs: Sequence[RemoteObject]) -> dict[str, list[RemoteObject]]:
    """Per kept campaign id, the other campaigns carrying its marker that plan sets aside as
    retired: those of a marker with at most one campaign that is not canceled or sent, which
    plan manages (else the oldest), as :meth:`CampaignRules.match` pairs them."""
    marked: dict[str, list[RemoteObject]] = {}
    for obj in objs:
        if obj.marker:
            marked.setdefault(obj.marker, []).append(obj)
    copies: dict[str, list[RemoteObject]] = {}
    for group in marked.values():
        live = [o for o in group if o.status not in CAMPAIGN_RETIRED]
        if len(group) > 1 and len(live) <= 1:
            keep = live[0] if live else oldest(group)
            copies[keep.id] = [o for o in group if o is not keep]
    return copies


def _campaign_drafts(objs: Sequence[RemoteObject]) -> list[_Draft]:
    retired = _retired_copies(objs)
    set_aside = {o.id for copies in retired.values() for o in copies}
    objs = [o for o in objs if o.id not in set_aside]
    markers = Counter(o.marker for o in objs if o.marker)
    # As plan adopts by name: among unmarked campaigns that are not canceled or sent.
    adoptable = [o for o in objs if not o.marker and o.status not in CAMPAIGN_RETIRED]
    unmarked_names = Counter(o.name for o in adoptable)
    out = []
    for obj in objs:
        spec, notes = _campaign_spec(obj)
        if obj.id in retired:
            ids = ", ".join(f"{o.id} ({o.status})" for o in retired[obj.id])
            notes.append(
                f"Other campaigns carry hoodsync_key={obj.marker} but are canceled or sent: ids "
                f"{ids}. Plan sets them aside (never touched); this file manages id {obj.id}."
            )
        state = {"paused": "paused", "canceled": "canceled"}.get(obj.status)
        draft = _Draft(Kind.CAMPAIGN, obj, spec, state, comments=notes)
        marker = obj.marker
        if marker is not None:
            if not KEY_RE.match(marker):
                draft.disabled.append(
                    f"It carries metadata.hoodsync_key {_short(marker)}, which is not a valid key "
                    "([a-z0-9][a-z0-9._-]{0,63}), so no definition can match it and it would not "
                    "be adopted by name either. Fix or remove that marker in Hood, then export "
                    "again."
                )
            elif markers[marker] > 1:
                # As plan counts them: those neither canceled nor sent.
                live = [
                    o.id for o in objs if o.marker == marker and o.status not in CAMPAIGN_RETIRED
                ]
                ids = ", ".join(live)
                draft.reserved_key = marker
                draft.disabled.append(
                    f"{len(live)} campaigns carry hoodsync_key={marker} (ids {ids}); plan "
                    "refuses to guess which one the definition manages. Cancel the extra ones or "
                    "change their metadata.hoodsync_key in Hood, then export again."
                )
            else:
                draft.reserved_key = marker
        elif obj.status not in CAMPAIGN_RETIRED and unmarked_names[obj.name] > 1:
            ids = ", ".join(o.id for o in adoptable if o.name == obj.name)
            draft.disabled.append(
                f"{unmarked_names[obj.name]} campaigns without a hoodsync marker are named "
                f"{_short(obj.name)} (ids {ids}), so plan cannot tell which one a definition "
                "means. Rename all but one in Hood (or give each a metadata.hoodsync_key), then "
                "export again."
            )
        elif obj.status in CAMPAIGN_LOCKED:  # no edit, so no marker; any other status is tried
            # Plan sets finished namesakes aside (CampaignRules.match): this file, enabled,
            # would create a second campaign, not manage this one.
            then = (
                "plan would create a new campaign from this file"
                if obj.status in CAMPAIGN_RETIRED
                else "plan would report an error"
            )
            draft.disabled.append(
                f"It is {obj.status} and carries no hoodsync marker: Hood accepts no edit in that "
                f"status, so the marker cannot be written and {then}. Kept for reference."
            )
        else:
            draft.adopted = True
        out.append(draft)
    return out


def _start_time(spec: dict[str, Any], active: bool, now: dt.datetime) -> list[str]:
    """A ``start_time`` a create would be accepted with. The API answers the time a task
    actually started; once that is past, the API would refuse it if the task were ever created
    again from this file (and plan says so), so it becomes ``immediately``, the create-time value
    the planner never compares."""
    start = spec.get("start_time")
    if start == "immediately":
        return []
    if isinstance(start, str):
        when = parse_api_time(start)
        if when is not None and when >= now:
            return []
        why = "is in the past" if when is not None else "is not YYYY-MM-DD HH:MM:SS"
        spec["start_time"] = "immediately"
        return [
            f"spec.start_time: the remote start time {_short(start)} {why}, which the API "
            "refuses on create; written as `immediately`, a create-time value that plan never "
            "compares."
        ]
    if active and start is None:
        spec["start_time"] = "immediately"
        return [
            "spec.start_time: the remote task is active but has no start time; written as "
            "`immediately` (an active task needs one; plan never compares it)."
        ]
    return []


def _push_task_drafts(objs: Sequence[RemoteObject], now: dt.datetime) -> list[_Draft]:
    names = Counter(o.name for o in objs)
    out = []
    for obj in objs:
        spec = {k: v for k, v in _clean(obj.body).items() if k not in _PUSH_TASK_DROP}
        status = obj.body.get("status")
        draft = _Draft(Kind.PUSH_TASK, obj, spec)
        if status in (0, 1) and not isinstance(status, bool):
            draft.state = "active" if status == 1 else "inactive"
        elif status == 2:
            draft.comments.append(
                "Finished (status 2): Hood accepts no edit to a finished task, so state is left "
                "out; a change to this definition would be reported, not applied."
            )
        else:
            draft.comments.append(f"Unknown status {_short(status)}: state is left out.")
        draft.comments.extend(_start_time(spec, status == 1, now))
        if names[obj.name] > 1:
            ids = ", ".join(o.id for o in objs if o.name == obj.name)
            draft.disabled.append(
                f"{names[obj.name]} push tasks are named {_short(obj.name)} (ids {ids}); push "
                "tasks are matched by name, so plan would refuse to guess. Rename or deactivate "
                "the extra ones in Hood, then export again."
            )
        out.append(draft)
    return out


def _email_drafts(objs: Sequence[RemoteObject]) -> list[_Draft]:
    """Newest campaign per name (what the planner manages); older stopped ones are superseded
    history and get no file of their own. A live older one blocks the name, as in the plan."""
    groups: dict[str, list[RemoteObject]] = {}
    for obj in objs:
        groups.setdefault(obj.name, []).append(obj)
    out = []
    for group in groups.values():
        group = sorted(group, key=lambda r: (r.created_at or "", r.id))
        newest, older = group[-1], group[:-1]
        live = [r for r in group if r.status != "stopped"]
        blocked = any(r.status != "stopped" for r in older)
        for obj in group if blocked else [newest]:
            spec = _clean(EmailCampaignRules.spec_view(obj.body))
            state = "stopped" if obj.status == "stopped" else None
            draft = _Draft(Kind.EMAIL_CAMPAIGN, obj, spec, state)
            if obj.status not in ("active", "stopped"):
                draft.comments.append(
                    "The remote object shows no trigger state: state is left out."
                )
            if "events" not in spec:
                kind = obj.body.get("campaign_type")
                draft.disabled.append(
                    "It has no event trigger"
                    + (f" (campaign_type {_short(kind)})" if kind is not None else "")
                    + ": hoodsync manages event-triggered email campaigns only."
                )
            if blocked:
                ids = ", ".join(f"{r.id} ({r.created_at or 'no created_at'})" for r in live)
                draft.disabled.append(
                    f"{len(live)} email campaigns named {_short(obj.name)} are not stopped: "
                    f"{ids}. Two live campaigns with one name is an error to plan (both would "
                    f"send). If the newest, {newest.id}, is the one to keep, this looks like an "
                    "interrupted replacement: uncomment its file, and a plan with "
                    "--allow-replace stops the older ones. "
                    "Otherwise stop the older ones in Falconyte (or rename them), then export "
                    "again."
                )
            elif older:
                draft.comments.append(
                    "Older stopped campaigns with this name (superseded, never touched): "
                    + ", ".join(r.id for r in older)
                    + "."
                )
            out.append(draft)
    return out


def _id_order(obj: RemoteObject) -> tuple[str, int, int, str]:
    """Creation order, then numeric id: oldest first, whatever order the input had."""
    return (
        obj.created_at or "",
        0 if obj.id.isdigit() else 1,
        int(obj.id) if obj.id.isdigit() else 0,
        obj.id,
    )


#: Keys whose file would be named like the config file (``hoodsync.yaml``), which the loader
#: skips and the config search could pick up: never made from a name, and a marker that
#: demands one gets another file name.
_CONFIG_STEMS = frozenset({"hoodsync"})


def _assign_keys(drafts: Sequence[_Draft], reserved: Iterable[str] = ()) -> None:
    """Markers first (they are identities), then names slugified and de-duplicated in order,
    never taking a key in ``reserved`` (keys definitions already use).
    No file is named ``hoodsync.yaml``/``hoodsync.yml`` (see :data:`_CONFIG_STEMS`)."""
    taken = {d.reserved_key for d in drafts if d.reserved_key} | set(reserved)
    taken |= {d.remote.marker for d in drafts if d.remote.marker and KEY_RE.match(d.remote.marker)}
    taken |= _CONFIG_STEMS
    used: set[str] = set()
    for draft in drafts:
        if draft.reserved_key and draft.reserved_key not in used:
            draft.key = draft.reserved_key
        else:
            base = slugify(draft.remote.name)
            if not base:
                prefix = draft.kind.slug.replace("_", "-")
                base = slugify(f"{prefix}-{draft.remote.id}") or prefix
            draft.key = unique_key(base, taken | used)
        used.add(draft.key)
    keys = {d.key for d in drafts}
    for draft in drafts:
        # Only a marker can be "hoodsync" (it must stay the key); its file gets a free name.
        clash = draft.key in _CONFIG_STEMS
        draft.stem = unique_key(draft.key, keys | _CONFIG_STEMS) if clash else draft.key


# --- ordering, validation, rendering -----------------------------------------------------------


def _ordered(value: Any) -> Any:
    """Nested objects with their keys in the preferred order, then the rest sorted."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (_NESTED_ORDER.get(k, len(_NESTED_ORDER)), k))
        return {k: _ordered(value[k]) for k in keys}
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


def _document(draft: _Draft) -> dict[str, Any]:
    order = {k: i for i, k in enumerate(_SPEC_ORDER[draft.kind])}
    spec = {
        k: _ordered(draft.spec[k])
        for k in sorted(draft.spec, key=lambda k: (order.get(k, len(order)), k))
    }
    doc: dict[str, Any] = {"kind": draft.kind.value, "key": draft.key}
    if draft.state is not None:
        doc["state"] = draft.state
    doc["spec"] = spec
    return doc


def _problems(doc: Mapping[str, Any], now: dt.datetime) -> tuple[str, list[Problem]]:
    """``doc`` as YAML, and what ``hoodsync validate`` would say about it (warnings included)."""
    text = dump_yaml(doc)
    loaded = load_text(text, "<export>")
    if loaded.problems:
        return text, loaded.problems
    _definitions, problems = validate_documents(loaded.documents, now=now)
    return text, problems


_MISSING = object()


def _get(node: Any, path: JsonPath) -> Any:
    for part in path:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return _MISSING
    return node


def _set(node: Any, path: JsonPath, value: Any) -> None:
    parent = _get(node, path[:-1])
    parent[path[-1]] = value


def _removal_target(doc: Mapping[str, Any], path: JsonPath) -> JsonPath | None:
    """The spec field to leave out for a problem at ``path``: the path up to its last object
    key. A list element is never removed on its own — arrays compare element by element (or as
    sets), so a shorter array would be a difference; the whole field goes instead."""
    trimmed = tuple(path)
    while trimmed and isinstance(trimmed[-1], int):
        trimmed = trimmed[:-1]
    if len(trimmed) < 2 or trimmed[0] != "spec" or _get(doc, trimmed) is _MISSING:
        return None
    return trimmed


def _alternatives(value: Any) -> list[Any]:
    """Values the planner's ``==`` treats as equal to ``value``, of another JSON type."""
    if isinstance(value, bool):
        return [int(value)]
    if isinstance(value, int) and value in (0, 1):
        return [bool(value)]
    return []


def _settle(doc: dict[str, Any], now: dt.datetime, notes: list[str]) -> tuple[str, list[Problem]]:
    """Make ``doc`` valid by retyping (``==``-safe only) or leaving out refused spec fields, one
    at a time, noting each. Returns ``doc`` as YAML and the problems that remain (none when it
    worked)."""
    for _ in range(500):  # each round removes or retypes one node, so this always ends
        text, problems = _problems(doc, now)
        if not problems:
            return text, []
        fixable = [(p, t) for p in problems if (t := _removal_target(doc, p.path)) is not None]
        if not fixable:
            return text, problems
        problem, target = fixable[0]
        if _retype(doc, problem, now):
            continue
        value = _get(doc, target)
        where = format_json_path(problem.path)
        notes.append(
            f"Left out {format_json_path(target)} = {_short(value)}: validation refuses "
            + (f"{where}: " if problem.path != target else "it: ")
            + problem.message
            + ("" if problem.message.endswith((".", "?", "!")) else ".")
        )
        parent = _get(doc, target[:-1])
        del parent[target[-1]]
    return _problems(doc, now)


def _retype(doc: dict[str, Any], problem: Problem, now: dt.datetime) -> bool:
    """Try an ``==``-equal value of another type at the problem's path; keep it if the problem
    there goes away."""
    path = problem.path
    value = _get(doc, path) if path else _MISSING
    for alt in _alternatives(value) if value is not _MISSING else []:
        _set(doc, path, alt)
        if not any(p.path[: len(path)] == path for p in _problems(doc, now)[1]):
            return True
        _set(doc, path, value)
    return False


def _one_line(text: str) -> str:
    return re.sub(r"[\r\n\x85\u2028\u2029\t]+", " ", text)


def _comment_block(paragraphs: Iterable[str]) -> list[str]:
    lines: list[str] = []
    for paragraph in paragraphs:
        wrapped = textwrap.wrap(
            _one_line(paragraph), width=96, break_long_words=False, break_on_hyphens=False
        ) or [""]
        lines.extend("# " + w if i == 0 else "#   " + w for i, w in enumerate(wrapped))
    return lines


_ADOPT_NOTE = (
    "No hoodsync marker on it yet: plan shows it as adopt (matched by its exact name) and apply "
    "writes metadata.hoodsync_key."
)
_WHAT = {
    Kind.CAMPAIGN: "Hood campaign",
    Kind.PUSH_TASK: "Hood push task",
    Kind.EMAIL_CAMPAIGN: "Falconyte email campaign",
}


def _render(draft: _Draft, body: str, notes: Sequence[str], schema_ref: str) -> str:
    """Header comments, then the document (``body``, YAML), commented out when disabled.
    ``schema_ref``: the path from the file to its kind's schema, for the editor's line."""
    head = [
        modeline(schema_ref),
        *_comment_block(
            [
                "The line above points editors at the schema (`hoodsync schema --write DIR` "
                "writes it).",
                f"Exported from {_WHAT[draft.kind]} {draft.remote.id} (status: {draft.remote.status}).",
                *draft.comments,
                *notes,
                *([_ADOPT_NOTE] if draft.adopted and not draft.disabled else []),
            ]
        ),
    ]
    if not draft.disabled:
        return "\n".join(head) + "\n" + body
    head += [
        "#",
        *_comment_block(["COMMENTED OUT — not a definition until fixed:", *draft.disabled]),
    ]
    head.append("#")
    commented = ["# " + line if line else "#" for line in body.rstrip("\n").split("\n")]
    return "\n".join(head + commented) + "\n"


def _canonical(value: Any) -> str:
    # json keeps true / 1 / 1.0 apart, which plain == would not.
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _verify(path: str, text: str, doc: Mapping[str, Any], live: bool, now: dt.datetime) -> None:
    """The file must load back as exactly ``doc`` (or as nothing when commented out) and
    validate with zero problems; anything else is a bug here, not in the account."""
    loaded = load_text(text, path)
    problems = list(loaded.problems)
    if live:
        if len(loaded.documents) != 1 or _canonical(loaded.documents[0].data) != _canonical(doc):
            raise HoodsyncError(f"export: {path} does not load back as written (internal error)")
        problems += validate_documents(loaded.documents, now=now)[1]
    elif loaded.documents:
        raise HoodsyncError(f"export: {path} is meant to be commented out (internal error)")
    if problems:
        raise HoodsyncError(f"export: {path} does not validate (internal error): {problems[0]}")


def _finish(draft: _Draft, now: dt.datetime, schemas: str) -> ExportedFile:
    path = f"{KIND_DIRS[draft.kind]}/{draft.stem or draft.key}.yaml"
    schema_ref = schema_reference(PurePosixPath(path).parent, schemas, draft.kind)
    doc = _document(draft)
    notes: list[str] = []
    if draft.disabled:
        body = dump_yaml(doc)
    else:
        original = copy.deepcopy(doc)
        body, remaining = _settle(doc, now, notes)
        if remaining:
            # Show the object as it is, with everything validation says about it: leaving
            # fields out did not make it valid, so the removals would only lose content.
            notes.clear()
            body, remaining = _problems(original, now)
            draft.disabled.extend(
                f"Validation refuses it: {p.message}"
                + (f" ({format_json_path(p.path)})" if p.path else "")
                for p in remaining
            )
    text = _render(draft, body, notes, schema_ref)
    _verify(path, text, doc, not draft.disabled, now)
    if draft.disabled:
        log.warning("%s: written commented out: %s", path, " ".join(draft.disabled))
    for note in notes:
        log.info("%s: %s", path, note)
    return ExportedFile(path, text)


def export_documents(
    remote: Mapping[Kind, Sequence[Mapping[str, Any]]],
    *,
    now: dt.datetime | None = None,
    taken: Mapping[Kind, Iterable[str]] | None = None,
    schemas: str = DEFAULT_SCHEMAS,
) -> list[ExportedFile]:
    """One definition file per remote object of each kind in ``remote`` (the clients' dicts),
    sorted by path. ``now`` (UTC; default the current time) is what the files are validated
    against — a push task's past start time is written as ``immediately``. Keys made from
    names avoid ``taken`` (per kind: the keys of the project's definitions, for ``pull --new``
    and ``export`` in a project).
    ``schemas`` is the folder holding the schema files (``hoodsync schema --write``), relative
    to the export folder with ``/`` separators, or absolute; each file's schema line points
    there, relative to the file.

    Pure apart from logging: every file has been loaded back with the strict loader and
    validated with zero problems (a :class:`HoodsyncError` says otherwise, which is a bug).
    Email campaigns superseded by a newer one of the same name get no file of their own (the
    newest one's file lists them).
    """
    now = now or dt.datetime.now(dt.UTC)
    files: list[ExportedFile] = []
    for kind in Kind:
        objs = sorted((from_remote(kind, d) for d in remote.get(kind, ())), key=_id_order)
        if kind is Kind.CAMPAIGN:
            drafts = _campaign_drafts(objs)
        elif kind is Kind.PUSH_TASK:
            drafts = _push_task_drafts(objs, now)
        else:
            drafts = _email_drafts(objs)
        drafts.sort(key=lambda d: _id_order(d.remote))
        _assign_keys(drafts, (taken or {}).get(kind, ()))
        files.extend(_finish(d, now, schemas) for d in drafts)
    return sorted(files, key=lambda f: f.path)


def is_definition(file: ExportedFile) -> bool:
    """Whether ``file`` holds a live definition (``False``: written commented out, see its
    header for why)."""
    return bool(load_text(file.text, file.path).documents)


def check_hint(out: Path, config: Config, account: Account) -> str:
    """The sentence after an export to ``out`` from ``account``: the ``hoodsync plan``
    command that checks it (a plan of the export shows no change, or adopt), or, when no such
    command exists yet, what to do first. With accounts that list ``paths:``, files outside
    them are refused ("under no account's paths"), and files under another account's paths
    would be planned as that account's: created there."""
    import shlex

    expect = "expect no changes, or adopt for campaigns hoodsync did not create."
    flag = f" --account {shlex.quote(account.name)}" if len(config.accounts) > 1 else ""
    check = f"`hoodsync plan {shlex.quote(str(out))}{flag}`"
    listed = {a.name: a.paths for a in config.accounts.values() if a.paths}
    where = out.resolve()

    def under(paths: Sequence[str]) -> bool:
        return any(where.is_relative_to((config.root / p).resolve()) for p in paths)

    if not listed or under(account.paths):
        return f"Check with {check}: {expect}"
    source = config.source or "hoodsync.yaml"
    others = [n for n, paths in sorted(listed.items()) if n != account.name and under(paths)]
    if others:
        problem = (
            f"{out} is under account {others[0]}'s paths: in {source}, not {account.name}'s: "
            f"planned there, these objects would be created in {others[0]}"
        )
    else:
        problem = f"{out} is under no account's paths: in {source}"
    if account.paths:
        todo = f"move the files into {account.name}'s paths ({', '.join(account.paths)})"
        then = f"`hoodsync plan{flag}`"
    else:
        todo = f"add {out}/ to {account.name}'s paths:"
        then = check
    return f"Before planning them: {problem}. First {todo}, then check with {then}: {expect}"


# --- writing ------------------------------------------------------------------------------------


def _target(out_dir: Path, relative: str) -> Path:
    rel = PurePosixPath(relative)
    if rel.is_absolute() or not rel.parts or any(p in ("", ".", "..") for p in rel.parts):
        raise ValueError(f"export path {relative!r} must be relative and stay inside the folder")
    return out_dir.joinpath(*rel.parts)


def write_export(
    files: Sequence[ExportedFile], out_dir: str | Path, *, overwrite: bool = False
) -> list[Path]:
    """Write ``files`` below ``out_dir`` (created as needed) and return the paths written, in
    order: every file, or none. Each file is written whole or not at all (temporary file +
    rename).

    Everything is checked before anything is written (:func:`_check_targets`): each folder on
    the way is a folder or can be made (not a file, not a symlink to nothing) and can be
    written in, no file is a folder, and — without ``overwrite`` — none exists yet (each one
    that does is named). Those refusals raise :class:`ConfigError` naming the path. A failure
    while writing all the same (a full disk, Ctrl-C) removes the files and folders this call
    made before it raises (:class:`HoodsyncError` for I/O); files it replaced stay replaced,
    each whole.
    """
    root = Path(out_dir)
    targets = [(_target(root, f.path), f.text) for f in files]
    _check_targets(root, [path for path, _ in targets], overwrite)
    made: list[Path] = []  # what this call created, in order: undone if it cannot finish
    written = []
    try:
        for path, text in targets:
            _make_folders(path.parent, made)
            existed = os.path.lexists(path)
            _write_atomic(path, text)
            if not existed:
                made.append(path)
            log.debug("wrote %s", path)
            written.append(path)
    except BaseException:
        _undo(made)
        raise
    return written


def _check_targets(root: Path, paths: Sequence[Path], overwrite: bool) -> None:
    """Raise :class:`ConfigError` naming the first path in the way of writing ``paths`` below
    ``root`` (see :func:`write_export`); nothing is written."""
    folders = dict.fromkeys(
        folder
        for path in paths
        for folder in reversed([path.parent, *path.parent.parents])
        if folder == root or folder.is_relative_to(root)
    )
    for folder in folders:
        _check_folder(folder)
    directories = [p for p in paths if p.is_dir()]
    if directories:
        raise ConfigError(f"cannot write {directories[0]}: it is a directory")
    clashes = [p for p in paths if os.path.lexists(p)]
    if clashes and not overwrite:
        shown = ", ".join(str(p) for p in clashes[:20])
        more = f" and {len(clashes) - 20} more" if len(clashes) > 20 else ""
        raise ConfigError(
            f"refusing to overwrite {len(clashes)} existing file(s): {shown}{more}; choose an "
            "empty output folder, or replace them with --overwrite"
        )
    for path in clashes:
        # A symlink is written through (hoodsync.atomic): its target's folder must be there.
        if path.is_symlink() and not path.resolve().parent.is_dir():
            raise ConfigError(
                f"cannot write {path}: it is a symlink to {os.readlink(path)}, "
                "in a folder that does not exist"
            )
    for folder in folders:
        if folder.is_dir():
            _check_writable(folder)


def _check_folder(folder: Path) -> None:
    """``folder`` is one (a symlink to one counts), or can be made: nothing of that name, and
    the nearest existing folder above it can be written in."""
    if folder.is_dir():
        return
    if os.path.lexists(folder):
        if folder.is_symlink():
            raise ConfigError(
                f"cannot write into {folder}: it is a symlink to {os.readlink(folder)}, which "
                "does not exist; create that folder, or choose another output folder"
            )
        raise ConfigError(
            f"cannot write into {folder}: it is a file, not a folder; move it away, or choose "
            "another output folder"
        )
    above = folder.parent
    while not os.path.lexists(above) and above != above.parent:
        above = above.parent
    if above != folder.parent or not above.is_dir():
        _check_folder(above)
    _check_writable(above)


def _check_writable(folder: Path) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
        reason = "read-only file system" if read_only else "permission denied"
        raise ConfigError(f"cannot write into {folder}: {reason}")


def _make_folders(folder: Path, made: list[Path]) -> None:
    """Make ``folder`` and any missing folder above it, recording each one made."""
    missing = []
    at = folder
    while not os.path.lexists(at):
        missing.append(at)
        at = at.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except OSError as exc:
            raise HoodsyncError(f"cannot create {path}: {exc.strerror or exc}") from exc
        made.append(path)


def _undo(made: Sequence[Path]) -> None:
    """Remove what :func:`write_export` made (files, then the folders holding them), newest
    first; what cannot be removed stays (a folder someone else wrote into meanwhile)."""
    for path in reversed(made):
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()


class SchemaWrite(NamedTuple):
    """One schema file of :func:`write_schemas`: its ``path`` and what happened to it —
    ``created``, ``updated`` (it held another hoodsync version's schema) or ``unchanged``."""

    path: Path
    action: str


_ACTIONS: Mapping[SchemaStatus, str] = {
    "missing": "created",
    "stale": "updated",
    "current": "unchanged",
}


def write_schemas(out_dir: str | Path, names: Sequence[str] | None = None) -> list[SchemaWrite]:
    """Write the JSON Schemas called ``names`` (default: all, see
    :data:`hoodsync.schemafiles.SCHEMA_FILES`) into ``out_dir`` (created as needed), one file
    each, exactly as shipped, and say what happened to each, in ``names`` order.

    The files are generated: an older hoodsync schema there is replaced, and a file that is
    already current is left alone (not rewritten). A file of that name that is not a hoodsync
    schema (or a folder) is never replaced: :class:`ConfigError` naming each, before anything is
    written. Each file is written whole or not at all (:func:`write_export`).
    """
    root = Path(out_dir)
    files = [schema_file(n) for n in (names if names is not None else list(SCHEMA_FILES))]
    status = {f: schema_status(root, f) for f in dict.fromkeys(files)}
    foreign = [str(root / f) for f, s in status.items() if s == "foreign"]
    if foreign:
        raise ConfigError(
            f"refusing to replace {', '.join(foreign)}: not a hoodsync schema; move "
            + ("them" if len(foreign) > 1 else "it")
            + " away or choose another folder"
        )
    changed = [ExportedFile(f, schema_text(f)) for f, s in status.items() if s != "current"]
    write_export(changed, root, overwrite=True)
    return [SchemaWrite(root / f, _ACTIONS[status[f]]) for f in status]


def _write_atomic(path: Path, text: str) -> None:
    """:func:`hoodsync.atomic.write_atomic`; a failure is one line."""
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise HoodsyncError(f"cannot write {path}: {exc.strerror or exc}") from exc
