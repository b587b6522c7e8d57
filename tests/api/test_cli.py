"""`voiceroom api ...` against a live server: create / list / get / start / end a room and
mint a link, with the key from the environment (no hand-written JWT)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from .harness import KEY, KID, Api

ROOT = Path(__file__).resolve().parents[2]


async def cli(api: Api, *args: str, key: str = f"{KID}:{KEY}") -> tuple[int, str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "VOICEROOM_API_KEY": key,
        "VOICEROOM_API_URL": api.base,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceroom",
        "api",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_rooms_and_link_from_the_shell(api: Api) -> None:
    code, out, err = await cli(
        api,
        "rooms", "create", "--id", "cli-1", "--title", "Oud night", "--market", "riyadh",
        "--tz", "Asia/Riyadh", "--starts-at", "2031-03-04T21:00",
    )  # fmt: skip
    assert code == 0, err
    room = json.loads(out)
    assert room["starts_at"].startswith("2031-03-04T18:00:00")  # 21:00 in Riyadh is 18:00 UTC
    assert room["starts_at_local"] == "2031-03-04T21:00:00+03:00"
    code, out, _ = await cli(api, "rooms", "list", "--market", "riyadh")
    assert code == 0 and [r["id"] for r in json.loads(out)["rooms"]] == ["cli-1"]
    code, out, err = await cli(api, "link", "cli-1", "--user", "s1", "--name", "Layla")
    assert code == 0, err
    assert out.startswith("http://") and "?token=" in out
    code, out, _ = await cli(api, "participants", "list", "cli-1")
    assert code == 0 and json.loads(out) == {"participants": []}
    code, _, err = await cli(api, "participants", "tier", "cli-1", "ghost", "vip")
    assert code == 1 and "404 unknown_user" in err
    code, out, _ = await cli(api, "call", "GET", "/rooms/cli-1/chat?limit=5")
    assert code == 0 and json.loads(out) == {"messages": [], "next_after": None}
    code, out, _ = await cli(api, "rooms", "start", "cli-1")
    assert code == 0 and json.loads(out)["phase"] == "show"
    code, out, _ = await cli(api, "rooms", "end", "cli-1")
    assert code == 0 and json.loads(out)["phase"] == "ended"
    code, _, err = await cli(api, "rooms", "get", "nope")
    assert code == 1 and "404 room_not_found" in err
    code, _, err = await cli(api, "rooms", "list", key=f"{KID}:wrong-secret-0123456789")
    assert code == 1 and "401" in err
    code, out, _ = await cli(api, "token", "--scope", "rooms:read")
    r = await api.http.get("/api/v1/rooms", headers={"Authorization": f"Bearer {out.strip()}"})
    assert r.status_code == 200
