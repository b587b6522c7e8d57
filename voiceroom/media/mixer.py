"""Mixing arithmetic (pure): int32 accumulation, gains, a soft limiter, N loudest.

Gains are applied in Q14 fixed point so a whole mix stays in int32: 16 sources at full
scale with gain up to 4 cannot overflow (16 * 32767 * 65536 < 2**31 ... per term; terms
are shifted back before accumulation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from voiceroom.media.codec import Pcm
from voiceroom.media.config import FRAME_SAMPLES
from voiceroom.room.routing import Mix

Acc = npt.NDArray[np.int32]
# A mix's audible terms: (source, Q14 gain != 0).
Terms = tuple[tuple[str, int], ...]

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


def _add_term(acc: Acc, frame: Pcm, q: int, scratch: Acc, sign: int = 1) -> None:
    """``acc += sign * term`` where term is ``frame`` at Q14 gain ``q`` (as accumulate)."""
    if q == _UNITY:
        term: Pcm | Acc = frame
    else:
        np.multiply(frame, q, out=scratch, dtype=np.int32)
        scratch >>= _Q
        term = scratch
    if sign > 0:
        acc += term
    else:
        acc -= term


def mix_many(
    jobs: Sequence[tuple[Acc, Terms]], frames: Mapping[str, Pcm], total: Acc, scratch: Acc
) -> None:
    """Fill each job's ``acc`` with the sum of its terms, each source scaled as
    :func:`accumulate` scales it; every term's source must have a frame in ``frames``.

    Mix-minus mixes share all but one or two terms (everyone but the listener), so the
    union of the jobs' terms is summed once into ``total`` and a job that lacks fewer terms
    than it has is ``total`` minus what it lacks: with 8 talkers, 16 array operations
    instead of 56. Integer arithmetic, so the result is exactly the direct sum (tested)."""
    base: dict[str, int] = {}
    for _, terms in jobs:
        for source, q in terms:
            base.setdefault(source, q)
    plans: list[list[tuple[str, int]] | None] = []
    any_from_total = False
    for _, terms in jobs:
        plan: list[tuple[str, int]] | None = None
        if all(base[source] == q for source, q in terms):
            have = {source for source, _ in terms}
            missing = [(s, q) for s, q in base.items() if s not in have]
            if len(missing) < len(terms):
                plan = missing
                any_from_total = True
        plans.append(plan)
    if any_from_total:
        total.fill(0)
        for source, q in base.items():
            _add_term(total, frames[source], q, scratch)
    for (acc, terms), lack in zip(jobs, plans, strict=True):
        if lack is None:
            acc.fill(0)
            for source, q in terms:
                _add_term(acc, frames[source], q, scratch)
        else:
            np.copyto(acc, total)
            for source, q in lack:
                _add_term(acc, frames[source], q, scratch, -1)


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

    It runs for every mix on every tick, so it works in buffers it owns and calls the
    ufuncs directly (``acc.max()`` and ``np.clip`` go through Python wrappers); the
    arithmetic, and so every output sample, is what ``out[:] = clip(acc * gains)`` gives.
    """

    __slots__ = ("_gains", "_in_range", "_ramp", "_release", "_scaled", "_threshold", "gain")

    def __init__(self, *, threshold: float = 0.89, release_frames: int = 10) -> None:
        self._threshold = threshold * 32767.0
        # A threshold at or below full scale means limited frames fit in int16 by
        # construction (every gain is <= threshold / peak), so the backstop clip is only
        # needed above it.
        self._in_range = self._threshold <= 32767.0
        self._release = 1.0 / release_frames
        self.gain = 1.0
        self._ramp = np.linspace(0.0, 1.0, FRAME_SAMPLES, dtype=np.float32)
        self._gains = np.empty(FRAME_SAMPLES, dtype=np.float32)
        self._scaled = np.empty(FRAME_SAMPLES, dtype=np.float64)

    def process(self, acc: Acc, out: Pcm) -> Pcm:
        """Limit ``acc`` (int32, modified) into ``out`` (int16); returns ``out``."""
        peak = float(max(int(_max(acc)), -int(_min(acc))))
        wanted = 1.0 if peak <= self._threshold else self._threshold / peak
        start = self.gain
        if start >= 1.0 and wanted >= 1.0:
            if not self._in_range:
                np.clip(acc, -32768, 32767, out=acc)
            # else peak <= threshold <= full scale: every sample fits, nothing to clip
            np.copyto(out, acc, casting="unsafe")
            return out
        gains: float | npt.NDArray[np.float32]
        if wanted <= start:
            # Attack: no look-ahead, so take the whole frame down at once (never overshoot).
            gains = wanted
            self.gain = wanted
        else:
            # Release: ramp up linearly (float32, as start + (end - start) * ramp); every
            # gain in the ramp is <= wanted.
            end = min(wanted, start + self._release)
            gains = np.multiply(self._ramp, end - start, out=self._gains)
            np.add(gains, start, out=gains)
            self.gain = end
        scaled = np.multiply(acc, gains, out=self._scaled)
        if not self._in_range:
            np.clip(scaled, -32768, 32767, out=scaled)
        np.copyto(out, scaled, casting="unsafe")
        return out


# The reductions themselves: ``ndarray.max`` adds Python frames per call.
_max = np.maximum.reduce
_min = np.minimum.reduce
