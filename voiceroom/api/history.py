"""What the history endpoints read: a small Protocol, backed by live projections for now.

:class:`LiveHistory` subscribes to the :class:`~voiceroom.api.events.EventFeed` and keeps,
per room, the last :data:`CHAT_KEPT` chat messages and the consultations log (started,
and ended with duration) in memory — kept after the room ends, lost on restart. When the
durable store (``voiceroom/store``, its chat and consultation projections) is on main, a
store-backed reader implements the same Protocol and replaces it.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
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
