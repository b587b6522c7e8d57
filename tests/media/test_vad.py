from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from voiceroom.media.music import decode_frames
from voiceroom.media.vad import Hysteresis, SpeakingDetector, to_16k


def feed(h: Hysteresis, pattern: str, t0: float = 0.0) -> list[tuple[int, bool]]:
    out = []
    for i, c in enumerate(pattern):
        change = h.update(c == "1", t0 + i * 0.02)
        if change is not None:
            out.append((i, change))
    return out


def test_hysteresis_needs_runs_to_switch() -> None:
    h = Hysteresis(on_frames=3, off_frames=5, min_interval=0.0)
    assert feed(h, "1101100111") == [(9, True)]  # only a run of three counts
    h = Hysteresis(on_frames=3, off_frames=5, min_interval=0.0)
    assert feed(h, "111" + "0000" + "1" + "00000") == [(2, True), (12, False)]


def test_rate_limit_defers_and_drops_undone_flips() -> None:
    h = Hysteresis(on_frames=1, off_frames=1, min_interval=0.1)  # 5 frames
    # on at 0; off at 1 (held back); back on at 2: the off was undone, never reported.
    assert feed(h, "1011111") == [(0, True)]
    h = Hysteresis(on_frames=1, off_frames=1, min_interval=0.1)
    # on at 0, off at 1 held back until 0.1 s (frame 5), then reported.
    assert feed(h, "1000000") == [(0, True), (5, False)]


def test_decimation_keeps_length_and_level() -> None:
    x = (np.sin(np.arange(960) * 2 * np.pi * 200 / 48_000) * 10_000).astype(np.int16)
    y = np.frombuffer(to_16k(x), np.int16)
    assert len(y) == 320
    assert abs(np.abs(y).max() - 10_000) < 300


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_detector_reports_speech_then_silence(tmp_path: Path) -> None:
    wav = tmp_path / "s.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(wav), "the voice room is open, who wants the mic"], check=True
    )
    speech = list(decode_frames(str(wav)))
    det = SpeakingDetector(aggressiveness=2, on_frames=3, off_frames=25, min_interval=0.25)
    silence = [np.zeros(960, np.int16)] * 60
    events = []
    for i, frame in enumerate(silence[:10] + speech + silence):
        change = det.update(frame, i * 0.02)
        if change is not None:
            events.append((i, change))
    assert [e[1] for e in events] == [True, False]
    start, end = events[0][0], events[1][0]
    assert 10 <= start < 10 + 25  # speech onset within half a second
    assert end >= 10 + len(speech)  # not before the speech ends
    assert det.update(None, 99.0) is None  # idle source: stays silent


def test_to_16k_is_the_mean_of_each_triple_rounded_down() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        x = rng.integers(-32768, 32767, 960, dtype=np.int16)
        want = (x.reshape(-1, 3).astype(np.int32).sum(axis=1) // 3).astype(np.int16)
        assert to_16k(x) == want.tobytes()
