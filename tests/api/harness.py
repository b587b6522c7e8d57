"""Test harness for the HTTP API: a real Server (signalling + API ports), an httpx client
with minted API tokens, and a real webhook receiver that verifies signatures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from standardwebhooks import Webhook

from voiceroom.api.auth import ALL_SCOPES, issue_api_token
from voiceroom.server import Server

SECRET = "api-test-join-secret-0123456789abcdef"
KID = "shop1"
KEY = "shop1-api-key-secret-0123456789abcdef"
HOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Api:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.base = f"http://127.0.0.1:{server.api_port}"
        self.http = httpx.AsyncClient(base_url=self.base, timeout=10.0)

    def token(self, scopes: Iterable[str] = ALL_SCOPES, **kw: Any) -> str:
        return issue_api_token(KID, KEY, scopes, **kw)

    def auth(self, scopes: Iterable[str] = ALL_SCOPES) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(scopes)}"}

    async def call(
        self, method: str, path: str, *, json: Any = None, **params: Any
    ) -> httpx.Response:
        return await self.http.request(
            method, f"/api/v1{path}", json=json, params=params or None, headers=self.auth()
        )

    async def ok(self, method: str, path: str, *, json: Any = None, **params: Any) -> Any:
        r = await self.call(method, path, json=json, **params)
        assert r.status_code < 300, (r.status_code, r.text)
        return r.json()

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}"


@dataclass
class Received:
    headers: dict[str, str]
    body: str
    payload: dict[str, Any]


@dataclass
class Receiver:
    """A webhook receiver on a real socket. ``mode``: "ok", "fail" (503), "slow" (never
    answers within the sender's timeout); it verifies every signature it accepts."""

    secret: str = HOOK_SECRET
    mode: str = "ok"
    delay: float = 0.0  # in "ok" mode: seconds between recording a message and answering
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    bad_signatures: int = 0
    port: int = 0
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        self.attempts += 1
        status = 204
        if self.mode == "fail":
            status = 503
        elif self.mode == "slow":
            await asyncio.sleep(5)
        else:
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            try:
                payload = Webhook(self.secret).verify(body, headers)
            except Exception:
                self.bad_signatures += 1
                status = 400
            else:
                self.received.append(Received(headers, body.decode(), payload))
                self._changed.set()
                if self.delay:
                    await asyncio.sleep(self.delay)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def start(self, port: int = 0) -> None:
        sock = socket.create_server(("127.0.0.1", port))
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, lifespan="off", log_config=None, access_log=False, interface="asgi3"
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        self._server = server
        self._sock = sock
        self._task = asyncio.create_task(server.main_loop())

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        self._server.force_exit = True
        if self._task is not None:
            await self._task
        await self._server.shutdown(sockets=[self._sock])
        self._server = None

    def types(self) -> list[str]:
        return [r.payload["type"] for r in self.received]

    async def wait_for(self, pred: Callable[[Receiver], bool], within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while not pred(self):
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.1)


ApiFactory = Callable[..., Awaitable[Api]]


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
