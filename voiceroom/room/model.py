"""Vocabulary of the room: roles, phases, seats, consultations, and the read-only views
that events and snapshots carry. Views are plain frozen dataclasses of wire-safe values
(str, int, float, bool, None, tuples, dicts), so the protocol layer can serialise them as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from voiceroom.room.errors import ErrorCode, RuleError


class Role(StrEnum):
    """Granted by the signed join token or by a host's action; never by the client."""

    HOST = "host"
    COHOST = "cohost"
    AGENT = "agent"  # sales staff: takes private consultations
    LISTENER = "listener"  # a listener on a seat is a "speaker"; that is state, not a role


MODERATORS = frozenset({Role.HOST, Role.COHOST})
STAFF = frozenset({Role.HOST, Role.COHOST, Role.AGENT})
ALL_ROLES = frozenset(Role)


class Phase(StrEnum):
    WARMUP = "warmup"  # pre-show: free chat, free seats if the room allows it
    SHOW = "show"  # seats under host control, the speaker queue is open
    ENDED = "ended"


class SeatStatus(StrEnum):
    FREE = "free"
    TAKEN = "taken"
    LOCKED = "locked"


class ConsultKind(StrEnum):
    STAGE = "stage"  # the host switches the show to a 1v1 with one shopper
    AGENT = "agent"  # a shopper's private call with a sales agent


class ConsultMode(StrEnum):
    LISTEN_IN = "listen_in"  # the room hears the pair; only the pair speak
    PRIVATE = "private"  # only the pair hear each other; the show goes on


MAX_SEATS = 16
HOST_SEAT = 0


@dataclass(frozen=True, slots=True)
class RoomConfig:
    """Per-room policy. Defaults are what a live-commerce voice room usually wants."""

    # Limits
    seat_count: int = 8
    max_members: int = 5000
    queue_max: int = 1000
    chat_max_chars: int = 500
    chat_history: int = 100
    # Speaker-queue order, highest priority first; unknown tiers rank last.
    tiers: tuple[str, ...] = ("vip", "active", "new")
    # Policy
    warmup_open_seats: bool = True  # in warm-up anyone may take a free seat
    # Gain of the show under a private consultation, for the shopper only (0 = silent).
    private_duck_gain: float = 0.0
    # Timeouts (seconds)
    invite_ttl: float = 30.0
    reconnect_grace: float = 20.0
    # Scheduled show start, a UTC instant (epoch seconds), shown as a countdown in warm-up.
    show_starts_at: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.seat_count <= MAX_SEATS:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, f"seat_count must be 1..{MAX_SEATS}")
        if not self.tiers:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "tiers must name at least one tier")
        if not 0.0 <= self.private_duck_gain <= 1.0:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "private_duck_gain must be 0..1")
        for name in ("invite_ttl", "reconnect_grace"):
            if getattr(self, name) <= 0:
                raise RuleError(ErrorCode.INVALID_ARGUMENT, f"{name} must be positive")
        for name in ("max_members", "queue_max", "chat_max_chars", "chat_history"):
            if getattr(self, name) < 1:
                raise RuleError(ErrorCode.INVALID_ARGUMENT, f"{name} must be at least 1")

    def tier_rank(self, tier: str) -> int:
        """0 is the highest priority."""
        try:
            return self.tiers.index(tier)
        except ValueError:
            return len(self.tiers)


@dataclass(frozen=True, slots=True)
class Profile:
    """Who a member is, as the signed token says."""

    user: str
    name: str
    role: Role
    tier: str = "new"
    locale: str = "en"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who sends a command to a core beside the room (commerce, games): identity, role,
    tier and locale as the room knows them *now*. Built by ``Room.actor(user)``; the other
    cores never see the ``Room`` itself and keep no roles of their own."""

    user: str
    name: str
    role: Role
    tier: str
    locale: str


# --- Views: what events and snapshots carry -------------------------------------------


@dataclass(frozen=True, slots=True)
class MemberView:
    user: str
    name: str
    role: str
    tier: str
    locale: str
    connected: bool


@dataclass(frozen=True, slots=True)
class SeatView:
    index: int
    status: str
    user: str | None = None
    name: str | None = None
    tier: str | None = None
    self_muted: bool = False
    moderator_muted: bool = False


@dataclass(frozen=True, slots=True)
class QueueEntryView:
    user: str
    name: str
    tier: str
    position: int  # 1-based
    raised_at: float


@dataclass(frozen=True, slots=True)
class ConsultationView:
    id: int
    kind: str
    mode: str
    staff: str
    staff_name: str
    shopper: str
    shopper_name: str
    started_at: float


@dataclass(frozen=True, slots=True)
class RequestView:
    user: str
    name: str
    tier: str
    note: str
    requested_at: float


@dataclass(frozen=True, slots=True)
class ChatMessageView:
    id: int
    at: float
    kind: str  # "user" or "system"
    user: str | None = None
    name: str | None = None
    text: str = ""
    # System messages carry a code and parameters, not prose: clients localise them.
    code: str | None = None
    params: dict[str, str] = field(default_factory=dict)
