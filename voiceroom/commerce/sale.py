"""Flash sales: a quantity of one product at a sale price, for a window of time.

A sale holds its ``quantity`` units of the product from the moment it is started (so no
other offer can sell them), hands them out one claim at a time, and gives back what is
left when it closes. A claim is all or nothing: it never takes more than is left, never
takes a user past ``per_user_limit``, and never lands outside ``[starts_at, ends_at)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from voiceroom.commerce import checks
from voiceroom.commerce import commands as c
from voiceroom.commerce.catalog import Catalog
from voiceroom.commerce.config import ShopConfig
from voiceroom.commerce.errors import CommerceCode, fail
from voiceroom.commerce.events import ClaimView, SaleClaimed, SaleLeft, SaleUpdated, SaleView
from voiceroom.commerce.lifecycle import Move, Throttle, Trigger, ValueEq, next_state
from voiceroom.commerce.money import check_amount, exponent
from voiceroom.room.commands import Command
from voiceroom.room.events import EVERYONE, Emit, to_users
from voiceroom.room.model import Actor


class SaleState(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    SOLD_OUT = "sold_out"
    CLOSED = "closed"


TRANSITIONS: dict[SaleState, dict[Move, SaleState]] = {
    SaleState.SCHEDULED: {
        Trigger.START: SaleState.OPEN,
        c.CloseSale: SaleState.CLOSED,
        Trigger.ROOM_END: SaleState.CLOSED,
    },
    SaleState.OPEN: {
        c.ClaimSale: SaleState.OPEN,
        Trigger.SELL_OUT: SaleState.SOLD_OUT,
        c.CloseSale: SaleState.CLOSED,
        Trigger.END: SaleState.CLOSED,
        Trigger.ROOM_END: SaleState.CLOSED,
    },
    SaleState.SOLD_OUT: {
        c.CloseSale: SaleState.CLOSED,
        Trigger.END: SaleState.CLOSED,
        Trigger.ROOM_END: SaleState.CLOSED,
    },
    SaleState.CLOSED: {},
}
# What a refused claim tells the claimant (anything else refused: wrong_state).
REFUSALS: dict[tuple[SaleState, Move], CommerceCode] = {
    (SaleState.SCHEDULED, c.ClaimSale): CommerceCode.SALE_NOT_OPEN,
    (SaleState.SOLD_OUT, c.ClaimSale): CommerceCode.SOLD_OUT,
    (SaleState.CLOSED, c.ClaimSale): CommerceCode.SALE_CLOSED,
    (SaleState.CLOSED, c.CloseSale): CommerceCode.SALE_CLOSED,
}


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    user: str
    quantity: int
    at: float
    expires_at: float


@dataclass(slots=True)
class Sale:
    id: int
    product: str
    price: int
    list_price: int
    currency: str
    quantity: int
    per_user_limit: int
    starts_at: float
    ends_at: float
    early_tier: str | None
    early_until: float
    state: SaleState = SaleState.SCHEDULED
    left: int = 0
    claims: list[Claim] = field(default_factory=list)
    by_user: dict[str, int] = field(default_factory=dict)  # units claimed per user

    def view(self) -> SaleView:
        return SaleView(
            self.id,
            self.product,
            self.price,
            self.list_price,
            self.currency,
            exponent(self.currency),
            self.quantity,
            self.left,
            self.per_user_limit,
            self.starts_at,
            self.ends_at,
            self.early_tier,
            self.early_until,
            self.state.value,
        )

    def claim_view(self, claim: Claim) -> ClaimView:
        return ClaimView(
            claim.id,
            self.id,
            self.product,
            claim.user,
            claim.quantity,
            self.price,
            self.currency,
            claim.at,
            claim.expires_at,
        )


Handler = Callable[["Sales", Actor, Any, float, bytes, list[Emit]], None]


class Sales(ValueEq):
    def __init__(self, config: ShopConfig, catalog: Catalog, throttle: Throttle) -> None:
        self.config = config
        self.catalog = catalog
        self.throttle = throttle
        self.sales: dict[int, Sale] = {}
        self.next_sale = 1
        self.next_claim = 1

    def live(self) -> int:
        return sum(s.state is not SaleState.CLOSED for s in self.sales.values())

    def require(self, sale_id: Any) -> Sale:
        sale = self.sales.get(sale_id) if type(sale_id) is int else None
        if sale is None:
            raise fail(CommerceCode.NO_SUCH_SALE, f"no sale {sale_id!r:.40}")
        return sale

    # ------------------------------------------------------------------ handlers
    def start(
        self, actor: Actor, cmd: c.StartSale, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        cfg = self.config
        product = self.catalog.require(cmd.product)
        price = check_amount(cmd.price, "sale price")
        quantity = checks.count(cmd.quantity, "quantity", 1, cfg.max_stock)
        limit = checks.count(cmd.per_user_limit, "per_user_limit", 1, cfg.max_per_user)
        duration = checks.seconds(cmd.duration, "duration", 1.0, cfg.max_duration)
        starts_at = now if cmd.starts_at is None else checks.instant(cmd.starts_at, "starts_at")
        starts_at = max(starts_at, now)  # a start in the past means now
        if starts_at - now > cfg.max_duration:
            raise checks.bad("starts_at is too far ahead")
        early = checks.seconds(cmd.early_seconds, "early_seconds", 0.0, duration)
        tier = None if cmd.early_tier is None else checks.tier(cmd.early_tier, "early_tier")
        if (tier is None) != (early == 0.0) or early >= duration:
            raise checks.bad("early access needs both early_tier and 0 < early_seconds < duration")
        if quantity > product.stock:
            raise fail(
                CommerceCode.OUT_OF_STOCK, f"{product.id} has {product.stock} units, not {quantity}"
            )
        if self.live() >= cfg.max_live_offers:
            raise fail(CommerceCode.TOO_MANY_OFFERS, f"at most {cfg.max_live_offers} live sales")
        sale = Sale(
            self.next_sale,
            product.id,
            price,
            product.price,
            product.currency,
            quantity,
            limit,
            starts_at,
            starts_at + duration,
            tier,
            starts_at + early,
            left=quantity,
        )
        self.next_sale += 1
        self.sales[sale.id] = sale
        product.hold(quantity)
        self.catalog.updated(product, "offered", out)
        out.append(Emit(EVERYONE, SaleUpdated(sale.view(), "scheduled")))
        if starts_at <= now:
            self._move(sale, Trigger.START, "opened", out)

    def claim(
        self, actor: Actor, cmd: c.ClaimSale, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        sale = self.require(cmd.sale)
        quantity = checks.count(cmd.quantity, "quantity", 1, self.config.max_per_user)
        # A scheduled sale whose start has come opens with this claim (ticks are coarse).
        due = sale.state is SaleState.SCHEDULED and now >= sale.starts_at
        state = SaleState.OPEN if due else sale.state
        next_state(TRANSITIONS, state, c.ClaimSale, REFUSALS, f"sale {sale.id}")
        if now < sale.starts_at:
            raise fail(CommerceCode.SALE_NOT_OPEN, f"sale {sale.id} opens at {sale.starts_at}")
        if now >= sale.ends_at:
            raise fail(CommerceCode.SALE_CLOSED, f"sale {sale.id} ended at {sale.ends_at}")
        if sale.early_tier is not None and now < sale.early_until and actor.tier != sale.early_tier:
            raise fail(
                CommerceCode.EARLY_ACCESS,
                f"sale {sale.id} is for {sale.early_tier} until {sale.early_until}",
            )
        had = sale.by_user.get(actor.user, 0)
        if had + quantity > sale.per_user_limit:
            raise fail(
                CommerceCode.LIMIT_REACHED,
                f"at most {sale.per_user_limit} per user; you have {had}",
            )
        if sale.left == 0:
            raise fail(CommerceCode.SOLD_OUT, f"sale {sale.id} is sold out")
        if quantity > sale.left:
            raise fail(CommerceCode.OUT_OF_STOCK, f"only {sale.left} left")
        # --- all checks passed: write
        if due:
            self._move(sale, Trigger.START, "opened", out)
        product = self.catalog.products[sale.product]
        claim = Claim(self.next_claim, actor.user, quantity, now, now + self.config.reservation_ttl)
        self.next_claim += 1
        sale.claims.append(claim)
        sale.by_user[actor.user] = had + quantity
        sale.left -= quantity
        product.sell(quantity)
        out.append(Emit(to_users(actor.user), SaleClaimed(sale.claim_view(claim))))
        if sale.left == 0:
            self._move(sale, Trigger.SELL_OUT, "sold_out", out)
        else:
            self.throttle.offer(f"sale:{sale.id}", SaleLeft(sale.id, sale.left), now, out)

    def close(
        self, actor: Actor, cmd: c.CloseSale, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        sale = self.require(cmd.sale)
        reason = "cancelled" if sale.state is SaleState.SCHEDULED else "closed"
        self._move(sale, c.CloseSale, reason, out)

    # ------------------------------------------------------------------ time and the room
    def tick(self, now: float, out: list[Emit]) -> None:
        for sale in self.sales.values():
            if sale.state is SaleState.SCHEDULED and now >= sale.starts_at:
                self._move(sale, Trigger.START, "opened", out)
            if sale.state in (SaleState.OPEN, SaleState.SOLD_OUT) and now >= sale.ends_at:
                self._move(sale, Trigger.END, "ended", out)

    def close_all(self, out: list[Emit]) -> None:
        for sale in self.sales.values():
            if sale.state is not SaleState.CLOSED:
                self._move(sale, Trigger.ROOM_END, "room_ended", out)

    # ------------------------------------------------------------------ moves
    def _move(self, sale: Sale, move: Move, reason: str, out: list[Emit]) -> None:
        sale.state = next_state(TRANSITIONS, sale.state, move, REFUSALS, f"sale {sale.id}")
        if sale.state is not SaleState.OPEN:
            self.throttle.forget(f"sale:{sale.id}")  # sale.updated carries ``left``
        unsold = sale.left if sale.state is SaleState.CLOSED else 0
        sale.left -= unsold
        out.append(Emit(EVERYONE, SaleUpdated(sale.view(), reason)))
        if unsold:
            product = self.catalog.products[sale.product]
            product.release(unsold)
            self.catalog.updated(product, "released", out)


HANDLERS: dict[type[Command], Handler] = {
    c.StartSale: Sales.start,
    c.ClaimSale: Sales.claim,
    c.CloseSale: Sales.close,
}
