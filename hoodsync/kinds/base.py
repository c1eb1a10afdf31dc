"""What every kind module shares: the desired-subset comparison, the field differ, masking of
sensitive values, and the :class:`KindRules` interface the planner drives.

Comparison (DESIGN §3): only what the definition states is compared. :func:`project` cuts the
normalised remote object down to the shape of the normalised desired spec — dict keys the spec
does not state are dropped, arrays of objects are cut element by element on the keys each desired
element states, scalars and arrays of scalars are kept whole — and then plain ``==`` decides.
Only when that says "different" does :func:`diff` walk both values to list field-level
differences. The differ is our own ~30 lines rather than deepdiff: the projection already puts
both sides in one shape, so a straight recursive walk gives exactly the ``labels[1]`` paths the
plan shows, with no library-specific path syntax to translate, and it is several times faster.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence

from hoodsync.definitions.interpolate import fingerprint as value_fp
from hoodsync.definitions.interpolate import masked, reference_names
from hoodsync.errors import format_json_path
from hoodsync.model import Definition, JsonPath, Kind, RemoteObject
from hoodsync.plan import (
    Action,
    Change,
    FieldDiff,
    Flag,
    Note,
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
    "copy_json",
    "project",
    "diff",
    "field_diffs",
    "changed_top_keys",
    "mask_paths",
    "template_body",
    "spec_hash",
    "group_by",
    "oldest",
    "DUPLICATE_SUFFIX",
    "RESOLVE_HINT",
]

#: One raw difference: (path, op, before, after); op is add | change | remove.
RawDiff = tuple[JsonPath, str, Any, Any]


@dataclass(frozen=True, slots=True)
class Desired:
    """A definition ready for planning: its ``${env:...}``-resolved spec and the paths (relative
    to the spec) of the sensitive strings in it. ``definition.spec`` still holds the templates."""

    definition: Definition
    spec: Mapping[str, Any]
    sensitive: tuple[JsonPath, ...] = ()

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
            return masked(name, self.reference_names(("name",)))
        return name

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
        """Path, template and fingerprint of every sensitive string (for the saved plan)."""
        out = []
        for path in self.sensitive:
            template = _get(self.definition.spec, path)
            value = _get(self.spec, path)
            out.append(SensitiveValue(format_json_path(path), str(template), value_fp(str(value))))
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
    def of(cls, desired: Desired) -> "Resource":
        """A definition's resource, before it is matched."""
        d = desired.definition
        return cls(d.address, d.kind, d.key, desired.shown_name, d.order,
                   desired.sensitive_values())

    def on(self, remote: RemoteObject, fingerprint: str,
           diff: tuple[FieldDiff, ...] = ()) -> "Resource":
        """This resource matched to ``remote`` (with ``fingerprint``), differing by ``diff``."""
        return dataclasses.replace(self, remote_id=remote.id, remote_status=remote.status,
                                   fingerprint=fingerprint, diff=diff)

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
    ) -> Change:
        """The change to this resource (``diff`` overrides the resource's own)."""
        return Change(
            address=self.address, kind=self.kind, key=self.key, action=action,
            description=description, name=self.name, remote_id=self.remote_id,
            remote_status=self.remote_status, transition=transition, steps=tuple(steps),
            diff=self.diff if diff is None else diff, drift=drift, notes=tuple(notes),
            fingerprint=self.fingerprint, order=self.order, sensitive=self.sensitive,
            flags=tuple(flags),
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

    @abc.abstractmethod
    def from_remote(self, data: Mapping[str, Any]) -> RemoteObject:
        """A client dict → :class:`RemoteObject` (status word, marker, created_at, normalised body)."""

    @abc.abstractmethod
    def match(
        self, desired: Sequence[Desired], remote: Sequence[RemoteObject],
        resolve_duplicates: bool = False,
    ) -> Match:
        """Pair definitions with remote objects (DESIGN §2). With ``resolve_duplicates``, a
        definition several live objects claim is paired with the oldest and the others go to
        :attr:`Match.duplicates` instead of blocking it."""

    @abc.abstractmethod
    def plan(self, desired: Desired, remote: RemoteObject | None, ctx: Context) -> Change | None:
        """The change one definition needs, or ``None`` when the remote object already matches."""

    def duplicate_change(self, address: str, dup: RemoteObject, kept: RemoteObject) -> Change:
        """The retirement of ``dup``, an extra object claiming the definition at ``address``
        whose managed object is ``kept``. Kinds that can have duplicates override this."""
        raise NotImplementedError(f"{self.kind.value} objects cannot be duplicated")

    def orphan_change(self, remote: RemoteObject, ctx: Context) -> Change | None:
        """The removal of an orphan (only asked with ``--prune``); ``None`` if nothing to do."""
        return None

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


def group_by(objs: Iterable[RemoteObject], key: Callable[[RemoteObject], Any]) -> dict[Any, list[RemoteObject]]:
    """Objects grouped by ``key``, each group in input order."""
    out: dict[Any, list[RemoteObject]] = {}
    for o in objs:
        out.setdefault(key(o), []).append(o)
    return out


# --- comparison -----------------------------------------------------------------------------


def project(desired: Any, remote: Any) -> Any:
    """``remote`` cut down to the shape of ``desired`` (see the module docstring).

    A key the desired side states as ``null`` and the remote side lacks projects to ``None``:
    "absent" and "null" mean the same to these APIs, and treating them differently would be a
    perpetual diff. Extra remote array elements are kept whole so they show as removals.
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
        head = [r if type(d) in _ATOMS else project(d, r) for d, r in zip(desired, remote)]
        if len(remote) > len(desired):
            head.extend(remote[len(desired):])
        return head
    return remote


def diff(before: Any, after: Any, path: JsonPath = ()) -> list[RawDiff]:
    """Field-level differences from ``before`` (remote, projected) to ``after`` (desired)."""
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
        out = []
        for i in range(max(len(before), len(after))):
            if i >= len(before):
                out.append((path + (i,), "add", None, after[i]))
            elif i >= len(after):
                out.append((path + (i,), "remove", before[i], None))
            else:
                out.extend(diff(before[i], after[i], path + (i,)))
        return out
    return [(path, "change", before, after)]


def changed_top_keys(raw: Sequence[RawDiff]) -> list[str]:
    """The top-level keys touched by ``raw``, in first-seen order."""
    seen: dict[str, None] = {}
    for path, *_ in raw:
        if path:
            seen.setdefault(str(path[0]), None)
    return list(seen)


def _mask_text(value: Any, names: Sequence[str] = ()) -> str:
    return masked(value if isinstance(value, str) else canonical_json(value), names)


def mask_paths(
    value: Any,
    paths: Iterable[JsonPath],
    names: Mapping[JsonPath, Sequence[str]] | None = None,
) -> Any:
    """A copy of ``value`` with the value at each path (relative to ``value``) replaced by
    ``(sensitive ${env:NAME}, fp xxxx)`` — ``names`` gives each path's variable names; without
    it the mask is ``(sensitive, fp xxxx)``. Paths that do not exist in ``value`` are ignored.
    An empty path masks the whole value."""
    paths = list(paths)
    names = names or {}
    if not paths:
        return value
    for p in paths:
        if len(p) == 0:
            return _mask_text(value, names.get(p, ()))
    out = copy_json(value)
    for path in paths:
        node: Any = out
        try:
            for part in path[:-1]:
                node = node[part]
            last: Any = path[-1]
            if isinstance(node, dict) and last in node or (
                isinstance(node, list) and isinstance(last, int) and last < len(node)
            ):
                node[last] = _mask_text(node[last], names.get(path, ()))
        except (KeyError, IndexError, TypeError):
            continue
    return out


def field_diffs(
    raw: Sequence[RawDiff],
    sensitive: Sequence[JsonPath],
    names: Mapping[JsonPath, Sequence[str]] | None = None,
) -> tuple[FieldDiff, ...]:
    """Raw differences → :class:`FieldDiff` s with every sensitive value masked, on both sides
    (the remote value at a sensitive path is a secret too: the old one, or the same one).
    ``names`` (sensitive path → variable names, :attr:`Desired.sensitive_names`) lets the masks
    name their variables."""
    out = []
    names = names or {}
    for path, op, before, after in raw:
        if sensitive:
            rel: dict[JsonPath, Sequence[str]] = {}
            for s in sensitive:
                if s[: len(path)] == path:
                    rel[s[len(path):]] = names.get(s, ())
                elif len(path) > len(s) and path[: len(s)] == s:
                    rel[()] = names.get(s, ())
            if rel:
                before = None if op == "add" else mask_paths(before, list(rel), rel)
                after = None if op == "remove" else mask_paths(after, list(rel), rel)
        out.append(FieldDiff(format_json_path(path), op, before, after))
    return tuple(out)


def template_body(body: Mapping[str, Any], desired: Desired) -> dict[str, Any]:
    """A request body built from the *resolved* spec, with every sensitive value put back as its
    ``${env:NAME}`` template (the plan must never hold the secret). ``body``'s paths are the
    spec's paths (it holds some of the spec's top-level keys)."""
    out: dict[str, Any] = copy_json(body)
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


def spec_hash(spec: Any, state: str | None, sensitive: Sequence[JsonPath]) -> str:
    """Short hash of what hoodsync applies (normalised spec + desired state), stored on campaigns
    as ``metadata.hoodsync_hash`` to tell drift from a change in git. Sensitive values enter only
    as their masked fingerprint, so the stored hash reveals nothing more than the plan shows."""
    payload = {"spec": mask_paths(spec, sensitive), "state": state}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()[:16]
