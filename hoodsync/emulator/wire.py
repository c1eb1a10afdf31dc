"""Plumbing shared by the emulated APIs: request/response values, failures, times, merge patch.

Nothing here knows about a particular API. Handlers receive a :class:`Request` whose ``path`` is
relative to the API prefix (``/campaigns/1017001``), and return a :class:`Response` holding a
JSON-able body, or raise :class:`HoodFailure` / :class:`FalconyteFailure` which the API turns into
its own documented error body.
"""

from __future__ import annotations

import calendar
import copy
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "JSON",
    "Request",
    "Response",
    "HoodFailure",
    "FalconyteFailure",
    "BodyError",
    "format_hood_time",
    "parse_hood_time",
    "format_iso_micros",
    "merge_patch",
    "dump_json",
    "RawJson",
    "json_fragment",
    "dump_indexed",
]

JSON = Any
"""A JSON-like value: dict / list / str / int / float / bool / None."""

_HOOD_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\Z")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]+\Z")


class BodyError(ValueError):
    """The request body is not valid JSON."""


@dataclass(frozen=True)
class Request:
    """One HTTP request, already read from the socket or transport.

    ``path`` is relative to the API prefix; ``headers`` has lower-case names; ``query`` keeps
    parameters in order (repeats allowed).
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> JSON:
        """The body parsed as JSON; ``None`` for an empty body. Raises :class:`BodyError`."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BodyError("the request body is not valid JSON") from exc


@dataclass
class Response:
    """What a handler answers. ``body`` is JSON-able, or ``None`` for no body (204).

    ``created`` marks a create that was committed (the drop-after-commit fault applies to those).
    """

    status: int
    body: JSON = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    created: bool = False


class HoodFailure(Exception):
    """A Hood error answer: HTTP ``status``, body ``{code, title, message, trace_id}``."""

    def __init__(self, status: int, message: str, *, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


class FalconyteFailure(Exception):
    """A Falconyte error answer: ``{ok: false, error: {code, message}}`` [+ ``errors``]."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        errors: dict[str, list[str]] | None = None,
        headers: list[tuple[str, str]] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or []


def format_hood_time(ts: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC for a POSIX timestamp (sub-second part dropped)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(ts)))


def parse_hood_time(value: object) -> float | None:
    """POSIX timestamp for a strict ``YYYY-MM-DD HH:MM:SS`` UTC string, else ``None``."""
    if not isinstance(value, str) or not _HOOD_TIME.match(value):
        return None
    try:
        parsed = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return float(calendar.timegm(parsed.timetuple()))


def format_iso_micros(micros: int) -> str:
    """ISO 8601 UTC with microseconds (``2026-01-01T00:00:00.000001Z``) for epoch microseconds."""
    seconds, rest = divmod(micros, 1_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def merge_patch(target: JSON, patch: JSON) -> JSON:
    """RFC 7386 JSON Merge Patch: ``null`` removes a key, objects merge, anything else replaces.

    Neither argument is modified; the result shares no mutable structure with ``patch``.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, JSON] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclass(frozen=True)
class RawJson:
    """A response body already serialised by :func:`json_fragment` rules (sorted keys, no
    spaces): :func:`dump_json` sends ``text`` as it is. Lets a list answer be assembled from
    stored JSON text instead of parsing and re-encoding every object."""

    text: str


def json_fragment(value: JSON) -> str:
    """``value`` serialised exactly as :func:`dump_json` serialises it inside a larger body."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dump_indexed(value: dict[str, JSON]) -> tuple[str, str | None]:
    """:func:`json_fragment` of an object, and an index of its top-level entries.

    The index is ``"start,end,start,end,..."``: where each ``"key":value`` entry of the text
    starts and ends, in text order, so ``text[start:end]`` is the entry. It is ``None`` (no
    index) unless every key is a plain word (letters, digits, ``_``). Plain keys are never
    escaped, and because ``"`` sorts before every plain-word character, sorting such entries as
    strings sorts them by key.
    """
    if not all(isinstance(key, str) and _PLAIN_KEY.match(key) for key in value):
        return json_fragment(value), None
    # With plain-word keys, json.dumps (sorted keys, no spaces) writes exactly these entries in
    # this order between the braces: the text is assembled from them rather than encoding the
    # object twice (once whole, once entry by entry) on every write of a campaign.
    entries = [f'"{key}":{json_fragment(value[key])}' for key in sorted(value)]
    text = "{" + ",".join(entries) + "}"
    offsets: list[str] = []
    start = 1
    for entry in entries:
        offsets += (str(start), str(start + len(entry)))
        start += len(entry) + 1
    return text, ",".join(offsets)


def dump_json(value: JSON) -> bytes:
    """Serialise with sorted keys and no spaces, so answers are byte-for-byte stable."""
    if isinstance(value, RawJson):
        return value.text.encode("utf-8")
    return json_fragment(value).encode("utf-8")
