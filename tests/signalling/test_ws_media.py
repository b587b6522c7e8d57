"""The media bridge, against a fake MediaRoom that records what it is told."""

from __future__ import annotations

import asyncio
from typing import Any

from voiceroom.room.routing import MUSIC_SOURCE, Routing
from voiceroom.signalling.media_bridge import SpeakingCallback

from .harness import Harness, ServerFactory


class FakeMediaRoom:
    instances: list[FakeMediaRoom] = []

    def __init__(self, room_id: str, on_speaking: SpeakingCallback) -> None:
        self.room_id = room_id
        self.on_speaking = on_speaking
        self.calls: list[tuple[str, Any]] = []
        self.routing: Routing | None = None
        self.peers: set[str] = set()
        FakeMediaRoom.instances.append(self)

    async def start(self) -> None:
        self.calls.append(("start", None))

    async def connect(self, user: str, offer_sdp: str) -> str:
        if offer_sdp == "boom":
            raise RuntimeError("ICE failed")
        self.calls.append(("connect", user))
        self.peers.add(user)
        return f"answer-for-{user}"

    def set_routing(self, routing: Routing) -> None:
        self.routing = routing

    async def disconnect(self, user: str) -> None:
        self.calls.append(("disconnect", user))
        self.peers.discard(user)

    def users(self) -> frozenset[str]:
        return frozenset(self.peers)

    async def play_music(self, path: str, *, gain: float, loop: bool) -> None:
        self.calls.append(("play", (path, gain, loop)))

    async def stop_music(self) -> None:
        self.calls.append(("stop", None))

    async def close(self) -> None:
        self.calls.append(("close", None))

    def stats(self) -> dict[str, Any]:
        return {"peers": 2, "mixer": {"tick_us": 120.5}, "name": "x"}


async def media_server(make_server: ServerFactory) -> Harness:
    FakeMediaRoom.instances.clear()
    return await make_server(media_factory=FakeMediaRoom)


async def until(pred: Any, wait: float = 2.0) -> None:
    async with asyncio.timeout(wait):
        while not pred():  # noqa: ASYNC110 - polling a fake's plain attributes
            await asyncio.sleep(0.01)


async def test_offer_answer_routing_speaking_music_and_kick(make_server: ServerFactory) -> None:
    h = await media_server(make_server)
    host = await h.join("host", "host")
    ann = await h.join("ann")
    assert host.welcome["body"]["session"]["media"] is True
    assert ann.welcome["body"]["session"]["media_peer"] is False  # nothing offered yet
    reply = await ann.ok("media.offer", {"sdp": "v=0 offer"})
    assert reply["body"] == {"sdp": "answer-for-ann"}
    # A resume keeps the peer (UDP outlives the socket): the welcome says it is still held.
    await ann.ws.close()
    ann = await h.join("ann", resume=ann.last_seq)
    assert ann.welcome["body"]["resumed"] is True
    assert ann.welcome["body"]["session"]["media_peer"] is True
    (media,) = FakeMediaRoom.instances
    assert media.calls[:2] == [("start", None), ("connect", "ann")]
    assert media.routing is not None and media.routing.hears("ann", "host")

    await ann.ok("seat.take", {"seat": 2})
    await until(lambda: media.routing is not None and media.routing.hears("host", "ann"))

    media.on_speaking("ann", True)  # as the media plane would, possibly from a thread
    ev = await host.next("media.speaking")
    assert ev["body"] == {"user": "ann", "speaking": True} and "seq" not in ev

    assert await host.fail("music.play", {"track": "../../etc/passwd"}) == "invalid_argument"
    assert await host.fail("music.play", {"track": "missing.ogg"}) == "invalid_argument"
    assert h.room().room.music is None  # refused before the core applied anything
    await host.ok("music.play", {"track": "intro.ogg", "gain": 0.3, "loop": False})
    await ann.next("music.changed", track="intro.ogg")
    await until(lambda: any(c[0] == "play" for c in media.calls))
    play = next(c for c in media.calls if c[0] == "play")
    assert play[1][0].endswith("/music/intro.ogg") and play[1][1:] == (0.3, False)
    await until(lambda: media.routing is not None and MUSIC_SOURCE in media.routing.sources())
    await host.ok("music.stop")
    await until(lambda: ("stop", None) in media.calls)

    assert await ann.fail("media.offer", {"sdp": "boom"}) == "media_error"
    await host.ok("room.kick", {"user": "ann"})
    await until(lambda: ("disconnect", "ann") in media.calls)

    import urllib.request

    def scrape() -> str:
        with urllib.request.urlopen(f"{h.http}/metrics", timeout=3) as resp:
            body: str = resp.read().decode()
            return body

    text = await asyncio.to_thread(scrape)
    assert 'voiceroom_media{room="r",stat="mixer.tick_us"} 120.5' in text


async def test_media_off_and_music_without_library(make_server: ServerFactory) -> None:
    h = await make_server(music_dir=None)
    host = await h.join("host", "host")
    assert await host.fail("media.offer", {"sdp": "v=0"}) == "media_error"
    assert await host.fail("music.play", {"track": "intro.ogg"}) == "media_error"
