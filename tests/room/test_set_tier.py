"""Room.set_tier: the server-only entry point the HTTP API uses to change a member's tier."""

from __future__ import annotations

import pytest

from voiceroom.room import Role
from voiceroom.room import commands as c
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import SeatUpdated, TierChanged

from .helpers import events_of, fingerprint, make_room


def test_set_tier_emits_to_staff_and_the_member_and_updates_the_seat() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(Role.LISTENER, "new"))
    room.handle("a", c.TakeSeat(), now=1.0)
    emits = room.set_tier("a", "vip", now=2.0)
    assert events_of(emits, TierChanged) == [TierChanged("a", "vip")]
    tier_emit = next(e for e in emits if isinstance(e.event, TierChanged))
    assert tier_emit.to.includes("a", Role.LISTENER)
    assert tier_emit.to.includes("h", Role.HOST)
    assert not tier_emit.to.includes("other", Role.LISTENER)
    (seat,) = events_of(emits, SeatUpdated)
    assert seat.seat.tier == "vip" and seat.reason == "tier"
    assert room.members["a"].tier == "vip"


def test_set_tier_same_tier_is_a_no_op() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(Role.LISTENER, "new"))
    assert room.set_tier("a", "new", now=1.0) == []


@pytest.mark.parametrize(
    ("user", "tier", "code"),
    [
        ("nobody", "vip", ErrorCode.UNKNOWN_USER),
        ("a", "", ErrorCode.INVALID_ARGUMENT),
        ("a", "x" * 65, ErrorCode.INVALID_ARGUMENT),
    ],
)
def test_set_tier_refusals_change_nothing(user: str, tier: str, code: ErrorCode) -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(Role.LISTENER, "new"))
    before = fingerprint(room)
    with pytest.raises(RuleError) as err:
        room.set_tier(user, tier, now=1.0)
    assert err.value.code is code
    assert fingerprint(room) == before


def test_set_tier_refused_after_the_room_ended() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(Role.LISTENER, "new"))
    room.handle("h", c.EndRoom(), now=1.0)
    with pytest.raises(RuleError) as err:
        room.set_tier("a", "vip", now=2.0)
    assert err.value.code is ErrorCode.ROOM_ENDED
