"""The HTTP API port of ``serve --workers N``: a per-request proxy to the workers' APIs.

API calls are control-plane traffic (a few per show), so each request is forwarded over the
worker's Unix socket rather than handing whole connections over (one keep-alive connection
may name many rooms). Which worker answers:

- ``/api/v1/rooms/{id}...`` and ``POST /api/v1/rooms``: the room's worker (a new room is
  placed by the registry; the proxy names an id-less new room itself so it can place it);
- ``GET /api/v1/rooms``: every worker, merged (the room's own worker wins);
- anything else (webhook endpoints, OpenAPI, docs): worker 0. Endpoints added or removed
  there are re-read by every other worker at once.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from voiceroom.api.app import PREFIX
from voiceroom.api.service import bind_api_port, serve_asgi, stop_asgi
from voiceroom.config import Config
from voiceroom.observability import get_logger
from voiceroom.workers.supervisor import WorkerHandle, WorkerUnavailable

# How long the front waits for a worker to answer an API call. Its own work (a long chat
# history read, a store commit) may take a while; not the webhook receivers' timeout,
# which is for strangers. A worker that stops answering altogether is restarted by the
# supervisor's heartbeat (10 s) before this runs out.
_WORKER_CALL_TIMEOUT = httpx.Timeout(60.0, connect=5.0)

if TYPE_CHECKING:
    from voiceroom.workers.front import Front

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer", "host"}
)
ROOMS = PREFIX + "/rooms"


class ApiProxy:
    def __init__(self, config: Config, front: Front) -> None:
        self.config = config
        self.front = front
        self.log = get_logger(component="api-proxy")
        self._clients: dict[int, httpx.AsyncClient] = {}
        self._sock: socket.socket | None = None
        self._server: Any = None
        self._task: Any = None
        self.port: int | None = None

    async def start(self) -> None:
        if not self.config.api:
            return
        sock = bind_api_port(self.config, self.log)
        sock.setblocking(False)
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        self._server, self._task = await serve_asgi(self, sock, self.config, tls=False)
        self.log.info("api listening", host=self.config.host, port=self.port)

    async def stop(self) -> None:
        await stop_asgi(self._server, self._task, self._sock)
        self._server = None
        for client in self._clients.values():
            await client.aclose()

    def _client(self, h: WorkerHandle) -> httpx.AsyncClient:
        client = self._clients.get(h.index)
        if client is None:
            socket_path = self.front.workers.api_socket(h.index)
            transport = httpx.AsyncHTTPTransport(uds=str(socket_path))
            client = httpx.AsyncClient(
                transport=transport, base_url="http://worker", timeout=_WORKER_CALL_TIMEOUT
            )
            self._clients[h.index] = client
        return client

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            response = await self._forward(request)
        except WorkerUnavailable as exc:
            response = _error(503, "worker_unavailable", str(exc))
        except httpx.HTTPError as exc:
            self.log.warning("api proxy: worker did not answer", error=repr(exc))
            response = _error(502, "worker_unavailable", "the room's worker did not answer")
        await response(scope, receive, send)

    async def _forward(self, request: Request) -> Response:
        path = request.url.path
        body = await request.body()
        room: str | None = None
        if path.startswith(ROOMS + "/"):
            room = unquote(path[len(ROOMS) + 1 :].split("/", 1)[0])
        elif path == ROOMS and request.method == "POST":
            room, body = _room_of_new(body)
        elif path == ROOMS and request.method == "GET":
            return await self._list(request)
        h = await self._worker(room)
        response = await self._send(h, request, body)
        if (
            path.startswith(PREFIX + "/webhooks/endpoints")
            and request.method in ("POST", "PUT", "DELETE")
            and response.status_code < 300
        ):
            await self.front.workers.tell_all({"t": "webhooks"})
        return response

    async def _worker(self, room: str | None) -> WorkerHandle:
        workers = self.front.workers
        if room is None:
            return workers.handles[0]
        placement = await self.front.registry.claim(room, time.monotonic())
        if placement is None:
            raise WorkerUnavailable("no worker is ready")
        return workers.handle(placement.worker.id)

    async def _send(
        self, h: WorkerHandle, request: Request, body: bytes, *, plain: bool = False
    ) -> Response:
        """``plain``: ask for an uncompressed answer (the proxy reads it)."""
        await self.front.workers.wait_ready(h, self.config.handshake_timeout)
        headers = [
            (k, v)
            for k, v in request.headers.items()
            if k.lower() not in HOP_BY_HOP
            and k.lower() != "content-length"  # the body may have been rewritten (an id)
            and not (plain and k.lower() == "accept-encoding")
        ]
        if plain:
            headers.append(("accept-encoding", "identity"))
        client = self._client(h)
        outgoing = client.build_request(
            request.method,
            request.url.path,
            params=request.url.query or None,
            headers=headers,
            content=body,
        )
        upstream = await client.send(outgoing, stream=True)
        try:
            # The bytes as the worker sent them (gzip stays gzip, with its own header).
            raw = b"".join([chunk async for chunk in upstream.aiter_raw()])
        finally:
            await upstream.aclose()
        out_headers = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() not in ("content-length", "date")
        }
        return Response(raw, upstream.status_code, out_headers)

    async def _list(self, request: Request) -> Response:
        """Every ready worker's list, one entry per room (its own worker's wins)."""
        owners = {lease.room: lease.worker for lease in await self.front.registry.leases()}
        merged: dict[str, Any] = {}
        first: Response | None = None
        for h in self.front.workers.handles:
            if not h.ready.is_set():
                continue
            response = await self._send(h, request, b"", plain=True)
            if response.status_code != 200:
                return response  # an auth or validation error: the same on every worker
            first = first or response
            for room in json.loads(bytes(response.body))["rooms"]:
                if room["id"] not in merged or owners.get(room["id"]) == h.info.id:
                    merged[room["id"]] = room
        if first is None:
            raise WorkerUnavailable("no worker is ready")
        limit = 100
        with contextlib.suppress(ValueError):
            limit = int(request.query_params.get("limit", "100"))
        return JSONResponse({"rooms": list(merged.values())[:limit]})


def _room_of_new(body: bytes) -> tuple[str | None, bytes]:
    """The id of a room to create; an id-less one is named here (as the API would: rm_ and
    12 hex digits) so that it can be placed before it exists."""
    try:
        data = json.loads(body)
    except ValueError:
        return None, body  # the worker answers 422
    if not isinstance(data, dict):
        return None, body
    if data.get("id") is None:
        data["id"] = "rm_" + secrets.token_hex(6)
        body = json.dumps(data).encode()
    room = data["id"]
    return (room if isinstance(room, str) else None), body


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
