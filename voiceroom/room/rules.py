"""Who may send which command, and in which phases: one table, read by the room core.

A command missing from :data:`RULES` is a programming error (the room raises KeyError and
the table test fails), never a silent "allow". Finer rules that depend on the state (seat
policy in warm-up, "only the host may act on the host") live in the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass

from voiceroom.room import commands as c
from voiceroom.room.model import ALL_ROLES, MODERATORS, STAFF, Phase, Role

LIVE = frozenset({Phase.WARMUP, Phase.SHOW})
WARMUP = frozenset({Phase.WARMUP})
SHOW = frozenset({Phase.SHOW})
HOST_ONLY = frozenset({Role.HOST})
LISTENERS = frozenset({Role.LISTENER})
AGENTS = frozenset({Role.AGENT})


@dataclass(frozen=True, slots=True)
class Rule:
    roles: frozenset[Role]
    phases: frozenset[Phase]


RULES: dict[type[c.Command], Rule] = {
    # chat
    c.SendChat: Rule(ALL_ROLES, LIVE),
    # seats: self-service (policy checked in the handler)
    c.TakeSeat: Rule(ALL_ROLES, LIVE),
    c.LeaveSeat: Rule(ALL_ROLES, LIVE),
    c.MoveSeat: Rule(ALL_ROLES, LIVE),
    c.AcceptInvite: Rule(ALL_ROLES, LIVE),
    c.DeclineInvite: Rule(ALL_ROLES, LIVE),
    c.MuteSelf: Rule(ALL_ROLES, LIVE),
    c.UnmuteSelf: Rule(ALL_ROLES, LIVE),
    # seats: moderation
    c.InviteToSeat: Rule(MODERATORS, LIVE),
    c.Demote: Rule(MODERATORS, LIVE),
    c.LockSeat: Rule(MODERATORS, LIVE),
    c.UnlockSeat: Rule(MODERATORS, LIVE),
    c.MuteSeat: Rule(MODERATORS, LIVE),
    c.UnmuteSeat: Rule(MODERATORS, LIVE),
    # speaker queue: open during the show only
    c.RaiseHand: Rule(LISTENERS, SHOW),
    c.LowerHand: Rule(LISTENERS, SHOW),
    c.Promote: Rule(MODERATORS, SHOW),
    c.Deny: Rule(MODERATORS, SHOW),
    # room
    c.ScheduleShow: Rule(HOST_ONLY, WARMUP),
    c.StartShow: Rule(HOST_ONLY, WARMUP),
    c.EndRoom: Rule(HOST_ONLY, LIVE),
    c.Kick: Rule(MODERATORS, LIVE),
    c.SetRole: Rule(HOST_ONLY, LIVE),
    # consultations: the show switches to a 1v1 during the show; private calls any time
    c.StartConsultation: Rule(MODERATORS, SHOW),
    c.SetConsultationMode: Rule(MODERATORS, SHOW),
    c.EndConsultation: Rule(ALL_ROLES, LIVE),
    c.RequestConsultation: Rule(LISTENERS, LIVE),
    c.CancelRequest: Rule(LISTENERS, LIVE),
    c.AcceptRequest: Rule(AGENTS, LIVE),
    # warm-up music (also usable as a show jingle)
    c.PlayMusic: Rule(MODERATORS, LIVE),
    c.StopMusic: Rule(MODERATORS, LIVE),
}

__all__ = ["LIVE", "RULES", "STAFF", "Rule"]
