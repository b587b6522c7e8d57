from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.media.client import AudioClient
from voiceroom.media import MediaConfig, MediaRoom

Join = Callable[[str], Awaitable[AudioClient]]


class LoopLag:
    """Samples the event loop every 5 ms and remembers when it was starved.

    Client and server share one loop in these tests; on an overloaded host (other jobs on
    the same 2 cores) the loop can stall for 100+ ms, which no media server can hide.
    Timing assertions call :meth:`skip_if_starved` so such a run is reported as skipped,
    not passed; on a quiet host the assertions are strict."""

    def __init__(self) -> None:
        self.stalls: list[tuple[float, float]] = []  # (when, how long)

    async def run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            if now - last > 0.05:
                self.stalls.append((now, now - last))
            last = now

    def worst_since(self, since: float) -> float:
        return max((d for t, d in self.stalls if t >= since), default=0.0)

    def skip_if_starved(self, since: float, limit: float = 0.06) -> None:
        worst = self.worst_since(since)
        if worst > limit:
            pytest.skip(f"host overloaded: event loop starved for {worst * 1000:.0f} ms")


LAG = LoopLag()


@pytest.fixture(autouse=True)
async def loop_lag() -> AsyncIterator[LoopLag]:
    LAG.stalls.clear()
    task = asyncio.get_running_loop().create_task(LAG.run())
    yield LAG
    task.cancel()


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
