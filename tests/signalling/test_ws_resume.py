"""Resume, grace expiry (no ghost seats), and newest-connection-wins."""

from __future__ import annotations

import asyncio

from voiceroom.room.model import RoomConfig

from .harness import Harness, ServerFactory


async def test_resume_keeps_the_seat_and_replays_missed_events(h: Harness) -> None:
    host = await h.join("host", "host")
    ann = await h.join("ann")
    await ann.ok("seat.take", {"seat": 3})
    last = ann.last_seq
    await ann.drop()
    await host.next("member.presence", user="ann", connected=False)
    await host.ok("chat.send", {"text": "while you were away"})
    await host.ok("seat.lock", {"seat": 5})

    again = await h.join("ann", resume=last)
    body = again.welcome["body"]
    assert body["resumed"] is True and body["snapshot"] is None and body["replayed"] >= 2
    chat = await again.next("chat.message")
    assert chat["body"]["message"]["text"] == "while you were away"
    assert chat["seq"] > last
    await again.next("seat.updated", reason="locked")
    assert h.room().room.seat_of("ann") == 3
    await host.next("member.presence", user="ann", connected=True)
    await again.ok("mic.mute")  # still seated: the seat is usable at once


async def test_resume_from_too_old_a_seq_gets_a_snapshot(make_server: ServerFactory) -> None:
    h = await make_server(replay_buffer=16)
    host = await h.join("host", "host")
    ann = await h.join("ann")
    await ann.ok("seat.take", {"seat": 2})
    await ann.drop()
    for i in range(20):
        await host.ok("chat.send", {"text": f"m{i}"})
    again = await h.join("ann", resume=1)
    body = again.welcome["body"]
    assert body["resumed"] is True and body["replayed"] == 0
    assert body["snapshot"]["your_seat"] == 2
    assert body["snapshot"]["chat"][-1]["text"] == "m19"
    assert again.welcome["seq"] == h.room().seq


async def test_grace_expiry_frees_the_seat_and_tells_the_room(h: Harness) -> None:
    host = await h.join("host", "host")
    ann = await h.join("ann")
    await ann.ok("seat.take", {"seat": 4})
    await ann.drop()
    left = await host.next("member.left", user="ann", wait=3.0)
    assert left["body"]["reason"] == "timeout"
    seat = await host.next(
        "seat.updated", where=lambda f: f["body"]["seat"]["index"] == 4, reason="left"
    )
    assert seat["body"]["seat"]["status"] == "free"
    assert "ann" not in h.room().room.members
    # Coming back after the grace is a fresh join: no seat.
    again = await h.join("ann", resume=ann.last_seq)
    assert again.welcome["body"]["resumed"] is False
    assert again.welcome["body"]["snapshot"]["your_seat"] is None


async def test_queue_place_survives_a_resume(make_server: ServerFactory) -> None:
    h = await make_server(room=RoomConfig(reconnect_grace=5.0))
    host = await h.join("host", "host")
    await host.ok("room.start_show")
    a, b = await h.join("a"), await h.join("b")
    await a.ok("queue.join")
    await b.ok("queue.join")
    await a.drop()
    again = await h.join("a", resume=0)  # 0 is covered: replay everything
    assert again.welcome["body"]["resumed"] is True
    snap = (await again.ok("sync"))["body"]["snapshot"]
    assert snap["your_queue_position"] == 1


async def test_newest_connection_wins_without_a_disconnect(h: Harness) -> None:
    host = await h.join("host", "host")
    first = await h.join("ann")
    await first.ok("seat.take", {"seat": 1})
    second = await h.join("ann")
    code, reason = await first.closed()
    assert code == 4001 and "replaced" in (reason or "")
    assert second.welcome["body"]["resumed"] is True
    assert second.welcome["body"]["snapshot"]["your_seat"] == 1
    await second.ok("chat.send", {"text": "me again"})
    await host.next("chat.message", where=lambda f: f["body"]["message"]["text"] == "me again")
    await asyncio.sleep(0.1)
    assert not host.saw("member.presence", user="ann", connected=False)
    assert h.room().room.members["ann"].connected
