"""Issue 9 item 14: what docs/protocol.md states about tokens, handshake order, answers,
and a room closed by its last member, checked against the running server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
import pytest

from voiceroom.protocol import CloseCode
from voiceroom.room.routing import MUSIC_SOURCE

from .harness import SECRET, Harness, ServerFactory
from .test_ws_handshake import refused
from .test_ws_media import FakeMediaRoom, until
from .vr_client import Client


def raw_token(**claims: Any) -> str:
    now = int(time.time())
    base: dict[str, Any] = {"iss": "voiceroom", "sub": "zed", "room": "r", "name": "Zed"}
    base |= {"role": "listener", "iat": now, "exp": now + 600}
    base |= claims
    return jwt.encode({k: v for k, v in base.items() if v is not None}, SECRET, "HS256")


async def test_token_claims_required_optional_and_wrong(h: Harness) -> None:
    await h.join("host", "host")
    ws = f"{h.base}/ws?token="
    for missing in ("iss", "sub", "room", "name", "role", "iat", "exp"):
        status, _ = await refused(ws + raw_token(**{missing: None}))
        assert status == 401, missing
    assert (await refused(ws + raw_token(iss="someone-else")))[0] == 401
    assert (await refused(ws + raw_token(role="admin")))[0] == 401
    assert (await refused(ws + raw_token(tier=7)))[0] == 401  # present: must be a string
    # tier and locale may be left out: "new" and "en".
    zed = await Client.open(ws + raw_token(tier=None, locale=None))
    me = zed.welcome["body"]["snapshot"]["you"]
    assert (me["tier"], me["locale"]) == ("new", "en")
    # A tier the server does not list is refused, by name (issue 11); any locale is fine.
    status, body = await refused(ws + raw_token(sub="odd", tier="platinum", locale="xx"))
    assert status == 403 and "unknown tier 'platinum'" in body
    odd = await Client.open(ws + raw_token(sub="odd", tier="vip", locale="xx"))
    assert odd.welcome["body"]["session"]["user"] == "odd"


async def test_handshake_refusals_in_order(h: Harness) -> None:
    ws = f"{h.base}/ws"
    # Room "r" is not open: a token for another room is 403 before the 404.
    assert (await refused(f"{ws}/r?token={h.token('ann', room='x')}"))[0] == 403
    assert (await refused(f"{ws}?token={h.token('ann')}"))[0] == 404
    # A banned identity: 403 while the room is open.
    host = await h.join("host", "host")
    await h.join("ann")
    await host.ok("room.kick", {"user": "ann"})
    assert (await refused(f"{ws}?token={h.token('ann')}"))[0] == 403
    assert (await refused(f"{ws}?token={h.token('ann')}&resume=x"))[0] == 400


@pytest.mark.parametrize("store", ["memory", "none"])
async def test_a_room_closed_by_its_last_member_answers_404_until_its_host_reopens_it(
    make_server: ServerFactory, store: str
) -> None:
    h = await make_server(store=store)
    host = await h.join("host", "host")
    ann = await h.join("ann")
    await host.ok("chat.send", {"text": "before"})
    await ann.ok("leave")
    await host.ok("leave")
    await until(lambda: h.server.registry.get("r") is None)
    status, _ = await refused(f"{h.base}/ws?token={h.token('ann')}")
    assert status == 404  # not 410: the room did not end, its host may open it again
    again = await h.join("host", "host")
    chat = [m["text"] for m in again.welcome["body"]["snapshot"]["chat"]]
    # From the store as it was; with store "none" (nothing kept) a fresh room.
    assert chat == (["before"] if store == "memory" else [])
    await again.ok("room.end")
    assert (await refused(f"{h.base}/ws?token={h.token('ann')}"))[0] == 410


async def test_the_opening_handshake_times_out(make_server: ServerFactory) -> None:
    h = await make_server(handshake_timeout=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", h.server.port)
    t0 = time.monotonic()
    async with asyncio.timeout(5):
        assert await reader.read() == b""  # the server hung up: nothing was sent
    assert 0.4 < time.monotonic() - t0 < 3
    writer.close()


class SlowMediaRoom(FakeMediaRoom):
    async def connect(self, user: str, offer_sdp: str) -> str:
        await asyncio.sleep(0.5)  # ICE/DTLS set-up takes a while
        return await super().connect(user, offer_sdp)


async def test_answers_may_overtake_each_other(make_server: ServerFactory) -> None:
    h = await make_server(media_factory=SlowMediaRoom)
    host = await h.join("host", "host")
    first = asyncio.create_task(host.request("media.offer", {"sdp": "v=0"}))
    await asyncio.sleep(0.05)
    second = await host.request("chat.send", {"text": "hi"})
    assert second["type"] == "reply" and not first.done()  # id 2 answered before id 1
    assert (await first)["body"] == {"sdp": "answer-for-host"}


async def test_a_restart_without_a_durable_store_keeps_nothing(make_server: ServerFactory) -> None:
    # protocol.md 5.1, "No durable store": what a client finds after 1012.
    a = await make_server()
    host = await a.join("host", "host")
    ann = await a.join("ann")
    await host.ok("chat.send", {"text": "before the restart"})
    seq = ann.last_seq
    await a.server.shutdown(CloseCode.SERVICE_RESTART)
    assert (await ann.closed())[0] == 1012
    b = await make_server()
    assert (await refused(f"{b.base}/ws?token={b.token('ann')}&resume={seq}"))[0] == 404
    again = await b.join("host", "host", resume=seq)
    body = again.welcome["body"]
    assert body["resumed"] is False and body["snapshot"]["chat"] == []


async def test_seat_zero_start_show_and_the_two_mutes(h: Harness) -> None:
    host = await h.join("host", "host")
    assert host.welcome["body"]["snapshot"]["your_seat"] == 0
    ann = await h.join("ann")
    assert await ann.fail("seat.take", {"seat": 0}) == "seat_reserved"
    await ann.ok("seat.take", {"seat": 2})  # warm-up: open seats
    await ann.ok("mic.mute")
    await host.ok("seat.mute", {"seat": 2})
    await host.ok("room.start_show")
    room = h.room().room
    assert room.seat_of("ann") == 2 and "ann" in room.self_muted  # kept at the show's start
    await host.ok("seat.unmute", {"seat": 2})
    assert "ann" not in room.routing().publishers  # still self-muted: not heard
    await ann.ok("mic.unmute")
    assert "ann" in room.routing().publishers
    await host.ok("seat.mute", {"seat": 2})
    assert await ann.fail("mic.unmute") == "muted_by_moderator"


async def test_who_hears_whom_in_each_1v1_mode(h: Harness) -> None:
    host = await h.join("host", "host")
    ann = await h.join("ann")  # another seat holder
    await h.join("bob")  # audience
    await h.join("carl")  # the shopper
    await ann.ok("seat.take", {"seat": 2})
    await host.ok("room.start_show")
    await host.ok("music.play", {"track": "intro.ogg"})
    room = h.room().room
    await host.ok("consult.start", {"user": "carl", "mode": "private"})
    r = room.routing()
    assert r.hears("host", "carl") and r.hears("carl", "host")
    assert not r.hears("carl", "ann")  # private_duck_gain 0: the show is silent for carl
    for other in ("ann", "bob"):
        assert not r.hears(other, "host") and not r.hears(other, "carl")
    assert r.hears("bob", "ann") and r.hears("bob", MUSIC_SOURCE)
    (consult,) = room.consultations
    await host.ok("consult.end", {"id": consult})
    await host.ok("consult.start", {"user": "carl", "mode": "listen_in"})
    r = room.routing()
    for other in ("ann", "bob"):
        assert r.hears(other, "host") and r.hears(other, "carl")
        assert not r.hears(other, MUSIC_SOURCE)
    assert "ann" not in r.publishers and not r.hears("bob", "ann")
