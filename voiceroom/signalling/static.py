"""The web client's files on the signalling port, with HTTP caching and compression.

websockets' ``process_request`` cannot run an ASGI app, so this module answers static GETs
itself; the HTTP semantics are the standard ones (RFC 9110/9111), built from the standard
library:

- **strong ETag** = SHA-256 of the body (the gzip variant gets its own tag, as a different
  representation must), cached per file by ``(mtime_ns, size)`` so a file is hashed and
  compressed once until it changes;
- ``If-None-Match`` (weak comparison, ``*`` matches) -> **304** with the tag and no body;
- ``Cache-Control: no-cache``: every file may be stored but is revalidated, because none of
  the client's file names carry a content hash (a long ``max-age`` on ``app.js`` would keep
  an old client after an upgrade); the revalidation is a 304 with no body;
- **gzip** (``gzip`` module) when ``Accept-Encoding`` allows it (q > 0) and the body is a
  text type larger than :data:`MIN_GZIP_BYTES`; ``Vary: Accept-Encoding`` on those types.

The path guard is :func:`voiceroom.signalling.http.safe_path`. The API port serves the same
root through Starlette (``voiceroom.api.static``).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from websockets.datastructures import Headers
from websockets.http11 import Response

from voiceroom.signalling import http

MIN_GZIP_BYTES = 1024
CACHE_CONTROL = "no-cache"
MAX_CACHED_FILES = 512
# Types worth compressing; images other than SVG and audio are already compressed.
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")


@dataclass(frozen=True, slots=True)
class _Entry:
    stamp: tuple[int, int]  # (mtime_ns, size) the entry was built from
    body: bytes
    etag: str
    gz: bytes | None  # None: not compressible or not smaller
    gz_etag: str


def content_type(name: str) -> str:
    ctype, _ = mimetypes.guess_type(name)
    if ctype is None:
        return "application/octet-stream"
    if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
        return ctype + "; charset=utf-8"
    return ctype


def compressible(ctype: str) -> bool:
    return ctype.startswith(COMPRESSIBLE)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """True if ``Accept-Encoding`` allows gzip (RFC 9110 12.5.3): ``gzip``/``x-gzip`` or
    ``*`` with q > 0, an explicit ``gzip;q=0`` refusing it."""
    if not accept_encoding:
        return False
    star: bool | None = None
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        coding = name.strip().lower()
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            star = q > 0
    return bool(star)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of ``If-None-Match`` against one tag (RFC 9110 13.1.2)."""
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == bare for t in if_none_match.split(","))


def _build(target: Path, stamp: tuple[int, int], ctype: str) -> _Entry:
    body = target.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:32]
    gz: bytes | None = None
    if compressible(ctype) and len(body) > MIN_GZIP_BYTES:
        # mtime=0: the same body always compresses to the same bytes (stable gz ETag).
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        gz = packed if len(packed) < len(body) else None
    return _Entry(stamp, body, f'"{digest}"', gz, f'"{digest}-gz"')


class StaticSite:
    """One web root served from the signalling port; entries are cached by mtime+size."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._cache: dict[Path, _Entry] = {}

    async def get(self, url_path: str, headers: Headers) -> Response:
        if self.root is None:
            return http.text(HTTPStatus.NOT_FOUND, "not found")
        try:
            target = http.safe_path(self.root, url_path)
        except UnicodeDecodeError:
            target = None
        if target is None:
            return http.text(HTTPStatus.NOT_FOUND, "not found")
        try:
            st = target.stat()
            if st.st_size > http.MAX_STATIC_BYTES:
                return http.text(HTTPStatus.NOT_FOUND, "not found")
            ctype = content_type(target.name)
            stamp = (st.st_mtime_ns, st.st_size)
            entry = self._cache.get(target)
            if entry is None or entry.stamp != stamp:
                entry = await asyncio.to_thread(_build, target, stamp, ctype)
                if len(self._cache) >= MAX_CACHED_FILES:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[target] = entry
        except OSError:
            return http.text(HTTPStatus.NOT_FOUND, "not found")
        use_gz = entry.gz is not None and accepts_gzip(headers.get("Accept-Encoding"))
        etag = entry.gz_etag if use_gz else entry.etag
        extra = [("ETag", etag)]
        if compressible(ctype):
            extra.append(("Vary", "Accept-Encoding"))
        inm = headers.get("If-None-Match")
        if inm is not None and etag_matches(inm, etag):
            return http.response(HTTPStatus.NOT_MODIFIED, b"", ctype, extra, CACHE_CONTROL)
        if use_gz:
            assert entry.gz is not None
            extra.append(("Content-Encoding", "gzip"))
            return http.response(HTTPStatus.OK, entry.gz, ctype, extra, CACHE_CONTROL)
        return http.response(HTTPStatus.OK, entry.body, ctype, extra, CACHE_CONTROL)
