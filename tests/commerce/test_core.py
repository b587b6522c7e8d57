"""Unit tests of the commerce core: products, flash sales, coupons, group buys."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from voiceroom.commerce import Shop, ShopConfig
from voiceroom.commerce import commands as c
from voiceroom.commerce import events as ev
from voiceroom.commerce.coupons import generate_codes
from voiceroom.commerce.errors import CommerceCode
from voiceroom.commerce.money import CURRENCIES
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import EVERYONE, Emit, PhaseChanged
from voiceroom.room.model import Actor, Role
from voiceroom.wire_form import to_wire

from .helpers import ENTROPY, HOST, actor, dress, events_of, make_shop, product_balance

VIP = actor("v", tier="vip")
ANN = actor("ann")
BOB = actor("bob")


def refused(
    shop: Shop, who: Actor, cmd: c.Command, now: float, code: object, entropy: bytes = ENTROPY
) -> None:
    before = shop.fingerprint()
    with pytest.raises(RuleError) as err:
        shop.handle(who, cmd, now, entropy=entropy)
    assert err.value.code == code, err.value
    assert shop.fingerprint() == before


# --- products and money ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"price": 19.9}, CommerceCode.BAD_PRICE),
        ({"price": True}, CommerceCode.BAD_PRICE),
        ({"price": -1}, CommerceCode.BAD_PRICE),
        ({"price": 10**13}, CommerceCode.BAD_PRICE),
        ({"currency": "sar"}, CommerceCode.BAD_CURRENCY),
        ({"currency": "XYZ"}, CommerceCode.BAD_CURRENCY),
        ({"stock": -1}, CommerceCode.BAD_OFFER),
        ({"stock": False}, CommerceCode.BAD_OFFER),
        ({"titles": {}}, CommerceCode.BAD_OFFER),
        ({"titles": {"english": "x"}}, CommerceCode.BAD_OFFER),
        ({"titles": {"en": " "}}, CommerceCode.BAD_OFFER),
        ({"titles": {"en": 3}}, CommerceCode.BAD_OFFER),
        ({"id": "a b"}, CommerceCode.BAD_OFFER),
        ({"url": "javascript:alert(1)"}, CommerceCode.BAD_OFFER),
        ({"image": "file:///etc/passwd"}, CommerceCode.BAD_OFFER),
        ({"options": ["S", "S"]}, CommerceCode.BAD_OFFER),
        ({"options": "S"}, CommerceCode.BAD_OFFER),
        ({"id": "dress"}, CommerceCode.PRODUCT_EXISTS),
    ],
)
def test_bad_products_are_refused(change: dict[str, object], code: CommerceCode) -> None:
    shop = make_shop()
    cmd = dataclasses.replace(dress("shoe"), **change)  # type: ignore[arg-type]
    refused(shop, HOST, cmd, 1.0, code)


def test_product_view_carries_minor_units_and_exponent() -> None:
    shop = Shop()
    emits = shop.handle(HOST, dress("yen", price=1999, currency="JPY"), 0.0)
    shop.handle(HOST, dress("kwd", price=1999, currency="KWD"), 0.0)
    (added,) = events_of(emits, ev.ProductAdded)
    assert added.product.price == 1999 and added.product.exponent == 0
    assert shop.catalog.products["kwd"].view().exponent == 3
    assert CURRENCIES["SAR"] == 2 and CURRENCIES["BHD"] == 3
    wire = to_wire(added)
    assert wire["product"]["titles"] == {"en": "Silk dress", "ar": "فستان حرير"}


def test_pin_unpin_and_remove() -> None:
    shop = make_shop()
    emits = shop.handle(HOST, c.PinProduct("dress"), 1.0)
    assert events_of(emits, ev.ProductShowing) == [ev.ProductShowing("dress")]
    assert shop.handle(HOST, c.PinProduct("dress"), 1.0) == []  # already showing
    refused(shop, HOST, c.PinProduct("nope"), 1.0, CommerceCode.NO_SUCH_PRODUCT)
    emits = shop.handle(HOST, c.RemoveProduct("dress"), 2.0)
    assert [type(e.event) for e in emits] == [ev.ProductShowing, ev.ProductRemoved]
    assert shop.snapshot(ANN).showing is None


def test_a_product_with_a_live_offer_cannot_be_removed() -> None:
    shop = make_shop()
    shop.handle(HOST, c.StartGroupBuy("dress", 100, 2, 60.0, 60.0), 1.0)
    refused(shop, HOST, c.RemoveProduct("dress"), 2.0, CommerceCode.PRODUCT_BUSY)
    shop.handle(HOST, c.CloseGroupBuy(1), 3.0)
    shop.handle(HOST, c.RemoveProduct("dress"), 3.0)


def test_restock_adds_units() -> None:
    shop = make_shop(stock=2)
    shop.handle(HOST, c.RestockProduct("dress", 3), 1.0)
    assert product_balance(shop) == (5, 0, 0, 5)
    refused(shop, HOST, c.RestockProduct("dress", 0), 1.0, CommerceCode.BAD_OFFER)


def test_load_catalog_is_all_or_nothing() -> None:
    shop = make_shop()
    before = shop.fingerprint()
    with pytest.raises(RuleError):
        shop.load_catalog([dress("a"), dress("b", price=1.5)], 1.0)  # type: ignore[arg-type]
    with pytest.raises(RuleError):
        shop.load_catalog([dress("a"), dress("a")], 1.0)
    assert shop.fingerprint() == before
    emits = shop.load_catalog([dress("a"), dress("b")], 1.0)
    assert len(events_of(emits, ev.ProductAdded)) == 2


# --- flash sales -----------------------------------------------------------------------
def test_sale_claims_never_exceed_quantity_or_the_per_user_limit() -> None:
    shop = make_shop(stock=10)
    emits = shop.handle(HOST, c.StartSale("dress", 9900, 3, 60.0, per_user_limit=2), 100.0)
    (opened,) = [e for e in events_of(emits, ev.SaleUpdated) if e.reason == "opened"]
    assert opened.sale.state == "open" and opened.sale.left == 3
    assert product_balance(shop) == (7, 3, 0, 10)
    emits = shop.handle(ANN, c.ClaimSale(1, 2), 101.0)
    (claimed,) = events_of(emits, ev.SaleClaimed)
    assert emits[0].to.users == frozenset({"ann"})
    assert claimed.claim.id == 1 and claimed.claim.quantity == 2 and claimed.claim.price == 9900
    assert claimed.claim.expires_at == 101.0 + ShopConfig().reservation_ttl
    refused(shop, ANN, c.ClaimSale(1), 101.0, CommerceCode.LIMIT_REACHED)
    refused(shop, BOB, c.ClaimSale(1, 2), 101.0, CommerceCode.OUT_OF_STOCK)
    emits = shop.handle(BOB, c.ClaimSale(1), 101.0)
    assert [e.reason for e in events_of(emits, ev.SaleUpdated)] == ["sold_out"]
    refused(shop, VIP, c.ClaimSale(1), 101.0, CommerceCode.SOLD_OUT)
    assert product_balance(shop) == (7, 0, 3, 10)


def test_sale_window_is_enforced_even_between_ticks() -> None:
    shop = make_shop()
    shop.handle(HOST, c.StartSale("dress", 100, 5, 60.0, starts_at=200.0), 100.0)
    refused(shop, ANN, c.ClaimSale(1), 199.9, CommerceCode.SALE_NOT_OPEN)
    # No tick yet at 200: the claim itself opens the sale.
    emits = shop.handle(ANN, c.ClaimSale(1), 200.0)
    assert [e.reason for e in events_of(emits, ev.SaleUpdated)] == ["opened"]
    # Past the end, before the tick: refused, and the shop is unchanged.
    refused(shop, BOB, c.ClaimSale(1), 260.0, CommerceCode.SALE_CLOSED)
    emits = shop.tick(260.0)
    (ended,) = events_of(emits, ev.SaleUpdated)
    assert ended.reason == "ended" and ended.sale.state == "closed" and ended.sale.left == 0
    assert product_balance(shop) == (9, 0, 1, 10)  # the 4 unsold units went back
    refused(shop, BOB, c.ClaimSale(1), 261.0, CommerceCode.SALE_CLOSED)


def test_scheduled_sale_opens_on_tick_and_can_be_cancelled() -> None:
    shop = make_shop()
    shop.handle(HOST, c.StartSale("dress", 100, 5, 60.0, starts_at=200.0), 100.0)
    assert shop.tick(150.0) == []
    assert [e.reason for e in events_of(shop.tick(200.0), ev.SaleUpdated)] == ["opened"]
    shop.handle(HOST, c.StartSale("dress", 100, 5, 60.0, starts_at=500.0), 201.0)
    emits = shop.handle(HOST, c.CloseSale(2), 202.0)
    assert [e.reason for e in events_of(emits, ev.SaleUpdated)] == ["cancelled"]


def test_early_access_for_a_tier() -> None:
    shop = make_shop()
    shop.handle(
        HOST, c.StartSale("dress", 100, 5, 60.0, early_tier="vip", early_seconds=10.0), 100.0
    )
    refused(shop, ANN, c.ClaimSale(1), 105.0, CommerceCode.EARLY_ACCESS)
    shop.handle(VIP, c.ClaimSale(1), 105.0)
    shop.handle(ANN, c.ClaimSale(1), 110.0)


@pytest.mark.parametrize(
    "cmd",
    [
        c.StartSale("dress", 99.0, 1, 60.0),  # type: ignore[arg-type]
        c.StartSale("dress", 100, True, 60.0),  # type: ignore[arg-type]
        c.StartSale("dress", 100, 0, 60.0),
        c.StartSale("dress", 100, 1, 0.0),
        c.StartSale("dress", 100, 1, float("nan")),
        c.StartSale("dress", 100, 1, 60.0, early_tier="vip"),
        c.StartSale("dress", 100, 1, 60.0, early_seconds=5.0),
        c.StartSale("dress", 100, 1, 60.0, early_tier="vip", early_seconds=60.0),
        c.StartSale("dress", 100, 11, 60.0),
        c.StartSale("nope", 100, 1, 60.0),
    ],
)
def test_bad_sales_are_refused(cmd: c.StartSale) -> None:
    shop = make_shop()
    before = shop.fingerprint()
    with pytest.raises(RuleError) as err:
        shop.handle(HOST, cmd, 1.0)
    assert isinstance(err.value.code, CommerceCode)
    assert shop.fingerprint() == before


def test_stock_left_is_throttled_to_one_event_a_second_with_the_latest_value() -> None:
    shop = make_shop(stock=100)
    shop.handle(HOST, c.StartSale("dress", 100, 100, 60.0), 0.0)
    lefts: list[tuple[float, int]] = []
    for i in range(50):
        now = 1.0 + i * 0.05  # 50 claims in 2.5 s
        for e in shop.handle(actor(f"u{i}"), c.ClaimSale(1), now):
            if isinstance(e.event, ev.SaleLeft):
                assert e.to is EVERYONE
                lefts.append((now, e.event.left))
        for e in shop.tick(now + 0.01):
            if isinstance(e.event, ev.SaleLeft):
                lefts.append((now + 0.01, e.event.left))
    times = [t for t, _ in lefts]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    assert 2 <= len(lefts) <= 4
    late = shop.tick(10.0)
    assert [e.event.left for e in late if isinstance(e.event, ev.SaleLeft)] == [50]
    assert shop.tick(20.0) == []


# --- coupons ---------------------------------------------------------------------------
def test_coupon_codes_one_per_user_and_gone_when_empty() -> None:
    shop = make_shop()
    shop.handle(HOST, c.DropCoupons(60.0, codes=["A1", "B2"], percent_off=15), 0.0)
    got = {}
    for who in (ANN, BOB):
        (claimed,) = events_of(shop.handle(who, c.ClaimCoupon(1), 1.0), ev.CouponClaimed)
        got[who.user] = claimed.coupon.code
    assert sorted(got.values()) == ["A1", "B2"]
    refused(shop, ANN, c.ClaimCoupon(1), 1.0, CommerceCode.COUPONS_GONE)
    assert shop.coupons.drops[1].state == "gone"
    snap = shop.snapshot(ANN)
    assert [k.code for k in snap.your_coupons] == [got["ann"]]
    assert "A1" not in repr(snap.coupons) and "B2" not in repr(snap.coupons)


def test_shared_code_tier_filter_and_expiry() -> None:
    shop = make_shop()
    shop.handle(HOST, c.DropCoupons(60.0, code="VIP20", uses=5, tier="vip", percent_off=20), 0.0)
    refused(shop, ANN, c.ClaimCoupon(1), 1.0, CommerceCode.NOT_ELIGIBLE)
    shop.handle(VIP, c.ClaimCoupon(1), 1.0)
    refused(shop, VIP, c.ClaimCoupon(1), 1.0, CommerceCode.COUPON_USED)
    refused(shop, actor("v2", tier="vip"), c.ClaimCoupon(1), 60.0, CommerceCode.COUPON_EXPIRED)
    emits = shop.tick(60.0)
    assert [e.reason for e in events_of(emits, ev.CouponUpdated)] == ["expired"]


def test_generated_codes_come_from_entropy_and_need_it() -> None:
    assert generate_codes(ENTROPY, 1, 3) == generate_codes(ENTROPY, 1, 3)
    assert generate_codes(ENTROPY, 1, 3) != generate_codes(b"x" * 32, 1, 3)
    assert len(set(generate_codes(ENTROPY, 1, 500))) == 500
    shop = make_shop()
    refused(shop, HOST, c.DropCoupons(60.0, uses=3), 0.0, CommerceCode.BAD_OFFER, entropy=b"")
    assert c.DropCoupons.NEEDS_ENTROPY
    shop.handle(HOST, c.DropCoupons(60.0, uses=3), 0.0, entropy=ENTROPY)
    assert sorted(shop.coupons.drops[1].codes) == sorted(generate_codes(ENTROPY, 1, 3))


@pytest.mark.parametrize(
    "cmd",
    [
        c.DropCoupons(60.0, codes=["A", "A"]),
        c.DropCoupons(60.0, codes=[]),
        c.DropCoupons(60.0, codes=["A"], code="B", uses=1),
        c.DropCoupons(60.0, code="has space", uses=1),
        c.DropCoupons(60.0, code="X", uses=0),
        c.DropCoupons(60.0, code="X", uses=1, amount_off=500),
        c.DropCoupons(60.0, code="X", uses=1, amount_off=5.0, currency="SAR"),  # type: ignore[arg-type]
        c.DropCoupons(60.0, code="X", uses=1, percent_off=101),
        c.DropCoupons(0.0, code="X", uses=1),
    ],
)
def test_bad_drops_are_refused(cmd: c.DropCoupons) -> None:
    shop = make_shop()
    before = shop.fingerprint()
    with pytest.raises(RuleError):
        shop.handle(HOST, cmd, 1.0, entropy=ENTROPY)
    assert shop.fingerprint() == before


# --- group buys ------------------------------------------------------------------------
def test_group_fills_and_completes_exactly_once() -> None:
    shop = make_shop(stock=10)
    shop.handle(HOST, c.StartGroupBuy("dress", 15000, 3, 60.0, 600.0), 0.0)
    e1 = shop.handle(ANN, c.JoinGroup(1), 1.0)
    (status,) = events_of(e1, ev.GroupStatus)
    assert (status.group.joined, status.group.size, status.reason) == (1, 3, "joined")
    refused(shop, ANN, c.JoinGroup(1), 1.0, CommerceCode.ALREADY_JOINED)
    e2 = shop.handle(BOB, c.JoinGroup(1), 2.0)
    assert events_of(e2, ev.GroupStatus)[0].group.joined == 2
    assert {u for e in e2 if isinstance(e.event, ev.GroupStatus) for u in e.to.users} == {
        "ann",
        "bob",
    }
    assert product_balance(shop) == (8, 2, 0, 10)
    e3 = shop.handle(VIP, c.JoinGroup(1), 3.0)
    done = [s for s in events_of(e3, ev.GroupStatus) if s.reason == "completed"]
    assert len(done) == 1 and done[0].group.state == "complete"
    assert product_balance(shop) == (7, 0, 3, 10)
    # The next joiner starts group 2; group 1 never completes again.
    e4 = shop.handle(actor("d"), c.JoinGroup(1), 4.0)
    assert events_of(e4, ev.GroupStatus)[0].group.group == 2
    assert shop.groups.deals[1].completed() == 1
    assert shop.tick(5.0) == [] or all(
        not isinstance(e.event, ev.GroupStatus) for e in shop.tick(5.0)
    )


def test_group_expires_and_releases_units() -> None:
    shop = make_shop(stock=10)
    shop.handle(HOST, c.StartGroupBuy("dress", 15000, 3, 30.0, 600.0), 0.0)
    shop.handle(ANN, c.JoinGroup(1), 1.0)
    shop.handle(BOB, c.JoinGroup(1), 2.0)
    emits = shop.tick(31.0)
    statuses = events_of(emits, ev.GroupStatus)
    assert [s.reason for s in statuses] == ["expired"] and statuses[0].group.state == "expired"
    assert product_balance(shop) == (10, 0, 0, 10)
    shop.handle(ANN, c.JoinGroup(1), 32.0)  # free to join the next group


def test_join_after_the_time_limit_expires_the_old_group_first() -> None:
    shop = make_shop(stock=1)
    shop.handle(HOST, c.StartGroupBuy("dress", 15000, 2, 30.0, 600.0), 0.0)
    shop.handle(ANN, c.JoinGroup(1), 1.0)
    refused(shop, BOB, c.JoinGroup(1), 2.0, CommerceCode.SOLD_OUT)  # ann holds the only unit
    emits = shop.handle(BOB, c.JoinGroup(1), 31.0)  # group 1 is past its limit
    assert [(s.group.group, s.reason) for s in events_of(emits, ev.GroupStatus)] == [
        (1, "expired"),
        (2, "joined"),
    ]
    shop.handle(BOB, c.LeaveGroup(1), 32.0)
    assert product_balance(shop) == (1, 0, 0, 1)


def test_closing_a_group_buy_expires_the_filling_group() -> None:
    shop = make_shop()
    shop.handle(HOST, c.StartGroupBuy("dress", 15000, 3, 30.0, 600.0), 0.0)
    shop.handle(ANN, c.JoinGroup(1), 1.0)
    emits = shop.handle(HOST, c.CloseGroupBuy(1), 2.0)
    assert [s.reason for s in events_of(emits, ev.GroupStatus)] == ["expired"]
    refused(shop, BOB, c.JoinGroup(1), 3.0, CommerceCode.GROUP_CLOSED)


# --- the room and the shop -------------------------------------------------------------
def test_room_end_closes_everything_once() -> None:
    shop = make_shop()
    shop.handle(HOST, c.StartSale("dress", 100, 2, 60.0), 0.0)
    shop.handle(HOST, c.DropCoupons(60.0, code="X", uses=2), 0.0)
    shop.handle(HOST, c.StartGroupBuy("dress", 100, 2, 30.0, 60.0), 0.0)
    shop.handle(ANN, c.JoinGroup(1), 1.0)
    assert shop.react([Emit(EVERYONE, PhaseChanged("show", None))], 2.0) == []
    emits = shop.react([Emit(EVERYONE, PhaseChanged("ended", None))], 2.0)
    reasons = {type(e.event).__name__: getattr(e.event, "reason", None) for e in emits}
    assert reasons["SaleUpdated"] == reasons["CouponUpdated"] == "room_ended"
    assert reasons["GroupDealUpdated"] == "room_ended"
    assert product_balance(shop) == (10, 0, 0, 10)
    assert shop.react([Emit(EVERYONE, PhaseChanged("ended", None))], 3.0) == []
    refused(shop, ANN, c.ClaimSale(1), 3.0, ErrorCode.ROOM_ENDED)


def test_state_round_trip_and_snapshot_is_wire_safe() -> None:
    shop = make_shop()
    shop.handle(HOST, c.StartSale("dress", 100, 2, 60.0), 0.0)
    shop.handle(ANN, c.ClaimSale(1), 1.0)
    copy = Shop.from_state(shop.to_state())
    assert copy.fingerprint() == shop.fingerprint()
    snap = to_wire(copy.snapshot(ANN))
    assert snap["your_claims"][0]["user"] == "ann" and snap["sales"][0]["left"] == 1
    assert not to_wire(copy.snapshot(BOB))["your_claims"]
    assert to_wire(copy.snapshot(None))["products"][0]["id"] == "dress"


def test_staff_may_not_claim() -> None:
    shop = make_shop()
    shop.handle(HOST, c.StartSale("dress", 100, 2, 60.0), 0.0)
    refused(shop, actor("ag", Role.AGENT), c.ClaimSale(1), 1.0, ErrorCode.FORBIDDEN)
