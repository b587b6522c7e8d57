"""Rooms, the journal, snapshots, the event journal and the read models.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

Later revisions (the webhook outbox, commerce tables) set ``down_revision = "0001"`` (or
the newest one) and live in this directory too.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Time: sa.Double[float] = sa.Double()


def upgrade() -> None:
    op.create_table(
        "rooms",
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
    op.create_index("rooms_phase", "rooms", ["phase"])
    op.create_table(
        "journal",
        sa.Column("room", sa.Text, primary_key=True),
        sa.Column("n", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("user", sa.Text),
        sa.Column("type", sa.Text),
        sa.Column("body", sa.JSON),
        sa.Column("now", Time, nullable=False),
        sa.Column("entropy", sa.LargeBinary),
    )
    op.create_table(
        "events",
        sa.Column("room", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("roles", sa.JSON),
        sa.Column("users", sa.JSON, nullable=False),
    )
    op.create_index("events_type_at", "events", ["type", "at"])
    op.create_table(
        "snapshots",
        sa.Column("room", sa.Text, primary_key=True),
        sa.Column("n", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("at", Time, nullable=False),
    )
    op.create_table(
        "chat",
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
    op.create_index("chat_at", "chat", ["at"])
    op.create_table(
        "consultations",
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
    op.create_table(
        "consult_requests",
        sa.Column("room", sa.Text, primary_key=True),
        sa.Column("user", sa.Text, primary_key=True),
        sa.Column("requested_at", Time, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("tier", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("ended_at", Time),
    )
    op.create_table(
        "profiles",
        sa.Column("room", sa.Text, primary_key=True),
        sa.Column("user", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("tier", sa.Text, nullable=False),
        sa.Column("locale", sa.Text, nullable=False),
        sa.Column("first_seen", Time, nullable=False),
        sa.Column("last_seen", Time, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "profiles",
        "consult_requests",
        "consultations",
        "chat",
        "snapshots",
        "events",
        "journal",
        "rooms",
    ):
        op.drop_table(table)
