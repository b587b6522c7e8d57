"""Group buys (拼团): a price that applies when ``size`` shoppers join one group within
its time limit.

A deal has at most one *filling* group at a time: a joiner joins it, or starts the next
one. Each joiner's place holds one unit of the product, so a group that fills can always
be served. A group completes (the units are sold at the group price) or expires (the
units go back) exactly once; its members are told either way. A user is in at most one
live or completed group per deal.
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
from voiceroom.commerce.events import (
    GroupDealUpdated,
    GroupDealView,
    GroupProgress,
    GroupStatus,
    GroupView,
)
from voiceroom.commerce.lifecycle import Move, Throttle, Trigger, ValueEq, next_state
from voiceroom.commerce.money import check_amount, exponent
from voiceroom.room.commands import Command
from voiceroom.room.events import EVERYONE, Emit, to_users
from voiceroom.room.model import Actor


class DealState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class GroupState(StrEnum):
    FILLING = "filling"
    COMPLETE = "complete"
    EXPIRED = "expired"


DEAL_TRANSITIONS: dict[DealState, dict[Move, DealState]] = {
    DealState.OPEN: {
        c.JoinGroup: DealState.OPEN,
        c.LeaveGroup: DealState.OPEN,
        c.CloseGroupBuy: DealState.CLOSED,
        Trigger.END: DealState.CLOSED,
        Trigger.ROOM_END: DealState.CLOSED,
    },
    DealState.CLOSED: {},
}
DEAL_REFUSALS: dict[tuple[DealState, Move], CommerceCode] = {
    (DealState.CLOSED, c.JoinGroup): CommerceCode.GROUP_CLOSED,
    (DealState.CLOSED, c.LeaveGroup): CommerceCode.GROUP_CLOSED,
    (DealState.CLOSED, c.CloseGroupBuy): CommerceCode.GROUP_CLOSED,
}
GROUP_TRANSITIONS: dict[GroupState, dict[Move, GroupState]] = {
    GroupState.FILLING: {
        c.JoinGroup: GroupState.FILLING,
        c.LeaveGroup: GroupState.FILLING,
        Trigger.FILL: GroupState.COMPLETE,
        Trigger.EXPIRE: GroupState.EXPIRED,
    },
    GroupState.COMPLETE: {},
    GroupState.EXPIRED: {},
}
GROUP_REFUSALS: dict[tuple[GroupState, Move], CommerceCode] = {
    (GroupState.EXPIRED, c.LeaveGroup): CommerceCode.NOT_JOINED,
}


@dataclass(slots=True)
class Group:
    deal: int
    id: int
    size: int
    started_at: float
    expires_at: float
    members: list[str] = field(default_factory=list)
    state: GroupState = GroupState.FILLING

    def view(self) -> GroupView:
        return GroupView(
            self.deal,
            self.id,
            len(self.members),
            self.size,
            self.started_at,
            self.expires_at,
            self.state.value,
        )


@dataclass(slots=True)
class Deal:
    id: int
    product: str
    price: int
    list_price: int
    currency: str
    size: int
    time_limit: float
    ends_at: float
    state: DealState = DealState.OPEN
    groups: list[Group] = field(default_factory=list)
    member_of: dict[str, int] = field(default_factory=dict)  # user -> group id (live/complete)

    def filling(self) -> Group | None:
        last = self.groups[-1] if self.groups else None
        return last if last is not None and last.state is GroupState.FILLING else None

    def completed(self) -> int:
        return sum(g.state is GroupState.COMPLETE for g in self.groups)

    def view(self) -> GroupDealView:
        filling = self.filling()
        return GroupDealView(
            self.id,
            self.product,
            self.price,
            self.list_price,
            self.currency,
            exponent(self.currency),
            self.size,
            self.time_limit,
            self.ends_at,
            self.state.value,
            None if filling is None else filling.view(),
            self.completed(),
        )


Handler = Callable[["GroupBuys", Actor, Any, float, bytes, list[Emit]], None]


class GroupBuys(ValueEq):
    def __init__(self, config: ShopConfig, catalog: Catalog, throttle: Throttle) -> None:
        self.config = config
        self.catalog = catalog
        self.throttle = throttle
        self.deals: dict[int, Deal] = {}
        self.next_deal = 1

    def live(self) -> int:
        return sum(d.state is not DealState.CLOSED for d in self.deals.values())

    def require(self, deal_id: Any) -> Deal:
        deal = self.deals.get(deal_id) if type(deal_id) is int else None
        if deal is None:
            raise fail(CommerceCode.NO_SUCH_GROUP, f"no group buy {deal_id!r:.40}")
        return deal

    # ------------------------------------------------------------------ handlers
    def start(
        self, actor: Actor, cmd: c.StartGroupBuy, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        cfg = self.config
        product = self.catalog.require(cmd.product)
        price = check_amount(cmd.price, "group price")
        size = checks.count(cmd.size, "size", 2, cfg.max_group_size)
        duration = checks.seconds(cmd.duration, "duration", 1.0, cfg.max_duration)
        limit = checks.seconds(cmd.time_limit, "time_limit", 1.0, duration)
        if self.live() >= cfg.max_live_offers:
            raise fail(CommerceCode.TOO_MANY_OFFERS, f"at most {cfg.max_live_offers} group buys")
        deal = Deal(
            self.next_deal,
            product.id,
            price,
            product.price,
            product.currency,
            size,
            limit,
            now + duration,
        )
        self.next_deal += 1
        self.deals[deal.id] = deal
        out.append(Emit(EVERYONE, GroupDealUpdated(deal.view(), "started")))

    def join(
        self, actor: Actor, cmd: c.JoinGroup, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        deal = self.require(cmd.deal)
        next_state(DEAL_TRANSITIONS, deal.state, c.JoinGroup, DEAL_REFUSALS, f"group buy {deal.id}")
        if now >= deal.ends_at:
            raise fail(CommerceCode.GROUP_CLOSED, f"group buy {deal.id} has ended")
        filling = deal.filling()
        # A filling group past its time limit expires with this join (ticks are coarse).
        due = filling if filling is not None and now >= filling.expires_at else None
        mine = deal.member_of.get(actor.user)
        if mine is not None and not (due is not None and mine == due.id):
            raise fail(CommerceCode.ALREADY_JOINED, f"you are in group {mine} of this buy")
        product = self.catalog.products[deal.product]
        freed = 0 if due is None else len(due.members)
        if product.stock + freed < 1:
            raise fail(CommerceCode.SOLD_OUT, f"{product.id} is out of stock")
        # --- write
        if due is not None:
            self._expire(deal, due, "expired", out)
            filling = None
        started = filling is None
        if filling is None:
            filling = Group(
                deal.id,
                len(deal.groups) + 1,
                deal.size,
                now,
                min(now + deal.time_limit, deal.ends_at),
            )
            deal.groups.append(filling)
        filling.state = next_state(
            GROUP_TRANSITIONS, filling.state, c.JoinGroup, GROUP_REFUSALS, f"group {filling.id}"
        )
        filling.members.append(actor.user)
        deal.member_of[actor.user] = filling.id
        product.hold(1)
        self.catalog.stock_changed(product, now, out)
        if len(filling.members) == deal.size:
            self._complete(deal, filling, out)
        else:
            out.append(Emit(to_users(*filling.members), GroupStatus(filling.view(), "joined")))
            if started:  # once per group: everyone learns its clock (expires_at)
                out.append(Emit(EVERYONE, GroupDealUpdated(deal.view(), "group_started")))
            else:
                self._progress(deal, filling, now, out)

    def leave(
        self, actor: Actor, cmd: c.LeaveGroup, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        deal = self.require(cmd.deal)
        next_state(
            DEAL_TRANSITIONS, deal.state, c.LeaveGroup, DEAL_REFUSALS, f"group buy {deal.id}"
        )
        mine = deal.member_of.get(actor.user)
        if mine is None:
            raise fail(CommerceCode.NOT_JOINED, "you are not in a group of this buy")
        group = deal.groups[mine - 1]
        next_state(GROUP_TRANSITIONS, group.state, c.LeaveGroup, GROUP_REFUSALS, f"group {mine}")
        if now >= group.expires_at:
            raise fail(CommerceCode.GROUP_CLOSED, f"group {mine} has run out of time")
        # --- write
        group.members.remove(actor.user)
        del deal.member_of[actor.user]
        product = self.catalog.products[deal.product]
        product.release(1)
        self.catalog.stock_changed(product, now, out)
        out.append(Emit(to_users(actor.user, *group.members), GroupStatus(group.view(), "left")))
        self._progress(deal, group, now, out)

    def close(
        self, actor: Actor, cmd: c.CloseGroupBuy, now: float, entropy: bytes, out: list[Emit]
    ) -> None:
        self._close(self.require(cmd.deal), c.CloseGroupBuy, "closed", out)

    # ------------------------------------------------------------------ time and the room
    def tick(self, now: float, out: list[Emit]) -> None:
        for deal in self.deals.values():
            if deal.state is DealState.CLOSED:
                continue
            if now >= deal.ends_at:
                self._close(deal, Trigger.END, "ended", out)
                continue
            filling = deal.filling()
            if filling is not None and now >= filling.expires_at:
                self._expire(deal, filling, "expired", out)
                out.append(Emit(EVERYONE, GroupDealUpdated(deal.view(), "expired")))

    def close_all(self, out: list[Emit]) -> None:
        for deal in self.deals.values():
            if deal.state is not DealState.CLOSED:
                self._close(deal, Trigger.ROOM_END, "room_ended", out)

    # ------------------------------------------------------------------ moves
    def _complete(self, deal: Deal, group: Group, out: list[Emit]) -> None:
        group.state = next_state(
            GROUP_TRANSITIONS, group.state, Trigger.FILL, {}, f"group {group.id}"
        )
        product = self.catalog.products[deal.product]
        product.sell(group.size)
        self.throttle.forget(f"group:{deal.id}")
        out.append(Emit(to_users(*group.members), GroupStatus(group.view(), "completed")))
        out.append(Emit(EVERYONE, GroupDealUpdated(deal.view(), "completed")))

    def _expire(self, deal: Deal, group: Group, reason: str, out: list[Emit]) -> None:
        group.state = next_state(
            GROUP_TRANSITIONS, group.state, Trigger.EXPIRE, {}, f"group {group.id}"
        )
        for user in group.members:
            del deal.member_of[user]  # free to join a later group
        product = self.catalog.products[deal.product]
        if group.members:
            product.release(len(group.members))
            self.catalog.updated(product, "released", out)
        self.throttle.forget(f"group:{deal.id}")
        if group.members:
            out.append(Emit(to_users(*group.members), GroupStatus(group.view(), reason)))

    def _close(self, deal: Deal, move: Move, reason: str, out: list[Emit]) -> None:
        deal.state = next_state(
            DEAL_TRANSITIONS, deal.state, move, DEAL_REFUSALS, f"group buy {deal.id}"
        )
        filling = deal.filling()
        if filling is not None:
            self._expire(deal, filling, "expired", out)
        out.append(Emit(EVERYONE, GroupDealUpdated(deal.view(), reason)))

    def _progress(self, deal: Deal, group: Group, now: float, out: list[Emit]) -> None:
        event = GroupProgress(deal.id, group.id, len(group.members), group.size)
        self.throttle.offer(f"group:{deal.id}", event, now, out)


HANDLERS: dict[type[Command], Handler] = {
    c.StartGroupBuy: GroupBuys.start,
    c.JoinGroup: GroupBuys.join,
    c.LeaveGroup: GroupBuys.leave,
    c.CloseGroupBuy: GroupBuys.close,
}
