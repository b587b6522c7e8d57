"""The SQL backend: SQLAlchemy 2 Core over sqlite3 (WAL) or psycopg 3, one code path.

Dialect differences are kept to three places: the connect-time pragmas for SQLite, the
dialect's ``INSERT .. ON CONFLICT`` for upserts (both databases spell it the same way), and
the URL normalisation (``postgresql://`` -> ``postgresql+psycopg://``). Everything runs on
the caller's thread with blocking drivers: the store's writer thread (see writer.py).
"""

from __future__ import annotations

import base64
import json
import operator
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from voiceroom.store import projections as pj
from voiceroom.store import schema as s
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
    StoreError,
    TxHook,
    Write,
)

MIGRATIONS = "voiceroom.store:migrations"


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """Alembic's config in code: the migrations ship inside the package."""
    cfg = AlembicConfig()
    location = resources.files("voiceroom.store") / "migrations"
    cfg.set_main_option("script_location", str(location))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers do not block the writer; synchronous=FULL: a committed batch survives
    # power loss too (one fsync per group commit, not per command).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


class SqlStore:
    """SQLite or PostgreSQL, by URL."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.url.startswith("sqlite"):
            path = sa.engine.make_url(self.url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs["pool_pre_ping"] = True  # a restarted PostgreSQL: reconnect, not fail
        try:
            self.engine: Engine = sa.create_engine(self.url, **kwargs)
        except Exception as exc:  # bad URL, missing driver
            raise StoreError(f"cannot open store {self.safe_url}: {exc}") from None
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._hooks: list[TxHook] = []
        self._insert_cache: dict[str, tuple[str, Any, tuple[int, ...]]] = {}

    @property
    def safe_url(self) -> str:
        """The URL without its password, for logs and errors."""
        try:
            return sa.engine.make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            return "<unparseable store url>"

    # ------------------------------------------------------------------ schema
    def upgrade(self) -> None:
        try:
            with self.engine.begin() as conn:
                command.upgrade(alembic_config(conn), "head")
        except Exception as exc:
            raise StoreError(f"cannot migrate {self.safe_url}: {exc}") from exc

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(alembic_config()).get_current_head()

    def check(self) -> list[str]:
        problems: list[str] = []
        try:
            current = self.current_revision()
        except Exception as exc:
            return [f"cannot connect to {self.safe_url}: {exc}"]
        head = self.head_revision()
        if current != head:
            problems.append(f"schema at revision {current}, code expects {head}: run upgrade")
            return problems
        with self.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), s.metadata)
        # Tables that later revisions add outside schema.py (e.g. the webhook outbox) are
        # theirs to check: only report differences in our own tables.
        ours = set(s.TABLES)
        for d in diff:
            text = repr(d)
            if any(f"'{t}'" in text or f"Table('{t}'" in text for t in ours):
                problems.append(f"schema differs from the code: {text[:200]}")
        return problems

    # ------------------------------------------------------------------ writes
    def add_tx_hook(self, hook: TxHook) -> None:
        self._hooks.append(hook)

    def write(self, writes: Sequence[Write]) -> None:
        if not writes:
            return
        by_table = pj.ops_for(writes)
        snap_rooms = sorted({w.room for w in writes if w.snapshot is not None})
        with self.engine.begin() as conn:
            for table in pj.TABLE_ORDER:
                self._apply(conn, by_table[table])
            for room in snap_rooms:
                self._prune_snapshots(conn, room)
            for hook in self._hooks:
                hook(conn, writes)

    def _apply(self, conn: Connection, ops: list[pj.Op]) -> None:
        i = 0
        while i < len(ops):
            op = ops[i]
            if isinstance(op, pj.Insert):
                j = i
                while j < len(ops) and isinstance(ops[j], pj.Insert):
                    j += 1
                rows = [o.row for o in ops[i:j] if isinstance(o, pj.Insert)]
                self._insert_many(conn, op.table, rows)
                i = j
                continue
            if isinstance(op, pj.Upsert):
                self._upsert(conn, op)
            elif isinstance(op, pj.Update):
                t = s.TABLES[op.table]
                stmt = t.update().where(*_conds(t, op.where)).values(**op.values)
                if op.not_in is not None:
                    col, values = op.not_in
                    stmt = stmt.where(t.c[col].not_in(values))
                conn.execute(stmt)
            else:
                t = s.TABLES[op.table]
                stmt_d = t.delete().where(*_conds(t, op.where))
                if op.below is not None:
                    stmt_d = stmt_d.where(t.c[op.below[0]] < op.below[1])
                conn.execute(stmt_d)
            i += 1

    def _insert_many(self, conn: Connection, table: str, rows: list[Mapping[str, Any]]) -> None:
        """The hot path (journal, events, chat: rows per command): one driver-level
        executemany with JSON encoded once here. SQLAlchemy's per-row parameter
        processing cost more CPU than the database did, on the writer thread that shares
        the GIL with the event loop."""
        sql, getter, json_idx = self._insert_sql(table)
        params = []
        for r in rows:
            values = list(getter(r))
            for i in json_idx:
                if values[i] is not None:
                    values[i] = _ENCODE(values[i])
            params.append(tuple(values))
        conn.exec_driver_sql(sql, params)

    def _insert_sql(self, table: str) -> tuple[str, Any, tuple[int, ...]]:
        cached = self._insert_cache.get(table)
        if cached is None:
            t = s.TABLES[table]
            quote = self.engine.dialect.identifier_preparer.quote
            columns = tuple(c.name for c in t.columns)
            mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
            sql = (
                f"INSERT INTO {quote(t.name)} ({', '.join(quote(c) for c in columns)}) "
                f"VALUES ({', '.join(mark for _ in columns)})"
            )
            json_idx = tuple(i for i, c in enumerate(t.columns) if isinstance(c.type, sa.JSON))
            cached = self._insert_cache[table] = (sql, operator.itemgetter(*columns), json_idx)
        return cached

    def _upsert(self, conn: Connection, op: pj.Upsert) -> None:
        t = s.TABLES[op.table]
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            ins: Any = pg_insert(t).values(**op.row)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            ins = sqlite_insert(t).values(**op.row)
        keys = [t.c[k] for k in pj.TABLE_KEYS[op.table]]
        if op.update:
            stmt = ins.on_conflict_do_update(
                index_elements=keys, set_={c: ins.excluded[c] for c in op.update}
            )
        else:
            stmt = ins.on_conflict_do_nothing(index_elements=keys)
        conn.execute(stmt)

    def _prune_snapshots(self, conn: Connection, room: str) -> None:
        t = s.snapshots
        keep = conn.execute(
            sa.select(t.c.n)
            .where(t.c.room == room)
            .order_by(t.c.n.desc())
            .limit(1)
            .offset(pj.SNAPSHOTS_KEPT - 1)
        ).scalar()
        if keep is not None:
            conn.execute(t.delete().where(t.c.room == room, t.c.n < keep))

    def prune(self, before: float) -> int:
        gone = 0
        with self.engine.begin() as conn:
            gone += conn.execute(s.chat.delete().where(s.chat.c.at < before)).rowcount or 0
            gone += (
                conn.execute(
                    s.events.delete().where(
                        s.events.c.type == "chat.message", s.events.c.at < before
                    )
                ).rowcount
                or 0
            )
            # Journal entries a snapshot already covers are only history: past the window,
            # they go too (they hold the chat texts).
            newest = (
                sa.select(sa.func.min(s.snapshots.c.n))
                .where(s.snapshots.c.room == s.journal.c.room)
                .scalar_subquery()
            )
            gone += (
                conn.execute(
                    s.journal.delete().where(s.journal.c.now < before, s.journal.c.n <= newest)
                ).rowcount
                or 0
            )
        return gone

    def delete_room(self, room: str) -> None:
        with self.engine.begin() as conn:
            for name, t in s.TABLES.items():
                if name in pj.GLOBAL_TABLES:  # a user's streak outlives the room
                    continue
                col = t.c.id if name == "rooms" else t.c.room
                conn.execute(t.delete().where(col == room))

    # ------------------------------------------------------------------ reads
    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def room(self, room: str) -> RoomRecord | None:
        with self._read() as conn:
            row = conn.execute(sa.select(s.rooms).where(s.rooms.c.id == room)).mappings().first()
        return None if row is None else _room(row)

    def rooms(self, *, open_only: bool = False) -> list[RoomRecord]:
        q = sa.select(s.rooms).order_by(s.rooms.c.created_at, s.rooms.c.id)
        if open_only:
            q = q.where(s.rooms.c.phase != "ended")
        with self._read() as conn:
            return [_room(r) for r in conn.execute(q).mappings()]

    def ended_rooms(self) -> list[str]:
        q = sa.select(s.rooms.c.id).where(s.rooms.c.phase == "ended")
        with self._read() as conn:
            return [str(r) for r in conn.execute(q).scalars()]

    def latest_snapshot(self, room: str) -> SnapshotRecord | None:
        t = s.snapshots
        q = sa.select(t).where(t.c.room == room).order_by(t.c.n.desc()).limit(1)
        with self._read() as conn:
            r = conn.execute(q).mappings().first()
        if r is None:
            return None
        return SnapshotRecord(r["room"], r["n"], r["seq"], bytes(r["state"]), r["at"])

    def entries(self, room: str, after: int = 0) -> list[Entry]:
        t = s.journal
        q = sa.select(t).where(t.c.room == room, t.c.n > after).order_by(t.c.n)
        with self._read() as conn:
            return [
                Entry(
                    room=r["room"],
                    n=r["n"],
                    kind=EntryKind(r["kind"]),
                    now=r["now"],
                    user=r["user"],
                    type=r["type"],
                    body=r["body"],
                    entropy=bytes(r["entropy"] or b""),
                )
                for r in conn.execute(q).mappings()
            ]

    def events(self, room: str, after: int = 0, limit: int = 1000) -> list[EventRecord]:
        t = s.events
        q = sa.select(t).where(t.c.room == room, t.c.seq > after).order_by(t.c.seq).limit(limit)
        with self._read() as conn:
            return [
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
                for r in conn.execute(q).mappings()
            ]

    def chat(self, room: str, *, before: int | None = None, limit: int = 50) -> list[ChatRow]:
        t = s.chat
        q = sa.select(t).where(t.c.room == room)
        if before is not None:
            q = q.where(t.c.id < before)
        q = q.order_by(t.c.id.desc()).limit(limit)
        with self._read() as conn:
            return [ChatRow(**dict(r)) for r in conn.execute(q).mappings()]

    def consultations(self, room: str) -> list[ConsultationRow]:
        t = s.consultations
        q = sa.select(t).where(t.c.room == room).order_by(t.c.id)
        with self._read() as conn:
            return [ConsultationRow(**dict(r)) for r in conn.execute(q).mappings()]

    def requests(self, room: str) -> list[RequestRow]:
        t = s.consult_requests
        q = sa.select(t).where(t.c.room == room).order_by(t.c.requested_at, t.c.user)
        with self._read() as conn:
            return [RequestRow(**dict(r)) for r in conn.execute(q).mappings()]

    def profiles(self, room: str) -> list[ProfileRow]:
        t = s.profiles
        q = sa.select(t).where(t.c.room == room).order_by(t.c.user)
        with self._read() as conn:
            return [ProfileRow(**dict(r)) for r in conn.execute(q).mappings()]

    def checkin(self, user: str) -> CheckinRow | None:
        t = s.checkins
        with self._read() as conn:
            r = conn.execute(sa.select(t).where(t.c.user == user)).mappings().first()
        return None if r is None else CheckinRow(**dict(r))

    def export(self) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.safe_url, "revision": self.current_revision()}
        with self._read() as conn:
            for name in pj.TABLE_ORDER:
                t = s.TABLES[name]
                keys = [t.c[k] for k in pj.TABLE_KEYS[name]]
                out[name] = [
                    _jsonable(dict(r))
                    for r in conn.execute(sa.select(t).order_by(*keys)).mappings()
                ]
        return out

    def close(self) -> None:
        self.engine.dispose()


# One encoder, built once (json.dumps with options builds one per call).
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _conds(t: sa.Table, where: Mapping[str, Any]) -> list[Any]:
    return [t.c[k].is_(None) if v is None else t.c[k] == v for k, v in where.items()]


def _room(r: Any) -> RoomRecord:
    return RoomRecord(**dict(r))


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """Bytes (snapshots, entropy) as base64 so an export is one JSON document."""
    return {
        k: {"base64": base64.b64encode(v).decode()} if isinstance(v, bytes | memoryview) else v
        for k, v in row.items()
    }


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True, default=str)
