"""Typed client for the Ocamba Hood API: campaigns and push tasks.

Every method returns plain dicts normalised to one shape (see :func:`normalize_campaign` and
:func:`normalize_push_task`): envelopes unwrapped, ids as strings, labels as a list, push-task
numbers as ints. Nothing else is renamed or dropped. Errors come from :mod:`hoodsync.errors`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any
from urllib.parse import quote

from hoodsync.errors import ApiError, NotFoundError, OutcomeUnknownError
from hoodsync.remote.transport import ApiTransport, CreateResult, after_sent
from hoodsync.wire import (
    CAMPAIGN_AFTER_CANCEL,
    CAMPAIGN_AFTER_PAUSE,
    CAMPAIGN_AFTER_RESUME,
    CAMPAIGN_ID_PATHS,
    CAMPAIGN_INT_PATHS,
    PUSH_TASK_ID_PATHS,
    PUSH_TASK_INT_PATHS,
    campaign_labels,
    campaign_marker,
    campaign_status,
    coerce_paths,
    is_object_id,
    to_str_id,
)

__all__ = [
    "MAX_LIST_PAGES",
    "HoodClient",
    "check_items",
    "describe_shape",
    "list_page",
    "normalize_campaign",
    "normalize_push_task",
    "parse_total",
    "too_many_pages",
    "unwrap_items",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

#: Campaign statuses a state action leads to (what a re-read must show to count as done).
_PAUSED = CAMPAIGN_AFTER_PAUSE
_CANCELED = CAMPAIGN_AFTER_CANCEL
_RESUMED = CAMPAIGN_AFTER_RESUME

#: The most pages one read of a list takes, whatever ``total`` says: 200,000 objects at 100 a
#: page, beyond any real account, and at Hood's 150 requests a minute about 13 minutes. A
#: server whose pages never end is stopped here with an error, never a partial list.
MAX_LIST_PAGES = 2_000

#: What a list answer must look like (for error messages).
_ENVELOPE = '{"total": N, "items": [...]} (or a bare array)'


# ---------------------------------------------------------------------------------- normalising


def parse_total(value: Any) -> int | None:
    """An envelope's ``total`` as an int (it may come as a number or a digit string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def describe_shape(value: Any) -> str:
    """A few words on what a JSON value is (for "expected X, got Y"); keys shown escaped, so
    that server-chosen text cannot break the line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        if not value:
            return "an empty object"
        keys = sorted(ascii(str(k))[1:-1][:30] for k in value)
        more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
        return f"an object with keys {', '.join(keys[:5])}{more}"
    return type(value).__name__


def list_page(data: Any, operation: str) -> tuple[list[Obj], int | None]:
    """One page of a list answer, strictly: ``{total, items: [...]}`` or a bare array, every item
    an object with an ``id``. Returns the items and the parsed ``total`` (``None`` when absent
    or unparseable). Anything else — ``null``, ``{}``, ``{"data": [...]}``, ``items`` that is not
    an array — is an :class:`ApiError` naming ``operation`` and what was expected: read as an
    empty page it would make a full account look empty, and apply would create everything
    again."""
    if isinstance(data, list):
        items, total = data, None
    elif isinstance(data, dict) and isinstance(data.get("items"), list):
        items, total = data["items"], parse_total(data.get("total"))
    else:
        got = describe_shape(data)
        if isinstance(data, dict) and "items" in data:
            got = f"items as {describe_shape(data['items'])}"
        raise ApiError(200, operation=operation, message=f"expected {_ENVELOPE}, got {got}")
    return check_items(items, operation), total


def check_items(items: list[Any], operation: str) -> list[Obj]:
    """``items`` if every one is an object with an ``id`` (string or number), else an
    :class:`ApiError` naming ``operation`` and the first item that is not."""
    for index, item in enumerate(items):
        ident = item.get("id") if isinstance(item, dict) else None
        if not isinstance(ident, (str, int, float)) or isinstance(ident, bool):
            what = describe_shape(item) if not isinstance(item, dict) else "an object without an id"
            raise ApiError(
                200,
                operation=operation,
                message=f"expected every item to be an object with an id; item {index} is {what}",
            )
    return items


def unwrap_items(data: Any) -> tuple[list[Obj], int | None]:
    """``({total, items})`` → (items that are objects, parsed total). A bare list is accepted."""
    if isinstance(data, list):
        return [x for x in data if isinstance(x, dict)], None
    if not isinstance(data, dict):
        return [], None
    items = data.get("items")
    if not isinstance(items, list):
        return [], parse_total(data.get("total"))
    return [x for x in items if isinstance(x, dict)], parse_total(data.get("total"))


def normalize_campaign(raw: Mapping[str, Any]) -> Obj:
    """One campaign in the one shape: ids as strings, documented integers as ints and
    ``labels`` always a list (a comma string is split, stripped, empties dropped); the field
    lists are :mod:`hoodsync.wire`'s. Other fields are kept as the API sent them. Nested
    objects of ``raw`` (a freshly decoded answer) are changed in place."""
    obj: Obj = dict(raw)
    if "labels" in obj:
        obj["labels"] = campaign_labels(obj["labels"])
    coerce_paths(obj, CAMPAIGN_ID_PATHS, CAMPAIGN_INT_PATHS)
    return obj


def normalize_push_task(raw: Mapping[str, Any]) -> Obj:
    """One push task in the one shape: ``id`` a string, documented integers (``status``,
    ``ttl``, ``frequency``, quiet time, the AdEx numbers …; :mod:`hoodsync.wire`) as ints when
    they are integral numbers or digit strings. Other fields are kept as sent. Nested objects
    of ``raw`` are changed in place."""
    obj: Obj = dict(raw)
    coerce_paths(obj, PUSH_TASK_ID_PATHS, PUSH_TASK_INT_PATHS)
    return obj


def _order_key(obj: Mapping[str, Any], time_field: str) -> tuple[str, int, int, str]:
    """Creation order, then numeric id: a deterministic order for any listing."""
    raw_id = str(obj.get("id", ""))
    stamp = obj.get(time_field)
    return (
        stamp if isinstance(stamp, str) else "",
        0 if raw_id.isdigit() else 1,
        int(raw_id) if raw_id.isdigit() else 0,
        raw_id,
    )


# ---------------------------------------------------------------------------------- client


class HoodClient:
    """Hood campaigns and push tasks over one :class:`ApiTransport` (one account).

    Lists read every page (``page=N,M`` with a large M, ascending ``create_time`` so new objects
    land at the end, ``view=full``), survive a server that caps M (the size it
    really used is detected from the count and ``total``) and objects shifting between pages
    (de-duplicated by id; when ``total`` changes during a pass the list is read again). They are
    strict and bounded: an answer of another shape (:func:`list_page`), a server that ignores
    paging, or pages that never reach ``total`` are errors, never a shorter list.
    """

    def __init__(
        self,
        transport: ApiTransport,
        *,
        page_size: int = 500,
        max_passes: int = 3,
        max_pages: int = MAX_LIST_PAGES,
    ) -> None:
        if page_size < 1 or max_passes < 1 or max_pages < 1:
            raise ValueError("page_size, max_passes and max_pages must be at least 1")
        self.transport = transport
        self.page_size = page_size
        self.max_passes = max_passes
        self.max_pages = max_pages

    def __repr__(self) -> str:
        return f"HoodClient({self.transport!r})"

    @property
    def unknown_outcomes(self) -> int:
        """Creates through this client whose outcome was unknown at least once (see
        :meth:`ApiTransport.create`): after any, a final listing should look for duplicates."""
        return self.transport.unknown_outcomes

    def within_stop(
        self, stop_elapsed: Callable[[], float | None] | None
    ) -> contextlib.AbstractContextManager[None]:
        """The requests of this thread inside the block end within one request deadline of the
        caller's stop (:meth:`ApiTransport.within_stop`)."""
        return self.transport.within_stop(stop_elapsed)

    # ------------------------------------------------------------------ campaigns

    def list_campaigns(self) -> list[Obj]:
        """Every campaign in the account (full view), oldest first."""
        return self._list_all(
            "/campaigns", {"sort": "create_time", "view": "full"}, normalize_campaign, "campaigns"
        )

    def get_campaign(self, campaign_id: str) -> Obj:
        """One campaign (full view). :class:`NotFoundError` if there is none with that id."""
        path = f"/campaigns/{_seg(campaign_id)}"
        response = self.transport.request(
            "GET",
            path,
            params={"view": "full"},
            retry=True,
            lookup=True,
            operation=f"get campaign {campaign_id}",
        )
        return normalize_campaign(_single(response.data, f"campaign {campaign_id}"))

    def create_campaign(
        self,
        body: Mapping[str, Any],
        *,
        key: str | None,
        on_resend: Callable[[int], None] | None = None,
        stopping: Callable[[], bool] | None = None,
        stop_elapsed: Callable[[], float | None] | None = None,
    ) -> Obj:
        """Create a campaign exactly once and return it (re-read if the answer was partial).

        ``key`` is the hoodsync marker the caller already put in ``body["metadata"]
        ["hoodsync_key"]``. If the outcome of the POST is unknown (see
        :meth:`ApiTransport.create`), the account is listed again and a campaign carrying that
        marker — or, without a key, the exact ``name`` — is taken as this create's result instead
        of sending it again.
        """
        name = body.get("name")

        def find() -> Obj | None:
            if key is not None:
                return _newest(
                    self.list_campaigns(), lambda c: campaign_marker(c) == key, "campaign", key
                )
            if isinstance(name, str):
                return _newest(self.list_campaigns(), lambda c: c.get("name") == name, "campaign")
            return None

        # Named by the key (the definition's, never interpolated), not by the name: a name may
        # hold an ${env:...} value, and operations appear in errors, logs and the result table.
        result: CreateResult[Obj] = self.transport.create(
            "/campaigns",
            dict(body),
            find=find,
            operation=f"create campaign {key}" if key else "create campaign",
            on_resend=on_resend,
            stopping=stopping,
            stop_elapsed=stop_elapsed,
        )
        with after_sent():  # the POST went through: what follows cannot make it unsent
            created = self._settle(result, find, "campaign", stopping, stop_elapsed)
            if result.existing is not None or _is_complete_campaign(created):
                return normalize_campaign(created)
            return self.get_campaign(str(to_str_id(created["id"])))

    def patch_campaign(self, campaign_id: str, patch: Mapping[str, Any]) -> None:
        """JSON merge patch (RFC 7386) of the given top-level keys; 204 expected."""
        self.transport.request(
            "PATCH",
            f"/campaigns/{_seg(campaign_id)}",
            json=dict(patch),
            retry=True,
            operation=f"update campaign {campaign_id}",
        )

    def pause_campaign(self, campaign_id: str, reason: str | None = None) -> None:
        """Pause (from running or scheduled)."""
        body = {"reason": reason} if reason else {}
        self._campaign_action(campaign_id, "pause", body, _PAUSED)

    def resume_campaign(self, campaign_id: str, body: Mapping[str, Any] | None = None) -> None:
        """Resume a paused campaign; ``body`` holds at most one of ``run_immediately`` /
        ``scheduled_time`` (empty: back to the status it had before the pause)."""
        payload = dict(body or {})
        wanted = _RESUMED
        if payload.get("run_immediately"):
            wanted = frozenset({"running"})
        elif payload.get("scheduled_time"):
            wanted = frozenset({"scheduled"})
        self._campaign_action(campaign_id, "resume", payload, wanted)

    def cancel_campaign(self, campaign_id: str, reason: str | None = None) -> None:
        """Cancel (irreversible)."""
        body = {"reason": reason} if reason else {}
        self._campaign_action(campaign_id, "cancel", body, _CANCELED)

    def _campaign_action(
        self, campaign_id: str, action: str, body: Mapping[str, Any], wanted: frozenset[str]
    ) -> None:
        """POST a state action, retried. If a *retry* is refused with 400, an earlier attempt may
        have succeeded without us seeing the answer: re-read, and a campaign already in the
        wanted state is success."""
        operation = f"{action} campaign {campaign_id}"
        try:
            self.transport.request(
                "POST",
                f"/campaigns/{_seg(campaign_id)}/{action}",
                json=dict(body),
                retry=True,
                operation=operation,
            )
        except ApiError as err:
            if err.status != 400 or err.attempts <= 1:
                raise
            with after_sent():  # an earlier attempt may have acted
                status = campaign_status(self.get_campaign(campaign_id))
            if status in wanted:
                log.debug("%s: refused on retry but already %s; done", operation, status)
                return
            raise

    # ------------------------------------------------------------------ push tasks

    def list_push_tasks(self) -> list[Obj]:
        """Every push task in the account (full view), oldest first."""
        return self._list_all(
            "/push-tasks",
            {"sort": "create_time", "view": "full"},
            normalize_push_task,
            "push tasks",
        )

    def get_push_task(self, task_id: str) -> Obj:
        """One push task (full view). :class:`NotFoundError` if there is none with that id."""
        response = self.transport.request(
            "GET",
            f"/push-tasks/{_seg(task_id)}",
            params={"view": "full"},
            retry=True,
            lookup=True,
            operation=f"get push task {task_id}",
        )
        return normalize_push_task(_single(response.data, f"push task {task_id}"))

    def create_push_task(
        self,
        body: Mapping[str, Any],
        *,
        exclude_ids: Collection[str] = (),
        on_resend: Callable[[int], None] | None = None,
        stopping: Callable[[], bool] | None = None,
        stop_elapsed: Callable[[], float | None] | None = None,
    ) -> Obj:
        """Create a push task exactly once and return it (the POST answers only the id; the task
        is read back). On an unknown outcome, a task with the exact ``name`` that is not one of
        ``exclude_ids`` (tasks that existed before) is taken as the result."""
        name = body.get("name")
        excluded = {str(x) for x in exclude_ids}

        def find() -> Obj | None:
            if not isinstance(name, str):
                return None
            return _newest(
                self.list_push_tasks(),
                lambda t: t.get("name") == name and str(t.get("id")) not in excluded,
                "push task",
            )

        # Not named by its name, which may hold an ${env:...} value (see create_campaign).
        result: CreateResult[Obj] = self.transport.create(
            "/push-tasks",
            dict(body),
            find=find,
            operation="create push task",
            on_resend=on_resend,
            stopping=stopping,
            stop_elapsed=stop_elapsed,
        )
        with after_sent():  # the POST went through: what follows cannot make it unsent
            created = self._settle(result, find, "push task", stopping, stop_elapsed)
            if result.existing is not None:
                return created
            return self.get_push_task(str(to_str_id(created["id"])))

    def patch_push_task(self, task_id: str, patch: Mapping[str, Any]) -> None:
        """Update the given fields (others unchanged); 204 expected."""
        self.transport.request(
            "PATCH",
            f"/push-tasks/{_seg(task_id)}",
            json=dict(patch),
            retry=True,
            operation=f"update push task {task_id}",
        )

    def _settle(
        self,
        result: CreateResult[Obj],
        find: Callable[[], Obj | None],
        what: str,
        stopping: Callable[[], bool] | None,
        stop_elapsed: Callable[[], float | None] | None,
    ) -> Obj:
        """The created object: the one found by listing, the one answered, or — when a success
        answer carries no id — the one listing finds over the settle window (the create did
        happen, but may not be listed at once; once the caller is stopping, one look bounded
        as :meth:`ApiTransport.create` bounds it)."""
        if result.existing is not None:
            return result.existing
        assert result.response is not None
        created = _created_object(result.response.data)
        if created is not None:
            return created
        # No usable id (none, or null / true / "" / 1.5 ...): the create happened but its
        # object is unknown, never "created (id None)". Look for it as for a lost answer.
        operation = f"create {what}"
        with self.transport.within_stop(stop_elapsed):
            found = self.transport.settle(
                find,
                operation=operation,
                cause=f"the answer named no {what} by a valid id",
                stopping=stopping,
            )
        if found is None:
            raise OutcomeUnknownError(
                f"the server accepted the create but named no {what}, and listing does not show it",
                operation=operation,
            )
        return found

    # ------------------------------------------------------------------ paging

    def _list_all(
        self,
        path: str,
        params: Mapping[str, str],
        normalize: Callable[[Mapping[str, Any]], Obj],
        what: str,
    ) -> list[Obj]:
        """Read every page; repeat the whole pass (at most ``max_passes``) if the collection
        moved while paging. Objects are never deleted in Hood, so the union of all passes (the
        newest copy of each) is returned, oldest first.

        Never a partial list: when the union stays short of the ``total`` the server reports,
        that is an :class:`ApiError` (see also :meth:`_one_pass`)."""
        union: dict[str, Obj] = {}
        total: int | None = None
        for attempt in range(1, self.max_passes + 1):
            stable, items, total = self._one_pass(path, params, normalize, what)
            union.update(items)
            if stable:
                break
            log.debug("listing %s: the collection changed while paging (pass %d)", what, attempt)
        if total is not None and len(union) < total:
            raise ApiError(
                200,
                operation=f"list {what} (GET {path})",
                message=f"the server reports {total} {what} but its pages hold only "
                f"{len(union)} distinct ones",
            )
        return sorted(union.values(), key=lambda o: _order_key(o, "create_time"))

    def _one_pass(
        self,
        path: str,
        params: Mapping[str, str],
        normalize: Callable[[Mapping[str, Any]], Obj],
        what: str,
    ) -> tuple[bool, dict[str, Obj], int | None]:
        """One pass over the pages: (whether it was consistent, objects by id, last total).

        The pass ends at a page shorter than the page size (the one asked for, or the one a
        capped first page showed) or an empty one; ``total`` never ends it early. Bounded
        whatever the server answers: a page that adds no object not already seen ends the pass
        (an error unless ``total`` objects are in hand: the server ignores paging), and going
        past ``max_pages`` pages is an error naming that bound (a huge ``total`` does not raise
        it)."""
        size = self.page_size
        page = 1
        seen: dict[str, Obj] = {}
        totals: set[int | None] = set()
        capped = False
        total: int | None = None
        while True:
            operation = f"list {what} (GET {path}, page {page})"
            response = self.transport.request(
                "GET",
                path,
                params={**params, "page": f"{page},{size}"},
                retry=True,
                operation=operation,
            )
            items, total = list_page(response.data, operation)
            totals.add(total)
            before = len(seen)
            for raw in items:
                obj = normalize(raw)
                seen[str(obj.get("id"))] = obj
            if not items:
                break
            if len(seen) == before:
                if total is not None and len(seen) >= total:
                    break
                raise ApiError(
                    200,
                    operation=operation,
                    message=f"the page holds only {what} already listed on earlier pages "
                    "(the server seems to ignore paging)",
                )
            if len(items) < size and page == 1 and not capped:
                # Fewer than asked: the end, or a server that caps the page size (the maximum
                # is not documented). Continue with the size it used, so page N means what we
                # think; an empty or shorter page ends the list. ``total`` cannot tell the two
                # apart: a lagging count (or one equal to this page's) would hide the rest.
                size, capped = len(items), True
            elif len(items) < size:
                break
            # A full page never ends the list, whatever ``total`` says: only a short or an
            # empty page does (a total that disagrees makes the pass unstable: read again).
            page += 1
            if page > self.max_pages:
                raise ApiError(
                    200,
                    operation=f"list {what} (GET {path})",
                    message=too_many_pages(what, self.max_pages, size),
                )
        known = {t for t in totals if t is not None}
        stable = len(totals) == 1 and (not known or len(seen) == next(iter(known)))
        return stable, seen, total


# ---------------------------------------------------------------------------------- helpers


def too_many_pages(what: str, max_pages: int, size: int) -> str:
    """The one message for a list that goes past the page bound."""
    return (
        f"still more {what} after {max_pages:,} pages of {size}, the most hoodsync reads of one "
        "list; stopped reading (the server's paging seems to never end)"
    )


def _seg(value: str) -> str:
    """One path segment: ids are quoted so they can never change the path."""
    return quote(str(value), safe="")


def _single(data: Any, what: str) -> Obj:
    """GET by id answers ``{total: 1, items: [obj]}``; an empty envelope means not found."""
    items, _total = unwrap_items(data)
    if items:
        return items[0]
    if isinstance(data, dict) and "id" in data:
        return data
    raise NotFoundError(
        404, operation=f"get {what}", title="Not found", message=f"{what} does not exist"
    )


def _created_object(data: Any) -> Obj | None:
    """The object a create answered with: bare, in an envelope, or just ``{"id": ...}``; None
    when the answer names none by a valid id (:func:`hoodsync.wire.is_object_id`)."""
    if isinstance(data, dict):
        items, _total = unwrap_items(data)
        obj = items[0] if items else data
        if is_object_id(obj.get("id")):
            return obj
    return None


def _is_complete_campaign(obj: Mapping[str, Any]) -> bool:
    return all(k in obj for k in ("id", "name", "status", "messages"))


def _newest(
    objs: Iterable[Obj], match: Callable[[Obj], bool], what: str, key: str | None = None
) -> Obj | None:
    """The newest object matching, if any (listings are oldest first). The warning about
    several names the hoodsync ``key`` when there is one, never a name (it may be secret)."""
    found = [o for o in objs if match(o)]
    if len(found) > 1:
        which = f"{what} objects carry the key {key!r}" if key else f"{what} objects match"
        log.warning("%d %s; taking the newest", len(found), which)
    return found[-1] if found else None
