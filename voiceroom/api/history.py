"""What the history endpoints read: a small Protocol, backed by live projections for now.

:class:`LiveHistory` subscribes to the :class:`~voiceroom.api.events.EventFeed` and keeps,
per room, the last :data:`CHAT_KEPT` chat messages and the consultations log (started,
and ended with duration) in memory — kept after the room ends, lost on restart. When the
durable store (``voiceroom/store``, its chat and consultation projections) is on main,
:class:`StoreHistory` implements the same Protocol over them and replaces it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from voiceroom.api.events import ShopEvent

CHAT_KEPT = 1000
ROOMS_KEPT = 1000


class HistoryReader(Protocol):
    async def chat(self, room: str, *, after: int, limit: int) -> list[dict[str, Any]]:
        """Chat messages with id > ``after``, oldest first, at most ``limit``."""

    async def consultations(self, room: str) -> list[dict[str, Any]]:
        """Every consultation of the room, by id: open ones have no ``ended_at``."""


@dataclass(slots=True)
class _Log:
    chat: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=CHAT_KEPT))
    consults: dict[int, dict[str, Any]] = field(default_factory=dict)


class LiveHistory:
    def __init__(self) -> None:
        self._rooms: OrderedDict[str, _Log] = OrderedDict()

    def __call__(self, events: Sequence[ShopEvent]) -> None:
        """EventFeed subscriber (inside the room job: memory only)."""
        for event in events:
            if event.type == "chat.message":
                data = {k: v for k, v in event.data.items() if k != "room"}
                self._log(event.room).chat.append(data)
            elif event.type in ("consultation.started", "consultation.ended"):
                log = self._log(event.room)
                data = {k: v for k, v in event.data.items() if k != "room"}
                entry = log.consults.setdefault(int(data["id"]), {})
                entry.update(data)
                entry.setdefault("ended_at", None)
                entry.setdefault("duration", None)

    def _log(self, room: str) -> _Log:
        log = self._rooms.get(room)
        if log is None:
            log = self._rooms[room] = _Log()
            while len(self._rooms) > ROOMS_KEPT:
                self._rooms.popitem(last=False)
        return log

    async def chat(self, room: str, *, after: int, limit: int) -> list[dict[str, Any]]:
        log = self._rooms.get(room)
        if log is None:
            return []
        return [m for m in log.chat if m["id"] > after][:limit]

    async def consultations(self, room: str) -> list[dict[str, Any]]:
        log = self._rooms.get(room)
        return [] if log is None else [log.consults[k] for k in sorted(log.consults)]


_check: type[HistoryReader] = LiveHistory


class StoreReadModels(Protocol):
    """The part of the durable store's read models (``voiceroom.store.base.ReadModels``)
    the history endpoints use. Blocking: called on a worker thread."""

    def chat(self, room: str, *, before: int | None = None, limit: int = 50) -> list[Any]:
        """Newest first: rows with ``id < before`` (``ChatRow``)."""

    def consultations(self, room: str) -> list[Any]:
        """``ConsultationRow`` values."""


# Runs a read on the store's writer thread, after every write queued before it
# (``StoreWriter.call``): the history endpoints see only committed rows.
StoreCall = Callable[[Callable[[Any], Any]], Awaitable[Any]]


class StoreHistory:
    """History from the durable store's projections (chat, consultations), which survive
    restarts. Agent and shopper names come from the live projection when it saw them."""

    PAGE = 500

    def __init__(self, store: StoreReadModels | StoreCall, live: LiveHistory | None = None) -> None:
        if callable(store):
            self._call: StoreCall = store
        else:
            direct = store

            async def in_thread(fn: Callable[[Any], Any]) -> Any:
                return await asyncio.to_thread(fn, direct)

            self._call = in_thread
        self.live = live

    async def chat(self, room: str, *, after: int, limit: int) -> list[dict[str, Any]]:
        def read(store: StoreReadModels) -> list[dict[str, Any]]:
            # The store pages newest first; walk back to ``after``, then return ascending.
            rows: list[Any] = []
            before: int | None = None
            while True:
                page = store.chat(room, before=before, limit=self.PAGE)
                rows.extend(r for r in page if r.id > after)
                if len(page) < self.PAGE or page[-1].id <= after + 1:
                    break
                before = page[-1].id
            rows.sort(key=lambda r: r.id)
            return [
                {
                    "id": r.id,
                    "at": r.at,
                    "kind": r.kind,
                    "user": r.user,
                    "name": r.name,
                    "text": r.text,
                    "code": r.code,
                    "params": dict(r.params),
                }
                for r in rows[:limit]
            ]

        result: list[dict[str, Any]] = await self._call(read)
        return result

    async def consultations(self, room: str) -> list[dict[str, Any]]:
        rows = await self._call(lambda store: store.consultations(room))
        names = {}
        if self.live is not None:
            names = {int(k["id"]): k for k in await self.live.consultations(room)}
        out = []
        for r in sorted(rows, key=lambda r: r.id):
            seen = names.get(r.id, {})
            ended = r.ended_at
            out.append(
                {
                    "id": r.id,
                    "kind": r.kind,
                    "mode": r.mode,
                    "agent": r.staff,
                    "agent_name": seen.get("agent_name"),
                    "shopper": r.shopper,
                    "shopper_name": seen.get("shopper_name"),
                    "started_at": r.started_at,
                    "ended_at": ended,
                    "duration": None if ended is None else round(ended - r.started_at, 3),
                    "by": r.ended_by,
                    "reason": r.outcome,
                }
            )
        return out


_check_store: type[HistoryReader] = StoreHistory
