"""Products of a room and the showcase ("now showing").

Stock accounting, per product: ``stock`` units are free, ``held`` are held by live offers
(a sale's unclaimed units, group places), ``sold`` are claimed or bought in a completed
group, and ``stock + held + sold == added`` (everything ever added) at all times. Offers
move units with :meth:`Product.hold`, :meth:`Product.release` and :meth:`Product.sell`,
so a sale can never sell units another offer holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voiceroom.commerce import checks
from voiceroom.commerce import commands as c
from voiceroom.commerce.config import ShopConfig
from voiceroom.commerce.errors import CommerceCode, fail
from voiceroom.commerce.events import (
    ProductAdded,
    ProductRemoved,
    ProductShowing,
    ProductStock,
    ProductUpdated,
    ProductView,
)
from voiceroom.commerce.lifecycle import Throttle, ValueEq
from voiceroom.commerce.money import check_amount, check_currency, exponent
from voiceroom.room.commands import Command
from voiceroom.room.events import EVERYONE, Emit
from voiceroom.room.model import Actor


@dataclass(slots=True)
class Product:
    id: str
    titles: dict[str, str]
    image: str
    price: int
    currency: str
    url: str
    options: tuple[str, ...]
    stock: int
    held: int = 0
    sold: int = 0
    added: int = 0

    def view(self) -> ProductView:
        return ProductView(
            self.id,
            dict(self.titles),
            self.image,
            self.price,
            self.currency,
            exponent(self.currency),
            self.stock,
            self.sold,
            self.url,
            self.options,
        )

    def hold(self, units: int) -> None:
        assert 0 < units <= self.stock
        self.stock -= units
        self.held += units

    def release(self, units: int) -> None:
        assert 0 <= units <= self.held
        self.held -= units
        self.stock += units

    def sell(self, units: int) -> None:
        assert 0 < units <= self.held
        self.held -= units
        self.sold += units


Handler = Callable[["Catalog", Actor, Any, float, bytes, list[Emit]], None]


class Catalog(ValueEq):
    def __init__(self, config: ShopConfig, throttle: Throttle) -> None:
        self.config = config
        self.throttle = throttle
        self.products: dict[str, Product] = {}
        self.showing: str | None = None

    # ------------------------------------------------------------------ queries
    def require(self, product_id: Any) -> Product:
        product = self.products.get(product_id) if type(product_id) is str else None
        if product is None:
            raise fail(CommerceCode.NO_SUCH_PRODUCT, f"no product {product_id!r:.80}")
        return product

    def stock_changed(self, product: Product, now: float, out: list[Emit]) -> None:
        """Ephemeral, throttled: stock moves with every group-buy join."""
        self.throttle.offer(
            f"product:{product.id}", ProductStock(product.id, product.stock), now, out
        )

    def updated(self, product: Product, reason: str, out: list[Emit]) -> None:
        self.throttle.forget(f"product:{product.id}")
        out.append(Emit(EVERYONE, ProductUpdated(product.view(), reason)))

    # ------------------------------------------------------------------ handlers
    def validate_add(self, cmd: c.AddProduct) -> Product:
        """A new product from ``cmd``, checked; nothing is written."""
        pid = checks.ident(cmd.id, "id")
        if pid in self.products:
            raise fail(CommerceCode.PRODUCT_EXISTS, f"product {pid} already exists")
        if len(self.products) >= self.config.max_products:
            raise fail(CommerceCode.CATALOG_FULL, f"at most {self.config.max_products} products")
        titles = checks.titles(cmd.titles)
        price = check_amount(cmd.price)
        currency = check_currency(cmd.currency)
        stock = checks.count(cmd.stock, "stock", 0, self.config.max_stock)
        image = checks.url(cmd.image, "image", image=True)
        url = checks.url(cmd.url, "url")
        options = checks.options(cmd.options)
        return Product(pid, titles, image, price, currency, url, options, stock, added=stock)

    def add(
        self, actor: Actor, cmd: c.AddProduct, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        product = self.validate_add(cmd)
        self.insert(product, out)

    def insert(self, product: Product, out: list[Emit]) -> None:
        self.products[product.id] = product
        out.append(Emit(EVERYONE, ProductAdded(product.view())))

    def restock(
        self, actor: Actor, cmd: c.RestockProduct, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        product = self.require(cmd.product)
        room = self.config.max_stock - (product.stock + product.held)
        units = checks.count(cmd.units, "units", 1, max(room, 1))
        if units > room:
            raise checks.bad(f"stock would exceed {self.config.max_stock}")
        product.stock += units
        product.added += units
        self.updated(product, "restocked", out)

    def remove(
        self, actor: Actor, cmd: c.RemoveProduct, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        """The Shop checks first that no live offer names the product."""
        product = self.require(cmd.product)
        if product.held:
            raise fail(CommerceCode.PRODUCT_BUSY, f"{product.id} has a live offer: close it first")
        del self.products[product.id]
        self.throttle.forget(f"product:{product.id}")
        if self.showing == product.id:
            self.showing = None
            out.append(Emit(EVERYONE, ProductShowing(None)))
        out.append(Emit(EVERYONE, ProductRemoved(product.id)))

    def pin(
        self, actor: Actor, cmd: c.PinProduct, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        product = self.require(cmd.product)
        if self.showing == product.id:
            return
        self.showing = product.id
        out.append(Emit(EVERYONE, ProductShowing(product.id)))

    def unpin(
        self, actor: Actor, cmd: c.UnpinProduct, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        if self.showing is None:
            return
        self.showing = None
        out.append(Emit(EVERYONE, ProductShowing(None)))


HANDLERS: dict[type[Command], Handler] = {
    c.AddProduct: Catalog.add,
    c.RestockProduct: Catalog.restock,
    c.RemoveProduct: Catalog.remove,
    c.PinProduct: Catalog.pin,
    c.UnpinProduct: Catalog.unpin,
}
