"""What the durable store keeps, as plain values, and the interface every backend serves.

The store never sees a ``Room`` or a ``Venue``: the room host hands it :class:`Write` values
(one per room job that changed something) and gets plain records back. One :class:`Write`
is one entry-point call of a room's ``Venue`` (join / handle / handle_as_server /
disconnect / leave / tick) that was *accepted*: its journal :class:`Entry`, the sequenced
events it emitted (:class:`EventRecord`), and optionally a snapshot of the whole venue
state or a change to the room's record. A backend commits a list of writes in ONE
transaction (group commit), together with the projections derived from their events
(chat history, consultations, the agents' request queue, member profiles) and whatever
the registered transaction hooks add (e.g. the webhook outbox).

Backends (``voiceroom.store.open_store`` picks one by URL):

- ``memory``: dicts in this process, for tests and the in-memory baseline;
- ``sqlite:///path`` and ``postgresql+psycopg://…``: one SQLAlchemy Core implementation,
  schema under Alembic migrations (``voiceroom/store/migrations``).

All methods are synchronous and may block: call them from the store's writer thread
(:class:`voiceroom.store.writer.StoreWriter`), never from the event loop's hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from voiceroom.errors import VoiceroomError


class StoreError(VoiceroomError):
    """The store cannot be opened, migrated or written."""


class EntryKind(StrEnum):
    """Which ``Venue`` entry point a journal entry replays through."""

    JOIN = "join"  # body: the profile (user, name, role, tier, locale)
    HANDLE = "handle"  # user + command type + wire body (+ entropy)
    SERVER = "server"  # handle_as_server: command type + wire body (+ entropy), no user
    DISCONNECT = "disconnect"  # user
    LEAVE = "leave"  # user, body {"reason": ...}
    TICK = "tick"  # only ticks that emitted something
    TIER = "tier"  # Venue.set_tier (HTTP API): user, body {"tier": ...}
    TRACKS = "tracks"  # the music library's names, an outside fact: body {"names": [...]}
    STREAK = "streak"  # the user's stored check-in streak, loaded at join: body {"day", "count"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One accepted entry-point call of a room, in the order the room ran it (``n``)."""

    room: str
    n: int  # 1, 2, 3... per room, no gaps
    kind: EntryKind
    now: float  # the ``now`` the call was given: replay passes the same
    user: str | None = None
    type: str | None = None  # command wire name (handle, server)
    body: Mapping[str, Any] | None = None  # command in wire form / profile / leave reason
    entropy: bytes = b""


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A sequenced event as delivered: the room's ``seq``, wire type and body, who it was
    for (``roles`` None: everyone), and the journal entry ``n`` that produced it."""

    room: str
    seq: int
    n: int
    type: str
    body: Mapping[str, Any]
    at: float
    roles: tuple[str, ...] | None = None
    users: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoomRecord:
    id: str
    config: Mapping[str, Any]  # the RoomConfig fields, as wire values
    phase: str = "warmup"
    created_at: float = 0.0
    title: str | None = None
    market: str | None = None
    time_zone: str | None = None
    show_starts_at: float | None = None  # the schedule (UTC epoch seconds)
    started_at: float | None = None
    ended_at: float | None = None
    last_n: int = 0  # the journal's last entry
    last_seq: int = 0  # the last event seq
    hosted: bool = True  # a server runs it now (False once it closed empty): restart loads it

    @property
    def made_by_api(self) -> bool:
        """Created through the HTTP API (only those records carry a market): such a room
        stays open while empty until it ends, across restarts too."""
        return self.market is not None

    @property
    def comes_back(self) -> bool:
        """Whether a restart brings the room back: it was running, or it is an API room
        (open while empty), and it has not ended."""
        return self.phase != "ended" and (self.hosted or self.made_by_api)


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    """The whole venue state after entry ``n`` (``Venue.to_state()``) and the room's event
    seq at that point."""

    room: str
    n: int
    seq: int
    state: bytes
    at: float


@dataclass(slots=True)
class Write:
    """What one room job hands to the store. ``entry`` None: no journal entry (e.g. only a
    room record on open)."""

    room: str
    entry: Entry | None = None
    events: Sequence[EventRecord] = ()
    snapshot: SnapshotRecord | None = None
    room_record: RoomRecord | None = None  # created on first write, then kept in sync
    hosted: bool | None = None  # the room was closed (False) or reopened (True) here


# --- read models -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ChatRow:
    room: str
    id: int  # the room's chat message id
    seq: int
    at: float
    kind: str  # user | system
    user: str | None
    name: str | None
    text: str
    code: str | None
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConsultationRow:
    room: str
    id: int
    kind: str  # stage | agent
    mode: str  # listen_in | private
    staff: str
    shopper: str
    started_at: float
    ended_at: float | None = None
    outcome: str | None = None  # ended | left | room_ended (None: still running)
    ended_by: str | None = None


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One request in the agents' queue: waiting, or how it ended."""

    room: str
    user: str
    requested_at: float
    name: str
    tier: str
    note: str
    status: str = "waiting"  # waiting | accepted | cancelled | left | role_changed | ...
    ended_at: float | None = None


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """A member as the room saw them (signed token): first and last join."""

    room: str
    user: str
    name: str
    role: str
    tier: str
    locale: str
    first_seen: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class CheckinRow:
    """A user's daily check-in streak across rooms (the newest ``checkin.done``)."""

    user: str
    last_day: str  # ISO date
    streak: int
    updated_at: float


# A callable run inside every write transaction, after the store's own rows: ``(conn,
# writes)``. ``conn`` is the SQLAlchemy ``Connection`` of the transaction (None for the
# memory store). Raising rolls the whole batch back (the writer retries it). This is where
# the webhook outbox goes: a hook inserting one outbox row per event it cares about, into
# a table its own Alembic revision creates.
TxHook = Callable[[Any, Sequence[Write]], None]


# --- the interface ---------------------------------------------------------------------
class Journal(Protocol):
    def write(self, writes: Sequence[Write]) -> None:
        """Commit ``writes`` (journal entries, events, snapshots, projections, hooks) in one
        transaction, or raise and commit nothing."""

    def entries(self, room: str, after: int = 0) -> list[Entry]:
        """The room's journal entries with ``n > after``, in order."""

    def events(self, room: str, after: int = 0, limit: int = 1000) -> list[EventRecord]:
        """The generic event journal: events with ``seq > after``, in order."""

    def add_tx_hook(self, hook: TxHook) -> None: ...


class Snapshots(Protocol):
    def latest_snapshot(self, room: str) -> SnapshotRecord | None: ...


class Rooms(Protocol):
    def room(self, room: str) -> RoomRecord | None: ...

    def rooms(self, *, open_only: bool = False) -> list[RoomRecord]:
        """Every room (or only those not ended), oldest first."""

    def ended_rooms(self) -> list[str]: ...

    def delete_room(self, room: str) -> None:
        """Forget a room and everything recorded about it (the ``--demo`` room's reset)."""


class ReadModels(Protocol):
    def chat(self, room: str, *, before: int | None = None, limit: int = 50) -> list[ChatRow]:
        """Chat history, newest first: messages with ``id < before`` (a page)."""

    def consultations(self, room: str) -> list[ConsultationRow]: ...

    def requests(self, room: str) -> list[RequestRow]: ...

    def profiles(self, room: str) -> list[ProfileRow]: ...

    def checkin(self, user: str) -> CheckinRow | None:
        """The user's check-in streak across rooms (None: never checked in)."""


class Store(Journal, Snapshots, Rooms, ReadModels, Protocol):
    """One backend: what the writer thread, recovery and the API read models use."""

    url: str

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""

    def check(self) -> list[str]:
        """Problems that stop the server from using this store (empty: fine)."""

    def prune(self, before: float) -> int:
        """Chat retention: drop chat rows (and journal entries already covered by a
        snapshot) older than ``before``; returns how many rows went."""

    def export(self) -> dict[str, Any]:
        """Everything, as wire values (``voiceroom db export``)."""

    def close(self) -> None: ...


def room_config_wire(config: Any) -> dict[str, Any]:
    """A RoomConfig (frozen dataclass) as JSON-safe values (tuples become lists)."""
    import dataclasses

    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out
