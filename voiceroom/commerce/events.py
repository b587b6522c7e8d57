"""Events of the shop and the views they carry (wire-safe frozen dataclasses).

Sequenced events (replayed on resume) report lifecycle moves: a product added, a sale
opened or sold out, a claim, a coupon, a group that completed. The high-rate counters
(units left, group progress) are *ephemeral*: ``EPHEMERAL = True``, no ``seq``, and the
core sends at most one per entity per :data:`LEFT_INTERVAL` seconds with the latest value,
so a thousand claims are not a thousand events to every member.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from voiceroom.room.events import Event

LEFT_INTERVAL = 1.0  # seconds between two ephemeral counter events of one entity


# --- views -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ProductView:
    id: str
    titles: dict[str, str]  # locale -> title
    image: str
    price: int  # minor units of currency
    currency: str  # ISO 4217
    exponent: int  # minor units per major unit = 10 ** exponent
    stock: int  # units not held by an offer and not sold
    sold: int
    url: str
    options: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SaleView:
    id: int
    product: str
    price: int
    list_price: int
    currency: str
    exponent: int
    quantity: int
    left: int
    per_user_limit: int
    starts_at: float
    ends_at: float
    early_tier: str | None
    early_until: float  # == starts_at without early access
    state: str  # scheduled, open, sold_out, closed


@dataclass(frozen=True, slots=True)
class ClaimView:
    id: int
    sale: int
    product: str
    user: str
    quantity: int
    price: int  # per unit, minor units
    currency: str
    at: float
    expires_at: float  # the reservation holds until then (checkout happens at the shop)


@dataclass(frozen=True, slots=True)
class CouponDropView:
    id: int
    kind: str  # codes (each code once) or shared (one code, many uses)
    total: int
    left: int
    tier: str | None
    product: str | None
    percent_off: int
    amount_off: int
    currency: str | None
    expires_at: float
    state: str  # open, gone, closed


@dataclass(frozen=True, slots=True)
class CouponView:
    drop: int
    code: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class GroupView:
    deal: int
    group: int
    joined: int
    size: int
    started_at: float
    expires_at: float
    state: str  # filling, complete, expired


@dataclass(frozen=True, slots=True)
class GroupDealView:
    id: int
    product: str
    price: int
    list_price: int
    currency: str
    exponent: int
    size: int
    time_limit: float
    ends_at: float
    state: str  # open, closed
    filling: GroupView | None  # the group a joiner would join now
    completed: int  # groups that completed


# --- products --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ProductAdded(Event):
    TYPE: ClassVar[str] = "product.added"
    product: ProductView


@dataclass(frozen=True, slots=True)
class ProductUpdated(Event):
    """``reason``: restocked, released (an offer gave units back), offered."""

    TYPE: ClassVar[str] = "product.updated"
    product: ProductView
    reason: str


@dataclass(frozen=True, slots=True)
class ProductRemoved(Event):
    TYPE: ClassVar[str] = "product.removed"
    product: str


@dataclass(frozen=True, slots=True)
class ProductShowing(Event):
    """The "now showing" product, or None."""

    TYPE: ClassVar[str] = "product.showing"
    product: str | None


@dataclass(frozen=True, slots=True)
class ProductStock(Event):
    """Ephemeral, rate-limited: a product's stock after group-buy joins."""

    TYPE: ClassVar[str] = "product.stock"
    EPHEMERAL: ClassVar[bool] = True
    product: str
    stock: int


# --- sales -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SaleUpdated(Event):
    """The whole sale, and why: scheduled, opened, sold_out, closed (by a moderator),
    cancelled (closed before it opened), ended (the window passed), room_ended."""

    TYPE: ClassVar[str] = "sale.updated"
    sale: SaleView
    reason: str


@dataclass(frozen=True, slots=True)
class SaleClaimed(Event):
    """To the claimant: the claim id and how long the reservation holds."""

    TYPE: ClassVar[str] = "sale.claimed"
    claim: ClaimView


@dataclass(frozen=True, slots=True)
class SaleLeft(Event):
    """Ephemeral, rate-limited: units left in an open sale."""

    TYPE: ClassVar[str] = "sale.left"
    EPHEMERAL: ClassVar[bool] = True
    sale: int
    left: int


# --- coupons ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CouponUpdated(Event):
    """The drop (never its codes), and why: dropped, gone, closed, expired, room_ended."""

    TYPE: ClassVar[str] = "coupon.updated"
    drop: CouponDropView
    reason: str


@dataclass(frozen=True, slots=True)
class CouponClaimed(Event):
    """To the claimant only: the code."""

    TYPE: ClassVar[str] = "coupon.claimed"
    coupon: CouponView


@dataclass(frozen=True, slots=True)
class CouponLeft(Event):
    """Ephemeral, rate-limited: coupons left in a drop."""

    TYPE: ClassVar[str] = "coupon.left"
    EPHEMERAL: ClassVar[bool] = True
    drop: int
    left: int


# --- group buys ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GroupDealUpdated(Event):
    """The group buy, and why: started, group_started (a first joiner opened a group:
    its clock runs), completed (a group completed), expired (the filling group ran out of
    time), closed, ended, room_ended."""

    TYPE: ClassVar[str] = "group.updated"
    deal: GroupDealView
    reason: str


@dataclass(frozen=True, slots=True)
class GroupStatus(Event):
    """To the members of one group: its state after ``reason``: joined (someone joined),
    left, completed (the group price is yours), expired (time ran out or the offer
    closed; nothing is bought)."""

    TYPE: ClassVar[str] = "group.status"
    group: GroupView
    reason: str


@dataclass(frozen=True, slots=True)
class GroupProgress(Event):
    """Ephemeral, rate-limited, for everyone: the filling group's progress ("3 of 5")."""

    TYPE: ClassVar[str] = "group.progress"
    EPHEMERAL: ClassVar[bool] = True
    deal: int
    group: int
    joined: int
    size: int


EVENT_TYPES: tuple[type[Event], ...] = (
    ProductAdded,
    ProductUpdated,
    ProductRemoved,
    ProductShowing,
    ProductStock,
    SaleUpdated,
    SaleClaimed,
    SaleLeft,
    CouponUpdated,
    CouponClaimed,
    CouponLeft,
    GroupDealUpdated,
    GroupStatus,
    GroupProgress,
)
EPHEMERAL_TYPES: frozenset[type[Event]] = frozenset(
    e for e in EVENT_TYPES if getattr(e, "EPHEMERAL", False)
)
