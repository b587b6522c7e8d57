"""Behaviour of each game, one scenario at a time (the tables and the hypothesis machine
cover roles and invariants)."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import ClassVar

import pytest

from voiceroom.games import GamesCode, GamesConfig, verify_draw
from voiceroom.games import commands as gc
from voiceroom.games import events as ge
from voiceroom.games.checkin import Streak
from voiceroom.room import ErrorCode, Role, RuleError
from voiceroom.room import commands as c
from voiceroom.room.events import EVERYONE, Emit, Event, TierChanged, to_users

from .helpers import SEED, Pair, events_of, fingerprint


def show(*shoppers: str, tiers: dict[str, str] | None = None, **kw: object) -> Pair:
    p = Pair(GamesConfig(**kw) if kw else None)  # type: ignore[arg-type]
    p.join("h", Role.HOST, "vip")
    p.join("co", Role.COHOST, "vip")
    p.join("ag", Role.AGENT, "new")
    for s in shoppers:
        p.join(s, tier=(tiers or {}).get(s, "new"))
    p.handle("h", c.StartShow(), 1.0)
    return p


def refused(p: Pair, user: str, cmd: gc.Command, code: object, now: float = 5.0) -> None:
    before = fingerprint(p.games)
    with pytest.raises(RuleError) as exc:
        p.handle(user, cmd, now)
    assert exc.value.code == code
    assert fingerprint(p.games) == before


# --- lottery -----------------------------------------------------------------------------
def draw(p: Pair, now: float = 10.0) -> ge.LotteryDrawn:
    (drawn,) = events_of(p.handle("h", gc.DrawLottery(), now), ge.LotteryDrawn)
    return drawn


def test_lottery_commits_to_the_seed_then_reveals_it() -> None:
    p = show("a", "b", "c")
    (opened,) = events_of(p.handle("h", gc.OpenLottery("bag", winners=2), 2.0), ge.LotteryOpened)
    assert opened.commitment == hashlib.sha256(SEED).hexdigest()
    snap = dataclasses.asdict(p.games.snapshot(p.room.actor("h")))
    assert SEED.hex() not in repr(snap)  # the seed stays secret until the draw
    d = draw(p)
    assert d.seed == SEED.hex() and d.commitment == opened.commitment
    assert d.entrants == ("a", "b", "c")  # staff never enter
    assert len(d.winners) == 2 and set(d.winners) <= {"a", "b", "c"}
    assert verify_draw(dataclasses.asdict(d), opened.commitment) == []
    assert p.games.lotteries.current is None


def test_lottery_needs_a_seed_and_one_at_a_time() -> None:
    p = show("a")
    before = fingerprint(p.games)
    with pytest.raises(RuleError) as exc:
        p.handle("h", gc.OpenLottery("bag"), 2.0, entropy=b"")
    assert exc.value.code is GamesCode.ENTROPY_MISSING
    assert fingerprint(p.games) == before
    p.handle("h", gc.OpenLottery("bag"), 2.0)
    refused(p, "co", gc.OpenLottery("bag"), GamesCode.GAME_ALREADY_OPEN)
    refused(p, "co", gc.OpenVote("q", ["a"]), ErrorCode.INVALID_ARGUMENT)


@pytest.mark.parametrize(
    "cmd",
    [
        gc.OpenLottery(""),
        gc.OpenLottery("bag", rule="friends"),
        gc.OpenLottery("bag", winners=0),
        gc.OpenLottery("bag", rule="chat"),
    ],
)
def test_lottery_bad_arguments(cmd: gc.OpenLottery) -> None:
    refused(show("a"), "h", cmd, ErrorCode.INVALID_ARGUMENT)


def test_lottery_unknown_tier() -> None:
    refused(show("a"), "h", gc.OpenLottery("bag", rule="tier", tier="gold"), GamesCode.UNKNOWN_TIER)


def test_room_rule_counts_who_is_there_at_draw_time() -> None:
    p = show("a", "b")
    p.handle("h", gc.OpenLottery("bag", winners=5), 2.0)
    p.leave("a", 3.0)
    p.join("late", now=4.0)
    assert draw(p).entrants == ("b", "late")


def test_seated_rule() -> None:
    p = show("a", "b")
    p.handle("h", c.InviteToSeat("b", 2), 1.5)
    p.handle("b", c.AcceptInvite(), 1.5)
    p.handle("h", gc.OpenLottery("bag", rule="seated", winners=5), 2.0)
    assert draw(p).entrants == ("b",)


def test_chat_rule_needs_the_keyword_after_the_open() -> None:
    p = show("a", "b", "c", "d")
    p.handle("a", c.SendChat("LUCKY me"), 1.5)  # before the open: does not count
    p.handle("h", gc.OpenLottery("bag", rule="chat", keyword="lucky", winners=5), 2.0)
    p.handle("b", c.SendChat("so LuCkY!"), 3.0)
    p.handle("c", c.SendChat("hello"), 3.0)
    p.handle("d", c.SendChat("lucky"), 3.0)
    p.leave("d", 4.0)  # said it, then left: not in the room at draw time
    p.handle("h", c.SendChat("lucky"), 3.0)  # staff never enter
    d = draw(p)
    assert d.entrants == ("b",) and d.winners == ("b",)


def test_tier_rule_and_weights() -> None:
    p = show("a", "b", "c", tiers={"a": "vip", "b": "vip", "c": "active"})
    p.handle("h", gc.OpenLottery("bag", rule="tier", tier="vip", winners=5), 2.0)
    assert draw(p).entrants == ("a", "b")
    (opened,) = events_of(
        p.handle("h", gc.OpenLottery("bag", winners=1, weighted=True), 11.0), ge.LotteryOpened
    )
    assert opened.weights == {"vip": 3, "active": 2, "new": 1}
    d = draw(p, 12.0)
    assert d.tickets == (3, 3, 2)
    assert verify_draw(dataclasses.asdict(d)) == []


def test_nobody_eligible_draws_no_winner_and_winners_score() -> None:
    p = show("a")
    p.handle("h", gc.OpenLottery("bag", rule="seated"), 2.0)
    assert draw(p).winners == ()
    p.handle("h", gc.OpenLottery("bag", winners=3), 11.0)
    d = draw(p, 12.0)
    assert d.winners == ("a",) and d.winner_names == ("A",)
    assert p.games.boards.room.points["a"] == 10


def test_cancel_and_room_end_reveal_the_seed() -> None:
    p = show("a")
    p.handle("h", gc.OpenLottery("bag"), 2.0)
    (x,) = events_of(p.handle("h", gc.CancelLottery(), 3.0), ge.LotteryCancelled)
    assert x.seed == SEED.hex() and x.reason == "cancelled"
    p.handle("h", gc.OpenLottery("bag"), 4.0)
    (x,) = events_of(p.handle("h", c.EndRoom(), 5.0), ge.LotteryCancelled)
    assert x.reason == "room_ended"


# --- guess the price ----------------------------------------------------------------------
def test_guess_one_per_shopper_closest_wins_ties_earliest() -> None:
    p = show("a", "b", "c", "d")
    p.handle("h", gc.OpenGuess("Silk scarf", 12_900, "eur"), 2.0)
    assert p.games.snapshot(p.room.actor("a")).guess_price is None
    assert p.games.snapshot(p.room.actor("co")).guess_price == 12_900
    p.handle("a", gc.SubmitGuess(13_000), 3.0)  # off by 100
    p.handle("b", gc.SubmitGuess(12_800), 3.5)  # off by 100, later
    p.handle("c", gc.SubmitGuess(20_000), 4.0)
    refused(p, "a", gc.SubmitGuess(12_900), GamesCode.ALREADY_GUESSED)
    refused(p, "d", gc.SubmitGuess(-1), ErrorCode.INVALID_ARGUMENT)
    assert p.games.snapshot(p.room.actor("a")).your_guess == 13_000
    (r,) = events_of(p.handle("co", gc.CloseGuess(), 5.0), ge.GuessRevealed)
    assert (r.price, r.currency, r.guesses, r.winner) == (12_900, "EUR", 3, "a")
    assert [(x.rank, x.user, x.off_by) for x in r.ranking] == [
        (1, "a", 100), (2, "b", 100), (3, "c", 7_100)
    ]  # fmt: skip
    refused(p, "d", gc.SubmitGuess(1), GamesCode.GAME_NOT_OPEN)


def test_guess_ranking_is_capped_and_count_is_throttled() -> None:
    p = show(*[f"s{i}" for i in range(15)], ranking_size=5)
    p.handle("h", gc.OpenGuess("bag", 1000), 2.0)
    counts = []
    for i in range(15):
        out = p.handle(f"s{i}", gc.SubmitGuess(1000 + i), 2.1 + i * 0.01)
        counts += events_of(out, ge.GuessCount)
    assert [x.guesses for x in counts] == [1]  # one per second at most
    assert [x.guesses for x in events_of(p.tick(3.2), ge.GuessCount)] == [15]
    assert p.tick(3.3) == []  # nothing new: nothing sent
    (r,) = events_of(p.handle("h", gc.CloseGuess(), 4.0), ge.GuessRevealed)
    assert len(r.ranking) == 5 and r.guesses == 15 and r.winner == "s0"


@pytest.mark.parametrize(
    "cmd", [gc.OpenGuess("", 100), gc.OpenGuess("bag", 0), gc.OpenGuess("bag", 100, "EURO")]
)
def test_guess_bad_arguments(cmd: gc.OpenGuess) -> None:
    refused(show(), "h", cmd, ErrorCode.INVALID_ARGUMENT)


# --- vote ---------------------------------------------------------------------------------
def test_vote_changeable_one_per_user_tallies_and_ties() -> None:
    p = show("a", "b", "c")
    p.handle("h", gc.OpenVote("Show next?", ["Red bag", "Blue bag", "Shoes"]), 2.0)
    p.handle("a", gc.CastVote(0), 3.0)
    p.handle("b", gc.CastVote(0), 3.1)
    p.handle("b", gc.CastVote(1), 3.2)  # changed
    p.handle("c", gc.CastVote(2), 3.3)
    p.handle("c", gc.CastVote(2), 3.4)  # the same again: nothing
    refused(p, "a", gc.CastVote(3), GamesCode.NO_SUCH_OPTION)
    assert p.games.snapshot(p.room.actor("b")).your_vote == 1
    (r,) = events_of(p.handle("h", gc.CloseVote(), 4.0), ge.VoteClosed)
    assert r.tallies == (1, 1, 1) and r.total == 3 and r.winners == (0, 1, 2)
    # voting twice in one poll scores once
    assert p.games.boards.room.points["b"] == 2


def test_vote_tally_at_most_once_a_second_latest_value() -> None:
    p = show(*[f"s{i}" for i in range(10)])
    p.handle("h", gc.OpenVote("q", ["x", "y"]), 2.0)
    tallies = []
    for i in range(10):
        tallies += events_of(p.handle(f"s{i}", gc.CastVote(i % 2), 2.0 + i * 0.05), ge.VoteTally)
    assert [t.tallies for t in tallies] == [(1, 0)]
    assert p.tick(2.5) == [] or not events_of(p.tick(2.5), ge.VoteTally)
    (t,) = events_of(p.tick(3.0), ge.VoteTally)
    assert t.tallies == (5, 5) and t.total == 10


@pytest.mark.parametrize(
    "options", [["one"], ["a", "b", "c", "d", "e", "f", "g"], ["a", "A"], ["a", " "]]
)
def test_vote_options_two_to_six_distinct(options: list[str]) -> None:
    refused(show(), "h", gc.OpenVote("q", options), ErrorCode.INVALID_ARGUMENT)


def test_room_end_closes_vote_and_reveals_guess() -> None:
    p = show("a")
    p.handle("h", gc.OpenVote("q", ["x", "y"]), 2.0)
    p.handle("h", gc.OpenGuess("bag", 100), 2.0)
    p.handle("a", gc.SubmitGuess(90), 2.5)
    out = p.handle("h", c.EndRoom(), 3.0)
    assert events_of(out, ge.VoteClosed)[0].reason == "room_ended"
    r = events_of(out, ge.GuessRevealed)[0]
    assert r.reason == "room_ended" and r.winner == "a"
    assert "a" not in p.games.boards.room.points or p.games.boards.room.points["a"] == 2


# --- leaderboard ----------------------------------------------------------------------------
def test_leaderboard_order_points_then_reached_at_then_user() -> None:
    p = show("a", "b", "c")
    p.handle("b", c.SendChat("hi"), 2.0)
    p.handle("a", c.SendChat("hi"), 3.0)
    p.handle("c", c.SendChat("hi"), 3.0)
    p.handle("h", c.SendChat("hi"), 3.0)  # staff do not score
    top = p.games.snapshot(None).leaderboard["room"]
    assert [(e.rank, e.user, e.points) for e in top] == [(1, "b", 1), (2, "a", 1), (3, "c", 1)]


def test_chat_points_are_rate_limited() -> None:
    p = show("a")
    for i in range(20):
        p.handle("a", c.SendChat("spam"), 2.0 + i)
    assert p.games.boards.room.points["a"] == 2  # at 2.0 and 12.0


def test_leaderboard_broadcast_on_change_throttled() -> None:
    p = show("a", "b", leaderboard_size=1)
    p.handle("h", gc.OpenVote("q", ["x", "y"]), 1.5)
    out = p.handle("a", c.SendChat("x"), 2.0)
    (board,) = [e for e in events_of(out, ge.LeaderboardUpdated) if e.board == "room"]
    assert [e.user for e in board.top] == ["a"]
    # b reaches 1 point later than a: the top 1 does not change, nothing is sent
    assert not events_of(p.handle("b", c.SendChat("x"), 2.5), ge.LeaderboardUpdated)
    out = p.handle("b", gc.CastVote(0), 2.6)  # b now leads, inside the second
    assert not events_of(out, ge.LeaderboardUpdated)
    assert not events_of(p.tick(2.7), ge.LeaderboardUpdated)
    (x,) = [e for e in events_of(p.tick(3.0), ge.LeaderboardUpdated) if e.board == "room"]
    assert x.top[0].user == "b"
    assert p.tick(9.0) == []


def test_time_on_the_mic_scores_per_whole_minute() -> None:
    p = show("a")
    p.handle("h", c.InviteToSeat("a", 2), 10.0)
    p.handle("a", c.AcceptInvite(), 10.0)
    assert p.tick(69.0) == []
    out = p.tick(70.0)
    assert events_of(out, ge.LeaderboardUpdated)
    assert p.games.boards.room.points["a"] == 2
    p.handle("a", c.LeaveSeat(), 200.0)  # two more whole minutes banked on leaving
    assert p.games.boards.room.points["a"] == 6


def test_a_shopper_hears_their_own_score_whenever_it_changes() -> None:
    # The boards carry only the top N: score.yours keeps "You: N pts" and the tier progress
    # of the shopper's page current, for them alone.
    p = show("a", active_after=5)

    def mine(out: list[Emit]) -> list[tuple[int, int]]:
        sent = [e for e in out if isinstance(e.event, ge.ScoreYours)]
        assert all(e.to == to_users("a") for e in sent)
        return [(e.event.points, e.event.interactions) for e in sent]  # type: ignore[attr-defined]

    assert mine(p.handle("a", c.SendChat("hi"), 2.0)) == [(1, 1)]
    p.handle("h", gc.OpenVote("q", ["x", "y"]), 3.0)
    (vote,) = mine(p.handle("a", gc.CastVote(0), 4.0))
    assert vote[1] == 2 and vote[0] == p.games.boards.room.points["a"]
    assert mine(p.handle("h", c.SendChat("staff do not score"), 5.0)) == []
    p.handle("h", c.InviteToSeat("a", 2), 10.0)
    p.handle("a", c.AcceptInvite(), 10.0)
    before = p.games.boards.room.points["a"]
    assert mine(p.tick(70.0)) == [(before + 2, 2)]  # a mic minute: points, no interaction
    assert mine(p.handle("a", c.LeaveSeat(), 200.0)) == [(before + 6, 2)]


def test_show_board_counts_from_the_show_start() -> None:
    p = Pair()
    p.join("h", Role.HOST, "vip")
    p.join("a")
    p.handle("a", c.SendChat("warm-up"), 0.5)
    p.handle("h", c.StartShow(), 1.0)
    p.handle("a", c.SendChat("show"), 20.0)
    assert p.games.boards.room.points["a"] == 2 and p.games.boards.show.points["a"] == 1


@dataclass(frozen=True, slots=True)
class CouponClaimed(Event):  # the commerce core's event, as the games core sees it: by name
    TYPE: ClassVar[str] = "coupon.claimed"
    user: str


def test_claims_from_commerce_score_by_event_name() -> None:
    # Commerce sends a claim to the claimant alone: that one named user is credited.
    p = show("a")
    p.games.react([Emit(to_users("a"), CouponClaimed("a"))], 3.0)
    assert p.games.boards.room.points["a"] == 3 and p.games.interactions["a"] == 1
    p.games.react([Emit(EVERYONE, CouponClaimed("a"))], 4.0)  # a broadcast credits nobody
    assert p.games.boards.room.points["a"] == 3


# --- tiers ------------------------------------------------------------------------------------
def test_new_member_grows_active_after_n_interactions_once() -> None:
    p = show("a", active_after=3)
    p.handle("h", gc.OpenVote("q", ["x", "y"]), 2.0)
    p.handle("a", gc.CastVote(0), 3.0)
    p.handle("a", c.SendChat("hi"), 4.0)
    out = p.handle("a", gc.CheckIn(), 5.0)
    (earned,) = events_of(out, ge.TierEarned)
    assert (earned.user, earned.tier, earned.interactions) == ("a", "active", 3)
    (changed,) = events_of(out, TierChanged)
    assert (changed.user, changed.tier) == ("a", "active")
    actor = p.room.actor("a")
    assert actor is not None and actor.tier == "active"
    out = p.handle("a", c.SendChat("again"), 30.0)
    assert not events_of(out, ge.TierEarned) and not events_of(out, TierChanged)


def test_set_tier_moves_the_queue_place() -> None:
    p = show("a", "b")
    p.handle("a", c.RaiseHand(), 2.0)
    p.handle("b", c.RaiseHand(), 2.1)
    assert [w.user for w in p.room.queue_order()] == ["a", "b"]
    p.room.set_tier("b", "vip", 3.0)
    assert [w.user for w in p.room.queue_order()] == ["b", "a"]
    with pytest.raises(RuleError):
        p.room.set_tier("b", "gold", 3.0)
    assert p.room.set_tier("b", "vip", 3.0) == []


def test_tier_table_agrees_with_the_room_queue_order() -> None:
    from voiceroom.games import tiers
    from voiceroom.room import RoomConfig

    assert tiers.queue_order() == RoomConfig().tiers


# --- check-in -----------------------------------------------------------------------------------
DAY = 86400.0
T0 = 1_764_633_600.0  # 2025-12-02 00:00 UTC


def test_checkin_streak_across_days_and_gaps() -> None:
    p = show("a")
    streaks = []
    for day in (0, 1, 2, 4):
        out = p.handle("a", gc.CheckIn(), T0 + day * DAY + 5)
        streaks += [x.streak for x in events_of(out, ge.CheckedIn)]
    assert streaks == [1, 2, 3, 1]
    refused(p, "a", gc.CheckIn(), GamesCode.ALREADY_CHECKED_IN, T0 + 4 * DAY + 100)


def test_checkin_uses_the_market_day_and_the_loaded_streak() -> None:
    p = show("a")
    p.handle("h", gc.SetMarket("Asia/Tokyo"), 2.0)
    p.games.load_streak("a", Streak("2025-12-02", 6))
    # 16:00 UTC on Dec 2 is already Dec 3 in Tokyo: the streak continues.
    (x,) = events_of(p.handle("a", gc.CheckIn(), T0 + 16 * 3600), ge.CheckedIn)
    assert (x.day, x.streak) == ("2025-12-03", 7)


def test_a_loaded_streak_never_undoes_a_newer_one_and_must_be_well_formed() -> None:
    p = show("a")
    (x,) = events_of(p.handle("a", gc.CheckIn(), T0 + 5), ge.CheckedIn)
    today = Streak(x.day, 1)
    # The store's row lags this room's own check-in (not committed yet): kept as is.
    assert p.games.load_streak("a", Streak("2025-11-01", 9)) == []
    assert p.games.streak("a") == today
    refused(p, "a", gc.CheckIn(), GamesCode.ALREADY_CHECKED_IN, T0 + 100)
    for bad in (Streak("yesterday", 2), Streak("2025-12-01", 0)):
        with pytest.raises(RuleError) as exc:
            p.games.load_streak("a", bad)
        assert exc.value.code is ErrorCode.INVALID_ARGUMENT and p.games.streak("a") == today


# --- prompts and market ---------------------------------------------------------------------------
def test_prompt_by_id_with_checked_params() -> None:
    p = show("a")
    out = p.handle("co", gc.SendPrompt("guess_the_price", {"product": "bag"}), 2.0)
    (x,) = events_of(out, ge.PromptShown)
    assert (x.id, x.params, x.by) == ("guess_the_price", {"product": "bag"}, "co")
    refused(p, "h", gc.SendPrompt("buy_now_or_else"), GamesCode.UNKNOWN_PROMPT)
    refused(p, "h", gc.SendPrompt("vote_now", {"evil": "x"}), ErrorCode.INVALID_ARGUMENT)
    refused(p, "h", gc.SendPrompt("vote_now", {"question": "x" * 101}), ErrorCode.INVALID_ARGUMENT)
    # Every detail the text uses is required: no "Flash sale on X for  minutes".
    for params in ({"product": "X"}, {"product": "X", "minutes": " "}, {}):
        refused(p, "h", gc.SendPrompt("flash_sale_now", params), ErrorCode.INVALID_ARGUMENT)
    refused(p, "h", gc.SchedulePrompt("vote_now", 60.0, {}), ErrorCode.INVALID_ARGUMENT)
    (y,) = events_of(p.handle("h", gc.SendPrompt("checkin_today"), 3.0), ge.PromptShown)
    assert y.params == {}


def test_prompt_minutes_is_a_whole_number() -> None:
    # "five" would read "只有five分钟" on a Chinese page: minutes is a number, 1..600.
    p = show("a")
    for minutes in ("five", "5.5", "0", "601", "-3", "\u0665", "1e2"):
        for cmd in (
            gc.SendPrompt("show_starting", {"minutes": minutes}),
            gc.SchedulePrompt("show_starting", 60.0, {"minutes": minutes}),
            gc.SendPrompt("flash_sale_now", {"product": "bag", "minutes": minutes}),
        ):
            refused(p, "h", cmd, ErrorCode.INVALID_ARGUMENT)
    out = p.handle("h", gc.SendPrompt("show_starting", {"minutes": " 05 "}), 2.0)
    (x,) = events_of(out, ge.PromptShown)
    assert x.params == {"minutes": "5"}
    (y,) = events_of(
        p.handle("h", gc.SendPrompt("show_starting", {"minutes": "600"}), 3.0), ge.PromptShown
    )
    assert y.params == {"minutes": "600"}


def test_scheduled_prompt_fires_once_in_tick() -> None:
    p = show("a")
    out = p.handle("h", gc.SchedulePrompt("show_starting", 60.0, {"minutes": "5"}), 2.0)
    assert events_of(out, ge.PromptScheduled)[0].at == 60.0
    assert out[0].to.roles is not None  # moderators only
    refused(p, "h", gc.SchedulePrompt("show_starting", 1.0), ErrorCode.INVALID_ARGUMENT)
    assert p.tick(59.0) == []
    (x,) = events_of(p.tick(60.5), ge.PromptShown)
    assert x.id == "show_starting" and x.by is None
    assert p.tick(61.0) == []


def test_market_zone() -> None:
    p = show("a")
    refused(p, "h", gc.SetMarket("Mars/Olympus"), GamesCode.UNKNOWN_ZONE)
    refused(p, "h", gc.SetMarket("../../etc/passwd"), GamesCode.UNKNOWN_ZONE)
    assert events_of(p.handle("h", gc.SetMarket("Europe/Berlin"), 2.0), ge.MarketChanged)
    assert p.handle("h", gc.SetMarket("Europe/Berlin"), 2.0) == []
    assert p.games.snapshot(None).market_zone == "Europe/Berlin"


# --- the Venue ----------------------------------------------------------------------------------
def test_venue_state_round_trip_keeps_open_games_and_snapshot_is_wire_safe() -> None:
    from voiceroom import protocol
    from voiceroom.venue import Venue

    p = show("a", "b")
    p.handle("h", gc.OpenLottery("bag", rule="chat", keyword="win"), 2.0)
    p.handle("a", c.SendChat("win"), 2.5)
    p.handle("h", gc.OpenVote("q", ["x", "y"]), 3.0)
    p.handle("a", gc.CastVote(1), 3.5)
    restored = Venue.from_state(p.venue.to_state())
    (games,) = [core for core in restored.cores if core.NAME == "games"]
    assert fingerprint(games) == fingerprint(p.games)  # type: ignore[arg-type]
    body = restored.snapshot("a")
    assert body["games"]["your_vote"] == 1 and body["games"]["lottery"]["keyword"] == "win"
    assert protocol.decode_server(protocol.encode_message("welcome", {"snapshot": body}))


def test_the_server_runs_games_without_becoming_a_member() -> None:
    p = show("a")
    p.venue.handle_as_server(gc.OpenVote("q", ["x", "y"]), 2.0)
    p.venue.handle_as_server(gc.SendPrompt("vote_now", {"question": "q"}), 2.0)
    p.handle("a", gc.CastVote(0), 3.0)
    p.venue.handle_as_server(gc.OpenLottery("bag"), 4.0, entropy=SEED)
    (d,) = events_of(p.venue.handle_as_server(gc.DrawLottery(), 5.0), ge.LotteryDrawn)
    assert d.entrants == ("a",)
    assert set(p.games.roster.members) == set(p.room.members)


def test_venue_set_tier_reaches_the_games() -> None:
    p = show("a")
    out = p.venue.set_tier("a", "vip", 2.0)
    assert [e.tier for e in events_of(out, TierChanged)] == ["vip"]
    assert p.games.roster.members["a"].tier == "vip"
    p.handle("h", gc.OpenLottery("bag", rule="tier", tier="vip"), 3.0)
    assert draw(p).entrants == ("a",)


def test_a_scheduled_prompt_says_which_it_was() -> None:
    p = show("a")
    p.handle("h", gc.SchedulePrompt("show_starting", 60.0, {"minutes": "5"}), 2.0)
    (x,) = events_of(p.tick(61.0), ge.PromptShown)
    assert x.n == 1
    (y,) = events_of(p.handle("h", gc.SendPrompt("checkin_today"), 62.0), ge.PromptShown)
    assert y.n is None
