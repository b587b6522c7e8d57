"""Fixtures: a real server with the API on its own loopback port, and a webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from voiceroom.config import Config
from voiceroom.room.model import RoomConfig
from voiceroom.server import Server

from .harness import KEY, KID, SECRET, Api, ApiFactory, Receiver


@pytest.fixture
async def make_api() -> AsyncIterator[ApiFactory]:
    apis: list[Api] = []

    async def factory(**overrides: Any) -> Api:
        settings: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "secret": SECRET,
            "web_root": None,
            "tick_interval": 0.05,
            "media": False,
            "shutdown_timeout": 2.0,
            "api_keys": (f"{KID}:{KEY}",),
            "webhook_backoff": 0.05,
            "webhook_timeout": 1.0,
            "room": RoomConfig(reconnect_grace=0.6, invite_ttl=5.0),
        }
        settings.update(overrides)
        server = Server(Config(**settings))
        await server.start()
        api = Api(server)
        apis.append(api)
        return api

    yield factory
    for api in apis:
        await api.http.aclose()
        await api.server.shutdown()


@pytest.fixture
async def api(make_api: ApiFactory) -> Api:
    return await make_api()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()
