"""The room registry's vocabulary (after LiveKit's ``RoomAllocator`` / ``LockRoom``).

- A **worker** is one server process, named ``node/index`` (``WorkerInfo.id``); a node is a
  machine. Workers report a heartbeat every second (their rooms and members); one that is
  silent for 10 s is killed and, like one that exits, marked ``DOWN`` and restarted.
- A **lease** says which worker runs a room. ``claim`` grants one on the least-loaded ready
  worker (fewest rooms leased, then fewest members) when the room has none; the owner's
  heartbeats ``renew`` it; a lease its worker never confirms (the room did not open there:
  a listener knocked on a closed room) lapses after its ``ttl``; ``release`` ends it (the
  room ended or closed empty). A down worker's leases wait for its replacement.
- **Draining** a worker: it keeps its rooms, but no new room is placed on it (before a
  restart or a scale-down).

All methods are async: the Redis implementation does I/O where the local one does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class WorkerState(StrEnum):
    STARTING = "starting"  # spawned, not yet reporting
    READY = "ready"  # heartbeating, takes new rooms
    DRAINING = "draining"  # keeps its rooms, takes no new one
    DOWN = "down"  # exited or silent; its leases wait for it to come back


@dataclass
class WorkerInfo:
    id: str  # "node/index"
    node: str
    index: int
    state: WorkerState = WorkerState.STARTING
    pid: int | None = None
    rooms: dict[str, int] = field(default_factory=dict)  # room -> members, from heartbeats
    late_ticks: int = 0  # media ticks that woke late, as last reported
    last_seen: float = 0.0  # monotonic seconds of the last heartbeat
    restarts: int = 0

    @property
    def load(self) -> tuple[int, int]:
        """(members, rooms) as last reported."""
        return sum(self.rooms.values()), len(self.rooms)


@dataclass(frozen=True)
class Lease:
    room: str
    worker: str
    expires: float  # monotonic; a heartbeat that lists the room moves it on
    confirmed: bool = False  # the worker has reported the room open


@dataclass(frozen=True)
class Placement:
    room: str
    worker: WorkerInfo
    new: bool  # the lease was granted by this call


class RoomRegistry(Protocol):
    node: str

    async def add_worker(self, index: int, pid: int | None) -> WorkerInfo: ...

    async def workers(self) -> list[WorkerInfo]: ...

    async def locate(self, room: str) -> Lease | None:
        """The room's live lease, if any."""
        ...

    async def claim(self, room: str, now: float) -> Placement | None:
        """The room's worker: its lease holder, else the least-loaded ready worker (granted a
        lease now). None when no worker can take it."""
        ...

    async def renew(self, worker: str, rooms: Mapping[str, int], late: int, now: float) -> None:
        """A heartbeat: the worker's open rooms (with member counts) renew their leases."""
        ...

    async def confirm(self, room: str, worker: str, now: float) -> bool:
        """The worker reports the room open. False if another worker holds its lease (two
        workers would run one room: the caller must close it on ``worker``)."""
        ...

    async def leases(self) -> list[Lease]: ...

    async def release(self, room: str, worker: str) -> bool:
        """End the room's lease if ``worker`` holds it (compare-then-delete)."""
        ...

    async def drain(self, worker: str) -> None: ...

    async def down(self, worker: str) -> list[str]:
        """Mark a worker down; returns the rooms it held (their leases stay with it, to be
        recovered by its replacement from the store)."""
        ...

    async def up(self, worker: str, pid: int | None) -> None:
        """A (re)started worker reports ready."""
        ...

    async def expire(self, now: float) -> list[str]:
        """Drop lapsed leases and mark silent workers down; returns the dropped rooms."""
        ...
