"""The API beside signalling: one object ``Server`` starts and stops.

It wires the event feed into the room registry (webhooks and history see every room
event), builds the FastAPI app, and serves it with uvicorn on the same event loop, on its
own port (docs/adr/0005-http-api.md says why). uvicorn's ``serve()`` would install its own
signal handlers; ``Server.run`` owns SIGINT/SIGTERM, so this drives uvicorn's public
``startup`` / ``main_loop`` / ``shutdown`` steps itself on a socket it bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
from pathlib import Path
from typing import Any

import uvicorn

from voiceroom.api.app import create_app
from voiceroom.api.context import ApiContext, RoomRecord
from voiceroom.api.events import EventFeed
from voiceroom.api.history import HistoryReader, LiveHistory, StoreCall, StoreHistory
from voiceroom.api.outbox import MemoryOutbox, Outbox, SqliteOutbox
from voiceroom.api.store_outbox import OutboxHook, StoreOutbox
from voiceroom.api.webhooks import Endpoint, WebhookService
from voiceroom.config import Config
from voiceroom.observability import get_logger
from voiceroom.signalling.room_host import Registry


class ApiService:
    def __init__(
        self,
        config: Config,
        registry: Registry,
        *,
        store_call: StoreCall | None = None,
        store: Any = None,
        deliver_webhooks: bool = True,
        shared_outbox: bool = False,
    ) -> None:
        self.config = config
        self.log = get_logger(component="api")
        self.feed = EventFeed()
        registry.sinks.append(self.feed)
        self.live_history = LiveHistory()
        # History from the durable store's projections when there is one (they survive a
        # restart); the live projection still names the people in consultations.
        self.history: HistoryReader = (
            self.live_history if store_call is None else StoreHistory(store_call, self.live_history)
        )
        # Where webhook rows live: in the durable store's database, written in the journal's
        # transaction (SQL stores); else an SQLite file of their own (``webhook_outbox``);
        # else memory.
        in_store = store_call is not None and hasattr(store, "engine") and not config.webhook_outbox
        outbox: Outbox
        if in_store:
            assert store_call is not None
            outbox = StoreOutbox(store_call)
        elif config.webhook_outbox:
            outbox = SqliteOutbox(config.webhook_outbox)
        else:
            outbox = MemoryOutbox()
        endpoints = [Endpoint.from_config(n, s) for n, s in config.webhooks.items()]
        self.webhooks = WebhookService(
            outbox,
            endpoints,
            timeout=config.webhook_timeout,
            retry_for=config.webhook_retry_for,
            backoff_base=config.webhook_backoff,
            metrics=registry.metrics,
        )
        if shared_outbox and not isinstance(outbox, MemoryOutbox):
            # One of several workers: rows of every worker land in one outbox; one delivers.
            self.webhooks.deliver = deliver_webhooks
            self.webhooks.poll = 1.0
        if in_store:
            self.webhooks.produce_journaled = False
            store.add_tx_hook(
                OutboxHook(
                    lambda: list(self.webhooks.endpoints.values()), self.webhooks.wake_threadsafe
                )
            )
        self._store_call = store_call
        self.ctx = ApiContext(config, registry, self.history, self.webhooks, self.feed)
        self.feed.subscribers += [self.ctx.on_events, self.live_history, self.webhooks]
        self.app = create_app(self.ctx)
        self._uvicorn: uvicorn.Server | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        assert self._port is not None, "API not started"
        return self._port

    async def start(self, page_base: str, unix: Path | None = None) -> None:
        """Start webhook delivery, bind the API port (or the Unix socket ``unix``, behind
        the front of ``serve --workers``) and serve."""
        self.ctx.page_base = page_base
        if self._store_call is not None:
            await self._load_records(self._store_call)
        await self.webhooks.start()
        if not self.config.api:
            return
        if unix is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(unix)  # a stale socket from a killed worker
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(str(unix))
            sock.listen(512)
        else:
            sock = bind_api_port(self.config, self.log)
        sock.setblocking(False)
        self._sock = sock
        self._port = 0 if unix is not None else sock.getsockname()[1]
        tls = self.config.tls_cert is not None and unix is None
        self._uvicorn, self._loop_task = await serve_asgi(self.app, sock, self.config, tls=tls)
        self.log.info("api listening", host=self.config.host, port=self._port)

    async def _load_records(self, call: StoreCall) -> None:
        """Room records (title, market, schedule, phase) from the store: what the API
        created before a restart is listed as it was."""
        for rec in await call(lambda store: store.rooms()):
            self.ctx.records.setdefault(rec.id, self._record_of(rec))

    def _record_of(self, rec: Any) -> RoomRecord:
        seats = int(rec.config.get("seat_count", self.config.room.seat_count))
        return RoomRecord(
            rec.id,
            rec.title or rec.id,
            rec.market,
            rec.time_zone,
            seats,
            rec.show_starts_at,
            rec.created_at or None,
            "ended" if rec.phase == "ended" else rec.phase,
        )

    async def refresh_record(self, room_id: str) -> None:
        """Another worker opened or ended ``room_id``: read its record again from the store
        (the room may be asked for here next)."""
        if self._store_call is None or self.ctx.registry.get(room_id) is not None:
            return
        rec = await self._store_call(lambda store: store.room(room_id))
        if rec is not None:
            self.ctx.records[room_id] = self._record_of(rec)

    async def stop(self) -> None:
        await stop_asgi(self._uvicorn, self._loop_task, self._sock)
        self._uvicorn = None
        await self.webhooks.aclose()


async def serve_asgi(
    app: Any, sock: socket.socket, config: Config, *, tls: bool
) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    """Serve ``app`` with uvicorn on the bound ``sock``, on the running loop, without
    uvicorn's own signal handling (the server owns SIGINT/SIGTERM)."""
    uv_config = uvicorn.Config(
        app,
        interface="asgi3",
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        limit_concurrency=1024,  # beyond this uvicorn answers 503 (protects the loop)
        h11_max_incomplete_event_size=16 * 1024,  # request line + headers
        timeout_graceful_shutdown=max(1, int(config.shutdown_timeout)),
        # With tls_cert the API speaks https too (same certificate as the page); behind
        # a worker's front it speaks plain HTTP on its Unix socket.
        ssl_certfile=str(config.tls_cert) if tls else None,
        ssl_keyfile=str(config.tls_key) if tls else None,
    )
    uv_config.load()
    server = uvicorn.Server(uv_config)
    server.lifespan = uv_config.lifespan_class(uv_config)
    await server.startup(sockets=[sock])
    task = asyncio.create_task(server.main_loop(), name="api-main-loop")
    return server, task


async def stop_asgi(
    server: uvicorn.Server | None, task: asyncio.Task[None] | None, sock: socket.socket | None
) -> None:
    if server is None:
        return
    server.should_exit = True
    if task is not None:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await server.shutdown(sockets=[sock] if sock is not None else None)


def bind_api_port(config: Config, log: Any) -> socket.socket:
    """The API's TCP port: ``api_port``, or the signalling port + 1 (a free one if that
    default is taken, e.g. by a neighbour on a random port: serve rather than not at all)."""
    host = config.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, config.api_bind_port), family=family)
    except OSError as exc:
        if config.api_port is not None or exc.errno != errno.EADDRINUSE:
            raise
        log.warning("api port taken, using a free one", wanted=config.api_bind_port)
        return socket.create_server((host, 0), family=family)
