"""Typed client for the Falconyte public API: event-triggered email campaigns.

The API lists, creates, starts and stops campaigns; it has no read-by-id, update or delete, so a
single campaign is found by listing. Returned dicts are normalised by
:func:`normalize_email_campaign` (envelope unwrapped, ids as strings).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import quote

from hoodsync.errors import ApiError, NotFoundError, OutcomeUnknownError
from hoodsync.remote.hood import MAX_LIST_PAGES, check_items, describe_shape, too_many_pages
from hoodsync.remote.transport import ApiTransport, CreateResult, after_sent
from hoodsync.wire import email_campaign_enabled, is_object_id

__all__ = ["FalconyteClient", "email_campaign_enabled", "normalize_email_campaign"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

#: ``per_page`` asked for; Falconyte's own client allows 1–100.
PAGE_SIZE = 100


def _id(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


def normalize_email_campaign(raw: Mapping[str, Any]) -> Obj:
    """One email campaign in the one shape: ``id``/``team_id`` and each send's
    ``id``/``campaign_id`` as strings. Other fields are kept as sent."""
    obj: Obj = dict(raw)
    for key in ("id", "team_id"):
        if key in obj:
            obj[key] = _id(obj[key])
    sends = obj.get("campaign_sends")
    if isinstance(sends, list):
        obj["campaign_sends"] = [
            (
                {**s, **{k: _id(s[k]) for k in ("id", "campaign_id") if k in s}}
                if isinstance(s, dict)
                else s
            )
            for s in sends
        ]
    return obj


def _order_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    stamp = obj.get("created_at")
    return (stamp if isinstance(stamp, str) else "", str(obj.get("id", "")))


class FalconyteClient:
    """Falconyte email campaigns over one :class:`ApiTransport` (one team)."""

    def __init__(
        self,
        transport: ApiTransport,
        *,
        page_size: int = PAGE_SIZE,
        max_pages: int = MAX_LIST_PAGES,
    ) -> None:
        self.transport = transport
        self.page_size = page_size
        self.max_pages = max_pages

    def __repr__(self) -> str:
        return f"FalconyteClient({self.transport!r})"

    @property
    def unknown_outcomes(self) -> int:
        """Creates through this client whose outcome was unknown at least once."""
        return self.transport.unknown_outcomes

    def within_stop(
        self, stop_elapsed: Callable[[], float | None] | None
    ) -> contextlib.AbstractContextManager[None]:
        """The requests of this thread inside the block end within one request deadline of the
        caller's stop (:meth:`ApiTransport.within_stop`)."""
        return self.transport.within_stop(stop_elapsed)

    def list_campaigns(self) -> list[Obj]:
        """Every campaign of the team, oldest first, de-duplicated by id.

        The response has no total and the server's page-size cap is not documented (Falconyte's
        own client asks for 15), so a first page shorter than ``per_page`` does not prove the
        end: the server may have capped the size. Its length is then taken as the page size
        really used and paging goes on until a page shorter than that, or an empty one; a short
        first page therefore costs one more request (an empty second page).

        Strict and bounded: an answer of another shape (see :func:`_campaigns`), a page holding
        only campaigns already listed (the server ignores paging), or more than ``max_pages``
        pages is an :class:`ApiError`, never a shorter list."""
        seen: dict[str, Obj] = {}
        size = self.page_size
        for page in range(1, self.max_pages + 1):
            operation = f"list email campaigns (GET /email/campaigns, page {page})"
            response = self.transport.request(
                "GET",
                "/email/campaigns",
                params={"page": str(page), "per_page": str(self.page_size)},
                retry=True,
                operation=operation,
            )
            items = _campaigns(response.data, operation)
            if not items:
                return sorted(seen.values(), key=_order_key)
            before = len(seen)
            for raw in items:
                obj = normalize_email_campaign(raw)
                seen[str(obj.get("id"))] = obj
            if len(seen) == before:
                raise ApiError(
                    200,
                    operation=operation,
                    message="the page holds only campaigns already listed on earlier pages "
                    "(the server seems to ignore paging)",
                )
            if page == 1 and len(items) < size:
                # Fewer than asked: the end, or a server capping per_page. Read on with the
                # size it used, so that a capped server cannot hide the rest of the team.
                size = len(items)
            elif len(items) < size:
                return sorted(seen.values(), key=_order_key)
        raise ApiError(
            200,
            operation="list email campaigns (GET /email/campaigns)",
            message=too_many_pages("email campaigns", self.max_pages, size),
        )

    def find_campaign(self, campaign_id: str) -> Obj:
        """One campaign by id (the API has no read-by-id, so this lists).
        :class:`NotFoundError` if absent."""
        for campaign in self.list_campaigns():
            if campaign.get("id") == str(campaign_id):
                return campaign
        raise NotFoundError(
            404,
            operation=f"find email campaign {campaign_id}",
            title="Not found",
            message="no campaign with that id in the list",
        )

    def create_campaign(
        self,
        body: Mapping[str, Any],
        *,
        exclude_ids: Collection[str] = (),
        on_resend: Callable[[int], None] | None = None,
        stopping: Callable[[], bool] | None = None,
        stop_elapsed: Callable[[], float | None] | None = None,
    ) -> Obj:
        """Create a campaign exactly once and return it.

        Falconyte has no idempotency key and no free-form field for a marker, so when the outcome
        of the POST is unknown (see :meth:`ApiTransport.create`) the team's campaigns are listed
        and the newest one with the exact ``name`` that is not in ``exclude_ids`` (campaigns that
        existed before, e.g. the one a replacement supersedes) is taken as the result.
        """
        name = body.get("name")
        excluded = {str(x) for x in exclude_ids}

        def find() -> Obj | None:
            if not isinstance(name, str):
                return None
            found = [
                c
                for c in self.list_campaigns()
                if c.get("name") == name and str(c.get("id")) not in excluded
            ]
            if len(found) > 1:
                # Not naming the name: it may hold an ${env:...} value.
                log.warning("%d email campaigns share this name; taking the newest", len(found))
            return found[-1] if found else None

        result: CreateResult[Obj] = self.transport.create(
            "/email/campaigns",
            dict(body),
            find=find,
            operation="create email campaign",  # not its name: it may hold an ${env:...} value
            on_resend=on_resend,
            stopping=stopping,
            stop_elapsed=stop_elapsed,
        )
        if result.existing is not None:
            return result.existing
        assert result.response is not None
        data = result.response.data
        created = data.get("campaign") if isinstance(data, dict) else None
        if isinstance(created, dict) and is_object_id(created.get("id")):
            return normalize_email_campaign(created)
        # No usable id (none, or null / true / "" / 1.5 ...): the campaign may exist but is
        # unknown, never "created (id None)". Look for it as for a lost answer.
        with after_sent(), self.transport.within_stop(stop_elapsed):
            existing = self.transport.settle(
                find,
                operation="create email campaign",
                cause="the answer named no campaign by a valid id",
                stopping=stopping,
            )
        if existing is None:
            raise OutcomeUnknownError(
                "the server accepted the create but returned no campaign, and listing does not "
                "show it",
                operation="create email campaign",
            )
        return existing

    def start_campaign(self, campaign_id: str) -> None:
        """Start (or resume) the campaign's event trigger."""
        self._action(campaign_id, "start", wanted=True)

    def stop_campaign(self, campaign_id: str) -> None:
        """Stop the campaign's event trigger."""
        self._action(campaign_id, "stop", wanted=False)

    def _action(self, campaign_id: str, action: str, *, wanted: bool) -> None:
        """POST start/stop, retried. A *retry* answered 422 ``INVALID_STATE`` may mean an earlier
        attempt worked unseen: re-read, and a campaign already in the wanted state is success."""
        operation = f"{action} email campaign {campaign_id}"
        try:
            self.transport.request(
                "POST",
                f"/email/campaigns/{quote(str(campaign_id), safe='')}/{action}",
                retry=True,
                operation=operation,
            )
        except ApiError as err:
            if err.status != 422 or err.code != "INVALID_STATE" or err.attempts <= 1:
                raise
            with after_sent():  # an earlier attempt may have acted
                enabled = email_campaign_enabled(self.find_campaign(campaign_id))
            if enabled is wanted:
                log.debug("%s: refused on retry but already in that state; done", operation)
                return
            raise


#: What a list answer must look like (for error messages).
_ENVELOPE = '{"ok": true, "campaigns": [...]} (or campaigns.data, or a bare array)'


def _campaigns(data: Any, operation: str) -> list[Obj]:
    """``{"ok": true, "campaigns": [...]}`` → the campaign objects, strictly. Also accepted: the
    paginator shape other Falconyte lists use (``campaigns: {data: [...]}``) and a bare array.
    Anything else (``null``, ``{}``, ``{"data": [...]}``, ``"ok": false``, a non-array) is an
    :class:`ApiError` naming ``operation``, as is an item that is not an object with an ``id``:
    read as "no campaigns", it would make apply create every campaign again."""
    items: Any = data
    if isinstance(data, dict) and data.get("ok") is not False:
        items = data.get("campaigns")
        if isinstance(items, dict) and isinstance(items.get("data"), list):
            items = items["data"]
    if not isinstance(items, list):
        got = describe_shape(data)
        if isinstance(data, dict) and data.get("ok") is False:
            got = '"ok": false'
        elif isinstance(data, dict) and "campaigns" in data:
            got = f"campaigns as {describe_shape(data['campaigns'])}"
        raise ApiError(200, operation=operation, message=f"expected {_ENVELOPE}, got {got}")
    return check_items(items, operation)
