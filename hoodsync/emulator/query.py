"""Hood list and read parameters: ``page``, ``sort``, ``q``, ``fields``, ``view`` and filters.

Every value is checked here; anything malformed is a 400 (:class:`HoodFailure`), never a silent
default. Page sizes above the configured maximum are capped silently, as the brief for the
emulator decided (the real maximum is undocumented).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hoodsync.emulator.store import Filter, ListQuery
from hoodsync.emulator.wire import HoodFailure

__all__ = [
    "ResourceSpec",
    "Presentation",
    "parse_list",
    "parse_read",
    "to_bool",
    "to_int",
    "to_str",
]

DEFAULT_PAGE_SIZE = 10

_VALUE_OPS = ("eq", "neq", "gt", "gte", "lt", "lte")
_LIST_OPS = ("in", "nin")
_RANGE_OPS = ("r", "rf", "rl", "rr")
_NULL_OPS = ("is", "isn")
_ALL_OPS = _VALUE_OPS + _LIST_OPS + _RANGE_OPS + _NULL_OPS
_PAGE = re.compile(r"(\d+)(?:,(\d+))?\Z")


def to_bool(value: str) -> int:
    """``true/false/1/0`` (any case) as ``1``/``0``; ``ValueError`` otherwise."""
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return 1
    if lowered in ("false", "0"):
        return 0
    raise ValueError(value)


def to_int(value: str) -> int:
    """A decimal integer; ``ValueError`` otherwise."""
    if not re.fullmatch(r"-?\d+", value.strip()):
        raise ValueError(value)
    return int(value)


def to_str(value: str) -> str:
    """Strings filter as themselves."""
    return value


@dataclass(frozen=True)
class ResourceSpec:
    """What a list endpoint supports: sortable, filterable (with value converters), searchable."""

    sortable: frozenset[str]
    filterable: Mapping[str, Callable[[str], Any]]
    searchable: tuple[str, ...]
    default_search: tuple[str, ...]


@dataclass(frozen=True)
class Presentation:
    """How to render items: ``view`` (``default``/``full``) or an explicit ``fields`` list."""

    view: str = "default"
    fields: tuple[str, ...] | None = None


@dataclass
class _Params:
    page: str | None = None
    sort: str | None = None
    q: str | None = None
    q_fields: str | None = None
    fields: str | None = None
    view: str | None = None
    filters: list[tuple[str, str]] = field(default_factory=list)


def _split(params: tuple[tuple[str, str], ...]) -> _Params:
    out = _Params()
    for name, value in params:
        if name in ("page", "sort", "q", "q_fields", "fields", "view"):
            setattr(out, name, value)  # a repeated parameter: the last one wins
        else:
            out.filters.append((name, value))
    return out


def _presentation(p: _Params) -> Presentation:
    view = p.view if p.view is not None else "default"
    if view not in ("default", "full"):
        raise HoodFailure(400, f"Invalid view {view!r}; use 'default' or 'full'.")
    fields: tuple[str, ...] | None = None
    if p.fields is not None:
        fields = tuple(f.strip() for f in p.fields.split(",") if f.strip())
        if not fields:
            raise HoodFailure(400, "The fields parameter must name at least one field.")
    return Presentation(view=view, fields=fields)


def _page(raw: str | None, page_max: int) -> tuple[int, int]:
    if raw is None:
        return 0, DEFAULT_PAGE_SIZE
    match = _PAGE.match(raw.strip())
    if not match:
        raise HoodFailure(400, f"Invalid page {raw!r}; use page=N or page=N,M with N, M >= 1.")
    number = int(match.group(1))
    size = int(match.group(2)) if match.group(2) is not None else DEFAULT_PAGE_SIZE
    if number < 1 or size < 1:
        raise HoodFailure(400, f"Invalid page {raw!r}; use page=N or page=N,M with N, M >= 1.")
    size = min(size, page_max)
    return (number - 1) * size, size


def _sort(raw: str | None, spec: ResourceSpec) -> tuple[tuple[str, bool], ...]:
    if raw is None or not raw.strip():
        # Documented default: latest created first; ties by id, newest first.
        return (("create_time", True), ("id", True))
    keys: list[tuple[str, bool]] = []
    for part in raw.split(","):
        part = part.strip()
        desc = part.startswith("-")
        name = part[1:] if desc or part.startswith("+") else part
        if name not in spec.sortable:
            allowed = ", ".join(sorted(spec.sortable))
            raise HoodFailure(400, f"Field {name!r} is not sortable; sortable fields: {allowed}.")
        keys.append((name, desc))
    # Ties are broken by id, ascending, so paging through a sorted list is stable.
    return (*keys, ("id", False))


def _filter(name: str, raw: str, spec: ResourceSpec) -> Filter:
    convert = spec.filterable.get(name)
    if convert is None:
        allowed = ", ".join(sorted(spec.filterable))
        raise HoodFailure(
            400, f"Unknown parameter or unfilterable field {name!r}; filterable: {allowed}."
        )
    op, colon, rest = raw.partition(":")
    if not colon or op not in _ALL_OPS:
        op, rest = "eq", raw  # no operator: equality on the whole value
    try:
        if op in _NULL_OPS:
            return Filter(name, op)
        if op in _VALUE_OPS:
            return Filter(name, op, (convert(rest),))
        values = tuple(convert(v) for v in rest.split(","))
    except ValueError as exc:
        raise HoodFailure(400, f"Invalid value {rest!r} for filter {name}.") from exc
    if op in _RANGE_OPS and len(values) != 2:
        raise HoodFailure(400, f"Range filter {name}={raw} needs exactly two values: a,b.")
    return Filter(name, op, values)


def parse_list(
    params: tuple[tuple[str, str], ...], spec: ResourceSpec, page_max: int
) -> tuple[ListQuery, Presentation]:
    """Validate list parameters into a store query and a presentation; 400 on anything bad."""
    p = _split(params)
    offset, limit = _page(p.page, page_max)
    search_fields = spec.default_search
    if p.q_fields is not None:
        search_fields = tuple(f.strip() for f in p.q_fields.split(",") if f.strip())
        bad = [f for f in search_fields if f not in spec.searchable]
        if bad or not search_fields:
            raise HoodFailure(400, f"q_fields may only name: {', '.join(spec.searchable)}.")
    query = ListQuery(
        filters=tuple(_filter(name, value, spec) for name, value in p.filters),
        search=p.q if p.q else None,
        search_fields=search_fields,
        sort=_sort(p.sort, spec),
        offset=offset,
        limit=limit,
    )
    return query, _presentation(p)


def parse_read(params: tuple[tuple[str, str], ...]) -> Presentation:
    """Validate the parameters of a GET by id (only ``fields`` and ``view``); 400 otherwise."""
    p = _split(params)
    extra = [n for n, _ in p.filters] + [
        n for n in ("page", "sort", "q", "q_fields") if getattr(p, n) is not None
    ]
    if extra:
        raise HoodFailure(400, f"Unknown parameter {extra[0]!r} for a single object.")
    return _presentation(p)
