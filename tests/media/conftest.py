from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.media.client import AudioClient
from voiceroom.media import MediaConfig, MediaRoom

Join = Callable[[str], Awaitable[AudioClient]]


@pytest.fixture
async def room() -> AsyncIterator[MediaRoom]:
    r = MediaRoom("test", config=MediaConfig())
    await r.start()
    yield r
    await r.close()


@pytest.fixture
async def join(room: MediaRoom) -> AsyncIterator[Join]:
    clients: list[AudioClient] = []

    async def _join(name: str) -> AudioClient:
        client = AudioClient(name)
        clients.append(client)
        answer = await room.connect(name, await client.offer())
        await client.accept(answer)
        return client

    yield _join
    for c in clients:
        await c.close()
