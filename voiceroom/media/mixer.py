"""Mixing arithmetic (pure): int32 accumulation, gains, a soft limiter, N loudest.

Gains are applied in Q14 fixed point so a whole mix stays in int32: 16 sources at full
scale with gain up to 4 cannot overflow (16 * 32767 * 65536 < 2**31 ... per term; terms
are shifted back before accumulation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt

from voiceroom.media.codec import Pcm
from voiceroom.media.config import FRAME_SAMPLES
from voiceroom.room.routing import Mix

Acc = npt.NDArray[np.int32]

MAX_GAIN = 4.0
_Q = 14
_UNITY = 1 << _Q


def gain_q14(gain: float) -> int:
    return round(min(max(gain, 0.0), MAX_GAIN) * _UNITY)


def accumulate(acc: Acc, frames: Mapping[str, Pcm], mix: Mix, scratch: Acc) -> int:
    """Add every available source of ``mix`` into ``acc`` (zeroed by the caller).

    Returns how many sources were added; sources absent from ``frames`` are skipped.
    """
    added = 0
    for source, gain in mix:
        frame = frames.get(source)
        if frame is None:
            continue
        q = gain_q14(gain)
        if q == _UNITY:
            acc += frame
        elif q:
            np.multiply(frame, q, out=scratch, dtype=np.int32)
            scratch >>= _Q
            acc += scratch
        else:
            continue
        added += 1
    return added


def level(frame: Pcm) -> float:
    """Mean absolute amplitude: cheap loudness for ranking speakers."""
    return float(np.abs(frame.astype(np.int32)).mean())


def loudest(levels: Mapping[str, float], n: int, eligible: Iterable[str]) -> frozenset[str]:
    """The ``n`` loudest of ``eligible`` (ties broken by name, so stable across ticks)."""
    ranked = sorted(eligible, key=lambda s: (-levels.get(s, 0.0), s))
    return frozenset(ranked[:n])


class Limiter:
    """Soft limiter for one mix: instant attack, smooth release, then hard clip as backstop.

    When a frame's peak exceeds the threshold the gain drops to fit at once (ramped across
    the frame from the previous gain, so no step), and recovers towards unity over
    ``release_frames`` frames. Continuity matters because each mix keeps one encoder.
    """

    __slots__ = ("_ramp", "_release", "_threshold", "gain")

    def __init__(self, *, threshold: float = 0.89, release_frames: int = 10) -> None:
        self._threshold = threshold * 32767.0
        self._release = 1.0 / release_frames
        self.gain = 1.0
        self._ramp = np.linspace(0.0, 1.0, FRAME_SAMPLES, dtype=np.float32)

    def process(self, acc: Acc, out: Pcm) -> Pcm:
        """Limit ``acc`` (int32, modified) into ``out`` (int16); returns ``out``."""
        peak = float(max(int(acc.max()), -int(acc.min())))
        wanted = 1.0 if peak <= self._threshold else self._threshold / peak
        start = self.gain
        if start >= 1.0 and wanted >= 1.0:
            np.clip(acc, -32768, 32767, out=acc)
            out[:] = acc
            return out
        if wanted <= start:
            # Attack: no look-ahead, so take the whole frame down at once (never overshoot).
            gains: float | npt.NDArray[np.float32] = wanted
            self.gain = wanted
        else:
            # Release: ramp up linearly; every gain in the ramp is <= wanted.
            end = min(wanted, start + self._release)
            gains = start + (end - start) * self._ramp
            self.gain = end
        scaled = acc * gains
        np.clip(scaled, -32768, 32767, out=scaled)
        out[:] = scaled
        return out
