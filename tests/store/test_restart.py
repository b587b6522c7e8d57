"""A real server on a real store, restarted in-process: rooms, phases, seats, queue, chat,
consultations and ended rooms survive; resuming clients keep their seats (SQLite and
PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.signalling.harness import SECRET, Harness
from tests.signalling.vr_client import Client
from voiceroom.config import Config
from voiceroom.protocol import CloseCode
from voiceroom.room.model import RoomConfig
from voiceroom.server import Server


def config(url: str, tmp_path: Path, **kw: Any) -> Config:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "secret": SECRET,
        "web_root": None,
        "tick_interval": 0.05,
        "media": False,
        "shutdown_timeout": 2.0,
        "store": url,
        "data_dir": tmp_path,
        "snapshot_every": 7,  # small: recovery goes through a snapshot and a journal tail
        "room": RoomConfig(reconnect_grace=5.0, invite_ttl=30.0),
    }
    settings.update(kw)
    return Config(**settings)


async def start(cfg: Config) -> Harness:
    server = Server(cfg)
    await server.start()
    return Harness(server)


async def test_graceful_restart_keeps_rooms_seats_queue_chat_and_calls(
    sql_url: str, tmp_path: Path
) -> None:
    cfg = config(sql_url, tmp_path)
    h = await start(cfg)
    host = await h.join("host", "host")
    ann, bob, carl = await h.join("ann"), await h.join("bob", tier="vip"), await h.join("carl")
    sara = await h.join("sara", "agent")
    warm = await h.join("host", "host", room="warm")  # a second room, still in warm-up
    await warm.ok("chat.send", {"text": "doors open soon"})
    await host.ok("room.start_show")
    await ann.ok("queue.join")
    await host.ok("queue.promote", {"user": "ann"})
    await bob.ok("queue.join")
    await carl.ok("consult.request", {"note": "sizes?"})
    await sara.ok("consult.accept", {"user": None})
    acked = []
    for i in range(12):
        await ann.ok("chat.send", {"text": f"ann {i} مرحبا"})
        acked.append(f"ann {i} مرحبا")
    live = h.room().venue
    seat = live.room.seat_of("ann")
    assert seat is not None
    last = ann.last_seq
    await h.server.shutdown(CloseCode.SERVICE_RESTART)
    assert (await ann.closed())[0] == 1012

    h2 = await start(cfg)
    try:
        room = h2.room().venue.room
        assert room.phase.value == "show" and h2.room("warm").room.phase.value == "warmup"
        # Everyone is held for the grace period, disconnected since the restart.
        assert {u for u, m in room.members.items() if not m.connected} == {
            "host",
            "ann",
            "bob",
            "carl",
            "sara",
        }
        back = await h2.join("ann", resume=last)
        assert back.welcome["body"]["resumed"] is True
        snap = (await back.ok("sync"))["body"]["snapshot"]
        assert snap["your_seat"] == seat and snap["phase"] == "show"
        bob2 = await h2.join("bob", resume=0)
        assert (await bob2.ok("sync"))["body"]["snapshot"]["your_queue_position"] == 1
        sara2 = await h2.join("sara", "agent", resume=0)
        snap = (await sara2.ok("sync"))["body"]["snapshot"]
        assert [k["shopper"] for k in snap["consultations"]] == ["carl"]
        chat = await h2.server.writer.call(lambda s: s.chat("r", limit=100))
        texts = [m.text for m in reversed(chat) if m.kind == "user"]
        assert texts == acked
        # The room keeps numbering where it stopped: no seq is reused after a restart.
        assert (await back.ok("chat.send", {"text": "after"}))["body"]["seq"] > last
        # snapshot_every=7: recovery started from a snapshot and replayed the tail.
        snap = await h2.server.writer.call(lambda s: s.latest_snapshot("r"))
        assert snap is not None and snap.n >= 7
        consults = await h2.server.writer.call(lambda s: s.consultations("r"))
        assert [(k.staff, k.shopper, k.outcome) for k in consults] == [("sara", "carl", None)]
    finally:
        await h2.server.shutdown()


async def test_an_ended_room_answers_410_after_a_restart(sql_url: str, tmp_path: Path) -> None:
    cfg = config(sql_url, tmp_path)
    h = await start(cfg)
    host = await h.join("host", "host", room="gone")
    await host.ok("room.end")
    await host.closed()
    await h.server.shutdown()
    h2 = await start(cfg)
    try:
        for role in ("listener", "host"):
            with pytest.raises(InvalidStatus) as info:
                async with connect(f"{h2.base}/ws?token={h2.token('x', role, room='gone')}"):
                    pass
            assert info.value.response.status_code == 410
        rec = await h2.server.writer.call(lambda s: s.room("gone"))
        assert rec is not None and rec.phase == "ended" and rec.ended_at is not None
    finally:
        await h2.server.shutdown()


async def test_a_room_that_closed_empty_comes_back_from_the_store(
    sql_url: str, tmp_path: Path
) -> None:
    cfg = config(sql_url, tmp_path, room=RoomConfig(reconnect_grace=0.3))
    h = await start(cfg)
    host = await h.join("host", "host")
    await host.ok("room.start_show")
    await host.ok("chat.send", {"text": "remember me"})
    await host.ok("leave")
    for _ in range(100):
        if h.server.registry.get("r") is None:
            break
        await asyncio.sleep(0.05)
    assert h.server.registry.get("r") is None  # closed when empty
    # Reopened by its host: the same room (phase, chat), not a fresh one.
    again = await h.join("host", "host")
    snap = again.welcome["body"]["snapshot"]
    assert snap["phase"] == "show"
    assert "remember me" in [m["text"] for m in snap["chat"]]
    await h.server.shutdown()
    # Not hosted when the server stopped? It was (reopened): it comes back at start.
    h2 = await start(cfg)
    try:
        assert h2.server.registry.get("r") is not None
    finally:
        await h2.server.shutdown()


async def test_listeners_cannot_open_a_stored_room(sql_url: str, tmp_path: Path) -> None:
    cfg = config(sql_url, tmp_path, room=RoomConfig(reconnect_grace=0.3))
    h = await start(cfg)
    host = await h.join("host", "host")
    await host.ok("leave")
    for _ in range(100):
        if h.server.registry.get("r") is None:
            break
        await asyncio.sleep(0.05)
    try:
        with pytest.raises(InvalidStatus) as info:
            await Client.open(f"{h.base}/ws?token={h.token('ann')}")
        assert info.value.response.status_code == 404
    finally:
        await h.server.shutdown()


async def test_music_library_names_are_journaled_for_replay(sql_url: str, tmp_path: Path) -> None:
    """music.play is checked against the library's names (room data): replay from the
    first entry (no snapshot yet) must see the names the command saw."""
    music = tmp_path / "music"
    music.mkdir()
    (music / "intro.ogg").write_bytes(b"OggS")
    cfg = config(sql_url, tmp_path, music_dir=music, snapshot_every=10_000)
    h = await start(cfg)
    host = await h.join("host", "host")
    await host.ok("music.play", {"track": "intro.ogg"})
    await h.server.shutdown()
    (music / "intro.ogg").unlink()  # the library changed while the server was down
    h2 = await start(cfg)
    try:
        room = h2.room().venue.room
        assert room.music is not None and room.music.track == "intro.ogg"
        assert room.tracks == ()  # the library as it is now, for the next commands
        entries = await h2.server.writer.call(lambda s: s.entries("r"))
        kinds = [e.kind.value for e in entries]
        assert kinds[0] == "tracks" and kinds.count("tracks") == 2
    finally:
        await h2.server.shutdown()


async def test_server_commands_are_journaled_and_acknowledged_after_commit(
    sql_url: str, tmp_path: Path
) -> None:
    from voiceroom.room import commands as c
    from voiceroom.room.errors import RuleError

    cfg = config(sql_url, tmp_path)
    h = await start(cfg)
    host = await h.join("host", "host")
    seq = await h.room().server_command(c.StartShow())
    await host.next("room.phase", phase="show")
    # Acknowledged means committed: the journal has it already.
    entries = await h.server.writer.call(lambda s: s.entries("r"))
    assert entries[-1].kind.value == "server" and entries[-1].type == "room.start_show"
    with pytest.raises(RuleError):
        await h.room().server_command(c.RaiseHand())  # needs a member: refused, unchanged
    await h.server.shutdown()
    h2 = await start(cfg)
    try:
        assert h2.room().room.phase.value == "show" and h2.room().seq >= seq
    finally:
        await h2.server.shutdown()


async def test_chat_retention_prunes_old_chat_at_start(sql_url: str, tmp_path: Path) -> None:
    h = await start(config(sql_url, tmp_path))
    host = await h.join("host", "host")
    await host.ok("chat.send", {"text": "old news"})
    await h.server.shutdown()
    await asyncio.sleep(0.2)
    h2 = await start(config(sql_url, tmp_path, chat_retention_days=1e-6))  # ~0.09 s
    try:
        for _ in range(100):
            chat = await h2.server.writer.call(lambda s: s.chat("r"))
            if not chat:
                break
            await asyncio.sleep(0.05)
        assert chat == []
        # The room itself is intact: retention is about chat history, not state.
        assert h2.room().room.members["host"].connected is False
    finally:
        await h2.server.shutdown()


async def test_a_room_that_cannot_be_rebuilt_does_not_stop_the_server(
    sql_url: str, tmp_path: Path
) -> None:

    from voiceroom.store.schema import journal

    cfg = config(sql_url, tmp_path, snapshot_every=10_000)
    h = await start(cfg)
    for room in ("bad", "good"):
        host = await h.join("host", "host", room=room)
        await host.ok("chat.send", {"text": "hi"})
    await h.server.shutdown()
    # Damage one room's journal: entry 2 goes missing.
    damaged = Server(cfg).store
    with damaged.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(journal.delete().where(journal.c.room == "bad", journal.c.n == 2))
    damaged.close()
    h2 = await start(cfg)
    try:
        assert h2.server.registry.get("good") is not None
        assert h2.server.registry.get("bad") is None
        client = await Client.open(
            f"{h2.base}/ws?token={h2.token('host', 'host', room='bad')}", expect_welcome=False
        )
        code, _ = await client.closed()
        assert code == 1011
        assert (await client.next("error"))["code"] == "internal"
    finally:
        await h2.server.shutdown()


async def test_a_write_the_store_refuses_is_never_acknowledged(
    sql_url: str, tmp_path: Path
) -> None:
    from voiceroom.store.schema import events

    h = await start(config(sql_url, tmp_path))
    host = await h.join("host", "host")
    other = await h.join("host", "host", room="other")
    seq = h.room().seq
    store: Any = h.server.store

    def sabotage(_: Any) -> None:  # the next event's key is taken: that write cannot commit
        with store.engine.begin() as conn:
            conn.execute(
                events.insert().values(
                    room="r", seq=seq + 1, n=0, type="x", body={}, at=0.0, roles=None, users=[]
                )
            )

    await h.server.writer.call(sabotage)
    try:
        with pytest.raises(AssertionError):  # closed before any reply came
            await host.request("chat.send", {"text": "never acknowledged"})
        code, _ = await host.closed()
        assert code == 1011
        assert not host.saw("chat.message")  # nothing uncommitted was shown either
        await other.ok("chat.send", {"text": "the other room goes on"})
        chat = await h.server.writer.call(lambda s: s.chat("r"))
        assert "never acknowledged" not in [m.text for m in chat]
        assert h.server.registry.get("r") is None  # closed: rebuilt on the next join
    finally:
        await h.server.shutdown()
