"""A room plus the games core, composed the way the Venue composes them (rules checked
role first then phase, every emit shown to ``react``, ``tier.earned`` -> ``Room.set_tier``),
and fingerprints of the games state."""

from __future__ import annotations

import hashlib
from typing import Any

from voiceroom.games import Games, GamesConfig
from voiceroom.games.events import TierEarned
from voiceroom.room import ErrorCode, Phase, Profile, Role, Room, RuleError
from voiceroom.room.commands import Command
from voiceroom.room.events import Emit, Event

SEED = hashlib.sha256(b"test seed").digest()


class Pair:
    """Room + Games (stands in for voiceroom.venue.Venue in the pure tests)."""

    def __init__(self, config: GamesConfig | None = None) -> None:
        self.room = Room("g1")
        self.games = Games(config)

    def join(
        self, user: str, role: Role = Role.LISTENER, tier: str = "new", now: float = 0.0
    ) -> list[Emit]:
        return self._react(self.room.join(Profile(user, user.upper(), role, tier), now), now)

    def leave(self, user: str, now: float) -> list[Emit]:
        return self._react(self.room.leave(user, now), now)

    def handle(self, user: str, cmd: Command, now: float, entropy: bytes = SEED) -> list[Emit]:
        if type(cmd) not in Games.RULES:
            return self._react(self.room.handle(user, cmd, now), now)
        actor = self.room.actor(user)
        if actor is None:
            raise RuleError(ErrorCode.UNKNOWN_USER, "not a member")
        rule = Games.RULES[type(cmd)]
        if self.room.phase is Phase.ENDED:
            raise RuleError(ErrorCode.ROOM_ENDED, "ended")
        if actor.role not in rule.roles:
            raise RuleError(ErrorCode.FORBIDDEN, "role")
        if self.room.phase not in rule.phases:
            raise RuleError(ErrorCode.WRONG_PHASE, "phase")
        return self._react(self.games.handle(actor, cmd, now, entropy=entropy), now)

    def tick(self, now: float) -> list[Emit]:
        return self._react(self.room.tick(now) + self.games.tick(now), now)

    def _react(self, emits: list[Emit], now: float) -> list[Emit]:
        out: list[Emit] = []
        batch = list(emits)
        while batch:
            out += batch
            reacted = self.games.react(batch, now)
            out += reacted
            earned = [e.event for e in batch + reacted if isinstance(e.event, TierEarned)]
            batch = [x for t in earned for x in self.room.set_tier(t.user, t.tier, now)]
        return out


def events_of(emits: list[Emit], kind: type[Event]) -> list[Any]:
    return [e.event for e in emits if isinstance(e.event, kind)]


def fingerprint(g: Games) -> tuple[object, ...]:
    """Everything that makes up the games state, comparable with ==."""
    d = g.lotteries.current
    r = g.rounds.current
    p = g.polls.current
    return (
        repr(sorted(g.roster.members.items())),
        tuple(sorted(g.roster.seats.items())),
        (d.id, d.rule, d.k, tuple(sorted(d.chatters))) if d else None,
        g.lotteries.last,
        g.lotteries.next_id,
        (r.id, r.price, tuple(sorted(r.guesses.items()))) if r else None,
        g.rounds.last,
        g.rounds.next_id,
        repr(g.rounds.throttle),
        (p.id, tuple(sorted(p.votes.items()))) if p else None,
        g.polls.last,
        repr(g.polls.throttle),
        tuple(sorted(g.boards.room.points.items())),
        tuple(sorted(g.boards.show.points.items())),
        repr(g.boards.throttle),
        g.boards.room.sent,
        tuple(sorted(g.interactions.items())),
        tuple(sorted(g.checkins.streaks.items())),
        tuple(g.prompts.scheduled),
        g.prompts.last,
        g.market.zone,
        tuple(sorted(g.mic_since.items())),
    )
