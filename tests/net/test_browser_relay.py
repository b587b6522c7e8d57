"""Chromium behind the test's NAT, relay only: the page (https, a CA trusted through an NSS
database, no insecure-origin flags) takes its STUN/TURN servers, time-limited credentials
and ``iceTransportPolicy: "relay"`` from welcome, sends its microphone through coturn, and a
Python listener behind the same NAT hears it (FFT). Then the same with UDP blocked: the
browser reaches coturn over TURN/TLS.

Chromium runs inside the client namespace through a wrapper (``ip netns exec``); Playwright
drives it over its pipe, which crosses namespaces unharmed.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_https import nss_home
from tests.browser.test_web_client import CHROMIUM, chromium_args, until, write_tone_wav
from tests.net.conftest import SECRET, TURN_SECRET, peer_in, server_in
from tests.net.netns import SRV_PUBLIC_IP, TURN_IP, Topology
from tests.net.test_nat import BASE
from voiceroom.auth import issue_token

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow, pytest.mark.timeout(300)]
async_playwright = pytest.importorskip("playwright.async_api").async_playwright
trustme = pytest.importorskip("trustme")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)

PORT = 8443
MIC_HZ = 1000.0

# The pair the page nominated, and the type and protocol of its local candidate.
SELECTED_PAIR_JS = """async () => {
  const stats = await window.voiceroom.media.pc.getStats();
  let pair = null;
  stats.forEach((r) => {
    if (r.type === "transport" && r.selectedCandidatePairId) {
      pair = stats.get(r.selectedCandidatePairId);
    }
  });
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId);
  return {type: local.candidateType, relayProtocol: local.relayProtocol ?? null};
}"""


# Where the page stands, for a failure message: mic, session, peer connection, the
# candidates it offered and those of the answer, candidate pairs.
PAGE_STATE_JS = """async () => {
  const app = window.voiceroom, m = app?.media, pc = m?.pc;
  const out = {boot: window.voiceroomBoot ?? null, mic: app?.mic, conn: app?.conn,
    closed: app?.closed, canSpeak: app?.st?.canSpeak,
    micWanted: m?.micWanted, micTrack: m?.micTrack?.readyState ?? null, failures: m?.failures,
    offers: m?.offers, negotiating: !!m?.negotiating, pc: null};
  if (pc) {
    const cands = (sdp) => (sdp ?? "").split("\\n").filter((l) => l.startsWith("a=candidate"));
    const pairs = [];
    (await pc.getStats()).forEach((r) => {
      if (r.type !== "candidate-pair") return;
      pairs.push([r.state, r.nominated, r.requestsSent, r.responsesReceived]);
    });
    out.pc = {signaling: pc.signalingState, ice: pc.iceConnectionState,
      gathering: pc.iceGatheringState, connection: pc.connectionState,
      offered: cands(pc.localDescription?.sdp), answered: cands(pc.remoteDescription?.sdp), pairs};
  }
  return JSON.stringify(out);
}"""


def wrapper(tmp: Path, topo: Topology) -> Path:
    """An executable that runs Chromium inside the client namespace."""
    path = tmp / "chromium-in-netns"
    path.write_text(f'#!/bin/sh\nexec ip netns exec {topo.ns["cli"]} {CHROMIUM} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


async def browser_speaks(
    topo: Topology, tmp: Path, pki: dict[str, Path], room: str, settings: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Start the server with ``settings``, open the host page in Chromium in the client
    namespace, and let a Python listener there hear it. Returns (page's ICE config, the
    page's selected pair, the listener's report)."""
    wav = tmp / "mic.wav"
    write_tone_wav(wav, MIC_HZ)
    home = nss_home(tmp, pki["ca"])
    host = issue_token(SECRET, room=room, user="host-1", name="Hana", role="host")
    listener = issue_token(SECRET, room=room, user="lee", name="Lee")
    with server_in(topo, tmp, settings):
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=str(wrapper(tmp, topo)),
                args=chromium_args(wav),
                env={"HOME": str(home)},
            )
            try:
                page = await (await browser.new_context(locale="en-US")).new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                # Every request the page makes and how it ended, for a start-up stall.
                requests: dict[Any, str] = {}
                page.on("request", lambda r: requests.__setitem__(r, "pending"))
                page.on("requestfinished", lambda r: requests.__setitem__(r, "finished"))
                page.on("requestfailed", lambda r: requests.__setitem__(r, f"failed {r.failure}"))
                console: list[str] = []
                page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
                url = f"https://{SRV_PUBLIC_IP}:{PORT}/?token={host}&lang=en"
                # Exactly one load, once the server (started in its namespace meanwhile)
                # listens. Loads retried until one finished could leave an earlier,
                # half-loaded page that had already joined as the same host.
                await until(lambda: listening(tmp / "server.log"), 30, "the server listening")
                await page.goto(url, timeout=20_000)
                assert await page.evaluate("window.isSecureContext") is True
                # Start-up (catalogs, then the WebSocket) is the page's, not the relay's. A
                # page that never reached its WebSocket has not joined, so it may be loaded
                # once more, said aloud: an intermittent stall there (seen about 1 run in 4
                # after the other browser tests, nothing in the server log) is an open defect.
                started = "window.voiceroomBoot === 'connecting'"
                try:
                    await until(lambda: page.evaluate(started), 15, "the page's start-up")
                except pytest.fail.Exception:
                    stuck = await page.evaluate("window.voiceroomBoot ?? null")
                    print(f"relay page: start-up stalled at {stuck!r}; loading it once more")
                    for r, how in requests.items():
                        print(f"  request {r.method} {r.url[:100]}: {how}")
                    print(f"  console: {console[-20:]}")
                    await page.reload(timeout=20_000)
                    await until(lambda: page.evaluate(started), 15, "the page's start-up")
                # Once started, the first session must go live and connect: no reload. If it
                # does not, the failure says where the page stands (mic, session, ICE).
                try:
                    await until(
                        lambda: page.evaluate("window.voiceroom?.mic === 'live'"), 25, "mic live"
                    )
                    await until(
                        lambda: page.evaluate(
                            "window.voiceroom.media.pc?.connectionState === 'connected'"
                        ),
                        30,
                        "the page's media connected",
                    )
                except pytest.fail.Exception as exc:
                    state = await page.evaluate(PAGE_STATE_JS)
                    log = (await asyncio.to_thread((tmp / "server.log").read_text))[-3000:]
                    pytest.fail(f"{exc}\npage: {state}\nerrors: {errors}\nserver log: {log}")
                # Said, not asserted: more than one offer means the page had to recover.
                offers = await page.evaluate("window.voiceroom.media.offers")
                print(f"relay page: live and connected after {offers} offer(s)")
                config = await page.evaluate("window.voiceroom.media.pc.getConfiguration()")
                pair = await until(lambda: page.evaluate(SELECTED_PAIR_JS), 10, "a selected pair")
                report = peer_in(
                    topo,
                    {
                        "url": f"wss://{SRV_PUBLIC_IP}:{PORT}",
                        "listener": listener,
                        "listen_only": True,
                        "hz": MIC_HZ,
                        "connect_timeout": 8,
                    },
                    SSL_CERT_FILE=str(pki["ca"]),
                )
                assert errors == []
            finally:
                await browser.close()
    return config, pair, report


async def listening(log: Path) -> bool:
    """The server has logged its ``listening`` event (its sockets are bound)."""
    try:
        text = await asyncio.to_thread(log.read_text, errors="replace")
    except FileNotFoundError:
        return False
    return '"event": "listening"' in text


def tls_settings(pki: dict[str, Path], **extra: Any) -> dict[str, Any]:
    return {
        **BASE,
        "port": PORT,
        "tls_cert": str(pki["site_cert"]),
        "tls_key": str(pki["site_key"]),
        "turn_secret": TURN_SECRET,
        **extra,
    }


async def test_browser_relay_only_through_coturn(
    topo: Topology, coturn: Path, turn_pki: dict[str, Path], tmp_path: Path
) -> None:
    settings = tls_settings(
        turn_pki,
        turn_urls=[f"turn:{TURN_IP}:3478?transport=udp"],
        ice_transport_policy="relay",
    )
    config, pair, report = await browser_speaks(topo, tmp_path, turn_pki, "brelay", settings)
    assert config["iceTransportPolicy"] == "relay"
    (turn,) = config["iceServers"]
    assert turn["urls"] == [f"turn:{TURN_IP}:3478?transport=udp"]
    assert turn["username"].endswith(":host-1")
    assert pair["type"] == "relay" and pair["relayProtocol"] == "udp", pair
    assert "error" not in report and report["level"] > 0.02, report
    assert report["listener_pair"]["local_type"] == "relay", report
    assert ":host-1" in await asyncio.to_thread(coturn.read_text, errors="replace")


async def test_browser_udp_blocked_uses_turn_over_tls(
    topo: Topology, coturn: Path, turn_pki: dict[str, Path], tmp_path: Path
) -> None:
    settings = tls_settings(
        turn_pki,
        turn_urls=[
            f"turn:{TURN_IP}:3478?transport=udp",
            f"turns:{TURN_IP}:5349?transport=tcp",
        ],
    )
    topo.block_udp_from_cli(True)
    try:
        config, pair, report = await browser_speaks(topo, tmp_path, turn_pki, "btls", settings)
    finally:
        topo.block_udp_from_cli(False)
    assert config["iceTransportPolicy"] == "all"
    assert pair["type"] == "relay" and pair["relayProtocol"] == "tls", pair
    assert "error" not in report and report["level"] > 0.02, report
    assert report["listener_pair"]["turn_ssl"] is True, report
