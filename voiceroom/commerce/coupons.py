"""Coupon drops: codes handed out one per user until they run out or the drop expires.

Three ways to fill a drop: a list of ``codes`` (each handed out once), one ``code`` with
``uses`` claims, or ``uses`` codes generated from the command's entropy bytes (the host
passes ``secrets.token_bytes(32)`` and the journal keeps them, so a replay generates the
same codes). Codes go to their claimant only; events for everyone carry counts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from voiceroom.commerce import checks
from voiceroom.commerce import commands as c
from voiceroom.commerce.catalog import Catalog
from voiceroom.commerce.config import ShopConfig
from voiceroom.commerce.errors import CommerceCode, fail
from voiceroom.commerce.events import CouponClaimed, CouponDropView, CouponLeft, CouponUpdated
from voiceroom.commerce.events import CouponView as CouponView
from voiceroom.commerce.lifecycle import Move, Throttle, Trigger, ValueEq, next_state
from voiceroom.commerce.money import check_amount, check_currency
from voiceroom.room.commands import Command
from voiceroom.room.events import EVERYONE, Emit, to_users
from voiceroom.room.model import Actor

MAX_CODE_CHARS: Final = 32
_CODE = re.compile(r"[A-Za-z0-9_-]+")
GENERATED_CHARS: Final = 10  # base32: 50 bits per code


class DropState(StrEnum):
    OPEN = "open"
    GONE = "gone"  # every code or use is taken
    CLOSED = "closed"


TRANSITIONS: dict[DropState, dict[Move, DropState]] = {
    DropState.OPEN: {
        c.ClaimCoupon: DropState.OPEN,
        Trigger.SELL_OUT: DropState.GONE,
        c.CloseCoupons: DropState.CLOSED,
        Trigger.END: DropState.CLOSED,
        Trigger.ROOM_END: DropState.CLOSED,
    },
    DropState.GONE: {
        c.CloseCoupons: DropState.CLOSED,
        Trigger.END: DropState.CLOSED,
        Trigger.ROOM_END: DropState.CLOSED,
    },
    DropState.CLOSED: {},
}
REFUSALS: dict[tuple[DropState, Move], CommerceCode] = {
    (DropState.GONE, c.ClaimCoupon): CommerceCode.COUPONS_GONE,
    (DropState.CLOSED, c.ClaimCoupon): CommerceCode.COUPON_EXPIRED,
}


def generate_codes(entropy: bytes, drop: int, n: int) -> list[str]:
    """``n`` distinct codes from ``entropy``: HMAC-SHA256 of ``drop:i`` under it, base32."""
    codes: list[str] = []
    seen: set[str] = set()
    i = 0
    while len(codes) < n:
        digest = hmac.new(entropy, f"{drop}:{i}".encode(), hashlib.sha256).digest()
        code = base64.b32encode(digest).decode()[:GENERATED_CHARS]
        i += 1
        if code not in seen:  # a collision is astronomically rare; skip it, deterministically
            seen.add(code)
            codes.append(code)
    return codes


@dataclass(slots=True)
class Drop:
    id: int
    shared: bool  # one code, many uses
    codes: list[str]  # codes left to hand out (shared: the one code)
    total: int
    left: int
    tier: str | None
    product: str | None
    percent_off: int
    amount_off: int
    currency: str | None
    expires_at: float
    state: DropState = DropState.OPEN
    claims: dict[str, str] = field(default_factory=dict)  # user -> code

    def view(self) -> CouponDropView:
        return CouponDropView(
            self.id,
            "shared" if self.shared else "codes",
            self.total,
            self.left,
            self.tier,
            self.product,
            self.percent_off,
            self.amount_off,
            self.currency,
            self.expires_at,
            self.state.value,
        )


Handler = Callable[["Coupons", Actor, Any, float, bytes, list[Emit]], None]


def _code(value: Any) -> str:
    if (
        type(value) is not str
        or not 1 <= len(value) <= MAX_CODE_CHARS
        or not _CODE.fullmatch(value)
    ):
        raise checks.bad(f"a coupon code is 1..{MAX_CODE_CHARS} of A-Z a-z 0-9 _ -")
    return value


class Coupons(ValueEq):
    def __init__(self, config: ShopConfig, catalog: Catalog, throttle: Throttle) -> None:
        self.config = config
        self.catalog = catalog
        self.throttle = throttle
        self.drops: dict[int, Drop] = {}
        self.next_drop = 1

    def live(self) -> int:
        return sum(d.state is not DropState.CLOSED for d in self.drops.values())

    def require(self, drop_id: Any) -> Drop:
        drop = self.drops.get(drop_id) if type(drop_id) is int else None
        if drop is None:
            raise fail(CommerceCode.NO_SUCH_COUPON, f"no coupon drop {drop_id!r:.40}")
        return drop

    # ------------------------------------------------------------------ handlers
    def drop(
        self, actor: Actor, cmd: c.DropCoupons, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        cfg = self.config
        duration = checks.seconds(cmd.duration, "duration", 1.0, cfg.max_duration)
        shared = cmd.code is not None
        if cmd.codes is not None:
            if shared or cmd.uses != 0:
                raise checks.bad("give codes, or code and uses, or uses alone")
            most = min(cfg.max_codes, checks.MAX_LIST_ITEMS)  # more: generated codes
            if type(cmd.codes) not in (list, tuple) or not 1 <= len(cmd.codes) <= most:
                raise checks.bad(f"codes must be a list of 1..{most} codes")
            codes = [_code(v) for v in cmd.codes]
            if len(set(codes)) != len(codes):
                raise checks.bad("codes must be distinct")
            total = len(codes)
        else:
            total = checks.count(cmd.uses, "uses", 1, cfg.max_codes)
            if shared:
                codes = [_code(cmd.code)]
            elif len(entropy) < 16:
                raise checks.bad("generated codes need at least 16 bytes of entropy")
            else:
                codes = []  # generated below, once everything else is checked
        tier = None if cmd.tier is None else checks.tier(cmd.tier)
        product = None if cmd.product is None else self.catalog.require(cmd.product).id
        percent = checks.count(cmd.percent_off, "percent_off", 0, 100)
        amount = check_amount(cmd.amount_off, "amount_off")
        currency = None if cmd.currency is None else check_currency(cmd.currency)
        if (amount > 0) != (currency is not None) or (percent > 0 and amount > 0):
            raise checks.bad("a discount is percent_off, or amount_off with its currency")
        if self.live() >= cfg.max_live_offers:
            raise fail(CommerceCode.TOO_MANY_OFFERS, f"at most {cfg.max_live_offers} live drops")
        # --- write
        drop_id = self.next_drop
        self.next_drop += 1
        if not codes:
            codes = generate_codes(entropy, drop_id, total)
        drop = Drop(
            drop_id,
            shared,
            codes,
            total,
            total,
            tier,
            product,
            percent,
            amount,
            currency,
            now + duration,
        )
        self.drops[drop.id] = drop
        out.append(Emit(EVERYONE, CouponUpdated(drop.view(), "dropped")))

    def claim(
        self, actor: Actor, cmd: c.ClaimCoupon, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        drop = self.require(cmd.drop)
        next_state(TRANSITIONS, drop.state, c.ClaimCoupon, REFUSALS, f"coupon drop {drop.id}")
        if now >= drop.expires_at:
            raise fail(CommerceCode.COUPON_EXPIRED, f"coupon drop {drop.id} has expired")
        if drop.tier is not None and actor.tier != drop.tier:
            raise fail(CommerceCode.NOT_ELIGIBLE, f"coupon drop {drop.id} is for {drop.tier}")
        if actor.user in drop.claims:
            raise fail(CommerceCode.COUPON_USED, "you already have a coupon from this drop")
        # --- write
        code = drop.codes[0] if drop.shared else drop.codes.pop()
        drop.claims[actor.user] = code
        drop.left -= 1
        out.append(
            Emit(to_users(actor.user), CouponClaimed(CouponView(drop.id, code, drop.expires_at)))
        )
        if drop.left == 0:
            self._move(drop, Trigger.SELL_OUT, "gone", out)
        else:
            self.throttle.offer(f"coupon:{drop.id}", CouponLeft(drop.id, drop.left), now, out)

    def close(
        self, actor: Actor, cmd: c.CloseCoupons, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        self._move(self.require(cmd.drop), c.CloseCoupons, "closed", out)

    # ------------------------------------------------------------------ time and the room
    def tick(self, now: float, out: list[Emit]) -> None:
        for drop in self.drops.values():
            if drop.state is not DropState.CLOSED and now >= drop.expires_at:
                self._move(drop, Trigger.END, "expired", out)

    def close_all(self, out: list[Emit]) -> None:
        for drop in self.drops.values():
            if drop.state is not DropState.CLOSED:
                self._move(drop, Trigger.ROOM_END, "room_ended", out)

    def _move(self, drop: Drop, move: Move, reason: str, out: list[Emit]) -> None:
        drop.state = next_state(TRANSITIONS, drop.state, move, REFUSALS, f"coupon drop {drop.id}")
        self.throttle.forget(f"coupon:{drop.id}")  # coupon.updated carries ``left``
        if drop.state is DropState.CLOSED:
            drop.codes = []  # unclaimed codes are dead: keep none around
        out.append(Emit(EVERYONE, CouponUpdated(drop.view(), reason)))


HANDLERS: dict[type[Command], Handler] = {
    c.DropCoupons: Coupons.drop,
    c.ClaimCoupon: Coupons.claim,
    c.CloseCoupons: Coupons.close,
}
