"""One publisher's uplink: RTP payloads -> jitter buffer -> Opus decode/FEC/PLC -> 20 ms PCM.

Pure apart from libopus: packets and ticks carry their time, so the loss and jitter
behaviour is unit-tested without sockets.

Silence (RFC 6464): the RTP tap hands a packet whose client-to-mixer audio level says
silence as a :class:`QuietPayload`. It goes through the jitter buffer like any packet (same
timing, loss, FEC and adaptation decisions), but once more than ``hangover`` quiet packets
came in a row it is not decoded: the source contributes nothing that tick (no decode, no
VAD, and its listeners' mix-minus shares the audience's encode). The first packet with
sound after a skipped run is preceded by decoding the last skipped one, output discarded,
so the decoder's state is that of a continuous stream and the onset is not smeared.
"""

from __future__ import annotations

import numpy as np

from voiceroom.media.codec import OpusDecoder, Pcm
from voiceroom.media.config import FRAME_SAMPLES, MediaConfig
from voiceroom.media.jitter import JitterBuffer, PullKind

# A packet longer than 20 ms (40/60 ms ptime) leaves samples for later ticks.
_FIFO_SAMPLES = 6_000 + FRAME_SAMPLES
_NO_FIFO: Pcm = np.zeros(0, dtype=np.int16)


class QuietPayload(bytes):
    """An uplink Opus payload whose RFC 6464 audio level said silence."""

    __slots__ = ()


def is_single_20ms(payload: bytes) -> bool:
    """True if the Opus packet is one 20 ms frame (RFC 6716 §3.1 TOC byte): only those
    are skipped, so a skipped packet stands for exactly one tick."""
    if not payload:
        return False
    toc = payload[0]
    if toc & 0x03:  # code 1-3: two or more frames
        return False
    config = toc >> 3
    if config < 12:  # SILK: 10/20/40/60 ms
        return config & 0x03 == 1
    if config < 16:  # hybrid: 10/20 ms
        return config & 0x01 == 1
    return config & 0x03 == 3  # CELT: 2.5/5/10/20 ms


class Ingest:
    __slots__ = (
        "_decoder",
        "_fifo",
        "_fill",
        "_frame",
        "_hangover",
        "_quiet_run",
        "_skipped",
        "decode_errors",
        "jitter",
        "last_arrival",
        "skipped",
    )

    def __init__(self, config: MediaConfig) -> None:
        self.jitter = JitterBuffer(
            min_frames=config.jitter_min_frames,
            max_frames=config.jitter_max_frames,
            max_conceal=config.max_conceal_frames,
        )
        # Made on the first packet to decode: most peers are listeners that never publish,
        # and a decoder with its buffers is ~50 KB and a libopus init per join.
        self._decoder: OpusDecoder | None = None
        self._fifo: Pcm = _NO_FIFO
        self._fill = 0
        self._frame: Pcm = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        self.decode_errors = 0
        # Arrival time of the newest packet whose audio is in the last frame (latency stat).
        self.last_arrival: float | None = None
        self._hangover = config.silence_hangover_frames
        self._quiet_run = 0  # quiet packets played in a row
        self._skipped: bytes | None = None  # last payload not decoded, while skipping
        self.skipped = 0  # ticks this source skipped as silent (stat)

    def push(self, seq: int, payload: bytes, now: float) -> None:
        self.jitter.push(seq, payload, now)

    def reset(self) -> None:
        self.jitter.reset()
        self._fill = 0
        self.last_arrival = None
        self._quiet_run = 0
        self._skipped = None

    def _skip(self, kind: PullKind, payload: bytes | None) -> bool:
        """Whether this pull is silence to skip (called only with an empty FIFO)."""
        if kind is PullKind.PLC:
            # A loss inside a skipped silent run: conceal nothing.
            return self._skipped is not None
        assert payload is not None
        if type(payload) is not QuietPayload:
            if kind is PullKind.PACKET:
                self._quiet_run = 0
            return False
        if kind is PullKind.PACKET:
            self._quiet_run += 1
        if self._quiet_run > self._hangover and is_single_20ms(payload):
            self._skipped = payload
            return True
        return False

    def frame(self, now: float) -> Pcm | None:
        """This tick's 960 samples, or None if the source is idle. The array is reused."""
        self.last_arrival = None
        # A 10 ms packet needs two pops for one tick; bound the loop for safety.
        for _ in range(4):
            if self._fill >= FRAME_SAMPLES:
                break
            pull = self.jitter.pop(now)
            if pull.kind is PullKind.IDLE:
                if self._fill == 0:
                    return None
                break
            if self._fill == 0 and self._skip(pull.kind, pull.payload):
                self.skipped += 1
                return None
            decoder = self._decoder
            if decoder is None:
                decoder = self._decoder = OpusDecoder()
                self._fifo = np.zeros(_FIFO_SAMPLES, dtype=np.int16)
            if self._skipped is not None:
                # Sound again: replay the last skipped packet into the decoder first.
                prime, self._skipped = self._skipped, None
                try:
                    decoder.decode(prime)
                except Exception:
                    self.decode_errors += 1
            try:
                if pull.kind is PullKind.PACKET:
                    assert pull.payload is not None
                    pcm = decoder.decode(pull.payload)
                elif pull.kind is PullKind.FEC:
                    assert pull.payload is not None
                    pcm = decoder.decode_fec(pull.payload)
                else:
                    pcm = decoder.conceal()
            except Exception:  # a corrupt packet must not take the room down
                self.decode_errors += 1
                pcm = decoder.conceal()
            if pull.arrival is not None:
                self.last_arrival = pull.arrival
            if self._fill == 0 and len(pcm) == FRAME_SAMPLES:
                # The usual case, one 20 ms frame: straight out, not through the FIFO.
                self._frame[:] = pcm
                return self._frame
            n = min(len(pcm), _FIFO_SAMPLES - self._fill)
            self._fifo[self._fill : self._fill + n] = pcm[:n]
            self._fill += n
        if self._fill == 0:
            return None
        n = min(self._fill, FRAME_SAMPLES)
        frame = self._frame
        frame[:n] = self._fifo[:n]
        if n < FRAME_SAMPLES:
            frame[n:] = 0
        rest = self._fill - n
        if rest:
            self._fifo[:rest] = self._fifo[n : self._fill]
        self._fill = rest
        return frame
