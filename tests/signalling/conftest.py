"""Fixtures: a real server on a free loopback port, and token/connect helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from vr_client import Client

from voiceroom.auth import issue_token
from voiceroom.config import Config
from voiceroom.room.model import RoomConfig
from voiceroom.server import Server

SECRET = "signalling-test-secret-0123456789abcdef"


class Harness:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.clients: list[Client] = []

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def token(
        self, user: str, role: str = "listener", *, tier: str = "new", room: str = "r", **kw: Any
    ) -> str:
        return issue_token(
            SECRET, room=room, user=user, name=user.title(), role=role, tier=tier, **kw
        )

    async def join(
        self,
        user: str,
        role: str = "listener",
        *,
        tier: str = "new",
        room: str = "r",
        resume: int | None = None,
    ) -> Client:
        url = f"{self.base}/ws?token={self.token(user, role, tier=tier, room=room)}"
        if resume is not None:
            url += f"&resume={resume}"
        client = await Client.open(url)
        self.clients.append(client)
        return client

    def room(self, room: str = "r") -> Any:
        host = self.server.registry.get(room)
        assert host is not None
        return host


ServerFactory = Callable[..., Awaitable[Harness]]


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
