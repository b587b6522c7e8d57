"""Issue 9 items 1-2: the role is checked before anything else, for every command, and
music.play accepts exactly the names ``tracks`` lists."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import typing
from pathlib import Path
from typing import Any

from voiceroom import venue
from voiceroom.protocol import SCHEMAS
from voiceroom.room import commands as c
from voiceroom.room.model import Role, RoomConfig
from voiceroom.room.rules import RULES

from .harness import ServerFactory

# Values a listener might probe with: names that exist, that do not, paths, odd numbers.
_VALUES: dict[type, list[Any]] = {
    str: ["host", "ann", "nobody", "intro.ogg", "missing.ogg", ".hidden.ogg", "../x", ""],
    int: [0, 1, 3, 99, -1],
    float: [0.0, 0.5, 1e12],
    bool: [True, False],
    list: [[], ["ann", "missing"]],
    dict: [{}, {"x": "1"}],  # the wire's maps are of strings (prompt params)
}


def _bodies(cmd: type[c.Command]) -> list[dict[str, Any]]:
    """Well-formed bodies for ``cmd`` (the protocol checks only shapes): each field walks
    through its sample values, plus the body with only the required fields."""
    specs = SCHEMAS[cmd.TYPE]
    if not specs:
        return [{}]
    pools: list[list[Any]] = []
    for spec in specs:
        pool = [v for t in spec.types if t is not type(None) for v in _VALUES[t]]
        if type(None) in spec.types:
            pool.append(None)
        pools.append(pool)
    longest = max(len(p) for p in pools)
    bodies = [
        {s.name: pool[i % len(pool)] for s, pool in zip(specs, pools, strict=True)}
        for i in range(longest)
    ]
    bodies.append({s.name: pools[k][0] for k, s in enumerate(specs) if s.required})
    return bodies


def _all_rules() -> dict[type[c.Command], Any]:
    """The room's table and every side core's (commerce, games...), as the Venue checks."""
    rules: dict[type[c.Command], Any] = dict(RULES)
    for make in venue.CORES:
        rules.update(make(RoomConfig()).RULES)
    return rules


MODERATOR_ONLY = [t for t, rule in _all_rules().items() if Role.LISTENER not in rule.roles]


def test_the_sample_bodies_cover_every_field_type() -> None:
    assert c.PlayMusic in MODERATOR_ONLY and c.Kick in MODERATOR_ONLY
    for cmd in MODERATOR_ONLY:
        assert len(_bodies(cmd)) >= 2 or not dataclasses.fields(cmd)
        for f in dataclasses.fields(cmd):
            assert typing.get_type_hints(cmd)[f.name] is not None


async def test_a_listener_gets_forbidden_for_every_moderator_command(
    make_server: ServerFactory,
) -> None:
    h = await make_server(rate=10_000.0, burst=10_000)
    host = await h.join("host", "host")
    ann = await h.join("ann")
    await h.join("bob")
    for phase in ("warmup", "show"):
        if phase == "show":
            await host.ok("room.start_show")
        for cmd in MODERATOR_ONLY:
            for body in _bodies(cmd):
                before = h.room().room.version
                code = await ann.fail(cmd.TYPE, body)
                assert code == "forbidden", (phase, cmd.TYPE, body, code)
                assert h.room().room.version == before  # nothing changed
    assert h.room().room.music is None


async def test_music_play_refuses_a_listener_before_looking_at_the_library(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    # conftest's library holds intro.ogg; the other server has none at all.
    for music_dir in ("default", None):
        h = await (make_server() if music_dir else make_server(music_dir=None))
        await h.join("host", "host")
        ann = await h.join("ann")
        for body in ({"track": "intro.ogg"}, {"track": "missing.ogg"}, {"track": ""}):
            assert await ann.fail("music.play", body) == "forbidden"
        assert await ann.fail("music.play", {"track": "intro.ogg", "gain": 0.1}) == "forbidden"


async def test_music_play_accepts_exactly_the_listed_tracks(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    music = tmp_path / "music"  # conftest's library: intro.ogg
    (music / ".hidden.ogg").write_bytes(b"x")
    (music / "notes.txt").write_bytes(b"x")
    (music / "sub").mkdir()
    (music / "sub" / "deep.ogg").write_bytes(b"x")
    h = await make_server()
    host = await h.join("host", "host")
    tracks = host.welcome["body"]["tracks"]
    assert tracks == ["intro.ogg"]
    for name in (".hidden.ogg", "notes.txt", "sub/deep.ogg", "sub", "./intro.ogg", " intro.ogg"):
        assert await host.fail("music.play", {"track": name}) == "invalid_argument", name
    for name in tracks:
        await host.ok("music.play", {"track": name})
    assert h.room().room.music.track == "intro.ogg"


async def test_the_library_is_relisted_off_the_room_task(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    music = tmp_path / "music"
    h = await make_server(music_rescan_interval=0.05)
    host = await h.join("host", "host")
    assert await host.fail("music.play", {"track": "new.ogg"}) == "invalid_argument"
    (music / "new.ogg").write_bytes(b"x")
    for _ in itertools.count():
        if "new.ogg" in (await host.ok("sync"))["body"]["tracks"]:
            break
        assert _ < 100, "the new track was never listed"
        await asyncio.sleep(0.05)
    await host.ok("music.play", {"track": "new.ogg"})
    (music / "new.ogg").unlink()
    for _ in itertools.count():
        if "new.ogg" not in (await host.ok("sync"))["body"]["tracks"]:
            break
        assert _ < 100
        await asyncio.sleep(0.05)
    assert await host.fail("music.play", {"track": "new.ogg"}) == "invalid_argument"
