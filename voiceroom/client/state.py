"""A client-side mirror of the room, kept up to date from the welcome snapshot and events.

Values are the wire maps as the server sent them (see ``voiceroom.room.model`` views:
``SeatView``, ``QueueEntryView``, ``ConsultationView``...). The mirror is what this member
may see: the queue only for moderators, requests only for staff.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voiceroom.client.shop import ShopState

Wire = dict[str, Any]

CHAT_KEPT = 200


@dataclass(frozen=True, slots=True)
class Event:
    """One server message: a room event (``seq`` set), an ephemeral one (``seq`` None,
    e.g. ``media.speaking``), or a local one from this client: ``connection.lost``,
    ``connection.resumed`` (body ``{"replayed": n, "snapshot": bool}``), ``connection.closed``
    and ``error`` (an error frame that answers no request)."""

    type: str
    body: Wire
    seq: int | None = None


@dataclass(slots=True)
class RoomState:
    user: str = ""
    role: str = ""
    room: str = ""
    phase: str = ""
    show_starts_at: float | None = None
    seats: list[Wire] = field(default_factory=list)
    members: dict[str, Wire] = field(default_factory=dict)
    member_count: int = 0
    my_seat: int | None = None
    queue_position: int | None = None
    request_position: int | None = None
    invite: Wire | None = None
    self_muted: bool = False
    moderator_muted: bool = False
    queue: list[Wire] | None = None  # moderators only
    requests: list[Wire] | None = None  # staff only
    consultations: dict[int, Wire] = field(default_factory=dict)
    music: Wire | None = None
    chat: deque[Wire] = field(default_factory=lambda: deque(maxlen=CHAT_KEPT))
    games: Wire = field(default_factory=dict)  # the snapshot's "games", kept current
    shop: ShopState = field(default_factory=ShopState)  # snapshot.shop and shop events

    @property
    def seated(self) -> bool:
        return self.my_seat is not None

    def seat_of(self, user: str) -> int | None:
        for seat in self.seats:
            if seat.get("user") == user:
                return int(seat["index"])
        return None

    def load_snapshot(self, snap: Wire) -> None:
        you = snap["you"]
        self.user = you["user"]
        self.role = you["role"]
        self.room = snap["room"]
        self.phase = snap["phase"]
        self.show_starts_at = snap.get("show_starts_at")
        self.seats = list(snap.get("seats") or ())
        self.members = {m["user"]: m for m in snap.get("members") or ()}
        self.member_count = int(snap.get("member_count", len(self.members)))
        self.my_seat = snap.get("your_seat")
        self.queue_position = snap.get("your_queue_position")
        self.request_position = snap.get("your_request_position")
        self.invite = snap.get("your_invite")
        self.self_muted = bool(snap.get("self_muted"))
        self.moderator_muted = bool(snap.get("moderator_muted"))
        queue = snap.get("queue")
        self.queue = None if queue is None else list(queue)
        requests = snap.get("requests")
        self.requests = None if requests is None else list(requests)
        self.consultations = {int(k["id"]): k for k in snap.get("consultations") or ()}
        self.music = snap.get("music")
        self.chat.clear()
        self.chat.extend(snap.get("chat") or ())
        self.games = dict(snap.get("games") or {})
        self.shop.load(snap.get("shop"))

    def apply(self, event: Event) -> None:
        """Fold one event into the mirror. Unknown types are ignored (newer servers)."""
        t, b = event.type, event.body
        if self.shop.apply(event):
            return
        if t == "member.joined":
            m = b["member"]
            if m["user"] not in self.members:
                self.member_count += 1
            self.members[m["user"]] = m
        elif t == "member.left":
            if self.members.pop(b["user"], None) is not None:
                self.member_count = max(0, self.member_count - 1)
        elif t == "member.presence":
            if b["user"] in self.members:
                self.members[b["user"]] = {**self.members[b["user"]], "connected": b["connected"]}
        elif t == "member.role":
            if b["user"] in self.members:
                self.members[b["user"]] = {**self.members[b["user"]], "role": b["role"]}
            if b["user"] == self.user:
                self.role = b["role"]
        elif t == "seat.updated":
            self._seat_updated(b["seat"])
        elif t == "queue.updated":
            self.queue = list(b["entries"])
        elif t == "queue.position":
            self.queue_position = b["position"]
        elif t == "invite.received":
            self.invite = b
        elif t == "invite.ended":
            if b["user"] == self.user:
                self.invite = None
        elif t == "room.phase":
            self.phase = b["phase"]
            self.show_starts_at = b.get("show_starts_at")
        elif t in ("consult.started", "consult.updated"):
            k = b["consultation"]
            self.consultations[int(k["id"])] = k
        elif t == "consult.ended":
            self.consultations.pop(int(b["id"]), None)
        elif t == "consult.requests":
            self.requests = list(b["requests"])
        elif t == "consult.request_status":
            self.request_position = b["position"]
        elif t == "chat.message":
            self.chat.append(b["message"])
        elif t == "music.changed":
            self.music = None if b.get("track") is None else b
        elif t == "room.count":  # ephemeral, for everyone; staff also count joins above
            self.member_count = int(b["members"])
        elif t == "member.tier":
            if b["user"] in self.members:
                self.members[b["user"]] = {**self.members[b["user"]], "tier": b["tier"]}
        elif t == "checkin.done":  # our own streak moves on (as the web client does)
            if b["user"] == self.user:
                self.games["streak"] = {"day": b["day"], "count": b["streak"]}
        elif t in _GAMES:
            _GAMES[t](self.games, b)

    def _seat_updated(self, seat: Wire) -> None:
        index = int(seat["index"])
        while len(self.seats) <= index:
            self.seats.append({"index": len(self.seats), "status": "free"})
        self.seats[index] = seat
        if seat.get("user") == self.user:
            self.my_seat = index
            self.self_muted = bool(seat.get("self_muted"))
            self.moderator_muted = bool(seat.get("moderator_muted"))
        elif self.my_seat == index:
            self.my_seat = None


def _set(**fixed: Any) -> Callable[[Wire, Wire], None]:
    """A games event handler: set keys to the body (``...``) or to fixed values."""

    def apply(games: Wire, body: Wire) -> None:
        for key, value in fixed.items():
            games[key] = body if value is ... else value

    return apply


def _tally(games: Wire, body: Wire) -> None:
    games["vote_tallies"] = body["tallies"]


def _count(games: Wire, body: Wire) -> None:
    games["guess_count"] = body["guesses"]


def _board(games: Wire, body: Wire) -> None:
    games.setdefault("leaderboard", {})[body["board"]] = body["top"]


def _yours(key: str, field: str) -> Callable[[Wire, Wire], None]:
    def apply(games: Wire, body: Wire) -> None:
        games[key] = body[field]

    return apply


def _score(games: Wire, body: Wire) -> None:
    games["your_points"] = body["points"]
    games["interactions"] = body["interactions"]


def _market(games: Wire, body: Wire) -> None:
    games["market_zone"] = body["zone"]


# Games events folded into ``RoomState.games`` (same keys as the snapshot's "games").
_GAMES: dict[str, Callable[[Wire, Wire], None]] = {
    "lottery.opened": _set(lottery=...),
    "lottery.drawn": _set(lottery=None, last_draw=...),
    "lottery.cancelled": _set(lottery=None),
    "guess.opened": _set(guess=..., guess_count=0, your_guess=None),
    "guess.yours": _yours("your_guess", "amount"),
    "guess.count": _count,
    "guess.revealed": _set(guess=None, last_guess=...),
    "vote.opened": _set(vote=..., vote_tallies=None, your_vote=None),
    "vote.yours": _yours("your_vote", "option"),
    "vote.tally": _tally,
    "vote.closed": _set(vote=None, vote_tallies=None, last_vote=...),
    "leaderboard.updated": _board,
    "score.yours": _score,
    "prompt.shown": _set(prompt=...),
    "market.changed": _market,
}
