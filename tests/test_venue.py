"""The composite: dispatch to side cores, role before phase, reactions, snapshots, state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from voiceroom import protocol, venue
from voiceroom.room import commands as rc
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import EVERYONE, ChatPosted, Emit, Event, PhaseChanged
from voiceroom.room.model import ALL_ROLES, MODERATORS, Actor, Phase, Profile, Role, RoomConfig
from voiceroom.room.rules import LIVE, SHOW, Rule


@dataclass(frozen=True, slots=True)
class Bump(rc.Command):
    TYPE: ClassVar[str] = "test.bump"
    by: int = 1


@dataclass(frozen=True, slots=True)
class Draw(rc.Command):
    TYPE: ClassVar[str] = "test.draw"
    NEEDS_ENTROPY: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Bumped(Event):
    TYPE: ClassVar[str] = "test.bumped"
    user: str
    total: int


class Counter:
    """A minimal side core: moderators bump a counter in the show; chat counts too."""

    NAME: ClassVar[str] = "counter"
    COMMAND_TYPES: ClassVar[tuple[type[rc.Command], ...]] = (Bump, Draw)
    RULES: ClassVar[Mapping[type[rc.Command], Rule]] = {
        Bump: Rule(MODERATORS, SHOW),
        Draw: Rule(ALL_ROLES, LIVE),
    }

    def __init__(self, config: RoomConfig) -> None:
        self.total = 0
        self.chats = 0
        self.seeds: list[bytes] = []
        self.closed = False

    def handle(self, actor: Actor, cmd: rc.Command, now: float, *, entropy: bytes) -> list[Emit]:
        if isinstance(cmd, Bump):
            if cmd.by <= 0:
                raise RuleError(ErrorCode.INVALID_ARGUMENT, "by must be positive")
            self.total += cmd.by
            return [Emit(EVERYONE, Bumped(actor.user, self.total))]
        self.seeds.append(entropy)
        return []

    def tick(self, now: float) -> list[Emit]:
        return []

    def react(self, emits: Sequence[Emit], now: float) -> list[Emit]:
        for emit in emits:
            if isinstance(emit.event, ChatPosted):
                self.chats += 1
            if isinstance(emit.event, PhaseChanged) and emit.event.phase == "ended":
                self.closed = True
        return []

    def snapshot(self, viewer: Actor | None) -> Any:
        return {"total": self.total, "you": None if viewer is None else viewer.user}


@pytest.fixture
def v(monkeypatch: pytest.MonkeyPatch) -> venue.Venue:
    monkeypatch.setattr(venue, "CORES", (Counter,))
    v = venue.Venue("r1")
    v.join(Profile("h", "Host", Role.HOST), 0.0)
    v.join(Profile("l", "Lis", Role.LISTENER), 0.0)
    return v


def counter(v: venue.Venue) -> Counter:
    core = v.cores[0]
    assert isinstance(core, Counter)
    return core


def test_side_core_command_role_checked_before_phase(v: venue.Venue) -> None:
    # In warm-up a listener's bump is forbidden (role), not wrong_phase: no state leaks.
    with pytest.raises(RuleError) as e:
        v.handle("l", Bump(), 1.0)
    assert e.value.code is ErrorCode.FORBIDDEN
    with pytest.raises(RuleError) as e:
        v.handle("h", Bump(), 1.0)
    assert e.value.code is ErrorCode.WRONG_PHASE
    v.handle("h", rc.StartShow(), 2.0)
    out = v.handle("h", Bump(by=2), 3.0)
    assert [e.event for e in out] == [Bumped("h", 2)]
    with pytest.raises(RuleError):
        v.handle("stranger", Bump(), 3.0)
    assert counter(v).total == 2


def test_reactions_see_room_events_and_room_end(v: venue.Venue) -> None:
    v.handle("l", rc.SendChat("hi"), 1.0)
    assert counter(v).chats == 1
    v.handle("h", rc.EndRoom(), 2.0)
    assert counter(v).closed
    with pytest.raises(RuleError) as e:
        v.handle("h", Draw(), 3.0)
    assert e.value.code is ErrorCode.ROOM_ENDED


def test_snapshot_has_room_fields_and_each_core(v: venue.Venue) -> None:
    snap = v.snapshot("l")
    assert snap["room"] == "r1" and snap["phase"] == Phase.WARMUP.value
    assert snap["counter"] == {"total": 0, "you": "l"}


def test_state_round_trip_keeps_everything(v: venue.Venue) -> None:
    v.handle("h", rc.StartShow(), 1.0)
    v.handle("h", Bump(by=5), 2.0)
    v.handle("l", Draw(), 2.0, entropy=b"\x01" * 32)
    copy = venue.Venue.from_state(v.to_state())
    assert copy.snapshot("l") == v.snapshot("l")
    assert counter(copy).seeds == [b"\x01" * 32]
    assert venue.needs_entropy(Draw()) and not venue.needs_entropy(Bump())
    with pytest.raises(TypeError):
        venue.Venue.from_state(__import__("pickle").dumps({"not": "a venue"}))


def test_server_acts_without_membership_but_within_phases(v: venue.Venue) -> None:
    v.handle("l", rc.TakeSeat(), 1.0)  # warm-up: free seats are open
    with pytest.raises(RuleError) as e:
        v.handle_as_server(rc.RaiseHand(), 1.0)
    assert e.value.code is ErrorCode.WRONG_PHASE
    v.handle_as_server(rc.StartShow(), 2.0)
    assert v.room.phase is Phase.SHOW
    v.handle_as_server(rc.MuteSeat(1), 3.0)
    assert "l" in v.room.moderator_muted
    with pytest.raises(RuleError) as e:
        v.handle_as_server(rc.SendChat("spoofed"), 3.0)  # self-service needs a member
    assert e.value.code is ErrorCode.INVALID_ARGUMENT
    v.handle_as_server(Bump(by=3), 4.0)
    assert counter(v).total == 3
    assert "@server" not in v.room.members


def test_check_is_role_then_phase(v: venue.Venue) -> None:
    with pytest.raises(RuleError) as e:
        v.check("l", rc.PlayMusic("x.ogg"))
    assert e.value.code is ErrorCode.FORBIDDEN
    v.check("h", rc.PlayMusic("x.ogg"))  # allowed: no lookup happened


def test_duplicate_wire_names_raise() -> None:
    with pytest.raises(ValueError):
        venue.merge_command_names([rc.SendChat], [Bump, rc.SendChat])
    names = list(protocol.MESSAGES)
    assert len(names) == len(set(names))
    assert set(rc.COMMANDS) <= set(protocol.MESSAGES)


def test_a_flash_sale_claim_earns_leaderboard_points_across_cores() -> None:
    """Commerce and games compose through reactions: the claimant (the sole addressee of
    sale.claimed) is credited a claim by the games core, nobody else is."""
    from voiceroom.commerce import commands as sc
    from voiceroom.games.core import Games
    from voiceroom.games.model import POINTS

    v = venue.Venue("shop-and-games")
    v.join(Profile("h", "Host", Role.HOST), 0.0)
    v.join(Profile("a", "Ann", Role.LISTENER), 0.0)
    v.join(Profile("b", "Bob", Role.LISTENER), 0.0)
    v.handle("h", rc.StartShow(), 1.0)
    v.handle("h", sc.AddProduct("bag", {"en": "Bag"}, 12_900, "SAR", 10), 2.0)
    v.handle("h", sc.StartSale("bag", 9_900, 5, 60.0), 3.0)
    sale_id = v.snapshot("a")["shop"]["sales"][0]["id"]
    v.handle("a", sc.ClaimSale(sale_id), 4.0)
    games = next(core for core in v.cores if isinstance(core, Games))
    assert games.boards.room.points.get("a") == POINTS["claim"]
    assert "b" not in games.boards.room.points
