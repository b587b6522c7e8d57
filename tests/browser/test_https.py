"""Chromium over https with a CA the test makes (trustme): the page joins, takes the
microphone and is heard by a Python bot (FFT). No insecure-origin flags: Chromium trusts
the CA through an NSS database in a throw-away HOME (certutil, Debian libnss3-tools).

The page is served as ``https://voiceroom.test:PORT`` (``--host-resolver-rules`` maps the
name to 127.0.0.1): a non-loopback origin, so only TLS makes it a secure context. The same
page over plain http is refused the microphone and says why (``audio.needs_https``).
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_web_client import CHROMIUM, chromium_args, until, write_tone_wav
from voiceroom.auth import issue_token
from voiceroom.client import MediaPeer, RoomClient
from voiceroom.config import Config
from voiceroom.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.timeout(120)]
async_playwright = pytest.importorskip("playwright.async_api").async_playwright
trustme = pytest.importorskip("trustme")

SECRET = "https-test-secret-0123456789abcdef0123"
NAME = "voiceroom.test"
MIC_HZ = 1000.0


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Any]:
    ca = trustme.CA()
    leaf = ca.issue_cert(NAME, "127.0.0.1")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    return {"dir": tmp_path, "ctx": client_ctx}


def nss_home(tmp: Path, ca_pem: Path) -> Path:
    """A HOME whose NSS database (what Chromium on Linux trusts) holds the test CA."""
    certutil = shutil.which("certutil")
    if certutil is None:
        pytest.fail("certutil is missing: scripts/bootstrap.sh installs Debian libnss3-tools")
    home = tmp / "home"
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    subprocess.run([certutil, "-d", f"sql:{db}", "-N", "--empty-password"], check=True)
    subprocess.run(
        [certutil, "-d", f"sql:{db}", "-A", "-t", "C,,", "-n", "voiceroom-test", "-i", ca_pem],
        check=True,
    )
    return home


async def start(**kw: Any) -> Server:
    server = Server(
        Config(port=0, secret=SECRET, media=True, shutdown_timeout=1.0, log_level="warning", **kw)
    )
    await server.start()
    return server


@pytest.fixture
async def tls_server(pki: dict[str, Any]) -> AsyncIterator[Server]:
    d = pki["dir"]
    server = await start(tls_cert=d / "cert.pem", tls_key=d / "key.pem")
    try:
        yield server
    finally:
        await server.shutdown()


async def test_page_over_https_takes_the_mic_and_is_heard(
    tls_server: Server, pki: dict[str, Any], tmp_path: Path
) -> None:
    port = tls_server.port
    wav = tmp_path / "mic.wav"
    write_tone_wav(wav, MIC_HZ)
    host_token = issue_token(SECRET, room="tls", user="host-1", name="Hana", role="host")
    ear_token = issue_token(SECRET, room="tls", user="ear", name="Ear")
    home = nss_home(tmp_path, pki["dir"] / "ca.pem")
    args = [*chromium_args(wav), f"--host-resolver-rules=MAP {NAME} 127.0.0.1"]
    plain = await start()  # the same page over http, for the refusal
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=args, env={"HOME": str(home)}
        )
        try:
            ctx = await browser.new_context(locale="en-US")
            page = await ctx.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            # The host page opens the room and holds seat 0: it publishes its microphone.
            await page.goto(f"https://{NAME}:{port}/?token={host_token}&lang=en")
            assert await page.evaluate("window.isSecureContext") is True
            await until(lambda: page.evaluate("window.voiceroom?.mic === 'live'"), 15, "mic live")
            session = await page.evaluate("window.voiceroom.session.url")
            assert session.startswith(f"wss://{NAME}:{port}/ws")
            ear = await RoomClient.join(
                f"wss://127.0.0.1:{port}", ear_token, ssl_context=pki["ctx"]
            )
            try:
                assert ear.session["secure"] is True
                peer = await MediaPeer.connect(ear)
                try:
                    level = await peer.wait_for_tone(MIC_HZ, threshold=0.02, timeout=15)
                finally:
                    await peer.close()
            finally:
                await ear.close()
            print(f"bot heard the https page's microphone at {level:.3f} FS")

            # Plain http on a non-loopback name: no secure context, no microphone, a reason.
            page2 = await ctx.new_page()
            page2.on("pageerror", lambda e: errors.append(str(e)))
            await page2.goto(f"http://{NAME}:{plain.port}/?token={host_token}&lang=en")
            assert await page2.evaluate("window.isSecureContext") is False
            await page2.get_by_text("The microphone needs a secure (https) page").wait_for(
                timeout=10_000
            )
        finally:
            await browser.close()
            await plain.shutdown()
    assert errors == []


async def test_page_uses_ice_servers_and_relay_policy_from_welcome(tmp_path: Path) -> None:
    """The page builds its RTCPeerConnection from welcome.session: STUN/TURN servers with
    their credentials, and the relay policy, under which it offers no host candidate."""
    turn = "turn:127.0.0.1:9?transport=udp"  # nothing listens: only the configuration counts
    server = await start(
        stun_urls=("stun:127.0.0.1:9",),
        turn_urls=(turn,),
        turn_secret="browser-turn-secret",
        turn_ttl=600.0,
        ice_transport_policy="relay",
    )
    wav = tmp_path / "mic.wav"
    write_tone_wav(wav, MIC_HZ)
    host_token = issue_token(SECRET, room="relay", user="host-1", name="Hana", role="host")
    errors: list[str] = []
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=str(CHROMIUM), args=chromium_args(wav)
            )
            try:
                page = await (await browser.new_context(locale="en-US")).new_page()
                page.on("pageerror", lambda e: errors.append(str(e)))
                await page.goto(f"http://127.0.0.1:{server.port}/?token={host_token}&lang=en")
                config = await until(
                    lambda: page.evaluate(
                        "(() => { const pc = window.voiceroom?.media?.pc;"
                        " return pc && pc.localDescription && "
                        "{config: pc.getConfiguration(), sdp: pc.localDescription.sdp}; })()"
                    ),
                    15,
                    "a local description",
                )
                assert config["config"]["iceTransportPolicy"] == "relay"
                stun, turn_server = config["config"]["iceServers"]
                assert stun["urls"] == ["stun:127.0.0.1:9"]
                assert turn_server["urls"] == [turn]
                expiry, user = turn_server["username"].split(":")
                assert user == "host-1" and int(expiry) > 0 and turn_server["credential"]
                assert " typ host" not in config["sdp"], config["sdp"]
                # The refresh command answers the page too.
                fresh = await page.evaluate(
                    "window.voiceroom.media.refreshIce().then(() => window.voiceroom.media.ice)"
                )
                assert fresh["policy"] == "relay" and fresh["expiresAt"] >= int(expiry)
            finally:
                await browser.close()
    finally:
        await server.shutdown()
    assert errors == []
