"""The web page by keyboard and a sales call as each side reads it (second web-page pass):
focus follows an action (Raise hand -> Lower hand, a seat's menu and Escape, Unlock,
Leave), a seated shopper on a private call is told the room cannot hear her, the host is
offered no 1v1 for her, she is told when the agent ends the call, and the chat's limit is
counted as the server counts it (no silent cut)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_web_client import (
    CHROMIUM,
    EN,
    HANA,
    LAYLA,
    MOBILE,
    async_playwright,
    open_page,
    quiet_server,
    token,
    until,
)
from voiceroom.server import Server

__all__ = ["quiet_server"]  # the fixture, used by name

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
OMAR = token("agent-1", "Omar", "agent", "new")


async def focused_text(page: Any) -> str:
    text: str = await page.evaluate(
        "(document.activeElement?.getAttribute('aria-label') || document.activeElement?.textContent"
        " || '').trim()"
    )
    return text


async def focus_moves_to(page: Any, text: str) -> None:
    async def there() -> bool:
        return await focused_text(page) == text

    await until(there, 5, f"focus on {text!r}")


async def test_keyboard_focus_and_a_sales_call(quiet_server: Server) -> None:
    base = f"http://127.0.0.1:{quiet_server.port}"
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            host = await open_page(browser, MOBILE, f"{base}/?token={HANA}&lang=en", errors)
            host.on("dialog", lambda dialog: dialog.accept())
            await host.get_by_role("button", name=EN["host.start_show"]).click()
            layla = await open_page(browser, MOBILE, f"{base}/?token={LAYLA}&lang=en", errors)
            omar = await open_page(browser, MOBILE, f"{base}/?token={OMAR}&lang=en", errors)
            await hand_and_request_keep_focus(layla)
            await a_sales_call_as_each_side_reads_it(host, layla, omar)
            await seat_menu_by_keyboard(host)
            await chat_limit_counts_code_points(layla)
            await a_prompt_names_a_shop_product(host, layla)
            await layla.locator("#leave-room").focus()
            await layla.keyboard.press("Enter")
            await focus_moves_to(layla, EN["closed.rejoin"])
        finally:
            await browser.close()
        assert errors == []


async def hand_and_request_keep_focus(layla: Any) -> None:
    """Finding 1: Enter on Raise hand, then Enter again lowers it (focus stayed)."""
    await layla.get_by_role("button", name=EN["hand.raise"]).focus()
    await layla.keyboard.press("Enter")
    await focus_moves_to(layla, EN["hand.lower"])
    await layla.keyboard.press("Enter")
    await focus_moves_to(layla, EN["hand.raise"])
    await layla.get_by_role("button", name=EN["request.send"]).focus()
    await layla.keyboard.press("Enter")
    await focus_moves_to(layla, EN["request.cancel"])


async def a_sales_call_as_each_side_reads_it(host: Any, layla: Any, omar: Any) -> None:
    """Findings 2, 3, 7: the host sees the call and offers no 1v1; seated on the call
    Layla is told the room cannot hear her; the agent ending it is said to her."""
    await omar.get_by_role("button", name=EN["agent.take_next"]).click()
    await focus_moves_to_or_present(layla, EN["consult.end"])
    row = host.locator("#host-panel .list-item[data-user=layla]")
    await row.locator(".badge.on-call", has_text=EN["audience.on_sales_call"]).wait_for(
        timeout=5_000
    )
    assert await row.get_by_role("button", name=EN["action.consult_private"]).count() == 0
    await row.get_by_role("button", name=EN["audience.invite"]).click()
    await layla.locator(".invite-on-call", has_text=EN["invite.on_call"]).wait_for(timeout=5_000)
    await layla.get_by_role("button", name=EN["invite.accept"]).click()
    notice = layla.locator("#me .notice-unheard")
    await notice.wait_for(timeout=5_000)
    assert "only Omar hears you" in (await notice.inner_text()).replace("\u2068", "").replace(
        "\u2069", ""
    )
    await omar.get_by_role("button", name=EN["consult.end"]).click()
    await layla.locator(".toast", has_text="Your call with").wait_for(timeout=5_000)
    await notice.wait_for(state="detached", timeout=5_000)


async def focus_moves_to_or_present(page: Any, text: str) -> None:
    """The request's Cancel button goes when the call starts: focus lands on End call."""
    await page.get_by_role("button", name=text).wait_for(timeout=5_000)
    await focus_moves_to(page, text)


async def seat_menu_by_keyboard(host: Any) -> None:
    """Finding 1: Enter on a seat opens its menu with focus in it, Escape closes it and
    focus is back on the seat; after Unlock focus is back on the seat too."""
    seat = host.locator(".seat[data-seat='3'] .seat-body")
    await seat.focus()
    await host.keyboard.press("Enter")
    await focus_moves_to(host, EN["action.lock_seat"])
    await host.keyboard.press("Escape")
    await host.locator(".seat-actions").wait_for(state="detached", timeout=5_000)
    await until(
        lambda: host.evaluate("document.activeElement?.closest('.seat')?.dataset.seat === '3'"),
        5,
        "focus back on seat 3",
    )
    await host.keyboard.press("Enter")
    await focus_moves_to(host, EN["action.lock_seat"])
    await host.keyboard.press("Enter")  # locks it; the menu closes
    await host.locator(".seat[data-seat='3'].seat-locked").wait_for(timeout=5_000)
    await until(
        lambda: host.evaluate("document.activeElement?.closest('.seat')?.dataset.seat === '3'"),
        5,
        "focus back on seat 3 after locking",
    )
    await host.keyboard.press("Enter")
    await focus_moves_to(host, EN["action.unlock_seat"])
    await host.keyboard.press("Enter")
    await host.locator(".seat[data-seat='3'].seat-free").wait_for(timeout=5_000)
    await until(
        lambda: host.evaluate("document.activeElement?.closest('.seat')?.dataset.seat === '3'"),
        5,
        "focus back on seat 3 after unlocking",
    )


async def a_prompt_names_a_shop_product(host: Any, layla: Any) -> None:
    """Finding 4: the product is picked from the shop; each page shows its own title."""
    form = host.locator("#product-form")
    await form.locator("input[name=product-id]").fill("scarf")
    await form.locator("input[name=product-en]").fill("Silk scarf")
    await form.locator("input[name=product-ar]").fill("وشاح حريري")
    await form.locator("input[name=product-price]").fill("20")
    await form.locator("input[name=product-stock]").fill("5")
    await form.locator("button[type=submit]").click()
    await host.locator("#shop-panel .product-row[data-product=scarf]").wait_for(timeout=5_000)
    prompt = host.locator("#game-prompt")
    await prompt.get_by_label(EN["games.prompt.pick"], exact=True).select_option("flash_sale_now")
    product = prompt.get_by_label(EN["games.prompt.param.product"], exact=True)
    assert await product.evaluate("e => e.tagName") == "SELECT"
    await product.select_option("scarf")
    await prompt.get_by_label(EN["games.prompt.param.minutes"], exact=True).fill("15")
    await prompt.get_by_role("button", name=EN["games.prompt.send"]).click()
    await layla.select_option("#lang", "ar")
    # The Arabic catalog loads, then the page renders again: wait for that render (read
    # at once, the English text from before could still be on screen).
    await layla.locator(".prompt-text", has_text="وشاح حريري").wait_for(timeout=5_000)
    await layla.select_option("#lang", "en")


async def chat_limit_counts_code_points(layla: Any) -> None:
    """Finding 5: 400 emoji fit (500 code points); 3,000 characters are not cut silently:
    the counter says so and sending is refused with a sentence."""
    box = layla.locator("#chat-input")
    await box.fill("\U0001f600" * 400)
    assert await box.evaluate("e => [...e.value].length") == 400
    await layla.locator("#chat-counter", has_text="400 / 500").wait_for(timeout=5_000)
    await box.fill("x" * 3000)
    assert await box.evaluate("e => e.value.length") == 3000
    await box.press("Enter")
    await layla.locator(".toast", has_text="Message too long").wait_for(timeout=5_000)
    assert await box.evaluate("e => e.value.length") == 3000
    await box.fill("hello")
    assert await layla.locator("#chat-counter").is_hidden()
