"""A real voiceroom server (signalling + media plane) on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from voiceroom.auth import issue_token
from voiceroom.config import Config
from voiceroom.server import Server

SECRET = "client-test-secret-0123456789abcdef0123"


@dataclass
class Live:
    server: Server

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}"

    def token(
        self, user: str, role: str = "listener", *, room: str = "r", tier: str = "new"
    ) -> str:
        return issue_token(SECRET, room=room, user=user, name=user.title(), role=role, tier=tier)


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    server = Server(Config(port=0, secret=SECRET, media=True, shutdown_timeout=1.0))
    await server.start()
    try:
        yield Live(server)
    finally:
        await server.shutdown()
