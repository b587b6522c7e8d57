"""Scenario tests of the pure room core: each rule, its error code, and its events."""

from __future__ import annotations

import pytest

from voiceroom.room import ErrorCode, Phase, Profile, Role, RoomConfig, RuleError
from voiceroom.room import commands as c
from voiceroom.room.events import (
    ChatPosted,
    ConsultationEnded,
    ConsultationStarted,
    ConsultationUpdated,
    InviteEnded,
    InviteReceived,
    MemberLeft,
    PhaseChanged,
    QueuePosition,
    QueueUpdated,
    RequestStatus,
    SeatUpdated,
)
from voiceroom.room.routing import MUSIC_SOURCE

from .helpers import events_of, fingerprint, make_room, show_room

L = Role.LISTENER


def rule(code: ErrorCode) -> pytest.RaisesExc[RuleError]:
    return pytest.raises(RuleError, match=f"^{code.value}:")


# --- joining ---------------------------------------------------------------------------
def test_host_takes_seat_zero_on_join_and_staff_hear_of_members() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(L, "new"))
    assert room.seat_of("h") == 0
    emits = room.join(Profile("b", "Bee", L), now=1.0)
    (joined,) = [e for e in emits if e.event.TYPE == "member.joined"]
    assert joined.to.includes("h", Role.HOST)
    assert joined.to.includes("b", L)  # the joiner itself
    assert not joined.to.includes("a", L)  # the audience is not flooded with joins


def test_rejoin_keeps_state_and_marks_connected() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(L, "new"))
    room.handle("a", c.TakeSeat(), now=1.0)
    room.disconnect("a", now=2.0)
    assert not room.members["a"].connected
    room.join(Profile("a", "A", L), now=3.0)
    assert room.members["a"].connected and room.seat_of("a") == 1


def test_grace_expiry_frees_seat_and_queue_place() -> None:
    room = show_room(a=(L, "new"), b=(L, "new"))
    room.handle("h", c.InviteToSeat("a"), now=2.0)
    room.handle("a", c.AcceptInvite(), now=2.5)
    room.handle("b", c.RaiseHand(), now=3.0)
    room.disconnect("a", now=4.0)
    room.disconnect("b", now=4.0)
    assert room.tick(now=4.0 + 19.9) == []
    emits = room.tick(now=4.0 + 20.0)
    assert room.seat_of("a") is None and "b" not in room.queue
    assert {e.user for e in events_of(emits, MemberLeft)} == {"a", "b"}
    assert any(
        s.seat.status == "free" and s.reason == "left" for s in events_of(emits, SeatUpdated)
    )


def test_room_full_and_banned() -> None:
    room = make_room(RoomConfig(max_members=2), h=(Role.HOST, "vip"), a=(L, "new"))
    with rule(ErrorCode.ROOM_FULL):
        room.join(Profile("b", "B", L), now=1.0)
    room.handle("h", c.Kick("a"), now=1.0)
    with rule(ErrorCode.BANNED):
        room.join(Profile("a", "A", L), now=2.0)


# --- warm-up and seats ----------------------------------------------------------------
def test_warmup_free_seats_then_show_closes_self_service() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(L, "new"), b=(L, "new"))
    emits = room.handle("a", c.TakeSeat(), now=1.0)
    assert events_of(emits, SeatUpdated)[0].seat.user == "a"
    with rule(ErrorCode.WRONG_PHASE):
        room.handle("b", c.RaiseHand(), now=1.0)  # the queue opens with the show
    room.handle("h", c.StartShow(), now=2.0)
    with rule(ErrorCode.SEAT_POLICY):
        room.handle("b", c.TakeSeat(), now=3.0)
    assert room.seat_of("a") == 1  # warm-up speakers keep their seats into the show


def test_warmup_closed_seats_policy() -> None:
    room = make_room(RoomConfig(warmup_open_seats=False), h=(Role.HOST, "vip"), a=(L, "new"))
    with rule(ErrorCode.SEAT_POLICY):
        room.handle("a", c.TakeSeat(), now=1.0)


def test_seat_rules() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(L, "new"), b=(L, "new"))
    with rule(ErrorCode.SEAT_RESERVED):
        room.handle("a", c.TakeSeat(0), now=1.0)
    with rule(ErrorCode.NO_SUCH_SEAT):
        room.handle("a", c.TakeSeat(8), now=1.0)
    room.handle("h", c.LockSeat(3), now=1.0)
    with rule(ErrorCode.SEAT_LOCKED):
        room.handle("a", c.TakeSeat(3), now=1.0)
    room.handle("a", c.TakeSeat(2), now=1.0)
    with rule(ErrorCode.SEAT_TAKEN):
        room.handle("b", c.TakeSeat(2), now=1.0)
    with rule(ErrorCode.ALREADY_SEATED):
        room.handle("a", c.TakeSeat(4), now=1.0)
    with rule(ErrorCode.SEAT_TAKEN):
        room.handle("h", c.LockSeat(2), now=1.0)
    room.handle("a", c.MoveSeat(4), now=2.0)
    assert room.seat_of("a") == 4 and room.seats[2].holder is None
    room.handle("h", c.MoveSeat(6, user="a"), now=2.0)
    assert room.seat_of("a") == 6
    with rule(ErrorCode.FORBIDDEN):
        room.handle("b", c.MoveSeat(5, user="a"), now=2.0)
    room.handle("a", c.LeaveSeat(), now=3.0)
    with rule(ErrorCode.NOT_SEATED):
        room.handle("a", c.LeaveSeat(), now=3.0)


def test_no_free_seat() -> None:
    room = make_room(RoomConfig(seat_count=2), h=(Role.HOST, "vip"), a=(L, "new"), b=(L, "new"))
    room.handle("a", c.TakeSeat(), now=1.0)
    with rule(ErrorCode.NO_FREE_SEAT):
        room.handle("b", c.TakeSeat(), now=1.0)


def test_moderator_mute_cannot_be_lifted_by_holder_and_follows_the_user() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(L, "new"))
    room.handle("a", c.TakeSeat(), now=1.0)
    emits = room.handle("h", c.MuteSeat(1), now=2.0)
    assert events_of(emits, SeatUpdated)[0].seat.moderator_muted
    assert "a" not in room.routing().publishers
    with rule(ErrorCode.MUTED_BY_MODERATOR):
        room.handle("a", c.UnmuteSelf(), now=3.0)
    room.handle("a", c.LeaveSeat(), now=4.0)
    room.handle("a", c.TakeSeat(), now=5.0)
    assert "a" not in room.routing().publishers  # leaving and re-taking does not dodge it
    room.handle("h", c.UnmuteSeat(room.seat_of("a") or 0), now=6.0)
    assert "a" in room.routing().publishers


def test_self_mute() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(L, "new"))
    with rule(ErrorCode.NOT_SEATED):
        room.handle("a", c.MuteSelf(), now=1.0)
    room.handle("a", c.TakeSeat(), now=1.0)
    room.handle("a", c.MuteSelf(), now=2.0)
    assert "a" not in room.routing().publishers
    room.handle("a", c.UnmuteSelf(), now=3.0)
    assert "a" in room.routing().publishers


def test_nobody_but_the_host_acts_on_the_host() -> None:
    room = make_room(h=(Role.HOST, "vip"), co=(Role.COHOST, "vip"))
    with rule(ErrorCode.FORBIDDEN):
        room.handle("co", c.MuteSeat(0), now=1.0)
    with rule(ErrorCode.FORBIDDEN):
        room.handle("co", c.Demote("h"), now=1.0)
    with rule(ErrorCode.FORBIDDEN):
        room.handle("co", c.Kick("h"), now=1.0)


def test_invites_accept_decline_expire() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(L, "new"), b=(L, "new"), d=(L, "new"))
    emits = room.handle("h", c.InviteToSeat("a", 3), now=1.0)
    (inv,) = events_of(emits, InviteReceived)
    assert inv.seat == 3 and inv.expires_at == 31.0
    assert emits[0].to.includes("a", L) and not emits[0].to.includes("b", L)
    with rule(ErrorCode.INVITE_PENDING):
        room.handle("h", c.InviteToSeat("a"), now=2.0)
    room.handle("a", c.AcceptInvite(), now=2.0)
    assert room.seat_of("a") == 3
    room.handle("h", c.InviteToSeat("b"), now=3.0)
    emits = room.handle("b", c.DeclineInvite(), now=4.0)
    assert events_of(emits, InviteEnded)[0].outcome == "declined"
    with rule(ErrorCode.NO_INVITE):
        room.handle("b", c.AcceptInvite(), now=5.0)
    room.handle("h", c.InviteToSeat("d"), now=10.0)
    assert events_of(room.tick(now=40.0), InviteEnded)[0].outcome == "expired"
    with rule(ErrorCode.NO_INVITE):
        room.handle("d", c.AcceptInvite(), now=41.0)


def test_invite_falls_back_when_seat_taken_meanwhile() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(L, "new"), b=(L, "new"))
    room.handle("h", c.InviteToSeat("a", 2), now=1.0)
    room.handle("b", c.TakeSeat(2), now=2.0)
    room.handle("a", c.AcceptInvite(), now=3.0)
    assert room.seat_of("a") == 1


# --- the speaker queue ------------------------------------------------------------------
def test_queue_orders_by_tier_then_arrival() -> None:
    room = show_room(n1=(L, "new"), a1=(L, "active"), v1=(L, "vip"), v2=(L, "vip"))
    for user in ("n1", "a1", "v1", "v2"):
        room.handle(user, c.RaiseHand(), now=2.0)
    assert [w.user for w in room.queue_order()] == ["v1", "v2", "a1", "n1"]
    emits = room.handle("h", c.Promote(), now=3.0)
    assert room.seat_of("v1") == 1 and "v1" not in room.queue
    (update,) = events_of(emits, QueueUpdated)
    assert [e.user for e in update.entries] == ["v2", "a1", "n1"]
    positions = {e.to.users: e.event for e in emits if isinstance(e.event, QueuePosition)}
    assert positions[frozenset({"v1"})].position is None
    assert positions[frozenset({"n1"})].position == 3


def test_queue_rules() -> None:
    room = show_room(a=(L, "new"), b=(L, "new"), co=(Role.COHOST, "vip"))
    with rule(ErrorCode.QUEUE_EMPTY):
        room.handle("h", c.Promote(), now=2.0)
    with rule(ErrorCode.FORBIDDEN):
        room.handle("co", c.RaiseHand(), now=2.0)
    room.handle("a", c.RaiseHand(), now=2.0)
    with rule(ErrorCode.ALREADY_QUEUED):
        room.handle("a", c.RaiseHand(), now=2.0)
    with rule(ErrorCode.NOT_QUEUED):
        room.handle("h", c.Promote("b"), now=2.0)
    room.handle("b", c.RaiseHand(), now=2.0)
    emits = room.handle("h", c.Deny("b"), now=3.0)
    assert events_of(emits, QueuePosition)[0].reason == "denied"
    room.handle("a", c.LowerHand(), now=4.0)
    with rule(ErrorCode.NOT_QUEUED):
        room.handle("a", c.LowerHand(), now=4.0)


def test_queue_full() -> None:
    room = make_room(RoomConfig(queue_max=1), h=(Role.HOST, "vip"), a=(L, "new"), b=(L, "new"))
    room.handle("h", c.StartShow(), now=1.0)
    room.handle("a", c.RaiseHand(), now=2.0)
    with rule(ErrorCode.QUEUE_FULL):
        room.handle("b", c.RaiseHand(), now=2.0)


def test_seated_user_cannot_queue_and_invite_accept_dequeues() -> None:
    room = show_room(a=(L, "new"))
    room.handle("a", c.RaiseHand(), now=2.0)
    room.handle("h", c.InviteToSeat("a"), now=3.0)
    room.handle("a", c.AcceptInvite(), now=4.0)
    assert "a" not in room.queue
    with rule(ErrorCode.ALREADY_SEATED):
        room.handle("a", c.RaiseHand(), now=5.0)


# --- phases -----------------------------------------------------------------------------
def test_schedule_start_and_end() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(L, "new"))
    emits = room.handle("h", c.ScheduleShow(1_800_000_000.0), now=1.0)
    assert events_of(emits, PhaseChanged)[0].show_starts_at == 1_800_000_000.0
    with rule(ErrorCode.INVALID_ARGUMENT):
        room.handle("h", c.ScheduleShow(float("nan")), now=1.0)
    with rule(ErrorCode.FORBIDDEN):
        room.handle("a", c.StartShow(), now=2.0)
    emits = room.handle("h", c.StartShow(), now=2.0)
    assert events_of(emits, ChatPosted)[0].message.code == "show_started"
    with rule(ErrorCode.WRONG_PHASE):
        room.handle("h", c.StartShow(), now=3.0)
    room.handle("a", c.RequestConsultation(), now=3.0)
    emits = room.handle("h", c.EndRoom(), now=4.0)
    assert room.phase is Phase.ENDED
    assert events_of(emits, RequestStatus)[0].reason == "room_ended"
    with rule(ErrorCode.ROOM_ENDED):
        room.handle("a", c.SendChat("hi"), now=5.0)
    with rule(ErrorCode.ROOM_ENDED):
        room.join(Profile("z", "Z", L), now=5.0)
    assert room.routing().default == ()


# --- chat -------------------------------------------------------------------------------
def test_chat_limits_and_history() -> None:
    room = make_room(RoomConfig(chat_max_chars=5, chat_history=2), h=(Role.HOST, "vip"))
    with rule(ErrorCode.CHAT_EMPTY):
        room.handle("h", c.SendChat("   "), now=1.0)
    with rule(ErrorCode.CHAT_TOO_LONG):
        room.handle("h", c.SendChat("toolong"), now=1.0)
    for text in ("a", "b", "c"):
        room.handle("h", c.SendChat(text), now=1.0)
    assert [m.text for m in room.snapshot("h").chat] == ["b", "c"]


# --- consultations and routing ----------------------------------------------------------
def test_listen_in_consultation_routing_and_state_preserved() -> None:
    room = show_room(s1=(L, "new"), s2=(L, "new"), shopper=(L, "vip"), q=(L, "new"), aud=(L, "new"))
    for u in ("s1", "s2"):
        room.handle("h", c.InviteToSeat(u), now=2.0)
        room.handle(u, c.AcceptInvite(), now=2.0)
    room.handle("q", c.RaiseHand(), now=2.5)
    before = fingerprint(room)
    seats_before = [s.holder for s in room.seats]
    emits = room.handle("h", c.StartConsultation("shopper", "listen_in"), now=3.0)
    (started,) = events_of(emits, ConsultationStarted)
    assert started.consultation.mode == "listen_in"
    routing = room.routing()
    assert dict(routing.mix_for("aud")) == {"h": 1.0, "shopper": 1.0}  # room hears the pair
    assert dict(routing.mix_for("s1")) == {"h": 1.0, "shopper": 1.0}  # seats silent, listen
    assert dict(routing.mix_for("h")) == {"shopper": 1.0}
    assert dict(routing.mix_for("shopper")) == {"h": 1.0}
    assert "s1" not in routing.publishers and "shopper" in routing.publishers
    room.handle("h", c.EndConsultation(started.consultation.id), now=4.0)
    assert [s.holder for s in room.seats] == seats_before
    assert "q" in room.queue
    assert fingerprint(room)[:12] == before[:12]  # everything but the chat log is as it was
    assert dict(room.routing().mix_for("aud")) == {"h": 1.0, "s1": 1.0, "s2": 1.0}


def test_private_consultation_room_hears_remaining_seats() -> None:
    room = show_room(co=(Role.COHOST, "vip"), s1=(L, "new"), shopper=(L, "vip"), aud=(L, "new"))
    room.handle("co", c.TakeSeat(), now=2.0)
    room.handle("h", c.InviteToSeat("s1"), now=2.0)
    room.handle("s1", c.AcceptInvite(), now=2.0)
    room.handle("h", c.StartConsultation("shopper", "private"), now=3.0)
    routing = room.routing()
    assert dict(routing.mix_for("aud")) == {"co": 1.0, "s1": 1.0}
    assert dict(routing.mix_for("h")) == {"shopper": 1.0}
    assert dict(routing.mix_for("shopper")) == {"h": 1.0}
    assert dict(routing.mix_for("s1")) == {"co": 1.0}


def test_private_consultation_duck_gain_for_the_shopper_only() -> None:
    room = make_room(
        RoomConfig(private_duck_gain=0.25), h=(Role.HOST, "vip"), s1=(L, "new"), shopper=(L, "vip")
    )
    room.handle("s1", c.TakeSeat(), now=1.0)
    room.handle("h", c.StartShow(), now=1.5)
    room.handle("h", c.StartConsultation("shopper", "private"), now=2.0)
    routing = room.routing()
    assert dict(routing.mix_for("shopper")) == {"h": 1.0, "s1": 0.25}
    assert dict(routing.mix_for("h")) == {"shopper": 1.0}


def test_switch_a_running_1v1_between_private_and_listen_in_in_place() -> None:
    room = show_room(co=(Role.COHOST, "vip"), s1=(L, "new"), shopper=(L, "vip"), aud=(L, "new"))
    room.handle("h", c.InviteToSeat("s1"), now=2.0)
    room.handle("s1", c.AcceptInvite(), now=2.0)
    emits = room.handle("h", c.StartConsultation("shopper", "private"), now=3.0)
    kid = events_of(emits, ConsultationStarted)[0].consultation.id
    assert dict(room.routing().mix_for("aud")) == {"s1": 1.0}  # the pair is private
    # A co-host switches it to listen-in: same id, same pair, the room now hears the pair.
    emits = room.handle("co", c.SetConsultationMode(kid, "listen_in"), now=4.0)
    (updated,) = events_of(emits, ConsultationUpdated)
    assert (updated.consultation.id, updated.consultation.mode, updated.by) == (
        kid,
        "listen_in",
        "co",
    )
    assert updated.consultation.started_at == 3.0
    assert all(e.to.includes("aud", L) for e in emits)  # a stage 1v1: everyone is told
    (note,) = events_of(emits, ChatPosted)
    assert (note.message.code, note.message.params["mode"]) == ("consultation_mode", "listen_in")
    assert dict(room.routing().mix_for("aud")) == {"h": 1.0, "shopper": 1.0}
    assert room.snapshot("aud").consultations[0].mode == "listen_in"
    # And back to private: the room hears the remaining seat again, the pair each other.
    room.handle("h", c.SetConsultationMode(kid, "private"), now=5.0)
    routing = room.routing()
    assert dict(routing.mix_for("aud")) == {"s1": 1.0}
    assert dict(routing.mix_for("shopper")) == {"h": 1.0}
    assert list(room.consultations) == [kid]


def test_switching_a_1v1_mode_is_checked_before_anything_changes() -> None:
    room = show_room(ag=(Role.AGENT, "vip"), shopper=(L, "vip"), v=(L, "vip"), aud=(L, "new"))
    room.handle("h", c.StartConsultation("shopper", "listen_in"), now=2.0)
    (kid,) = room.consultations
    room.handle("v", c.RequestConsultation(), now=2.0)
    room.handle("ag", c.AcceptRequest("v"), now=2.5)
    agent_call = next(k for k in room.consultations if k != kid)
    before = fingerprint(room)
    for who, cmd, code in [
        ("aud", c.SetConsultationMode(kid, "private"), ErrorCode.FORBIDDEN),
        ("shopper", c.SetConsultationMode(kid, "private"), ErrorCode.FORBIDDEN),
        ("ag", c.SetConsultationMode(agent_call, "listen_in"), ErrorCode.FORBIDDEN),
        ("h", c.SetConsultationMode(kid, "loud"), ErrorCode.INVALID_ARGUMENT),
        ("h", c.SetConsultationMode(999, "private"), ErrorCode.NO_CONSULTATION),
        ("h", c.SetConsultationMode(agent_call, "listen_in"), ErrorCode.INVALID_ARGUMENT),
    ]:
        with rule(code):
            room.handle(who, cmd, now=3.0)
        assert fingerprint(room) == before
    # The mode it already has: no event, no chat line.
    assert room.handle("h", c.SetConsultationMode(kid, "listen_in"), now=3.0) == []
    assert fingerprint(room) == before


def test_one_stage_consultation_and_one_consultation_per_user() -> None:
    room = show_room(co=(Role.COHOST, "vip"), a=(L, "new"), b=(L, "new"))
    room.handle("h", c.StartConsultation("a", "private"), now=2.0)
    with rule(ErrorCode.CONSULTATION_ACTIVE):
        room.handle("co", c.StartConsultation("b", "private"), now=2.0)
    with rule(ErrorCode.INVALID_ARGUMENT):
        room.handle("h", c.StartConsultation("b", "loud"), now=2.0)
    with rule(ErrorCode.IN_CONSULTATION):
        room.handle("a", c.RequestConsultation(), now=2.0)


def test_agent_consultation_flow() -> None:
    room = show_room(ag=(Role.AGENT, "vip"), a=(L, "new"), v=(L, "vip"), aud=(L, "new"))
    room.handle("a", c.RequestConsultation("size of the blue dress?"), now=2.0)
    emits = room.handle("v", c.RequestConsultation(), now=2.1)
    assert [r.user for r in room.request_order()] == ["v", "a"]  # vip first
    assert any(isinstance(e.event, RequestStatus) and e.event.position == 2 for e in emits)
    with rule(ErrorCode.ALREADY_REQUESTED):
        room.handle("a", c.RequestConsultation(), now=2.2)
    with rule(ErrorCode.FORBIDDEN):
        room.handle("a", c.AcceptRequest(), now=2.3)
    emits = room.handle("ag", c.AcceptRequest(), now=3.0)
    (started,) = events_of(emits, ConsultationStarted)
    assert started.consultation.shopper == "v" and started.consultation.kind == "agent"
    start_emit = next(e for e in emits if isinstance(e.event, ConsultationStarted))
    assert not start_emit.to.includes("aud", L)  # private calls are not announced to the room
    routing = room.routing()
    assert dict(routing.mix_for("ag")) == {"v": 1.0}
    assert dict(routing.mix_for("v")) == {"ag": 1.0}
    assert "v" not in dict(routing.mix_for("aud"))
    with rule(ErrorCode.FORBIDDEN):
        room.handle("aud", c.EndConsultation(started.consultation.id), now=4.0)
    emits = room.handle("v", c.EndConsultation(started.consultation.id), now=4.0)
    assert events_of(emits, ConsultationEnded)[0].by == "v"
    with rule(ErrorCode.NO_CONSULTATION):
        room.handle("ag", c.EndConsultation(started.consultation.id), now=5.0)


def test_seated_shopper_in_private_call_leaves_the_room_mix() -> None:
    room = make_room(h=(Role.HOST, "vip"), ag=(Role.AGENT, "vip"), a=(L, "new"), aud=(L, "new"))
    room.handle("a", c.TakeSeat(), now=1.0)
    room.handle("a", c.RequestConsultation(), now=2.0)
    room.handle("ag", c.AcceptRequest("a"), now=3.0)
    assert dict(room.routing().mix_for("aud")) == {"h": 1.0}
    assert room.seat_of("a") == 1  # the seat is kept for when the call ends


def test_leaving_member_ends_consultation() -> None:
    room = show_room(a=(L, "new"))
    room.handle("h", c.StartConsultation("a", "private"), now=2.0)
    emits = room.leave("a", now=3.0)
    assert events_of(emits, ConsultationEnded)[0].reason == "left"
    assert not room.consultations


def test_music_in_the_mix() -> None:
    room = make_room(h=(Role.HOST, "vip"), a=(L, "new"))
    with rule(ErrorCode.MEDIA_ERROR):  # no library given to the room
        room.handle("h", c.PlayMusic("intro.ogg"), now=1.0)
    room.set_tracks(["intro.ogg"])
    for name in ("missing.ogg", " intro.ogg", "sub/intro.ogg", ".intro.ogg", ""):
        with rule(ErrorCode.INVALID_ARGUMENT):
            room.handle("h", c.PlayMusic(name), now=1.0)
    with rule(ErrorCode.FORBIDDEN):  # the role before the library: a listener learns nothing
        room.handle("a", c.PlayMusic("missing.ogg"), now=1.0)
    room.set_tracks(None)
    with rule(ErrorCode.FORBIDDEN):
        room.handle("a", c.PlayMusic("intro.ogg"), now=1.0)
    room.set_tracks(["intro.ogg"])
    with rule(ErrorCode.INVALID_ARGUMENT):
        room.handle("h", c.PlayMusic("intro.ogg", gain=2.0), now=1.0)
    room.handle("h", c.PlayMusic("intro.ogg", gain=0.5), now=1.0)
    assert dict(room.routing().mix_for("a"))[MUSIC_SOURCE] == 0.5
    assert MUSIC_SOURCE not in room.routing().publishers
    room.handle("h", c.StopMusic(), now=2.0)
    assert MUSIC_SOURCE not in dict(room.routing().mix_for("a"))


def test_set_role() -> None:
    room = show_room(a=(L, "new"))
    room.handle("a", c.RaiseHand(), now=2.0)
    room.handle("h", c.SetRole("a", "cohost"), now=3.0)
    assert room.role_of("a") is Role.COHOST and "a" not in room.queue
    with rule(ErrorCode.FORBIDDEN):
        room.handle("h", c.SetRole("a", "host"), now=3.0)
    with rule(ErrorCode.INVALID_ARGUMENT):
        room.handle("h", c.SetRole("a", "emperor"), now=3.0)


def test_snapshot_is_tailored_to_the_viewer() -> None:
    room = show_room(a=(L, "new"), ag=(Role.AGENT, "new"))
    room.handle("a", c.RaiseHand(), now=2.0)
    room.handle("a", c.RequestConsultation(), now=2.0)
    mine = room.snapshot("a")
    assert mine.queue is None and mine.requests is None
    assert mine.your_queue_position == 1 and mine.your_request_position == 1
    host = room.snapshot("h")
    assert host.queue is not None and [e.user for e in host.queue] == ["a"]
    assert room.snapshot("ag").requests is not None


def test_failed_command_changes_nothing() -> None:
    room = show_room(a=(L, "new"), b=(L, "new"))
    room.handle("a", c.RaiseHand(), now=2.0)
    before = fingerprint(room)
    version = room.version
    for actor, cmd in [
        ("h", c.Promote(seat=0)),
        ("h", c.Promote("b")),
        ("b", c.Deny("a")),
        ("h", c.StartConsultation("h", "private")),
    ]:
        with pytest.raises(RuleError):
            room.handle(actor, cmd, now=3.0)
    assert fingerprint(room) == before and room.version == version
