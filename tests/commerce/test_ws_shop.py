"""The shop over real WebSockets (loopback server in this process, tests/signalling harness).

- a host adds and pins a product, starts a flash sale; members see it in their snapshot
  and as events; a refused claim is a typed error; the stock counter is ephemeral;
- 1,000 concurrent claimants for 100 units: exactly 100 claims, nobody over the limit, and
  every claimant told the truth (a reply ``ok`` <=> a ``sale.claimed`` for them <=> a claim
  in the server's shop; a refusal says ``sold_out`` or ``limit_reached``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.signalling.conftest import make_server  # noqa: F401 - the fixture
from tests.signalling.harness import Harness, ServerFactory
from tests.signalling.vr_client import Client

DRESS = {
    "id": "dress",
    "titles": {"en": "Silk dress", "ar": "فستان حرير"},
    "price": 19900,
    "currency": "SAR",
    "stock": 100,
    "image": "/img/demo/dress.svg",
    "url": "https://shop.example.com/dress",
    "options": ["S", "M", "L"],
}


def shop_of(h: Harness, room: str = "r") -> Any:
    return h.room(room).venue.cores[0]


async def test_sale_flow_over_the_wire(make_server: ServerFactory) -> None:  # noqa: F811
    h = await make_server()
    host = await h.join("host", "host")
    ann = await h.join("ann", tier="vip")
    assert ann.welcome["body"]["snapshot"]["shop"]["products"] == []
    await host.ok("product.add", DRESS)
    await host.ok("product.pin", {"product": "dress"})
    assert (await ann.next("product.showing"))["body"] == {"product": "dress"}
    # Role first: a listener cannot start a sale; a float price is refused by type.
    assert (
        await ann.fail(
            "sale.start", {"product": "dress", "price": 1, "quantity": 1, "duration": 60}
        )
        == "forbidden"
    )
    bad = {"product": "dress", "price": 99.5, "quantity": 5, "duration": 60}
    assert await host.fail("sale.start", bad) == "bad_field"
    start = {"product": "dress", "price": 9900, "quantity": 2, "duration": 60, "per_user_limit": 1}
    await host.ok("sale.start", start)
    opened = await ann.next("sale.updated", lambda f: f["body"]["reason"] == "opened")
    assert opened["body"]["sale"]["left"] == 2 and "seq" in opened
    reply = await ann.ok("sale.claim", {"sale": 1})
    claimed = await ann.next("sale.claimed")
    assert claimed["seq"] <= reply["body"]["seq"]  # the claim arrives before the reply
    assert claimed["body"]["claim"]["user"] == "ann" and claimed["body"]["claim"]["id"] == 1
    assert await ann.fail("sale.claim", {"sale": 1}) == "limit_reached"
    assert await host.fail("sale.claim", {"sale": 1}) == "forbidden"
    assert await ann.fail("sale.claim", {"sale": 7}) == "no_such_sale"
    left = await ann.next("sale.left")
    assert "seq" not in left and left["body"] == {"sale": 1, "left": 1}
    # A late joiner's snapshot has the shop: the product, what is showing, the open sale.
    bob = await h.join("bob")
    shop = bob.welcome["body"]["snapshot"]["shop"]
    assert shop["showing"] == "dress" and shop["sales"][0]["left"] == 1
    assert shop["products"][0]["titles"]["ar"] == "فستان حرير"
    assert shop["your_claims"] == []
    sync = await ann.ok("sync")
    assert [k["id"] for k in sync["body"]["snapshot"]["shop"]["your_claims"]] == [1]
    await bob.ok("sale.claim", {"sale": 1})
    assert await bob.next("sale.updated", lambda f: f["body"]["reason"] == "sold_out")
    # Coupons and group buys go the same way.
    await host.ok("coupon.drop", {"duration": 60, "uses": 3, "percent_off": 10})
    await bob.ok("coupon.claim", {"drop": 1})
    code = (await bob.next("coupon.claimed"))["body"]["coupon"]["code"]
    assert len(code) == 10 and not ann.saw("coupon.claimed")
    await host.ok(
        "group.start",
        {"product": "dress", "price": 15000, "size": 2, "time_limit": 30, "duration": 60},
    )
    await ann.ok("group.join", {"deal": 1})
    await bob.ok("group.join", {"deal": 1})
    done = await ann.next("group.status", lambda f: f["body"]["reason"] == "completed")
    assert done["body"]["group"]["joined"] == 2
    # The room ends: every offer closes, the clients are told before the close.
    await host.ok("room.end")
    assert await ann.next("coupon.updated", lambda f: f["body"]["reason"] == "room_ended")


async def _join_many(h: Harness, n: int, batch: int = 50) -> list[Client]:
    clients: list[Client] = []
    for i in range(0, n, batch):
        clients += await asyncio.gather(*(h.join(f"u{j:04d}") for j in range(i, min(n, i + batch))))
    return clients


@pytest.mark.slow
async def test_a_thousand_claimants_for_a_hundred_units(make_server: ServerFactory) -> None:  # noqa: F811
    h = await make_server(rate=1000.0, burst=1000)
    host = await h.join("host", "host")
    shoppers = await _join_many(h, 1000)
    dress = {**DRESS, "stock": 150}
    await host.ok("product.add", dress)
    await host.ok(
        "sale.start",
        {"product": "dress", "price": 9900, "quantity": 100, "duration": 120, "per_user_limit": 1},
    )
    await asyncio.gather(
        *(
            s.next("sale.updated", lambda f: f["body"]["reason"] == "opened", wait=30)
            for s in shoppers
        )
    )

    # Everyone at once; every 10th shopper tries twice (the limit must hold).
    async def claim(i: int, s: Client) -> list[dict[str, Any]]:
        tries = 2 if i % 10 == 0 else 1
        return list(
            await asyncio.gather(*(s.request("sale.claim", {"sale": 1}) for _ in range(tries)))
        )

    t0 = time.monotonic()
    answers = await asyncio.wait_for(
        asyncio.gather(*(claim(i, s) for i, s in enumerate(shoppers))), 120
    )
    elapsed = time.monotonic() - t0

    shop = shop_of(h)
    sale = shop.sales.sales[1]
    server_claims = {k.user: k for k in sale.claims}
    ok_users = []
    for s, replies in zip(shoppers, answers, strict=True):
        user = s.welcome["body"]["session"]["user"]
        oks = [r for r in replies if r["type"] == "reply"]
        codes = sorted(r["code"] for r in replies if r["type"] == "error")
        assert len(oks) <= 1, user
        assert set(codes) <= {"sold_out", "limit_reached"}, (user, codes)
        told = [f for f in s.frames if f["type"] == "sale.claimed"]
        if oks:
            ok_users.append(user)
            assert len(told) == 1 and told[0]["body"]["claim"]["user"] == user
            assert told[0]["body"]["claim"]["id"] == server_claims[user].id
        else:
            assert not told and user not in server_claims
            assert codes[0] == "sold_out"
    assert len(ok_users) == 100 == len(sale.claims) == len(server_claims)
    assert sale.state == "sold_out" and sale.left == 0
    assert all(n == 1 for n in sale.by_user.values())
    p = shop.catalog.products["dress"]
    assert (p.stock, p.held, p.sold, p.added) == (50, 0, 100, 150)
    # Throttled: the stock counter reached each member a handful of times, not 100.
    lefts = [f for f in shoppers[-1].frames if f["type"] == "sale.left"]
    assert len(lefts) <= elapsed / 1.0 + 2, (len(lefts), elapsed)


async def test_counters_are_not_replayed_on_resume(make_server: ServerFactory) -> None:  # noqa: F811
    h = await make_server()
    host = await h.join("host", "host")
    await host.ok("product.add", DRESS)
    start = {"product": "dress", "price": 9900, "quantity": 50, "duration": 60}
    await host.ok("sale.start", start)
    ann = await h.join("ann")
    last = ann.last_seq or ann.welcome["seq"]
    await ann.drop()
    bob = await h.join("bob")
    await bob.ok("sale.claim", {"sale": 1})
    assert (await bob.next("sale.left"))["body"]["left"] == 49  # sent live, without seq
    await host.ok("chat.send", {"text": "next up: the oud"})
    back = await h.join("ann", resume=last)
    assert back.welcome["body"]["resumed"] is True and back.welcome["body"]["snapshot"] is None
    await back.next("chat.message")
    replayed = [f["type"] for f in back.frames[1:]]
    assert "chat.message" in replayed and "sale.left" not in replayed
    # The next snapshot carries the latest count.
    sync = await back.ok("sync")
    assert sync["body"]["snapshot"]["shop"]["sales"][0]["left"] == 49
