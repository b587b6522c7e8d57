"""The durable store: rooms, the journal of accepted calls, snapshots, read models.

``open_store(url)`` picks a backend from :data:`BACKENDS` by the URL's scheme (uvicorn's
table-of-import-strings shape), so the SQL stack is imported only when chosen:

- ``memory``                        nothing survives the process (tests);
- ``none``                          the server journals nothing (no durability: baseline);
- ``sqlite`` / ``sqlite:///path``   embedded, the default for ``voiceroom serve``
  (``sqlite`` alone: ``<data_dir>/voiceroom.db``);
- ``postgresql+psycopg://user@host/db`` (``postgresql://`` is taken to mean psycopg 3).

See docs/adr/0001-store.md for why it is built this way.
"""

from __future__ import annotations

import importlib
from pathlib import Path

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
    Store,
    StoreError,
    TxHook,
    Write,
)

BACKENDS: dict[str, str] = {
    "memory": "voiceroom.store.memory:MemoryStore",
    "none": "voiceroom.store.memory:MemoryStore",  # the server journals nothing at all
    "sqlite": "voiceroom.store.sql:SqlStore",
    "postgresql": "voiceroom.store.sql:SqlStore",
    "postgres": "voiceroom.store.sql:SqlStore",
}

DB_FILE = "voiceroom.db"


def resolve_url(url: str, data_dir: Path | str = "var") -> str:
    """``sqlite`` (no path) means the file under ``data_dir``."""
    url = url.strip()
    if url in ("sqlite", "sqlite://", "sqlite:///"):
        return f"sqlite:///{Path(data_dir).expanduser().resolve() / DB_FILE}"
    return url


def open_store(url: str, data_dir: Path | str = "var") -> Store:
    url = resolve_url(url, data_dir)
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    target = BACKENDS.get(scheme)
    if target is None:
        raise StoreError(f"unknown store {url.split(':', 1)[0]!r}: use one of {sorted(BACKENDS)}")
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    store: Store = cls() if scheme in ("memory", "none") else cls(url)
    return store


__all__ = [
    "BACKENDS",
    "ChatRow",
    "CheckinRow",
    "ConsultationRow",
    "Entry",
    "EntryKind",
    "EventRecord",
    "ProfileRow",
    "RequestRow",
    "RoomRecord",
    "SnapshotRecord",
    "Store",
    "StoreError",
    "TxHook",
    "Write",
    "open_store",
    "resolve_url",
]
