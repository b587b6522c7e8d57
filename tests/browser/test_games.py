"""The games in a real browser (Debian's Chromium through Playwright): the host runs a vote
and a giveaway by clicks; an Arabic shopper page and a Chinese one vote, see a prompt in
their own market idiom (the mic for Arabic, sharing / group-buy for Chinese) and see the
draw verified by the page itself (WebCrypto). Bots vote too. Screenshots go to
test-artifacts/screenshots/, or docs/images/web-games-*.png with
VOICEROOM_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from voiceroom.auth import issue_token
from voiceroom.client import Bot, BotConfig
from voiceroom.config import Config
from voiceroom.server import Server

from .test_web_client import CHROMIUM, DESKTOP, MOBILE, SHOTS, async_playwright, shoot, until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]

SECRET = "browser-games-secret-0123456789abcdef012"
ROOM = "games"


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


async def page_for(browser: Any, url: str, viewport: dict[str, int], errors: list[str]) -> Any:
    ctx = await browser.new_context(
        viewport=viewport, locale="en-US", timezone_id="Asia/Riyadh", accept_downloads=True
    )
    page = await ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(url)
    return page


async def test_host_runs_a_vote_and_a_giveaway_shoppers_see_their_idiom(
    server: Server, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    ws = f"ws://127.0.0.1:{server.port}"
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            host = await page_for(
                browser,
                f"{base}/?token={token('hana', 'Hana', 'host', 'vip')}&lang=en",
                DESKTOP,
                errors,
            )
            await host.get_by_role("button", name="Start the show").click()
            layla = await page_for(
                browser,
                f"{base}/?token={token('layla', 'ليلى', tier='vip', locale='ar')}",
                MOBILE,
                errors,
            )
            wei = await page_for(
                browser, f"{base}/?token={token('wei', '伟', locale='zh')}", MOBILE, errors
            )
            await layla.locator("html[dir=rtl][lang=ar]").wait_for()
            await wei.locator("html[lang=zh]").wait_for()
            bots = [
                Bot(
                    BotConfig(
                        ws, token(f"bot{i}", f"Bot {i}"), media=False, vote=True, vote_option=i % 2
                    ),
                    log=None,
                )
                for i in range(3)
            ]
            await asyncio.gather(*(b.start() for b in bots))
            await host.locator("#game-market").wait_for()
            await host.get_by_placeholder("Target market (time zone)").fill("Asia/Riyadh")
            await host.locator("#game-market").get_by_role("button", name="Set").click()

            # The host asks by clicks; the shoppers vote by clicks, the bots by themselves.
            await host.get_by_placeholder("Question").fill("Which bag next?")
            await host.get_by_placeholder("Option 1").fill("Red tote")
            await host.get_by_placeholder("Option 2").fill("Blue clutch")
            await host.get_by_role("button", name="Start the vote").click()
            await layla.locator(".vote-option").first.click()
            await wei.locator(".vote-option").nth(1).click()
            await layla.locator(".vote-option.is-mine").wait_for()
            await until(
                lambda: host.locator(".vote-option .vote-count").first.inner_text(), 10, "tallies"
            )
            await until(
                lambda: host.evaluate(
                    "(window.voiceroom.st.games.vote_tallies||[]).reduce((a,b)=>a+b,0) === 5"
                ),
                15,
                "five votes in the host's tallies",
            )
            await host.get_by_role("button", name="Close the vote").click()
            await layla.locator(".vote-result").wait_for()
            assert "Red tote" in await wei.locator(".vote-result").inner_text()
            assert all(not b.report.errors for b in bots)

            # A prompt by id: each page shows it from its own catalog, in its own idiom.
            # Every field and select is named by its words, never an id ("rule", "prompt").
            prompt_form = host.locator("#game-prompt")
            await prompt_form.get_by_label("Prompt to send", exact=True).select_option(
                "flash_sale_now"
            )
            await prompt_form.get_by_label("Product", exact=True).fill("Silk scarf")
            minutes = prompt_form.get_by_label("Minutes (1\u2013600)", exact=True)
            assert await minutes.get_attribute("type") == "number"  # "five" cannot be typed
            await minutes.fill("10")
            lottery_form = host.locator("#game-lottery")
            assert await lottery_form.get_by_label("Who can enter", exact=True).count() == 1
            await host.locator("#game-prompt").get_by_role("button", name="Send").click()
            ar_text = await layla.locator(".prompt-text").inner_text()
            zh_text = await wei.locator(".prompt-text").inner_text()
            en_text = await host.locator(".prompt-text").inner_text()
            assert "المايك" in ar_text and "Silk scarf" in ar_text  # come to the mic
            assert "拼团" in zh_text and "分享" in zh_text  # share and group-buy
            assert "Rules" in en_text  # Europe: the rules, stated

            # A prompt for later: the host sees it queued with its local time.
            await host.locator("#game-prompt select").select_option("checkin_today")
            await host.get_by_placeholder("In minutes (empty: now)").fill("30")
            await host.locator("#game-prompt").get_by_role("button", name="Send").click()
            queued = await host.locator("#game-prompt .scheduled li").inner_text()
            assert queued.startswith("Daily check-in at ")

            # A giveaway by clicks; every page checks the draw with WebCrypto.
            await host.get_by_placeholder("Prize").fill("Silk scarf")
            await host.locator("#game-lottery input[type=number]").fill("2")
            await host.get_by_role("button", name="Start the giveaway").click()
            await layla.locator("#game-lottery .seal").wait_for()
            assert "2" in await layla.locator("#game-lottery .lottery-winners").inner_text()
            await host.get_by_role("button", name="Draw now").click()
            for page in (layla, wei, host):
                await page.locator("[data-verify=ok]").wait_for(timeout=10_000)
            assert (
                await wei.locator("[data-verify=ok]").inner_text()
                == "已验证：任何人都可以重新计算本次抽奖"  # noqa: RUF001 - Chinese punctuation
            )
            assert "تم التحقق" in await layla.locator("[data-verify=ok]").inner_text()
            drawn = await host.evaluate("window.voiceroom.st.games.last_draw")
            assert sorted(drawn["entrants"]) == ["bot0", "bot1", "bot2", "layla", "wei"]
            assert len(drawn["winners"]) == 2
            # What was verified is there to read: the seed, every entrant, and you in it.
            await wei.locator("#game-lottery details summary").click()
            details = await wei.locator("#game-lottery details").inner_text()
            assert drawn["seed"] in details and "layla" in details
            assert await wei.locator("[data-entrant=in]").count() == 1
            await layla.locator("#chat-input").fill("mabrook!")  # an event: every page renders
            await layla.locator("#chat-send").click()
            await wei.get_by_text("mabrook!").wait_for()
            assert await wei.locator("#game-lottery details[open]").count() == 1  # still open
            assert await host.locator("[data-entrant]").count() == 0  # staff never enter

            # The shopper can take the draw away and check it outside the browser too.
            async with wei.expect_download() as info:
                await wei.locator("#game-lottery a[download]").click()
            saved = tmp_path / "draw.json"
            await (await info.value).save_as(saved)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "voiceroom", "verify-draw", str(saved),
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            stdout, _ = await proc.communicate()
            assert proc.returncode == 0 and b"verified" in stdout, stdout

            # Scores reach the shopper as they change (score.yours): Wei, New, voted once.
            await wei.wait_for_function(
                "() => window.voiceroom.st.games.interactions >= 1"
                " && window.voiceroom.st.games.your_points >= 2",
                timeout=10_000,
            )

            # A prompt whose text needs a detail is not sent with it blank.
            await host.locator("#game-prompt select").select_option("vote_now")
            await host.locator("#game-prompt").get_by_role("button", name="Send").click()
            await host.locator("#game-prompt input[aria-invalid]").wait_for(timeout=5_000)
            assert await layla.locator(".prompt-text").get_attribute("data-prompt") != "vote_now"

            # Check in once: then the button says so and is off until the market's next day.
            await layla.locator(".game-me button").click()
            await layla.locator(".game-me button[disabled]", has_text="تمّ تسجيل").wait_for(
                timeout=5_000
            )

            # Guess the price, typed as people type it: the host's "1,300" in riyals, Layla's
            # Arabic-Indic digits, Wei's thousands comma. The ranking is numbered once.
            guess = host.locator("#game-guess")
            await guess.get_by_placeholder("Product", exact=True).fill("Gold watch")
            await guess.locator("select[name=guess-currency]").select_option("SAR")
            await guess.get_by_placeholder("True price, kept hidden (like 129.00)").fill("1,300")
            await guess.get_by_role("button", name="Start the round").click()
            for page, typed in ((layla, "١٣٠٠"), (wei, "1,250.5")):
                await page.locator("#game-guess input").fill(typed)
                await page.locator("#game-guess button").click()
            await host.wait_for_function(
                "() => window.voiceroom.st.games.guess_count === 2", timeout=10_000
            )
            await guess.get_by_role("button", name="Close and reveal").click()
            rows = layla.locator(".guess-ranking li")
            await rows.nth(1).wait_for(timeout=5_000)
            revealed = await host.evaluate("window.voiceroom.st.games.last_guess")
            assert revealed["price"] == 130000 and revealed["currency"] == "SAR"
            assert [(x["user"], x["amount"]) for x in revealed["ranking"]] == [
                ("layla", 130000),
                ("wei", 125050),
            ]
            assert await rows.evaluate_all("rows => rows.map((li) => li.value)") == [1, 2]
            first = (await rows.first.inner_text()).strip("\u2068\u2069 ")
            assert first.startswith("ليلى"), first  # no "1." typed before the list's own

            SHOTS.mkdir(parents=True, exist_ok=True)
            await shoot(host, SHOTS / "web-games-host-en.png")
            await shoot(layla, SHOTS / "web-games-shopper-ar.png")
            await shoot(wei, SHOTS / "web-games-shopper-zh.png")
            await asyncio.gather(*(b.stop() for b in bots))
        finally:
            await browser.close()
    assert errors == []
