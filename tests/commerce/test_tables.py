"""Every shop command x every role, from one table; and every lifecycle table is total.

For each command a *setup* brings the shop into a state where the command succeeds for an
allowed sender. A role outside ``RULES[cmd].roles`` gets ``forbidden`` and the shop's
fingerprint is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

import pytest

from voiceroom.commerce import Shop, coupons, groupbuy, sale
from voiceroom.commerce import commands as c
from voiceroom.commerce.core import HANDLED
from voiceroom.commerce.errors import CommerceCode
from voiceroom.commerce.events import EVENT_TYPES
from voiceroom.commerce.rules import RULES
from voiceroom.room import commands as c_room
from voiceroom.room.commands import Command
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.model import Role

from .helpers import ENTROPY, HOST, actor, dress, make_shop

Setup = Callable[[Shop], Command]


def base() -> Shop:
    """A shop with product dress (10 units), product hat (5), an open sale 1 on dress
    (3 units), coupon drop 1 (5 generated codes) and group buy 1 on hat (size 3)."""
    shop = make_shop()
    shop.handle(HOST, dress("hat", stock=5, price=5000), 0.0)
    shop.handle(HOST, c.StartSale("dress", 9900, 3, 600.0, per_user_limit=2), 1.0)
    shop.handle(HOST, c.DropCoupons(600.0, uses=5, percent_off=10), 1.0, entropy=ENTROPY)
    shop.handle(HOST, c.StartGroupBuy("hat", 3000, 3, 300.0, 600.0), 1.0)
    return shop


def joined(shop: Shop) -> Command:
    shop.handle(actor("x1"), c.JoinGroup(1), 1.5)  # someone else, so the group stays
    shop.handle(ACTOR_AS[Role.LISTENER], c.JoinGroup(1), 1.5)
    return c.LeaveGroup(1)


ACTOR_AS = {role: actor("actor", role) for role in Role}

CASES: dict[type[Command], Setup] = {
    c.AddProduct: lambda s: dress("shoe"),
    c.RestockProduct: lambda s: c.RestockProduct("dress", 5),
    c.RemoveProduct: lambda s: (s.handle(HOST, dress("sock"), 1.5), c.RemoveProduct("sock"))[1],
    c.PinProduct: lambda s: c.PinProduct("dress"),
    c.UnpinProduct: lambda s: (s.handle(HOST, c.PinProduct("hat"), 1.5), c.UnpinProduct())[1],
    c.StartSale: lambda s: c.StartSale("dress", 9900, 2, 60.0),
    c.ClaimSale: lambda s: c.ClaimSale(1),
    c.CloseSale: lambda s: c.CloseSale(1),
    c.DropCoupons: lambda s: c.DropCoupons(60.0, code="SAVE10", uses=3, percent_off=10),
    c.ClaimCoupon: lambda s: c.ClaimCoupon(1),
    c.CloseCoupons: lambda s: c.CloseCoupons(1),
    c.StartGroupBuy: lambda s: c.StartGroupBuy("dress", 15000, 2, 60.0, 120.0),
    c.JoinGroup: lambda s: c.JoinGroup(1),
    c.LeaveGroup: joined,
    c.CloseGroupBuy: lambda s: c.CloseGroupBuy(1),
}

SAMPLES: dict[type[Command], Command] = {
    c.AddProduct: dress("shoe"),
    c.RestockProduct: c.RestockProduct("dress", 5),
    c.RemoveProduct: c.RemoveProduct("dress"),
    c.PinProduct: c.PinProduct("dress"),
    c.StartSale: c.StartSale("dress", 1, 1, 60.0),
    c.ClaimSale: c.ClaimSale(1),
    c.CloseSale: c.CloseSale(1),
    c.DropCoupons: c.DropCoupons(60.0, uses=1),
    c.ClaimCoupon: c.ClaimCoupon(1),
    c.CloseCoupons: c.CloseCoupons(1),
    c.StartGroupBuy: c.StartGroupBuy("dress", 1, 2, 60.0, 60.0),
    c.JoinGroup: c.JoinGroup(1),
    c.LeaveGroup: c.LeaveGroup(1),
    c.CloseGroupBuy: c.CloseGroupBuy(1),
}


def test_every_command_has_rule_handler_case_and_unique_wire_name() -> None:
    assert set(RULES) == set(c.COMMAND_TYPES) == set(HANDLED) == set(CASES)
    assert len(c.COMMANDS) == len(c.COMMAND_TYPES)
    assert all(
        t.TYPE.split(".")[0] in {"product", "sale", "coupon", "group"} for t in c.COMMAND_TYPES
    )
    assert len({e.TYPE for e in EVENT_TYPES}) == len(EVENT_TYPES)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("cmd_type", list(CASES), ids=lambda t: t.TYPE)
def test_command_by_role(cmd_type: type[Command], role: Role) -> None:
    shop = base()
    sender = ACTOR_AS[role]
    if role not in RULES[cmd_type].roles:
        command = SAMPLES.get(cmd_type) or cmd_type()
        before = shop.fingerprint()
        with pytest.raises(RuleError) as err:
            shop.handle(sender, command, 2.0, entropy=ENTROPY)
        assert err.value.code is ErrorCode.FORBIDDEN
        assert shop.fingerprint() == before
        return
    command = CASES[cmd_type](shop)
    before = shop.fingerprint()
    emits = shop.handle(sender, command, 2.0, entropy=ENTROPY)  # must succeed
    assert emits and shop.fingerprint() != before


def test_shoppers_are_listeners_and_moderators_run_the_shop() -> None:
    shoppers = {c.ClaimSale, c.ClaimCoupon, c.JoinGroup, c.LeaveGroup}
    for cmd_type, rule in RULES.items():
        expected = {Role.LISTENER} if cmd_type in shoppers else {Role.HOST, Role.COHOST}
        assert set(rule.roles) == expected, cmd_type.TYPE


TABLES: list[tuple[str, Any, type[StrEnum]]] = [
    ("sale", sale.TRANSITIONS, sale.SaleState),
    ("coupon drop", coupons.TRANSITIONS, coupons.DropState),
    ("group buy", groupbuy.DEAL_TRANSITIONS, groupbuy.DealState),
    ("group", groupbuy.GROUP_TRANSITIONS, groupbuy.GroupState),
]


@pytest.mark.parametrize(("name", "table", "states"), TABLES, ids=[t[0] for t in TABLES])
def test_lifecycle_tables_are_total(name: str, table: Any, states: type[StrEnum]) -> None:
    assert set(table) == set(states), f"every {name} state is a key"
    for moves in table.values():
        assert set(moves.values()) <= set(states)


def test_missing_move_is_wrong_state() -> None:
    shop = base()
    shop.handle(HOST, c.CloseSale(1), 2.0)
    with pytest.raises(RuleError) as err:
        shop.handle(HOST, c.CloseSale(1), 2.0)
    assert err.value.code is CommerceCode.SALE_CLOSED
    shop.handle(actor("a"), c.JoinGroup(1), 2.0)
    shop.handle(actor("b"), c.JoinGroup(1), 2.0)
    shop.handle(actor("c"), c.JoinGroup(1), 2.0)  # completes group 1
    with pytest.raises(RuleError) as err:
        shop.handle(actor("a"), c.LeaveGroup(1), 2.0)
    assert err.value.code is CommerceCode.WRONG_STATE


# --- the same table through the Venue: role first, then phase, for every shop command ----
def venue_with(role: Role) -> tuple[Any, str]:
    from voiceroom.room.model import Profile
    from voiceroom.venue import Venue

    venue = Venue("tables")
    venue.join(Profile("boss", "Boss", Role.HOST, "vip"), 0.0)
    user = "boss" if role is Role.HOST else "actor"
    if role is not Role.HOST:
        venue.join(Profile(user, "A", role, "new"), 0.0)
    shop = venue.cores[0]
    shop.handle(ACTOR_AS[Role.HOST], dress(), 0.0)
    return venue, user


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("cmd_type", list(CASES), ids=lambda t: t.TYPE)
def test_venue_checks_the_shop_rules_first(cmd_type: type[Command], role: Role) -> None:
    venue, user = venue_with(role)
    shop = venue.cores[0]
    command = SAMPLES.get(cmd_type) or cmd_type()
    before = shop.fingerprint()
    if role not in RULES[cmd_type].roles:
        with pytest.raises(RuleError) as err:
            venue.handle(user, command, 1.0, entropy=ENTROPY)
        assert err.value.code is ErrorCode.FORBIDDEN
        assert shop.fingerprint() == before
    # The room ended: every shop command is refused, whoever sends it (role first).
    venue.handle("boss", c_room.EndRoom(), 2.0)
    with pytest.raises(RuleError) as err:
        venue.handle(user, command, 3.0, entropy=ENTROPY)
    expected = ErrorCode.FORBIDDEN if role not in RULES[cmd_type].roles else ErrorCode.ROOM_ENDED
    assert err.value.code is expected
