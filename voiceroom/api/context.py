"""What the handlers share: the room registry, room records, history, webhooks; the auth
dependency; the typed API error; and the one way handlers reach a room (its job stream)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from voiceroom.api.auth import ApiAuthError, Principal, Scope, require_scope, verify_api_token
from voiceroom.api.events import EventFeed, ShopEvent
from voiceroom.api.history import HistoryReader
from voiceroom.api.webhooks import WebhookService
from voiceroom.config import Config
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.signalling.room_host import Registry, RoomHost

T = TypeVar("T")


class ApiError(Exception):
    def __init__(self, status: HTTPStatus, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# Room rule codes → HTTP status; anything else is 409 (the room's state forbids it now).
_RULE_STATUS: dict[str, HTTPStatus] = {
    ErrorCode.UNKNOWN_USER.value: HTTPStatus.NOT_FOUND,
    ErrorCode.NO_SUCH_SEAT.value: HTTPStatus.NOT_FOUND,
    ErrorCode.INVALID_ARGUMENT.value: HTTPStatus.BAD_REQUEST,
    ErrorCode.FORBIDDEN.value: HTTPStatus.CONFLICT,
}


def rule_error(exc: RuleError) -> ApiError:
    code = str(exc.code.value)
    return ApiError(_RULE_STATUS.get(code, HTTPStatus.CONFLICT), code, exc.message)


@dataclass(slots=True)
class RoomRecord:
    """What the API knows of a room beyond its live state (kept after it ends). Kept in
    step by the event feed, so listing rooms reads no room's state outside its stream."""

    id: str
    title: str
    market: str | None
    time_zone: str | None
    seat_count: int
    starts_at: float | None
    created_at: float | None
    phase: str = "warmup"


ENDED_RECORDS_KEPT = 10_000


@dataclass(slots=True)
class ApiContext:
    config: Config
    registry: Registry
    history: HistoryReader
    webhooks: WebhookService
    feed: EventFeed
    records: dict[str, RoomRecord] = field(default_factory=dict)
    page_base: str = ""  # http://host:port of the page, once the server is bound
    clock: Callable[[], float] = time.time
    _ended: int = 0

    def on_events(self, events: Sequence[ShopEvent]) -> None:
        """EventFeed subscriber (in the room job): records follow what rooms did, including
        rooms a host opened by joining (they get a record on their first event)."""
        for event in events:
            record = self.records.get(event.room)
            if record is None:
                default = self.config.room
                record = RoomRecord(
                    event.room, event.room, None, None, default.seat_count, None, None
                )
                self.records[event.room] = record
            kind = event.type
            if kind in ("room.scheduled", "room.started", "room.ended"):
                record.phase = {"room.scheduled": record.phase, "room.started": "show"}.get(
                    kind, "ended"
                )
                record.starts_at = event.data.get("show_starts_at", record.starts_at)
                if kind == "room.ended":
                    self._ended += 1
                    self._forget_old_ended()

    def _forget_old_ended(self) -> None:
        if self._ended <= ENDED_RECORDS_KEPT:
            return
        for room_id in [r.id for r in self.records.values() if r.phase == "ended"]:
            if self._ended <= ENDED_RECORDS_KEPT:
                break
            del self.records[room_id]
            self._ended -= 1

    def host(self, room_id: str) -> RoomHost:
        host = self.registry.get(room_id)
        if host is None:
            record = self.records.get(room_id)
            ended = record is not None and record.phase == "ended"
            if ended or self.registry.status(room_id).value == "ended":
                raise ApiError(HTTPStatus.CONFLICT, "room_ended", f"room {room_id!r} has ended")
            raise ApiError(HTTPStatus.NOT_FOUND, "room_not_found", f"no room {room_id!r}")
        return host

    async def change(self, room_id: str, fn: Callable[[RoomHost], Awaitable[int]]) -> int:
        """A change through a server-only entry point (``RoomHost.server_command`` /
        ``set_tier``): a journaled job on the room's stream; returns the room's seq once
        committed (a durable "ok")."""
        host = self.host(room_id)
        try:
            return await fn(host)
        except RuleError as exc:
            raise rule_error(exc) from None
        except RuntimeError:
            raise ApiError(
                HTTPStatus.CONFLICT, "room_ended", f"room {room_id!r} has ended"
            ) from None

    async def in_room(self, room_id: str, fn: Callable[[RoomHost], T]) -> T:
        """Run ``fn(host)`` as a job on the room's stream (never beside it) and wait."""
        host = self.host(room_id)
        try:
            result: T = await host.call(lambda: fn(host))
        except RuleError as exc:
            raise rule_error(exc) from None
        except RuntimeError:
            raise ApiError(
                HTTPStatus.CONFLICT, "room_ended", f"room {room_id!r} has ended"
            ) from None
        return result


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(context)]

_bearer = HTTPBearer(auto_error=False, description="HS256 JWT signed with an API key")


def scope(needed: Scope) -> Any:
    """A dependency: a valid API token carrying ``needed``; 401/403 otherwise."""

    def check(
        request: Request,
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        ctx: ApiContext = request.app.state.ctx
        header = None if creds is None else f"Bearer {creds.credentials}"
        principal = verify_api_token(ctx.config.api_key_secrets, header)
        require_scope(principal, needed)
        route = request.scope.get("route")
        if route is not None:  # unknown query parameters are a caller's bug: say so
            known = {p.alias for p in route.dependant.query_params}
            raw = request.scope.get("query_string", b"").decode("latin-1")
            # Every name, blank ones too (``?=x`` is a parameter without a name).
            names = {k for k, _ in parse_qsl(raw, keep_blank_values=True)} | set(
                request.query_params
            )
            if raw and any(not part.split("=", 1)[0] for part in raw.split("&") if part):
                names.add("")
            extra = sorted(names - known)
            if extra:
                raise ApiError(
                    HTTPStatus.BAD_REQUEST, "invalid_argument", f"unknown parameter {extra[0]!r}"
                )
        return principal

    return Depends(check)


def guard(needed: Scope) -> dict[str, Any]:
    """Route keyword arguments: the scope check, and its name in the OpenAPI document
    (``x-scope``) so docs and clients know which grant each operation needs."""
    return {"dependencies": [scope(needed)], "openapi_extra": {"x-scope": needed.value}}


__all__ = ["ApiAuthError", "ApiContext", "ApiError", "Ctx", "RoomRecord", "guard", "scope"]
