"""Every games command x every role x every phase, driven by one table.

A *setup* brings the games into a state where the command can succeed (a lottery open to
draw, a vote open to cast in...). Then a role outside ``RULES[cmd].roles`` is refused with
``forbidden`` and nothing changes; a role inside succeeds; an ended room refuses all.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from voiceroom.games import Games
from voiceroom.games import commands as gc
from voiceroom.games.core import _DISPATCH
from voiceroom.games.events import EVENT_TYPES
from voiceroom.games.rules import RULES
from voiceroom.room import ErrorCode, Phase, Role, RuleError
from voiceroom.room import commands as c
from voiceroom.room.events import EVENT_TYPES as ROOM_EVENT_TYPES

from .helpers import Pair, fingerprint

ACTOR = "actor"
BOSS = "co"  # a co-host sets the stage for every case
Setup = Callable[[Pair], gc.Command]


def base(role: Role, phase: Phase) -> Pair:
    p = Pair()
    if role is Role.HOST:
        p.join(ACTOR, Role.HOST, "vip")
    else:
        p.join("h", Role.HOST, "vip")
        p.join(ACTOR, role, "new")
    p.join(BOSS, Role.COHOST, "vip")
    for user in ("s1", "s2"):
        p.join(user)
    if phase is Phase.SHOW:
        host = ACTOR if role is Role.HOST else "h"
        p.handle(host, c.StartShow(), 1.0)
    return p


def opened(cmd: gc.Command, then: gc.Command) -> Setup:
    def setup(p: Pair) -> gc.Command:
        p.handle(BOSS, cmd, 1.5)
        return then

    return setup


def plain(cmd: gc.Command) -> Setup:
    return lambda p: cmd


LOTTERY = gc.OpenLottery("a bag")
GUESS = gc.OpenGuess("a bag", 12_900, "EUR")
VOTE = gc.OpenVote("next?", ["red", "blue"])

CASES: dict[type[gc.Command], Setup] = {
    gc.OpenLottery: plain(LOTTERY),
    gc.DrawLottery: opened(LOTTERY, gc.DrawLottery()),
    gc.CancelLottery: opened(LOTTERY, gc.CancelLottery()),
    gc.OpenGuess: plain(GUESS),
    gc.SubmitGuess: opened(GUESS, gc.SubmitGuess(12_000)),
    gc.CloseGuess: opened(GUESS, gc.CloseGuess()),
    gc.OpenVote: plain(VOTE),
    gc.CastVote: opened(VOTE, gc.CastVote(1)),
    gc.CloseVote: opened(VOTE, gc.CloseVote()),
    gc.CheckIn: plain(gc.CheckIn()),
    gc.SendPrompt: plain(gc.SendPrompt("vote_now", {"question": "next?"})),
    gc.SchedulePrompt: plain(gc.SchedulePrompt("show_starting", 100.0, {"minutes": "5"})),
    gc.SetMarket: plain(gc.SetMarket("Asia/Riyadh")),
}


def test_every_command_has_a_case_a_rule_and_a_handler() -> None:
    assert set(CASES) == set(gc.COMMAND_TYPES) == set(RULES) == set(_DISPATCH)
    assert Games.COMMAND_TYPES == gc.COMMAND_TYPES


def test_wire_names_are_namespaced_and_unique() -> None:
    names = [t.TYPE for t in gc.COMMAND_TYPES]
    assert len(set(names)) == len(names)
    prefixes = {"lottery", "guess", "vote", "checkin", "prompt", "market", "leaderboard"}
    assert all(n.split(".")[0] in prefixes for n in names)
    assert not set(names) & set(c.COMMANDS)
    events = [t.TYPE for t in EVENT_TYPES]
    assert len(set(events)) == len(events)
    assert not set(events) & {t.TYPE for t in ROOM_EVENT_TYPES}


@pytest.mark.parametrize("phase", [Phase.WARMUP, Phase.SHOW])
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("command", list(CASES), ids=lambda t: t.TYPE)
def test_role_and_phase_table(command: type[gc.Command], role: Role, phase: Phase) -> None:
    p = base(role, phase)
    cmd = CASES[command](p)
    rule = RULES[command]
    if role not in rule.roles:
        before = fingerprint(p.games)
        with pytest.raises(RuleError) as exc:
            p.handle(ACTOR, cmd, 2.0)
        assert exc.value.code is ErrorCode.FORBIDDEN
        assert fingerprint(p.games) == before
    elif phase not in rule.phases:
        with pytest.raises(RuleError) as exc:
            p.handle(ACTOR, cmd, 2.0)
        assert exc.value.code is ErrorCode.WRONG_PHASE
    else:
        before = fingerprint(p.games)
        emits = p.handle(ACTOR, cmd, 2.0)
        assert emits, f"{command.TYPE} by {role} changed nothing visible"
        assert fingerprint(p.games) != before


@pytest.mark.parametrize("command", list(CASES), ids=lambda t: t.TYPE)
def test_an_ended_room_refuses_everything(command: type[gc.Command]) -> None:
    p = base(Role.LISTENER, Phase.SHOW)
    cmd = CASES[command](p)
    p.handle("h", c.EndRoom(), 3.0)
    for user, role in ((ACTOR, Role.LISTENER), (BOSS, Role.COHOST)):
        with pytest.raises(RuleError) as exc:
            p.handle(user, cmd, 4.0)
        # role first (a refused sender learns nothing of the state), then the phase
        allowed = role in RULES[command].roles
        assert exc.value.code is (ErrorCode.ROOM_ENDED if allowed else ErrorCode.FORBIDDEN)
