"""The emulated Falconyte public API under ``/public/v1``: event-triggered email campaigns.

Documented: ``GET /email/campaigns`` (``page``/``per_page``, default 15, capped at 100; also the
``search`` name filter the vendor's n8n node sends), ``POST /email/campaigns`` (201
``{ok, campaign}``; 422 on invalid bodies), ``POST /email/campaigns/{id}/start|stop`` (200
``{ok: true}``; 422 ``INVALID_STATE`` for starting an active or stopping a stopped campaign; 404
for an unknown id) and ``GET /ping``. There is no update, delete or GET by id (404).

Errors are ``{ok: false, error: {code, message}}``; validation failures add Laravel-style
``errors: {field: [messages]}``. Falconyte sends no ``X-RateLimit-*`` headers (undocumented); a
throttled request gets 429 with ``Retry-After`` only.

Ordering is exact: ``created_at`` has microseconds and strictly increases (a create in the same
microsecond as the previous one is stamped one microsecond later), then ties would go by id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from hoodsync.emulator.store import Account, EmailCampaignRow, Store
from hoodsync.emulator.wire import BodyError, FalconyteFailure, Request, Response, format_iso_micros

__all__ = ["FalconyteApi", "PREFIX", "EVENTS"]

PREFIX = "/public/v1"
EVENTS = ("contact.saved", "lead.created", "sale.created")
CREATE_FIELDS = ("name", "template_ids", "mail_account_ids", "events")
PER_PAGE_DEFAULT = 15
PER_PAGE_MAX = 100
NAME_MAX = 255
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    422: "VALIDATION_FAILED",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
}


def falconyte_error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    errors: dict[str, list[str]] | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    """The documented Falconyte error envelope (plus ``errors`` for validation failures)."""
    body: dict[str, Any] = {
        "ok": False,
        "error": {"code": code or _CODES.get(status, "ERROR"), "message": message},
    }
    if errors:
        body["errors"] = errors
    return Response(status, body, list(headers or []))


def _uuid_list(body: dict[str, Any], name: str, errors: dict[str, list[str]]) -> None:
    value = body.get(name)
    if value is None:
        errors[name] = [f"The {name} field is required."]
    elif not isinstance(value, list) or not value:
        errors[name] = [f"The {name} field must be an array with at least 1 item."]
    else:
        for index, item in enumerate(value):
            if not isinstance(item, str) or not _UUID.match(item):
                errors[f"{name}.{index}"] = [f"The {name}.{index} field must be a valid UUID."]


def validate_create(body: Any) -> dict[str, Any]:
    """The create body if valid; 422 ``VALIDATION_FAILED`` listing every problem otherwise."""
    if not isinstance(body, dict):
        raise FalconyteFailure(422, "VALIDATION_FAILED", "The request body must be a JSON object.")
    errors: dict[str, list[str]] = {}
    for name in sorted(set(body) - set(CREATE_FIELDS)):
        errors[name] = [f"The {name} field is prohibited."]
    name = body.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        errors["name"] = ["The name field is required."]
    elif not isinstance(name, str):
        errors["name"] = ["The name field must be a string."]
    elif len(name) > NAME_MAX:
        errors["name"] = [f"The name field must not be greater than {NAME_MAX} characters."]
    _uuid_list(body, "template_ids", errors)
    _uuid_list(body, "mail_account_ids", errors)
    events = body.get("events")
    if events is None:
        errors["events"] = ["The events field is required."]
    elif not isinstance(events, list) or not events:
        errors["events"] = ["The events field must be an array with at least 1 item."]
    else:
        for index, event in enumerate(events):
            if event not in EVENTS:
                errors[f"events.{index}"] = [
                    f"The selected events.{index} is invalid. Event name must be one of: "
                    + ", ".join(EVENTS)
                    + "."
                ]
    if errors:
        first = next(iter(errors.values()))[0]
        more = len(errors) - 1
        message = first + (f" (and {more} more error{'s' if more > 1 else ''})" if more else "")
        raise FalconyteFailure(422, "VALIDATION_FAILED", message, errors=errors)
    return {k: body[k] for k in CREATE_FIELDS}


def _send_data(row: EmailCampaignRow) -> dict[str, Any]:
    settings = row.settings
    return {
        "campaign_type": "event_triggered",
        "template_ids": list(settings["template_ids"]),
        "mail_account_ids": list(settings["mail_account_ids"]),
        "from_name": None,
        "reply_to_name": None,
        "reply_to_email": None,
        "broadcast_send": None,
        "automation_send": None,
        "event_triggered_send": {
            "events": list(settings["events"]),
            "contact_cooldown_interval": 3600,
            "contact_daily_email_cap": 3,
            "enabled": row.enabled,
        },
        "segment_query": {"condition": "AND", "type": "builder", "rules": []},
        "open_tracking": True,
        "click_tracking": True,
        "verification_data": {
            "acceptable_statuses": ["valid"],
            "active": False,
            "max_budget": 1,
            "age_threshold": 2,
        },
        "contact_cache_level": "campaign",
        "user_platform_role": "member",
    }


def render_email_campaign(row: EmailCampaignRow, account: Account) -> dict[str, Any]:
    """The documented Campaign resource for one stored campaign."""
    created = format_iso_micros(row.created_us)
    updated = format_iso_micros(row.updated_us)
    return {
        "id": row.id,
        "team_id": account.team_id,
        "name": row.name,
        "delivery_type": "event_triggered",
        "campaign_type": "event_triggered",
        "meta": [],
        "created_at": created,
        "updated_at": updated,
        "draft_data": {"last_sent_at": None, "send_data": _send_data(row)},
        "campaign_sends": [
            {
                "id": row.send_id,
                "campaign_id": row.id,
                "campaign_type": "event_triggered",
                "status": "active" if row.enabled else "stopped",
                "next_send_at": None,
                "next_send_countdown": {"total": 0, "remaining": 0},
                "send_data": _send_data(row),
                "send_progress": {
                    "total_sent": 0,
                    "total_bounced": 0,
                    "delivery_rate": 0,
                    "current_iteration": 0,
                    "reason": None,
                },
                "created_at": created,
                "updated_at": updated,
            }
        ],
    }


def _positive_int(
    params: dict[str, str], name: str, default: int, errors: dict[str, list[str]]
) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d+", raw.strip()) or int(raw) < 1:
        errors[name] = [f"The {name} field must be an integer of at least 1."]
        return default
    return int(raw)


class FalconyteApi:
    """Routes and executes Falconyte requests for authenticated accounts."""

    name = "falconyte"
    prefix = PREFIX
    sends_rate_headers = False

    def __init__(self, store: Store, *, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    def authenticate(self, request: Request) -> str | None:
        """Account name for a valid ``x-api-key``, else ``None``."""
        key = request.headers.get("x-api-key", "").strip()
        if not key:
            return None
        account = self._store.account_for_falconyte_key(key)
        return account.name if account else None

    def failure(
        self, status: int, message: str, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        """An error answer in this API's shape."""
        return falconyte_error(status, message, headers=headers)

    def unauthorized(self) -> Response:
        """401 exactly as documented."""
        return falconyte_error(401, "Valid team API key required.")

    def handle(self, request: Request, account: str) -> Response:
        """Execute one authenticated request; failures become the documented envelope."""
        try:
            return self._route(request, self._store.account(account))
        except FalconyteFailure as failure:
            return falconyte_error(
                failure.status,
                failure.message,
                code=failure.code,
                errors=failure.errors,
                headers=failure.headers,
            )

    def _route(self, request: Request, account: Account) -> Response:
        parts = [p for p in request.path.split("/") if p]
        handlers: dict[str, Callable[[], Response]] | None = None
        if parts == ["ping"]:
            handlers = {"GET": lambda: Response(200, {"ok": True})}
        elif parts == ["email", "campaigns"]:
            handlers = {
                "GET": lambda: self._list(request, account),
                "POST": lambda: self._create(request, account),
            }
        elif (
            len(parts) == 4
            and parts[:2] == ["email", "campaigns"]
            and parts[3] in ("start", "stop")
        ):
            handlers = {"POST": lambda: self._switch(account, parts[2], parts[3] == "start")}
        if handlers is None:
            raise FalconyteFailure(
                404, "NOT_FOUND", f"The route {request.path} could not be found."
            )
        handler = handlers.get(request.method)
        if handler is None:
            raise FalconyteFailure(
                405,
                "METHOD_NOT_ALLOWED",
                f"The {request.method} method is not supported for this route.",
            )
        return handler()

    def _list(self, request: Request, account: Account) -> Response:
        params = dict(request.query)
        errors: dict[str, list[str]] = {}
        page = _positive_int(params, "page", 1, errors)
        per_page = min(_positive_int(params, "per_page", PER_PAGE_DEFAULT, errors), PER_PAGE_MAX)
        if errors:
            raise FalconyteFailure(
                422, "VALIDATION_FAILED", next(iter(errors.values()))[0], errors=errors
            )
        rows = self._store.list_email_campaigns(
            account.name,
            offset=(page - 1) * per_page,
            limit=per_page,
            search=params.get("search") or None,
        )
        return Response(
            200, {"ok": True, "campaigns": [render_email_campaign(r, account) for r in rows]}
        )

    def _create(self, request: Request, account: Account) -> Response:
        try:
            body = request.json()
        except BodyError as exc:
            raise FalconyteFailure(
                400, "BAD_REQUEST", "The request body is not valid JSON."
            ) from exc
        settings = validate_create(body)
        with self._store.transaction():
            # Strictly increasing creation times make "newest" unambiguous even under a fake clock.
            now_us = max(int(self._clock() * 1_000_000), self._store.latest_email_created_us() + 1)
            row = EmailCampaignRow(
                id=str(uuid.uuid4()),
                account=account.name,
                name=settings["name"],
                created_us=now_us,
                updated_us=now_us,
                enabled=True,
                send_id=str(uuid.uuid4()),
                settings={k: v for k, v in settings.items() if k != "name"},
            )
            self._store.insert_email_campaign(row)
        return Response(
            201, {"ok": True, "campaign": render_email_campaign(row, account)}, created=True
        )

    def _switch(self, account: Account, campaign_id: str, start: bool) -> Response:
        with self._store.transaction():
            row = self._store.get_email_campaign(account.name, campaign_id)
            if row is None:
                raise FalconyteFailure(404, "NOT_FOUND", "Campaign not found.")
            if row.enabled == start:
                state = "active" if start else "stopped"
                raise FalconyteFailure(422, "INVALID_STATE", f"The campaign is already {state}.")
            row.enabled = start
            row.updated_us = max(int(self._clock() * 1_000_000), row.updated_us + 1)
            self._store.save_email_campaign(row)
        return Response(200, {"ok": True})
