"""The same web root on the API port (Starlette StaticFiles + GZipMiddleware): 304 on
If-None-Match, gzip only when asked, Content-Type, the path guard, and API routes and their
errors unchanged by the fallback."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.signalling.test_ws_static import APP_JS, get, make_web

from .harness import ApiFactory


async def test_the_api_port_serves_the_page_with_etag_and_gzip(
    make_api: ApiFactory, tmp_path: Path
) -> None:
    api = await make_api(web_root=make_web(tmp_path / "site"))
    status, hd, body = await get(api.base, "/js/app.js")
    assert status == 200 and body.decode() == APP_JS
    assert hd["content-type"] == "text/javascript; charset=utf-8"
    assert "content-encoding" not in hd and hd["cache-control"] == "no-cache"
    etag = hd["etag"]
    status, hd, body = await get(api.base, "/js/app.js", If_None_Match=etag)
    assert (status, body) == (304, b"")
    assert (await get(api.base, "/js/app.js", If_None_Match='"other"'))[0] == 200

    status, hd, body = await get(api.base, "/js/app.js", Accept_Encoding="gzip")
    assert status == 200 and hd["content-encoding"] == "gzip"
    assert gzip.decompress(body).decode() == APP_JS
    status, hd, body = await get(api.base, "/js/app.js", Accept_Encoding="br")
    assert "content-encoding" not in hd and body.decode() == APP_JS

    status, hd, body = await get(api.base, "/")
    assert status == 200 and hd["content-type"].startswith("text/html")
    assert body.startswith(b"<!doctype html>")
    status, hd, _ = await get(api.base, "/logo.png")
    assert status == 200 and hd["content-type"] == "image/png"

    # The API keeps its own answers: typed 404 under /api/, the 405 with Allow, auth.
    status, hd, body = await get(api.base, "/api/v1/nope")
    assert status == 404 and b'"not_found"' in body
    assert (await api.http.get("/api/v1/rooms")).status_code == 401
    resp = await api.http.delete("/api/v1/rooms")
    assert resp.status_code == 405 and "GET" in resp.headers["allow"]
    assert (await get(api.base, "/api/v1/openapi.json"))[0] == 200


@pytest.mark.parametrize(
    "evil",
    [
        "/../conftest.py",
        "/%2e%2e/conftest.py",
        "/..%2fconftest.py",
        "/.secret",
        "/js/../.secret",
        "/nope.js",
        "/%00",
        "/a%5c..%5cb",
    ],
)
async def test_traversal_refused_on_the_api_port(
    make_api: ApiFactory, tmp_path: Path, evil: str
) -> None:
    (tmp_path / "conftest.py").write_text("top-secret")
    api = await make_api(web_root=make_web(tmp_path / "site"))
    status, _, body = await get(api.base, evil)
    assert status == 404 and b"top-secret" not in body, evil


async def test_no_web_root_no_page(api: object) -> None:
    from .harness import Api

    assert isinstance(api, Api)
    status, _, body = await get(api.base, "/")
    assert status == 404 and b'"not_found"' in body
