"""Hypothesis state machines: random shoppers, moderators and clocks drive the shop.

Invariants (issue #10): a sale never hands out more than its quantity, never takes a user
past its limit, never records a claim outside its window (or inside the early-access
window for another tier); one coupon per user per drop and never more than the drop
holds, never after it expired; a group completes exactly once, with exactly its size;
``stock + held + sold == added`` and nothing is negative; money stays ``int``; a refused
command changes no fingerprint.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from voiceroom.commerce import Shop, ShopConfig
from voiceroom.commerce import commands as c
from voiceroom.commerce import events as ev
from voiceroom.commerce.coupons import DropState
from voiceroom.commerce.groupbuy import DealState, GroupState
from voiceroom.commerce.sale import SaleState
from voiceroom.room.commands import Command
from voiceroom.room.errors import RuleError
from voiceroom.room.events import EVERYONE, Emit, PhaseChanged
from voiceroom.room.model import Role

from .helpers import ENTROPY, HOST, actor, dress

TIERS = {"u1": "vip", "u2": "vip", "u3": "new", "u4": "new", "u5": "active"}
SHOPPERS = [actor(u, tier=t) for u, t in TIERS.items()]
shoppers = st.sampled_from(SHOPPERS)
PRODUCTS = ["p1", "p2"]
# Valid values, so offers open and claims land; bad ones come from the ``garbage`` rule.
products = st.sampled_from(PRODUCTS)
ids = st.integers(1, 3)
money = st.integers(0, 50_000)
durations = st.floats(5, 120)
small = st.integers(1, 3)
BAD = [
    c.StartSale("p1", 1.5, 1, 60.0),  # type: ignore[arg-type]
    c.StartSale("p1", True, 1, 60.0),  # type: ignore[arg-type]
    c.StartSale("p1", -5, 1, 60.0),
    c.StartSale("nope", 1, 1, 60.0),
    c.StartSale("p1", 1, 0, 60.0),
    c.StartSale("p1", 1, 1, float("inf")),
    c.StartSale("p1", 1, 1, 60.0, 0),
    c.ClaimSale(0),
    c.ClaimSale(1, 0),
    c.ClaimSale(1, True),  # type: ignore[arg-type]
    c.DropCoupons(60.0, codes=["A", "A"]),
    c.DropCoupons(-1.0, code="A", uses=1),
    c.ClaimCoupon(99),
    c.StartGroupBuy("p1", 1, 1, 10.0, 60.0),
    c.StartGroupBuy("p1", 1, 2, 100.0, 60.0),
    c.StartGroupBuy("p1", 1.0, 2, 10.0, 60.0),  # type: ignore[arg-type]
    c.JoinGroup(99),
    c.LeaveGroup(99),
    c.RestockProduct("p1", 0),
    c.RemoveProduct("nope"),
]


class ShopMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.shop = Shop(ShopConfig(max_live_offers=3))
        self.now = 1000.0
        self.emits: list[Emit] = []
        self.accepted: list[tuple[float, str, Command]] = []

    @initialize(stock=st.integers(0, 30))
    def catalog(self, stock: int) -> None:
        self.shop.load_catalog([dress("p1", stock=stock), dress("p2", stock=3)], self.now)

    def send(self, who: Any, cmd: Command) -> None:
        before = self.shop.fingerprint()
        try:
            out = self.shop.handle(who, cmd, self.now, entropy=ENTROPY)
        except RuleError:
            assert self.shop.fingerprint() == before, f"{cmd} half-applied"
            return
        self.emits += out
        self.accepted.append((self.now, who.user, cmd))

    @rule(dt=st.one_of(st.floats(0, 3), st.floats(20, 90)))
    def tick(self, dt: float) -> None:
        self.now += dt
        self.emits += self.shop.tick(self.now)

    @rule(units=st.integers(1, 5), pid=products)
    def restock(self, units: int, pid: str) -> None:
        self.send(HOST, c.RestockProduct(pid, units))

    @rule(cmd=st.sampled_from(BAD), who=st.sampled_from([HOST, *SHOPPERS]))
    def garbage(self, cmd: Command, who: Any) -> None:
        self.send(who, cmd)

    @invariant()
    def stock_balances(self) -> None:
        for p in self.shop.catalog.products.values():
            assert min(p.stock, p.held, p.sold) >= 0
            assert p.stock + p.held + p.sold == p.added
            for amount in (p.price, p.stock, p.held, p.sold):
                assert type(amount) is int
        held: Counter[str] = Counter()
        for s in self.shop.sales.sales.values():
            if s.state is not SaleState.CLOSED:
                held[s.product] += s.left
        for d in self.shop.groups.deals.values():
            for g in d.groups:
                if g.state is GroupState.FILLING:
                    held[d.product] += len(g.members)
        for p in self.shop.catalog.products.values():
            assert p.held == held[p.id], p.id

    @invariant()
    def sold_is_what_was_claimed_or_grouped(self) -> None:
        sold: Counter[str] = Counter()
        for s in self.shop.sales.sales.values():
            sold[s.product] += sum(k.quantity for k in s.claims)
        for d in self.shop.groups.deals.values():
            sold[d.product] += d.size * d.completed()
        for p in self.shop.catalog.products.values():
            assert p.sold == sold[p.id]


class SaleMachine(ShopMachine):
    @rule(
        pid=products,
        price=money,
        qty=st.integers(1, 8),
        dur=durations,
        limit=small,
        delay=st.one_of(st.none(), st.none(), st.floats(-10, 30)),
        early=st.one_of(st.none(), st.tuples(st.sampled_from(["vip", "x"]), st.floats(1, 4))),
    )
    def start(
        self,
        pid: str,
        price: Any,
        qty: int,
        dur: float,
        limit: int,
        delay: float | None,
        early: tuple[str, float] | None,
    ) -> None:
        tier, secs = early if early is not None else (None, 0.0)
        starts = None if delay is None else self.now + delay
        self.send(HOST, c.StartSale(pid, price, qty, dur, limit, starts, tier, secs))

    @rule(who=shoppers, sale=ids, qty=small)
    def claim(self, who: Any, sale: int, qty: int) -> None:
        self.send(who, c.ClaimSale(sale, qty))

    @precondition(lambda self: self.shop.sales.live() > 0)
    @rule(data=st.data(), who=shoppers, qty=small)
    def claim_live(self, data: st.DataObject, who: Any, qty: int) -> None:
        live = [s.id for s in self.shop.sales.sales.values() if s.state is not SaleState.CLOSED]
        self.send(who, c.ClaimSale(data.draw(st.sampled_from(live)), qty))

    @rule(sale=ids)
    def close(self, sale: int) -> None:
        self.send(HOST, c.CloseSale(sale))

    @invariant()
    def claims_hold_their_promises(self) -> None:
        for s in self.shop.sales.sales.values():
            total = sum(k.quantity for k in s.claims)
            assert total <= s.quantity
            if s.state is not SaleState.CLOSED:
                assert s.left == s.quantity - total
            per_user = Counter[str]()
            for k in s.claims:
                per_user[k.user] += k.quantity
                assert s.starts_at <= k.at < s.ends_at, "claim outside the window"
                if s.early_tier is not None and k.at < s.early_until:
                    assert TIERS[k.user] == s.early_tier
            assert all(n <= s.per_user_limit for n in per_user.values())
            assert per_user == Counter(s.by_user)
            if s.state is SaleState.SOLD_OUT:
                assert s.left == 0

    @invariant()
    def every_claimant_was_told(self) -> None:
        told = Counter(
            e.event.claim.sale for e in self.emits if isinstance(e.event, ev.SaleClaimed)
        )
        assert told == Counter(
            {s.id: len(s.claims) for s in self.shop.sales.sales.values() if s.claims}
        )


class CouponMachine(ShopMachine):
    def __init__(self) -> None:
        super().__init__()
        self.offered: dict[int, list[str]] = {}

    @rule(
        kind=st.sampled_from(["codes", "shared", "generated"]),
        n=small,
        dur=durations,
        tier=st.sampled_from([None, "vip"]),
    )
    def drop(self, kind: str, n: int, dur: float, tier: str | None) -> None:
        if kind == "codes":
            cmd = c.DropCoupons(dur, codes=[f"C{i % 3}" for i in range(n)], tier=tier)
        elif kind == "shared":
            cmd = c.DropCoupons(dur, code="SHARED", uses=n, tier=tier)
        else:
            cmd = c.DropCoupons(dur, uses=n, tier=tier)
        next_id = self.shop.coupons.next_drop
        self.send(HOST, cmd)
        if next_id in self.shop.coupons.drops:
            self.offered[next_id] = list(self.shop.coupons.drops[next_id].codes)

    @rule(who=shoppers, drop=ids)
    def claim(self, who: Any, drop: int) -> None:
        self.send(who, c.ClaimCoupon(drop))

    @precondition(lambda self: self.shop.coupons.live() > 0)
    @rule(data=st.data(), who=shoppers)
    def claim_live(self, data: st.DataObject, who: Any) -> None:
        live = [d.id for d in self.shop.coupons.drops.values() if d.state is not DropState.CLOSED]
        self.send(who, c.ClaimCoupon(data.draw(st.sampled_from(live))))

    @rule(drop=ids)
    def close(self, drop: int) -> None:
        self.send(HOST, c.CloseCoupons(drop))

    @invariant()
    def one_coupon_per_user_never_more_than_offered(self) -> None:
        for d in self.shop.coupons.drops.values():
            assert len(d.claims) == d.total - d.left if d.state is not DropState.CLOSED else True
            assert len(d.claims) <= d.total
            offered = self.offered[d.id]
            if d.shared:
                assert set(d.claims.values()) <= set(offered)
            else:
                assert len(set(d.claims.values())) == len(d.claims), "a code handed out twice"
                assert set(d.claims.values()) <= set(offered)
            if d.tier is not None:
                assert all(TIERS[u] == d.tier for u in d.claims)
        for at, _user, cmd in self.accepted:
            if isinstance(cmd, c.ClaimCoupon):
                assert at < self.shop.coupons.drops[cmd.drop].expires_at


class GroupMachine(ShopMachine):
    @rule(
        pid=products,
        price=money,
        size=st.integers(2, 3),
        limit=st.floats(1, 60),
        dur=durations,
    )
    def start(self, pid: str, price: Any, size: int, limit: float, dur: float) -> None:
        self.send(HOST, c.StartGroupBuy(pid, price, size, min(limit, dur), dur))

    @rule(who=shoppers, deal=ids)
    def join(self, who: Any, deal: int) -> None:
        self.send(who, c.JoinGroup(deal))

    @precondition(lambda self: self.shop.groups.live() > 0)
    @rule(data=st.data(), who=shoppers)
    def join_live(self, data: st.DataObject, who: Any) -> None:
        live = [d.id for d in self.shop.groups.deals.values() if d.state is not DealState.CLOSED]
        self.send(who, c.JoinGroup(data.draw(st.sampled_from(live))))

    @rule(who=shoppers, deal=ids)
    def leave(self, who: Any, deal: int) -> None:
        self.send(who, c.LeaveGroup(deal))

    @precondition(lambda self: any(d.member_of for d in self.shop.groups.deals.values()))
    @rule(data=st.data())
    def leave_mine(self, data: st.DataObject) -> None:
        pairs = sorted((u, d.id) for d in self.shop.groups.deals.values() for u in d.member_of)
        user, deal = data.draw(st.sampled_from(pairs))
        self.send(actor(user, tier=TIERS[user]), c.LeaveGroup(deal))

    @rule(deal=ids)
    def close(self, deal: int) -> None:
        self.send(HOST, c.CloseGroupBuy(deal))

    @rule(p=st.integers(0, 9))
    def room_ends(self, p: int) -> None:
        if p:  # one step in ten at most: most runs keep the room open
            return
        self.emits += self.shop.react([Emit(EVERYONE, PhaseChanged("ended", None))], self.now)

    @invariant()
    def groups_complete_exactly_once(self) -> None:
        ends = Counter(
            (e.event.group.deal, e.event.group.group)
            for e in self.emits
            if isinstance(e.event, ev.GroupStatus) and e.event.reason in ("completed", "expired")
        )
        for d in self.shop.groups.deals.values():
            filling = [g for g in d.groups if g.state is GroupState.FILLING]
            assert len(filling) <= 1 and (not filling or filling[0] is d.groups[-1])
            seen: set[str] = set()
            for g in d.groups:
                if g.state is GroupState.COMPLETE:
                    assert len(g.members) == g.size == d.size
                    assert ends[(d.id, g.id)] == 1
                elif g.state is GroupState.FILLING:
                    assert len(g.members) < g.size and ends[(d.id, g.id)] == 0
                else:
                    assert ends[(d.id, g.id)] <= 1  # an empty group ends silently
                if g.state is not GroupState.EXPIRED:
                    assert not seen & set(g.members), "a user in two groups of one buy"
                    seen |= set(g.members)
                    assert all(d.member_of[u] == g.id for u in g.members)
            assert set(d.member_of) == seen


_SETTINGS = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SaleMachine.TestCase.settings = _SETTINGS
CouponMachine.TestCase.settings = _SETTINGS
GroupMachine.TestCase.settings = _SETTINGS
TestSaleInvariants = SaleMachine.TestCase
TestCouponInvariants = CouponMachine.TestCase
TestGroupInvariants = GroupMachine.TestCase
assert Role  # shoppers are listeners (actor() default)
