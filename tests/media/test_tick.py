"""The tick's cheaper paths: encodes in parallel threads, silence skipped by audio level."""

from __future__ import annotations

import asyncio
import fractions
import math
import time

import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from av import AudioFrame

from tests.media.client import AudioClient, tone_level
from voiceroom.client.audio import PublishTrack, SilenceSource, ToneSource, dbov
from voiceroom.client.media import send_audio_levels
from voiceroom.media import MediaConfig, MediaRoom
from voiceroom.media import aiortc_internals as internals
from voiceroom.media.config import FRAME_SAMPLES, SAMPLE_RATE
from voiceroom.media.room import _Batch, _encode_pool
from voiceroom.room.routing import Routing, make_mix


def test_parallel_encodes_are_the_serial_encodes_byte_for_byte() -> None:
    # Each mix keeps its own encoder; which thread runs it must not change a bit.
    rng = np.random.default_rng(3)
    rooms = [
        MediaRoom("a", config=MediaConfig(encode_threads=0)),
        MediaRoom("b", config=MediaConfig(encode_threads=1)),
        MediaRoom("c", config=MediaConfig(encode_threads=3)),
    ]
    for room in rooms:
        room._parallel_until = 1 << 62  # as after a slow tick: threads armed
    channels = [[r._new_channel() for _ in range(5)] for r in rooms]
    for _tick in range(30):
        pcm = [rng.integers(-8000, 8000, FRAME_SAMPLES, dtype=np.int16) for _ in range(5)]
        for room, chs in zip(rooms, channels, strict=True):
            for ch, p in zip(chs, pcm, strict=True):
                ch.out[:] = p
            room._encode(chs)
        ref = [ch.payload for ch in channels[0]]
        assert all(len(p) > 0 for p in ref)
        assert [ch.payload for ch in channels[1]] == ref
        assert [ch.payload for ch in channels[2]] == ref
    assert rooms[0].stats()["parallel_encode_ticks"] == 0


def test_encode_threads_are_used_only_while_ticks_are_slow() -> None:
    # A tick that fits easily in the frame encodes inline (a hand-off per tick would cost
    # more than it saves); a slow or late tick arms the threads for a while.
    from voiceroom.media import room as room_module

    room = MediaRoom("a", config=MediaConfig(encode_threads=1))
    chs = [room._new_channel() for _ in range(4)]
    for ch in chs:
        ch.out[:] = 1000
    submitted = []
    pool = _encode_pool(1)
    assert pool is not None
    real_submit = pool.submit

    def submit(fn: object, *a: object) -> object:
        submitted.append(fn)
        return real_submit(fn, *a)  # type: ignore[arg-type]

    pool.submit = submit  # type: ignore[method-assign]
    try:
        room._ticks = 10
        room._encode(chs)
        assert submitted == [] and room.stats()["parallel_armed"] == 0
        room._parallel_until = room._ticks + room_module._PARALLEL_HOLD_TICKS
        room._encode(chs)
        assert len(submitted) == 1 and room.stats()["parallel_armed"] == 1
        room._ticks += room_module._PARALLEL_HOLD_TICKS + 1
        room._encode(chs)
        assert len(submitted) == 1 and room.stats()["parallel_armed"] == 0
    finally:
        del pool.submit


def test_a_lone_slow_tick_does_not_arm_the_encode_threads_but_a_run_does() -> None:
    from voiceroom.media import room as room_module

    room = MediaRoom("a", config=MediaConfig(encode_threads=1))
    room._ticks = 100
    room._slow_tick()  # a garbage collection, one preemption
    room._ticks += room_module._PARALLEL_WINDOW
    room._slow_tick()  # another, long after
    assert room.stats()["parallel_armed"] == 0
    for _ in range(room_module._PARALLEL_SLOW_TICKS):
        room._ticks += 5
        room._slow_tick()
    assert room.stats()["parallel_armed"] == 1


async def test_slow_ticks_arm_the_encode_threads() -> None:
    from voiceroom.media import room as room_module

    room = MediaRoom("a", config=MediaConfig(encode_threads=1))
    ticks = 0
    real_tick = room.tick

    def slow_tick(now: float) -> None:
        nonlocal ticks
        real_tick(now)
        ticks += 1
        if 5 <= ticks < 5 + room_module._PARALLEL_SLOW_TICKS:
            time.sleep(room_module._PARALLEL_ABOVE * 1.5)

    room.tick = slow_tick  # type: ignore[method-assign]
    await room.start()
    try:
        await asyncio.sleep(0.4)
        assert ticks >= 5 + room_module._PARALLEL_SLOW_TICKS
        assert room.stats()["parallel_armed"] == 1
    finally:
        await room.close()


def test_encodes_claimed_by_the_encode_threads_are_the_same_bytes() -> None:
    # Which thread takes a job depends on scheduling (the tick's thread never waits for an
    # unscheduled helper); here the helpers alone run a batch, to cover their path.
    rng = np.random.default_rng(4)
    inline_room = MediaRoom("a", config=MediaConfig(encode_threads=0))
    inline = [inline_room._new_channel() for _ in range(4)]
    threaded = [inline_room._new_channel() for _ in range(4)]
    pool = _encode_pool(2)
    assert pool is not None
    for _tick in range(20):
        for a, b in zip(inline, threaded, strict=True):
            a.out[:] = b.out[:] = rng.integers(-8000, 8000, FRAME_SAMPLES, dtype=np.int16)
        inline_room._encode(inline)
        batch = _Batch(threaded)
        pool.submit(batch.run)
        pool.submit(batch.run)
        batch.wait()
        assert batch.helped
        assert [c.payload for c in threaded] == [c.payload for c in inline]


class BurstTrack(MediaStreamTrack):
    """Raw PCM frames (aiortc encodes them and, the extension being negotiated, writes each
    packet's RFC 6464 level, as a browser does): ``on`` s of tone then ``off`` s of silence."""

    kind = "audio"

    def __init__(self, freq: float, *, on: float, off: float) -> None:
        super().__init__()
        self.freq, self.on, self.off = freq, on, off
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:  # type: ignore[override]
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._n * 0.02 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = (np.arange(FRAME_SAMPLES) + self._n * FRAME_SAMPLES) / SAMPLE_RATE
        loud = (self._n * 0.02) % (self.on + self.off) < self.on
        x = np.sin(2 * math.pi * self.freq * t) * 0.3 * 32767 if loud else np.zeros_like(t)
        frame = AudioFrame.from_ndarray(x.astype(np.int16).reshape(1, -1), layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._n * FRAME_SAMPLES
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._n += 1
        return frame


@pytest.mark.media
@pytest.mark.timeout(60)
async def test_a_publisher_signalling_silence_is_not_decoded_and_is_still_heard(
    room: MediaRoom,
) -> None:
    speaker, listener = AudioClient("s1"), AudioClient("l1")
    try:
        answer = await room.connect("s1", await speaker.offer())
        # aiortc's answer keeps the client-to-mixer level extension the client offered.
        assert internals.AUDIO_LEVEL_URI in answer
        await speaker.accept(answer)
        await listener.accept(await room.connect("l1", await listener.offer()))
        assert internals.audio_level_extension_id(speaker.transceiver) is not None
        room.set_routing(
            Routing(
                default=make_mix({"s1": 1.0}),
                overrides={"s1": make_mix({})},
                publishers=frozenset({"s1"}),
            )
        )
        speaker.transceiver.sender.replaceTrack(BurstTrack(440.0, on=0.4, off=0.8))
        await asyncio.sleep(3.0)
        t0 = time.monotonic()
        await asyncio.sleep(2.4)
        stats = room.stats()
        # Silent stretches (past the 200 ms hangover) were skipped, taken by the fast path.
        assert stats["rx_fast_path"] > 50
        assert stats["rx_silent_skipped"] > 30
        # The tone bursts still reach the listener: one 20 ms frame at a time, each burst
        # carries the tone at full level.
        loud = [r for r in listener.received if r.arrival >= t0 and tone_level(r.pcm, 440.0) > 0.2]
        assert len(loud) >= 0.6 * 2 * 20  # two bursts of 20 frames in the window
    finally:
        await speaker.close()
        await listener.close()


def test_dbov_is_rfc_6465_appendix_a() -> None:
    t = np.arange(FRAME_SAMPLES) / SAMPLE_RATE
    full = (np.sin(2 * math.pi * 1000 * t) * 32767).astype(np.int16)
    assert dbov(full) == -3  # a full-scale sine is 3 dB below a full-scale square
    assert dbov((full // 100).astype(np.int16)) == -43
    assert dbov(np.zeros(FRAME_SAMPLES, dtype=np.int16)) == -127
    assert dbov(np.ones(FRAME_SAMPLES, dtype=np.int16)) == -90


@pytest.mark.media
@pytest.mark.timeout(60)
async def test_the_python_client_sends_levels_for_its_pre_encoded_packets(
    room: MediaRoom,
) -> None:
    # voiceroom.client's track hands aiortc encoded packets; send_audio_levels (as MediaPeer
    # wires it) makes aiortc write their RFC 6464 level, so the server skips its silence.
    track = PublishTrack()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver(track, direction="sendrecv")
    send_audio_levels(transceiver.sender, track)
    listener = AudioClient("l1")
    try:
        await pc.setLocalDescription(await pc.createOffer())
        answer = await room.connect("s1", pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await listener.accept(await room.connect("l1", await listener.offer()))
        room.set_routing(
            Routing(
                default=make_mix({"s1": 1.0}),
                overrides={"s1": make_mix({})},
                publishers=frozenset({"s1"}),
            )
        )
        track.set_source(SilenceSource())
        await asyncio.sleep(2.0)
        assert track.level_dbov == -127
        assert room.stats()["rx_silent_skipped"] > 20
        track.set_source(ToneSource(440.0))
        await asyncio.sleep(1.0)
        skipped = room.stats()["rx_silent_skipped"]
        t0 = time.monotonic()
        await asyncio.sleep(1.0)
        assert room.stats()["rx_silent_skipped"] == skipped  # sound is never skipped
        assert track.level_dbov is not None and track.level_dbov > -20
        assert tone_level(listener.audio(t0, time.monotonic()), 440.0) > 0.2
    finally:
        await pc.close()
        await listener.close()
