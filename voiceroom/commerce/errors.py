"""Commerce error codes: the shop's own code space, beside the room's ``ErrorCode``.

Raised as :class:`voiceroom.room.errors.RuleError` (which accepts any ``StrEnum``); the
shop's state is unchanged whenever one is raised. Role and phase refusals (``forbidden``,
``wrong_phase``, ``room_ended``) are the room's codes, raised by the venue before a
handler runs. Never renumber or rename: clients localise by code.
"""

from __future__ import annotations

from enum import StrEnum

from voiceroom.room.errors import RuleError


class CommerceCode(StrEnum):
    """Stable wire codes (``error.code``) of the commerce core."""

    BAD_OFFER = "bad_offer"  # a malformed argument: id, title, URL, duration, limit...
    BAD_PRICE = "bad_price"  # not an integer amount of minor units, or out of range
    BAD_CURRENCY = "bad_currency"  # not an ISO 4217 code, or not the product's currency
    NO_SUCH_PRODUCT = "no_such_product"
    PRODUCT_EXISTS = "product_exists"
    PRODUCT_BUSY = "product_busy"  # a sale or group buy still holds the product's units
    CATALOG_FULL = "catalog_full"
    OUT_OF_STOCK = "out_of_stock"  # not enough stock to put on offer
    NO_SUCH_SALE = "no_such_sale"
    SALE_NOT_OPEN = "sale_not_open"  # scheduled: too early
    SALE_CLOSED = "sale_closed"  # ended, closed or cancelled: too late
    SOLD_OUT = "sold_out"
    LIMIT_REACHED = "limit_reached"  # the per-user limit
    EARLY_ACCESS = "early_access"  # the sale is open to one tier only, for now
    NO_SUCH_COUPON = "no_such_coupon"
    COUPON_USED = "coupon_used"  # this user already claimed from this drop
    COUPONS_GONE = "coupons_gone"  # every code (or use) is taken
    COUPON_EXPIRED = "coupon_expired"
    NOT_ELIGIBLE = "not_eligible"  # the drop is for another tier
    NO_SUCH_GROUP = "no_such_group"
    ALREADY_JOINED = "already_joined"
    NOT_JOINED = "not_joined"
    GROUP_CLOSED = "group_closed"
    TOO_MANY_OFFERS = "too_many_offers"  # live sales / drops / group buys per room
    WRONG_STATE = "wrong_state"  # the entity's lifecycle has no such move now


def fail(code: CommerceCode, message: str) -> RuleError:
    """``raise fail(...)``: a RuleError with a commerce code."""
    return RuleError(code, message)


__all__ = ["CommerceCode", "fail"]
