"""Per-kind domain rules: normalisation, matching and the actions a difference needs.

``rules_for(kind)`` gives the :class:`~hoodsync.kinds.base.KindRules` of a kind;
``fingerprint(kind, remote_dict)`` is what a saved plan records per change and what apply
recomputes on a fresh read to detect a stale plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hoodsync.kinds.base import KindRules
from hoodsync.kinds.campaign import CampaignRules
from hoodsync.kinds.email_campaign import EmailCampaignRules
from hoodsync.kinds.push_task import PushTaskRules
from hoodsync.model import Kind, RemoteObject

__all__ = ["RULES", "rules_for", "fingerprint", "from_remote"]

RULES: Mapping[Kind, KindRules] = {
    Kind.CAMPAIGN: CampaignRules(),
    Kind.PUSH_TASK: PushTaskRules(),
    Kind.EMAIL_CAMPAIGN: EmailCampaignRules(),
}


def rules_for(kind: Kind) -> KindRules:
    """The rules object of ``kind``."""
    return RULES[kind]


def fingerprint(kind: Kind, data: Mapping[str, Any]) -> str:
    """Fingerprint of a remote object as the client returns it (same value the plan stored)."""
    return RULES[kind].fingerprint(data)


def from_remote(kind: Kind, data: Mapping[str, Any]) -> RemoteObject:
    """A client dict as a normalised :class:`RemoteObject`."""
    return RULES[kind].from_remote(data)
