"""End to end: a real server on loopback, real aiortc peers, bots doing what people do."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.client.conftest import SECRET, Live
from voiceroom.auth import issue_token
from voiceroom.client import (
    Bot,
    ConnectionLost,
    JoinRefused,
    MediaPeer,
    RoomClient,
    ServerError,
    tone_level,
)
from voiceroom.client.bot import BotConfig
from voiceroom.config import Config
from voiceroom.room.errors import ErrorCode
from voiceroom.server import Server

pytestmark = pytest.mark.media


async def eventually(check: Callable[[], bool], within: float = 5.0) -> None:
    """Poll a plain attribute that no event announces (a bot's report)."""
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - nothing to wait on: the value is a plain list
            await asyncio.sleep(0.02)


SPEAKER_HZ = 700.0
HOST_HZ = 440.0
LISTENER_HZ = 1100.0  # a listener that sends a tone must not be heard: it has no seat


async def test_host_bot_promotes_speaker_and_listener_hears_the_tone(
    live: Live, tmp_path: Path
) -> None:
    wav = tmp_path / "listener.wav"
    host = Bot(
        BotConfig(live.url, live.token("host", "host"), auto_promote=True, start_show_after=0.0),
        log=None,
    )
    speaker = Bot(BotConfig(live.url, live.token("sam"), speak=True, tone=SPEAKER_HZ), log=None)
    listener = Bot(
        BotConfig(live.url, live.token("lee"), record=wav, expect_tones=(SPEAKER_HZ,)), log=None
    )
    async with host, listener:
        await host.client.wait_until(lambda s: s.phase == "show")  # type: ignore[union-attr]
        # The listener publishes too, without a seat: the server must not mix it.
        assert listener.media is not None
        listener.media.publish_tone(LISTENER_HZ)
        async with speaker:
            client = speaker.client
            assert client is not None
            # In the show a listener cannot take a seat: the bot raises its hand, the host
            # bot promotes it, and only then does it publish (no renegotiation).
            state = await client.wait_until(lambda s: s.seated, timeout=10)
            assert state.my_seat is not None and state.my_seat > 0
            await eventually(lambda: host.report.promoted == ["sam"])
            assert host.report.seated_at is not None  # the host holds seat 0 from its join
            assert speaker.report.seated_at is not None
            assert speaker.media is not None and speaker.media.publishing
            level = await listener.media.wait_for_tone(SPEAKER_HZ, timeout=5)
            assert level > 0.05
            await asyncio.sleep(0.5)
            heard = listener.media.recent(0.5)
            assert tone_level(heard, SPEAKER_HZ) > 0.05
            assert tone_level(heard, LISTENER_HZ) < 0.01
            assert listener.heard(SPEAKER_HZ)
            # On a loaded machine the listener's peer may have connected just now: let the
            # recording reach a full second before the file is closed and checked.
            media = listener.media
            await eventually(lambda: media.recorder.seconds >= 1.0, within=10)
    # The WAV on disk holds the same tone.
    with wave.open(str(wav), "rb") as f:
        assert (f.getframerate(), f.getnchannels(), f.getsampwidth()) == (48_000, 1, 2)
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16)
    assert len(pcm) > 48_000 * 0.5
    assert tone_level(pcm, SPEAKER_HZ) > 0.02


async def test_resume_after_a_dropped_socket_keeps_the_seat(live: Live) -> None:
    host = await RoomClient.join(live.url, live.token("host", "host"))
    ann = await RoomClient.join(live.url, live.token("ann"))
    lee = await RoomClient.join(live.url, live.token("lee"))
    ann_audio = await MediaPeer.connect(ann)
    lee_audio = await MediaPeer.connect(lee)
    try:
        await ann.take_seat(3)  # warm-up: free seats are open
        await ann.wait_until(lambda s: s.my_seat == 3)
        ann_audio.publish_tone(SPEAKER_HZ)
        await lee_audio.wait_for_tone(SPEAKER_HZ, timeout=5)

        resumed = asyncio.create_task(ann.wait_for("connection.resumed", timeout=10))
        await asyncio.sleep(0)
        await ann.drop()
        await host.send_chat("while you were away")
        event = await resumed
        assert ann.resumes == 1
        assert ann.state.my_seat == 3
        # The server replays what was missed (or sends a snapshot): the chat is there.
        await ann.wait_until(lambda s: any(m["text"] == "while you were away" for m in s.chat))
        assert event.body["replayed"] >= 1 or event.body["snapshot"]
        room = live.server.registry.get("r")
        assert room is not None and room.room.seat_of("ann") == 3
        await host.wait_until(lambda s: s.members["ann"]["connected"] is True)
        # The seat is usable at once, and the media path never stopped.
        await ann.mute()
        await ann.unmute()
        await asyncio.sleep(0.5)
        assert lee_audio.tone_level(SPEAKER_HZ, 0.5) > 0.05
    finally:
        for peer in (ann_audio, lee_audio):
            await peer.close()
        for c in (ann, lee, host):
            await c.leave()


async def test_host_bot_runs_a_consultation_on_a_schedule(live: Live) -> None:
    host = Bot(
        BotConfig(
            live.url,
            live.token("host", "host"),
            start_show_after=0.0,
            auto_promote=True,
            consult_user="auto",
            consult_after=0.2,
            consult_for=0.5,
            end_after=3.0,
        ),
        log=None,
    )
    shopper = Bot(BotConfig(live.url, live.token("sam"), speak=True, media=False), log=None)
    async with host, shopper:
        assert shopper.client is not None
        started = await shopper.client.wait_for("consult.started", timeout=10)
        assert started.body["consultation"]["shopper"] == "sam"
        assert started.body["consultation"]["mode"] == "listen_in"
        ended = await shopper.client.wait_for("consult.ended", timeout=5)
        assert ended.body["id"] == host.report.consultations[0]
        # end_after: the room ends and both bots see their session close.
        await asyncio.wait_for(shopper.wait(), 5)
        assert shopper.client.closed is not None
        assert shopper.client.closed.code == 4004  # ROOM_CLOSED
    assert not host.report.errors, host.report.errors


async def test_the_client_knows_the_music_library(tmp_path: Path) -> None:
    """``room.tracks``: the names ``play_music`` accepts, from the welcome and from sync."""
    from voiceroom.server import DEMO_MUSIC_DIR

    server = Server(Config(port=0, secret=SECRET, media=False, music_dir=DEMO_MUSIC_DIR))
    await server.start()
    try:
        url = f"ws://127.0.0.1:{server.port}"
        token = issue_token(SECRET, room="music", user="h", name="H", role="host")
        async with await RoomClient.join(url, token) as host:
            assert host.tracks == ["demo-warmup.ogg"]
            host.tracks = []
            await host.sync()
            assert host.tracks == ["demo-warmup.ogg"]
            await host.play_music(host.tracks[0])
            assert host.state.music is not None
    finally:
        await server.shutdown()


async def test_bad_requests_raise_typed_errors_with_the_server_code(live: Live) -> None:
    with pytest.raises(JoinRefused) as refused:
        await RoomClient.join(live.url, "not-a-token")
    assert refused.value.status == 401
    assert refused.value.reason and refused.value.reason == refused.value.reason.strip()
    with pytest.raises(JoinRefused) as missing:
        await RoomClient.join(live.url, live.token("early"))  # no host opened the room yet
    assert missing.value.status == 404

    async with await RoomClient.join(live.url, live.token("host", "host")) as host:
        lee = await RoomClient.join(live.url, live.token("lee"))
        with pytest.raises(ServerError) as err:
            await lee.raise_hand()  # the queue opens with the show
        assert err.value.code is ErrorCode.WRONG_PHASE
        assert err.value.request == "queue.join"
        with pytest.raises(ServerError) as err:
            await lee.take_seat(0)
        assert err.value.code is ErrorCode.SEAT_RESERVED
        with pytest.raises(ServerError) as err:
            await lee.start_show()
        assert err.value.code is ErrorCode.FORBIDDEN
        assert await lee.ping() < 1.0
        await lee.leave()
        assert lee.closed is not None
        with pytest.raises(ConnectionLost):
            await lee.send_chat("after leaving")
        assert host.state.phase == "warmup"


async def test_voiceroom_bot_command_speaks_after_promotion(live: Live) -> None:
    """The CLI as a person runs it: `voiceroom bot LINK --speak --tone HZ`."""
    host = Bot(
        BotConfig(live.url, live.token("host", "host"), auto_promote=True, start_show_after=0.0),
        log=None,
    )
    listener = Bot(BotConfig(live.url, live.token("lee")), log=None)
    async with host, listener:
        assert host.client is not None and listener.media is not None
        await host.client.wait_until(lambda s: s.phase == "show")
        link = f"http://127.0.0.1:{live.server.port}/?token={live.token('cli')}"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voiceroom",
            "bot",
            link,
            "--speak",
            "--tone",
            "900",
            "--duration",
            "4",
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await listener.media.wait_for_tone(900.0, timeout=15)
            assert "cli" in host.report.promoted
        finally:
            out = b""
            with contextlib.suppress(TimeoutError):
                _, out = await asyncio.wait_for(proc.communicate(), 10)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        log = out.decode()
        assert "raised hand" in log and "publishing 900 Hz tone" in log, log
        assert proc.returncode == 0, log


async def test_close_while_the_server_is_gone_does_not_hang(live: Live) -> None:
    host = await RoomClient.join(live.url, live.token("host", "host"), resume_for=30.0)
    lost = asyncio.create_task(host.wait_for("connection.lost", timeout=5))
    await asyncio.sleep(0)
    await live.server.shutdown()  # 1001 going away: the client starts resuming
    await lost
    await asyncio.wait_for(host.close(), 3)
    assert host.closed is not None


async def test_switch_a_1v1_mode_in_place_from_the_client(live: Live) -> None:
    async with (
        await RoomClient.join(live.url, live.token("host", "host")) as host,
        await RoomClient.join(live.url, live.token("ann")) as ann,
    ):
        await host.start_show()
        kid = await host.start_consultation("ann", mode="private")
        await host.set_consultation_mode(kid, "listen_in")
        # Both sides' state hold the same consultation, now listen-in (consult.updated).
        assert host.state.consultations[kid]["mode"] == "listen_in"
        await ann.wait_until(lambda s: s.consultations.get(kid, {}).get("mode") == "listen_in")
        assert list(ann.state.consultations) == [kid]
        with pytest.raises(ServerError) as err:
            await ann.set_consultation_mode(kid, "private")  # a listener may not
        assert err.value.code is ErrorCode.FORBIDDEN
