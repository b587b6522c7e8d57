"""One contract for every store backend: memory, SQLite and a real PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from voiceroom.store import (
    Entry,
    EntryKind,
    EventRecord,
    RoomRecord,
    SnapshotRecord,
    Store,
    Write,
)
from voiceroom.store.sql import SqlStore, dumps

ROOM = "r1"


class Builder:
    """Writes as a room host would make them: entries numbered, events sequenced."""

    def __init__(self, room: str = ROOM) -> None:
        self.room = room
        self.n = 0
        self.seq = 0
        self.chat_id = 0

    def open(self, now: float = 1.0) -> Write:
        return Write(
            self.room,
            room_record=RoomRecord(
                self.room,
                {"seat_count": 8, "tiers": ["vip", "new"]},
                created_at=now,
                title="Spring sale",
                market="AE",
                time_zone="Asia/Dubai",
            ),
        )

    def write(
        self,
        kind: EntryKind,
        now: float,
        events: list[tuple[str, dict[str, Any], tuple[str, ...]]] = (),  # type: ignore[assignment]
        **entry: Any,
    ) -> Write:
        self.n += 1
        recs = []
        for type_, body, users in events:
            self.seq += 1
            recs.append(EventRecord(self.room, self.seq, self.n, type_, body, now, None, users))
        return Write(self.room, Entry(self.room, self.n, kind, now, **entry), recs)

    def join(self, user: str, now: float, *, tier: str = "new", role: str = "listener") -> Write:
        profile = {"user": user, "name": user.title(), "role": role, "tier": tier, "locale": "ar"}
        member = {**profile, "connected": True}
        return self.write(
            EntryKind.JOIN,
            now,
            [("member.joined", {"member": member}, ())],
            user=user,
            body=profile,
        )

    def chat(self, user: str, text: str, now: float) -> Write:
        self.chat_id += 1
        msg = {
            "id": self.chat_id,
            "at": now,
            "kind": "user",
            "user": user,
            "name": user.title(),
            "text": text,
            "code": None,
            "params": {},
        }
        return self.write(
            EntryKind.HANDLE,
            now,
            [("chat.message", {"message": msg}, ())],
            user=user,
            type="chat.send",
            body={"text": text},
        )


def test_upgrade_is_idempotent_and_check_is_clean(store: Store) -> None:
    store.upgrade()
    assert store.check() == []


def test_check_reports_a_store_that_needs_upgrading(sql_url: str) -> None:
    fresh = SqlStore(sql_url)
    try:
        problems = fresh.check()
        assert problems and "upgrade" in problems[0]
        fresh.upgrade()
        assert fresh.check() == []
    finally:
        fresh.close()


def test_journal_round_trip_in_order(store: Store) -> None:
    b = Builder()
    store.write([b.open()])
    profile_join = b.join("host", 2.0, role="host", tier="vip")
    entropy = bytes(range(32))
    server = b.write(
        EntryKind.SERVER, 3.25, type="x.draw", body={"k": [1, 2.5, "ü", None]}, entropy=entropy
    )
    leave = b.write(EntryKind.LEAVE, 4.0, user="host", body={"reason": "left"})
    tick = b.write(EntryKind.TICK, 5.0, [("invite.ended", {"user": "a"}, ("a",))])
    store.write([profile_join, server, leave, tick])
    got = store.entries(ROOM)
    assert [e.n for e in got] == [1, 2, 3, 4]
    assert got[0].kind is EntryKind.JOIN and got[0].body is not None
    assert got[0].body["role"] == "host"
    assert got[1] == Entry(
        ROOM, 2, EntryKind.SERVER, 3.25, None, "x.draw", {"k": [1, 2.5, "ü", None]}, entropy
    )
    assert got[2].body == {"reason": "left"} and got[2].entropy == b""
    assert [e.n for e in store.entries(ROOM, after=2)] == [3, 4]
    events = store.events(ROOM)
    assert [e.seq for e in events] == [1, 2]
    assert events[1].users == ("a",) and events[1].roles is None and events[1].n == 4
    rec = store.room(ROOM)
    assert rec is not None and rec.last_n == 4 and rec.last_seq == 2
    assert rec.title == "Spring sale" and rec.config["tiers"] == ["vip", "new"]


def test_chat_history_pages_newest_first(store: Store) -> None:
    b = Builder()
    store.write([b.open(), b.join("ann", 1.0)])
    store.write([b.chat("ann", f"hello {i} مرحبا", 10.0 + i) for i in range(1, 8)])
    page = store.chat(ROOM, limit=3)
    assert [m.id for m in page] == [7, 6, 5]
    assert page[0].text == "hello 7 مرحبا" and page[0].user == "ann" and page[0].seq == 8
    older = store.chat(ROOM, before=page[-1].id, limit=3)
    assert [m.id for m in older] == [4, 3, 2]
    assert [m.id for m in store.chat(ROOM, before=2)] == [1]
    assert store.chat("other-room") == []


def test_consultations_log(store: Store) -> None:
    b = Builder()
    view = {
        "id": 1,
        "kind": "agent",
        "mode": "private",
        "staff": "sara",
        "staff_name": "S",
        "shopper": "ann",
        "shopper_name": "A",
        "started_at": 20.0,
    }
    store.write(
        [
            b.open(),
            b.write(
                EntryKind.HANDLE,
                20.0,
                [("consult.started", {"consultation": view}, ())],
                user="sara",
                type="consult.accept",
                body={"user": None},
            ),
        ]
    )
    assert store.consultations(ROOM)[0].ended_at is None
    store.write(
        [
            b.write(
                EntryKind.HANDLE,
                80.0,
                [("consult.ended", {"id": 1, "kind": "agent", "by": "ann", "reason": "ended"}, ())],
                user="ann",
                type="consult.end",
                body={"id": 1},
            ),
        ]
    )
    (k,) = store.consultations(ROOM)
    assert (k.staff, k.shopper, k.mode, k.started_at) == ("sara", "ann", "private", 20.0)
    assert (k.ended_at, k.outcome, k.ended_by) == (80.0, "ended", "ann")


def _req(user: str, at: float) -> dict[str, Any]:
    return {"user": user, "name": user.title(), "tier": "vip", "note": "size?", "requested_at": at}


def test_agents_request_queue(store: Store) -> None:
    b = Builder()
    store.write(
        [
            b.open(),
            b.write(
                EntryKind.HANDLE,
                5.0,
                [
                    ("consult.requests", {"requests": [_req("ann", 5.0)]}, ()),
                    ("consult.request_status", {"position": 1, "reason": "joined"}, ("ann",)),
                ],
                user="ann",
                type="consult.request",
                body={"note": "size?"},
            ),
            b.write(
                EntryKind.HANDLE,
                6.0,
                [("consult.requests", {"requests": [_req("ann", 5.0), _req("bob", 6.0)]}, ())],
                user="bob",
                type="consult.request",
                body={"note": "size?"},
            ),
        ]
    )
    assert [(r.user, r.status) for r in store.requests(ROOM)] == [
        ("ann", "waiting"),
        ("bob", "waiting"),
    ]
    # An agent takes ann's request; then bob leaves the room.
    store.write(
        [
            b.write(
                EntryKind.HANDLE,
                9.0,
                [
                    ("consult.request_status", {"position": None, "reason": "accepted"}, ("ann",)),
                    ("consult.requests", {"requests": [_req("bob", 6.0)]}, ()),
                ],
                user="sara",
                type="consult.accept",
                body={"user": None},
            ),
            b.write(
                EntryKind.LEAVE,
                10.0,
                [
                    ("consult.request_status", {"position": None, "reason": "left"}, ("bob",)),
                    ("consult.requests", {"requests": []}, ()),
                ],
                user="bob",
                body={"reason": "left"},
            ),
        ]
    )
    got = {(r.user, r.status, r.ended_at) for r in store.requests(ROOM)}
    assert got == {("ann", "accepted", 9.0), ("bob", "left", 10.0)}


def test_member_profiles_seen(store: Store) -> None:
    b = Builder()
    store.write([b.open(), b.join("ann", 1.0, tier="new")])
    store.write(
        [
            b.write(
                EntryKind.HANDLE,
                2.0,
                [("member.role", {"user": "ann", "role": "agent"}, ())],
                user="host",
                type="room.set_role",
                body={"user": "ann", "role": "agent"},
            ),
        ]
    )
    # A rejoin (resume) with a newer token: tier and locale follow it, the role stays.
    rejoin = b.write(
        EntryKind.JOIN,
        7.0,
        user="ann",
        body={"user": "ann", "name": "Ann", "role": "listener", "tier": "vip", "locale": "en"},
    )
    store.write([rejoin])
    (p,) = store.profiles(ROOM)
    assert (p.user, p.role, p.tier, p.locale, p.first_seen, p.last_seen) == (
        "ann",
        "agent",
        "vip",
        "en",
        1.0,
        7.0,
    )


def test_phases_and_ended_rooms(store: Store) -> None:
    b = Builder()
    other = Builder("r2")
    store.write([b.open(1.0), other.open(2.0)])
    store.write(
        [
            b.write(
                EntryKind.HANDLE,
                30.0,
                [("room.phase", {"phase": "show", "show_starts_at": 25.0}, ())],
                user="host",
                type="room.start_show",
                body={},
            ),
        ]
    )
    rec = store.room(ROOM)
    assert rec is not None and (rec.phase, rec.started_at, rec.show_starts_at) == (
        "show",
        30.0,
        25.0,
    )
    store.write(
        [
            b.write(
                EntryKind.HANDLE,
                90.0,
                [("room.phase", {"phase": "ended", "show_starts_at": 25.0}, ())],
                user="host",
                type="room.end",
                body={},
            ),
        ]
    )
    rec = store.room(ROOM)
    assert rec is not None and (rec.phase, rec.started_at, rec.ended_at) == ("ended", 30.0, 90.0)
    assert store.ended_rooms() == [ROOM]
    assert [r.id for r in store.rooms(open_only=True)] == ["r2"]
    assert [r.id for r in store.rooms()] == [ROOM, "r2"]


def test_snapshots_keep_the_newest_two(store: Store) -> None:
    b = Builder()
    store.write([b.open()])
    for i in range(1, 5):
        w = b.chat("ann", "x", float(i))
        w.snapshot = SnapshotRecord(ROOM, b.n, b.seq, bytes([i]) * 100, float(i))
        store.write([w])
    snap = store.latest_snapshot(ROOM)
    assert snap is not None and (snap.n, snap.seq, snap.state) == (4, 4, bytes([4]) * 100)
    assert [s["n"] for s in store.export()["snapshots"]] == [3, 4]
    assert store.latest_snapshot("nope") is None


def test_a_batch_is_all_or_nothing(store: Store) -> None:
    b = Builder()
    store.write([b.open(), b.join("ann", 1.0)])
    good = b.chat("ann", "kept?", 2.0)
    dup = Write(ROOM, Entry(ROOM, 1, EntryKind.TICK, 3.0))  # n=1 exists: the batch fails
    with pytest.raises(Exception):  # noqa: B017 - each backend has its own integrity error
        store.write([good, dup])
    assert [e.n for e in store.entries(ROOM)] == [1]
    assert store.chat(ROOM) == []
    store.write([good])
    assert [m.text for m in store.chat(ROOM)] == ["kept?"]


def test_transaction_hooks_see_the_batch_and_can_veto_it(store: Store) -> None:
    seen: list[int] = []
    b = Builder()
    store.write([b.open()])

    def hook(conn: Any, writes: Any) -> None:
        seen.extend(ev.seq for w in writes for ev in w.events)
        if any(ev.body.get("message", {}).get("text") == "veto" for w in writes for ev in w.events):
            raise RuntimeError("outbox refused")

    store.add_tx_hook(hook)
    store.write([b.join("ann", 1.0), b.chat("ann", "hi", 2.0)])
    assert seen == [1, 2]
    with pytest.raises(RuntimeError):
        store.write([b.chat("ann", "veto", 3.0)])
    assert [m.text for m in store.chat(ROOM)] == ["hi"]
    assert [e.n for e in store.entries(ROOM)] == [1, 2]


def test_chat_retention_prunes_old_rows(store: Store) -> None:
    b = Builder()
    store.write([b.open(), b.join("ann", 1.0)])
    store.write([b.chat("ann", "old", 10.0), b.chat("ann", "new", 100.0)])
    w = b.chat("ann", "newest", 200.0)
    w.snapshot = SnapshotRecord(ROOM, b.n, b.seq, b"state", 200.0)
    store.write([w])
    assert store.prune(before=50.0) >= 2
    assert [m.text for m in store.chat(ROOM)] == ["newest", "new"]
    # Journal entries a snapshot covers go too when old; the rest stay for recovery.
    assert [e.n for e in store.entries(ROOM)] == [3, 4]
    assert [e.type for e in store.events(ROOM)] == ["member.joined", "chat.message", "chat.message"]


def test_delete_room_forgets_everything(store: Store) -> None:
    b = Builder()
    keep = Builder("r2")
    store.write([b.open(), b.join("ann", 1.0), b.chat("ann", "x", 2.0), keep.open()])
    store.delete_room(ROOM)
    assert store.room(ROOM) is None and store.entries(ROOM) == [] and store.chat(ROOM) == []
    assert store.profiles(ROOM) == [] and store.room("r2") is not None


def test_export_is_one_json_document(store: Store) -> None:
    b = Builder()
    w = b.chat("ann", "x", 2.0)
    w.snapshot = SnapshotRecord(ROOM, 1, 1, b"\x00\xff", 2.0)
    store.write([b.open(), w])
    data = json.loads(dumps(store.export()))
    assert {"rooms", "journal", "events", "snapshots", "chat"} <= set(data)
    assert len(data["journal"]) == 1 and data["chat"][0]["text"] == "x"


def test_hosted_flag_follows_open_and_close(store: Store) -> None:
    b = Builder()
    store.write([b.open()])
    rec = store.room(ROOM)
    assert rec is not None and rec.hosted is True
    store.write([Write(ROOM, hosted=False)])
    rec = store.room(ROOM)
    assert rec is not None and rec.hosted is False
    store.write([Write(ROOM, hosted=True), b.join("ann", 1.0)])
    rec = store.room(ROOM)
    assert rec is not None and rec.hosted is True and rec.last_n == 1


def _checkin(b: Builder, user: str, day: str, streak: int, now: float) -> Write:
    done = {"user": user, "name": user.title(), "day": day, "streak": streak}
    return b.write(
        EntryKind.HANDLE, now, [("checkin.done", done, ())], user=user, type="checkin.daily"
    )


def test_checkins_span_rooms_and_commit_with_their_entry(store: Store) -> None:
    a, b = Builder("ra"), Builder("rb")
    assert store.checkin("ann") is None
    store.write([a.open(), a.join("ann", 1.0), _checkin(a, "ann", "2026-12-01", 1, 2.0)])
    row = store.checkin("ann")
    assert row is not None and (row.last_day, row.streak, row.updated_at) == ("2026-12-01", 1, 2.0)
    # Another room (show) the next day: the same row moves on.
    store.write([b.open(), b.join("ann", 90_000.0), _checkin(b, "ann", "2026-12-02", 2, 90_001.0)])
    row = store.checkin("ann")
    assert row is not None and (row.user, row.last_day, row.streak) == ("ann", "2026-12-02", 2)
    # All or nothing: a batch that fails leaves the streak where it was.
    dup = Write("rb", Entry("rb", 1, EntryKind.TICK, 3.0))
    with pytest.raises(Exception):  # noqa: B017 - each backend has its own integrity error
        store.write([_checkin(b, "ann", "2026-12-03", 3, 180_000.0), dup])
    row = store.checkin("ann")
    assert row is not None and (row.last_day, row.streak) == ("2026-12-02", 2)
    # A user's streak outlives the rooms it was earned in, and is exported.
    store.delete_room("ra")
    store.delete_room("rb")
    assert store.checkin("ann") is not None and store.checkin("bob") is None
    assert [r["user"] for r in json.loads(dumps(store.export()))["checkins"]] == ["ann"]
