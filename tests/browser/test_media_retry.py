"""The web page gets its audio through even when its first negotiation goes wrong: a
refused ``media.offer``, or an answer whose candidates lead to a socket that never answers
(ICE stays 'checking'). The page must offer again by itself, on a fresh RTCPeerConnection
(the server replaces the member's peer), connect, and be heard by a Python listener (FFT).
Before (issue 13), a refused or unanswered offer left the page without audio until a
reload: its peer connection stayed 'new', which counted as connected, so nothing offered
again. (The silent case was already recovered through Chromium's own ICE failure; it now
also has the page's CONNECT_TIMEOUT behind it.)

Real media plane; only the first ``connect`` of the host is spoiled, by a thin wrapper
around the real MediaRoom.
"""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_web_client import CHROMIUM, chromium_args, until, write_tone_wav
from voiceroom.auth import issue_token
from voiceroom.client import MediaPeer, RoomClient
from voiceroom.config import Config
from voiceroom.server import Server
from voiceroom.signalling.media_bridge import (
    MediaRoomFactory,
    MediaRoomLike,
    SpeakingCallback,
    default_media_factory,
)

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.timeout(120)]
async_playwright = pytest.importorskip("playwright.async_api").async_playwright

SECRET = "retry-test-secret-0123456789abcdef0123"
MIC_HZ = 1000.0
HOST = "host-1"


CANDIDATE = re.compile(r"^(a=candidate:\S+ \d+ udp \d+) \S+ \d+ (typ .*)$", re.MULTILINE)


class SpoiledFirstOffer:
    """The real media room, except for the host's first offer: ``refuse`` answers it with
    an error; ``silent`` answers it with every candidate moved to ``silent`` (a socket
    nobody reads) and closes the server's peer for it."""

    def __init__(self, inner: MediaRoomLike, mode: str, silent: tuple[str, int]) -> None:
        self.inner = inner
        self.mode = mode
        self.silent = silent
        self.offers: list[str] = []

    async def connect(self, user: str, offer_sdp: str) -> str:
        self.offers.append(user)
        if user != HOST or self.offers.count(HOST) > 1:
            return await self.inner.connect(user, offer_sdp)
        if self.mode == "refuse":
            raise RuntimeError("first offer refused on purpose")
        answer = await self.inner.connect(user, offer_sdp)
        await self.inner.disconnect(user)  # nor does the server's peer check the page's
        ip, port = self.silent
        return CANDIDATE.sub(rf"\1 {ip} {port} \2", answer)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Spoiler:
    def __init__(self, config: Config, mode: str, silent: tuple[str, int]) -> None:
        self.real = default_media_factory(config.media_settings, net=config.media_net())
        self.mode = mode
        self.silent = silent
        self.rooms: list[SpoiledFirstOffer] = []

    def factory(self) -> MediaRoomFactory:
        def make(room_id: str, on_speaking: SpeakingCallback) -> MediaRoomLike:
            room = SpoiledFirstOffer(self.real(room_id, on_speaking), self.mode, self.silent)
            self.rooms.append(room)
            return room  # type: ignore[return-value]

        return make


@pytest.fixture
def silent_socket() -> Iterator[tuple[str, int]]:
    """A bound UDP socket that is never read: checks sent there get no answer (and, the
    port being bound, no ICMP error either)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()


@pytest.fixture(params=["refuse", "silent"])
async def spoiled(
    request: pytest.FixtureRequest, silent_socket: tuple[str, int]
) -> AsyncIterator[tuple[Server, Spoiler]]:
    config = Config(port=0, secret=SECRET, media=True, shutdown_timeout=1.0, log_level="warning")
    spoiler = Spoiler(config, request.param, silent_socket)
    server = Server(config, media_factory=spoiler.factory())
    await server.start()
    try:
        yield server, spoiler
    finally:
        await server.shutdown()


async def test_page_offers_again_after_a_spoiled_first_negotiation(
    spoiled: tuple[Server, Spoiler], tmp_path: Path
) -> None:
    server, spoiler = spoiled
    wav = tmp_path / "mic.wav"
    write_tone_wav(wav, MIC_HZ)
    host = issue_token(SECRET, room="retry", user=HOST, name="Hana", role="host")
    ear_token = issue_token(SECRET, room="retry", user="ear", name="Ear")
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=chromium_args(wav))
        try:
            page = await (await browser.new_context(locale="en-US")).new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"http://127.0.0.1:{server.port}/?token={host}&lang=en")
            await until(lambda: page.evaluate("window.voiceroom?.mic === 'live'"), 15, "mic live")
            # "silent": the page gives up CONNECT_TIMEOUT (15 s) after the answer.
            await until(
                lambda: page.evaluate("window.voiceroom.media.pc?.connectionState === 'connected'"),
                28,
                "the page's media connected after a fresh offer",
            )
            (room,) = spoiler.rooms
            assert room.offers.count(HOST) == 2, room.offers
            ear = await RoomClient.join(f"ws://127.0.0.1:{server.port}", ear_token)
            try:
                peer = await MediaPeer.connect(ear)
                try:
                    level = await peer.wait_for_tone(MIC_HZ, threshold=0.02, timeout=15)
                finally:
                    await peer.close()
            finally:
                await ear.close()
            print(f"{spoiler.mode}: heard the page after its second offer at {level:.3f} FS")
        finally:
            await browser.close()
    assert errors == []
