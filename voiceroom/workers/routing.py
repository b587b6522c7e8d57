"""Which worker a new connection belongs to, read from its HTTP request head (pure).

The front peeks at the head (``MSG_PEEK``: the bytes stay in the socket for the worker to
read) and asks ``route`` where it goes: a WebSocket join or a join check goes to its room's
worker (the room named by the signed token, checked here so that nobody but a token holder
can make the front place a room); anything else goes to the least-loaded worker, or is
answered by the front itself (``/healthz``, ``/metrics``: they cover every worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs, urlsplit

from voiceroom.auth import AuthError, verify_token

MAX_HEAD_BYTES = 16 * 1024  # request line + headers; beyond this the worker refuses it


class Route(StrEnum):
    ROOM = "room"  # to the worker that holds (or will hold) the room
    ANY = "any"  # static files, refused handshakes: the least-loaded worker
    HEALTH = "health"  # answered by the front
    METRICS = "metrics"  # answered by the front, gathered from every worker


@dataclass(frozen=True)
class Target:
    route: Route
    room: str | None = None


def head_complete(data: bytes) -> bool:
    return b"\r\n\r\n" in data


def route(head: bytes, *, secret: str, ws_path: str, join_check_path: str) -> Target:
    """Where the request in ``head`` (a complete or truncated HTTP/1.1 head) goes."""
    line, _, rest = head.partition(b"\r\n")
    parts = line.split(b" ")
    if len(parts) != 3:
        return Target(Route.ANY)  # the worker answers 400
    try:
        url = urlsplit(parts[1].decode("ascii"))
    except UnicodeDecodeError:
        return Target(Route.ANY)
    path = url.path
    if path == "/healthz":
        return Target(Route.HEALTH)
    if path == "/metrics":
        return Target(Route.METRICS)
    joining = path == ws_path or path.startswith(ws_path + "/")
    if not joining and path != join_check_path:
        return Target(Route.ANY)
    query = parse_qs(url.query)
    token: str | None = query["token"][0] if query.get("token") else None
    if token is None:
        token = _bearer(rest)
    try:
        claims = verify_token(secret, token)
    except AuthError:
        return Target(Route.ANY)  # the worker refuses it with the precise status
    return Target(Route.ROOM, claims.room)


def _bearer(headers: bytes) -> str | None:
    for raw in headers.split(b"\r\n"):
        name, _, value = raw.partition(b":")
        if name.strip().lower() == b"authorization":
            text = value.strip().decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip()
    return None
