"""The plan as pure data: what hoodsync would do to one account, and in which order.

A :class:`Plan` holds one :class:`Change` per resource that needs something done (or that cannot
be done and carries an error note), plus the lists and counts the renderers show. Each change holds
its explicit API :class:`Step` s in execution order, so ``apply`` executes a plan without deciding
anything itself.

``Plan.to_dict()`` is the single document every renderer reads and the saved-plan file
(``plan --out``) holds: ``format_version`` 3, JSON-safe, deterministic (lists in a fixed order;
serialise with ``sort_keys=True``). ``Plan.from_dict()`` reads it back exactly, and refuses
any other version. Version 2 changed what :class:`SensitiveValue` ``fp`` holds (a 128-bit keyed
fingerprint instead of 4 hex digits of an unkeyed hash): a version 1 saved plan cannot be
checked, so it is refused, never checked against the wrong kind of fingerprint. Version 3
added what apply needs to tell whether the plan still holds beyond the objects it acts on:
each change's :class:`Namesake` s (the objects sharing its identity when it was planned) and
the plan's ``planned_at`` (the clock its time-dependent flags were judged by); a version 2
saved plan has neither, so it is refused too.

Sensitive values (``${env:NAME}`` interpolations) never appear here: diffs show
``(sensitive ${env:NAME}, fp 3f2a)`` (4 hex digits of a fingerprint keyed with the account's
secret key, :class:`hoodsync.identity.ValueKey`) and step bodies keep the ``${env:NAME}``
template, which :func:`hoodsync.apply.resolve_steps` fills in again at apply time, refusing
when a value changed since the plan.

Ordering (DESIGN §3): per resource its steps are sequential; across resources by ``order`` wave,
then phase (creates/updates, then state changes, then removals), then kind, then key.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

from hoodsync.errors import PlanError, SafetyError
from hoodsync.model import Kind

__all__ = [
    "FORMAT_VERSION",
    "STATUS_OPS",
    "waits_after",
    "stops_created",
    "Action",
    "Op",
    "Severity",
    "Flag",
    "ACTIONS",
    "STEP_OPS",
    "PHASES",
    "AccountInfo",
    "Step",
    "Note",
    "FieldDiff",
    "SensitiveValue",
    "Namesake",
    "Change",
    "RemoteRef",
    "Counts",
    "Estimate",
    "Plan",
    "canonical_json",
    "fingerprint_body",
    "sort_changes",
    "check_safety",
]

#: The version of :meth:`Plan.to_dict`'s document; :meth:`Plan.from_dict` reads only this one.
FORMAT_VERSION = 3


class Action(enum.StrEnum):
    """Every ``Change.action``. ``NOTE`` = nothing will be done, the change only carries notes
    (an object that cannot be edited, an ambiguous match, a replacement that is not allowed).
    String-valued, so the JSON document holds the same words as before."""

    CREATE = "create"
    ADOPT = "adopt"
    UPDATE = "update"
    REPLACE = "replace"
    PAUSE = "pause"
    RESUME = "resume"
    ACTIVATE = "activate"
    START = "start"
    DEACTIVATE = "deactivate"
    STOP = "stop"
    CANCEL = "cancel"
    NOTE = "note"


class Op(enum.StrEnum):
    """Every ``Step.op``: the API operation apply performs."""

    CREATE = "create"
    PATCH = "patch"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    START = "start"
    STOP = "stop"


class Severity(enum.StrEnum):
    """How much a :class:`Note` matters: ``ERROR`` means the plan cannot be applied."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Flag(enum.StrEnum):
    """Markers on a change that the renderers warn about."""

    SENDS_IMMEDIATELY = "sends_immediately"
    LIVE_EDIT = "live_edit"
    IRREVERSIBLE = "irreversible"
    REMOVAL = "removal"
    #: Retires an extra copy of a definition's object (``--resolve-duplicates``).
    DUPLICATE = "duplicate"
    #: Creates an object beside a live one that is most likely the definition's own under an
    #: old key or name: both would send.
    SECOND_COPY = "second_copy"
    #: Creates an object whose name looks like a live one's of its kind, differing only in
    #: characters that look alike (``D\u0430ily news`` beside ``Daily news``): a reviewer
    #: cannot tell the two apart, and both would send.
    LOOKALIKE_NAME = "lookalike_name"
    #: Takes a draft campaign out of draft (``is_draft: true -> false``): it starts sending on
    #: its own schedule, at once with ``run_immediately``.
    LAUNCH = "launch"
    #: Creates a campaign with the name of one already sent that hoodsync does not manage (no
    #: marker): most likely a definition written for the sent one, whose audience would get
    #: the message again.
    BESIDE_SENT = "beside_sent"


#: Every action, in the order summaries list them.
ACTIONS = tuple(Action)

#: Every step op.
STEP_OPS = tuple(Op)

#: Ops that change an object's status; the APIs answer before the change shows.
STATUS_OPS = frozenset({Op.PAUSE, Op.RESUME, Op.CANCEL, Op.START, Op.STOP})


def waits_after(change: Change, index: int) -> bool:
    """Whether apply re-reads the object after ``change``'s step ``index`` until its new
    status shows (bounded): after a status op that a later step of the change depends on, and
    after every status op on a Hood campaign, whose docs say such a change "will be
    automatically synchronized" (a run right after would see the old status, call it drift
    and send the action again). Falconyte documents no such delay for start and stop, and
    reading one email campaign back means listing them all: its last one is not waited for."""
    step = change.steps[index]
    if step.op not in STATUS_OPS:
        return False
    return index + 1 < len(change.steps) or change.kind is Kind.CAMPAIGN


def stops_created(steps: Sequence[Step]) -> bool:
    """Whether ``steps`` create an object and later stop it (a ``stop`` step without an id acts
    on the object its change created). Only an email campaign is made so: Falconyte creates
    campaigns enabled and has no way to create one stopped, so the new campaign sends on its
    events from its create until that stop goes through."""
    created = False
    for step in steps:
        if step.op is Op.CREATE:
            created = True
        elif created and step.op is Op.STOP and step.id is None:
            return True
    return False


#: Phase per action: 0 creates and edits, 1 state changes, 2 removals (cancels/stops last).
PHASES: Mapping[Action, int] = {
    Action.CREATE: 0,
    Action.ADOPT: 0,
    Action.UPDATE: 0,
    Action.REPLACE: 0,
    Action.NOTE: 0,
    Action.PAUSE: 1,
    Action.RESUME: 1,
    Action.ACTIVATE: 1,
    Action.START: 1,
    Action.DEACTIVATE: 2,
    Action.STOP: 2,
    Action.CANCEL: 2,
}

#: Actions that are not counted as an ``update`` besides, whatever their steps
#: (:attr:`Change.counted_as`): an update already is one; a create and a replacement make a new
#: object.
_NOT_EDITS = frozenset({Action.UPDATE, Action.CREATE, Action.REPLACE})

#: Actions counted as removals by the safety guard.
REMOVALS = frozenset({Action.CANCEL, Action.STOP, Action.DEACTIVATE})

_KIND_ORDER = {kind: i for i, kind in enumerate(Kind)}


#: One encoder for every canonical form: ``json.dumps`` with options builds a new encoder per
#: call, and a 10,000-definition plan takes ~12,000 hashes and fingerprints. An encoder keeps
#: no state between calls.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the one byte form hashes and fingerprints are taken of."""
    return _CANONICAL.encode(value)


def fingerprint_body(body: Any) -> str:
    """sha256 (hex) of the canonical JSON of a normalised remote body."""
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """Which account a plan is for, and its rate class (used for the time estimate).

    ``url`` / ``sandbox`` describe the Hood endpoint, ``falconyte_url`` / ``falconyte_sandbox``
    the Falconyte one: each may be the embedded sandbox independently of the other.
    ``token_env`` / ``key_env`` name the variables that would point each endpoint at a real
    account (the notices name them; the values are never here)."""

    name: str
    url: str
    sandbox: bool = False
    falconyte_url: str | None = None
    per_second: int = 10
    per_minute: int = 150
    falconyte_per_second: int = 10
    falconyte_per_minute: int = 150
    falconyte_sandbox: bool = False
    token_env: str = "HOOD_API_TOKEN"
    key_env: str = "FALCONYTE_API_KEY"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (no secrets exist here: an account is names, URLs and limits)."""
        return {
            "name": self.name,
            "url": self.url,
            "sandbox": self.sandbox,
            "falconyte_url": self.falconyte_url,
            "falconyte_sandbox": self.falconyte_sandbox,
            "token_env": self.token_env,
            "key_env": self.key_env,
            "per_second": self.per_second,
            "per_minute": self.per_minute,
            "falconyte_per_second": self.falconyte_per_second,
            "falconyte_per_minute": self.falconyte_per_minute,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AccountInfo:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=str(d["name"]),
            url=str(d["url"]),
            sandbox=bool(d.get("sandbox", False)),
            falconyte_url=d.get("falconyte_url"),
            per_second=int(d.get("per_second", 10)),
            per_minute=int(d.get("per_minute", 150)),
            falconyte_per_second=int(d.get("falconyte_per_second", 10)),
            falconyte_per_minute=int(d.get("falconyte_per_minute", 150)),
            falconyte_sandbox=bool(d.get("falconyte_sandbox", False)),
            token_env=str(d.get("token_env", "HOOD_API_TOKEN")),
            key_env=str(d.get("key_env", "FALCONYTE_API_KEY")),
        )


@dataclass(frozen=True, slots=True)
class Step:
    """One API operation.

    ``op`` is one of :data:`STEP_OPS`. ``id`` is the remote id the step acts on; ``None`` on a
    ``create`` and on any later step that acts on the object *this change's create step made*.
    ``body`` is the JSON request body (``None`` = no body); sensitive values are kept as their
    ``${env:NAME}`` templates (see :func:`resolve_steps`).
    """

    op: Op
    id: str | None = None
    body: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        # A plain word is accepted and checked here, so a typo fails where it is written.
        object.__setattr__(self, "op", Op(self.op))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"op": self.op.value, "id": self.id, "body": _plain(self.body)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Step:
        """Inverse of :meth:`to_dict`."""
        return cls(op=_word(Op, d["op"], "step op"), id=d.get("id"), body=d.get("body"))


@dataclass(frozen=True, slots=True)
class Note:
    """A finding worth a reviewer's attention. ``severity``: ``error`` (the plan cannot be
    applied), ``warning`` or ``info``. ``address`` is empty for plan-wide notes."""

    severity: Severity
    message: str
    address: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "severity", Severity(self.severity))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"severity": self.severity.value, "message": self.message, "address": self.address}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Note:
        """Inverse of :meth:`to_dict`."""
        return cls(
            _word(Severity, d["severity"], "note severity"),
            str(d["message"]),
            str(d.get("address", "")),
        )


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One field-level difference. ``op``: ``add`` (remote lacks it), ``change``, ``remove``
    (remote has an extra array element or key) or ``move`` (an array element is in both but at
    another place). ``before`` is the remote value, ``after`` the desired one; sensitive values
    are already masked.

    ``path`` is a JSON path (``labels[1]``, ``targeting.countries``); elements of an array of
    campaign messages are named by identity rather than index: ``messages["Hello"]`` (with the
    channel when a name repeats: ``messages["Hello" (email)]``). For a ``move``, ``before`` /
    ``after`` are the element's index in the remote / desired array, and ``path`` names the
    message (``messages["Hello"]``) or, for an array of scalars, is the array's path with the
    moved value in ``item``. ``item`` is ``None`` otherwise and is written to JSON only for
    moves (format version 1 gained the op without changing the shape of the other entries)."""

    path: str
    op: str
    before: Any = None
    after: Any = None
    item: Any = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = {"path": self.path, "op": self.op, "before": self.before, "after": self.after}
        if self.op == "move":
            out["item"] = self.item
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FieldDiff:
        """Inverse of :meth:`to_dict`."""
        return cls(str(d["path"]), str(d["op"]), d.get("before"), d.get("after"), d.get("item"))


@dataclass(frozen=True, slots=True)
class SensitiveValue:
    """Where a ``${env:...}`` value sits in the spec (``path``), its ``template`` as written and
    the fingerprint ``fp`` of the value it resolved to when the plan was made: 32 hex digits of
    an HMAC under the account's secret key (:meth:`hoodsync.identity.ValueKey.check`), so apply
    notices any change and a reader of the plan can test no guess. ``None`` when the plan was
    made without the account's key (a sandbox before its plan key exists): nothing to check."""

    path: str
    template: str
    fp: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"path": self.path, "template": self.template, "fp": self.fp}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SensitiveValue:
        """Inverse of :meth:`to_dict`."""
        fp = d["fp"]
        return cls(str(d["path"]), str(d["template"]), None if fp is None else str(fp))


@dataclass(frozen=True, slots=True, order=True)
class Namesake:
    """An object of a change's kind that shared its identity when the plan was made: one it
    could be matched to, or that a create of it would stand beside — carrying the change's
    marker (campaigns), or a name that is its own or looks like it
    (:func:`hoodsync.lookalikes.skeleton`). ``live``: whether it could still send (the kind's
    :meth:`~hoodsync.kinds.base.KindRules.live`). Apply compares them with the account's
    (:func:`hoodsync.session.check_fresh`): a namesake that appeared, went, or came back to
    life since changes what the planner would have matched or warned about."""

    id: str
    live: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form (an id and a flag: never a name, which may come from ``${env:...}``)."""
        return {"id": self.id, "live": self.live}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Namesake:
        """Inverse of :meth:`to_dict`."""
        live = d["live"]
        if not isinstance(live, bool):
            raise TypeError(f"namesake live {live!r} is not true or false")
        return cls(str(d["id"]), live)


@dataclass(frozen=True, slots=True)
class Change:
    """What to do to one resource.

    ``description`` is the human phrase after ``# <address>`` (``will be created``).
    ``transition`` is ``(from, to)`` for a lifecycle change. ``drift`` is true when the
    difference comes from the remote object having moved since hoodsync last wrote it (rather
    than from a change in git). ``flags`` are markers the renderers warn about:
    ``sends_immediately``, ``live_edit`` (a running campaign is paused, edited, resumed),
    ``irreversible`` (cancel), ``removal``, ``second_copy`` (a create beside a live object that
    is probably the definition's own), ``lookalike_name`` (a create named like a live object
    but for characters that look alike), ``launch`` (a draft leaves draft). ``send_cause``
    says what makes a ``sends_immediately`` change send at once, in the plan's words
    (``run_immediately``, ``start_time: immediately``, ``send_if_profile_time_passed: …``), for
    the warnings banner; written to JSON only when set (``None`` in a plan made before it
    existed, and on every change not so flagged). ``fingerprint`` is
    that of the remote object the change was computed against (``None`` for a create).
    ``namesakes``: the objects that shared its identity when it was planned (only for a
    change with steps; see :class:`Namesake`), in id order.
    """

    address: str
    kind: Kind
    key: str
    action: Action
    description: str
    name: str | None = None
    remote_id: str | None = None
    remote_status: str | None = None
    transition: tuple[str, str] | None = None
    steps: tuple[Step, ...] = ()
    diff: tuple[FieldDiff, ...] = ()
    drift: bool = False
    notes: tuple[Note, ...] = ()
    fingerprint: str | None = None
    order: int = 0
    sensitive: tuple[SensitiveValue, ...] = ()
    flags: tuple[Flag, ...] = ()
    namesakes: tuple[Namesake, ...] = ()
    send_cause: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", Action(self.action))
        object.__setattr__(self, "flags", tuple(Flag(f) for f in self.flags))

    @property
    def phase(self) -> int:
        """0 create/edit, 1 state change, 2 removal (see :data:`PHASES`)."""
        return PHASES[self.action]

    @property
    def has_errors(self) -> bool:
        """True when any note is error-level."""
        return any(n.severity is Severity.ERROR for n in self.notes)

    @property
    def counted_as(self) -> tuple[Action, ...]:
        """The actions the plan's summary counts this change under (:meth:`Plan.summary`):
        none without steps; its own action; and ``update`` too when a change of another
        action also edits the object's content — it has a field diff and a step patching the
        object (a paused campaign updated and resumed, a campaign paused and updated, adopted
        and updated, a push task updated and activated). So a reviewer reading only the
        counts sees every content edit, whatever else the change does. An edit of a running
        campaign (pause, update, resume) is an ``update`` alone: its pause and resume leave the
        campaign as it was, as the summary counts each change by what it changes. A create and
        a replacement make a new object: not an update."""
        if not self.steps:
            return ()
        if (
            self.action in _NOT_EDITS
            or not self.diff
            or not any(s.op is Op.PATCH for s in self.steps)
        ):
            return (self.action,)
        return (self.action, Action.UPDATE)

    def sort_key(self) -> tuple[int, int, int, str, str]:
        """Wave, phase, kind, key, address (DESIGN §3)."""
        return (self.order, self.phase, _KIND_ORDER[self.kind], self.key, self.address)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out: dict[str, Any] = {
            "address": self.address,
            "kind": self.kind.value,
            "key": self.key,
            "name": self.name,
            "action": self.action.value,
            "description": self.description,
            "remote_id": self.remote_id,
            "remote_status": self.remote_status,
            "transition": list(self.transition) if self.transition else None,
            "steps": [s.to_dict() for s in self.steps],
            "diff": [d.to_dict() for d in self.diff],
            "drift": self.drift,
            "notes": [n.to_dict() for n in self.notes],
            "fingerprint": self.fingerprint,
            "order": self.order,
            "phase": self.phase,
            "sensitive": [s.to_dict() for s in self.sensitive],
            "flags": [f.value for f in self.flags],
            "counted_as": [a.value for a in self.counted_as],
            "namesakes": [n.to_dict() for n in self.namesakes],
        }
        if self.send_cause is not None:
            out["send_cause"] = self.send_cause
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Change:
        """Inverse of :meth:`to_dict`."""
        transition = d.get("transition")
        return cls(
            address=str(d["address"]),
            kind=Kind(d["kind"]),
            key=str(d["key"]),
            name=d.get("name"),
            action=_word(Action, d["action"], "action"),
            description=str(d["description"]),
            remote_id=d.get("remote_id"),
            remote_status=d.get("remote_status"),
            transition=(str(transition[0]), str(transition[1])) if transition else None,
            steps=tuple(Step.from_dict(s) for s in d.get("steps", ())),
            diff=tuple(FieldDiff.from_dict(x) for x in d.get("diff", ())),
            drift=bool(d.get("drift", False)),
            notes=tuple(Note.from_dict(n) for n in d.get("notes", ())),
            fingerprint=d.get("fingerprint"),
            order=int(d.get("order", 0)),
            sensitive=tuple(SensitiveValue.from_dict(s) for s in d.get("sensitive", ())),
            flags=tuple(_word(Flag, f, "flag") for f in d.get("flags", ())),
            namesakes=tuple(Namesake.from_dict(n) for n in d.get("namesakes", ())),
            send_cause=None if d.get("send_cause") is None else str(d["send_cause"]),
        )


@dataclass(frozen=True, slots=True)
class RemoteRef:
    """A remote object listed (not changed) by the plan: an orphan, an unmanaged or a superseded
    object. ``address`` is set for orphans and superseded objects."""

    kind: Kind
    id: str
    name: str
    status: str
    address: str | None = None
    created_at: str | None = None

    def sort_key(self) -> tuple[int, str, str, str]:
        """Kind, address, name, id."""
        return (_KIND_ORDER[self.kind], self.address or "", self.name, self.id)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "kind": self.kind.value,
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "address": self.address,
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RemoteRef:
        """Inverse of :meth:`to_dict`."""
        return cls(
            kind=Kind(d["kind"]),
            id=str(d["id"]),
            name=str(d["name"]),
            status=str(d["status"]),
            address=d.get("address"),
            created_at=d.get("created_at"),
        )


@dataclass(frozen=True, slots=True)
class Counts:
    """The numbers in the header and summary line.

    ``managed`` = remote objects matched to a definition plus orphans (what removal percentages
    are taken of); ``retired`` = marker-carrying campaigns without a definition that are already
    finished (canceled or sent) and so need nothing.
    """

    definitions: int = 0
    remote_objects: int = 0
    read_requests: int = 0
    unchanged: int = 0
    unmanaged: int = 0
    orphans: int = 0
    superseded: int = 0
    managed: int = 0
    retired: int = 0

    def to_dict(self) -> dict[str, int]:
        """JSON form."""
        return {
            "definitions": self.definitions,
            "remote_objects": self.remote_objects,
            "read_requests": self.read_requests,
            "unchanged": self.unchanged,
            "unmanaged": self.unmanaged,
            "orphans": self.orphans,
            "superseded": self.superseded,
            "managed": self.managed,
            "retired": self.retired,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Counts:
        """Inverse of :meth:`to_dict`."""
        return cls(**{f.name: int(d.get(f.name, 0)) for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class Estimate:
    """Requests apply is expected to make and the fastest time the rate limits allow for them."""

    requests: int = 0
    seconds: float = 0.0
    hood_requests: int = 0
    falconyte_requests: int = 0
    per_second: int = 10
    per_minute: int = 150

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "requests": self.requests,
            "seconds": self.seconds,
            "hood_requests": self.hood_requests,
            "falconyte_requests": self.falconyte_requests,
            "per_second": self.per_second,
            "per_minute": self.per_minute,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Estimate:
        """Inverse of :meth:`to_dict`."""
        return cls(
            requests=int(d.get("requests", 0)),
            seconds=float(d.get("seconds", 0.0)),
            hood_requests=int(d.get("hood_requests", 0)),
            falconyte_requests=int(d.get("falconyte_requests", 0)),
            per_second=int(d.get("per_second", 10)),
            per_minute=int(d.get("per_minute", 150)),
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything ``plan`` found and ``apply`` will do, for one account. Pure data."""

    account: AccountInfo
    changes: tuple[Change, ...] = ()
    counts: Counts = field(default_factory=Counts)
    notes: tuple[Note, ...] = ()
    orphans: tuple[RemoteRef, ...] = ()
    unmanaged: tuple[RemoteRef, ...] = ()
    superseded: tuple[RemoteRef, ...] = ()
    estimate: Estimate = field(default_factory=Estimate)
    prune: bool = False
    allow_replace: bool = False
    targets: tuple[str, ...] = ()
    #: Kinds the plan involves: a definition or a remote object of that kind exists. ``None``
    #: (a plan built by hand or read from an older file) derives them from changes and lists.
    kinds: tuple[Kind, ...] | None = None
    #: The clock (timezone-aware) the plan's time-dependent flags and notes were judged by
    #: (a start that has passed sends at once); ``None`` when planned without one. Apply judges
    #: them again by its own clock (:func:`hoodsync.session.check_fresh`).
    planned_at: datetime | None = None

    def involved_kinds(self) -> tuple[Kind, ...]:
        """:attr:`kinds`, or the kinds of the changes and listed objects, in :class:`Kind` order."""
        if self.kinds is not None:
            found = set(self.kinds)
        else:
            found = {c.kind for c in self.changes}
            found |= {r.kind for r in self.orphans + self.unmanaged + self.superseded}
        return tuple(k for k in Kind if k in found)

    @property
    def has_errors(self) -> bool:
        """True when any note (plan-wide or on a change) is error-level: apply must refuse."""
        return any(n.severity is Severity.ERROR for n in self.notes) or any(
            c.has_errors for c in self.changes
        )

    @property
    def has_changes(self) -> bool:
        """True when apply would make at least one write."""
        return any(c.steps for c in self.changes)

    def summary(self) -> dict[str, int]:
        """Count of changes with steps per action (every action present, zeros included). A
        change that also edits content besides its own action counts under ``update`` too
        (:attr:`Change.counted_as`), so the counts may add up to more than the changes."""
        out = {a.value: 0 for a in ACTIONS if a is not Action.NOTE}
        for c in self.changes:
            for action in c.counted_as:
                out[action] += 1
        return out

    def all_notes(self) -> list[Note]:
        """Plan-wide notes, then each change's notes, in plan order."""
        return list(self.notes) + [n for c in self.changes for n in c.notes]

    def to_dict(self) -> dict[str, Any]:
        """The versioned plan document (the only input of every renderer, and the saved plan)."""
        notes = self.all_notes()
        return {
            "format_version": FORMAT_VERSION,
            "account": self.account.to_dict(),
            "options": {
                "prune": self.prune,
                "allow_replace": self.allow_replace,
                "targets": sorted(self.targets),
            },
            "counts": self.counts.to_dict(),
            "summary": self.summary(),
            "has_changes": self.has_changes,
            "has_errors": self.has_errors,
            "errors": sum(1 for n in notes if n.severity is Severity.ERROR),
            "warnings": sum(1 for n in notes if n.severity is Severity.WARNING),
            "changes": [c.to_dict() for c in self.changes],
            "notes": [n.to_dict() for n in self.notes],
            "orphans": [r.to_dict() for r in self.orphans],
            "unmanaged": [r.to_dict() for r in self.unmanaged],
            "superseded": [r.to_dict() for r in self.superseded],
            "estimate": self.estimate.to_dict(),
            "planned_at": self.planned_at.isoformat() if self.planned_at is not None else None,
            **self._kinds_entry(),
        }

    def _kinds_entry(self) -> dict[str, list[str]]:
        # Only when known: a plan read back must equal the one written.
        if self.kinds is None:
            return {}
        return {"kinds": [k.value for k in self.involved_kinds()]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        """Read a saved plan. Raises :class:`PlanError` for another format version or a
        malformed document."""
        version = d.get("format_version") if isinstance(d, Mapping) else None
        if version != FORMAT_VERSION:
            raise PlanError(
                f"saved plan has format_version {version!r}; this hoodsync reads "
                f"{FORMAT_VERSION}: make the plan again with `hoodsync plan --out`"
            )
        try:
            options = d.get("options", {})
            return cls(
                account=AccountInfo.from_dict(d["account"]),
                changes=tuple(Change.from_dict(c) for c in d.get("changes", ())),
                counts=Counts.from_dict(d.get("counts", {})),
                notes=tuple(Note.from_dict(n) for n in d.get("notes", ())),
                orphans=tuple(RemoteRef.from_dict(r) for r in d.get("orphans", ())),
                unmanaged=tuple(RemoteRef.from_dict(r) for r in d.get("unmanaged", ())),
                superseded=tuple(RemoteRef.from_dict(r) for r in d.get("superseded", ())),
                estimate=Estimate.from_dict(d.get("estimate", {})),
                prune=bool(options.get("prune", False)),
                allow_replace=bool(options.get("allow_replace", False)),
                targets=tuple(options.get("targets", ())),
                kinds=tuple(Kind(k) for k in d["kinds"]) if "kinds" in d else None,
                planned_at=_aware(d.get("planned_at")),
            )
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            # Any shape JSON can take where another is expected: a null change has no .get,
            # a string transition has too few items.
            raise PlanError(
                f"saved plan is malformed ({exc}): not as `hoodsync plan --out` writes it; it "
                "was modified or made by another program"
            ) from exc


def _aware(value: Any) -> datetime | None:
    """A saved plan's ``planned_at``: ``None``, or an ISO 8601 time with its UTC offset."""
    if value is None:
        return None
    when = datetime.fromisoformat(value)  # a TypeError or ValueError for anything else
    if when.tzinfo is None:
        raise ValueError(f"planned_at {value!r} has no UTC offset")
    return when


_E = TypeVar("_E", bound=enum.StrEnum)


def _word(vocabulary: type[_E], value: Any, what: str) -> _E:
    """``value`` as a member of ``vocabulary``; :class:`PlanError` for an unknown word."""
    try:
        return vocabulary(value)
    except ValueError as exc:
        raise PlanError(f"unknown {what} {value!r} in saved plan") from exc


#: Types :func:`_plain` returns as they are, told by exact type before any ``isinstance``
#: (an ABC check against ``Mapping`` costs more than the copy of a scalar).
_PLAIN_ATOMS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """Deep copy of JSON-like data into plain dicts/lists (Mappings and tuples included)."""
    t = type(value)
    if t in _PLAIN_ATOMS:
        return value
    if t is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    if t is list:
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def sort_changes(changes: Sequence[Change]) -> tuple[Change, ...]:
    """Changes in execution order: wave, phase, kind, key (DESIGN §3)."""
    return tuple(sorted(changes, key=Change.sort_key))


#: The removal percentage applies from this many managed objects, or from this many removals
#: in a smaller account (fewer would make every removal in it a large share).
_PERCENT_FROM_MANAGED = 10
_PERCENT_FROM_REMOVALS = 3


def check_safety(
    plan: Plan,
    *,
    max_removals: int = 10,
    max_removal_percent: float = 30,
    allow_removals: int | None = None,
) -> None:
    """Refuse a dangerous plan with :class:`SafetyError` (nothing has been applied yet).

    - removals (cancel, stop, deactivate) above ``max_removals``, or above
      ``max_removal_percent`` % of the managed objects — the percentage once at least 10
      objects are managed (as octoDNS does) or at least 3 are removed: removing 1 of 3 is not
      refused, cancelling 8 of 9 (a wrong path in a small account) is;
    - no definitions at all while the account holds hoodsync-managed objects (a wrong path).

    ``allow_removals=N`` is the explicit acknowledgement: up to N removals pass both guards.
    """
    # Retiring duplicates is asked for explicitly (--resolve-duplicates) and each one's twin
    # stays managed: not the mass removal a wrong path would cause.
    removals = [
        c
        for c in plan.changes
        if c.action in REMOVALS and c.steps and Flag.DUPLICATE not in c.flags
    ]
    n = len(removals)
    managed = plan.counts.managed
    if allow_removals is not None:
        if n > allow_removals:
            raise SafetyError(
                f"the plan removes {n} objects, more than --allow-removals {allow_removals}: "
                + _names(removals)
            )
        return
    if plan.counts.definitions == 0 and managed > 0:
        raise SafetyError(
            f"no definitions were found, but the account holds {managed} objects managed by "
            "hoodsync; check the paths (or pass --allow-removals N to remove them on purpose)"
        )
    if n > max_removals:
        raise SafetyError(
            f"the plan removes {n} objects, more than the limit of {max_removals}: "
            f"{_names(removals)}; pass --allow-removals {n} if this is intended"
        )
    small = managed < _PERCENT_FROM_MANAGED and n < _PERCENT_FROM_REMOVALS
    if not small and n * 100 > max_removal_percent * managed:
        pct = math.floor(n * 100 / managed)
        raise SafetyError(
            f"the plan removes {n} of {managed} managed objects ({pct} %), more than "
            f"{max_removal_percent:g} %: {_names(removals)}; pass --allow-removals {n} if this "
            "is intended"
        )


def _names(changes: Sequence[Change], limit: int = 10) -> str:
    shown = ", ".join(c.address for c in changes[:limit])
    more = len(changes) - limit
    return shown + (f" and {more} more" if more > 0 else "")
