"""STUN/TURN settings, TURN REST credentials, trusted proxies: pure parts, table-driven;
then what a real server hands out in welcome and media.ice."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import subprocess
import time
from pathlib import Path

import pytest

from voiceroom.auth import issue_token
from voiceroom.client import MediaPeer, RoomClient
from voiceroom.client import media as client_media
from voiceroom.config import Config, ConfigError, load_config
from voiceroom.ice import (
    IceConfigError,
    IceSettings,
    MediaNet,
    MediaNetError,
    check_url,
    follow_host,
    refresh_delay,
    rest_credentials,
)
from voiceroom.server import Server
from voiceroom.signalling.forwarded import client_origin, networks


@pytest.mark.parametrize(
    "left, wait",
    [(3600, 3300), (600, 300), (599, 479.2), (60, 48), (1, 1.0), (-5, 1.0)],
)
def test_refresh_delay(left: float, wait: float) -> None:
    assert refresh_delay(1000.0 + left, 1000.0) == pytest.approx(wait)


async def test_python_client_refreshes_before_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "ice-test-secret-0123456789abcdef0123"
    server = Server(
        Config(
            port=0,
            secret=secret,
            media=False,
            log_level="warning",
            turn_urls=("turn:turn.example.org:3478",),
            turn_secret="k",
            turn_ttl=60.0,
        )
    )
    await server.start()
    monkeypatch.setattr(client_media, "refresh_delay", lambda *a: 0.3)
    try:
        tok = issue_token(secret, room="r", user="host-1", name="H", role="host")
        client = await RoomClient.join(f"ws://127.0.0.1:{server.port}", tok)
        peer = MediaPeer(client)
        try:
            first = peer.ice_expires_at
            assert first is not None
            peer.start_ice_refresh()
            async with asyncio.timeout(5):
                while peer.ice_expires_at == first:  # noqa: ASYNC110 - the task sets it
                    await asyncio.sleep(0.1)
            assert peer.ice_expires_at > first
            assert peer.ice_servers[0]["username"] == f"{int(peer.ice_expires_at)}:host-1"
        finally:
            await peer.close()
            await client.close()
    finally:
        await server.shutdown()


def test_rest_credentials_match_openssl() -> None:
    user, cred, expiry = rest_credentials("s3cret", "u1", now=1_700_000_000.5, ttl=3600)
    assert (user, expiry) == ("1700003600:u1", 1_700_003_600)
    # An independent implementation: what coturn's docs show with openssl.
    out = subprocess.run(
        ["openssl", "dgst", "-sha1", "-hmac", "s3cret", "-binary"],
        input=user.encode(),
        capture_output=True,
        check=True,
    ).stdout
    assert cred == base64.b64encode(out).decode()
    assert (
        cred == base64.b64encode(hmac.new(b"s3cret", user.encode(), hashlib.sha1).digest()).decode()
    )


@pytest.mark.parametrize(
    "url, ok",
    [
        ("stun:stun.example.com", True),
        ("stun:203.0.113.1:3478", True),
        ("turn:turn.example.com:3478?transport=udp", True),
        ("turn:turn.example.com:3478?transport=tcp", True),
        ("turns:turn.example.com:5349?transport=tcp", True),
        ("turn:[2001:db8::1]:3478", True),
        ("turns:turn.example.com:5349?transport=udp", False),
        ("stun:stun.example.com?transport=udp", False),
        ("turn:turn.example.com:99999", False),
        ("http://turn.example.com", False),
        ("turn:", False),
        ("turn:host name", False),
    ],
)
def test_urls(url: str, ok: bool) -> None:
    if ok:
        assert check_url(url) == url
    else:
        with pytest.raises(IceConfigError):
            check_url(url)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"turn_urls": ("turn:t.example:3478",)}, "need turn_secret"),
        ({"stun_urls": ("turn:t.example:3478",)}, "stun_urls takes"),
        ({"turn_urls": ("stun:t.example",), "turn_secret": "x"}, "turn_urls takes"),
        ({"transport_policy": "relay"}, "needs turn_urls"),
        ({"transport_policy": "nohost"}, "must be one of"),
        ({"turn_urls": ("turn:t.example",), "turn_secret": "x", "turn_ttl": 5}, "at least"),
    ],
)
def test_bad_ice_settings(kw: dict[str, object], message: str) -> None:
    with pytest.raises(IceConfigError, match=message):
        IceSettings(**kw)  # type: ignore[arg-type]


def test_servers_static_and_time_limited() -> None:
    static = IceSettings(
        stun_urls=("stun:s.example",),
        turn_urls=("turn:t.example",),
        turn_username="u",
        turn_password="p",
    )
    servers, expires = static.servers("ann", 100.0)
    assert expires is None
    assert servers == [
        {"urls": ["stun:s.example"]},
        {"urls": ["turn:t.example"], "username": "u", "credential": "p"},
    ]
    timed = IceSettings(turn_urls=("turn:t.example",), turn_secret="k", turn_ttl=600)
    wire = timed.wire("ann", 1000.0)
    assert wire["ice_expires_at"] == 1600.0 and wire["ice_transport_policy"] == "all"
    assert wire["ice_servers"][0]["username"] == "1600:ann"
    assert IceSettings().wire("ann", 0.0) == {
        "ice_servers": [],
        "ice_transport_policy": "all",
        "ice_expires_at": None,
    }


@pytest.mark.parametrize(
    "host, addresses",
    [
        ("127.0.0.1", ("127.0.0.1",)),
        ("localhost", ("127.0.0.1",)),
        ("::1", ("::1",)),
        ("0.0.0.0", ()),
        ("::", ()),
        ("", ()),
        ("10.1.2.3", ("10.1.2.3",)),
        ("example.org", ()),
    ],
)
def test_media_follows_host(host: str, addresses: tuple[str, ...]) -> None:
    assert follow_host(host) == addresses


@pytest.mark.parametrize(
    "kw",
    [
        {"addresses": ("not-an-ip",)},
        {"public_ip": "example.com"},
        {"port_min": 100, "port_max": 200},
        {"port_min": 50000, "port_max": 40000},
        {"addresses": ("::1",), "ipv6": False},
    ],
)
def test_bad_media_net(kw: dict[str, object]) -> None:
    with pytest.raises(MediaNetError):
        MediaNet(**kw)  # type: ignore[arg-type]


def test_config_from_env_and_toml(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(
        'turn_urls = ["turn:t.example:3478?transport=udp", "turns:t.example:5349"]\n'
        'turn_secret = "k"\nmedia_public_ip = "203.0.113.9"\n'
    )
    cfg = load_config(
        toml,
        {
            "VOICEROOM_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
            "VOICEROOM_MEDIA_PORT_MIN": "40000",
            "VOICEROOM_MEDIA_PORT_MAX": "40099",
            "VOICEROOM_ICE_TRANSPORT_POLICY": "relay",
        },
    )
    assert cfg.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")
    assert cfg.media_net() == MediaNet(
        addresses=("127.0.0.1",), public_ip="203.0.113.9", port_min=40000, port_max=40099
    )
    assert cfg.ice_settings().transport_policy == "relay"
    # media_bind: IPs, "localhost", or a wildcard for every interface; not a host name.
    assert load_config(None, {"VOICEROOM_MEDIA_BIND": "0.0.0.0"}).media_net().addresses == ()
    both = load_config(None, {"VOICEROOM_MEDIA_BIND": "localhost,10.0.0.5"}).media_net()
    assert both.addresses == ("127.0.0.1", "10.0.0.5")
    for bad in (
        {"VOICEROOM_TRUSTED_PROXIES": "nginx"},
        {"VOICEROOM_MEDIA_PORT_MIN": "10"},
        {"VOICEROOM_TURN_URLS": "turn:x"},  # no credentials
        {"VOICEROOM_TLS_CERT": "/x.pem"},  # no key
        {"VOICEROOM_MEDIA_BIND": "media.example.com"},
    ):
        with pytest.raises(ConfigError):
            load_config(None, bad)


TRUSTED = networks(["127.0.0.1", "10.0.0.0/8", "::1"])


@pytest.mark.parametrize(
    "peer, xff, proto, tls, expect",
    [
        # Untrusted peer: headers ignored.
        ("198.51.100.7", ["6.6.6.6"], ["https"], False, ("198.51.100.7", False)),
        ("198.51.100.7", [], [], True, ("198.51.100.7", True)),
        # Trusted proxy: the rightmost entry that is not a trusted proxy.
        ("127.0.0.1", ["198.51.100.7"], ["https"], False, ("198.51.100.7", True)),
        ("127.0.0.1", ["6.6.6.6, 198.51.100.7"], ["http"], False, ("198.51.100.7", False)),
        ("127.0.0.1", ["6.6.6.6, 198.51.100.7, 10.1.1.1"], [], False, ("198.51.100.7", False)),
        (
            "127.0.0.1",
            ["6.6.6.6", "198.51.100.7"],
            ["http", "https"],
            False,
            ("198.51.100.7", True),
        ),
        # All trusted: the leftmost; nothing forwarded: the proxy itself.
        ("127.0.0.1", ["10.2.2.2"], [], False, ("10.2.2.2", False)),
        ("127.0.0.1", [], [], False, ("127.0.0.1", False)),
        ("::ffff:127.0.0.1", ["2001:db8::5"], [], False, ("2001:db8::5", False)),
        ("127.0.0.1", ["garbage"], [], False, ("garbage", False)),
    ],
)
def test_client_origin(
    peer: str, xff: list[str], proto: list[str], tls: bool, expect: tuple[str, bool]
) -> None:
    assert client_origin(peer, xff, proto, trusted=TRUSTED, tls=tls) == expect


async def test_welcome_and_media_ice_over_a_real_server() -> None:
    secret = "ice-test-secret-0123456789abcdef0123"
    server = Server(
        Config(
            port=0,
            secret=secret,
            media=False,
            log_level="warning",
            stun_urls=("stun:stun.example.org:3478",),
            turn_urls=(
                "turn:turn.example.org:3478?transport=udp",
                "turns:turn.example.org:5349?transport=tcp",
            ),
            turn_secret="turn-shared-secret",
            turn_ttl=120.0,
        )
    )
    await server.start()
    try:
        tok = issue_token(secret, room="r", user="host-1", name="H", role="host")
        client = await RoomClient.join(f"ws://127.0.0.1:{server.port}", tok)
        try:
            s = client.session
            now = time.time()
            assert now + 110 < s["ice_expires_at"] <= now + 121
            stun, turn = s["ice_servers"]
            assert stun == {"urls": ["stun:stun.example.org:3478"]}
            assert turn["username"] == f"{int(s['ice_expires_at'])}:host-1"
            expect = base64.b64encode(
                hmac.new(b"turn-shared-secret", turn["username"].encode(), hashlib.sha1).digest()
            ).decode()
            assert turn["credential"] == expect
            assert s["address"] == "127.0.0.1" and s["secure"] is False
            reply = await client.request("media.ice")
            assert reply["ice_expires_at"] >= s["ice_expires_at"]
            assert reply["ice_servers"][1]["username"].endswith(":host-1")
        finally:
            await client.close()
    finally:
        await server.shutdown()
