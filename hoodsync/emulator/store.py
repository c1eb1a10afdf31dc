"""The emulator's SQLite store: accounts, Hood campaigns and push tasks, Falconyte campaigns.

Thread safety: one connection and one re-entrant lock. Every public method takes the lock, and
:meth:`Store.transaction` holds it (and one SQLite transaction) across a read-validate-write
sequence, so concurrent requests are serialised and no write is lost or duplicated. Ids come from
``AUTOINCREMENT`` sequences seeded once at realistic starting points (campaigns around 1017000,
push tasks around 1050, campaign messages around 2600), so ids are never reused, even after a
restart.

The store is deliberately dumb: it persists rows and answers list queries whose field names it
maps through its own whitelist. Every API rule lives in ``hood.py``, ``push_tasks.py`` and
``falconyte.py``. Beside each campaign it may keep the JSON text a full list item renders it as
(``full_json``, written by ``hood.py``); a trigger clears it whenever anything else in the row
changes, so it is never older than the row.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hoodsync.emulator.wire import dump_indexed
from hoodsync.wire import CAMPAIGN_STATUSES

__all__ = [
    "Store",
    "StoreError",
    "Filter",
    "ListQuery",
    "Account",
    "CampaignRow",
    "CampaignText",
    "PushTaskRow",
    "EmailCampaignRow",
    "CAMPAIGN_STATUSES",
]

logger = logging.getLogger(__name__)

# CAMPAIGN_STATUSES (re-exported): every campaign status the emulator knows — the ones the
# documented transition rules name, plus ``active`` and ``manual``, which the docs show without
# rules (see hoodsync.wire).

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    hood_token TEXT NOT NULL UNIQUE,
    falconyte_key TEXT NOT NULL UNIQUE,
    company_id TEXT NOT NULL,
    creator_id TEXT NOT NULL,
    team_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS campaigns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    status TEXT NOT NULL,
    send_strategy TEXT NOT NULL,
    next_run_time TEXT,
    run_counter INTEGER NOT NULL DEFAULT 0,
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    spec TEXT NOT NULL,
    extra TEXT NOT NULL,
    pending TEXT,
    pending_at REAL,
    spec_index TEXT,
    full_json TEXT
);
CREATE INDEX IF NOT EXISTS campaigns_by_account ON campaigns (account, create_time, id);
CREATE INDEX IF NOT EXISTS campaigns_by_pending ON campaigns (pending_at)
    WHERE pending_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS message_ids (id INTEGER PRIMARY KEY AUTOINCREMENT);
CREATE TABLE IF NOT EXISTS push_tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    status INTEGER NOT NULL,
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    spec TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS push_tasks_by_account ON push_tasks (account, create_time, id);
CREATE TABLE IF NOT EXISTS email_campaigns (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    send_id TEXT NOT NULL,
    settings TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS email_campaigns_by_account ON email_campaigns (account, created_us, id);
"""

# ``campaigns.full_json`` is the campaign as a full list item renders it, written only together
# with the row by :meth:`Store.save_campaign`. Any other update of the row clears it (one that
# leaves it as it was: the trigger cannot tell a write that kept it right from one that never
# heard of it), so whatever a write changes, the copy is never stale and no other write path
# has to remember it.
_FULL_JSON_STALE = """
CREATE TRIGGER IF NOT EXISTS campaigns_full_json_stale AFTER UPDATE ON campaigns
WHEN NEW.full_json IS NOT NULL AND NEW.full_json IS OLD.full_json
BEGIN
    UPDATE campaigns SET full_json = NULL WHERE id = NEW.id;
END
"""

# Where each id sequence starts (the first id handed out is the value + 1).
#: The largest integer SQLite stores (64-bit signed). A larger Python int cannot be bound to a
#: statement (``OverflowError``): ids and offsets from a request are checked against it here.
SQLITE_INT_MAX = 2**63 - 1

_SEQUENCE_STARTS = {"campaigns": 1016999, "push_tasks": 1049, "message_ids": 2599}

# List-query field -> SQL expression. Only names in these maps ever reach SQL text.
_CAMPAIGN_COLUMNS = {
    "id": "id",
    "name": "name",
    "description": "description",
    "status": "status",
    "is_draft": "(status = 'draft')",
    "send_strategy": "send_strategy",
    "next_run_time": "next_run_time",
    "run_counter": "run_counter",
    "create_time": "create_time",
    "update_time": "update_time",
}
_PUSH_TASK_COLUMNS = {
    "id": "id",
    "name": "name",
    "status": "status",
    "create_time": "create_time",
    "update_time": "update_time",
}


class StoreError(Exception):
    """The database could not be opened or used (wraps ``sqlite3`` errors)."""


@dataclass(frozen=True)
class Account:
    """One emulated account. ``repr`` leaves the credentials out."""

    name: str
    hood_token: str = field(repr=False)
    falconyte_key: str = field(repr=False)
    company_id: str
    creator_id: str
    team_id: str


@dataclass(frozen=True)
class Filter:
    """``field op values`` — ops: eq neq in nin gt gte lt lte r rf rl rr is isn."""

    field: str
    op: str
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ListQuery:
    """A validated list request: filters (ANDed), substring search, sort keys, one page."""

    filters: tuple[Filter, ...] = ()
    search: str | None = None
    search_fields: tuple[str, ...] = ("name",)
    sort: tuple[tuple[str, bool], ...] = (("create_time", True), ("id", True))
    offset: int = 0
    limit: int = 10


@dataclass
class CampaignRow:
    """A stored Hood campaign.

    ``spec`` holds the writable fields (messages with their server-assigned ids), ``extra`` the
    server-side state that has no column (``was_launched``, ``paused_from``), and ``pending`` the
    queued asynchronous transitions ``[{"at": ts, <field>: <value>, ...}]`` in order.
    """

    id: int
    account: str
    status: str
    send_strategy: str
    next_run_time: str | None
    run_counter: int
    create_time: str
    update_time: str
    spec: dict[str, Any]
    extra: dict[str, Any]
    pending: list[dict[str, Any]]


@dataclass
class CampaignText:
    """A stored Hood campaign as a list page renders it: ``spec`` left as its stored JSON text.

    ``spec_index`` says where each top-level ``"key":value`` entry of ``spec_text`` starts and
    ends (:func:`~hoodsync.emulator.wire.dump_indexed`; ``None`` for a row written before the
    index existed), so the renderer can cut the text into its entries without parsing it.
    """

    id: int
    status: str
    send_strategy: str
    next_run_time: str | None
    run_counter: int
    create_time: str
    update_time: str
    spec_text: str
    spec_index: str | None
    extra: Mapping[str, Any]  # read only: rows of one page may share it
    #: The full rendering kept by :meth:`Store.save_campaign`, when asked for and kept (then
    #: ``spec_text``, ``spec_index`` and ``extra`` are left empty: not read).
    full_json: str | None = None


#: Renders a campaign as written as a full list item (given by the API, which knows how).
FullRendering = Callable[[CampaignText], str]


@dataclass
class PushTaskRow:
    """A stored Hood push task; ``spec`` holds its fields with numbers as numbers."""

    id: int
    account: str
    status: int
    create_time: str
    update_time: str
    spec: dict[str, Any]


@dataclass
class EmailCampaignRow:
    """A stored Falconyte campaign; times are epoch microseconds, ``settings`` the create body."""

    id: str
    account: str
    name: str
    created_us: int
    updated_us: int
    enabled: bool
    send_id: str
    settings: dict[str, Any]


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Store:
    """SQLite-backed state of every emulated account. Use :meth:`open` to make one."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        """Wrap an open connection (use :meth:`open` instead); creates the schema."""
        self._conn = conn
        self._path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._accounts: dict[str, Account] = {}
        self._counts: dict[tuple[str, str, tuple[Any, ...]], tuple[tuple[int, int], int]] = {}
        self._create_schema()
        self._load_accounts()

    def __repr__(self) -> str:
        return f"Store({self._path!r})"

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path | None) -> Store:
        """Open (creating if needed) the store at ``path``; ``None`` or ``":memory:"`` = in memory.

        A file store keeps everything across restarts. Raises :class:`StoreError` if the file
        cannot be opened as a database.
        """
        target = ":memory:" if path is None or str(path) == ":memory:" else str(path)
        try:
            conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
            if target != ":memory:":
                # WAL + NORMAL: durable across process restarts, and fast enough for benchmarks.
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            return cls(conn, target)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the emulator database {target}: {exc}") from exc

    def close(self) -> None:
        """Close the database. The store must not be used afterwards."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock and one SQLite transaction; commit on success, roll back on error.

        Re-entrant: nested uses join the outer transaction.
        """
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def _create_schema(self) -> None:
        with self.transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._conn.execute(statement)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(campaigns)")}
            for column in ("spec_index", "full_json"):  # a database older than the column
                if column not in columns:
                    self._conn.execute(f"ALTER TABLE campaigns ADD COLUMN {column} TEXT")
            self._conn.execute(_FULL_JSON_STALE)
            for table, start in _SEQUENCE_STARTS.items():
                self._conn.execute(
                    "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? WHERE NOT EXISTS "
                    "(SELECT 1 FROM sqlite_sequence WHERE name = ?)",
                    (table, start, table),
                )

    def _load_accounts(self) -> None:
        rows = self._conn.execute(
            "SELECT name, hood_token, falconyte_key, company_id, creator_id, team_id FROM accounts"
        ).fetchall()
        self._accounts = {row[0]: Account(*row) for row in rows}

    # -- accounts ----------------------------------------------------------------------------

    def ensure_account(self, name: str = "default") -> tuple[str, str]:
        """``(hood_token, falconyte_key)`` of account ``name``, created on first call.

        Credentials are random (``secrets``) and persisted; later calls, also after a restart
        with a file database, return the same values.
        """
        with self.transaction():
            account = self._accounts.get(name)
            if account is None:
                account = Account(
                    name=name,
                    hood_token="hood_" + secrets.token_urlsafe(24),
                    falconyte_key="fy_" + secrets.token_urlsafe(24),
                    company_id=str(6_000_000 + secrets.randbelow(1_000_000)),
                    creator_id=str(1_000_000 + secrets.randbelow(100_000)),
                    team_id=str(uuid.uuid4()),
                )
                self._conn.execute(
                    "INSERT INTO accounts (name, hood_token, falconyte_key, company_id, "
                    "creator_id, team_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        account.name,
                        account.hood_token,
                        account.falconyte_key,
                        account.company_id,
                        account.creator_id,
                        account.team_id,
                    ),
                )
                self._accounts[name] = account
            return account.hood_token, account.falconyte_key

    def account(self, name: str) -> Account:
        """The account called ``name``; ``KeyError`` if it does not exist."""
        with self._lock:
            return self._accounts[name]

    def account_for_hood_token(self, token: str) -> Account | None:
        """The account whose Hood bearer token is ``token``, else ``None``."""
        with self._lock:
            for account in self._accounts.values():
                if secrets.compare_digest(account.hood_token, token):
                    return account
        return None

    def account_for_falconyte_key(self, key: str) -> Account | None:
        """The account whose Falconyte API key is ``key``, else ``None``."""
        with self._lock:
            for account in self._accounts.values():
                if secrets.compare_digest(account.falconyte_key, key):
                    return account
        return None

    # -- shared list query -------------------------------------------------------------------

    @staticmethod
    def _where(account: str, query: ListQuery, columns: Mapping[str, str]) -> tuple[str, list[Any]]:
        clauses = ["account = ?"]
        params: list[Any] = [account]
        for flt in query.filters:
            col = columns[flt.field]
            clause, values = _filter_sql(col, flt)
            clauses.append(clause)
            params.extend(_bindable(v) for v in values)
        if query.search:
            escaped = query.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            parts = [f"{columns[f]} LIKE ? ESCAPE '\\'" for f in query.search_fields]
            clauses.append("(" + " OR ".join(parts) + ")")
            params.extend([f"%{escaped}%"] * len(parts))
        return " AND ".join(clauses), params

    @staticmethod
    def _order(query: ListQuery, columns: Mapping[str, str]) -> str:
        keys = [f"{columns[name]} {'DESC' if desc else 'ASC'}" for name, desc in query.sort]
        return ", ".join(keys)

    def _list(
        self, table: str, account: str, query: ListQuery, columns: Mapping[str, str], select: str
    ) -> tuple[int, list[tuple[Any, ...]]]:
        where, params = self._where(account, query, columns)
        with self._lock:
            total = self._count(table, where, params)
            rows = self._conn.execute(
                f"SELECT {select} FROM {table} WHERE {where} ORDER BY {self._order(query, columns)}"
                " LIMIT ? OFFSET ?",
                [*params, min(query.limit, SQLITE_INT_MAX), min(query.offset, SQLITE_INT_MAX)],
            ).fetchall()
        return int(total), rows

    def _count(self, table: str, where: str, params: list[Any]) -> int:
        """``COUNT(*)`` of a list query, remembered until the database changes: paging through
        a collection asks the same count once per page, and each costs a scan of the index.

        "Changes" are this connection's row changes (``total_changes``, which counts rolled
        back ones too) and commits by any other connection to the file (``data_version``)."""
        stamp = (
            self._conn.total_changes,
            self._conn.execute("PRAGMA data_version").fetchone()[0],
        )
        key = (table, where, tuple(params))
        known = self._counts.get(key)
        if known is not None and known[0] == stamp:
            return known[1]
        total = int(
            self._conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", params).fetchone()[0]
        )
        if len(self._counts) >= 256:  # distinct queries; a bound, not a tuned size
            self._counts.clear()
        self._counts[key] = (stamp, total)
        return total

    # -- campaigns ---------------------------------------------------------------------------

    _CAMPAIGN_SELECT = (
        "id, account, status, send_strategy, next_run_time, run_counter, create_time, "
        "update_time, spec, extra, pending"
    )

    @staticmethod
    def _campaign(row: Sequence[Any]) -> CampaignRow:
        return CampaignRow(
            id=row[0],
            account=row[1],
            status=row[2],
            send_strategy=row[3],
            next_run_time=row[4],
            run_counter=row[5],
            create_time=row[6],
            update_time=row[7],
            spec=json.loads(row[8]),
            extra=json.loads(row[9]),
            pending=json.loads(row[10]) if row[10] else [],
        )

    def next_message_id(self) -> int:
        """A fresh campaign-message id from its own sequence."""
        with self.transaction():
            cur = self._conn.execute("INSERT INTO message_ids DEFAULT VALUES")
            new_id = int(cur.lastrowid or 0)
            self._conn.execute("DELETE FROM message_ids WHERE id = ?", (new_id,))
            return new_id

    def insert_campaign(self, row: CampaignRow) -> int:
        """Store a new campaign (``row.id`` is ignored) and return its id."""
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO campaigns (account, name, description, status, send_strategy, "
                "next_run_time, run_counter, create_time, update_time, spec, spec_index, extra, "
                "pending, pending_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row.account, *self._campaign_values(row)),
            )
            return int(cur.lastrowid or 0)

    @staticmethod
    def _campaign_values(row: CampaignRow) -> tuple[Any, ...]:
        description = row.spec.get("description")
        spec, spec_index = dump_indexed(row.spec)
        return (
            str(row.spec.get("name", "")),
            description if isinstance(description, str) else None,
            row.status,
            row.send_strategy,
            row.next_run_time,
            row.run_counter,
            row.create_time,
            row.update_time,
            spec,
            spec_index,
            _dumps(row.extra),
            _dumps(row.pending) if row.pending else None,
            min(float(p["at"]) for p in row.pending) if row.pending else None,
        )

    def save_campaign(self, row: CampaignRow, full: FullRendering | None = None) -> None:
        """Write every field of an existing campaign back; with ``full``, keep what it renders
        of the row as written as the campaign's full list item (``full_json``; see
        :meth:`list_campaign_texts`), else keep none."""
        values = self._campaign_values(row)
        kept = None
        if full is not None:
            spec_text, spec_index = values[8], values[9]
            kept = full(
                CampaignText(
                    row.id,
                    row.status,
                    row.send_strategy,
                    row.next_run_time,
                    row.run_counter,
                    row.create_time,
                    row.update_time,
                    spec_text,
                    spec_index,
                    row.extra,
                )
            )
        with self.transaction():
            self._conn.execute(
                "UPDATE campaigns SET name = ?, description = ?, status = ?, send_strategy = ?, "
                "next_run_time = ?, run_counter = ?, create_time = ?, update_time = ?, spec = ?, "
                "spec_index = ?, extra = ?, pending = ?, pending_at = ?, full_json = ? "
                "WHERE id = ?",
                (*values, kept, row.id),
            )

    def get_campaign(self, account: str, campaign_id: int) -> CampaignRow | None:
        """The campaign with this id in this account, else ``None``."""
        if not 0 <= campaign_id <= SQLITE_INT_MAX:
            return None  # no row has it (a request may name any number)
        with self._lock:
            found = self._conn.execute(
                f"SELECT {self._CAMPAIGN_SELECT} FROM campaigns WHERE id = ? AND account = ?",
                (campaign_id, account),
            ).fetchone()
        return self._campaign(found) if found else None

    def due_campaigns(self, account: str, now: float) -> list[CampaignRow]:
        """Campaigns of the account with a queued transition due at or before ``now``."""
        with self._lock:
            # "+account": keep SQLite on the (small, partial) pending_at index. On the account
            # index it would read every campaign row of the account, on every request.
            rows = self._conn.execute(
                f"SELECT {self._CAMPAIGN_SELECT} FROM campaigns "
                "WHERE pending_at IS NOT NULL AND pending_at <= ? AND +account = ? ORDER BY id",
                (now, account),
            ).fetchall()
        return [self._campaign(r) for r in rows]

    def list_campaigns(self, account: str, query: ListQuery) -> tuple[int, list[CampaignRow]]:
        """``(total matching, one page of rows)`` for a validated list query."""
        total, rows = self._list(
            "campaigns", account, query, _CAMPAIGN_COLUMNS, self._CAMPAIGN_SELECT
        )
        return total, [self._campaign(r) for r in rows]

    _CAMPAIGN_TEXT_SELECT = (
        "id, status, send_strategy, next_run_time, run_counter, create_time, update_time, "
        "spec, spec_index, extra, NULL"
    )
    # With the kept full rendering: the spec's text is read only for a row without one (SQLite
    # then leaves the spec's pages of the others unread).
    _CAMPAIGN_KEPT_SELECT = (
        "id, status, send_strategy, next_run_time, run_counter, create_time, update_time, "
        "CASE WHEN full_json IS NULL THEN spec ELSE '' END, "
        "CASE WHEN full_json IS NULL THEN spec_index END, "
        "CASE WHEN full_json IS NULL THEN extra ELSE '{}' END, full_json"
    )

    def list_campaign_texts(
        self, account: str, query: ListQuery, *, kept: bool = False
    ) -> tuple[int, list[CampaignText]]:
        """Like :meth:`list_campaigns`, but each ``spec`` stays the stored JSON text; with
        ``kept``, a row whose full rendering was kept (:meth:`save_campaign`) comes with it in
        ``full_json`` instead."""
        select = self._CAMPAIGN_KEPT_SELECT if kept else self._CAMPAIGN_TEXT_SELECT
        total, rows = self._list("campaigns", account, query, _CAMPAIGN_COLUMNS, select)
        extras: dict[str, Mapping[str, Any]] = {}  # most rows' extra is one of a few texts
        page = []
        for (
            cid,
            status,
            strategy,
            next_run,
            counter,
            created,
            updated,
            spec,
            index,
            extra_text,
            full,
        ) in rows:
            extra = extras.get(extra_text)
            if extra is None:
                extra = extras[extra_text] = json.loads(extra_text)
            page.append(
                CampaignText(
                    cid,
                    status,
                    strategy,
                    next_run,
                    counter,
                    created,
                    updated,
                    spec,
                    index,
                    extra,
                    full,
                )
            )
        return total, page

    def set_campaign_status(
        self,
        campaign_id: str,
        status: str,
        *,
        effective_status: str | None = None,
        undocumented: bool = False,
    ) -> None:
        """Test helper: set a campaign's status as the API would on its own (e.g. ``sent``).

        ``effective_status`` is what GET then returns as ``effective_status`` (default: the
        status itself), e.g. ``active`` + ``running``. A status outside
        :data:`CAMPAIGN_STATUSES` is refused with ``ValueError`` (a typo guard) unless
        ``undocumented=True``: then any word is stored, to play a server that answers with a
        status the docs do not name. Drops any queued transition and any pre-pause memory.
        ``KeyError`` if there is no such campaign.
        """
        if status not in CAMPAIGN_STATUSES and not undocumented:
            raise ValueError(f"unknown campaign status {status!r}")
        with self.transaction():
            found = self._conn.execute(
                "SELECT extra FROM campaigns WHERE id = ?", (int(campaign_id),)
            ).fetchone()
            if found is None:
                raise KeyError(f"no campaign {campaign_id}")
            extra = json.loads(found[0])
            for key in ("effective_status", "paused_from", "paused_effective"):
                extra.pop(key, None)
            if effective_status is not None:
                extra["effective_status"] = effective_status
            self._conn.execute(
                "UPDATE campaigns SET status = ?, extra = ?, pending = NULL, pending_at = NULL "
                "WHERE id = ?",
                (status, _dumps(extra), int(campaign_id)),
            )

    # -- push tasks --------------------------------------------------------------------------

    _PUSH_SELECT = "id, account, status, create_time, update_time, spec"

    @staticmethod
    def _push_task(row: Sequence[Any]) -> PushTaskRow:
        return PushTaskRow(
            id=row[0],
            account=row[1],
            status=row[2],
            create_time=row[3],
            update_time=row[4],
            spec=json.loads(row[5]),
        )

    def insert_push_task(self, row: PushTaskRow) -> int:
        """Store a new push task (``row.id`` is ignored) and return its id."""
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO push_tasks (account, name, status, create_time, update_time, spec) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    row.account,
                    str(row.spec.get("name", "")),
                    row.status,
                    row.create_time,
                    row.update_time,
                    _dumps(row.spec),
                ),
            )
            return int(cur.lastrowid or 0)

    def save_push_task(self, row: PushTaskRow) -> None:
        """Write every field of an existing push task back."""
        with self.transaction():
            self._conn.execute(
                "UPDATE push_tasks SET name = ?, status = ?, update_time = ?, spec = ? "
                "WHERE id = ?",
                (
                    str(row.spec.get("name", "")),
                    row.status,
                    row.update_time,
                    _dumps(row.spec),
                    row.id,
                ),
            )

    def get_push_task(self, account: str, task_id: int) -> PushTaskRow | None:
        """The push task with this id in this account, else ``None``."""
        if not 0 <= task_id <= SQLITE_INT_MAX:
            return None  # no row has it (a request may name any number)
        with self._lock:
            found = self._conn.execute(
                f"SELECT {self._PUSH_SELECT} FROM push_tasks WHERE id = ? AND account = ?",
                (task_id, account),
            ).fetchone()
        return self._push_task(found) if found else None

    def list_push_tasks(self, account: str, query: ListQuery) -> tuple[int, list[PushTaskRow]]:
        """``(total matching, one page of rows)`` for a validated list query."""
        total, rows = self._list(
            "push_tasks", account, query, _PUSH_TASK_COLUMNS, self._PUSH_SELECT
        )
        return total, [self._push_task(r) for r in rows]

    def set_push_task_status(self, task_id: str, status: int) -> None:
        """Test helper: set a push task's status as the API would (e.g. ``2`` = finished).

        ``KeyError`` if there is no such task.
        """
        with self.transaction():
            found = self._conn.execute(
                f"SELECT {self._PUSH_SELECT} FROM push_tasks WHERE id = ?", (int(task_id),)
            ).fetchone()
            if found is None:
                raise KeyError(f"no push task {task_id}")
            row = self._push_task(found)
            row.status = int(status)
            row.spec["status"] = int(status)
            self.save_push_task(row)

    # -- Falconyte email campaigns -------------------------------------------------------------

    _EMAIL_SELECT = "id, account, name, created_us, updated_us, enabled, send_id, settings"

    @staticmethod
    def _email(row: Sequence[Any]) -> EmailCampaignRow:
        return EmailCampaignRow(
            id=row[0],
            account=row[1],
            name=row[2],
            created_us=row[3],
            updated_us=row[4],
            enabled=bool(row[5]),
            send_id=row[6],
            settings=json.loads(row[7]),
        )

    def latest_email_created_us(self) -> int:
        """The newest ``created_us`` of any email campaign (0 when there are none)."""
        with self._lock:
            value = self._conn.execute("SELECT MAX(created_us) FROM email_campaigns").fetchone()[0]
        return int(value or 0)

    def insert_email_campaign(self, row: EmailCampaignRow) -> None:
        """Store a new email campaign (its uuid ``id`` is chosen by the caller)."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO email_campaigns (id, account, name, created_us, updated_us, enabled, "
                "send_id, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.id,
                    row.account,
                    row.name,
                    row.created_us,
                    row.updated_us,
                    int(row.enabled),
                    row.send_id,
                    _dumps(row.settings),
                ),
            )

    def save_email_campaign(self, row: EmailCampaignRow) -> None:
        """Write the mutable fields (``enabled``, ``updated_us``) of an email campaign back."""
        with self.transaction():
            self._conn.execute(
                "UPDATE email_campaigns SET enabled = ?, updated_us = ? WHERE id = ?",
                (int(row.enabled), row.updated_us, row.id),
            )

    def get_email_campaign(self, account: str, campaign_id: str) -> EmailCampaignRow | None:
        """The email campaign with this uuid in this account, else ``None``."""
        with self._lock:
            found = self._conn.execute(
                f"SELECT {self._EMAIL_SELECT} FROM email_campaigns WHERE id = ? AND account = ?",
                (campaign_id, account),
            ).fetchone()
        return self._email(found) if found else None

    def list_email_campaigns(
        self, account: str, *, offset: int, limit: int, search: str | None = None
    ) -> list[EmailCampaignRow]:
        """One page of the account's email campaigns, oldest first (``created_at``, then id)."""
        sql = f"SELECT {self._EMAIL_SELECT} FROM email_campaigns WHERE account = ?"
        params: list[Any] = [account]
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sql += " AND name LIKE ? ESCAPE '\\'"
            params.append(f"%{escaped}%")
        sql += " ORDER BY created_us, id LIMIT ? OFFSET ?"
        with self._lock:
            page = [min(limit, SQLITE_INT_MAX), min(offset, SQLITE_INT_MAX)]
            rows = self._conn.execute(sql, [*params, *page]).fetchall()
        return [self._email(r) for r in rows]


def _bindable(value: Any) -> Any:
    """``value`` as SQLite can bind it: an int beyond 64 bits (a filter may name any number) as
    an infinity of its sign, which every stored integer compares with as it would with it."""
    if isinstance(value, int) and not -SQLITE_INT_MAX - 1 <= value <= SQLITE_INT_MAX:
        return math.inf if value > 0 else -math.inf
    return value


def _filter_sql(column: str, flt: Filter) -> tuple[str, list[Any]]:
    """SQL text and parameters for one filter on an already whitelisted column expression."""
    op, values = flt.op, list(flt.values)
    simple = {"eq": "IS", "neq": "IS NOT", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
    if op in simple:
        return f"{column} {simple[op]} ?", values[:1]
    if op in ("in", "nin"):
        marks = ", ".join("?" for _ in values)
        return f"{column} {'NOT IN' if op == 'nin' else 'IN'} ({marks})", values
    if op == "is":
        return f"{column} IS NOT NULL", []
    if op == "isn":
        return f"{column} IS NULL", []
    ranges = {"r": (">", "<"), "rf": (">=", "<="), "rl": (">=", "<"), "rr": (">", "<=")}
    low, high = ranges[op]
    return f"({column} {low} ? AND {column} {high} ?)", values[:2]
