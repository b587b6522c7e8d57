"""The whole shop survives a restart on SQLite (in-process server, snapshot + journal tail):
products and "now showing", a sale with its claims, a coupon drop whose codes were
generated from journaled entropy (the same codes after replay), a group buy with a
filling group; the restarted shop equals the live one."""

from __future__ import annotations

from pathlib import Path

from tests.store.test_restart import config, start


async def test_shop_survives_a_restart(tmp_path: Path) -> None:
    cfg = config(f"sqlite:///{tmp_path / 'shop.db'}", tmp_path, snapshot_every=5)
    h = await start(cfg)
    host = await h.join("host", "host")
    ann, bob = await h.join("ann", tier="vip"), await h.join("bob")
    product = {
        "id": "oud",
        "titles": {"en": "Oud", "ar": "عود"},
        "price": 49500,
        "currency": "SAR",
        "stock": 20,
        "options": ["50 ml"],
    }
    await host.ok("product.add", product)
    await host.ok("product.pin", {"product": "oud"})
    await host.ok(
        "sale.start",
        {"product": "oud", "price": 39900, "quantity": 5, "duration": 600, "per_user_limit": 2},
    )
    await ann.ok("sale.claim", {"sale": 1, "quantity": 2})
    await host.ok("coupon.drop", {"duration": 600, "uses": 3, "percent_off": 10})
    await ann.ok("coupon.claim", {"drop": 1})
    code = (await ann.next("coupon.claimed"))["body"]["coupon"]["code"]
    await host.ok(
        "group.start",
        {"product": "oud", "price": 30000, "size": 3, "time_limit": 300, "duration": 600},
    )
    await bob.ok("group.join", {"deal": 1})
    live = h.room().venue.cores[0]
    await h.server.shutdown()

    h2 = await start(cfg)
    try:
        shop = h2.room().venue.cores[0]
        assert shop == live  # every value, counters and the throttle included
        assert shop.coupons.drops[1].claims == {"ann": code}
        back = await h2.join("ann", tier="vip")
        snap = back.welcome["body"]["snapshot"]["shop"]
        assert snap["showing"] == "oud" and [k["quantity"] for k in snap["your_claims"]] == [2]
        assert snap["your_coupons"][0]["code"] == code
        # The shop goes on: bob's group fills, the limit still holds for ann.
        carl, dina = await h2.join("carl"), await h2.join("dina")
        await carl.ok("group.join", {"deal": 1})
        await dina.ok("group.join", {"deal": 1})
        done = await dina.next("group.status", lambda f: f["body"]["reason"] == "completed")
        assert done["body"]["group"]["joined"] == 3
        assert await back.fail("sale.claim", {"sale": 1}) == "limit_reached"
    finally:
        await h2.server.shutdown()
