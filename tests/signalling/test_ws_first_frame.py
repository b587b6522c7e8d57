"""The welcome is the first frame a connection gets, even while many others join: an
ephemeral frame (room.count, media.speaking) queued behind output that waits for the store
goes only to the connections that existed when it was queued."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .harness import ServerFactory


async def test_welcome_first_under_concurrent_joins(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    h = await make_server(count_interval=0.0, store="sqlite", data_dir=tmp_path)
    await h.join("host", "host")
    clients = []
    for start in range(0, 200, 50):
        clients += await asyncio.gather(*(h.join(f"u{i}") for i in range(start, start + 50)))
    await asyncio.sleep(0.3)
    firsts = [c.frames[0]["type"] for c in clients]
    assert firsts == ["welcome"] * len(clients), [t for t in firsts if t != "welcome"][:3]
    assert any(f["type"] == "room.count" for c in clients for f in c.frames)
