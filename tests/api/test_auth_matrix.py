"""Every endpoint by every kind of bad credential: 401 for missing / malformed / forged /
expired / over-long / unknown-key / join-token credentials, 403 for a valid token without
the endpoint's scope — before any lookup or body validation (a bare ``{}`` body, a room that
does not exist), so a refused caller learns nothing."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from voiceroom.api.auth import ALL_SCOPES, MAX_TTL, issue_api_token, verify_api_token
from voiceroom.api.service import ApiService
from voiceroom.auth import issue_token
from voiceroom.config import Config
from voiceroom.observability import Metrics
from voiceroom.signalling.room_host import Registry

from .harness import KEY, KID, SECRET, Api

# The scope each operation needs; a new endpoint must be added here (see the coverage test).
EXPECTED: dict[tuple[str, str], str] = {
    ("post", "/api/v1/rooms"): "rooms:write",
    ("get", "/api/v1/rooms"): "rooms:read",
    ("get", "/api/v1/rooms/{room_id}"): "rooms:read",
    ("put", "/api/v1/rooms/{room_id}/schedule"): "rooms:write",
    ("post", "/api/v1/rooms/{room_id}/start"): "rooms:write",
    ("post", "/api/v1/rooms/{room_id}/end"): "rooms:write",
    ("post", "/api/v1/rooms/{room_id}/links"): "links:write",
    ("get", "/api/v1/rooms/{room_id}/participants"): "rooms:read",
    ("put", "/api/v1/rooms/{room_id}/seats/{seat}/mute"): "participants:write",
    ("delete", "/api/v1/rooms/{room_id}/participants/{user}"): "participants:write",
    ("put", "/api/v1/rooms/{room_id}/participants/{user}/role"): "participants:write",
    ("put", "/api/v1/rooms/{room_id}/participants/{user}/tier"): "participants:write",
    ("get", "/api/v1/rooms/{room_id}/chat"): "history:read",
    ("get", "/api/v1/rooms/{room_id}/consultations"): "history:read",
    ("get", "/api/v1/rooms/{room_id}/shop"): "history:read",
    ("get", "/api/v1/rooms/{room_id}/games"): "history:read",
    ("get", "/api/v1/webhooks/endpoints"): "webhooks:read",
    ("post", "/api/v1/webhooks/endpoints"): "webhooks:write",
    ("delete", "/api/v1/webhooks/endpoints/{name}"): "webhooks:write",
    ("get", "/api/v1/webhooks/deliveries"): "webhooks:read",
    ("get", "/api/v1/webhooks/messages/{msg_id}"): "webhooks:read",
    ("post", "/api/v1/webhooks/messages/{msg_id}/redeliver"): "webhooks:write",
}
PARAMS = {"room_id": "no-such-room", "seat": "1", "user": "u1", "name": "shop", "msg_id": "msg_0a"}


def _document() -> dict[str, Any]:
    config = Config(port=0)
    return ApiService(config, Registry(config, Metrics())).app.openapi()


def test_every_operation_is_in_the_matrix_with_its_scope() -> None:
    ops = {
        (method, path): op["x-scope"]
        for path, item in _document()["paths"].items()
        for method, op in item.items()
    }
    assert ops == EXPECTED


def _forged() -> str:
    return issue_api_token(KID, "not-the-key-secret-0123456789abcdef")


def _expired() -> str:
    return issue_api_token(KID, KEY, now=time.time() - 400, ttl=300)


def _too_long() -> str:
    now = int(time.time())
    claims = {"iss": KID, "aud": "voiceroom-api", "iat": now, "exp": now + 3600, "scope": "*"}
    claims["scope"] = " ".join(ALL_SCOPES)
    return jwt.encode(claims, KEY, algorithm="HS256", headers={"kid": KID})


def _unknown_kid() -> str:
    return issue_api_token("shop2", KEY)


def _join_token() -> str:
    # A member's join token, signed with the join secret: never an API credential.
    return issue_token(SECRET, room="r", user="u", name="U", role="host")


def _alg_none() -> str:
    now = int(time.time())
    claims = {"iss": KID, "aud": "voiceroom-api", "iat": now, "exp": now + 60}
    claims["scope"] = " ".join(ALL_SCOPES)
    return jwt.encode(claims, None, algorithm="none", headers={"kid": KID})


BAD_401: dict[str, Any] = {
    "missing": lambda: None,
    "not_bearer": lambda: "Basic c2hvcDE6c2VjcmV0",
    "malformed": lambda: "Bearer not.a.jwt",
    "forged": lambda: f"Bearer {_forged()}",
    "expired": lambda: f"Bearer {_expired()}",
    "lifetime_over_10_min": lambda: f"Bearer {_too_long()}",
    "unknown_kid": lambda: f"Bearer {_unknown_kid()}",
    "join_token": lambda: f"Bearer {_join_token()}",
    "alg_none": lambda: f"Bearer {_alg_none()}",
}


async def _call(api: Api, method: str, path: str, header: str | None) -> Any:
    url = path.format(**PARAMS)
    headers = {} if header is None else {"Authorization": header}
    body = {} if method in ("post", "put") else None
    return await api.http.request(method.upper(), url, json=body, headers=headers)


async def test_matrix(api: Api) -> None:
    """One server for the whole matrix (20 operations by 10 credentials)."""
    failures = []
    for (method, path), needed in EXPECTED.items():
        for kind, make in BAD_401.items():
            r = await _call(api, method, path, make())
            if r.status_code != 401 or r.json()["error"]["code"] not in (
                "token_missing",
                "token_invalid",
                "token_expired",
            ):
                failures.append((method, path, kind, r.status_code, r.text[:80]))
            elif r.headers.get("www-authenticate") != "Bearer":
                failures.append((method, path, kind, "no WWW-Authenticate"))
        others = [s for s in ALL_SCOPES if s != needed]
        wrong = f"Bearer {issue_api_token(KID, KEY, others)}"
        r = await _call(api, method, path, wrong)
        if r.status_code != 403 or r.json()["error"]["code"] != "scope_missing":
            failures.append((method, path, "wrong_scope", r.status_code, r.text[:80]))
        right = f"Bearer {issue_api_token(KID, KEY, [needed])}"
        r = await _call(api, method, path, right)
        if r.status_code in (401, 403):
            failures.append((method, path, "right_scope", r.status_code, r.text[:80]))
    assert failures == []


@pytest.mark.parametrize("ttl", [0, -1, MAX_TTL + 1])
def test_issuer_refuses_lifetimes_outside_the_limit(ttl: float) -> None:
    with pytest.raises(ValueError):
        issue_api_token(KID, KEY, ttl=ttl)


def test_verify_accepts_its_own_tokens_and_reads_scopes() -> None:
    token = issue_api_token(KID, KEY, ["rooms:read", "links:write"])
    principal = verify_api_token({KID: KEY}, f"Bearer {token}")
    assert principal.kid == KID and principal.scopes == {"rooms:read", "links:write"}
