"""Where media binds and what it advertises, with real aiortc peers on loopback only."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from aiortc import RTCPeerConnection

from voiceroom.auth import issue_token
from voiceroom.client import MediaPeer, RoomClient
from voiceroom.client.errors import ServerError
from voiceroom.config import Config
from voiceroom.ice import MediaNet
from voiceroom.media import MediaConfig, MediaRoom
from voiceroom.media import net as media_net
from voiceroom.server import Server

pytestmark = [pytest.mark.media, pytest.mark.timeout(120)]
SECRET = "media-net-test-secret-0123456789abcdef"


def candidates(sdp: str) -> list[tuple[str, int, str]]:
    """(address, port, type) of every a=candidate line."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            f = line.split()
            out.append((f[4], int(f[5]), f[7]))
    return out


@contextlib.asynccontextmanager
async def served(**kw: object) -> AsyncIterator[Server]:
    server = Server(Config(port=0, secret=SECRET, media=True, log_level="warning", **kw))  # type: ignore[arg-type]
    await server.start()
    try:
        yield server
    finally:
        await server.shutdown()


async def join(
    server: Server, user: str, role: str = "listener", host: str = "127.0.0.1"
) -> RoomClient:
    tok = issue_token(SECRET, room="r", user=user, name=user, role=role)
    return await RoomClient.join(f"ws://{host}:{server.port}", tok)


def test_aioice_surface_we_replace_is_still_there() -> None:
    """voiceroom.media.net replaces Connection.get_component_candidates per connection and
    reads a few private fields: fail here, clearly, if aioice moves them."""
    import inspect

    from aioice import ice

    params = list(inspect.signature(ice.Connection.get_component_candidates).parameters)
    assert params == ["self", "component", "addresses", "timeout"]
    conn = ice.Connection(ice_controlling=False)
    for name in (
        "_protocols",
        "_transport_policy",
        "_local_candidates_start",
        "stun_server",
        "turn_server",
    ):
        assert hasattr(conn, name), name
    assert callable(ice.server_reflexive_candidate) and callable(ice.get_host_addresses)
    # cache_host_addresses: aioice looks the lister up as a module global at each gather.
    gather = inspect.getsource(ice.Connection.gather_candidates)
    assert "addresses = get_host_addresses(" in gather


def test_interface_addresses_are_listed_once_per_ttl() -> None:
    calls: list[tuple[bool, bool]] = []
    now = [100.0]

    def lister(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        calls.append((use_ipv4, use_ipv6))
        return ["192.0.2.7"] + (["2001:db8::7"] if use_ipv6 else [])

    cache = media_net.AddressCache(ttl=5.0, clock=lambda: now[0], lister=lister)
    first = cache(use_ipv4=True, use_ipv6=False)
    first.append("mutated by a caller")
    assert cache(use_ipv4=True, use_ipv6=False) == ["192.0.2.7"]
    assert cache(use_ipv4=True, use_ipv6=True) == ["192.0.2.7", "2001:db8::7"]
    assert calls == [(True, False), (True, True)]
    now[0] += 4.9
    cache(use_ipv4=True, use_ipv6=False)
    assert len(calls) == 2
    now[0] += 0.1
    cache(use_ipv4=True, use_ipv6=False)
    assert calls[-1] == (True, False) and len(calls) == 3


def test_the_media_room_installs_the_address_cache() -> None:
    from aioice import ice

    original = media_net._LIST_ADDRESSES
    try:
        media_net.cache_host_addresses(False)
        assert ice.get_host_addresses is original
        media_net.cache_host_addresses()
        installed = ice.get_host_addresses
        assert isinstance(installed, media_net.AddressCache)
        media_net.cache_host_addresses()
        assert ice.get_host_addresses is installed  # once
        assert installed(use_ipv4=True, use_ipv6=False) == original(use_ipv4=True, use_ipv6=False)
    finally:
        media_net.cache_host_addresses()


async def test_loopback_server_keeps_media_on_loopback_in_the_port_range() -> None:
    async with served(media_port_min=47100, media_port_max=47102) as server:
        clients = [await join(server, "host-1", "host")] + [
            await join(server, f"u{i}") for i in range(2)
        ]
        peers = []
        try:
            for c in clients:
                peer = await MediaPeer.connect(c)
                peers.append(peer)
                assert peer.pc is not None
                answer = candidates(peer.pc.remoteDescription.sdp)
                offer = candidates(peer.pc.localDescription.sdp)
                assert [a for a, _, _ in answer] == ["127.0.0.1"], answer
                assert {a for a, _, _ in offer} == {"127.0.0.1"}, offer  # the client too
                assert peer.selected["remote"].startswith("127.0.0.1:")
            ports = sorted(candidates(p.pc.remoteDescription.sdp)[0][1] for p in peers if p.pc)
            assert ports == [47100, 47101, 47102]
            # The range is full: a fourth peer gets no port outside it; its offer is refused
            # at once (media_error), and the others are unaffected.
            extra = await join(server, "u9")
            try:
                with pytest.raises(ServerError) as refused:
                    await MediaPeer.connect(extra, connect_timeout=10.0)
                assert refused.value.code == "media_error"
            finally:
                await extra.close()
            # The others still hear each other.
            peers[0].publish_tone(440.0)
            assert await peers[1].wait_for_tone(440.0, threshold=0.05, timeout=10) > 0.05
        finally:
            for p in peers:
                await p.close()
            for c in clients:
                await c.close()


async def test_public_address_is_advertised_instead_of_the_bound_one() -> None:
    room = MediaRoom(
        "r", config=MediaConfig(), net=MediaNet(addresses=("127.0.0.1",), public_ip="203.0.113.5")
    )
    client = RTCPeerConnection()
    try:
        client.addTransceiver("audio", direction="sendrecv")
        media_net.apply(client, MediaNet(addresses=("127.0.0.1",)))
        await client.setLocalDescription(await client.createOffer())
        answer = await room.connect("u1", client.localDescription.sdp)
        # Never connected: 203.0.113.5 is not on this machine, and nothing may leave it.
        assert [(a, t) for a, _, t in candidates(answer)] == [("203.0.113.5", "host")]
    finally:
        await client.close()
        await room.close()


async def test_ipv6_loopback() -> None:
    async with served(host="::1") as server:
        client = await join(server, "host-1", "host", host="[::1]")
        try:
            peer = await MediaPeer.connect(client, net=MediaNet(addresses=("::1",)))
            try:
                assert peer.pc is not None
                assert [a for a, _, _ in candidates(peer.pc.remoteDescription.sdp)] == ["::1"]
            finally:
                await peer.close()
        finally:
            await client.close()
