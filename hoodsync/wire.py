"""Facts about the APIs, written once (DESIGN §6): the Hood campaign status vocabulary.

The campaign rules (:mod:`hoodsync.kinds.campaign`), the Hood client's "already done?" re-read,
apply's settle checks and the emulator all read their status sets from here.

Documented (``reference/hood-api.md`` §3.4): ``draft``, ``scheduled``, ``running``, ``paused``,
``canceled``, ``sent``, ``needs_decision``, with these rules: PATCH is refused in ``running``,
``canceled``, ``sent`` and ``needs_decision`` — a deny list, so any other status accepts it;
pause from ``running``/``scheduled``; resume from ``paused``; cancel from ``running``/
``scheduled``/``paused``.

Shown by the docs, but with no rule attached — what hoodsync takes them to mean:

- ``active``: seed 000 (create campaign, 200 response) returns ``"status": "active"`` and
  ``"effective_status": "active"`` for a new campaign with no ``next_run_time``; seed 001 (the
  newer revision) returns ``"status": "scheduled"``, ``"effective_status": "scheduled"`` where
  seed 000 says ``active``. So ``status: active`` is read as the coarse "live: not a draft, not
  paused, not ended", and ``effective_status`` as what the campaign is doing now. When it names a
  documented status (``active`` + ``running`` → ``running``), that status is the one planned
  against; otherwise (``active`` + ``active``, missing, or unknown) the campaign is *waiting*.
- ``manual``: seed 001 says a campaign created without execution options (``run_immediately``,
  ``recurrence``, ``scheduled_time``) "will be marked as manual", i.e. sent only on command. It is
  shown as a ``send_strategy`` value (seed 001, reference §3.3) and may also come back as the
  status. As a status it is *waiting* for a command; as a ``send_strategy`` it says nothing about
  the lifecycle (the status decides) and is never compared (it is not part of a definition).

A *waiting* campaign (``scheduled``, ``active``, ``manual``) is live and not sending right now: it
is patched in place (none of them is on the PATCH deny list), paused and canceled like
``scheduled``. Any other status hoodsync does not know is left for the API to judge: hoodsync
plans what the definition asks for, with a warning, and reports the API's answer.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = [
    "CAMPAIGN_DOCUMENTED",
    "CAMPAIGN_STATUSES",
    "CAMPAIGN_WAITING",
    "CAMPAIGN_NOT_EDITABLE",
    "CAMPAIGN_LOCKED",
    "CAMPAIGN_PAUSABLE",
    "CAMPAIGN_CANCELLABLE",
    "CAMPAIGN_RETIRED",
    "CAMPAIGN_AFTER_PAUSE",
    "CAMPAIGN_AFTER_RESUME",
    "CAMPAIGN_AFTER_CANCEL",
    "campaign_status",
]

#: Statuses named by the documented transition rules (reference §3.4).
CAMPAIGN_DOCUMENTED = (
    "draft",
    "scheduled",
    "running",
    "paused",
    "canceled",
    "sent",
    "needs_decision",
)
#: Every status hoodsync has a meaning for: the documented ones, plus ``active`` (seed 000) and
#: ``manual`` (seed 001), which the docs show without rules (module docstring).
CAMPAIGN_STATUSES = CAMPAIGN_DOCUMENTED + ("active", "manual")
#: Live and not sending right now, waiting for a time or a command.
CAMPAIGN_WAITING = frozenset({"scheduled", "active", "manual"})
#: The documented PATCH deny list: edits are refused in these, accepted in any other status.
CAMPAIGN_NOT_EDITABLE = frozenset({"running", "canceled", "sent", "needs_decision"})
#: Nothing hoodsync can write changes these (``running`` is edited around a pause).
CAMPAIGN_LOCKED = CAMPAIGN_NOT_EDITABLE - {"running"}
#: Pause is documented from running and scheduled; the other waiting statuses are taken alike.
CAMPAIGN_PAUSABLE = frozenset({"running"}) | CAMPAIGN_WAITING
#: Cancel is documented from running, scheduled and paused; waiting statuses are taken alike.
CAMPAIGN_CANCELLABLE = CAMPAIGN_PAUSABLE | {"paused"}
#: A campaign whose definition is gone needs nothing more in these.
CAMPAIGN_RETIRED = frozenset({"canceled", "sent"})
#: What a re-read shows once each state action has happened. A resume without a body returns
#: the campaign to the status it had before the pause, which may be any pausable one.
CAMPAIGN_AFTER_PAUSE = frozenset({"paused"})
CAMPAIGN_AFTER_RESUME = CAMPAIGN_PAUSABLE
CAMPAIGN_AFTER_CANCEL = frozenset({"canceled"})


def campaign_status(obj: Mapping[str, Any]) -> str:
    """The status hoodsync plans against, from a campaign object as the API returns it.

    ``status`` as given, except that ``active`` is refined by ``effective_status`` when that
    names a documented status (``active`` + ``running`` → ``running``). A missing or empty
    status reads ``unknown``. Never raises."""
    status = obj.get("status")
    text = str(status) if status not in (None, "") else "unknown"
    effective = obj.get("effective_status")
    if text == "active" and effective in CAMPAIGN_DOCUMENTED:
        return str(effective)
    return text
