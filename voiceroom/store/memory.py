"""The in-process backend: the same ops as the SQL one, applied to dicts.

For tests and as the in-memory baseline of the benchmarks: nothing survives the process.
Rows are kept per table and per room, keyed by the table's primary key
(:data:`voiceroom.store.projections.TABLE_KEYS`).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from voiceroom.store import projections as pj
from voiceroom.store.base import (
    ChatRow,
    CheckinRow,
    ConsultationRow,
    Entry,
    EntryKind,
    EventRecord,
    ProfileRow,
    RequestRow,
    RoomRecord,
    SnapshotRecord,
    TxHook,
    Write,
)

Row = dict[str, Any]


class MemoryStore:
    url = "memory"

    def __init__(self) -> None:
        # table -> room -> primary key -> row
        self._t: dict[str, dict[str, dict[tuple[Any, ...], Row]]] = {t: {} for t in pj.TABLE_ORDER}
        self._hooks: list[TxHook] = []
        self._lock = threading.Lock()  # writer thread vs. readers in tests

    def upgrade(self) -> None:
        return None

    def check(self) -> list[str]:
        return []

    def add_tx_hook(self, hook: TxHook) -> None:
        self._hooks.append(hook)

    # ------------------------------------------------------------------ writes
    def write(self, writes: Sequence[Write]) -> None:
        if not writes:
            return
        by_table = pj.ops_for(writes)
        with self._lock:
            # All or nothing, like a transaction: what can fail (a duplicate key, a hook)
            # is checked or run before the first change.
            self._check_inserts(by_table)
            for hook in self._hooks:
                hook(None, writes)
            for table in pj.TABLE_ORDER:
                for op in by_table[table]:
                    self._apply(op)
            for room in {w.room for w in writes if w.snapshot is not None}:
                snaps = self._t["snapshots"].get(room, {})
                for key in sorted(snaps)[: -pj.SNAPSHOTS_KEPT]:
                    del snaps[key]

    def _check_inserts(self, by_table: Mapping[str, list[pj.Op]]) -> None:
        for table, ops in by_table.items():
            keys = pj.TABLE_KEYS[table]
            seen: set[tuple[Any, ...]] = set()
            for op in ops:
                if not isinstance(op, pj.Insert):
                    continue
                key = tuple(op.row[k] for k in keys)
                rows = self._t[table].get(self._room_of(table, op.row), {})
                if key in seen or key in rows:
                    raise KeyError(f"duplicate key {key} in {table}")
                seen.add(key)

    def _rows(self, table: str, room: str) -> dict[tuple[Any, ...], Row]:
        return self._t[table].setdefault(room, {})

    @staticmethod
    def _room_of(table: str, row: Mapping[str, Any]) -> str:
        if table in pj.GLOBAL_TABLES:
            return ""
        return str(row["id"] if table == "rooms" else row["room"])

    def _apply(self, op: pj.Op) -> None:
        keys = pj.TABLE_KEYS[op.table]
        if isinstance(op, pj.Insert | pj.Upsert):
            rows = self._rows(op.table, self._room_of(op.table, op.row))
            key = tuple(op.row[k] for k in keys)
            if key in rows:
                for col in op.update if isinstance(op, pj.Upsert) else ():
                    rows[key][col] = op.row[col]
            else:
                rows[key] = dict(op.row)  # ops_for builds fresh rows: no copy needed
            return
        room = str(op.where.get("id" if op.table == "rooms" else "room"))
        rows = self._rows(op.table, room)
        for key, row in list(rows.items()):
            if not all(row.get(k) == v for k, v in op.where.items()):
                continue
            if isinstance(op, pj.Update):
                if op.not_in is not None and row.get(op.not_in[0]) in op.not_in[1]:
                    continue
                row.update(op.values)
            elif op.below is None or row[op.below[0]] < op.below[1]:
                del rows[key]

    def prune(self, before: float) -> int:
        gone = 0
        with self._lock:
            for rows in self._t["chat"].values():
                for key in [k for k, r in rows.items() if r["at"] < before]:
                    del rows[key]
                    gone += 1
            for rows in self._t["events"].values():
                for key in [
                    k for k, r in rows.items() if r["type"] == "chat.message" and r["at"] < before
                ]:
                    del rows[key]
                    gone += 1
            for room, rows in self._t["journal"].items():
                snaps = self._t["snapshots"].get(room) or {}
                if not snaps:
                    continue
                oldest = min(k[1] for k in snaps)
                for key in [k for k, r in rows.items() if r["now"] < before and r["n"] <= oldest]:
                    del rows[key]
                    gone += 1
        return gone

    def delete_room(self, room: str) -> None:
        with self._lock:
            for table, rows in self._t.items():
                if table not in pj.GLOBAL_TABLES:  # a user's streak outlives the room
                    rows.pop(room, None)

    # ------------------------------------------------------------------ reads
    def _sorted(self, table: str, room: str) -> list[Row]:
        with self._lock:
            rows = self._t[table].get(room, {})
            return [copy.deepcopy(rows[k]) for k in sorted(rows)]

    def room(self, room: str) -> RoomRecord | None:
        rows = self._sorted("rooms", room)
        return RoomRecord(**rows[0]) if rows else None

    def rooms(self, *, open_only: bool = False) -> list[RoomRecord]:
        with self._lock:
            ids = [r for r, rows in self._t["rooms"].items() if rows]
        recs = [rec for rec in (self.room(r) for r in ids) if rec is not None]
        if open_only:
            recs = [r for r in recs if r.phase != "ended"]
        return sorted(recs, key=lambda r: (r.created_at, r.id))

    def ended_rooms(self) -> list[str]:
        return [r.id for r in self.rooms() if r.phase == "ended"]

    def latest_snapshot(self, room: str) -> SnapshotRecord | None:
        rows = self._sorted("snapshots", room)
        if not rows:
            return None
        return SnapshotRecord(**rows[-1])

    def entries(self, room: str, after: int = 0) -> list[Entry]:
        return [
            Entry(
                room=r["room"],
                n=r["n"],
                kind=EntryKind(r["kind"]),
                now=r["now"],
                user=r["user"],
                type=r["type"],
                body=r["body"],
                entropy=r["entropy"] or b"",
            )
            for r in self._sorted("journal", room)
            if r["n"] > after
        ]

    def events(self, room: str, after: int = 0, limit: int = 1000) -> list[EventRecord]:
        out = [
            EventRecord(
                room=r["room"],
                seq=r["seq"],
                n=r["n"],
                type=r["type"],
                body=r["body"],
                at=r["at"],
                roles=None if r["roles"] is None else tuple(r["roles"]),
                users=tuple(r["users"]),
            )
            for r in self._sorted("events", room)
            if r["seq"] > after
        ]
        return out[:limit]

    def chat(self, room: str, *, before: int | None = None, limit: int = 50) -> list[ChatRow]:
        rows = [r for r in self._sorted("chat", room) if before is None or r["id"] < before]
        return [ChatRow(**r) for r in reversed(rows)][:limit]

    def consultations(self, room: str) -> list[ConsultationRow]:
        return [ConsultationRow(**r) for r in self._sorted("consultations", room)]

    def requests(self, room: str) -> list[RequestRow]:
        rows = self._sorted("consult_requests", room)
        return [RequestRow(**r) for r in sorted(rows, key=lambda r: (r["requested_at"], r["user"]))]

    def profiles(self, room: str) -> list[ProfileRow]:
        return [ProfileRow(**r) for r in self._sorted("profiles", room)]

    def checkin(self, user: str) -> CheckinRow | None:
        with self._lock:
            row = self._t["checkins"].get("", {}).get((user,))
            return None if row is None else CheckinRow(**row)

    def export(self) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.url, "revision": None}
        with self._lock:
            for table, per_room in self._t.items():
                out[table] = [
                    copy.deepcopy(rows[k])
                    for _, rows in sorted(per_room.items())
                    for k in sorted(rows)
                ]
        return out

    def close(self) -> None:
        return None
