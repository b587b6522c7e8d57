"""Who may send which games command, and in which room phases: one table (the Venue
checks it before the handler runs, role first, then phase, as ``Room.handle`` does)."""

from __future__ import annotations

from voiceroom.games import commands as c
from voiceroom.room.commands import Command
from voiceroom.room.model import MODERATORS, Role
from voiceroom.room.rules import LIVE, Rule

HOST_ONLY = frozenset({Role.HOST})
SHOPPERS = frozenset({Role.LISTENER})  # staff run the games; they do not play them

RULES: dict[type[Command], Rule] = {
    c.OpenLottery: Rule(MODERATORS, LIVE),
    c.DrawLottery: Rule(MODERATORS, LIVE),
    c.CancelLottery: Rule(MODERATORS, LIVE),
    c.OpenGuess: Rule(MODERATORS, LIVE),
    c.SubmitGuess: Rule(SHOPPERS, LIVE),
    c.CloseGuess: Rule(MODERATORS, LIVE),
    c.OpenVote: Rule(MODERATORS, LIVE),
    c.CastVote: Rule(SHOPPERS, LIVE),
    c.CloseVote: Rule(MODERATORS, LIVE),
    c.CheckIn: Rule(SHOPPERS, LIVE),
    c.SendPrompt: Rule(MODERATORS, LIVE),
    c.SchedulePrompt: Rule(MODERATORS, LIVE),
    c.SetMarket: Rule(HOST_ONLY, LIVE),
}
