"""The games core: lotteries, guess-the-price, votes, leaderboards, check-ins, tiers that
grow, prompts and the show's market. A side core of the Venue (voiceroom/venue.py).

Pure, like the room: no I/O, no clock (``now`` comes in), no randomness (a lottery's seed
is the ``entropy`` the host passes to a ``NEEDS_ENTROPY`` command and the journal records).
It never sees ``Room``: who is in the room, on a seat, in which tier, comes from the
room's events through :meth:`Games.react` and from each command's :class:`Actor`.

Every entry point either raises :class:`RuleError` having changed nothing, or applies the
change and returns the events. ``tick`` changes state only together with returning events,
so the store may skip journaling an empty tick.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from voiceroom.games import checkin, guess, leaderboard, lottery, prompts, schedule, tiers, vote
from voiceroom.games import commands as c
from voiceroom.games import events as ev
from voiceroom.games.errors import GamesCode
from voiceroom.games.model import POINTS, Ctx, GamesConfig, Handler, Roster, Seen, Throttle
from voiceroom.games.rules import RULES
from voiceroom.room import events as room_ev
from voiceroom.room.commands import Command
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import EVERYONE, Emit, to_users
from voiceroom.room.model import MODERATORS, Actor, Role
from voiceroom.room.rules import Rule

# Interactions that count towards growing out of the `new` tier (wins and mic time do not).
INTERACTIONS = frozenset({"chat", "vote", "guess", "checkin", "claim"})

# Commerce events that count as a claim, by wire name: a flash-sale claim and a coupon,
# both sent to the claimant alone (so the shopper is the one named user of the audience).
# By name so the games core needs nothing of commerce; absent events simply never come.
CLAIM_EVENTS: frozenset[str] = frozenset({"sale.claimed", "coupon.claimed"})

# Which state object owns which command: (attribute on Games, that module's handlers).
_PARTS: tuple[tuple[str, Mapping[type[Command], Handler]], ...] = (
    ("lotteries", lottery.HANDLERS),
    ("rounds", guess.HANDLERS),
    ("polls", vote.HANDLERS),
    ("checkins", checkin.HANDLERS),
    ("prompts", prompts.HANDLERS),
    ("market", schedule.HANDLERS),
)
_DISPATCH: dict[type[Command], tuple[str, Handler]] = {}
for _attr, _table in _PARTS:
    for _cmd, _fn in _table.items():
        assert _cmd not in _DISPATCH, f"{_cmd.TYPE} handled twice"
        _DISPATCH[_cmd] = (_attr, _fn)
assert set(_DISPATCH) == set(c.COMMAND_TYPES) == set(RULES), "commands, rules, handlers differ"


@dataclass(frozen=True, slots=True)
class GamesSnapshot:
    """What one member sees of the games (wire-safe). Secrets never appear: no lottery
    seed before the draw; the guess-the-price answer only for moderators."""

    lottery: ev.LotteryOpened | None
    lottery_eligible: bool
    last_draw: ev.LotteryDrawn | None
    guess: ev.GuessOpened | None
    guess_count: int
    guess_price: int | None  # moderators only, while the round is open
    your_guess: int | None
    last_guess: ev.GuessRevealed | None
    vote: ev.VoteOpened | None
    vote_tallies: tuple[int, ...] | None
    your_vote: int | None
    last_vote: ev.VoteClosed | None
    leaderboard: dict[str, tuple[ev.LeaderEntry, ...]]
    your_points: int
    your_rank: int | None
    interactions: int
    active_after: int
    streak: checkin.Streak | None
    prompt: ev.PromptShown | None
    scheduled_prompts: tuple[ev.PromptScheduled, ...] | None  # moderators only
    market_zone: str
    tiers: dict[str, dict[str, object]]


class Games:
    NAME: ClassVar[str] = "games"
    COMMAND_TYPES: ClassVar[tuple[type[Command], ...]] = c.COMMAND_TYPES
    EVENT_TYPES: ClassVar[tuple[type[room_ev.Event], ...]] = ev.EVENT_TYPES
    RULES: ClassVar[Mapping[type[Command], Rule]] = RULES
    PROMPT_CODES: ClassVar[tuple[str, ...]] = prompts.PROMPT_IDS
    CODES: ClassVar[type[GamesCode]] = GamesCode

    def __init__(self, config: GamesConfig | None = None) -> None:
        self.config = cfg = config or GamesConfig()
        schedule.zone(cfg.market_zone)  # a bad configured zone fails at start, not mid-show
        self.roster = Roster()
        self.lotteries = lottery.Lotteries()
        self.rounds = guess.Rounds(Throttle(cfg.live_interval))
        self.polls = vote.Polls(Throttle(cfg.live_interval))
        self.boards = leaderboard.Leaderboards(Throttle(cfg.live_interval), cfg.leaderboard_size)
        self.checkins = checkin.CheckIns()
        self.prompts = prompts.Prompts()
        self.market = schedule.Market(cfg.market_zone)
        self.interactions: dict[str, int] = {}
        self.chat_credit_at: dict[str, float] = {}
        self.mic_since: dict[str, float] = {}  # seated shoppers: start of the unbanked time

    # ------------------------------------------------------------------ entry points
    def handle(self, actor: Actor, cmd: Command, now: float, *, entropy: bytes = b"") -> list[Emit]:
        """Apply a command (the Venue already checked RULES), or raise RuleError with the
        state unchanged. Handlers validate before their first write."""
        attr, fn = _DISPATCH[type(cmd)]
        out: list[Emit] = []
        fn(getattr(self, attr), self._ctx(entropy), actor, cmd, now, out)
        self._see(actor)
        self.boards.flush(now, self.roster, out)
        return out

    def tick(self, now: float) -> list[Emit]:
        out: list[Emit] = []
        self.prompts.due(now, out)
        self.polls.flush(now, out)
        self.rounds.flush(now, out)
        minutes = self._unbanked_minutes(now)
        if minutes and self.boards.throttle.ready(now):
            for user, n in minutes.items():
                self.mic_since[user] += 60.0 * n
                self.boards.add(user, POINTS["mic_minute"] * n, now)
                self._score(user, out)
            self.boards.flush(now, self.roster, out, force=True)
        else:
            self.boards.flush(now, self.roster, out)
        return out

    def react(self, emits: Sequence[Emit], now: float) -> list[Emit]:
        """Server-only effects of other cores' events. Never raises."""
        out: list[Emit] = []
        for emit in emits:
            fn = _REACTIONS.get(type(emit.event))
            if fn is not None:
                fn(self, emit.event, now, out)
            else:
                named = emit.to.users
                to_one = emit.to.roles == frozenset() and len(named) == 1
                if emit.event.TYPE in CLAIM_EVENTS and to_one:
                    self._credit(next(iter(named)), "claim", now, out)
        self.boards.flush(now, self.roster, out)
        return out

    def snapshot(self, viewer: Actor | None) -> GamesSnapshot:
        user = viewer.user if viewer is not None else ""
        moderator = viewer is not None and viewer.role in MODERATORS
        d = self.lotteries.current
        r = self.rounds.current
        p = self.polls.current
        mine = r.guesses.get(user) if r is not None else None
        board = self.boards.room
        return GamesSnapshot(
            lottery=self._opened(d) if d is not None else None,
            lottery_eligible=d is not None and lottery.Lotteries.is_eligible(self._ctx(), d, user),
            last_draw=self.lotteries.last,
            guess=ev.GuessOpened(r.id, r.product, r.currency, r.opened_at) if r else None,
            guess_count=len(r.guesses) if r is not None else 0,
            guess_price=r.price if r is not None and moderator else None,
            your_guess=mine.amount if mine is not None else None,
            last_guess=self.rounds.last,
            vote=ev.VoteOpened(p.id, p.question, p.options, p.opened_at) if p else None,
            vote_tallies=p.tallies() if p is not None else None,
            your_vote=p.votes.get(user) if p is not None else None,
            last_vote=self.polls.last,
            leaderboard={b.name: self.boards.current(b, self.roster) for b in self.boards.boards()},
            your_points=board.points.get(user, 0),
            your_rank=board.rank_of(user),
            interactions=self.interactions.get(user, 0),
            active_after=self.config.active_after,
            streak=self.checkins.streaks.get(user),
            prompt=self.prompts.last,
            scheduled_prompts=(
                tuple(ev.PromptScheduled(s.n, s.id, s.at) for s in self.prompts.scheduled)
                if moderator
                else None
            ),
            market_zone=self.market.zone,
            tiers=tiers.table(),
        )

    # ------------------------------------------------------------------ server-only
    def load_streak(self, user: str, streak: checkin.Streak) -> list[Emit]:
        """The user's check-in streak from the store's cross-room table (journaled like
        any entry point, ``EntryKind.STREAK``, so replay sees the same data). The newer
        day wins; no events (the member's snapshot carries ``streak``)."""
        if not checkin.valid(streak):
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "a streak is an ISO day and a count >= 1")
        self.checkins.load(user, streak)
        return []

    def streak(self, user: str) -> checkin.Streak | None:
        return self.checkins.streaks.get(user)

    def send_prompt(self, prompt_id: str, params: dict[str, str], now: float) -> list[Emit]:
        """A prompt from the server (the API or a show script); RuleError on a bad id."""
        checked = prompts.check_prompt(prompt_id, params)
        out: list[Emit] = []
        self.prompts.show(prompt_id, checked, None, now, out)
        return out

    # ------------------------------------------------------------------ reactions
    def _joined(self, e: room_ev.MemberJoined, now: float, out: list[Emit]) -> None:
        m = e.member
        self.roster.members[m.user] = Seen(m.name, Role(m.role), m.tier)
        self.roster.names[m.user] = m.name

    def _left(self, e: room_ev.MemberLeft, now: float, out: list[Emit]) -> None:
        self._bank_mic(e.user, now)
        self.roster.members.pop(e.user, None)
        for index, holder in list(self.roster.seats.items()):
            if holder == e.user:
                del self.roster.seats[index]

    def _role(self, e: room_ev.RoleChanged, now: float, out: list[Emit]) -> None:
        seen = self.roster.members.get(e.user)
        if seen is not None:
            seen.role = Role(e.role)
            self._mic_follow(now, out)

    def _tier(self, e: room_ev.TierChanged, now: float, out: list[Emit]) -> None:
        seen = self.roster.members.get(e.user)
        if seen is not None:
            seen.tier = e.tier

    def _seat(self, e: room_ev.SeatUpdated, now: float, out: list[Emit]) -> None:
        if e.seat.user is None:
            self.roster.seats.pop(e.seat.index, None)
        else:
            self.roster.seats[e.seat.index] = e.seat.user
        self._mic_follow(now, out)

    def _chat(self, e: room_ev.ChatPosted, now: float, out: list[Emit]) -> None:
        msg = e.message
        if msg.kind != "user" or msg.user is None:
            return
        self.lotteries.heard(msg.user, msg.text)
        last = self.chat_credit_at.get(msg.user, -math.inf)
        if now - last >= self.config.chat_points_every:
            self.chat_credit_at[msg.user] = now
            self._credit(msg.user, "chat", now, out)

    def _phase(self, e: room_ev.PhaseChanged, now: float, out: list[Emit]) -> None:
        if e.phase == "show" and not self.boards.show_started:
            self.boards.show_started = True
        elif e.phase == "ended":
            ctx = self._ctx()
            if self.lotteries.current is not None:
                self.lotteries.abandon("room_ended", self.lotteries.current, out)
            if self.rounds.current is not None:
                self.rounds.reveal(ctx, self.rounds.current, "room_ended", now, out)
            if self.polls.current is not None:
                self.polls.finish(self.polls.current, "room_ended", out)
            self.prompts.scheduled.clear()

    # ------------------------------------------------------------------ helpers
    def _ctx(self, entropy: bytes = b"") -> Ctx:
        return Ctx(self.roster, self.config, entropy, self._credit, self.market.zone)

    def _see(self, actor: Actor) -> None:
        """The Actor is the room's word on who sent the command, as of now. Members enter
        the roster only by joining (``member.joined``): the server's own actor, which
        acts through ``Venue.handle_as_server``, is no member and never enters."""
        seen = self.roster.members.get(actor.user)
        if seen is not None:
            seen.name, seen.role, seen.tier = actor.name, actor.role, actor.tier
            self.roster.names[actor.user] = actor.name

    def _credit(self, user: str, kind: str, now: float, out: list[Emit]) -> None:
        seen = self.roster.members.get(user)
        if seen is None or not seen.shopper:
            return  # staff run the show; they do not score
        self.boards.add(user, POINTS[kind], now)
        if kind in INTERACTIONS:
            self.interactions[user] = self.interactions.get(user, 0) + 1
        self._score(user, out)
        if kind not in INTERACTIONS:
            return
        n = self.interactions[user]
        grown = tiers.grows_into(seen.tier, n, self.config.active_after)
        if grown is not None:
            seen.tier = grown
            out.append(Emit(EVERYONE, ev.TierEarned(user, seen.name, grown, n)))

    def _score(self, user: str, out: list[Emit]) -> None:
        """Tell a shopper their points and interactions as they are now (``score.yours``)."""
        points = self.boards.room.points.get(user, 0)
        out.append(Emit(to_users(user), ev.ScoreYours(points, self.interactions.get(user, 0))))

    def _mic_follow(self, now: float, out: list[Emit]) -> None:
        """Start or bank mic time for shoppers who sat down or stood up."""
        seated = {u for u in self.roster.seated() if self._is_shopper(u)}
        for user in list(self.mic_since):
            if user not in seated:
                self._bank_mic(user, now, out)
        for user in sorted(seated):  # set order varies by process: keep replay identical
            self.mic_since.setdefault(user, now)

    def _bank_mic(self, user: str, now: float, out: list[Emit] | None = None) -> None:
        """Bank a shopper's whole minutes on the mic; ``out`` (None: they left) hears of it."""
        since = self.mic_since.pop(user, None)
        if since is not None:
            minutes = int((now - since) // 60)
            if minutes > 0 and self._is_shopper(user):
                self.boards.add(user, POINTS["mic_minute"] * minutes, now)
                if out is not None:
                    self._score(user, out)

    def _unbanked_minutes(self, now: float) -> dict[str, int]:
        return {
            u: int((now - since) // 60) for u, since in self.mic_since.items() if now - since >= 60
        }

    def _is_shopper(self, user: str) -> bool:
        seen = self.roster.members.get(user)
        return seen is not None and seen.shopper

    @staticmethod
    def _opened(d: lottery.OpenDraw) -> ev.LotteryOpened:
        weights = {t: p.lottery_weight for t, p in tiers.TIERS.items()} if d.weighted else {}
        return ev.LotteryOpened(
            d.id, d.prize, d.rule, d.keyword, d.tier, d.k, lottery.commitment(d.seed), weights,
            d.opened_at,
        )  # fmt: skip


Reaction = Any  # (Games, event, now, out) -> None
_REACTIONS: dict[type[room_ev.Event], Reaction] = {
    room_ev.MemberJoined: Games._joined,
    room_ev.MemberLeft: Games._left,
    room_ev.RoleChanged: Games._role,
    room_ev.SeatUpdated: Games._seat,
    room_ev.ChatPosted: Games._chat,
    room_ev.PhaseChanged: Games._phase,
    room_ev.TierChanged: Games._tier,
}
