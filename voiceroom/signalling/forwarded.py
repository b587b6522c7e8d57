"""The client's address and scheme behind reverse proxies.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only when the socket's peer is
one of ``trusted_proxies``; anyone else can write them. The client is the rightmost
``X-Forwarded-For`` entry that is not itself a trusted proxy (each proxy appends the
address it saw, so entries left of an untrusted one may be forged).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == n.version and ip in n for n in trusted)


def client_origin(
    peer: str | None,
    forwarded_for: Sequence[str],
    forwarded_proto: Sequence[str],
    *,
    trusted: Sequence[Network],
    tls: bool,
) -> tuple[str | None, bool]:
    """(client address, reached over TLS) from the socket peer and the raw header values."""
    if peer is None or not _trusted(peer, trusted):
        return peer, tls
    chain = [e.strip() for v in forwarded_for for e in v.split(",") if e.strip()]
    address = peer
    while chain:
        address = chain.pop()
        if not _trusted(address, trusted):
            break
    protos = [e.strip().lower() for v in forwarded_proto for e in v.split(",") if e.strip()]
    secure = protos[-1] in ("https", "wss") if protos else tls
    return address, secure
