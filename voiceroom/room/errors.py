"""Typed rule errors with stable wire codes.

A :class:`RuleError` means "the command was understood but the room's rules say no".
The room guarantees that when it raises, its state is exactly what it was before.
"""

from __future__ import annotations

from enum import StrEnum

from voiceroom.errors import VoiceroomError


class ErrorCode(StrEnum):
    """Stable error codes sent on the wire (``error.code``). Never renumber or rename."""

    # Rules of the room (raised by the pure core).
    FORBIDDEN = "forbidden"  # the sender's role may not issue this command
    WRONG_PHASE = "wrong_phase"  # not allowed in the room's current phase
    ROOM_ENDED = "room_ended"
    ROOM_FULL = "room_full"
    BANNED = "banned"  # kicked from this room earlier
    UNKNOWN_USER = "unknown_user"
    INVALID_ARGUMENT = "invalid_argument"
    NO_SUCH_SEAT = "no_such_seat"
    SEAT_TAKEN = "seat_taken"
    SEAT_LOCKED = "seat_locked"
    SEAT_RESERVED = "seat_reserved"  # seat 0 belongs to the host
    NO_FREE_SEAT = "no_free_seat"
    SEAT_POLICY = "seat_policy"  # free seats are not open to self-service now
    NOT_SEATED = "not_seated"
    ALREADY_SEATED = "already_seated"
    MUTED_BY_MODERATOR = "muted_by_moderator"
    ALREADY_QUEUED = "already_queued"
    NOT_QUEUED = "not_queued"
    QUEUE_EMPTY = "queue_empty"
    QUEUE_FULL = "queue_full"
    NO_INVITE = "no_invite"
    INVITE_PENDING = "invite_pending"
    IN_CONSULTATION = "in_consultation"
    NO_CONSULTATION = "no_consultation"
    CONSULTATION_ACTIVE = "consultation_active"
    ALREADY_REQUESTED = "already_requested"
    NO_REQUEST = "no_request"
    CHAT_EMPTY = "chat_empty"
    CHAT_TOO_LONG = "chat_too_long"
    # Protocol and transport (raised outside the core, same code space).
    BAD_FRAME = "bad_frame"  # not msgpack, not a map, too large
    BAD_VERSION = "bad_version"
    UNKNOWN_TYPE = "unknown_type"
    BAD_FIELD = "bad_field"  # missing, extra or wrongly typed field
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    MEDIA_ERROR = "media_error"
    INTERNAL = "internal"


class RuleError(VoiceroomError):
    """A command broke a room rule. The room's state is unchanged."""

    def __init__(self, code: StrEnum, message: str) -> None:
        # Any core's code enum (room ErrorCode, commerce, games): one wire code space.
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
