"""Synthesize the demo warm-up track: a soft 12 s arpeggio loop, mono Opus in Ogg.

``voiceroom serve --demo`` plays it when no ``music_dir`` is configured, so the warm-up has
music with no setup. Everything is generated here from sine and triangle-ish tones (no
samples, no third-party audio), so the track is ours to ship under the project's licence.

    .venv/bin/python scripts/make_demo_music.py            # rewrites the committed file
    .venv/bin/python scripts/make_demo_music.py -o x.ogg   # somewhere else

The loop is seamless: the tails of the last notes wrap around to the start.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

RATE = 48_000
BPM = 80.0
BEAT = 60.0 / BPM  # 0.75 s
STEP = BEAT / 2  # eighth notes
BARS = 4  # one chord per bar, four beats a bar: 4 x 3 s = 12 s
LENGTH = int(RATE * BARS * 4 * BEAT)
# I - vi - IV - V in C major, as MIDI notes (root, third, fifth).
CHORDS = [(60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62)]
# Up and down the chord over an octave: 8 eighths per bar.
PATTERN = [0, 1, 2, 3, 4, 3, 2, 1]
# FFmpeg's flag values (libavformat/avformat.h, libavcodec/avcodec.h).
AVFMT_FLAG_BITEXACT = 0x0400
AV_CODEC_FLAG_BITEXACT = 1 << 23
OUT = Path(__file__).resolve().parents[1] / "voiceroom" / "assets" / "music" / "demo-warmup.ogg"

Signal = npt.NDArray[np.float64]


def hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def tone(freq: float, seconds: float, *, attack: float, decay: float) -> Signal:
    """A sine with a touch of odd harmonics (a rounded triangle), fast attack, slow decay."""
    t = np.arange(int(RATE * seconds)) / RATE
    wave = (
        np.sin(2 * math.pi * freq * t)
        + np.sin(2 * math.pi * 3 * freq * t) / 9 * 0.6
        + np.sin(2 * math.pi * 5 * freq * t) / 25 * 0.3
    )
    env = np.minimum(t / attack, 1.0) * np.exp(-t / decay)
    # Fade the last 50 ms so a cut tail never clicks.
    fade = np.clip((seconds - t) / 0.05, 0.0, 1.0)
    result: Signal = wave * env * fade
    return result


def add_looped(track: Signal, sound: Signal, at: int) -> None:
    """Mix ``sound`` into ``track`` at sample ``at``, wrapping past the end to the start."""
    idx = (np.arange(len(sound)) + at) % len(track)
    np.add.at(track, idx, sound)


def synthesize() -> Signal:
    track = np.zeros(LENGTH)
    bar = int(RATE * 4 * BEAT)
    for b, chord in enumerate(CHORDS):
        notes = [*chord, chord[0] + 12, chord[1] + 12]
        for i, step in enumerate(PATTERN):
            at = b * bar + int(RATE * i * STEP)
            add_looped(track, 0.22 * tone(hz(notes[step]), 1.6, attack=0.012, decay=0.45), at)
        # A quiet bass under each bar: the root an octave down, slow attack, long decay.
        add_looped(track, 0.28 * tone(hz(chord[0] - 12), 3.4, attack=0.08, decay=1.6), b * bar)
    peak = float(np.max(np.abs(track)))
    normalized: Signal = track / peak * 0.6  # about -4.4 dBFS: soft, leaves room for voices
    return normalized


def write_ogg(samples: Signal, path: Path, bitrate: int = 32_000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (samples * 32767).astype(np.int16)
    with av.open(str(path), "w", format="ogg") as out:
        # Bit-exact: no random Ogg serial number or encoder tag, so a rerun rewrites
        # the committed file byte for byte.
        out.flags |= AVFMT_FLAG_BITEXACT
        stream = out.add_stream("libopus", rate=RATE)
        stream.layout = "mono"
        stream.bit_rate = bitrate
        stream.codec_context.flags |= AV_CODEC_FLAG_BITEXACT
        frame_samples = 960
        for start in range(0, len(pcm), frame_samples):
            chunk = pcm[start : start + frame_samples]
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = RATE
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=OUT)
    args = parser.parse_args()
    write_ogg(synthesize(), args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes, {LENGTH / RATE:.1f} s)")


if __name__ == "__main__":
    main()
