"""The pure parts of ``serve --workers``: where a request head goes, and the registry's
placement, leases, draining and restarts."""

from __future__ import annotations

import pytest

from voiceroom.auth import issue_token
from voiceroom.registry import LocalRegistry, WorkerState
from voiceroom.workers.routing import Route, Target, head_complete, route

SECRET = "routing-test-secret-0123456789abcdef"
TOKEN = issue_token(SECRET, room="riyadh", user="u", name="U", role="listener")


def head(line: str, *headers: str) -> bytes:
    return ("\r\n".join([line, "Host: x", *headers]) + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    ("raw", "target"),
    [
        (head(f"GET /ws?token={TOKEN} HTTP/1.1"), Target(Route.ROOM, "riyadh")),
        (head(f"GET /ws/riyadh?token={TOKEN} HTTP/1.1"), Target(Route.ROOM, "riyadh")),
        (head("GET /ws HTTP/1.1", f"Authorization: Bearer {TOKEN}"), Target(Route.ROOM, "riyadh")),
        (head(f"GET /api/join-check?token={TOKEN} HTTP/1.1"), Target(Route.ROOM, "riyadh")),
        # Unverifiable: a worker refuses it with the precise status, as one server would.
        (head("GET /ws?token=forged HTTP/1.1"), Target(Route.ANY)),
        (head("GET /ws HTTP/1.1"), Target(Route.ANY)),
        (head(f"GET /ws?token={TOKEN[:-2]}xx HTTP/1.1"), Target(Route.ANY)),
        (head("GET /healthz HTTP/1.1"), Target(Route.HEALTH)),
        (head("GET /metrics HTTP/1.1"), Target(Route.METRICS)),
        (head("GET /js/app.js HTTP/1.1"), Target(Route.ANY)),
        (b"garbage\r\n\r\n", Target(Route.ANY)),
        (b"GET /\xff\xfe HTTP/1.1\r\n\r\n", Target(Route.ANY)),
    ],
)
def test_route(raw: bytes, target: Target) -> None:
    assert route(raw, secret=SECRET, ws_path="/ws", join_check_path="/api/join-check") == target


def test_head_complete() -> None:
    assert head_complete(head("GET / HTTP/1.1"))
    assert not head_complete(b"GET / HTTP/1.1\r\nHost: x\r\n")


async def ready_registry(n: int) -> LocalRegistry:
    reg = LocalRegistry(node="n1", lease_ttl=30.0)
    for i in range(n):
        await reg.add_worker(i, 100 + i)
        await reg.up(reg.worker_id(i), 100 + i)
    return reg


async def test_claim_spreads_new_rooms_and_keeps_a_room_where_it_is() -> None:
    reg = await ready_registry(2)
    placed = [(await reg.claim(f"r{i}", 0.0)) for i in range(4)]
    assert [p.worker.index for p in placed if p] == [0, 1, 0, 1]
    again = await reg.claim("r1", 1.0)
    assert again is not None and again.worker.index == 1 and not again.new


async def test_members_weigh_when_rooms_are_even() -> None:
    reg = await ready_registry(2)
    await reg.renew("n1/0", {"big": 500}, 0, 0.0)
    await reg.renew("n1/1", {"small": 3}, 0, 0.0)
    p = await reg.claim("new", 0.0)
    assert p is not None and p.worker.index == 1


async def test_unconfirmed_lease_lapses_confirmed_one_is_renewed() -> None:
    reg = await ready_registry(1)
    await reg.claim("knocked", 0.0)  # a listener knocked; the room never opened
    await reg.claim("opened", 0.0)
    assert await reg.confirm("opened", "n1/0", 0.0)
    await reg.renew("n1/0", {"opened": 1}, 0, 25.0)
    assert await reg.expire(31.0) == ["knocked"]
    assert await reg.locate("opened") is not None


async def test_a_second_owner_is_refused_and_release_compares() -> None:
    reg = await ready_registry(2)
    await reg.claim("r", 0.0)
    assert not await reg.confirm("r", "n1/1", 0.0)
    assert not await reg.release("r", "n1/1")
    assert await reg.release("r", "n1/0")
    assert await reg.locate("r") is None


async def test_draining_and_down_workers_take_no_new_room_but_keep_theirs() -> None:
    reg = await ready_registry(2)
    await reg.claim("a", 0.0)  # worker 0
    await reg.confirm("a", "n1/0", 0.0)
    await reg.drain("n1/1")
    assert (p := await reg.claim("b", 0.0)) is not None and p.worker.index == 0
    assert await reg.down("n1/0") == ["a", "b"]
    assert await reg.claim("c", 0.0) is None  # nobody ready
    kept = await reg.claim("a", 100.0)  # waits for its worker's replacement
    assert kept is not None and kept.worker.state is WorkerState.DOWN
    assert await reg.expire(1000.0) == []  # a down worker's leases do not lapse
    await reg.up("n1/0", 200)
    workers = {w.id: w for w in await reg.workers()}
    assert workers["n1/0"].restarts == 1 and workers["n1/0"].pid == 200
