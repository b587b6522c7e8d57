"""Room events → the shop-facing events of webhooks and history (one table, :data:`WEBHOOKS`).

The room's wire events are written for members (a seat's new state, a queue position sent
to one user); a shop's backend wants facts ("u7 took seat 3", "consultation 4 ended after
312 s with agent a1"). :class:`EventFeed` is a registry sink: inside the room job it turns
each numbered :class:`~voiceroom.room.events.Emit` into zero or more :class:`ShopEvent`
and hands them to its subscribers (the webhook outbox, the live history), which only append
to memory. It keeps the little state some facts need (who held a seat, when a consultation
started), per room.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from voiceroom.commerce.events import (
    CouponClaimed,
    GroupDealUpdated,
    GroupStatus,
    SaleClaimed,
    SaleUpdated,
)
from voiceroom.games.events import GuessRevealed, LotteryDrawn, VoteClosed
from voiceroom.room.events import (
    ChatPosted,
    ConsultationEnded,
    ConsultationStarted,
    Emit,
    Event,
    MemberJoined,
    MemberLeft,
    PhaseChanged,
    QueuePosition,
    RequestStatus,
    SeatUpdated,
    TierChanged,
)
from voiceroom.wire_form import plain


@dataclass(frozen=True, slots=True)
class ShopEvent:
    """One fact for the shop: ``type`` is a webhook event type (``room.started``)."""

    type: str
    room: str
    at: float  # epoch seconds (the room's clock when it happened)
    data: dict[str, Any]
    seq: int | None = None  # the room event it came from (None: from the API itself)


# Every webhook event type, in the order docs/api.md lists them.
WEBHOOK_TYPES: Final = (
    "room.scheduled",
    "room.started",
    "room.ended",
    "participant.joined",
    "participant.left",
    "seat.taken",
    "seat.left",
    "hand.raised",
    "consultation.requested",
    "consultation.started",
    "consultation.ended",
    "chat.message",
    "sale.started",
    "sale.sold_out",
    "sale.closed",
    "sale.claimed",
    "coupon.claimed",
    "group.completed",
    "group.expired",
    "lottery.drawn",
    "vote.closed",
    "guess.revealed",
    "tier.changed",
)
# Sent only to endpoints that name them exactly (a busy show chats a lot).
OPT_IN: Final = frozenset({"chat.message"})


@dataclass(slots=True)
class RoomFacts:
    """What some facts need to remember per room: who held each seat, open 1v1s."""

    seats: dict[int, str] = field(default_factory=dict)  # seat index -> holder
    consults: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> started data
    deals: dict[int, dict[str, Any]] = field(default_factory=dict)  # group buy id -> offer


@dataclass(frozen=True, slots=True)
class Wire:
    """A room event in wire form: its body (``wire_form.plain``, equal to
    ``dataclasses.asdict``) and the users it was addressed to by name. The projection
    reads only this, so the store's transaction hook can run it over the event records it
    commits (``EventRecord.body`` / ``.users``)."""

    type: str
    body: Mapping[str, Any]
    users: frozenset[str] = frozenset()
    to_roles: bool = True  # False: addressed to the named users only


Out = list[tuple[str, dict[str, Any]]]
Builder = Callable[[RoomFacts, Wire, float], Out]


def _phase(facts: RoomFacts, ev: Wire, now: float) -> Out:
    phase = ev.body["phase"]
    kind = {"warmup": "room.scheduled", "show": "room.started", "ended": "room.ended"}[phase]
    return [(kind, {"phase": phase, "show_starts_at": ev.body["show_starts_at"]})]


def _joined(facts: RoomFacts, ev: Wire, now: float) -> Out:
    m = ev.body["member"]
    keys = ("user", "name", "role", "tier", "locale")
    return [("participant.joined", {k: m[k] for k in keys})]


def _left(facts: RoomFacts, ev: Wire, now: float) -> Out:
    return [("participant.left", {"user": ev.body["user"], "reason": ev.body["reason"]})]


def _seat(facts: RoomFacts, ev: Wire, now: float) -> Out:
    seat, reason = ev.body["seat"], ev.body["reason"]
    index = seat["index"]
    before = facts.seats.get(index)
    holder = seat["user"]
    out: Out = []
    if before is not None and before != holder:
        del facts.seats[index]
        out.append(("seat.left", {"seat": index, "user": before, "reason": reason}))
    if holder is not None and holder != before:
        facts.seats[index] = holder
        out.append(("seat.taken", {"seat": index, "user": holder, "reason": reason}))
    return out  # mutes, locks and tier changes are not seat facts


def _only_user(ev: Wire) -> str | None:
    return next(iter(ev.users)) if len(ev.users) == 1 and not ev.to_roles else None


def _hand(facts: RoomFacts, ev: Wire, now: float) -> Out:
    user = _only_user(ev)
    if ev.body["reason"] != "joined" or user is None:
        return []
    return [("hand.raised", {"user": user, "position": ev.body["position"]})]


def _request(facts: RoomFacts, ev: Wire, now: float) -> Out:
    user = _only_user(ev)
    if ev.body["reason"] != "joined" or user is None:
        return []
    return [("consultation.requested", {"user": user, "position": ev.body["position"]})]


def _consult_started(facts: RoomFacts, ev: Wire, now: float) -> Out:
    data = _consult_data(ev.body["consultation"])
    facts.consults[data["id"]] = data
    return [("consultation.started", dict(data))]


def _consult_ended(facts: RoomFacts, ev: Wire, now: float) -> Out:
    b = ev.body
    started = facts.consults.pop(b["id"], None)
    data: dict[str, Any] = {"id": b["id"], "kind": b["kind"], "by": b["by"], "reason": b["reason"]}
    if started is not None:
        data.update(started)
        data["ended_at"] = now
        data["duration"] = round(max(0.0, now - started["started_at"]), 3)
    return [("consultation.ended", data)]


def _consult_data(k: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": k["id"],
        "kind": k["kind"],
        "mode": k["mode"],
        "agent": k["staff"],
        "agent_name": k["staff_name"],
        "shopper": k["shopper"],
        "shopper_name": k["shopper_name"],
        "started_at": k["started_at"],
    }


def _chat(facts: RoomFacts, ev: Wire, now: float) -> Out:
    return [("chat.message", dict(ev.body["message"]))]


# --- commerce ---------------------------------------------------------------------------
# sale.updated reasons → the fact a shop acts on; "scheduled" is not one (nothing to do yet).
_SALE_FACTS: Final = {
    "opened": "sale.started",
    "sold_out": "sale.sold_out",
    "closed": "sale.closed",
    "cancelled": "sale.closed",
    "ended": "sale.closed",
    "room_ended": "sale.closed",
}
_SALE_KEYS: Final = ("id", "product", "price", "list_price", "currency", "exponent")


def _sale(facts: RoomFacts, ev: Wire, now: float) -> Out:
    kind = _SALE_FACTS.get(ev.body["reason"])
    if kind is None:
        return []
    s = ev.body["sale"]
    data = {k: s[k] for k in (*_SALE_KEYS, "quantity", "left", "state")}
    data["sold"] = s["quantity"] - s["left"]
    data["reason"] = ev.body["reason"]
    return [(kind, data)]


def _claim(facts: RoomFacts, ev: Wire, now: float) -> Out:
    k = ev.body["claim"]
    keys = ("sale", "product", "user", "quantity", "price", "currency", "at", "expires_at")
    return [("sale.claimed", {"claim": k["id"], **{key: k[key] for key in keys}})]


def _coupon(facts: RoomFacts, ev: Wire, now: float) -> Out:
    # The code is included: the shop's backend must honour it at checkout, and webhooks are
    # signed server-to-server messages (members only ever see their own code).
    user = _only_user(ev)
    c = ev.body["coupon"]
    return [
        (
            "coupon.claimed",
            {"user": user, "drop": c["drop"], "code": c["code"], "expires_at": c["expires_at"]},
        )
    ]


def _deal(facts: RoomFacts, ev: Wire, now: float) -> Out:
    d = ev.body["deal"]
    facts.deals[d["id"]] = {k: d[k] for k in ("product", "price", "list_price", "currency")}
    return []  # remembered for group.completed / group.expired, not a fact of its own


def _group(facts: RoomFacts, ev: Wire, now: float) -> Out:
    reason = ev.body["reason"]
    if reason not in ("completed", "expired"):
        return []
    g = ev.body["group"]
    data: dict[str, Any] = {"deal": g["deal"], "group": g["group"], "size": g["size"]}
    data.update(facts.deals.get(g["deal"], {}))
    data["members"] = sorted(ev.users)  # a GroupStatus goes to exactly the group's members
    return [(f"group.{reason}", data)]


# --- games ------------------------------------------------------------------------------
def _lottery(facts: RoomFacts, ev: Wire, now: float) -> Out:
    b = ev.body
    keys = ("id", "prize", "rule", "keyword", "tier", "k", "commitment", "seed", "list_digest")
    data = {k: b[k] for k in keys}
    data["entrants"] = len(b["entrants"])
    data["winners"] = list(b["winners"])
    data["winner_names"] = list(b["winner_names"])
    return [("lottery.drawn", data)]


def _vote(facts: RoomFacts, ev: Wire, now: float) -> Out:
    b = ev.body
    data = {k: b[k] for k in ("id", "question", "total", "reason")}
    data.update(options=list(b["options"]), tallies=list(b["tallies"]), winners=list(b["winners"]))
    return [("vote.closed", data)]


def _guess(facts: RoomFacts, ev: Wire, now: float) -> Out:
    b = ev.body
    data = {k: b[k] for k in ("id", "product", "currency", "price", "guesses", "winner", "reason")}
    data["ranking"] = [dict(r) for r in b["ranking"]]
    return [("guess.revealed", data)]


def _tier(facts: RoomFacts, ev: Wire, now: float) -> Out:
    return [("tier.changed", {"user": ev.body["user"], "tier": ev.body["tier"]})]


@dataclass(frozen=True, slots=True)
class WebhookRule:
    types: tuple[str, ...]  # the webhook event types this room event can become
    build: Builder


# Room event → webhook event types. Events not listed (presence, queue lists, invites,
# music...) are member-facing detail and produce no webhook.
WEBHOOKS: Final[dict[type[Event], WebhookRule]] = {
    PhaseChanged: WebhookRule(("room.scheduled", "room.started", "room.ended"), _phase),
    MemberJoined: WebhookRule(("participant.joined",), _joined),
    MemberLeft: WebhookRule(("participant.left",), _left),
    SeatUpdated: WebhookRule(("seat.taken", "seat.left"), _seat),
    QueuePosition: WebhookRule(("hand.raised",), _hand),
    RequestStatus: WebhookRule(("consultation.requested",), _request),
    ConsultationStarted: WebhookRule(("consultation.started",), _consult_started),
    ConsultationEnded: WebhookRule(("consultation.ended",), _consult_ended),
    ChatPosted: WebhookRule(("chat.message",), _chat),
    SaleUpdated: WebhookRule(("sale.started", "sale.sold_out", "sale.closed"), _sale),
    SaleClaimed: WebhookRule(("sale.claimed",), _claim),
    CouponClaimed: WebhookRule(("coupon.claimed",), _coupon),
    GroupDealUpdated: WebhookRule((), _deal),
    GroupStatus: WebhookRule(("group.completed", "group.expired"), _group),
    LotteryDrawn: WebhookRule(("lottery.drawn",), _lottery),
    VoteClosed: WebhookRule(("vote.closed",), _vote),
    GuessRevealed: WebhookRule(("guess.revealed",), _guess),
    TierChanged: WebhookRule(("tier.changed",), _tier),
}
BY_WIRE_TYPE: Final[dict[str, WebhookRule]] = {cls.TYPE: r for cls, r in WEBHOOKS.items()}


def project(facts: RoomFacts, room: str, seq: int | None, ev: Wire, now: float) -> list[ShopEvent]:
    """One room event (wire form) → the shop events it means (often none)."""
    rule = BY_WIRE_TYPE.get(ev.type)
    if rule is None:
        return []
    return [
        ShopEvent(k, room, now, {"room": room, **d}, seq) for k, d in rule.build(facts, ev, now)
    ]


Subscriber = Callable[[Sequence[ShopEvent]], None]


class EventFeed:
    """A registry sink: room emits → shop events → subscribers (in the room job)."""

    def __init__(self) -> None:
        self.subscribers: list[Subscriber] = []
        self._facts: dict[str, RoomFacts] = {}

    def __call__(self, room: str, numbered: Sequence[tuple[int, Emit]], now: float) -> None:
        facts = self._facts.setdefault(room, RoomFacts())
        out: list[ShopEvent] = []
        for seq, emit in numbered:
            event = emit.event
            if type(event) not in WEBHOOKS:
                continue
            to = emit.to
            wire = Wire(event.TYPE, plain(event), to.users, to.roles != frozenset())
            out.extend(project(facts, room, seq, wire, now))
            if isinstance(event, PhaseChanged) and event.phase == "ended":
                self._facts.pop(room, None)
        if out:
            self.publish(out)

    def publish(self, events: Sequence[ShopEvent]) -> None:
        """Hand events to every subscriber (also used by the API for its own facts)."""
        for subscriber in self.subscribers:
            subscriber(events)
