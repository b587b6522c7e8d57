"""Network settings of the media plane: STUN/TURN servers handed to clients
(``welcome.session.ice_servers``, ``media.ice``) and used by the server's own peer
connections; and where media binds (:class:`MediaNet`, applied by voiceroom.media.net).

Two kinds of TURN credentials:

* **static**: ``turn_username`` / ``turn_password`` (coturn ``lt-cred-mech`` with a
  ``user=`` line): simple, but anyone who joins once can use the relay forever;
* **time-limited** from a shared secret (``turn_secret``; coturn ``use-auth-secret`` +
  ``static-auth-secret``, the "TURN REST API" draft): ``username = "<expiry>:<user>"``,
  ``credential = base64(HMAC-SHA1(secret, username))``. The TURN server checks the HMAC and
  refuses the username once ``expiry`` (Unix seconds) has passed; no database, no call
  from us to the TURN server. Clients ask again (``media.ice``) before ``expires_at``.

Pure: time is passed in; no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from voiceroom.errors import VoiceroomError

POLICIES = ("all", "relay")
# RFC 7064 / 7065: stun:host[:port], turn(s):host[:port][?transport=udp|tcp]; IPv6 in [].
_URL = re.compile(
    r"(?P<scheme>stuns?|turns?):(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?"
    r"(?:\?transport=(?P<transport>udp|tcp))?"
)
MIN_TTL = 60.0
WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class IceConfigError(VoiceroomError, ValueError):
    """A STUN/TURN setting is malformed."""


def check_url(url: str) -> str:
    """``url`` if it is a STUN/TURN URL browsers and aiortc accept, else IceConfigError."""
    m = _URL.fullmatch(url)
    if m is None:
        raise IceConfigError(
            f"bad STUN/TURN URL {url!r} (stun:host[:port], turn:host[:port]"
            "[?transport=udp|tcp], turns:host[:port][?transport=tcp])"
        )
    if m["port"] is not None and not 0 < int(m["port"]) < 65536:
        raise IceConfigError(f"bad port in {url!r}")
    if m["scheme"].startswith("stun") and m["transport"] is not None:
        raise IceConfigError(f"a STUN URL has no transport: {url!r}")
    if m["scheme"] == "turns" and m["transport"] == "udp":
        raise IceConfigError(f"turns: runs over TLS/TCP, not udp: {url!r}")
    return url


def refresh_delay(expires_at: float, now: float, margin: float = 300.0) -> float:
    """Seconds to wait before asking for new credentials: ``margin`` before they expire,
    or at 80 % of what is left when that is shorter than two margins; at least 1 s.
    (clients/web/js/media.js does the same.)"""
    left = expires_at - now
    return max(1.0, left - margin if left >= 2 * margin else 0.8 * left)


def rest_credentials(secret: str, user: str, *, now: float, ttl: float) -> tuple[str, str, int]:
    """TURN REST API credentials: (username, credential, expiry Unix seconds)."""
    expiry = int(now + ttl)
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode(), expiry


@dataclass(frozen=True, slots=True)
class IceSettings:
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_username: str = ""  # static credentials
    turn_password: str = ""
    turn_secret: str = ""  # shared secret: time-limited credentials instead of static ones
    turn_ttl: float = 3600.0
    transport_policy: str = "all"  # "relay": clients use TURN relays only

    def __post_init__(self) -> None:
        for url in (*self.stun_urls, *self.turn_urls):
            check_url(url)
        if any(not u.startswith("stun") for u in self.stun_urls):
            raise IceConfigError("stun_urls takes stun: URLs (TURN URLs go in turn_urls)")
        if any(not u.startswith("turn") for u in self.turn_urls):
            raise IceConfigError("turn_urls takes turn: and turns: URLs")
        if self.transport_policy not in POLICIES:
            raise IceConfigError(f"ice_transport_policy must be one of {POLICIES}")
        if self.turn_urls and not (self.turn_secret or (self.turn_username and self.turn_password)):
            raise IceConfigError("turn_urls need turn_secret or turn_username + turn_password")
        if self.turn_secret and self.turn_ttl < MIN_TTL:
            raise IceConfigError(f"turn_ttl must be at least {MIN_TTL:.0f} s")
        if self.transport_policy == "relay" and not self.turn_urls:
            raise IceConfigError("ice_transport_policy 'relay' needs turn_urls")

    @property
    def expiring(self) -> bool:
        return bool(self.turn_urls and self.turn_secret)

    def servers(self, user: str, now: float) -> tuple[list[dict[str, Any]], float | None]:
        """RTCIceServer dictionaries (as a browser's ``RTCPeerConnection`` takes them) for
        ``user``, and when their credentials expire (None: never)."""
        out: list[dict[str, Any]] = []
        if self.stun_urls:
            out.append({"urls": list(self.stun_urls)})
        expires: float | None = None
        if self.turn_urls:
            if self.turn_secret:
                username, credential, expiry = rest_credentials(
                    self.turn_secret, user, now=now, ttl=self.turn_ttl
                )
                expires = float(expiry)
            else:
                username, credential = self.turn_username, self.turn_password
            out.append(
                {"urls": list(self.turn_urls), "username": username, "credential": credential}
            )
        return out, expires

    def wire(self, user: str, now: float) -> dict[str, Any]:
        """``ice_servers``, ``ice_transport_policy`` and ``ice_expires_at`` for a client."""
        servers, expires = self.servers(user, now)
        return {
            "ice_servers": servers,
            "ice_transport_policy": self.transport_policy,
            "ice_expires_at": expires,
        }


class MediaNetError(VoiceroomError, ValueError):
    """A media addressing setting is malformed."""


@dataclass(frozen=True, slots=True)
class MediaNet:
    """``addresses``: IPs to bind and gather on (empty: every interface address, as aioice
    does). ``public_ip``: advertised instead of the bound address of the same family (a
    cloud VM behind 1:1 NAT). ``port_min``..``port_max``: the UDP ports used (0: any)."""

    addresses: tuple[str, ...] = ()
    public_ip: str | None = None
    ipv6: bool = True
    port_min: int = 0
    port_max: int = 0

    def __post_init__(self) -> None:
        for a in (*self.addresses, *((self.public_ip,) if self.public_ip else ())):
            try:
                ipaddress.ip_address(a)
            except ValueError:
                raise MediaNetError(f"not an IP address: {a!r}") from None
        if (self.port_min, self.port_max) != (0, 0) and not (
            1024 <= self.port_min <= self.port_max <= 65535
        ):
            raise MediaNetError("need 1024 <= media_port_min <= media_port_max <= 65535")
        if not self.ipv6 and any(":" in a for a in self.addresses):
            raise MediaNetError("an IPv6 media address with media_ipv6 off")

    @property
    def default(self) -> bool:
        """True when aioice's own gathering would do the same."""
        return not self.addresses and self.public_ip is None and self.port_min == 0 and self.ipv6

    def advertised(self, bound: str) -> str:
        if self.public_ip and family(self.public_ip) == family(bound):
            return self.public_ip
        return bound


def follow_host(host: str) -> tuple[str, ...]:
    """Media addresses for the signalling ``--host``: loopback stays on loopback, a specific
    address is used as is, a wildcard (or a name) means every interface."""
    if host in LOOPBACK_NAMES:
        return ("127.0.0.1",)
    if host in WILDCARDS:
        return ()
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        return ()


def is_loopback_host(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def family(address: str) -> int:
    return ipaddress.ip_address(address).version
