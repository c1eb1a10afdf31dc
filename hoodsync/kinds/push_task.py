"""Hood push tasks: normalisation, matching by exact name, activate/deactivate (DESIGN §2–3).

Push tasks carry no free-form field, so identity is the exact ``name`` (validation keeps names
unique among definitions; two remote tasks with one name is an error note). State lives in the
integer ``status``: 0 inactive, 1 active, 2 finished (set by the system; a finished task cannot be
edited). ``state: active|inactive`` maps to 1/0 and wins over ``spec.status``; with neither,
status is not compared. A finished task satisfies either wanted status — it has run and is not
sending — so a one-shot task does not turn into a perpetual note once it is done.

``start_time: immediately`` is a create-time trigger: the server stores the actual time, so it
is never compared. A fixed ``start_time`` before the planning time (``Context.now``) is an error
only when this plan would send it — on create, or in a patch that changes it: the API refuses a
past start time, but a task whose start simply passed is fine and stays unchanged. Likewise a
write after which the task would end before it starts is an error at ``end_time``: the API
refuses it, and ``start_time: immediately`` starts at the planning time, so validation (which
has no clock) only catches two fixed dates. Activating a task whose start is ``immediately``,
has passed or is not in the API's form (it may have passed) is flagged as sending at once
(:func:`_activation_start`), as a create starting ``immediately`` is.

Bodies are built from the normalised spec, so what is sent is what the plan shows (``ttl:
"7200"`` and ``quiet_time.from: 7.0`` go out as the integers the diff shows).

``frequency`` and ``cron`` are alternatives and the API refuses a task holding both. When a
patch sets one while the remote task holds the other, the patch also sets the other to
``null`` (a create starts from nothing, so it never needs that).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from hoodsync.definitions.interpolate import escape
from hoodsync.kinds.base import (
    DUPLICATE_SUFFIX,
    RESOLVE_HINT,
    Context,
    Desired,
    KindRules,
    Match,
    RawDiff,
    Resource,
    changed_top_keys,
    copy_json,
    diff,
    field_diffs,
    group_by,
    oldest,
    project,
    projects_to_itself,
    template_body,
)
from hoodsync.lookalikes import quoted_name
from hoodsync.model import Kind, RemoteObject
from hoodsync.plan import (
    Action,
    Change,
    FieldDiff,
    Flag,
    Note,
    Op,
    Severity,
    Step,
    fingerprint_body,
)
from hoodsync.wire import (
    API_TIME,
    PUSH_TASK_ID_PATHS,
    PUSH_TASK_INT_PATHS,
    coerce_paths,
    coerced_paths,
)

__all__ = ["PushTaskRules", "STATUS_WORDS"]

STATUS_WORDS = {0: "inactive", 1: "active", 2: "finished"}
_STATE_STATUS = {"active": 1, "inactive": 0}

#: Mutually exclusive repeat fields: setting one clears the other.
_EXCLUSIVE = {"frequency": "cron", "cron": "frequency"}


def _past_start(norm: Mapping[str, Any], now: dt.datetime | None) -> str | None:
    """The stated ``start_time`` when it is a fixed time before ``now``, else ``None``."""
    raw = norm.get("start_time")
    if now is None or not isinstance(raw, str) or raw == "immediately":
        return None
    start = _parse_time(raw)
    return raw if start is not None and start < now else None


def _parse_time(raw: object) -> dt.datetime | None:
    """An API time string as an aware UTC datetime, else ``None`` (validation reports the form)."""
    if not isinstance(raw, str):
        return None
    try:
        return dt.datetime.strptime(raw, API_TIME).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def _ends_before_start(
    sent: Mapping[str, Any], held: Mapping[str, Any], now: dt.datetime | None
) -> tuple[str, str] | None:
    """``(end_time, how the start reads)`` when the task the server would hold after a write of
    ``sent`` over ``held`` (the remote body; empty on create) ends before it starts, else
    ``None``. The API checks the merged task, so a patch of either field is checked against
    the other as the account holds it. ``immediately`` starts at ``now``; without a clock, or
    with a field missing or malformed, nothing is claimed."""
    if "start_time" not in sent and "end_time" not in sent:
        return None
    start_raw = sent.get("start_time", held.get("start_time"))
    end_raw = sent.get("end_time", held.get("end_time"))
    end = _parse_time(end_raw)
    if start_raw == "immediately":
        start, shown = now, "start_time immediately, which is now"
    else:
        start, shown = _parse_time(start_raw), f"start_time {start_raw}"
    if end is None or start is None or not end < start:
        return None
    return str(end_raw), f"{shown}: {start.strftime(API_TIME)} GMT"


def _activation_start(
    cmp: Mapping[str, Any], remote: RemoteObject, now: dt.datetime | None
) -> str | None:
    """Why activating the task may send at once, or ``None`` when its start is still ahead:
    its start (the definition's, else the account's) is ``immediately`` (``its start is
    immediately``), has passed (``its start has passed``), or is not a time hoodsync can read
    (``its start could not be read``: it may have passed, whatever the clock says). The server
    stores ``immediately`` as the create time, and the docs do not say what activation does
    with a start in the past, so such an activation is flagged as a create starting
    ``immediately`` is: the reviewer is told it may send as the apply lands, rather than find
    out. A task holding no start at all cannot be active (the API refuses it): not flagged."""
    start = cmp.get("start_time", remote.body.get("start_time"))
    if start is None:
        return None
    if start == "immediately":
        return "its start is immediately"
    when = _parse_time(start)
    if when is None:
        return _UNREAD
    return "its start has passed" if now is not None and when <= now else None


#: :func:`_activation_start` for a start hoodsync cannot read.
_UNREAD = "its start could not be read"


def _write_times(
    sent: Mapping[str, Any], held: Mapping[str, Any], now: dt.datetime | None
) -> set[str]:
    """:meth:`PushTaskRules.timely` of one create (``held`` empty) or patch: the times the
    planner refuses (:func:`_past_start`, :func:`_ends_before_start`)."""
    facts = set()
    past = _past_start(sent, now) if "start_time" in sent else None
    if past is not None:
        facts.add(f"start_time {past} (GMT) has passed: the API refuses it")
    ends = _ends_before_start(sent, held, now)
    if ends is not None:
        facts.add(f"end_time {ends[0]} (GMT) is before its start: the API refuses it")
    return facts


class PushTaskRules(KindRules):
    """Rules for ``kind: PushTask``."""

    kind = Kind.PUSH_TASK
    volatile = frozenset({"next_execution_time", "last_execution_time", "total_user"})

    def normalise(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Documented numeric fields as integers (the API returns ``"3600"``; users may write
        either), ids as strings. Idempotent; applied to specs and remote objects alike."""
        out: dict[str, Any] = copy_json(data)
        coerce_paths(out, PUSH_TASK_ID_PATHS, PUSH_TASK_INT_PATHS)
        return out

    def normalise_shared(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`normalise` without the deep copy (see the base class)."""
        if type(data) is not dict:  # another Mapping: normalise makes it a plain dict
            return self.normalise(data)
        return coerced_paths(data, PUSH_TASK_ID_PATHS, PUSH_TASK_INT_PATHS)

    def _object(self, body: Mapping[str, Any]) -> RemoteObject:
        """Normalised body → RemoteObject with status ``inactive`` / ``active`` / ``finished``."""
        status = body.get("status")
        return RemoteObject(
            kind=self.kind,
            id=str(body.get("id", "")),
            name=str(body.get("name", "")),
            status=STATUS_WORDS.get(status, str(status))
            if isinstance(status, int)
            else str(status),
            body=body,
            created_at=body.get("create_time"),
        )

    def match(
        self,
        desired: Sequence[Desired],
        remote: Sequence[RemoteObject],
        resolve_duplicates: bool = False,
    ) -> Match:
        """Exact name; two live remote tasks with a definition's name is an error, not a
        guess. Finished tasks (status 2) are set aside when one live task is left; with
        ``resolve_duplicates`` the oldest live task is managed and the others are
        :attr:`Match.duplicates`."""
        m = Match()
        by_name = group_by(remote, lambda r: r.name)
        used: set[str] = set()
        for des in desired:
            named = by_name.get(des.name, []) if des.name is not None else []
            live = [r for r in named if r.status != "finished"]
            if len(named) > 1 and len(live) > 1:
                keep = oldest(live)
                if resolve_duplicates:
                    m.pairs[des.address] = keep
                    m.duplicates.extend((des.address, r, keep) for r in live if r is not keep)
                else:
                    ids = ", ".join(r.id for r in live)
                    m.blocked[des.address] = [
                        Note(
                            Severity.ERROR,
                            f"{len(live)} remote push tasks are named {quoted_name(des.shown_name)} (ids "
                            f"{ids}); push tasks are matched by name, so hoodsync will not guess. "
                            + RESOLVE_HINT.format(kept=keep.id),
                            des.address,
                        )
                    ]
            elif named:
                m.pairs[des.address] = live[0] if len(live) == 1 else oldest(named)
            used.update(r.id for r in named)
        m.unmanaged = [r for r in remote if r.id not in used]
        return m

    def live(self, remote: RemoteObject) -> bool:
        """Not finished (status 2): an inactive task can be activated again."""
        return remote.status != STATUS_WORDS[2]

    def duplicate_change(self, desired: Desired, dup: RemoteObject, kept: RemoteObject) -> Change:
        """Push tasks have no cancel and no marker: a duplicate is deactivated (status 0) and
        renamed ``… (duplicate)`` in one PATCH, so it neither sends nor matches again."""
        renamed = dup.name + DUPLICATE_SUFFIX
        before = dup.body.get("status")
        address = desired.address
        shown = desired.shown_alike(("name",), dup.name)
        resource = Resource(f"{address}#{dup.id}", self.kind, desired.key, shown).on(
            dup,
            self.fingerprint(dup.body),
            (
                FieldDiff("name", "change", shown, desired.shown_alike(("name",), renamed)),
                FieldDiff("status", "change", before, 0),
            ),
        )
        return resource.change(
            Action.DEACTIVATE if dup.status == "active" else Action.UPDATE,
            f"will be deactivated and renamed (duplicate of id {kept.id}, which stays managed)",
            transition=(dup.status, "inactive") if dup.status == "active" else None,
            # The account's text: apply resolves step bodies as templates.
            steps=(Step(Op.PATCH, dup.id, {"name": escape(renamed), "status": 0}),),
            flags=(Flag.DUPLICATE,),
        )

    @staticmethod
    def _wanted_status(desired: Desired, norm: Mapping[str, Any]) -> int | None:
        state = desired.definition.state
        if state in _STATE_STATUS:
            return _STATE_STATUS[state]
        status = norm.get("status")
        return status if isinstance(status, int) and status in (0, 1) else None

    @staticmethod
    def compare_spec(norm: Mapping[str, Any]) -> dict[str, Any]:
        """Compared fields: everything stated except ``status`` (handled as state) and the
        ``start_time: immediately`` trigger."""
        return {
            k: v
            for k, v in norm.items()
            if k != "status" and not (k == "start_time" and v == "immediately")
        }

    def plan(self, desired: Desired, remote: RemoteObject | None, ctx: Context) -> Change | None:
        """Create, update (PATCH of changed keys), activate/deactivate; finished → note."""
        norm = self.normalise_shared(desired.spec)
        want = self._wanted_status(desired, norm)
        resource = Resource.of(desired)
        past = _past_start(norm, ctx.now)
        if remote is None:
            return self._create(desired, norm, want, resource, past, ctx)
        return self._update(desired, self.compare_spec(norm), want, remote, resource, past, ctx)

    @staticmethod
    def _end_note(desired: Desired, found: tuple[str, str], why: str) -> Note:
        end, start = found
        # Where the user fixes it: end_time when the definition states it, else start_time.
        field = "end_time" if "end_time" in desired.spec else "start_time"
        where = desired.definition.locate(("spec", field))
        return Note(
            Severity.ERROR,
            f"{where}: end_time {end} (GMT) is before the task's start ({start}) and {why}; "
            "the API refuses an end_time before start_time. Set a later end_time, or remove it.",
            desired.address,
        )

    @staticmethod
    def _past_note(desired: Desired, start: str, now: dt.datetime | None, why: str) -> Note:
        when = now.strftime(API_TIME) if now is not None else "now"
        where = desired.definition.locate(("spec", "start_time"))
        return Note(
            Severity.ERROR,
            f"{where}: start_time {start} (GMT) is in the past (it is {when} GMT) and {why}; "
            "the API refuses a start time in the past. Set a future start_time, or 'immediately'.",
            desired.address,
        )

    def _create(
        self,
        desired: Desired,
        norm: dict[str, Any],
        want: int | None,
        resource: Resource,
        past: str | None,
        ctx: Context,
    ) -> Change:
        # The normalised spec, as the plan shows it: the reviewer's values are the ones sent.
        body = template_body(norm, desired)
        shown = dict(norm)
        if want is not None:  # state: wins over spec.status
            body["status"] = shown["status"] = want
        raw: list[RawDiff] = [((k,), "add", None, v) for k, v in shown.items()]
        resource = dataclasses.replace(
            resource,
            diff=field_diffs(
                raw, desired.sensitive, desired.sensitive_names, key=desired.value_key
            ),
        )
        if past is not None:
            return resource.change(
                Action.NOTE,
                "cannot be created as written",
                notes=(self._past_note(desired, past, ctx.now, "the create would send it"),),
            )
        ends = _ends_before_start(norm, {}, ctx.now)
        if ends is not None:
            return resource.change(
                Action.NOTE,
                "cannot be created as written",
                notes=(self._end_note(desired, ends, "the create would send it"),),
            )
        # An active task starting "immediately" notifies its audience as the create lands.
        sends = want == 1 and norm.get("start_time") == "immediately"
        return resource.change(
            Action.CREATE,
            "will be created",
            steps=(Step(Op.CREATE, None, body),),
            sends="start_time: immediately" if sends else None,
        )

    def _update(
        self,
        desired: Desired,
        cmp: dict[str, Any],
        want: int | None,
        remote: RemoteObject,
        resource: Resource,
        past: str | None,
        ctx: Context,
    ) -> Change | None:
        raw = [] if projects_to_itself(cmp, remote.body) else diff(project(cmp, remote.body), cmp)
        changed = changed_top_keys(raw)
        cleared = self._cleared(cmp, changed, remote)
        raw += [((k,), "remove", remote.body.get(k), None) for k in cleared]
        current = remote.body.get("status")
        resource = resource.on(
            remote,
            fingerprint_body({k: v for k, v in remote.body.items() if k not in self.volatile}),
            field_diffs(raw, desired.sensitive, desired.sensitive_names, key=desired.value_key),
        )
        if current == 2:
            return self._finished(desired, remote, changed, resource) if changed else None
        if past is not None and "start_time" in changed:
            return resource.change(
                Action.NOTE,
                "cannot be updated as written",
                notes=(self._past_note(desired, past, ctx.now, "this update would send it"),),
            )
        ends = _ends_before_start({k: cmp[k] for k in changed}, remote.body, ctx.now)
        if ends is not None:
            return resource.change(
                Action.NOTE,
                "cannot be updated as written",
                notes=(self._end_note(desired, ends, "this update would send it"),),
            )
        if want is None or want == current:
            if not changed:
                return None
            action, description, transition = Action.UPDATE, "will be updated in place", None
        else:
            action = Action.ACTIVATE if want == 1 else Action.DEACTIVATE
            transition = (remote.status, STATUS_WORDS[want])
            description = (
                f"will be {'updated and ' if changed else ''}{action}d "
                f"({transition[0]} -> {transition[1]})"
            )
        body = template_body({k: cmp[k] for k in changed}, desired)  # as the diff shows them
        for k in cleared:
            body[k] = None  # the API refuses frequency and cron together
        if transition is not None:
            body["status"] = want  # one PATCH carries the edits and the new status
        why = _activation_start(cmp, remote, ctx.now) if action is Action.ACTIVATE else None
        return resource.change(
            action,
            description,
            transition=transition,
            steps=(Step(Op.PATCH, remote.id, body),),
            flags=(Flag.REMOVAL,) if action is Action.DEACTIVATE else (),
            sends=None if why is None else f"activated: {why}",
            notes=(self._unread_note(desired, remote),) if why == _UNREAD else (),
        )

    @staticmethod
    def _unread_note(desired: Desired, remote: RemoteObject) -> Note:
        """Why an activation whose start cannot be read is flagged (:func:`_activation_start`)."""
        where = desired.definition.locate(("spec", "start_time"))
        start = remote.body.get("start_time")
        return Note(
            Severity.WARNING,
            f"{where}: push task {remote.id} holds start_time {start!r}, which is not a time "
            "hoodsync can read (the API's form is YYYY-MM-DD HH:MM:SS, GMT): it may have "
            "passed, so activating the task may send at once. State a future start_time in the "
            "definition to set when it starts.",
            desired.address,
        )

    def timely(
        self, steps: Sequence[Step], remote: RemoteObject | None, now: dt.datetime | None
    ) -> frozenset[str]:
        """The planner's time rules (:meth:`plan`) read from the steps it planned: a fixed
        ``start_time`` the create or patch sends that has passed (the API refuses it), an
        ``end_time`` before the start the write leaves, an activation whose start has passed
        (it may send at once). A patch's body holds exactly the keys the planner compared as
        changed, so a key it lacks is the task's own, as the planner read it."""
        facts: set[str] = set()
        for step in steps:
            if step.op is Op.CREATE and isinstance(step.body, Mapping):
                facts |= _write_times(self.normalise(step.body), {}, now)
            elif step.op is Op.PATCH and isinstance(step.body, Mapping) and remote is not None:
                body = self.normalise(step.body)
                facts |= _write_times(body, remote.body, now)
                activates = body.get("status") == 1 and remote.body.get("status") != 1
                why = _activation_start(body, remote, now) if activates else None
                if why is not None:
                    facts.add(f"activating it may send at once: {why}")
        return frozenset(facts)

    @staticmethod
    def _cleared(cmp: Mapping[str, Any], changed: Sequence[str], remote: RemoteObject) -> list[str]:
        """Keys the patch must set to ``null``: the remote's ``cron`` when the patch sets a
        ``frequency`` (and vice versa), unless the definition states that key itself."""
        out = []
        for key, other in _EXCLUSIVE.items():
            if (
                key in changed
                and cmp.get(key) is not None
                and other not in cmp
                and remote.body.get(other) not in (None, "")
            ):
                out.append(other)
        return out

    @staticmethod
    def _finished(
        desired: Desired, remote: RemoteObject, changed: list[str], resource: Resource
    ) -> Change:
        return resource.change(
            Action.NOTE,
            "cannot be changed (finished)",
            notes=(
                Note(
                    Severity.ERROR,
                    f"push task {remote.id} has finished (status 2) and cannot be edited; "
                    f"fields differ: {', '.join(changed)}. Make the definition match again, "
                    "or give it a new key and name to create a new task.",
                    desired.address,
                ),
            ),
        )
