"""Room.set_tier: the server-only entry point the HTTP API (and the games core) use."""

from __future__ import annotations

import pytest

from voiceroom.room import Role
from voiceroom.room import commands as c
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import SeatUpdated, TierChanged

from .helpers import events_of, fingerprint, make_room


def test_set_tier_tells_the_room_and_updates_the_seat() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(Role.LISTENER, "new"))
    room.handle("a", c.TakeSeat(), now=1.0)
    emits = room.set_tier("a", "vip", now=2.0)
    assert events_of(emits, TierChanged) == [TierChanged("a", "vip")]
    (seat,) = events_of(emits, SeatUpdated)
    assert seat.seat.tier == "vip" and seat.reason == "tier"
    assert room.members["a"].tier == "vip"


def test_set_tier_same_tier_or_non_member_is_a_no_op() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(Role.LISTENER, "new"))
    assert room.set_tier("a", "new", now=1.0) == []
    assert room.set_tier("nobody", "vip", now=1.0) == []


@pytest.mark.parametrize("tier", ["", "x" * 65, "gold"])
def test_set_tier_refuses_unknown_tiers_and_changes_nothing(tier: str) -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(Role.LISTENER, "new"))
    before = fingerprint(room)
    with pytest.raises(RuleError) as err:
        room.set_tier("a", tier, now=1.0)
    assert err.value.code is ErrorCode.INVALID_ARGUMENT
    assert fingerprint(room) == before
