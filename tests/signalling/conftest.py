"""Fixtures: a real server on a free loopback port (see harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from voiceroom.config import Config
from voiceroom.room.model import RoomConfig
from voiceroom.server import Server

from .harness import SECRET, Harness, ServerFactory


@pytest.fixture
async def make_server(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    servers: list[Server] = []
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<h1>voiceroom test</h1>")
    music = tmp_path / "music"
    music.mkdir()
    (music / "intro.ogg").write_bytes(b"OggS")

    async def factory(room: RoomConfig | None = None, **overrides: Any) -> Harness:
        settings: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "secret": SECRET,
            "web_root": web,
            "music_dir": music,
            "tick_interval": 0.05,
            "media": False,  # signalling only; tests/client and tests/media run real media
            "shutdown_timeout": 2.0,
            "room": room or RoomConfig(reconnect_grace=0.6, invite_ttl=5.0),
        }
        settings.update(overrides)
        media_factory = settings.pop("media_factory", None)
        server = Server(Config(**settings), media_factory=media_factory)
        await server.start()
        servers.append(server)
        return Harness(server)

    yield factory
    for server in servers:
        await server.shutdown()


@pytest.fixture
async def h(make_server: ServerFactory) -> Harness:
    return await make_server()
