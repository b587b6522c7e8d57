"""The durable outbox survives SIGKILL: a show runs while the receiver fails (503), then
answers slowly; the server is SIGKILLed mid-delivery and restarted on the same outbox file.
Every committed message arrives, signed, in order; the only duplicates carry the same
webhook-id (and the same body)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.signalling.vr_client import Client
from voiceroom.api.auth import issue_api_token

from .harness import HOOK_SECRET, KEY, KID, Receiver
from .live_server import LiveServer, start_server

pytestmark = pytest.mark.slow


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_api_token(KID, KEY)}"}


async def api(server: LiveServer, method: str, path: str, body: object = None) -> dict:  # type: ignore[type-arg]
    async with httpx.AsyncClient(base_url=server.api_url, timeout=10) as http:
        r = await http.request(method, f"/api/v1{path}", json=body, headers=auth())
    assert r.status_code < 300, r.text
    result: dict = r.json()  # type: ignore[type-arg]
    return result


async def join(server: LiveServer, room: str, user: str, role: str = "listener") -> Client:
    body = {"user": user, "name": user.title(), "role": role}
    link = await api(server, "POST", f"/rooms/{room}/links", body)
    token = parse_qs(urlsplit(link["url"]).query)["token"][0]
    return await Client.open(f"ws://127.0.0.1:{server.port}/ws?token={token}")


def rows(db: Path) -> list[tuple[int, str, str, str]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT id, msg_id, state, body FROM webhook_outbox ORDER BY id"))


async def start(config: Path, outbox: Path, log: Path, mode: str) -> LiveServer:
    if mode == "store":  # rows written in the journal's transaction (store hook)
        env = {"VOICEROOM_STORE": f"sqlite:///{outbox}"}
    else:  # an SQLite outbox file of its own
        env = {"VOICEROOM_WEBHOOK_OUTBOX": str(outbox), "VOICEROOM_STORE": "memory"}
    return await asyncio.to_thread(start_server, env, args=["--config", str(config)], log=log)


@pytest.mark.parametrize("mode", ["store", "file"])
async def test_sigkill_mid_delivery_loses_nothing(tmp_path: Path, mode: str) -> None:
    receiver = Receiver()
    await receiver.start()
    config = tmp_path / "voiceroom.toml"
    config.write_text(
        "webhook_backoff = 0.05\nwebhook_timeout = 3.0\n"
        f'[webhooks.shop]\nurl = "{receiver.url}"\nsecret = "{HOOK_SECRET}"\n'
        'events = ["*", "chat.message"]\n'
    )
    outbox = tmp_path / "outbox.sqlite"
    log = tmp_path / "server.log"
    receiver.mode = "fail"
    first = await start(config, outbox, log, mode)
    try:
        await api(
            first,
            "POST",
            "/rooms",
            {"id": "k1", "title": "T", "market": {"name": "riyadh", "time_zone": "Asia/Riyadh"}},
        )
        host = await join(first, "k1", "h1", "host")
        s1 = await join(first, "k1", "s1")
        for i in range(5):
            await s1.ok("chat.send", {"text": f"m{i}"})
        await api(first, "POST", "/rooms/k1/start")
        await s1.ok("queue.join")
        await host.ok("queue.promote", {"user": "s1"})
        await asyncio.sleep(1.0)
        assert receiver.attempts >= 3 and receiver.received == []
        # Now the receiver takes each message but answers only after 0.8 s: kill the
        # server while one is in flight (received, not yet marked delivered).
        receiver.mode, receiver.delay = "ok", 0.8
        await receiver.wait_for(lambda r: len(r.received) >= 3, within=30)
        first.stop(signal.SIGKILL)
        assert first.proc.returncode == -signal.SIGKILL
        for c in (host, s1):
            await c.closed()
    finally:
        first.stop(signal.SIGKILL)
    committed = rows(outbox)
    assert any(state == "pending" for _, _, state, _ in committed)
    before_restart = len(receiver.received)

    receiver.delay = 0.0
    second = await start(config, outbox, log, mode)
    try:
        for _ in range(300):  # up to 60 s
            if all(state == "delivered" for _, _, state, _ in rows(outbox)):
                break
            await asyncio.sleep(0.2)
    finally:
        second.stop()
        await receiver.stop()

    final = rows(outbox)
    # None lost: every row committed before the kill is still there, in order (with the
    # store, the recovered room may add rows after them, e.g. members timing out).
    assert [m for _, m, _, _ in final][: len(committed)] == [m for _, m, _, _ in committed]
    ids = [r.headers["webhook-id"] for r in receiver.received]
    body_of = {m: b for _, m, _, b in final}
    # Every committed message arrived; in outbox order (first receipt of each id).
    assert list(dict.fromkeys(ids)) == [m for _, m, _, _ in final]
    # Duplicates only of the same webhook-id, with the same body; and there was one
    # (the message in flight at the kill).
    assert len(ids) > len(set(ids))
    for r in receiver.received:
        assert r.body == body_of[r.headers["webhook-id"]]
    assert receiver.bad_signatures == 0
    types = [
        t
        for t in dict.fromkeys(
            (r.headers["webhook-id"], r.payload["type"]) for r in receiver.received
        )
    ]
    names = [t for _, t in types]
    assert names[0] == "room.scheduled" and "room.started" in names and "hand.raised" in names
    assert names.count("chat.message") >= 5
    assert len(receiver.received) > before_restart
