"""From loaded YAML documents to validated :class:`~hoodsync.model.Definition` objects.

Three layers of checks, all of which report every problem they find (never just the first):

1. the envelope: each document is a mapping with a known ``kind``;
2. the kind's JSON Schema (``hoodsync/schemas/*.json``, draft 2020-12): types, enums, formats,
   unknown keys (with the closest known key suggested). A fast "is it valid?" check
   (:mod:`hoodsync.definitions.fast_validate`) answers first; only documents it does not call
   valid go through jsonschema, whose errors become the messages, so messages never depend on
   the fast check;
3. the rules a schema cannot express: no NaN or infinity anywhere and a plain-integer
   ``order`` (every kind), then the API rules (DESIGN §3, the API docs): A/B tests, message
   counts, integration ids, execution options, push-task timing, uniqueness of keys and names.

What the schemas themselves refuse so that a valid definition converges and is safe to send:
control characters in text (single-line fields allow none; message bodies, HTML, SMS text,
descriptions and custom_data allow line breaks and tabs, since the API docs show multi-line
content and YAML block scalars produce them), labels the API's comma-joined storage would
change, and URLs whose scheme is not http or https.

Nothing here touches the network. ``now`` is injected so time-dependent rules are testable.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cache, partial
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hoodsync.definitions import parallel_load
from hoodsync.definitions.fast_validate import Check, compile_check
from hoodsync.definitions.loader import (
    DEFAULT_LIMITS,
    Document,
    Limits,
    collector_paused,
    discover_files,
    load_named,
)
from hoodsync.errors import DefinitionError, Problem
from hoodsync.lookalikes import distinct, skeleton
from hoodsync.model import Definition, JsonPath, Kind
from hoodsync.terminal import json_safe
from hoodsync.wire import API_TIME, CAMPAIGN_EXECUTION_OPTIONS

if TYPE_CHECKING:  # jsonschema is imported only when a document has schema errors
    import jsonschema.protocols
    from jsonschema.exceptions import ValidationError

__all__ = [
    "SCHEMA_NAMES",
    "schema",
    "validate_documents",
    "load_definitions",
    "load_definitions_reporting",
    "resolved_problems",
    "parse_api_time",
]

#: Schema file stem per schema name accepted by ``hoodsync schema``.
SCHEMA_NAMES: Mapping[str, str] = {
    "Campaign": "campaign",
    "PushTask": "push_task",
    "EmailCampaign": "email_campaign",
    "config": "hoodsync_config",
}

_MAX_SHOWN = 60


def parse_api_time(text: str) -> dt.datetime | None:
    """Parse the APIs' ``YYYY-MM-DD HH:MM:SS`` (UTC) form; ``None`` if it is not that form."""
    try:
        return dt.datetime.strptime(text, API_TIME).replace(tzinfo=dt.UTC)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- schemas


def _resolve_schema_name(name: str) -> str:
    for accepted, stem in SCHEMA_NAMES.items():
        if name in (accepted, stem, accepted.lower()):
            return stem
    if name in ("hoodsync.yaml", "hoodsync_config"):
        return "hoodsync_config"
    raise KeyError(name)


@cache
def schema(name: str) -> Mapping[str, Any]:
    """The JSON Schema called ``name`` (a kind, its slug, or ``config``); KeyError if unknown."""
    stem = _resolve_schema_name(name)
    text = resources.files("hoodsync").joinpath("schemas", f"{stem}.json").read_text("utf-8")
    loaded: Mapping[str, Any] = json.loads(text)
    return loaded


@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    # One validator per schema, reused for every document that fails the fast check. Imported
    # here: jsonschema costs ~40 ms of startup that a valid repository never needs.
    import jsonschema

    return jsonschema.Draft202012Validator(schema(name))


# --------------------------------------------------------------------------- fast verdict


@cache
def _fast_check(name: str) -> Check | None:
    # Its contract (fast_validate): True only for a document jsonschema finds no error in.
    # ``format`` is an annotation on both sides: _validator() sets no format checker.
    return compile_check(schema(name))


def _fast_valid(data: Any, name: str, *, finite: bool = False) -> bool:
    """True only when the document certainly has no schema errors; False sends it through
    jsonschema. Always answering False would be correct, only slower. ``finite``: the caller
    has found no NaN or infinity in ``data`` (the check then does not scan for them again)."""
    check = _fast_check(name)
    return check is not None and check(data, finite=finite)


# --------------------------------------------------------------------------- schema errors


def _short(value: Any) -> str:
    """``value`` as JSON for a message, at most ``_MAX_SHOWN`` characters, safe to print (a
    definition's text may hold control characters: that is what some problems are about)."""
    text = json_safe(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


_JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    type(None): "null",
    int: "integer",
    float: "number",
}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _known_keys(subschema: Mapping[str, Any]) -> list[str]:
    return sorted(subschema.get("properties", {}))


def _suggest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _schema_problems(doc: Document, name: str, *, non_finite: bool) -> Iterator[Problem]:
    """Every schema violation in ``doc`` as Problems located at the offending node.
    ``non_finite``: whether ``doc`` holds a NaN or an infinity (:func:`_scan`, asked once per
    document by the caller); the fast check could not call such a document valid."""
    if not non_finite and _fast_valid(doc.data, name, finite=True):
        return
    seen: set[tuple[object, ...]] = set()
    for error in _validator(name).iter_errors(doc.data):
        for problem in _translate(error, doc):
            # Two rules of a schema can say the same thing of one node (``spec: {}`` misses
            # the keys both the kind's form and its common part require): said once.
            said = (problem.location, problem.message, problem.path, problem.severity)
            if said not in seen:
                seen.add(said)
                yield problem


def _translate(error: ValidationError, doc: Document) -> Iterator[Problem]:
    path: JsonPath = tuple(error.absolute_path)
    kind = error.validator
    if kind in ("additionalProperties", "unevaluatedProperties") and isinstance(
        error.instance, dict
    ):
        known = _known_keys(error.schema) if isinstance(error.schema, dict) else []
        patterns = (
            error.schema.get("patternProperties", {}) if isinstance(error.schema, dict) else {}
        )
        unknown = [
            k
            for k in error.instance
            if k not in known and not any(re.search(p, k) for p in patterns)
        ]
        if kind == "unevaluatedProperties" and not known:
            unknown = re.findall(r"'([^']+)'", error.message.split("(", 1)[-1]) or unknown
        for key in sorted(unknown) or [""]:
            where = path + (key,) if key else path
            yield Problem(doc.locate(where), f"unknown key {key!r}{_suggest(key, known)}", where)
        return
    if kind in ("oneOf", "anyOf") and error.context:
        from jsonschema.exceptions import best_match

        # The forms whose type the value does not have say nothing useful ("X or null", "a
        # string or a language map"): the errors of the form the value was meant as explain.
        context = [e for e in error.context if e.validator != "type" or e.relative_path]
        context = context or list(error.context)
        best = best_match(context)
        if best.validator not in ("oneOf", "anyOf", "const", "type") or len(context) == 1:
            yield from _translate(best, doc)
            return
    yield Problem(doc.locate(path), _message(error), path)


def _message(error: ValidationError) -> str:
    kind, inst = error.validator, error.instance
    value: Any = error.validator_value
    if kind == "required" and isinstance(inst, dict):
        missing = [k for k in value if k not in inst]
        return "missing required key " + ", ".join(repr(k) for k in missing)
    if kind == "type":
        wanted = value if isinstance(value, str) else " or ".join(value)
        got = "null" if inst is None else f"{_json_type(inst)} {_short(inst)}"
        return f"expected {wanted}, got {got}"
    if kind == "enum":
        return f"{_short(inst)} is not one of: {', '.join(_short(v) for v in value)}"
    if kind == "const":
        return f"must be {_short(value)}, got {_short(inst)}"
    if kind == "pattern":
        hint = error.schema.get("description") if isinstance(error.schema, dict) else None
        return f"{_short(inst)} does not match the expected format " + (
            f"({hint})" if hint else f"/{value}/"
        )
    described = error.schema.get("description") if isinstance(error.schema, dict) else None
    if kind in ("not", "minProperties", "maxProperties") and described:
        # The schema's own sentence says what the combination rule is; jsonschema's would not.
        if kind == "not":
            return f"{_short(inst)} is not allowed: {described}"
        count = len(inst) if isinstance(inst, dict) else 0
        bound = "at most" if kind == "maxProperties" else "at least"
        return f"has {count} key(s), {bound} {value} allowed — {described}"
    if kind in ("minItems", "minLength", "minProperties"):
        return (
            f"must not be shorter than {value}"
            if kind == "minLength"
            else (
                f"needs at least {value} item(s)"
                if kind == "minItems"
                else f"needs at least {value} key(s)"
            )
        )
    if kind in ("maxItems", "maxLength", "maxProperties"):
        return f"too long: at most {value}" + (" item(s)" if kind == "maxItems" else "")
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{_short(inst)} is out of range ({kind} {value})"
    if kind == "uniqueItems":
        return "items must be unique"
    if kind == "oneOf":
        return "must match exactly one of the allowed forms" + (
            f": {error.schema.get('description')}"
            if isinstance(error.schema, dict) and error.schema.get("description")
            else ""
        )
    if kind == "not":
        return f"{_short(inst)} is not allowed here"
    return error.message if len(error.message) <= 200 else error.message[:199] + "…"


# --------------------------------------------------------------------------- envelope


def _envelope_problems(doc: Document) -> tuple[Kind | None, list[Problem]]:
    data = doc.data
    if not isinstance(data, dict):
        return None, [
            Problem(doc.location, f"a definition must be a mapping, got {_json_type(data)}")
        ]
    raw = data.get("kind")
    if raw is None:
        return None, [
            Problem(
                doc.location,
                "missing required key 'kind' (one of Campaign, PushTask, EmailCampaign)",
            )
        ]
    try:
        return Kind(raw), []
    except ValueError:
        names = [k.value for k in Kind]
        hint = _suggest(str(raw), names) or f" (one of {', '.join(names)})"
        return None, [
            Problem(doc.locate(("kind",)), f"unknown kind {_short(raw)}{hint}", ("kind",))
        ]


def _definition(doc: Document, kind: Kind) -> Definition:
    data = doc.data
    return Definition(
        kind=kind,
        key=data["key"],
        spec=data.get("spec") or {},
        location=doc.location,
        state=data.get("state"),
        order=_order(data),
        resume=data.get("resume"),
        locations=doc.locations,
    )


def _order(data: Mapping[str, Any]) -> int:
    """The sync wave; 0 when ``order`` is absent or not a plain integer (a problem reported by
    :func:`_with_value_problems`, so never the order of a valid definition)."""
    order = data.get("order", 0)
    return order if _is_plain_int(order) else 0


# --------------------------------------------------------------------------- values of any kind
#
# Two rules hold for every document, whatever its kind and wherever the value sits (metadata
# included), and neither can be said in JSON Schema: there a float NaN passes every bound, and
# 2.0 is an "integer".


def _is_plain_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: What :func:`_scan` finds in a document: a NaN or an infinity (certainly)...
_NON_FINITE = 1
#: ... and a string holding ``${`` (maybe: also said when the scan stopped at a NaN).
_DOLLAR_BRACE = 2


def _scan(root: Any) -> int:
    """What ``root`` holds that needs a closer look, as flags: :data:`_NON_FINITE` when it
    holds a NaN or an infinity anywhere (:func:`_non_finite` finds them), :data:`_DOLLAR_BRACE`
    when a string in it may hold ``${`` (:func:`_reference_problems` looks at them). The cheap
    walk every document gets (no paths, no recursion: ~10 µs for a large definition)."""
    stack = [root]
    pop, extend, isfinite = stack.pop, stack.extend, math.isfinite
    found = 0
    while stack:
        node = pop()
        kind = type(node)
        if kind is dict:
            extend(node.values())
        elif kind is str:
            if "${" in node:
                found = _DOLLAR_BRACE
        elif kind is list:
            extend(node)
        elif kind is float and not isfinite(node):
            return _NON_FINITE | _DOLLAR_BRACE  # the rest is not scanned: "maybe"
    return found


def _non_finite(node: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, float]]:
    """Every NaN or infinity below ``node`` with its path."""
    if isinstance(node, float) and not math.isfinite(node):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _non_finite(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _non_finite(value, path + (index,))


def _yaml_float(value: float) -> str:
    return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")


def _with_value_problems(
    doc: Document, schema_problems: Sequence[Problem], non_finite: bool
) -> list[Problem]:
    """``schema_problems`` plus NaN / infinity anywhere (``non_finite``: whether ``doc`` holds
    any, :func:`_scan`) and an ``order`` that is not a plain integer.

    NaN and infinity have no JSON form (the API cannot store them) and NaN never equals itself,
    so such a definition could never converge. Where one sits, its message replaces the
    schema's ("Infinity is out of range" would only puzzle). ``order: 2.0`` or ``1e3`` is an
    integer to JSON Schema but not how a sync wave is written; reported unless the schema
    already said something about ``order``."""
    data = doc.data
    found = list(schema_problems)
    if non_finite:
        bad = list(_non_finite(data))
        paths = {path for path, _ in bad}
        found = [p for p in found if p.path not in paths]
        found += [
            Problem(
                doc.locate(path),
                f"{_yaml_float(value)} is not allowed: NaN and "
                "infinity have no JSON form, so the API cannot store them",
                path,
            )
            for path, value in bad
        ]
    order = data.get("order") if isinstance(data, dict) else None
    if order is not None and not _is_plain_int(order) and all(p.path != ("order",) for p in found):
        found.append(
            Problem(
                doc.locate(("order",)),
                f"order must be a plain integer such as 0, 10 or -5, got {_short(order)}",
                ("order",),
            )
        )
    return found


def _reference_problems(doc: Document) -> list[Problem]:
    """Each malformed ``${env:...}`` reference in the document's spec (the grammar:
    :mod:`~hoodsync.definitions.interpolate`): ``${ENV:X}``, ``${env: X}``, ``${env:A-B}``
    would be sent as text, to every recipient, where a value was meant."""
    from hoodsync.definitions.interpolate import malformed

    spec = doc.data.get("spec") if isinstance(doc.data, dict) else None
    problems = []
    for path, text in _strings(spec, ("spec",)):
        for shown, why in malformed(text):
            problems.append(
                Problem(
                    doc.locate(path),
                    f"{_short(shown)} is not an interpolation: {why} (to send it as text, "
                    f"write {_short('$' + shown)})",
                    path,
                )
            )
    return problems


def _strings(node: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    """Every string value below ``node`` with its path (keys are not values)."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, path + (index,))


# --------------------------------------------------------------------------- API rules

Rule = Callable[[Definition, dt.datetime], Iterator[Problem]]


def _problem(defn: Definition, path: JsonPath, message: str) -> Problem:
    return Problem(defn.locate(path), message, path)


def _campaign_rules(defn: Definition, now: dt.datetime) -> Iterator[Problem]:
    spec = defn.spec
    messages = spec.get("messages") or []
    per_channel = Counter(m.get("channel") for m in messages if isinstance(m, dict))
    for channel, count in sorted(per_channel.items(), key=lambda kv: str(kv[0])):
        if count > 1 and not spec.get("ab_test"):
            yield _problem(
                defn,
                ("spec", "messages"),
                f"{count} {channel} messages need an ab_test block "
                "(several messages of one channel are an A/B test)",
            )
        if count > 4:
            yield _problem(
                defn,
                ("spec", "messages"),
                f"{count} {channel} messages; at most 4 per channel are allowed",
            )
    for i, msg in enumerate(messages):
        if (
            isinstance(msg, dict)
            and msg.get("channel") in ("sms", "email")
            and not msg.get("integration_id")
        ):
            yield _problem(
                defn,
                ("spec", "messages", i),
                f"integration_id is required for {msg['channel']} messages",
            )
    options = [k for k in CAMPAIGN_EXECUTION_OPTIONS if spec.get(k) not in (None, False, 0)]
    if len(options) > 1:
        # Located at the second option but filed under "spec": it is about the combination,
        # so a schema problem on either field must not hide it.
        yield Problem(
            defn.locate(("spec", options[1])),
            f"set at most one of run_immediately, scheduled_time, recurrence "
            f"(found {', '.join(options)})",
            ("spec",),
        )
    metadata = spec.get("metadata")
    if isinstance(metadata, dict) and ("hoodsync_key" in metadata or "hoodsync_hash" in metadata):
        yield _problem(
            defn,
            ("spec", "metadata"),
            "metadata.hoodsync_key and metadata.hoodsync_hash are written by hoodsync; "
            "remove them from the definition",
        )
    resume = defn.resume
    if resume is not None and sum(k in resume for k in ("run_immediately", "scheduled_time")) != 1:
        yield _problem(
            defn, ("resume",), "resume holds exactly one of run_immediately or scheduled_time"
        )
    yield from _real_time(defn, ("spec", "scheduled_time"), spec.get("scheduled_time"))
    if isinstance(resume, dict):
        yield from _real_time(defn, ("resume", "scheduled_time"), resume.get("scheduled_time"))


def _real_time(defn: Definition, path: JsonPath, value: Any) -> Iterator[Problem]:
    """A time the schema's pattern lets through (``2027-02-29 10:00:00``, ``2027-04-31 …``)
    that no calendar has: the API refuses it, and only in the middle of an apply. A value of
    another form is left to the schema, which reports it at the same place (``${env:...}``
    included: a time cannot come from the environment)."""
    if isinstance(value, str) and _TIME_FORM.match(value) and parse_api_time(value) is None:
        field = ".".join(str(p) for p in path if p != "spec")
        yield _problem(
            defn, path, f"{field} {value!r} is not a real date and time (YYYY-MM-DD HH:MM:SS, GMT)"
        )


def _bad_time(defn: Definition, path: JsonPath, value: str, form: str) -> Problem:
    """The problem of a time that does not parse: in the right form (``2027-02-29 10:00:00``)
    it is no real date and time, said as :func:`_real_time` says it; otherwise it is not
    ``form`` (the schema usually says so first, at the same place)."""
    for problem in _real_time(defn, path, value):
        return problem
    return _problem(defn, path, f"{path[-1]} {value!r} is not {form}")


#: The schema's datetime form, digits only: what :func:`_real_time` checks further.
_TIME_FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\Z")


_CRON_SINGLE = re.compile(r"^[0-9]+$")
_FREQ_MIN, _FREQ_MAX = 3600, 94_608_000


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _push_task_rules(defn: Definition, now: dt.datetime) -> Iterator[Problem]:
    spec = defn.spec
    status = _as_int(spec.get("status"))
    if (
        defn.state is not None
        and status is not None
        and status != (1 if defn.state == "active" else 0)
    ):
        yield _problem(
            defn,
            ("spec", "status"),
            f"spec.status {status} contradicts state: {defn.state}; keep one of them",
        )
    active = defn.state == "active" or (defn.state is None and status == 1)
    start_raw = spec.get("start_time")
    if active and start_raw in (None, ""):
        yield _problem(defn, ("spec",), "an active push task needs a start_time")
    start = None
    if isinstance(start_raw, str) and start_raw != "immediately":
        start = parse_api_time(start_raw)
        if start is None:
            yield _bad_time(
                defn, ("spec", "start_time"), start_raw, "'immediately' or YYYY-MM-DD HH:MM:SS"
            )
    # "start_time not in the past" and an end_time after an immediate start depend on the clock
    # and on whether the task exists yet, which only the planner knows (it refuses a past
    # start_time when a create or patch would send it). Checking them here would turn every
    # definition invalid the day its start passes.
    end_raw = spec.get("end_time")
    if isinstance(end_raw, str):
        end = parse_api_time(end_raw)
        if end is None:
            yield _bad_time(defn, ("spec", "end_time"), end_raw, "YYYY-MM-DD HH:MM:SS")
        elif start is not None and end < start:
            yield _problem(defn, ("spec", "end_time"), "end_time is before start_time")
    yield from _push_task_repeat_rules(defn)


def _push_task_repeat_rules(defn: Definition) -> Iterator[Problem]:
    spec = defn.spec
    freq_raw = spec.get("frequency")
    if freq_raw is not None:
        freq = _as_int(freq_raw)
        if freq is None or freq % 60 or not _FREQ_MIN <= freq <= _FREQ_MAX:
            # 3600.0 is a multiple of 60, but not a whole number as the API takes it.
            whole = "a whole number of seconds (no decimal point), " if freq is None else ""
            yield _problem(
                defn,
                ("spec", "frequency"),
                f"frequency {_short(freq_raw)} must be {whole}a multiple of 60 seconds "
                f"from {_FREQ_MIN} to {_FREQ_MAX:,}",
            )
    cron = spec.get("cron")
    if cron is not None and freq_raw is not None:
        yield _problem(defn, ("spec", "cron"), "set frequency or cron, not both")
    if isinstance(cron, str):
        fields = cron.split()
        if len(fields) != 5:
            yield _problem(defn, ("spec", "cron"), f"cron {cron!r} must have 5 fields")
        else:
            if not _CRON_SINGLE.match(fields[0]):
                yield _problem(
                    defn,
                    ("spec", "cron"),
                    f"cron minute field {fields[0]!r} must be a single value "
                    "(no lists, ranges or wildcards)",
                )
            if _as_int(spec.get("user_time_zone")) == 1 and not _CRON_SINGLE.match(fields[1]):
                yield _problem(
                    defn,
                    ("spec", "cron"),
                    f"with user_time_zone on, the cron hour field {fields[1]!r} "
                    "must be a single value",
                )


_RULES: Mapping[Kind, Rule] = {
    Kind.CAMPAIGN: _campaign_rules,
    Kind.PUSH_TASK: _push_task_rules,
}


def _uniqueness_problems(definitions: Sequence[Definition]) -> Iterator[Problem]:
    """Keys unique per kind; push task and email campaign names unique, and no two of them
    alike to the eye (:func:`hoodsync.lookalikes.skeleton`; matched by name, both would be made,
    and no one could tell them apart in the UI: ``Daily news`` and ``D\u0430ily news``, or
    ``Daily news`` with a Hangul filler or a space at its end). The two names are quoted as the
    plan sets names side by side (:func:`hoodsync.lookalikes.distinct`), so the difference
    shows."""
    seen_keys: dict[tuple[Kind, str], Definition] = {}
    seen_names: dict[tuple[Kind, str], Definition] = {}
    seen_looks: dict[tuple[Kind, str], Definition] = {}
    for defn in definitions:
        first = seen_keys.setdefault((defn.kind, defn.key), defn)
        if first is not defn:
            yield _problem(
                defn,
                ("key",),
                f"duplicate key {defn.key!r} for kind {defn.kind.value} "
                f"(also at {first.locate(('key',))})",
            )
        if defn.kind in (Kind.PUSH_TASK, Kind.EMAIL_CAMPAIGN) and defn.name is not None:
            other = seen_names.setdefault((defn.kind, defn.name), defn)
            if other is not defn:
                yield _problem(
                    defn,
                    ("spec", "name"),
                    f"duplicate name {defn.name!r} for kind {defn.kind.value} "
                    f"(also at {other.locate(('spec', 'name'))}); "
                    f"{defn.kind.value} objects are matched by name",
                )
                continue
            alike = seen_looks.setdefault((defn.kind, skeleton(defn.name)), defn)
            if alike is not defn and alike.name is not None:
                theirs, mine = distinct(alike.name, defn.name)  # as the plan sets them side by side
                yield _problem(
                    defn,
                    ("spec", "name"),
                    f"name {mine} looks like {theirs} of "
                    f"{alike.address} (at {alike.locate(('spec', 'name'))}) but for characters "
                    "that look alike: both would be made, and no one could tell them apart",
                )


# --------------------------------------------------------------------------- entry points


def _rule_problems(
    doc: Document, kind: Kind, now: dt.datetime, schema_problems: Sequence[Problem]
) -> tuple[list[Problem], Definition | None]:
    """The kind's API rules, also on a document with schema errors (so every problem shows at
    once), and the Definition they were checked on (``None`` when none was built), for the
    caller to keep instead of building it again. Rules read defensively; one that trips over a
    malformed value is skipped, since the schema problem already covers that value. A problem
    the schema already reported at the same place is not repeated."""
    rule = _RULES.get(kind)
    data = doc.data
    if (
        rule is None
        or not isinstance(data.get("spec"), dict)
        or not isinstance(data.get("key"), str)
    ):
        return [], None
    try:
        defn = _definition(doc, kind)
        found = list(rule(defn, now))
    except (TypeError, AttributeError, ValueError, KeyError):
        return [], None
    taken = {p.path for p in schema_problems}
    return [p for p in found if p.path not in taken], defn


# --------------------------------------------------------------------------- resolved values


def resolved_problems(
    defn: Definition, spec: Mapping[str, Any], sensitive: Sequence[JsonPath]
) -> list[Problem]:
    """The schema's rules checked again with the ``${env:...}`` values in place: ``spec`` is
    ``defn``'s spec resolved, ``sensitive`` the paths (relative to it) of the strings that held
    a reference. A value from the environment must be as safe to send as one written in the
    file (one line, no control characters, a label without a comma, an http(s) URL) — but
    ``validate`` checks templates (``https://${env:HOST}/x``), and the values are only known
    when planning.

    Only definitions with references need this (the planner calls it for those alone), and
    the fast check answers first. ``defn`` passed validation as written, so every problem
    found here comes from an interpolated value. The messages name the variables, never the
    value: it is a secret.
    """
    if not sensitive:
        return []
    data: dict[str, Any] = {"kind": defn.kind.value, "key": defn.key, "spec": spec}
    if defn.state is not None:
        data["state"] = defn.state
    if defn.order:
        data["order"] = defn.order
    if defn.resume is not None:
        data["resume"] = defn.resume
    name = SCHEMA_NAMES[defn.kind.value]
    if _fast_valid(data, name):
        return []
    found: dict[tuple[JsonPath, str], Problem] = {}
    for error in _validator(name).iter_errors(data):
        error = _explaining(error)
        path: JsonPath = tuple(error.absolute_path)
        message = f"{_references(defn, path, sensitive)} {_message_hiding_value(error)}"
        found.setdefault((path, message), Problem(defn.locate(path), message, path))
    return sorted(found.values(), key=Problem.sort_key)


def _explaining(error: ValidationError) -> ValidationError:
    """The error of the form the value was meant as, for a oneOf / anyOf (see _translate)."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        from jsonschema.exceptions import best_match

        context = [e for e in error.context if e.validator != "type" or e.relative_path]
        error = best_match(context or list(error.context))
    return error


def _references(defn: Definition, path: JsonPath, sensitive: Sequence[JsonPath]) -> str:
    """``with ${env:HOST}`` — the variables interpolated at or below ``path`` (a document
    path), which the value at ``path`` is made of."""
    from hoodsync.definitions.interpolate import reference_names

    rel = path[1:] if path[:1] == ("spec",) else None
    names: dict[str, None] = {}
    for s in sensitive:
        if rel is not None and s[: len(rel)] == rel:
            template: Any = defn.spec
            try:
                for part in s:
                    template = template[part]
            except (KeyError, IndexError, TypeError):
                continue
            if isinstance(template, str):
                names.update(dict.fromkeys(reference_names(template)))
    refs = " ".join(f"${{env:{n}}}" for n in names) or "${env:...}"
    return f"with {refs} resolved, the value"


def _message_hiding_value(error: ValidationError) -> str:
    """What is wrong with the value, without quoting it (:func:`_message` quotes it)."""
    kind = error.validator
    value: Any = error.validator_value
    described = error.schema.get("description") if isinstance(error.schema, dict) else None
    if kind == "pattern":
        return "is refused: " + (described or f"it does not match /{value}/")
    if kind == "type":
        wanted = value if isinstance(value, str) else " or ".join(value)
        return f"is not of type {wanted}"
    if kind == "enum":
        return f"is not one of: {', '.join(_short(v) for v in value)}"
    if kind == "const":
        return f"must be {_short(value)}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"is out of range ({kind} {value})"
    if kind == "not":
        return "is not allowed" + (f": {described}" if described else " here")
    if kind in ("minLength", "maxLength", "minItems", "maxItems", "required", "uniqueItems"):
        return _message(error)  # these say nothing of the value itself
    return f"is refused ({kind})" + (f": {described}" if described else "")


def validate_documents(
    documents: Sequence[Document], *, now: dt.datetime | None = None
) -> tuple[list[Definition], list[Problem]]:
    """Check every document; return the valid definitions and every problem found.

    A document with any error-level problem is left out of the returned definitions. The
    returned definitions keep the order of ``documents``; problems are sorted by location.
    """
    definitions, problems = _check_documents(documents, now or dt.datetime.now(dt.UTC))
    problems.extend(_uniqueness_problems(definitions))
    return definitions, sorted(problems, key=Problem.sort_key)


def _check_documents(
    documents: Sequence[Document], now: dt.datetime
) -> tuple[list[Definition], list[Problem]]:
    """:func:`validate_documents` for each document on its own: the valid definitions, in
    order, and every problem but the uniqueness ones, unsorted. Over consecutive parts of
    ``documents``, the parts' results joined in order are the result over the whole."""
    definitions: list[Definition] = []
    problems: list[Problem] = []
    for doc in documents:
        kind, envelope = _envelope_problems(doc)
        problems.extend(envelope)
        if kind is None:
            continue
        # One scan per document serves the fast check and the value rules.
        scanned = _scan(doc.data)
        non_finite = bool(scanned & _NON_FINITE)
        schema_found = list(_schema_problems(doc, kind.value, non_finite=non_finite))
        found = _with_value_problems(doc, schema_found, non_finite)
        if scanned & _DOLLAR_BRACE:
            found += _reference_problems(doc)
        rule_found, checked = _rule_problems(doc, kind, now, found)
        found += rule_found
        if not schema_found and not any(p.severity == "error" for p in found):
            definitions.append(checked or _definition(doc, kind))
        problems.extend(found)
    return definitions, problems


#: ``Kind.value`` without the enum property lookup (noticeable when sorting 10,000).
_KIND_NAMES: Mapping[Kind, str] = {kind: kind.value for kind in Kind}


def load_definitions(
    paths: Sequence[str | Path],
    *,
    now: dt.datetime | None = None,
    limits: Limits = DEFAULT_LIMITS,
    parallel_from: int = parallel_load.MIN_ITEMS,
) -> list[Definition]:
    """Load and validate every definition under ``paths``.

    Raises :class:`DefinitionError` carrying every problem of every file when anything is
    invalid; otherwise returns the definitions sorted by (kind, key).

    What :func:`load_paths` then :func:`validate_documents` give, computed file by file:
    with many files, a worker process reads and checks part of them
    (:mod:`~hoodsync.definitions.parallel_load`; ``parallel_from``: the fewest files for
    which it may). The uniqueness rules, which span files, are checked here over all of them.
    """
    definitions, problems = load_definitions_reporting(
        paths, now=now, limits=limits, parallel_from=parallel_from
    )
    if any(p.severity == "error" for p in problems):
        raise DefinitionError(problems)
    return definitions


def load_definitions_reporting(
    paths: Sequence[str | Path],
    *,
    now: dt.datetime | None = None,
    limits: Limits = DEFAULT_LIMITS,
    parallel_from: int = parallel_load.MIN_ITEMS,
) -> tuple[list[Definition], list[Problem]]:
    """:func:`load_definitions`, with its problems returned instead of raised: the valid
    definitions, sorted by (kind, key), and every problem (warnings too), sorted by location.
    Checks that need the definitions themselves (which account's ``paths:`` each is under)
    can then run on the valid ones in the same run as the others' problems."""
    now = now or dt.datetime.now(dt.UTC)
    with collector_paused():
        files, load_problems = discover_files(paths)
        parts = parallel_load.in_parts(
            files,
            partial(_load_and_check, now=now, limits=limits),
            min_items=parallel_from,
            cost=_load_cost,
        )
        definitions: list[Definition] = []
        checked: list[Problem] = []
        for part_load_problems, part_definitions, part_checked in parts:
            load_problems.extend(part_load_problems)
            definitions.extend(part_definitions)
            checked.extend(part_checked)
        checked.extend(_uniqueness_problems(definitions))
    # As load_paths + validate_documents: validation's problems sorted, then all of them.
    problems = sorted(load_problems + sorted(checked, key=Problem.sort_key), key=Problem.sort_key)
    return sorted(definitions, key=lambda d: (_KIND_NAMES[d.kind], d.key)), problems


def _load_cost(file: tuple[str, str]) -> float:
    """About how long loading and checking ``file`` (its path and display name) takes, in
    bytes of YAML: each file costs about as much as 2 KiB of text on top of its own (measured
    at 10,000 files); 0 for one that cannot be read (reading it reports why, quickly)."""
    try:
        return os.stat(file[0]).st_size + 2048
    except OSError:
        return 0.0


def _load_and_check(
    files: Sequence[tuple[str, str]], *, now: dt.datetime, limits: Limits
) -> tuple[list[Problem], list[Definition], list[Problem]]:
    """Load ``files`` (each with its display name) and check each document
    (:func:`_check_documents`): the files' problems, the valid definitions and the documents'
    problems. Runs in a worker process for part of the files (its result is pickled back)."""
    loaded = load_named(files, limits)
    definitions, problems = _check_documents(loaded.documents, now)
    return loaded.problems, definitions, problems
