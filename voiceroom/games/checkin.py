"""The daily check-in streak, across shows. Pure: the previous streak arrives as data
(the store's cross-room table, through ``Games.load_streak``); a day is a calendar day in
the show's market time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from voiceroom.games import commands as c
from voiceroom.games.errors import GamesCode
from voiceroom.games.events import CheckedIn
from voiceroom.games.model import Ctx, Handler
from voiceroom.games.schedule import local_day
from voiceroom.room.commands import Command
from voiceroom.room.errors import RuleError
from voiceroom.room.events import EVERYONE, Emit
from voiceroom.room.model import Actor


@dataclass(frozen=True, slots=True)
class Streak:
    day: str  # ISO date of the last check-in
    count: int  # consecutive days up to ``day``


def valid(streak: Streak) -> bool:
    """A loaded streak is a real ISO day and at least one day long."""
    try:
        date.fromisoformat(streak.day)
    except (TypeError, ValueError):
        return False
    return isinstance(streak.count, int) and streak.count >= 1


def next_streak(previous: Streak | None, today: date) -> Streak | None:
    """The streak after checking in on ``today``; None if already checked in today.

    Yesterday's check-in continues the streak, an older one restarts it at 1. A previous
    day *after* today (a zone change) is treated as today: no second check-in."""
    if previous is None:
        return Streak(today.isoformat(), 1)
    last = date.fromisoformat(previous.day)
    if last >= today:
        return None
    if last == today - timedelta(days=1):
        return Streak(today.isoformat(), previous.count + 1)
    return Streak(today.isoformat(), 1)


@dataclass(slots=True)
class CheckIns:
    streaks: dict[str, Streak] = field(default_factory=dict)

    def check_in(self, ctx: Ctx, actor: Actor, cmd: c.CheckIn, now: float, out: list[Emit]) -> None:
        today = local_day(now, ctx.market_zone)
        streak = next_streak(self.streaks.get(actor.user), today)
        if streak is None:
            raise RuleError(GamesCode.ALREADY_CHECKED_IN, "you already checked in today")
        self.streaks[actor.user] = streak
        out.append(Emit(EVERYONE, CheckedIn(actor.user, actor.name, streak.day, streak.count)))
        ctx.credit(actor.user, "checkin", now, out)

    def load(self, user: str, streak: Streak) -> bool:
        """Server-only: the user's streak as the store's cross-room table holds it. The
        newer day wins: the table may lag this room's own check-in (not committed yet),
        which must not be undone. True when it changed the room's streak."""
        current = self.streaks.get(user)
        if current is not None and current.day >= streak.day:
            return False
        self.streaks[user] = streak
        return True


HANDLERS: dict[type[Command], Handler] = {c.CheckIn: CheckIns.check_in}
