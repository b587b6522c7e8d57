"""The web client's files on the signalling port: strong ETags, 304 on If-None-Match,
gzip only when asked, Content-Type, no-cache, and the path guard (real sockets)."""

from __future__ import annotations

import asyncio
import gzip
import http.client
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from voiceroom.signalling.static import accepts_gzip, etag_matches

from .harness import ServerFactory

APP_JS = "export const greeting = 'marhaba';\n" * 200  # ~7 KiB, compressible


def make_web(root: Path) -> Path:
    root.mkdir()
    (root / "index.html").write_text("<!doctype html><title>voiceroom</title>" + "<p>x</p>" * 300)
    (root / "js").mkdir()
    (root / "js" / "app.js").write_text(APP_JS)
    (root / "tiny.css").write_text("body{}")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(4000))
    (root / ".secret").write_text("top-secret")
    return root


def raw_get(base: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    try:
        conn.request("GET", path, headers=headers)  # http.client adds no Accept-Encoding
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


async def get(base: str, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
    return await asyncio.to_thread(raw_get, base, path, hdrs)


async def test_etag_304_and_gzip_on_the_signalling_port(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    h = await make_server(web_root=make_web(tmp_path / "site"))
    status, hd, body = await get(h.http, "/js/app.js")
    assert status == 200 and body.decode() == APP_JS
    assert hd["content-type"] == "text/javascript; charset=utf-8"
    assert "content-encoding" not in hd and hd["cache-control"] == "no-cache"
    assert hd["vary"] == "Accept-Encoding" and hd["content-length"] == str(len(APP_JS))
    etag = hd["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")

    status, hd, body = await get(h.http, "/js/app.js", If_None_Match=etag)
    assert (status, body, hd["etag"]) == (304, b"", etag)
    status, hd, body = await get(h.http, "/js/app.js", If_None_Match=f'"x", W/{etag}')
    assert status == 304
    assert (await get(h.http, "/js/app.js", If_None_Match='"other"'))[0] == 200

    status, hd, body = await get(h.http, "/js/app.js", Accept_Encoding="br, gzip;q=0.5")
    assert status == 200 and hd["content-encoding"] == "gzip"
    assert gzip.decompress(body).decode() == APP_JS and len(body) < len(APP_JS)
    assert hd["content-length"] == str(len(body)) and hd["etag"] != etag  # own representation
    status, _, _ = await get(h.http, "/js/app.js", Accept_Encoding="gzip", If_None_Match=hd["etag"])
    assert status == 304
    for refused in ("gzip;q=0", "br", "identity", "*;q=0"):
        status, hd, body = await get(h.http, "/js/app.js", Accept_Encoding=refused)
        assert "content-encoding" not in hd and body.decode() == APP_JS, refused

    # Small or already-compressed bodies are sent as they are.
    status, hd, body = await get(h.http, "/tiny.css", Accept_Encoding="gzip")
    assert (status, body) == (200, b"body{}") and "content-encoding" not in hd
    assert hd["content-type"] == "text/css; charset=utf-8"
    status, hd, body = await get(h.http, "/logo.png", Accept_Encoding="gzip")
    assert status == 200 and hd["content-type"] == "image/png" and "content-encoding" not in hd

    status, hd, body = await get(h.http, "/", Accept_Encoding="gzip")
    assert status == 200 and hd["content-type"].startswith("text/html")
    assert gzip.decompress(body).startswith(b"<!doctype html>")

    # A changed file gets a new tag (the cache is keyed by mtime and size).
    (tmp_path / "site" / "js" / "app.js").write_text(APP_JS + "// v2\n")
    status, hd, body = await get(h.http, "/js/app.js", If_None_Match=etag)
    assert status == 200 and body.endswith(b"// v2\n") and hd["etag"] != etag


@pytest.mark.parametrize(
    "evil",
    [
        "/../conftest.py",
        "/%2e%2e/music/intro.ogg",
        "/..%2fmusic%2fintro.ogg",
        "/.secret",
        "/js/../.secret",
        "/nope.js",
        "/%00",
        "/a%5c..%5cb",
    ],
)
async def test_traversal_refused_on_the_signalling_port(
    make_server: ServerFactory, tmp_path: Path, evil: str
) -> None:
    h = await make_server(web_root=make_web(tmp_path / "site"))
    status, _, body = await get(h.http, evil, Accept_Encoding="gzip")
    assert status == 404 and b"top-secret" not in body, evil


def test_accept_encoding_and_if_none_match_parsing() -> None:
    assert accepts_gzip("gzip") and accepts_gzip("deflate, GZIP;q=0.1") and accepts_gzip("*")
    assert accepts_gzip("x-gzip") and accepts_gzip("br;q=1, *;q=0.5")
    assert not accepts_gzip(None) and not accepts_gzip("") and not accepts_gzip("br")
    assert not accepts_gzip("gzip;q=0") and not accepts_gzip("*;q=0")
    assert not accepts_gzip("gzip;q=0, *") and not accepts_gzip("gzip;q=nonsense")
    assert etag_matches("*", '"a"') and etag_matches('"b", W/"a"', '"a"')
    assert not etag_matches('"ab"', '"a"') and not etag_matches("", '"a"')
