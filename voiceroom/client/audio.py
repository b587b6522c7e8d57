"""Audio for the client: sources to publish, the Opus track that paces them, a recorder.

Everything is 48 kHz mono int16 in 20 ms frames (960 samples), which is what the server's
media plane mixes. The publishing track hands aiortc already-encoded Opus packets
(``av.Packet`` with ``pts``/``time_base``): aiortc then only packetises them, skipping its
per-frame PyAV encode and audio-level loop, which matters when one machine runs many bots
(design §3).
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Final, Protocol

import av
import numpy as np
import numpy.typing as npt
import opuslib
import opuslib.api.ctl
import opuslib.api.encoder
from aiortc import MediaStreamTrack
from av.packet import Packet
from av.stream import Stream

Pcm = npt.NDArray[np.int16]

SAMPLE_RATE: Final = 48_000
FRAME_SAMPLES: Final = 960  # 20 ms
FRAME_SECONDS: Final = FRAME_SAMPLES / SAMPLE_RATE
TIME_BASE: Final = fractions.Fraction(1, SAMPLE_RATE)
MAX_FILE_SECONDS: Final = 600.0  # files are decoded into memory once


class AudioSource(Protocol):
    """Gives one 20 ms frame per call, or None when it has ended."""

    def read(self) -> Pcm | None: ...


class ToneSource:
    """A sine tone at ``freq`` Hz; ``amplitude`` is a fraction of full scale."""

    def __init__(self, freq: float, amplitude: float = 0.3) -> None:
        if not 0 < freq < SAMPLE_RATE / 2:
            raise ValueError(f"tone frequency must be in (0, {SAMPLE_RATE // 2}) Hz")
        self.freq = freq
        self._amp = max(0.0, min(1.0, amplitude)) * 32767
        self._n = 0

    def read(self) -> Pcm:
        t = (np.arange(FRAME_SAMPLES) + self._n * FRAME_SAMPLES) / SAMPLE_RATE
        self._n += 1
        return (np.sin(2 * math.pi * self.freq * t) * self._amp).astype(np.int16)


class SilenceSource:
    """Digital silence: keeps RTP flowing (and NAT bindings warm) without sound."""

    _frame: Pcm = np.zeros(FRAME_SAMPLES, dtype=np.int16)

    def read(self) -> Pcm:
        return self._frame


class FileSource:
    """A WAV/OGG/any file PyAV can decode, resampled to 48 kHz mono, optionally looped."""

    def __init__(self, path: str | Path, *, loop: bool = True) -> None:
        self.path = Path(path)
        self.loop = loop
        self._pcm = decode_file(self.path)
        self._pos = 0

    def read(self) -> Pcm | None:
        if self._pos >= len(self._pcm):
            if not self.loop or len(self._pcm) == 0:
                return None
            self._pos = 0
        frame = self._pcm[self._pos : self._pos + FRAME_SAMPLES]
        self._pos += FRAME_SAMPLES
        if len(frame) < FRAME_SAMPLES:
            frame = np.concatenate([frame, np.zeros(FRAME_SAMPLES - len(frame), np.int16)])
        return frame


def decode_file(path: Path, max_seconds: float = MAX_FILE_SECONDS) -> Pcm:
    """Decode the first audio stream of ``path`` to 48 kHz mono int16."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    parts: list[Pcm] = []
    total = 0
    limit = int(max_seconds * SAMPLE_RATE)
    with av.open(str(path)) as container:
        stream = next((s for s in container.streams if s.type == "audio"), None)
        if stream is None:
            raise ValueError(f"{path}: no audio stream")
        for frame in container.decode(stream):
            for out in resampler.resample(frame):  # type: ignore[arg-type]
                parts.append(out.to_ndarray().reshape(-1).astype(np.int16))
                total += out.samples
            if total >= limit:
                break
        for out in resampler.resample(None):
            parts.append(out.to_ndarray().reshape(-1).astype(np.int16))
    pcm = np.concatenate(parts) if parts else np.zeros(0, np.int16)
    return pcm[:limit]


class OpusEncoder:
    """Mono 48 kHz Opus, 20 ms frames, in-band FEC on (what a browser sends after the
    server's ``useinbandfec=1`` answer)."""

    def __init__(self, bitrate: int = 32_000, packet_loss_perc: int = 10) -> None:
        self._enc = opuslib.Encoder(SAMPLE_RATE, 1, opuslib.APPLICATION_AUDIO)
        # opuslib 3.0.1's property setters raise TypeError: call the CTLs directly (design §3).
        ctl = opuslib.api.encoder.encoder_ctl
        state = self._enc.encoder_state
        ctl(state, opuslib.api.ctl.set_bitrate, bitrate)
        ctl(state, opuslib.api.ctl.set_inband_fec, 1)
        ctl(state, opuslib.api.ctl.set_packet_loss_perc, packet_loss_perc)

    def encode(self, pcm: Pcm) -> bytes:
        data: bytes = self._enc.encode(pcm.tobytes(), FRAME_SAMPLES)
        return data


def dbov(pcm: npt.NDArray[np.int16]) -> int:
    """RFC 6465 Appendix A level of a frame: RMS relative to full scale in dBov, -127..0
    (the RFC 6464 client-to-mixer header extension carries it negated)."""
    rms = float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64)))) / 32767.0
    if rms <= 0.0:
        return -127
    return max(-127, min(0, round(20.0 * math.log10(rms))))


class PublishTrack(MediaStreamTrack):
    """The one outgoing audio track a client ever has. Its source is swapped in place
    (:meth:`set_source`), so starting and stopping publishing never renegotiates.

    With no source, :meth:`recv` waits and nothing is sent (RTCP keeps flowing). Frames are
    paced on absolute 20 ms deadlines from the track's start, and ``pts`` follows the wall
    clock, so the RTP timestamp jumps over a pause as RFC 3550 section 5.1 expects."""

    kind = "audio"

    def __init__(self, *, bitrate: int = 32_000) -> None:
        super().__init__()
        self._encoder = OpusEncoder(bitrate)
        self._source: AudioSource | None = None
        self._has_source = asyncio.Event()
        self._t0: float | None = None
        self._n = 0
        self.frames_sent = 0
        # RFC 6464 level of the last packet (media.py puts it in the RTP header extension,
        # so the server need not decode our silence).
        self.level_dbov: int | None = None

    @property
    def source(self) -> AudioSource | None:
        return self._source

    def set_source(self, source: AudioSource | None) -> None:
        self._source = source
        if source is None:
            self._has_source.clear()
        else:
            self._has_source.set()

    async def recv(self) -> Packet[Stream]:
        while True:
            await self._has_source.wait()
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
            # After a pause, skip the deadlines that passed instead of bursting to catch up.
            self._n = max(self._n, int((now - self._t0) / FRAME_SECONDS))
            delay = self._t0 + self._n * FRAME_SECONDS - now
            if delay > 0:
                await asyncio.sleep(delay)
            source = self._source
            if source is None:
                continue
            pcm = source.read()
            if pcm is None:  # a file that ended
                if self._source is source:
                    self.set_source(None)
                continue
            self.level_dbov = dbov(pcm)
            packet = Packet(self._encoder.encode(pcm))
            packet.pts = self._n * FRAME_SAMPLES
            packet.time_base = TIME_BASE
            self._n += 1
            self.frames_sent += 1
            return packet


# Nothing received for longer than this (10 frames, beyond a receiver's own jitter): the
# time since the last frame counts as silence in :meth:`Recorder.recent`.
STALL_SECONDS: Final = 0.2


class Recorder:
    """Keeps the last ``keep_seconds`` of received audio in memory (for FFT checks) and
    optionally writes everything to a 48 kHz mono 16-bit WAV file."""

    def __init__(
        self,
        *,
        keep_seconds: float = 10.0,
        path: str | Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ring = np.zeros(max(FRAME_SAMPLES, int(keep_seconds * SAMPLE_RATE)), np.int16)
        self._written = 0  # samples ever received
        self._clock = clock
        self._last_write: float | None = None
        self._wav: wave.Wave_write | None = None
        self.path: Path | None = None
        if path is not None:
            self.record_to(path)

    @property
    def seconds(self) -> float:
        """Seconds of audio received so far."""
        return self._written / SAMPLE_RATE

    def record_to(self, path: str | Path) -> None:
        self.stop_recording()
        self.path = Path(path)
        # Open across many write() calls, closed by stop_recording().
        wav = wave.open(str(self.path), "wb")  # noqa: SIM115
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        self._wav = wav

    def stop_recording(self) -> None:
        if self._wav is not None:
            self._wav.close()
            self._wav = None

    def write(self, pcm: Pcm) -> None:
        self._last_write = self._clock()
        n = len(pcm)
        size = len(self._ring)
        if n >= size:
            self._ring[:] = pcm[-size:]
            self._written += n
        else:
            start = self._written % size
            first = min(n, size - start)
            self._ring[start : start + first] = pcm[:first]
            self._ring[: n - first] = pcm[first:]
            self._written += n
        if self._wav is not None:
            self._wav.writeframes(pcm.tobytes())

    def recent(self, seconds: float) -> Pcm:
        """The last ``seconds`` of time, as heard (fewer samples if less was received).
        When nothing has arrived for over :data:`STALL_SECONDS` (the peer stalled or was
        closed), the time since the last frame is silence: a bot must not go on "hearing"
        a tone through an outage."""
        wanted = int(seconds * SAMPLE_RATE)
        if self._last_write is not None:
            gap = self._clock() - self._last_write
            if gap > STALL_SECONDS:
                silent = min(int(gap * SAMPLE_RATE), wanted)
                heard = self._tail(wanted - silent)
                return np.concatenate([heard, np.zeros(silent, np.int16)])
        return self._tail(wanted)

    def _tail(self, wanted: int) -> Pcm:
        """The last ``wanted`` samples received (fewer if less was received)."""
        size = len(self._ring)
        n = min(wanted, size, self._written)
        if n <= 0:
            return np.zeros(0, np.int16)
        end = self._written % size
        if n <= end:
            return self._ring[end - n : end].copy()
        return np.concatenate([self._ring[size - (n - end) :], self._ring[:end]])


def tone_level(pcm: Pcm, freq: float, *, tolerance: float = 5.0) -> float:
    """Peak amplitude within ``freq`` +/- ``tolerance`` Hz, as a fraction of full scale.

    Hann window, FFT zero-padded to at least 1 Hz resolution; 0.0 for under 5 ms of audio.
    A full-scale sine reads about 1.0, a 0.3-amplitude tone about 0.3."""
    if len(pcm) < 240:
        return 0.0
    window = np.hanning(len(pcm))
    size = max(len(pcm), SAMPLE_RATE)
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * window, n=size))
    lo = max(0, int((freq - tolerance) * size / SAMPLE_RATE))
    hi = min(len(spectrum), int((freq + tolerance) * size / SAMPLE_RATE) + 2)
    return float(spectrum[lo:hi].max() * 2 / window.sum() / 32767)
