"""``serve --workers 2``: a real front and two real worker processes, real WebSocket clients,
a real SQLite store. Rooms spread over the workers; every connection lands on the front's one
port, whichever worker its room is on, and reaches its room; a worker killed with SIGKILL is
restarted, its rooms come back from the store and its clients resume, while the other
worker's rooms are not disturbed."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from tests.signalling.vr_client import Client
from voiceroom.auth import issue_token
from voiceroom.client import MediaPeer, RoomClient
from voiceroom.config import Config
from voiceroom.workers.front import Front

SECRET = "workers-test-secret-0123456789abcdef"
pytestmark = pytest.mark.timeout(120)


def settings(tmp_path: Path, **more: object) -> Config:
    base: dict[str, object] = {
        "secret": SECRET,
        "host": "127.0.0.1",
        "port": 0,
        "media": False,
        "store": "sqlite",
        "data_dir": tmp_path,
        "shutdown_timeout": 1.0,
    }
    return Config(**(base | more))  # type: ignore[arg-type]


@pytest.fixture
async def front(tmp_path: Path) -> AsyncIterator[Front]:
    f = Front(settings(tmp_path, api=False), 2)
    await f.start()
    try:
        yield f
    finally:
        await f.shutdown()


def url(front: Front, room: str, user: str, role: str = "listener", resume: int = 0) -> str:
    token = issue_token(SECRET, room=room, user=user, name=user, role=role)
    extra = f"&resume={resume}" if resume else ""
    return f"ws://127.0.0.1:{front.port}/ws?token={token}{extra}"


def get(front: Front, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{front.port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def members(client: Client) -> set[str]:
    return {m["user"] for m in client.welcome["body"]["snapshot"]["members"]}


async def reconnect(address: str, within: float = 60.0) -> Client:
    deadline = time.monotonic() + within
    while True:
        try:
            return await Client.open(address)
        except (InvalidStatus, TimeoutError, OSError) as exc:
            if isinstance(exc, InvalidStatus) and exc.response.status_code != 503:
                raise
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def owner(front: Front, room: str) -> int:
    lease = await front.registry.locate(room)
    assert lease is not None and lease.confirmed, (room, lease)
    return front.workers.handle(lease.worker).index


async def test_rooms_spread_and_every_connection_reaches_its_room(front: Front) -> None:
    rooms = [f"shop-{i}" for i in range(4)]
    hosts = [await Client.open(url(front, r, f"host-{r}", "host")) for r in rooms]
    where = {r: await owner(front, r) for r in rooms}
    assert sorted(where.values()) == [0, 0, 1, 1], where  # least-loaded placement

    # Listeners arrive on the one port in an order that alternates between the workers'
    # rooms; each lands in its own room: it sees that room's host and nobody else's.
    for r in rooms + rooms[::-1]:
        listener = await Client.open(url(front, r, f"fan-{r}-{len(hosts)}"))
        hosts.append(listener)
        assert f"host-{r}" in members(listener)
        assert not {f"host-{o}" for o in rooms if o != r} & members(listener)
    for h in hosts[:4]:
        await h.next("member.joined")
    # The token can also ride in the Authorization header (no query): same routing.
    bearer = issue_token(SECRET, room="shop-3", user="hdr", name="hdr", role="listener")
    c = await Client.open(
        f"ws://127.0.0.1:{front.port}/ws",
        additional_headers={"Authorization": f"Bearer {bearer}"},
    )
    assert "host-shop-3" in members(c)

    status, text = await asyncio.to_thread(get, front, "/metrics")
    assert status == 200
    assert 'voiceroom_rooms{worker="0"} 2.0' in text and 'voiceroom_rooms{worker="1"} 2.0' in text
    assert 'voiceroom_workers{state="ready"} 2.0' in text
    status, text = await asyncio.to_thread(get, front, "/healthz")
    assert status == 200 and text.startswith("ok"), text
    # A forged token is refused by a worker with the precise status, as by one server.
    status, _ = await asyncio.to_thread(get, front, "/api/join-check?token=forged")
    assert status == 200  # join-check always answers 200 with the verdict in its body
    for cl in [*hosts, c]:
        await cl.close()


async def test_killed_worker_restarts_and_its_rooms_resume(front: Front) -> None:
    host_a = await Client.open(url(front, "a", "host-a", "host"))
    host_b = await Client.open(url(front, "b", "host-b", "host"))
    fan_a = await Client.open(url(front, "a", "fan-a"))
    assert await owner(front, "a") != await owner(front, "b")
    await host_a.ok("chat.send", {"text": "before the crash"})
    await fan_a.next("chat.message")
    victim = front.workers.handles[await owner(front, "a")]
    assert victim.info.pid is not None
    os.kill(victim.info.pid, signal.SIGKILL)

    # Room a's clients lose their connection; room b's does not.
    await host_a.closed(wait=10)
    await fan_a.closed(wait=10)
    # They reconnect as clients do (the front holds a connection until the restarted
    # worker is ready, up to handshake_timeout; a busy machine may need a second try).
    killed = time.monotonic()
    again = await reconnect(url(front, "a", "host-a", "host", resume=host_a.last_seq))
    print(f"worker restarted and room a resumed in {time.monotonic() - killed:.1f} s")
    assert again.welcome["body"]["resumed"] is True
    fan = await reconnect(url(front, "a", "fan-a", resume=fan_a.last_seq))
    assert victim.info.restarts == 1 and victim.info.pid is not None
    await again.ok("chat.send", {"text": "after the restart"})
    msg = await fan.next("chat.message")
    assert msg["body"]["message"]["text"] == "after the restart"
    assert msg["seq"] > fan_a.last_seq  # the journal went on from what was committed

    assert not host_b.ws.close_code  # the other worker's room never noticed
    await host_b.ok("chat.send", {"text": "still here"})
    _, text = await asyncio.to_thread(get, front, "/metrics")
    assert f'voiceroom_worker_restarts_total{{worker="{victim.index}"}} 1.0' in text
    for cl in (again, fan, host_b):
        await cl.close()


async def test_api_reaches_each_rooms_worker_and_lists_all(tmp_path: Path) -> None:
    import httpx

    from voiceroom.api.auth import ALL_SCOPES, issue_api_token

    kid, key = "shop1", "shop1-api-key-secret-0123456789abcdef"
    f = Front(settings(tmp_path, api=True, api_keys=(f"{kid}:{key}",)), 2)
    await f.start()
    auth = {"Authorization": f"Bearer {issue_api_token(kid, key, ALL_SCOPES)}"}
    market = {"name": "riyadh", "time_zone": "Asia/Riyadh"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{f.api_port}/api/v1") as api:
            r1 = await api.post(
                "/rooms", headers=auth, json={"id": "eve", "title": "Eve", "market": market}
            )
            r2 = await api.post("/rooms", headers=auth, json={"title": "No id", "market": market})
            assert r1.status_code == r2.status_code == 201, (r1.text, r2.text)
            second = r2.json()["id"]
            assert second.startswith("rm_")
            assert {await owner(f, "eve"), await owner(f, second)} == {0, 1}
            listed = (await api.get("/rooms", headers=auth)).json()["rooms"]
            assert {r["id"] for r in listed} == {"eve", second}
            # A member joins the API-made room through the front: it is the same room.
            host = await Client.open(url(f, second, "host-2", "host"))
            live = (await api.get(f"/rooms/{second}", headers=auth)).json()["live"]
            assert live["member_count"] == 1
            ended = await api.post("/rooms/eve/end", headers=auth)
            assert ended.status_code == 200, ended.text
            # After it ended its lease is gone; whichever worker answers knows it ended.
            for _ in range(50):
                if await f.registry.locate("eve") is None:
                    break
                await asyncio.sleep(0.1)
            assert await f.registry.locate("eve") is None
            got = await api.get("/rooms/eve", headers=auth)
            assert got.status_code == 200 and got.json()["phase"] == "ended", got.text
            unauth = await api.get("/rooms")
            assert unauth.status_code == 401
            await host.close()
    finally:
        await f.shutdown()


@pytest.mark.media
async def test_media_comes_back_at_once_after_a_worker_is_killed(tmp_path: Path) -> None:
    """The restarted worker holds no media peer: its welcome says so (``media_peer``
    false) and the clients build their media path again at once. Without that, the old
    path looked connected until ICE consent gave out (~30 s) and was never rebuilt."""
    f = Front(settings(tmp_path, api=False, media=True), 2)
    await f.start()
    clients: list[RoomClient] = []
    peers: list[MediaPeer] = []
    try:
        base = f"ws://127.0.0.1:{f.port}"
        for user, role in (("host-m", "host"), ("fan-m", "listener")):
            tok = issue_token(SECRET, room="m", user=user, name=user, role=role)
            clients.append(await RoomClient.join(base, tok))
            assert clients[-1].session["media_peer"] is False  # nothing negotiated yet
            peers.append(await MediaPeer.connect(clients[-1]))
        host, fan = clients
        peers[0].publish_tone(500)
        await peers[1].wait_for_tone(500, timeout=15)

        victim = f.workers.handles[await owner(f, "m")]
        assert victim.info.pid is not None
        os.kill(victim.info.pid, signal.SIGKILL)
        killed = time.monotonic()
        while peers[1].tone_level(500, 0.5) > 0.01:  # the old path goes quiet
            assert time.monotonic() - killed < 10, "still hearing a killed worker"
            await asyncio.sleep(0.1)
        await peers[1].wait_for_tone(500, timeout=25)
        back = time.monotonic() - killed
        print(f"worker killed: the listener heard the host again after {back:.1f} s")
        assert host.resumes >= 1 and fan.resumes >= 1
        assert fan.session["media_peer"] is False  # the resumed welcome said so
        assert all(p.rebuilds >= 1 for p in peers)
    finally:
        for p in peers:
            await p.close()
        for c in clients:
            await c.close()
        await f.shutdown()
