"""Where media binds and what it advertises: addresses, a NAT 1:1 public address, IPv6,
a fixed UDP port range (docs/adr/0004-media-addressing.md).

aioice gathers host candidates on every interface address except loopback, each on an
ephemeral port, and has no setting for either. :func:`apply` replaces one method on the
``aioice.Connection`` objects of a peer connection, before it gathers:
``get_component_candidates`` binds one UDP socket per configured address, on a port from
the range, and advertises the public address instead of the bound one when set. STUN
(server-reflexive) and TURN (relay) candidates are still gathered by aioice's own code.
:func:`cache_host_addresses` makes aioice reuse the interface list for a few seconds
instead of listing the interfaces again for every peer. Tested with aioice 0.13.0
(``tests/net/test_media_net.py`` checks what is used here).

Used by the server's MediaRoom and by the Python client (voiceroom.client.media).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import random
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from aioice import Candidate
from aioice import ice as aioice_ice
from aioice.candidate import candidate_foundation, candidate_priority
from aioice.turn import UDP_SOCKET_BUFFER_SIZE
from aiortc import RTCIceServer, RTCPeerConnection

from voiceroom.ice import MediaNet, MediaNetError, family

log = logging.getLogger(__name__)

_ORIGINAL = aioice_ice.Connection.get_component_candidates
_LIST_ADDRESSES = aioice_ice.get_host_addresses
# How long the machine's interface addresses are reused: aioice lists them (ifaddr,
# getifaddrs through ctypes) for every peer it gathers for, 1-4 ms of a join's ~5 ms of
# server CPU measured here; an interface that comes up is used within this time.
ADDRESS_TTL = 5.0


class _PortCursor:
    """Round-robin over the range so a busy port is not retried first every time."""

    def __init__(self) -> None:
        self.next: dict[tuple[int, int], int] = {}

    def ports(self, lo: int, hi: int) -> list[int]:
        size = hi - lo + 1
        start = self.next.get((lo, hi), random.randrange(size))
        self.next[(lo, hi)] = (start + 1) % size
        return [lo + (start + i) % size for i in range(size)]


_cursor = _PortCursor()


async def _bind(
    loop: asyncio.AbstractEventLoop, conn: Any, address: str, net: MediaNet
) -> tuple[asyncio.DatagramTransport, Any] | None:
    ports = [0] if net.port_min == 0 else _cursor.ports(net.port_min, net.port_max)
    for port in ports:
        try:
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: aioice_ice.StunProtocol(conn), local_addr=(address, port)
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE and port:
                continue
            log.warning("media: cannot bind %s:%s: %s", address, port, exc)
            return None
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_SOCKET_BUFFER_SIZE)
        return transport, protocol
    log.error("media: every UDP port %s-%s on %s is taken", net.port_min, net.port_max, address)
    return None


async def _component_candidates(
    conn: Any,
    net: MediaNet,
    component: int,
    addresses: list[str],
    timeout: int = 5,  # noqa: ASYNC109 - aioice's signature
) -> list[Candidate]:
    """aioice's ``Connection.get_component_candidates`` with our host candidates."""
    candidates: list[Candidate] = []
    loop = asyncio.get_running_loop()
    relay_only = conn._transport_policy == aioice_ice.TransportPolicy.RELAY
    protocols = []
    for address in [] if relay_only else host_addresses(net):
        bound = await _bind(loop, conn, address, net)
        if bound is None:
            continue
        transport, protocol = bound
        host, port = transport.get_extra_info("sockname")[:2]
        shown = net.advertised(host)
        protocol.local_candidate = Candidate(
            foundation=candidate_foundation("host", "udp", shown),
            component=component,
            transport="udp",
            priority=candidate_priority(component, "host"),
            host=shown,
            port=port,
            type="host",
        )
        candidates.append(protocol.local_candidate)
        protocols.append(protocol)
    conn._protocols += protocols
    tasks = []
    if conn.stun_server and net.public_ip is None:
        # With a known public address a STUN round trip adds nothing but start-up time.
        for protocol in protocols:
            if family(protocol.local_candidate.host) == 4:
                tasks.append(aioice_ice.server_reflexive_candidate(protocol, conn.stun_server))
    if tasks:
        for result in await asyncio.gather(
            *(asyncio.wait_for(t, timeout) for t in tasks), return_exceptions=True
        ):
            if isinstance(result, tuple):
                candidates.append(result[0])
    if conn.turn_server:
        # No addresses: aioice's own code then only gathers the TURN relay candidate.
        candidates += await _ORIGINAL(conn, component=component, addresses=[], timeout=timeout)
    return candidates


def host_addresses(net: MediaNet) -> list[str]:
    if net.addresses:
        return list(net.addresses)
    return aioice_ice.get_host_addresses(use_ipv4=True, use_ipv6=net.ipv6)


class AddressCache:
    """``aioice.ice.get_host_addresses`` with each answer kept for ``ttl`` seconds."""

    def __init__(
        self,
        ttl: float = ADDRESS_TTL,
        clock: Callable[[], float] = time.monotonic,
        lister: Callable[..., list[str]] = _LIST_ADDRESSES,
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lister = lister
        self._kept: dict[tuple[bool, bool], tuple[float, list[str]]] = {}

    def __call__(self, use_ipv4: bool, use_ipv6: bool) -> list[str]:
        now = self._clock()
        kept = self._kept.get((use_ipv4, use_ipv6))
        if kept is None or now - kept[0] >= self.ttl:
            kept = (now, self._lister(use_ipv4=use_ipv4, use_ipv6=use_ipv6))
            self._kept[(use_ipv4, use_ipv6)] = kept
        return list(kept[1])  # a copy: aioice's callers may extend it


def cache_host_addresses(enabled: bool = True) -> None:
    """Make aioice (every peer connection of the process, the server's and a client's)
    reuse its interface list for :data:`ADDRESS_TTL` seconds, or list them every time."""
    if not enabled:
        aioice_ice.get_host_addresses = _LIST_ADDRESSES
    elif not isinstance(aioice_ice.get_host_addresses, AddressCache):
        aioice_ice.get_host_addresses = AddressCache()


def ice_connections(pc: RTCPeerConnection) -> list[Any]:
    """The aioice Connections of ``pc``'s transports (after its descriptions created them)."""
    out = []
    for t in pc.getTransceivers():
        gatherer = t.sender.transport.transport.iceGatherer
        conn = gatherer._connection
        if conn not in out:
            out.append(conn)
    return out


def apply(pc: RTCPeerConnection, net: MediaNet) -> None:
    """Make ``pc`` gather per ``net``. Call after the transceivers exist (addTransceiver or
    setRemoteDescription) and before setLocalDescription."""
    if net.default:
        return
    for conn in ice_connections(pc):
        if conn._local_candidates_start:
            raise MediaNetError("candidates already gathered")
        conn.get_component_candidates = functools.partial(_component_candidates, conn, net)


def rtc_ice_servers(servers: Sequence[dict[str, Any]]) -> list[RTCIceServer]:
    """Wire ``ice_servers`` (as in ``welcome``) to aiortc's RTCIceServer objects."""
    out = []
    for s in servers:
        urls = s.get("urls")
        out.append(
            RTCIceServer(
                urls=list(urls) if isinstance(urls, list | tuple) else str(urls),
                username=s.get("username"),
                credential=s.get("credential"),
            )
        )
    return out


def turn_variants(servers: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """aiortc uses only the first STUN and the first usable TURN URL of a configuration. A
    browser tries all of them at once; a Python client tries one configuration per TURN URL
    in order (UDP, then TCP, then TLS, as they are listed) until one connects."""
    stun = [s for s in servers if all(u.startswith("stun") for u in _urls(s))]
    turns = [(s, u) for s in servers for u in _urls(s) if u.startswith("turn")]
    if not turns:
        return [list(servers)]
    return [[*stun, {**s, "urls": [u]}] for s, u in turns]


def _urls(server: dict[str, Any]) -> list[str]:
    urls = server.get("urls")
    return [str(u) for u in urls] if isinstance(urls, list | tuple) else [str(urls)]
