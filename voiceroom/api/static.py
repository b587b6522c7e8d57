"""The web client on the API port too, for deployments that put everything behind the API's
origin: Starlette's ``StaticFiles`` (ETag, ``If-None-Match`` -> 304, ``If-Modified-Since``,
ranges) behind the app's ``GZipMiddleware``.

It is the router's *fallback* (``router.default``), not a mount at ``/``: a mount at ``/``
matches every path fully and would win over an API route that matches the path but not the
method, turning the API's 405 into a static answer. Paths under ``/api/`` never reach it.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

# Same policy as the signalling port (voiceroom.signalling.static): no file name carries a
# content hash, so every file is revalidated (a 304 when unchanged).
CACHE_CONTROL = "no-cache"


def route_path(scope: Scope) -> str:
    """The request path below the app's ``root_path`` (what Starlette routes on)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class WebRoot(StaticFiles):
    """``StaticFiles`` with the signalling port's path rules: dot-files, NUL and backslashes
    are refused before Starlette's own normalisation and root check."""

    def get_path(self, scope: Scope) -> str:
        path = route_path(scope)
        if "\x00" in path or "\\" in path:
            raise HTTPException(status_code=404)
        if any(p.startswith(".") for p in path.split("/") if p):
            raise HTTPException(status_code=404)
        return super().get_path(scope)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        resp = super().file_response(full_path, stat_result, scope, status_code)
        resp.headers["Cache-Control"] = CACHE_CONTROL
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp


def install(app: FastAPI, root: Path | None, api_prefix: str = "/api/") -> None:
    """Serve ``root`` for every path no API route matches (nothing if ``root`` is None)."""
    if root is None or not root.is_dir():
        return
    files = WebRoot(directory=root, html=True)
    fallback: ASGIApp = app.router.default

    async def default(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not route_path(scope).startswith(api_prefix):
            await files(scope, receive, send)
        else:
            await fallback(scope, receive, send)

    app.router.default = default
