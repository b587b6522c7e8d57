"""The daily check-in streak across shows (rooms), over real websockets and a real SQLite
store: the streak a user earned in one room is loaded (journaled) when they join another.
Time is the server's clock, injected per room host."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from voiceroom.auth import issue_token
from voiceroom.client import RoomClient
from voiceroom.config import Config
from voiceroom.games.checkin import Streak
from voiceroom.room.model import RoomConfig
from voiceroom.server import Server
from voiceroom.signalling.durable import recover, replay
from voiceroom.store import EntryKind, open_store
from voiceroom.venue import Venue

pytestmark = pytest.mark.timeout(120)

SECRET = "games-checkin-secret-0123456789abcdefgh"


def at(day: int) -> float:
    """Noon UTC on December ``day`` 2026 (the market zone is UTC by default)."""
    return datetime(2026, 12, day, 12, tzinfo=UTC).timestamp()


def token(room: str, user: str, role: str = "listener") -> str:
    return issue_token(SECRET, room=room, user=user, name=user, role=role, tier="new")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def checked_in(client: RoomClient) -> dict[str, Any]:
    """Check in; the ``checkin.done`` event the room sent for it."""
    user = client.state.user
    waiter = asyncio.create_task(
        client.wait_for("checkin.done", lambda e: e.body["user"] == user, timeout=10)
    )
    await asyncio.sleep(0)  # subscribed before the request goes out
    await client.check_in()
    body: dict[str, Any] = (await waiter).body
    return body


async def test_the_streak_follows_the_user_across_rooms(tmp_path: Path) -> None:
    port = free_port()
    url = f"ws://127.0.0.1:{port}"
    db = tmp_path / "store.db"
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "secret": SECRET,
        "web_root": None,
        "media": False,
        "shutdown_timeout": 2.0,
        "store": f"sqlite:///{db}",
        "data_dir": tmp_path,
        "room": RoomConfig(reconnect_grace=30.0),
    }
    server = Server(Config(**settings))
    await server.start()
    clients: list[RoomClient] = []

    async def visit(room: str, day: int) -> tuple[RoomClient, dict[str, Any]]:
        """The room's host opens it on ``day`` (server clock), then ann joins."""
        clients.append(await RoomClient.join(url, token(room, f"host-{room}", "host")))
        host = server.registry.get(room)
        assert host is not None
        host.clock = lambda: at(day)
        ann = await RoomClient.join(url, token(room, "ann"))
        clients.append(ann)
        return ann, ann.state.games

    try:
        ann, games = await visit("a", 1)
        assert games["streak"] is None
        done = await checked_in(ann)
        assert (done["day"], done["streak"]) == ("2026-12-01", 1)

        # Another show the next day: the welcome already carries the stored streak.
        ann, games = await visit("b", 2)
        assert games["streak"] == {"day": "2026-12-01", "count": 1}
        done = await checked_in(ann)
        assert (done["day"], done["streak"]) == ("2026-12-02", 2)
        await ann.wait_until(lambda st: st.games["streak"] == {"day": "2026-12-02", "count": 2})

        # A day missed: the streak starts again.
        ann, games = await visit("c", 4)
        assert games["streak"] == {"day": "2026-12-02", "count": 2}
        done = await checked_in(ann)
        assert (done["day"], done["streak"]) == ("2026-12-04", 1)
    finally:
        for client in clients:
            await client.close()
        await server.shutdown()

    store = open_store(f"sqlite:///{db}", tmp_path)
    try:
        row = store.checkin("ann")
        assert row is not None and (row.last_day, row.streak) == ("2026-12-04", 1)
        # Replay is deterministic: room b's journal holds the streak it loaded, and the
        # room rebuilt from it alone (no table read) has the same streak at that point.
        entries = store.entries("b")
        loads = [e for e in entries if e.kind is EntryKind.STREAK]
        assert [(e.user, dict(e.body or {})) for e in loads] == [
            ("ann", {"day": "2026-12-01", "count": 1})
        ]
        venue = Venue("b")
        for entry in entries[: entries.index(loads[0]) + 1]:
            replay(venue, entry)
        assert venue.streak("ann") == Streak("2026-12-01", 1)
        recovered = recover(store, "b", RoomConfig())
        assert recovered is not None and recovered.venue.streak("ann") == Streak("2026-12-02", 2)
    finally:
        store.close()
