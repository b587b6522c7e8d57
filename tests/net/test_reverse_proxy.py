"""voiceroom behind Debian's nginx, with deploy/nginx-voiceroom.conf as documented in
docs/deploy.md: TLS at nginx (a trustme CA), the page and the WebSocket through it, the
client's address and scheme from X-Forwarded-* believed only from the trusted proxy, and
a bot hearing a tone through a room joined via the proxy. nginx runs on loopback from a
temp directory and is stopped after."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from voiceroom.auth import issue_token
from voiceroom.client import MediaPeer, RoomClient
from voiceroom.config import Config
from voiceroom.protocol import decode_server
from voiceroom.server import Server

pytestmark = [pytest.mark.timeout(120)]
trustme = pytest.importorskip("trustme")

ROOT = Path(__file__).resolve().parents[2]
SECRET = "proxy-test-secret-0123456789abcdef0123"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def site_config(port: int, upstream: int, cert: Path, key: Path, api: int = 8766) -> str:
    """The documented site file, pointed at this test's ports and certificate."""
    text = (ROOT / "deploy" / "nginx-voiceroom.conf").read_text()
    text = re.sub(r"listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;", text)
    text = re.sub(r"\n\s*listen \[::\]:443 ssl;", "", text)
    text = text.replace("127.0.0.1:8765", f"127.0.0.1:{upstream}")
    text = text.replace("127.0.0.1:8766", f"127.0.0.1:{api}")
    text = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", text)
    text = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", text)
    assert f"127.0.0.1:{upstream}" in text and str(key) in text
    return text


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Any]:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    leaf.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return {"ctx": ctx, "ca": tmp_path / "ca.pem"}


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server(
        Config(
            port=0,
            secret=SECRET,
            media=True,
            trusted_proxies=("127.0.0.1",),
            shutdown_timeout=1.0,
            log_level="warning",
        )
    )
    await srv.start()
    try:
        yield srv
    finally:
        await srv.shutdown()


@pytest.fixture
def nginx(server: Server, pki: dict[str, Any], tmp_path: Path) -> Iterator[int]:
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed: scripts/bootstrap.sh installs Debian nginx")
    port = free_port()
    d = tmp_path / "nginx"
    d.mkdir()
    (d / "site.conf").write_text(
        site_config(
            port, server.port, tmp_path / "cert.pem", tmp_path / "key.pem", server.api_port or 0
        )
    )
    temps = "\n".join(
        f"    {name}_temp_path {d / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (d / "nginx.conf").write_text(
        f"""daemon off;
master_process off;
pid {d / "nginx.pid"};
error_log {d / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    access_log {d / "access.log"};
{temps}
    include {d / "site.conf"};
}}
"""
    )
    check = subprocess.run(
        [NGINX, "-t", "-p", str(d), "-c", str(d / "nginx.conf")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(
        [NGINX, "-p", str(d), "-c", str(d / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"nginx did not start: {proc.stderr.read() if proc.stderr else ''}"
                    ) from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def welcome(
    url: str, token: str, *, source: str, headers: dict[str, str], ctx: Any = None
) -> dict[str, Any]:
    """Join with a raw WebSocket from ``source`` (a loopback address) sending ``headers``;
    the welcome's session."""
    extra: Any = {"ssl": ctx} if ctx is not None else {}
    async with connect(
        f"{url}/ws?token={token}",
        additional_headers=headers,
        local_addr=(source, 0),
        proxy=None,
        **extra,
    ) as ws:
        frame = decode_server(bytes(await ws.recv()))  # type: ignore[arg-type]
    assert frame["type"] == "welcome", frame
    session: dict[str, Any] = frame["body"]["session"]
    return session


def token(user: str, role: str = "listener") -> str:
    return issue_token(SECRET, room="proxied", user=user, name=user.title(), role=role)


async def test_page_and_websocket_through_nginx_with_tls(
    server: Server, nginx: int, pki: dict[str, Any]
) -> None:
    base = f"https://127.0.0.1:{nginx}"
    async with httpx.AsyncClient(verify=pki["ctx"]) as http:
        page = await http.get(f"{base}/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert (await http.get(f"{base}/healthz")).text.strip() == "ok"
        assert (await http.get(f"{base}/js/media.js")).status_code == 200
        # The HTTP API through its own location; /metrics only from the allowed addresses.
        spec = await http.get(f"{base}/api/v1/openapi.json")
        assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")
        assert (await http.get(f"{base}/metrics")).status_code == 200
    other = httpx.AsyncHTTPTransport(verify=pki["ctx"], local_address="127.0.0.2")
    async with httpx.AsyncClient(transport=other) as http:
        assert (await http.get(f"{base}/metrics")).status_code == 403
        assert (await http.get(f"{base}/healthz")).status_code == 403
        assert (await http.get(f"{base}/")).status_code == 200

    host = await RoomClient.join(
        f"wss://127.0.0.1:{nginx}", token("host-1", "host"), ssl_context=pki["ctx"]
    )
    try:
        forged = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https"}
        # Through the proxy: nginx overwrites X-Forwarded-For with the real peer; the
        # server believes nginx (127.0.0.1 is trusted) and sees TLS from its header.
        via = await welcome(
            f"wss://127.0.0.1:{nginx}",
            token("ann"),
            source="127.0.0.2",
            headers=forged,
            ctx=pki["ctx"],
        )
        assert (via["address"], via["secure"]) == ("127.0.0.2", True)
        # Straight to the server from an untrusted address: the same headers are ignored.
        direct = await welcome(
            f"ws://127.0.0.1:{server.port}", token("bob"), source="127.0.0.3", headers=forged
        )
        assert (direct["address"], direct["secure"]) == ("127.0.0.3", False)

        # A bot hears a tone in a room joined through the proxy (media goes direct, UDP).
        speaker = await MediaPeer.connect(host)
        speaker.publish_tone(440.0)
        ear = await RoomClient.join(
            f"wss://localhost:{nginx}", token("ear"), ssl_context=pki["ctx"]
        )
        try:
            assert ear.session["secure"] is True
            peer = await MediaPeer.connect(ear)
            try:
                level = await peer.wait_for_tone(440.0, threshold=0.05, timeout=10)
                assert level > 0.05
            finally:
                await peer.close()
        finally:
            await ear.close()
        await speaker.close()
    finally:
        await host.close()
    await asyncio.sleep(0)
