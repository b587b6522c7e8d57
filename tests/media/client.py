"""A small aiortc audio client for tests and benchmarks (movable to voiceroom/client later).

It behaves like the browser client the server expects: one sendrecv audio transceiver
negotiated up front (a listener's sender simply has no track), tones switched on and off
with ``replaceTrack`` (no renegotiation), uplink Opus with in-band FEC (as a browser sends
after our ``useinbandfec=1`` answer), and every received packet decoded and recorded with
its arrival time so tests can run an FFT over any time window.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from av.packet import Packet

from voiceroom.media import aiortc_internals as internals
from voiceroom.media.codec import OpusDecoder, OpusEncoder, Pcm
from voiceroom.media.config import FRAME_SAMPLES, SAMPLE_RATE

TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


class OpusToneTrack(MediaStreamTrack):
    """A sine tone, already Opus-encoded (FEC on), paced on absolute 20 ms deadlines.

    Handing aiortc's sender an ``av.Packet`` skips its PyAV encoder (design §3)."""

    kind = "audio"

    def __init__(
        self, freq: float, *, amplitude: float = 0.3, bitrate: int = 32_000, voiced: bool = False
    ) -> None:
        super().__init__()
        self.freq = freq
        self._voiced = voiced
        self._rng = np.random.default_rng(0)
        self._amp = amplitude * 32767
        self._encoder = OpusEncoder(bitrate=bitrate, packet_loss_perc=10)
        self._n = 0
        self._start: float | None = None

    def _pcm(self) -> Pcm:
        t = (np.arange(FRAME_SAMPLES) + self._n * FRAME_SAMPLES) / SAMPLE_RATE
        x = np.sin(2 * math.pi * self.freq * t) * self._amp
        if self._voiced:
            # Syllable-rate envelope plus a little noise: Opus's SILK layer only spends
            # in-band FEC (LBRR) on frames its VAD takes for speech, never on a pure tone.
            x *= 0.7 + 0.3 * np.sin(2 * math.pi * 3 * t)
            x += self._rng.normal(0, 0.01 * 32767, FRAME_SAMPLES)
        return x.astype(np.int16)

    async def recv(self) -> Packet:  # type: ignore[override]
        if self._start is None:
            self._start = time.monotonic()
        deadline = self._start + self._n * FRAME_SAMPLES / SAMPLE_RATE
        delay = deadline - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = Packet(self._encoder.encode(self._pcm()))
        packet.pts = self._n * FRAME_SAMPLES
        packet.time_base = TIME_BASE
        self._n += 1
        return packet


@dataclass(frozen=True, slots=True)
class Received:
    arrival: float  # time.monotonic()
    seq: int
    timestamp: int
    pcm: Pcm


class AudioClient:
    # Every client still open, so a listening window can wait for all of them on a slow host.
    live: ClassVar[weakref.WeakSet[AudioClient]] = weakref.WeakSet()

    def __init__(self, name: str, *, decode: bool = True) -> None:
        AudioClient.live.add(self)
        self.name = name
        self._decode = decode
        self.packets = 0
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.transceiver: RTCRtpTransceiver = self.pc.addTransceiver("audio", direction="sendrecv")
        self.received: list[Received] = []
        self._decoder = OpusDecoder()
        self.tone: float | None = None

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))
        pt = internals.negotiated_payload_type(self.transceiver)
        internals.install_rtp_tap(self.transceiver.receiver, pt, self._on_rtp)

    def _on_rtp(self, seq: int, timestamp: int, payload: bytes, arrival: float) -> None:
        self.packets += 1
        if not self._decode:
            return
        pcm = self._decoder.decode(payload).copy()
        self.received.append(Received(arrival, seq, timestamp, pcm))

    def send_tone(self, freq: float, *, amplitude: float = 0.3, voiced: bool = False) -> None:
        self.tone = freq
        self.transceiver.sender.replaceTrack(
            OpusToneTrack(freq, amplitude=amplitude, voiced=voiced)
        )

    def stop_sending(self) -> None:
        self.tone = None
        self.transceiver.sender.replaceTrack(None)

    def lossy_uplink(
        self, *, loss: float, jitter: float = 0.0, rng: random.Random | None = None
    ) -> dict[str, int]:
        """Drop ``loss`` of outgoing RTP at random and delay the rest by U(0, jitter) s."""
        rng = rng or random.Random(1)
        counts = {"sent": 0, "dropped": 0}
        loop = asyncio.get_running_loop()

        async def wrapper(send: Callable[[bytes], Awaitable[None]], data: bytes) -> None:
            is_rtcp = len(data) > 1 and 192 <= data[1] <= 223
            if is_rtcp:
                await send(data)
                return
            counts["sent"] += 1
            if rng.random() < loss:
                counts["dropped"] += 1
                return
            delay = rng.uniform(0.0, jitter) if jitter else 0.0
            if delay:
                loop.call_later(delay, lambda: loop.create_task(_quiet(send(data))))
            else:
                await send(data)

        internals.wrap_outgoing_rtp(self.transceiver.sender.transport, wrapper)
        return counts

    def audio(self, start: float, end: float) -> Pcm:
        """Decoded audio of packets that arrived in [start, end), in arrival order."""
        parts = [r.pcm for r in self.received if start <= r.arrival < end]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    async def close(self) -> None:
        await self.pc.close()


async def _quiet(aw: Awaitable[None]) -> None:
    with contextlib.suppress(ConnectionError):
        await aw


def tone_level(pcm: Pcm, freq: float) -> float:
    """Amplitude of ``freq`` in ``pcm`` as a fraction of full scale: a Hann-windowed DFT
    evaluated at exactly ``freq`` (works for a single 20 ms packet, no bin rounding)."""
    if len(pcm) < 240:
        return 0.0
    n = np.arange(len(pcm))
    w = np.hanning(len(pcm))
    x = pcm.astype(np.float64) * w
    z = np.dot(x, np.exp(-2j * np.pi * freq * n / SAMPLE_RATE))
    return float(np.abs(z) * 2 / w.sum() / 32767)


def heard(pcm: Pcm, freq: float, threshold: float = 0.02) -> bool:
    return tone_level(pcm, freq) > threshold
