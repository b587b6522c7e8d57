"""``voiceroom serve --tls-cert --tls-key``: https and wss on one port, from the command line."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.net.test_reverse_proxy import free_port
from voiceroom.client import RoomClient

trustme = pytest.importorskip("trustme")
ROOT = Path(__file__).resolve().parents[2]


def test_cert_without_key_is_refused() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "voiceroom", "serve", "--tls-cert", "/nonexistent.pem"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2 and "tls_cert and tls_key go together" in proc.stderr


def test_unreadable_key_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("not a certificate")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "voiceroom",
            "serve",
            "--port",
            "0",
            "--tls-cert",
            str(tmp_path / "c.pem"),
            "--tls-key",
            str(tmp_path / "c.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), "VOICEROOM_SECRET": "s" * 40},
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "not a PEM certificate chain and its private key" in proc.stderr


@pytest.fixture
def tls_demo(tmp_path: Path) -> Iterator[tuple[int, dict[str, str], ssl.SSLContext]]:
    """`voiceroom serve --demo` over TLS in a child process: (port, links, client ctx)."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    leaf.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    port = free_port()
    argv = [sys.executable, "-m", "voiceroom", "serve", "--demo", "--port", str(port)]
    argv += ["--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")]
    proc = subprocess.Popen(
        [*argv, "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,  # the store's var/ goes there
    )
    try:
        assert proc.stdout is not None
        links = {}
        for line in proc.stdout:
            if "https://" in line:
                label, url = line.split()
                links[label] = url
            if len(links) == 5:
                break
        yield port, links, ctx
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)


async def test_serve_demo_over_tls(tls_demo: tuple[int, dict[str, str], ssl.SSLContext]) -> None:
    port, links, ctx = tls_demo
    assert links["host"].startswith(f"https://127.0.0.1:{port}/?token=")
    async with httpx.AsyncClient(verify=ctx) as http:
        assert (await http.get(f"https://127.0.0.1:{port}/healthz")).text.strip() == "ok"
        page = await http.get(f"https://127.0.0.1:{port}/")
        assert page.status_code == 200 and "<html" in page.text.lower()
    client = await RoomClient.join(links["listener-new"], ssl_context=ctx)
    try:
        assert client.session["secure"] is True and client.session["room"] == "demo"
    finally:
        await client.close()
    # Plain http on the TLS port is not served.
    with pytest.raises(httpx.HTTPError):
        async with httpx.AsyncClient() as http:
            await http.get(f"http://127.0.0.1:{port}/healthz", timeout=3)


def test_healthcheck_script(tls_demo: tuple[int, dict[str, str], ssl.SSLContext]) -> None:
    """deploy/healthcheck.py (the Docker HEALTHCHECK): 0 for a live TLS server, 1 if down."""
    port, _, _ = tls_demo
    script = [sys.executable, str(ROOT / "deploy" / "healthcheck.py")]
    env = {**os.environ, "VOICEROOM_PORT": str(port), "VOICEROOM_TLS_CERT": "/etc/x.pem"}
    assert subprocess.run(script, env=env, timeout=30).returncode == 0
    env["VOICEROOM_PORT"] = str(free_port())
    down = subprocess.run(script, env=env, timeout=30, capture_output=True, text=True)
    assert down.returncode == 1 and "unhealthy" in down.stderr
