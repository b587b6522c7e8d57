"""The webhook outbox: one row per (message, endpoint), delivered in order per endpoint.

:class:`Outbox` is the contract the delivery task (``api/webhooks.py``) runs against.
``add`` is called inside a room job, so it never does I/O: it appends to memory, and a
durable outbox commits that batch in ``flush`` (the dispatcher's writer task; an API call
that produced events awaits it before answering "ok"). Two implementations:

- :class:`MemoryOutbox` for tests and servers without ``webhook_outbox`` (lost on restart);
- :class:`SqliteOutbox` — a file that survives a crash (SIGKILL included); rows committed
  before the crash are delivered after the restart, with the same ``webhook-id``.

When the durable store (``voiceroom/store``) lands, its outbox rows are written in the same
transaction as the journal entry that produced the event, behind this same Protocol.

Delivery states: ``pending`` (next attempt at ``next_at``), ``delivered``, ``dead`` (gave up
after ``retry_for`` seconds, or the endpoint was removed); ``redeliver`` puts a row back to
``pending`` now.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

KEEP_FINISHED = 10_000  # delivered / dead rows kept in memory for inspection and redelivery
KEEP_DELIVERED_SECONDS = 7 * 24 * 3600.0  # SQLite: delivered rows older than this go


class State(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to deliver to one endpoint. ``msg_id`` is the ``webhook-id``: the same
    for every attempt, so receivers deduplicate on it."""

    msg_id: str
    endpoint: str
    type: str
    body: str  # the exact JSON that is signed and sent
    created_at: float


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int  # outbox order: per endpoint, lower ids go first
    msg_id: str
    endpoint: str
    type: str
    body: str
    created_at: float
    state: State = State.PENDING
    attempts: int = 0
    next_at: float = 0.0
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: float | None = None


class Outbox(Protocol):
    def add(self, messages: Sequence[NewMessage]) -> None:
        """Queue messages (memory only: called inside room jobs)."""

    async def flush(self) -> None:
        """Make every message added so far durable."""

    async def head(self, endpoint: str) -> Delivery | None:
        """The endpoint's oldest pending delivery (its next one, in order)."""

    async def record(self, delivery: Delivery) -> None:
        """Store a delivery's new state after an attempt."""

    async def find(self, msg_id: str) -> list[Delivery]:
        """Every delivery of one message (one per endpoint)."""

    async def deliveries(
        self, *, state: State | None = None, endpoint: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Deliveries, newest first."""

    async def redeliver(self, msg_id: str, now: float) -> list[Delivery]:
        """Back to pending, attempts reset, due now; returns the rows changed."""

    async def saved_endpoints(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        """Endpoints added through the API: (name, url, secret, events)."""

    async def save_endpoint(self, name: str, url: str, secret: str, events: Sequence[str]) -> None:
        """Keep an API-added endpoint with the outbox, so its rows are delivered after a
        restart too."""

    async def delete_endpoint(self, name: str) -> None: ...

    async def close(self) -> None: ...


class MemoryOutbox:
    """In-process outbox (tests, and servers that accept losing webhooks on restart).
    Keeps every pending row and the last :data:`KEEP_FINISHED` delivered or dead ones."""

    def __init__(self) -> None:
        self._rows: dict[int, Delivery] = {}
        self._pending: dict[str, list[int]] = {}  # endpoint -> pending ids, ascending
        self._finished: deque[int] = deque()
        self._next = 1
        self._endpoints: dict[str, tuple[str, str, str, tuple[str, ...]]] = {}

    def add(self, messages: Sequence[NewMessage]) -> None:
        for m in messages:
            row = Delivery(self._next, m.msg_id, m.endpoint, m.type, m.body, m.created_at)
            self._rows[row.id] = replace(row, next_at=m.created_at)
            self._pending.setdefault(m.endpoint, []).append(row.id)
            self._next += 1

    async def flush(self) -> None:
        return None

    async def head(self, endpoint: str) -> Delivery | None:
        ids = self._pending.get(endpoint)
        return self._rows[ids[0]] if ids else None

    async def record(self, delivery: Delivery) -> None:
        self._rows[delivery.id] = delivery
        ids = self._pending.get(delivery.endpoint, [])
        at = bisect.bisect_left(ids, delivery.id)
        listed = at < len(ids) and ids[at] == delivery.id
        if delivery.state is State.PENDING and not listed:
            ids.insert(at, delivery.id)
            self._pending[delivery.endpoint] = ids
        elif delivery.state is not State.PENDING and listed:
            del ids[at]
            self._finished.append(delivery.id)
            while len(self._finished) > KEEP_FINISHED:
                old = self._finished.popleft()
                if self._rows.get(old, delivery).state is not State.PENDING:
                    self._rows.pop(old, None)

    async def find(self, msg_id: str) -> list[Delivery]:
        return [r for r in self._rows.values() if r.msg_id == msg_id]

    async def deliveries(
        self, *, state: State | None = None, endpoint: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        out = []
        for r in reversed(self._rows.values()):
            if (state is None or r.state is state) and (endpoint is None or r.endpoint == endpoint):
                out.append(r)
                if len(out) >= limit:
                    break
        return out

    async def redeliver(self, msg_id: str, now: float) -> list[Delivery]:
        changed = []
        for row in await self.find(msg_id):
            new = replace(row, state=State.PENDING, attempts=0, next_at=now)
            await self.record(new)
            changed.append(new)
        return changed

    async def saved_endpoints(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        return list(self._endpoints.values())

    async def save_endpoint(self, name: str, url: str, secret: str, events: Sequence[str]) -> None:
        self._endpoints[name] = (name, url, secret, tuple(events))

    async def delete_endpoint(self, name: str) -> None:
        self._endpoints.pop(name, None)

    async def close(self) -> None:
        return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    delivered_at REAL,
    UNIQUE (msg_id, endpoint)
);
CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (endpoint, state, id);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL
);
"""
_COLUMNS = (
    "id, msg_id, endpoint, type, body, created_at, state, attempts, next_at, "
    "last_status, last_error, delivered_at"
)


def _row(t: tuple[object, ...]) -> Delivery:
    (id_, msg_id, endpoint, type_, body, created, state, attempts, next_at, st, err, dlv) = t
    return Delivery(
        int(id_),  # type: ignore[call-overload]
        str(msg_id),
        str(endpoint),
        str(type_),
        str(body),
        float(created),  # type: ignore[arg-type]
        State(str(state)),
        int(attempts),  # type: ignore[call-overload]
        float(next_at),  # type: ignore[arg-type]
        None if st is None else int(st),  # type: ignore[call-overload]
        None if err is None else str(err),
        None if dlv is None else float(dlv),  # type: ignore[arg-type]
    )


class SqliteOutbox:
    """A durable outbox in one SQLite file (WAL, synchronous=FULL: a commit survives a
    crash). All SQL runs on one worker thread, never on the event loop."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._batch: list[NewMessage] = []
        self._prune_at = 0.0

    async def _run(self, sql: str, args: Sequence[object] = ()) -> list[tuple[object, ...]]:
        def work() -> list[tuple[object, ...]]:
            with self._lock:
                return list(self._db.execute(sql, args).fetchall())

        return await asyncio.to_thread(work)

    def add(self, messages: Sequence[NewMessage]) -> None:
        self._batch.extend(messages)

    async def flush(self) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return

        def work() -> None:
            with self._lock:
                self._db.execute("BEGIN")
                try:
                    self._db.executemany(
                        "INSERT OR IGNORE INTO webhook_outbox"
                        " (msg_id, endpoint, type, body, created_at, next_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        [
                            (m.msg_id, m.endpoint, m.type, m.body, m.created_at, m.created_at)
                            for m in batch
                        ],
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                if time.monotonic() >= self._prune_at:  # at most hourly: old receipts go
                    self._prune_at = time.monotonic() + 3600.0
                    self._db.execute(
                        "DELETE FROM webhook_outbox WHERE state = 'delivered' AND delivered_at < ?",
                        (time.time() - KEEP_DELIVERED_SECONDS,),
                    )

        try:
            await asyncio.to_thread(work)
        except BaseException:
            self._batch[:0] = batch  # keep them for the next flush
            raise

    async def head(self, endpoint: str) -> Delivery | None:
        rows = await self._run(
            f"SELECT {_COLUMNS} FROM webhook_outbox WHERE endpoint = ? AND state = 'pending'"
            " ORDER BY id LIMIT 1",
            (endpoint,),
        )
        return _row(rows[0]) if rows else None

    async def record(self, d: Delivery) -> None:
        await self._run(
            "UPDATE webhook_outbox SET state = ?, attempts = ?, next_at = ?, last_status = ?,"
            " last_error = ?, delivered_at = ? WHERE id = ?",
            (
                d.state.value,
                d.attempts,
                d.next_at,
                d.last_status,
                d.last_error,
                d.delivered_at,
                d.id,
            ),
        )

    async def find(self, msg_id: str) -> list[Delivery]:
        rows = await self._run(
            f"SELECT {_COLUMNS} FROM webhook_outbox WHERE msg_id = ? ORDER BY id", (msg_id,)
        )
        return [_row(r) for r in rows]

    async def deliveries(
        self, *, state: State | None = None, endpoint: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        rows = await self._run(
            f"SELECT {_COLUMNS} FROM webhook_outbox"
            " WHERE (? IS NULL OR state = ?) AND (? IS NULL OR endpoint = ?)"
            " ORDER BY id DESC LIMIT ?",
            (
                None if state is None else state.value,
                None if state is None else state.value,
                endpoint,
                endpoint,
                limit,
            ),
        )
        return [_row(r) for r in rows]

    async def redeliver(self, msg_id: str, now: float) -> list[Delivery]:
        await self._run(
            "UPDATE webhook_outbox SET state = 'pending', attempts = 0, next_at = ?"
            " WHERE msg_id = ?",
            (now, msg_id),
        )
        return await self.find(msg_id)

    async def saved_endpoints(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        rows = await self._run("SELECT name, url, secret, events FROM webhook_endpoints")
        return [(str(n), str(u), str(k), tuple(json.loads(str(e)))) for n, u, k, e in rows]

    async def save_endpoint(self, name: str, url: str, secret: str, events: Sequence[str]) -> None:
        await self._run(
            "INSERT INTO webhook_endpoints (name, url, secret, events) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET url = excluded.url, secret = excluded.secret,"
            " events = excluded.events",
            (name, url, secret, json.dumps(list(events))),
        )

    async def delete_endpoint(self, name: str) -> None:
        await self._run("DELETE FROM webhook_endpoints WHERE name = ?", (name,))

    async def close(self) -> None:
        def work() -> None:
            with self._lock:
                self._db.close()

        await asyncio.to_thread(work)


_check_memory: type[Outbox] = MemoryOutbox
_check_sqlite: type[Outbox] = SqliteOutbox
