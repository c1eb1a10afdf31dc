"""The objects sharing a change's identity (:class:`~hoodsync.plan.Namesake`), found the same
way when the plan is made and when apply checks it still holds.

A change's identity is what the planner matches its definition by, and what it warns about a
create beside: a campaign's marker (``metadata.hoodsync_key``), else its name; push tasks and
email campaigns by name alone. Names count when they are the same *to the eye*
(:func:`hoodsync.lookalikes.skeleton`), as the planner's look-alike warnings count them: an
object named ``D\\u0430ily`` beside ``Daily`` is one a reviewer cannot tell apart.

The planner refuses a definition several live objects claim (push tasks, campaigns by marker
or name, email campaigns but for superseded stopped ones), so the objects it saw decided what
the plan does. A same-name object created after the plan (a teammate in the UI, another
runner's apply) would make a fresh plan refuse, or warn; a plan that only re-read the object
it acts on would go ahead, and both objects would send. So a plan records its namesakes, and
apply refuses it as stale when they differ.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from hoodsync.kinds.base import KindRules, group_by
from hoodsync.lookalikes import skeleton
from hoodsync.model import Kind, RemoteObject
from hoodsync.plan import Change, Namesake
from hoodsync.wire import CAMPAIGN_RETIRED

__all__ = ["IdentityIndex", "acted_on", "acted_on_id", "identity", "namesake_changes"]


class IdentityIndex:
    """One kind's remote objects, indexed for :meth:`namesakes` (built lazily: most plans
    ask nothing of it)."""

    def __init__(self, rules: KindRules, objects: Sequence[RemoteObject]) -> None:
        self.rules = rules
        self.objects = objects
        self._by_skeleton: dict[str, list[RemoteObject]] | None = None
        self._by_marker: dict[str, list[RemoteObject]] | None = None
        self._by_id: dict[str, RemoteObject] | None = None
        self._matched: tuple[frozenset[str], frozenset[str]] | None = None

    def by_id(self, ident: str | None) -> RemoteObject | None:
        """The object with id ``ident``, if any."""
        if self._by_id is None:
            self._by_id = {o.id: o for o in self.objects}
        return self._by_id.get(ident) if ident is not None else None

    def matches(self, key: str, name: str | None) -> bool:
        """Whether the planner would match a definition of ``key`` named ``name`` (``None``:
        the name does not count) to one of these objects, as it matches them: a campaign by
        its marker, else by exact name among campaigns with no marker (one carrying another
        key's marker — an orphan after a key rename, another project's — is never it); push
        tasks and email campaigns by exact name. A finished campaign (canceled, sent) with no
        marker is never adopted (:meth:`~hoodsync.kinds.campaign.CampaignRules.match`), so a
        create beside one is no create of an object that now exists. Names count exactly
        here, not to the eye (look-alikes are :meth:`namesakes`'). Two sets built on first
        use: linear in the objects however many creates ask."""
        if self._matched is None:
            self._matched = self._matchable()
        markers, names = self._matched
        return key in markers or (name is not None and name in names)

    def _matchable(self) -> tuple[frozenset[str], frozenset[str]]:
        """The markers and the names :meth:`matches` finds a definition by."""
        if self.rules.kind is not Kind.CAMPAIGN:
            return frozenset(), frozenset(o.name for o in self.objects)
        markers = frozenset(str(o.marker) for o in self.objects if o.marker)
        names = frozenset(
            o.name for o in self.objects if not o.marker and o.status not in CAMPAIGN_RETIRED
        )
        return markers, names

    def namesakes(self, key: str, name: str | None) -> tuple[Namesake, ...]:
        """The objects carrying ``key`` as their marker (campaigns) or a name that looks like
        ``name`` (``None``: the name does not count), in id order."""
        found: dict[str, RemoteObject] = {}
        if self.rules.kind is Kind.CAMPAIGN:
            if self._by_marker is None:
                self._by_marker = group_by((o for o in self.objects if o.marker), _marker)
            found.update((o.id, o) for o in self._by_marker.get(key, ()))
        if name is not None:
            if self._by_skeleton is None:
                self._by_skeleton = group_by(self.objects, lambda o: skeleton(o.name))
            found.update((o.id, o) for o in self._by_skeleton.get(skeleton(name), ()))
        return tuple(sorted(Namesake(o.id, self.rules.live(o)) for o in found.values()))


def _marker(obj: RemoteObject) -> str:
    return str(obj.marker)


def acted_on(change: Change, index: IdentityIndex) -> RemoteObject | None:
    """The existing object ``change`` acts on (:func:`acted_on_id`), from ``index``."""
    return index.by_id(acted_on_id(change))


def acted_on_id(change: Change) -> str | None:
    """The id of the existing object ``change`` acts on: its remote object, else the object of
    its first step that names one (a change that only stops what a replacement left live)."""
    return change.remote_id or next((s.id for s in change.steps if s.id), None)


def identity(change: Change, obj: RemoteObject | None, created_name: str | None) -> str | None:
    """The name that counts for ``change``'s namesakes: none for a campaign matched by its
    marker (the planner pairs it by that alone); else the name of the object it acts on (the
    definition's, matched exactly); else ``created_name``, the name its create sends."""
    if obj is not None:
        if change.kind is Kind.CAMPAIGN and obj.marker == change.key:
            return None
        return obj.name
    return created_name


def namesake_changes(
    changes: Sequence[Change], index: IdentityIndex, created_names: Mapping[str, str | None]
) -> list[Change]:
    """``changes`` (of ``index``'s kind), each with steps given its namesakes;
    ``created_names``: address → the (resolved) name each create sends."""
    out = []
    for change in changes:
        if change.steps:
            obj = acted_on(change, index)
            name = identity(change, obj, created_names.get(change.address))
            change = dataclasses.replace(change, namesakes=index.namesakes(change.key, name))
        out.append(change)
    return out
