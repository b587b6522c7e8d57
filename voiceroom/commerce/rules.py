"""Who may send which shop command, and in which phases: one table, like the room's.

The venue checks a command's rule (role first, then phase) before the shop sees it; the
shop checks the role again so it is safe on its own. Moderators (host, co-hosts) run the
shop; shoppers are the listeners: staff do not compete with the audience for stock.
"""

from __future__ import annotations

from voiceroom.commerce import commands as c
from voiceroom.room.commands import Command
from voiceroom.room.model import MODERATORS, Role
from voiceroom.room.rules import LIVE, Rule

SHOPPERS = frozenset({Role.LISTENER})

RULES: dict[type[Command], Rule] = {
    # catalog and showcase
    c.AddProduct: Rule(MODERATORS, LIVE),
    c.RestockProduct: Rule(MODERATORS, LIVE),
    c.RemoveProduct: Rule(MODERATORS, LIVE),
    c.PinProduct: Rule(MODERATORS, LIVE),
    c.UnpinProduct: Rule(MODERATORS, LIVE),
    # flash sales
    c.StartSale: Rule(MODERATORS, LIVE),
    c.ClaimSale: Rule(SHOPPERS, LIVE),
    c.CloseSale: Rule(MODERATORS, LIVE),
    # coupon drops
    c.DropCoupons: Rule(MODERATORS, LIVE),
    c.ClaimCoupon: Rule(SHOPPERS, LIVE),
    c.CloseCoupons: Rule(MODERATORS, LIVE),
    # group buys
    c.StartGroupBuy: Rule(MODERATORS, LIVE),
    c.JoinGroup: Rule(SHOPPERS, LIVE),
    c.LeaveGroup: Rule(SHOPPERS, LIVE),
    c.CloseGroupBuy: Rule(MODERATORS, LIVE),
}

__all__ = ["RULES", "SHOPPERS"]
