"""Hood campaigns: normalisation, matching by marker or name, and the state machine (DESIGN §2–3).

Identity: the marker ``metadata.hoodsync_key`` written on create; failing that an exact ``name``
match among unmarked campaigns that are not canceled or sent → **adopt** (apply writes the marker
by merge patch; a finished campaign accepts no edit). Two candidates for one definition is an
error note, never a guess.

Lifecycle (reference §3.4, status sets in :mod:`hoodsync.wire`): PATCH is refused while
``running``, ``canceled``, ``sent`` and ``needs_decision``; pause from running/scheduled; resume
from paused; cancel from running/scheduled/paused (irreversible); nothing moves back into
``draft``. ``state: active`` is satisfied by every status but paused and canceled (running,
scheduled, draft, sent, needs_decision awaiting an A/B winner, ...).

Statuses the docs show without rules (:mod:`hoodsync.wire` has the reading and the seeds):
``active`` is refined by ``effective_status`` (``active`` + ``running`` is planned as running);
otherwise ``active`` and ``manual`` are *waiting*, planned exactly like ``scheduled`` (patched in
place, paused, canceled), with an info note saying so. A status hoodsync does not know at all is
not frozen: the change the definition asks for is planned as for a waiting campaign (a spec edit
is a plain PATCH, never a pause/resume around it; ``state: paused`` a pause; ``state: canceled``
a cancel; ``state: active`` counts as satisfied, since resume is documented only from paused),
with a warning that the status is undocumented. The API then decides; a refusal is an ordinary
failed step of the apply, carrying the API's message, and the rest of the plan is untouched.

No ``state:`` means hoodsync does not manage the lifecycle ("compare only what the definition
states", DESIGN §3): a campaign a person paused in Hood stays paused, only the spec is compared
and patched (a running campaign is still edited as pause → update → resume, which leaves it
running). A missing campaign is still created; the spec's creation options decide its status.

Execution options (``run_immediately``, ``scheduled_time``, ``recurrence``) are exclusive: a
patch that sets one sends the other the campaign holds as ``null`` (PATCH is a JSON merge patch).
``run_immediately`` is a create-time trigger, never compared: a definition stating it for a
campaign that exists and keeps another option gets a warning saying so and how to send now.
Taking a draft out of draft (``is_draft: true -> false``) is a *launch*, flagged for the warnings
banner, and carries the definition's ``run_immediately``. A campaign time a step would send
(``scheduled_time`` on create, when changed or at a launch; ``resume.scheduled_time``) that has
passed is an error note, checked against ``Context.now``; with ``send_in_profile_time_zone``
only a warning while it has passed in some profiles' time zones and not in others (UTC+14 to
UTC-12, see :func:`_passed`), flagged as sending at once with ``send_if_profile_time_passed``.
A resume without options on a paused campaign whose own time has passed (or cannot be read) is
flagged as sending at once, with a warning: Hood documents nothing for it, and a campaign
paused while it ran is resumed so. Every change flagged as sending at once names its cause
(:attr:`~hoodsync.plan.Change.send_cause`). A resume says the status its body leads to
(``running`` / ``scheduled``), else only ``active``.

A key changed in git leaves the old campaign an orphan: a create beside a live orphan with its
name or content hash is flagged as a second copy (:meth:`CampaignRules.creates_beside`).

Drift: every create and patch also writes ``metadata.hoodsync_hash``, a hash of the normalised
spec and state hoodsync applied. When the remote differs and the stored hash equals the
definition's hash, git did not change — the remote moved: the change is flagged as drift.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hoodsync.definitions.interpolate import escape
from hoodsync.definitions.validate import parse_api_time
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
    follow_order,
    group_by,
    oldest,
    project,
    projects_to_itself,
    spec_hash,
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
    CAMPAIGN_CANCELLABLE,
    CAMPAIGN_EXECUTION_OPTIONS,
    CAMPAIGN_ID_PATHS,
    CAMPAIGN_INT_PATHS,
    CAMPAIGN_LOCKED,
    CAMPAIGN_RETIRED,
    CAMPAIGN_STATUSES,
    HASH,
    MARKER,
    campaign_labels,
    campaign_marker,
    campaign_status,
    coerce_paths,
    coerced_paths,
)

__all__ = ["CampaignRules", "MARKER", "HASH"]


#: Create-time triggers: sent on create, never compared (their effect shows as status).
CREATE_TRIGGERS = frozenset({"run_immediately"})


def _truthy(value: Any) -> bool:
    """``run_immediately`` is documented as ``true`` and as ``1``."""
    return value is True or value == 1 or value in ("1", "true")


def _verbs(*parts: str) -> str:
    """``adopted``, ``updated``, ``paused`` → ``adopted, updated and paused``."""
    words = [p for p in parts if p]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


#: Options stored on the campaign (``run_immediately`` is a trigger the API never stores).
_STORED_OPTIONS = tuple(k for k in CAMPAIGN_EXECUTION_OPTIONS if k != "run_immediately")
#: What an account's field holds when it holds no option.
_NONE: tuple[Any, ...] = (None, "", {})

#: How far behind GMT the westernmost time zone (UTC-12) is: a time read in each profile's time
#: zone (``send_in_profile_time_zone``) is still ahead for some profiles until this long after it
#: has passed in GMT.
_WESTMOST = dt.timedelta(hours=12)
#: How far ahead of GMT the easternmost time zone (UTC+14) is: a time read in each profile's
#: time zone has already passed for profiles there from this long before it passes in GMT.
_EASTMOST = dt.timedelta(hours=14)


def _setting(spec: Mapping[str, Any], remote: Mapping[str, Any] | None, key: str) -> bool:
    """Whether a boolean campaign setting is on: as the definition states it, else as the
    campaign holds it."""
    if key in spec:
        return _truthy(spec[key])
    return remote is not None and _truthy(remote.get(key))


@dataclasses.dataclass(frozen=True, slots=True)
class _Time:
    """A time a step of this plan would send (``spec.scheduled_time`` on create, in a patch or
    at a draft's launch; ``resume.scheduled_time`` in a resume) or make the campaign's again (a
    resume without options) that has already passed, at least for some profiles."""

    path: tuple[str, ...]  #: document path, for the location and the message
    value: str
    #: Where it has passed (see :func:`_passed`): ``everywhere``; with profile time zones
    #: ``gmt`` (in GMT and east of it, still ahead west of it) or ``east`` (only east of GMT,
    #: still ahead in GMT); ``unread``: a time the campaign holds that is not in the API's form,
    #: so it may have passed.
    reach: str
    when: dt.datetime | None = None  #: the time, unless ``unread``

    @property
    def field(self) -> str:
        """``scheduled_time`` / ``resume.scheduled_time``."""
        return ".".join(p for p in self.path if p != "spec")


def _passed(
    path: tuple[str, ...],
    value: Any,
    now: dt.datetime | None,
    profile_time: bool,
    held: bool = False,
) -> _Time | None:
    """``value`` as a :class:`_Time` when it is a time that has passed at ``now`` for some
    profiles, else ``None`` (also when there is no clock). A value that is no time is left to
    validation, unless ``held``, the campaign's own: then it is ``unread`` (it may have passed).

    Hood documents no rule for a campaign time that has passed (push tasks refuse one), but it
    documents ``send_in_profile_time_zone`` (the time is read in each profile's own time zone,
    seed 001's New Year example) and ``send_if_profile_time_passed`` (what happens to profiles
    whose time has passed). So with profile time zones on, the time is a span of instants: it
    passes first for profiles at UTC+14, 14 hours before it passes in GMT (``east`` until then),
    and last at UTC-12, 12 hours after (``gmt`` until then); only past that span has it passed
    ``everywhere``. Without them it is one instant, in GMT."""
    when = parse_api_time(value) if isinstance(value, str) else None
    if when is None:
        unread = held and value not in (None, "")
        return _Time(path, str(value), "unread") if unread else None
    if now is None:
        return None
    if when >= now:
        east = profile_time and when - _EASTMOST <= now
        return _Time(path, value, "east", when) if east else None
    west = profile_time and now < when + _WESTMOST
    return _Time(path, value, "gmt" if west else "everywhere", when)


def _past_schedule(
    spec: Mapping[str, Any], remote: Mapping[str, Any] | None, now: dt.datetime | None
) -> _Time | None:
    """``spec.scheduled_time`` (else the one the campaign holds) when it has passed
    (:func:`_passed`)."""
    when = spec.get("scheduled_time")
    held = when is None and remote is not None
    if held and remote is not None:
        when = remote.get("scheduled_time")
    profile = _setting(spec, remote, "send_in_profile_time_zone")
    return _passed(("spec", "scheduled_time"), when, now, profile, held)


@dataclasses.dataclass(frozen=True, slots=True)
class _Found:
    """A time one of a plan's steps sends, or makes the campaign's again, that has passed."""

    past: _Time
    why: str  #: what the step does with it: ``the create would schedule it``
    instead: str  #: what the definition can say instead
    #: Where the definition says what leads to the step, when it does not state the time
    #: itself (the ``state`` a resume comes from, the ``is_draft`` of a launch).
    at: tuple[str, ...] = ()
    #: The step only makes a time the campaign holds its time again (a resume without
    #: options), as activating a push task does its start: never refused, for a campaign
    #: paused while it ran holds a time that has passed, and resuming it is how it goes on.
    reactivates: bool = False

    @property
    def refused(self) -> bool:
        """Passed everywhere and sent by the step: nothing of the change is sent."""
        return self.past.reach == "everywhere" and not self.reactivates

    def sends(self, catch_up: bool) -> str | None:
        """Why the step then sends at once (its :attr:`Change.send_cause`), or ``None``.
        ``catch_up``: ``send_if_profile_time_passed`` is on."""
        if self.refused:
            return None
        if self.past.reach in ("gmt", "east"):
            return _CATCH_UP if catch_up else None
        if self.past.reach == "unread":
            return f"its {self.past.field} could not be read"
        return f"its {self.past.field} has passed"


#: The cause of an immediate send to the profiles whose local time has passed.
_CATCH_UP = "send_if_profile_time_passed: its time has passed for some profiles"


def _cause(causes: Sequence[str]) -> str | None:
    """:attr:`Change.send_cause` of a change that sends at once for ``causes``, else ``None``."""
    return "; ".join(dict.fromkeys(causes)) or None


def _send_causes(found: Sequence[_Found], catch_up: bool) -> list[str]:
    """What makes the steps that ``found`` was found in send at once."""
    return [c for c in (f.sends(catch_up) for f in found) if c is not None]


def _create_times(norm: Mapping[str, Any], now: dt.datetime | None) -> list[_Found]:
    """The ``scheduled_time`` a create of ``norm`` (a normalised spec or create body) would
    send, when it has passed (a draft sends nothing: its time is checked when it is
    launched)."""
    past = None if norm.get("is_draft") is True else _past_schedule(norm, None, now)
    return [] if past is None else [_Found(past, _CREATE_WHY, _FUTURE)]


_CREATE_WHY = "the create would schedule it"
_FUTURE = "Set a future scheduled_time."


def _step_times(
    steps: Sequence[Step],
    status: str,
    held: Mapping[str, Any],
    spec: Mapping[str, Any],
    now: dt.datetime | None,
) -> list[_Found]:
    """Each time one of ``steps`` — on a campaign of ``status`` that holds ``held`` — would send
    or make the campaign's again that has passed at ``now``: ``spec.scheduled_time`` in a patch
    that sets it or launches the draft (``is_draft`` true -> false, neither with
    ``run_immediately`` nor clearing the time), ``resume.scheduled_time`` in a resume, and the
    time a paused campaign holds (or gets from the patch before) in a resume without options.
    ``spec`` holds the settings as the definition states them (the planner's compare spec; at
    apply, the patch body, which holds every one that differs from ``held``)."""
    found: list[_Found] = []
    patch = next((s.body for s in steps if s.op is Op.PATCH and s.body is not None), None)
    cleared = False
    if patch is not None:
        launch = status == "draft" and "is_draft" in patch and not patch["is_draft"]
        cleared = "scheduled_time" in patch and patch["scheduled_time"] is None
        launching = launch and not _truthy(patch.get("run_immediately")) and not cleared
        if (patch.get("scheduled_time") is not None or launching) and (status != "draft" or launch):
            past = _past_schedule(spec, held, now)
            if past is not None:
                why = (
                    "launching the draft would schedule it"
                    if launch
                    else "the update would reschedule it"
                )
                found.append(_Found(past, why, _FUTURE, ("spec", "is_draft")))
    profile = _setting(spec, held, "send_in_profile_time_zone")
    for step in steps:
        body = step.body or {}
        if step.op is not Op.RESUME or _truthy(body.get("run_immediately")):
            continue
        if "scheduled_time" in body:
            past = _passed(("resume", "scheduled_time"), body["scheduled_time"], now, profile)
            if past is not None:
                found.append(_Found(past, "the resume would schedule it", _RESUME_INSTEAD))
        elif status == "paused" and not cleared and not found:
            past = _past_schedule(spec, held, now)
            if past is not None:
                why = "the resume, which has no options, makes it the campaign's time again"
                found.append(_Found(past, why, _SAY_WHAT, ("state",), reactivates=True))
    return found


_RESUME_INSTEAD = "Set a future resume.scheduled_time, or resume: {run_immediately: true}."
_SAY_WHAT = (
    "To say what happens, give the definition a resume block: resume: {run_immediately: true} to "
    "send it now, or resume: {scheduled_time: ...} with a future time."
)


def _time_fact(found: _Found) -> str:
    """A passed time as :meth:`CampaignRules.timely` states it (no reading of the clock)."""
    past = found.past
    if past.reach == "unread":
        return f"{past.field} {past.value!r} cannot be read as a time and {found.why}"
    where = {"gmt": " in GMT (still ahead west of it)", "east": " east of GMT (ahead in GMT)"}
    return f"{past.field} {past.value} (GMT) has passed{where.get(past.reach, '')} and {found.why}"


def _span(delta: dt.timedelta) -> str:
    """``6 h``, ``5 h 30 min``, ``45 min`` (to the minute)."""
    hours, minutes = divmod(round(delta.total_seconds() / 60), 60)
    parts = [f"{hours} h"] if hours else []
    return " ".join(parts + ([f"{minutes} min"] if minutes or not hours else []))


def _past_note(desired: Desired, found: _Found, now: dt.datetime | None, catch_up: bool) -> Note:
    """The note for a time a step would send (or make the campaign's again) that has passed:
    an error when the step sends it and it has passed everywhere; else a warning saying who
    gets it when (``catch_up``: ``send_if_profile_time_passed`` is on)."""
    past = found.past
    d = desired.definition
    where = d.locate(past.path if past.path in d.locations or not found.at else found.at)
    clock = now.strftime(API_TIME) if now is not None else "now"
    if past.reach == "unread":
        text = (
            f"the campaign holds {past.field} {past.value!r}, which is not a time hoodsync "
            f"can read (Hood's form is YYYY-MM-DD HH:MM:SS, GMT), and {found.why}: it may have "
            f"passed, and then the campaign may send at once as the apply lands. {found.instead}"
        )
    elif past.reach in ("gmt", "east"):
        text = _profile_time_text(found, now, catch_up)
    elif found.reactivates:
        text = (
            f"{past.field} {past.value} (GMT), which the campaign holds, has passed (it is "
            f"{clock} GMT) and {found.why}; Hood documents no behaviour for that: it may send "
            "at once as the apply lands (or go on sending, if it was paused while it ran), or "
            f"never. {found.instead}"
        )
    else:
        return Note(
            Severity.ERROR,
            f"{where}: {past.field} {past.value} (GMT) is in the past (it is {clock} GMT) and "
            f"{found.why}; Hood documents no behaviour for a campaign time that has passed (it "
            f"may send at once, or never). {found.instead}",
            desired.address,
        )
    return Note(Severity.WARNING, f"{where}: {text}", desired.address)


def _profile_time_text(found: _Found, now: dt.datetime | None, catch_up: bool) -> str:
    """What a time read in each profile's time zone that has passed for some profiles only
    means (:func:`_passed`): for whom it has passed, and what they get."""
    past = found.past
    assert past.when is not None and now is not None
    clock = now.strftime(API_TIME)
    if past.reach == "east":
        passed = (
            f"it is still ahead in GMT (it is {clock} GMT), but has already passed for profiles "
            f"at least {_span(past.when - now)} ahead of GMT (up to UTC+14)"
        )
    else:
        passed = (
            f"it has passed in GMT (it is {clock} GMT) and east of it, and is still ahead only "
            f"for profiles more than {_span(now - past.when)} behind GMT (down to UTC-12)"
        )
    fate = (
        "with send_if_profile_time_passed: true those whose time has passed get it at once, "
        "as the apply lands"
        if catch_up
        else "those whose time has passed do not get it (they would get it at once with "
        "send_if_profile_time_passed: true)"
    )
    return (
        f"{past.field} {past.value} is read in each profile's own time zone "
        f"(send_in_profile_time_zone) and {found.why}: {passed}; {fate}."
    )


def _unused_resume_note(desired: Desired) -> Note | None:
    """A warning, for a change the plan makes, when the definition says ``state: paused`` and
    has a ``resume:`` block: hoodsync resumes only for ``state: active``, so the block cannot
    apply while the definition says paused. Not an error: the block is how a later
    ``state: active`` resumes, and ``pull`` writes ``state: paused`` beside it when the
    campaign was paused in Hood's UI."""
    d = desired.definition
    if d.state != "paused" or not d.resume:
        return None
    return Note(
        Severity.WARNING,
        f"{d.locate(('resume',))}: the resume block is not used while state: paused; it says "
        "how the campaign is resumed once the definition says state: active, and until then "
        "it stays paused",
        desired.address,
    )


class CampaignRules(KindRules):
    """Rules for ``kind: Campaign``."""

    kind = Kind.CAMPAIGN
    volatile = frozenset(
        {
            "next_run_time",
            "run_counter",
            "score",
            "financial_performance",
            "scheduled_run_times",
            "status_code",
        }
    )

    # --- shape ------------------------------------------------------------------------------

    def normalise(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Labels as a list (GET returns a comma string), ids as strings, documented integers as
        integers. Idempotent; applied to specs and remote objects alike."""
        out: dict[str, Any] = copy_json(data)
        if "labels" in out:
            out["labels"] = campaign_labels(out["labels"])
        coerce_paths(out, CAMPAIGN_ID_PATHS, CAMPAIGN_INT_PATHS)
        return out

    def normalise_shared(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`normalise` without the deep copy (see the base class): only the containers
        on the id and integer paths that change are copied, and the labels when a string."""
        if type(data) is not dict:  # another Mapping: normalise makes it a plain dict
            return self.normalise(data)
        out = coerced_paths(data, CAMPAIGN_ID_PATHS, CAMPAIGN_INT_PATHS)
        if "labels" in out:
            out["labels"] = campaign_labels(out["labels"])
        return out

    def _object(self, body: Mapping[str, Any]) -> RemoteObject:
        """Normalised body → RemoteObject; status is the API's status word (``active`` refined
        by ``effective_status``, see :func:`hoodsync.wire.campaign_status`)."""
        marker = campaign_marker(body)
        return RemoteObject(
            kind=self.kind,
            id=str(body.get("id", "")),
            name=str(body.get("name", "")),
            status=campaign_status(body),
            body=body,
            marker=marker if isinstance(marker, str) and marker else None,
            created_at=body.get("create_time"),
        )

    @staticmethod
    def compare_spec(norm: Mapping[str, Any]) -> dict[str, Any]:
        """What is compared: the normalised spec without create-time triggers and without
        hoodsync's own metadata keys (identity and hash are handled separately)."""
        out = {k: v for k, v in norm.items() if k not in CREATE_TRIGGERS}
        meta = out.get("metadata")
        if isinstance(meta, dict):
            user = {k: v for k, v in meta.items() if k not in (MARKER, HASH)}
            if user:
                out["metadata"] = user
            else:
                del out["metadata"]
        return out

    # --- matching ---------------------------------------------------------------------------

    def match(
        self,
        desired: Sequence[Desired],
        remote: Sequence[RemoteObject],
        resolve_duplicates: bool = False,
    ) -> Match:
        """Marker first, then exact name among unmarked campaigns; ambiguity is an error.

        Several campaigns carrying one marker (two applies that raced): finished ones
        (canceled, sent) are set aside, since nothing can be done to them; one live campaign
        left is managed. Several live ones block the definition, unless ``resolve_duplicates``:
        then the oldest is managed and the others are :attr:`Match.duplicates`.

        Adoption by name needs exactly one claimant and exactly one candidate: one definition
        (without a marker match) with that name, and one unmarked remote campaign with it. Two
        definitions claiming one remote name get an error note each, naming the other; a remote
        campaign is never paired with two definitions.

        Finished unmarked campaigns (canceled, sent) are no candidates, as finished copies of a
        marker are set aside: the API accepts no edit to them, so the marker could never be
        written and the definition would stay blocked whatever it said. They stay unmanaged,
        and a definition with their name creates a new campaign (the create says so:
        :meth:`creates_beside`)."""
        m = Match()
        by_marker = group_by((r for r in remote if r.marker), lambda r: r.marker)
        by_name = group_by(
            (r for r in remote if not r.marker and r.status not in CAMPAIGN_RETIRED),
            lambda r: r.name,
        )
        used: set[str] = set()
        claims: dict[str, list[Desired]] = {}
        for des in desired:
            marked = by_marker.get(des.key, [])
            if len(marked) > 1:
                self._duplicated(m, des, marked, resolve_duplicates)
                used.update(r.id for r in marked)
            elif marked:
                m.pairs[des.address] = marked[0]
                used.add(marked[0].id)
            elif des.name is not None and des.name in by_name:
                claims.setdefault(des.name, []).append(des)
        for name, claimants in claims.items():
            named = by_name[name]
            if len(claimants) > 1:
                self._contested(m, claimants, named)
            elif len(named) > 1:
                des = claimants[0]
                ids = ", ".join(r.id for r in named)
                m.blocked[des.address] = [
                    Note(
                        Severity.ERROR,
                        f"{len(named)} remote campaigns are named {quoted_name(des.shown_name)} (ids {ids}) and none "
                        "carries a hoodsync marker; hoodsync will not guess which to adopt. Rename "
                        "all but one in Hood, or add metadata.hoodsync_key: "
                        f"{des.key} to the one to manage.",
                        des.address,
                    )
                ]
            else:
                m.pairs[claimants[0].address] = named[0]
            used.update(r.id for r in named)
        keys = {d.key for d in desired}
        for r in remote:
            if r.id in used:
                continue
            if r.marker and r.marker not in keys:
                (m.retired if r.status in CAMPAIGN_RETIRED else m.orphans).append(r)
            elif not r.marker or r.marker in keys:
                m.unmanaged.append(r)
        return m

    @staticmethod
    def _duplicated(m: Match, des: Desired, marked: Sequence[RemoteObject], resolve: bool) -> None:
        """Several campaigns carry ``des``'s marker (see :meth:`match`)."""
        live = [r for r in marked if r.status not in CAMPAIGN_RETIRED]
        if len(live) <= 1:
            keep = live[0] if live else oldest(marked)
            m.pairs[des.address] = keep
            m.retired.extend(r for r in marked if r is not keep)
            return
        keep = oldest(live)
        if resolve:
            m.pairs[des.address] = keep
            m.retired.extend(r for r in marked if r.status in CAMPAIGN_RETIRED)
            m.duplicates.extend((des.address, r, keep) for r in live if r is not keep)
            return
        ids = ", ".join(r.id for r in live)
        m.blocked[des.address] = [
            Note(
                Severity.ERROR,
                f"{len(live)} remote campaigns carry the marker hoodsync_key={des.key} (ids {ids}); "
                "hoodsync will not guess. " + RESOLVE_HINT.format(kept=keep.id),
                des.address,
            )
        ]

    def duplicate_change(self, desired: Desired, dup: RemoteObject, kept: RemoteObject) -> Change:
        """Cancel a duplicate where the API allows (running, scheduled, paused); a draft cannot
        be canceled, so it is released instead: marker removed, renamed ``… (duplicate)``."""
        address, key = desired.address, desired.key
        shown = desired.shown_alike(("name",), dup.name)
        resource = Resource(f"{address}#{dup.id}", self.kind, key, shown).on(
            dup, self.fingerprint_normalised(dup.body)
        )
        why = f"duplicate of id {kept.id}, which stays managed"
        if dup.status in CAMPAIGN_CANCELLABLE:
            return resource.change(
                Action.CANCEL,
                f"will be canceled ({why}; {dup.status} -> canceled, irreversible)",
                transition=(dup.status, "canceled"),
                steps=(Step(Op.CANCEL, dup.id, {"reason": f"hoodsync: duplicate of {kept.id}"}),),
                flags=(Flag.IRREVERSIBLE, Flag.DUPLICATE),
            )
        if dup.status == "draft":
            renamed = dup.name + DUPLICATE_SUFFIX
            return resource.change(
                Action.UPDATE,
                f"will be released from hoodsync and renamed ({why}; a draft cannot be canceled)",
                steps=(
                    Step(
                        Op.PATCH,
                        dup.id,
                        # The account's text: apply resolves step bodies as templates.
                        {"name": escape(renamed), "metadata": {MARKER: None, HASH: None}},
                    ),
                ),
                diff=(
                    FieldDiff(
                        "name",
                        "change",
                        shown,
                        desired.shown_alike(("name",), renamed),
                    ),
                    FieldDiff(f"metadata.{MARKER}", "change", key, None),
                ),
                flags=(Flag.DUPLICATE,),
            )
        return resource.change(
            Action.NOTE,
            f"cannot be retired ({dup.status})",
            notes=(
                Note(
                    Severity.WARNING,
                    f"campaign {dup.id} duplicates {address} ({why}), but a "
                    f"{dup.status} campaign can be neither canceled nor edited through the "
                    "API; settle it in Hood, then plan again",
                    address,
                ),
            ),
        )

    @staticmethod
    def _contested(m: Match, claimants: Sequence[Desired], named: Sequence[RemoteObject]) -> None:
        """Several definitions claim the same unmarked remote name: none adopts, each is told
        which other definitions claim it."""
        ids = ", ".join(r.id for r in named)
        for des in claimants:
            others = ", ".join(
                f"{o.address} ({o.definition.location})" for o in claimants if o is not des
            )
            m.blocked[des.address] = [
                Note(
                    Severity.ERROR,
                    f"remote campaign(s) {ids} named {quoted_name(des.shown_name)} carry no hoodsync marker, "
                    f"and {others} claims the same name; hoodsync will not guess which definition "
                    "adopts it. Rename one of the definitions, or add metadata.hoodsync_key: "
                    f"{des.key} to the remote campaign this definition should manage.",
                    des.address,
                )
            ]

    # --- planning ---------------------------------------------------------------------------

    def plan(self, desired: Desired, remote: RemoteObject | None, ctx: Context) -> Change | None:
        """The change one campaign definition needs (module docstring has the rules)."""
        state = desired.definition.state
        norm = self.normalise_shared(desired.spec)
        cmp = self.compare_spec(norm)
        if remote is None:
            return self._create(desired, norm, _hash(cmp, state, desired), state, ctx.now)
        # The hash is taken only when a step or the drift flag needs it: most matched
        # campaigns are unchanged, and their hash (a canonical JSON encoding) is never read.
        return _Planner(self, desired, remote, cmp, state, ctx.now).run()

    def definition_hash(self, desired: Desired) -> str:
        """The ``metadata.hoodsync_hash`` a create or patch from ``desired`` writes."""
        norm = self.normalise_shared(desired.spec)
        return _hash(self.compare_spec(norm), desired.definition.state, desired)

    def _create(
        self,
        desired: Desired,
        norm: Mapping[str, Any],
        h: str,
        state: str | None,
        now: dt.datetime | None,
    ) -> Change | None:
        d = desired.definition
        if state == "canceled":
            return None  # never created and not wanted: nothing to do
        shown = {k: v for k, v in self.compare_spec(norm).items()}
        for k in CREATE_TRIGGERS & norm.keys():
            shown[k] = norm[k]
        raw: list[RawDiff] = [((k,), "add", None, v) for k, v in shown.items()]
        # The normalised spec, as the plan shows it: the reviewer's values are the ones sent.
        body = template_body(norm, desired)
        meta = body.get("metadata")
        body["metadata"] = {**(meta if isinstance(meta, dict) else {}), MARKER: d.key, HASH: h}
        causes = ["run_immediately"] if _truthy(norm.get("run_immediately")) else []
        resource = dataclasses.replace(
            Resource.of(desired),
            diff=field_diffs(
                raw, desired.sensitive, desired.sensitive_names, key=desired.value_key
            ),
        )
        if state == "paused" and norm.get("is_draft") is True:
            return resource.change(
                Action.NOTE,
                "cannot be created as written",
                notes=(
                    Note(
                        Severity.ERROR,
                        "state: paused with is_draft: true — a draft campaign cannot be paused "
                        "(the API pauses only running or scheduled campaigns)",
                        d.address,
                    ),
                ),
            )
        notes: list[Note] = []
        found = _create_times(norm, now)
        catch_up = _setting(norm, None, "send_if_profile_time_passed")
        for past in found:
            note = _past_note(desired, past, now, catch_up)
            if note.severity is Severity.ERROR:
                return resource.change(Action.NOTE, "cannot be created as written", notes=(note,))
            notes.append(note)
        causes += _send_causes(found, catch_up)
        steps = [Step(Op.CREATE, None, body)]
        description = "will be created"
        if state == "paused":
            steps.append(Step(Op.PAUSE, None, {"reason": "hoodsync: state paused"}))
            description = "will be created and paused"
            unused = _unused_resume_note(desired)
            if unused is not None:
                notes.append(unused)
        return resource.change(
            Action.CREATE, description, steps=steps, notes=notes, sends=_cause(causes)
        )

    def creates_beside(
        self, changes: Sequence[Change], created: Mapping[str, Desired], match: Match
    ) -> list[Change]:
        """A create beside a live orphan carrying the definition's name or the hash of its
        content (``metadata.hoodsync_hash``, which leaves the key out) is most likely the
        definition's own campaign under the key it had before: a key renamed in git plans a
        second live campaign, and its audience gets both. Such a create is flagged
        :attr:`Flag.SECOND_COPY` (the plan's warnings banner) with a note naming the old
        campaign and how to keep or retire it; when this plan cancels every such orphan
        (``--prune``), only the note. A create whose name an unmarked finished campaign has
        (:meth:`match` sets those aside) gets a note too, and when one of those was sent, the
        flag :attr:`Flag.BESIDE_SENT` (its audience would get the message again)."""
        live = list(match.orphans)
        finished = [r for r in match.unmanaged if not r.marker and r.status in CAMPAIGN_RETIRED]
        if not created or not (live or finished):
            return list(changes)
        by_name = group_by(live, lambda r: r.name)
        by_hash = group_by((r for r in live if _stored_hash(r)), _stored_hash)
        finished_by_name = group_by(finished, lambda r: r.name)
        canceled = frozenset(
            str(c.remote_id) for c in changes if c.action is Action.CANCEL and c.remote_id
        )
        out: list[Change] = []
        for change in changes:
            des = created.get(change.address)
            if des is None or change.action is not Action.CREATE:
                out.append(change)
                continue
            notes: list[Note] = []
            flags: list[Flag] = []
            named = by_name.get(des.name, []) if des.name is not None else []
            hashed = by_hash.get(self.definition_hash(des), []) if by_hash else []
            olds = list({o.id: o for o in [*named, *hashed]}.values())
            if olds:
                what = " and ".join(
                    w for w, on in (("name", bool(named)), ("content", bool(hashed))) if on
                )
                note, stays = _rekeyed_note(change.address, olds, what, canceled)
                notes.append(note)
                if stays:
                    flags.append(Flag.SECOND_COPY)
            gone = finished_by_name.get(des.name, []) if des.name is not None else []
            if gone:
                notes.append(_finished_note(change.address, gone))
                if any(o.status == "sent" for o in gone):
                    flags.append(Flag.BESIDE_SENT)
            if notes:
                change = dataclasses.replace(
                    change,
                    notes=(*change.notes, *notes),
                    flags=(*change.flags, *flags),
                )
            out.append(change)
        return out

    def timely(
        self, steps: Sequence[Step], remote: RemoteObject | None, now: dt.datetime | None
    ) -> frozenset[str]:
        """The planner's time rules read from the steps it planned: the ``scheduled_time`` a
        create sends (:func:`_create_times`), or a patch or resume sends or makes the
        campaign's again (:func:`_step_times`), that has passed — for some profiles, or
        everywhere — and what then makes it send at once."""
        create = next((s.body for s in steps if s.op is Op.CREATE and s.body is not None), None)
        if create is not None:
            spec = self.normalise(create)
            found = _create_times(spec, now)
            held: Mapping[str, Any] | None = None
        elif remote is not None:
            patch = next((s.body for s in steps if s.op is Op.PATCH and s.body is not None), {})
            spec, held = self.normalise(patch), remote.body
            found = _step_times(steps, remote.status, held, spec, now)
        else:
            return frozenset()
        causes = _send_causes(found, _setting(spec, held, "send_if_profile_time_passed"))
        facts = {_time_fact(f) for f in found} | {f"it may send at once: {c}" for c in causes}
        return frozenset(facts)

    def live(self, remote: RemoteObject) -> bool:
        """Neither canceled nor sent (:data:`~hoodsync.wire.CAMPAIGN_RETIRED`)."""
        return remote.status not in CAMPAIGN_RETIRED

    def orphan_change(self, remote: RemoteObject, ctx: Context) -> Change | None:
        """``--prune``: cancel an orphan (the only documented removal), or explain why not."""
        address = f"{self.kind.slug}.{remote.marker}"
        resource = Resource(address, self.kind, str(remote.marker), remote.name).on(
            remote, self.fingerprint_normalised(remote.body)
        )
        if remote.status in CAMPAIGN_CANCELLABLE:
            return resource.change(
                Action.CANCEL,
                (
                    f"will be canceled (orphan: no definition has this key; {remote.status} -> "
                    "canceled, irreversible)"
                ),
                transition=(remote.status, "canceled"),
                steps=(Step(Op.CANCEL, remote.id, {"reason": "hoodsync: pruned (no definition)"}),),
                flags=(Flag.IRREVERSIBLE, Flag.REMOVAL),
                notes=(
                    Note(
                        Severity.INFO,
                        "Hood documents no delete: the campaign stays in the account, canceled",
                        address,
                    ),
                ),
            )
        return resource.change(
            Action.NOTE,
            f"cannot be removed ({remote.status})",
            notes=(
                Note(
                    Severity.WARNING,
                    f"orphan campaign {remote.id} is {remote.status}; the API cancels only running, "
                    "scheduled or paused campaigns, so --prune cannot remove it",
                    address,
                ),
            ),
        )

    def fingerprint_normalised(self, body: Mapping[str, Any]) -> str:
        """Fingerprint of an already normalised body (what :meth:`fingerprint` computes)."""
        return fingerprint_body({k: v for k, v in body.items() if k not in self.volatile})


def _stored_hash(remote: RemoteObject) -> str | None:
    """The ``metadata.hoodsync_hash`` a campaign carries, if any."""
    meta = remote.body.get("metadata")
    stored = meta.get(HASH) if isinstance(meta, dict) else None
    return stored if isinstance(stored, str) else None


def _listed(objs: Sequence[RemoteObject], detail: Callable[[RemoteObject], str]) -> str:
    """``campaign 1017000 (scheduled, key x)`` / ``campaigns 1 (…) and 2 (…)``: by id, never by
    name (a name may hold a secret)."""
    items = [f"{o.id} ({detail(o)})" for o in objs]
    if len(items) == 1:
        return f"campaign {items[0]}"
    return "campaigns " + ", ".join(items[:-1]) + " and " + items[-1]


def _rekeyed_note(
    address: str, olds: Sequence[RemoteObject], what: str, canceled: frozenset[str]
) -> tuple[Note, bool]:
    """The note on a create beside live orphans that look like its own campaign under an old
    key (:meth:`CampaignRules.creates_beside`), and whether any of them stays live."""
    keys = sorted({str(o.marker) for o in olds})
    listed = _listed(olds, lambda o: f"{o.status}, key {o.marker}")
    one = len(olds) == 1
    head = (
        f"{listed} {'carries' if one else 'carry'} the hoodsync marker of a key no definition "
        f"has any more and {'has' if one else 'have'} this definition's {what}: most likely "
        f"{'it is' if one else 'one is'} the campaign this definition managed before its key "
        "changed. "
    )
    back = " or ".join(f"key: {k}" for k in keys)
    stays = any(o.id not in canceled for o in olds)
    if not stays:
        return (
            Note(
                Severity.WARNING,
                head + "This plan cancels it (--prune) and creates this one in its place: a "
                "new campaign with a new id, which also reaches anyone the old one already "
                f"reached. To keep managing the old one instead, put back {back}.",
                address,
            ),
            False,
        )
    targets = " ".join(f"--target campaign.{k}" for k in keys)
    return (
        Note(
            Severity.WARNING,
            head + "This creates a second, live campaign beside it, and both send. To keep "
            f"managing it, put back {back}; to retire it instead, cancel it: hoodsync apply "
            f"--prune {targets}.",
            address,
        ),
        True,
    )


def _finished_note(address: str, olds: Sequence[RemoteObject]) -> Note:
    """The note on a create whose name an unmarked finished campaign has (set aside by
    :meth:`CampaignRules.match`)."""
    one = len(olds) == 1
    return Note(
        Severity.WARNING,
        f"{_listed(olds, lambda o: o.status)} {'has' if one else 'have'} this definition's name "
        "but no hoodsync marker; a canceled or sent campaign accepts no edit, so it cannot be "
        "adopted and is left as it is. This creates a new campaign. If the definition only "
        "describes the finished one, set state: canceled (then nothing is created) or delete "
        "the definition.",
        address,
    )


def _hash(cmp: Mapping[str, Any], state: str | None, desired: Desired) -> str:
    """The ``metadata.hoodsync_hash`` of a campaign's compared spec and desired state. No
    state hashes like ``active`` did before it stopped being the default, so the hashes
    already stored on campaigns stay current."""
    return spec_hash(cmp, state or "active", desired.sensitive, key=desired.value_key)


#: action, transition, steps, flags
_Outcome = tuple[Action, "tuple[str, str] | None", list[Step], list[Flag]]


class _Planner:
    """One matched campaign: compares, then walks the state machine. A class only to keep the
    many shared values out of long parameter lists."""

    def __init__(
        self,
        rules: CampaignRules,
        desired: Desired,
        remote: RemoteObject,
        cmp: dict[str, Any],
        state: str | None,
        now: dt.datetime | None = None,
    ) -> None:
        self.rules = rules
        self.desired = desired
        self.d = desired.definition
        self.remote = remote
        self.cmp = cmp
        self.state = state
        self.now = now
        self.s = remote.status
        self.notes: list[Note] = []
        #: What makes the change send at once (:attr:`Change.send_cause`), in the order found.
        self.causes: list[str] = []
        self.raw = self._compare()
        self.changed = changed_top_keys(self.raw)
        self._no_draft_return()
        #: A draft taken out of draft by this definition (``is_draft: true -> false``).
        self.launch = self.s == "draft" and "is_draft" in self.changed and not cmp["is_draft"]
        #: ``run_immediately`` goes with the launch: the definition's create-time trigger,
        #: which the draft's create did not act on (the docs: PATCH with ``run_immediately:
        #: true`` "triggers execution right away").
        self.launch_now = self.launch and _truthy(desired.spec.get("run_immediately"))
        if self.launch_now:
            self.raw.append((("run_immediately",), "add", None, desired.spec["run_immediately"]))
        self.cleared = self._cleared()
        self.raw += [((k,), "remove", remote.body.get(k), None) for k in self.cleared]
        self.adopt = remote.marker != self.d.key
        self.stored_hash = _stored_hash(remote)

    @functools.cached_property
    def h(self) -> str:
        """The hash the definition gives (:func:`_hash`), taken when first read."""
        return _hash(self.cmp, self.state, self.desired)

    @functools.cached_property
    def hash_current(self) -> bool:
        """Whether the campaign already stores :attr:`h`."""
        return self.stored_hash == self.h

    def _compare(self) -> list[RawDiff]:
        if projects_to_itself(self.cmp, self.remote.body):
            return []  # _relax never makes an equal projection unequal: the same answer
        proj = project(self.cmp, self.remote.body)
        if isinstance(proj, dict):
            self._relax(proj)
        return [] if proj == self.cmp else diff(proj, self.cmp)

    def _relax(self, proj: dict[str, Any]) -> None:
        """Equivalences the plain projection cannot see.

        - ``labels`` are compared as an unordered collection: they are tags, the API returns
          them as a comma-joined string whose order hoodsync does not control, and a reorder
          alone must not produce a perpetual diff, nor a "moved" line next to a real addition
          or removal. (Other arrays of scalars keep their order.)
        - A resume with ``scheduled_time`` rewrites the campaign's ``scheduled_time``; the value
          from the definition's ``resume:`` block therefore also counts as matching.
        """
        want, have = self.cmp.get("labels"), proj.get("labels")
        if isinstance(want, list) and isinstance(have, list):
            try:
                same = sorted(want) == sorted(have)
            except TypeError:  # mixed types: leave the ordered comparison
                same = False
            proj["labels"] = want if same else follow_order(have, want)
        resume = self.d.resume or {}
        if (
            "scheduled_time" in self.cmp
            and resume.get("scheduled_time") is not None
            and proj.get("scheduled_time") == resume.get("scheduled_time")
        ):
            proj["scheduled_time"] = self.cmp["scheduled_time"]

    def _cleared(self) -> list[str]:
        """Execution options the patch sets to ``null``: the API takes one at a time (seed 001
        names them together; a campaign holding two is refused), so a patch that sets one
        removes the other the campaign holds, unless the definition states that one itself.
        PATCH is a JSON merge patch (RFC 7386, as the docs say), where ``null`` removes a key."""
        setting = [k for k in _STORED_OPTIONS if k in self.changed and self.cmp.get(k) is not None]
        if self.launch_now:
            setting.append("run_immediately")
        if not setting:
            return []
        return [
            k
            for k in _STORED_OPTIONS
            if k not in setting and k not in self.cmp and self.remote.body.get(k) not in _NONE
        ]

    def _no_draft_return(self) -> None:
        if "is_draft" in self.changed and self.cmp.get("is_draft") is True and self.s != "draft":
            self.notes.append(
                Note(
                    Severity.ERROR,
                    f"is_draft: true, but the campaign is {self.s}: nothing moves back into draft. "
                    "Remove is_draft from the definition (or set it to false).",
                    self.d.address,
                )
            )
            self.raw = [r for r in self.raw if r[0][:1] != ("is_draft",)]
            self.changed.remove("is_draft")

    # --- steps ---

    def _patch(self) -> Step:
        # The compared (normalised) values, as the diff shows them.
        body = template_body({k: self.cmp[k] for k in self.changed}, self.desired)
        for k in self.cleared:
            body[k] = None
        if self.launch_now:
            body["run_immediately"] = self.desired.spec["run_immediately"]
        if self.adopt or not self.hash_current or "metadata" in self.changed:
            meta = body.get("metadata")
            body["metadata"] = {
                **(meta if isinstance(meta, dict) else {}),
                MARKER: self.d.key,
                HASH: self.h,
            }
        return Step(Op.PATCH, self.remote.id, body)

    def _resume_body(self) -> dict[str, Any] | None:
        return dict(self.d.resume) if self.d.resume else None

    @staticmethod
    def _resume_target(body: Mapping[str, Any] | None) -> str:
        """The status a resume leads to, as far as its body tells: ``running`` with
        ``run_immediately``, ``scheduled`` with a ``scheduled_time``. A resume without options
        is documented only as "reactivates": whether the campaign then runs or waits is Hood's
        to decide, so the plan says ``active`` (``state: active``'s word), not a guess."""
        if body and _truthy(body.get("run_immediately")):
            return "running"
        if body and body.get("scheduled_time"):
            return "scheduled"
        return "active"

    # --- decision ---

    def run(self) -> Change | None:
        """The change, following the state machine (module docstring)."""
        if self.s in CAMPAIGN_LOCKED:
            return self._frozen()
        if self.state == "canceled":
            outcome = self._to_canceled()
        elif self.state == "paused":
            outcome = self._to_paused()
        elif self.state == "active":
            outcome = self._to_active()
        else:
            outcome = self._spec_only()
        action, transition, steps, flags = outcome
        if steps and any(step.op is Op.PATCH for step in steps) and self.launch:
            flags = [*flags, Flag.LAUNCH]
            if self.launch_now:
                self.causes.append("run_immediately")
        if steps and self._past_times(steps):
            steps = []  # nothing is sent for a time that has passed: the notes say why
        self._trigger_note(steps)
        if steps:
            self._status_note()
            unused = _unused_resume_note(self.desired)
            if unused is not None:
                self.notes.append(unused)
        if not steps and not self.notes:
            return None
        if not steps:
            return self._change(Action.NOTE, "cannot be changed as the definition says", None, [])
        return self._change(
            action, self._describe(action, transition, flags), transition, steps, tuple(flags)
        )

    def _past_times(self, steps: Sequence[Step]) -> bool:
        """Note each time one of ``steps`` would send, or make the campaign's again, that has
        passed (:func:`_step_times`), and what then makes the change send at once. Returns
        whether one is an error: then nothing may be sent."""
        found = _step_times(steps, self.s, self.remote.body, self.cmp, self.now)
        catch_up = _setting(self.cmp, self.remote.body, "send_if_profile_time_passed")
        notes = [_past_note(self.desired, f, self.now, catch_up) for f in found]
        self.notes += notes
        self.causes += _send_causes(found, catch_up)
        return any(n.severity is Severity.ERROR for n in notes)

    def _trigger_note(self, steps: Sequence[Step]) -> None:
        """A warning when the definition states ``run_immediately`` for a campaign that
        exists, holds another execution option the definition does not state, is neither a
        draft (its launch carries the trigger) nor running, nor about to be canceled, and no
        step of ``steps`` sends it now (a resume with ``run_immediately``). The trigger is
        acted on only at a create (never compared afterwards), so a definition that put it in
        place of its ``scheduled_time`` or ``recurrence`` changes nothing: the reviewer is told
        what the campaign keeps and how to send it now."""
        spec, body = self.desired.spec, self.remote.body
        if not _truthy(spec.get("run_immediately")) or self.s in ("draft", "running"):
            return
        if self.state == "canceled" or any(
            s.op is Op.RESUME and s.body and _truthy(s.body.get("run_immediately")) for s in steps
        ):
            return
        held = [k for k in _STORED_OPTIONS if k not in self.cmp and body.get(k) not in _NONE]
        if not held:
            return
        keeps = (
            f"its scheduled_time {body['scheduled_time']} (GMT)"
            if held[0] == "scheduled_time"
            else f"its {held[0]}"
        )
        pause = "" if self.s == "paused" else "set state: paused and apply, then "
        self._note(
            Severity.WARNING,
            f"{self.d.locate(('spec', 'run_immediately'))}: run_immediately applies only when "
            f"a campaign is created (or a draft launched); campaign {self.remote.id} exists "
            f"({self.s}), so it keeps {keeps} and this plan does not send it now. To send it "
            f"now, {pause}set state: active with resume: {{run_immediately: true}}; to keep "
            f"it as it is, state its {held[0]} in place of run_immediately.",
        )

    def _want_patch(self) -> bool:
        return bool(self.changed) or self.adopt

    def _to_canceled(self) -> _Outcome:
        if self.s == "draft":
            self._note(
                Severity.ERROR,
                "a draft campaign cannot be canceled (the API cancels only "
                "running, scheduled or paused campaigns)",
            )
            return Action.NOTE, None, [], []
        if self.changed:
            self._note(
                Severity.INFO, "field differences are not applied: the campaign is being canceled"
            )
        steps = [Step(Op.CANCEL, self.remote.id, {"reason": "hoodsync: state canceled"})]
        return Action.CANCEL, (self.s, "canceled"), steps, [Flag.IRREVERSIBLE, Flag.REMOVAL]

    def _to_paused(self) -> _Outcome:
        if self.s == "paused":
            return self._edit_action(), None, [self._patch()] if self._want_patch() else [], []
        if self.s == "draft":
            self._note(
                Severity.ERROR,
                "a draft campaign cannot be paused (the API pauses only "
                "running or scheduled campaigns)",
            )
            return Action.NOTE, None, [], []
        steps = [Step(Op.PAUSE, self.remote.id, {"reason": "hoodsync: state paused"})]
        if self._want_patch() or not self.hash_current:
            steps.append(self._patch())  # after the pause: paused campaigns accept PATCH
        return Action.PAUSE, (self.s, "paused"), steps, []

    def _to_active(self) -> _Outcome:
        rid = self.remote.id
        if self.s == "paused":
            body = self._resume_body()
            # Patch first: a paused campaign accepts PATCH, a running one does not.
            patch = [self._patch()] if self._want_patch() or not self.hash_current else []
            if body and _truthy(body.get("run_immediately")):
                self.causes.append("resume: run_immediately")
            steps = patch + [Step(Op.RESUME, rid, body)]
            return Action.RESUME, ("paused", self._resume_target(body)), steps, []
        if not self._want_patch():
            return self._edit_action(), None, [], []
        if self.s != "running":
            return self._edit_action(), None, [self._patch()], []
        # The API refuses edits while running. The resume body is empty on purpose: it returns
        # the campaign to running without re-triggering a send.
        steps = [
            Step(Op.PAUSE, rid, {"reason": "hoodsync: edit of a running campaign"}),
            self._patch(),
            Step(Op.RESUME, rid, None),
        ]
        return self._edit_action(), None, steps, [Flag.LIVE_EDIT]

    def _spec_only(self) -> _Outcome:
        """No ``state:``: patch what differs, keep whatever status the campaign has."""
        if not self._want_patch():
            return self._edit_action(), None, [], []
        if self.s == "running":
            return self._to_active()  # pause → patch → resume: it stays running
        return self._edit_action(), None, [self._patch()], []

    def _edit_action(self) -> Action:
        return Action.ADOPT if self.adopt else Action.UPDATE

    def _describe(
        self, action: Action, transition: tuple[str, str] | None, flags: list[Flag]
    ) -> str:
        if action is Action.UPDATE:
            text = "will be updated in place"
        else:
            state_verb = {
                Action.PAUSE: "paused",
                Action.RESUME: "resumed",
                Action.CANCEL: "canceled",
            }.get(action)
            verbs = (
                []
                if action is Action.CANCEL
                else [
                    v for v, on in (("adopted", self.adopt), ("updated", bool(self.changed))) if on
                ]
            )
            text = "will be " + _verbs(*(verbs + ([state_verb] if state_verb else [])))
        if self.adopt and action is not Action.CANCEL:
            text += " (matched by name; the hoodsync marker is written)"
        if transition:
            text += f" ({transition[0]} -> {transition[1]}{self._transition_detail(action)})"
        if Flag.LAUNCH in flags:
            how = "it sends at once" if self.launch_now else "it sends on its own schedule"
            text += f" (launches the draft: is_draft true -> false, {how})"
        if Flag.LIVE_EDIT in flags:
            text += " (running: pause, update, resume)"
        return text

    def _transition_detail(self, action: Action) -> str:
        """What follows the transition: that a cancel is irreversible; what a resume asks."""
        if action is Action.CANCEL:
            return ", irreversible"
        if action is not Action.RESUME:
            return ""
        body = self.d.resume or {}
        if _truthy(body.get("run_immediately")):
            return ", run_immediately: sends at once"
        if body.get("scheduled_time"):
            return f" at {body['scheduled_time']} GMT"
        return ": running or waiting, as the server decides"

    def _status_note(self) -> None:
        """Say how a status outside the documented state machine was read (module docstring)."""
        if self.s in ("active", "manual"):
            # Where the docs show them: seed 000 (a create response), seed 001 (the rules).
            seen = (
                "a create-campaign response example shows it"
                if self.s == "active"
                else 'a campaign without execution options "will be marked as manual"'
            )
            self._note(
                Severity.INFO,
                f"status {self.s!r} has no documented rules ({seen}); hoodsync "
                "treats it like scheduled: edited in place, paused and canceled alike",
            )
        elif self.s not in CAMPAIGN_STATUSES:
            self._note(
                Severity.WARNING,
                f"campaign {self.remote.id} has status {self.s!r}, which the "
                "Hood docs do not name; hoodsync plans what the definition asks for and "
                "the API decides: a refusal is reported as a failed step of the apply",
            )

    def _frozen(self) -> Change | None:
        """sent / canceled / needs_decision: nothing can be written."""
        satisfied = (
            self.state is None
            or (self.state == "active" and self.s not in ("canceled",))
            or (self.state == "canceled" and self.s == "canceled")
        )
        if self.s == "canceled" and self.state == "canceled" and not self.adopt and not self.notes:
            # Canceled, as wanted: nothing can be written any more, so differing fields are
            # moot (as they are for a campaign being canceled) and the definition is done.
            return None
        if not self.changed and satisfied and not self.adopt and not self.notes:
            return None
        if self.s == "canceled":
            why = (
                "was canceled, which is irreversible: it cannot be edited or resumed. Set "
                "state: canceled to keep it as is, or give the definition a new key and name "
                "to create a new campaign."
            )
        elif self.s == "sent":
            why = (
                "has been sent and cannot be edited any more. Make the definition match "
                "again, or give it a new key and name to create a new campaign."
            )
        else:
            why = (
                "is waiting for an A/B test winner (needs_decision) and cannot be edited "
                "meanwhile; set the winner in Hood first."
            )
        what = []
        if self.adopt:
            what.append(
                "it has this definition's name but no hoodsync marker, and the marker "
                "cannot be written"
            )
        if self.changed:
            what.append("fields differ: " + ", ".join(self.changed))
        if not satisfied:
            what.append(f"state: {self.state} is wanted")
        self._error(f"campaign {self.remote.id} {why} ({'; '.join(what)})")
        return self._change(Action.NOTE, f"cannot be changed ({self.s})", None, [])

    def _error(self, message: str) -> None:
        self._note(Severity.ERROR, message)

    def _note(self, severity: Severity, message: str) -> None:
        self.notes.append(Note(severity, message, self.d.address))

    def _change(
        self,
        action: Action,
        description: str,
        transition: tuple[str, str] | None,
        steps: list[Step],
        flags: tuple[Flag, ...] = (),
    ) -> Change:
        drift = (
            self.stored_hash is not None
            and self.hash_current
            and bool(steps)
            and (bool(self.changed) or transition is not None)
        )
        resource = Resource.of(self.desired).on(
            self.remote,
            self.rules.fingerprint_normalised(self.remote.body),
            field_diffs(
                self.raw,
                self.desired.sensitive,
                self.desired.sensitive_names,
                key=self.desired.value_key,
            ),
        )
        return resource.change(
            action,
            description,
            transition=transition,
            steps=steps,
            notes=self.notes,
            flags=flags,
            drift=drift,
            sends=_cause(self.causes) if steps else None,
        )
