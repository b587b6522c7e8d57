"""Alembic environment: run with the connection the store hands over.

``voiceroom.store.sql.SqlStore.upgrade`` builds the Alembic config in code (no alembic.ini)
and passes its open connection in ``config.attributes["connection"]``; offline mode (SQL
script output) is not used.
"""

from __future__ import annotations

from alembic import context

from voiceroom.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `voiceroom db upgrade` (SqlStore.upgrade)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place: batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
