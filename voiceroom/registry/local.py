"""``LocalRegistry``: the room registry of one machine, held by the front process.

Everything is in memory and answers at once; the front is the only writer (workers report to
it over their control channel), so no locking is needed.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import replace

from voiceroom.registry.base import Lease, Placement, RoomRegistry, WorkerInfo, WorkerState


class LocalRegistry:
    def __init__(self, *, node: str | None = None, lease_ttl: float = 30.0) -> None:
        self.node = node or socket.gethostname()
        self.lease_ttl = lease_ttl
        self._workers: dict[str, WorkerInfo] = {}
        self._leases: dict[str, Lease] = {}

    def worker_id(self, index: int) -> str:
        return f"{self.node}/{index}"

    async def add_worker(self, index: int, pid: int | None) -> WorkerInfo:
        info = WorkerInfo(self.worker_id(index), self.node, index, pid=pid)
        self._workers[info.id] = info
        return info

    async def workers(self) -> list[WorkerInfo]:
        return list(self._workers.values())

    async def locate(self, room: str) -> Lease | None:
        return self._leases.get(room)

    async def claim(self, room: str, now: float) -> Placement | None:
        lease = self._leases.get(room)
        if lease is not None:
            # The room stays where it is, even on a worker being restarted: its replacement
            # recovers it from the store (a connection waits for it rather than split the room).
            return Placement(room, self._workers[lease.worker], new=False)
        ready = [w for w in self._workers.values() if w.state is WorkerState.READY]
        if not ready:
            return None
        # Rooms are counted from the leases (granted a moment ago or reported), members from
        # the last heartbeat: a wave of new rooms spreads at once, big rooms weigh more.
        leased: dict[str, int] = {}
        for other in self._leases.values():
            leased[other.worker] = leased.get(other.worker, 0) + 1
        worker = min(ready, key=lambda w: (leased.get(w.id, 0), w.load[0], w.index))
        self._leases[room] = Lease(room, worker.id, now + self.lease_ttl)
        return Placement(room, worker, new=True)

    async def renew(self, worker: str, rooms: Mapping[str, int], late: int, now: float) -> None:
        info = self._workers[worker]
        info.rooms = dict(rooms)
        info.late_ticks = late
        info.last_seen = now
        for room in rooms:
            lease = self._leases.get(room)
            if lease is None or lease.worker == worker:
                self._leases[room] = Lease(room, worker, now + self.lease_ttl, confirmed=True)

    async def confirm(self, room: str, worker: str, now: float) -> bool:
        lease = self._leases.get(room)
        if lease is not None and lease.worker != worker:
            return False
        self._leases[room] = Lease(room, worker, now + self.lease_ttl, confirmed=True)
        return True

    async def leases(self) -> list[Lease]:
        return list(self._leases.values())

    async def release(self, room: str, worker: str) -> bool:
        lease = self._leases.get(room)
        if lease is None or lease.worker != worker:
            return False
        del self._leases[room]
        self._workers[worker].rooms.pop(room, None)
        return True

    async def drain(self, worker: str) -> None:
        self._workers[worker].state = WorkerState.DRAINING

    async def down(self, worker: str) -> list[str]:
        info = self._workers[worker]
        info.state = WorkerState.DOWN
        info.rooms = {}
        held = [room for room, lease in self._leases.items() if lease.worker == worker]
        for room in held:  # kept for the replacement, which must confirm them again
            self._leases[room] = replace(self._leases[room], confirmed=False)
        return held

    async def up(self, worker: str, pid: int | None) -> None:
        info = self._workers[worker]
        if info.state is WorkerState.DOWN:
            info.restarts += 1
        info.state = WorkerState.READY
        info.pid = pid

    async def expire(self, now: float) -> list[str]:
        lapsed = [
            room
            for room, lease in self._leases.items()
            if lease.expires < now and self._workers[lease.worker].state is not WorkerState.DOWN
        ]
        for room in lapsed:
            del self._leases[room]
        return lapsed


_check: type[RoomRegistry] = LocalRegistry  # mypy: LocalRegistry implements the Protocol
