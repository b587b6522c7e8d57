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

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

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
)
from voiceroom.room.model import ConsultationView


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
)
# Sent only to endpoints that name them exactly (a busy show chats a lot).
OPT_IN: Final = frozenset({"chat.message"})


@dataclass(slots=True)
class _RoomFacts:
    seats: dict[int, str] = field(default_factory=dict)  # seat index -> holder
    consults: dict[int, ConsultationView] = field(default_factory=dict)


Out = list[tuple[str, dict[str, Any]]]
Builder = Callable[["EventFeed", _RoomFacts, Emit, float], Out]


def _phase(feed: EventFeed, facts: _RoomFacts, emit: Emit, now: float) -> Out:
    ev = emit.event
    assert isinstance(ev, PhaseChanged)
    kind = {"warmup": "room.scheduled", "show": "room.started", "ended": "room.ended"}[ev.phase]
    return [(kind, {"phase": ev.phase, "show_starts_at": ev.show_starts_at})]


def _joined(feed: EventFeed, facts: _RoomFacts, emit: Emit, now: float) -> Out:
    ev = emit.event
    assert isinstance(ev, MemberJoined)
    m = ev.member
    return [
        (
            "participant.joined",
            {"user": m.user, "name": m.name, "role": m.role, "tier": m.tier, "locale": m.locale},
        )
    ]


def _left(feed: EventFeed, facts: _RoomFacts, emit: Emit, now: float) -> Out:
    ev = emit.event
    assert isinstance(ev, MemberLeft)
    return [("participant.left", {"user": ev.user, "reason": ev.reason})]


def _seat(feed: EventFeed, facts: _RoomFacts, emit: Emit, now: float) -> Out:
    ev = emit.event
    assert isinstance(ev, SeatUpdated)
    index = ev.seat.index
    before = facts.seats.get(index)
    holder = ev.seat.user
    out: Out = []
    if before is not None and before != holder:
        del facts.seats[index]
        out.append(("seat.left", {"seat": index, "user": before, "reason": ev.reason}))
    if holder is not None and holder != before:
        facts.seats[index] = holder
        out.append(("seat.taken", {"seat": index, "user": holder, "reason": ev.reason}))
    return out  # mutes, locks and tier changes are not seat facts


def _only_user(emit: Emit) -> str | None:
    users = emit.to.users
    return next(iter(users)) if len(users) == 1 and emit.to.roles == frozenset() else None


def _hand(feed: EventFeed, facts: _RoomFacts, emit: Emit, now: float) -> Out:
    ev = emit.event
    assert isinstance(ev, QueuePosition)
    user = _only_user(emit)
    if ev.reason != "joined" or user is None:
        return []
    return [("hand.raised", {"user": user, "position": ev.position})]


def _request(feed: EventFeed, facts: _RoomFacts, emit: Emit, now: float) -> Out:
    ev = emit.event
    assert isinstance(ev, RequestStatus)
    user = _only_user(emit)
    if ev.reason != "joined" or user is None:
        return []
    return [("consultation.requested", {"user": user, "position": ev.position})]


def _consult_started(feed: EventFeed, facts: _RoomFacts, emit: Emit, now: float) -> Out:
    ev = emit.event
    assert isinstance(ev, ConsultationStarted)
    k = ev.consultation
    facts.consults[k.id] = k
    return [("consultation.started", _consult_data(k))]


def _consult_ended(feed: EventFeed, facts: _RoomFacts, emit: Emit, now: float) -> Out:
    ev = emit.event
    assert isinstance(ev, ConsultationEnded)
    k = facts.consults.pop(ev.id, None)
    data: dict[str, Any] = {"id": ev.id, "kind": ev.kind, "by": ev.by, "reason": ev.reason}
    if k is not None:
        data.update(_consult_data(k))
        data["ended_at"] = now
        data["duration"] = round(max(0.0, now - k.started_at), 3)
    return [("consultation.ended", data)]


def _consult_data(k: ConsultationView) -> dict[str, Any]:
    return {
        "id": k.id,
        "kind": k.kind,
        "mode": k.mode,
        "agent": k.staff,
        "agent_name": k.staff_name,
        "shopper": k.shopper,
        "shopper_name": k.shopper_name,
        "started_at": k.started_at,
    }


def _chat(feed: EventFeed, facts: _RoomFacts, emit: Emit, now: float) -> Out:
    ev = emit.event
    assert isinstance(ev, ChatPosted)
    return [("chat.message", asdict(ev.message))]


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
}

Subscriber = Callable[[Sequence[ShopEvent]], None]


class EventFeed:
    """A registry sink: room emits → shop events → subscribers (in the room job)."""

    def __init__(self) -> None:
        self.subscribers: list[Subscriber] = []
        self._facts: dict[str, _RoomFacts] = {}

    def __call__(self, room: str, numbered: Sequence[tuple[int, Emit]], now: float) -> None:
        facts = self._facts.setdefault(room, _RoomFacts())
        out: list[ShopEvent] = []
        for seq, emit in numbered:
            rule = WEBHOOKS.get(type(emit.event))
            if rule is None:
                continue
            for kind, data in rule.build(self, facts, emit, now):
                out.append(ShopEvent(kind, room, now, {"room": room, **data}, seq))
            if isinstance(emit.event, PhaseChanged) and emit.event.phase == "ended":
                self._facts.pop(room, None)
        if out:
            self.publish(out)

    def publish(self, events: Sequence[ShopEvent]) -> None:
        """Hand events to every subscriber (also used by the API for its own facts)."""
        for subscriber in self.subscribers:
            subscriber(events)
