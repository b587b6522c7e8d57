"""The FastAPI application: routers, typed errors, the OpenAPI 3.1 document.

Errors are always ``{"error": {"code", "message"}}`` with a stable ``code``; request bodies
and parameters that fail their schema get FastAPI's standard 422 document.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from voiceroom import __version__
from voiceroom.api import hooks, participants, results, rooms, static
from voiceroom.api.auth import ApiAuthError
from voiceroom.api.context import ApiContext, ApiError
from voiceroom.api.models import ErrorResponse

PREFIX = "/api/v1"
MAX_BODY_BYTES = 64 * 1024  # every request body of this API is small JSON
OPENAPI_PATH = f"{PREFIX}/openapi.json"

DESCRIPTION = """\
Server API for a shop's backend: rooms, join links, participants, history and webhooks.

Authenticate with `Authorization: Bearer <JWT>`: an HS256 JWT signed with one of the
server's API keys, header `kid` = the key id, claims `iss` = the key id,
`aud` = `voiceroom-api`, `iat`, `exp` (at most 10 minutes after `iat`) and `scope`
(space-separated grants). `voiceroom api token` prints one. See docs/api.md.
"""


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Any:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


_ERR = {"model": ErrorResponse}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_ERR, "description": "an argument the room refuses"},
    401: {**_ERR, "description": "missing, malformed, forged or expired token"},
    403: {**_ERR, "description": "the token lacks this endpoint's scope"},
    404: {**_ERR, "description": "no such room, participant, seat or message"},
    409: {**_ERR, "description": "the room's state does not allow it now (e.g. ended)"},
    413: {**_ERR, "description": "request body over 64 KiB"},
    503: {**_ERR, "description": "shutting down or too many rooms"},
}


class BodyLimit:
    """ASGI middleware: refuse a request body over ``limit`` bytes with 413 before it is
    buffered (uvicorn itself has no body limit and Starlette reads JSON bodies whole)."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _too_large(send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Any) -> None:
    body = b'{"error": {"code": "too_large", "message": "request body too large"}}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(
        title="voiceroom API",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=OPENAPI_PATH,
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.add_middleware(BodyLimit)
    # Compresses JSON answers and the web client's files alike when the client asks.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    api = APIRouter(prefix=PREFIX, responses=ERRORS)
    api.include_router(rooms.router)
    api.include_router(participants.router)
    api.include_router(participants.history_router)
    api.include_router(results.router)
    api.include_router(hooks.router)
    app.include_router(api)
    static.install(app, ctx.config.web_root)

    @app.exception_handler(ApiAuthError)
    async def _auth(request: Request, exc: ApiAuthError) -> Any:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _error(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Any:
        # FastAPI's own handler encodes the echoed input as UTF-8 and fails (500) on a lone
        # surrogate (JSON allows "\ud800"); ASCII-escaped JSON carries any input.
        # A body that is not UTF-8 is echoed as bytes: shown with its odd bytes escaped.
        detail = jsonable_encoder(
            exc.errors(), custom_encoder={bytes: lambda b: b.decode("utf-8", "backslashreplace")}
        )
        body = json.dumps({"detail": detail}, ensure_ascii=True)
        return Response(body, status_code=422, media_type="application/json")

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Any:
        return _error(exc.status, exc.code, exc.message)

    allowed: list[tuple[re.Pattern[str], str]] = []

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Any:
        if exc.status_code != 405:
            return _error(
                exc.status_code, "not_found" if exc.status_code == 404 else "http", str(exc.detail)
            )
        # Starlette names only the first matching route's methods in Allow; a path served
        # by several routes (GET and POST /rooms) must list them all (RFC 9110 15.5.6).
        if not allowed:
            for path, item in app.openapi()["paths"].items():
                regex = re.sub(
                    r"\{[^}]+\}", "[^/]+", re.escape(path).replace(r"\{", "{").replace(r"\}", "}")
                )
                allowed.append(
                    (re.compile(f"^{regex}$"), ", ".join(sorted(m.upper() for m in item)))
                )
        methods = next((m for rx, m in allowed if rx.match(request.url.path)), "")
        return _error(405, "method_not_allowed", "method not allowed", {"Allow": methods})

    return app


def openapi_document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()
