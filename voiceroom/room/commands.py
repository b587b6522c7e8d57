"""Commands a member can send to a room. Each is a frozen dataclass with a wire name.

The sender (``actor``) is never a field: the server passes the authenticated identity to
:meth:`voiceroom.room.core.Room.handle`. Fields are plain values so the protocol layer can
validate a wire map against the dataclass fields generically. ``None`` in an optional
target field means "the sender" (or "the next in line" where the docstring says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Command:
    TYPE: ClassVar[str] = ""


# --- chat ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SendChat(Command):
    TYPE: ClassVar[str] = "chat.send"
    text: str


# --- seats -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TakeSeat(Command):
    """Take a free seat (any free seat when ``seat`` is None), if policy allows."""

    TYPE: ClassVar[str] = "seat.take"
    seat: int | None = None


@dataclass(frozen=True, slots=True)
class LeaveSeat(Command):
    TYPE: ClassVar[str] = "seat.leave"


@dataclass(frozen=True, slots=True)
class MoveSeat(Command):
    """Move to another free seat; moderators may move another member (``user``)."""

    TYPE: ClassVar[str] = "seat.move"
    seat: int
    user: str | None = None


@dataclass(frozen=True, slots=True)
class InviteToSeat(Command):
    TYPE: ClassVar[str] = "seat.invite"
    user: str
    seat: int | None = None


@dataclass(frozen=True, slots=True)
class AcceptInvite(Command):
    TYPE: ClassVar[str] = "seat.accept_invite"


@dataclass(frozen=True, slots=True)
class DeclineInvite(Command):
    TYPE: ClassVar[str] = "seat.decline_invite"


@dataclass(frozen=True, slots=True)
class Demote(Command):
    """A moderator takes a member off their seat, back to the audience."""

    TYPE: ClassVar[str] = "seat.demote"
    user: str


@dataclass(frozen=True, slots=True)
class LockSeat(Command):
    TYPE: ClassVar[str] = "seat.lock"
    seat: int


@dataclass(frozen=True, slots=True)
class UnlockSeat(Command):
    TYPE: ClassVar[str] = "seat.unlock"
    seat: int


@dataclass(frozen=True, slots=True)
class MuteSelf(Command):
    TYPE: ClassVar[str] = "mic.mute"


@dataclass(frozen=True, slots=True)
class UnmuteSelf(Command):
    TYPE: ClassVar[str] = "mic.unmute"


@dataclass(frozen=True, slots=True)
class MuteSeat(Command):
    """A moderator mute; the seat holder cannot lift it."""

    TYPE: ClassVar[str] = "seat.mute"
    seat: int


@dataclass(frozen=True, slots=True)
class UnmuteSeat(Command):
    TYPE: ClassVar[str] = "seat.unmute"
    seat: int


# --- speaker queue (raise hand) -------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RaiseHand(Command):
    TYPE: ClassVar[str] = "queue.join"


@dataclass(frozen=True, slots=True)
class LowerHand(Command):
    TYPE: ClassVar[str] = "queue.cancel"


@dataclass(frozen=True, slots=True)
class Promote(Command):
    """Seat a queued member: ``user`` None promotes the head of the queue."""

    TYPE: ClassVar[str] = "queue.promote"
    user: str | None = None
    seat: int | None = None


@dataclass(frozen=True, slots=True)
class Deny(Command):
    TYPE: ClassVar[str] = "queue.deny"
    user: str


# --- room and phases -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ScheduleShow(Command):
    """Set (or clear, with None) the advertised show start, UTC epoch seconds."""

    TYPE: ClassVar[str] = "room.schedule"
    starts_at: float | None = None


@dataclass(frozen=True, slots=True)
class StartShow(Command):
    TYPE: ClassVar[str] = "room.start_show"


@dataclass(frozen=True, slots=True)
class EndRoom(Command):
    TYPE: ClassVar[str] = "room.end"


@dataclass(frozen=True, slots=True)
class Kick(Command):
    """Remove a member from the room; they cannot rejoin it."""

    TYPE: ClassVar[str] = "room.kick"
    user: str


@dataclass(frozen=True, slots=True)
class SetRole(Command):
    """The host appoints a co-host or agent, or returns someone to the audience."""

    TYPE: ClassVar[str] = "room.set_role"
    user: str
    role: str


# --- consultations (1v1) ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StartConsultation(Command):
    """Switch the show to a 1v1 with ``user`` (listen_in or private)."""

    TYPE: ClassVar[str] = "consult.start"
    user: str
    mode: str


@dataclass(frozen=True, slots=True)
class SetConsultationMode(Command):
    """Switch the show's running 1v1 between listen_in and private, in place: same pair,
    same id, no gap (the media plane follows the new routing on its next tick)."""

    TYPE: ClassVar[str] = "consult.set_mode"
    id: int
    mode: str


@dataclass(frozen=True, slots=True)
class EndConsultation(Command):
    """End a consultation by id: staff in it, a moderator, or the shopper may end it."""

    TYPE: ClassVar[str] = "consult.end"
    id: int


@dataclass(frozen=True, slots=True)
class RequestConsultation(Command):
    TYPE: ClassVar[str] = "consult.request"
    note: str = ""


@dataclass(frozen=True, slots=True)
class CancelRequest(Command):
    TYPE: ClassVar[str] = "consult.cancel_request"


@dataclass(frozen=True, slots=True)
class AcceptRequest(Command):
    """An agent takes a waiting request: ``user`` None takes the head of the queue."""

    TYPE: ClassVar[str] = "consult.accept"
    user: str | None = None


# --- warm-up music ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PlayMusic(Command):
    """Play a track from the server's music library into the room mix."""

    TYPE: ClassVar[str] = "music.play"
    track: str
    gain: float = 0.5
    loop: bool = True


@dataclass(frozen=True, slots=True)
class StopMusic(Command):
    TYPE: ClassVar[str] = "music.stop"


COMMAND_TYPES: tuple[type[Command], ...] = (
    SendChat,
    TakeSeat,
    LeaveSeat,
    MoveSeat,
    InviteToSeat,
    AcceptInvite,
    DeclineInvite,
    Demote,
    LockSeat,
    UnlockSeat,
    MuteSelf,
    UnmuteSelf,
    MuteSeat,
    UnmuteSeat,
    RaiseHand,
    LowerHand,
    Promote,
    Deny,
    ScheduleShow,
    StartShow,
    EndRoom,
    Kick,
    SetRole,
    StartConsultation,
    SetConsultationMode,
    EndConsultation,
    RequestConsultation,
    CancelRequest,
    AcceptRequest,
    PlayMusic,
    StopMusic,
)

COMMANDS: dict[str, type[Command]] = {c.TYPE: c for c in COMMAND_TYPES}
