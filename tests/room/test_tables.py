"""Every command x every role, driven by one table.

For each command a *setup* brings the room into a state where the command can succeed for
its sender (seated, queued, invited, ...), in a phase the rules allow. Then:
- a role outside ``RULES[cmd].roles`` gets FORBIDDEN, and the state is unchanged;
- a role inside succeeds.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from voiceroom.room import ErrorCode, Phase, Profile, Role, Room, RuleError
from voiceroom.room import commands as c
from voiceroom.room.core import HANDLED
from voiceroom.room.events import EVENT_TYPES
from voiceroom.room.model import ConsultKind
from voiceroom.room.rules import RULES

from .helpers import fingerprint

ACTOR = "actor"
Setup = Callable[[Room], c.Command]


def base(role: Role, phase: Phase) -> Room:
    """A room with host h (seat 0), a seated listener t1, a queued listener t2, a listener
    t3 with a consultation request, seat 5 locked, and the actor in ``role``."""
    room = Room("tables")
    room.join(Profile("h", "H", Role.HOST, "vip"), 0.0)
    for user in ("t1", "t2", "t3"):
        room.join(Profile(user, user, Role.LISTENER, "new"), 0.0)
    if role is Role.HOST:
        # The actor *is* the host: rename h's part to the actor by using a second room.
        room = Room("tables")
        room.join(Profile(ACTOR, "A", Role.HOST, "vip"), 0.0)
        room.join(Profile("h", "H", Role.COHOST, "vip"), 0.0)
        for user in ("t1", "t2", "t3"):
            room.join(Profile(user, user, Role.LISTENER, "new"), 0.0)
    else:
        room.join(Profile(ACTOR, "A", role, "new"), 0.0)
    boss = ACTOR if role is Role.HOST else "h"
    room.handle(boss, c.InviteToSeat("t1", 1), 0.5)
    room.handle("t1", c.AcceptInvite(), 0.5)
    room.handle(boss, c.LockSeat(5), 0.5)
    room.handle("t3", c.RequestConsultation(), 0.5)
    if phase is Phase.SHOW:
        room.handle(boss, c.StartShow(), 1.0)
        room.handle("t2", c.RaiseHand(), 1.0)
    room.set_tracks(("intro.ogg", "x"))  # the music library, as the host gives it
    return room


def boss_of(room: Room) -> str:
    return next(m.user for m in room.members.values() if m.role is Role.HOST)


def seat_actor(room: Room) -> None:
    """Seat the actor the way its role would be seated (the host already is, on join)."""
    if room.seat_of(ACTOR) is None:
        room.handle(boss_of(room), c.InviteToSeat(ACTOR, 2), 1.5)
        room.handle(ACTOR, c.AcceptInvite(), 1.5)


def unseat_actor(room: Room) -> None:
    if room.seat_of(ACTOR) is not None:
        room.handle(ACTOR, c.LeaveSeat(), 1.5)


def invite_actor(room: Room) -> c.Command:
    unseat_actor(room)
    # The host cannot invite itself: the co-host "h" does it.
    inviter = "h" if boss_of(room) == ACTOR else boss_of(room)
    room.handle(inviter, c.InviteToSeat(ACTOR, 2), 1.5)
    return c.AcceptInvite()


def queue_actor(room: Room) -> None:
    room.handle(ACTOR, c.RaiseHand(), 1.5)


def request_actor(room: Room) -> None:
    room.handle(ACTOR, c.RequestConsultation(), 1.5)


def consult_actor(room: Room) -> c.Command:
    boss = boss_of(room)
    if boss == ACTOR:
        room.handle(ACTOR, c.StartConsultation("t2", "private"), 1.5)
    elif room.role_of(ACTOR) is Role.AGENT:
        room.handle(ACTOR, c.AcceptRequest("t3"), 1.5)
    else:
        room.handle(boss, c.StartConsultation(ACTOR, "private"), 1.5)
    consult = room.consultation_of(ACTOR)
    assert consult is not None
    return c.EndConsultation(consult.id)


def stage_consult(room: Room) -> c.Command:
    """A stage 1v1 (host h or the actor with t2) for the actor to switch to listen-in."""
    room.handle(boss_of(room), c.StartConsultation("t2", "private"), 1.5)
    consult = room.stage_consultation()
    assert consult is not None
    return c.SetConsultationMode(consult.id, "listen_in")


def invite_with_host_invite(room: Room) -> c.Command:
    invite_actor(room)
    return c.DeclineInvite()


# command type -> (phase, setup returning the command). Setups run only for allowed roles.
CASES: dict[type[c.Command], tuple[Phase, Setup]] = {
    c.SendChat: (Phase.SHOW, lambda r: c.SendChat("hello")),
    c.TakeSeat: (Phase.WARMUP, lambda r: (unseat_actor(r), c.TakeSeat(3))[1]),
    c.LeaveSeat: (Phase.SHOW, lambda r: (seat_actor(r), c.LeaveSeat())[1]),
    c.MoveSeat: (Phase.SHOW, lambda r: (seat_actor(r), c.MoveSeat(6))[1]),
    c.InviteToSeat: (Phase.SHOW, lambda r: c.InviteToSeat("t2", 3)),
    c.AcceptInvite: (Phase.SHOW, invite_actor),
    c.DeclineInvite: (Phase.SHOW, invite_with_host_invite),
    c.Demote: (Phase.SHOW, lambda r: c.Demote("t1")),
    c.LockSeat: (Phase.SHOW, lambda r: c.LockSeat(4)),
    c.UnlockSeat: (Phase.SHOW, lambda r: c.UnlockSeat(5)),
    c.MuteSelf: (Phase.SHOW, lambda r: (seat_actor(r), c.MuteSelf())[1]),
    c.UnmuteSelf: (
        Phase.SHOW,
        lambda r: (seat_actor(r), r.handle(ACTOR, c.MuteSelf(), 1.6), c.UnmuteSelf())[2],
    ),
    c.MuteSeat: (Phase.SHOW, lambda r: c.MuteSeat(1)),
    c.UnmuteSeat: (
        Phase.SHOW,
        lambda r: (r.handle(boss_of(r), c.MuteSeat(1), 1.5), c.UnmuteSeat(1))[1],
    ),
    c.RaiseHand: (Phase.SHOW, lambda r: c.RaiseHand()),
    c.LowerHand: (Phase.SHOW, lambda r: (queue_actor(r), c.LowerHand())[1]),
    c.Promote: (Phase.SHOW, lambda r: c.Promote()),
    c.Deny: (Phase.SHOW, lambda r: c.Deny("t2")),
    c.ScheduleShow: (Phase.WARMUP, lambda r: c.ScheduleShow(1_900_000_000.0)),
    c.StartShow: (Phase.WARMUP, lambda r: c.StartShow()),
    c.EndRoom: (Phase.SHOW, lambda r: c.EndRoom()),
    c.Kick: (Phase.SHOW, lambda r: c.Kick("t1")),
    c.SetRole: (Phase.SHOW, lambda r: c.SetRole("t1", "agent")),
    c.StartConsultation: (Phase.SHOW, lambda r: c.StartConsultation("t2", "listen_in")),
    c.SetConsultationMode: (Phase.SHOW, stage_consult),
    c.EndConsultation: (Phase.SHOW, consult_actor),
    c.RequestConsultation: (Phase.SHOW, lambda r: c.RequestConsultation("hi")),
    c.CancelRequest: (Phase.SHOW, lambda r: (request_actor(r), c.CancelRequest())[1]),
    c.AcceptRequest: (Phase.SHOW, lambda r: c.AcceptRequest()),
    c.PlayMusic: (Phase.WARMUP, lambda r: c.PlayMusic("intro.ogg", 0.4, True)),
    c.StopMusic: (
        Phase.WARMUP,
        lambda r: (r.handle(boss_of(r), c.PlayMusic("x", 0.5, True), 1.5), c.StopMusic())[1],
    ),
}


def test_every_command_has_rule_handler_case_and_a_wire_name() -> None:
    assert set(RULES) == set(c.COMMAND_TYPES) == set(HANDLED) == set(CASES)
    assert len(c.COMMANDS) == len(c.COMMAND_TYPES)  # wire names are unique
    assert len({e.TYPE for e in EVENT_TYPES}) == len(EVENT_TYPES)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("cmd_type", list(CASES), ids=lambda t: t.TYPE)
def test_command_by_role(cmd_type: type[c.Command], role: Role) -> None:
    phase, setup = CASES[cmd_type]
    room = base(role, phase)
    allowed = role in RULES[cmd_type].roles
    if not allowed:
        command = _sample(cmd_type)
        before = fingerprint(room)
        with pytest.raises(RuleError) as err:
            room.handle(ACTOR, command, 2.0)
        assert err.value.code is ErrorCode.FORBIDDEN
        assert fingerprint(room) == before
        return
    command = setup(room)
    version = room.version
    room.handle(ACTOR, command, 2.0)  # must succeed for every allowed role
    assert room.version == version + 1


def _sample(cmd_type: type[c.Command]) -> c.Command:
    """Any well-formed instance: the role check comes before the state is looked at."""
    samples: dict[type[c.Command], c.Command] = {
        c.SendChat: c.SendChat("x"),
        c.MoveSeat: c.MoveSeat(3),
        c.InviteToSeat: c.InviteToSeat("t2"),
        c.Demote: c.Demote("t1"),
        c.LockSeat: c.LockSeat(3),
        c.UnlockSeat: c.UnlockSeat(5),
        c.MuteSeat: c.MuteSeat(1),
        c.UnmuteSeat: c.UnmuteSeat(1),
        c.Deny: c.Deny("t2"),
        c.ScheduleShow: c.ScheduleShow(None),
        c.Kick: c.Kick("t1"),
        c.SetRole: c.SetRole("t1", "agent"),
        c.StartConsultation: c.StartConsultation("t2", "private"),
        c.SetConsultationMode: c.SetConsultationMode(1, "listen_in"),
        c.EndConsultation: c.EndConsultation(1),
        c.PlayMusic: c.PlayMusic("x"),
    }
    return samples.get(cmd_type) or cmd_type()


def test_consult_kinds_are_covered() -> None:
    assert {k.value for k in ConsultKind} == {"stage", "agent"}
