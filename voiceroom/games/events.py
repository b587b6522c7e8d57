"""Events of the games core (wrapped in the room's :class:`Emit`), all wire-safe.

Sequenced and replayed on resume like every room event. The high-rate ones
(``vote.tally``, ``guess.count``, ``leaderboard.updated``) are throttled by the core itself:
at most one per ``GamesConfig.live_interval`` seconds each, carrying the latest value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from voiceroom.room.events import Event


# --- views ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GuessRank:
    rank: int  # 1-based
    user: str
    name: str
    amount: int
    off_by: int  # |amount - price|, minor units


@dataclass(frozen=True, slots=True)
class LeaderEntry:
    rank: int
    user: str
    name: str
    points: int
    reached_at: float  # when the member reached this score (ties: earlier first)


# --- lottery ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LotteryOpened(Event):
    """``commitment`` = hex SHA-256 of the secret seed; ``weights`` the tickets per tier
    (empty when every entrant has one ticket)."""

    TYPE: ClassVar[str] = "lottery.opened"
    id: int
    prize: str
    rule: str
    keyword: str | None
    tier: str | None
    winners: int
    commitment: str
    weights: dict[str, int]
    at: float


@dataclass(frozen=True, slots=True)
class LotteryDrawn(Event):
    """Everything needed to recompute the draw (docs/engagement.md, ``voiceroom verify-draw``):
    ``seed`` (hex), ``entrants`` (sorted user ids), ``tickets`` (per entrant, same order),
    ``list_digest`` = hex SHA-256 of the entrants joined by LF; ``winners`` in draw order."""

    TYPE: ClassVar[str] = "lottery.drawn"
    id: int
    prize: str
    rule: str
    keyword: str | None
    tier: str | None
    k: int
    commitment: str
    seed: str
    entrants: tuple[str, ...]
    tickets: tuple[int, ...]
    list_digest: str
    winners: tuple[str, ...]
    winner_names: tuple[str, ...]
    at: float


@dataclass(frozen=True, slots=True)
class LotteryCancelled(Event):
    """``reason``: cancelled (by a moderator) or room_ended. The seed is revealed anyway."""

    TYPE: ClassVar[str] = "lottery.cancelled"
    id: int
    seed: str
    reason: str


# --- guess the price --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GuessOpened(Event):
    TYPE: ClassVar[str] = "guess.opened"
    id: int
    product: str
    currency: str
    at: float


@dataclass(frozen=True, slots=True)
class GuessTaken(Event):
    """To the guesser only: their guess was recorded."""

    TYPE: ClassVar[str] = "guess.yours"
    id: int
    amount: int


@dataclass(frozen=True, slots=True)
class GuessCount(Event):
    """How many guesses so far (throttled)."""

    TYPE: ClassVar[str] = "guess.count"
    id: int
    guesses: int


@dataclass(frozen=True, slots=True)
class GuessRevealed(Event):
    """The price and the top of the ranking (closest first, ties: earliest guess)."""

    TYPE: ClassVar[str] = "guess.revealed"
    id: int
    product: str
    currency: str
    price: int
    guesses: int
    ranking: tuple[GuessRank, ...]
    winner: str | None
    reason: str  # closed or room_ended


# --- vote -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VoteOpened(Event):
    TYPE: ClassVar[str] = "vote.opened"
    id: int
    question: str
    options: tuple[str, ...]
    at: float


@dataclass(frozen=True, slots=True)
class VoteTaken(Event):
    """To the voter only: their current choice."""

    TYPE: ClassVar[str] = "vote.yours"
    id: int
    option: int


@dataclass(frozen=True, slots=True)
class VoteTally(Event):
    """Live tallies (throttled: the latest counts at most once a second)."""

    TYPE: ClassVar[str] = "vote.tally"
    id: int
    tallies: tuple[int, ...]
    total: int


@dataclass(frozen=True, slots=True)
class VoteClosed(Event):
    """Final tallies; ``winners`` the option indexes with the most votes (several on a tie,
    none when nobody voted)."""

    TYPE: ClassVar[str] = "vote.closed"
    id: int
    question: str
    options: tuple[str, ...]
    tallies: tuple[int, ...]
    total: int
    winners: tuple[int, ...]
    reason: str


# --- leaderboard, check-in, tiers, prompts, market --------------------------------------
@dataclass(frozen=True, slots=True)
class LeaderboardUpdated(Event):
    """Top N of one board: ``room`` (since the room opened) or ``show`` (since the show
    started). Sent when the top N changed, at most once per interval per board."""

    TYPE: ClassVar[str] = "leaderboard.updated"
    board: str
    top: tuple[LeaderEntry, ...]


@dataclass(frozen=True, slots=True)
class CheckedIn(Event):
    TYPE: ClassVar[str] = "checkin.done"
    user: str
    name: str
    day: str  # ISO date in the market's zone
    streak: int


@dataclass(frozen=True, slots=True)
class TierEarned(Event):
    """A member grew into a tier (``new`` -> ``active``); the Venue then sets it in the
    room (``Room.set_tier``), which emits ``member.tier``."""

    TYPE: ClassVar[str] = "tier.earned"
    user: str
    name: str
    tier: str
    interactions: int


@dataclass(frozen=True, slots=True)
class ScoreYours(Event):
    """To one shopper, whenever they score: their points on the ``room`` board and their
    interactions (the snapshot's ``your_points`` and ``interactions``, kept current; the
    boards only carry the top N, and nothing else carries the tier progress)."""

    TYPE: ClassVar[str] = "score.yours"
    points: int
    interactions: int


@dataclass(frozen=True, slots=True)
class PromptShown(Event):
    """A prompt by id: clients show ``prompt.<id>`` from their own catalog (locale and
    market idiom), filling ``params``. Never prose."""

    TYPE: ClassVar[str] = "prompt.shown"
    id: str
    params: dict[str, str] = field(default_factory=dict)
    by: str | None = None  # None: sent by the schedule or the server
    at: float = 0.0
    n: int | None = None  # the scheduled prompt this was (``prompt.scheduled``), if any


@dataclass(frozen=True, slots=True)
class PromptScheduled(Event):
    """To moderators: a prompt is queued for ``at``."""

    TYPE: ClassVar[str] = "prompt.scheduled"
    n: int
    id: str
    at: float


@dataclass(frozen=True, slots=True)
class MarketChanged(Event):
    TYPE: ClassVar[str] = "market.changed"
    zone: str


EVENT_TYPES: tuple[type[Event], ...] = (
    LotteryOpened,
    LotteryDrawn,
    LotteryCancelled,
    GuessOpened,
    GuessTaken,
    GuessCount,
    GuessRevealed,
    VoteOpened,
    VoteTaken,
    VoteTally,
    VoteClosed,
    LeaderboardUpdated,
    CheckedIn,
    TierEarned,
    ScoreYours,
    PromptShown,
    PromptScheduled,
    MarketChanged,
)
