"""Bad input never kills the connection, the room, or the server; floods are cut off."""

from __future__ import annotations

import asyncio
import socket

import msgpack

from voiceroom.protocol import MAX_FRAME_BYTES, encode_request
from voiceroom.room.model import RoomConfig

from .harness import Harness, ServerFactory


async def test_every_bad_frame_gets_a_typed_error_and_nothing_breaks(h: Harness) -> None:
    host = await h.join("host", "host")
    eve = await h.join("eve")
    bad: list[tuple[bytes | str, str]] = [
        ("text frame", "bad_frame"),
        (b"\xc1\xc1", "bad_frame"),
        (msgpack.packb([1, 2, 3]), "bad_frame"),
        (msgpack.packb({"v": 9, "type": "ping", "id": 1}), "bad_version"),
        (encode_request("seat.take", 5, {"seat": "one"}), "bad_field"),
        (encode_request("seat.take", 6, {"seat": True}), "bad_field"),
        (encode_request("chat.send", 7, {}), "bad_field"),
        (encode_request("chat.send", 8, {"text": "x", "admin": True}), "bad_field"),
        (encode_request("room.godmode", 9), "unknown_type"),
        (encode_request("queue.join", 10), "wrong_phase"),  # out of phase: warm-up
        (encode_request("room.kick", 11, {"user": "host"}), "forbidden"),  # not her role
        (encode_request("chat.send", 12, {"text": "x" * (MAX_FRAME_BYTES + 10)}), "bad_frame"),
    ]
    for data, code in bad:
        await eve.send_raw(data)
        err = await eve.next("error")
        assert err["code"] == code, (data[:40], err)
    assert [e["id"] for e in eve.frames if e["type"] == "error"][4:7] == [5, 6, 7]
    # Everyone still works and nothing was applied.
    await eve.ok("chat.send", {"text": "sorry"})
    await host.next("chat.message", where=lambda f: f["body"]["message"]["text"] == "sorry")
    await host.ok("room.start_show")
    assert h.room().room.members["host"].role.value == "host"


async def test_hard_frame_limit_closes_with_1009_only_that_client(h: Harness) -> None:
    host = await h.join("host", "host")
    eve = await h.join("eve")
    await eve.send_raw(b"\x00" * (2 * 1024 * 1024))
    assert (await eve.closed())[0] == 1009  # RFC 6455: message too big
    await host.ok("chat.send", {"text": "fine"})


async def test_flood_is_rate_limited_then_disconnected(make_server: ServerFactory) -> None:
    h = await make_server(rate=5.0, burst=5, flood_limit=20)
    host = await h.join("host", "host")
    eve = await h.join("eve")
    for i in range(60):
        await eve.send_raw(encode_request("ping", 100 + i))
    code, reason = await eve.closed()
    assert code == 1008 and "flood" in (reason or "")
    codes = [f.get("code") for f in eve.frames if f["type"] == "error"]
    assert "rate_limited" in codes
    assert sum(1 for f in eve.frames if f["type"] == "reply") == 5  # the burst went through
    await host.ok("chat.send", {"text": "unaffected"})
    await asyncio.sleep(0)
    assert h.server.metrics.value("voiceroom_rate_limited_total") >= 20


async def test_slow_consumer_is_closed_not_waited_for(make_server: ServerFactory) -> None:
    h = await make_server(send_queue=16, rate=1000.0, burst=1000)
    host = await h.join("host", "host")
    slow = await h.join("slow")
    # Small kernel buffers on both ends, so a client that stops reading is felt quickly.
    slow.ws.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    for server_side in h.server._ws.connections:  # type: ignore[union-attr]
        sock = server_side.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    slow.ws.transport.pause_reading()  # stops reading: the server's socket buffer fills
    text = "x" * 400
    metrics = h.server.metrics
    for _ in range(2000):
        await host.ok("chat.send", {"text": text})
        if metrics.value("voiceroom_disconnects_total", reason="slow_consumer"):
            break
    # Read again at once: the close frame waits behind the buffered events, and the server
    # drops the socket (1006) if the closing handshake takes more than a couple of seconds.
    # Normal buffers first: with 4 KiB windows the kernel's sender waits for its zero-window
    # probe timer (backing off 0.2, 0.4, 0.8 s...) rather than the reader's window update,
    # and draining took over those 2 s in about half the runs on a quiet box.
    slow.ws.transport.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20
    )
    for server_side in h.server._ws.connections:  # type: ignore[union-attr]
        sock = server_side.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    slow.ws.transport.resume_reading()
    code, _ = await slow.closed(wait=10)
    assert code == 4002
    await host.ok("chat.send", {"text": "room still fine"})


async def test_slow_consumer_limit_counts_bytes_and_the_client_sees_4002(
    make_server: ServerFactory,
) -> None:
    # Issue 9 item 15: default kernel buffers, a frame bound far away (1024 frames), large
    # events. Without a byte bound the outbox alone holds 1024 frames (4 MB) before the
    # drop; with it, the client is dropped long before and reads its 4002.
    room = RoomConfig(reconnect_grace=0.6, chat_max_chars=4000)
    h = await make_server(room, send_queue=1024, send_queue_bytes=256 * 1024, rate=1e4, burst=10**4)
    host = await h.join("host", "host")
    slow = await h.join("slow")
    slow.ws.transport.pause_reading()
    metrics = h.server.metrics
    sent = 0
    while not metrics.value("voiceroom_disconnects_total", reason="slow_consumer"):
        await host.ok("chat.send", {"text": "x" * 4000})
        sent += 1
        assert sent < 1024, "not dropped before the frame bound"
    slow.ws.transport.resume_reading()
    code, reason = await slow.closed(wait=10)
    assert code == 4002 and "slow" in reason
    await host.ok("chat.send", {"text": "room still fine"})
