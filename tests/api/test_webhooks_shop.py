"""Commerce and games results as webhooks and read endpoints: a scripted sale and lottery
arrive at a real receiver, signed (the harness verifies every Standard Webhooks signature),
in order, with the facts a shop's backend acts on (claim id, user, quantity, price in minor
units); GET /rooms/{id}/shop and /games show the same results from the live venue."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import ApiFactory, Receiver
from .test_rooms import RIYADH, join
from .test_webhooks import add_endpoint, capture

OUD = {
    "id": "oud",
    "titles": {"en": "Oud", "ar": "عود"},
    "price": 45000,
    "currency": "SAR",
    "stock": 3,
}


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_scripted_sale_and_lottery_arrive_signed(
    make_api: ApiFactory, receiver: Receiver, tmp_path: Path, store: str
) -> None:
    # sqlite: the webhook rows are projected by the store's transaction hook instead.
    url = "memory" if store == "memory" else f"sqlite:///{tmp_path / 'store.db'}"
    api = await make_api(store=url)
    assert api.server.api.webhooks.produce_journaled == (store == "memory")
    seen = capture(api)
    await add_endpoint(api, "shop", receiver.url, ["sale.*", "lottery.*"])
    room = "shop-1"
    await api.ok("POST", "/rooms", json={"id": room, "title": "Oud", "market": RIYADH})
    host = await join(api, room, "h1", role="host")
    s1 = await join(api, room, "s1")
    await api.ok("POST", f"/rooms/{room}/start")
    await host.ok("product.add", OUD)
    start = {"product": "oud", "price": 39900, "quantity": 2, "duration": 60, "per_user_limit": 2}
    await host.ok("sale.start", start)
    await s1.ok("sale.claim", {"sale": 1, "quantity": 2})  # the last units: sold out
    await host.ok("lottery.open", {"prize": "oud", "rule": "room"})
    await host.ok("lottery.draw")
    want = ["sale.started", "sale.claimed", "sale.sold_out", "lottery.drawn"]
    await receiver.wait_for(lambda r: len(r.received) >= len(want))
    assert receiver.bad_signatures == 0
    assert receiver.types() == want == [e.type for e in seen if e.type in want]
    by_type = {r.payload["type"]: r.payload["data"] for r in receiver.received}
    claim = by_type["sale.claimed"]
    assert claim["room"] == room and claim["claim"] == 1 and claim["user"] == "s1"
    assert claim["quantity"] == 2 and claim["price"] == 39900 and claim["currency"] == "SAR"
    assert isinstance(claim["price"], int)  # minor units, never a float
    sold = by_type["sale.sold_out"]
    assert sold["left"] == 0 and sold["sold"] == 2 and sold["list_price"] == 45000
    drawn = by_type["lottery.drawn"]
    assert drawn["winners"] == ["s1"] and drawn["entrants"] == 1
    assert len(drawn["seed"]) == 64 and len(drawn["commitment"]) == 64
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(set(ids)) == len(ids)
    # The same results through the read endpoints, from the live venue.
    shop = await api.ok("GET", f"/rooms/{room}/shop")
    assert [p["id"] for p in shop["products"]] == ["oud"]
    [sale] = shop["sales"]
    assert sale["state"] == "sold_out" and sale["left"] == 0 and sale["price"] == 39900
    [k] = shop["claims"]
    assert (k["id"], k["user"], k["quantity"], k["price"]) == (1, "s1", 2, 39900)
    games = await api.ok("GET", f"/rooms/{room}/games")
    assert games["lottery"] is None and games["last_draw"]["winners"] == ["s1"]
    assert games["last_draw"]["seed"] == drawn["seed"]
    for c in (host, s1):
        await c.close()
    await api.ok("POST", f"/rooms/{room}/end")
    gone = await api.call("GET", f"/rooms/{room}/shop")
    assert gone.status_code in (404, 409), gone.text
    missing = await api.call("GET", "/rooms/nope/games")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "room_not_found"
