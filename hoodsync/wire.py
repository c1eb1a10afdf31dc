"""Facts about the APIs, written once (DESIGN §6): hoodsync's marker keys, the Hood campaign
status vocabulary, what "enabled" means for a Falconyte email campaign, and which fields are ids
(strings) and integers.

The kinds (:mod:`hoodsync.kinds`), the clients (:mod:`hoodsync.remote`), apply, export and the
emulator all read these from here, so a fact changes in one place.

Documented (``reference/hood-api.md`` §3.4): ``draft``, ``scheduled``, ``running``, ``paused``,
``canceled``, ``sent``, ``needs_decision``, with these rules: PATCH is refused in ``running``,
``canceled``, ``sent`` and ``needs_decision`` — a deny list, so any other status accepts it;
pause from ``running``/``scheduled``; resume from ``paused``; cancel from ``running``/
``scheduled``/``paused``.

Shown by the docs, but with no rule attached — what hoodsync takes them to mean:

- ``active``: seed 000 (create campaign, 200 response) returns ``"status": "active"`` and
  ``"effective_status": "active"`` for a new campaign with no ``next_run_time``; seed 001 (the
  newer revision) returns ``"status": "scheduled"``, ``"effective_status": "scheduled"`` where
  seed 000 says ``active``. So ``status: active`` is read as the coarse "live: not a draft, not
  paused, not ended", and ``effective_status`` as what the campaign is doing now. When it names a
  documented status (``active`` + ``running`` → ``running``), that status is the one planned
  against; otherwise (``active`` + ``active``, missing, or unknown) the campaign is *waiting*.
- ``manual``: seed 001 says a campaign created without execution options (``run_immediately``,
  ``recurrence``, ``scheduled_time``) "will be marked as manual", i.e. sent only on command. It is
  shown as a ``send_strategy`` value (seed 001, reference §3.3) and may also come back as the
  status. As a status it is *waiting* for a command; as a ``send_strategy`` it says nothing about
  the lifecycle (the status decides) and is never compared (it is not part of a definition).

A *waiting* campaign (``scheduled``, ``active``, ``manual``) is live and not sending right now: it
is patched in place (none of them is on the PATCH deny list), paused and canceled like
``scheduled``. Any other status hoodsync does not know is left for the API to judge: hoodsync
plans what the definition asks for, with a warning, and reports the API's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "merged",
    "MARKER",
    "HASH",
    "campaign_marker",
    "campaign_labels",
    "EMAIL_ACTIVE",
    "EMAIL_STOPPED",
    "email_campaign_enabled",
    "email_campaign_status",
    "FieldPath",
    "CAMPAIGN_ID_PATHS",
    "CAMPAIGN_INT_PATHS",
    "PUSH_TASK_ID_PATHS",
    "PUSH_TASK_INT_PATHS",
    "to_str_id",
    "is_object_id",
    "to_int",
    "coerce",
    "coerce_paths",
    "coerced_paths",
    "CAMPAIGN_DOCUMENTED",
    "CAMPAIGN_STATUSES",
    "CAMPAIGN_WAITING",
    "CAMPAIGN_NOT_EDITABLE",
    "CAMPAIGN_LOCKED",
    "CAMPAIGN_PAUSABLE",
    "CAMPAIGN_CANCELLABLE",
    "CAMPAIGN_RETIRED",
    "CAMPAIGN_AFTER_PAUSE",
    "CAMPAIGN_AFTER_RESUME",
    "CAMPAIGN_AFTER_CANCEL",
    "CAMPAIGN_EXECUTION_OPTIONS",
    "API_TIME",
    "CAMPAIGN_RESUMED",
    "campaign_status",
]

#: Statuses named by the documented transition rules (reference §3.4).
CAMPAIGN_DOCUMENTED = (
    "draft",
    "scheduled",
    "running",
    "paused",
    "canceled",
    "sent",
    "needs_decision",
)
#: Every status hoodsync has a meaning for: the documented ones, plus ``active`` (seed 000) and
#: ``manual`` (seed 001), which the docs show without rules (module docstring).
CAMPAIGN_STATUSES = CAMPAIGN_DOCUMENTED + ("active", "manual")
#: Live and not sending right now, waiting for a time or a command.
CAMPAIGN_WAITING = frozenset({"scheduled", "active", "manual"})
#: The documented PATCH deny list: edits are refused in these, accepted in any other status.
CAMPAIGN_NOT_EDITABLE = frozenset({"running", "canceled", "sent", "needs_decision"})
#: Nothing hoodsync can write changes these (``running`` is edited around a pause).
CAMPAIGN_LOCKED = CAMPAIGN_NOT_EDITABLE - {"running"}
#: Pause is documented from running and scheduled; the other waiting statuses are taken alike.
CAMPAIGN_PAUSABLE = frozenset({"running"}) | CAMPAIGN_WAITING
#: Cancel is documented from running, scheduled and paused; waiting statuses are taken alike.
CAMPAIGN_CANCELLABLE = CAMPAIGN_PAUSABLE | {"paused"}
#: A campaign whose definition is gone needs nothing more in these.
CAMPAIGN_RETIRED = frozenset({"canceled", "sent"})
#: A campaign's execution options (seed 001: none of them makes a manual campaign). The API
#: takes at most one at a time; ``run_immediately`` is a trigger, never stored.
CAMPAIGN_EXECUTION_OPTIONS = ("run_immediately", "scheduled_time", "recurrence")
#: The form of every Hood timestamp, in GMT (reference: "All timestamps are strings of the form
#: YYYY-MM-DD HH:MM:SS, in GMT/UTC").
API_TIME = "%Y-%m-%d %H:%M:%S"
#: What a re-read shows once each state action has happened. A resume without a body returns
#: the campaign to the status it had before the pause, which may be any pausable one.
CAMPAIGN_AFTER_PAUSE = frozenset({"paused"})
CAMPAIGN_AFTER_RESUME = CAMPAIGN_PAUSABLE
CAMPAIGN_AFTER_CANCEL = frozenset({"canceled"})
#: What a re-read may show once a resume has taken effect, however soon: the status it returns
#: to, or what running leads to (a campaign resumed to send may have finished sending, or wait
#: for an A/B decision, by the time apply looks).
CAMPAIGN_RESUMED = CAMPAIGN_AFTER_RESUME | {"sent", "needs_decision"}


def campaign_status(obj: Mapping[str, Any]) -> str:
    """The status hoodsync plans against, from a campaign object as the API returns it.

    ``status`` as given, except that ``active`` is refined by ``effective_status`` when that
    names a documented status (``active`` + ``running`` → ``running``). A missing or empty
    status reads ``unknown``. Never raises."""
    status = obj.get("status")
    text = str(status) if status not in (None, "") else "unknown"
    effective = obj.get("effective_status")
    if text == "active" and effective in CAMPAIGN_DOCUMENTED:
        return str(effective)
    return text


def merged(body: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` as a PATCH of ``patch`` leaves it: Hood's (and the push tasks') PATCH is a JSON
    merge patch (RFC 7386), where ``null`` removes a key, an object merges into the object it
    meets and any other value replaces. Neither argument is changed; the result shares the
    values it did not merge with them (bodies are read-only)."""
    out = dict(body)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping):
            held = out.get(key)
            out[key] = merged(held if isinstance(held, Mapping) else {}, value)
        else:
            out[key] = value
    return out


# --- hoodsync's own marks on a campaign ---------------------------------------------------------

#: ``metadata`` key holding the definition key of the campaign hoodsync created or adopted.
MARKER = "hoodsync_key"
#: ``metadata`` key holding the hash of the spec and state hoodsync last applied (drift).
HASH = "hoodsync_hash"


def campaign_marker(campaign: Mapping[str, Any]) -> Any:
    """The ``metadata.hoodsync_key`` of a campaign object, or ``None``."""
    metadata = campaign.get("metadata")
    return metadata.get(MARKER) if isinstance(metadata, Mapping) else None


def campaign_labels(value: Any) -> Any:
    """Labels as a list: the API returns one comma-joined string (split, stripped, empties
    dropped); ``null`` is no labels; anything else is left for validation to judge."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# --- Falconyte email campaigns -------------------------------------------------------------------

EMAIL_ACTIVE = "active"
EMAIL_STOPPED = "stopped"


def email_campaign_enabled(campaign: Mapping[str, Any]) -> bool | None:
    """Whether the campaign's event trigger is on: ``draft_data.send_data.event_triggered_send
    .enabled`` when present, else whether any of its ``campaign_sends`` is ``active``; ``None``
    if neither is shown."""
    draft = campaign.get("draft_data")
    send_data = draft.get("send_data") if isinstance(draft, Mapping) else None
    trigger = send_data.get("event_triggered_send") if isinstance(send_data, Mapping) else None
    if isinstance(trigger, Mapping) and isinstance(trigger.get("enabled"), bool):
        return bool(trigger["enabled"])
    sends = campaign.get("campaign_sends")
    if isinstance(sends, list):
        statuses = [s.get("status") for s in sends if isinstance(s, Mapping)]
        if statuses:
            return EMAIL_ACTIVE in statuses
    return None


def email_campaign_status(campaign: Mapping[str, Any]) -> str:
    """``active`` / ``stopped`` from :func:`email_campaign_enabled`, ``unknown`` when unshown."""
    enabled = email_campaign_enabled(campaign)
    return "unknown" if enabled is None else (EMAIL_ACTIVE if enabled else EMAIL_STOPPED)


# --- ids and integers ----------------------------------------------------------------------------

#: A field inside an object: keys, ``"*"`` for every element of a list (or value of a dict).
FieldPath = tuple[str, ...]

#: Campaign fields that are ids: strings on both sides (the API returns numbers or strings).
CAMPAIGN_ID_PATHS: tuple[FieldPath, ...] = (
    ("id",),
    ("company_id",),
    ("creator_id",),
    ("deal_id",),
    ("creator", "id"),
    ("creator", "company_id"),
    ("messages", "*", "id"),
    ("messages", "*", "company_id"),
    ("messages", "*", "campaign_id"),
    ("messages", "*", "integration_id"),
    ("messages", "*", "template_id"),
)
#: Campaign fields the docs type as integers (the API sometimes returns digit strings).
CAMPAIGN_INT_PATHS: tuple[FieldPath, ...] = (
    ("ab_test", "test_split"),
    ("messages", "*", "priority"),
    ("messages", "*", "winner"),
    ("recurrence", "pattern", "hour"),
    ("recurrence", "pattern", "minute"),
    ("recurrence", "pattern", "weekdays", "*"),
    ("recurrence", "pattern", "months", "*"),
    ("targeting", "profile_age", "from"),
    ("targeting", "profile_age", "to"),
    ("quiet_hours", "from"),
    ("quiet_hours", "to"),
    ("run_counter",),
    ("score",),
)
PUSH_TASK_ID_PATHS: tuple[FieldPath, ...] = (("id",),)
PUSH_TASK_INT_PATHS: tuple[FieldPath, ...] = (
    ("status",),
    ("ttl",),
    ("frequency",),
    ("user_time_zone",),
    ("total_user",),
    ("quiet_time", "from"),
    ("quiet_time", "to"),
    ("targeting", "subscribed_age", "from"),
    ("targeting", "subscribed_age", "to"),
    ("adex", "zone_id"),
    ("adex", "default_campaign_id"),
    ("adex", "number_of_messages"),
    ("adex", "repeat_on_click"),
    ("adex", "account_id"),
)


def to_str_id(value: Any) -> Any:
    """Ids as strings: ``1057`` (or ``1057.0``) → ``"1057"``; ``None``, booleans, strings and
    other types unchanged."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def is_object_id(value: Any) -> bool:
    """Whether a create's answer names an object by ``value``: a non-blank string or an integer
    (not a boolean). ``null``, ``true``, ``""``, ``1.5``, ``1e300`` or an object are not ids:
    used as one, the next step of a create would go to ``/campaigns/None/pause``."""
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, int) and not isinstance(value, bool)


def to_int(value: Any) -> Any:
    """Integers: ``"3600"`` (also ``"-1"``, or ``3600.0``) → ``3600``; anything else unchanged.
    Booleans stay booleans."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text.startswith("-") else text
        if digits.isdigit() and digits.isascii():
            return int(text)
    return value


def coerce(data: Any, path: Sequence[str], fn: Callable[[Any], Any]) -> None:
    """Apply ``fn`` in place at ``path`` inside ``data`` (``"*"`` = every element of a list or
    every value of a dict). Missing keys and wrong types are skipped silently."""
    if not path:
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(data, list):
            keys: Iterable[Any] = range(len(data))
        elif isinstance(data, dict):
            keys = list(data.keys())
        else:
            return
        for k in keys:
            if rest:
                coerce(data[k], rest, fn)
            else:
                data[k] = fn(data[k])
        return
    if isinstance(data, dict) and head in data:
        if rest:
            coerce(data[head], rest, fn)
        else:
            data[head] = fn(data[head])


def coerce_paths(data: dict[str, Any], ids: Sequence[FieldPath], ints: Sequence[FieldPath]) -> None:
    """Ids to strings and integers to ints, in place, at the given paths: ``data``'s values
    on those paths are replaced (by copies where something below them changes; the nested
    containers themselves are left as they were).

    Exactly :func:`coerce` with :func:`to_str_id` on every path of ``ids``, then with
    :func:`to_int` on every path of ``ints`` (``tests/test_wire.py`` compares the two), but each
    list is walked as one tree of its paths: the five message paths of a campaign cost one pass
    over its messages instead of five. This runs on every remote object and every spec of a
    plan (twice on each remote object), so it is worth the few lines."""
    out = _coerced_top(data, ids, ints)
    if out is not data:
        data.update(out)


def coerced_paths(
    data: Mapping[str, Any], ids: Sequence[FieldPath], ints: Sequence[FieldPath]
) -> dict[str, Any]:
    """What :func:`coerce_paths` makes of a deep copy of ``data``, without copying what it
    does not change: a new top-level dict that shares with ``data`` every container no
    coercion reaches into (``data`` is not modified). For read-only use of plain JSON data
    (dicts, lists, scalars), such as a definition's spec being planned: copying every spec
    whole cost ~0.12 s of a 10,000-definition plan."""
    return dict(_coerced_top(data, ids, ints))


def _coerced_top(
    data: Mapping[str, Any], ids: Sequence[FieldPath], ints: Sequence[FieldPath]
) -> Mapping[str, Any]:
    """Both coercions copy-on-write: ``data`` itself when neither changes anything."""
    out: Mapping[str, Any] = _coerced(data, _tree(ids), to_str_id, str, top=True)
    out = _coerced(out, _tree(ints), to_int, int, top=True)
    return out


def _coerced(
    data: Any, tree: _PathTree, fn: Callable[[Any], Any], done: type, top: bool = False
) -> Any:
    """:func:`coerce` with ``fn`` along every path of ``tree`` at once, copy-on-write: ``data``
    itself when nothing along ``tree`` changes, else a shallow copy of it with the changed
    values replaced (recursively). A value whose exact type is ``done`` is one ``fn`` returns
    unchanged (a str id, an int), so it is skipped. ``top``: ``data`` is the object itself,
    where a ``"*"`` path is followed only when the object has a key ``"*"`` (as
    :func:`coerce_paths` always did)."""
    is_dict = isinstance(data, dict)
    out: Any = None  # the copy, made at the first change
    for head, (ends, below) in tree.items():
        if head != "*" or (top and "*" not in data):
            if not (is_dict and head in data):
                continue
            keys: Iterable[Any] = (head,)
        elif isinstance(data, list):
            keys = range(len(data))
        elif is_dict:
            keys = list(data.keys())
        else:
            continue
        for k in keys:
            old = data[k] if out is None else out[k]
            new = fn(old) if ends and type(old) is not done else old
            if below:
                new = _coerced(new, below, fn, done)
            if new is not old:
                if out is None:
                    out = data.copy()
                out[k] = new
    return data if out is None else out


#: A tree of field paths: key (or ``"*"``) → (a path ends here, the subtree below it).
_PathTree = dict[str, "tuple[bool, _PathTree]"]

#: Trees of the path lists seen so far, by identity (the lists are module constants); the list
#: is kept with its tree so that its id cannot be reused by another object.
_TREES: dict[int, tuple[Sequence[FieldPath], _PathTree]] = {}


def _tree(paths: Sequence[FieldPath]) -> _PathTree:
    """The tree of ``paths`` (built once per list). Empty paths are ignored, as by coerce."""
    cached = _TREES.get(id(paths))
    if cached is not None and cached[0] is paths:
        return cached[1]
    root: _PathTree = {}
    for path in paths:
        node = root
        for depth, part in enumerate(path):
            ends, below = node.get(part, (False, {}))
            node[part] = (ends or depth == len(path) - 1, below)
            node = below
    if len(_TREES) < 64:  # only constants come here; stay bounded whatever a caller does
        _TREES[id(paths)] = (paths, root)
    return root
