"""One contract for both outboxes (memory and SQLite): per-endpoint order, states,
redelivery; and the SQLite one keeps committed rows across a reopen (a restart)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from voiceroom.api.outbox import MemoryOutbox, NewMessage, Outbox, SqliteOutbox, State


@pytest.fixture(params=["memory", "sqlite"])
async def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Outbox]:
    box: Outbox = (
        MemoryOutbox() if request.param == "memory" else SqliteOutbox(str(tmp_path / "o.db"))
    )
    yield box
    await box.close()


def msg(i: int, endpoint: str = "a") -> NewMessage:
    return NewMessage(f"msg_{i:02x}", endpoint, "room.started", f'{{"n":{i}}}', float(i))


async def test_order_per_endpoint_and_states(outbox: Outbox) -> None:
    outbox.add([msg(1), msg(2, "b"), msg(3)])
    await outbox.flush()
    head = await outbox.head("a")
    assert head is not None and head.msg_id == "msg_01" and head.state is State.PENDING
    # A failed attempt keeps it at the head; delivering moves on in order.
    await outbox.record(replace(head, attempts=1, next_at=99.0, last_error="HTTP 503"))
    again = await outbox.head("a")
    assert again is not None and again.msg_id == "msg_01" and again.attempts == 1
    await outbox.record(replace(again, state=State.DELIVERED, delivered_at=5.0))
    nxt = await outbox.head("a")
    assert nxt is not None and nxt.msg_id == "msg_03"
    await outbox.record(replace(nxt, state=State.DEAD))
    assert await outbox.head("a") is None
    b = await outbox.head("b")
    assert b is not None and b.msg_id == "msg_02"
    dead = await outbox.deliveries(state=State.DEAD)
    assert [d.msg_id for d in dead] == ["msg_03"]
    assert [d.msg_id for d in await outbox.deliveries(endpoint="a")] == ["msg_03", "msg_01"]
    # Redelivery by id: pending again, attempts reset, back at the head of its endpoint.
    (row,) = await outbox.redeliver("msg_01", now=7.0)
    assert row.state is State.PENDING and row.attempts == 0 and row.next_at == 7.0
    head = await outbox.head("a")
    assert head is not None and head.msg_id == "msg_01"
    assert await outbox.redeliver("msg_ff", now=1.0) == []


async def test_sqlite_keeps_committed_rows_across_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "o.db")
    first = SqliteOutbox(path)
    first.add([msg(1), msg(2)])
    await first.flush()
    first.add([msg(3)])  # never flushed: the "crash" loses it
    head = await first.head("a")
    assert head is not None
    await first.record(replace(head, state=State.DELIVERED, delivered_at=time.time()))
    first._db.close()  # no close(): as if killed
    second = SqliteOutbox(path)
    try:
        head = await second.head("a")
        assert head is not None and head.msg_id == "msg_02"
        assert len(await second.deliveries()) == 2
        second.add([msg(2)])  # the same (msg_id, endpoint) again is ignored
        await second.flush()
        assert len(await second.deliveries()) == 2
        # Delivered receipts older than a week are pruned (at most hourly, on a flush).
        old = (await second.find("msg_01"))[0]
        await second.record(replace(old, delivered_at=time.time() - 8 * 24 * 3600))
        second._prune_at = 0.0
        second.add([msg(4)])
        await second.flush()
        assert await second.find("msg_01") == []
    finally:
        await second.close()


async def test_api_endpoints_are_kept_with_the_outbox(outbox: Outbox) -> None:
    await outbox.save_endpoint("shop", "http://h/x", "whsec_AAAA", ["room.*"])
    await outbox.save_endpoint("shop", "http://h/y", "whsec_AAAA", ["*"])
    await outbox.save_endpoint("crm", "http://c/", "whsec_BBBB", ["chat.message"])
    saved = sorted(await outbox.saved_endpoints())
    assert saved == [
        ("crm", "http://c/", "whsec_BBBB", ("chat.message",)),
        ("shop", "http://h/y", "whsec_AAAA", ("*",)),
    ]
    await outbox.delete_endpoint("crm")
    assert [e[0] for e in await outbox.saved_endpoints()] == ["shop"]
