"""Hood push tasks: normalisation, matching by exact name, activate/deactivate (DESIGN §2–3).

Push tasks carry no free-form field, so identity is the exact ``name`` (validation keeps names
unique among definitions; two remote tasks with one name is an error note). State lives in the
integer ``status``: 0 inactive, 1 active, 2 finished (set by the system; a finished task cannot be
edited). ``state: active|inactive`` maps to 1/0 and wins over ``spec.status``; with neither,
status is not compared. A finished task satisfies either wanted status — it has run and is not
sending — so a one-shot task does not turn into a perpetual note once it is done.

``start_time: immediately`` is a create-time trigger: the server stores the actual time, so it
is never compared.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from hoodsync.kinds.base import (
    Context,
    Desired,
    KindRules,
    Match,
    RawDiff,
    changed_top_keys,
    coerce,
    copy_json,
    diff,
    digits_to_int,
    field_diffs,
    group_by,
    project,
    template_body,
    to_str_id,
)
from hoodsync.model import Kind, RemoteObject
from hoodsync.plan import Change, Note, Step, fingerprint_body

__all__ = ["PushTaskRules", "STATUS_WORDS"]

STATUS_WORDS = {0: "inactive", 1: "active", 2: "finished"}
_STATE_STATUS = {"active": 1, "inactive": 0}

_INT_PATHS: tuple[tuple[str, ...], ...] = (
    ("status",),
    ("ttl",),
    ("frequency",),
    ("user_time_zone",),
    ("total_user",),
    ("quiet_time", "from"),
    ("quiet_time", "to"),
    ("targeting", "subscribed_age", "from"),
    ("targeting", "subscribed_age", "to"),
    ("adex", "number_of_messages"),
    ("adex", "repeat_on_click"),
)
_ID_PATHS: tuple[tuple[str, ...], ...] = (("id",),)


class PushTaskRules(KindRules):
    """Rules for ``kind: PushTask``."""

    kind = Kind.PUSH_TASK
    volatile = frozenset({"next_execution_time", "last_execution_time", "total_user"})

    def normalise(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Documented numeric fields as integers (the API returns ``"3600"``; users may write
        either), ids as strings. Idempotent; applied to specs and remote objects alike."""
        out: dict[str, Any] = copy_json(data)
        for path in _INT_PATHS:
            if path[0] in out:
                coerce(out, path, digits_to_int)
        for path in _ID_PATHS:
            if path[0] in out:
                coerce(out, path, to_str_id)
        return out

    def from_remote(self, data: Mapping[str, Any]) -> RemoteObject:
        """Client dict → RemoteObject with status ``inactive`` / ``active`` / ``finished``."""
        body = self.normalise(data)
        status = body.get("status")
        return RemoteObject(
            kind=self.kind,
            id=str(body.get("id", "")),
            name=str(body.get("name", "")),
            status=STATUS_WORDS.get(status, str(status)) if isinstance(status, int) else str(status),
            body=body,
            created_at=body.get("create_time"),
        )

    def match(self, desired: Sequence[Desired], remote: Sequence[RemoteObject]) -> Match:
        """Exact name; two remote tasks with a definition's name is an error, not a guess."""
        m = Match()
        by_name = group_by(remote, lambda r: r.name)
        used: set[str] = set()
        for des in desired:
            named = by_name.get(des.name, []) if des.name is not None else []
            if len(named) > 1:
                ids = ", ".join(r.id for r in named)
                m.blocked[des.address] = [
                    Note(
                        "error",
                        f"{len(named)} remote push tasks are named {des.shown_name!r} (ids {ids}); push "
                        "tasks are matched by name, so hoodsync will not guess. Rename or "
                        "deactivate the extra ones in Hood, then plan again.",
                        des.address,
                    )
                ]
            elif named:
                m.pairs[des.address] = named[0]
            used.update(r.id for r in named)
        m.unmanaged = [r for r in remote if r.id not in used]
        return m

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
        d = desired.definition
        norm = self.normalise(desired.spec)
        want = self._wanted_status(desired, norm)
        common: dict[str, Any] = dict(
            address=d.address,
            kind=self.kind,
            key=d.key,
            name=desired.shown_name,
            order=d.order,
            sensitive=desired.sensitive_values(),
        )
        if remote is None:
            return self._create(desired, norm, want, common)
        return self._update(desired, self.compare_spec(norm), want, remote, common)

    def _create(
        self, desired: Desired, norm: dict[str, Any], want: int | None, common: dict[str, Any]
    ) -> Change:
        body = template_body(desired.spec, desired)
        shown = dict(norm)
        if want is not None:  # state: wins over spec.status
            body["status"] = shown["status"] = want
        raw: list[RawDiff] = [((k,), "add", None, v) for k, v in shown.items()]
        return Change(
            action="create",
            description="will be created",
            steps=(Step("create", None, body),),
            diff=field_diffs(raw, desired.sensitive),
            **common,
        )

    def _update(
        self,
        desired: Desired,
        cmp: dict[str, Any],
        want: int | None,
        remote: RemoteObject,
        common: dict[str, Any],
    ) -> Change | None:
        proj = project(cmp, remote.body)
        raw = [] if proj == cmp else diff(proj, cmp)
        changed = changed_top_keys(raw)
        current = remote.body.get("status")
        common.update(
            remote_id=remote.id,
            remote_status=remote.status,
            fingerprint=fingerprint_body(
                {k: v for k, v in remote.body.items() if k not in self.volatile}
            ),
            diff=field_diffs(raw, desired.sensitive),
        )
        if current == 2:
            return self._finished(desired, remote, changed, common) if changed else None
        if want is None or want == current:
            if not changed:
                return None
            action, description, transition = "update", "will be updated in place", None
        else:
            action = "activate" if want == 1 else "deactivate"
            transition = (remote.status, STATUS_WORDS[want])
            description = (
                f"will be {'updated and ' if changed else ''}{action}d "
                f"({transition[0]} -> {transition[1]})"
            )
        body = template_body({k: desired.spec[k] for k in changed}, desired)
        if transition is not None:
            body["status"] = want  # one PATCH carries the edits and the new status
        return Change(
            action=action,
            description=description,
            transition=transition,
            steps=(Step("patch", remote.id, body),),
            flags=("removal",) if action == "deactivate" else (),
            **common,
        )

    @staticmethod
    def _finished(
        desired: Desired, remote: RemoteObject, changed: list[str], common: dict[str, Any]
    ) -> Change:
        return Change(
            action="note",
            description="cannot be changed (finished)",
            notes=(
                Note(
                    "error",
                    f"push task {remote.id} has finished (status 2) and cannot be edited; "
                    f"fields differ: {', '.join(changed)}. Make the definition match again, "
                    "or give it a new key and name to create a new task.",
                    desired.address,
                ),
            ),
            **common,
        )
