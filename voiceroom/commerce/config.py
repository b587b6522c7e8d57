"""Limits and timings of a room's shop."""

from __future__ import annotations

from dataclasses import dataclass

from voiceroom.commerce.errors import CommerceCode, fail


@dataclass(frozen=True, slots=True)
class ShopConfig:
    max_products: int = 200
    max_stock: int = 1_000_000  # units of one product
    max_live_offers: int = 20  # of each kind (sales, coupon drops, group buys) not closed
    max_codes: int = 10_000  # coupons in one drop
    max_group_size: int = 100
    max_per_user: int = 100  # per-user limit of a sale
    max_duration: float = 7 * 86400.0  # longest sale, drop or group buy; furthest schedule
    reservation_ttl: float = 900.0  # a claim holds its units this long for checkout
    history: int = 10  # closed offers kept in snapshots

    def __post_init__(self) -> None:
        for name in ("max_products", "max_stock", "max_live_offers", "max_codes", "history"):
            if getattr(self, name) < 1:
                raise fail(CommerceCode.BAD_OFFER, f"{name} must be at least 1")
        if self.max_group_size < 2 or self.max_per_user < 1:
            raise fail(CommerceCode.BAD_OFFER, "max_group_size >= 2 and max_per_user >= 1")
        if not (self.max_duration > 0 and self.reservation_ttl > 0):
            raise fail(CommerceCode.BAD_OFFER, "durations must be positive")
