"""Hypothesis stateful test: random members send random commands; invariants always hold.

Invariants (issue #2): one seat per user and one user per seat; the queue has no duplicates
and no seated user; at most one consultation per user; a private pair is never audible to
the room; nobody hears themselves; a listener never changes another user's state; a
rejected command changes nothing.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from voiceroom.room import ConsultMode, Profile, Role, Room, RoomConfig, RuleError
from voiceroom.room import commands as c

from .helpers import fingerprint

USERS = ["h", "co", "ag", "u1", "u2", "u3", "u4", "u5"]
ROLES = {"h": Role.HOST, "co": Role.COHOST, "ag": Role.AGENT}
TIERS = ["vip", "active", "new", "unknown"]
users = st.sampled_from(USERS)
seats = st.one_of(st.none(), st.integers(-1, 6))
text = st.text(max_size=8)

SEAT_COMMANDS = st.one_of(
    st.builds(c.TakeSeat, seats),
    st.just(c.LeaveSeat()),
    st.builds(c.MoveSeat, st.integers(-1, 6), st.one_of(st.none(), users)),
    st.builds(c.InviteToSeat, users, seats),
    st.just(c.AcceptInvite()),
    st.just(c.DeclineInvite()),
    st.builds(c.Demote, users),
    st.builds(c.LockSeat, st.integers(-1, 6)),
    st.builds(c.UnlockSeat, st.integers(-1, 6)),
    st.just(c.MuteSelf()),
    st.just(c.UnmuteSelf()),
    st.builds(c.MuteSeat, st.integers(-1, 6)),
    st.builds(c.UnmuteSeat, st.integers(-1, 6)),
)
QUEUE_COMMANDS = st.one_of(
    st.just(c.RaiseHand()),
    st.just(c.LowerHand()),
    st.builds(c.Promote, st.one_of(st.none(), users), seats),
    st.builds(c.Deny, users),
)
CONSULT_COMMANDS = st.one_of(
    st.builds(c.StartConsultation, users, st.sampled_from(["private", "listen_in", "x"])),
    st.builds(c.EndConsultation, st.integers(0, 4)),
    st.builds(c.RequestConsultation, text),
    st.just(c.CancelRequest()),
    st.builds(c.AcceptRequest, st.one_of(st.none(), users)),
)
ROOM_COMMANDS = st.one_of(
    st.builds(c.SendChat, text),
    st.builds(c.ScheduleShow, st.one_of(st.none(), st.floats(allow_nan=True))),
    st.just(c.StartShow()),
    st.builds(c.Kick, users),
    st.builds(c.SetRole, users, st.sampled_from(["cohost", "agent", "listener", "host", "x"])),
    st.builds(c.PlayMusic, st.sampled_from(["a.ogg", ""]), st.floats(-1, 2)),
    st.just(c.StopMusic()),
)


def others_state(room: Room, actor: str) -> dict[str, Any]:
    """What a listener must never change about anybody else."""
    out: dict[str, Any] = {}
    for user, m in room.members.items():
        if user == actor:
            continue
        consult = room.consultation_of(user)
        out[user] = (
            m.role,
            room.seat_of(user),
            user in room.queue,
            user in room.requests,
            room.invites.get(user),
            user in room.self_muted,
            user in room.moderator_muted,
            None if consult is None or consult.has(actor) else consult.id,
        )
    return out


class RoomMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.room = Room("fuzz", RoomConfig(seat_count=6, private_duck_gain=0.2))
        self.room.set_tracks(["a.ogg"])
        self.now = 0.0

    @initialize()
    def everyone_joins(self) -> None:
        for user in USERS[:-2]:  # u4 and u5 join later, if at all
            self.join(user, "new" if user != "u2" else "vip")

    @rule(user=users, tier=st.sampled_from(TIERS))
    def join(self, user: str, tier: str) -> None:
        role = ROLES.get(user, Role.LISTENER)
        with contextlib.suppress(RuleError):  # banned, full or ended: refused, fine
            self.room.join(Profile(user, user.upper(), role, tier), self.now)

    @rule(user=users)
    def disconnect(self, user: str) -> None:
        self.room.disconnect(user, self.now)

    @rule(user=users)
    def leave(self, user: str) -> None:
        self.room.leave(user, self.now)

    @rule(dt=st.one_of(st.floats(0, 2), st.floats(15, 40)))
    def tick(self, dt: float) -> None:
        self.now += dt
        self.room.tick(self.now)

    def send(self, data: st.DataObject, command: c.Command) -> None:
        if not self.room.members:
            return
        actor = data.draw(st.sampled_from(sorted(self.room.members)))
        before = fingerprint(self.room)
        listener = self.room.role_of(actor) is Role.LISTENER
        others = others_state(self.room, actor)
        try:
            self.room.handle(actor, command, self.now)
        except RuleError:
            assert fingerprint(self.room) == before, f"{command} half-applied"
            return
        if listener:
            after = others_state(self.room, actor)
            assert {u: s for u, s in after.items() if u in others} == others, command

    # Four command rules against four lifecycle rules: commands are most of the steps.
    @rule(data=st.data(), command=SEAT_COMMANDS)
    def seat_command(self, data: st.DataObject, command: c.Command) -> None:
        self.send(data, command)

    @rule(data=st.data(), command=QUEUE_COMMANDS)
    def queue_command(self, data: st.DataObject, command: c.Command) -> None:
        self.send(data, command)

    @rule(data=st.data(), command=CONSULT_COMMANDS)
    def consult_command(self, data: st.DataObject, command: c.Command) -> None:
        self.send(data, command)

    @rule(data=st.data(), command=ROOM_COMMANDS)
    def room_command(self, data: st.DataObject, command: c.Command) -> None:
        self.send(data, command)

    @invariant()
    def seats_are_exclusive(self) -> None:
        holders = [s.holder for s in self.room.seats if s.holder is not None]
        assert len(holders) == len(set(holders))
        assert all(h in self.room.members for h in holders)
        assert all(not (s.locked and s.holder) for s in self.room.seats)
        seat0 = self.room.seats[0].holder
        assert seat0 is None or self.room.role_of(seat0) is Role.HOST

    @invariant()
    def queue_is_clean(self) -> None:
        seated = {s.holder for s in self.room.seats}
        for user in self.room.queue:
            assert user in self.room.members and user not in seated
            assert self.room.role_of(user) is Role.LISTENER
        order = [w.user for w in self.room.queue_order()]
        assert len(order) == len(set(order))

    @invariant()
    def consultations_are_exclusive(self) -> None:
        seen: list[str] = []
        for k in self.room.consultations.values():
            seen += [k.staff, k.shopper]
            assert k.staff in self.room.members and k.shopper in self.room.members
        assert len(seen) == len(set(seen))
        assert sum(k.kind == "stage" for k in self.room.consultations.values()) <= 1

    @invariant()
    def routing_is_safe(self) -> None:
        routing = self.room.routing()
        for user in self.room.members:
            assert not routing.hears(user, user), f"{user} hears themselves"
        for k in self.room.consultations.values():
            if k.mode is not ConsultMode.PRIVATE:
                continue
            for user in self.room.members:
                if k.has(user):
                    continue
                for pair_member in (k.staff, k.shopper):
                    assert not routing.hears(user, pair_member), "private pair leaked"
        for user in routing.publishers:
            assert user in self.room.members


RoomMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRoomInvariants = RoomMachine.TestCase
