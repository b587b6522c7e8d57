"""The WebSocket edge: handshake checks, HTTP routes, and one task per connection.

Handshake (``process_request``), before any WebSocket frame:

- ``GET /healthz`` -> 200, ``GET /metrics`` -> Prometheus text, ``GET /api/join-check?token=``
  -> the checks below as JSON (for browsers), other paths -> static files (ETag, 304,
  gzip: ``static.StaticSite``);
- ``GET /ws[/ROOM]?token=JWT[&room=ROOM][&resume=SEQ]`` (or ``Authorization: Bearer JWT``):
  401 missing/forged/expired token, 403 token for another room or banned identity,
  404 room not open (only a host token opens a room), 410 room ended, 400 bad ``resume``,
  503 shutting down or too many rooms. Otherwise the upgrade proceeds.

Connection task: read frames, rate-limit, decode, and hand room work to the room's
serialized stream; answer ``ping``, ``media.ice`` and ``media.offer`` directly.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
import weakref
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response

from voiceroom.auth import AuthError, Claims, verify_token
from voiceroom.commerce.commands import ClaimSale
from voiceroom.config import Config
from voiceroom.observability import CONTENT_TYPE, Metrics, get_logger
from voiceroom.protocol import (
    CloseCode,
    Leave,
    MediaIce,
    MediaOffer,
    Ping,
    ProtocolError,
    Request,
    Sync,
    decode,
    encode_error,
    encode_reply,
)
from voiceroom.room.errors import ErrorCode
from voiceroom.room.model import Role
from voiceroom.signalling import forwarded, http
from voiceroom.signalling.connection import Connection
from voiceroom.signalling.ratelimit import TokenBucket
from voiceroom.signalling.room_host import Registry, RoomHost, RoomStatus
from voiceroom.signalling.static import StaticSite

MAX_ROOM_ID_CHARS = 64
JOIN_CHECK_PATH = "/api/join-check"


class Gateway:
    def __init__(self, config: Config, registry: Registry, metrics: Metrics) -> None:
        self.config = config
        self.registry = registry
        self.metrics = metrics
        self.site = StaticSite(config.web_root)
        self.log = get_logger()
        self.open_connections = 0
        self._admitted: weakref.WeakKeyDictionary[
            ServerConnection, tuple[Claims, int | None, str | None, bool]
        ] = weakref.WeakKeyDictionary()
        self._trusted = forwarded.networks(config.trusted_proxies)
        self.ice = config.ice_settings()
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(2)
        self._tasks: set[asyncio.Task[None]] = set()  # strong refs to media-offer tasks
        metrics.collector(lambda m: m.set("voiceroom_connections", self.open_connections))

    # ------------------------------------------------------------------ handshake
    async def process_request(self, ws: ServerConnection, request: HttpRequest) -> Response | None:
        url = urlsplit(request.path)
        path = url.path
        ws_path = self.config.ws_path
        if path == ws_path or path.startswith(ws_path + "/"):
            return self._admit(ws, request, path[len(ws_path) + 1 :], parse_qs(url.query))
        if path == JOIN_CHECK_PATH:
            return self._join_check(request, parse_qs(url.query))
        if path == "/healthz":
            status = HTTPStatus.SERVICE_UNAVAILABLE if self.registry.closing else HTTPStatus.OK
            return http.text(status, "ok" if status is HTTPStatus.OK else "shutting down")
        if path == "/metrics":
            return http.response(HTTPStatus.OK, self.metrics.render(), CONTENT_TYPE)
        return await self.site.get(path, request.headers)

    def _admit(
        self, ws: ServerConnection, request: HttpRequest, path_room: str, query: dict[str, Any]
    ) -> Response | None:
        try:
            claims, resume = self._check(request, path_room, query)
        except AuthError as exc:
            self.metrics.inc("voiceroom_handshake_rejected_total", status=str(exc.status.value))
            self.log.info("handshake refused", status=exc.status.value, reason=exc.message)
            return http.text(exc.status, exc.message)
        address, secure = self.client_origin(ws, request)
        self._admitted[ws] = (claims, resume, address, secure)
        return None  # proceed with the WebSocket upgrade

    def client_origin(self, ws: ServerConnection, request: HttpRequest) -> tuple[str | None, bool]:
        """The client's address and whether it came over TLS (X-Forwarded-* believed only
        from ``trusted_proxies``)."""
        peer = ws.remote_address[0] if ws.remote_address else None
        return forwarded.client_origin(
            peer,
            request.headers.get_all("X-Forwarded-For"),
            request.headers.get_all("X-Forwarded-Proto"),
            trusted=self._trusted,
            tls=self.config.tls,
        )

    def _join_check(self, request: HttpRequest, query: dict[str, Any]) -> Response:
        """The handshake's checks, answered as JSON a browser can read (a refused WebSocket
        handshake shows a page nothing but "connection failed"). As cheap as a refused
        handshake: one HMAC and a few lookups. Tells nothing the handshake's own refusal
        body does not: no claims, no room contents."""
        try:
            self._check(request, "", {k: v for k, v in query.items() if k in ("token", "room")})
        except AuthError as exc:
            status, reason, message = exc.status, exc.reason, exc.message
        else:
            status, reason, message = HTTPStatus.OK, "ok", "you may join"
        self.metrics.inc("voiceroom_join_checks_total", code=reason)
        body = {
            "ok": status is HTTPStatus.OK,
            "status": status.value,
            "code": reason,
            "message": message,
            # 404 (the host may still open the room) and 503 pass; the rest will not.
            "retry": status
            in (HTTPStatus.OK, HTTPStatus.NOT_FOUND, HTTPStatus.SERVICE_UNAVAILABLE),
        }
        return http.json_response(HTTPStatus.OK, body)

    def _check(
        self, request: HttpRequest, path_room: str, query: dict[str, Any]
    ) -> tuple[Claims, int | None]:
        if self.registry.closing:
            raise AuthError(
                HTTPStatus.SERVICE_UNAVAILABLE, "server is shutting down", "shutting_down"
            )
        token = _first(query, "token")
        auth = request.headers.get("Authorization", "")
        if token is None and auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
        wanted = path_room or _first(query, "room")
        claims = verify_token(self.config.secret, token, room=wanted or None)
        if len(claims.room) > MAX_ROOM_ID_CHARS:
            raise AuthError(HTTPStatus.BAD_REQUEST, "room id too long", "bad_request")
        if any(ord(ch) < 32 for ch in claims.user):
            # Ids are joined by line feeds in a lottery's published entrant list.
            raise AuthError(HTTPStatus.BAD_REQUEST, "user id has control characters", "bad_request")
        if claims.tier not in self.config.room.tiers:
            # A typo'd tier would silently rank last in the queue: refuse it, by name.
            known = ", ".join(self.config.room.tiers)
            raise AuthError(
                HTTPStatus.FORBIDDEN,
                f"unknown tier {claims.tier!r} in the join token (known: {known})",
                "unknown_tier",
            )
        resume_raw = _first(query, "resume")
        resume = None
        if resume_raw is not None:
            if not resume_raw.isdigit() or len(resume_raw) > 15:
                raise AuthError(
                    HTTPStatus.BAD_REQUEST, "resume must be the last seen seq", "bad_request"
                )
            resume = int(resume_raw)
        status = self.registry.status(claims.room)
        if status is RoomStatus.ENDED:
            raise AuthError(HTTPStatus.GONE, f"room {claims.room!r} has ended", "room_ended")
        if status is RoomStatus.MISSING:
            if claims.role is not Role.HOST:
                raise AuthError(
                    HTTPStatus.NOT_FOUND,
                    f"room {claims.room!r} is not open: its host opens it",
                    "room_not_open",
                )
            if self.registry.full:
                raise AuthError(HTTPStatus.SERVICE_UNAVAILABLE, "too many rooms", "server_busy")
        host = self.registry.get(claims.room)
        if host is not None and claims.user in host.room.banned:
            raise AuthError(HTTPStatus.FORBIDDEN, "you were removed from this room", "banned")
        return claims, resume

    # ------------------------------------------------------------------ connection task
    async def handler(self, ws: ServerConnection) -> None:
        admitted = self._admitted.pop(ws, None)
        if admitted is None:  # not through process_request: cannot happen, but never trust
            await ws.close(CloseCode.INTERNAL_ERROR, "not admitted")
            return
        claims, resume, address, secure = admitted
        conn_id = f"{self._prefix}-{next(self._ids)}"
        log = get_logger(conn=conn_id, room=claims.room, user=claims.user)
        conn = Connection(
            ws,
            conn_id=conn_id,
            claims=claims,
            bucket=TokenBucket(self.config.rate, self.config.burst),
            outbox_limit=self.config.send_queue,
            outbox_bytes=self.config.send_queue_bytes,
            log=log,
        )
        conn.address, conn.secure = address, secure
        conn.on_slow.append(
            lambda: self.metrics.inc("voiceroom_disconnects_total", reason="slow_consumer")
        )
        self.open_connections += 1
        self.metrics.inc("voiceroom_connections_accepted_total")
        host = self.registry.get(claims.room)
        failed = False
        if host is None and claims.role is Role.HOST and not self.registry.closing:
            try:
                host = await self.registry.open(claims.room)  # from the store, if it has it
            except Exception:
                log.exception("room could not be opened")  # e.g. the store is unreachable
                failed = True
        try:
            if failed:
                conn.send(encode_error(None, ErrorCode.INTERNAL, "the room could not be opened"))
                conn.close(CloseCode.INTERNAL_ERROR, "try again")
                await conn.writer
                return
            if host is None or not await host.admit(conn, resume):
                conn.send(encode_error(None, ErrorCode.ROOM_ENDED, "the room is not open"))
                conn.close(CloseCode.ROOM_CLOSED, "room not open")
                await conn.writer
                return
            log.info("connected", resume=resume, address=address, secure=secure)
            async for data in ws:
                self._on_frame(conn, host, data)
        except ConnectionClosed:
            pass
        finally:
            self.open_connections -= 1
            if host is not None and not self.registry.closing:
                host.submit(lambda: host.disconnected(conn))
            # Let queued frames (e.g. a close reason) go out, but never hang here.
            conn.finish()
            try:
                await asyncio.wait_for(asyncio.shield(conn.writer), 1.0)
            except (TimeoutError, asyncio.CancelledError):
                await conn.stop()
            log.info("disconnected", code=ws.close_code, reason=ws.close_reason)

    def _on_frame(self, conn: Connection, host: RoomHost, data: bytes | str) -> None:
        if conn.closing:
            return
        try:
            req = decode(data, self.config.max_frame_bytes)
        except ProtocolError as exc:
            req = None
            error: tuple[int | None, ErrorCode, str] | None = (exc.id, exc.code, exc.message)
        else:
            error = None
        # The bucket is charged for every frame, good or bad: garbage floods too.
        if not conn.bucket.take(time.monotonic()):
            self.metrics.inc("voiceroom_rate_limited_total")
            if conn.bucket.refused_in_a_row > self.config.flood_limit:
                conn.log.warning("flood: closing", refused=conn.bucket.refused_in_a_row)
                self.metrics.inc("voiceroom_disconnects_total", reason="flood")
                # RFC 6455 7.4.1: 1008 = a message that violates the endpoint's policy.
                conn.close(CloseCode.POLICY_VIOLATION, "flood: too many messages", flush=False)
                return
            error = (None if req is None else req.id, ErrorCode.RATE_LIMITED, "slow down")
            req = None
            if error[0] is None and conn.bucket.refused_in_a_row > 1:
                return  # one error per burst of undecodable garbage is enough
        if error is not None:
            self.metrics.inc("voiceroom_errors_total", code=error[1].value)
            conn.send(encode_error(*error))
            return
        assert req is not None
        msg = req.message
        if isinstance(msg, Ping):
            conn.send(encode_reply(req.id, {"time": time.time()}))
        elif isinstance(msg, MediaIce):
            # Fresh STUN/TURN credentials; answered here, the room is not involved.
            conn.send(encode_reply(req.id, self.ice.wire(conn.user, time.time())))
        elif isinstance(msg, MediaOffer):
            task = asyncio.create_task(self._media_offer(conn, host, req, msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(msg, Sync):
            host.submit(lambda: host.sync(conn, req))
        elif isinstance(msg, Leave):
            host.submit(lambda: host.leave(conn, req))
        else:
            received = time.monotonic()

            def command() -> None:
                host.command(conn, req)
                self.metrics.observe(
                    "voiceroom_command_seconds", time.monotonic() - received, type=req.type
                )
                if req.type == ClaimSale.TYPE:  # the shop's hot path, on its own
                    self.metrics.observe("voiceroom_claim_seconds", time.monotonic() - received)

            host.submit(command)

    async def _media_offer(
        self, conn: Connection, host: RoomHost, req: Request, offer: MediaOffer
    ) -> None:
        if host.media is None:
            conn.send(encode_error(req.id, ErrorCode.MEDIA_ERROR, "media is off on this server"))
            return
        try:
            answer = await host.media.connect(conn.user, offer.sdp)
        except Exception as exc:
            conn.log.warning("media offer failed", error=repr(exc))
            self.metrics.inc("voiceroom_errors_total", code=ErrorCode.MEDIA_ERROR.value)
            conn.send(encode_error(req.id, ErrorCode.MEDIA_ERROR, "could not set up media"))
            return
        self.metrics.inc("voiceroom_commands_total", type=req.type, outcome="ok")
        conn.send(encode_reply(req.id, {"sdp": answer}))


def _first(query: dict[str, Any], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None
