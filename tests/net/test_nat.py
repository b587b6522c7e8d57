"""Media across a real NAT, made of network namespaces by the test (tests/net/netns.py).

(a) direct: the server (1:1 NAT, like a cloud VM) advertises its public address; clients
    behind a masquerading NAT reach it with no STUN/TURN at all;
(b) relay only: the server says ``ice_transport_policy = "relay"``; clients send media
    through coturn with time-limited credentials (TURN REST API, ``use-auth-secret``);
(c) UDP blocked in the clients' network: TURN over TCP (and TLS) still carries the audio.

Each case: a host publishes a 440 Hz tone from behind the NAT, a listener behind the same
NAT must hear it (FFT level) through the server's mixer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.net.conftest import SECRET, TURN_SECRET, peer_in, server_in
from tests.net.netns import SRV_PUBLIC_IP, TURN_IP, Topology
from voiceroom.auth import issue_token

pytestmark = [pytest.mark.media, pytest.mark.slow, pytest.mark.timeout(400)]

PORT = 8765
BASE = {
    "host": "0.0.0.0",
    "port": PORT,
    "media_public_ip": SRV_PUBLIC_IP,
    "media_port_min": 40000,
    "media_port_max": 40049,
    "log_level": "info",
}


def tokens(room: str) -> dict[str, str]:
    return {
        "url": f"ws://{SRV_PUBLIC_IP}:{PORT}",
        "host": issue_token(SECRET, room=room, user="host-1", name="Hana", role="host"),
        "listener": issue_token(SECRET, room=room, user="lee", name="Lee", role="listener"),
    }


def check_heard(report: dict[str, Any]) -> None:
    print(
        f"heard {report.get('level', 0):.3f} FS; connect host {report.get('host_connect_s')} s,"
        f" listener {report.get('listener_connect_s')} s;"
        f" host pair {report.get('host_pair')}; listener pair {report.get('listener_pair')}"
    )
    assert "error" not in report, report
    assert report["level"] > 0.05 and report["level_1s"] > 0.05, report


def test_direct_across_nat_with_advertised_address(topo: Topology, tmp_path: Path) -> None:
    with server_in(topo, tmp_path, BASE):
        report = peer_in(topo, tokens("direct"))
    check_heard(report)
    assert report["session"]["ice_servers"] == []
    for side in ("host_pair", "listener_pair"):
        pair = report[side]
        # The server's advertised public address, in the configured port range.
        host, port = pair["remote"].rsplit(":", 1)
        assert host == SRV_PUBLIC_IP and 40000 <= int(port) <= 40049, pair
        assert pair["local_type"] == "host", pair
    # The server saw the client at the NAT's address, not its private one.
    assert report["session"]["address"] == "10.7.0.1"


def test_without_the_advertised_address_media_does_not_cross(
    topo: Topology, tmp_path: Path
) -> None:
    """The control for the test above: the server offers only its private address, which
    nothing behind the clients' NAT can reach, and there is no TURN: ICE fails."""
    settings = {k: v for k, v in BASE.items() if k != "media_public_ip"}
    with server_in(topo, tmp_path, settings):
        report = peer_in(topo, {**tokens("control"), "connect_timeout": 6})
    assert "media did not connect" in report.get("error", ""), report


def test_server_learns_its_public_address_by_stun(
    topo: Topology, coturn: Path, tmp_path: Path
) -> None:
    """No media_public_ip, but a STUN server (coturn answers STUN too): the server's own
    peers gather a server-reflexive candidate, its 1:1 NAT address, and clients use it."""
    settings = {k: v for k, v in BASE.items() if k != "media_public_ip"}
    settings["stun_urls"] = [f"stun:{TURN_IP}:3478"]
    with server_in(topo, tmp_path, settings):
        report = peer_in(topo, tokens("stun"))
    check_heard(report)
    for side in ("host_pair", "listener_pair"):
        pair = report[side]
        assert pair["remote_type"] == "srflx", pair
        assert pair["remote"].startswith(SRV_PUBLIC_IP + ":"), pair


def test_relay_only_through_coturn_with_time_limited_credentials(
    topo: Topology, coturn: Path, tmp_path: Path
) -> None:
    settings = {
        **BASE,
        "turn_urls": [f"turn:{TURN_IP}:3478?transport=udp"],
        "turn_secret": TURN_SECRET,
        "turn_ttl": 600,
        "ice_transport_policy": "relay",
    }
    with server_in(topo, tmp_path, settings):
        report = peer_in(topo, {**tokens("relay"), "refresh": True})
    check_heard(report)
    session = report["session"]
    assert session["ice_transport_policy"] == "relay"
    (turn,) = session["ice_servers"]
    expiry, user = turn["username"].split(":")
    assert user == "host-1" and int(expiry) == int(session["ice_expires_at"])
    for side in ("host_pair", "listener_pair"):
        assert report[side]["local_type"] == "relay", report[side]
        assert report[side]["turn_transport"] == "udp", report[side]
    # media.ice hands out fresh credentials (a later expiry) for the listener.
    refreshed = report["refreshed"]
    assert refreshed["ice_expires_at"] >= session["ice_expires_at"]
    assert refreshed["ice_servers"][0]["username"].endswith(":lee")
    # coturn really relayed: it logged allocations made with the time-limited usernames.
    log = coturn.read_text(errors="replace")
    assert ":host-1" in log and ":lee" in log


@pytest.mark.parametrize("url", ["turn:{ip}:3478?transport=tcp", "turns:{ip}:5349?transport=tcp"])
def test_udp_blocked_turn_over_tcp_or_tls(
    topo: Topology, coturn: Path, turn_pki: dict[str, Path], tmp_path: Path, url: str
) -> None:
    settings = {
        **BASE,
        # UDP first, as a deployment lists them: the client falls back to the next URL.
        "turn_urls": [f"turn:{TURN_IP}:3478?transport=udp", url.format(ip=TURN_IP)],
        "turn_secret": TURN_SECRET,
    }
    topo.block_udp_from_cli(True)
    try:
        with server_in(topo, tmp_path, settings):
            report = peer_in(
                topo,
                {**tokens("tcp" + str(url.startswith("turns"))), "connect_timeout": 8},
                SSL_CERT_FILE=str(turn_pki["ca"]),  # the client trusts the test's CA for turns:
            )
    finally:
        topo.block_udp_from_cli(False)
    check_heard(report)
    for side in ("host_pair", "listener_pair"):
        pair = report[side]
        assert pair["local_type"] == "relay" and pair["turn_transport"] == "tcp", pair
        assert pair["turn_ssl"] is url.startswith("turns"), pair
