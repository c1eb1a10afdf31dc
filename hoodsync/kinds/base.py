"""What every kind module shares: the desired-subset comparison, the field differ, masking of
sensitive values, and the :class:`KindRules` interface the planner drives.

Comparison (DESIGN §3): only what the definition states is compared. :func:`project` cuts the
normalised remote object down to the shape of the normalised desired spec — dict keys the spec
does not state are dropped, campaign messages are cut on the desired message of the same name
and channel, other arrays of objects element by element on the keys each desired element states,
scalars and arrays of scalars are kept whole — and then plain ``==`` decides. That equality test
is all a 10,000-object plan costs for the objects that match.

Only when it says "different" does :func:`diff` list field-level differences. Objects are walked
key by key (the projection already put both sides in one shape, so a straight walk gives the
``targeting.countries`` paths the plan shows). Arrays are *aligned*, not compared by index, so an
inserted, removed or moved element is one difference and the elements around it add nothing:
messages by ``(name, channel)`` (paths name them: ``messages["Hello"].push.title.en``), arrays
of scalars (labels, countries, languages) by value, other arrays (push actions) by position. The
alignment is deepdiff's (``iterable_compare_func`` with ``iterable_item_added`` / ``_removed`` /
``_moved``), run on the element identities only, and only for arrays whose elements are not
already in place: a changed value at an unchanged position (``labels[1] = "sale" -> "promo"``) or
messages in the same order are paired without it, so the common edit costs no deepdiff call (one
costs about 0.2 ms, many times the rest of an object's comparison).
"""

from __future__ import annotations

import abc
import bisect
import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from hoodsync.definitions.fast_interpolate import may_reference
from hoodsync.definitions.interpolate import escape, masked, reference_names
from hoodsync.errors import format_json_path
from hoodsync.identity import ValueKey
from hoodsync.model import Definition, JsonPath, Kind, Location, RemoteObject
from hoodsync.plan import (
    Action,
    Change,
    FieldDiff,
    Flag,
    Note,
    Op,
    SensitiveValue,
    Step,
    canonical_json,
    fingerprint_body,
)

__all__ = [
    "Desired",
    "Resource",
    "Context",
    "Match",
    "KindRules",
    "RawDiff",
    "DiffPath",
    "Element",
    "copy_json",
    "project",
    "projects_to_itself",
    "follow_order",
    "diff",
    "format_path",
    "field_diffs",
    "changed_top_keys",
    "mask_paths",
    "mask_alike",
    "template_body",
    "spec_hash",
    "group_by",
    "oldest",
    "DUPLICATE_SUFFIX",
    "RESOLVE_HINT",
]

#: One raw difference: (path, op, before, after); op is add | change | remove | move. A move's
#: path ends with the moved :class:`Element`; before / after are its remote / desired index.
RawDiff = tuple["DiffPath", str, Any, Any]


@dataclass(frozen=True, slots=True)
class Desired:
    """A definition ready for planning: its ``${env:...}``-resolved spec and the paths (relative
    to the spec) of the sensitive strings in it. ``definition.spec`` still holds the templates.
    ``value_key`` is the account's key of the sensitive values' fingerprints
    (:class:`~hoodsync.identity.ValueKey`); ``None`` when there is none: masks then show no
    fingerprint and :meth:`sensitive_values` records none."""

    definition: Definition
    spec: Mapping[str, Any]
    sensitive: tuple[JsonPath, ...] = ()
    value_key: ValueKey | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        """``kind.key``."""
        return self.definition.address

    @property
    def key(self) -> str:
        """The definition's key."""
        return self.definition.key

    @property
    def name(self) -> str | None:
        """``spec.name`` (resolved), if a string."""
        name = self.spec.get("name")
        return name if isinstance(name, str) else None

    @property
    def shown_name(self) -> str | None:
        """The name as plans may show it: masked when it came from ``${env:...}``."""
        name = self.name
        if name is not None and ("name",) in self.sensitive:
            return masked(name, self.reference_names(("name",)), key=self.value_key)
        return name

    def shown_alike(self, path: JsonPath, value: Any) -> Any:
        """``value`` (another object's at ``path``, such as a duplicate's name) as plans may
        show it: masked when this definition's value at ``path`` came from ``${env:...}``, for
        the other object's holds that secret too (or an old value of it)."""
        if path not in self.sensitive or not isinstance(value, str):
            return value
        return masked(value, self.reference_names(path), key=self.value_key)

    def reference_names(self, path: JsonPath) -> tuple[str, ...]:
        """The ``${env:NAME}`` names the template at ``path`` (relative to the spec) uses."""
        try:
            template = _get(self.definition.spec, path)
        except (KeyError, IndexError, TypeError):
            return ()
        return reference_names(template) if isinstance(template, str) else ()

    @property
    def sensitive_names(self) -> dict[JsonPath, tuple[str, ...]]:
        """Sensitive path → the variable names its template uses (for masked renderings)."""
        return {path: self.reference_names(path) for path in self.sensitive}

    def sensitive_values(self) -> tuple[SensitiveValue, ...]:
        """Path, template and keyed fingerprint (:meth:`ValueKey.check`; ``None`` without a
        key) of every sensitive string: what apply checks the values against."""
        key = self.value_key
        out = []
        for path in self.sensitive:
            template = _get(self.definition.spec, path)
            value = str(_get(self.spec, path))
            check = key.check(value) if key is not None else None
            out.append(SensitiveValue(format_json_path(path), str(template), check))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Resource:
    """What every change of one resource shares — identity, and, once matched, the remote object
    and the field diff — and :meth:`change`, the one way the kinds build a :class:`Change`."""

    address: str
    kind: Kind
    key: str
    name: str | None = None
    order: int = 0
    sensitive: tuple[SensitiveValue, ...] = ()
    remote_id: str | None = None
    remote_status: str | None = None
    fingerprint: str | None = None
    diff: tuple[FieldDiff, ...] = ()

    @classmethod
    def of(cls, desired: Desired) -> Resource:
        """A definition's resource, before it is matched."""
        d = desired.definition
        return cls(
            d.address, d.kind, d.key, desired.shown_name, d.order, desired.sensitive_values()
        )

    def on(
        self, remote: RemoteObject, fingerprint: str, diff: tuple[FieldDiff, ...] = ()
    ) -> Resource:
        """This resource matched to ``remote`` (with ``fingerprint``), differing by ``diff``."""
        return dataclasses.replace(
            self,
            remote_id=remote.id,
            remote_status=remote.status,
            fingerprint=fingerprint,
            diff=diff,
        )

    def change(
        self,
        action: Action,
        description: str,
        *,
        steps: Sequence[Step] = (),
        transition: tuple[str, str] | None = None,
        notes: Sequence[Note] = (),
        flags: Sequence[Flag] = (),
        drift: bool = False,
        diff: tuple[FieldDiff, ...] | None = None,
        sends: str | None = None,
    ) -> Change:
        """The change to this resource (``diff`` overrides the resource's own). ``sends``
        names what makes it send at once (:attr:`Change.send_cause`): it flags the change
        :attr:`Flag.SENDS_IMMEDIATELY`, the only way the kinds set that flag, so that every
        such change says why."""
        if sends is not None and Flag.SENDS_IMMEDIATELY not in flags:
            flags = (*flags, Flag.SENDS_IMMEDIATELY)
        return Change(
            address=self.address,
            kind=self.kind,
            key=self.key,
            action=action,
            description=description,
            name=self.name,
            remote_id=self.remote_id,
            remote_status=self.remote_status,
            transition=transition,
            steps=tuple(steps),
            diff=self.diff if diff is None else diff,
            drift=drift,
            notes=tuple(notes),
            fingerprint=self.fingerprint,
            order=self.order,
            sensitive=self.sensitive,
            flags=tuple(flags),
            send_cause=sends,
        )


@dataclass(frozen=True, slots=True)
class Context:
    """Planner options the kind rules need."""

    prune: bool = False
    allow_replace: bool = False
    #: ``--resolve-duplicates``: when several remote objects claim one definition, keep the
    #: oldest and plan the retirement of the others (see :meth:`KindRules.duplicate_change`).
    resolve_duplicates: bool = False
    #: The planning time (timezone-aware), or ``None`` when the caller gave none.
    now: datetime | None = None


@dataclass(slots=True)
class Match:
    """How one kind's remote objects relate to its definitions.

    ``pairs``: address → the remote object it manages. ``blocked``: address → error notes
    (ambiguous matches; the planner emits a note-only change). ``orphans``: objects carrying a
    marker with no definition that still need removing; ``retired``: such objects that are
    already finished. ``superseded``: (address, object) pairs of older replaced objects.
    ``unmanaged``: everything else, never touched. ``leftovers``: address → older objects a
    replacement was interrupted before stopping (see :meth:`KindRules.finish_leftovers`).
    ``duplicates``: (address, duplicate, kept) for the extra objects claiming one definition,
    filled only when duplicates are to be resolved (:meth:`KindRules.duplicate_change`).
    """

    pairs: dict[str, RemoteObject] = field(default_factory=dict)
    leftovers: dict[str, list[RemoteObject]] = field(default_factory=dict)
    blocked: dict[str, list[Note]] = field(default_factory=dict)
    orphans: list[RemoteObject] = field(default_factory=list)
    retired: list[RemoteObject] = field(default_factory=list)
    superseded: list[tuple[str, RemoteObject]] = field(default_factory=list)
    unmanaged: list[RemoteObject] = field(default_factory=list)
    duplicates: list[tuple[str, RemoteObject, RemoteObject]] = field(default_factory=list)


def oldest(objs: Sequence[RemoteObject]) -> RemoteObject:
    """The object created first (creation time, then numeric id): the one a duplicated
    definition keeps managing."""

    def key(o: RemoteObject) -> tuple[str, int, str]:
        return (str(o.created_at or ""), int(o.id) if o.id.isdigit() else 0, o.id)

    return min(objs, key=key)


#: Appended to the name of a duplicate that is released from hoodsync rather than removed.
DUPLICATE_SUFFIX = " (duplicate)"

#: How an ambiguity that ``--resolve-duplicates`` can settle ends its error note.
RESOLVE_HINT = (
    "To keep the oldest (id {kept}) and retire the others, review `hoodsync plan "
    "--resolve-duplicates`, then run `hoodsync apply --resolve-duplicates`."
)


class KindRules(abc.ABC):
    """The domain rules of one kind. Pure: no I/O, no clock, no environment."""

    kind: ClassVar[Kind]
    #: Top-level remote keys that change on their own (counters, next run times): left out of
    #: fingerprints so a saved plan is not stale just because time passed.
    volatile: ClassVar[frozenset[str]] = frozenset()

    @abc.abstractmethod
    def normalise(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """One shape and one set of types for a spec *and* a remote object (applied to both sides
        so nothing the server retypes can cause a perpetual diff). Returns a new dict."""

    def normalise_shared(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`normalise` for read-only use: an equal dict that may share with ``data`` the
        containers normalising does not change, so neither may be modified afterwards.
        ``data`` must be plain JSON data (dicts, lists, scalars), as the loader builds specs.
        Planning calls this on every spec; the default is :meth:`normalise` itself."""
        return self.normalise(data)

    def from_remote(self, data: Mapping[str, Any]) -> RemoteObject:
        """A client dict → :class:`RemoteObject` (status word, marker, created_at, normalised body)."""
        return self._object(self.normalise(data))

    def remote_object(self, data: Mapping[str, Any]) -> RemoteObject:
        """:meth:`from_remote` for an object exactly as a hoodsync client returned it.

        The clients (:mod:`hoodsync.remote`) already bring every object into the normalised
        shape, by the same field lists of :mod:`hoodsync.wire`, so normalising it again only
        deep-copies it (~0.15 s at 10,000 objects). Here ``data`` itself becomes the body: the
        same RemoteObject, sharing its containers with ``data`` (which the session keeps for
        the preview, :class:`hoodsync.session.AccountPlan`); neither side is ever changed, as
        bodies are read-only and a client's answer is fresh for each call.
        ``tests/test_planner_examples.py`` checks the two agree on every kind's client output.
        """
        return self._object(data)

    @abc.abstractmethod
    def _object(self, body: Mapping[str, Any]) -> RemoteObject:
        """The RemoteObject of an already normalised ``body`` (status word, marker, ...)."""

    @abc.abstractmethod
    def match(
        self,
        desired: Sequence[Desired],
        remote: Sequence[RemoteObject],
        resolve_duplicates: bool = False,
    ) -> Match:
        """Pair definitions with remote objects (DESIGN §2). With ``resolve_duplicates``, a
        definition several live objects claim is paired with the oldest and the others go to
        :attr:`Match.duplicates` instead of blocking it."""

    @abc.abstractmethod
    def plan(self, desired: Desired, remote: RemoteObject | None, ctx: Context) -> Change | None:
        """The change one definition needs, or ``None`` when the remote object already matches."""

    def desired_of_create(self, change: Change, steps: Sequence[Step]) -> Desired | None:
        """The definition ``change``, a create, was planned from, as far as its ``steps``
        (resolved, as apply sends them) tell it: the create's body as its spec, and the
        ``state:`` they show (:meth:`created_state`). ``None`` when the steps start with no
        create. The planner builds that body from the spec, normalised, with ``state:`` folded
        in where the kind can (a push task's ``status``), so :meth:`plan` compares it with
        another object as it compared the definition: apply asks, of objects that appeared
        since the plan, what the planner asks of unmanaged ones
        (:func:`hoodsync.planner.renamed_candidates`, :func:`hoodsync.session.check_fresh`).
        Nothing of it is shown: no location, no sensitive paths."""
        create = steps[0] if steps else None
        if create is None or create.op is not Op.CREATE or not isinstance(create.body, Mapping):
            return None
        body = dict(create.body)
        definition = Definition(
            change.kind,
            change.key,
            body,
            Location(change.address),
            state=self.created_state(steps),
            order=change.order,
        )
        return Desired(definition, body)

    def created_state(self, steps: Sequence[Step]) -> str | None:
        """The ``state:`` a create's ``steps`` show beyond its body, for
        :meth:`desired_of_create`: by default none (the body carries what the kind compares)."""
        return None

    def duplicate_change(self, desired: Desired, dup: RemoteObject, kept: RemoteObject) -> Change:
        """The retirement of ``dup``, an extra object claiming the definition ``desired``
        whose managed object is ``kept``. Kinds that can have duplicates override this; what
        they show of ``dup``'s name goes through :meth:`Desired.shown_alike` (a name from
        ``${env:...}`` holds the secret on every copy)."""
        raise NotImplementedError(f"{self.kind.value} objects cannot be duplicated")

    def orphan_change(self, remote: RemoteObject, ctx: Context) -> Change | None:
        """The removal of an orphan (only asked with ``--prune``); ``None`` if nothing to do."""
        return None

    def creates_beside(
        self, changes: Sequence[Change], created: Mapping[str, Desired], match: Match
    ) -> list[Change]:
        """``changes`` (every change of this kind, orphan removals included), with a note on
        each create (``created``: address → its definition) that lands beside an object of
        ``match`` which is most likely the definition's own under an old identity, and the
        :attr:`Flag.SECOND_COPY` flag when that object stays live. Kinds matched by a marker
        override this; by default ``changes`` unchanged."""
        return list(changes)

    def timely(
        self, steps: Sequence[Step], remote: RemoteObject | None, now: datetime | None
    ) -> frozenset[str]:
        """What a planned change's ``steps`` (resolved; acting on ``remote``, ``None`` for a
        create) would do that depends on the clock, judged at ``now`` (``None``: no clock),
        each as one phrase free of the clock's own reading: a start time that has passed, so
        an activation sends at once. The planner's own rules decide (the kind's functions that
        flag and refuse such changes), so that apply can judge a reviewed plan again by its
        own clock (:func:`hoodsync.session.check_fresh`): a phrase that holds at apply and did
        not when the plan was made is something the reviewer was not told. Kinds without
        time-dependent rules have none."""
        return frozenset()

    def timely_since(
        self,
        steps: Sequence[Step],
        remote: RemoteObject | None,
        then: datetime | None,
        now: datetime,
    ) -> frozenset[str]:
        """What :meth:`timely` finds at ``now`` that it did not at ``then`` (the clock a plan
        was judged by, :attr:`~hoodsync.plan.Plan.planned_at`; ``None``: none, so everything
        found is new): what the reviewer of that plan was not told. Used by apply, before the
        first write (:func:`hoodsync.session.check_fresh`) and before each step
        (:mod:`hoodsync.apply`)."""
        found = self.timely(steps, remote, now)
        return found - self.timely(steps, remote, then) if found else found

    def live(self, remote: RemoteObject) -> bool:
        """Whether ``remote`` is live: not finished, so it sends or can be made to (a create
        beside a live object with a look-alike name is warned about). By default every
        object; kinds with a finished state override this."""
        return True

    def fingerprint(self, data: Mapping[str, Any]) -> str:
        """sha256 of the canonical normalised remote object without its volatile keys. Apply
        computes it again on a fresh read to tell whether a saved plan is stale."""
        body = self.normalise(data)
        return fingerprint_body({k: v for k, v in body.items() if k not in self.volatile})

    def finish_leftovers(
        self,
        desired: Desired,
        change: Change | None,
        leftovers: Sequence[RemoteObject],
        ctx: Context | None = None,
        newest: RemoteObject | None = None,
    ) -> Change | None:
        """Complete an interrupted replacement (``newest`` is the object ``desired`` is paired
        with, ``change`` its own change): by default there is nothing to finish."""
        return change

    def blocked_change(self, desired: Desired, notes: Sequence[Note]) -> Change:
        """A note-only change for a definition whose match is ambiguous."""
        d = desired.definition
        resource = Resource(d.address, self.kind, d.key, desired.shown_name, d.order)
        return resource.change(Action.NOTE, "cannot be planned (ambiguous match)", notes=notes)


# --- JSON helpers ---------------------------------------------------------------------------


_ATOMS = frozenset({str, int, float, bool, type(None)})


def copy_json(value: Any) -> Any:
    """Deep copy of JSON-like data into plain dicts/lists (much faster than ``copy.deepcopy``:
    exact-type checks first, since ``isinstance`` against ``Mapping`` is slow and this runs on
    every node of every object in a 10,000-object plan)."""
    t = type(value)
    if t in _ATOMS:
        return value
    if t is dict:
        # Copied in C, then only the nested containers replaced (no comprehension frame).
        out = value.copy()
        for k, v in out.items():
            if type(v) not in _ATOMS:
                out[k] = copy_json(v)  # replacing a value does not resize: safe while iterating
        return out
    if t is list:
        items = value.copy()
        for i, v in enumerate(items):
            if type(v) not in _ATOMS:
                items[i] = copy_json(v)
        return items
    if isinstance(value, Mapping):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [copy_json(v) for v in value]
    return value


def _get(node: Any, path: JsonPath) -> Any:
    for part in path:
        node = node[part]
    return node


def group_by(
    objs: Iterable[RemoteObject], key: Callable[[RemoteObject], Any]
) -> dict[Any, list[RemoteObject]]:
    """Objects grouped by ``key``, each group in input order."""
    out: dict[Any, list[RemoteObject]] = {}
    for o in objs:
        out.setdefault(key(o), []).append(o)
    return out


# --- comparison -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Element:
    """A diff path segment naming an array element by identity instead of position.

    ``item`` is what identifies it: a campaign message's ``name``, or (as the last segment of a
    scalar's ``move``) the element's value. ``index`` is its index in the *desired* array,
    ``None`` when only the remote array holds it; sensitive paths are index paths into the spec
    and are matched through it. ``label`` is how paths show a message (``"Hello"`` →
    ``messages["Hello"]``); empty for a scalar, which paths show by index. ``remote`` is its
    index in the remote array when only the remote holds it (how the path shows it when its
    label would reveal a sensitive value)."""

    item: Any
    index: int | None
    label: str
    remote: int | None = None


#: One path segment of a raw difference: a dict key, an array index or a named element.
Segment = str | int | Element
DiffPath = tuple[Segment, ...]


def message_keys(items: Sequence[Any]) -> list[tuple[str, str]] | None:
    """The identity of each element of an array of campaign messages — ``(name, channel)`` —
    or ``None`` when the array is not one (an element that is not an object with a string
    ``name`` and ``channel``) or when two elements share an identity: such arrays are aligned
    by position."""
    keys = []
    for x in items:
        if type(x) is not dict:
            return None
        name, channel = x.get("name"), x.get("channel")
        if type(name) is not str or type(channel) is not str:
            return None
        keys.append((name, channel))
    return keys if len(set(keys)) == len(keys) else None


def project(desired: Any, remote: Any) -> Any:
    """``remote`` cut down to the shape of ``desired`` (see the module docstring).

    A key the desired side states as ``null`` and the remote side lacks projects to ``None``:
    "absent" and "null" mean the same to these APIs, and treating them differently would be a
    perpetual diff. Arrays of messages are cut element by element on the desired message with
    the same name and channel (wherever it sits); other arrays of objects by position. Remote
    elements no desired element claims are kept whole, so they show as removals.
    """
    # Exact-type checks first and no call for a scalar (project(scalar, r) is r): this runs on
    # every node of every matched object of a plan.
    t = type(desired)
    if t is dict or (t is not list and t not in _ATOMS and isinstance(desired, dict)):
        if not isinstance(remote, dict):
            return remote
        out = {}
        for k, v in desired.items():
            if k in remote:
                out[k] = remote[k] if type(v) in _ATOMS else project(v, remote[k])
            elif v is None:
                out[k] = None
        return out
    if t is list or (t not in _ATOMS and isinstance(desired, list)):
        if not isinstance(remote, list):
            return remote
        if desired and type(desired[0]) is dict:
            keyed = _project_messages(desired, remote)
            if keyed is not None:
                return keyed
        head = [r if type(d) in _ATOMS else project(d, r) for d, r in zip(desired, remote)]
        if len(remote) > len(desired):
            head.extend(remote[len(desired) :])
        return head
    return remote


def _project_messages(desired: list[Any], remote: list[Any]) -> list[Any] | None:
    """:func:`project` for two arrays of messages in another order (``None``: not messages, or
    in the same order, where projecting by position is the same and cheaper)."""
    if len(desired) == len(remote) and all(
        type(r) is dict
        and type(d) is dict
        and d.get("name") == r.get("name")
        and d.get("channel") == r.get("channel")
        for d, r in zip(desired, remote)
    ):
        return None  # the usual case, checked without building identities
    want_keys = message_keys(desired)
    if want_keys is None:
        return None
    have_keys = message_keys(remote)
    if have_keys is None or have_keys == want_keys:
        return None
    wanted = dict(zip(want_keys, desired))
    return [project(wanted[k], r) if k in wanted else r for k, r in zip(have_keys, remote)]


def projects_to_itself(desired: Any, remote: Any) -> bool:
    """``project(desired, remote) == desired``, without building the projection where it can
    say so on the way: most matched objects of a plan are unchanged, and for them this walk
    is all the comparison costs. Same ``==`` as the projection's (1, 1.0 and true are one
    value; an object is equal to itself); anything but plain dicts and lists, and arrays of
    messages in another order, are left to :func:`project`."""
    t = type(desired)
    if t is dict and type(remote) is dict:
        for k, v in desired.items():
            if k in remote:
                r = remote[k]
                if type(v) in _ATOMS:
                    if not (r is v or r == v):
                        return False
                elif not projects_to_itself(v, r):
                    return False
            elif v is not None:  # the projection lacks the key: the sizes differ
                return False
        return True
    if t is list and type(remote) is list and len(remote) == len(desired):
        if desired and type(desired[0]) is dict:
            keyed = _project_messages(desired, remote)
            if keyed is not None:
                return bool(keyed == desired)
        for d, r in zip(desired, remote):
            if type(d) in _ATOMS:
                if not (r is d or r == d):
                    return False
            elif not projects_to_itself(d, r):
                return False
        return True
    return bool(project(desired, remote) == desired)


def follow_order(have: list[Any], want: list[Any]) -> list[Any]:
    """``have`` with the elements it shares with ``want`` put in ``want``'s relative order and
    every other element left where it is. For arrays compared as sets (campaign labels, an email
    campaign's ids): the diff then shows what was added or removed, never a move. Returns
    ``have`` itself when the elements cannot be matched one to one (duplicates, unhashables)."""
    try:
        have_set, want_set = set(have), set(want)
    except TypeError:
        return have
    shared = [x for x in want if x in have_set]
    places = [i for i, x in enumerate(have) if x in want_set]
    if len(shared) != len(places) or len(have_set) != len(have):
        return have
    out = list(have)
    for i, x in zip(places, shared):
        out[i] = x
    return out


def diff(before: Any, after: Any, path: DiffPath = ()) -> list[RawDiff]:
    """Field-level differences from ``before`` (remote, projected) to ``after`` (desired).

    Objects are walked key by key (desired keys first, in their order, then remote-only keys).
    Arrays are aligned, not compared index by index (:func:`_diff_array`), so an inserted,
    removed or moved element is one difference and the elements around it add nothing."""
    # Plain ``==``, as the equality test uses: 1, 1.0 and true are one value to these APIs.
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[RawDiff] = []
        for k, v in after.items():
            if k not in before:
                out.append((path + (k,), "add", None, v))
            else:
                out.extend(diff(before[k], v, path + (k,)))
        for k, v in before.items():
            if k not in after:
                out.append((path + (k,), "remove", v, None))
        return out
    if isinstance(before, list) and isinstance(after, list):
        return _diff_array(before, after, path)
    return [(path, "change", before, after)]


def _diff_array(before: list[Any], after: list[Any], path: DiffPath) -> list[RawDiff]:
    """Messages are aligned by name and channel, arrays of scalars by value; other arrays
    (push actions, anything of mixed or unknown shape) by position."""
    have_keys = message_keys(before) if before and type(before[0]) is dict else None
    want_keys = message_keys(after) if have_keys is not None else None
    if have_keys is not None and want_keys is not None:
        return _diff_messages(before, after, have_keys, want_keys, path)
    if all(type(x) not in _CONTAINERS for x in before) and all(
        type(x) not in _CONTAINERS for x in after
    ):
        return _diff_scalars(before, after, path)
    return _positional(before, after, path)


_CONTAINERS = frozenset({dict, list})


def _diff_scalars(before: list[Any], after: list[Any], path: DiffPath) -> list[RawDiff]:
    """Arrays of scalars aligned by value. Same length with every differing position holding
    values the other side lacks (``[a, b] → [a, c]``) is a change per position, found without
    aligning; anything else is aligned by :func:`_align`."""
    if len(before) == len(after):
        changed = [i for i, (b, a) in enumerate(zip(before, after)) if b != a]
        if all(before[i] not in after and after[i] not in before for i in changed):
            return [(path + (i,), "change", before[i], after[i]) for i in changed]
    aligned = _align(before, after)
    if aligned is None:  # cannot happen with well-formed alignments; never guess silently
        return _positional(before, after, path)
    pairs, moved = aligned
    matched_before = {i for i, _ in pairs}
    matched_after = {j: i for i, j in pairs}
    lone_before = [i for i in range(len(before)) if i not in matched_before]
    lone_after = {j for j in range(len(after)) if j not in matched_after}
    # An unmatched element on both sides at one index was replaced there: one change.
    replaced = {i for i in lone_before if i in lone_after}
    out: list[tuple[int, RawDiff]] = [
        (i, (path + (i,), "remove", before[i], None)) for i in lone_before if i not in replaced
    ]
    for j, value in enumerate(after):
        if j in replaced:
            out.append((j, (path + (j,), "change", before[j], value)))
        elif j in lone_after:
            out.append((j, (path + (j,), "add", None, value)))
        elif j in moved:
            out.append((j, (path + (Element(value, j, ""),), "move", matched_after[j], j)))
    return _in_place_order(out)


def _in_place_order(entries: list[tuple[int, RawDiff]]) -> list[RawDiff]:
    """Differences of one array in index order (a removal by its remote index, anything else
    by its desired index; a removal first on a tie), so output reads top to bottom."""
    ranked = sorted(enumerate(entries), key=lambda e: (e[1][0], e[1][1][1] != "remove", e[0]))
    return [raw for _, (_, raw) in ranked]


def _diff_messages(
    before: list[Any],
    after: list[Any],
    have_keys: list[tuple[str, str]],
    want_keys: list[tuple[str, str]],
    path: DiffPath,
) -> list[RawDiff]:
    """Arrays of messages aligned by (name, channel); path segments name the message."""
    # A name used by two messages of one array (on different channels) is shown with its channel.
    repeated = {
        n
        for keys in (have_keys, want_keys)
        for n, count in Counter(k[0] for k in keys).items()
        if count > 1
    }

    def element(key: tuple[str, str], index: int | None, remote: int | None = None) -> Element:
        label = json.dumps(key[0], ensure_ascii=False)
        if key[0] in repeated:
            label += f" ({key[1]})"
        return Element(key[0], index, label, remote)

    out: list[RawDiff] = []
    if have_keys == want_keys:
        for j, (b, a) in enumerate(zip(before, after)):
            out.extend(diff(b, a, path + (element(want_keys[j], j),)))
        return out
    ids: dict[tuple[str, str], int] = {}
    aligned = _align(
        [ids.setdefault(k, len(ids)) for k in have_keys],
        [ids.setdefault(k, len(ids)) for k in want_keys],
    )
    if aligned is None:
        return _positional(before, after, path)
    pairs, moved = aligned
    matched_after = {j: i for i, j in pairs}
    matched_before = set(matched_after.values())
    ranked: list[tuple[int, RawDiff]] = [
        (i, (path + (element(have_keys[i], None, i),), "remove", b, None))
        for i, b in enumerate(before)
        if i not in matched_before
    ]
    for j, a in enumerate(after):
        segment = element(want_keys[j], j)
        if j not in matched_after:
            ranked.append((j, (path + (segment,), "add", None, a)))
            continue
        i = matched_after[j]
        if j in moved:
            ranked.append((j, (path + (segment,), "move", i, j)))
        ranked += [(j, raw) for raw in diff(before[i], a, path + (segment,))]
    return _in_place_order(ranked)


def _positional(before: list[Any], after: list[Any], path: DiffPath) -> list[RawDiff]:
    out: list[RawDiff] = []
    for i in range(max(len(before), len(after))):
        if i >= len(before):
            out.append((path + (i,), "add", None, after[i]))
        elif i >= len(after):
            out.append((path + (i,), "remove", before[i], None))
        else:
            out.extend(diff(before[i], after[i], path + (i,)))
    return out


def _same(x: Any, y: Any, level: Any = None) -> bool:
    """deepdiff's ``iterable_compare_func``: elements match when equal by plain ``==``."""
    return bool(x == y)


def _align(before: list[Any], after: list[Any]) -> tuple[list[tuple[int, int]], set[int]] | None:
    """Match the equal elements of two arrays of scalars (values, or message identities) and
    pick which of them moved.

    deepdiff does the matching (``iterable_compare_func`` pairs equal elements wherever they
    sit; ``iterable_item_added`` / ``_removed`` / ``_moved`` report the result). It reports as
    moved every element whose index changed, including the ones merely shifted by an insertion
    or removal, so the moves shown are only the elements outside a longest run kept in order
    (a longest increasing subsequence): inserting one element moves nothing, moving one element
    is one move. Returns ``(pairs, moved)`` — ``(before index, after index)`` of each matched
    element and the after indices of the moved ones — or ``None`` if deepdiff's answer is not a
    one-to-one matching (it pairs repeated values by hash), for the caller to fall back on."""
    from deepdiff import DeepDiff  # imported here: ~0.1 s, and most plans never need it

    tree = DeepDiff(before, after, ignore_order=False, iterable_compare_func=_same, view="tree")
    pairs: dict[int, int] = {}
    removed: set[int] = set()
    added: set[int] = set()
    for report in (
        "iterable_item_removed",
        "iterable_item_added",
        "iterable_item_moved",
        "values_changed",
        "type_changes",
    ):
        for level in tree.get(report, ()):
            i, j = _indices(level)
            if report == "iterable_item_removed" and i is not None:
                removed.add(i)
            elif report == "iterable_item_added" and j is not None:
                added.add(j)
            elif i is not None:
                j = i if j is None else j
                if j < len(after) and before[i] == after[j]:
                    pairs[i] = j
                else:  # deepdiff merges a removal and an addition at one index
                    removed.add(i)
                    added.add(j)
    for i in range(len(before)):
        if i not in removed and i not in pairs:
            pairs[i] = i  # matched in place: deepdiff reports nothing
    ordered = sorted(pairs.items())
    targets = [j for _, j in ordered]
    if (
        len(set(targets)) != len(targets)
        or set(targets) & added
        or set(targets) | added != set(range(len(after)))
        or any(before[i] != after[j] for i, j in ordered)
    ):
        return None
    kept = _increasing_run(ordered)
    return ordered, {j for j in targets if j not in kept}


def _indices(level: Any) -> tuple[int | None, int | None]:
    """The (before, after) array indices of a top-level deepdiff tree entry."""
    up = level.up
    i = up.t1_child_rel.param if up is not None and up.t1_child_rel is not None else None
    j = up.t2_child_rel.param if up is not None and up.t2_child_rel is not None else None
    return (i if isinstance(i, int) else None), (j if isinstance(j, int) else None)


def _increasing_run(pairs: Sequence[tuple[int, int]]) -> set[int]:
    """The after indices of a longest run of ``pairs`` (``(before, after)`` index pairs in
    before order) whose after indices increase: the elements that keep their relative order.
    Among the longest, the run with the most elements at an unchanged index wins, so a swap
    around a fixed element moves the two swapped ones, not the fixed one. Quadratic, for
    the arrays of a campaign (a few messages, a few hundred countries at most); longer ones
    take the first longest run (patience sorting)."""
    n = len(pairs)
    if n > 600:
        return _patience_run([j for _, j in pairs])
    best: list[tuple[int, int]] = []  # (length, unchanged indices) of the best run ending here
    back = [-1] * n
    for k, (i, j) in enumerate(pairs):
        score, link = (1, int(i == j)), -1
        for m in range(k):
            if pairs[m][1] < j:
                length, fixed = best[m]
                if (length + 1, fixed + (i == j)) > score:
                    score, link = (length + 1, fixed + (i == j)), m
        best.append(score)
        back[k] = link
    out: set[int] = set()
    k = max(range(n), key=lambda x: best[x]) if n else -1
    while k >= 0:
        out.add(pairs[k][1])
        k = back[k]
    return out


def _patience_run(seq: Sequence[int]) -> set[int]:
    """The values of one longest strictly increasing subsequence of ``seq``, O(n log n)."""
    tails: list[int] = []  # tails[k]: position in seq of the smallest end of a run of k+1
    ends: list[int] = []  # seq[tails[k]], for bisect
    back: list[int] = [-1] * len(seq)
    for n, value in enumerate(seq):
        k = bisect.bisect_left(ends, value)
        if k > 0:
            back[n] = tails[k - 1]
        if k == len(tails):
            tails.append(n)
            ends.append(value)
        else:
            tails[k] = n
            ends[k] = value
    out: set[int] = set()
    n = tails[-1] if tails else -1
    while n >= 0:
        out.add(seq[n])
        n = back[n]
    return out


def changed_top_keys(raw: Sequence[RawDiff]) -> list[str]:
    """The top-level keys touched by ``raw``, in first-seen order."""
    seen: dict[str, None] = {}
    for path, *_ in raw:
        if path:
            seen.setdefault(str(path[0]), None)
    return list(seen)


def _mask_text(value: Any, names: Sequence[str], key: ValueKey | None) -> str:
    return masked(value if isinstance(value, str) else canonical_json(value), names, key=key)


def mask_paths(
    value: Any,
    paths: Iterable[JsonPath],
    names: Mapping[JsonPath, Sequence[str]] | None = None,
    *,
    key: ValueKey | None,
) -> Any:
    """A copy of ``value`` with the value at each path (relative to ``value``) replaced by
    ``(sensitive ${env:NAME}, fp xxxx)`` — ``names`` gives each path's variable names; without
    it the mask is ``(sensitive, fp xxxx)``. The ``fp`` is keyed with the account's ``key``
    (:func:`~hoodsync.definitions.interpolate.masked`); without one there is none. Paths that
    do not exist in ``value`` are ignored. An empty path masks the whole value."""
    paths = list(paths)
    names = names or {}
    if not paths:
        return value
    for p in paths:
        if len(p) == 0:
            return _mask_text(value, names.get(p, ()), key)
    out = copy_json(value)
    for path in paths:
        node: Any = out
        try:
            for part in path[:-1]:
                node = node[part]
            last: Any = path[-1]
            if (
                isinstance(node, dict)
                and last in node
                or (isinstance(node, list) and isinstance(last, int) and last < len(node))
            ):
                node[last] = _mask_text(node[last], names.get(path, ()), key)
        except (KeyError, IndexError, TypeError):
            continue
    return out


def mask_alike(value: Any, paths: Mapping[JsonPath, Sequence[str]], *, key: ValueKey | None) -> Any:
    """A copy of ``value`` (a remote object in spec shape) masked wherever a definition's
    sensitive path ``paths`` (path → variable names) points, every array index in a path
    standing for *each* element of that array: the remote's arrays are not aligned with the
    definition's, and any of their elements may hold the old value of the secret. A path that
    runs into a scalar masks it whole. Masks are keyed as :func:`mask_paths` keys them. For
    showing a remote object beside a definition (the HTML preview's "before" side)."""
    if not paths:
        return value
    if () in paths:
        return _mask_text(value, paths[()], key)
    if isinstance(value, Mapping):
        by_key: dict[Any, dict[JsonPath, Sequence[str]]] = {}
        for p, n in paths.items():
            by_key.setdefault(p[0], {})[p[1:]] = n
        return {
            k: mask_alike(v, by_key[k], key=key) if k in by_key else v for k, v in value.items()
        }
    if isinstance(value, list):
        inner = {p[1:]: n for p, n in paths.items() if type(p[0]) is int}
        return [mask_alike(v, inner, key=key) for v in value]
    return _mask_text(value, next(iter(paths.values())), key)


def format_path(path: DiffPath, hidden: frozenset[JsonPath] = frozenset()) -> str:
    """A diff path as plans show it: ``labels[1]``, ``messages["Hello"].push.title.en``.
    A message whose name is a sensitive spec path (in ``hidden``) is shown by index instead;
    so is a message only the remote holds when the name of any desired message of its array is
    sensitive (its name may be the old value of that secret): by its remote index, as a removed
    element of an array of scalars is."""
    out: list[str] = []
    spec: list[str | int] = []
    for part in path:
        if isinstance(part, Element):
            if part.index is None:
                named = part.remote is not None and ("name",) in _element_masks(tuple(spec), hidden)
                out.append(f"[{part.remote}]" if named else f"[{part.label}]")
                spec.append(-1)
                continue
            spec.append(part.index)
            named = tuple(spec) + ("name",) in hidden
            out.append(f"[{part.index}]" if named else f"[{part.label}]")
        elif isinstance(part, int):
            spec.append(part)
            out.append(f"[{part}]")
        else:
            spec.append(part)
            out.append(f".{part}" if out else part)
    return "".join(out)


def _spec_path(path: DiffPath) -> JsonPath | None:
    """``path`` as an index path into the desired spec (the form sensitive paths take), or
    ``None`` when it runs through an element only the remote array holds."""
    out: list[str | int] = []
    for part in path:
        if isinstance(part, Element):
            if part.index is None:
                return None
            out.append(part.index)
        else:
            out.append(part)
    return tuple(out)


def _masks_at(
    spec: JsonPath, sensitive: Iterable[JsonPath], names: Mapping[JsonPath, Sequence[str]]
) -> dict[JsonPath, tuple[str, ...]]:
    """The sensitive paths inside the value at spec path ``spec``, relative to it (``()``: the
    value itself, or a value on the way to a sensitive string), each with its variable names."""
    rel: dict[JsonPath, tuple[str, ...]] = {}
    n = len(spec)
    for s in sensitive:
        if s[:n] == spec:
            rel[s[n:]] = tuple(names.get(s, ()))
        elif len(s) < n and spec[: len(s)] == s:
            rel[()] = tuple(names.get(s, ()))
    return rel


def _element_masks(
    array: JsonPath,
    sensitive: Iterable[JsonPath],
    names: Mapping[JsonPath, Sequence[str]] | None = None,
) -> dict[JsonPath, tuple[str, ...]]:
    """The sensitive paths inside *any* element of the desired array at spec path ``array``,
    relative to the element (``("name",)``, ``("push", "title", "en")``, ``()`` for a scalar),
    each with the variable names used there. A remote element no desired element is paired
    with is masked at all of them: it may hold the old value of any of those secrets."""
    names = names or {}
    rel: dict[JsonPath, tuple[str, ...]] = {}
    n = len(array)
    for s in sensitive:
        if len(s) > n and type(s[n]) is int and s[:n] == array:
            seen = rel.setdefault(s[n + 1 :], ())
            rel[s[n + 1 :]] = seen + tuple(x for x in names.get(s, ()) if x not in seen)
    return rel


def _account_masks(
    path: DiffPath, sensitive: Iterable[JsonPath], names: Mapping[JsonPath, Sequence[str]]
) -> dict[JsonPath, tuple[str, ...]]:
    """The masks for the account's value at diff path ``path`` (relative to it, as
    :func:`_masks_at` gives them for the definition's), where every array index on the way may
    be *any* element of the definition's array: arrays of objects (a push task's buttons) are
    compared by position and arrays of values by value, so the account's element at an index
    need not be the one the definition has there — after a reorder it is another, and it may
    hold the current or an old value of another element's secret; and a message only the
    account holds may be the old one of any. Only a message the definition also holds (paired
    by name) is itself. Masks more than strictly needed, never less."""
    pattern: list[str | int | None] = []  # None: any element of that array
    for part in path:
        if isinstance(part, Element):
            pattern.append(part.index)  # None for a message only the account holds
        elif isinstance(part, int):
            pattern.append(None)
        else:
            pattern.append(part)
    n = len(pattern)
    rel: dict[JsonPath, tuple[str, ...]] = {}
    for s in sensitive:
        common = min(n, len(s))
        if not all(
            (type(s[i]) is int) if pattern[i] is None else s[i] == pattern[i] for i in range(common)
        ):
            continue
        inner = s[n:] if len(s) >= n else ()
        seen = rel.get(inner, ())
        rel[inner] = seen + tuple(x for x in names.get(s, ()) if x not in seen)
    return rel


def field_diffs(
    raw: Sequence[RawDiff],
    sensitive: Sequence[JsonPath],
    names: Mapping[JsonPath, Sequence[str]] | None = None,
    *,
    key: ValueKey | None,
) -> tuple[FieldDiff, ...]:
    """Raw differences → :class:`FieldDiff` s with every sensitive value masked, on both sides
    (the remote value at a sensitive path is a secret too: the old one, or the same one).
    On the remote side every array index stands for any element of the desired array (arrays
    are aligned by position or by value, so the remote's element there may hold another
    element's secret, old or current; :func:`_account_masks`); only a message paired by name
    is itself. A message only the remote holds is named by its remote index when a desired
    message's name is sensitive (see :func:`format_path`).
    ``names`` (sensitive path → variable names, :attr:`Desired.sensitive_names`) lets the masks
    name their variables; ``key`` (:attr:`Desired.value_key`) keys their fingerprints, on both
    sides alike, so one value shows one ``fp`` (none without a key). A top-level ``add`` of
    ``null`` (a create's ``run_immediately: null``) is left out: absent and null are one to
    these APIs, and the create sends nothing the reviewer needs to see there."""
    out = []
    names = names or {}
    hidden = frozenset(sensitive)
    for path, op, before, after in raw:
        if op == "add" and after is None and len(path) == 1:
            continue
        if op == "move":
            out.append(_move_diff(path, before, after, hidden, names, key))
            continue
        if sensitive:
            spec = _spec_path(path)
            mine = _masks_at(spec, sensitive, names) if spec is not None else {}
            theirs = _account_masks(path, sensitive, names) if op != "add" else {}
            if theirs:
                before = mask_paths(before, list(theirs), theirs, key=key)
            if mine and op != "remove":
                after = mask_paths(after, list(mine), mine, key=key)
        out.append(FieldDiff(format_path(path, hidden), op, before, after))
    return tuple(out)


def _move_diff(
    path: DiffPath,
    before: int,
    after: int,
    hidden: frozenset[JsonPath],
    names: Mapping[JsonPath, Sequence[str]],
    key: ValueKey | None,
) -> FieldDiff:
    """A move: a message is named by its path (``messages["Hello"]``); a scalar by the array's
    path and its value as ``item``, masked when sensitive."""
    element = path[-1]
    assert isinstance(element, Element)
    if element.label:
        return FieldDiff(format_path(path, hidden), "move", before, after)
    array = path[:-1]
    item = element.item
    spec = _spec_path(array)
    if spec is not None and spec + (after,) in hidden:
        item = _mask_text(item, names.get(spec + (after,), ()), key)
    return FieldDiff(format_path(array, hidden), "move", before, after, item)


def template_body(body: Mapping[str, Any], desired: Desired) -> dict[str, Any]:
    """A request body built from the *resolved* spec, with every sensitive value put back as its
    ``${env:NAME}`` template (the plan must never hold the secret). ``body``'s paths are the
    spec's paths (it holds some of the spec's top-level keys).

    A step body is a template through and through: apply resolves every string of it
    (:func:`hoodsync.apply.resolve_steps`). So resolved text that reads as a reference — the
    literal ``${env:X}`` a definition wrote as ``$${env:X}`` — is escaped again here, or apply
    would fill it in."""
    out: dict[str, Any] = copy_json(body)
    if may_reference(out):  # almost never: the walk is skipped
        out = _as_templates(out)
    for path in desired.sensitive:
        node: Any = out
        try:
            for part in path[:-1]:
                node = node[part]
            last: Any = path[-1]
            if isinstance(node, list) or last in node:
                node[last] = _get(desired.definition.spec, path)
        except (KeyError, IndexError, TypeError):
            continue
    return out


def _as_templates(node: Any) -> Any:
    """JSON data with every string value written as the template that resolves to it (keys are
    never resolved, so they stay as they are)."""
    if isinstance(node, str):
        return escape(node)
    if isinstance(node, dict):
        return {k: _as_templates(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_as_templates(v) for v in node]
    return node


def spec_hash(
    spec: Any, state: str | None, sensitive: Sequence[JsonPath], *, key: ValueKey | None
) -> str:
    """Short hash of what hoodsync applies (normalised spec + desired state), stored on campaigns
    as ``metadata.hoodsync_hash`` to tell drift from a change in git. Sensitive values enter only
    as their mask, fingerprinted under the account's ``key`` (:func:`mask_paths`), so the hash
    (which plans show in step bodies) reveals nothing more than the plan's masks do; a spec
    without sensitive values hashes as it always did. Without a key the masks carry no
    fingerprint, and a changed value does not change the hash."""
    payload = {"spec": mask_paths(spec, sensitive, key=key), "state": state}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()[:16]
