"""What the welcome adds to the core's snapshot (who is speaking, the music library for
moderators), the room.count broadcast, and the demo's bundled music."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from voiceroom.config import DEMO_MUSIC_DIR, Config
from voiceroom.server import demo_config
from voiceroom.signalling.media_bridge import list_tracks

from .harness import ServerFactory
from .test_ws_media import FakeMediaRoom, media_server


async def test_late_joiner_and_resumer_learn_who_is_speaking(make_server: ServerFactory) -> None:
    h = await media_server(make_server)
    host = await h.join("host", "host")
    ann = await h.join("ann")
    assert host.welcome["body"]["speaking"] == []
    await ann.ok("seat.take", {"seat": 2})
    await ann.ok("media.offer", {"sdp": "v=0"})
    (media,) = FakeMediaRoom.instances
    media.on_speaking("ann", True)
    await host.next("media.speaking", user="ann", speaking=True)

    bob = await h.join("bob")  # joins mid-sentence: the ring is in the welcome
    assert bob.welcome["body"]["speaking"] == ["ann"]
    assert (await bob.ok("sync"))["body"]["speaking"] == ["ann"]

    # A resume that replays events still carries it (media.speaking is never replayed).
    seq = bob.last_seq
    await bob.drop()
    media.on_speaking("host", True)
    await host.next("media.speaking", user="host", speaking=True)
    bob2 = await h.join("bob", resume=seq)
    assert bob2.welcome["body"]["snapshot"] is None
    assert bob2.welcome["body"]["speaking"] == ["ann", "host"]

    media.on_speaking("host", False)
    await host.next("media.speaking", user="host", speaking=False)
    media.on_speaking("host", False)  # a repeat changes nothing and is not sent
    # Ann leaves while talking: everyone hears she stopped; nobody late sees her ring.
    await ann.ok("leave")
    await bob2.next("media.speaking", user="ann", speaking=False)
    assert h.room().speaking_now == set()
    media.on_speaking("ann", True)  # a late callback for someone gone is ignored
    carl = await h.join("carl")
    assert carl.welcome["body"]["speaking"] == []
    # ann on, host on, host off, ann off: the repeat and the late callback were not sent.
    assert sum(1 for f in host.frames if f["type"] == "media.speaking") == 4


async def test_member_count_reaches_everyone_rate_limited(make_server: ServerFactory) -> None:
    h = await make_server(count_interval=0.5)
    host = await h.join("host", "host")
    ann = await h.join("ann")
    assert ann.welcome["body"]["snapshot"]["member_count"] == 2
    await ann.next("room.count", members=2, wait=2)
    # A burst of joins: one room.count for the lot, not one per join.
    others = [await h.join(f"u{i}") for i in range(5)]
    await ann.next("room.count", members=7, wait=2)
    counts = [f for f in ann.frames if f["type"] == "room.count"]
    assert len(counts) <= 3 and all("seq" not in f for f in counts)
    await others[0].ok("leave")
    await others[4].next("room.count", members=6, wait=2)
    await host.next("room.count", members=6, wait=2)
    # Unchanged: nothing more is sent.
    before = len([f for f in ann.frames if f["type"] == "room.count"])
    await asyncio.sleep(0.8)
    assert len([f for f in ann.frames if f["type"] == "room.count"]) == before


async def test_moderators_get_the_music_library(make_server: ServerFactory, tmp_path: Path) -> None:
    music = tmp_path / "music"  # conftest's library: intro.ogg
    (music / "Bossa.MP3").write_bytes(b"x")
    (music / ".hidden.ogg").write_bytes(b"x")
    (music / "notes.txt").write_bytes(b"x")
    (music / "folder.ogg").mkdir()
    (tmp_path / "secret.ogg").write_bytes(b"x")
    os.symlink(tmp_path / "secret.ogg", music / "escape.ogg")  # points outside: refused
    h = await make_server(music_rescan_interval=0.05)
    host = await h.join("host", "host")
    ann = await h.join("ann")
    assert host.welcome["body"]["tracks"] == ["Bossa.MP3", "intro.ogg"]
    assert ann.welcome["body"]["tracks"] is None
    assert (await ann.ok("sync"))["body"]["tracks"] is None
    # A new co-host fetches the list with sync; files added since are listed.
    (music / "zeta.wav").write_bytes(b"x")
    await host.ok("room.set_role", {"user": "ann", "role": "cohost"})
    for _ in range(100):  # re-listed off the room task within music_rescan_interval
        if (await ann.ok("sync"))["body"]["tracks"] == ["Bossa.MP3", "intro.ogg", "zeta.wav"]:
            break
        await asyncio.sleep(0.05)
    assert (await ann.ok("sync"))["body"]["tracks"] == ["Bossa.MP3", "intro.ogg", "zeta.wav"]
    await host.ok("music.play", {"track": "Bossa.MP3"})

    assert list_tracks(music, limit=2) == ["Bossa.MP3", "intro.ogg"]
    assert list_tracks(None) == [] and list_tracks(tmp_path / "missing") == []
    h2 = await make_server(music_dir=None)
    host2 = await h2.join("host", "host")
    assert host2.welcome["body"]["tracks"] == []


async def test_demo_music_is_bundled_and_used_only_without_a_library(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    assert list_tracks(DEMO_MUSIC_DIR) == ["demo-warmup.ogg"]
    assert demo_config(Config()).music_dir == DEMO_MUSIC_DIR
    assert demo_config(Config(music_dir=tmp_path)).music_dir == tmp_path
    h = await make_server(music_dir=DEMO_MUSIC_DIR)
    host = await h.join("host", "host")
    assert host.welcome["body"]["tracks"] == ["demo-warmup.ogg"]
    await host.ok("music.play", {"track": "demo-warmup.ogg"})


def test_demo_track_decodes_to_a_short_soft_loop() -> None:
    import numpy as np

    from voiceroom.media.music import decode_frames

    path = DEMO_MUSIC_DIR / "demo-warmup.ogg"
    assert path.stat().st_size < 150_000
    pcm = np.concatenate(list(decode_frames(str(path)))).astype(np.float64) / 32768
    assert 10.0 <= len(pcm) / 48_000 <= 15.0
    rms = float(np.sqrt(np.mean(pcm**2)))
    assert rms > 0.05 and np.max(np.abs(pcm)) < 0.9  # audible, never clipping
