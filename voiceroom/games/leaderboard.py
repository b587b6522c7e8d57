"""Points for interactions, two boards (``room``: since the room opened; ``show``: since
the show started), and their top N. Order: points descending, then who reached that score
first (``reached_at`` ascending), then user id: data, never dict order or the clock.

A board is sent when its top N changed, at most once per ``live_interval``. Time on the
mic is banked a whole minute at a time by ``Games.tick``, which then always sends the
boards (so a tick that changed points also returned events)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from voiceroom.games.events import LeaderboardUpdated, LeaderEntry
from voiceroom.games.model import Roster, Throttle
from voiceroom.room.events import EVERYONE, Emit

BOARDS = ("room", "show")

Key = tuple[int, float, str]  # (-points, reached_at, user): ascending is best first


def _key_of(e: LeaderEntry) -> Key:
    return (-e.points, e.reached_at, e.user)


@dataclass(slots=True)
class Board:
    name: str
    points: dict[str, int] = field(default_factory=dict)
    reached_at: dict[str, float] = field(default_factory=dict)
    sent: tuple[LeaderEntry, ...] = ()
    changed: bool = False  # the top N differs from ``sent``

    def key(self, user: str) -> Key:
        return (-self.points[user], self.reached_at[user], user)

    def add(self, user: str, points: int, now: float, size: int) -> None:
        self.points[user] = self.points.get(user, 0) + points
        self.reached_at[user] = now
        # The top N changes only if this user was in it or now ranks inside it.
        if (
            len(self.sent) < size
            or any(e.user == user for e in self.sent)
            or self.key(user)
            < (-self.sent[-1].points, self.sent[-1].reached_at, self.sent[-1].user)
        ):
            self.changed = True

    def top(self, size: int, roster: Roster) -> tuple[LeaderEntry, ...]:
        best = heapq.nsmallest(size, self.points, key=self.key)
        return tuple(
            LeaderEntry(i, u, roster.name(u), self.points[u], self.reached_at[u])
            for i, u in enumerate(best, start=1)
        )

    def rank_of(self, user: str) -> int | None:
        if user not in self.points:
            return None
        mine = self.key(user)
        return 1 + sum(1 for u in self.points if self.key(u) < mine)


@dataclass(slots=True)
class Leaderboards:
    throttle: Throttle
    size: int
    room: Board = field(default_factory=lambda: Board("room"))
    show: Board = field(default_factory=lambda: Board("show"))
    show_started: bool = False

    def add(self, user: str, points: int, now: float) -> None:
        self.room.add(user, points, now, self.size)
        if self.show_started:
            self.show.add(user, points, now, self.size)

    def boards(self) -> tuple[Board, ...]:
        return (self.room, self.show) if self.show_started else (self.room,)

    def flush(self, now: float, roster: Roster, out: list[Emit], *, force: bool = False) -> bool:
        """Send the boards whose top changed (every board when ``force``), if the throttle
        allows. True when something was sent."""
        boards = [b for b in self.boards() if force or b.changed]
        if not boards or not self.throttle.ready(now):
            return False
        self.throttle.fire(now)
        for b in boards:
            b.sent = b.top(self.size, roster)
            b.changed = False
            out.append(Emit(EVERYONE, LeaderboardUpdated(b.name, b.sent)))
        return True

    def current(self, b: Board, roster: Roster) -> tuple[LeaderEntry, ...]:
        """The top N now: what was last sent unless it changed since (a snapshot per join
        should not sort every score)."""
        return b.top(self.size, roster) if b.changed or not b.sent else b.sent

    def pending(self) -> bool:
        return any(b.changed for b in self.boards())
