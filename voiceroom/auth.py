"""Signed join tokens: JWT HS256 (RFC 7519) carrying who may join which room as what.

Roles come only from here (or from a host's action inside the room): the client never
states its own role. Tokens are checked at the WebSocket handshake; a refusal is an HTTP
status with a plain-text reason, before any WebSocket frame is exchanged:

- 401 Unauthorized: no token, forged (bad signature), malformed, expired, not yet valid,
  or claims missing / of the wrong type.
- 403 Forbidden: a valid token for another room (or, at the server, a banned identity).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

import jwt

from voiceroom.errors import VoiceroomError
from voiceroom.room.errors import ErrorCode
from voiceroom.room.model import Profile, Role

ALGORITHM: Final = "HS256"
ISSUER: Final = "voiceroom"
LEEWAY: Final = 5.0  # seconds of clock skew tolerated on exp/nbf/iat
MAX_CLAIM_CHARS: Final = 128


class AuthError(VoiceroomError):
    """A join token was refused; ``status`` is the HTTP status to answer the handshake.

    ``reason`` is a stable machine-readable word for ``GET /api/join-check`` (browsers
    cannot read a refused handshake's status): token_missing, token_expired,
    token_not_yet_valid, token_invalid, wrong_room, bad_request, banned, room_not_open,
    room_ended, server_busy, shutting_down.
    """

    def __init__(self, status: HTTPStatus, message: str, reason: str = "token_invalid") -> None:
        super().__init__(f"{status.value} {message}")
        self.status = status
        self.message = message
        self.reason = reason
        self.code = (
            ErrorCode.UNAUTHORIZED if status is HTTPStatus.UNAUTHORIZED else (ErrorCode.FORBIDDEN)
        )


@dataclass(frozen=True, slots=True)
class Claims:
    room: str
    user: str  # "sub"
    name: str
    role: Role
    tier: str
    locale: str
    expires_at: float
    issued_at: float

    def profile(self) -> Profile:
        return Profile(self.user, self.name, self.role, self.tier, self.locale)


def issue_token(
    secret: str,
    *,
    room: str,
    user: str,
    name: str,
    role: Role | str = Role.LISTENER,
    tier: str = "new",
    locale: str = "en",
    ttl: float = 3600.0,
    now: float | None = None,
) -> str:
    """Sign a join token valid for ``ttl`` seconds from ``now``."""
    if not secret:
        raise AuthError(HTTPStatus.UNAUTHORIZED, "no signing secret configured")
    role = Role(role)
    issued = int(time.time() if now is None else now)
    payload = {
        "iss": ISSUER,
        "sub": user,
        "room": room,
        "name": name,
        "role": role.value,
        "tier": tier,
        "locale": locale,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str | None, *, room: str | None = None) -> Claims:
    """Check signature, expiry and claims; ``room`` (when given) must match the token's."""
    if not token:
        raise AuthError(HTTPStatus.UNAUTHORIZED, "missing join token", "token_missing")
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],  # never let the token pick its algorithm ("none", RS*)
            issuer=ISSUER,
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError(HTTPStatus.UNAUTHORIZED, "join token expired", "token_expired") from None
    except jwt.ImmatureSignatureError:
        raise AuthError(
            HTTPStatus.UNAUTHORIZED, "join token not valid yet", "token_not_yet_valid"
        ) from None
    except jwt.InvalidSignatureError:
        raise AuthError(HTTPStatus.UNAUTHORIZED, "join token signature is invalid") from None
    except jwt.PyJWTError as exc:
        raise AuthError(HTTPStatus.UNAUTHORIZED, f"invalid join token: {exc}") from None
    claims = _claims(payload)
    if room is not None and claims.room != room:
        raise AuthError(
            HTTPStatus.FORBIDDEN, f"this token is for another room ({claims.room})", "wrong_room"
        )
    return claims


def _claims(p: dict[str, Any]) -> Claims:
    def text(key: str, default: str | None = None) -> str:
        value = p.get(key, default)
        if type(value) is not str or not value or len(value) > MAX_CLAIM_CHARS:
            raise AuthError(HTTPStatus.UNAUTHORIZED, f"join token claim {key!r} is invalid")
        return value

    role = text("role")
    try:
        parsed = Role(role)
    except ValueError:
        raise AuthError(HTTPStatus.UNAUTHORIZED, f"unknown role {role!r} in token") from None
    return Claims(
        room=text("room"),
        user=text("sub"),
        name=text("name"),
        role=parsed,
        tier=text("tier", "new"),
        locale=text("locale", "en"),
        expires_at=float(p["exp"]),
        issued_at=float(p["iat"]),
    )
