"""The shop: one room's commerce, a pure side core beside the room.

``Shop.handle(actor, command, now, entropy=...)`` checks the sender's role against
:data:`RULES`, then runs the command's handler, which checks everything before it writes:
it either raises :class:`RuleError` having changed nothing, or applies the change and
returns the events. The venue checks role and phase before calling, and feeds every emit
of the room back through :meth:`Shop.react` (the room ending closes every offer).

No I/O, no clock, no randomness: ``now`` and ``entropy`` are arguments, so the journal
replays a shop exactly. The concept modules (catalog, sale, coupons, groupbuy) each hold a
small state object and its handler table; this module merges the tables.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from voiceroom.commerce import catalog, coupons, groupbuy, sale
from voiceroom.commerce import commands as c
from voiceroom.commerce.catalog import Catalog
from voiceroom.commerce.config import ShopConfig
from voiceroom.commerce.coupons import Coupons, DropState
from voiceroom.commerce.errors import CommerceCode, fail
from voiceroom.commerce.events import (
    LEFT_INTERVAL,
    ClaimView,
    CouponDropView,
    CouponView,
    GroupDealView,
    GroupView,
    ProductView,
    SaleView,
)
from voiceroom.commerce.groupbuy import DealState, GroupBuys
from voiceroom.commerce.lifecycle import Throttle, ValueEq
from voiceroom.commerce.rules import RULES
from voiceroom.commerce.sale import Sales, SaleState
from voiceroom.room.commands import Command
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import Emit, PhaseChanged
from voiceroom.room.model import Actor, Phase
from voiceroom.room.rules import Rule


@dataclass(frozen=True, slots=True)
class ShopSnapshot:
    """What one member sees of the shop on join or sync (``snapshot.shop`` on the wire)."""

    products: tuple[ProductView, ...]
    showing: str | None
    sales: tuple[SaleView, ...]  # live ones, then the most recent closed ones
    your_claims: tuple[ClaimView, ...]
    coupons: tuple[CouponDropView, ...]
    your_coupons: tuple[CouponView, ...]
    groups: tuple[GroupDealView, ...]
    your_groups: tuple[GroupView, ...]
    reservation_ttl: float


Part = str  # the Shop attribute that owns a handler: catalog, sales, coupons, groups
_TABLES: tuple[tuple[Part, Mapping[type[Command], Callable[..., None]]], ...] = (
    ("catalog", catalog.HANDLERS),
    ("sales", sale.HANDLERS),
    ("coupons", coupons.HANDLERS),
    ("groups", groupbuy.HANDLERS),
)


def _merge() -> dict[type[Command], tuple[Part, Callable[..., None]]]:
    merged: dict[type[Command], tuple[Part, Callable[..., None]]] = {}
    for part, table in _TABLES:
        for cmd_type, handler in table.items():
            assert cmd_type not in merged, f"{cmd_type.TYPE} handled twice"
            merged[cmd_type] = (part, handler)
    return merged


_DISPATCH = _merge()
HANDLED: frozenset[type[Command]] = frozenset(_DISPATCH)


class Shop(ValueEq):
    """The commerce side core (``venue.CORES``). Not thread-safe, like the room."""

    NAME: ClassVar[str] = "shop"
    COMMAND_TYPES: ClassVar[tuple[type[Command], ...]] = c.COMMAND_TYPES
    RULES: ClassVar[Mapping[type[Command], Rule]] = RULES

    def __init__(self, config: ShopConfig | None = None) -> None:
        self.config = config or ShopConfig()
        self.throttle = Throttle(LEFT_INTERVAL)
        self.catalog = Catalog(self.config, self.throttle)
        self.sales = Sales(self.config, self.catalog, self.throttle)
        self.coupons = Coupons(self.config, self.catalog, self.throttle)
        self.groups = GroupBuys(self.config, self.catalog, self.throttle)
        self.ended = False

    # ------------------------------------------------------------------ entry points
    def handle(self, actor: Actor, cmd: Command, now: float, *, entropy: bytes = b"") -> list[Emit]:
        """Apply a member's command, or raise RuleError leaving the shop unchanged."""
        rule = RULES[type(cmd)]
        if actor.role not in rule.roles:
            raise RuleError(
                ErrorCode.FORBIDDEN, f"{cmd.TYPE} is not allowed for role {actor.role.value}"
            )
        return self.apply(actor, cmd, now, entropy=entropy)

    def apply(self, actor: Actor, cmd: Command, now: float, *, entropy: bytes = b"") -> list[Emit]:
        """Run a command with no role check: for server entry points (the API, the demo)
        that authorised it themselves."""
        if self.ended:
            raise RuleError(ErrorCode.ROOM_ENDED, "the room has ended")
        part, handler = _DISPATCH[type(cmd)]
        if isinstance(cmd, c.RemoveProduct):
            self._check_unused(cmd.product)
        out: list[Emit] = []
        handler(getattr(self, part), actor, cmd, now, entropy, out)
        return out

    def load_catalog(self, products: Sequence[c.AddProduct], now: float) -> list[Emit]:
        """Server-only: add several products, all or none (the demo, an API import)."""
        batch: list[catalog.Product] = []
        for cmd in products:
            product = self.catalog.validate_add(cmd)
            if product.id in {p.id for p in batch}:
                raise fail(CommerceCode.PRODUCT_EXISTS, f"product {product.id} twice")
            batch.append(product)
        if len(self.catalog.products) + len(batch) > self.config.max_products:
            raise fail(CommerceCode.CATALOG_FULL, f"at most {self.config.max_products} products")
        out: list[Emit] = []
        for product in batch:
            self.catalog.insert(product, out)
        return out

    def tick(self, now: float) -> list[Emit]:
        """Deadlines (sale windows, drop expiry, group time limits) and throttled counters."""
        out: list[Emit] = []
        self.sales.tick(now, out)
        self.coupons.tick(now, out)
        self.groups.tick(now, out)
        self.throttle.flush(now, out)
        return out

    def react(self, emits: Sequence[Emit], now: float) -> list[Emit]:
        """The room ending closes every sale, drop and group buy. Never raises."""
        for emit in emits:
            event = emit.event
            if isinstance(event, PhaseChanged) and event.phase == Phase.ENDED.value:
                return self.close_all(now)
        return []

    def close_all(self, now: float) -> list[Emit]:
        if self.ended:
            return []
        self.ended = True
        out: list[Emit] = []
        self.sales.close_all(out)
        self.coupons.close_all(out)
        self.groups.close_all(out)
        self.throttle.pending.clear()
        return out

    # ------------------------------------------------------------------ queries
    def claims(self) -> tuple[ClaimView, ...]:
        """Every claim of every sale, in claim order (the server API's shop view)."""
        return tuple(s.claim_view(k) for s in self.sales.sales.values() for k in s.claims)

    def snapshot(self, viewer: Actor | None) -> ShopSnapshot:
        user = None if viewer is None else viewer.user
        keep = self.config.history
        sales = list(self.sales.sales.values())
        live_sales = [s for s in sales if s.state is not SaleState.CLOSED]
        closed_sales = [s for s in sales if s.state is SaleState.CLOSED][-keep:]
        drops = list(self.coupons.drops.values())
        live_drops = [d for d in drops if d.state is not DropState.CLOSED]
        closed_drops = [d for d in drops if d.state is DropState.CLOSED][-keep:]
        deals = list(self.groups.deals.values())
        live_deals = [d for d in deals if d.state is not DealState.CLOSED]
        closed_deals = [d for d in deals if d.state is DealState.CLOSED][-keep:]
        return ShopSnapshot(
            products=tuple(p.view() for p in self.catalog.products.values()),
            showing=self.catalog.showing,
            sales=tuple(s.view() for s in live_sales + closed_sales),
            your_claims=tuple(
                s.claim_view(k)
                for s in sales
                for k in s.claims
                if user is not None and k.user == user
            ),
            coupons=tuple(d.view() for d in live_drops + closed_drops),
            your_coupons=tuple(
                CouponView(d.id, d.claims[user], d.expires_at)
                for d in drops
                if user is not None and user in d.claims
            ),
            groups=tuple(d.view() for d in live_deals + closed_deals),
            your_groups=tuple(
                g.view() for d in deals for g in d.groups if user is not None and user in g.members
            ),
            reservation_ttl=self.config.reservation_ttl,
        )

    def to_state(self) -> bytes:
        """Everything, counters and throttle included, for the store."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def from_state(state: bytes) -> Shop:
        shop = pickle.loads(state)  # our own store's bytes, never a client's
        if not isinstance(shop, Shop):
            raise TypeError("not a Shop state")
        return shop

    def fingerprint(self) -> bytes:
        """Everything that makes up the shop's state, comparable with == (tests)."""
        return self.to_state()

    # ------------------------------------------------------------------ checks
    def _check_unused(self, product_id: Any) -> None:
        live = (
            any(
                s.product == product_id and s.state is not SaleState.CLOSED
                for s in self.sales.sales.values()
            )
            or any(
                d.product == product_id and d.state is not DropState.CLOSED
                for d in self.coupons.drops.values()
            )
            or any(
                d.product == product_id and d.state is not DealState.CLOSED
                for d in self.groups.deals.values()
            )
        )
        if live:
            raise fail(CommerceCode.PRODUCT_BUSY, f"{product_id} has a live offer: close it first")


__all__ = ["HANDLED", "Shop", "ShopSnapshot"]
