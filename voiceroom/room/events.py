"""Events the room emits, and to whom.

:meth:`Room.handle` returns a list of :class:`Emit`: an event plus its :class:`Audience`.
The signalling layer numbers them (per-room sequence) and delivers each to the connections
the audience selects. Events are frozen dataclasses of wire-safe values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from voiceroom.room.model import (
    MODERATORS,
    STAFF,
    ChatMessageView,
    ConsultationView,
    MemberView,
    QueueEntryView,
    RequestView,
    Role,
    SeatView,
)


@dataclass(frozen=True, slots=True)
class Audience:
    """Who receives an event: members whose role is in ``roles`` (None: every member),
    plus the named ``users``."""

    roles: frozenset[Role] | None = frozenset()
    users: frozenset[str] = frozenset()

    def includes(self, user: str, role: Role) -> bool:
        return self.roles is None or role in self.roles or user in self.users

    def plus(self, *users: str) -> Audience:
        return Audience(self.roles, self.users | frozenset(users))


EVERYONE = Audience(roles=None)
TO_MODERATORS = Audience(roles=MODERATORS)
TO_STAFF = Audience(roles=STAFF)


def to_users(*users: str) -> Audience:
    return Audience(users=frozenset(users))


@dataclass(frozen=True, slots=True)
class Event:
    TYPE: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class Emit:
    to: Audience
    event: Event


@dataclass(frozen=True, slots=True)
class MemberJoined(Event):
    TYPE: ClassVar[str] = "member.joined"
    member: MemberView


@dataclass(frozen=True, slots=True)
class MemberLeft(Event):
    """``reason``: left, kicked, timeout (reconnect grace ran out), ended."""

    TYPE: ClassVar[str] = "member.left"
    user: str
    reason: str


@dataclass(frozen=True, slots=True)
class PresenceChanged(Event):
    TYPE: ClassVar[str] = "member.presence"
    user: str
    connected: bool


@dataclass(frozen=True, slots=True)
class RoleChanged(Event):
    TYPE: ClassVar[str] = "member.role"
    user: str
    role: str


@dataclass(frozen=True, slots=True)
class SeatUpdated(Event):
    """The whole new state of one seat, and why it changed (e.g. taken, promoted, muted)."""

    TYPE: ClassVar[str] = "seat.updated"
    seat: SeatView
    reason: str


@dataclass(frozen=True, slots=True)
class QueueUpdated(Event):
    """The full speaker queue in order; moderators only."""

    TYPE: ClassVar[str] = "queue.updated"
    entries: tuple[QueueEntryView, ...]


@dataclass(frozen=True, slots=True)
class QueuePosition(Event):
    """The receiver's own place in the queue (1-based) and why: joined, moved; or None when
    out of it and why: cancelled, promoted, denied, invited, seated, left, role_changed,
    room_ended."""

    TYPE: ClassVar[str] = "queue.position"
    position: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class InviteReceived(Event):
    TYPE: ClassVar[str] = "invite.received"
    seat: int
    by: str
    by_name: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class InviteEnded(Event):
    """``outcome``: accepted, declined, expired, cancelled."""

    TYPE: ClassVar[str] = "invite.ended"
    user: str
    seat: int
    outcome: str


@dataclass(frozen=True, slots=True)
class PhaseChanged(Event):
    TYPE: ClassVar[str] = "room.phase"
    phase: str
    show_starts_at: float | None


@dataclass(frozen=True, slots=True)
class ConsultationStarted(Event):
    TYPE: ClassVar[str] = "consult.started"
    consultation: ConsultationView


@dataclass(frozen=True, slots=True)
class ConsultationUpdated(Event):
    """A running consultation changed in place (consult.set_mode): the whole view, and who
    changed it."""

    TYPE: ClassVar[str] = "consult.updated"
    consultation: ConsultationView
    by: str


@dataclass(frozen=True, slots=True)
class ConsultationEnded(Event):
    """``reason``: ended (by a participant or moderator), left, room_ended."""

    TYPE: ClassVar[str] = "consult.ended"
    id: int
    kind: str
    by: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class RequestsUpdated(Event):
    """Waiting private-consultation requests in order; staff only."""

    TYPE: ClassVar[str] = "consult.requests"
    requests: tuple[RequestView, ...]


@dataclass(frozen=True, slots=True)
class RequestStatus(Event):
    """The receiver's own request: its place (1-based), or None and why it ended:
    joined, moved (position changed), or why it ended: cancelled, accepted, left,
    role_changed, room_ended."""

    TYPE: ClassVar[str] = "consult.request_status"
    position: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class ChatPosted(Event):
    TYPE: ClassVar[str] = "chat.message"
    message: ChatMessageView


@dataclass(frozen=True, slots=True)
class MusicChanged(Event):
    """Warm-up music: ``track`` None means stopped."""

    TYPE: ClassVar[str] = "music.changed"
    track: str | None
    gain: float
    loop: bool


@dataclass(frozen=True, slots=True)
class TierChanged(Event):
    """A member's tier changed (grown by the games core, or set by the server API)."""

    TYPE: ClassVar[str] = "member.tier"
    user: str
    tier: str


EVENT_TYPES: tuple[type[Event], ...] = (
    MemberJoined,
    MemberLeft,
    PresenceChanged,
    RoleChanged,
    TierChanged,
    SeatUpdated,
    QueueUpdated,
    QueuePosition,
    InviteReceived,
    InviteEnded,
    PhaseChanged,
    ConsultationStarted,
    ConsultationUpdated,
    ConsultationEnded,
    RequestsUpdated,
    RequestStatus,
    ChatPosted,
    MusicChanged,
)
