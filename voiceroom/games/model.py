"""What the games core knows of the room (fed by ``Games.react`` from the room's events and
by the Actor of each command), its configuration, and small shared helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import Emit
from voiceroom.room.model import STAFF, Actor, Role


@dataclass(frozen=True, slots=True)
class GamesConfig:
    active_after: int = 10  # interactions that turn a `new` member `active`
    live_interval: float = 1.0  # throttle of tallies, guess counts, leaderboards (s)
    leaderboard_size: int = 10
    ranking_size: int = 10  # guess-the-price results shown to the room
    chat_points_every: float = 10.0  # chat earns at most once per this many seconds
    market_zone: str = "UTC"  # the show's target market, IANA zone
    max_scheduled_prompts: int = 50

    def __post_init__(self) -> None:
        if self.active_after < 1 or self.leaderboard_size < 1 or self.ranking_size < 1:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "games limits must be at least 1")
        if self.live_interval < 0 or self.chat_points_every < 0:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "games intervals must be >= 0")


# Points per interaction (docs/engagement.md lists them for shoppers).
POINTS: dict[str, int] = {
    "chat": 1,
    "mic_minute": 2,
    "vote": 2,
    "guess": 2,
    "checkin": 3,
    "claim": 3,
    "win": 10,
}


@dataclass(slots=True)
class Seen:
    """A member as the games core last saw them."""

    name: str
    role: Role
    tier: str

    @property
    def shopper(self) -> bool:
        return self.role not in STAFF


@dataclass(slots=True)
class Roster:
    members: dict[str, Seen] = field(default_factory=dict)
    seats: dict[int, str] = field(default_factory=dict)  # seat index -> holder
    names: dict[str, str] = field(default_factory=dict)  # everyone ever seen (leaderboards)

    def seated(self) -> set[str]:
        return set(self.seats.values())

    def name(self, user: str) -> str:
        return self.names.get(user, user)


Credit = Callable[[str, str, float, list[Emit]], None]  # (user, kind, now, out)


@dataclass(slots=True)
class Ctx:
    """What a handler may use besides its own state. ``credit`` awards points (and may grow
    a tier); it never fails, so handlers call it after their checks."""

    roster: Roster
    config: GamesConfig
    entropy: bytes
    credit: Credit
    market_zone: str


# A concept module's handler: (its state, ctx, actor, command, now, out). Validate first,
# then mutate; a RuleError leaves everything as it was.
Handler = Callable[[Any, Ctx, Actor, Any, float, list[Emit]], None]


@dataclass(slots=True)
class Throttle:
    """At most one emission per ``interval``; a change inside it waits for ``due``."""

    interval: float
    last: float = float("-inf")
    pending: bool = False

    def ready(self, now: float) -> bool:
        return now - self.last >= self.interval

    def fire(self, now: float) -> None:
        self.last = now
        self.pending = False


def text_arg(value: str, what: str, max_chars: int) -> str:
    value = value.strip()
    if not value or len(value) > max_chars:
        raise RuleError(ErrorCode.INVALID_ARGUMENT, f"{what} must be 1..{max_chars} characters")
    return value
