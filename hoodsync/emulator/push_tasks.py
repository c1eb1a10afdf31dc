"""The emulated Hood push-task endpoints (``/v1/hood/push-tasks``) and their documented rules.

- ``POST`` answers 201 with ``{"id": "<id>"}`` only; ``PATCH`` answers 204 and leaves fields that
  are not given unchanged (nested objects merge, ``null`` clears).
- GET returns ids and numeric fields as strings (``"status": "1"``, ``"ttl": "3600"``), as the
  docs' examples do; numbers are accepted on input as numbers or digit strings.
- Rules (400): ``name`` required; ``status`` 0 or 1 (2 = finished is set by the system only, and a
  finished task cannot be edited); an active task needs a ``start_time``; ``start_time`` is
  ``"immediately"`` (stored as now) or a date-time not in the past; ``end_time`` not before
  ``start_time``; ``frequency`` a multiple of 60 within 3600..94608000; not both ``frequency`` and
  ``cron``; ``cron`` has 5 fields with a single-value minute (and hour, with ``user_time_zone``);
  ``custom_data`` at most 4000 characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hoodsync.emulator.query import ResourceSpec, parse_list, parse_read, to_int, to_str
from hoodsync.emulator.store import PushTaskRow, Store
from hoodsync.emulator.wire import (
    BodyError,
    HoodFailure,
    Request,
    Response,
    format_hood_time,
    merge_patch,
    parse_hood_time,
)

__all__ = ["PushTasks", "PUSH_TASK_FIELDS"]

PUSH_TASK_FIELDS = (
    "name",
    "status",
    "start_time",
    "end_time",
    "frequency",
    "cron",
    "ttl",
    "user_time_zone",
    "quiet_time",
    "custom_data",
    "targeting",
    "message",
    "adex",
    "total_user",
)
#: Stored as integers, returned as strings.
NUMERIC_FIELDS = ("status", "frequency", "ttl", "user_time_zone", "total_user")
OBJECT_FIELDS = ("quiet_time", "targeting", "message", "adex")
FREQUENCY_MIN = 3600
FREQUENCY_MAX = 94_608_000
CUSTOM_DATA_MAX = 4000
_NO_TASK = "Specified push task does not exist."
_CRON_FIELD = re.compile(r"[0-9A-Za-z*,/\-]+\Z")

PUSH_TASK_LIST = ResourceSpec(
    sortable=frozenset({"name", "create_time"}),
    filterable={"status": to_int, "name": to_str, "id": to_int},
    searchable=("name",),
    default_search=("name",),
)


def _number(name: str, value: Any) -> int | None:
    """A number given as a JSON number or a digit string; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise HoodFailure(400, f"{name} must be a number.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
        return int(value)
    raise HoodFailure(400, f"{name} must be a number.")


def _normalise(patch: dict[str, Any], now: float) -> dict[str, Any]:
    """Check types of the given fields and bring numbers/times to their stored form."""
    out = dict(patch)
    for name in NUMERIC_FIELDS:
        if name in out:
            out[name] = _number(name, out[name])
    if "status" in out and out["status"] not in (0, 1):
        raise HoodFailure(400, "status must be 0 or 1 (2 = finished is set by the system only).")
    if "user_time_zone" in out and out["user_time_zone"] not in (None, 0, 1):
        raise HoodFailure(400, "user_time_zone must be 0 or 1.")
    if "start_time" in out and out["start_time"] is not None:
        out["start_time"] = _start_time(out["start_time"], now)
    for name in OBJECT_FIELDS:
        if out.get(name) is not None and not isinstance(out[name], dict):
            raise HoodFailure(400, f"{name} must be an object.")
    for name in ("name", "cron", "custom_data", "end_time"):
        if out.get(name) is not None and not isinstance(out[name], str):
            raise HoodFailure(400, f"{name} must be a string.")
    return out


def _start_time(value: Any, now: float) -> str:
    if value == "immediately":
        return format_hood_time(now)
    parsed = parse_hood_time(value)
    if parsed is None:
        raise HoodFailure(
            400, "start_time must be 'immediately' or a date-time 'YYYY-MM-DD HH:MM:SS'."
        )
    if parsed < int(now):
        raise HoodFailure(400, "Push task start_time can not be in the past.")
    return str(value)


def _check_cron(cron: str, user_time_zone: bool) -> None:
    fields = cron.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise HoodFailure(
            400, "cron must have 5 fields: minute hour day-of-month month day-of-week."
        )
    if not fields[0].isdigit() or int(fields[0]) > 59:
        raise HoodFailure(400, "The cron minute field must be a single value (0-59).")
    if user_time_zone and (not fields[1].isdigit() or int(fields[1]) > 23):
        raise HoodFailure(
            400, "The cron hour field must be a single value (0-23) when user_time_zone is on."
        )


def check_push_task(spec: dict[str, Any]) -> None:
    """Rules over the whole (merged) task; 400 naming the first broken one."""
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise HoodFailure(400, "name is required and must be a non-empty string.")
    start = spec.get("start_time")
    if spec.get("status") == 1 and start is None:
        raise HoodFailure(400, "Push task without start_time can not be active.")
    end = spec.get("end_time")
    if end is not None:
        end_ts = parse_hood_time(end)
        if end_ts is None:
            raise HoodFailure(400, "end_time must be a date-time 'YYYY-MM-DD HH:MM:SS'.")
        start_ts = parse_hood_time(start)
        if start_ts is not None and end_ts < start_ts:
            raise HoodFailure(400, "Push task end_time can not be set to date before start_time.")
    frequency = spec.get("frequency")
    if frequency is not None and (
        frequency % 60 != 0 or not FREQUENCY_MIN <= frequency <= FREQUENCY_MAX
    ):
        raise HoodFailure(
            400,
            f"frequency must be a multiple of 60 between {FREQUENCY_MIN} and {FREQUENCY_MAX} "
            "seconds.",
        )
    cron = spec.get("cron")
    if frequency is not None and cron is not None:
        raise HoodFailure(400, "Set either frequency or cron, not both.")
    if cron is not None:
        _check_cron(cron, spec.get("user_time_zone") == 1)
    custom = spec.get("custom_data")
    if custom is not None and len(custom) > CUSTOM_DATA_MAX:
        raise HoodFailure(400, f"custom_data may hold at most {CUSTOM_DATA_MAX} characters.")


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except BodyError as exc:
        raise HoodFailure(400, "The request body is not valid.") from exc
    if not isinstance(body, dict):
        raise HoodFailure(400, "The request body is not valid: a JSON object is required.")
    unknown = sorted(set(body) - set(PUSH_TASK_FIELDS))
    if unknown:
        raise HoodFailure(400, f"Unknown field {unknown[0]!r}.")
    return body


def render_push_task(row: PushTaskRow, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The task as GET returns it: every known field (null when unset), numbers as strings."""
    obj: dict[str, Any] = {name: row.spec.get(name) for name in PUSH_TASK_FIELDS}
    obj["status"] = row.status
    if obj["user_time_zone"] is None:
        obj["user_time_zone"] = 0
    for name in NUMERIC_FIELDS:
        if obj[name] is not None:
            obj[name] = str(obj[name])
    obj.update(
        id=str(row.id),
        next_execution_time=row.spec.get("start_time") if row.status == 1 else None,
        last_execution_time=None,
        create_time=row.create_time,
    )
    if fields is not None:
        return {k: obj[k] for k in fields if k in obj}
    return obj


class PushTasks:
    """Handlers for the push-task endpoints of one Hood API instance."""

    def __init__(self, store: Store, *, page_max: int, clock: Callable[[], float]) -> None:
        self._store = store
        self._page_max = page_max
        self._clock = clock

    def routes(
        self, request: Request, account: str, rest: list[str]
    ) -> dict[str, Callable[[], Response]] | None:
        """Method -> handler for ``/push-tasks/<rest>``, or ``None`` for no such endpoint."""
        if not rest:
            return {
                "GET": lambda: self._list(request, account),
                "POST": lambda: self._create(request, account),
            }
        if len(rest) == 1:
            return {
                "GET": lambda: self._get(request, account, rest[0]),
                "PATCH": lambda: self._patch(request, account, rest[0]),
            }
        return None

    def _require(self, account: str, raw_id: str) -> PushTaskRow:
        row = self._store.get_push_task(account, int(raw_id)) if raw_id.isdigit() else None
        if row is None:
            raise HoodFailure(400, _NO_TASK)
        return row

    def _list(self, request: Request, account: str) -> Response:
        query, presentation = parse_list(request.query, PUSH_TASK_LIST, self._page_max)
        total, rows = self._store.list_push_tasks(account, query)
        items = [render_push_task(r, presentation.fields) for r in rows]
        return Response(200, {"total": total, "items": items})

    def _get(self, request: Request, account: str, raw_id: str) -> Response:
        presentation = parse_read(request.query)
        row = self._require(account, raw_id)
        return Response(200, {"total": 1, "items": [render_push_task(row, presentation.fields)]})

    def _create(self, request: Request, account: str) -> Response:
        now = self._clock()
        spec = _normalise(_body(request), now)
        spec["status"] = spec.get("status") or 0
        check_push_task(spec)
        stamp = format_hood_time(now)
        row = PushTaskRow(0, account, int(spec["status"]), stamp, stamp, spec)
        new_id = self._store.insert_push_task(row)
        return Response(201, {"id": str(new_id)}, created=True)

    def _patch(self, request: Request, account: str, raw_id: str) -> Response:
        body = _body(request)
        with self._store.transaction():
            now = self._clock()
            row = self._require(account, raw_id)
            if row.status == 2:
                raise HoodFailure(400, "A finished push task (status 2) cannot be edited.")
            patch = _normalise(body, now)
            if "status" in patch and patch["status"] is None:
                raise HoodFailure(
                    400, "status must be 0 or 1 (2 = finished is set by the system only)."
                )
            merged = merge_patch(row.spec, patch)
            check_push_task(merged)
            row.spec = merged
            row.status = int(merged.get("status") or 0)
            row.update_time = format_hood_time(now)
            self._store.save_push_task(row)
        return Response(204)
