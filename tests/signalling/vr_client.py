"""A small test client over a real WebSocket: requests with ids, events by type."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voiceroom.protocol import decode_server, encode_request

Frame = dict[str, Any]
TIMEOUT = 3.0


class Client:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[Frame] = []
        self.consumed: set[int] = set()
        self.last_seq = 0
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())
        self.welcome: Frame = {}

    @classmethod
    async def open(cls, url: str, *, expect_welcome: bool = True, **kwargs: Any) -> Client:
        ws = await connect(url, open_timeout=TIMEOUT, compression=None, **kwargs)
        client = cls(ws)
        if expect_welcome:
            client.welcome = await client.next("welcome")
        return client

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for data in self.ws:
                assert isinstance(data, bytes)
                frame = decode_server(data)
                if "seq" in frame:
                    self.last_seq = max(self.last_seq, frame["seq"])
                async with self._changed:
                    self.frames.append(frame)
                    self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def send_raw(self, data: bytes | str) -> None:
        await self.ws.send(data)

    async def request(self, type_: str, body: dict[str, Any] | None = None) -> Frame:
        """Send a request and return its reply or error frame."""
        id = next(self._ids)
        await self.ws.send(encode_request(type_, id, body))
        return await self.next(
            None, lambda f: f.get("id") == id and f["type"] in ("reply", "error")
        )

    async def ok(self, type_: str, body: dict[str, Any] | None = None) -> Frame:
        frame = await self.request(type_, body)
        assert frame["type"] == "reply", frame
        return frame

    async def fail(self, type_: str, body: dict[str, Any] | None = None) -> str:
        frame = await self.request(type_, body)
        assert frame["type"] == "error", frame
        code: str = frame["code"]
        return code

    async def next(
        self,
        type_: str | None,
        where: Callable[[Frame], bool] | None = None,
        wait: float = TIMEOUT,
        **body: Any,
    ) -> Frame:
        """The first unconsumed frame of ``type_`` whose body matches; consumed."""

        def match(f: Frame) -> bool:
            if type_ is not None and f.get("type") != type_:
                return False
            if where is not None and not where(f):
                return False
            b = f.get("body") or {}
            return all(b.get(k) == v for k, v in body.items())

        async def find() -> Frame:
            async with self._changed:
                while True:
                    for i, f in enumerate(self.frames):
                        if i not in self.consumed and match(f):
                            self.consumed.add(i)
                            return f
                    if self._reader.done():
                        raise AssertionError(f"closed before {type_} {body}: {self.types()}")
                    await self._changed.wait()

        return await asyncio.wait_for(find(), wait)

    def types(self) -> list[str]:
        return [f["type"] for f in self.frames]

    def saw(self, type_: str, **body: Any) -> bool:
        return any(
            f["type"] == type_ and all((f.get("body") or {}).get(k) == v for k, v in body.items())
            for f in self.frames
        )

    async def closed(self, wait: float = TIMEOUT) -> tuple[int | None, str | None]:
        await asyncio.wait_for(self.ws.wait_closed(), wait)
        await asyncio.wait_for(self._reader, wait)
        return self.ws.close_code, self.ws.close_reason

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, TIMEOUT)

    async def drop(self) -> None:
        """Vanish without a closing handshake (like a phone losing its network)."""
        self.ws.transport.abort()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, TIMEOUT)
