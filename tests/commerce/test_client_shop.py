"""The Python client's shop verbs and mirror, and ``voiceroom bot --claim``, against a real
server on loopback (signalling only)."""

from __future__ import annotations

import asyncio

import pytest

from tests.signalling.conftest import make_server  # noqa: F401 - the fixture
from tests.signalling.harness import Harness, ServerFactory
from voiceroom.client import Bot, RoomClient, ServerError
from voiceroom.client.bot import BotConfig, configs_from_args
from voiceroom.client.cli import add_bot_arguments
from voiceroom.client.shop import format_price


def url(h: Harness) -> str:
    return f"ws://127.0.0.1:{h.server.port}"


async def test_verbs_and_mirror(make_server: ServerFactory) -> None:  # noqa: F811
    h = await make_server()
    host = await RoomClient.join(url(h), h.token("host", "host"))
    ann = await RoomClient.join(url(h), h.token("ann", tier="vip"))
    try:
        await host.add_product(
            "oud", {"en": "Oud", "ar": "عود"}, 49500, "SAR", 10, options=["50 ml"]
        )
        await host.pin_product("oud")
        await host.start_sale("oud", 39900, 3, 60, per_user_limit=2)
        await host.drop_coupons(60, code="OUD10", uses=5, percent_off=10)
        await host.start_group_buy("oud", 30000, 2, 30, 60)
        await ann.wait_until(lambda s: bool(s.shop.deals), timeout=5)
        shop = ann.state.shop
        assert shop.showing == "oud" and shop.products["oud"]["titles"]["ar"] == "عود"
        sale = shop.open_sales()[0]
        assert format_price(sale["price"], sale["currency"], sale["exponent"]) == "399.00 SAR"
        await ann.claim_sale(sale["id"], 2)
        assert shop.claimed(sale["id"]) == 2  # sale.claimed arrives before the reply
        with pytest.raises(ServerError) as err:
            await ann.claim_sale(sale["id"])
        assert str(err.value.code) == "limit_reached"
        with pytest.raises(ServerError) as err:
            await host.claim_sale(sale["id"])
        assert str(err.value.code) == "forbidden"
        await ann.claim_coupon(1)
        assert shop.coupons[1]["code"] == "OUD10"
        await ann.join_group(1)
        assert shop.my_groups[(1, 1)]["reason"] == "joined"
        await ann.leave_group(1)
        await host.close_group_buy(1)
        await host.close_coupons(1)
        await host.close_sale(sale["id"])
        await host.restock_product("oud", 5)
        await ann.wait_until(lambda s: s.shop.sales[sale["id"]]["state"] == "closed", timeout=5)
        await host.unpin_product()
        await host.remove_product("oud")
        await ann.wait_until(lambda s: not s.shop.products and s.shop.showing is None, timeout=5)
    finally:
        await ann.close()
        await host.close()
    assert format_price(1999, "JPY", 0) == "1999 JPY"
    assert format_price(5, "KWD", 3) == "0.005 KWD"


async def test_claiming_bots(make_server: ServerFactory) -> None:  # noqa: F811
    h = await make_server()
    host = await RoomClient.join(url(h), h.token("host", "host"))
    bots = [
        Bot(BotConfig(url(h), h.token(f"b{i}"), media=False, claim=True), log=None)
        for i in range(12)
    ]
    try:
        await asyncio.gather(*(b.start() for b in bots))
        await host.add_product("oud", {"en": "Oud"}, 49500, "SAR", 10)
        await host.start_sale("oud", 39900, 5, 60)
        async with asyncio.timeout(10):
            while sum(len(b.report.claims) + len(b.report.claim_refusals) for b in bots) < 12:  # noqa: ASYNC110 - a plain report, no event
                await asyncio.sleep(0.05)
        assert sum(len(b.report.claims) for b in bots) == 5
        refusals = [code for b in bots for code in b.report.claim_refusals.values()]
        assert refusals == ["sold_out"] * 7
        assert all(b.report.errors == [] for b in bots)
    finally:
        await asyncio.gather(*(b.stop() for b in bots))
        await host.close()


def test_bot_claim_flag() -> None:
    import argparse

    parser = add_bot_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["ws://x", "--token", "t", "--claim", "--claim-quantity", "2"])
    (config,) = configs_from_args(args)
    assert config.claim and config.claim_quantity == 2
