"""The API's typed bodies (pydantic): they validate requests and generate the OpenAPI 3.1
document (docs/openapi.json). Times are RFC 3339 instants; naive ones are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from voiceroom.commerce.events import (
    ClaimView,
    CouponDropView,
    GroupDealView,
    ProductView,
    SaleView,
)
from voiceroom.games.events import (
    GuessOpened,
    GuessRevealed,
    LeaderEntry,
    LotteryDrawn,
    LotteryOpened,
    VoteClosed,
    VoteOpened,
)
from voiceroom.room.model import MAX_SEATS, Role

RoomId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", examples=["riyadh-evening"])]
UserId = Annotated[str, Field(min_length=1, max_length=128, examples=["shopper-42"])]
Phase = Literal["warmup", "show", "ended"]
RoleName = Literal["host", "cohost", "agent", "listener"]


class Strict(BaseModel):
    """Request bodies: unknown fields refused, no type coercion ("5" is not 5, 0 is not
    false) — a shop's backend learns of its bug instead of having it guessed."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _instant_text(value: object) -> object:
    if not isinstance(value, str | datetime):
        raise ValueError("expected an RFC 3339 date-time string")
    return value


# An RFC 3339 string with an offset (strict models otherwise refuse strings for datetimes).
Instant = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_instant_text)]


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine-readable word, e.g. token_expired, seat_taken")
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


# ------------------------------------------------------------------------------ rooms
class Market(Strict):
    name: str = Field(min_length=1, max_length=64, examples=["riyadh"])
    time_zone: str = Field(
        description="IANA time zone of the market (zoneinfo), e.g. Asia/Riyadh",
        examples=["Asia/Riyadh"],
        max_length=64,
    )

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in _zones():
            raise ValueError(f"unknown IANA time zone {value!r}")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


class Policies(Strict):
    warmup_open_seats: bool = Field(True, description="in warm-up anyone may take a free seat")
    tiers: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        default_factory=lambda: ["vip", "active", "new"],
        min_length=1,
        max_length=16,
        description="speaker-queue priority, highest first",
    )
    max_members: int = Field(5000, ge=1, le=100_000)
    chat_max_chars: int = Field(500, ge=1, le=4000)
    private_duck_gain: float = Field(0.0, ge=0.0, le=1.0)
    reconnect_grace: float = Field(20.0, gt=0, le=3600)


class RoomCreate(Strict):
    id: RoomId | None = Field(None, description="room id; generated when omitted")
    title: str = Field(min_length=1, max_length=200)
    market: Market
    starts_at: Instant | None = Field(
        None, description="scheduled show start (an instant with its offset, stored as UTC)"
    )
    seat_count: int = Field(8, ge=1, le=MAX_SEATS)
    policies: Policies = Field(default_factory=lambda: Policies.model_validate({}))


class ScheduleUpdate(Strict):
    starts_at: Instant | None = Field(description="new show start, or null to clear it")


class SeatOut(BaseModel):
    index: int
    status: Literal["free", "taken", "locked"]
    user: str | None = None
    name: str | None = None
    tier: str | None = None
    self_muted: bool = False
    moderator_muted: bool = False


class ConsultationOut(BaseModel):
    id: int
    kind: str
    mode: str
    agent: str
    agent_name: str
    shopper: str
    shopper_name: str
    started_at: datetime


class LiveState(BaseModel):
    phase: Phase
    seats: list[SeatOut]
    queue_length: int
    requests_length: int
    member_count: int
    connected_count: int
    consultations: list[ConsultationOut]
    seq: int = Field(description="the room's event sequence number when read")


class RoomOut(BaseModel):
    id: str
    title: str
    market: Market | None
    phase: Phase
    starts_at: datetime | None = Field(description="UTC")
    starts_at_local: str | None = Field(
        description="the same instant in the market's time zone (ISO 8601 with offset)"
    )
    seat_count: int
    created_at: datetime | None
    live: LiveState | None = Field(None, description="present while the room is open")


class RoomList(BaseModel):
    rooms: list[RoomOut]


# ------------------------------------------------------------------------------ links
class LinkCreate(Strict):
    user: UserId
    name: str = Field(min_length=1, max_length=64)
    role: RoleName = Role.LISTENER.value
    tier: str = Field("new", min_length=1, max_length=32)
    locale: str = Field("en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    ttl: int = Field(3600, ge=60, le=7 * 24 * 3600, description="seconds")


class LinkOut(BaseModel):
    url: str = Field(description="open this in a browser to join")
    token: str = Field(description="the signed join token inside the url")
    expires_at: datetime


# ------------------------------------------------------------------------------ participants
class ParticipantOut(BaseModel):
    user: str
    name: str
    role: RoleName
    tier: str
    locale: str
    connected: bool
    seat: int | None
    queued: bool
    in_consultation: bool


class ParticipantList(BaseModel):
    participants: list[ParticipantOut]


class MuteUpdate(Strict):
    muted: bool = True


class RoleUpdate(Strict):
    role: Literal["cohost", "agent", "listener"]


class TierUpdate(Strict):
    tier: str = Field(min_length=1, max_length=32)


class Done(BaseModel):
    ok: Literal[True] = True
    seq: int = Field(description="the room's event sequence number after the change")


# ------------------------------------------------------------------------------ history
class ChatMessageOut(BaseModel):
    id: int
    at: float = Field(description="epoch seconds")
    kind: Literal["user", "system"]
    user: str | None = None
    name: str | None = None
    text: str = ""
    code: str | None = None
    params: dict[str, str] = Field(default_factory=dict)


class ChatPage(BaseModel):
    messages: list[ChatMessageOut]
    next_after: int | None = Field(description="pass as ?after= for the next page; null: end")


class ConsultationLogEntry(BaseModel):
    id: int
    kind: str
    mode: str | None = None
    agent: str | None = None
    agent_name: str | None = None
    shopper: str | None = None
    shopper_name: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    duration: float | None = Field(None, description="seconds")
    by: str | None = None
    reason: str | None = None


class ConsultationLog(BaseModel):
    consultations: list[ConsultationLogEntry]


# ------------------------------------------------------------------------------ webhooks
class EndpointCreate(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    url: str = Field(
        max_length=2000, pattern=r"^https?://", examples=["https://shop.example/hooks"]
    )
    secret: str | None = Field(None, description="whsec_ + base64; generated when omitted")
    events: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=lambda: ["*"],
        min_length=1,
        max_length=32,
        description="exact types, family.* or *; chat.message only when named exactly",
    )


class EndpointOut(BaseModel):
    name: str
    url: str
    events: list[str]


class EndpointCreated(EndpointOut):
    secret: str = Field(description="shown once: verify webhook-signature with it")


class EndpointList(BaseModel):
    endpoints: list[EndpointOut]


class DeliveryOut(BaseModel):
    id: int
    msg_id: str = Field(description="the webhook-id header")
    endpoint: str
    type: str
    state: Literal["pending", "delivered", "dead"]
    attempts: int
    created_at: float
    next_at: float
    last_status: int | None
    last_error: str | None
    delivered_at: float | None
    payload: dict[str, Any]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


# --- the room's shop and games (live: from the venue on the room's stream) --------------
# The cores' own wire views (frozen dataclasses) are the schema, so the API and the
# protocol describe a sale or a draw the same way (docs/protocol.md).
class ShopOut(BaseModel):
    room: str
    products: list[ProductView]
    showing: str | None = Field(description='the pinned "now showing" product')
    sales: list[SaleView] = Field(description="live sales (left = units left), then recent closed")
    claims: list[ClaimView] = Field(description="every claim of the room's sales, in order")
    coupons: list[CouponDropView] = Field(description="coupon drops (never their codes)")
    groups: list[GroupDealView]


class GamesOut(BaseModel):
    room: str
    lottery: LotteryOpened | None = Field(description="the open lottery (its seed stays secret)")
    last_draw: LotteryDrawn | None = Field(description="the latest draw: seed, entrants, winners")
    guess: GuessOpened | None
    guess_count: int
    last_guess: GuessRevealed | None
    vote: VoteOpened | None
    vote_tallies: list[int] | None
    last_vote: VoteClosed | None
    leaderboard: dict[str, list[LeaderEntry]]
