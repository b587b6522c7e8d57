"""History readers: the live projection and the store-backed one (against a stand-in with
the store's read-model semantics: chat newest first, paged by ``before``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voiceroom.api.events import ShopEvent
from voiceroom.api.history import LiveHistory, StoreHistory


@dataclass(frozen=True)
class ChatRow:
    id: int
    at: float
    kind: str = "user"
    user: str | None = "u"
    name: str | None = "U"
    text: str = ""
    code: str | None = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsultationRow:
    id: int
    kind: str
    mode: str
    staff: str
    shopper: str
    started_at: float
    ended_at: float | None = None
    outcome: str | None = None
    ended_by: str | None = None


class FakeStore:
    def __init__(self, n: int) -> None:
        self.rows = [ChatRow(i, float(i), text=f"m{i}") for i in range(1, n + 1)]
        self.calls = 0

    def chat(self, room: str, *, before: int | None = None, limit: int = 50) -> list[Any]:
        self.calls += 1
        rows = [r for r in reversed(self.rows) if before is None or r.id < before]
        return rows[:limit]

    def consultations(self, room: str) -> list[Any]:
        return [
            ConsultationRow(2, "agent", "private", "a1", "s1", 10.0, 70.5, "ended", "a1"),
            ConsultationRow(1, "stage", "listen_in", "h1", "s2", 5.0),
        ]


async def test_store_history_pages_ascending_after_a_cursor() -> None:
    store = FakeStore(1200)
    history = StoreHistory(store)
    history.PAGE = 100
    first = await history.chat("r", after=0, limit=3)
    assert [m["id"] for m in first] == [1, 2, 3] and first[0]["text"] == "m1"
    recent = await history.chat("r", after=1195, limit=10)
    assert [m["id"] for m in recent] == [1196, 1197, 1198, 1199, 1200]
    store.calls = 0
    await history.chat("r", after=1150, limit=10)
    assert store.calls == 1  # an incremental read touches only the newest page


async def test_store_history_consultations_with_names_from_the_live_log() -> None:
    live = LiveHistory()
    started = {
        "id": 2,
        "kind": "agent",
        "mode": "private",
        "agent": "a1",
        "agent_name": "Sara",
        "shopper": "s1",
        "shopper_name": "Layla",
        "started_at": 10.0,
        "room": "r",
    }
    live([ShopEvent("consultation.started", "r", 10.0, started)])
    rows = await StoreHistory(FakeStore(0), live).consultations("r")
    assert [r["id"] for r in rows] == [1, 2]
    assert rows[0]["ended_at"] is None and rows[0]["duration"] is None
    assert rows[1]["duration"] == 60.5 and rows[1]["agent_name"] == "Sara"
    assert rows[1]["reason"] == "ended" and rows[1]["by"] == "a1"
