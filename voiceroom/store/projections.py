"""Rows derived from a batch of writes: pure functions from :class:`Write` to table ops.

Both backends apply the same ops (SQL statements or dict updates), so the read models
(chat history, consultations, the agents' request queue, member profiles, the generic
event journal) mean the same on each. A projection is keyed by the event's wire type in
:data:`EVENT_PROJECTIONS`; an event type with no entry only lands in the event journal.

Ops are grouped by table (tables in :data:`TABLE_ORDER`), keeping their order within a
table: no op reads another table, so this is the same result as applying them in call
order, and consecutive inserts into one table become one ``executemany``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voiceroom.store.base import EntryKind, EventRecord, Write

# Primary keys: the memory store's dict keys, the SQL schema's primary keys.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "rooms": ("id",),
    "journal": ("room", "n"),
    "events": ("room", "seq"),
    "snapshots": ("room", "n"),
    "chat": ("room", "id"),
    "consultations": ("room", "id"),
    "consult_requests": ("room", "user", "requested_at"),
    "profiles": ("room", "user"),
    "checkins": ("user",),  # not per room: the streak spans shows
}
# Tables without a ``room`` column (the memory store keeps them under the room "").
GLOBAL_TABLES: frozenset[str] = frozenset({"checkins"})
TABLE_ORDER: tuple[str, ...] = tuple(TABLE_KEYS)
SNAPSHOTS_KEPT = 2  # the newest and one before it (if the newest fails to load)


@dataclass(frozen=True, slots=True)
class Insert:
    table: str
    row: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Upsert:
    """Insert, or on a key conflict set ``update`` columns from ``row``."""

    table: str
    row: Mapping[str, Any]
    update: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Update:
    """Set ``values`` on rows matching ``where`` (equality; a None value means IS NULL),
    and whose ``not_in[0]`` column is not one of ``not_in[1]`` when given."""

    table: str
    where: Mapping[str, Any]
    values: Mapping[str, Any]
    not_in: tuple[str, tuple[Any, ...]] | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete rows matching ``where`` whose ``below[0]`` column is < ``below[1]``."""

    table: str
    where: Mapping[str, Any]
    below: tuple[str, Any] | None = None


Op = Insert | Upsert | Update | Delete


@dataclass(slots=True)
class _Ctx:
    """Per-write facts a projection may need beyond its own event."""

    write: Write
    # consult.request_status (position None) in this write: user -> why the request ended
    request_ended: dict[str, str] = field(default_factory=dict)


Projection = Callable[[EventRecord, _Ctx], Iterable[Op]]


def _chat(ev: EventRecord, ctx: _Ctx) -> Iterable[Op]:
    m = ev.body["message"]
    yield Insert(
        "chat",
        {
            "room": ev.room,
            "id": int(m["id"]),
            "seq": ev.seq,
            "at": float(m["at"]),
            "kind": m["kind"],
            "user": m.get("user"),
            "name": m.get("name"),
            "text": m.get("text", ""),
            "code": m.get("code"),
            "params": dict(m.get("params") or {}),
        },
    )


def _consult_started(ev: EventRecord, ctx: _Ctx) -> Iterable[Op]:
    k = ev.body["consultation"]
    yield Insert(
        "consultations",
        {
            "room": ev.room,
            "id": int(k["id"]),
            "kind": k["kind"],
            "mode": k["mode"],
            "staff": k["staff"],
            "shopper": k["shopper"],
            "started_at": float(k["started_at"]),
            "ended_at": None,
            "outcome": None,
            "ended_by": None,
        },
    )


def _consult_ended(ev: EventRecord, ctx: _Ctx) -> Iterable[Op]:
    b = ev.body
    yield Update(
        "consultations",
        {"room": ev.room, "id": int(b["id"])},
        {"ended_at": ev.at, "outcome": b["reason"], "ended_by": b.get("by")},
    )


def _requests(ev: EventRecord, ctx: _Ctx) -> Iterable[Op]:
    waiting = ev.body["requests"]
    users = tuple(r["user"] for r in waiting)
    for user, reason in ctx.request_ended.items():
        if user not in users:
            yield Update(
                "consult_requests",
                {"room": ev.room, "user": user, "status": "waiting"},
                {"status": reason, "ended_at": ev.at},
            )
    # Anything else that left the list without a reason we saw (cannot happen today).
    yield Update(
        "consult_requests",
        {"room": ev.room, "status": "waiting"},
        {"status": "ended", "ended_at": ev.at},
        not_in=("user", users),
    )
    for r in waiting:
        yield Upsert(
            "consult_requests",
            {
                "room": ev.room,
                "user": r["user"],
                "requested_at": float(r["requested_at"]),
                "name": r["name"],
                "tier": r["tier"],
                "note": r["note"],
                "status": "waiting",
                "ended_at": None,
            },
            update=(),
        )


def _member_joined(ev: EventRecord, ctx: _Ctx) -> Iterable[Op]:
    m = ev.body["member"]
    yield Update("profiles", {"room": ev.room, "user": m["user"]}, {"role": m["role"]})


def _role(ev: EventRecord, ctx: _Ctx) -> Iterable[Op]:
    yield Update("profiles", {"room": ev.room, "user": ev.body["user"]}, {"role": ev.body["role"]})


def _phase(ev: EventRecord, ctx: _Ctx) -> Iterable[Op]:
    phase = ev.body["phase"]
    yield Update(
        "rooms", {"id": ev.room}, {"phase": phase, "show_starts_at": ev.body["show_starts_at"]}
    )
    if phase == "show":
        yield Update("rooms", {"id": ev.room, "started_at": None}, {"started_at": ev.at})
    elif phase == "ended":
        yield Update("rooms", {"id": ev.room, "ended_at": None}, {"ended_at": ev.at})


def _checked_in(ev: EventRecord, ctx: _Ctx) -> Iterable[Op]:
    b = ev.body
    yield Upsert(
        "checkins",
        {"user": b["user"], "last_day": b["day"], "streak": int(b["streak"]), "updated_at": ev.at},
        update=("last_day", "streak", "updated_at"),
    )


EVENT_PROJECTIONS: dict[str, Projection] = {
    "checkin.done": _checked_in,
    "chat.message": _chat,
    "consult.started": _consult_started,
    "consult.ended": _consult_ended,
    "consult.requests": _requests,
    "member.joined": _member_joined,
    "member.role": _role,
    "room.phase": _phase,
}


def ops_for(writes: Sequence[Write]) -> dict[str, list[Op]]:
    """Every op of a batch, by table (see the module docstring for why that is safe)."""
    by_table: dict[str, list[Op]] = {t: [] for t in TABLE_ORDER}
    last: dict[str, tuple[int, int]] = {}  # room -> (last n, last seq) in this batch
    for w in writes:
        if w.room_record is not None:
            rec = w.room_record
            by_table["rooms"].append(
                Upsert(
                    "rooms",
                    {
                        "id": rec.id,
                        "title": rec.title,
                        "market": rec.market,
                        "time_zone": rec.time_zone,
                        "show_starts_at": rec.show_starts_at,
                        "config": dict(rec.config),
                        "phase": rec.phase,
                        "created_at": rec.created_at,
                        "started_at": rec.started_at,
                        "ended_at": rec.ended_at,
                        "last_n": rec.last_n,
                        "last_seq": rec.last_seq,
                        "hosted": rec.hosted,
                    },
                    update=("title", "market", "time_zone", "config", "hosted"),
                )
            )
        if w.hosted is not None:
            by_table["rooms"].append(Update("rooms", {"id": w.room}, {"hosted": w.hosted}))
        entry = w.entry
        if entry is not None:
            by_table["journal"].append(
                Insert(
                    "journal",
                    {
                        "room": entry.room,
                        "n": entry.n,
                        "kind": entry.kind.value,
                        "user": entry.user,
                        "type": entry.type,
                        "body": None if entry.body is None else dict(entry.body),
                        "now": entry.now,
                        "entropy": entry.entropy or None,
                    },
                )
            )
            n, seq = last.get(w.room, (0, 0))
            last[w.room] = (max(n, entry.n), seq)
            if entry.kind is EntryKind.JOIN and entry.body is not None:
                p = entry.body
                by_table["profiles"].append(
                    Upsert(
                        "profiles",
                        {
                            "room": entry.room,
                            "user": p["user"],
                            "name": p["name"],
                            "role": p["role"],
                            "tier": p["tier"],
                            "locale": p["locale"],
                            "first_seen": entry.now,
                            "last_seen": entry.now,
                        },
                        update=("name", "tier", "locale", "last_seen"),
                    )
                )
        ctx = _Ctx(w)
        for ev in w.events:
            if ev.type == "consult.request_status" and ev.body.get("position") is None:
                for user in ev.users:
                    ctx.request_ended[user] = str(ev.body["reason"])
        for ev in w.events:
            by_table["events"].append(
                Insert(
                    "events",
                    {
                        "room": ev.room,
                        "seq": ev.seq,
                        "n": ev.n,
                        "type": ev.type,
                        "body": dict(ev.body),
                        "at": ev.at,
                        "roles": None if ev.roles is None else list(ev.roles),
                        "users": list(ev.users),
                    },
                )
            )
            n, seq = last.get(w.room, (0, 0))
            last[w.room] = (n, max(seq, ev.seq))
            project = EVENT_PROJECTIONS.get(ev.type)
            if project is not None:
                for op in project(ev, ctx):
                    by_table[op.table].append(op)
        snap = w.snapshot
        if snap is not None:
            by_table["snapshots"].append(
                Insert(
                    "snapshots",
                    {
                        "room": snap.room,
                        "n": snap.n,
                        "seq": snap.seq,
                        "state": snap.state,
                        "at": snap.at,
                    },
                )
            )
    for room, (n, seq) in last.items():
        values: dict[str, Any] = {}
        if n:
            values["last_n"] = n
        if seq:
            values["last_seq"] = seq
        if values:
            by_table["rooms"].append(Update("rooms", {"id": room}, values))
    return by_table
