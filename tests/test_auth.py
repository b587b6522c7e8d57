"""Join tokens: what is accepted, and the HTTP status of each refusal."""

from __future__ import annotations

from http import HTTPStatus

import jwt
import pytest

from voiceroom.auth import AuthError, issue_token, verify_token
from voiceroom.room.model import Role

SECRET = "test-secret-0123456789-abcdefghij"


def status_of(fn: object) -> HTTPStatus:
    with pytest.raises(AuthError) as info:
        fn()  # type: ignore[operator]
    return info.value.status


def test_round_trip_carries_every_claim() -> None:
    tok = issue_token(
        SECRET, room="r", user="u1", name="Ann", role="cohost", tier="vip", locale="ar"
    )
    claims = verify_token(SECRET, tok, room="r")
    assert (claims.room, claims.user, claims.name) == ("r", "u1", "Ann")
    assert claims.role is Role.COHOST and claims.tier == "vip" and claims.locale == "ar"
    assert claims.profile().role is Role.COHOST


def test_refusals() -> None:
    good = issue_token(SECRET, room="r", user="u", name="n")
    assert status_of(lambda: verify_token(SECRET, None)) is HTTPStatus.UNAUTHORIZED
    assert status_of(lambda: verify_token(SECRET, "")) is HTTPStatus.UNAUTHORIZED
    assert status_of(lambda: verify_token(SECRET, "not.a.jwt")) is HTTPStatus.UNAUTHORIZED
    assert status_of(lambda: verify_token("x" * 32, good)) is HTTPStatus.UNAUTHORIZED
    expired = issue_token(SECRET, room="r", user="u", name="n", ttl=-60)
    assert status_of(lambda: verify_token(SECRET, expired)) is HTTPStatus.UNAUTHORIZED
    assert status_of(lambda: verify_token(SECRET, good, room="other")) is HTTPStatus.FORBIDDEN


def test_algorithm_none_and_bad_claims_are_refused() -> None:
    unsigned = jwt.encode({"sub": "u", "room": "r"}, None, algorithm="none")
    assert status_of(lambda: verify_token(SECRET, unsigned)) is HTTPStatus.UNAUTHORIZED
    now = 1_700_000_000
    base = {"iss": "voiceroom", "sub": "u", "room": "r", "name": "n", "iat": now, "exp": 2**40}
    bad_role = jwt.encode({**base, "role": "god"}, SECRET, algorithm="HS256")
    assert status_of(lambda: verify_token(SECRET, bad_role)) is HTTPStatus.UNAUTHORIZED
    no_room = jwt.encode({**base, "role": "host", "room": 5}, SECRET, algorithm="HS256")
    assert status_of(lambda: verify_token(SECRET, no_room)) is HTTPStatus.UNAUTHORIZED
