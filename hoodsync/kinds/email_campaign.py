"""Falconyte event-triggered email campaigns (issue 7, DESIGN §2–3).

The API has create, list, start and stop — no update, no delete, no free-form field. So:

- identity is the exact ``name``; after a replacement several campaigns share it: the newest
  (``created_at``, then id) is managed, older *stopped* ones are **superseded** (listed, never
  touched again). Two or more not-stopped campaigns with one name is an error note naming the ids
  (issue 7: both would send). One exception can be finished: when the newest already is exactly
  what the definition says, a replacement was cut off before stopping the old one(s); the note
  says so, and with ``allow_replace`` the plan stops the older live ones instead.
- status word from ``draft_data.send_data.event_triggered_send.enabled``: ``active`` / ``stopped``;
  ``state: active|stopped`` → start/stop. No ``state:`` leaves the trigger alone (DESIGN §3: only
  what the definition states is compared): no start, no stop; a new campaign starts enabled, as
  the API creates it, and a replacement keeps the old campaign's status.
- any spec difference needs a new campaign: **replace** (create new, stop old), planned only with
  ``allow_replace``; otherwise an error note (the plan exits non-zero).

The remote object is compared in the spec's shape (:meth:`EmailCampaignRules.spec_view`).
``template_ids``, ``mail_account_ids`` and ``events`` are compared as unordered sets: the API
gives their order no meaning, and a reorder must not cost a replacement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from hoodsync.kinds.base import (
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
    project,
    template_body,
)
from hoodsync.lookalikes import quoted_name
from hoodsync.model import Kind, RemoteObject
from hoodsync.plan import (
    Action,
    Change,
    Flag,
    Note,
    Op,
    Severity,
    Step,
    fingerprint_body,
    stops_created,
)
from hoodsync.wire import EMAIL_STOPPED, email_campaign_status

__all__ = ["EmailCampaignRules", "SET_FIELDS", "live_until_stopped"]

#: Compared as unordered sets (module docstring).
SET_FIELDS = ("template_ids", "mail_account_ids", "events")
_SET_FIELDS = SET_FIELDS


def live_until_stopped(address: str) -> Note:
    """The note on a change that creates a campaign and then stops it
    (:func:`~hoodsync.plan.stops_created`): the new campaign sends in between."""
    return Note(
        Severity.INFO,
        "Falconyte creates campaigns enabled and cannot create one stopped: the new campaign "
        "is live, sending on its events, from its create until the stop that follows it (a "
        "moment; if the apply is cut off or fails in between, it stays live until an apply "
        "stops it, and the next plan does)",
        address,
    )


def _send_data(data: Mapping[str, Any]) -> Mapping[str, Any]:
    draft = data.get("draft_data")
    send = draft.get("send_data") if isinstance(draft, Mapping) else None
    return send if isinstance(send, Mapping) else {}


class EmailCampaignRules(KindRules):
    """Rules for ``kind: EmailCampaign``."""

    kind = Kind.EMAIL_CAMPAIGN
    volatile = frozenset()

    def normalise(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Ids as strings; nothing else needs retyping (Falconyte returns what it was sent)."""
        out: dict[str, Any] = copy_json(data)
        if "id" in out and out["id"] is not None:
            out["id"] = str(out["id"])
        return out

    @staticmethod
    def spec_view(body: Mapping[str, Any]) -> dict[str, Any]:
        """A remote campaign in the create body's shape: name, template_ids, mail_account_ids,
        events (from ``draft_data.send_data``). Keys the remote lacks are left out."""
        send = _send_data(body)
        out: dict[str, Any] = {}
        if "name" in body:
            out["name"] = body["name"]
        for k in ("template_ids", "mail_account_ids"):
            if k in send:
                out[k] = copy_json(send[k])
        ets = send.get("event_triggered_send")
        if isinstance(ets, Mapping) and "events" in ets:
            out["events"] = copy_json(ets["events"])
        return out

    def _object(self, body: Mapping[str, Any]) -> RemoteObject:
        """Normalised body → RemoteObject with status ``active`` / ``stopped`` (``unknown`` if
        the object says neither)."""
        return RemoteObject(
            kind=self.kind,
            id=str(body.get("id", "")),
            name=str(body.get("name", "")),
            status=email_campaign_status(body),
            body=body,
            created_at=body.get("created_at"),
        )

    def fingerprint(self, data: Mapping[str, Any]) -> str:
        """Fingerprint of what hoodsync compares and controls (spec view + status): the send
        countdowns and timestamps in the full object move on their own."""
        obj = self.from_remote(data)
        return fingerprint_body({"spec": self.spec_view(obj.body), "status": obj.status})

    def match(
        self,
        desired: Sequence[Desired],
        remote: Sequence[RemoteObject],
        resolve_duplicates: bool = False,
    ) -> Match:
        """Newest by ``created_at`` is managed; older stopped ones are superseded; an older
        active one is an error (two live campaigns would both send)."""
        m = Match()
        by_name = group_by(remote, lambda r: r.name)
        used: set[str] = set()
        for des in desired:
            group = by_name.get(des.name, []) if des.name is not None else []
            if not group:
                continue
            group = sorted(group, key=lambda r: (r.created_at or "", r.id))
            newest, older = group[-1], group[:-1]
            used.update(r.id for r in group)
            live_older = [r for r in older if r.status != "stopped"]
            if live_older and self._same_spec(des, newest):
                # The newest already is what the definition says: a replacement was cut off
                # after its create and before stopping the old campaign(s). finish_leftovers
                # decides (it knows allow_replace). The live ones are not superseded (yet).
                m.pairs[des.address] = newest
                m.leftovers[des.address] = live_older
                m.superseded.extend((des.address, r) for r in older if r.status == "stopped")
                continue
            if live_older:
                active = [r for r in group if r.status != "stopped"]
                ids = ", ".join(f"{r.id} ({r.created_at or 'no created_at'})" for r in active)
                m.blocked[des.address] = [
                    Note(
                        Severity.ERROR,
                        f"{len(active)} email campaigns named {quoted_name(des.shown_name)} are not stopped: {ids}. "
                        + self._which_to_stop(des, newest, live_older),
                        des.address,
                    )
                ]
                continue
            m.pairs[des.address] = newest
            m.superseded.extend((des.address, r) for r in older)
        m.unmanaged = [r for r in remote if r.id not in used]
        return m

    def _which_to_stop(
        self, desired: Desired, newest: RemoteObject, live_older: Sequence[RemoteObject]
    ) -> str:
        """What to do about live campaigns of one name whose newest differs from the
        definition. When an older one is exactly what the definition says, it is most likely
        the definition's own and the newest someone else's (made in Falconyte, or by another
        definition whose name resolved to this one): stopping "the older ones" would stop the
        definition's own campaign and leave the other one sending."""
        own = [r.id for r in live_older if self._same_spec(desired, r)]
        if not own:
            return (
                f"hoodsync manages only the newest ({newest.id}); stop the older ones in "
                "Falconyte (or rename them), then plan again."
            )
        return (
            f"{', '.join(own)} {'is' if len(own) == 1 else 'are'} exactly what this definition "
            f"says, the newest ({newest.id}) is not: most likely it is not this definition's "
            "(made in Falconyte, or for another definition). Stop (or rename) in Falconyte "
            "those that are not this definition's, then plan again."
        )

    def live(self, remote: RemoteObject) -> bool:
        """Not stopped (a stopped campaign is what a replacement leaves: superseded)."""
        return remote.status != EMAIL_STOPPED

    def created_state(self, steps: Sequence[Step]) -> str | None:
        """``stopped`` when the create is followed by the stop of what it made (:meth:`plan`
        adds it for ``state: stopped``), else ``None``: ``state: active`` and no ``state:``
        make the same steps. Of the two, ``None`` is the one under which more objects count
        as differing in their name alone (with ``allow_replace``, ``state: active`` beside a
        stopped object is a replacement that also starts it, not one that only renames), so
        none the planner would warn about is missed."""
        return "stopped" if stops_created(steps) else None

    def _compare(self, desired: Desired, remote: RemoteObject) -> list[RawDiff]:
        """Differences between the definition and ``remote`` in the spec's shape (the id lists
        and events compared as sets)."""
        cmp = self.normalise(desired.spec)
        proj = project(cmp, self.spec_view(remote.body))
        if isinstance(proj, dict):
            for k in _SET_FIELDS:
                want, have = cmp.get(k), proj.get(k)
                if isinstance(want, list) and isinstance(have, list):
                    if sorted(map(str, want)) == sorted(map(str, have)):
                        proj[k] = want
                    else:  # an addition or removal shows as such, never as a move
                        proj[k] = follow_order(have, want)
        return [] if proj == cmp else diff(proj, cmp)

    def _same_spec(self, desired: Desired, remote: RemoteObject) -> bool:
        return not self._compare(desired, remote)

    def finish_leftovers(
        self,
        desired: Desired,
        change: Change | None,
        leftovers: Sequence[RemoteObject],
        ctx: Context | None = None,
        newest: RemoteObject | None = None,
    ) -> Change | None:
        """An interrupted replacement left older campaigns active. Without ``allow_replace``:
        an error note (two live campaigns with one name, issue 7) saying how to finish it.
        With it: stop them, after the newest's own steps, if any."""
        d = desired.definition
        ordered = sorted(leftovers, key=lambda r: r.id)
        ids = ", ".join(r.id for r in ordered)
        # Two applies that raced leave the same shape: --resolve-duplicates settles it too.
        resource = Resource(d.address, self.kind, d.key, desired.shown_name, d.order)
        if ctx is None or not (ctx.allow_replace or ctx.resolve_duplicates):
            return resource.change(
                Action.NOTE,
                "cannot be planned (several active campaigns with this name)",
                notes=(
                    Note(
                        Severity.ERROR,
                        f"older email campaign(s) {ids} named {quoted_name(desired.shown_name)} are still "
                        "active next to the newest one"
                        + (f", {newest.id}," if newest is not None else "")
                        + " (two live campaigns would both send). The newest matches the "
                        "definition exactly: a replacement was interrupted after creating it and "
                        f"before stopping the old one(s), or two applies raced. Run with "
                        "--allow-replace (or --resolve-duplicates) to let hoodsync finish it by "
                        f"stopping {ids}, or stop them in Falconyte.",
                        d.address,
                    ),
                ),
            )
        stops = tuple(Step(Op.STOP, r.id, None) for r in ordered)
        note = Note(
            Severity.WARNING,
            f"older campaign(s) {ids} named {quoted_name(desired.shown_name)} are still active: a "
            "replacement was interrupted before stopping them; they will be stopped",
            desired.address,
        )
        if change is not None:
            return replace(change, steps=change.steps + stops, notes=change.notes + (note,))
        return resource.change(
            Action.STOP,
            f"will finish a replacement: stop {len(stops)} older campaign(s)",
            steps=stops,
            notes=(note,),
            flags=(Flag.REMOVAL,),
        )

    def plan(self, desired: Desired, remote: RemoteObject | None, ctx: Context) -> Change | None:
        """Create, start/stop, or replace (only with ``allow_replace``)."""
        d = desired.definition
        state = d.state
        cmp = self.normalise(desired.spec)
        resource = Resource.of(desired)
        body = template_body(desired.spec, desired)
        if remote is None:
            raw: list[RawDiff] = [((k,), "add", None, v) for k, v in cmp.items()]
            steps = [Step(Op.CREATE, None, body)]
            description = "will be created"
            notes: tuple[Note, ...] = ()
            if state == "stopped":
                # New campaigns start enabled; there is no way to create one stopped.
                steps.append(Step(Op.STOP, None, None))
                description = "will be created and stopped"
                notes = (live_until_stopped(d.address),)
            return resource.change(
                Action.CREATE,
                description,
                steps=steps,
                diff=field_diffs(
                    raw, desired.sensitive, desired.sensitive_names, key=desired.value_key
                ),
                notes=notes,
            )
        raw = self._compare(desired, remote)
        resource = resource.on(
            remote,
            self.fingerprint(remote.body),
            field_diffs(raw, desired.sensitive, desired.sensitive_names, key=desired.value_key),
        )
        if raw:
            return self._replace(desired, remote, body, state, changed_top_keys(raw), ctx, resource)
        if state == "active" and remote.status == "stopped":
            return resource.change(
                Action.START,
                "will be started (stopped -> active)",
                transition=("stopped", "active"),
                steps=(Step(Op.START, remote.id, None),),
            )
        if state == "stopped" and remote.status != "stopped":
            return resource.change(
                Action.STOP,
                f"will be stopped ({remote.status} -> stopped)",
                transition=(remote.status, "stopped"),
                steps=(Step(Op.STOP, remote.id, None),),
                flags=(Flag.REMOVAL,),
            )
        return None

    def _replace(
        self,
        desired: Desired,
        remote: RemoteObject,
        body: dict[str, Any],
        state: str | None,
        changed: list[str],
        ctx: Context,
        resource: Resource,
    ) -> Change:
        address = desired.address
        description = "will be replaced (create new, stop old)"
        if not ctx.allow_replace:
            return resource.change(
                Action.REPLACE,
                description,
                notes=(
                    Note(
                        Severity.ERROR,
                        "the Falconyte API has no update, so changing "
                        f"{', '.join(changed)} needs a new campaign (create new, stop old "
                        f"{remote.id}); run with --allow-replace to do that",
                        address,
                    ),
                ),
            )
        if state is None:
            # The lifecycle is not managed: the new campaign takes over the old one's status,
            # so a campaign someone stopped does not start sending again because of an edit.
            state = "stopped" if remote.status == "stopped" else "active"
        steps = [Step(Op.CREATE, None, body)]
        notes = [
            Note(
                Severity.INFO,
                f"Falconyte cannot delete: the old campaign {remote.id} stays, stopped, and "
                "is listed as superseded from now on",
                address,
            )
        ]
        if state == "stopped":
            steps.append(Step(Op.STOP, None, None))
            notes.append(live_until_stopped(address))
        if remote.status != "stopped":
            steps.append(Step(Op.STOP, remote.id, None))
        return resource.change(
            Action.REPLACE,
            description,
            transition=(remote.status, state) if remote.status != state else None,
            steps=steps,
            notes=notes,
        )
