"""Commands of the games core, one frozen dataclass per wire message.

As in :mod:`voiceroom.room.commands`, the sender is never a field, and fields are plain
wire values. Money (a guess, a true price) is an integer in minor units, never a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from voiceroom.room.commands import Command


# --- lottery ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OpenLottery(Command):
    """Open a giveaway. The server's entropy is the secret seed; its SHA-256 is published.

    ``rule``: ``room`` (every shopper in the room at draw time), ``seated`` (shoppers on a
    seat at draw time), ``chat`` (shoppers who posted ``keyword`` in chat since the open
    and are still in the room), ``tier`` (shoppers whose tier is ``tier`` at draw time).
    ``weighted``: each entrant gets as many tickets as their tier's lottery weight."""

    TYPE: ClassVar[str] = "lottery.open"
    NEEDS_ENTROPY: ClassVar[bool] = True
    prize: str
    rule: str = "room"
    winners: int = 1
    keyword: str | None = None
    tier: str | None = None
    weighted: bool = False


@dataclass(frozen=True, slots=True)
class DrawLottery(Command):
    TYPE: ClassVar[str] = "lottery.draw"


@dataclass(frozen=True, slots=True)
class CancelLottery(Command):
    """Cancel the open lottery; the seed is revealed all the same."""

    TYPE: ClassVar[str] = "lottery.cancel"


# --- guess the price -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OpenGuess(Command):
    """Open a guess-the-price round; ``price`` (minor units) stays hidden until the close."""

    TYPE: ClassVar[str] = "guess.open"
    product: str
    price: int
    currency: str = "USD"


@dataclass(frozen=True, slots=True)
class SubmitGuess(Command):
    TYPE: ClassVar[str] = "guess.submit"
    amount: int


@dataclass(frozen=True, slots=True)
class CloseGuess(Command):
    """Close the round and reveal the price and the ranking."""

    TYPE: ClassVar[str] = "guess.close"


# --- audience vote ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OpenVote(Command):
    TYPE: ClassVar[str] = "vote.open"
    question: str
    options: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CastVote(Command):
    """Vote for option ``option`` (0-based); a second cast changes the vote."""

    TYPE: ClassVar[str] = "vote.cast"
    option: int


@dataclass(frozen=True, slots=True)
class CloseVote(Command):
    TYPE: ClassVar[str] = "vote.close"


# --- check-in, prompts, market ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CheckIn(Command):
    """The daily check-in: once per calendar day of the show's market time zone."""

    TYPE: ClassVar[str] = "checkin.daily"


@dataclass(frozen=True, slots=True)
class SendPrompt(Command):
    """Show prompt ``id`` to everyone, each in their own locale and market idiom."""

    TYPE: ClassVar[str] = "prompt.send"
    id: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SchedulePrompt(Command):
    """Send prompt ``id`` at ``at`` (UTC epoch seconds) from the room's own clock."""

    TYPE: ClassVar[str] = "prompt.schedule"
    id: str
    at: float
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SetMarket(Command):
    """The show's target market as an IANA time zone (e.g. ``Asia/Riyadh``)."""

    TYPE: ClassVar[str] = "market.set"
    zone: str


COMMAND_TYPES: tuple[type[Command], ...] = (
    OpenLottery,
    DrawLottery,
    CancelLottery,
    OpenGuess,
    SubmitGuess,
    CloseGuess,
    OpenVote,
    CastVote,
    CloseVote,
    CheckIn,
    SendPrompt,
    SchedulePrompt,
    SetMarket,
)

COMMANDS: dict[str, type[Command]] = {c.TYPE: c for c in COMMAND_TYPES}
