"""One publisher's uplink: RTP payloads -> jitter buffer -> Opus decode/FEC/PLC -> 20 ms PCM.

Pure apart from libopus: packets and ticks carry their time, so the loss and jitter
behaviour is unit-tested without sockets.
"""

from __future__ import annotations

import numpy as np

from voiceroom.media.codec import OpusDecoder, Pcm
from voiceroom.media.config import FRAME_SAMPLES, MediaConfig
from voiceroom.media.jitter import JitterBuffer, PullKind

# A packet longer than 20 ms (40/60 ms ptime) leaves samples for later ticks.
_FIFO_SAMPLES = 6_000 + FRAME_SAMPLES


class Ingest:
    __slots__ = (
        "_decoder",
        "_fifo",
        "_fill",
        "_frame",
        "decode_errors",
        "jitter",
        "last_arrival",
    )

    def __init__(self, config: MediaConfig) -> None:
        self.jitter = JitterBuffer(
            min_frames=config.jitter_min_frames,
            max_frames=config.jitter_max_frames,
            max_conceal=config.max_conceal_frames,
        )
        self._decoder = OpusDecoder()
        self._fifo: Pcm = np.zeros(_FIFO_SAMPLES, dtype=np.int16)
        self._fill = 0
        self._frame: Pcm = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        self.decode_errors = 0
        # Arrival time of the newest packet whose audio is in the last frame (latency stat).
        self.last_arrival: float | None = None

    def push(self, seq: int, payload: bytes, now: float) -> None:
        self.jitter.push(seq, payload, now)

    def reset(self) -> None:
        self.jitter.reset()
        self._fill = 0
        self.last_arrival = None

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
            try:
                if pull.kind is PullKind.PACKET:
                    assert pull.payload is not None
                    pcm = self._decoder.decode(pull.payload)
                elif pull.kind is PullKind.FEC:
                    assert pull.payload is not None
                    pcm = self._decoder.decode_fec(pull.payload)
                else:
                    pcm = self._decoder.conceal()
            except Exception:  # a corrupt packet must not take the room down
                self.decode_errors += 1
                pcm = self._decoder.conceal()
            if pull.arrival is not None:
                self.last_arrival = pull.arrival
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
