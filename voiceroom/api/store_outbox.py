"""The webhook outbox inside the durable store (SQLite or PostgreSQL, migration 0002).

:class:`OutboxHook` is a store transaction hook (``Journal.add_tx_hook``): while the store
commits a batch of journal entries, it projects their events into shop events
(:func:`voiceroom.api.events.project`) and inserts one outbox row per matching endpoint
**in the same transaction**. An event is journaled with its webhook rows or not at all, so a
crash at any moment loses no webhook of anything the room committed, and sends none of
anything it did not.

:class:`StoreOutbox` is the :class:`~voiceroom.api.outbox.Outbox` the delivery tasks use over
the same tables; every query runs on the store's writer thread (``StoreWriter.call``), after
the writes queued before it. Facts from the API itself (``room.scheduled`` on creation) are
added through ``add``/``flush`` like the other outboxes.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from voiceroom.api.events import RoomFacts, Wire, project
from voiceroom.api.history import StoreCall
from voiceroom.api.outbox import Delivery, NewMessage, State
from voiceroom.api.webhooks import Endpoint, encode_body

_md = sa.MetaData()
Time: sa.Double[float] = sa.Double()
OUTBOX = sa.Table(
    "webhook_outbox",
    _md,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("msg_id", sa.Text, nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_at", Time, nullable=False),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", Time),
)
ENDPOINTS = sa.Table(
    "webhook_endpoints",
    _md,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("event_filters", sa.Text, nullable=False),
)


def _rows(messages: Sequence[NewMessage]) -> list[dict[str, Any]]:
    return [
        {
            "msg_id": m.msg_id,
            "endpoint": m.endpoint,
            "type": m.type,
            "body": m.body,
            "created_at": m.created_at,
            "state": State.PENDING.value,
            "attempts": 0,
            "next_at": m.created_at,
        }
        for m in messages
    ]


class OutboxHook:
    """Store transaction hook: journaled events → outbox rows, in the journal's
    transaction. Runs on the store's writer thread; ``endpoints`` is read from there (a
    snapshot of the current list), ``wake`` must be thread-safe."""

    def __init__(self, endpoints: Callable[[], list[Endpoint]], wake: Callable[[], None]) -> None:
        self.endpoints = endpoints
        self.wake = wake
        self._facts: dict[str, RoomFacts] = {}

    def __call__(self, conn: Any, writes: Sequence[Any]) -> None:
        if conn is None:  # the memory store: nothing durable to join
            return
        targets = self.endpoints()
        rooms = {w.room for w in writes if w.events}
        if not targets or not rooms:
            return
        # If the transaction fails, the writer retries the same writes: project them again
        # from the facts as they were.
        saved = {r: copy.deepcopy(self._facts.get(r)) for r in rooms}
        messages: list[NewMessage] = []
        try:
            for write in writes:
                for rec in write.events:
                    facts = self._facts.setdefault(rec.room, RoomFacts())
                    to_roles = rec.roles is None or bool(rec.roles)
                    wire = Wire(rec.type, rec.body, frozenset(rec.users), to_roles)
                    for event in project(facts, rec.room, rec.seq, wire, rec.at):
                        wanted = [e for e in targets if e.wants(event.type)]
                        if not wanted:
                            continue
                        msg_id = "msg_" + secrets.token_hex(12)
                        body = encode_body(event)
                        messages += [
                            NewMessage(msg_id, e.name, event.type, body, event.at) for e in wanted
                        ]
                    if rec.type == "room.phase" and rec.body.get("phase") == "ended":
                        self._facts.pop(rec.room, None)
            if messages:
                conn.execute(OUTBOX.insert(), _rows(messages))
        except BaseException:
            for room, before in saved.items():
                if before is None:
                    self._facts.pop(room, None)
                else:
                    self._facts[room] = before
            raise
        if messages:
            self.wake()


def _delivery(r: Any) -> Delivery:
    return Delivery(
        int(r.id),
        r.msg_id,
        r.endpoint,
        r.type,
        r.body,
        float(r.created_at),
        State(r.state),
        int(r.attempts),
        float(r.next_at),
        None if r.last_status is None else int(r.last_status),
        r.last_error,
        None if r.delivered_at is None else float(r.delivered_at),
    )


class StoreOutbox:
    """The outbox tables of the store, for the delivery tasks and the API."""

    def __init__(self, call: StoreCall) -> None:
        self._call = call
        self._batch: list[NewMessage] = []

    async def _q(self, fn: Callable[[Any], Any]) -> Any:
        def run(store: Any) -> Any:
            with store.engine.begin() as conn:
                return fn(conn)

        return await self._call(run)

    def add(self, messages: Sequence[NewMessage]) -> None:
        self._batch.extend(messages)

    async def flush(self) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        try:
            await self._q(lambda conn: conn.execute(OUTBOX.insert(), _rows(batch)))
        except BaseException:
            self._batch[:0] = batch
            raise

    async def head(self, endpoint: str) -> Delivery | None:
        q = (
            sa.select(OUTBOX)
            .where(OUTBOX.c.endpoint == endpoint, OUTBOX.c.state == State.PENDING.value)
            .order_by(OUTBOX.c.id)
            .limit(1)
        )
        row = await self._q(lambda conn: conn.execute(q).first())
        return None if row is None else _delivery(row)

    async def record(self, d: Delivery) -> None:
        q = (
            OUTBOX.update()
            .where(OUTBOX.c.id == d.id)
            .values(
                state=d.state.value,
                attempts=d.attempts,
                next_at=d.next_at,
                last_status=d.last_status,
                last_error=d.last_error,
                delivered_at=d.delivered_at,
            )
        )
        await self._q(lambda conn: conn.execute(q))

    async def find(self, msg_id: str) -> list[Delivery]:
        q = sa.select(OUTBOX).where(OUTBOX.c.msg_id == msg_id).order_by(OUTBOX.c.id)
        rows = await self._q(lambda conn: conn.execute(q).all())
        return [_delivery(r) for r in rows]

    async def deliveries(
        self, *, state: State | None = None, endpoint: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        q = sa.select(OUTBOX).order_by(OUTBOX.c.id.desc()).limit(limit)
        if state is not None:
            q = q.where(OUTBOX.c.state == state.value)
        if endpoint is not None:
            q = q.where(OUTBOX.c.endpoint == endpoint)
        rows = await self._q(lambda conn: conn.execute(q).all())
        return [_delivery(r) for r in rows]

    async def redeliver(self, msg_id: str, now: float) -> list[Delivery]:
        rows = await self.find(msg_id)
        for row in rows:
            await self.record(replace(row, state=State.PENDING, attempts=0, next_at=now))
        return await self.find(msg_id)

    async def saved_endpoints(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        rows = await self._q(lambda conn: conn.execute(sa.select(ENDPOINTS)).all())
        return [(r.name, r.url, r.secret, tuple(json.loads(r.event_filters))) for r in rows]

    async def save_endpoint(self, name: str, url: str, secret: str, events: Sequence[str]) -> None:
        values = {"url": url, "secret": secret, "event_filters": json.dumps(list(events))}

        def upsert(conn: Any) -> None:
            done = conn.execute(ENDPOINTS.update().where(ENDPOINTS.c.name == name).values(values))
            if done.rowcount == 0:
                conn.execute(ENDPOINTS.insert().values(name=name, **values))

        await self._q(upsert)

    async def delete_endpoint(self, name: str) -> None:
        await self._q(lambda conn: conn.execute(ENDPOINTS.delete().where(ENDPOINTS.c.name == name)))

    async def close(self) -> None:
        return None
