from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from tests.media.client import tone_level
from voiceroom.media.music import MusicError, MusicPlayer, decode_frames


def sox(path: Path, seconds: float, freq: int, rate: int = 44_100) -> Path:
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            str(rate),
            "-c",
            "2",
            str(path),
            "synth",
            str(seconds),
            "sine",
            str(freq),
        ],
        check=True,
    )
    return path


def mp3(path: Path, seconds: float, freq: int) -> Path:
    rate = 44_100
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libmp3lame", rate=rate)
        t = np.arange(int(seconds * rate)) / rate
        pcm = (np.sin(2 * np.pi * freq * t) * 0.5 * 32767).astype(np.int16)
        for i in range(0, len(pcm), 1152):
            frame = av.AudioFrame.from_ndarray(pcm[None, i : i + 1152], format="s16", layout="mono")
            frame.sample_rate = rate
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode(None):
            out.mux(p)
    return path


needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="needs sox")


@needs_sox
@pytest.mark.parametrize("ext", ["wav", "ogg"])
def test_file_decodes_to_48k_mono_20ms_frames(tmp_path: Path, ext: str) -> None:
    path = sox(tmp_path / f"t.{ext}", 1.0, 500)
    frames = list(decode_frames(str(path)))
    assert all(f.shape == (960,) and f.dtype == np.int16 for f in frames)
    assert 49 <= len(frames) <= 51  # 1 s = 50 frames (+ codec padding)
    pcm = np.concatenate(frames[5:45])
    assert tone_level(pcm, 500) > 0.5  # sox's default sine is near full scale
    assert tone_level(pcm, 1000) < 0.01


def test_mp3_decodes(tmp_path: Path) -> None:
    frames = list(decode_frames(str(mp3(tmp_path / "t.mp3", 0.5, 700))))
    assert 24 <= len(frames) <= 28
    pcm = np.concatenate(frames[3:20])
    assert tone_level(pcm, 700) > 0.25  # written at 0.5
    assert tone_level(pcm, 1400) < 0.01


@needs_sox
def test_gain_and_loop(tmp_path: Path) -> None:
    path = sox(tmp_path / "t.wav", 0.2, 500)
    once = list(decode_frames(str(path)))
    looped = decode_frames(str(path), gain=0.25, loop=True)
    frames = [next(looped) for _ in range(len(once) * 3)]
    full = tone_level(np.concatenate(once[1:-1]), 500)
    quarter = tone_level(np.concatenate(frames[1 : len(once) - 1]), 500)
    assert abs(quarter / full - 0.25) < 0.02
    # The third pass is still the tone: looping really restarts the file.
    third = tone_level(np.concatenate(frames[2 * len(once) + 1 : 3 * len(once) - 1]), 500)
    assert abs(third / quarter - 1) < 0.05


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(MusicError):
        list(decode_frames(str(tmp_path / "nope.ogg")))


@needs_sox
def test_player_ends_and_stops(tmp_path: Path) -> None:
    import time

    player = MusicPlayer(str(sox(tmp_path / "t.wav", 0.1, 500)), gain=1.0, loop=False)
    player.start()
    got = 0
    deadline = time.monotonic() + 2
    while not player.finished and time.monotonic() < deadline:
        if player.next_frame() is not None:
            got += 1
        else:
            time.sleep(0.001)
    assert player.finished and 5 <= got <= 6
    player.stop()
