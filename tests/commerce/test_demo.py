"""The --demo room opens with its shop: products loaded through the server-only entry point."""

from __future__ import annotations

from pathlib import Path

from tests.signalling.conftest import make_server  # noqa: F401 - the fixture
from tests.signalling.harness import ServerFactory
from tests.signalling.vr_client import Client
from voiceroom.commerce.demo import DEMO_PRODUCTS
from voiceroom.server import DEMO_ROOM

WEB = Path(__file__).resolve().parents[2] / "clients" / "web"


async def test_demo_room_has_products(make_server: ServerFactory) -> None:  # noqa: F811
    h = await make_server()
    links = await h.server.open_demo()  # the catalog is committed when this returns
    url = links["listener-vip"].replace("http://", "ws://").replace("/?token=", "/ws?token=")
    shopper = await Client.open(url)
    shop = shopper.welcome["body"]["snapshot"]["shop"]
    assert [p["id"] for p in shop["products"]] == [p.id for p in DEMO_PRODUCTS]
    assert all(p["currency"] == "SAR" and type(p["price"]) is int for p in shop["products"])
    assert all(p["titles"]["ar"] and p["image"].startswith("/img/demo/") for p in shop["products"])
    for p in shop["products"]:  # the images ship with the web client (its static root)
        assert (WEB / p["image"].lstrip("/")).is_file(), p["image"]
    # Opening the demo again (a restart with the room kept) adds nothing twice.
    await h.server.open_demo()
    assert len(h.room(DEMO_ROOM).venue.cores[0].catalog.products) == len(DEMO_PRODUCTS)
    await shopper.close()
