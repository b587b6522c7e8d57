"""Errors the client raises.

::

    VoiceroomError                 (voiceroom.errors)
    └── ClientError                anything the client library raises on purpose
        ├── JoinRefused            the handshake was refused (HTTP status: 401, 403, 404, 410...)
        ├── ServerError            the server answered a request with an error frame (``code``)
        └── ConnectionLost         the socket closed; ``code`` is the WebSocket close code

A request that was in flight when the socket dropped fails with :class:`ConnectionLost`
even if the client then resumes: commands are not idempotent, so the caller decides
whether to send it again.
"""

from __future__ import annotations

from voiceroom.errors import VoiceroomError
from voiceroom.room.errors import ErrorCode


class ClientError(VoiceroomError):
    """Root of the client library's errors."""


class JoinRefused(ClientError):
    """The server refused the WebSocket handshake (bad token, room not open, ended...)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"join refused: HTTP {status} {reason}".rstrip())
        self.status = status
        self.reason = reason


def parse_code(raw: object) -> ErrorCode | str:
    """The server's error code as an :class:`ErrorCode`, or the raw string if this client
    does not know it (a newer server)."""
    text = str(raw)
    try:
        return ErrorCode(text)
    except ValueError:
        return text


class ServerError(ClientError):
    """The server refused a request. ``code`` is the stable wire code (e.g.
    ``ErrorCode.SEAT_TAKEN``); ``request`` is the request type that failed, if any."""

    def __init__(self, code: ErrorCode | str, message: str, request: str | None = None) -> None:
        where = f" ({request})" if request else ""
        super().__init__(f"{code}: {message}{where}")
        self.code = code
        self.message = message
        self.request = request


class ConnectionLost(ClientError):
    """The connection is gone. ``code``/``reason`` come from the WebSocket close frame
    (``None`` when the socket died without one)."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"connection lost (close code {code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason
