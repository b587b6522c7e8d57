"""Server lifecycle: start, serve, shut down gracefully (uvicorn's shape).

``start()`` raises the open-files limit, builds the registry and gateway and binds the
port. ``shutdown(code)`` stops accepting, closes every client with ``code`` — 1001 (going
away, on SIGINT) or 1012 (service restart, on SIGTERM: clients should reconnect and resume)
— waits at most ``shutdown_timeout`` seconds, then cancels what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import secrets
import signal
from typing import Any

from websockets.asyncio.server import Server as WsServer
from websockets.asyncio.server import serve

from voiceroom.api.service import ApiService
from voiceroom.api.webhooks import WebhookConfigError
from voiceroom.auth import issue_token
from voiceroom.config import DEMO_MUSIC_DIR, Config, ConfigError
from voiceroom.observability import Metrics, get_logger
from voiceroom.protocol import CloseCode
from voiceroom.room.model import Role
from voiceroom.signalling.gateway import Gateway
from voiceroom.signalling.media_bridge import MediaRoomFactory, default_media_factory
from voiceroom.signalling.room_host import Registry

DEMO_ROOM = "demo"


def demo_config(config: Config) -> Config:
    """``--demo`` settings: the bundled warm-up loop when no music library is configured,
    so a host can play music in the demo with no setup."""
    if config.music_dir is None and DEMO_MUSIC_DIR.is_dir():
        return config.with_overrides(music_dir=DEMO_MUSIC_DIR)
    return config


def raise_nofile_limit(target: int = 65536) -> tuple[int, int]:
    """Each client is a socket (and each media peer a few UDP sockets): lift the soft limit
    towards the hard one. Returns (before, after) soft limits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = target if hard == resource.RLIM_INFINITY else min(target, hard)
    if want > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Server:
    def __init__(self, config: Config, *, media_factory: MediaRoomFactory | None = None) -> None:
        if not config.secret:
            # Tokens from `voiceroom token` will not verify; only printed demo links will.
            config = config.with_overrides(secret=secrets.token_urlsafe(32))
            self.ephemeral_secret = True
        else:
            self.ephemeral_secret = False
        self.config = config
        self.log = get_logger()
        self.metrics = Metrics()
        if media_factory is None and config.media:
            media_factory = default_media_factory(config.media_settings)
        self.registry = Registry(config, self.metrics, media_factory)
        self.gateway = Gateway(config, self.registry, self.metrics)
        try:
            # HTTP API and webhooks (its own port; docs/adr/0005-http-api.md).
            self.api = ApiService(config, self.registry)
        except WebhookConfigError as exc:
            raise ConfigError(str(exc)) from None
        self._ws: WsServer | None = None
        self._port: int | None = None
        self._stopped = asyncio.Event()

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        assert self._port is not None, "server not started"
        return self._port

    async def start(self) -> None:
        before, after = raise_nofile_limit()
        self.registry.start()
        self._ws = await serve(
            self.gateway.handler,
            self.config.host,
            self.config.port,
            process_request=self.gateway.process_request,
            # Every client gets the same encoded event bytes; per-connection deflate would
            # redo the work for each one, and msgpack is compact already.
            compression=None,
            max_size=self.config.hard_max_frame_bytes,
            open_timeout=self.config.handshake_timeout,
            ping_interval=self.config.ping_interval,
            ping_timeout=self.config.ping_interval,
            close_timeout=min(5.0, max(self.config.shutdown_timeout, 0.1)),
            server_header="voiceroom",
        )
        self._port = self._ws.sockets[0].getsockname()[1]
        host = self.config.host if self.config.host not in ("0.0.0.0", "::", "") else "localhost"
        try:
            await self.api.start(page_base=f"http://{host}:{self._port}")
        except BaseException:
            self._ws.close()
            await self.api.stop()
            raise
        self.log.info(
            "listening",
            host=self.config.host,
            port=self.port,
            nofile=after,
            nofile_before=before,
            media=self.registry.media_factory is not None,
            api_port=self.api_port,
        )

    @property
    def api_port(self) -> int | None:
        """The HTTP API's bound port (None when ``api`` is off)."""
        return self.api.port if self.config.api else None

    def open_demo(self) -> dict[str, str]:
        """Open the persistent demo room; returns ready-made join links by persona."""
        self.registry.open(DEMO_ROOM, persistent=True)
        host = self.config.host if self.config.host not in ("0.0.0.0", "::", "") else "localhost"
        base = f"http://{host}:{self.port}/?token="
        # The VIP shopper's link opens in Arabic (the locale rides in the token): the
        # product is for Middle East shoppers, and RTL is seen from the first demo.
        personas: list[tuple[str, str, str, Role, str, str]] = [
            ("host", "host-1", "Hana (host)", Role.HOST, "vip", "en"),
            ("cohost", "cohost-1", "Omar (co-host)", Role.COHOST, "vip", "en"),
            ("agent", "agent-1", "Sara (sales)", Role.AGENT, "active", "en"),
            ("listener-vip", "vip-1", "ليلى (VIP)", Role.LISTENER, "vip", "ar"),
            ("listener-new", "new-1", "Noor (new)", Role.LISTENER, "new", "en"),
        ]
        return {
            label: base
            + issue_token(
                self.config.secret,
                room=DEMO_ROOM,
                user=user,
                name=name,
                role=role,
                tier=tier,
                locale=locale,
                ttl=self.config.token_ttl,
            )
            for label, user, name, role, tier, locale in personas
        }

    async def shutdown(self, code: CloseCode = CloseCode.GOING_AWAY) -> None:
        if self._ws is None or self._stopped.is_set():
            return
        self._stopped.set()
        self.log.info("shutting down", code=int(code))
        self.registry.closing = True
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
        self.log.info("stopped")

    async def run(self, *, demo: bool = False, on_ready: Any = None) -> None:
        """Serve until SIGINT (close 1001) or SIGTERM (close 1012)."""
        await self.start()
        if demo:
            links = self.open_demo()
            if on_ready is not None:
                on_ready(self, links)
        loop = asyncio.get_running_loop()
        stop: asyncio.Future[CloseCode] = loop.create_future()

        def request_stop(code: CloseCode) -> None:
            if not stop.done():
                stop.set_result(code)

        loop.add_signal_handler(signal.SIGINT, request_stop, CloseCode.GOING_AWAY)
        loop.add_signal_handler(signal.SIGTERM, request_stop, CloseCode.SERVICE_RESTART)
        try:
            code = await stop
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
        await self.shutdown(code)
