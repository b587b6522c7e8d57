"""The webhook outbox (voiceroom.api): one row per (message, endpoint), written in the same
transaction as the journal entry whose events it carries; and the endpoints added through
the API.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Time: sa.Double[float] = sa.Double()
# SQLite autoincrements only an INTEGER PRIMARY KEY.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "webhook_outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("msg_id", sa.Text, nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", Time, nullable=False),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", Time),
        sa.UniqueConstraint("msg_id", "endpoint", name="webhook_outbox_msg_endpoint"),
    )
    op.create_index("webhook_outbox_due", "webhook_outbox", ["endpoint", "state", "id"])
    op.create_table(
        "webhook_endpoints",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("event_filters", sa.Text, nullable=False),  # JSON list (not "events": a table)
    )


def downgrade() -> None:
    op.drop_table("webhook_endpoints")
    op.drop_index("webhook_outbox_due", table_name="webhook_outbox")
    op.drop_table("webhook_outbox")
