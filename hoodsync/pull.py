"""``hoodsync pull``: write what the account holds back into the definition files, editing only
what changed (DESIGN §1.1, issue 16).

Contract. For every managed object whose remote state differs from its definition on what the
definition states, the definition is rewritten so that the next plan shows no change for it:
the spec fields the plan shows as differing, and ``state:`` where the definition states one (a
push task's ``spec.status`` too, when its lifecycle moved). Nothing else is ever touched:

* what the remote says is taken from the planner's own view of it — the change's field
  differences (so the planner's equivalences hold: label order, ``1`` vs ``true``, a resumed
  ``scheduled_time``) and :func:`hoodsync.session.spec_shapes`, the remote object normalised into
  the definition's ``spec`` shape;
* a value that comes from ``${env:NAME}`` is never written over (a secret would land in git): it
  is a conflict naming the field, and the run exits 1;
* objects no definition manages are not drift (``--new DIR`` exports them, as ``export`` does);
  no definition is ever deleted; the network is only read;
* an object an interrupted apply left unfinished (the account's journal: see
  :mod:`hoodsync.recovery`) differs by hoodsync's own work: it is not pulled, and a warning
  says why; one renamed in a UI (matched by name) is drift pull cannot write, and is reported.

List alignment: messages (objects with a ``name``) are matched by name and channel, arrays of
scalars by value (an inserted, removed or replaced element is one edit), other arrays of objects
by position, as the planner compares them. A renamed message, i.e. one that stands where another
name stood, is edited in place rather than rewritten.

How a file is edited. A YAML round trip (``ruamel.yaml``, the usual choice) does not reproduce
these files byte for byte: measured on ``examples/``, an unchanged ``ruamel.yaml`` 0.19 round
trip (``preserve_quotes``, wide lines, the better of two indentation settings per file) rewrites
3 of the 12 files (``null`` becomes an empty value), and it also rewrites ``~``, ``True``, plain
scalars continued over several lines, spacing in flow mappings, a leading ``---``, ``...``,
comments inside flow collections, CRLF line ends and trailing spaces. So pull splices the
original text instead: the strict loader's own parser (:func:`hoodsync.definitions.loader.
parse_events`) gives the character offsets of every scalar, key, list item and alias, and only
those spans are rewritten. New text is rendered in the style found at that place (plain, quoted,
literal block, flow or block) by the exporter's YAML emitter, which quotes anything a YAML 1.1 or
1.2 reader would type differently. Comments, key order, quoting, blank lines, document
separators and modelines outside the edited spans stay byte for byte.

Every edited file is checked before it may be written: it is read back with the strict loader
and must load as exactly the data the edits mean (a value under an anchor that other places
share, which the account changed in only some of them, fails here and is refused), it is
validated, and the edited definitions are planned again against the same remote objects: what
still differs is reported. A file that would not load is not written. One that would not
validate because of one object's field (the account holds what no definition may: a carriage
return in a text, a ``test_split`` of 0) is edited again without that field — a conflict, as
a secret is, with the list rules that keep a list from being half pulled — so that its other
changes are still written; one that would not validate for another reason is not written. A
campaign whose messages become an A/B test (a message added in the UI) gains the account's
``ab_test`` block when the definition states none: without it the file would not validate.

Pure: file texts come in through a callable, edited texts go out; nothing here writes or prints.
"""

from __future__ import annotations

import difflib
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hoodsync.definitions.interpolate import reference_paths
from hoodsync.definitions.loader import load_text, parse_events
from hoodsync.definitions.validate import validate_documents
from hoodsync.errors import Problem, format_json_path
from hoodsync.export import Dumper, ExportedFile, dump_yaml, settable
from hoodsync.kinds import RULES, from_remote
from hoodsync.kinds.base import Desired, copy_json
from hoodsync.kinds.campaign import CampaignRules
from hoodsync.kinds.email_campaign import SET_FIELDS
from hoodsync.kinds.push_task import PushTaskRules
from hoodsync.model import STATES, Definition, JsonPath, Kind, Location, RemoteObject
from hoodsync.plan import Change, Plan
from hoodsync.planner import make_plan, prepare, renamed_objects
from hoodsync.recovery import Unfinished
from hoodsync.session import spec_shapes
from hoodsync.terminal import printable

__all__ = [
    "Edit",
    "ObjectPull",
    "FileChange",
    "PullReport",
    "EditRefused",
    "pulled_state",
    "object_pull",
    "drifted",
    "pull_account",
    "renamed_drift",
    "changed_while_pulling",
    "apply_edits",
    "edit_text",
    "render_scalar",
    "variable_values",
    "variables_of",
    "values_of",
    "Secret",
    "strings_of",
    "holds_value",
    "unified_diff",
    "git_quoted",
]


# =========================================================================== what to change


@dataclass(frozen=True, slots=True)
class Edit:
    """One change to a definition document, at a JSON path inside the document.

    ``op``: ``set`` (the value at ``path`` becomes ``value``), ``delete`` (the key or list item
    at ``path``), ``insert`` (the items ``value`` — a list — go into the list at ``path`` before
    the item that had index ``index``; ``index`` = its length appends), ``rename`` (the key at
    ``path`` becomes ``key``, with the value ``value``), ``add`` (the mapping that holds
    ``path`` gains its last key, with the value ``value``, after its other entries). Indexes
    are those of the file as read.
    """

    op: str
    path: JsonPath
    value: Any = None
    index: int = 0
    key: str = ""


@dataclass
class ObjectPull:
    """What one definition needs: its edits, and its conflicts (fields not written).

    ``same``, ``refused`` and ``frozen`` (spec-relative paths) are how its lists were aligned
    and where edits were refused (see :func:`_outside_conflicts`): what :meth:`without` needs
    to leave out one more field soundly."""

    definition: Definition
    edits: list[Edit] = field(default_factory=list)
    conflicts: list[Problem] = field(default_factory=list)
    same: frozenset[JsonPath] = frozenset()
    refused: tuple[JsonPath, ...] = ()
    frozen: frozenset[JsonPath] = frozenset()

    def without(self, path: JsonPath, why: str) -> ObjectPull | None:
        """This pull without its edits of the document path ``path`` (inside it, or of a
        value that holds it), nor those that would then leave a list half pulled, and with a
        conflict saying ``why`` there; ``None`` when no edit concerns ``path``."""
        related = [
            e for e in self.edits if e.path[: len(path)] == path or path[: len(e.path)] == e.path
        ]
        if not related:
            return None
        frozen = set(self.frozen)
        for edit in related:  # a list that loses an insert or a delete gains or loses no item
            if edit.op == "insert":
                frozen.add(edit.path[1:])
            elif edit.op == "delete" and isinstance(edit.path[-1], int):
                frozen.add(edit.path[1:-1])
        refused = (*self.refused, *(e.path[1:] for e in related if e.path[:1] == ("spec",)))
        left = [e for e in self.edits if e not in related]
        conflict = Problem(self.definition.locate(path), f"{self.definition.address}: {why}", path)
        return ObjectPull(
            self.definition,
            _outside_conflicts(left, refused, frozenset(frozen), self.same),
            [*self.conflicts, conflict],
            self.same,
            refused,
            frozenset(frozen),
        )


#: Push-task repeat fields: a task holds one or the other.
_EXCLUSIVE = {"frequency": "cron", "cron": "frequency"}
_TOP_KEY = re.compile(r"[^.\[]+")
#: Lists the planner compares as unordered collections (campaign labels: see
#: ``CampaignRules``' relaxations; email campaigns' id lists and events): aligned as multisets,
#: so that a changed tag is edited where it stands whatever order the account returns.
_UNORDERED: Mapping[Kind, frozenset[JsonPath]] = {
    Kind.CAMPAIGN: frozenset({("labels",)}),
    Kind.PUSH_TASK: frozenset(),
    Kind.EMAIL_CAMPAIGN: frozenset((k,) for k in SET_FIELDS),
}


def _changed_keys(change: Change) -> set[str]:
    """The top-level spec keys the planner found different (its field diffs' first segment)."""
    out = set()
    for d in change.diff:
        m = _TOP_KEY.match(d.path)
        if m:
            out.add(m.group(0))
    return out


def pulled_state(kind: Kind, stated: str | None, status: str) -> str | None:
    """The ``state:`` that the remote ``status`` (the kind's status word) satisfies, when the
    definition's ``stated`` one is not satisfied; ``None`` when nothing is to change (no state
    stated, already satisfied, or a status no state expresses, e.g. a finished push task).

    Mirrors the kinds' planning: a campaign's ``active`` is satisfied by every status but
    ``paused`` and ``canceled``."""
    if stated is None:
        return None
    if kind is Kind.CAMPAIGN:
        wanted = status if status in ("paused", "canceled") else "active"
    elif status in STATES[kind]:  # push task active/inactive, email campaign active/stopped
        wanted = status
    else:
        return None
    return None if wanted == stated else wanted


def _compared(kind: Kind, norm: dict[str, Any]) -> dict[str, Any]:
    """The part of a normalised spec the planner compares (create-time triggers, hoodsync's own
    metadata keys and a push task's status left out)."""
    if kind is Kind.CAMPAIGN:
        return CampaignRules.compare_spec(norm)
    if kind is Kind.PUSH_TASK:
        return PushTaskRules.compare_spec(norm)
    return norm


def _in_form(written: Any, remote: Any) -> Any:
    """``remote`` written the way the definition wrote the value it replaces: ``"3600"`` stays a
    quoted number (the API documents it as a string), an id written as a number stays a number,
    ``1``/``0`` stay numbers where the remote says ``true``/``false`` (and the other way)."""
    if isinstance(written, str) and type(remote) is int:
        return str(remote)
    if type(written) is int and isinstance(remote, str) and re.fullmatch(r"-?[0-9]+", remote):
        return int(remote)
    if type(written) is int and type(remote) is bool:
        return int(remote)
    if type(written) is bool and type(remote) is int and remote in (0, 1):
        return bool(remote)
    return settable(remote)


#: Shorter resolved values are not looked for inside the values pull writes (``"1"`` would be
#: found everywhere); the path rules above still keep them out.
_SECRET_MIN = 4


def _covers(path: JsonPath, sensitive: JsonPath, same: Collection[JsonPath]) -> bool:
    """Whether the value at ``path`` may hold the one at ``sensitive`` (both spec-relative):
    an array index stands for any element of the definition's array, unless the element
    there was paired with the account's by an equal name (``same``: those element paths)."""
    if len(sensitive) < len(path):
        return False
    return all(
        s == p if type(p) is not int or path[: i + 1] in same else type(s) is int
        for i, (p, s) in enumerate(zip(path, sensitive))
    )


class _Walker:
    """Compares one definition's compared spec with the remote spec shape, collecting edits."""

    def __init__(self, desired: Desired, secrets: Collection[Secret] = ()) -> None:
        self.desired = desired
        self.definition = desired.definition
        self.edits: list[Edit] = []
        self.conflicts: list[Problem] = []
        #: Element paths (spec-relative) paired with the account's element of the same name:
        #: only there is the account's element known to be the definition's (see :meth:`free`).
        self.same: set[JsonPath] = set()
        #: Paths of the edits refused (a conflict each).
        self.refused: list[JsonPath] = []
        #: Arrays into which an insert was refused: none of their items is added or removed
        #: (a message moved or renamed in the account would otherwise only lose its old place).
        self.frozen: set[JsonPath] = set()
        #: The values that are secrets now: those of the variables the definition uses, and the
        #: strings they resolve to (see :meth:`_holds_no_secret`).
        # A value the definition itself writes literally somewhere is no secret in its file.
        written = [t for t in strings_of(desired.definition.spec) if isinstance(t, str)]
        self.secrets = tuple(
            (value, ref)
            for value, ref in secrets
            if len(value) >= _SECRET_MIN and not _written_as_word(value, written)
        )

    # --- guards ---

    def free(self, path: JsonPath, *, own: bool = False) -> bool:
        """False (and a conflict) when an edit at ``path`` (spec-relative) would write over a
        ``${env:...}`` value: the value itself, or something holding one — where an index on
        the way stands for any element of the definition's array, unless the element there was
        paired by an equal name: arrays are aligned by position, by value or by likeness, so
        the account's element at an index may be another one, holding that one's secret,
        current or old. ``own``: ``path`` is the definition's own element (a delete), taken
        as it is."""
        for sensitive in self.desired.sensitive:
            if sensitive[: len(path)] == path if own else _covers(path, sensitive, self.same):
                self.refused.append(path)
                return self._conflict(
                    sensitive,
                    f"the account holds something else here, but the definition takes this value "
                    f"from {self._refs([sensitive])}; not written (a secret never goes into the "
                    "file): update the variable, or edit the definition by hand",
                )
        return True

    def _refs(self, paths: Sequence[JsonPath]) -> str:
        """The ``${env:...}`` references of the templates at ``paths`` (names, not values)."""
        names = {n: None for p in paths for n in self.desired.reference_names(p)}
        return ", ".join(f"${{env:{n}}}" for n in names) or "${env:...}"

    def _conflict(self, path: JsonPath, why: str) -> bool:
        """Record a conflict at spec path ``path`` (located there); False, for the callers."""
        where = ("spec",) + path
        self.conflicts.append(
            Problem(self.definition.locate(where), f"{self.definition.address}: {why}", where)
        )
        return False

    def _add(self, edit: Edit, guard: JsonPath) -> None:
        if self.free(guard) and self._holds_no_secret(edit, guard):
            self.edits.append(edit)

    def _holds_no_secret(self, edit: Edit, guard: JsonPath) -> bool:
        """False (and a conflict) when the value to write holds one of the definition's
        resolved ``${env:...}`` strings, wherever it came from: never written into a file."""
        if edit.value is None or not self.secrets:
            return True
        for text in strings_of(edit.value):
            ref = next((ref for value, ref in self.secrets if holds_value(text, value)), None)
            if ref is not None:
                self.refused.append(guard)
                return self._conflict(
                    guard,
                    f"the account's value here holds the value of {ref}; not written (a secret "
                    "never goes into a file): edit the definition by hand",
                )
        return True

    def set(self, path: JsonPath, written: Any, remote: Any) -> None:
        self._add(Edit("set", ("spec",) + path, _in_form(written, remote)), path)

    def delete(self, path: JsonPath) -> None:
        # What goes is the definition's own value: refused only where it holds a template.
        if self.free(path, own=True):
            self.edits.append(Edit("delete", ("spec",) + path))

    # --- walking ---

    def top(self, key: str, want: Any, written: Any, shape: Mapping[str, Any]) -> None:
        """One top-level spec key the planner found different."""
        if key in _EXCLUSIVE and self.definition.kind is Kind.PUSH_TASK:
            other = _EXCLUSIVE[key]
            spec = self.definition.spec
            if (
                shape.get(key) in (None, "")
                and shape.get(other) not in (None, "")
                and other not in spec
            ):
                # Switched between frequency and cron in Hood: the one key becomes the other.
                value = _in_form(written, shape[other])
                self._add(Edit("rename", ("spec", key), value, key=other), (key,))
                return
        self.entry((key,), want, written, shape)

    def entry(self, path: JsonPath, want: Any, written: Any, parent: Mapping[str, Any]) -> None:
        """A key the definition states, inside the remote mapping ``parent``."""
        key = path[-1]
        assert isinstance(key, str)
        if key not in parent or parent[key] is None:
            if want is not None:
                self.delete(path)  # absent and null are one thing to these APIs
            return
        self.walk(path, want, written, parent[key])

    def walk(self, path: JsonPath, want: Any, written: Any, have: Any) -> None:
        """Make the definition's value at ``path`` (``want`` normalised, ``written`` as in the
        file) say what the remote holds (``have``), on the keys the definition states."""
        if want == have:
            return
        if isinstance(want, dict) and isinstance(have, dict) and isinstance(written, dict):
            for key, value in want.items():
                self.entry(path + (key,), value, written.get(key), have)
            return
        if isinstance(want, list) and isinstance(have, list) and isinstance(written, list):
            self.walk_list(path, want, written, have)
            return
        if isinstance(have, (dict, list)):
            value = settable(have, message=self._is_messages(path))
            self._add(Edit("set", ("spec",) + path, value), path)
            return
        self.set(path, written, have)

    def _is_messages(self, path: JsonPath) -> bool:
        return self.definition.kind is Kind.CAMPAIGN and len(path) == 2 and path[0] == "messages"

    def walk_list(
        self, path: JsonPath, want: list[Any], written: list[Any], have: list[Any]
    ) -> None:
        """Align the two lists (module docstring) and edit item by item."""
        if len(written) != len(want):  # cannot happen: normalising keeps list lengths
            self.set(path, written, have)
            return
        if path in _UNORDERED[self.definition.kind] and _all_scalars([*want, *have]):
            self._as_multiset(path, want, written, have)
            return
        keyed = _keys(want, have)
        if keyed is None and any(isinstance(v, (dict, list)) for v in [*want, *have]):
            self._by_position(path, want, written, have)
            return
        mine, theirs = keyed if keyed is not None else (want, have)
        matcher = difflib.SequenceMatcher(None, mine, theirs, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                pairs = list(zip(range(i1, i2), range(j1, j2)))
                if keyed is not None:  # paired by an equal name: the same object
                    self.same.update(path + (i,) for i in range(i1, i2))
            elif op == "replace" and keyed is not None:
                pairs = _similar_pairs(want[i1:i2], have[j1:j2], i1, j1)
            elif op == "replace" and i2 - i1 == j2 - j1:
                pairs = list(zip(range(i1, i2), range(j1, j2)))  # values replaced in place
            else:
                pairs = []
            self._apply_pairs(path, want, written, have, pairs, (i1, i2, j1, j2))

    def _apply_pairs(
        self,
        path: JsonPath,
        want: list[Any],
        written: list[Any],
        have: list[Any],
        pairs: list[tuple[int, int]],
        block: tuple[int, int, int, int],
    ) -> None:
        """Within one aligned block, edit the paired items in place; delete the definition's
        unpaired ones, insert the remote's unpaired ones where they stand."""
        i1, i2, j1, j2 = block
        paired_i = {i for i, _ in pairs}
        ends = pairs + [(i2, j2)]
        i_prev, j_prev = i1, j1
        for i, j in ends:
            for gone in range(i_prev, i):
                if gone not in paired_i:
                    self.delete(path + (gone,))
            if j > j_prev:
                self.insert(path, i_prev, have[j_prev:j])
            if (i, j) != (i2, j2):
                self.walk(path + (i,), want[i], written[i], have[j])
            i_prev, j_prev = i + 1, j + 1

    def _as_multiset(
        self, path: JsonPath, want: list[Any], written: list[Any], have: list[Any]
    ) -> None:
        """Values the account no longer holds give their place to the ones it added (in the
        account's order); what is left over is removed or appended. Order alone changes
        nothing."""
        spare = Counter(have)
        gone = []
        for i, value in enumerate(want):
            if spare[value] > 0:
                spare[value] -= 1
            else:
                gone.append(i)
        added = []
        for value in have:
            if spare[value] > 0:
                spare[value] -= 1
                added.append(value)
        for i, value in zip(gone, added):
            self.set(path + (i,), written[i], value)
        for i in gone[len(added) :]:
            self.delete(path + (i,))
        if len(added) > len(gone):
            self.insert(path, len(want), added[len(gone) :])

    def _by_position(
        self, path: JsonPath, want: list[Any], written: list[Any], have: list[Any]
    ) -> None:
        for i in range(min(len(want), len(have))):
            self.walk(path + (i,), want[i], written[i], have[i])
        for i in range(len(have), len(want)):
            self.delete(path + (i,))
        if len(have) > len(want):
            self.insert(path, len(want), have[len(want) :])

    def insert(self, path: JsonPath, index: int, items: Sequence[Any]) -> None:
        """The account's items the definition lacks, inserted — unless an element of the
        definition's array takes a value from ``${env:...}``: an item only the account holds
        may then be that element's old self (renamed, edited), old secret included."""
        message = self.definition.kind is Kind.CAMPAIGN and path == ("messages",)
        values = [settable(v, message=message) for v in items]
        edit = Edit("insert", ("spec",) + path, values, index=index)
        used = [s for s in self.desired.sensitive if _covers(path + (index,), s, self.same)]
        if used:
            self.frozen.add(path)
            self._conflict(
                path,
                f"{len(items)} item(s) only the account holds not added to "
                f"{format_json_path(('spec', *path))}: items there take values from "
                f"{self._refs(used)}, and these may be an old one's, old secret included; add "
                "them by hand",
            )
        elif self._holds_no_secret(edit, path):
            self.edits.append(edit)
        else:  # refused as holding a secret: the list is frozen all the same
            self.frozen.add(path)


#: How alike two named objects must be (share of the definition's values the remote object
#: holds) to count as one object edited in place (renamed, say) rather than one removed and
#: another added.
_ALIKE = 0.5
_MISSING = object()


def _leaves(value: Any, path: JsonPath = ()) -> list[tuple[JsonPath, Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, path + (k,))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, path + (i,))]
    return [(path, value)]


def _at(value: Any, path: JsonPath) -> Any:
    for part in path:
        if isinstance(value, dict) and isinstance(part, str) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            return _MISSING
    return value


def _similarity(want: Any, have: Any) -> float:
    """Share of ``want``'s values that ``have`` holds at the same place."""
    leaves = _leaves(want)
    if not leaves:
        return 0.0
    return sum(1 for path, value in leaves if _at(have, path) == value) / len(leaves)


def _similar_pairs(
    want: Sequence[Any], have: Sequence[Any], i_off: int, j_off: int
) -> list[tuple[int, int]]:
    """Among named objects whose names did not match, the in-order pairing of alike ones
    (:data:`_ALIKE`) that is alike the most in total (a small dynamic programme: blocks hold
    the few messages around a change)."""
    n, m = len(want), len(have)
    alike = [[_similarity(want[i], have[j]) for j in range(m)] for i in range(n)]
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in reversed(range(n)):
        for j in reversed(range(m)):
            here = best[i + 1][j + 1] + alike[i][j] if alike[i][j] >= _ALIKE else 0.0
            best[i][j] = max(best[i + 1][j], best[i][j + 1], here)
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        if alike[i][j] >= _ALIKE and best[i][j] == best[i + 1][j + 1] + alike[i][j]:
            pairs.append((i + i_off, j + j_off))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


def _all_scalars(values: Sequence[Any]) -> bool:
    return not any(isinstance(v, (dict, list)) for v in values)


def _keys(want: Sequence[Any], have: Sequence[Any]) -> tuple[list[Any], list[Any]] | None:
    """Match keys for lists of named objects (``(name, channel)``), else ``None``."""
    every = [*want, *have]
    if not every or not all(isinstance(v, dict) and isinstance(v.get("name"), str) for v in every):
        return None

    def key(v: Mapping[str, Any]) -> tuple[str, str]:
        return (str(v["name"]), json.dumps(v.get("channel"), sort_keys=True))

    return [key(v) for v in want], [key(v) for v in have]


def object_pull(
    desired: Desired,
    change: Change,
    remote: RemoteObject,
    shape: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    secrets: Sequence[Secret] = (),
) -> ObjectPull:
    """The edits that make ``desired``'s definition say what ``remote`` holds, on what the
    definition states and the planner found different (``change``); ``shape`` is the remote
    object in the definition's spec shape (:func:`hoodsync.session.spec_shapes`). ``env``
    (the one the definitions were resolved with) and ``secrets`` (the values of every
    variable the account's definitions use) give the values never to write."""
    d = desired.definition
    rules = RULES[d.kind]
    cmp = _compared(d.kind, rules.normalise(desired.spec))
    keys = _changed_keys(change)
    if d.kind is Kind.CAMPAIGN and cmp.get("is_draft") is True and remote.status != "draft":
        keys.add("is_draft")  # published in Hood: the planner asks to drop is_draft
    walker = _Walker(desired, [*_secrets(desired), *secrets])
    for key, value in cmp.items():
        if key in keys:
            walker.top(key, value, d.spec.get(key), shape)
    state = pulled_state(d.kind, d.state, remote.status)
    if state is not None:
        walker.edits.append(Edit("set", ("state",), state))
    if d.kind is Kind.PUSH_TASK and change.transition is not None:
        status = shape.get("status")
        if "status" in d.spec and status in (0, 1) and not isinstance(status, bool):
            walker.set(("status",), d.spec["status"], status)
    edits = _outside_conflicts(walker.edits, walker.refused, walker.frozen, walker.same)
    if d.kind is Kind.CAMPAIGN:
        edits += _ab_test(walker, edits, shape)
    return ObjectPull(
        d,
        edits,
        walker.conflicts,
        frozenset(walker.same),
        tuple(walker.refused),
        frozenset(walker.frozen),
    )


def _ab_test(walker: _Walker, edits: Sequence[Edit], shape: Mapping[str, Any]) -> list[Edit]:
    """The ``ab_test`` block the account holds, added (as the last key of ``spec``) when the
    definition states none and its messages, once pulled, are an A/B test (several of one
    channel: a message added in the UI, where the UI adds the block too). Without it, the file
    would not validate; with it, the plan compares the block as the account holds it."""
    spec = walker.definition.spec
    block = shape.get("ab_test")
    if "ab_test" in spec or not isinstance(block, dict) or not block:
        return []
    messages = apply_edits({"spec": spec}, edits)["spec"].get("messages")
    channels = Counter(m.get("channel") for m in messages or () if isinstance(m, dict))
    if not any(n > 1 for n in channels.values()):
        return []
    before = len(walker.edits)
    walker._add(Edit("add", ("spec", "ab_test"), settable(block)), ("ab_test",))
    return walker.edits[before:]


#: A value never to write, and the ``${env:...}`` reference it is the value of (what a
#: problem names instead of the value).
Secret = tuple[str, str]


def variable_values(definitions: Sequence[Definition], env: Mapping[str, str]) -> list[Secret]:
    """The values in ``env`` of every variable ``definitions`` interpolate (those long enough
    to look for: see :data:`_SECRET_MIN`), in name order, each with its reference."""
    return values_of(variables_of(d.spec for d in definitions), env)


def variables_of(specs: Iterable[Any]) -> set[str]:
    """The names of the variables the templates in ``specs`` (any JSON-like data) reference."""
    return {n for spec in specs for ns in reference_paths(spec).values() for n in ns}


def values_of(names: Iterable[str], env: Mapping[str, str]) -> list[Secret]:
    """The values in ``env`` of the variables ``names`` (those long enough to look for: see
    :data:`_SECRET_MIN`), in name order, each with its reference."""
    return [
        (v, f"${{env:{n}}}") for n in sorted(set(names)) if len(v := env.get(n, "")) >= _SECRET_MIN
    ]


def _secrets(desired: Desired) -> list[Secret]:
    """The strings ``desired``'s templates resolve to (``https://x/?c=<value>``)."""
    out: list[Secret] = []
    for path in desired.sensitive:
        value = _at(desired.spec, path)
        if isinstance(value, str):
            refs = " ".join(f"${{env:{n}}}" for n in desired.reference_names(path))
            out.append((value, refs or "${env:...}"))
    return out


def _outside_conflicts(
    edits: Sequence[Edit],
    refused: Collection[JsonPath],
    frozen: Collection[JsonPath],
    same: Collection[JsonPath],
) -> list[Edit]:
    """``edits`` without those that would leave a list half pulled:

    * in a list where a field edit was refused at an item not paired by an equal name, the
      edits of every such item (written alone, they would pair one item's values with
      another's: a button's title with the next one's URL); items paired by name (one
      message) keep theirs;
    * in a list into which an insert was refused, every insert and delete (a message moved or
      renamed in the account would lose its old place and not gain the new one).
    """
    arrays = {
        path[:i]
        for path in refused
        for i, part in enumerate(path[:-1])  # a field inside the item
        if type(part) is int and path[: i + 1] not in same
    }

    def kept(edit: Edit) -> bool:
        path = edit.path[1:]  # spec-relative
        for array in arrays:
            n = len(array)
            if path[:n] == array and (len(path) == n or path[: n + 1] not in same):
                return False
        if edit.op == "insert" and path in frozen:
            return False
        return not (edit.op == "delete" and path[:-1] in frozen)

    return [e for e in edits if kept(e)]


class _Number(str):
    """A number of a JSON-like value as JSON writes it: it holds a variable's value only when it
    is that value, whole (``1000`` is not in ``12000``)."""


def holds_value(text: str, value: str) -> bool:
    """Whether ``text`` (from :func:`strings_of`) holds ``value``."""
    return text == value if isinstance(text, _Number) else value in text


def secret_in_file(
    text: str, relative: str, data: Iterable[Any], secrets: Sequence[Secret]
) -> str | None:
    """The reference of the first of ``secrets`` (value, reference) that a new file would
    write, or ``None``: in its ``text`` as written (comments too), in its path ``relative``
    to its folder (a file is named from an object's name), or in a value as loaded (``data``,
    the file's documents: the YAML text may fold or escape a long value). The one rule of what
    ``export`` and ``pull --new`` write: never a value of a variable the project interpolates."""
    values = [text, relative, *(t for doc in data for t in strings_of(doc))]
    return next((ref for v, ref in secrets for t in values if holds_value(t, v)), None)


def secret_refused(folder: str, ref: str) -> Problem:
    """The problem of a file :func:`secret_in_file` keeps back: located at its ``folder``,
    since its own name may hold the value."""
    return Problem(
        Location(folder),
        f"not written: the account's object holds the value of {ref} (a secret never goes "
        "into a file)",
    )


def without_secrets(
    files: Sequence[ExportedFile], out: Path, secrets: Sequence[Secret]
) -> tuple[list[ExportedFile], list[Problem]]:
    """``files`` (an export below ``out``) without those holding a value of ``secrets``
    (:func:`secret_in_file`), and a problem for each one left out."""
    kept: list[ExportedFile] = []
    refused: list[Problem] = []
    for exported in files:
        path = out / exported.path
        docs = load_text(exported.text, str(path)).documents
        ref = secret_in_file(exported.text, exported.path, (d.data for d in docs), secrets)
        if ref is None:
            kept.append(exported)
        else:
            refused.append(secret_refused(str(path.parent), ref))
    return kept, refused


#: A value a definition writes itself, as a word of this length at least, is no secret in its
#: file (``SITE=example.com`` beside a literal ``https://example.com``); a shorter one, or one
#: inside a longer word (``2030`` in a date), still is.
_WORD_MIN = 8


def _written_as_word(value: str, written: Sequence[str]) -> bool:
    if len(value) < _WORD_MIN:
        return False
    word = re.compile(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])")
    return any(word.search(text) for text in written)


def strings_of(value: Any) -> Iterator[str]:
    """Every string in a JSON-like value, keys included, and every number as written in JSON
    (a variable's value may be one: ``frequency: ${env:EVERY}``; see :class:`_Number`)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield _Number(json.dumps(value))
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from strings_of(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings_of(v)


def drifted(
    definitions: Sequence[Definition],
    plan: Plan,
    remote: Mapping[Kind, Sequence[Mapping[str, Any]]],
    *,
    env: Mapping[str, str],
    forbidden_env: frozenset[str] = frozenset(),
    secrets: Sequence[Secret] | None = None,
) -> tuple[list[ObjectPull], list[Problem]]:
    """Every definition of one account whose change in ``plan`` has a remote object, with its
    edits; and a problem for each one whose remote object the plan could not tell (ambiguous
    match). ``secrets`` (default: the values of the variables ``definitions`` use): the
    values never written anywhere. Pure."""
    desired = {x.address: x for x in prepare(definitions, env, forbidden_env)}
    shapes = spec_shapes(plan, remote)
    # A variable's value is a secret wherever it would be written, not only in the
    # definitions that use it.
    if secrets is None:
        secrets = variable_values(definitions, env)
    raw = {(kind, str(item.get("id"))): item for kind, items in remote.items() for item in items}
    out: list[ObjectPull] = []
    problems: list[Problem] = []
    for change in plan.changes:
        des = desired.get(change.address)
        if des is None:  # an orphan or a duplicate: no definition to write into
            continue
        item = raw.get((change.kind, str(change.remote_id))) if change.remote_id else None
        if item is None:
            errors = [n.message for n in change.notes if n.severity == "error"]
            if errors:
                problems.append(
                    Problem(des.definition.location, f"{change.address}: not pulled: {errors[0]}")
                )
            continue  # a create: the object is not in the account, nothing to pull
        found = object_pull(
            des, change, from_remote(change.kind, item), shapes[change.address], env, secrets
        )
        if found.edits or found.conflicts:
            out.append(found)
    return out, problems


# =========================================================================== edits on data


def apply_edits(data: Any, edits: Sequence[Edit]) -> Any:
    """``data`` (one document, plain JSON-like) with ``edits`` made: what the edited file must
    load as. Indexes in the edits are those of ``data``."""
    out = copy_json(data)
    lists: dict[JsonPath, tuple[set[int], dict[int, list[Any]]]] = {}
    for edit in edits:
        if edit.op == "insert":
            inserted = lists.setdefault(edit.path, (set(), {}))[1]
            inserted.setdefault(edit.index, []).extend(edit.value)
        elif edit.op == "delete" and isinstance(edit.path[-1], int):
            lists.setdefault(edit.path[:-1], (set(), {}))[0].add(edit.path[-1])
    for edit in edits:
        parent = _get(out, edit.path[:-1])
        last = edit.path[-1]
        if edit.op in ("set", "add"):
            parent[last] = copy_json(edit.value)
        elif edit.op == "delete" and isinstance(last, str):
            del parent[last]
        elif edit.op == "rename":
            parent.update(_renamed(parent, str(last), edit.key, copy_json(edit.value)))
    # Lists last and deepest first: until a list is rebuilt, its indexes are the original ones.
    for path in sorted(lists, key=len, reverse=True):
        deleted, inserted = lists[path]
        old = _get(out, path)
        new: list[Any] = []
        for i in range(len(old) + 1):
            new.extend(copy_json(inserted.get(i, [])))
            if i < len(old) and i not in deleted:
                new.append(old[i])
        _put(out, path, new)
    return out


def _renamed(mapping: dict[str, Any], old: str, new: str, value: Any) -> dict[str, Any]:
    """``mapping`` with the key ``old`` replaced by ``new`` (same place, new value)."""
    items = [(new, value) if k == old else (k, v) for k, v in mapping.items()]
    mapping.clear()
    return dict(items)


def _get(node: Any, path: JsonPath) -> Any:
    for part in path:
        node = node[part]
    return node


def _put(node: Any, path: JsonPath, value: Any) -> None:
    _get(node, path[:-1])[path[-1]] = value


# =========================================================================== where things are


class EditRefused(Exception):
    """The edits cannot be made to this text as asked (the message says why, for a user);
    ``at`` is the (line, column) it is about, when known."""

    def __init__(self, message: str, at: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        self.at = at


@dataclass(eq=False)
class _Pos:
    """One node occurrence in the text: where its own text starts (after any anchor and tag)
    and ends. Block collections end where their last child's content ends (comments and blank
    lines after it are not theirs)."""

    kind: str  # "map" | "seq" | "scalar" | "alias"
    props: int  # where the node starts, anchor and tag included
    start: int
    end: int
    line: int
    column: int
    flow: bool = False
    style: str | None = None
    value: str | None = None  # scalars: the text value (keys are looked up by it)
    anchor: str | None = None
    target: _Pos | None = None  # aliases: the anchored node
    keys: list[_Pos] = field(default_factory=list)
    items: list[_Pos] = field(default_factory=list)


class _Tree:
    """The positions of every document of a file, built from the loader's parse events."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.roots: list[_Pos] = []
        self.anchors: dict[str, _Pos] = {}
        #: Anchors some alias refers to: changing what they hold changes several places.
        self.aliased: set[str] = set()
        try:
            self._build()
        except yaml.YAMLError as exc:  # the loader read this text a moment ago
            raise EditRefused(f"cannot parse the file again: {exc}") from exc

    def _skip_props(self, at: int, end: int) -> int:
        """Past an anchor (``&a``) and a tag (``!!str``) and the blanks after them."""
        text = self.text
        while at < end and text[at] in "&!":
            while at < end and not text[at].isspace():
                at += 1
            while at < end and text[at].isspace():
                at += 1
        return at

    def _build(self) -> None:
        stack: list[_Pos] = []
        for event in parse_events(self.text):
            mark, end_mark = event.start_mark, event.end_mark
            if mark is None or end_mark is None:  # pragma: no cover - the parsers always mark
                continue
            at, end = mark.index, end_mark.index
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                kind = "map" if isinstance(event, yaml.MappingStartEvent) else "seq"
                pos = _Pos(
                    kind,
                    at,
                    at,
                    at,
                    mark.line,
                    mark.column,
                    flow=bool(event.flow_style),
                    anchor=event.anchor,
                )
                if pos.flow:
                    pos.start = self._skip_props(at, len(self.text))
                self._add(stack, pos)
                stack.append(pos)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                pos = stack.pop()
                children = pos.keys + pos.items
                if pos.flow:
                    pos.end = end
                elif children:
                    pos.start = min(c.props for c in children)
                    pos.end = max(c.end for c in children)
            elif isinstance(event, yaml.ScalarEvent):
                start = self._skip_props(at, end)
                if event.style in ("|", ">"):
                    # its trailing blank lines are the document's, not part of what is replaced
                    while end > start + 1 and self.text[end - 1].isspace():
                        end -= 1
                self._add(
                    stack,
                    _Pos(
                        "scalar",
                        at,
                        start,
                        end,
                        mark.line,
                        mark.column,
                        style=event.style or None,
                        value=event.value,
                        anchor=event.anchor,
                    ),
                )
            elif isinstance(event, yaml.AliasEvent):
                name = str(event.anchor)
                self.aliased.add(name)
                self._add(
                    stack,
                    _Pos(
                        "alias",
                        at,
                        at,
                        end,
                        mark.line,
                        mark.column,
                        anchor=name,
                        target=self.anchors.get(name),
                    ),
                    anchor_site=False,
                )

    def _add(self, stack: list[_Pos], pos: _Pos, anchor_site: bool = True) -> None:
        if anchor_site and pos.anchor:
            self.anchors[pos.anchor] = pos
        if not stack:
            self.roots.append(pos)
            return
        parent = stack[-1]
        if parent.kind == "map" and len(parent.keys) == len(parent.items):
            parent.keys.append(pos)
        else:
            parent.items.append(pos)

    def root_at(self, location: Location) -> _Pos:
        """The document that starts at ``location`` (a definition's)."""
        for root in self.roots:
            if (root.line + 1, root.column + 1) == (location.line, location.column):
                return root
        raise EditRefused(f"no document starts at line {location.line} any more")


@dataclass
class _Found:
    """A path resolved in a :class:`_Tree`: the node, its parent and place in it, whether an
    alias was followed on the way, and the anchored nodes passed (they may be shared)."""

    node: _Pos
    parent: _Pos | None
    index: int
    flow: bool
    indent: int
    anchors: list[_Pos]


def _resolve(tree: _Tree, root: _Pos, path: JsonPath) -> _Found:
    """Walk ``path`` from ``root``; an alias on the way is followed to its anchor (the node
    reached may itself be an alias occurrence: only that place holds it)."""
    node, parent, index, flow, indent = root, None, -1, False, 0
    anchors: list[_Pos] = []
    for part in path:
        if node.kind == "alias":
            if node.target is None:
                raise EditRefused(f"the alias *{node.anchor} has no anchor")
            node = node.target
        if node.anchor and node.anchor in tree.aliased:
            anchors.append(node)
        flow = flow or node.flow
        if isinstance(part, str):
            found = (
                [i for i, k in enumerate(node.keys) if k.value == part]
                if node.kind == "map"
                else []
            )
            if not found:
                raise EditRefused(f"{format_json_path(path)}: no such key in the file")
            index = found[0]
            indent = node.keys[index].column + 2
        else:
            if node.kind != "seq" or not 0 <= part < len(node.items):
                raise EditRefused(f"{format_json_path(path)}: no such list item in the file")
            index = part
            if not flow:
                indent = _column(tree.text, _dash(tree.text, node.items[index])) + 2
        parent, node = node, node.items[index]
    if node.kind != "alias" and node.anchor and node.anchor in tree.aliased:
        anchors.append(node)
    return _Found(node, parent, index, flow, indent, anchors)


def _column(text: str, at: int) -> int:
    return at - _line_start(text, at)


def _line_start(text: str, at: int) -> int:
    return text.rfind("\n", 0, at) + 1


def _line_end(text: str, at: int) -> int:
    """Just past the line break of the line holding ``at`` (or the end of the text)."""
    found = text.find("\n", at)
    return len(text) if found == -1 else found + 1


def _dash(text: str, item: _Pos) -> int:
    """Where the ``-`` of a block sequence item is."""
    at = item.props - 1
    while at >= 0 and text[at] in " \t\r\n":
        at -= 1
    if at < 0 or text[at] != "-":
        raise EditRefused("cannot find the '-' of a list item")
    return at


def _blank_before(text: str, at: int) -> bool:
    """Only indentation between the start of the line and ``at``."""
    return text[_line_start(text, at) : at].strip() == ""


# =========================================================================== rendering

_LONG = 1 << 30


#: Asked whether a string may stay plain (the exporter's resolvers: YAML 1.1 and 1.2 types).
_ANALYSER = Dumper(io.StringIO(), allow_unicode=True)


def _dump_scalar(value: Any, style: str | None) -> str:
    """One scalar in ``style`` on one line (PyYAML's own quoting and escapes; the exporter's
    dumper would turn multi-line text into a block)."""
    text = yaml.safe_dump(value, default_style=style, allow_unicode=True, width=_LONG)
    if text.endswith("\n...\n"):
        text = text[:-5]
    return text.rstrip("\n")


def _plain_ok(value: str, flow: bool) -> bool:
    """May ``value`` be written plain here and still read back as this very string (by a
    YAML 1.1 or 1.2 reader)?"""
    if not value or value != value.strip():
        return False
    analysis = _ANALYSER.analyze_scalar(value)
    allowed = analysis.allow_flow_plain if flow else analysis.allow_block_plain
    if analysis.multiline or not allowed:
        return False
    tag = _ANALYSER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return bool(tag == "tag:yaml.org,2002:str")


def _literal(value: str, indent: int, nl: str) -> str | None:
    """``value`` as a literal block (``|`` or ``|-``) with content at ``indent``; ``None`` when
    a literal block cannot hold it exactly (then it is quoted)."""
    body = value[:-1] if value.endswith("\n") else value
    if body.endswith("\n") or not body or body[0] in " \t" or "\r" in value:
        return None
    if any(ch in value for ch in ("\x85", "\u2028", "\u2029", "\ufeff")):
        return None
    if not all(ch.isprintable() or ch in "\n\t" for ch in value):
        return None
    chomp = "" if value.endswith("\n") else "-"
    lines = [(" " * indent + line) if line else "" for line in body.split("\n")]
    return "|" + chomp + nl + nl.join(lines)


def render_scalar(
    value: Any, *, style: str | None, flow: bool, indent: int, nl: str, block_ok: bool = True
) -> str:
    """``value`` (not a collection) as YAML text for a place whose old value had ``style``
    (``None`` plain, ``'``, ``"``, ``|``, ``>``): that style when it can hold the value, else
    what the exporter would write (a folded block is rewritten as a literal one, which says
    exactly where the lines break). Multi-line text is a literal block where one may stand:
    in block context (``flow`` false), with nothing after the value on its line (``block_ok``;
    a comment there would become text of the block)."""
    if not isinstance(value, str):
        return _dump_scalar(value, None)
    if not flow and block_ok and ("\n" in value or style in ("|", ">")):
        block = _literal(value, indent, nl)
        if block is not None:
            return block
    if style == "'" and "\n" not in value and _ANALYSER.analyze_scalar(value).allow_single_quoted:
        return "'" + value.replace("'", "''") + "'"
    if style == '"':
        return _dump_scalar(value, '"')
    if _plain_ok(value, flow):
        return value
    return _dump_scalar(value, "'" if "\n" not in value else '"')


def _render_flow(value: Any) -> str:
    if not isinstance(value, (dict, list)):
        return render_scalar(value, style=None, flow=True, indent=0, nl="\n")
    text = yaml.dump(
        value,
        Dumper=Dumper,
        default_flow_style=True,
        allow_unicode=True,
        width=_LONG,
        sort_keys=False,
    )
    return text.rstrip("\n")


def _render_block_lines(value: dict[str, Any] | list[Any]) -> list[str]:
    """A non-empty collection as block YAML lines, relative to column 0."""
    return dump_yaml(value).rstrip("\n").split("\n")


# =========================================================================== edits on text


@dataclass(frozen=True, slots=True)
class _Splice:
    start: int
    end: int
    text: str
    path: JsonPath
    anchors: tuple[str, ...] = ()
    #: (line, column), 1-based, of what changed (for messages)
    at: tuple[int, int] = (1, 1)


class _Editor:
    """Turns :class:`Edit` s of one document into text splices on the original file."""

    def __init__(self, tree: _Tree, root: _Pos, nl: str, edits: Sequence[Edit]) -> None:
        self.tree = tree
        self.text = tree.text
        self.root = root
        self.nl = nl
        self.splices: list[_Splice] = []
        self.edits = self._emptied(edits)
        #: Paths deleted by this document's edits (a deleted first key takes the place up to
        #: the next key that stays).
        self.deleted = {e.path for e in self.edits if e.op == "delete"}
        #: (anchored node, value) of every ``set`` that rewrites an anchor itself.
        self.anchor_sets: set[tuple[int, str]] = set()
        for edit in self.edits:
            if edit.op == "set":
                target = _resolve(tree, root, edit.path).node
                if target.kind != "alias" and target.anchor:
                    self.anchor_sets.add((id(target), _canonical(edit.value)))

    def _emptied(self, edits: Sequence[Edit]) -> list[Edit]:
        """``edits`` with every collection that loses all its entries written as one ``set``
        of the collection (empty, or holding only the items inserted into it): entry by entry
        there would be nothing left to hold the ``{}`` or ``[]``."""
        children: dict[JsonPath, set[str | int]] = {}
        for edit in edits:
            if edit.op == "delete":
                children.setdefault(edit.path[:-1], set()).add(edit.path[-1])
        emptied: dict[JsonPath, Edit] = {}
        for parent, gone in children.items():
            node = _resolve(self.tree, self.root, parent).node
            if node.kind == "alias" and node.target is not None:
                node = node.target
            if node.kind in ("map", "seq") and len(gone) == len(node.items):
                added = [v for e in edits if e.op == "insert" and e.path == parent for v in e.value]
                emptied[parent] = Edit("set", parent, added if node.kind == "seq" else {})
        out = [
            e
            for e in edits
            if not (
                e.op == "delete"
                and e.path[:-1] in emptied
                or e.op == "insert"
                and e.path in emptied
            )
        ]
        return out + list(emptied.values())

    def add(self, start: int, end: int, text: str, path: JsonPath, found: _Found) -> None:
        names = tuple(str(a.anchor) for a in found.anchors)
        at = (found.node.line + 1, found.node.column + 1)
        self.splices.append(_Splice(start, end, text, path, names, at))

    def apply(self, edit: Edit) -> None:
        if edit.op == "set":
            self.set(edit.path, edit.value)
        elif edit.op == "delete":
            self.delete(edit.path)
        elif edit.op == "insert":
            self.insert(edit.path, edit.index, list(edit.value))
        elif edit.op == "add":
            self.add_key(edit.path, edit.value)
        elif edit.op == "rename":
            found = _resolve(self.tree, self.root, edit.path)
            assert found.parent is not None
            key = found.parent.keys[found.index]
            self.add(
                key.start,
                key.end,
                render_scalar(
                    edit.key, style=key.style, flow=found.flow, indent=found.indent, nl=self.nl
                ),
                edit.path,
                found,
            )
            self.set(edit.path, edit.value)
        else:  # pragma: no cover - Edit ops are this module's own
            raise ValueError(edit.op)

    # --- set ---

    def set(self, path: JsonPath, value: Any) -> None:
        found = _resolve(self.tree, self.root, path)
        node = found.node
        if node.kind == "alias" and (id(node.target), _canonical(value)) in self.anchor_sets:
            return  # the anchor itself gets this value: the alias keeps sharing it
        if not isinstance(value, (dict, list)) and node.kind in ("scalar", "alias"):
            style = node.style if node.kind == "scalar" else None
            indent = self._block_indent(node) if style in ("|", ">") else found.indent
            text = render_scalar(
                value,
                style=style,
                flow=found.flow,
                indent=indent,
                nl=self.nl,
                block_ok=self._ends_line(node.end),
            )
            self.add(node.start, node.end, text, path, found)
            return
        self.replace(found, value, path)

    def _ends_line(self, at: int) -> bool:
        """Only blanks between ``at`` and the end of its line."""
        return self.text[at : _line_end(self.text, at)].strip() == ""

    def _block_indent(self, node: _Pos) -> int:
        """The indentation of a block scalar's content (kept when it is rewritten)."""
        at = _line_end(self.text, node.start)
        while at < node.end:
            line_end = _line_end(self.text, at)
            line = self.text[at:line_end]
            if line.strip():
                return len(line) - len(line.lstrip(" "))
            at = line_end
        return 2

    def _block_start(self, node: _Pos) -> int:
        """Where a block collection's first line starts: its first key, or its first ``-``."""
        return node.start if node.kind == "map" else _dash(self.text, node.items[0])

    def replace(self, found: _Found, value: Any, path: JsonPath) -> None:
        """Replace a whole value: a collection, or a scalar by a collection."""
        node, nl = found.node, self.nl
        block_node = node.kind in ("map", "seq") and not node.flow
        in_seq = found.parent is not None and found.parent.kind == "seq"
        collection = isinstance(value, (dict, list))
        if found.flow or node.flow or not collection or not value:
            if collection or found.flow:
                rendered = _render_flow(value)
            else:
                rendered = render_scalar(
                    value,
                    style=None,
                    flow=False,
                    indent=found.indent,
                    nl=nl,
                    block_ok=self._ends_line(node.end),
                )
            if block_node and not in_seq:
                self.add(self._value_start(found), node.end, " " + rendered, path, found)
            else:
                start = self._block_start(node) if block_node else node.start
                self.add(start, node.end, rendered, path, found)
            return
        lines = _render_block_lines(value)
        if block_node or in_seq:
            # The new value's first line goes where the old one's starts, the others under it.
            start = self._block_start(node) if block_node else node.start
            pad = " " * _column(self.text, start)
            self.add(
                start, node.end, lines[0] + "".join(nl + pad + x for x in lines[1:]), path, found
            )
        else:
            pad = " " * found.indent
            self.add(
                self._value_start(found),
                node.end,
                "".join(nl + pad + x for x in lines),
                path,
                found,
            )

    def _value_start(self, found: _Found) -> int:
        """Just past the ``:`` of the mapping entry holding ``found`` (its value's place)."""
        parent = found.parent
        if parent is None or parent.kind != "map":
            return found.node.props
        key = parent.keys[found.index]
        colon = self.text.find(":", key.end)
        if colon == -1 or colon > found.node.props:
            raise EditRefused("cannot find the ':' of a mapping entry")
        return colon + 1

    # --- add a key ---

    def add_key(self, path: JsonPath, value: Any) -> None:
        """A key the mapping at ``path[:-1]`` lacks, written after its last entry: on lines of
        its own (block style) in a block mapping, as ``, key: value`` in a flow one."""
        found = _resolve(self.tree, self.root, path[:-1])
        node, text, nl = found.node, self.text, self.nl
        if node.kind == "alias" and node.target is not None:
            node = node.target
        key = str(path[-1])
        if node.kind != "map" or any(k.value == key for k in node.keys):
            raise EditRefused(f"{format_json_path(path)}: cannot add this key here")
        if node.flow or found.flow or not node.keys:
            entry = _render_flow({key: value})[1:-1]  # `{key: value}` without its braces
            if not node.keys:
                self.add(node.start, node.end, "{" + entry + "}", path, found)
            else:
                at = node.items[-1].end
                self.add(at, at, ", " + entry, path, found)
            return
        pad = " " * _column(text, node.keys[0].props)
        lines = _render_block_lines({key: value})
        block = "".join(pad + line + nl for line in lines)
        at = _line_end(text, node.end)
        if at == len(text) and not text.endswith("\n"):
            block = nl + block[: -len(nl)]
        self.add(at, at, block, path, found)

    # --- delete ---

    def delete(self, path: JsonPath) -> None:
        found = _resolve(self.tree, self.root, path)
        parent, i, text = found.parent, found.index, self.text
        assert parent is not None
        siblings = parent.items
        if len(siblings) == 1:
            holder = _resolve(self.tree, self.root, path[:-1])
            self.replace(holder, {} if parent.kind == "map" else [], path[:-1])
            return
        first = parent.keys if parent.kind == "map" else parent.items

        def head(j: int) -> int:
            """Where entry ``j`` starts: its key, or its ``-``."""
            if parent.kind == "map":
                return parent.keys[j].props
            return parent.items[j].props if parent.flow else _dash(text, parent.items[j])

        if parent.flow:
            if i < len(siblings) - 1:
                self.add(first[i].props, head(i + 1), "", path, found)
            else:
                self.add(siblings[i - 1].end, siblings[i].end, "", path, found)
            return
        start = head(i)
        end = max(siblings[i].end, first[i].end)
        stays = [
            j
            for j in range(i + 1, len(siblings))
            if path[:-1] + (parent.keys[j].value if parent.kind == "map" else j,)
            not in self.deleted
        ]
        if _blank_before(text, start):
            self.add(_line_start(text, start), _line_end(text, end), "", path, found)
        elif stays:
            # The first entry after "- ": the next entry that stays moves up into its place.
            self.add(start, head(stays[0]), "", path, found)
        else:
            self.add(siblings[i - 1].end, end, "", path, found)

    # --- insert ---

    def insert(self, path: JsonPath, index: int, values: list[Any]) -> None:
        found = _resolve(self.tree, self.root, path)
        node, text, nl = found.node, self.text, self.nl
        if node.kind == "alias" and node.target is not None:
            node = node.target
        if node.kind != "seq":
            raise EditRefused(f"{format_json_path(path)}: not a list in the file")
        items = node.items
        if node.flow or found.flow or not items:
            rendered = [_render_flow(v) for v in values]
            if not items:
                self.add(node.start, node.end, "[" + ", ".join(rendered) + "]", path, found)
                return
            # A flow list written one item per line gets its new items on lines of their own.
            near = items[min(index, len(items) - 1)]
            own_line = _blank_before(text, near.props)
            sep = "," + nl + " " * _column(text, near.props) if own_line else ", "
            if index < len(items):
                self.add(near.props, near.props, sep.join(rendered) + sep, path, found)
            else:
                self.add(near.end, near.end, sep + sep.join(rendered), path, found)
            return
        dash0 = _dash(text, items[0])
        column = dash0 - _line_start(text, dash0)
        block = "".join(self._block_item(v, column) for v in values)
        if index < len(items):
            dash = _dash(text, items[index])
            if not _blank_before(text, dash):
                raise EditRefused(f"{format_json_path(path)}: a list item shares its line")
            at = _line_start(text, dash)
            self.add(at, at, block, path, found)
        else:
            at = _line_end(text, items[-1].end)
            if at == len(text) and not text.endswith("\n"):
                block = nl + block[: -len(nl)]
            self.add(at, at, block, path, found)

    def _block_item(self, value: Any, column: int) -> str:
        pad, nl = " " * column, self.nl
        if isinstance(value, (dict, list)) and value:
            lines = _render_block_lines(value)
            inner = " " * (column + 2)
            return pad + "- " + lines[0] + "".join(nl + inner + line for line in lines[1:]) + nl
        text = (
            _render_flow(value)
            if isinstance(value, (dict, list))
            else render_scalar(value, style=None, flow=False, indent=column + 2, nl=nl)
        )
        return pad + "- " + text + nl


def _merged(splices: Sequence[_Splice]) -> list[_Splice]:
    """One splice per place (edits reaching one shared node through aliases make the same
    one), sorted; removals that overlap (neighbouring entries both removed) become one.
    Insertions at one place keep the order they were made in."""
    out: list[_Splice] = []
    for splice in sorted(dict.fromkeys(splices), key=lambda s: (s.start, s.end)):
        last = out[-1] if out else None
        if (
            last is not None
            and not last.text
            and not splice.text
            and last.end > splice.start
            and last.start < last.end
            and splice.start < splice.end
        ):
            out[-1] = _Splice(
                last.start,
                max(last.end, splice.end),
                "",
                last.path,
                last.anchors + splice.anchors,
                last.at,
            )
        else:
            out.append(splice)
    return out


def edit_text(text: str, edits: Mapping[Location, Sequence[Edit]]) -> tuple[str, list[_Splice]]:
    """``text`` with every document's edits made (documents named by where they start, as
    :attr:`Definition.location`), and the splices made. Raises :class:`EditRefused` when an
    edit cannot be placed."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom) :]
    tree = _Tree(body)
    nl = "\r\n" if "\r\n" in body else "\n"
    splices: list[_Splice] = []
    for location, doc_edits in edits.items():
        editor = _Editor(tree, tree.root_at(location), nl, doc_edits)
        for edit in editor.edits:
            editor.apply(edit)
        splices.extend(editor.splices)
    unique = _merged(splices)
    for before, after in zip(unique, unique[1:]):
        if before.end > after.start:
            raise EditRefused(
                f"two changes overlap ({format_json_path(before.path)} and "
                f"{format_json_path(after.path)}); edit the file by hand"
            )
    for splice in reversed(unique):
        body = body[: splice.start] + splice.text + body[splice.end :]
    return bom + body, unique


# =========================================================================== files


@dataclass(frozen=True, slots=True)
class FileChange:
    """One definition file to rewrite: its path (as definitions name it), the text read and
    the text to write, and the addresses whose definitions changed in it."""

    path: str
    before: str
    after: str
    addresses: tuple[str, ...]


@dataclass
class PullReport:
    """What a pull found for one account: the files to rewrite and every problem (conflicts,
    refused files, differences left); any problem means exit 1. ``unpulled``: drift that pull
    cannot write (an object renamed in a UI), one line each saying what to do: ``pull`` exits
    1 on it, and ``pull --check`` 2, as for files that would change."""

    files: list[FileChange] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unpulled: list[Problem] = field(default_factory=list)
    #: Objects left alone because what differs is hoodsync's own unfinished work (a warning
    #: each, saying why; the exit code does not change).
    notes: list[Problem] = field(default_factory=list)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _same_definition(data: Any, definition: Definition) -> bool:
    return (
        isinstance(data, dict)
        and data.get("key") == definition.key
        and _canonical(data.get("spec") or {}) == _canonical(definition.spec)
        and data.get("state") == definition.state
    )


def _edit_file(path: str, text: str, pulls: Sequence[ObjectPull]) -> tuple[str, list[Definition]]:
    """The edited text of one file and its definitions as they will read, after every check
    (module docstring). Raises :class:`EditRefused` saying why the file cannot be written."""
    before = load_text(text.lstrip("\ufeff"), path)
    if before.problems:
        raise EditRefused(f"it changed while pulling: {before.problems[0].message}")
    by_location = {(doc.location.line, doc.location.column): doc for doc in before.documents}
    expected = {key: doc.data for key, doc in by_location.items()}
    edits: dict[Location, list[Edit]] = {}
    for pull in pulls:
        where = (pull.definition.location.line, pull.definition.location.column)
        doc = by_location.get(where)
        if doc is None or not _same_definition(doc.data, pull.definition):
            raise EditRefused(f"{pull.definition.address} changed in the file while pulling")
        edits[pull.definition.location] = pull.edits
        expected[where] = apply_edits(doc.data, pull.edits)
    new_text, splices = edit_text(text, edits)
    after = load_text(new_text.lstrip("\ufeff"), path)
    shared = next((s for s in splices if s.anchors), None)
    if after.problems:
        if shared is not None:
            raise EditRefused(_anchor_reason(shared), shared.at)
        raise EditRefused(
            f"the edited file would not load ({after.problems[0].message}); edit it by hand"
        )
    loaded = [_canonical(doc.data) for doc in after.documents]
    if loaded != [_canonical(expected[k]) for k in by_location]:
        if shared is not None:
            raise EditRefused(_anchor_reason(shared), shared.at)
        raise EditRefused("the edited file would not read back as intended; edit it by hand")
    definitions, problems = validate_documents(after.documents)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        first = errors[0]
        what = f" ({format_json_path(first.path)})" if first.path else ""
        starts = [(d.location.line, d.location.column) for d in after.documents]
        at = (first.location.line, first.location.column)
        index = sum(1 for start in starts if start <= at) - 1
        owner = list(by_location)[index] if index >= 0 else None
        raise _Invalid(
            f"the result would not validate: {first.message}{what}",
            at,
            first,
            next((p for p in pulls if _where(p) == owner), None),
        )
    return new_text, definitions


def _where(pull: ObjectPull) -> tuple[int, int]:
    return (pull.definition.location.line, pull.definition.location.column)


class _Invalid(EditRefused):
    """The edited file would not validate: ``problem`` is the first error, ``pull`` the pull
    of the document it is in (``None``: a document not edited, which cannot be)."""

    def __init__(
        self, message: str, at: tuple[int, int], problem: Problem, pull: ObjectPull | None
    ) -> None:
        super().__init__(message, at)
        self.problem = problem
        self.pull = pull


def _narrowed(pulls: Sequence[ObjectPull], exc: _Invalid) -> list[ObjectPull] | None:
    """``pulls`` less the edits that made the file invalid (those of the field the validation
    error is about: see :meth:`ObjectPull.without`), the rest of the file's changes kept; or
    ``None`` when the error cannot be put down to one object's field (then the file is not
    written at all)."""
    if exc.pull is None:
        return None
    why = f"not written: the account's value would not validate: {exc.problem.message}"
    values = [
        e.value for e in exc.pull.edits if e.path[: len(exc.problem.path)] == exc.problem.path
    ]
    if any("\r" in text for text in strings_of(values)):
        # Written as plain line breaks it would validate, but the plan compares the text as
        # it is and would still differ (and apply would rewrite the account's): left out.
        why += (
            " — it holds a carriage return (CRLF line ends, as a web form sends them), which "
            "a definition cannot hold; the rest is pulled: remove it in the account, or edit "
            "the definition by hand"
        )
    narrowed = exc.pull.without(exc.problem.path, why)
    if narrowed is None:
        return None
    return [narrowed if p is exc.pull else p for p in pulls]


def _anchor_reason(splice: _Splice) -> str:
    names = ", ".join(f"&{a}" for a in splice.anchors)
    return (
        f"{format_json_path(splice.path)} is under the anchor {names}, which aliases share, "
        "and the account does not hold the same value in every place that shares it; edit "
        "the file by hand"
    )


def pull_account(
    definitions: Sequence[Definition],
    plan: Plan,
    remote: Mapping[Kind, Sequence[Mapping[str, Any]]],
    *,
    read_text: Callable[[str], str],
    env: Mapping[str, str],
    forbidden_env: frozenset[str] = frozenset(),
    secrets: Sequence[Secret] | None = None,
    unfinished: Sequence[Unfinished] = (),
) -> PullReport:
    """One account's pull: ``definitions`` (its share), the ``plan`` made of them against
    ``remote`` (the clients' dicts the plan was made from). ``read_text(path)`` gives a
    definition file's text (``path`` as :attr:`Location.path` names it). Returns the files to
    rewrite, each checked (module docstring), and every problem found. Reads nothing else.
    ``secrets`` (default: the values of the variables ``definitions`` use): the values never
    written — the caller gives those of every definition of the project, whatever PATHS.
    ``unfinished``: what the account's journal says an interrupted apply left open (as
    :func:`hoodsync.recovery.amend` keeps it); those objects are not pulled (:func:`_own_work`)."""
    pulls, problems = drifted(
        definitions,
        plan,
        remote,
        env=env,
        forbidden_env=forbidden_env,
        secrets=secrets,
    )
    report = PullReport(problems=list(problems), unpulled=renamed_drift(definitions, plan))
    pulls, report.notes = _own_work(pulls, unfinished)
    final = {p.definition.address: p for p in pulls}
    files: dict[str, list[ObjectPull]] = {}
    for pull in pulls:
        report.problems.extend(pull.conflicts)
        if pull.edits:
            files.setdefault(pull.definition.location.path, []).append(pull)
    edited: dict[str, Definition] = {}
    for path in sorted(files):
        pulls_here = files[path]
        try:
            text = read_text(path)
        except (OSError, UnicodeDecodeError) as exc:
            # Read (and valid) when the definitions were loaded: it changed since, while the
            # account was read (an editor saving in another encoding, a branch switch).
            report.problems.append(Problem(Location(path), changed_while_pulling(exc)))
            continue
        try:
            new_text, new_definitions, narrowed = _edit_valid(path, text, pulls_here)
        except EditRefused as exc:
            where = Location(path, *exc.at) if exc.at else Location(path)
            report.problems.append(Problem(where, f"not written: {exc}"))
            continue
        for before, after in zip(pulls_here, narrowed):  # fields left out, the rest written
            report.problems.extend(after.conflicts[len(before.conflicts) :])
            final[before.definition.address] = after
        addresses = tuple(sorted(p.definition.address for p in narrowed if p.edits))
        if new_text != text:
            report.files.append(FileChange(path, text, new_text, addresses))
        wanted = set(addresses)
        edited.update((d.address, d) for d in new_definitions if d.address in wanted)
    report.problems.extend(
        _left_over(definitions, edited, list(final.values()), plan, remote, env, forbidden_env)
    )
    return report


def _edit_valid(
    path: str, text: str, pulls: Sequence[ObjectPull]
) -> tuple[str, list[Definition], list[ObjectPull]]:
    """:func:`_edit_file`; when the result would not validate because of one object's field
    (a value the account holds that no definition may: a carriage return in a text, say),
    that field is left out and the rest tried again, so that the file's other changes are
    still written (as a field that would write a secret is left out: see
    :meth:`ObjectPull.without`). Returns the pulls as finally written, in the order given
    (the text unchanged and no definitions when none has an edit left); raises
    :class:`EditRefused` when the file cannot be written and the reason is not one field's."""
    current = list(pulls)
    while True:
        try:
            new_text, definitions = _edit_file(path, text, current)
        except _Invalid as exc:
            narrowed = _narrowed(current, exc)
            if narrowed is None:
                raise
            current = narrowed
            if not any(p.edits for p in current):
                return text, [], current  # nothing left to write: the conflicts say why
            continue
        return new_text, definitions, current


def _own_work(
    pulls: Sequence[ObjectPull], unfinished: Sequence[Unfinished]
) -> tuple[list[ObjectPull], list[Problem]]:
    """``pulls`` less those of objects an interrupted apply left unfinished, and a warning for
    each of these. What differs there is hoodsync's own work, not a change made in a UI: a
    campaign it paused to edit while running, its edit perhaps not made; a change cut between
    its steps. Written back, ``state: paused`` (or the edit undone) would, once committed,
    close the journal's entry and keep the campaign stopped for good; the next apply (which
    ``plan`` shows) finishes that work instead."""
    open_ = {u.address: u for u in unfinished}
    kept: list[ObjectPull] = []
    notes: list[Problem] = []
    for pull in pulls:
        entry = open_.get(pull.definition.address)
        if entry is None:
            kept.append(pull)
            continue
        what = (
            f"paused campaign {entry.id} to edit it while it was running and did not resume it"
            if entry.left_paused
            else "started a change of it and did not finish it"
        )
        notes.append(
            Problem(
                pull.definition.location,
                f"{pull.definition.address}: not pulled: an interrupted apply {what} "
                f"({entry.detail}; journal {entry.journal}): what differs is hoodsync's "
                "unfinished work, not a change made in the account; `hoodsync apply` "
                "finishes it (see `hoodsync plan`), then pull again",
                severity="warning",
            )
        )
    return kept, notes


def changed_while_pulling(exc: OSError | UnicodeDecodeError | None = None) -> str:
    """Why a definition file is not written when it cannot be read again as it was (``exc``:
    what reading it raised), or differs from what was read."""
    if isinstance(exc, UnicodeDecodeError):
        why = " (it is no longer UTF-8)"
    elif exc is not None:
        why = f" ({exc.strerror or type(exc).__name__})"
    else:
        why = ""
    return f"not written: the file changed while pulling{why}; pull again"


def renamed_drift(definitions: Sequence[Definition], plan: Plan) -> list[Problem]:
    """One problem per definition the ``plan`` would create while an unmanaged object differs
    from it in its name only (a push task or email campaign renamed in a UI, matched by name):
    drift, since the plan would make a second object beside it, that pull does not write —
    whether that object is the definition's is a guess, and either name may hold a secret
    (neither is quoted; the id is)."""
    by_address = {d.address: d for d in definitions}
    found: dict[str, list[tuple[Kind, str]]] = {}
    for (kind, ident), address in sorted(renamed_objects(plan).items()):
        found.setdefault(address, []).append((kind, ident))
    out = []
    for address, objects in sorted(found.items()):
        definition = by_address.get(address)
        if definition is None:
            continue
        what = objects[0][0].value
        ids = ", ".join(ident for _, ident in objects)
        out.append(
            Problem(
                definition.location,
                f"{address}: not pulled: {what} id {ids} (unmanaged) differs from this "
                f"definition in its name only (renamed in the account?), and plan would create "
                f"a second {what} beside it; if it is this definition's, give the definition "
                "its name (or name it back in the account), otherwise rename one of them",
            )
        )
    return out


def _left_over(
    definitions: Sequence[Definition],
    edited: Mapping[str, Definition],
    pulls: Sequence[ObjectPull],
    plan: Plan,
    remote: Mapping[Kind, Sequence[Mapping[str, Any]]],
    env: Mapping[str, str],
    forbidden_env: frozenset[str],
) -> list[Problem]:
    """Plan the edited definitions again against the same remote objects: whatever still
    differs (apart from the conflicts already reported) is a problem."""
    if not edited:
        return []
    after = [edited.get(d.address, d) for d in definitions]
    again = make_plan(
        after,
        remote,
        account=plan.account,
        targets=frozenset(edited),
        env=env,
        forbidden_env=forbidden_env,
    )
    conflicts = {
        p.definition.address: [
            shown for c in p.conflicts for shown in _shown_paths(p.definition, c.path[1:])
        ]
        for p in pulls
    }
    out = []
    for change in again.changes:
        skip = conflicts.get(change.address, [])
        left = [
            d.path
            for d in change.diff
            if not any(d.path == c or d.path.startswith((c + ".", c + "[", c + " (")) for c in skip)
        ]
        if change.transition is not None:
            left.append(f"state ({change.transition[0]} -> {change.transition[1]})")
        if left:
            definition = edited[change.address]
            out.append(
                Problem(
                    definition.location,
                    f"{change.address}: still differs from the account after pull: "
                    f"{', '.join(left)}; edit it by hand",
                )
            )
    return out


def _shown_paths(definition: Definition, path: JsonPath) -> list[str]:
    """How plans may show the spec ``path``: by index, and for a campaign message also by
    name (``messages["Hello"]...``, the planner's form, which may carry the channel)."""
    shown = [format_json_path(path)]
    messages = definition.spec.get("messages")
    if (
        len(path) >= 2
        and path[0] == "messages"
        and isinstance(path[1], int)
        and isinstance(messages, list)
        and path[1] < len(messages)
        and isinstance(messages[path[1]], dict)
    ):
        name = messages[path[1]].get("name")
        if isinstance(name, str):
            rest = format_json_path(("x", *path[2:]))[1:]
            label = "messages[" + json.dumps(name, ensure_ascii=False)
            shown += [label + "]" + rest, label]  # with its channel: `label (push)]...`
    return shown


# =========================================================================== output


def unified_diff(path: str, before: str | None, after: str) -> str:
    """The change of one file as ``git diff`` shows it (``before`` ``None``: a new file), safe
    to print: the file name is quoted as git quotes it (:func:`git_quoted`), and in the lines
    every character a terminal would act on is written as an escape (:func:`_shown_line`).

    Lines end at ``\\n`` only, as git's do: a carriage return or a Unicode line separator is
    a character of the line (shown ``\\r``, ``\\u2028``), so it cannot start a line of its
    own. The text is for reading: with such characters it is not a patch ``git apply`` takes."""
    old = [] if before is None else _lines(before)
    new = _lines(after)
    lines = list(difflib.unified_diff(old, new, n=3))
    if not lines:
        return ""
    a_name, b_name = git_quoted(f"a/{path}"), git_quoted(f"b/{path}")
    head = [f"diff --git {a_name} {b_name}\n"]
    if before is None:
        head.append("new file mode 100644\n")
    head += [_file_line("---", None if before is None else a_name), _file_line("+++", b_name)]
    out = []
    for line in lines[2:]:  # difflib's own `---` / `+++` lines are replaced by the ones above
        if line.startswith("@@"):
            out.append(line)  # numbers only: written here, not read from the file
        elif line.endswith("\n"):
            out.append(line[0] + _shown_line(line[1:-1]) + "\n")
        else:
            out.append(line[0] + _shown_line(line[1:]) + "\n\\ No newline at end of file\n")
    return "".join(head + out)


def _lines(text: str) -> list[str]:
    """``text`` cut after every ``\\n`` (``str.splitlines`` would also cut at ``\\r``,
    ``\\x85``, ``\\u2028``... and so make a diff line of what follows one)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _shown_line(body: str) -> str:
    """One line of a file (without its ``\\n``) with every :data:`hoodsync.terminal.UNSAFE`
    character escaped (a carriage return as ``\\r``, ESC as ``\\x1b``), tabs apart: a tab
    only moves the cursor on, and git shows it as it is."""
    return "\t".join(printable(part) for part in body.split("\t"))


def _file_line(sign: str, name: str | None) -> str:
    """A ``---`` / ``+++`` line; like git, a tab ends a name that holds a space (so that patch
    tools do not read a date into it)."""
    if name is None:
        return f"{sign} /dev/null\n"
    end = "\t" if " " in name else ""
    return f"{sign} {name}{end}\n"


#: How git's ``quote_c_style`` writes the bytes it escapes with a letter (``\\n``, ``\\"``);
#: any other byte below 0x20, DEL and every byte of a non-ASCII character are written in octal.
_GIT_ESCAPES = {
    0x07: "a",
    0x08: "b",
    0x09: "t",
    0x0A: "n",
    0x0B: "v",
    0x0C: "f",
    0x0D: "r",
    0x22: '"',
    0x5C: "\\",
}


def git_quoted(name: str) -> str:
    """``name`` as ``git diff`` writes a file name (``core.quotePath``, git's default): as it is
    when it holds only printable ASCII other than ``"`` and ``\\``; else in double quotes, with
    ``\\n``, ``\\t``, ``\\"``... for those bytes and three-digit octal for every other control
    byte and for each byte of a non-ASCII character (``\\033``, ``\\303\\251``). The result
    is printable ASCII, so no file name can forge a line or reach a terminal as a control."""
    try:
        raw = name.encode("utf-8", "surrogateescape")  # a name that was not UTF-8 on disk
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "surrogatepass")
    if all(0x20 <= b < 0x7F and b not in (0x22, 0x5C) for b in raw):
        return name
    quoted = "".join(
        chr(b)
        if 0x20 <= b < 0x7F and b not in _GIT_ESCAPES
        else ("\\" + _GIT_ESCAPES[b] if b in _GIT_ESCAPES else f"\\{b:03o}")
        for b in raw
    )
    return f'"{quoted}"'
