"""The nouns every layer shares: kinds, locations, definitions and remote objects.

All are frozen dataclasses holding plain JSON-like data (dict / list / str / int / float / bool /
None). Nothing here does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JsonPath = tuple[str | int, ...]


class Kind(str, enum.Enum):
    """A kind of managed object. The value is the spelling used in definition files."""

    CAMPAIGN = "Campaign"
    PUSH_TASK = "PushTask"
    EMAIL_CAMPAIGN = "EmailCampaign"

    @property
    def slug(self) -> str:
        """Lower-case address prefix used in plans and ``--target``: ``campaign``, ``push_task``…"""
        return _SLUGS[self]

    @property
    def system(self) -> str:
        """Which API serves the kind: ``"hood"`` or ``"falconyte"``."""
        return "falconyte" if self is Kind.EMAIL_CAMPAIGN else "hood"

    @classmethod
    def from_slug(cls, slug: str) -> Kind:
        """Inverse of :attr:`slug`; raises ``ValueError`` for an unknown slug."""
        for kind, s in _SLUGS.items():
            if s == slug:
                return kind
        raise ValueError(f"unknown kind {slug!r}")


_SLUGS = {
    Kind.CAMPAIGN: "campaign",
    Kind.PUSH_TASK: "push_task",
    Kind.EMAIL_CAMPAIGN: "email_campaign",
}

#: Allowed values of a definition's ``state:`` per kind.
STATES: Mapping[Kind, tuple[str, ...]] = {
    Kind.CAMPAIGN: ("active", "paused", "canceled"),
    Kind.PUSH_TASK: ("active", "inactive"),
    Kind.EMAIL_CAMPAIGN: ("active", "stopped"),
}


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """A place in a file: 1-based line and column. ``str()`` gives ``path:line:col``."""

    path: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Definition:
    """One desired object, as written in a definition file.

    ``spec`` is the API request body exactly as written (plain JSON-like data). ``locations``
    maps a JSON path inside the *document* (``("spec", "messages", 1, "name")``) to where that
    node starts; :meth:`locate` finds the closest known place for any path.
    """

    kind: Kind
    key: str
    spec: Mapping[str, Any]
    location: Location
    state: str | None = None
    order: int = 0
    resume: Mapping[str, Any] | None = None
    locations: Mapping[JsonPath, Location] = field(default_factory=dict, compare=False, repr=False)

    @property
    def address(self) -> str:
        """``kind.key``, e.g. ``campaign.welcome-push``: the name used in plans and ``--target``."""
        return f"{self.kind.slug}.{self.key}"

    @property
    def name(self) -> str | None:
        """The object's API name (``spec.name``), if stated."""
        name = self.spec.get("name")
        return name if isinstance(name, str) else None

    def locate(self, path: JsonPath) -> Location:
        """Where ``path`` (a document JSON path) is, or its nearest located ancestor."""
        for end in range(len(path), 0, -1):
            loc = self.locations.get(tuple(path[:end]))
            if loc is not None:
                return loc
        return self.location


@dataclass(frozen=True, slots=True)
class RemoteObject:
    """One object read from an account, normalised by its kind module.

    ``id`` is always a string. ``status`` is the kind's lifecycle word (campaign: the API's
    status string; push task: ``inactive`` / ``active`` / ``finished``; email campaign:
    ``active`` / ``stopped``). ``body`` is the full normalised object. ``marker`` is the
    hoodsync key found on it (campaign ``metadata.hoodsync_key``), if any.
    """

    kind: Kind
    id: str
    name: str
    status: str
    body: Mapping[str, Any]
    marker: str | None = None
    created_at: str | None = None
