"""Room.set_tier: the server-only entry point the HTTP API (and the games core) use."""

from __future__ import annotations

import pytest

from voiceroom.room import Profile, Role, Room
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


def test_a_tier_the_room_gave_outlives_leaving_and_coming_back() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(Role.LISTENER, "new"), b=(Role.LISTENER, "active"))
    room.set_tier("a", "active", now=1.0)  # grown in this room
    room.set_tier("b", "new", now=1.0)  # lowered by the API
    for user in ("a", "b"):
        room.leave(user, now=2.0)
        assert user not in room.members
    # Their links still say what they said when issued.
    room.join(Profile("a", "A", Role.LISTENER, "new", "en"), now=3.0)
    room.join(Profile("b", "B", Role.LISTENER, "active", "en"), now=3.0)
    assert room.members["a"].tier == "active"  # not undone by coming back
    assert room.members["b"].tier == "active"  # a token can still raise
    # A token above what the room gave wins too.
    room.leave("a", now=4.0)
    room.join(Profile("a", "A", Role.LISTENER, "vip", "en"), now=5.0)
    assert room.members["a"].tier == "vip"


def test_a_snapshot_from_before_tier_memory_still_loads() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(Role.LISTENER, "new"))
    state = room.__dict__.copy()
    del state["tier_memory"]
    old = Room.__new__(Room)
    old.__setstate__(state)
    assert old.tier_memory == {}
    old.set_tier("a", "active", now=1.0)
    assert old.tier_memory == {"a": "active"}
