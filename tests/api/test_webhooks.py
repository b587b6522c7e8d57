"""Webhooks end to end: a scripted show, a real HTTP receiver verifying Standard Webhooks
signatures, per-endpoint order, filters, failures (5xx, timeout, refused) with retries and
no loss, dead letters, redelivery by id."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from voiceroom.api.events import ShopEvent
from voiceroom.api.webhooks import Endpoint, backoff

from .harness import HOOK_SECRET, Api, ApiFactory, Receiver
from .test_rooms import RIYADH, join


def capture(api: Api) -> list[ShopEvent]:
    """Everything the server's event feed produced (to compare with what arrived)."""
    seen: list[ShopEvent] = []

    def sub(events: Sequence[ShopEvent]) -> None:
        seen.extend(events)

    api.server.api.feed.subscribers.append(sub)
    return seen


async def add_endpoint(api: Api, name: str, url: str, events: list[str]) -> dict[str, Any]:
    body = {"name": name, "url": url, "secret": HOOK_SECRET, "events": events}
    return await api.ok("POST", "/webhooks/endpoints", json=body)


async def scripted_show(api: Api, room: str = "show-1") -> None:
    await api.ok("POST", "/rooms", json={"id": room, "title": "Show", "market": RIYADH})
    host = await join(api, room, "h1", role="host")
    agent = await join(api, room, "a1", role="agent")
    s1 = await join(api, room, "s1", tier="vip")
    await s1.ok("chat.send", {"text": "مرحبا"})
    await api.ok("POST", f"/rooms/{room}/start")
    await s1.ok("queue.join")
    await host.ok("queue.promote", {"user": "s1"})
    await s1.ok("consult.request", {"note": "size?"})
    await agent.ok("consult.accept", {"user": "s1"})
    started = await s1.next("consult.started")
    await asyncio.sleep(0.05)
    await agent.ok("consult.end", {"id": started["body"]["consultation"]["id"]})
    await s1.ok("seat.leave")
    await s1.ok("leave")
    await api.ok("POST", f"/rooms/{room}/end")
    for c in (host, agent):
        await c.closed()


SHOW_TYPES = [
    "room.scheduled",
    "participant.joined",  # h1
    "seat.taken",  # h1 on seat 0
    "participant.joined",  # a1
    "participant.joined",  # s1
    "chat.message",
    "room.started",
    "chat.message",  # system: show_started
    "hand.raised",
    "seat.taken",  # promoted
    "consultation.requested",
    "consultation.started",
    "consultation.ended",
    "seat.left",
    "participant.left",
    "room.ended",
]


async def test_scripted_show_arrives_signed_in_order_with_filters(
    api: Api, receiver: Receiver
) -> None:
    other = Receiver()
    await other.start()
    try:
        seen = capture(api)
        await add_endpoint(api, "all", receiver.url, ["*", "chat.message"])
        await add_endpoint(api, "rooms", other.url, ["room.*", "consultation.ended"])
        await scripted_show(api)
        want = [e for e in seen]
        await receiver.wait_for(lambda r: len(r.received) >= len(want))
        await other.wait_for(lambda r: len(r.received) >= 4)
        assert receiver.types() == [e.type for e in want] == SHOW_TYPES
        assert receiver.bad_signatures == 0 and other.bad_signatures == 0
        assert other.types() == [
            "room.scheduled",
            "room.started",
            "consultation.ended",
            "room.ended",
        ]
        # Payloads are the facts, with the room, and ids are unique per message.
        ended = next(
            r.payload for r in receiver.received if r.payload["type"] == "consultation.ended"
        )
        data = ended["data"]
        assert data["room"] == "show-1" and data["agent"] == "a1" and data["shopper"] == "s1"
        assert data["duration"] >= 0.04 and data["reason"] == "ended"
        ids = [r.headers["webhook-id"] for r in receiver.received]
        assert len(set(ids)) == len(ids)
        # The same message reaches both endpoints under one webhook-id.
        started = {
            r.headers["webhook-id"] for r in other.received if r.payload["type"] == "room.started"
        }
        assert started <= set(ids)
        joined = next(
            r.payload for r in receiver.received if r.payload["type"] == "participant.joined"
        )
        assert joined["data"]["user"] == "h1" and joined["timestamp"].endswith("Z")
        # Deliveries are visible in the API.
        page = await api.ok("GET", "/webhooks/deliveries", endpoint="rooms", state="delivered")
        assert len(page["deliveries"]) == 4 and page["deliveries"][0]["attempts"] == 1
    finally:
        await other.stop()


async def test_receiver_failing_then_recovering_loses_nothing(api: Api, receiver: Receiver) -> None:
    seen = capture(api)
    await add_endpoint(api, "shop", receiver.url, ["*"])
    receiver.mode = "fail"  # 503
    await scripted_show(api)
    await asyncio.sleep(0.5)
    failed_503 = receiver.attempts
    assert failed_503 >= 2 and receiver.received == []
    receiver.mode = "slow"  # longer than the sender's 1 s timeout
    await asyncio.sleep(1.5)
    port = receiver.port
    await receiver.stop()  # refused connections for a while
    await asyncio.sleep(0.5)
    dead_rows = await api.ok("GET", "/webhooks/deliveries", endpoint="shop", state="pending")
    head = min(dead_rows["deliveries"], key=lambda d: d["id"])
    assert head["attempts"] >= 3 and head["last_error"]
    revived = Receiver()
    await revived.start(port)
    try:
        want = [e.type for e in seen if e.type != "chat.message"]
        await revived.wait_for(lambda r: len(r.received) >= len(want), within=20)
        assert revived.types() == want
        assert revived.bad_signatures == 0
        ids = [r.headers["webhook-id"] for r in revived.received]
        assert len(set(ids)) == len(ids)
        assert head["msg_id"] == ids[0]  # the head kept its id through every retry
        page = await api.ok("GET", "/webhooks/deliveries", endpoint="shop", state="pending")
        assert page["deliveries"] == []
    finally:
        await revived.stop()


async def test_dead_letter_then_redeliver_by_id(make_api: ApiFactory, receiver: Receiver) -> None:
    api = await make_api(webhook_retry_for=0.3)
    await add_endpoint(api, "shop", receiver.url, ["room.*"])
    receiver.mode = "fail"
    await api.ok("POST", "/rooms", json={"id": "r-dead", "title": "t", "market": RIYADH})
    for _ in range(100):
        dead = await api.ok("GET", "/webhooks/deliveries", state="dead")
        if dead["deliveries"]:
            break
        await asyncio.sleep(0.05)
    (row,) = dead["deliveries"]
    assert row["type"] == "room.scheduled" and row["last_status"] == 503
    # Dead letters do not block the endpoint: the next message is tried.
    receiver.mode = "ok"
    await api.ok("POST", "/rooms/r-dead/start")
    await receiver.wait_for(lambda r: r.types() == ["room.started"])
    again = await api.ok("POST", f"/webhooks/messages/{row['msg_id']}/redeliver")
    assert again["deliveries"][0]["state"] == "pending"
    await receiver.wait_for(lambda r: len(r.received) == 2)
    assert receiver.types() == ["room.started", "room.scheduled"]
    assert receiver.received[1].headers["webhook-id"] == row["msg_id"]
    got = await api.ok("GET", f"/webhooks/messages/{row['msg_id']}")
    assert got["deliveries"][0]["state"] == "delivered"
    missing = await api.call("POST", "/webhooks/messages/msg_ffff/redeliver")
    assert missing.status_code == 404
    metrics = (await api.http.get(f"http://127.0.0.1:{api.server.port}/metrics")).text
    for outcome in ("failed", "dead", "delivered"):
        assert f'voiceroom_webhook_attempts_total{{outcome="{outcome}"}}' in metrics
    assert "voiceroom_webhook_messages_total 2.0" in metrics


async def test_a_new_url_for_a_failing_endpoint_is_tried_at_once(
    make_api: ApiFactory, receiver: Receiver
) -> None:
    """Fixing a broken endpoint's URL (the same name posted again) retries what waits for
    it now, not after the backoff the broken address had earned."""
    api = await make_api(webhook_backoff=1.0)
    broken = Receiver()
    await broken.start()
    broken.mode = "fail"
    try:
        await add_endpoint(api, "shop", broken.url, ["room.*"])
        await api.ok("POST", "/rooms", json={"id": "r-fix", "title": "t", "market": RIYADH})
        head: dict[str, Any] = {}
        for _ in range(300):
            page = await api.ok("GET", "/webhooks/deliveries", endpoint="shop", state="pending")
            rows = page["deliveries"]
            if rows and rows[0]["attempts"] >= 3 and rows[0]["next_at"] - time.time() > 1.0:
                head = rows[0]
                break
            await asyncio.sleep(0.05)
        assert head, "the broken endpoint never backed off"
        await add_endpoint(api, "shop", receiver.url, ["room.*"])
        await receiver.wait_for(lambda r: r.types() == ["room.scheduled"], within=5)
        arrived = time.time()
        assert arrived < head["next_at"], (arrived, head)  # before the old backoff ran out
        assert receiver.received[0].headers["webhook-id"] == head["msg_id"]
    finally:
        await broken.stop()


async def test_endpoints_from_config_and_api(make_api: ApiFactory, receiver: Receiver) -> None:
    cfg = {"cfg": {"url": receiver.url, "secret": HOOK_SECRET, "events": ["room.started"]}}
    api = await make_api(webhooks=cfg)
    listed = await api.ok("GET", "/webhooks/endpoints")
    assert listed["endpoints"] == [{"name": "cfg", "url": receiver.url, "events": ["room.started"]}]
    created = await api.ok(
        "POST", "/webhooks/endpoints", json={"name": "gen", "url": "http://127.0.0.1:9/x"}
    )
    assert created["secret"].startswith("whsec_") and created["events"] == ["*"]
    bad = await api.call(
        "POST", "/webhooks/endpoints", json={"name": "b", "url": "http://x/", "events": ["nope"]}
    )
    assert bad.status_code == 400
    for url in ("https://\uda93]P", "http://[::1", "http:///nohost", "https://exa mple.com/"):
        raw = json.dumps({"name": "b", "url": url})  # \u-escaped, as schemathesis sent it
        headers = {**api.auth(), "content-type": "application/json"}
        r = await api.http.post("/api/v1/webhooks/endpoints", content=raw, headers=headers)
        assert r.status_code in (400, 422), (url, r.status_code, r.text)
    await api.ok("DELETE", "/webhooks/endpoints/gen")
    assert (await api.call("DELETE", "/webhooks/endpoints/gen")).status_code == 404
    await api.ok("POST", "/rooms", json={"id": "r-cfg", "title": "t", "market": RIYADH})
    await api.ok("POST", "/rooms/r-cfg/start")
    await receiver.wait_for(lambda r: r.types() == ["room.started"])


@pytest.mark.parametrize(
    ("events", "wanted", "unwanted"),
    [
        (["*"], ["room.started", "seat.left"], ["chat.message"]),
        (["room.*"], ["room.ended"], ["seat.taken", "chat.message"]),
        (["chat.*"], [], ["chat.message"]),
        (["chat.message"], ["chat.message"], ["room.started"]),
    ],
)
def test_filters(events: list[str], wanted: list[str], unwanted: list[str]) -> None:
    e = Endpoint("x", "http://h/", HOOK_SECRET, tuple(events))
    assert all(e.wants(t) for t in wanted) and not any(e.wants(t) for t in unwanted)


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    import random

    rng = random.Random(1)
    waits = [backoff(n, 1.0, rng) for n in range(1, 30)]
    assert 0.5 <= waits[0] <= 1.0 and 4.0 <= waits[3] <= 8.0
    assert max(waits) <= 3600.0 and waits[-1] >= 1800.0
    assert len({round(w, 6) for w in waits[:10]}) == 10


def test_body_is_compact_json() -> None:
    from voiceroom.api.webhooks import encode_body

    body = encode_body(ShopEvent("room.started", "r", 0.0, {"room": "r"}))
    assert json.loads(body) == {
        "type": "room.started",
        "timestamp": "1970-01-01T00:00:00Z",
        "data": {"room": "r"},
    }


async def test_a_hanging_receiver_never_blocks_the_room(make_api: ApiFactory) -> None:
    """The receiver takes the first message and never answers (within the 5 s the sender
    waits): the room keeps answering its members meanwhile."""
    hang = Receiver(mode="slow")
    await hang.start()
    try:
        api = await make_api(webhook_timeout=5.0)
        await add_endpoint(api, "shop", hang.url, ["*", "chat.message"])
        await api.ok("POST", "/rooms", json={"id": "busy", "title": "t", "market": RIYADH})
        s1 = await join(api, "busy", "s1")
        for i in range(20):
            await s1.ok("chat.send", {"text": f"still here {i}"})
        page = await api.ok("GET", "/rooms/busy/chat", limit=100)
        assert len(page["messages"]) == 20
        # All of that happened while the first delivery was still hanging.
        assert hang.attempts == 1
        delivered = await api.ok("GET", "/webhooks/deliveries", state="delivered")
        assert delivered["deliveries"] == []
        await s1.close()
    finally:
        await hang.stop()


async def test_restart_keeps_api_endpoints_and_pending_messages(
    make_api: ApiFactory, receiver: Receiver, tmp_path: Path
) -> None:
    outbox = str(tmp_path / "outbox.sqlite")
    first = await make_api(webhook_outbox=outbox)
    await add_endpoint(first, "shop", receiver.url, ["room.*"])
    receiver.mode = "fail"
    await first.ok("POST", "/rooms", json={"id": "r-keep", "title": "t", "market": RIYADH})
    await first.ok("POST", "/rooms/r-keep/start")
    await receiver.wait_for(lambda r: r.attempts >= 2)
    await first.http.aclose()
    await first.server.shutdown()
    receiver.mode = "ok"
    second = await make_api(webhook_outbox=outbox)
    listed = await second.ok("GET", "/webhooks/endpoints")
    assert [e["name"] for e in listed["endpoints"]] == ["shop"]
    await receiver.wait_for(lambda r: len(r.received) == 2)
    assert receiver.types() == ["room.scheduled", "room.started"]


async def test_outbox_in_the_store_same_show_same_order(
    make_api: ApiFactory, receiver: Receiver, tmp_path: Path
) -> None:
    """With an SQL store, rows are written by the store's transaction hook (in the journal's
    transaction): the same show arrives the same way, and the rows are in the store."""
    import sqlite3

    db = tmp_path / "voiceroom.db"
    api = await make_api(store=f"sqlite:///{db}")
    assert api.server.api.webhooks.produce_journaled is False
    await add_endpoint(api, "all", receiver.url, ["*", "chat.message"])
    await scripted_show(api)
    await receiver.wait_for(lambda r: len(r.received) >= len(SHOW_TYPES))
    assert receiver.types() == SHOW_TYPES and receiver.bad_signatures == 0
    with sqlite3.connect(db) as conn:
        stored = [m for (m,) in conn.execute("SELECT msg_id FROM webhook_outbox ORDER BY id")]
        names = [n for (n,) in conn.execute("SELECT name FROM webhook_endpoints")]
    assert stored == [r.headers["webhook-id"] for r in receiver.received]
    assert names == ["all"]
