"""The shop in a real browser (Debian's Chromium via Playwright): a host page adds a
product, pins it and starts a flash sale, a coupon drop and a group buy by clicks; an
Arabic shopper page sees the "now showing" card and the countdown, claims by click and is
told the outcome; an English shopper sees the sale sold out. Screenshots go to
test-artifacts/screenshots/ (with VOICEROOM_UPDATE_SCREENSHOTS=1: docs/images/web-shop-*).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from voiceroom.auth import issue_token
from voiceroom.config import Config
from voiceroom.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium", allow_module_level=True)
async_playwright = pytest.importorskip("playwright.async_api").async_playwright

ROOT = Path(__file__).resolve().parents[2]
SHOTS = (
    ROOT / "docs" / "images"
    if os.environ.get("VOICEROOM_UPDATE_SCREENSHOTS") == "1"
    else ROOT / "test-artifacts" / "screenshots"
)
SECRET = "browser-shop-secret-0123456789abcdef0123"
ROOM = "shop"
MOBILE = {"width": 412, "height": 915}
DESKTOP = {"width": 1280, "height": 900}


def token(
    user: str, name: str, role: str = "listener", tier: str = "new", locale: str = "en"
) -> str:
    return issue_token(SECRET, room=ROOM, user=user, name=name, role=role, tier=tier, locale=locale)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server(
        Config(port=0, secret=SECRET, media=False, shutdown_timeout=1.0, log_level="warning")
    )
    await srv.start()
    try:
        yield srv
    finally:
        await srv.shutdown()


async def open_page(browser: Any, viewport: dict[str, int], url: str, errors: list[str]) -> Any:
    ctx = await browser.new_context(viewport=viewport, locale="en-US")
    page = await ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(url)
    return page


async def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays at the top
    await page.wait_for_timeout(400)
    await page.screenshot(path=str(SHOTS / name), full_page=True, animations="disabled")


async def test_host_sells_and_an_arabic_shopper_claims_by_click(server: Server) -> None:
    base = f"http://127.0.0.1:{server.port}"
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            host = await open_page(
                browser,
                DESKTOP,
                f"{base}/?token={token('host-1', 'Hana', 'host', 'vip')}&lang=en",
                errors,
            )
            panel = host.locator("#shop-panel")
            await panel.wait_for(timeout=10_000)

            # Add a product by filling the form (price typed in riyals, sent in halalas).
            form = panel.locator("#product-form")
            await form.locator("input[name=product-id]").fill("abaya")
            await form.locator("input[name=product-en]").fill("Embroidered abaya")
            await form.locator("input[name=product-ar]").fill("عباءة مطرزة")
            await form.locator("input[name=product-price]").fill("349")
            await form.locator("select[name=product-currency]").select_option("SAR")
            await form.locator("input[name=product-stock]").fill("20")
            await form.locator("input[name=product-image]").fill("/img/demo/abaya.svg")
            await form.locator("button[type=submit]").click()
            row = panel.locator(".product-row[data-product=abaya]")
            await row.wait_for(timeout=5_000)
            assert await host.evaluate("window.voiceroom.shop.products.get('abaya').price") == 34900

            # Pin it ("now showing") and start a flash sale: 1 unit, so the second shopper
            # sees it sold out.
            await row.get_by_role("button", name="Show").click()
            await host.locator("#showcase .product-title", has_text="Embroidered abaya").wait_for(
                timeout=5_000
            )
            sale = panel.locator("#sale-form")
            await sale.locator("input[name=sale-price]").fill("299.50")
            await sale.locator("input[name=sale-qty]").fill("1")
            await sale.locator("input[name=sale-minutes]").fill("10")
            await sale.locator("button[type=submit]").click()
            await host.locator("#offers .sale-open").wait_for(timeout=5_000)
            # The showcase counts the sale's units, not the product's stock (20).
            await host.locator("#showcase .stock", has_text="1 left of 1").wait_for(timeout=5_000)
            # A coupon drop (server-generated codes) and a group buy of 3.
            await panel.locator("#coupon-form button[type=submit]").click()
            group = panel.locator("#group-form")
            await group.locator("input[name=group-price]").fill("250")
            await group.locator("button[type=submit]").click()
            await host.locator("#offers .offer.group").wait_for(timeout=5_000)

            # The Arabic shopper: card, price in Arabic, countdown, Claim by click.
            layla = await open_page(
                browser,
                MOBILE,
                f"{base}/?token={token('layla', 'ليلى', tier='vip', locale='ar')}",
                errors,
            )
            await layla.locator("html[dir=rtl]").wait_for(timeout=10_000)
            card = layla.locator("#showcase")
            await card.locator(".product-title", has_text="عباءة مطرزة").wait_for(timeout=10_000)
            expected = await layla.evaluate(
                "new Intl.NumberFormat('ar', {style: 'currency', currency: 'SAR',"
                " minimumFractionDigits: 2, maximumFractionDigits: 2}).format('299.50')"
            )
            assert expected in await card.inner_text()
            banner = layla.locator("#offers .sale")
            countdown = banner.locator(".countdown strong[data-until]")
            first = await countdown.inner_text()
            await layla.wait_for_function(  # the countdown ticks (once a second, in place)
                "t => document.querySelector('#offers .sale .countdown strong').textContent !== t",
                arg=first,
                timeout=10_000,
            )
            await banner.get_by_role("button", name="احجز").click()
            await banner.locator(".outcome.ok", has_text="تم الحجز").wait_for(timeout=5_000)
            claim = await layla.evaluate("window.voiceroom.shop.claims[0]")
            assert claim["price"] == 29950 and claim["user"] == "layla"
            # Coupon by click: the code is shown to her only.
            drop = layla.locator("#offers .offer.coupon")
            await drop.get_by_role("button", name="احصل على رمزي").click()
            await drop.locator("code.code").wait_for(timeout=5_000)
            # Group buy by click: "1 of 3".
            deal = layla.locator("#offers .offer.group")
            await deal.get_by_role("button", name="انضم إلى المجموعة").click()
            progress = await layla.evaluate("new Intl.NumberFormat('ar').format(1)")
            await deal.locator("[data-deal-progress]", has_text=progress).wait_for(timeout=5_000)
            await deal.locator(".countdown strong[data-until]").wait_for(timeout=5_000)
            await shoot(layla, "web-shop-shopper-ar.png")

            # An English shopper comes late: sold out, said so.
            noor = await open_page(
                browser, MOBILE, f"{base}/?token={token('noor', 'Noor')}&lang=en", errors
            )
            late = noor.locator("#offers .sale")
            await late.locator(".badge.state", has_text="Sold out").wait_for(timeout=10_000)
            assert await late.get_by_role("button", name="Claim").count() == 0
            await shoot(noor, "web-shop-shopper-en.png")
            await host.locator("#offers .sale-sold_out").wait_for(timeout=5_000)
            await shoot(host, "web-shop-host-en.png")

            room = server.registry.get(ROOM)
            assert room is not None
            shop = room.venue.cores[0]
            assert [(k.user, k.quantity) for k in shop.sales.sales[1].claims] == [("layla", 1)]
        finally:
            await browser.close()
    assert errors == []
