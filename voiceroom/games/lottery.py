"""A giveaway anyone can verify (docs/engagement.md, "Checking a draw").

Open: the server's entropy (``NEEDS_ENTROPY``) is the secret ``seed``; the room sees only
``commitment = SHA-256(seed)`` and the eligibility rule. Draw: the entrants are the
eligible shoppers at that moment, sorted by the UTF-8 bytes of their ids; the event
reveals the seed, the list, its digest and the winners of :func:`pick_winners`. Anyone
can recompute all of it with :func:`verify_draw` (``voiceroom verify-draw FILE``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voiceroom.games import commands as c
from voiceroom.games import tiers
from voiceroom.games.errors import GamesCode
from voiceroom.games.events import LotteryCancelled, LotteryDrawn, LotteryOpened
from voiceroom.games.model import Ctx, Handler, text_arg
from voiceroom.room.commands import Command
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import EVERYONE, Emit
from voiceroom.room.model import Actor

RULES = ("room", "seated", "chat", "tier")
MAX_WINNERS = 100
MAX_PRIZE_CHARS = 100
MAX_KEYWORD_CHARS = 40
MIN_SEED_BYTES = 16


# --- the published algorithm -----------------------------------------------------------
def commitment(seed: bytes) -> str:
    return hashlib.sha256(seed).hexdigest()


def list_digest(entrants: Sequence[str]) -> str:
    """Hex SHA-256 of the entrant ids (UTF-8) joined by one LF, no trailing LF."""
    return hashlib.sha256("\n".join(entrants).encode()).hexdigest()


def sort_entrants(users: Sequence[str] | set[str]) -> tuple[str, ...]:
    """Ascending by UTF-8 bytes (for str this is code-point order)."""
    return tuple(sorted(users, key=lambda u: u.encode()))


def ticket(seed: bytes, user: str, i: int) -> bytes:
    """HMAC-SHA256 keyed by the seed over ``<user id>\\n<i>`` (``i`` in decimal ASCII)."""
    return hmac.new(seed, f"{user}\n{i}".encode(), hashlib.sha256).digest()


def pick_winners(
    seed: bytes, entrants: Sequence[str], k: int, tickets: Sequence[int] | None = None
) -> tuple[str, ...]:
    """The first ``k`` entrants ordered by score, then by id (UTF-8 bytes).

    An entrant with ``n`` tickets (default 1) scores the smallest of ``ticket(seed, u, i)``
    for ``i`` in ``0..n-1``, compared as 32-byte big-endian numbers. So each entrant's
    chance of coming first is proportional to their tickets, and with one ticket each this
    is a uniform random order that the seed fixes."""
    counts = tickets if tickets is not None else [1] * len(entrants)
    if len(counts) != len(entrants) or any(n < 1 for n in counts):
        raise ValueError("one ticket count >= 1 per entrant")
    scored = sorted(
        (min(ticket(seed, u, i) for i in range(n)), u.encode(), u)
        for u, n in zip(entrants, counts, strict=True)
    )
    return tuple(u for _, _, u in scored[: max(k, 0)])


def verify_draw(draw: Mapping[str, Any], commitment_seen: str | None = None) -> list[str]:
    """Problems found in a ``lottery.drawn`` body (empty: the draw checks out)."""
    problems: list[str] = []
    try:
        seed = bytes.fromhex(str(draw["seed"]))
        entrants = [str(u) for u in draw["entrants"]]
        tickets = [int(n) for n in draw.get("tickets") or [1] * len(entrants)]
        k = int(draw["k"])
        winners = [str(u) for u in draw["winners"]]
        published = str(draw["commitment"])
        digest = str(draw["list_digest"])
    except (KeyError, TypeError, ValueError) as exc:
        return [f"not a lottery.drawn body: {exc}"]
    if commitment(seed) != published:
        problems.append("SHA-256(seed) is not the published commitment")
    if commitment_seen is not None and commitment_seen != published:
        problems.append("the commitment differs from the one published at the open")
    if list(sort_entrants(entrants)) != entrants or len(set(entrants)) != len(entrants):
        problems.append("the entrant list is not sorted or has duplicates")
    if list_digest(entrants) != digest:
        problems.append("SHA-256 of the entrant list is not list_digest")
    try:
        expected = pick_winners(seed, entrants, k, tickets)
    except ValueError as exc:
        problems.append(str(exc))
    else:
        if list(expected) != winners:
            problems.append(f"the winners should be {list(expected)}")
    return problems


# --- state and handlers ----------------------------------------------------------------
@dataclass(slots=True)
class OpenDraw:
    id: int
    prize: str
    rule: str
    k: int
    keyword: str | None
    tier: str | None
    weighted: bool
    seed: bytes
    opened_at: float
    chatters: set[str] = field(default_factory=set)  # said the keyword since the open


@dataclass(slots=True)
class Lotteries:
    current: OpenDraw | None = None
    last: LotteryDrawn | None = None
    next_id: int = 1

    def open(self, ctx: Ctx, actor: Actor, cmd: c.OpenLottery, now: float, out: list[Emit]) -> None:
        if self.current is not None:
            raise RuleError(GamesCode.GAME_ALREADY_OPEN, "a lottery is already open")
        prize = text_arg(cmd.prize, "prize", MAX_PRIZE_CHARS)
        if cmd.rule not in RULES:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, f"rule must be one of {', '.join(RULES)}")
        if not 1 <= cmd.winners <= MAX_WINNERS:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, f"winners must be 1..{MAX_WINNERS}")
        keyword = None
        if cmd.rule == "chat":
            keyword = text_arg(cmd.keyword or "", "keyword", MAX_KEYWORD_CHARS)
        tier = None
        if cmd.rule == "tier":
            tier = cmd.tier or ""
            if not tiers.is_known(tier):
                raise RuleError(GamesCode.UNKNOWN_TIER, f"unknown tier {tier!r}")
        if len(ctx.entropy) < MIN_SEED_BYTES:
            raise RuleError(GamesCode.ENTROPY_MISSING, "the server gave no seed")
        draw = OpenDraw(
            self.next_id, prize, cmd.rule, cmd.winners, keyword, tier, cmd.weighted,
            bytes(ctx.entropy), now,
        )  # fmt: skip
        self.current = draw
        self.next_id += 1
        weights = {t: p.lottery_weight for t, p in tiers.TIERS.items()} if cmd.weighted else {}
        opened = LotteryOpened(
            draw.id, prize, draw.rule, keyword, tier, draw.k, commitment(draw.seed), weights, now
        )
        out.append(Emit(EVERYONE, opened))

    def draw(self, ctx: Ctx, actor: Actor, cmd: c.DrawLottery, now: float, out: list[Emit]) -> None:
        d = self._require_open()
        entrants = sort_entrants(self.eligible(ctx, d))
        counts = tuple(
            tiers.lottery_weight(ctx.roster.members[u].tier) if d.weighted else 1 for u in entrants
        )
        winners = pick_winners(d.seed, entrants, d.k, counts)
        event = LotteryDrawn(
            d.id, d.prize, d.rule, d.keyword, d.tier, d.k, commitment(d.seed), d.seed.hex(),
            entrants, counts, list_digest(entrants), winners,
            tuple(ctx.roster.name(u) for u in winners), now,
        )  # fmt: skip
        self.current = None
        self.last = event
        out.append(Emit(EVERYONE, event))
        for user in winners:
            ctx.credit(user, "win", now, out)

    def cancel(
        self, ctx: Ctx, actor: Actor, cmd: c.CancelLottery, now: float, out: list[Emit]
    ) -> None:
        self.abandon("cancelled", self._require_open(), out)

    # server-side moves
    def abandon(self, reason: str, d: OpenDraw, out: list[Emit]) -> None:
        self.current = None
        out.append(Emit(EVERYONE, LotteryCancelled(d.id, d.seed.hex(), reason)))

    def heard(self, user: str, text: str) -> None:
        d = self.current
        if d is not None and d.keyword is not None and d.keyword.casefold() in text.casefold():
            d.chatters.add(user)

    @staticmethod
    def eligible(ctx: Ctx, d: OpenDraw) -> set[str]:
        members = ctx.roster.members
        shoppers = {u for u, m in members.items() if m.shopper}
        if d.rule == "seated":
            return shoppers & ctx.roster.seated()
        if d.rule == "chat":
            return shoppers & d.chatters
        if d.rule == "tier":
            return {u for u in shoppers if members[u].tier == d.tier}
        return shoppers

    @staticmethod
    def is_eligible(ctx: Ctx, d: OpenDraw, user: str) -> bool:
        """``user in eligible(ctx, d)`` without building the set (snapshots, per join)."""
        seen = ctx.roster.members.get(user)
        if seen is None or not seen.shopper:
            return False
        if d.rule == "seated":
            return user in ctx.roster.seats.values()
        if d.rule == "chat":
            return user in d.chatters
        if d.rule == "tier":
            return seen.tier == d.tier
        return True

    def _require_open(self) -> OpenDraw:
        if self.current is None:
            raise RuleError(GamesCode.GAME_NOT_OPEN, "no lottery is open")
        return self.current


HANDLERS: dict[type[Command], Handler] = {
    c.OpenLottery: Lotteries.open,
    c.DrawLottery: Lotteries.draw,
    c.CancelLottery: Lotteries.cancel,
}
