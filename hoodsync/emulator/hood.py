"""The emulated Ocamba Hood API under ``/v1/hood``: campaigns and their state machine.

Push tasks live in :mod:`hoodsync.emulator.push_tasks`; this module routes to them.

Behaviour follows ``reference/hood-api.md`` and the decisions recorded for the emulator:

- Errors are ``{code, title, message, trace_id}`` (500s carry no ``message``); a missing object
  and an action from a disallowed status are both 400, as the docs suggest.
- A campaign's writable fields are stored as given (plus server defaults such as
  ``utm_tracking``); ``status``/``send_strategy`` are derived from ``is_draft``,
  ``run_immediately``, ``scheduled_time`` and ``recurrence``. ``run_immediately`` is a trigger,
  never stored (returned as ``null``). GET returns ``labels`` as one comma-joined string.
- A resume with ``scheduled_time`` schedules the campaign for that time; a one-shot or manual
  campaign takes it as its ``scheduled_time``, a recurring one keeps its ``recurrence`` (nothing
  documented says a resume changes how a campaign repeats).
- Pause/resume/cancel may take effect asynchronously (``async_delay_s``): the 204 is immediate,
  reads keep showing the old state until the delay has passed (queued transitions are applied
  lazily whenever the account's campaigns are touched). Any later action *or edit* is judged
  against the state the queued transitions lead to, since the server has already accepted them.

Statuses the docs show without rules (their reading is in :mod:`hoodsync.wire`; tests put a
campaign into them with ``Store.set_campaign_status``, e.g. ``("active",
effective_status="running")`` or ``("archived", undocumented=True)``):

- Every rule is judged on the campaign's *effective* status: ``status`` itself, except that
  ``active`` with a documented ``effective_status`` is judged as that status (``active`` +
  ``running`` refuses PATCH and can be paused, as running campaigns do). GET returns
  ``effective_status`` as stored, else the status.
- ``active`` (with ``effective_status`` ``active`` or none) and ``manual`` behave like
  ``scheduled``: they accept PATCH (the documented PATCH rule is a deny list that does not name
  them), and pause and cancel. This mirrors how the emulator already models a campaign created
  without execution options: ``send_strategy: manual``, status ``scheduled``, pausable and
  cancelable. A resume without a body returns the campaign to the status (and effective status)
  it had before the pause.
- Any other status: PATCH is accepted (not on the deny list); pause, resume, cancel and
  set-winner are refused with 400, since each is documented only from the statuses it names.
- Any transition that sets a status clears a stored ``effective_status``.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Callable
from typing import Any

from hoodsync.emulator.push_tasks import PushTasks
from hoodsync.emulator.query import (
    Presentation,
    ResourceSpec,
    parse_list,
    parse_read,
    to_bool,
    to_int,
    to_str,
)
from hoodsync.emulator.rendering import campaign_json, effective_word, render_campaign
from hoodsync.emulator.store import Account, CampaignRow, Store
from hoodsync.emulator.wire import (
    BodyError,
    HoodFailure,
    RawJson,
    Request,
    Response,
    format_hood_time,
    merge_patch,
    parse_hood_time,
)
from hoodsync.wire import (
    CAMPAIGN_CANCELLABLE,
    CAMPAIGN_NOT_EDITABLE,
    CAMPAIGN_PAUSABLE,
    campaign_status,
)

__all__ = ["HoodApi", "PREFIX"]

logger = logging.getLogger(__name__)

PREFIX = "/v1/hood"

#: Writable campaign fields that are stored and returned.
CAMPAIGN_FIELDS = frozenset(
    {
        "name",
        "description",
        "labels",
        "metadata",
        "ab_test",
        "messages",
        "recurrence",
        "utm_tracking",
        "send_in_profile_time_zone",
        "send_if_profile_time_passed",
        "quiet_hours",
        "targeting",
        "callbacks",
        "deal_id",
        "scheduled_time",
    }
)
#: Accepted in a create/PATCH body but not stored as such (they drive the status).
TRIGGER_FIELDS = frozenset({"is_draft", "run_immediately", "status"})
#: Every field of each campaign (``view=full``): the list items kept as rendered.
_FULL = Presentation(view="full")
CHANNELS = ("push", "email", "sms")
MAX_PER_CHANNEL = 4
NOT_EDITABLE = CAMPAIGN_NOT_EDITABLE
PAUSABLE = CAMPAIGN_PAUSABLE
CANCELABLE = CAMPAIGN_CANCELLABLE
DEFAULT_UTM = {
    "enabled": 1,
    "utm_source": "${OCMH_UTM_SOURCE}",
    "utm_medium": "${OCMH_UTM_MEDIUM}",
    "utm_campaign": "${OCMH_CAMPAIGN_NAME}",
}
_TITLES = {
    400: "Bad request.",
    401: "Unauthorized.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Payload too large.",
    429: "Too many requests.",
    500: "Internal server error.",
}
_NO_CAMPAIGN = "Specified campaign does not exist."

CAMPAIGN_LIST = ResourceSpec(
    sortable=frozenset(
        {"name", "status", "next_run_time", "run_counter", "create_time", "update_time"}
    ),
    filterable={
        "status": to_str,
        "name": to_str,
        "is_draft": to_bool,
        "send_strategy": to_str,
        "id": to_int,
    },
    searchable=("name", "description"),
    default_search=("name", "description"),
)


def hood_error(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
    """The documented Hood error body; 500s carry no ``message``, as in the docs' example."""
    body: dict[str, Any] = {
        "code": status,
        "title": _TITLES.get(status, "Error."),
        "trace_id": str(uuid.uuid4()),
    }
    if status != 500:
        body["message"] = message
    return Response(status, body, list(headers or []))


# -- campaign rules ------------------------------------------------------------------------------


def _trigger(value: Any, name: str = "run_immediately") -> bool:
    """``run_immediately``-style flag: true/1 → on, false/0/null → off, else → 400."""
    if isinstance(value, str):
        raise HoodFailure(400, f"{name} must be true, false, 1, 0 or null.")
    if value is None or value is False or value == 0:
        return False
    if value is True or value == 1:
        return True
    raise HoodFailure(400, f"{name} must be true, false, 1, 0 or null.")


def _check_message(index: int, message: Any) -> str:
    """Validate one campaign message; return its channel."""
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise HoodFailure(400, f"{where} must be an object.")
    channel = message.get("channel")
    if channel not in CHANNELS:
        raise HoodFailure(400, f"{where}.channel must be one of push, email, sms.")
    if channel in ("sms", "email") and message.get("integration_id") in (None, ""):
        raise HoodFailure(400, f"integration_id is required for {channel} messages ({where}).")
    for key in ("push", "email", "sms"):
        if key in message and message[key] is not None and not isinstance(message[key], dict):
            raise HoodFailure(400, f"{where}.{key} must be an object.")
    return str(channel)


def _check_messages(spec: dict[str, Any]) -> None:
    messages = spec.get("messages")
    if not isinstance(messages, list) or not messages:
        raise HoodFailure(400, "messages is required and must not be empty.")
    counts: dict[str, int] = {}
    for index, message in enumerate(messages):
        channel = _check_message(index, message)
        counts[channel] = counts.get(channel, 0) + 1
    ab_test = spec.get("ab_test")
    for channel in CHANNELS:
        count = counts.get(channel, 0)
        if count > MAX_PER_CHANNEL:
            raise HoodFailure(
                400,
                f"At most {MAX_PER_CHANNEL} messages of one channel are allowed "
                f"({count} {channel} messages).",
            )
        if count > 1 and not (isinstance(ab_test, dict) and ab_test):
            raise HoodFailure(
                400,
                "ab_test is required when several messages share a channel "
                f"({count} {channel} messages).",
            )


def _check_schedule(spec: dict[str, Any], run_now: bool) -> None:
    options = [
        name
        for name, on in (
            ("run_immediately", run_now),
            ("scheduled_time", spec.get("scheduled_time") is not None),
            ("recurrence", spec.get("recurrence") is not None),
        )
        if on
    ]
    if len(options) > 1:
        raise HoodFailure(
            400,
            "Only one of run_immediately, scheduled_time and recurrence may be set "
            f"(got {', '.join(options)}).",
        )
    scheduled = spec.get("scheduled_time")
    if scheduled is not None and parse_hood_time(scheduled) is None:
        raise HoodFailure(400, "scheduled_time must be a date-time 'YYYY-MM-DD HH:MM:SS'.")
    recurrence = spec.get("recurrence")
    if recurrence is not None:
        if not isinstance(recurrence, dict):
            raise HoodFailure(400, "recurrence must be an object.")
        given = [k for k in ("pattern", "cron") if recurrence.get(k) is not None]
        if len(given) != 1:
            raise HoodFailure(400, "recurrence must have exactly one of pattern or cron.")


def check_campaign(spec: dict[str, Any], run_now: bool) -> None:
    """Apply every create rule to a campaign's writable fields; 400 naming the first broken one."""
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise HoodFailure(400, "name is required and must be a non-empty string.")
    if "description" in spec and not isinstance(spec["description"], str):
        raise HoodFailure(400, "description must be a string.")
    labels = spec.get("labels")
    if labels is not None and (
        not isinstance(labels, list) or not all(isinstance(x, str) for x in labels)
    ):
        raise HoodFailure(400, "labels must be an array of strings.")
    for key in ("metadata", "ab_test", "utm_tracking", "quiet_hours", "targeting", "callbacks"):
        if key in spec and not isinstance(spec[key], dict):
            raise HoodFailure(400, f"{key} must be an object.")
    for key in ("send_in_profile_time_zone", "send_if_profile_time_passed"):
        if key in spec and spec[key] not in (True, False, 0, 1):
            raise HoodFailure(400, f"{key} must be a boolean.")
    if "deal_id" in spec and not isinstance(spec["deal_id"], (str, int)):
        raise HoodFailure(400, "deal_id must be a string.")
    _check_messages(spec)
    _check_schedule(spec, run_now)


def _strategy(spec: dict[str, Any]) -> str:
    if spec.get("scheduled_time") is not None:
        return "scheduled"
    if spec.get("recurrence") is not None:
        return "recurring"
    return "manual"


def _start_state(spec: dict[str, Any], run_now: bool, now: float) -> dict[str, Any]:
    """Status fields of a campaign that leaves (or never enters) draft."""
    if run_now:
        return {
            "status": "running",
            "send_strategy": "immediate",
            "next_run_time": format_hood_time(now),
            "was_launched": True,
            "paused_from": None,
        }
    # Manual campaigns wait for a command; they are modelled as scheduled so pause/cancel work.
    return {
        "status": "scheduled",
        "send_strategy": _strategy(spec),
        "next_run_time": spec.get("scheduled_time"),
        "paused_from": None,
    }


def _apply(row: CampaignRow, change: dict[str, Any]) -> None:
    """Write one transition's fields onto a row (``at`` is the due time, not a field). A new
    status clears the stored ``effective_status`` unless the change sets that too."""
    if "status" in change and "effective_status" not in change:
        row.extra.pop("effective_status", None)
    for key, value in change.items():
        if key in ("status", "send_strategy", "next_run_time"):
            setattr(row, key, value)
        elif key == "scheduled_time":
            row.spec["scheduled_time"] = value
        elif key != "at":
            row.extra[key] = value


def _judged(row: CampaignRow) -> str:
    """The status the rules are judged on: ``active`` refined by a documented
    ``effective_status`` (module docstring)."""
    return campaign_status({"status": row.status, "effective_status": effective_word(row)})


def _effective(row: CampaignRow) -> CampaignRow:
    """The row as it will be once every queued transition has happened."""
    target = copy.deepcopy(row)
    for change in target.pending:
        _apply(target, change)
    target.pending = []
    return target


def _body_object(request: Request, allowed: frozenset[str], *, required: bool) -> dict[str, Any]:
    try:
        body = request.json()
    except BodyError as exc:
        raise HoodFailure(400, "The request body is not valid.") from exc
    if body is None and not required:
        return {}
    if not isinstance(body, dict):
        raise HoodFailure(400, "The request body is not valid: a JSON object is required.")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise HoodFailure(400, f"Unknown field {unknown[0]!r}.")
    return body


# -- the API -------------------------------------------------------------------------------------


class HoodApi:
    """Routes and executes Hood requests for authenticated accounts."""

    name = "hood"
    prefix = PREFIX
    sends_rate_headers = True

    def __init__(
        self,
        store: Store,
        *,
        page_max: int,
        async_delay_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._page_max = page_max
        self._delay = async_delay_s
        self._clock = clock
        self._push = PushTasks(store, page_max=page_max, clock=clock)

    # -- framing -------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> str | None:
        """Account name for a valid ``Authorization: Bearer <token>``, else ``None``."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        account = self._store.account_for_hood_token(token.strip())
        return account.name if account else None

    def failure(
        self, status: int, message: str, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        """An error answer in this API's shape."""
        return hood_error(status, message, headers)

    def unauthorized(self) -> Response:
        """401 for a missing or wrong bearer token."""
        return hood_error(401, "A valid bearer token is required in the Authorization header.")

    def handle(self, request: Request, account: str) -> Response:
        """Execute one authenticated request; every failure becomes a documented error body."""
        try:
            return self._route(request, self._store.account(account))
        except HoodFailure as failure:
            return hood_error(failure.status, failure.message, failure.headers)

    def _route(self, request: Request, account: Account) -> Response:
        parts = [p for p in request.path.split("/") if p]
        handlers = self._handlers(request, account, parts)
        if handlers is None:
            raise HoodFailure(404, f"No such endpoint: {request.path}.")
        handler = handlers.get(request.method)
        if handler is None:
            allowed = ", ".join(sorted(handlers))
            raise HoodFailure(405, f"{request.method} is not allowed here; use {allowed}.")
        return handler()

    def _handlers(
        self, request: Request, account: Account, parts: list[str]
    ) -> dict[str, Callable[[], Response]] | None:
        """Method -> handler for the path, or ``None`` when no such endpoint exists."""
        if parts[:1] == ["push-tasks"]:
            return self._push.routes(request, account.name, parts[1:])
        if parts[:1] != ["campaigns"]:
            return None
        if len(parts) == 1:
            return {
                "GET": lambda: self._list(request, account),
                "POST": lambda: self._create(request, account),
            }
        if len(parts) == 2:
            return {
                "GET": lambda: self._get(request, account, parts[1]),
                "PATCH": lambda: self._patch(request, account, parts[1]),
            }
        if len(parts) == 3 and parts[2] in ("pause", "resume", "cancel"):
            return {"POST": lambda: self._action(request, account, parts[1], parts[2])}
        if len(parts) == 5 and parts[2] == "messages" and parts[4] == "set-winner":
            return {"POST": lambda: self._set_winner(account, parts[1], parts[3])}
        return None

    # -- helpers -------------------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock()

    def _settle(self, account: Account, now: float) -> None:
        """Apply every queued transition of the account that is due (lazy asynchronous state)."""
        for row in self._store.due_campaigns(account.name, now):
            due = [p for p in row.pending if float(p["at"]) <= now]
            for change in due:
                _apply(row, change)
                row.update_time = format_hood_time(float(change["at"]))
            row.pending = [p for p in row.pending if float(p["at"]) > now]
            self._save(row, account)

    def _save(self, row: CampaignRow, account: Account) -> None:
        """Write a campaign back, with its full list item kept beside it
        (:meth:`~hoodsync.emulator.store.Store.save_campaign`): a client that plans reads every
        campaign, again and again, and most have not changed since they were written. Kept
        here, not when a list first renders a row: reads never write, and a row changed behind
        the API (the store's test helpers, an older database) is rendered on each read."""
        self._store.save_campaign(row, lambda text: campaign_json(text, account, _FULL))

    def _require(self, account: Account, raw_id: str) -> CampaignRow:
        if not raw_id.isdigit():
            raise HoodFailure(400, _NO_CAMPAIGN)
        row = self._store.get_campaign(account.name, int(raw_id))
        if row is None:
            raise HoodFailure(400, _NO_CAMPAIGN)
        return row

    def _messages(
        self, account: Account, campaign_id: int, messages: list[Any], known: set[str]
    ) -> list[dict[str, Any]]:
        """Messages with their server fields; an ``id`` already in this campaign is kept."""
        out = []
        for message in messages:
            item = dict(message)
            given = item.get("id")
            item["id"] = (
                str(given)
                if given is not None and str(given) in known
                else str(self._store.next_message_id())
            )
            item["company_id"] = account.company_id
            item["campaign_id"] = str(campaign_id)
            integration = item.get("integration_id")
            item["integration_id"] = "0" if integration in (None, "") else str(integration)
            item.setdefault("winner", 0)
            if item.get("primary_lang") in (None, ""):
                item["primary_lang"] = "en"
            out.append(item)
        return out

    def render(
        self,
        row: CampaignRow,
        account: Account,
        presentation: Presentation,
        *,
        labels_as_string: bool = True,
    ) -> dict[str, Any]:
        """The campaign object as GET returns it (``labels`` joined), honouring view/fields
        (:func:`~hoodsync.emulator.rendering.render_campaign`; shares nested values with
        ``row.spec``)."""
        return render_campaign(
            row.spec, row, account, presentation, labels_as_string=labels_as_string
        )

    # -- campaign endpoints --------------------------------------------------------------------

    def _list(self, request: Request, account: Account) -> Response:
        query, presentation = parse_list(request.query, CAMPAIGN_LIST, self._page_max)
        with self._store.transaction():
            self._settle(account, self._now())
            total, rows = self._store.list_campaign_texts(
                account.name, query, kept=presentation == _FULL
            )
        # Assembled from the stored JSON texts: the same bytes as rendering each row as a dict
        # and encoding the page, without parsing, copying and re-encoding every campaign; a
        # full item as it was kept when the row was last written (see ``_save``).
        items = ",".join([r.full_json or campaign_json(r, account, presentation) for r in rows])
        return Response(200, RawJson(f'{{"items":[{items}],"total":{int(total)}}}'))

    def _get(self, request: Request, account: Account, raw_id: str) -> Response:
        presentation = parse_read(request.query)
        with self._store.transaction():
            self._settle(account, self._now())
            row = self._require(account, raw_id)
        return Response(200, {"total": 1, "items": [self.render(row, account, presentation)]})

    def _create(self, request: Request, account: Account) -> Response:
        body = _body_object(request, CAMPAIGN_FIELDS | TRIGGER_FIELDS, required=True)
        status = body.get("status")
        if status not in (None, "draft"):
            raise HoodFailure(400, "status may only be 'draft' when creating a campaign.")
        is_draft = body.get("is_draft")
        if is_draft not in (None, True, False):
            raise HoodFailure(400, "is_draft must be a boolean.")
        draft = is_draft is True or status == "draft"
        run_now = _trigger(body.get("run_immediately"))
        spec = {k: v for k, v in body.items() if k in CAMPAIGN_FIELDS and v is not None}
        spec.setdefault("metadata", {})
        spec.setdefault("utm_tracking", dict(DEFAULT_UTM))
        spec.setdefault("send_in_profile_time_zone", False)
        spec.setdefault("send_if_profile_time_passed", False)
        check_campaign(spec, run_now)
        now = self._now()
        stamp = format_hood_time(now)
        state: dict[str, Any] = (
            {"status": "draft", "send_strategy": "manual", "next_run_time": None}
            if draft
            else _start_state(spec, run_now, now)
        )
        row = CampaignRow(
            id=0,
            account=account.name,
            status=state["status"],
            send_strategy=state["send_strategy"],
            next_run_time=state["next_run_time"],
            run_counter=0,
            create_time=stamp,
            update_time=stamp,
            spec=spec,
            extra={"was_launched": bool(state.get("was_launched", False))},
            pending=[],
        )
        with self._store.transaction():
            row.id = self._store.insert_campaign(row)
            row.spec["messages"] = self._messages(account, row.id, spec["messages"], set())
            self._save(row, account)
        # The create response may carry labels as the array that was sent (reference revision).
        body_out = self.render(row, account, _FULL, labels_as_string=False)
        return Response(201, body_out, created=True)

    def _patch(self, request: Request, account: Account, raw_id: str) -> Response:
        body = _body_object(request, CAMPAIGN_FIELDS | TRIGGER_FIELDS, required=True)
        with self._store.transaction():
            now = self._now()
            self._settle(account, now)
            row = self._require(account, raw_id)
            current = _judged(_effective(row))
            if current in NOT_EDITABLE:
                raise HoodFailure(400, f"A campaign in status '{current}' cannot be edited.")
            start = self._patch_start(body, current)
            run_now = _trigger(body.get("run_immediately"))
            merged = merge_patch(row.spec, {k: v for k, v in body.items() if k in CAMPAIGN_FIELDS})
            check_campaign(merged, run_now)
            if "messages" in body:
                known = {str(m.get("id")) for m in row.spec.get("messages", [])}
                merged["messages"] = self._messages(account, row.id, merged["messages"], known)
            row.spec = merged
            if run_now or start:
                state = _start_state(merged, run_now or start == "running", now)
                row.pending = []  # a new status supersedes anything still queued
                _apply(row, state)
            elif "scheduled_time" in body or "recurrence" in body:
                if row.status != "draft":
                    row.send_strategy = _strategy(merged)
                if row.status == "scheduled":
                    row.next_run_time = merged.get("scheduled_time")
            row.update_time = format_hood_time(now)
            self._save(row, account)
        return Response(204)

    @staticmethod
    def _patch_start(body: dict[str, Any], current: str) -> str | None:
        """Whether the PATCH takes a draft out of draft: ``"scheduled"``, ``"running"`` or None."""
        start: str | None = None
        if "status" in body:
            wanted = body["status"]
            if wanted == "draft":
                raise HoodFailure(400, "A campaign cannot be moved into draft.")
            if current != "draft":
                raise HoodFailure(
                    400,
                    "status can only be changed while the campaign is a draft "
                    f"(it is '{current}').",
                )
            if wanted not in ("scheduled", "running"):
                raise HoodFailure(
                    400, "A draft's status can only be changed to 'scheduled' or 'running'."
                )
            start = str(wanted)
        is_draft = body.get("is_draft")
        if is_draft not in (None, True, False):
            raise HoodFailure(400, "is_draft must be a boolean.")
        if is_draft is True and current != "draft":
            raise HoodFailure(400, "A campaign cannot be moved into draft.")
        if is_draft is False and current == "draft" and start is None:
            start = "scheduled"
        return start

    def _action(self, request: Request, account: Account, raw_id: str, action: str) -> Response:
        allowed = (
            frozenset({"run_immediately", "scheduled_time"})
            if action == "resume"
            else frozenset({"reason"})
        )
        body = _body_object(request, allowed, required=False)
        if "reason" in body and not isinstance(body["reason"], str):
            raise HoodFailure(400, "reason must be a string.")
        with self._store.transaction():
            now = self._now()
            self._settle(account, now)
            row = self._require(account, raw_id)
            target = _effective(row)
            if action == "pause":
                change = self._pause(target)
            elif action == "resume":
                change = self._resume(target, body, now)
            else:
                change = self._cancel(target)
            if self._delay > 0:
                row.pending.append({"at": now + self._delay, **change})
            else:
                _apply(row, change)
                row.update_time = format_hood_time(now)
            self._save(row, account)
        return Response(204)

    @staticmethod
    def _pause(target: CampaignRow) -> dict[str, Any]:
        judged = _judged(target)
        if judged not in PAUSABLE:
            raise HoodFailure(
                400,
                f"A campaign in status '{judged}' cannot be paused; "
                "only running or scheduled campaigns can.",
            )
        return {
            "status": "paused",
            "paused_from": target.status,
            "paused_effective": target.extra.get("effective_status"),
        }

    @staticmethod
    def _resume(target: CampaignRow, body: dict[str, Any], now: float) -> dict[str, Any]:
        judged = _judged(target)
        if judged != "paused":
            raise HoodFailure(
                400, f"Only a paused campaign can be resumed; this one is '{judged}'."
            )
        run_now = _trigger(body.get("run_immediately"))
        scheduled = body.get("scheduled_time")
        if run_now and scheduled is not None:
            raise HoodFailure(
                400, "Only one parameter can be passed, either run_immediately or scheduled_time."
            )
        if run_now:
            return _start_state(target.spec, True, now)
        if scheduled is not None:
            if parse_hood_time(scheduled) is None:
                raise HoodFailure(400, "scheduled_time must be a date-time 'YYYY-MM-DD HH:MM:SS'.")
            change: dict[str, Any] = {
                "status": "scheduled",
                "next_run_time": scheduled,
                "paused_from": None,
            }
            if target.spec.get("recurrence") is None:
                # A one-shot (or manual) campaign: the resume's time becomes its send time.
                change.update(send_strategy="scheduled", scheduled_time=scheduled)
            # A recurring campaign keeps its recurrence and resumes at that time: the docs
            # ("reactivates a previously paused campaign") say nothing of a resume changing
            # how a campaign repeats, and a campaign holding both would break the create rule
            # that it sets at most one execution option.
            return change
        previous = target.extra.get("paused_from") or "scheduled"
        return {
            "status": previous,
            "effective_status": target.extra.get("paused_effective"),
            "paused_from": None,
            "paused_effective": None,
        }

    @staticmethod
    def _cancel(target: CampaignRow) -> dict[str, Any]:
        judged = _judged(target)
        if judged not in CANCELABLE:
            raise HoodFailure(
                400,
                f"A campaign in status '{judged}' cannot be canceled; "
                "only running, scheduled or paused campaigns can.",
            )
        return {"status": "canceled", "next_run_time": None, "paused_from": None}

    def _set_winner(self, account: Account, raw_id: str, message_id: str) -> Response:
        refused = "Specified campaign does not exist, or hasn't finished it's testing phase."
        with self._store.transaction():
            now = self._now()
            self._settle(account, now)
            if not raw_id.isdigit():
                raise HoodFailure(400, refused)
            row = self._store.get_campaign(account.name, int(raw_id))
            if row is None or _judged(_effective(row)) != "needs_decision":
                raise HoodFailure(400, refused)
            messages = row.spec.get("messages", [])
            if not any(str(m.get("id")) == message_id for m in messages):
                raise HoodFailure(400, refused)
            for message in messages:
                message["winner"] = 1 if str(message.get("id")) == message_id else 0
            row.status = "running"
            row.extra.pop("effective_status", None)
            row.update_time = format_hood_time(now)
            self._save(row, account)
        return Response(204)
