"""Commands of the shop: products and the showcase, flash sales, coupon drops, group buys.

Frozen dataclasses with namespaced wire names, like :mod:`voiceroom.room.commands`. The
sender is never a field. Money is an ``int`` of minor units (cents, halalas; yen are
whole), never a float; ``currency`` is an ISO 4217 code. Times are UTC epoch seconds
(``float``) and durations seconds. Fields that hold several values (``titles``,
``options``, ``codes``) arrive from msgpack as maps and arrays; the handlers check every
element's type, since the same commands also come from the server's own entry points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from voiceroom.room.commands import Command


# --- products and the showcase ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AddProduct(Command):
    """Add a product to the room's catalog. ``titles`` maps a locale (``en``, ``ar``) to
    the title in it; ``price`` is in minor units of ``currency``; ``stock`` is the units
    the room may sell."""

    TYPE: ClassVar[str] = "product.add"
    id: str
    titles: dict[str, str]
    price: int
    currency: str
    stock: int
    image: str = ""
    url: str = ""
    options: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RestockProduct(Command):
    """Add ``units`` (1 or more) to a product's stock."""

    TYPE: ClassVar[str] = "product.restock"
    product: str
    units: int


@dataclass(frozen=True, slots=True)
class RemoveProduct(Command):
    """Take a product off the catalog (not while a sale or group buy holds its units)."""

    TYPE: ClassVar[str] = "product.remove"
    product: str


@dataclass(frozen=True, slots=True)
class PinProduct(Command):
    """Show a product as "now showing" to everyone."""

    TYPE: ClassVar[str] = "product.pin"
    product: str


@dataclass(frozen=True, slots=True)
class UnpinProduct(Command):
    TYPE: ClassVar[str] = "product.unpin"


# --- flash sales -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StartSale(Command):
    """Put ``quantity`` units of ``product`` on sale at ``price`` (minor units, the
    product's currency) for ``duration`` seconds from ``starts_at`` (None: now). Each user
    may claim at most ``per_user_limit`` units. With ``early_tier``, only members of that
    tier may claim during the first ``early_seconds`` of the window."""

    TYPE: ClassVar[str] = "sale.start"
    product: str
    price: int
    quantity: int
    duration: float
    per_user_limit: int = 1
    starts_at: float | None = None
    early_tier: str | None = None
    early_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class ClaimSale(Command):
    """Claim ``quantity`` units of an open sale: all or nothing."""

    TYPE: ClassVar[str] = "sale.claim"
    sale: int
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class CloseSale(Command):
    """End an open or sold-out sale now, or cancel a scheduled one."""

    TYPE: ClassVar[str] = "sale.close"
    sale: int


# --- coupon drops ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DropCoupons(Command):
    """Drop coupons for ``duration`` seconds; one per user. Either ``codes`` (each code
    once), or ``code`` with ``uses`` (one code, ``uses`` claims), or neither: ``uses``
    distinct codes generated from the command's entropy. ``tier`` limits the drop to one
    tier. ``percent_off`` (1..100) or ``amount_off`` (minor units of ``currency``)
    describes the discount for display; the shop applies it at checkout."""

    TYPE: ClassVar[str] = "coupon.drop"
    NEEDS_ENTROPY: ClassVar[bool] = True
    duration: float
    codes: list[str] | None = None
    code: str | None = None
    uses: int = 0
    tier: str | None = None
    product: str | None = None
    percent_off: int = 0
    amount_off: int = 0
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimCoupon(Command):
    TYPE: ClassVar[str] = "coupon.claim"
    drop: int


@dataclass(frozen=True, slots=True)
class CloseCoupons(Command):
    TYPE: ClassVar[str] = "coupon.close"
    drop: int


# --- group buys ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StartGroupBuy(Command):
    """Offer ``product`` at ``price`` to groups of ``size`` shoppers: a group that fills
    within ``time_limit`` seconds of its first joiner completes, one that does not
    expires. The offer takes joiners for ``duration`` seconds."""

    TYPE: ClassVar[str] = "group.start"
    product: str
    price: int
    size: int
    time_limit: float
    duration: float


@dataclass(frozen=True, slots=True)
class JoinGroup(Command):
    """Join the filling group of a group buy (a new group starts when none is filling)."""

    TYPE: ClassVar[str] = "group.join"
    deal: int


@dataclass(frozen=True, slots=True)
class LeaveGroup(Command):
    """Leave a group that has not completed yet."""

    TYPE: ClassVar[str] = "group.leave"
    deal: int


@dataclass(frozen=True, slots=True)
class CloseGroupBuy(Command):
    """Stop a group buy: filling groups expire, completed ones stand."""

    TYPE: ClassVar[str] = "group.close"
    deal: int


COMMAND_TYPES: tuple[type[Command], ...] = (
    AddProduct,
    RestockProduct,
    RemoveProduct,
    PinProduct,
    UnpinProduct,
    StartSale,
    ClaimSale,
    CloseSale,
    DropCoupons,
    ClaimCoupon,
    CloseCoupons,
    StartGroupBuy,
    JoinGroup,
    LeaveGroup,
    CloseGroupBuy,
)

COMMANDS: dict[str, type[Command]] = {c.TYPE: c for c in COMMAND_TYPES}
assert len(COMMANDS) == len(COMMAND_TYPES), "duplicate commerce wire name"
