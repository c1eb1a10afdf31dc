"""Campaign rendering: list pages assembled from stored JSON text are byte for byte what
rendering each campaign as a dict and encoding the page gives, for every view and odd value."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeClock

from hoodsync.emulator.hood import CAMPAIGN_LIST, HoodApi
from hoodsync.emulator.query import Presentation, parse_list
from hoodsync.emulator.rendering import (
    SERVER_FIELDS,
    campaign_json,
    joined_labels,
    render_campaign,
    server_fields,
    spec_entries,
)
from hoodsync.emulator.store import CampaignText, Store
from hoodsync.emulator.wire import Request, dump_indexed, dump_json, json_fragment

ODD_TEXT = 'quote " back\\slash, comma; tab\t nl\n ünï ✓ \u2028 \x01 "," ["]'
LABELS: list[Any] = [
    ["a", "b"],
    [],
    [""],
    ["", ""],
    ["with,comma", 'quote"', "back\\slash", "ünï", "tab\t", "\u2028", '","', "x"],
    ['"'],
    ["only"],
]
#: Every list presentation worth telling apart (query parameters).
PRESENTATIONS: list[dict[str, str]] = [
    {"view": "full"},
    {},
    {"view": "default", "sort": "-name"},
    {"fields": "name,labels,id,messages,status,nope"},
    {"fields": "labels,labels,metadata"},
    {"view": "full", "page": "2,3"},
    {"view": "full", "q": "Camp"},
]


def push(name: str = "m") -> dict[str, Any]:
    return {
        "name": name,
        "channel": "push",
        "push": {"title": {"en": "Hi"}, "landing_url": "https://example.com"},
    }


def bodies() -> list[dict[str, Any]]:
    """Campaign create bodies covering labels, odd text, nesting, schedules and drafts."""
    out: list[dict[str, Any]] = []
    for i, labels in enumerate(LABELS):
        out.append({"name": f"Camp {i}", "labels": labels, "messages": [push()]})
    out += [
        {"name": "Camp no labels", "messages": [push(ODD_TEXT)]},
        {
            "name": ODD_TEXT,
            "description": ODD_TEXT,
            "messages": [push()],
            # nested keys named like server fields are not top-level entries
            "metadata": {"id": 5, "status": "x", "labels": ["n"], ODD_TEXT: [1.5, None, True]},
        },
        {"name": "Camp draft", "is_draft": True, "messages": [push()]},
        {
            "name": "Camp now",
            "run_immediately": True,
            "messages": [push(), push("e")],
            "ab_test": {"test_split": 20},
        },
        {
            "name": "Camp later",
            "scheduled_time": "2030-01-01 10:00:00",
            "messages": [push()],
            "targeting": {"countries": {"op": "in", "items": ["FR"]}},
        },
        {
            "name": "Camp cron",
            "recurrence": {"cron": "0 10 * * 1"},
            "messages": [push()],
            "quiet_hours": {"from": 1},
            "callbacks": {"url": "https://x"},
            "deal_id": 7,
        },
    ]
    return out


@pytest.fixture
def api(fake_clock: FakeClock) -> HoodApi:
    store = Store.open(None)
    store.ensure_account("default")
    return HoodApi(store, page_max=100, async_delay_s=0.0, clock=fake_clock)


def call(
    api: HoodApi, method: str, path: str, body: Any = None, query: tuple[tuple[str, str], ...] = ()
) -> Any:
    raw = json.dumps(body).encode() if body is not None else b""
    return api.handle(Request(method, path, query, {}, raw), "default")


def seed(api: HoodApi) -> list[str]:
    ids = []
    for body in bodies():
        answer = call(api, "POST", "/campaigns", body)
        assert answer.status == 201, answer.body
        ids.append(answer.body["id"])
    assert call(api, "POST", f"/campaigns/{ids[0]}/pause").status == 204
    store = api._store
    store.set_campaign_status(ids[1], "active", effective_status="running")
    store.set_campaign_status(ids[2], "archived", undocumented=True)
    stored = store._conn.execute("SELECT spec, spec_index FROM campaigns").fetchall()
    assert all(spec_entries(text, index) is not None for text, index in stored)  # no fallback
    return ids


def reference(api: HoodApi, query: tuple[tuple[str, str], ...]) -> bytes:
    """The page as rendering every campaign as a dict (the parsed rows) and encoding it."""
    store = api._store
    account = store.account("default")
    parsed, presentation = parse_list(query, CAMPAIGN_LIST, 100)
    total, rows = store.list_campaigns("default", parsed)
    items = [render_campaign(r.spec, r, account, presentation) for r in rows]
    return dump_json({"total": total, "items": items})


@pytest.mark.parametrize("params", PRESENTATIONS, ids=[str(p) for p in PRESENTATIONS])
def test_a_list_page_is_the_dict_rendering_byte_for_byte(
    api: HoodApi, params: dict[str, str]
) -> None:
    seed(api)
    query = tuple(params.items())
    answer = call(api, "GET", "/campaigns", query=query)
    assert answer.status == 200
    assert dump_json(answer.body) == reference(api, query)
    assert json.loads(dump_json(answer.body))["items"]  # the page is not empty


def test_rows_written_before_the_index_existed_list_the_same(api: HoodApi) -> None:
    seed(api)
    query = (("view", "full"),)
    indexed = dump_json(call(api, "GET", "/campaigns", query=query).body)
    api._store._conn.execute("UPDATE campaigns SET spec_index = NULL WHERE id % 2 = 0")
    api._store._conn.execute("UPDATE campaigns SET spec_index = '1,2' WHERE id % 3 = 0")
    assert dump_json(call(api, "GET", "/campaigns", query=query).body) == indexed


def test_an_old_database_gains_the_index_column_and_lists_as_before(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    db = tmp_path / "old.sqlite"
    conn = sqlite3.connect(db)
    conn.execute(  # the campaigns table as databases written before the index have it
        "CREATE TABLE campaigns (id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, "
        "name TEXT NOT NULL, description TEXT, status TEXT NOT NULL, send_strategy TEXT NOT NULL, "
        "next_run_time TEXT, run_counter INTEGER NOT NULL DEFAULT 0, create_time TEXT NOT NULL, "
        "update_time TEXT NOT NULL, spec TEXT NOT NULL, extra TEXT NOT NULL, pending TEXT, "
        "pending_at REAL)"
    )
    spec = {"name": "Old", "labels": ["a", "b"], "messages": [push()], "metadata": {}}
    conn.execute(
        "INSERT INTO campaigns (account, name, status, send_strategy, create_time, update_time, "
        "spec, extra) VALUES ('default', 'Old', 'scheduled', 'manual', '2026-01-01 00:00:00', "
        "'2026-01-01 00:00:00', ?, '{}')",
        (json_fragment(spec),),
    )
    conn.commit()
    conn.close()
    store = Store.open(db)
    store.ensure_account("default")
    api = HoodApi(store, page_max=100, async_delay_s=0.0, clock=fake_clock)
    query = (("view", "full"),)
    answer = call(api, "GET", "/campaigns", query=query)
    assert dump_json(answer.body) == reference(api, query)
    assert answer.body is not None and '"labels":"a,b"' in dump_json(answer.body).decode()
    assert "full_json" in {c[1] for c in store._conn.execute("PRAGMA table_info(campaigns)")}
    # Written again, the row gets its index, and lists the same.
    assert call(api, "PATCH", "/campaigns/1", {"description": "d"}).status == 204
    assert store._conn.execute("SELECT spec_index FROM campaigns").fetchone()[0]
    assert dump_json(call(api, "GET", "/campaigns", query=query).body) == reference(api, query)
    store.close()


FULL = (("view", "full"), ("page", "1,100"))


def kept(api: HoodApi) -> dict[int, str | None]:
    """Each campaign's kept full rendering (``None``: none kept)."""
    rows = api._store._conn.execute("SELECT id, full_json FROM campaigns").fetchall()
    return dict(rows)


def test_a_full_list_item_is_kept_as_written_and_answered_as_kept(api: HoodApi) -> None:
    ids = seed(api)
    # Written by the API: kept at once. Changed behind it (the status helper): not kept.
    texts = kept(api)
    assert texts[int(ids[0])] is not None and texts[int(ids[-1])] is not None
    assert texts[int(ids[1])] is None and texts[int(ids[2])] is None
    answer = dump_json(call(api, "GET", "/campaigns", query=FULL).body)
    assert answer == reference(api, FULL)
    assert kept(api) == texts  # reading writes nothing
    # What is kept is what is answered: a kept text stands for its row until the row changes.
    api._store._conn.execute(
        "UPDATE campaigns SET full_json = '{\"kept\":1}' WHERE id = ?", (int(ids[3]),)
    )
    items = json.loads(dump_json(call(api, "GET", "/campaigns", query=FULL).body))["items"]
    assert {"kept": 1} in items


def test_any_change_to_a_row_drops_its_kept_rendering(fake_clock: FakeClock) -> None:
    store = Store.open(None)
    store.ensure_account("default")
    api = HoodApi(store, page_max=100, async_delay_s=5.0, clock=fake_clock)
    ids = seed(api)
    call(api, "GET", "/campaigns", query=FULL)
    assert call(api, "PATCH", f"/campaigns/{ids[4]}", {"description": "new"}).status == 204
    assert call(api, "POST", f"/campaigns/{ids[5]}/pause").status == 204  # queued for 5 s
    assert dump_json(call(api, "GET", "/campaigns", query=FULL).body) == reference(api, FULL)
    fake_clock.advance(6.0)  # the queued pause is applied by the next request
    assert dump_json(call(api, "GET", "/campaigns", query=FULL).body) == reference(api, FULL)
    store.set_campaign_status(ids[6], "sent")
    # A write that knows nothing of the kept text (as a new write path would be) drops it too.
    store._conn.execute("UPDATE campaigns SET run_counter = 9 WHERE id = ?", (int(ids[7]),))
    assert kept(api)[int(ids[6])] is None and kept(api)[int(ids[7])] is None
    answer = dump_json(call(api, "GET", "/campaigns", query=FULL).body)
    assert answer == reference(api, FULL)
    assert b'"run_counter":9' in answer and b'"status":"sent"' in answer
    store.close()


def row_of(spec: dict[str, Any], **fields: Any) -> CampaignText:
    text, index = dump_indexed(spec)
    values: dict[str, Any] = {
        "id": 1017000,
        "status": "scheduled",
        "send_strategy": "manual",
        "next_run_time": None,
        "run_counter": 0,
        "create_time": "2026-01-01 00:00:00",
        "update_time": "2026-01-01 00:00:01",
        "spec_text": text,
        "spec_index": index,
        "extra": {},
    }
    values.update(fields)
    return CampaignText(**values)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"status": "draft", "next_run_time": "2030-01-01 10:00:00", "run_counter": 3},
        {"status": "active", "extra": {"effective_status": "running", "was_launched": True}},
        {"status": ODD_TEXT, "send_strategy": ODD_TEXT, "create_time": ODD_TEXT},
        {"run_counter": 2**70, "extra": {"was_launched": 0, "effective_status": ""}},
    ],
)
def test_a_campaign_renders_as_its_dict_in_every_state(fields: dict[str, Any]) -> None:
    store = Store.open(None)
    store.ensure_account("default")
    account = store.account("default")
    spec = {"name": ODD_TEXT, "labels": LABELS[4], "messages": [push()], "metadata": {"a": 1}}
    row = row_of(spec, **fields)
    for presentation in (
        Presentation("full"),
        Presentation("default"),
        Presentation(fields=("status", "labels", "score", "x")),
    ):
        expected = json_fragment(render_campaign(spec, row, account, presentation))
        assert campaign_json(row, account, presentation) == expected
    assert set(server_fields(row, account)) == set(SERVER_FIELDS)
    store.close()


def test_a_spec_key_named_like_a_server_field_takes_the_parsing_path() -> None:
    store = Store.open(None)
    store.ensure_account("default")
    account = store.account("default")
    spec = {"name": "n", "status": "mine", "zzz": 1}
    row = row_of(spec)
    assert row.spec_index is not None  # indexable, but the server's "status" must win
    expected = json_fragment(render_campaign(spec, row, account, Presentation("full")))
    assert campaign_json(row, account, Presentation("full")) == expected
    assert '"status":"scheduled"' in expected
    store.close()


def test_dump_indexed_cuts_the_text_into_its_entries() -> None:
    spec = {"b": [1, {"x": "}"}], "a": ODD_TEXT, "a_1": None, "A": {"k": '"",'}}
    text, index = dump_indexed(spec)
    assert text == json_fragment(spec)
    entries = spec_entries(text, index)
    assert entries == [f'"{k}":{json_fragment(spec[k])}' for k in sorted(spec)]
    assert dump_indexed({}) == ("{}", "") and spec_entries("{}", "") == []
    for key in ("a b", "ключ", 'q"', "", "x:y"):  # not plain words: no index
        assert dump_indexed({key: 1, "a": 2})[1] is None
    assert spec_entries(text, None) is None
    assert spec_entries(text + " ", index) is None  # an index that does not fit the text
    assert spec_entries(text, "1,5") is None


@pytest.mark.parametrize("labels", [*LABELS, ["\\", "\\\\"], ['a","b'], ["\x00", "é" * 3]])
def test_joined_labels_is_the_encoded_join(labels: list[str]) -> None:
    assert joined_labels(json_fragment(labels)) == json_fragment(",".join(labels))


@pytest.mark.parametrize("value", ['["a",1,"b"]', '["a",{"b":"c"},"d"]', "[1]", '["a",null]'])
def test_joined_labels_refuses_what_the_join_refuses(value: str) -> None:
    with pytest.raises(TypeError):
        ",".join(json.loads(value))
    with pytest.raises(TypeError):
        joined_labels(value)
