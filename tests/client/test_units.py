"""The client's pure parts: URLs, the room mirror, audio sources, the recorder, the CLI."""

from __future__ import annotations

import argparse
import wave
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from voiceroom.auth import verify_token
from voiceroom.client.audio import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    FileSource,
    Recorder,
    SilenceSource,
    ToneSource,
    tone_level,
)
from voiceroom.client.bot import configs_from_args
from voiceroom.client.cli import add_bot_arguments
from voiceroom.client.connection import ws_url
from voiceroom.client.errors import ServerError, parse_code
from voiceroom.client.state import Event, RoomState
from voiceroom.room.errors import ErrorCode


def test_ws_url_accepts_demo_links_and_bare_servers() -> None:
    url, token = ws_url("http://localhost:8765/?token=abc")
    assert token == "abc"
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("ws", "localhost:8765", "/ws")
    assert parse_qs(parts.query) == {"token": ["abc"]}
    url, _ = ws_url("wss://x.example/ws/demo", "t", resume=41)
    assert url.startswith("wss://x.example/ws/demo?")
    assert parse_qs(urlsplit(url).query) == {"token": ["t"], "resume": ["41"]}
    with pytest.raises(ValueError):
        ws_url("ws://localhost:8765")  # no token anywhere
    with pytest.raises(ValueError):
        ws_url("ftp://x", "t")


def test_unknown_error_codes_survive_as_strings() -> None:
    assert parse_code("seat_taken") is ErrorCode.SEAT_TAKEN
    assert parse_code("from_the_future") == "from_the_future"
    err = ServerError(ErrorCode.SEAT_TAKEN, "taken", "seat.take")
    assert "seat_taken" in str(err) and err.request == "seat.take"


def _snapshot() -> dict[str, object]:
    seat = {"index": 0, "status": "taken", "user": "h", "name": "H", "tier": "vip"}
    return {
        "room": "r",
        "phase": "warmup",
        "you": {"user": "ann", "role": "listener", "name": "Ann"},
        "seats": [seat, {"index": 1, "status": "free"}, {"index": 2, "status": "free"}],
        "members": [{"user": "h", "role": "host", "connected": True}],
        "member_count": 2,
        "your_seat": None,
        "consultations": [],
        "chat": [],
    }


def test_room_state_follows_events() -> None:
    s = RoomState()
    s.load_snapshot(_snapshot())
    assert (s.user, s.role, s.phase, s.seated) == ("ann", "listener", "warmup", False)
    s.apply(Event("seat.updated", {"seat": {"index": 2, "status": "taken", "user": "ann"}}, 5))
    assert s.my_seat == 2 and s.seat_of("ann") == 2
    # A move: the old seat frees, then the new one is taken.
    s.apply(Event("seat.updated", {"seat": {"index": 2, "status": "free"}}, 6))
    s.apply(Event("seat.updated", {"seat": {"index": 1, "status": "taken", "user": "ann"}}, 7))
    assert s.my_seat == 1
    s.apply(Event("room.phase", {"phase": "show", "show_starts_at": None}, 8))
    s.apply(Event("queue.position", {"position": 2, "reason": "joined"}, 9))
    consult = {"id": 4, "kind": "stage", "mode": "listen_in", "staff": "h", "shopper": "ann"}
    s.apply(Event("consult.started", {"consultation": consult}, 10))
    assert s.phase == "show" and s.queue_position == 2 and 4 in s.consultations
    s.apply(Event("consult.ended", {"id": 4, "kind": "stage", "by": "h", "reason": "ended"}, 11))
    s.apply(Event("member.presence", {"user": "h", "connected": False}, 12))
    s.apply(Event("member.role", {"user": "ann", "role": "cohost"}, 13))
    s.apply(Event("something.new", {"x": 1}, 14))  # ignored, not an error
    s.apply(Event("room.count", {"members": 40}))  # ephemeral: no seq
    assert s.member_count == 40
    assert not s.consultations and s.members["h"]["connected"] is False and s.role == "cohost"


def test_tone_source_is_continuous_and_at_the_right_frequency() -> None:
    src = ToneSource(1000.0, amplitude=0.5)
    pcm = np.concatenate([src.read() for _ in range(50)])
    assert len(pcm) == 50 * FRAME_SAMPLES
    assert tone_level(pcm, 1000.0) == pytest.approx(0.5, abs=0.01)
    assert tone_level(pcm, 1500.0) < 0.001
    assert not SilenceSource().read().any()
    with pytest.raises(ValueError):
        ToneSource(30_000.0)


def _write_wav(path: Path, pcm: np.ndarray, rate: int, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.astype(np.int16).tobytes())


def test_file_source_resamples_to_48k_mono_and_loops(tmp_path: Path) -> None:
    rate = 16_000
    t = np.arange(rate // 2) / rate  # 0.5 s of 500 Hz, stereo
    mono = (np.sin(2 * np.pi * 500 * t) * 10_000).astype(np.int16)
    path = tmp_path / "in.wav"
    _write_wav(path, np.repeat(mono, 2), rate, channels=2)
    once = FileSource(path, loop=False)
    frames = []
    while (frame := once.read()) is not None:
        frames.append(frame)
    assert len(frames) == pytest.approx(25, abs=1)  # 0.5 s in 20 ms frames
    pcm = np.concatenate(frames)
    assert tone_level(pcm[: SAMPLE_RATE // 4], 500.0) > 0.2
    looped = FileSource(path, loop=True)
    assert all(looped.read() is not None for _ in range(100))


def test_recorder_keeps_the_last_seconds_and_writes_wav(tmp_path: Path) -> None:
    rec = Recorder(keep_seconds=0.1, path=tmp_path / "out.wav")  # 4800 samples kept
    low, high = ToneSource(300.0), ToneSource(3000.0)
    for _ in range(10):
        rec.write(low.read())
    for _ in range(3):
        rec.write(high.read())
    assert rec.seconds == pytest.approx(13 * 0.02)
    last = rec.recent(0.04)
    assert len(last) == 2 * FRAME_SAMPLES
    assert tone_level(last, 3000.0) > 0.2 and tone_level(last, 300.0) < 0.02
    assert len(rec.recent(5.0)) == 4800  # never more than kept
    rec.stop_recording()
    with wave.open(str(tmp_path / "out.wav"), "rb") as f:
        assert f.getnframes() == 13 * FRAME_SAMPLES


def test_recorder_hears_silence_once_nothing_arrives() -> None:
    """A stalled or closed peer: the time since its last frame is silence, so a bot does
    not go on "hearing" a tone through an outage (found by a docs-only client)."""
    now = [100.0]
    rec = Recorder(keep_seconds=5.0, clock=lambda: now[0])
    tone = ToneSource(700.0)
    for _ in range(100):  # 2 s of tone, as it arrives
        rec.write(tone.read())
        now[0] += 0.02
    assert tone_level(rec.recent(1.0), 700.0) > 0.2
    now[0] += 0.1  # a late frame or two: still the tone
    assert tone_level(rec.recent(1.0), 700.0) > 0.2
    now[0] += 0.5  # 0.6 s without a frame: the last second is mostly silence
    half = rec.recent(1.0)
    assert len(half) == 48_000 and not half[-24_000:].any() and half[:16_000].any()
    now[0] += 5.0  # the peer is gone
    assert tone_level(rec.recent(1.0), 700.0) == 0.0
    rec.write(tone.read())  # audio again
    assert tone_level(rec.recent(0.02), 700.0) > 0.2


def _args(*argv: str) -> argparse.Namespace:
    return add_bot_arguments(argparse.ArgumentParser()).parse_args(list(argv))


def test_cli_options_become_bot_configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOICEROOM_SECRET", raising=False)
    (one,) = configs_from_args(_args("http://h:1/?token=T", "--speak", "--tone", "440"))
    assert one.speak and one.tone == 440.0 and one.token is None and one.media
    secret = "s" * 32
    bots = configs_from_args(
        _args(
            "ws://h:1",
            "--secret",
            secret,
            "--room",
            "demo",
            "--count",
            "3",
            "--tone",
            "440",
            "--record-dir",
            str(tmp_path / "rec"),
            "--expect-tone",
            "700",
        )
    )
    assert [verify_token(secret, b.token).user for b in bots] == ["bot-1", "bot-2", "bot-3"]
    assert len({b.tone for b in bots}) == 3  # distinct tones, told apart by FFT
    assert bots[2].record == tmp_path / "rec" / "bot-3.wav"
    assert bots[0].expect_tones == (700.0,)
    with pytest.raises(ValueError):
        configs_from_args(_args("ws://h:1"))  # no token, no secret
    for listening in (["--record", "x.wav"], ["--expect-tone", "700"]):
        with pytest.raises(ValueError, match="need media"):  # nothing would be heard
            configs_from_args(_args("ws://h:1/?token=t", "--no-media", *listening))
