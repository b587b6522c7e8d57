from __future__ import annotations

import numpy as np

from voiceroom.media.config import FRAME_SAMPLES, SAMPLE_RATE
from voiceroom.media.mixer import Limiter, accumulate, gain_q14, level, loudest, mix_many
from voiceroom.room.routing import make_mix


def tone(freq: float, amp: float, n: int = 0) -> np.ndarray:
    t = (np.arange(FRAME_SAMPLES) + n * FRAME_SAMPLES) / SAMPLE_RATE
    return (np.sin(2 * np.pi * freq * t) * amp * 32767).astype(np.int16)


def fresh() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(FRAME_SAMPLES, np.int32), np.zeros(FRAME_SAMPLES, np.int32)


def test_accumulate_sums_only_the_mix_with_gains() -> None:
    frames = {"a": tone(300, 0.2), "b": tone(500, 0.2), "c": tone(700, 0.2)}
    acc, scratch = fresh()
    added = accumulate(acc, frames, make_mix({"a": 1.0, "b": 0.5, "absent": 1.0}), scratch)
    assert added == 2
    expected = frames["a"].astype(np.int32) + (frames["b"].astype(np.int32) * 8192 >> 14)
    assert np.array_equal(acc, expected)


def test_mix_minus_excludes_the_listener() -> None:
    frames = {"a": tone(300, 0.2), "b": tone(500, 0.2)}
    acc, scratch = fresh()
    accumulate(acc, frames, make_mix({"b": 1.0}), scratch)  # a's mix: everyone but a
    assert np.array_equal(acc, frames["b"].astype(np.int32))


def test_int32_accumulation_does_not_wrap() -> None:
    frames = {f"s{i}": np.full(FRAME_SAMPLES, 32767, np.int16) for i in range(16)}
    acc, scratch = fresh()
    accumulate(acc, frames, make_mix(dict.fromkeys(frames, 4.0)), scratch)
    assert int(acc.min()) == 16 * ((32767 * 65536) >> 14)


def test_limiter_is_transparent_below_threshold() -> None:
    lim = Limiter(threshold=0.89)
    x = tone(440, 0.5).astype(np.int32)
    out = lim.process(x.copy(), np.zeros(FRAME_SAMPLES, np.int16))
    assert np.array_equal(out, x.astype(np.int16))
    assert lim.gain == 1.0


def test_limiter_holds_peaks_under_threshold_without_wrapping_then_releases() -> None:
    lim = Limiter(threshold=0.89, release_frames=10)
    out = np.zeros(FRAME_SAMPLES, np.int16)
    for n in range(5):  # four loud speakers at once: peak ~ 2.8x full scale
        acc = sum(tone(f, 0.7, n).astype(np.int32) for f in (300, 450, 600, 750))
        assert isinstance(acc, np.ndarray)
        lim.process(acc.copy(), out)
        assert np.abs(out.astype(np.int32)).max() <= 0.89 * 32767 + 1
        # Soft limiting scales, it does not clip: shape (correlation) is preserved.
        assert np.corrcoef(out, acc)[0, 1] > 0.999
    assert lim.gain < 0.5
    quiet = tone(440, 0.1).astype(np.int32)
    gains = []
    for _ in range(12):
        lim.process(quiet.copy(), out)
        gains.append(lim.gain)
    assert gains == sorted(gains)  # smooth release, no jump back
    assert gains[-1] == 1.0


def test_loudest_picks_n_by_level_stably() -> None:
    frames = {"a": tone(300, 0.1), "b": tone(300, 0.5), "c": tone(300, 0.3), "d": tone(300, 0.3)}
    levels = {k: level(v) for k, v in frames.items()}
    assert loudest(levels, 2, frames) == {"b", "c"}  # c and d tie: name breaks it
    assert loudest(levels, 10, frames) == set(frames)


def _direct(frames: dict[str, np.ndarray], terms: tuple[tuple[str, int], ...]) -> np.ndarray:
    acc, scratch = fresh()
    mix = make_mix({s: q / (1 << 14) for s, q in terms})
    accumulate(acc, frames, mix, scratch)
    return acc


def test_mix_many_is_exactly_the_direct_sum_for_every_kind_of_mix() -> None:
    rng = np.random.default_rng(11)
    names = [f"s{i}" for i in range(8)]
    for _round in range(40):
        frames = {
            n: rng.integers(-32768, 32767, FRAME_SAMPLES, dtype=np.int16).astype(np.int16)
            for n in names
        }
        unity = gain_q14(1.0)
        jobs_terms: list[tuple[tuple[str, int], ...]] = [
            tuple((n, unity) for n in names),  # the audience
            *(tuple((o, unity) for o in names if o != n) for n in names),  # mix-minus
            (("s0", gain_q14(0.5)), ("s1", unity)),  # a gain the others do not use
            tuple((n, gain_q14(float(rng.uniform(0.1, 4.0)))) for n in names[:3]),
            (),  # nobody audible
            tuple((n, unity) for n in names[2:]),  # lacks two
        ]
        rng.shuffle(jobs_terms)  # whichever comes first sets the shared gains
        accs = [np.full(FRAME_SAMPLES, 12345, np.int32) for _ in jobs_terms]
        total, scratch = fresh()
        mix_many(list(zip(accs, jobs_terms, strict=True)), frames, total, scratch)
        for acc, terms in zip(accs, jobs_terms, strict=True):
            assert np.array_equal(acc, _direct(frames, terms)), terms


def test_mix_many_uses_the_shared_total_for_mix_minus() -> None:
    frames = {f"s{i}": tone(300 + 100 * i, 0.1) for i in range(4)}
    unity = gain_q14(1.0)
    terms = [tuple((o, unity) for o in frames if o != n) for n in frames]
    accs = [np.zeros(FRAME_SAMPLES, np.int32) for _ in terms]
    total, scratch = fresh()
    mix_many(list(zip(accs, terms, strict=True)), frames, total, scratch)
    everyone = sum(f.astype(np.int32) for f in frames.values())
    assert np.array_equal(total, everyone)  # summed once...
    for acc, n in zip(accs, frames, strict=True):  # ...and each is total minus one
        assert np.array_equal(acc, everyone - frames[n])


def test_limiter_at_unity_passes_in_range_frames_unchanged() -> None:
    lim = Limiter(threshold=1.0)
    acc = np.array([32767, -32767, 0, 5] + [0] * (FRAME_SAMPLES - 4), np.int32)
    out = np.zeros(FRAME_SAMPLES, np.int16)
    lim.process(acc.copy(), out)
    assert np.array_equal(out, acc.astype(np.int16)) and lim.gain == 1.0
