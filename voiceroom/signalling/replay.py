"""Per-room ring buffer of numbered events, so a reconnecting client gets what it missed.

Events are kept with their audience, and replayed only to members that audience selects.
When the client's last seen ``seq`` has fallen out of the buffer the server sends a fresh
snapshot instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from voiceroom.room.events import Emit
from voiceroom.room.model import Role


@dataclass(frozen=True, slots=True)
class Numbered:
    seq: int
    emit: Emit
    frame: bytes  # encoded once, sent as is to every receiver


class ReplayBuffer:
    def __init__(self, capacity: int) -> None:
        self._items: deque[Numbered] = deque(maxlen=capacity)

    def append(self, item: Numbered) -> None:
        self._items.append(item)

    def covers(self, last_seen: int, current: int) -> bool:
        """True when every event after ``last_seen`` (up to ``current``) is still kept."""
        if last_seen > current or last_seen < 0:
            return False
        if last_seen == current:
            return True
        return bool(self._items) and self._items[0].seq <= last_seen + 1

    def after(self, last_seen: int, user: str, role: Role) -> Iterator[Numbered]:
        """Events after ``last_seen`` addressed to ``user`` (judged by their current role)."""
        for item in self._items:
            if item.seq > last_seen and item.emit.to.includes(user, role):
                yield item
