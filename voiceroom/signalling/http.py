"""Plain HTTP answers served from the WebSocket port (health, metrics, join check) and the
path guard for static files (served with ETag and gzip by ``voiceroom.signalling.static``).

websockets hands every request to ``process_request`` before the upgrade; a returned
:class:`Response` is sent instead of the handshake. Static files are read from one root
directory and nothing outside it: the URL path is decoded, dot-segments, hidden files, NUL
and backslashes are refused, and the resolved path (symlinks followed) must stay under the
resolved root.
"""

from __future__ import annotations

import email.utils
import json
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from websockets.datastructures import Headers
from websockets.http11 import Response

MAX_STATIC_BYTES = 20 * 1024 * 1024


def response(
    status: HTTPStatus,
    body: bytes | str,
    content_type: str = "text/plain; charset=utf-8",
    extra: list[tuple[str, str]] | None = None,
    cache_control: str = "no-cache",
) -> Response:
    data = body.encode() if isinstance(body, str) else body
    # A 304 has no body; Content-Length would describe the body a 200 carries, which we do
    # not know here, so it is left out (RFC 9110 8.6 allows either).
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Content-Type", content_type),
            *([] if status is HTTPStatus.NOT_MODIFIED else [("Content-Length", str(len(data)))]),
            ("Cache-Control", cache_control),
            ("X-Content-Type-Options", "nosniff"),
            ("Connection", "close"),
            *(extra or []),
        ]
    )
    return Response(status.value, status.phrase, headers, data)


def json_response(status: HTTPStatus, body: Any) -> Response:
    return response(status, json.dumps(body), "application/json; charset=utf-8")


def text(status: HTTPStatus, message: str) -> Response:
    return response(status, message.rstrip("\n") + "\n")


def safe_path(root: Path, url_path: str) -> Path | None:
    """The file under ``root`` a URL path names, or None if it names nothing servable."""
    rel = unquote(url_path, errors="strict") if "%" in url_path else url_path
    if "\x00" in rel or "\\" in rel:
        return None
    parts = [p for p in rel.split("/") if p]
    if any(p in (".", "..") or p.startswith(".") for p in parts):
        return None
    if not parts or rel.endswith("/"):
        parts.append("index.html")
    base = root.resolve()
    try:
        target = base.joinpath(*parts).resolve()
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target
