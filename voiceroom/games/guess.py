"""Guess the price: the host opens a round for a product with its true price hidden
(integer minor units); each shopper guesses once; the host closes and the price is
revealed with a ranking: closest first, ties by the earliest guess."""

from __future__ import annotations

from dataclasses import dataclass, field

from voiceroom.games import commands as c
from voiceroom.games.errors import GamesCode
from voiceroom.games.events import GuessCount, GuessOpened, GuessRank, GuessRevealed, GuessTaken
from voiceroom.games.model import Ctx, Handler, Throttle, text_arg
from voiceroom.room.commands import Command
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import EVERYONE, Emit, to_users
from voiceroom.room.model import Actor

MAX_PRODUCT_CHARS = 100
MAX_AMOUNT = 10**12  # minor units: ten billion in a two-decimal currency


@dataclass(frozen=True, slots=True)
class Guess:
    user: str
    amount: int
    at: float
    n: int  # arrival order, breaks ties between guesses with the same ``at``


@dataclass(slots=True)
class Round:
    id: int
    product: str
    price: int
    currency: str
    opened_at: float
    guesses: dict[str, Guess] = field(default_factory=dict)


def ranking(price: int, guesses: list[Guess]) -> list[Guess]:
    """Closest first; ties: the earlier guess (then arrival order)."""
    return sorted(guesses, key=lambda g: (abs(g.amount - price), g.at, g.n))


@dataclass(slots=True)
class Rounds:
    throttle: Throttle
    current: Round | None = None
    last: GuessRevealed | None = None
    next_id: int = 1

    def open(self, ctx: Ctx, actor: Actor, cmd: c.OpenGuess, now: float, out: list[Emit]) -> None:
        if self.current is not None:
            raise RuleError(GamesCode.GAME_ALREADY_OPEN, "a guess-the-price round is open")
        product = text_arg(cmd.product, "product", MAX_PRODUCT_CHARS)
        currency = cmd.currency.strip().upper()
        if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "currency must be an ISO 4217 code")
        if not 0 < cmd.price <= MAX_AMOUNT:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "price must be 1..10^12 minor units")
        self.current = Round(self.next_id, product, cmd.price, currency, now)
        self.next_id += 1
        out.append(Emit(EVERYONE, GuessOpened(self.current.id, product, currency, now)))

    def submit(
        self, ctx: Ctx, actor: Actor, cmd: c.SubmitGuess, now: float, out: list[Emit]
    ) -> None:
        r = self._require_open()
        if actor.user in r.guesses:
            raise RuleError(GamesCode.ALREADY_GUESSED, "you already guessed in this round")
        if not 0 <= cmd.amount <= MAX_AMOUNT:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "a guess is 0..10^12 minor units")
        r.guesses[actor.user] = Guess(actor.user, cmd.amount, now, len(r.guesses))
        out.append(Emit(to_users(actor.user), GuessTaken(r.id, cmd.amount)))
        self.throttle.pending = True
        self.flush(now, out)
        ctx.credit(actor.user, "guess", now, out)

    def close(self, ctx: Ctx, actor: Actor, cmd: c.CloseGuess, now: float, out: list[Emit]) -> None:
        self.reveal(ctx, self._require_open(), "closed", now, out)

    # server-side moves
    def reveal(self, ctx: Ctx, r: Round, reason: str, now: float, out: list[Emit]) -> None:
        order = ranking(r.price, list(r.guesses.values()))
        top = tuple(
            GuessRank(i, g.user, ctx.roster.name(g.user), g.amount, abs(g.amount - r.price))
            for i, g in enumerate(order[: ctx.config.ranking_size], start=1)
        )
        winner = order[0].user if order else None
        self.current = None
        self.throttle.pending = False
        self.last = GuessRevealed(
            r.id, r.product, r.currency, r.price, len(order), top, winner, reason
        )
        out.append(Emit(EVERYONE, self.last))
        if winner is not None and reason == "closed":
            ctx.credit(winner, "win", now, out)

    def flush(self, now: float, out: list[Emit]) -> bool:
        r = self.current
        if r is None or not self.throttle.pending or not self.throttle.ready(now):
            return False
        self.throttle.fire(now)
        out.append(Emit(EVERYONE, GuessCount(r.id, len(r.guesses))))
        return True

    def _require_open(self) -> Round:
        if self.current is None:
            raise RuleError(GamesCode.GAME_NOT_OPEN, "no guess-the-price round is open")
        return self.current


HANDLERS: dict[type[Command], Handler] = {
    c.OpenGuess: Rounds.open,
    c.SubmitGuess: Rounds.submit,
    c.CloseGuess: Rounds.close,
}
