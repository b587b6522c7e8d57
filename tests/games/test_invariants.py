"""Hypothesis stateful test: random members play every game at random, with joins, leaves,
seats, chat and ticks in between. Invariants:

- the games core's picture of the room (members, roles, tiers, seats) is the room's own;
- one guess per shopper and round; the revealed winner is the closest, ties earliest;
- one vote per shopper and poll, the last one counts; tallies sum to the voters;
- every draw reproduces from its revealed data, and its entrants follow its rule;
- a refused command changes nothing; a tick that returns nothing changed nothing;
- points never go down, and a member's tier only grows (new -> active).
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from voiceroom.games import GamesConfig, verify_draw
from voiceroom.games import commands as gc
from voiceroom.games import events as ge
from voiceroom.games.guess import ranking
from voiceroom.room import Role, RuleError
from voiceroom.room import commands as c
from voiceroom.room.model import STAFF

from .helpers import Pair, events_of, fingerprint

USERS = ["h", "co", "ag", "u1", "u2", "u3", "u4", "u5"]
ROLES = {"h": Role.HOST, "co": Role.COHOST, "ag": Role.AGENT}
users = st.sampled_from(USERS)

GAME_COMMANDS = st.one_of(
    st.builds(
        gc.OpenLottery,
        st.sampled_from(["bag", ""]),
        st.sampled_from(["room", "seated", "chat", "tier", "x"]),
        st.integers(0, 4),
        st.sampled_from([None, "win"]),
        st.sampled_from([None, "vip", "active", "gold"]),
        st.booleans(),
    ),
    st.just(gc.DrawLottery()),
    st.just(gc.CancelLottery()),
    st.builds(gc.OpenGuess, st.just("bag"), st.integers(-5, 2000), st.just("USD")),
    st.builds(gc.SubmitGuess, st.integers(-5, 2000)),
    st.just(gc.CloseGuess()),
    st.builds(gc.OpenVote, st.just("q"), st.lists(st.sampled_from("abcdefg"), max_size=7)),
    st.builds(gc.CastVote, st.integers(-1, 6)),
    st.just(gc.CloseVote()),
    st.just(gc.CheckIn()),
    st.builds(gc.SendPrompt, st.sampled_from(["vote_now", "nope"]), st.just({})),
    st.builds(gc.SchedulePrompt, st.just("checkin_today"), st.floats(0, 500), st.just({})),
    st.builds(gc.SetMarket, st.sampled_from(["Asia/Tokyo", "UTC", "Bad/Zone"])),
)
HOST_COMMANDS = st.one_of(
    st.builds(
        gc.OpenLottery,
        st.just("bag"),
        st.sampled_from(["room", "seated", "chat", "tier"]),
        st.integers(1, 3),
        st.just("win"),
        st.sampled_from(["vip", "active", "new"]),
        st.booleans(),
    ),
    st.just(gc.DrawLottery()),
    st.builds(gc.OpenGuess, st.just("bag"), st.integers(1, 2000), st.just("USD")),
    st.just(gc.CloseGuess()),
    st.builds(gc.OpenVote, st.just("q"), st.sampled_from([["a", "b"], ["a", "b", "c"]])),
    st.just(gc.CloseVote()),
)
SHOPPER_COMMANDS = st.one_of(
    st.builds(gc.SubmitGuess, st.integers(0, 2000)),
    st.builds(gc.CastVote, st.integers(0, 2)),
    st.just(gc.CheckIn()),
)
ROOM_COMMANDS = st.one_of(
    st.builds(c.SendChat, st.sampled_from(["win!", "hello", "WIN"])),
    st.builds(c.TakeSeat, st.none()),
    st.just(c.LeaveSeat()),
    st.builds(c.InviteToSeat, users, st.none()),
    st.just(c.AcceptInvite()),
    st.just(c.StartShow()),
)


@settings(
    max_examples=60,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
class GamesMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.p = Pair(GamesConfig(active_after=3))
        self.now = 0.0
        self.guessed: dict[int, set[str]] = {}
        self.voted: dict[int, dict[str, int]] = {}
        self.points: dict[str, int] = {}
        self.p.join("h", Role.HOST, "vip")

    def _apply(self, user: str, cmd: Any) -> None:
        before = fingerprint(self.p.games)
        try:
            out = self.p.handle(user, cmd, self.now)
        except RuleError:
            assert fingerprint(self.p.games) == before, f"refused {cmd.TYPE} changed state"
            return
        self._check(user, cmd, out)

    def _check(self, user: str, cmd: Any, out: list[Any]) -> None:
        g = self.p.games
        for e in out:
            if e.event.TYPE in (
                "lottery.opened",
                "lottery.drawn",
                "guess.revealed",
                "vote.closed",
                "tier.earned",
            ):
                event(e.event.TYPE)  # --hypothesis-show-statistics shows the coverage
        if isinstance(cmd, gc.SubmitGuess):
            rid = g.rounds.current.id  # type: ignore[union-attr]
            assert user not in self.guessed.setdefault(rid, set())
            self.guessed[rid].add(user)
        if isinstance(cmd, gc.CastVote):
            poll = g.polls.current
            assert poll is not None
            self.voted.setdefault(poll.id, {})[user] = cmd.option
        for r in events_of(out, ge.GuessRevealed):
            assert r.guesses == len(self.guessed.get(r.id, ()))
            if r.ranking:
                assert r.winner == r.ranking[0].user
                assert [x.off_by for x in r.ranking] == sorted(x.off_by for x in r.ranking)
        for v in events_of(out, ge.VoteClosed):
            mine = self.voted.get(v.id, {})
            assert v.total == len(mine) == sum(v.tallies)
            assert list(v.tallies) == [list(mine.values()).count(i) for i in range(len(v.options))]
        for d in events_of(out, ge.LotteryDrawn):
            assert verify_draw(dataclasses.asdict(d)) == []
            room = self.p.room
            shoppers = {u for u, m in room.members.items() if m.role not in STAFF}
            if d.rule == "room":
                assert set(d.entrants) == shoppers
            elif d.rule == "seated":
                assert set(d.entrants) == {s.holder for s in room.seats if s.holder} & shoppers
            elif d.rule == "tier":
                assert set(d.entrants) == {u for u in shoppers if room.members[u].tier == d.tier}
            else:
                assert set(d.entrants) <= shoppers

    @rule(user=users)
    def join(self, user: str) -> None:
        self.now += 0.3
        self.p.join(user, ROLES.get(user, Role.LISTENER), "new", self.now)

    @rule(user=users)
    def leave(self, user: str) -> None:
        if user != "h":
            self.now += 0.3
            self.p.leave(user, self.now)

    @rule(user=users, cmd=GAME_COMMANDS, dt=st.floats(0, 2))
    def game(self, user: str, cmd: Any, dt: float) -> None:
        if user in self.p.room.members:
            self.now += dt
            self._apply(user, cmd)

    @rule(user=st.sampled_from(["h", "co"]), cmd=HOST_COMMANDS, dt=st.floats(0, 2))
    def host_game(self, user: str, cmd: Any, dt: float) -> None:
        self.game(user, cmd, dt)

    @rule(user=st.sampled_from(["u1", "u2", "u3", "u4", "u5"]), cmd=SHOPPER_COMMANDS)
    def shopper_game(self, user: str, cmd: Any) -> None:
        self.game(user, cmd, 0.1)

    @rule(user=users, cmd=ROOM_COMMANDS)
    def room_cmd(self, user: str, cmd: Any) -> None:
        if user in self.p.room.members:
            self.now += 0.5
            with contextlib.suppress(RuleError):
                self.p.handle(user, cmd, self.now)

    @rule(dt=st.floats(0, 90))
    def tick(self, dt: float) -> None:
        self.now += dt
        before = fingerprint(self.p.games)
        if not self.p.games.tick(self.now):
            assert fingerprint(self.p.games) == before, "an empty tick changed state"

    @invariant()
    def roster_is_the_room(self) -> None:
        if not hasattr(self, "p"):
            return
        room, g = self.p.room, self.p.games
        assert set(g.roster.members) == set(room.members)
        for u, m in room.members.items():
            seen = g.roster.members[u]
            assert (seen.role, seen.tier) == (m.role, m.tier), u
        assert g.roster.seats == {s.index: s.holder for s in room.seats if s.holder}

    @invariant()
    def points_only_grow(self) -> None:
        if not hasattr(self, "p"):
            return
        pts = self.p.games.boards.room.points
        for u, n in self.points.items():
            assert pts.get(u, 0) >= n
        self.points = dict(pts)
        for u in pts:
            assert self.p.games.roster.members.get(u) is None or u not in ROLES

    @invariant()
    def snapshots_agree_with_the_state(self) -> None:
        if not hasattr(self, "p"):
            return
        g = self.p.games
        d = g.lotteries.current
        for user in self.p.room.members:
            snap = g.snapshot(self.p.room.actor(user))
            if d is not None:
                eligible = user in type(g.lotteries).eligible(g._ctx(), d)
                assert snap.lottery_eligible == eligible
            for b in g.boards.boards():
                assert snap.leaderboard[b.name] == b.top(g.config.leaderboard_size, g.roster)

    @invariant()
    def one_vote_each(self) -> None:
        if not hasattr(self, "p"):
            return
        poll = self.p.games.polls.current
        if poll is not None:
            assert poll.votes == self.voted.get(poll.id, {})
            assert sum(poll.tallies()) == len(poll.votes)
        r = self.p.games.rounds.current
        if r is not None:
            assert set(r.guesses) == self.guessed.get(r.id, set())
            order = ranking(r.price, list(r.guesses.values()))
            assert order == sorted(order, key=lambda x: (abs(x.amount - r.price), x.at, x.n))


TestGames = GamesMachine.TestCase
