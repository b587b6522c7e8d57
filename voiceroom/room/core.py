"""The room: an authoritative, pure state machine.

``Room.handle(actor, command, now)`` checks the command against :data:`RULES` and the
current state, then either raises :class:`RuleError` having changed nothing, or applies the
change and returns the events to deliver. Handlers are written *validate first, then
mutate*: every check that can fail runs before the first write.

No I/O, no clock, no logging: time arrives as ``now`` (epoch seconds, UTC) so tests and the
server drive it the same way. Server-side lifecycle (join, disconnect, leave, expiry) has
its own entry points, which clients cannot reach.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from voiceroom.room import commands as c
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import (
    EVERYONE,
    TO_MODERATORS,
    TO_STAFF,
    Audience,
    ChatPosted,
    ConsultationEnded,
    ConsultationStarted,
    ConsultationUpdated,
    Emit,
    InviteEnded,
    InviteReceived,
    MemberJoined,
    MemberLeft,
    MusicChanged,
    PhaseChanged,
    PresenceChanged,
    QueuePosition,
    QueueUpdated,
    RequestStatus,
    RequestsUpdated,
    RoleChanged,
    SeatUpdated,
    TierChanged,
    to_users,
)
from voiceroom.room.model import (
    HOST_SEAT,
    MODERATORS,
    STAFF,
    Actor,
    ChatMessageView,
    ConsultationView,
    ConsultKind,
    ConsultMode,
    MemberView,
    Phase,
    Profile,
    QueueEntryView,
    RequestView,
    Role,
    RoomConfig,
    SeatStatus,
    SeatView,
)
from voiceroom.room.routing import MUSIC_SOURCE, Routing, make_mix
from voiceroom.room.rules import RULES

MAX_NAME_CHARS = 64
SERVER_USER = "@server"  # who server-only commands act as (never a member)
MAX_NOTE_CHARS = 200
MAX_TRACK_CHARS = 200


@dataclass(slots=True)
class Member:
    user: str
    name: str
    role: Role
    tier: str
    locale: str
    joined_at: float
    connected: bool = True
    disconnected_at: float | None = None

    def view(self) -> MemberView:
        return MemberView(
            self.user, self.name, self.role.value, self.tier, self.locale, self.connected
        )


@dataclass(slots=True)
class Seat:
    index: int
    holder: str | None = None
    locked: bool = False


@dataclass(frozen=True, slots=True)
class Waiting:
    """An entry of the speaker queue or of the agents' request queue."""

    user: str
    rank: int  # tier rank: 0 first
    seq: int  # arrival order within a rank
    at: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class Invite:
    seat: int
    by: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class Consultation:
    id: int
    kind: ConsultKind
    mode: ConsultMode
    staff: str
    shopper: str
    started_at: float

    def has(self, user: str) -> bool:
        return user in (self.staff, self.shopper)

    def partner(self, user: str) -> str:
        return self.shopper if user == self.staff else self.staff


@dataclass(frozen=True, slots=True)
class Music:
    track: str
    gain: float
    loop: bool


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a member sees of the room on join or resume (tailored to their role)."""

    room: str
    phase: str
    show_starts_at: float | None
    seat_count: int
    tiers: tuple[str, ...]
    warmup_open_seats: bool
    chat_max_chars: int
    you: MemberView
    your_seat: int | None
    your_queue_position: int | None
    your_request_position: int | None
    your_invite: InviteReceived | None
    self_muted: bool
    moderator_muted: bool
    seats: tuple[SeatView, ...]
    members: tuple[MemberView, ...]
    member_count: int
    queue: tuple[QueueEntryView, ...] | None  # moderators only
    requests: tuple[RequestView, ...] | None  # staff only
    consultations: tuple[ConsultationView, ...]
    chat: tuple[ChatMessageView, ...]
    music: MusicChanged | None


Handler = Callable[["Room", Member, Any, float, list[Emit]], None]


class Room:
    """One voice room. Not thread-safe: the server applies one command at a time."""

    def __init__(self, room_id: str, config: RoomConfig | None = None) -> None:
        self.id = room_id
        self.config = config or RoomConfig()
        self.phase = Phase.WARMUP
        self.show_starts_at = self.config.show_starts_at
        self.members: dict[str, Member] = {}
        self.seats = [Seat(i) for i in range(self.config.seat_count)]
        self.queue: dict[str, Waiting] = {}
        self.requests: dict[str, Waiting] = {}
        self.invites: dict[str, Invite] = {}
        self.consultations: dict[int, Consultation] = {}
        self.self_muted: set[str] = set()
        self.moderator_muted: set[str] = set()  # follows the user, not the seat
        self.banned: set[str] = set()
        # The tier the room last gave each user (grown by the games core, or set by the
        # API): it outlives a leave, so coming back does not undo it (see _entry_tier).
        self.tier_memory: dict[str, str] = {}
        self.music: Music | None = None
        # The server's music library as data (names music.play accepts), None when the
        # server has none: set by the host through set_tracks, never read from disk here.
        self.tracks: tuple[str, ...] | None = None
        self.chat: deque[ChatMessageView] = deque(maxlen=self.config.chat_history)
        self.version = 0  # bumped on every change; the media plane re-reads routing on change
        self._seq = 0
        self._next_consult = 1
        self._next_chat = 1

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A store snapshot pickled before tier_memory existed.
        state.setdefault("tier_memory", {})
        self.__dict__.update(state)

    # ------------------------------------------------------------------ entry points
    def handle(self, actor: str, command: c.Command, now: float) -> list[Emit]:
        """Apply a member's command, or raise RuleError leaving the state unchanged."""
        member = self.members.get(actor)
        if member is None:
            raise RuleError(ErrorCode.UNKNOWN_USER, "you are not a member of this room")
        rule = RULES[type(command)]
        if self.phase is Phase.ENDED:
            raise RuleError(ErrorCode.ROOM_ENDED, "the room has ended")
        if member.role not in rule.roles:
            raise RuleError(
                ErrorCode.FORBIDDEN, f"{command.TYPE} is not allowed for role {member.role.value}"
            )
        if self.phase not in rule.phases:
            raise RuleError(
                ErrorCode.WRONG_PHASE, f"{command.TYPE} is not allowed during {self.phase.value}"
            )
        out: list[Emit] = []
        _HANDLERS[type(command)](self, member, command, now, out)
        self.version += 1
        return out

    def handle_as_server(self, command: c.Command, now: float) -> list[Emit]:
        """Apply a command on the server's own authority (HTTP API, demo setup): it acts
        as a host that is not a member, so moderation commands work and self-service ones
        (take a seat, raise a hand) are refused as they would be for a non-member. Role
        rules are the caller's; phase rules still apply. State unchanged on error."""
        if self.phase is Phase.ENDED:
            raise RuleError(ErrorCode.ROOM_ENDED, "the room has ended")
        if self.phase not in RULES[type(command)].phases:
            raise RuleError(
                ErrorCode.WRONG_PHASE, f"{command.TYPE} is not allowed during {self.phase.value}"
            )
        if type(command) not in SERVER_COMMANDS:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, f"{command.TYPE} needs a member")
        server = Member(SERVER_USER, "voiceroom", Role.HOST, "vip", "en", joined_at=now)
        out: list[Emit] = []
        _HANDLERS[type(command)](self, server, command, now, out)
        self.version += 1
        return out

    def join(self, profile: Profile, now: float) -> list[Emit]:
        """A member arrives, or an existing one comes back (resume: state kept)."""
        if self.phase is Phase.ENDED:
            raise RuleError(ErrorCode.ROOM_ENDED, "the room has ended")
        if profile.user in self.banned:
            raise RuleError(ErrorCode.BANNED, "you were removed from this room")
        if not profile.user or len(profile.name) > MAX_NAME_CHARS:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "bad user id or display name")
        out: list[Emit] = []
        existing = self.members.get(profile.user)
        if existing is not None:
            if not existing.connected:
                existing.connected = True
                existing.disconnected_at = None
                out.append(Emit(TO_STAFF, PresenceChanged(existing.user, True)))
            self.version += 1
            return out
        if len(self.members) >= self.config.max_members:
            raise RuleError(ErrorCode.ROOM_FULL, "the room is full")
        tier = self._entry_tier(profile)
        member = Member(
            profile.user, profile.name, profile.role, tier, profile.locale, joined_at=now
        )
        self.members[member.user] = member
        out.append(Emit(TO_STAFF.plus(member.user), MemberJoined(member.view())))
        host_seat = self.seats[HOST_SEAT]
        if member.role is Role.HOST and host_seat.holder is None and not host_seat.locked:
            self._seat(member.user, HOST_SEAT, "taken", out)
        self.version += 1
        return out

    def set_tracks(self, names: Iterable[str] | None) -> None:
        """Server-only: the music library's track names (None: no library). An outside
        fact entered as data, so music.play is checked here after the role check."""
        self.tracks = None if names is None else tuple(names)

    def disconnect(self, user: str, now: float) -> list[Emit]:
        """The connection dropped: seat and queue place are kept for the grace period."""
        member = self.members.get(user)
        if member is None or not member.connected:
            return []
        member.connected = False
        member.disconnected_at = now
        self.version += 1
        return [Emit(TO_STAFF, PresenceChanged(user, False))]

    def leave(self, user: str, now: float, reason: str = "left") -> list[Emit]:
        if user not in self.members:
            return []
        out: list[Emit] = []
        self._remove_member(user, reason, out)
        self.version += 1
        return out

    def tick(self, now: float) -> list[Emit]:
        """Expire what has timed out: seat invites and members past the reconnect grace."""
        out: list[Emit] = []
        for user, invite in list(self.invites.items()):
            if invite.expires_at <= now:
                del self.invites[user]
                out.append(
                    Emit(TO_MODERATORS.plus(user), InviteEnded(user, invite.seat, "expired"))
                )
        grace = self.config.reconnect_grace
        for member in list(self.members.values()):
            gone_at = member.disconnected_at
            if not member.connected and gone_at is not None and now - gone_at >= grace:
                self._remove_member(member.user, "timeout", out)
        if out:
            self.version += 1
        return out

    def set_tier(self, user: str, tier: str, now: float) -> list[Emit]:
        """Server-only: a member's tier changes (grown by the games core through the Venue,
        or set by the server API). Their queue and request places follow the new rank.
        RuleError for a tier the room does not know; [] for a non-member or no change."""
        if tier not in self.config.tiers:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, f"unknown tier {tier!r}")
        member = self.members.get(user)
        if member is None or member.tier == tier:
            return []
        self.tier_memory[user] = tier
        out: list[Emit] = []
        before_queue = self._positions(self.queue_order())
        before_requests = self._positions(self.request_order())
        rank = self.config.tier_rank(tier)
        member.tier = tier
        out.append(Emit(EVERYONE, TierChanged(user, tier)))
        if user in self.queue:
            w = self.queue[user]
            self.queue[user] = Waiting(w.user, rank, w.seq, w.at, w.note)
            self._queue_changed(before_queue, {}, out)
        if user in self.requests:
            w = self.requests[user]
            self.requests[user] = Waiting(w.user, rank, w.seq, w.at, w.note)
            self._requests_changed(before_requests, {}, out)
        self._seat_changed(user, "tier", out)
        self.version += 1
        return out

    def _entry_tier(self, profile: Profile) -> str:
        """A joiner's tier: their token's, or the one the room gave them before they left
        when that ranks higher (a shopper who grew to Active stays Active on coming back;
        a token can still raise them)."""
        kept = self.tier_memory.get(profile.user)
        if kept is None or self.config.tier_rank(kept) >= self.config.tier_rank(profile.tier):
            return profile.tier
        return kept

    # ------------------------------------------------------------------ queries
    def actor(self, user: str) -> Actor | None:
        """The member as the other cores see them (None for a non-member)."""
        m = self.members.get(user)
        if m is None:
            return None
        return Actor(m.user, m.name, m.role, m.tier, m.locale)

    def role_of(self, user: str) -> Role | None:
        member = self.members.get(user)
        return None if member is None else member.role

    def seat_of(self, user: str) -> int | None:
        for seat in self.seats:
            if seat.holder == user:
                return seat.index
        return None

    def consultation_of(self, user: str) -> Consultation | None:
        for consult in self.consultations.values():
            if consult.has(user):
                return consult
        return None

    def stage_consultation(self) -> Consultation | None:
        for consult in self.consultations.values():
            if consult.kind is ConsultKind.STAGE:
                return consult
        return None

    def queue_order(self) -> list[Waiting]:
        return sorted(self.queue.values(), key=lambda w: (w.rank, w.seq))

    def request_order(self) -> list[Waiting]:
        return sorted(self.requests.values(), key=lambda w: (w.rank, w.seq))

    def audience_of(self, emit: Emit) -> list[str]:
        """Users an emit is delivered to: members its audience selects, plus named users."""
        members = [m.user for m in self.members.values() if emit.to.includes(m.user, m.role)]
        # Named users who just left (MemberLeft to the kicked user) are not members any more.
        gone = [u for u in sorted(emit.to.users) if u not in self.members]
        return members + gone

    def routing(self) -> Routing:
        """Who hears whom now (see :mod:`voiceroom.room.routing`)."""
        if self.phase is Phase.ENDED:
            return Routing()
        private = {
            u
            for k in self.consultations.values()
            if k.mode is ConsultMode.PRIVATE
            for u in (k.staff, k.shopper)
        }
        stage = self.stage_consultation()
        room: dict[str, float] = {}
        if stage is not None and stage.mode is ConsultMode.LISTEN_IN:
            # Only the pair speak; the room hears them both.
            for user in (stage.staff, stage.shopper):
                if user not in self.self_muted:
                    room[user] = 1.0
        else:
            for seat in self.seats:
                holder = seat.holder
                if (
                    holder is not None
                    and holder not in private
                    and holder not in self.self_muted
                    and holder not in self.moderator_muted
                ):
                    room[holder] = 1.0
            if self.music is not None:
                room[MUSIC_SOURCE] = self.music.gain
        overrides = {
            u: make_mix({s: g for s, g in room.items() if s != u})
            for u in room
            if u != MUSIC_SOURCE
        }
        publishers = set(overrides)
        duck = self.config.private_duck_gain
        for consult in self.consultations.values():
            if consult.mode is not ConsultMode.PRIVATE:
                continue
            for user in (consult.staff, consult.shopper):
                partner = consult.partner(user)
                gains = {} if partner in self.self_muted else {partner: 1.0}
                if user == consult.shopper and consult.kind is ConsultKind.STAGE and duck > 0:
                    # The shopper may keep the show faintly underneath the private talk.
                    gains.update({s: g * duck for s, g in room.items()})
                overrides[user] = make_mix(gains)
                if user not in self.self_muted:
                    publishers.add(user)
        return Routing(
            default=make_mix(room), overrides=overrides, publishers=frozenset(publishers)
        )

    def snapshot(self, viewer: str) -> Snapshot:
        me = self.members.get(viewer)
        if me is None:
            raise RuleError(ErrorCode.UNKNOWN_USER, "you are not a member of this room")
        is_mod = me.role in MODERATORS
        is_staff = me.role in STAFF
        queue_pos = self._positions(self.queue_order()).get(viewer)
        request_pos = self._positions(self.request_order()).get(viewer)
        invite = self.invites.get(viewer)
        visible = {m.user for m in self.members.values() if m.role in STAFF}
        visible.update(s.holder for s in self.seats if s.holder is not None)
        consults = tuple(
            self._consult_view(k)
            for k in self.consultations.values()
            if k.kind is ConsultKind.STAGE or is_staff or k.has(viewer)
        )
        for k in consults:
            visible.update((k.staff, k.shopper))
        if is_staff:
            visible.update(self.members)
        members = tuple(self.members[u].view() for u in sorted(visible) if u in self.members)
        return Snapshot(
            room=self.id,
            phase=self.phase.value,
            show_starts_at=self.show_starts_at,
            seat_count=len(self.seats),
            tiers=self.config.tiers,
            warmup_open_seats=self.config.warmup_open_seats,
            chat_max_chars=self.config.chat_max_chars,
            you=me.view(),
            your_seat=self.seat_of(viewer),
            your_queue_position=queue_pos,
            your_request_position=request_pos,
            your_invite=None if invite is None else self._invite_event(invite),
            self_muted=viewer in self.self_muted,
            moderator_muted=viewer in self.moderator_muted,
            seats=tuple(self._seat_view(s) for s in self.seats),
            members=members,
            member_count=len(self.members),
            queue=self._queue_view() if is_mod else None,
            requests=self._requests_view() if is_staff else None,
            consultations=consults,
            chat=tuple(self.chat),
            music=None
            if self.music is None
            else MusicChanged(self.music.track, self.music.gain, self.music.loop),
        )

    # ------------------------------------------------------------------ handlers: chat
    def _send_chat(self, m: Member, cmd: c.SendChat, now: float, out: list[Emit]) -> None:
        text = cmd.text.strip()
        if not text:
            raise RuleError(ErrorCode.CHAT_EMPTY, "message is empty")
        if len(text) > self.config.chat_max_chars:
            raise RuleError(
                ErrorCode.CHAT_TOO_LONG,
                f"message is longer than {self.config.chat_max_chars} characters",
            )
        self._post(ChatMessageView(self._next_chat, now, "user", m.user, m.name, text), out)

    # ------------------------------------------------------------------ handlers: seats
    def _take_seat(self, m: Member, cmd: c.TakeSeat, now: float, out: list[Emit]) -> None:
        if self.seat_of(m.user) is not None:
            raise RuleError(ErrorCode.ALREADY_SEATED, "you already have a seat")
        if m.role not in STAFF:
            if self.phase is Phase.SHOW:
                raise RuleError(
                    ErrorCode.SEAT_POLICY, "during the show, raise your hand to get a seat"
                )
            if not self.config.warmup_open_seats:
                raise RuleError(ErrorCode.SEAT_POLICY, "seats are given by the host")
        index = self._pick_seat(m, cmd.seat)
        self._seat(m.user, index, "taken", out)
        self._drop_invite(m.user, "cancelled", out)
        self._dequeue(m.user, "seated", out)

    def _leave_seat(self, m: Member, cmd: c.LeaveSeat, now: float, out: list[Emit]) -> None:
        self._require_seat(m.user)
        self._unseat(m.user, "left", out)

    def _move_seat(self, m: Member, cmd: c.MoveSeat, now: float, out: list[Emit]) -> None:
        target = m.user if cmd.user is None else cmd.user
        if target != m.user:
            if m.role not in MODERATORS:
                raise RuleError(ErrorCode.FORBIDDEN, "only moderators move other members")
            self._require_member(target)
            self._protect_host(m, target)
        old = self._require_seat(target)
        new = self._pick_seat(self.members[target], cmd.seat)
        self.seats[old].holder = None
        self.seats[new].holder = target
        out.append(Emit(EVERYONE, SeatUpdated(self._seat_view(self.seats[old]), "moved")))
        out.append(Emit(EVERYONE, SeatUpdated(self._seat_view(self.seats[new]), "moved")))

    def _invite(self, m: Member, cmd: c.InviteToSeat, now: float, out: list[Emit]) -> None:
        target = self._require_member(cmd.user)
        if self.seat_of(target.user) is not None:
            raise RuleError(ErrorCode.ALREADY_SEATED, f"{target.user} already has a seat")
        if target.user in self.invites:
            raise RuleError(ErrorCode.INVITE_PENDING, f"{target.user} already has an invite")
        index = self._pick_seat(target, cmd.seat)
        invite = Invite(index, m.user, now + self.config.invite_ttl)
        self.invites[target.user] = invite
        out.append(Emit(to_users(target.user), self._invite_event(invite)))

    def _accept_invite(self, m: Member, cmd: c.AcceptInvite, now: float, out: list[Emit]) -> None:
        invite = self.invites.get(m.user)
        if invite is None or invite.expires_at <= now:
            raise RuleError(ErrorCode.NO_INVITE, "you have no seat invite")
        if self.seat_of(m.user) is not None:
            raise RuleError(ErrorCode.ALREADY_SEATED, "you already have a seat")
        seat = self.seats[invite.seat]
        # The invited seat may have been taken meanwhile: fall back to any free seat.
        index = invite.seat if seat.holder is None and not seat.locked else self._pick_seat(m)
        del self.invites[m.user]
        out.append(Emit(TO_MODERATORS.plus(m.user), InviteEnded(m.user, index, "accepted")))
        self._seat(m.user, index, "invited", out)
        self._dequeue(m.user, "invited", out)

    def _decline_invite(self, m: Member, cmd: c.DeclineInvite, now: float, out: list[Emit]) -> None:
        if m.user not in self.invites:
            raise RuleError(ErrorCode.NO_INVITE, "you have no seat invite")
        self._drop_invite(m.user, "declined", out)

    def _demote(self, m: Member, cmd: c.Demote, now: float, out: list[Emit]) -> None:
        self._require_member(cmd.user)
        self._protect_host(m, cmd.user)
        self._require_seat(cmd.user)
        self._unseat(cmd.user, "demoted", out)

    def _lock(self, m: Member, cmd: c.LockSeat, now: float, out: list[Emit]) -> None:
        seat = self._require_seat_index(cmd.seat)
        if seat.holder is not None:
            raise RuleError(ErrorCode.SEAT_TAKEN, f"seat {seat.index} is taken; demote first")
        if seat.locked:
            return
        seat.locked = True
        out.append(Emit(EVERYONE, SeatUpdated(self._seat_view(seat), "locked")))

    def _unlock(self, m: Member, cmd: c.UnlockSeat, now: float, out: list[Emit]) -> None:
        seat = self._require_seat_index(cmd.seat)
        if not seat.locked:
            return
        seat.locked = False
        out.append(Emit(EVERYONE, SeatUpdated(self._seat_view(seat), "unlocked")))

    def _mute_self(self, m: Member, cmd: c.MuteSelf, now: float, out: list[Emit]) -> None:
        self._require_speaking_place(m.user)
        if m.user not in self.self_muted:
            self.self_muted.add(m.user)
            self._seat_changed(m.user, "muted", out)

    def _unmute_self(self, m: Member, cmd: c.UnmuteSelf, now: float, out: list[Emit]) -> None:
        self._require_speaking_place(m.user)
        seated = self.seat_of(m.user) is not None
        if seated and m.user in self.moderator_muted:
            raise RuleError(ErrorCode.MUTED_BY_MODERATOR, "a moderator muted you")
        if m.user in self.self_muted:
            self.self_muted.discard(m.user)
            self._seat_changed(m.user, "unmuted", out)

    def _mute_seat(self, m: Member, cmd: c.MuteSeat, now: float, out: list[Emit]) -> None:
        holder = self._require_holder(cmd.seat)
        self._protect_host(m, holder)
        if holder not in self.moderator_muted:
            self.moderator_muted.add(holder)
            self._seat_changed(holder, "moderator_muted", out)

    def _unmute_seat(self, m: Member, cmd: c.UnmuteSeat, now: float, out: list[Emit]) -> None:
        holder = self._require_holder(cmd.seat)
        self._protect_host(m, holder)
        if holder in self.moderator_muted:
            self.moderator_muted.discard(holder)
            self._seat_changed(holder, "moderator_unmuted", out)

    # ------------------------------------------------------------------ handlers: queue
    def _raise_hand(self, m: Member, cmd: c.RaiseHand, now: float, out: list[Emit]) -> None:
        if self.seat_of(m.user) is not None:
            raise RuleError(ErrorCode.ALREADY_SEATED, "you already have a seat")
        if m.user in self.queue:
            raise RuleError(ErrorCode.ALREADY_QUEUED, "your hand is already raised")
        if len(self.queue) >= self.config.queue_max:
            raise RuleError(ErrorCode.QUEUE_FULL, "the speaker queue is full")
        before = self._positions(self.queue_order())
        self.queue[m.user] = Waiting(m.user, self.config.tier_rank(m.tier), self._next(), now)
        self._queue_changed(before, {}, out)

    def _lower_hand(self, m: Member, cmd: c.LowerHand, now: float, out: list[Emit]) -> None:
        if m.user not in self.queue:
            raise RuleError(ErrorCode.NOT_QUEUED, "your hand is not raised")
        self._dequeue(m.user, "cancelled", out)

    def _promote(self, m: Member, cmd: c.Promote, now: float, out: list[Emit]) -> None:
        if cmd.user is None:
            order = self.queue_order()
            if not order:
                raise RuleError(ErrorCode.QUEUE_EMPTY, "nobody is waiting")
            user = order[0].user
        else:
            user = cmd.user
            if user not in self.queue:
                raise RuleError(ErrorCode.NOT_QUEUED, f"{user} is not in the queue")
        index = self._pick_seat(self.members[user], cmd.seat)
        self._dequeue(user, "promoted", out)
        self._drop_invite(user, "cancelled", out)
        self._seat(user, index, "promoted", out)

    def _deny(self, m: Member, cmd: c.Deny, now: float, out: list[Emit]) -> None:
        if cmd.user not in self.queue:
            raise RuleError(ErrorCode.NOT_QUEUED, f"{cmd.user} is not in the queue")
        self._dequeue(cmd.user, "denied", out)

    # ------------------------------------------------------------------ handlers: room
    def _schedule(self, m: Member, cmd: c.ScheduleShow, now: float, out: list[Emit]) -> None:
        at = cmd.starts_at
        if at is not None and (not math.isfinite(at) or at <= 0):
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "starts_at must be epoch seconds")
        self.show_starts_at = at
        out.append(Emit(EVERYONE, PhaseChanged(self.phase.value, at)))

    def _start_show(self, m: Member, cmd: c.StartShow, now: float, out: list[Emit]) -> None:
        self.phase = Phase.SHOW
        out.append(Emit(EVERYONE, PhaseChanged(self.phase.value, self.show_starts_at)))
        self._system("show_started", {"host": m.name}, now, out)

    def _end_room(self, m: Member, cmd: c.EndRoom, now: float, out: list[Emit]) -> None:
        for consult in list(self.consultations.values()):
            self._end_consult(consult, m.user, "room_ended", out)
        for user in list(self.queue):
            self._dequeue(user, "room_ended", out)
        for user in list(self.requests):
            self._drop_request(user, "room_ended", out)
        for user in list(self.invites):
            self._drop_invite(user, "cancelled", out)
        if self.music is not None:
            self._stop_music(m, c.StopMusic(), now, out)
        self.phase = Phase.ENDED
        out.append(Emit(EVERYONE, PhaseChanged(self.phase.value, self.show_starts_at)))

    def _kick(self, m: Member, cmd: c.Kick, now: float, out: list[Emit]) -> None:
        target = self._require_member(cmd.user)
        if target.user == m.user:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "use leave to leave the room")
        if target.role in STAFF and m.role is not Role.HOST:
            raise RuleError(ErrorCode.FORBIDDEN, "only the host may remove staff")
        self._protect_host(m, target.user)
        self._remove_member(target.user, "kicked", out)
        self.banned.add(target.user)

    def _set_role(self, m: Member, cmd: c.SetRole, now: float, out: list[Emit]) -> None:
        target = self._require_member(cmd.user)
        try:
            role = Role(cmd.role)
        except ValueError:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, f"unknown role {cmd.role!r}") from None
        if role is Role.HOST or target.role is Role.HOST:
            raise RuleError(ErrorCode.FORBIDDEN, "the host role cannot be given or taken")
        if self.consultation_of(target.user) is not None:
            raise RuleError(ErrorCode.IN_CONSULTATION, f"{target.user} is in a consultation")
        if role is target.role:
            return
        target.role = role
        out.append(Emit(EVERYONE, RoleChanged(target.user, role.value)))
        if role is not Role.LISTENER:
            # Queues are for the audience; staff take seats and calls directly.
            self._dequeue(target.user, "role_changed", out)
            self._drop_request(target.user, "role_changed", out)

    # ------------------------------------------------------------------ handlers: 1v1
    def _start_consult(
        self, m: Member, cmd: c.StartConsultation, now: float, out: list[Emit]
    ) -> None:
        try:
            mode = ConsultMode(cmd.mode)
        except ValueError:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, f"unknown mode {cmd.mode!r}") from None
        shopper = self._require_member(cmd.user)
        if shopper.user == m.user:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "a consultation needs another member")
        if self.stage_consultation() is not None:
            raise RuleError(ErrorCode.CONSULTATION_ACTIVE, "the show is already in a 1v1")
        self._require_free_for_consult(m.user)
        self._require_free_for_consult(shopper.user)
        self._drop_request(shopper.user, "accepted", out)
        self._open_consult(ConsultKind.STAGE, mode, m, shopper, now, out)

    def _set_consult_mode(
        self, m: Member, cmd: c.SetConsultationMode, now: float, out: list[Emit]
    ) -> None:
        try:
            mode = ConsultMode(cmd.mode)
        except ValueError:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, f"unknown mode {cmd.mode!r}") from None
        consult = self.consultations.get(cmd.id)
        if consult is None:
            raise RuleError(ErrorCode.NO_CONSULTATION, f"no consultation {cmd.id}")
        if consult.kind is not ConsultKind.STAGE:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "a call with an agent is always private")
        if mode is consult.mode:
            return  # already so: nothing changes, nobody is told
        consult = replace(consult, mode=mode)
        self.consultations[consult.id] = consult
        view = self._consult_view(consult)
        out.append(Emit(self._consult_audience(consult), ConsultationUpdated(view, m.user)))
        self._system(
            "consultation_mode",
            {"mode": mode.value, "host": view.staff_name, "shopper": view.shopper_name},
            now,
            out,
        )

    def _end_consultation(
        self, m: Member, cmd: c.EndConsultation, now: float, out: list[Emit]
    ) -> None:
        consult = self.consultations.get(cmd.id)
        if consult is None:
            raise RuleError(ErrorCode.NO_CONSULTATION, f"no consultation {cmd.id}")
        if not consult.has(m.user) and m.role not in MODERATORS:
            raise RuleError(ErrorCode.FORBIDDEN, "you are not in this consultation")
        self._end_consult(consult, m.user, "ended", out)
        if consult.kind is ConsultKind.STAGE:
            self._system("consultation_ended", {}, now, out)

    def _request(self, m: Member, cmd: c.RequestConsultation, now: float, out: list[Emit]) -> None:
        if len(cmd.note) > MAX_NOTE_CHARS:
            raise RuleError(
                ErrorCode.INVALID_ARGUMENT, f"note is longer than {MAX_NOTE_CHARS} characters"
            )
        if m.user in self.requests:
            raise RuleError(ErrorCode.ALREADY_REQUESTED, "you already asked for a consultation")
        self._require_free_for_consult(m.user)
        before = self._positions(self.request_order())
        self.requests[m.user] = Waiting(
            m.user, self.config.tier_rank(m.tier), self._next(), now, cmd.note.strip()
        )
        self._requests_changed(before, {}, out)

    def _cancel_request(self, m: Member, cmd: c.CancelRequest, now: float, out: list[Emit]) -> None:
        if m.user not in self.requests:
            raise RuleError(ErrorCode.NO_REQUEST, "you have no pending request")
        self._drop_request(m.user, "cancelled", out)

    def _accept_request(self, m: Member, cmd: c.AcceptRequest, now: float, out: list[Emit]) -> None:
        if cmd.user is None:
            order = self.request_order()
            if not order:
                raise RuleError(ErrorCode.QUEUE_EMPTY, "no consultation requests")
            user = order[0].user
        else:
            user = cmd.user
            if user not in self.requests:
                raise RuleError(ErrorCode.NO_REQUEST, f"{user} has no pending request")
        self._require_free_for_consult(m.user)
        self._drop_request(user, "accepted", out)
        self._open_consult(ConsultKind.AGENT, ConsultMode.PRIVATE, m, self.members[user], now, out)

    # ------------------------------------------------------------------ handlers: music
    def _play_music(self, m: Member, cmd: c.PlayMusic, now: float, out: list[Emit]) -> None:
        track = cmd.track
        if self.tracks is None:
            raise RuleError(ErrorCode.MEDIA_ERROR, "this server has no music library")
        # Exactly the names the library lists: no paths, hidden files or non-audio files.
        if not track or len(track) > MAX_TRACK_CHARS or track not in self.tracks:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, f"unknown track {track[:80]!r}")
        if not (math.isfinite(cmd.gain) and 0.0 <= cmd.gain <= 1.0):
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "gain must be between 0 and 1")
        self.music = Music(track, cmd.gain, cmd.loop)
        out.append(Emit(EVERYONE, MusicChanged(track, cmd.gain, cmd.loop)))

    def _stop_music(self, m: Member, cmd: c.StopMusic, now: float, out: list[Emit]) -> None:
        if self.music is None:
            return
        self.music = None
        out.append(Emit(EVERYONE, MusicChanged(None, 0.0, False)))

    # ------------------------------------------------------------------ checks (no writes)
    def _require_member(self, user: str) -> Member:
        member = self.members.get(user)
        if member is None:
            raise RuleError(ErrorCode.UNKNOWN_USER, f"{user!r} is not in this room")
        return member

    def _require_seat(self, user: str) -> int:
        index = self.seat_of(user)
        if index is None:
            raise RuleError(ErrorCode.NOT_SEATED, f"{user} has no seat")
        return index

    def _require_seat_index(self, index: int) -> Seat:
        if not 0 <= index < len(self.seats):
            raise RuleError(ErrorCode.NO_SUCH_SEAT, f"there is no seat {index}")
        return self.seats[index]

    def _require_holder(self, index: int) -> str:
        holder = self._require_seat_index(index).holder
        if holder is None:
            raise RuleError(ErrorCode.NOT_SEATED, f"seat {index} is free")
        return holder

    def _require_speaking_place(self, user: str) -> None:
        if self.seat_of(user) is None and self.consultation_of(user) is None:
            raise RuleError(ErrorCode.NOT_SEATED, "you are not on a seat or in a consultation")

    def _require_free_for_consult(self, user: str) -> None:
        if self.consultation_of(user) is not None:
            raise RuleError(ErrorCode.IN_CONSULTATION, f"{user} is already in a consultation")

    def _protect_host(self, actor: Member, target: str) -> None:
        target_member = self.members.get(target)
        if target_member is not None and target_member.role is Role.HOST and actor.user != target:
            raise RuleError(ErrorCode.FORBIDDEN, "only the host may act on the host")

    def _pick_seat(self, member: Member, wanted: int | None = None) -> int:
        """A seat ``member`` may sit on: the wanted one, or the first free one."""
        if wanted is not None:
            seat = self._require_seat_index(wanted)
            if wanted == HOST_SEAT and member.role is not Role.HOST:
                raise RuleError(ErrorCode.SEAT_RESERVED, "seat 0 belongs to the host")
            if seat.locked:
                raise RuleError(ErrorCode.SEAT_LOCKED, f"seat {wanted} is locked")
            if seat.holder is not None:
                raise RuleError(ErrorCode.SEAT_TAKEN, f"seat {wanted} is taken")
            return wanted
        for seat in self.seats:
            if seat.index == HOST_SEAT and member.role is not Role.HOST:
                continue
            if seat.holder is None and not seat.locked:
                return seat.index
        raise RuleError(ErrorCode.NO_FREE_SEAT, "no free seat")

    # ------------------------------------------------------------------ mutations
    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _seat(self, user: str, index: int, reason: str, out: list[Emit]) -> None:
        self.seats[index].holder = user
        out.append(Emit(EVERYONE, SeatUpdated(self._seat_view(self.seats[index]), reason)))

    def _unseat(self, user: str, reason: str, out: list[Emit]) -> None:
        index = self.seat_of(user)
        if index is None:
            return
        self.seats[index].holder = None
        if self.consultation_of(user) is None:
            self.self_muted.discard(user)  # a fresh seat starts unmuted (a moderator mute stays)
        out.append(Emit(EVERYONE, SeatUpdated(self._seat_view(self.seats[index]), reason)))

    def _seat_changed(self, user: str, reason: str, out: list[Emit]) -> None:
        # A consultation shopper without a seat has no seat to show; the reply tells them.
        index = self.seat_of(user)
        if index is not None:
            out.append(Emit(EVERYONE, SeatUpdated(self._seat_view(self.seats[index]), reason)))

    def _dequeue(self, user: str, reason: str, out: list[Emit]) -> None:
        if user not in self.queue:
            return
        before = self._positions(self.queue_order())
        del self.queue[user]
        self._queue_changed(before, {user: reason}, out)

    def _drop_request(self, user: str, reason: str, out: list[Emit]) -> None:
        if user not in self.requests:
            return
        before = self._positions(self.request_order())
        del self.requests[user]
        self._requests_changed(before, {user: reason}, out)

    def _drop_invite(self, user: str, outcome: str, out: list[Emit]) -> None:
        invite = self.invites.pop(user, None)
        if invite is not None:
            out.append(Emit(TO_MODERATORS.plus(user), InviteEnded(user, invite.seat, outcome)))

    def _queue_changed(
        self, before: dict[str, int], removed: dict[str, str], out: list[Emit]
    ) -> None:
        out.append(Emit(TO_MODERATORS, QueueUpdated(self._queue_view())))
        self._tell_positions(
            before, self._positions(self.queue_order()), removed, QueuePosition, out
        )

    def _requests_changed(
        self, before: dict[str, int], removed: dict[str, str], out: list[Emit]
    ) -> None:
        out.append(Emit(TO_STAFF, RequestsUpdated(self._requests_view())))
        self._tell_positions(
            before, self._positions(self.request_order()), removed, RequestStatus, out
        )

    @staticmethod
    def _tell_positions(
        before: dict[str, int],
        after: dict[str, int],
        removed: dict[str, str],
        event: type[QueuePosition] | type[RequestStatus],
        out: list[Emit],
    ) -> None:
        for user, reason in removed.items():
            out.append(Emit(to_users(user), event(None, reason)))
        for user, pos in after.items():
            if before.get(user) != pos:
                reason = "joined" if user not in before else "moved"
                out.append(Emit(to_users(user), event(pos, reason)))

    def _open_consult(
        self,
        kind: ConsultKind,
        mode: ConsultMode,
        staff: Member,
        shopper: Member,
        now: float,
        out: list[Emit],
    ) -> None:
        consult = Consultation(self._next_consult, kind, mode, staff.user, shopper.user, now)
        self._next_consult += 1
        self.consultations[consult.id] = consult
        out.append(
            Emit(self._consult_audience(consult), ConsultationStarted(self._consult_view(consult)))
        )
        if kind is ConsultKind.STAGE:
            self._system(
                "consultation_started",
                {"mode": mode.value, "host": staff.name, "shopper": shopper.name},
                now,
                out,
            )

    def _end_consult(
        self, consult: Consultation, by: str | None, reason: str, out: list[Emit]
    ) -> None:
        del self.consultations[consult.id]
        for user in (consult.staff, consult.shopper):
            if self.seat_of(user) is None:
                self.self_muted.discard(user)
        out.append(
            Emit(
                self._consult_audience(consult),
                ConsultationEnded(consult.id, consult.kind.value, by, reason),
            )
        )

    def _consult_audience(self, consult: Consultation) -> Audience:
        if consult.kind is ConsultKind.STAGE:
            return EVERYONE
        return TO_STAFF.plus(consult.staff, consult.shopper)

    def _remove_member(self, user: str, reason: str, out: list[Emit]) -> None:
        consult = self.consultation_of(user)
        if consult is not None:
            self._end_consult(consult, None, "left", out)
        self._dequeue(user, "left", out)
        self._drop_request(user, "left", out)
        self._drop_invite(user, "cancelled", out)
        self._unseat(user, "left", out)
        self.self_muted.discard(user)
        self.moderator_muted.discard(user)
        del self.members[user]
        out.append(Emit(TO_STAFF.plus(user), MemberLeft(user, reason)))

    def _post(self, message: ChatMessageView, out: list[Emit]) -> None:
        self._next_chat += 1
        self.chat.append(message)
        out.append(Emit(EVERYONE, ChatPosted(message)))

    def _system(self, code: str, params: dict[str, str], now: float, out: list[Emit]) -> None:
        self._post(ChatMessageView(self._next_chat, now, "system", code=code, params=params), out)

    # ------------------------------------------------------------------ views
    def _seat_view(self, seat: Seat) -> SeatView:
        if seat.holder is None:
            status = SeatStatus.LOCKED if seat.locked else SeatStatus.FREE
            return SeatView(seat.index, status.value)
        member = self.members[seat.holder]
        return SeatView(
            seat.index,
            SeatStatus.TAKEN.value,
            member.user,
            member.name,
            member.tier,
            member.user in self.self_muted,
            member.user in self.moderator_muted,
        )

    @staticmethod
    def _positions(order: list[Waiting]) -> dict[str, int]:
        return {w.user: i for i, w in enumerate(order, start=1)}

    def _queue_view(self) -> tuple[QueueEntryView, ...]:
        return tuple(
            QueueEntryView(w.user, self.members[w.user].name, self.members[w.user].tier, i, w.at)
            for i, w in enumerate(self.queue_order(), start=1)
        )

    def _requests_view(self) -> tuple[RequestView, ...]:
        return tuple(
            RequestView(w.user, self.members[w.user].name, self.members[w.user].tier, w.note, w.at)
            for w in self.request_order()
        )

    def _consult_view(self, k: Consultation) -> ConsultationView:
        return ConsultationView(
            k.id,
            k.kind.value,
            k.mode.value,
            k.staff,
            self.members[k.staff].name,
            k.shopper,
            self.members[k.shopper].name,
            k.started_at,
        )

    def _invite_event(self, invite: Invite) -> InviteReceived:
        by = self.members.get(invite.by)
        return InviteReceived(
            invite.seat, invite.by, by.name if by else invite.by, invite.expires_at
        )


# Dispatch table: one handler per command type. A missing entry is a KeyError in handle()
# and fails tests/room/test_tables.py.
_HANDLERS: dict[type[c.Command], Handler] = {
    c.SendChat: Room._send_chat,
    c.TakeSeat: Room._take_seat,
    c.LeaveSeat: Room._leave_seat,
    c.MoveSeat: Room._move_seat,
    c.InviteToSeat: Room._invite,
    c.AcceptInvite: Room._accept_invite,
    c.DeclineInvite: Room._decline_invite,
    c.Demote: Room._demote,
    c.LockSeat: Room._lock,
    c.UnlockSeat: Room._unlock,
    c.MuteSelf: Room._mute_self,
    c.UnmuteSelf: Room._unmute_self,
    c.MuteSeat: Room._mute_seat,
    c.UnmuteSeat: Room._unmute_seat,
    c.RaiseHand: Room._raise_hand,
    c.LowerHand: Room._lower_hand,
    c.Promote: Room._promote,
    c.Deny: Room._deny,
    c.ScheduleShow: Room._schedule,
    c.StartShow: Room._start_show,
    c.EndRoom: Room._end_room,
    c.Kick: Room._kick,
    c.SetRole: Room._set_role,
    c.StartConsultation: Room._start_consult,
    c.SetConsultationMode: Room._set_consult_mode,
    c.EndConsultation: Room._end_consultation,
    c.RequestConsultation: Room._request,
    c.CancelRequest: Room._cancel_request,
    c.AcceptRequest: Room._accept_request,
    c.PlayMusic: Room._play_music,
    c.StopMusic: Room._stop_music,
}

HANDLED: frozenset[type[c.Command]] = frozenset(_HANDLERS)

# What the server may do on its own authority: moderation that needs no seat, stage or
# library of its own (the HTTP API's mute / remove / set-role / schedule / start / end).
SERVER_COMMANDS: frozenset[type[c.Command]] = frozenset(
    {
        c.InviteToSeat,
        c.Demote,
        c.LockSeat,
        c.UnlockSeat,
        c.MuteSeat,
        c.UnmuteSeat,
        c.Promote,
        c.Deny,
        c.ScheduleShow,
        c.StartShow,
        c.EndRoom,
        c.Kick,
        c.SetRole,
    }
)
