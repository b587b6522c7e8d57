"""One uplink's ingest with RFC 6464 silence skipping: time is an argument, libopus is real."""

from __future__ import annotations

import ctypes

import numpy as np
import opuslib
import opuslib.api.encoder

from voiceroom.media.codec import OpusEncoder
from voiceroom.media.config import FRAME_SAMPLES, MediaConfig
from voiceroom.media.ingest import Ingest, QuietPayload, is_single_20ms
from voiceroom.media.jitter import FRAME_SECONDS

T = FRAME_SECONDS
HANG = 5


def talk_and_pause(pattern: str) -> tuple[list[bytes], list[bool]]:
    """One 20 ms Opus packet per character: 't' a 440 Hz tone, '.' digital silence."""
    enc = OpusEncoder(bitrate=32_000)
    t = np.arange(FRAME_SAMPLES) / 48_000
    out: list[bytes] = []
    for i, c in enumerate(pattern):
        if c == "t":
            pcm = (8_000 * np.sin(2 * np.pi * 440 * (t + i * T))).astype(np.int16)
        else:
            pcm = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        out.append(enc.encode(np.ascontiguousarray(pcm)))
    return out, [c == "." for c in pattern]


def run(
    payloads: list[bytes], quiet: list[bool], *, mark: bool, lose: frozenset[int] = frozenset()
) -> tuple[list[np.ndarray | None], Ingest]:
    ingest = Ingest(MediaConfig(silence_hangover_frames=HANG))
    frames: list[np.ndarray | None] = []
    for k, (p, q) in enumerate(zip(payloads, quiet, strict=True)):
        if k not in lose:
            ingest.push(k, QuietPayload(p) if mark and q else p, k * T)
        f = ingest.frame(k * T + 0.001)
        frames.append(None if f is None else f.copy())
    return frames, ingest


def test_quiet_packets_after_the_hangover_are_not_decoded_and_sound_is() -> None:
    pattern = "t" * 20 + "." * 30 + "t" * 20 + "." * 3 + "t" * 10
    payloads, quiet = talk_and_pause(pattern)
    plain, a = run(payloads, quiet, mark=False)
    marked, b = run(payloads, quiet, mark=True)
    # The jitter buffer saw and decided exactly the same things.
    assert a.jitter.stats == b.jitter.stats
    skipped = [k for k, f in enumerate(marked) if f is None]
    # 30 quiet frames: the first HANG decoded (word endings), the rest skipped; 3 quiet
    # frames (< hangover) never skipped; no sound frame ever skipped (onsets intact).
    first_played = next(k for k, f in enumerate(plain) if f is not None)
    assert skipped == [k for k in range(first_played)] + list(range(20 + HANG, 50))
    assert b.skipped == 30 - HANG
    for k, c in enumerate(pattern):
        if c == "t" and k >= first_played:
            assert marked[k] is not None


def test_audio_after_a_skipped_run_matches_a_continuous_decode() -> None:
    # The decoder is primed with the last skipped packet: after digital silence the onset
    # decodes sample for sample as if every packet had been decoded (without priming it
    # differs slightly in the first frame).
    payloads, quiet = talk_and_pause("t" * 10 + "." * 40 + "t" * 15)
    plain, _ = run(payloads, quiet, mark=False)
    marked, _ = run(payloads, quiet, mark=True)
    for k in range(50, 64):
        p, m = plain[k], marked[k]
        assert p is not None and m is not None
        assert np.array_equal(p, m), k


def test_a_loss_inside_skipped_silence_conceals_nothing() -> None:
    payloads, quiet = talk_and_pause("t" * 10 + "." * 30 + "t" * 10)
    lose = frozenset({25, 30, 31})
    _, a = run(payloads, quiet, mark=False, lose=lose)
    marked, b = run(payloads, quiet, mark=True, lose=lose)
    assert a.jitter.stats == b.jitter.stats and b.jitter.stats.lost >= 3
    assert all(marked[k] is None for k in range(10 + HANG + 1, 40))
    assert all(marked[k] is not None for k in range(41, 50))


def test_only_single_20ms_packets_count_as_one_tick() -> None:
    state = opuslib.api.encoder.create_state(48_000, 1, opuslib.APPLICATION_VOIP)
    buf = (ctypes.c_char * 1500)()

    def encode(samples: int) -> bytes:
        pcm = np.zeros(samples, dtype=np.int16)
        n = opuslib.api.encoder.libopus_encode(
            state, pcm.ctypes.data_as(opuslib.api.c_int16_pointer), samples, buf, 1500
        )
        return ctypes.string_at(buf, n)

    assert is_single_20ms(encode(960))
    assert not is_single_20ms(encode(480))
    assert not is_single_20ms(encode(1920))
    assert not is_single_20ms(encode(2880))
    assert not is_single_20ms(b"")
    opuslib.api.encoder.destroy(state)


def test_a_listener_never_gets_a_decoder() -> None:
    ingest = Ingest(MediaConfig())
    for k in range(50):
        assert ingest.frame(k * FRAME_SECONDS) is None
    assert ingest._decoder is None  # no libopus state, no buffers for a peer never heard
    enc = OpusEncoder(bitrate=32_000)
    tone = (np.sin(np.arange(FRAME_SAMPLES) * 0.05) * 8_000).astype(np.int16)
    heard = 0
    for k in range(50, 60):
        ingest.push(k, enc.encode(tone), k * FRAME_SECONDS)
        frame = ingest.frame(k * FRAME_SECONDS + 0.001)
        heard += frame is not None and int(np.abs(frame).max()) > 1_000
    assert ingest._decoder is not None and heard >= 7
