"""The JSON Schemas (``hoodsync/schemas/*.json``, copied to ``schemas/``) and the ``examples/`` repo.

What is pinned here:

* each schema is a valid draft 2020-12 schema with the agreed ``$id``, is shipped as package data,
  and its top-level ``schemas/`` copy is byte-identical;
* the schemas stay editor-friendly (a description on every property) and typo-proof
  (``additionalProperties: false`` on every documented object);
* every example document validates against its kind's schema, the examples carry every request
  example of the API docs, and they follow the repository conventions (schema line, folders,
  unique keys and names, future dates);
* a table of bad documents, each rejected for the expected reason (keyword and JSON path), and a
  table of unusual-but-valid forms the API docs show, each accepted.

Examples are read with ``yaml.safe_load_all`` (YAML 1.1), so they must also mean the same thing to
plain YAML tools: every datetime, digit string and yes/no word in them is quoted.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[1]
REPO_SCHEMAS = ROOT / "schemas"
EXAMPLES = ROOT / "examples"

KIND_SCHEMAS = {
    "Campaign": "campaign.json",
    "PushTask": "push_task.json",
    "EmailCampaign": "email_campaign.json",
}
CONFIG_SCHEMA = "hoodsync_config.json"
ALL_SCHEMAS = sorted([*KIND_SCHEMAS.values(), CONFIG_SCHEMA])
KIND_FOLDERS = {"campaigns": "Campaign", "push-tasks": "PushTask", "email": "EmailCampaign"}

#: The examples' dates must lie after this moment (the day the examples were written).
NOT_BEFORE = dt.datetime(2026, 11, 23, 0, 0, 0)

Json = Any
Doc = dict[str, Any]

#: Stands for "remove this key" in the edit tables below.
DELETE = object()


# ------------------------------------------------------------------------------------- helpers


def package_schema_text(name: str) -> str:
    """A schema as shipped in the package (read as package data, not by path)."""
    return resources.files("hoodsync").joinpath("schemas", name).read_text(encoding="utf-8")


def load_schema(name: str) -> Json:
    return json.loads(package_schema_text(name))


_VALIDATORS: dict[str, Draft202012Validator] = {}


def validator(name: str) -> Draft202012Validator:
    """A cached validator for a schema file name or a kind."""
    name = KIND_SCHEMAS.get(name, name)
    if name not in _VALIDATORS:
        _VALIDATORS[name] = Draft202012Validator(load_schema(name))
    return _VALIDATORS[name]


def found_errors(schema: str, instance: Json) -> list[tuple[str | None, list[str | int]]]:
    """(keyword, JSON path) of every error; the path is where the offending value sits."""
    return [(e.validator, list(e.absolute_path)) for e in validator(schema).iter_errors(instance)]


def example_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*.yaml") if p.name != "hoodsync.yaml")


def example_documents() -> list[tuple[Path, Doc]]:
    docs: list[tuple[Path, Doc]] = []
    for path in example_files():
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            docs.append((path, doc))
    return docs


EXAMPLE_DOCS = example_documents()


def specs_of(kind: str) -> list[Doc]:
    return [doc["spec"] for _, doc in EXAMPLE_DOCS if doc["kind"] == kind]


def walk(
    node: Json, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Json]]:
    """Every (path, node) of a JSON-like tree, depth first."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, path + (index,))


def resolve_ref(schema: Json, node: Json) -> Json:
    """Follow a local ``#/$defs/...`` reference (one level is all the schemas use)."""
    ref = node.get("$ref") if isinstance(node, dict) else None
    if not ref:
        return node
    assert ref.startswith("#/$defs/"), ref
    return schema["$defs"][ref.removeprefix("#/$defs/")]


# ------------------------------------------------------------------------- schema well-formedness


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:hoodsync:schema:{name.removesuffix('.json')}"
    assert schema["title"] and schema["description"]


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_repository_copy_is_identical_to_package_data(name: str) -> None:
    assert (REPO_SCHEMAS / name).read_text(encoding="utf-8") == package_schema_text(name)


def test_no_stray_schema_files() -> None:
    shipped = sorted(
        p.name
        for p in resources.files("hoodsync").joinpath("schemas").iterdir()
        if p.name.endswith(".json")
    )
    assert shipped == ALL_SCHEMAS
    assert sorted(p.name for p in REPO_SCHEMAS.glob("*.json")) == ALL_SCHEMAS


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_every_property_has_a_description(name: str) -> None:
    # Editors show these on hover and completion; a bare property is a help gap.
    schema = load_schema(name)
    missing = []
    for path, node in walk(schema):
        # "if" subschemas are conditions, not fields an editor offers.
        if path and path[-1] == "properties" and isinstance(node, dict) and "if" not in path:
            for prop, sub in node.items():
                target = resolve_ref(schema, sub)
                if (
                    not (isinstance(sub, dict) and "description" in sub)
                    and "description" not in target
                ):
                    missing.append("/".join(map(str, path + (prop,))))
    assert missing == []


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_documented_objects_reject_unknown_keys(name: str) -> None:
    # Typo protection: every object whose shape is documented closes its key set. The free-form
    # maps (metadata, custom_properties, user_data, language maps) declare no "properties".
    def is_object(node: Json) -> bool:
        declared = node.get("type")
        return "object" in (declared if isinstance(declared, list) else [declared])

    open_objects = [
        "/".join(map(str, path))
        for path, node in walk(load_schema(name))
        if isinstance(node, dict)
        and "properties" in node
        and is_object(node)
        and node.get("additionalProperties") is not False
    ]
    assert open_objects == []


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_patterns_are_anchored_and_reject_a_trailing_newline(name: str) -> None:
    # Python's re.search lets "$" match before a final "\n"; every pattern guards against that
    # so "key: |" block scalars cannot slip "abc\n" through.
    patterns = {
        node["pattern"]
        for _, node in walk(load_schema(name))
        if isinstance(node, dict) and isinstance(node.get("pattern"), str)
    }
    assert patterns
    for pattern in patterns:
        assert pattern.startswith("^") and pattern.endswith("$(?!\\n)"), pattern
        assert "\\d" not in pattern, pattern  # \d matches non-ASCII digits in Python


# ------------------------------------------------------------------------------------ examples


@pytest.mark.parametrize(
    ("path", "doc"),
    EXAMPLE_DOCS,
    ids=[f"{p.relative_to(EXAMPLES)}:{d.get('key')}" for p, d in EXAMPLE_DOCS],
)
def test_example_validates_against_its_kind_schema(path: Path, doc: Doc) -> None:
    assert doc["kind"] in KIND_SCHEMAS
    assert found_errors(doc["kind"], doc) == []


def test_examples_are_grouped_by_folder_and_point_at_their_schema() -> None:
    assert example_files(), "no example definitions found"
    for path in example_files():
        folder = path.relative_to(EXAMPLES).parts[0]
        kind = KIND_FOLDERS[folder]
        first_line = path.read_text(encoding="utf-8").splitlines()[0]
        assert (
            first_line == f"# yaml-language-server: $schema=../../schemas/{KIND_SCHEMAS[kind]}"
        ), path
        assert (path.parent / "../../schemas" / KIND_SCHEMAS[kind]).resolve().is_file()
        kinds = {doc["kind"] for p, doc in EXAMPLE_DOCS if p == path}
        assert kinds == {kind}, path


def test_example_keys_and_names_are_unique_per_kind() -> None:
    for kind in KIND_SCHEMAS:
        keys = Counter(doc["key"] for _, doc in EXAMPLE_DOCS if doc["kind"] == kind)
        names = Counter(spec["name"] for spec in specs_of(kind))
        assert [k for k, n in keys.items() if n > 1] == [], kind
        assert [k for k, n in names.items() if n > 1] == [], kind
        assert keys, f"no {kind} example"


def test_examples_show_multi_document_files_states_and_order() -> None:
    per_file = Counter(path for path, _ in EXAMPLE_DOCS)
    assert max(per_file.values()) >= 2
    states = {(doc["kind"], doc.get("state")) for _, doc in EXAMPLE_DOCS}
    assert ("Campaign", "paused") in states
    assert any("order" in doc for _, doc in EXAMPLE_DOCS)
    assert any("resume" in doc for _, doc in EXAMPLE_DOCS)


def test_example_dates_are_in_the_future() -> None:
    dates = []
    for _, doc in EXAMPLE_DOCS:
        for path, node in walk(doc):
            if (
                path
                and path[-1] in ("scheduled_time", "start_time", "end_time")
                and node
                not in (
                    None,
                    "immediately",
                )
            ):
                dates.append(dt.datetime.strptime(node, "%Y-%m-%d %H:%M:%S"))
    assert len(dates) >= 5
    assert [d for d in dates if d < NOT_BEFORE] == []


def _messages(spec: Doc, channel: str) -> list[Doc]:
    return [m for m in spec.get("messages", []) if m["channel"] == channel]


def _has_ab_pair(spec: Doc) -> bool:
    channels = Counter(m["channel"] for m in spec.get("messages", []))
    return "ab_test" in spec and max(channels.values(), default=0) >= 2


SEED_000_FIELDS = {
    "name",
    "description",
    "labels",
    "metadata",
    "ab_test",
    "messages",
    "recurrence",
    "utm_tracking",
    "is_draft",
    "send_in_profile_time_zone",
    "send_if_profile_time_passed",
    "quiet_hours",
    "targeting",
    "deal_id",
    "run_immediately",
}
PUSH_TASK_TARGETING = {
    "accounts",
    "application_groups",
    "applications",
    "apps",
    "browsers",
    "countries",
    "groups",
    "languages",
    "os",
    "regions",
    "remote_users",
    "segments",
    "subscribed_age",
    "user_data",
    "users",
}

#: One predicate per request example of the seed docs; each must hold for some example spec.
SEED_EXAMPLES: dict[str, tuple[str, Callable[[Doc], bool]]] = {
    "push, run immediately": (
        "Campaign",
        lambda s: s.get("run_immediately") is True and bool(_messages(s, "push")),
    ),
    "scheduled push with callbacks": (
        "Campaign",
        lambda s: (
            "scheduled_time" in s
            and {"on_click", "on_wokenup"} <= set(s.get("callbacks", {}).get("push", {}))
        ),
    ),
    "targeting with custom_properties": (
        "Campaign",
        lambda s: (
            {"countries", "languages", "profile_age", "custom_properties"}
            <= set(s.get("targeting", {}))
            and len(s["targeting"]["custom_properties"]) >= 2
        ),
    ),
    "A/B test": (
        "Campaign",
        lambda s: _has_ab_pair(s) and s["ab_test"].get("evaluation_window") == "1D",
    ),
    "multi-language push with primary_lang and priority": (
        "Campaign",
        lambda s: any(
            "primary_lang" in m and "priority" in m and len(m["push"]["title"]) >= 3
            for m in _messages(s, "push")
        ),
    ),
    "recurrence pattern (push)": (
        "Campaign",
        lambda s: "pattern" in s.get("recurrence", {}) and bool(_messages(s, "push")),
    ),
    "scheduled email in profile time zone": (
        "Campaign",
        lambda s: (
            "scheduled_time" in s
            and s.get("send_in_profile_time_zone") is True
            and bool(_messages(s, "email"))
        ),
    ),
    "multi-language email": (
        "Campaign",
        lambda s: any(len(m["email"]["html"]) >= 3 for m in _messages(s, "email")),
    ),
    "recurring email with description, labels and utm_tracking": (
        "Campaign",
        lambda s: (
            bool(_messages(s, "email"))
            and "pattern" in s.get("recurrence", {})
            and {"description", "labels", "utm_tracking"} <= set(s)
        ),
    ),
    "recurrence cron SMS": (
        "Campaign",
        lambda s: "cron" in s.get("recurrence", {}) and bool(_messages(s, "sms")),
    ),
    "SMS draft": ("Campaign", lambda s: s.get("is_draft") is True and bool(_messages(s, "sms"))),
    "create-campaign example with every field": (
        "Campaign",
        lambda s: set(s) >= SEED_000_FIELDS and _has_ab_pair(s),
    ),
    "push task: full targeting and actions": (
        "PushTask",
        lambda s: (
            set(s.get("targeting", {})) >= PUSH_TASK_TARGETING
            and len((s.get("message") or {}).get("actions", [])) == 2
        ),
    ),
    "push task: frequency": (
        "PushTask",
        lambda s: s.get("frequency") == "3600" and s.get("start_time") != "immediately",
    ),
    "push task: cron and quiet_time": (
        "PushTask",
        lambda s: bool(s.get("cron")) and bool(s.get("quiet_time")),
    ),
    "push task: adex with fallback_message": (
        "PushTask",
        lambda s: (
            "fallback_message" in s.get("adex", {})
            and {"ttl", "user_time_zone", "total_user"} <= set(s)
        ),
    ),
    "Falconyte event campaign": ("EmailCampaign", lambda s: s["events"] == ["contact.saved"]),
}


@pytest.mark.parametrize("example", sorted(SEED_EXAMPLES))
def test_examples_carry_every_seed_request_example(example: str) -> None:
    kind, holds = SEED_EXAMPLES[example]
    assert any(holds(spec) for spec in specs_of(kind)), example


def test_examples_keep_the_documented_integration_ids() -> None:
    ids = {m.get("integration_id") for spec in specs_of("Campaign") for m in spec["messages"]}
    assert {"1830", "1996", "1853"} <= ids


def test_examples_readme_says_how_to_run() -> None:
    text = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert "hoodsync validate examples/" in text
    assert "hoodsync plan examples/" in text


# ------------------------------------------------------------------------------ hoodsync.yaml


def example_config() -> Doc:
    text = (EXAMPLES / "hoodsync.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == f"# yaml-language-server: $schema=../schemas/{CONFIG_SCHEMA}"
    loaded: Doc = yaml.safe_load(text)
    return loaded


def test_config_schema_accepts_the_example_config() -> None:
    config = example_config()
    assert found_errors(CONFIG_SCHEMA, config) == []
    assert list(config["accounts"]) == ["default"]
    account = config["accounts"]["default"]
    assert account["hood"]["url"] == account["falconyte"]["url"] == "sandbox"


def _config(path: tuple[str, ...], value: Json) -> Doc:
    config = example_config()
    node = config
    for part in path[:-1]:
        node = node.setdefault(part, {})
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return config


CONFIG_BAD = [
    ("unknown top-level key", ("paralellism",), 4, "additionalProperties", []),
    (
        "a token written into the file",
        ("accounts", "default", "hood", "token"),
        "s3cr3t",
        "additionalProperties",
        ["accounts", "default", "hood"],
    ),
    (
        "unknown account key",
        ("accounts", "default", "prune_all"),
        True,
        "additionalProperties",
        ["accounts", "default"],
    ),
    ("accounts missing", ("accounts",), DELETE, "required", []),
    ("no account", ("accounts",), {}, "minProperties", ["accounts"]),
    ("bad account name", ("accounts", "Prod Account"), {}, "pattern", ["accounts"]),
    (
        "plain http to a remote host",
        ("accounts", "default", "hood", "url"),
        "http://api.example.com",
        "pattern",
        ["accounts", "default", "hood", "url"],
    ),
    (
        "env var name with a dash",
        ("accounts", "default", "hood", "token_env"),
        "HOOD-TOKEN",
        "pattern",
        ["accounts", "default", "hood", "token_env"],
    ),
    (
        "zero rate limit",
        ("accounts", "default", "hood", "rate_limits", "per_second"),
        0,
        "minimum",
        ["accounts", "default", "hood", "rate_limits", "per_second"],
    ),
    (
        "path escaping the repository",
        ("accounts", "default", "paths"),
        ["../other/"],
        "pattern",
        ["accounts", "default", "paths", 0],
    ),
    (
        "absolute path",
        ("accounts", "default", "paths"),
        ["/etc/"],
        "pattern",
        ["accounts", "default", "paths", 0],
    ),
    (
        "percent above 100",
        ("accounts", "default", "safety", "max_removal_percent"),
        150,
        "maximum",
        ["accounts", "default", "safety", "max_removal_percent"],
    ),
    ("parallelism zero", ("parallelism",), 0, "minimum", ["parallelism"]),
]


@pytest.mark.parametrize(
    ("what", "path", "value", "keyword", "where"), CONFIG_BAD, ids=[c[0] for c in CONFIG_BAD]
)
def test_config_schema_rejects(
    what: str, path: tuple[str, ...], value: Json, keyword: str, where: list[str | int]
) -> None:
    assert (keyword, where) in found_errors(CONFIG_SCHEMA, _config(path, value))


@pytest.mark.parametrize(
    "url",
    [
        "sandbox",
        "https://api.ocamba.com/v1/hood",
        "http://localhost:8080",
        "http://127.0.0.1:9/v1/hood",
    ],
)
def test_config_schema_accepts_urls(url: str) -> None:
    config = _config(("accounts", "default", "hood", "url"), url)
    config["accounts"]["default"]["paths"] = ["campaigns/", "push-tasks/welcome.yaml"]
    assert found_errors(CONFIG_SCHEMA, config) == []


# ---------------------------------------------------------------------------- bad documents


def base(kind: str) -> Doc:
    """A minimal valid document of each kind; the bad cases each break one thing in it."""
    if kind == "Campaign":
        return {
            "kind": "Campaign",
            "key": "welcome-push",
            "spec": {
                "name": "Welcome",
                "scheduled_time": "2027-03-22 10:00:00",
                "messages": [
                    {
                        "name": "Hello",
                        "channel": "push",
                        "push": {"title": {"en": "Hello"}, "landing_url": "https://example.com"},
                    },
                ],
            },
        }
    if kind == "PushTask":
        return {
            "kind": "PushTask",
            "key": "daily-push",
            "spec": {
                "name": "Daily push",
                "status": 1,
                "start_time": "2027-01-01 12:00:00",
                "frequency": 86400,
                "message": {"title": {"en": "Hi"}, "landing_url": "https://example.com"},
            },
        }
    return {
        "kind": "EmailCampaign",
        "key": "welcome-flow",
        "spec": {
            "name": "Welcome flow",
            "template_ids": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
            "mail_account_ids": ["8f14e45f-ceea-467f-a0e6-1b2d3c4d5e6f"],
            "events": ["contact.saved"],
        },
    }


def changed(kind: str, *edits: tuple[tuple[str | int, ...], Json]) -> Doc:
    """``base(kind)`` with each (path, value) set, or removed when value is DELETE."""
    doc = base(kind)
    for path, value in edits:
        node: Any = doc
        for part in path[:-1]:
            node = node[part]
        if value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = copy.deepcopy(value)  # the tables' shared values must stay intact
    return doc


M0 = ("spec", "messages", 0)
SMS_MESSAGE: Doc = {
    "name": "Hi",
    "channel": "sms",
    "integration_id": "1996",
    "sms": {"content": {"en": "Hi"}},
}
EMAIL_MESSAGE: Doc = {
    "name": "Hi",
    "channel": "email",
    "integration_id": "1830",
    "email": {
        "sender_name": "Ocamba",
        "sender_email": "news@example.com",
        "subject": "Hi",
        "html": {"en": "<p>Hi</p>"},
    },
}

# (id, kind, edits, expected keyword, expected JSON path of the error)
BAD: list[
    tuple[str, str, tuple[tuple[tuple[str | int, ...], Json], ...], str | None, list[str | int]]
] = [
    # unknown keys (typos)
    (
        "unknown spec key",
        "Campaign",
        ((("spec", "schedule_time"), "2027-03-22 10:00:00"),),
        "additionalProperties",
        ["spec"],
    ),
    ("unknown document key", "Campaign", ((("specs",), {}),), "additionalProperties", []),
    (
        "unknown push content key",
        "Campaign",
        (((*M0, "push", "titel"), {"en": "x"}),),
        "additionalProperties",
        [*M0, "push"],
    ),
    (
        "unknown ab_test key",
        "Campaign",
        ((("spec", "ab_test"), {"split": 30}),),
        "additionalProperties",
        ["spec", "ab_test"],
    ),
    (
        "unknown push-task targeting key",
        "PushTask",
        ((("spec", "targeting"), {"country": {"items": ["CA"], "op": "include"}}),),
        "additionalProperties",
        ["spec", "targeting"],
    ),
    (
        "email campaign takes nothing else",
        "EmailCampaign",
        ((("spec", "subject"), "Hi"),),
        "additionalProperties",
        ["spec"],
    ),
    (
        "resume on a push task",
        "PushTask",
        ((("resume",), {"run_immediately": True}),),
        "additionalProperties",
        [],
    ),
    # wrong types
    (
        "labels as a comma string",
        "Campaign",
        ((("spec", "labels"), "a,b"),),
        "type",
        ["spec", "labels"],
    ),
    (
        "is_draft as a string",
        "Campaign",
        ((("spec", "is_draft"), "yes"),),
        "type",
        ["spec", "is_draft"],
    ),
    (
        "integration_id as a number",
        "Campaign",
        ((M0, SMS_MESSAGE), ((*M0, "integration_id"), 1996)),
        "type",
        [*M0, "integration_id"],
    ),
    (
        "test_split as a string",
        "Campaign",
        ((("spec", "ab_test"), {"test_split": "30"}),),
        "type",
        ["spec", "ab_test", "test_split"],
    ),
    (
        "language map value not a string",
        "Campaign",
        (((*M0, "push", "title"), {"en": 5}),),
        "type",
        [*M0, "push", "title", "en"],
    ),
    (
        "frequency as a float",
        "PushTask",
        ((("spec", "frequency"), 3600.5),),
        "type",
        ["spec", "frequency"],
    ),
    (
        "action must be null",
        "PushTask",
        ((("spec", "message", "actions"), [{"action": "open", "title": {"en": "Go"}}]),),
        "type",
        ["spec", "message", "actions", 0, "action"],
    ),
    # channel / content object
    (
        "sms message carrying a push object",
        "Campaign",
        (((*M0, "channel"), "sms"),),
        "not",
        [*M0, "push"],
    ),
    (
        "sms message without its sms object",
        "Campaign",
        (((*M0, "channel"), "sms"),),
        "required",
        list(M0),
    ),
    (
        "email message without integration_id",
        "Campaign",
        ((M0, EMAIL_MESSAGE), ((*M0, "integration_id"), DELETE)),
        "required",
        list(M0),
    ),
    (
        "sms message without integration_id",
        "Campaign",
        ((M0, SMS_MESSAGE), ((*M0, "integration_id"), DELETE)),
        "required",
        list(M0),
    ),
    (
        "push object on an email message",
        "Campaign",
        ((M0, EMAIL_MESSAGE), ((*M0, "push"), {"title": {"en": "Hi"}})),
        "not",
        [*M0, "push"],
    ),
    ("unknown channel", "Campaign", (((*M0, "channel"), "adex"),), "enum", [*M0, "channel"]),
    ("no messages", "Campaign", ((("spec", "messages"), []),), "minItems", ["spec", "messages"]),
    ("name missing", "Campaign", ((("spec", "name"), DELETE),), "required", ["spec"]),
    ("empty name", "Campaign", ((("spec", "name"), ""),), "minLength", ["spec", "name"]),
    # formats
    (
        "bad uuid",
        "EmailCampaign",
        ((("spec", "mail_account_ids"), ["3c90c3cc-0d44-4b50"]),),
        "pattern",
        ["spec", "mail_account_ids", 0],
    ),
    (
        "uuid with a trailing newline",
        "EmailCampaign",
        ((("spec", "template_ids"), ["3c90c3cc-0d44-4b50-8888-8dd25736052a\n"]),),
        "pattern",
        ["spec", "template_ids", 0],
    ),
    (
        "unknown event",
        "EmailCampaign",
        ((("spec", "events"), ["contact.deleted"]),),
        "enum",
        ["spec", "events", 0],
    ),
    (
        "event spelled with underscore",
        "EmailCampaign",
        ((("spec", "events"), ["contact_saved"]),),
        "enum",
        ["spec", "events", 0],
    ),
    ("empty events", "EmailCampaign", ((("spec", "events"), []),), "minItems", ["spec", "events"]),
    (
        "repeated event",
        "EmailCampaign",
        ((("spec", "events"), ["lead.created", "lead.created"]),),
        "uniqueItems",
        ["spec", "events"],
    ),
    (
        "no mail accounts",
        "EmailCampaign",
        ((("spec", "mail_account_ids"), []),),
        "minItems",
        ["spec", "mail_account_ids"],
    ),
    (
        "ISO datetime with T",
        "Campaign",
        ((("spec", "scheduled_time"), "2027-03-22T10:00:00"),),
        "pattern",
        ["spec", "scheduled_time"],
    ),
    (
        "month 13",
        "Campaign",
        ((("spec", "scheduled_time"), "2027-13-22 10:00:00"),),
        "pattern",
        ["spec", "scheduled_time"],
    ),
    (
        "date without time",
        "Campaign",
        ((("spec", "scheduled_time"), "2027-03-22"),),
        "pattern",
        ["spec", "scheduled_time"],
    ),
    (
        "start_time neither immediately nor datetime",
        "PushTask",
        ((("spec", "start_time"), "tomorrow"),),
        "pattern",
        ["spec", "start_time"],
    ),
    (
        "end_time bad datetime",
        "PushTask",
        ((("spec", "end_time"), "2027-01-01 25:00:00"),),
        "pattern",
        ["spec", "end_time"],
    ),
    (
        "resume with a bad datetime",
        "Campaign",
        ((("resume",), {"scheduled_time": "soon"}),),
        "pattern",
        ["resume", "scheduled_time"],
    ),
    (
        "evaluation window in words",
        "Campaign",
        ((("spec", "ab_test"), {"evaluation_window": "2 days"}),),
        "pattern",
        ["spec", "ab_test", "evaluation_window"],
    ),
    (
        "language code upper-case",
        "Campaign",
        (((*M0, "push", "title"), {"EN": "Hello"}),),
        "pattern",
        [*M0, "push", "title"],
    ),
    (
        "integration_id not digits",
        "Campaign",
        ((M0, SMS_MESSAGE), ((*M0, "integration_id"), "sms-1")),
        "pattern",
        [*M0, "integration_id"],
    ),
    (
        "callback not a URL",
        "Campaign",
        ((("spec", "callbacks"), {"push": {"on_click": ["not a url"]}}),),
        "pattern",
        ["spec", "callbacks", "push", "on_click", 0],
    ),
    (
        "campaign cron with 6 fields",
        "Campaign",
        ((("spec", "recurrence"), {"cron": "0 5 4 2 4 4"}),),
        "pattern",
        ["spec", "recurrence", "cron"],
    ),
    (
        "push-task cron minute list",
        "PushTask",
        ((("spec", "frequency"), DELETE), (("spec", "cron"), "0,30 12 * * *")),
        "pattern",
        ["spec", "cron"],
    ),
    (
        "push-task cron hour range in user time zone",
        "PushTask",
        (
            (("spec", "frequency"), DELETE),
            (("spec", "cron"), "0 */2 * * *"),
            (("spec", "user_time_zone"), 1),
        ),
        "pattern",
        ["spec", "cron"],
    ),
    (
        "frequency in words",
        "PushTask",
        ((("spec", "frequency"), "1h"),),
        "pattern",
        ["spec", "frequency"],
    ),
    (
        "quiet_time hour 24 as string",
        "PushTask",
        ((("spec", "quiet_time"), {"from": "24", "to": "4"}),),
        "pattern",
        ["spec", "quiet_time", "from"],
    ),
    (
        "vibration pattern",
        "PushTask",
        ((("spec", "adex"), {"fallback_message": {"vibration": "long"}}),),
        "pattern",
        ["spec", "adex", "fallback_message", "vibration"],
    ),
    # keys
    ("key with upper case", "Campaign", ((("key",), "Welcome"),), "pattern", ["key"]),
    ("key starting with a dash", "Campaign", ((("key",), "-welcome"),), "pattern", ["key"]),
    ("key too long", "Campaign", ((("key",), "k" * 65),), "pattern", ["key"]),
    ("key from a block scalar", "Campaign", ((("key",), "welcome\n"),), "pattern", ["key"]),
    ("key missing", "PushTask", ((("key",), DELETE),), "required", []),
    # resume block
    (
        "resume with both fields",
        "Campaign",
        ((("resume",), {"run_immediately": True, "scheduled_time": "2027-01-01 00:00:00"}),),
        "maxProperties",
        ["resume"],
    ),
    ("empty resume", "Campaign", ((("resume",), {}),), "minProperties", ["resume"]),
    (
        "resume run_immediately false",
        "Campaign",
        ((("resume",), {"run_immediately": False}),),
        "enum",
        ["resume", "run_immediately"],
    ),
    # state / kind / order
    ("campaign cannot be stopped", "Campaign", ((("state",), "stopped"),), "enum", ["state"]),
    ("push task cannot be paused", "PushTask", ((("state",), "paused"),), "enum", ["state"]),
    (
        "email campaign cannot be inactive",
        "EmailCampaign",
        ((("state",), "inactive"),),
        "enum",
        ["state"],
    ),
    (
        "email campaign cannot be canceled",
        "EmailCampaign",
        ((("state",), "canceled"),),
        "enum",
        ["state"],
    ),
    ("order out of range", "Campaign", ((("order",), 5000),), "maximum", ["order"]),
    ("order not an integer", "Campaign", ((("order",), "1"),), "type", ["order"]),
    # ranges and enums inside the spec
    (
        "recurrence with pattern and cron",
        "Campaign",
        ((("spec", "recurrence"), {"pattern": {"hour": 1}, "cron": "5 4 2 4 4"}),),
        "maxProperties",
        ["spec", "recurrence"],
    ),
    (
        "weekday 8",
        "Campaign",
        ((("spec", "recurrence"), {"pattern": {"weekdays": [1, 8]}}),),
        "maximum",
        ["spec", "recurrence", "pattern", "weekdays", 1],
    ),
    (
        "repeated month",
        "Campaign",
        ((("spec", "recurrence"), {"pattern": {"months": [3, 3]}}),),
        "uniqueItems",
        ["spec", "recurrence", "pattern", "months"],
    ),
    (
        "hour 24",
        "Campaign",
        ((("spec", "recurrence"), {"pattern": {"hour": 24}}),),
        "maximum",
        ["spec", "recurrence", "pattern", "hour"],
    ),
    (
        "test_split 100",
        "Campaign",
        ((("spec", "ab_test"), {"test_split": 100}),),
        "maximum",
        ["spec", "ab_test", "test_split"],
    ),
    (
        "winning metric unknown",
        "Campaign",
        ((("spec", "ab_test"), {"winning_metric": "ctr"}),),
        "enum",
        ["spec", "ab_test", "winning_metric"],
    ),
    (
        "campaign targeting op include",
        "Campaign",
        (
            (
                ("spec", "targeting"),
                {"custom_properties": {"plan": {"items": ["pro"], "op": "include"}}},
            ),
        ),
        "enum",
        ["spec", "targeting", "custom_properties", "plan", "op"],
    ),
    (
        "push-task targeting op in",
        "PushTask",
        ((("spec", "targeting"), {"countries": {"items": ["CA"], "op": "in"}}),),
        "enum",
        ["spec", "targeting", "countries", "op"],
    ),
    (
        "utm enabled 2",
        "Campaign",
        ((("spec", "utm_tracking"), {"enabled": 2}),),
        "enum",
        ["spec", "utm_tracking", "enabled"],
    ),
    (
        "quiet_hours hour 25",
        "Campaign",
        ((("spec", "quiet_hours"), {"from": 25, "to": 7}),),
        "maximum",
        ["spec", "quiet_hours", "from"],
    ),
    (
        "push-task status 2 (finished) is not settable",
        "PushTask",
        ((("spec", "status"), 2),),
        "enum",
        ["spec", "status"],
    ),
    (
        "custom_data over 4000 characters",
        "PushTask",
        ((("spec", "custom_data"), "x" * 4001),),
        "maxLength",
        ["spec", "custom_data"],
    ),
    (
        "number_of_messages 11",
        "PushTask",
        ((("spec", "adex"), {"number_of_messages": 11}),),
        "maximum",
        ["spec", "adex", "number_of_messages"],
    ),
    # what the API would store differently (a change on every plan), or is unsafe to send
    (
        "label with a comma",
        "Campaign",
        ((("spec", "labels"), ["ok", "a,b"]),),
        "pattern",
        ["spec", "labels", 1],
    ),
    (
        "label with a leading space",
        "Campaign",
        ((("spec", "labels"), [" sale"]),),
        "pattern",
        ["spec", "labels", 0],
    ),
    (
        "label with a trailing space",
        "Campaign",
        ((("spec", "labels"), ["sale "]),),
        "pattern",
        ["spec", "labels", 0],
    ),
    ("empty label", "Campaign", ((("spec", "labels"), [""]),), "pattern", ["spec", "labels", 0]),
    (
        "escape sequence in a campaign name",
        "Campaign",
        ((("spec", "name"), "C\x1b[2K"),),
        "pattern",
        ["spec", "name"],
    ),
    (
        "newline in a push title",
        "Campaign",
        (((*M0, "push", "title"), {"en": "Hi\n"}),),
        "pattern",
        [*M0, "push", "title", "en"],
    ),
    (
        "escape code in a push body",
        "Campaign",
        (((*M0, "push", "body"), {"en": "Hi\x1b[1A"}),),
        "pattern",
        [*M0, "push", "body", "en"],
    ),
    (
        "C1 control in a push-task name",
        "PushTask",
        ((("spec", "name"), "Task\x9b2K"),),
        "pattern",
        ["spec", "name"],
    ),
    (
        "line separator in an email campaign name",
        "EmailCampaign",
        ((("spec", "name"), "Flow\u2028x"),),
        "pattern",
        ["spec", "name"],
    ),
    (
        "javascript: landing URL",
        "Campaign",
        (((*M0, "push", "landing_url"), "javascript:alert(1)"),),
        "pattern",
        [*M0, "push", "landing_url"],
    ),
    (
        "data: push image",
        "Campaign",
        (((*M0, "push", "image"), {"en": "data:image/png;base64,AA"}),),
        "pattern",
        [*M0, "push", "image", "en"],
    ),
    (
        "javascript: push-task action URL",
        "PushTask",
        ((("spec", "message", "actions"), [{"title": {"en": "Go"}, "url": "javascript:x"}]),),
        "pattern",
        ["spec", "message", "actions", 0, "url"],
    ),
    (
        "file: push-task action icon",
        "PushTask",
        ((("spec", "message", "actions"), [{"title": {"en": "Go"}, "icon": "file:///x"}]),),
        "anyOf",
        ["spec", "message", "actions", 0, "icon"],
    ),
    (
        "javascript: fallback landing URL",
        "PushTask",
        ((("spec", "adex"), {"fallback_message": {"landing_url": "javascript:x"}}),),
        "pattern",
        ["spec", "adex", "fallback_message", "landing_url"],
    ),
]


@pytest.mark.parametrize(
    ("what", "kind", "edits", "keyword", "where"), BAD, ids=[b[0] for b in BAD]
)
def test_bad_document_fails_for_the_expected_reason(
    what: str,
    kind: str,
    edits: tuple[tuple[tuple[str | int, ...], Json], ...],
    keyword: str,
    where: list[str | int],
) -> None:
    assert found_errors(kind, base(kind)) == []  # the only fault is the edit
    errors = found_errors(kind, changed(kind, *edits))
    assert (keyword, where) in errors, errors


def test_push_task_document_is_not_a_campaign() -> None:
    assert ("const", ["kind"]) in found_errors("Campaign", base("PushTask"))


# ------------------------------------------------------------------- unusual but valid forms

GOOD: list[tuple[str, str, tuple[tuple[tuple[str | int, ...], Json], ...]]] = [
    (
        "subject and preheader as language maps",
        "Campaign",
        (
            (
                M0,
                {
                    **EMAIL_MESSAGE,
                    "email": {
                        **EMAIL_MESSAGE["email"],
                        "subject": {"en": "Hi", "de": "Hallo"},
                        "preheader": "Read on",
                    },
                },
            ),
        ),
    ),
    ("sms message", "Campaign", ((M0, SMS_MESSAGE),)),
    ("template and priority", "Campaign", (((*M0, "template_id"), "1084"), ((*M0, "priority"), 3))),
    (
        "language code with region",
        "Campaign",
        (((*M0, "push", "title"), {"pt-BR": "Olá", "en": "Hi"}),),
    ),
    ("run_immediately null", "Campaign", ((("spec", "run_immediately"), None),)),
    (
        "run_immediately 1",
        "Campaign",
        ((("spec", "scheduled_time"), DELETE), (("spec", "run_immediately"), 1)),
    ),
    (
        "utm enabled true",
        "Campaign",
        ((("spec", "utm_tracking"), {"enabled": True, "utm_source": "hood"}),),
    ),
    (
        "evaluation window with hours and minutes",
        "Campaign",
        ((("spec", "ab_test"), {"name": "T", "evaluation_window": "5D 20H 30M"}),),
    ),
    (
        "evaluation window of minutes",
        "Campaign",
        ((("spec", "ab_test"), {"evaluation_window": "45M"}),),
    ),
    (
        "free-form metadata",
        "Campaign",
        ((("spec", "metadata"), {"team": "growth", "n": 3, "x": [1]}),),
    ),
    (
        "resume run_immediately 1",
        "Campaign",
        ((("resume",), {"run_immediately": 1}), (("state",), "active")),
    ),
    ("resume scheduled", "Campaign", ((("resume",), {"scheduled_time": "2027-04-01 10:00:00"}),)),
    ("canceled campaign", "Campaign", ((("state",), "canceled"), (("order",), -1000))),
    ("frequency as digits", "PushTask", ((("spec", "frequency"), "3600"),)),
    (
        "frequency null with cron",
        "PushTask",
        ((("spec", "frequency"), None), (("spec", "cron"), "0 12 * * 1,5")),
    ),
    (
        "single hour cron in user time zone",
        "PushTask",
        (
            (("spec", "frequency"), DELETE),
            (("spec", "cron"), "30 9 * * 1-5"),
            (("spec", "user_time_zone"), "1"),
        ),
    ),
    ("status as a string", "PushTask", ((("spec", "status"), "0"), (("state",), "inactive"))),
    (
        "start immediately, end null",
        "PushTask",
        ((("spec", "start_time"), "immediately"), (("spec", "end_time"), None)),
    ),
    ("message null", "PushTask", ((("spec", "message"), None),)),
    ("quiet_time as integers", "PushTask", ((("spec", "quiet_time"), {"from": 2, "to": 12}),)),
    ("account_id as a list", "PushTask", ((("spec", "adex"), {"account_id": [123456, "654321"]}),)),
    ("custom_data null", "PushTask", ((("spec", "custom_data"), None),)),
    (
        "several events",
        "EmailCampaign",
        (
            (("spec", "events"), ["contact.saved", "lead.created", "sale.created"]),
            (("state",), "stopped"),
        ),
    ),
    (
        "upper-case uuid",
        "EmailCampaign",
        ((("spec", "template_ids"), ["3C90C3CC-0D44-4B50-8888-8DD25736052A"]),),
    ),
    (
        "multi-line push body with a tab",
        "Campaign",
        (((*M0, "push", "body"), {"en": "Line one\n\tLine two\n"}),),
    ),
    (
        "labels with inner spaces, any script",
        "Campaign",
        ((("spec", "labels"), ["spring sale", "vår", "🚀"]),),
    ),
    (
        "upper-case https scheme",
        "Campaign",
        (((*M0, "push", "landing_url"), "HTTPS://Example.com/a"),),
    ),
    (
        "push-task action icon null",
        "PushTask",
        (
            (
                ("spec", "message", "actions"),
                [{"title": {"en": "Go"}, "icon": None, "url": "http://e.com"}],
            ),
        ),
    ),
]


@pytest.mark.parametrize(("what", "kind", "edits"), GOOD, ids=[g[0] for g in GOOD])
def test_documented_forms_are_accepted(
    what: str, kind: str, edits: tuple[tuple[tuple[str | int, ...], Json], ...]
) -> None:
    assert found_errors(kind, changed(kind, *edits)) == []


def test_bad_cases_do_not_share_ids() -> None:
    # pytest would silently merge duplicated ids into one another's reports.
    ids = [b[0] for b in BAD] + [g[0] for g in GOOD] + [c[0] for c in CONFIG_BAD]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
