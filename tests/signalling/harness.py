"""Test harness: a running server, tokens, and connected test clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from voiceroom.auth import issue_token
from voiceroom.server import Server

from .vr_client import Client

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
