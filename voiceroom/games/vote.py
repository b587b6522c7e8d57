"""Audience vote ("what should I show next?"): 2-6 options, one vote per shopper,
changeable until the close; live tallies at most once per interval; the result."""

from __future__ import annotations

from dataclasses import dataclass, field

from voiceroom.games import commands as c
from voiceroom.games.errors import GamesCode
from voiceroom.games.events import VoteClosed, VoteOpened, VoteTaken, VoteTally
from voiceroom.games.model import Ctx, Handler, Throttle, text_arg
from voiceroom.room.commands import Command
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import EVERYONE, Emit, to_users
from voiceroom.room.model import Actor

MIN_OPTIONS, MAX_OPTIONS = 2, 6
MAX_QUESTION_CHARS = 140
MAX_OPTION_CHARS = 60


@dataclass(slots=True)
class Poll:
    id: int
    question: str
    options: tuple[str, ...]
    opened_at: float
    votes: dict[str, int] = field(default_factory=dict)  # user -> option

    def tallies(self) -> tuple[int, ...]:
        counts = [0] * len(self.options)
        for option in self.votes.values():
            counts[option] += 1
        return tuple(counts)


def winners(tallies: tuple[int, ...]) -> tuple[int, ...]:
    best = max(tallies, default=0)
    return tuple(i for i, n in enumerate(tallies) if n == best) if best else ()


@dataclass(slots=True)
class Polls:
    throttle: Throttle
    current: Poll | None = None
    last: VoteClosed | None = None
    next_id: int = 1

    def open(self, ctx: Ctx, actor: Actor, cmd: c.OpenVote, now: float, out: list[Emit]) -> None:
        if self.current is not None:
            raise RuleError(GamesCode.GAME_ALREADY_OPEN, "a vote is already open")
        question = text_arg(cmd.question, "question", MAX_QUESTION_CHARS)
        if not MIN_OPTIONS <= len(cmd.options) <= MAX_OPTIONS:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "a vote has 2 to 6 options")
        options = tuple(text_arg(str(o), "an option", MAX_OPTION_CHARS) for o in cmd.options)
        if len({o.casefold() for o in options}) != len(options):
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "options must differ")
        self.current = Poll(self.next_id, question, options, now)
        self.next_id += 1
        out.append(Emit(EVERYONE, VoteOpened(self.current.id, question, options, now)))

    def cast(self, ctx: Ctx, actor: Actor, cmd: c.CastVote, now: float, out: list[Emit]) -> None:
        poll = self._require_open()
        if not 0 <= cmd.option < len(poll.options):
            raise RuleError(GamesCode.NO_SUCH_OPTION, f"there is no option {cmd.option}")
        first = actor.user not in poll.votes
        if poll.votes.get(actor.user) == cmd.option:
            return  # the same vote again: nothing changes
        poll.votes[actor.user] = cmd.option
        out.append(Emit(to_users(actor.user), VoteTaken(poll.id, cmd.option)))
        self.throttle.pending = True
        self.flush(now, out)
        if first:
            ctx.credit(actor.user, "vote", now, out)

    def close(self, ctx: Ctx, actor: Actor, cmd: c.CloseVote, now: float, out: list[Emit]) -> None:
        self.finish(self._require_open(), "closed", out)

    # server-side moves
    def finish(self, poll: Poll, reason: str, out: list[Emit]) -> None:
        tallies = poll.tallies()
        self.current = None
        self.throttle.pending = False
        self.last = VoteClosed(
            poll.id, poll.question, poll.options, tallies, sum(tallies), winners(tallies), reason
        )
        out.append(Emit(EVERYONE, self.last))

    def flush(self, now: float, out: list[Emit]) -> bool:
        poll = self.current
        if poll is None or not self.throttle.pending or not self.throttle.ready(now):
            return False
        self.throttle.fire(now)
        tallies = poll.tallies()
        out.append(Emit(EVERYONE, VoteTally(poll.id, tallies, sum(tallies))))
        return True

    def _require_open(self) -> Poll:
        if self.current is None:
            raise RuleError(GamesCode.GAME_NOT_OPEN, "no vote is open")
        return self.current


HANDLERS: dict[type[Command], Handler] = {
    c.OpenVote: Polls.open,
    c.CastVote: Polls.cast,
    c.CloseVote: Polls.close,
}
