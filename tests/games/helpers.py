"""The Venue (room + games) driven by name, and fingerprints of the games state."""

from __future__ import annotations

import hashlib
from typing import Any

from voiceroom.games import Games, GamesConfig
from voiceroom.room import Profile, Role, Room
from voiceroom.room.commands import Command
from voiceroom.room.events import Emit, Event
from voiceroom.venue import Venue

SEED = hashlib.sha256(b"test seed").digest()


class Pair:
    """The real Venue, with the games core built from a test's GamesConfig."""

    def __init__(self, config: GamesConfig | None = None) -> None:
        self.venue = Venue("g1")
        self.games = Games(config)
        # Swap in this test's games core (the Venue builds one with the default config).
        self.venue.cores = tuple(
            self.games if isinstance(core, Games) else core for core in self.venue.cores
        )
        self.venue._core_of.update(dict.fromkeys(Games.COMMAND_TYPES, self.games))

    @property
    def room(self) -> Room:
        return self.venue.room

    def join(
        self, user: str, role: Role = Role.LISTENER, tier: str = "new", now: float = 0.0
    ) -> list[Emit]:
        return self.venue.join(Profile(user, user.upper(), role, tier), now)

    def leave(self, user: str, now: float) -> list[Emit]:
        return self.venue.leave(user, now)

    def handle(self, user: str, cmd: Command, now: float, entropy: bytes = SEED) -> list[Emit]:
        return self.venue.handle(user, cmd, now, entropy=entropy)

    def tick(self, now: float) -> list[Emit]:
        return self.venue.tick(now)


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
