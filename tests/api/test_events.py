"""The projection from room events (wire form) to shop events: pure, table-driven, and
usable from the store's transaction hook (it reads only type, body and addressed users)."""

from __future__ import annotations

from dataclasses import asdict

from voiceroom.api.events import WEBHOOK_TYPES, WEBHOOKS, RoomFacts, Wire, project
from voiceroom.commerce.events import EVENT_TYPES as SHOP_EVENTS
from voiceroom.games.events import EVENT_TYPES as GAME_EVENTS
from voiceroom.room import Profile, Role, Room
from voiceroom.room import commands as c
from voiceroom.room.events import EVENT_TYPES


def feed(room: Room, emits: list, facts: RoomFacts, now: float) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    out = []
    for e in emits:
        wire = Wire(e.event.TYPE, asdict(e.event), e.to.users, e.to.roles != frozenset())
        out += [(s.type, s.data) for s in project(facts, room.id, 1, wire, now)]
    return out


def test_every_webhook_type_has_a_source_and_every_source_is_a_room_event() -> None:
    produced = {t for rule in WEBHOOKS.values() for t in rule.types}
    assert produced == set(WEBHOOK_TYPES)
    assert set(WEBHOOKS) <= {*EVENT_TYPES, *SHOP_EVENTS, *GAME_EVENTS}


def test_a_show_projected() -> None:
    room, facts = Room("r"), RoomFacts()
    got = feed(room, room.join(Profile("h", "H", Role.HOST), 0.0), facts, 0.0)
    assert got == [
        (
            "participant.joined",
            {"room": "r", "user": "h", "name": "H", "role": "host", "tier": "new", "locale": "en"},
        ),
        ("seat.taken", {"room": "r", "seat": 0, "user": "h", "reason": "taken"}),
    ]
    feed(room, room.join(Profile("a", "A", Role.AGENT), 0.0), facts, 0.0)
    feed(room, room.join(Profile("s", "S", Role.LISTENER), 0.0), facts, 0.0)
    got = feed(room, room.handle("h", c.StartShow(), 1.0), facts, 1.0)
    assert ("room.started", {"room": "r", "phase": "show", "show_starts_at": None}) in got
    got = feed(room, room.handle("s", c.RaiseHand(), 2.0), facts, 2.0)
    assert got == [("hand.raised", {"room": "r", "user": "s", "position": 1})]
    got = feed(room, room.handle("h", c.Promote("s"), 3.0), facts, 3.0)
    assert got == [("seat.taken", {"room": "r", "seat": 1, "user": "s", "reason": "promoted"})]
    got = feed(room, room.handle("s", c.MuteSelf(), 3.5), facts, 3.5)
    assert got == []  # a mute is not a seat fact
    got = feed(room, room.handle("s", c.RequestConsultation("hi"), 4.0), facts, 4.0)
    assert got == [("consultation.requested", {"room": "r", "user": "s", "position": 1})]
    got = feed(room, room.handle("a", c.AcceptRequest("s"), 5.0), facts, 5.0)
    started = [d for t, d in got if t == "consultation.started"]
    assert started[0]["agent"] == "a" and started[0]["shopper"] == "s"
    got = feed(room, room.handle("a", c.EndConsultation(started[0]["id"]), 65.5), facts, 65.5)
    (ended,) = [d for t, d in got if t == "consultation.ended"]
    assert ended["duration"] == 60.5 and ended["agent"] == "a" and ended["by"] == "a"
    got = feed(room, room.leave("s", 70.0), facts, 70.0)
    assert [t for t, _ in got] == ["seat.left", "participant.left"]
    assert got[0][1]["user"] == "s"


def test_commerce_and_games_results_projected() -> None:
    from voiceroom.commerce import events as ce
    from voiceroom.games import events as ge
    from voiceroom.room.events import TierChanged

    facts = RoomFacts()

    def one(event: object, users: frozenset[str] = frozenset(), to_roles: bool = True) -> list:  # type: ignore[type-arg]
        wire = Wire(event.TYPE, asdict(event), users, to_roles)  # type: ignore[attr-defined, call-overload]
        return [(s.type, s.data) for s in project(facts, "r", 1, wire, 5.0)]

    coupon = ce.CouponClaimed(ce.CouponView(3, "OUD-7K2Q", 99.0))
    assert one(coupon, frozenset({"s1"}), False) == [
        (
            "coupon.claimed",
            {"room": "r", "user": "s1", "drop": 3, "code": "OUD-7K2Q", "expires_at": 99.0},
        )
    ]
    group = ce.GroupView(1, 2, 3, 3, 0.0, 60.0, "complete")
    deal = ce.GroupDealView(1, "oud", 30000, 45000, "SAR", 2, 3, 60.0, 600.0, "open", None, 1)
    assert one(ce.GroupDealUpdated(deal, "completed")) == []  # remembered, not sent
    assert one(ce.GroupStatus(group, "completed"), frozenset({"b", "a", "c"}), False) == [
        (
            "group.completed",
            {
                "room": "r",
                "deal": 1,
                "group": 2,
                "size": 3,
                "product": "oud",
                "price": 30000,
                "list_price": 45000,
                "currency": "SAR",
                "members": ["a", "b", "c"],
            },
        )
    ]
    assert one(ce.GroupStatus(group, "joined"), frozenset({"a"}), False) == []
    vote = ge.VoteClosed(4, "Colour?", ("red", "blue"), (3, 5), 8, (1,), "closed")
    assert one(vote)[0][1]["tallies"] == [3, 5] and one(vote)[0][1]["winners"] == [1]
    rank = ge.GuessRank(1, "s1", "S1", 40000, 500)
    guess = ge.GuessRevealed(2, "oud", "SAR", 39500, 7, (rank,), "s1", "closed")
    [(kind, data)] = one(guess)
    assert (
        kind == "guess.revealed" and data["winner"] == "s1" and data["ranking"][0]["off_by"] == 500
    )
    assert one(TierChanged("s1", "vip")) == [
        ("tier.changed", {"room": "r", "user": "s1", "tier": "vip"})
    ]
