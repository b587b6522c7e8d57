"""API credentials: an API key (key id + secret) signs a short-lived HS256 JWT per caller.

A request carries ``Authorization: Bearer <jwt>`` whose header names the key (``kid``) and
whose claims are::

    {"iss": "<kid>", "aud": "voiceroom-api", "iat": 1767000000, "exp": 1767000300,
     "scope": "rooms:read rooms:write links:write"}

The secret never travels; a stolen token is good for at most :data:`MAX_TTL` seconds and
only for its scopes. The join-token secret (``Config.secret``) is never accepted here, and
a join token can never pass as an API token (different audience, different key).

- 401: no token, a malformed one, an unknown ``kid``, a bad signature, expired or not yet
  valid, or a lifetime longer than :data:`MAX_TTL`.
- 403: a valid token that lacks the endpoint's scope.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Final

import jwt

ALGORITHM: Final = "HS256"
AUDIENCE: Final = "voiceroom-api"
MAX_TTL: Final = 600.0  # seconds: a token lives ten minutes at most
LEEWAY: Final = 5.0


class Scope(StrEnum):
    ROOMS_READ = "rooms:read"
    ROOMS_WRITE = "rooms:write"
    LINKS_WRITE = "links:write"
    PARTICIPANTS_WRITE = "participants:write"
    HISTORY_READ = "history:read"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"


ALL_SCOPES: Final = tuple(Scope)


class ApiAuthError(Exception):
    """A refused API credential; ``status`` is 401 or 403, ``code`` a stable word."""

    def __init__(self, status: HTTPStatus, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Principal:
    """Who called: the key id and the scopes its token grants."""

    kid: str
    scopes: frozenset[str]


def issue_api_token(
    kid: str,
    secret: str,
    scopes: Iterable[str] = ALL_SCOPES,
    *,
    ttl: float = 300.0,
    now: float | None = None,
) -> str:
    """A token for ``scopes`` valid ``ttl`` seconds (at most :data:`MAX_TTL`)."""
    if not 0 < ttl <= MAX_TTL:
        raise ValueError(f"ttl must be in (0, {MAX_TTL:g}] seconds")
    issued = int(time.time() if now is None else now)
    payload = {
        "iss": kid,
        "aud": AUDIENCE,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl),
        "scope": " ".join(str(s) for s in scopes),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM, headers={"kid": kid})


def verify_api_token(
    keys: Mapping[str, str], authorization: str | None, *, now: float | None = None
) -> Principal:
    """Check an ``Authorization`` header value against the configured keys."""
    if not authorization or authorization[:7].lower() != "bearer ":
        raise ApiAuthError(HTTPStatus.UNAUTHORIZED, "token_missing", "missing bearer token")
    token = authorization[7:].strip()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise ApiAuthError(HTTPStatus.UNAUTHORIZED, "token_invalid", "malformed token") from None
    kid = header.get("kid")
    if not isinstance(kid, str) or (secret := keys.get(kid)) is None:
        raise ApiAuthError(HTTPStatus.UNAUTHORIZED, "token_invalid", "unknown API key id")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],  # never the token's own choice ("none", RS*)
            audience=AUDIENCE,
            issuer=kid,
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "iss", "aud"], "verify_iat": False},
        )
    except jwt.ExpiredSignatureError:
        raise ApiAuthError(HTTPStatus.UNAUTHORIZED, "token_expired", "token expired") from None
    except jwt.ImmatureSignatureError:
        raise ApiAuthError(
            HTTPStatus.UNAUTHORIZED, "token_not_yet_valid", "token not valid yet"
        ) from None
    except jwt.PyJWTError as exc:
        raise ApiAuthError(
            HTTPStatus.UNAUTHORIZED, "token_invalid", f"invalid token: {exc}"
        ) from None
    exp, iat = claims["exp"], claims["iat"]
    current = time.time() if now is None else now
    if not isinstance(iat, int | float) or isinstance(iat, bool) or iat > current + LEEWAY:
        raise ApiAuthError(HTTPStatus.UNAUTHORIZED, "token_invalid", "bad iat")
    if exp - iat > MAX_TTL:
        raise ApiAuthError(
            HTTPStatus.UNAUTHORIZED, "token_invalid", f"token lifetime above {MAX_TTL:g} s"
        )
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise ApiAuthError(HTTPStatus.UNAUTHORIZED, "token_invalid", "scope must be a string")
    return Principal(kid, frozenset(scope.split()))


def require_scope(principal: Principal, scope: Scope) -> None:
    if scope.value not in principal.scopes:
        raise ApiAuthError(HTTPStatus.FORBIDDEN, "scope_missing", f"this call needs {scope.value}")
