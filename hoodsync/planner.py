"""Definitions + remote objects → :class:`~hoodsync.plan.Plan`. Pure: no I/O, no clock, no
environment except the injected ``env`` mapping.

The caller (the CLI wiring) has already loaded and validated the definitions and read every
remote object of the kinds involved through the clients; this module only decides.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence, Set
from datetime import datetime
from typing import Any

from hoodsync.definitions.interpolate import TemplateIndex, resolve_reporting
from hoodsync.definitions.validate import resolved_problems
from hoodsync.errors import DefinitionError, PlanError, Problem
from hoodsync.identity import ValueKey
from hoodsync.kinds import RULES
from hoodsync.kinds.base import Context, Desired, KindRules, Match, group_by
from hoodsync.kinds.namesakes import IdentityIndex, namesake_changes
from hoodsync.lookalikes import collisions, distinct, look_alike, quoted_name, skeleton
from hoodsync.model import Definition, Kind, RemoteObject
from hoodsync.plan import (
    AccountInfo,
    Action,
    Change,
    Counts,
    Estimate,
    Flag,
    Note,
    Op,
    Plan,
    RemoteRef,
    Severity,
    sort_changes,
    waits_after,
)
from hoodsync.remote.ratelimit import minimum_duration

__all__ = [
    "make_plan",
    "prepare",
    "name_problems",
    "check_names",
    "MATCHED_BY_NAME",
    "estimate",
    "requests_for",
    "renamed_objects",
    "renamed_candidates",
]

log = logging.getLogger(__name__)


def prepare(
    definitions: Iterable[Definition],
    env: Mapping[str, str],
    forbidden_env: frozenset[str] = frozenset(),
    value_key: ValueKey | None = None,
) -> list[Desired]:
    """Resolve ``${env:NAME}`` in every definition; each :class:`Desired` carries ``value_key``,
    the account's key of its sensitive values' fingerprints (``None``: no fingerprint is shown
    or recorded). Raises one :class:`DefinitionError` listing every missing variable, every
    reference to a name in ``forbidden_env`` (the account's credential variables) and every
    resolved value the definitions' rules refuse (a line break in a title, a comma in a label:
    :func:`resolved_problems`) in every definition, and :class:`PlanError` for a duplicate
    address (validation normally catches that first)."""
    out: list[Desired] = []
    problems: list[Problem] = []
    seen: dict[str, Definition] = {}
    for d in definitions:
        if d.address in seen:
            raise PlanError(
                f"{d.address} is defined twice ({seen[d.address].location} and {d.location})"
            )
        seen[d.address] = d
        # A missing variable does not hide what is wrong with the values that are set.
        resolved, paths, missing = resolve_reporting(
            d.spec, env, definition=d, forbidden=forbidden_env
        )
        problems.extend(missing)
        if paths:  # a value from the environment obeys the rules a written one does
            problems.extend(resolved_problems(d, resolved, paths))
        out.append(Desired(d, resolved, tuple(paths), value_key))
    if problems:
        raise DefinitionError(problems)
    return out


#: The kinds matched by name (their APIs carry no field for a marker): names must be unique
#: per account among their definitions, and not alike to the eye (see :func:`name_problems`).
MATCHED_BY_NAME = (Kind.PUSH_TASK, Kind.EMAIL_CAMPAIGN)


def name_problems(desired: Sequence[Desired]) -> list[Problem]:
    """One account's push tasks (or email campaigns) whose names differ as written but not
    once ``${env:...}`` is resolved: the same name, or names that differ only in characters
    that look alike (:func:`hoodsync.lookalikes.skeleton`, the rule ``validate`` applies to
    written names). Matched by name, both would be created (two push tasks starting
    immediately send twice), and every later plan would find two objects for each.

    One error per such definition, at its name, naming the earliest definition it collides
    with and where that one is, by the templates as written: a variable's value is a secret
    and is never shown. Pairs neither of which interpolates its name are ``validate``'s (it
    refused them before). Linear: one dict keyed by the names' skeletons; nothing at all is
    computed when no name interpolates."""
    if not any(_name_interpolated(d) for d in desired):
        return []
    named = (
        (d.definition.kind, d.name, d)
        for d in desired
        if d.definition.kind in MATCHED_BY_NAME and d.name is not None
    )
    return [
        _collision(first, later)
        for first, later in collisions(named)
        if _name_interpolated(first) or _name_interpolated(later)
    ]


def _name_interpolated(des: Desired) -> bool:
    return ("name",) in des.sensitive


def _collision(first: Desired, later: Desired) -> Problem:
    """The problem of ``later``, whose resolved name is (or looks like) ``first``'s."""
    one, other = later.definition, first.definition
    if first.name == later.name:
        outcome = "resolve to the same name"
        why = "both would be created, and neither matched again"
    else:
        outcome = "resolve to names that differ only in characters that look alike"
        why = "both would be created, and no one could tell them apart"
    path = ("spec", "name")
    return Problem(
        one.locate(path),
        f"names {quoted_name(one.name)} of {one.address} and {quoted_name(other.name)} of "
        f"{other.address} (at {other.locate(path)}) {outcome}: {one.kind.value} objects are "
        f"matched by name, so {why}; give them names that stay distinct whatever the "
        "variables hold",
        path,
    )


def check_names(desired: Sequence[Desired]) -> None:
    """Raise :class:`DefinitionError` with every problem :func:`name_problems` finds."""
    problems = name_problems(desired)
    if problems:
        raise DefinitionError(problems)


def make_plan(
    definitions: Sequence[Definition],
    remote: Mapping[Kind, Sequence[Mapping[str, Any]]],
    *,
    account: AccountInfo,
    prune: bool = False,
    allow_replace: bool = False,
    resolve_duplicates: bool = False,
    targets: frozenset[str] = frozenset(),
    env: Mapping[str, str] = {},
    read_requests: int = 0,
    forbidden_env: frozenset[str] = frozenset(),
    now: datetime | None = None,
    from_clients: bool = False,
    value_key: ValueKey | None = None,
    resolved: Sequence[Desired] | None = None,
) -> Plan:
    """Compare ``definitions`` with ``remote`` (the clients' dicts per kind) and plan.

    ``targets`` (addresses such as ``campaign.x``) limits the changes to those resources;
    matching still sees every definition, so nothing outside the targets turns unmanaged or
    orphaned. ``prune`` turns orphans into removals. ``allow_replace`` permits email-campaign
    replacements. ``resolve_duplicates`` keeps the oldest of several objects claiming one
    definition and retires the others. ``read_requests`` is only reported (the header shows it).

    ``forbidden_env`` names the environment variables that hold API credentials: a definition
    interpolating one is a :class:`DefinitionError` (the secret would be sent as content).
    ``now`` (timezone-aware, injected so planning stays pure) lets the rules tell a time that
    has already passed; ``None`` disables those checks. The plan records it (``planned_at``)
    and, on each change with steps, the objects sharing its identity
    (:mod:`hoodsync.kinds.namesakes`): apply judges both again (:func:`hoodsync.session.check_fresh`).

    ``from_clients``: ``remote`` holds the objects exactly as hoodsync's clients returned them,
    already normalised (:meth:`KindRules.remote_object`), so they are not normalised again;
    other dicts (hand-made, or the API's raw JSON) are normalised here.

    ``value_key`` is the account's key of the sensitive values' fingerprints
    (:class:`~hoodsync.identity.ValueKey`): the ``fp`` of every mask, on both sides of a diff,
    and the fingerprints a saved plan checks at apply are taken under it. ``None`` (no key at
    hand) shows masks without ``fp`` and records none.

    ``resolved``: ``definitions`` as :func:`prepare` already resolved and checked them (with
    this ``env`` and ``forbidden_env``; any ``value_key``), and :func:`name_problems` found
    none among them, in the same order, so that a run planning several accounts resolves and
    checks each definition once, before any account is read. Without it, both are done here
    (:class:`DefinitionError`).
    """
    if resolved is None:
        desired = prepare(definitions, env, forbidden_env, value_key)
        check_names(desired)
    else:
        desired = [dataclasses.replace(d, value_key=value_key) for d in resolved]
    ctx = Context(
        prune=prune, allow_replace=allow_replace, resolve_duplicates=resolve_duplicates, now=now
    )
    by_kind: dict[Kind, list[Desired]] = defaultdict(list)
    for des in desired:
        by_kind[des.definition.kind].append(des)

    changes: list[Change] = []
    orphans: list[RemoteRef] = []
    unmanaged: list[RemoteRef] = []
    superseded: list[RemoteRef] = []
    unchanged = managed = retired = remote_count = 0
    seen_targets: set[str] = set()
    involved: list[Kind] = []

    for kind in Kind:
        rules = RULES[kind]
        to_object = rules.remote_object if from_clients else rules.from_remote
        objs = [to_object(d) for d in remote.get(kind, ())]
        remote_count += len(objs)
        kind_desired = by_kind.get(kind, [])
        if objs or kind_desired:
            involved.append(kind)
        match = rules.match(kind_desired, objs, resolve_duplicates)
        created: dict[str, Desired] = {}
        first = len(changes)  # this kind's changes start here
        managed += len(match.pairs) + len(match.orphans)
        retired += len(match.retired)
        for des in kind_desired:
            address = des.address  # a property computed on each read: read it once
            if targets and address not in targets:
                continue
            seen_targets.add(address)
            if address in match.blocked:
                changes.append(rules.blocked_change(des, match.blocked[address]))
                continue
            paired = match.pairs.get(address)
            change = rules.plan(des, paired, ctx)
            if address in match.leftovers:
                change = rules.finish_leftovers(des, change, match.leftovers[address], ctx, paired)
            if change is None:
                unchanged += 1
            else:
                changes.append(change)
                if paired is None and change.action is Action.CREATE:
                    created[address] = des
        renamed: dict[str, list[RemoteObject]] = {}
        if kind is not Kind.CAMPAIGN and created and match.unmanaged:
            renamed = renamed_candidates(created, match.unmanaged, rules, ctx)
            changes = _warn_renamed(changes, created, renamed)
        by_address = {des.address: des for des in kind_desired} if match.duplicates else {}
        for address, dup, kept in match.duplicates:
            if not targets or address in targets:
                changes.append(rules.duplicate_change(by_address[address], dup, kept))
        for obj in match.orphans:
            address = f"{kind.slug}.{obj.marker}"
            orphans.append(_ref(obj, address))
            if targets and address not in targets:
                continue
            seen_targets.add(address)
            if prune:
                change = rules.orphan_change(obj, ctx)
                if change is not None:
                    changes.append(change)
        if created:  # after the orphans' removals: a note says when this plan removes the old one
            changes[first:] = rules.creates_beside(changes[first:], created, match)
            changes[first:] = _warn_lookalikes(
                changes[first:], created, objs, match, rules, renamed
            )
        if any(c.steps for c in changes[first:]):  # what apply checks the account against
            names = {des.address: des.name for des in kind_desired}
            changes[first:] = namesake_changes(changes[first:], IdentityIndex(rules, objs), names)
        masks = _name_masks(kind_desired)
        unmanaged.extend(_ref(obj, None, _shown_unmanaged(obj, masks)) for obj in match.unmanaged)
        shown = {des.address: des.shown_name for des in kind_desired}
        superseded.extend(
            _ref(obj, address, shown.get(address)) for address, obj in match.superseded
        )

    notes = [
        Note(Severity.WARNING, f"--target {t} matches no definition and no orphan")
        for t in sorted(targets - seen_targets)
    ]
    if prune:
        notes.extend(_prune_notes(unmanaged))
    ordered = sort_changes(changes)
    plan = Plan(
        account=account,
        changes=ordered,
        counts=Counts(
            definitions=len(desired),
            remote_objects=remote_count,
            read_requests=read_requests,
            unchanged=unchanged,
            unmanaged=len(unmanaged),
            orphans=len(orphans),
            superseded=len(superseded),
            managed=managed,
            retired=retired,
        ),
        notes=tuple(notes),
        orphans=tuple(sorted(orphans, key=RemoteRef.sort_key)),
        unmanaged=tuple(sorted(unmanaged, key=RemoteRef.sort_key)),
        superseded=tuple(sorted(superseded, key=RemoteRef.sort_key)),
        estimate=estimate(ordered, account),
        prune=prune,
        allow_replace=allow_replace,
        targets=tuple(sorted(targets)),
        kinds=tuple(involved),
        planned_at=now,
    )
    log.debug(
        "planned %d changes for %d definitions against %d remote objects",
        len(ordered),
        len(desired),
        remote_count,
    )
    return plan


#: Kinds whose objects carry no hoodsync marker: --prune cannot tell what git removed.
_UNMARKED = MATCHED_BY_NAME
_UNMARKED_WORDS = {Kind.PUSH_TASK: "push task", Kind.EMAIL_CAMPAIGN: "email campaign"}
_RETIRE_HINT = {Kind.PUSH_TASK: "state: inactive", Kind.EMAIL_CAMPAIGN: "state: stopped"}


def _prune_notes(unmanaged: Sequence[RemoteRef]) -> list[Note]:
    """With ``--prune``: one info note when the account holds push tasks or email campaigns that
    match no definition — they carry no marker, so a deleted definition cannot be recognised,
    and pruning does not touch them."""
    counts = {k: sum(1 for r in unmanaged if r.kind is k) for k in _UNMARKED}
    present = [k for k in _UNMARKED if counts[k]]
    if not present:
        return []
    found = " and ".join(
        f"{counts[k]} {_UNMARKED_WORDS[k]}{'s' if counts[k] != 1 else ''}" for k in present
    )
    hints = " / ".join(_RETIRE_HINT[k] for k in present)
    return [
        Note(
            Severity.INFO,
            f"--prune removes only campaigns: push tasks and email campaigns carry no hoodsync "
            f"marker, so a deleted definition cannot be recognised. The {found} matching no "
            f"definition stay unmanaged and untouched; to retire one, set {hints} in its "
            "definition and apply before deleting the definition.",
        )
    ]


#: Above this many (create, unmanaged object) pairs of one kind, renamed objects are not
#: looked for (each pair is planned as an update): a bound on the plan's time, not a tuned size.
_RENAMED_PAIRS_MAX = 5_000


def renamed_candidates(
    created: Mapping[str, Desired],
    unmanaged: Sequence[RemoteObject],
    rules: KindRules,
    ctx: Context,
) -> dict[str, list[RemoteObject]]:
    """Address of each create of a kind matched by name (push tasks, email campaigns) → the
    unmanaged objects of that kind that differ from its definition in their name alone (see
    :func:`_warn_renamed`). Nothing is looked for above :data:`_RENAMED_PAIRS_MAX` pairs.
    Apply asks the same of the objects that appeared since a plan was made
    (:func:`hoodsync.session.check_fresh`)."""
    if len(created) * len(unmanaged) > _RENAMED_PAIRS_MAX:
        return {}
    hints: dict[str, list[RemoteObject]] = {}
    for address, des in created.items():
        for obj in unmanaged:
            update = rules.plan(des, obj, ctx)
            if (
                update is not None
                # an edit (email campaigns have no update: a replacement), not a finished
                # object nor one in another state
                and update.action in (Action.UPDATE, Action.REPLACE)
                and update.transition is None
                and {_top(d.path) for d in update.diff} == {"name"}
            ):
                hints.setdefault(address, []).append(obj)
    return hints


def _warn_renamed(
    changes: list[Change],
    created: Mapping[str, Desired],
    hints: Mapping[str, Sequence[RemoteObject]],
) -> list[Change]:
    """Warn on each create of a kind matched by name (push tasks, email campaigns) when an
    unmanaged object of that kind differs from the definition in its name alone (``hints``,
    from :func:`renamed_candidates`): it was most likely the one the definition managed,
    renamed in the UI (or its ``${env:...}`` name's value changed), and the create makes a
    second, live one.
    One note per such object, naming it by id and quoting both names as the plan shows names
    side by side (:func:`_names_side_by_side`: escaped where they would look alike, masked when
    the definition's name comes from ``${env:...}``). The create is flagged
    :attr:`Flag.SECOND_COPY`, so the plan's warnings banner names it."""
    if not hints:
        return changes
    out = []
    for change in changes:
        objs = hints.get(change.address)
        if objs is not None:
            des = created[change.address]
            what = change.kind.value
            notes = []
            for obj in sorted(objs, key=lambda o: o.id):
                theirs, mine = _names_side_by_side(des, obj)
                alike = (
                    " (they differ only in characters that look alike)" if _alike(des, obj) else ""
                )
                notes.append(
                    Note(
                        Severity.WARNING,
                        f"{what} id {obj.id} (unmanaged) {_RENAMED}: it is named {theirs}, this "
                        f"definition {mine}{alike}. If it is the one this definition managed, "
                        "renamed in the UI (or the value of a ${env:...} in the name changed), "
                        f"this creates a second {what} beside it. To keep managing it, give the "
                        "definition its name.",
                        change.address,
                    )
                )
            change = dataclasses.replace(
                change, notes=(*change.notes, *notes), flags=(*change.flags, Flag.SECOND_COPY)
            )
        out.append(change)
    return out


def _names_side_by_side(des: Desired, obj: RemoteObject) -> tuple[str, str]:
    """``obj``'s name and ``des``'s, quoted as the plan shows two names set side by side: the
    same rule as the two sides of a changed value in a diff (:func:`hoodsync.lookalikes.distinct`:
    every character outside ASCII escaped where they would look the same, else each one's
    look-alikes amid ASCII text). When the definition's name comes from ``${env:...}`` both are
    masks (:meth:`Desired.shown_alike`: the object's name holds that value, or an old one)."""
    theirs = des.shown_alike(("name",), obj.name)
    mine = des.shown_name
    return distinct(str(theirs), str(mine))


def _alike(des: Desired, obj: RemoteObject) -> bool:
    """True when ``obj``'s name and ``des``'s differ only in characters that look alike."""
    return des.name is not None and look_alike(obj.name, des.name)


def _warn_lookalikes(
    changes: Sequence[Change],
    created: Mapping[str, Desired],
    remote: Sequence[RemoteObject],
    match: Match,
    rules: KindRules,
    renamed: Mapping[str, Sequence[RemoteObject]],
) -> list[Change]:
    """Flag :attr:`Flag.LOOKALIKE_NAME` on each create (``created``: address → definition)
    whose name differs from a live object's of its kind (:meth:`KindRules.live`) only in
    characters that look alike (:func:`hoodsync.lookalikes.look_alike`: ``D\\u0430ily news``
    and ``Daily news``, ``\\u0405pring Sale`` and ``Spring Sale``), with a note naming the
    object by id and both names escaped, and what to do. Names are matched exactly, so such an
    object is never adopted or managed: the create makes a second object that a reviewer cannot
    tell from the first, and both send. An object already named in a note of
    :func:`_warn_renamed` (``renamed``) gets no second note, only the flag (that note says the
    two names look alike)."""
    live = [o for o in remote if rules.live(o)]
    if not live:
        return list(changes)
    by_skeleton = group_by(live, lambda o: skeleton(o.name))
    owner = {o.id: address for address, o in match.pairs.items()}
    orphans = {o.id for o in match.orphans}
    out: list[Change] = []
    for change in changes:
        des = created.get(change.address)
        if des is None or des.name is None or change.action is not Action.CREATE:
            out.append(change)
            continue
        alike = [o for o in by_skeleton.get(skeleton(des.name), ()) if o.name != des.name]
        if not alike:
            out.append(change)
            continue
        noted = {o.id for o in renamed.get(change.address, ())}
        notes = [
            _lookalike_note(change, des, o, _relation(o, owner, orphans))
            for o in sorted(alike, key=lambda o: o.id)
            if o.id not in noted
        ]
        out.append(
            dataclasses.replace(
                change,
                notes=(*change.notes, *notes),
                flags=(*change.flags, Flag.LOOKALIKE_NAME),
            )
        )
    return out


def _relation(obj: RemoteObject, owner: Mapping[str, str], orphans: Set[str]) -> str:
    """``active, unmanaged`` / ``scheduled, managed by campaign.x`` / ``paused, orphan of key
    y``: the object's status and how it stands to the definitions."""
    if obj.id in owner:
        return f"{obj.status}, managed by {owner[obj.id]}"
    if obj.id in orphans:
        return f"{obj.status}, orphan of key {obj.marker}"
    return f"{obj.status}, unmanaged"


def _lookalike_note(change: Change, des: Desired, obj: RemoteObject, relation: str) -> Note:
    """The note on a create beside a live object whose name looks like its own."""
    what = change.kind.value
    theirs, mine = _names_side_by_side(des, obj)
    return Note(
        Severity.WARNING,
        f"{what} id {obj.id} ({relation}) is named {theirs}, this definition {mine}: the names "
        "differ only in characters that look alike, so they cannot be told apart. Names are "
        f"matched exactly, so this creates a second {what} beside it, and both send. If this "
        f"definition means that {what}, give the definition its exact name; otherwise give one "
        "of them a name that cannot be mistaken for the other.",
        change.address,
    )


_RENAMED = "differs from this definition in its name only"
_RENAMED_NOTE = re.compile(rf"^(\w+) id ([^ ,]+(?:, [^ ,]+)*) \(unmanaged\) {_RENAMED}")


def renamed_objects(plan: Plan) -> dict[tuple[Kind, str], str]:
    """(kind, id) of each unmanaged object the plan warns is probably a definition's own,
    renamed (see :func:`_warn_renamed`), and that definition's address."""
    out: dict[tuple[Kind, str], str] = {}
    for change in plan.changes:
        for note in change.notes:
            found = _RENAMED_NOTE.match(note.message)
            if found:
                for ident in found.group(2).split(", "):
                    out[(Kind(found.group(1)), ident)] = change.address
    return out


def _top(path: str) -> str:
    """The top-level key of a diff path (``name``, ``message.title.en`` → ``message``)."""
    return path.split(".", 1)[0].split("[", 1)[0]


def _name_masks(desired: Sequence[Desired]) -> TemplateIndex[Desired]:
    """The definitions of one kind whose name comes from ``${env:...}``, indexed by their name
    templates (:class:`~hoodsync.definitions.interpolate.TemplateIndex`), in order."""
    index: TemplateIndex[Desired] = TemplateIndex()
    for des in desired:
        if ("name",) in des.sensitive:
            template = des.definition.spec.get("name")
            if isinstance(template, str):
                index.add(template, des)
    return index


def _shown_unmanaged(obj: RemoteObject, masks: TemplateIndex[Desired]) -> str | None:
    """``obj``'s name as the plan may list it, or ``None`` (as it is): masked as the first
    definition of ``masks`` whose name template it fits masks it (:meth:`Desired.shown_alike`,
    as the plan's warnings show it). ``Mail ${env:PROMO}`` made an object named ``Mail
    OLDCODE`` that turned unmanaged when ``PROMO`` changed: its name is an old value of the
    secret, and the saved plan, the JSON and every renderer list only what is masked here."""
    des = masks.first(obj.name)
    return None if des is None else str(des.shown_alike(("name",), obj.name))


def _ref(obj: RemoteObject, address: str | None, name: str | None = None) -> RemoteRef:
    return RemoteRef(
        kind=obj.kind,
        id=obj.id,
        name=name if name is not None else obj.name,
        status=obj.status,
        address=address,
        created_at=obj.created_at,
    )


def requests_for(change: Change) -> int:
    """Requests apply is expected to make for one change: one per step, one re-read after each
    state action apply waits for (:func:`~hoodsync.plan.waits_after`), and the read a push-task
    create needs (its POST returns only the id)."""
    n = len(change.steps)
    for index, step in enumerate(change.steps):
        if waits_after(change, index):
            n += 1
        if step.op is Op.CREATE and change.kind is Kind.PUSH_TASK:
            n += 1
    return n


def estimate(changes: Sequence[Change], account: AccountInfo) -> Estimate:
    """Request count and fastest duration under each API's limits (Hood and Falconyte budgets
    are separate, so the slower of the two bounds the apply)."""
    hood = sum(requests_for(c) for c in changes if c.kind.system == "hood")
    falc = sum(requests_for(c) for c in changes if c.kind.system == "falconyte")
    seconds = max(
        minimum_duration(hood, account.per_second, account.per_minute),
        minimum_duration(falc, account.falconyte_per_second, account.falconyte_per_minute),
    )
    return Estimate(
        requests=hood + falc,
        seconds=round(seconds, 3),
        hood_requests=hood,
        falconyte_requests=falc,
        per_second=account.per_second,
        per_minute=account.per_minute,
    )
