"""Builders for commerce-core tests: actors, a shop with products, event filters."""

from __future__ import annotations

from typing import Any

from voiceroom.commerce import Shop, ShopConfig
from voiceroom.commerce import commands as c
from voiceroom.room.events import Emit, Event
from voiceroom.room.model import Actor, Role

ENTROPY = bytes(range(32))


def actor(user: str, role: Role = Role.LISTENER, tier: str = "new", locale: str = "en") -> Actor:
    return Actor(user, user.upper(), role, tier, locale)


HOST = actor("h", Role.HOST, "vip")
COHOST = actor("co", Role.COHOST)
AGENT = actor("ag", Role.AGENT)


def dress(
    pid: str = "dress", stock: int = 10, price: int = 19900, currency: str = "SAR"
) -> c.AddProduct:
    return c.AddProduct(
        pid,
        {"en": "Silk dress", "ar": "فستان حرير"},
        price,
        currency,
        stock,
        image="https://example.com/dress.png",
        url="https://shop.example.com/dress",
        options=["S", "M", "L"],
    )


def make_shop(config: ShopConfig | None = None, stock: int = 10) -> Shop:
    shop = Shop(config)
    shop.handle(HOST, dress(stock=stock), 0.0)
    return shop


def events_of(emits: list[Emit], kind: type[Event]) -> list[Any]:
    return [e.event for e in emits if isinstance(e.event, kind)]


def product_balance(shop: Shop, pid: str = "dress") -> tuple[int, int, int, int]:
    p = shop.catalog.products[pid]
    return p.stock, p.held, p.sold, p.added
