"""The shop in the Python client: a mirror of ``snapshot.shop`` kept current by the shop's
events, and one verb per shop command (see voiceroom/commerce/commands.py and
docs/protocol.md section "Shop").

Amounts are integer minor units, as on the wire: ``format_price(19900, "SAR", 2)`` is
``"199.00 SAR"``. Results a claimant is told (``sale.claimed``, ``coupon.claimed``,
``group.status``) are kept in ``claims``, ``coupons`` and ``my_groups``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voiceroom.client.state import Event

Wire = dict[str, Any]


def format_price(minor: int, currency: str, exponent: int) -> str:
    """``19900, "SAR", 2`` -> ``"199.00 SAR"``: integer arithmetic, no float on the way."""
    if exponent == 0:
        return f"{minor} {currency}"
    sign = "-" if minor < 0 else ""
    major, rest = divmod(abs(minor), 10**exponent)
    return f"{sign}{major}.{rest:0{exponent}d} {currency}"


@dataclass(slots=True)
class ShopState:
    products: dict[str, Wire] = field(default_factory=dict)
    showing: str | None = None
    sales: dict[int, Wire] = field(default_factory=dict)
    sale_left: dict[int, int] = field(default_factory=dict)  # latest sale.left / sale view
    claims: list[Wire] = field(default_factory=list)  # this member's claims
    drops: dict[int, Wire] = field(default_factory=dict)
    coupons: dict[int, Wire] = field(default_factory=dict)  # drop id -> this member's coupon
    deals: dict[int, Wire] = field(default_factory=dict)
    my_groups: dict[tuple[int, int], Wire] = field(default_factory=dict)
    reservation_ttl: float = 0.0

    def load(self, snap: Wire | None) -> None:
        """From ``snapshot.shop`` (absent from servers without a shop: all empty)."""
        snap = snap or {}
        self.products = {p["id"]: p for p in snap.get("products") or ()}
        self.showing = snap.get("showing")
        self.sales = {int(s["id"]): s for s in snap.get("sales") or ()}
        self.sale_left = {i: int(s["left"]) for i, s in self.sales.items()}
        self.claims = list(snap.get("your_claims") or ())
        self.drops = {int(d["id"]): d for d in snap.get("coupons") or ()}
        self.coupons = {int(k["drop"]): k for k in snap.get("your_coupons") or ()}
        self.deals = {int(d["id"]): d for d in snap.get("groups") or ()}
        self.my_groups = {
            (int(g["deal"]), int(g["group"])): g for g in snap.get("your_groups") or ()
        }
        self.reservation_ttl = float(snap.get("reservation_ttl") or 0.0)

    def apply(self, event: Event) -> bool:
        """Fold one shop event in; False when it is not a shop event."""
        handler = _HANDLERS.get(event.type)
        if handler is None:
            return False
        handler(self, event.body)
        return True

    def open_sales(self) -> list[Wire]:
        return [s for s in self.sales.values() if s["state"] == "open"]

    def claimed(self, sale: int) -> int:
        return sum(int(k["quantity"]) for k in self.claims if int(k["sale"]) == sale)


def _sale(st: ShopState, b: Wire) -> None:
    sale = b["sale"]
    st.sales[int(sale["id"])] = sale
    st.sale_left[int(sale["id"])] = int(sale["left"])


def _deal(st: ShopState, b: Wire) -> None:
    st.deals[int(b["deal"]["id"])] = b["deal"]


def _group_status(st: ShopState, b: Wire) -> None:
    g = b["group"]
    st.my_groups[(int(g["deal"]), int(g["group"]))] = {**g, "reason": b["reason"]}


def _progress(st: ShopState, b: Wire) -> None:
    deal = st.deals.get(int(b["deal"]))
    filling = None if deal is None else deal.get("filling")
    if deal is not None and filling is not None and filling["group"] == b["group"]:
        deal["filling"] = {**filling, "joined": b["joined"]}


def _product_stock(st: ShopState, b: Wire) -> None:
    if b["product"] in st.products:
        st.products[b["product"]] = {**st.products[b["product"]], "stock": b["stock"]}


_HANDLERS: dict[str, Any] = {
    "product.added": lambda st, b: st.products.__setitem__(b["product"]["id"], b["product"]),
    "product.updated": lambda st, b: st.products.__setitem__(b["product"]["id"], b["product"]),
    "product.removed": lambda st, b: st.products.pop(b["product"], None),
    "product.showing": lambda st, b: setattr(st, "showing", b["product"]),
    "product.stock": _product_stock,
    "sale.updated": _sale,
    "sale.claimed": lambda st, b: st.claims.append(b["claim"]),
    "sale.left": lambda st, b: st.sale_left.__setitem__(int(b["sale"]), int(b["left"])),
    "coupon.updated": lambda st, b: st.drops.__setitem__(int(b["drop"]["id"]), b["drop"]),
    "coupon.claimed": lambda st, b: st.coupons.__setitem__(int(b["coupon"]["drop"]), b["coupon"]),
    "coupon.left": lambda st, b: st.drops.get(int(b["drop"]), {}).__setitem__("left", b["left"]),
    "group.updated": _deal,
    "group.status": _group_status,
    "group.progress": _progress,
}


class ShopVerbs:
    """Mixed into :class:`voiceroom.client.connection.RoomClient`: one verb per shop
    command. Each raises :class:`ServerError` with the server's code when refused
    (``sold_out``, ``limit_reached``, ``sale_closed``, ``forbidden``...)."""

    async def request(self, type_: str, **body: Any) -> Wire:
        raise NotImplementedError  # RoomClient.request

    # moderators: catalog and showcase
    async def add_product(
        self,
        id: str,
        titles: dict[str, str],
        price: int,
        currency: str,
        stock: int,
        *,
        image: str = "",
        url: str = "",
        options: list[str] | None = None,
    ) -> None:
        await self.request(
            "product.add",
            id=id,
            titles=titles,
            price=price,
            currency=currency,
            stock=stock,
            image=image,
            url=url,
            options=list(options or ()),
        )

    async def restock_product(self, product: str, units: int) -> None:
        await self.request("product.restock", product=product, units=units)

    async def remove_product(self, product: str) -> None:
        await self.request("product.remove", product=product)

    async def pin_product(self, product: str) -> None:
        await self.request("product.pin", product=product)

    async def unpin_product(self) -> None:
        await self.request("product.unpin")

    # moderators: offers
    async def start_sale(
        self,
        product: str,
        price: int,
        quantity: int,
        duration: float,
        *,
        per_user_limit: int = 1,
        starts_at: float | None = None,
        early_tier: str | None = None,
        early_seconds: float = 0.0,
    ) -> None:
        body: Wire = {
            "product": product,
            "price": price,
            "quantity": quantity,
            "duration": float(duration),
            "per_user_limit": per_user_limit,
            "early_seconds": float(early_seconds),
        }
        if starts_at is not None:
            body["starts_at"] = float(starts_at)
        if early_tier is not None:
            body["early_tier"] = early_tier
        await self.request("sale.start", **body)

    async def close_sale(self, sale: int) -> None:
        await self.request("sale.close", sale=sale)

    async def drop_coupons(
        self,
        duration: float,
        *,
        codes: list[str] | None = None,
        code: str | None = None,
        uses: int = 0,
        tier: str | None = None,
        product: str | None = None,
        percent_off: int = 0,
        amount_off: int = 0,
        currency: str | None = None,
    ) -> None:
        optional = {
            "codes": codes,
            "code": code,
            "tier": tier,
            "product": product,
            "currency": currency,
        }
        body: Wire = {k: v for k, v in optional.items() if v is not None}
        body.update(
            duration=float(duration), uses=uses, percent_off=percent_off, amount_off=amount_off
        )
        await self.request("coupon.drop", **body)

    async def close_coupons(self, drop: int) -> None:
        await self.request("coupon.close", drop=drop)

    async def start_group_buy(
        self, product: str, price: int, size: int, time_limit: float, duration: float
    ) -> None:
        await self.request(
            "group.start",
            product=product,
            price=price,
            size=size,
            time_limit=float(time_limit),
            duration=float(duration),
        )

    async def close_group_buy(self, deal: int) -> None:
        await self.request("group.close", deal=deal)

    # shoppers
    async def claim_sale(self, sale: int, quantity: int = 1) -> None:
        """Claim units of an open sale; the claim (id, reservation expiry) arrives as
        ``sale.claimed`` before the reply, so it is in ``state.shop.claims`` on return."""
        await self.request("sale.claim", sale=sale, quantity=quantity)

    async def claim_coupon(self, drop: int) -> None:
        await self.request("coupon.claim", drop=drop)

    async def join_group(self, deal: int) -> None:
        await self.request("group.join", deal=deal)

    async def leave_group(self, deal: int) -> None:
        await self.request("group.leave", deal=deal)
