"""Refusals at the handshake (HTTP status and body), and the plain HTTP routes."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from voiceroom.auth import issue_token

from .harness import SECRET, Harness, ServerFactory
from .vr_client import Client


async def refused(url: str, **kw: object) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, **kw):  # type: ignore[arg-type]
            pass
    resp = info.value.response
    return resp.status_code, bytes(resp.body or b"").decode()


async def test_missing_forged_expired_and_wrong_room_tokens(h: Harness) -> None:
    await h.join("host", "host")
    assert (await refused(f"{h.base}/ws"))[0] == 401
    forged = issue_token("another-secret-0123456789abcdef!!", room="r", user="x", name="X")
    status, body = await refused(f"{h.base}/ws?token={forged}")
    assert status == 401 and "signature" in body
    expired = h.token("ann", ttl=-60)
    status, body = await refused(f"{h.base}/ws?token={expired}")
    assert status == 401 and "expired" in body
    status, body = await refused(f"{h.base}/ws/other?token={h.token('ann')}")
    assert status == 403 and "another room" in body
    status, _ = await refused(f"{h.base}/ws?room=other&token={h.token('ann')}")
    assert status == 403
    assert (await refused(f"{h.base}/ws?token=garbage"))[0] == 401
    assert (await refused(f"{h.base}/ws?token={h.token('ann')}&resume=x"))[0] == 400


async def test_bearer_header_and_path_room_are_accepted(h: Harness) -> None:
    await h.join("host", "host")
    headers = {"Authorization": f"Bearer {h.token('ann')}"}
    c = await Client.open(f"{h.base}/ws/r", additional_headers=headers)
    assert c.welcome["body"]["session"]["user"] == "ann"
    await c.close()


async def test_only_a_host_opens_a_room(h: Harness) -> None:
    status, body = await refused(f"{h.base}/ws?token={h.token('ann', room='nope')}")
    assert status == 404 and "not open" in body
    host = await h.join("boss", "host", room="nope")
    assert host.welcome["body"]["snapshot"]["room"] == "nope"


async def test_kicked_cannot_rejoin_and_ended_room_is_gone(h: Harness) -> None:
    host = await h.join("host", "host")
    ann = await h.join("ann")
    bob = await h.join("bob")
    await host.ok("room.kick", {"user": "ann"})
    await ann.closed()
    status, body = await refused(f"{h.base}/ws?token={h.token('ann')}")
    assert status == 403 and "removed" in body
    await host.ok("room.end")
    await bob.next("room.phase", phase="ended")
    assert (await bob.closed())[0] == 4004
    assert (await host.closed())[0] == 4004
    assert (await refused(f"{h.base}/ws?token={h.token('bob')}"))[0] == 410


def http_get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


async def test_healthz_metrics_and_static_files(h: Harness) -> None:
    c = await h.join("host", "host")
    await c.ok("chat.send", {"text": "x"})
    await c.fail("seat.take", {"seat": 0})  # already seated: an error by code
    status, _, body = await asyncio.to_thread(http_get, f"{h.http}/healthz")
    assert (status, body) == (200, "ok\n")
    status, ctype, body = await asyncio.to_thread(http_get, f"{h.http}/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    assert "voiceroom_connections 1" in body and "voiceroom_rooms 1" in body
    assert 'voiceroom_commands_total{outcome="ok",type="chat.send"} 1' in body
    assert 'voiceroom_errors_total{code="already_seated"} 1' in body
    assert "voiceroom_event_deliveries_total" in body
    status, ctype, body = await asyncio.to_thread(http_get, f"{h.http}/")
    assert status == 200 and ctype.startswith("text/html") and "voiceroom test" in body
    assert (await asyncio.to_thread(http_get, f"{h.http}/index.html"))[0] == 200
    for evil in (
        "/../conftest.py",
        "/%2e%2e/music/intro.ogg",
        "/..%2fmusic%2fintro.ogg",
        "/.hidden",
        "/nope.js",
        "/%00",
        "/a%5c..%5cb",
    ):
        assert (await asyncio.to_thread(http_get, f"{h.http}{evil}"))[0] == 404, evil


@pytest.mark.parametrize(("signal_code", "expected"), [(1001, 1001), (1012, 1012)])
async def test_graceful_shutdown_closes_clients(
    make_server: ServerFactory, signal_code: int, expected: int
) -> None:
    from voiceroom.protocol import CloseCode

    h = await make_server()
    host = await h.join("host", "host")
    ann = await h.join("ann")
    await h.server.shutdown(CloseCode(signal_code))
    for c in (host, ann):
        assert (await c.closed())[0] == expected
    with pytest.raises(OSError):
        await connect(f"{h.base}/ws?token={h.token('x')}", open_timeout=1)
    assert SECRET  # the harness secret signs every token above


async def test_join_check_explains_refusals_as_json(h: Harness) -> None:
    async def check(query: str) -> dict[str, object]:
        status, ctype, body = await asyncio.to_thread(http_get, f"{h.http}/api/join-check?{query}")
        assert status == 200 and ctype.startswith("application/json")
        answer: dict[str, object] = json.loads(body)
        assert set(answer) == {"ok", "status", "code", "message", "retry"}
        return answer

    def short(a: dict[str, object]) -> tuple[object, object, object]:
        return a["status"], a["code"], a["retry"]

    assert short(await check("")) == (401, "token_missing", False)
    assert short(await check("token=garbage")) == (401, "token_invalid", False)
    expired = await check(f"token={h.token('ann', ttl=-60)}")
    assert short(expired) == (401, "token_expired", False) and expired["ok"] is False
    assert "expired" in str(expired["message"])
    forged = issue_token("another-secret-0123456789abcdef!!", room="r", user="x", name="X")
    assert short(await check(f"token={forged}")) == (401, "token_invalid", False)
    assert short(await check(f"room=other&token={h.token('ann')}")) == (
        403,
        "wrong_room",
        False,
    )
    # Not open yet: worth retrying (its host opens it); a host token may open it.
    assert short(await check(f"token={h.token('ann')}")) == (404, "room_not_open", True)
    assert (await check(f"token={h.token('host', 'host')}"))["ok"] is True
    host = await h.join("host", "host")
    ann = await h.join("ann")
    ok = await check(f"token={h.token('ann')}&resume=nonsense")  # resume is not checked
    assert ok == {"ok": True, "status": 200, "code": "ok", "message": "you may join", "retry": True}
    await host.ok("room.kick", {"user": "ann"})
    await ann.closed()
    assert short(await check(f"token={h.token('ann')}")) == (403, "banned", False)
    await host.ok("room.end")
    await host.closed()
    ended = await check(f"token={h.token('bob')}")
    assert short(ended) == (410, "room_ended", False)
    # Nothing from the token or the room beyond the reason (no claims, names, members).
    assert "Bob" not in json.dumps(ended)
    _, _, metrics = await asyncio.to_thread(http_get, f"{h.http}/metrics")
    assert 'voiceroom_join_checks_total{code="room_ended"} 1' in metrics


async def test_a_host_entering_a_new_room_is_not_lost_to_a_slow_streak_read(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored check-in streak is read before the join is queued; on a loaded server that
    read can outlast several room ticks (0.05 s here). The new, still empty room must not be
    disposed of meanwhile (it was, and the host got 4004 "room not open")."""
    from voiceroom.signalling.room_host import RoomHost

    async def slow_read(self: RoomHost, user: str) -> None:
        await asyncio.sleep(0.5)  # ten ticks
        return None

    monkeypatch.setattr(RoomHost, "stored_streak", slow_read)
    host = await h.join("host", "host")
    assert host.welcome["body"]["snapshot"]["room"] == "r"
    await host.ok("chat.send", {"text": "we are live"})
