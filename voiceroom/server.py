"""Server lifecycle: start, serve, shut down gracefully (uvicorn's shape).

``start()`` raises the open-files limit, opens the durable store (migrating it, starting
its writer thread and bringing back the rooms it was hosting), and binds the port.
``shutdown(code)`` stops accepting, closes every client with ``code`` — 1001 (going away,
on SIGINT) or 1012 (service restart, on SIGTERM: clients should reconnect and resume) —
waits at most ``shutdown_timeout`` seconds, then cancels what is left. Whatever the store's
writer still holds is committed before the clients are told to go, and before it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import secrets
import signal
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server as WsServer
from websockets.asyncio.server import ServerConnection, serve
from websockets.server import ServerProtocol

from voiceroom.api.service import ApiService
from voiceroom.api.webhooks import WebhookConfigError
from voiceroom.auth import issue_token
from voiceroom.commerce.demo import DEMO_PRODUCTS
from voiceroom.config import DEMO_MUSIC_DIR, Config, ConfigError
from voiceroom.observability import Metrics, get_logger
from voiceroom.protocol import CloseCode
from voiceroom.room.errors import RuleError
from voiceroom.room.model import Role
from voiceroom.signalling.gateway import Gateway
from voiceroom.signalling.media_bridge import MediaRoomFactory, default_media_factory
from voiceroom.signalling.room_host import Registry
from voiceroom.store import Store, open_store
from voiceroom.store.writer import StoreWriter

DEMO_ROOM = "demo"
SERVER_ICE_USER = "voiceroom-server"  # the TURN username's user part for the server's peers


def with_secret(config: Config) -> Config:
    """``config`` with a throw-away secret when it has none (``--demo``): tokens from
    `voiceroom token` will not verify; only the printed demo links will."""
    if config.secret:
        return config
    return config.with_overrides(secret=secrets.token_urlsafe(32))


def demo_config(config: Config) -> Config:
    """``--demo`` settings: the bundled warm-up loop when no music library is configured,
    so a host can play music in the demo with no setup."""
    if config.music_dir is None and DEMO_MUSIC_DIR.is_dir():
        return config.with_overrides(music_dir=DEMO_MUSIC_DIR)
    return config


class CannotListen(OSError):
    """Binding a listening socket failed (``where``: host:port); any other OSError at
    start-up is something else (a data_dir that cannot be created, say)."""

    def __init__(self, where: str, exc: OSError) -> None:
        super().__init__(exc.errno, exc.strerror or str(exc))
        self.where = where


def tls_context(config: Config) -> ssl.SSLContext | None:
    """The server's TLS context (``tls_cert``/``tls_key``), or None without them. A file
    that cannot be read or does not load is a ConfigError naming the setting and the file."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    for name, path in (("tls_cert", config.tls_cert), ("tls_key", config.tls_key)):
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise ConfigError(f"{name} {path}: cannot read it: {why}", settings=(name,)) from None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"tls_cert {config.tls_cert} / tls_key {config.tls_key}: not a PEM certificate "
            f"chain and its private key ({exc})",
            settings=("tls_cert", "tls_key"),
        ) from None
    return ctx


def check_start(config: Config) -> None:
    """What only a running server would otherwise find out (after its workers started):
    the TLS files load. The settings themselves are checked by Config and load_config."""
    tls_context(config)


def raise_nofile_limit(target: int = 65536) -> tuple[int, int]:
    """Each client is a socket (and each media peer a few UDP sockets): lift the soft limit
    towards the hard one. Returns (before, after) soft limits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = target if hard == resource.RLIM_INFINITY else min(target, hard)
    if want > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class TickProbe:
    """A 20 ms timer on the server's loop, scheduled like the media tick (sleep to the
    next deadline), that records how late it wakes: what the store or anything else on
    the loop costs the media tick. The last ``RING`` samples give p50/p99/max."""

    PERIOD = 0.020
    RING = 256  # ~5 s

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._i = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tick-probe")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        start = time.monotonic()
        tick = 0
        while True:
            tick += 1
            deadline = start + tick * self.PERIOD
            delay = deadline - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            late = time.monotonic() - deadline
            if late > 1.0:  # a long stall (suspended process): start the clock again
                start, tick = time.monotonic(), 0
            if len(self.samples) < self.RING:
                self.samples.append(late)
            else:
                self.samples[self._i] = late
            self._i = (self._i + 1) % self.RING

    def collect(self, m: Metrics) -> None:
        if not self.samples:
            return
        ordered = sorted(self.samples)
        for q in (0.5, 0.99, 1.0):
            value = ordered[min(len(ordered) - 1, int(q * len(ordered)))]
            m.set("voiceroom_loop_lateness_ms", value * 1000, q=str(q))


@dataclass(frozen=True)
class WorkerSlot:
    """How one worker process of ``serve --workers N`` runs its Server (voiceroom.workers):
    it listens on no public port (the front hands it its clients' sockets), answers the
    front on Unix sockets, and brings back only the rooms the registry leased to it."""

    index: int
    ws_socket: Path  # the worker's own WebSocket/HTTP listener (the front's health probes)
    api_socket: Path  # its HTTP API, behind the front's API proxy
    public_port: int  # the front's port: links and the API's page base name it
    recover: frozenset[str]  # rooms to bring back from the store at start
    deliver_webhooks: bool  # one worker delivers a shared (database) outbox


class Server:
    def __init__(
        self,
        config: Config,
        *,
        media_factory: MediaRoomFactory | None = None,
        slot: WorkerSlot | None = None,
    ) -> None:
        self.slot = slot
        self.ephemeral_secret = not config.secret
        self.config = config = with_secret(config)
        self.log = get_logger()
        self.metrics = Metrics()
        if media_factory is None and config.media:
            ice = config.ice_settings()
            media_factory = default_media_factory(
                config.media_settings,
                net=config.media_net(),
                ice_servers=(
                    (lambda: ice.servers(SERVER_ICE_USER, time.time())[0])
                    if config.media_server_ice
                    else None
                ),
            )
        self.store: Store = open_store(config.store, config.data_dir)
        self.writer = StoreWriter(self.store)
        self.metrics.collector(self._store_metrics)
        # store = "none": nothing is journaled (no durability at all; the baseline of
        # scripts/bench_store.py, and how voiceroom ran before the store existed).
        journal = None if config.store == "none" else self.writer
        self.registry = Registry(config, self.metrics, media_factory, journal)
        self.tick_probe = TickProbe()
        self.metrics.collector(self.tick_probe.collect)
        self.gateway = Gateway(config, self.registry, self.metrics)
        try:
            # HTTP API and webhooks (its own port; docs/adr/0005-http-api.md).
            reads = None if config.store == "none" else self.writer.call
            self.api = ApiService(
                config,
                self.registry,
                store_call=reads,
                store=self.store,
                deliver_webhooks=slot is None or slot.deliver_webhooks,
                shared_outbox=slot is not None,
            )
        except WebhookConfigError as exc:
            raise ConfigError(str(exc)) from None
        self._ws: WsServer | None = None
        self._port: int | None = None
        self.demo_links_expire_at = 0.0  # epoch seconds, set by open_demo
        self._stopped = asyncio.Event()
        self._pruner: asyncio.Task[None] | None = None
        self.ready_seconds = 0.0  # start() to listening, recovery included

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        assert self._port is not None, "server not started"
        return self._port

    def ssl_context(self) -> ssl.SSLContext | None:
        """https + wss on the same port when ``tls_cert``/``tls_key`` are set."""
        return tls_context(self.config)

    def _ws_options(self) -> dict[str, Any]:
        c = self.config
        return {
            # Every client gets the same encoded event bytes; per-connection deflate would
            # redo the work for each one, and msgpack is compact already.
            "compression": None,
            "max_size": c.hard_max_frame_bytes,
            "open_timeout": c.handshake_timeout,
            "ping_interval": c.ping_interval,
            "ping_timeout": c.ping_interval,
            "close_timeout": min(5.0, max(c.shutdown_timeout, 0.1)),
            "server_header": "voiceroom",
        }

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:  # cancelled by a signal, or could not bind: undo the start
            await self._abort_start()
            raise

    async def _abort_start(self) -> None:
        if self._ws is not None:
            self._ws.close()
        for step in (self.api.stop, self.registry.aclose, self.writer.aclose):
            with contextlib.suppress(Exception):
                await step()
        if self._pruner is not None:
            self._pruner.cancel()
        self.tick_probe.stop()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.store.close)

    async def _start(self) -> None:
        started = time.perf_counter()
        before, after = raise_nofile_limit()
        slot = self.slot
        if slot is None:  # a worker's front has migrated the store already
            await asyncio.to_thread(self.store.upgrade)  # migrations, before anything reads
        self.writer.start()
        self.tick_probe.start()
        self.registry.start()
        recovered = await self.registry.recover(only=None if slot is None else slot.recover)
        if self.config.chat_retention_days > 0 and (slot is None or slot.index == 0):
            self._pruner = asyncio.create_task(self._prune_chat(), name="store-prune")
        options = self._ws_options()
        if slot is None:
            where: dict[str, Any] = {"host": self.config.host, "port": self.config.port}
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(slot.ws_socket)  # a stale socket from a killed worker
            where = {"unix": True, "path": str(slot.ws_socket)}
        tls = None if slot is not None else self.ssl_context()
        try:
            self._ws = await serve(
                self.gateway.handler,
                process_request=self.gateway.process_request,
                ssl=tls,
                **where,
                **options,
            )
        except OSError as exc:
            bound = where.get("path") or f"{self.config.host}:{self.config.port}"
            raise CannotListen(str(bound), exc) from exc
        self._port = self._ws.sockets[0].getsockname()[1] if slot is None else slot.public_port
        host = self.config.host if self.config.host not in ("0.0.0.0", "::", "") else "localhost"
        scheme = "https" if self.config.tls_cert is not None else "http"
        await self.api.start(
            page_base=f"{scheme}://{host}:{self._port}",
            unix=None if slot is None else slot.api_socket,
        )
        self.ready_seconds = time.perf_counter() - started
        self.log.info(
            "listening",
            host=self.config.host,
            port=self.port,
            nofile=after,
            nofile_before=before,
            tls=self.config.tls,
            media=self.registry.media_factory is not None,
            store=getattr(self.store, "safe_url", self.store.url),
            rooms_recovered=len(recovered),
            ready_seconds=round(self.ready_seconds, 3),
            api_port=self.api_port,
            worker=None if slot is None else slot.index,
        )

    async def adopt(self, sock: socket.socket) -> None:
        """Serve a client socket accepted elsewhere (by the front of ``serve --workers``) as
        if this server had accepted it: the same handshake, checks and handler."""
        ws = self._ws
        assert ws is not None, "server not started"
        o = self._ws_options()

        def connection() -> ServerConnection:
            protocol = ServerProtocol(max_size=o["max_size"], logger=ws.logger)
            return ServerConnection(
                protocol,
                ws,
                ping_interval=o["ping_interval"],
                ping_timeout=o["ping_timeout"],
                close_timeout=o["close_timeout"],
            )

        await asyncio.get_running_loop().connect_accepted_socket(connection, sock)

    @property
    def api_port(self) -> int | None:
        """The HTTP API's bound port (None when ``api`` is off)."""
        return self.api.port if self.config.api else None

    async def open_demo(self) -> dict[str, str]:
        """Open the persistent demo room; returns ready-made join links by persona."""
        await self.open_demo_room()
        links, self.demo_links_expire_at = demo_links(self.config, self.port)
        return links

    async def open_demo_room(self) -> None:
        """The persistent demo room, open. A demo room that ended (on an earlier run, the
        store remembers) starts afresh. Its shop gets the demo catalog through the
        server-only, journaled entry point."""
        await self.registry.forget_if_ended(DEMO_ROOM)
        room = await self.registry.open(DEMO_ROOM, persistent=True)
        for product in DEMO_PRODUCTS:
            try:
                await room.server_command(product)
            except RuleError as exc:  # product_exists: the room came back from the store
                self.log.info("demo product kept", product=product.id, code=str(exc.code))

    async def shutdown(self, code: CloseCode = CloseCode.GOING_AWAY) -> None:
        if self._ws is None or self._stopped.is_set():
            return
        self._stopped.set()
        self.log.info("shutting down", code=int(code))
        self.registry.closing = True
        # Replies held for the store go out before the close frames do.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.writer.flush(), self.config.shutdown_timeout)
        ws = self._ws
        ws.close(close_connections=True, code=code, reason="server shutting down")
        try:
            await asyncio.wait_for(ws.wait_closed(), self.config.shutdown_timeout)
        except TimeoutError:
            self.log.warning("shutdown timeout: cancelling connections")
            for conn in list(ws.connections):
                conn.transport.abort()
            for task in list(ws.handler_tasks):
                task.cancel()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ws.wait_closed(), 1.0)
        await self.api.stop()
        await self.registry.aclose()
        if self._pruner is not None:
            self._pruner.cancel()
        self.tick_probe.stop()
        await self.writer.aclose()
        await asyncio.to_thread(self.store.close)
        self.log.info("stopped")

    async def run(self, *, demo: bool = False, on_ready: Any = None) -> None:
        """Serve until SIGINT (close 1001) or SIGTERM (close 1012)."""
        await run_until_signalled(self, demo=demo, on_ready=on_ready)

    async def _prune_chat(self) -> None:
        """Chat retention: at start, then hourly, off the loop (the writer thread)."""
        keep = self.config.chat_retention_days * 86400.0

        def prune(store: Store) -> int:
            return store.prune(time.time() - keep)

        while True:
            try:
                gone = await self.writer.call(prune)
                self.log.info("chat pruned", rows=gone, days=self.config.chat_retention_days)
            except Exception:
                self.log.exception("chat pruning failed")
            await asyncio.sleep(3600)

    def _store_metrics(self, m: Metrics) -> None:
        st = self.writer.stats
        m.set("voiceroom_store_commits", st.commits)
        m.set("voiceroom_store_writes", st.writes)
        m.set("voiceroom_store_errors", st.errors)
        m.set("voiceroom_store_pending", self.writer.pending)
        m.set("voiceroom_store_commit_seconds_max", st.max_commit_s)
        m.set("voiceroom_store_batch_max", st.max_batch)


def demo_links(config: Config, port: int) -> tuple[dict[str, str], float]:
    """Join links for the demo room by persona, and when they expire (epoch seconds)."""
    host = config.host if config.host not in ("0.0.0.0", "::", "") else "localhost"
    scheme = "https" if config.tls else "http"
    base = f"{scheme}://{host}:{port}/?token="
    now = time.time()
    expires = now + int(config.token_ttl)
    # The VIP shopper's link opens in Arabic (the locale rides in the token): the
    # product is for Middle East shoppers, and RTL is seen from the first demo.
    personas: list[tuple[str, str, str, Role, str, str]] = [
        ("host", "host-1", "Hana (host)", Role.HOST, "vip", "en"),
        ("cohost", "cohost-1", "Omar (co-host)", Role.COHOST, "vip", "en"),
        ("agent", "agent-1", "Sara (sales)", Role.AGENT, "active", "en"),
        ("listener-vip", "vip-1", "ليلى (VIP)", Role.LISTENER, "vip", "ar"),
        ("listener-new", "new-1", "Noor (new)", Role.LISTENER, "new", "en"),
    ]
    links = {
        label: base
        + issue_token(
            config.secret,
            room=DEMO_ROOM,
            user=user,
            name=name,
            role=role,
            tier=tier,
            locale=locale,
            ttl=config.token_ttl,
            now=now,
        )
        for label, user, name, role, tier, locale in personas
    }
    return links, expires


async def run_until_signalled(server: Any, *, demo: bool, on_ready: Any) -> None:
    """Start ``server`` (a ``Server``, or the front of ``serve --workers``), open the demo
    room if asked, serve until SIGINT (close 1001) or SIGTERM (close 1012), shut down. The
    handlers are in place before start-up, so a signal during it is not lost."""
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[CloseCode] = loop.create_future()

    def request_stop(code: CloseCode) -> None:
        if not stop.done():
            stop.set_result(code)

    loop.add_signal_handler(signal.SIGINT, request_stop, CloseCode.GOING_AWAY)
    loop.add_signal_handler(signal.SIGTERM, request_stop, CloseCode.SERVICE_RESTART)
    try:
        # A signal during start-up (store recovery, workers starting) stops it at once:
        # the start is cancelled, and undoes what it did (Front.start stops its workers).
        starting = asyncio.ensure_future(server.start())
        await asyncio.wait({starting, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            server.log.info("stopped during start-up", code=int(stop.result()))
            return
        starting.result()
        if demo:
            links = await server.open_demo()
            if on_ready is not None:
                on_ready(server, links)
        code = await stop
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
    await server.shutdown(code)
