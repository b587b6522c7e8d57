"""The SQL schema as SQLAlchemy Core tables: what queries are built from.

The migrations in ``migrations/versions`` create these tables; ``voiceroom db check``
compares the two (Alembic's autogenerate comparison) so they cannot drift apart unseen.
Times are UTC epoch seconds (double precision), like ``now`` everywhere in voiceroom.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

Time: sa.Double[float] = sa.Double()

rooms = sa.Table(
    "rooms",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("title", sa.Text),
    sa.Column("market", sa.Text),
    sa.Column("time_zone", sa.Text),
    sa.Column("show_starts_at", Time),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("phase", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("started_at", Time),
    sa.Column("ended_at", Time),
    sa.Column("last_n", sa.BigInteger, nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("hosted", sa.Boolean, nullable=False),
)
sa.Index("rooms_phase", rooms.c.phase)

# Every accepted entry-point call, in order: what recovery replays.
journal = sa.Table(
    "journal",
    metadata,
    sa.Column("room", sa.Text, primary_key=True),
    sa.Column("n", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("user", sa.Text),
    sa.Column("type", sa.Text),
    sa.Column("body", sa.JSON),
    sa.Column("now", Time, nullable=False),
    sa.Column("entropy", sa.LargeBinary),
)

# The generic append-only event journal: every sequenced event (commerce, webhooks).
events = sa.Table(
    "events",
    metadata,
    sa.Column("room", sa.Text, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("n", sa.BigInteger, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("at", Time, nullable=False),
    sa.Column("roles", sa.JSON),
    sa.Column("users", sa.JSON, nullable=False),
)
sa.Index("events_type_at", events.c.type, events.c.at)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("room", sa.Text, primary_key=True),
    sa.Column("n", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("state", sa.LargeBinary, nullable=False),
    sa.Column("at", Time, nullable=False),
)

chat = sa.Table(
    "chat",
    metadata,
    sa.Column("room", sa.Text, primary_key=True),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("at", Time, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("user", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("code", sa.Text),
    sa.Column("params", sa.JSON, nullable=False),
)
sa.Index("chat_at", chat.c.at)

consultations = sa.Table(
    "consultations",
    metadata,
    sa.Column("room", sa.Text, primary_key=True),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("mode", sa.Text, nullable=False),
    sa.Column("staff", sa.Text, nullable=False),
    sa.Column("shopper", sa.Text, nullable=False),
    sa.Column("started_at", Time, nullable=False),
    sa.Column("ended_at", Time),
    sa.Column("outcome", sa.Text),
    sa.Column("ended_by", sa.Text),
)

consult_requests = sa.Table(
    "consult_requests",
    metadata,
    sa.Column("room", sa.Text, primary_key=True),
    sa.Column("user", sa.Text, primary_key=True),
    sa.Column("requested_at", Time, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("tier", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("ended_at", Time),
)

profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("room", sa.Text, primary_key=True),
    sa.Column("user", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("tier", sa.Text, nullable=False),
    sa.Column("locale", sa.Text, nullable=False),
    sa.Column("first_seen", Time, nullable=False),
    sa.Column("last_seen", Time, nullable=False),
)

# The daily check-in streak per user, across rooms (shows): the projection of
# ``checkin.done``; a room loads it when the user joins (journaled, see EntryKind.STREAK).
checkins = sa.Table(
    "checkins",
    metadata,
    sa.Column("user", sa.Text, primary_key=True),
    sa.Column("last_day", sa.Text, nullable=False),  # ISO date in the show's market zone
    sa.Column("streak", sa.Integer, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
)

TABLES: dict[str, sa.Table] = {t.name: t for t in metadata.sorted_tables}
