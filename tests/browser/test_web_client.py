"""The web client in a real browser: headless Chromium (Debian's, never a downloaded one)
driven by Playwright, with a fake microphone playing a 1 kHz sine from a WAV file.

One scenario, as a shopper would live it: the browser joins a live show as a listener,
raises its hand, is promoted by a host bot and speaks. A Python listener bot hears the
browser's 1 kHz tone (FFT); the browser hears a speaker bot's 440 Hz tone (WebAudio FFT in
the page, plus WebRTC inbound byte counters). Screenshots of the listener and host views,
in English and Arabic, go to test-artifacts/screenshots/ (gitignored); with
VOICEROOM_UPDATE_SCREENSHOTS=1 they replace the committed ones in docs/images/.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voiceroom.auth import issue_token
from voiceroom.client import Bot
from voiceroom.client.bot import BotConfig
from voiceroom.config import DEMO_MUSIC_DIR, Config
from voiceroom.room.model import RoomConfig
from voiceroom.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.timeout(240)]

CHROMIUM = Path("/usr/bin/chromium")
# In CI the setup installs Chromium, so its absence is a failure there, not a skip.
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)",
        allow_module_level=True,
    )
async_playwright = pytest.importorskip("playwright.async_api").async_playwright

ROOT = Path(__file__).resolve().parents[2]
# Only on request: rewriting committed PNGs on every run would dirty the tree.
SHOTS = (
    ROOT / "docs" / "images"
    if os.environ.get("VOICEROOM_UPDATE_SCREENSHOTS") == "1"
    else ROOT / "test-artifacts" / "screenshots"
)
SECRET = "browser-test-secret-0123456789abcdef0123"
ROOM = "shop"
BROWSER_HZ = 1000.0  # the fake microphone
BOT_HZ = 440.0  # the speaker bot
MOBILE = {"width": 400, "height": 915}  # a small phone: nothing may be clipped at this width
DESKTOP = {"width": 1280, "height": 860}


def chromium_args(wav: Path) -> list[str]:
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",  # grants the mic prompt
        f"--use-file-for-fake-audio-capture={wav}",
    ]


def write_tone_wav(path: Path, freq: float, seconds: float = 2.0, rate: int = 48_000) -> None:
    """A mono 16-bit sine; Chromium loops the file. Whole cycles, so the loop is seamless."""
    n = int(rate * seconds)
    t = np.arange(n) / rate
    pcm = (0.5 * 32767 * np.sin(2 * math.pi * freq * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def token(user: str, name: str, role: str = "listener", tier: str = "new", **kw: Any) -> str:
    return issue_token(SECRET, room=ROOM, user=user, name=name, role=role, tier=tier, **kw)


LAYLA = token("layla", "Layla", tier="vip")  # the browser's listener
HANA = token("host-1", "Hana", "host", "vip")
KIM = token("kim", "Kim", tier="new")  # watches a 1v1 from the audience, then is removed
# The speaker bot: a long name, and a tier the page has no words for (a shop's own).
SAM_NAME = "Samira Abdelrahman Al-Fulani (Northern Branch)"
SAM_TIER = "platinum-plus"


async def until(check: Callable[[], Awaitable[Any]], within: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` otherwise."""
    last: Any = None
    try:
        async with asyncio.timeout(within):
            while not (last := await check()):  # noqa: ASYNC110 - polling the page
                await asyncio.sleep(0.2)
    except TimeoutError:
        pytest.fail(f"timed out after {within}s waiting for {what} (last: {last!r})")
    return last


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    config = Config(
        port=0,
        secret=SECRET,
        media=True,
        music_dir=DEMO_MUSIC_DIR,  # the host page offers its track in a picker
        count_interval=0.5,
        shutdown_timeout=1.0,
        log_level="warning",
        # The shop's own tier must be one the server knows (unknown tiers are refused at
        # the handshake); the page still has no words for it and shows "Member".
        room=RoomConfig(tiers=("vip", "active", "new", SAM_TIER)),
    )
    srv = Server(config)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.shutdown()


def bot(ws: str, user: str, name: str, role: str = "listener", **options: Any) -> Bot:
    tier = options.pop("tier", "new")
    return Bot(BotConfig(ws, token(user, name, role, tier), **options), log=None)


async def test_browser_listener_is_promoted_speaks_and_hears(
    server: Server, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    ws = f"ws://127.0.0.1:{server.port}"
    wav = tmp_path / "mic-1khz.wav"
    write_tone_wav(wav, BROWSER_HZ)

    host = bot(ws, "host-1", "Hana", "host", tier="vip", auto_promote=True, start_show_after=0.0)
    ear = bot(ws, "noor", "Noor")  # a Python listener: records and checks by FFT
    speaker = bot(ws, "sam", SAM_NAME, tier=SAM_TIER, speak=True, tone=BOT_HZ)
    async with host, ear, async_playwright() as pw:
        assert host.client and ear.client and ear.media
        await host.client.wait_until(lambda s: s.phase == "show", timeout=10)
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=chromium_args(wav))
        errors: list[str] = []
        try:
            await refusals_are_explained(browser, base, errors)
            page = await open_page(browser, MOBILE, f"{base}/?token={LAYLA}&lang=en", errors)
            await page.locator(".seat").first.wait_for()
            async with speaker:  # seated by the host bot while the page watches
                assert speaker.client
                await speaker.client.wait_until(lambda s: s.seated, timeout=10)
                await ear.client.send_chat("مرحبا! كم سعر الساعة الذهبية؟")
                await speaker.client.send_chat("Does it come with a gift box?")
                await phone_layout_keeps_everything_readable(page)
                await browser_speaks_and_hears(page, ear)
                await page.locator(".seat[data-user=sam].speaking").wait_for(timeout=5_000)
                await shoot_both_languages(page, "web-listener")
                await host.stop()  # the host bot leaves: the host page takes seat 0
                await host_page_runs_a_1v1(browser, base, ws, page, errors, server, ear)
        finally:
            await browser.close()
        assert errors == []


async def open_page(browser: Any, viewport: dict[str, int], url: str, errors: list[str]) -> Any:
    ctx = await browser.new_context(viewport=viewport, locale="en-US")
    page = await ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(url)
    return page


async def browser_speaks_and_hears(page: Any, ear: Bot) -> None:
    # Raise a hand; the host bot promotes; the page takes the (fake) microphone.
    await page.get_by_role("button", name="Raise hand").click()
    await page.locator(".mic-toggle.is-live").wait_for(timeout=15_000)
    await until(lambda: page.evaluate("window.voiceroom.mic === 'live'"), 5, "mic live")

    # The Python listener hears the browser's tone.
    assert ear.media
    level = await ear.media.wait_for_tone(BROWSER_HZ, threshold=0.02, timeout=15)

    # The browser hears the speaker bot's tone.
    tap = page.locator(".tap-to-listen")
    if await tap.count():  # autoplay refused: a person would tap, so does the test
        await tap.click()
    stats = await until(
        lambda: page.evaluate(
            "window.voiceroom.media.stats().then(s => s.bytesReceived > 8000 && s)"
        ),
        10,
        "inbound audio bytes",
    )
    peak = await until(
        lambda: page.evaluate(
            "(() => { const p = window.voiceroom.media.remotePeak();"
            f" return p && Math.abs(p.hz - {BOT_HZ}) < 15 && p.db > -60 && p; }})()"
        ),
        10,
        f"a {BOT_HZ:g} Hz peak in the page's analyser",
    )
    print(f"bot heard browser at {level:.3f} FS; browser peak {peak}; stats {stats}")


async def refusals_are_explained(browser: Any, base: str, errors: list[str]) -> None:
    """A refused handshake says why (via /api/join-check): an expired link stops for good;
    a room that is not open yet is retried."""
    expired = token("late", "Late", ttl=-60)
    page = await open_page(browser, MOBILE, f"{base}/?token={expired}&lang=en", errors)
    await page.locator("#gone", has_text="has expired").wait_for(timeout=5_000)
    await until(
        lambda: page.evaluate("window.voiceroom.conn.state === 'closed'"), 3, "no more retries"
    )
    # The error alone: not "Joining the room…" under it, no button that cannot work.
    assert await page.get_by_text("Joining the room").count() == 0
    assert await page.locator("#main button, #chat:not([hidden])").count() == 0
    other = issue_token(SECRET, room="not-yet", user="early", name="Early")
    await page.goto(f"{base}/?token={other}&lang=en")
    await page.locator(".alert-warn", has_text="not open yet").wait_for(timeout=5_000)
    await page.context.close()


async def host_page_runs_a_1v1(
    browser: Any, base: str, ws: str, listener: Any, errors: list[str], server: Server, ear: Bot
) -> None:
    """The host view, with a raised hand waiting and Kim in the audience; a 1v1 started,
    switched between listen-in and private in place, and ended, by clicks; then Kim is
    removed and the room ended, and every page must look it."""
    async with bot(ws, "omar", "Omar", tier="vip", speak=True, tone=600.0) as queued:
        assert queued.client
        await queued.client.wait_until(lambda s: s.queue_position is not None, timeout=10)
        kim = await open_page(browser, MOBILE, f"{base}/?token={KIM}&lang=en", errors)
        await kim.locator(".seat").first.wait_for()
        page = await open_page(browser, DESKTOP, f"{base}/?token={HANA}&lang=en", errors)
        page.on("dialog", lambda dialog: dialog.accept())  # "Remove …?", "End the room?"
        await page.locator("#host-panel .list-item[data-user=omar]").wait_for(timeout=10_000)
        await page.locator("#host-panel .list-item[data-user=kim]").wait_for(timeout=10_000)
        # Late joiner: rings for people already talking come with the welcome.
        # (Generous: on a loaded machine the media plane's voice detection runs late.)
        await page.locator(".seat[data-user=sam].speaking").wait_for(timeout=10_000)
        # Everyone sees the member count; the listener's follows room.count.
        room = server.registry.get(ROOM)
        assert room is not None
        await until(
            lambda: listener_count_is(listener, len(room.room.members)),
            15,
            "the listener's member count",
        )
        await host_controls_are_unambiguous(page)
        picker = page.locator("#host-panel select#music-track")
        assert await picker.locator("option").all_text_contents() == ["demo-warmup.ogg"]
        await shoot_both_languages(page, "web-host")  # ends in Arabic
        await page.locator("#host-panel form:has(select) button[type=submit]").click()
        await listener.locator(".music-line", has_text="demo-warmup.ogg").wait_for(timeout=15_000)
        await page.select_option("#lang", "en")
        await page.locator("html[lang=en]").wait_for()

        await switch_a_1v1_in_place(page, listener, kim, ear)

        # Removed: Kim's page says so, and nothing of the room is left on it.
        kim_row = page.locator("#host-panel .list-item[data-user=kim]")
        await kim_row.locator("button", has_text="Remove").click()
        await page_is_out(kim, "kicked")
        await artifact(kim, "web-kicked-en.png")
        # The room ends: every page looks ended, with no way back into a room that is gone.
        await page.get_by_role("button", name="End the room").click()
        await page_is_out(listener, "ended")
        await page_is_out(page, "ended")
        await artifact(listener, "web-ended-en.png")
        await kim.context.close()


async def host_controls_are_unambiguous(page: Any) -> None:
    """Both 1v1 modes wherever a 1v1 can start; the two Mute buttons read differently."""
    for who in ("omar", "kim"):  # a raised hand, and someone in the audience
        labels = await page.locator(
            f"#host-panel .list-item[data-user={who}] button"
        ).all_inner_texts()
        assert "Private 1v1" in labels and "1v1 (room listens)" in labels, (who, labels)
    await page.locator(".seat[data-user=host-1] .seat-body").click()  # the host's own seat
    seat_mute = (await page.locator(".seat-actions button").first.inner_text()).strip()
    my_mute = (await page.locator(".mic-toggle").inner_text()).strip()
    assert (seat_mute, my_mute) == ("Mute seat", "Mute my mic")
    await page.locator(".seat[data-user=host-1] .seat-body").click()  # close the bar again


async def switch_a_1v1_in_place(page: Any, listener: Any, kim: Any, ear: Bot) -> None:
    """Listen-in, then private without ending it; Kim (audience) sees the pair's rings
    only while she can hear them, and Noor (a Python listener) hears the pair only then:
    the media plane follows the switch in place."""
    assert ear.media
    # Both of the pair's pages have a 1 kHz fake microphone; Sam (on a seat) is at 440 Hz.
    await page.locator(".seat[data-user=layla] .seat-body").click()
    await page.locator(".seat-actions button", has_text="1v1 (room listens)").click()
    await listener.locator(".phase-consult").wait_for(timeout=15_000)
    await page.locator("#consult-controls").wait_for()
    # One control to end it (the host is in the pair: none in "my" card as well).
    assert await page.get_by_role("button", name="Back to the show").count() == 1
    assert await page.locator("#me .notice-consult").count() == 0
    # Listen-in: the room hears Layla (her fake microphone plays a tone), so Kim sees her ring.
    await kim.locator(".seat[data-user=layla].speaking").wait_for(timeout=20_000)
    kid = await page.evaluate("window.voiceroom.st.stageConsultation.id")
    await ear.media.wait_for_tone(BROWSER_HZ, threshold=0.02, timeout=15)

    await page.locator("#consult-controls [data-mode=private]").click()
    await kim.locator(".phase-consult", has_text="private").wait_for(timeout=15_000)
    # (Layla's page is in Arabic since its screenshots: ask its state, not its words.)
    await until(
        lambda: listener.evaluate("window.voiceroom.st.stageConsultation?.mode === 'private'"),
        15,
        "Layla's page to see the private mode",
    )
    assert await page.evaluate("window.voiceroom.st.stageConsultation.id") == kid  # in place
    pressed = page.locator("#consult-controls [data-mode=private][aria-pressed=true]")
    assert await pressed.count() == 1
    await artifact(page, "web-host-1v1-en.png")
    # Private: Kim cannot hear the pair, so no ring on either of them, and none comes back.
    pair_rings = ".seat.speaking[data-user=layla], .seat.speaking[data-user=host-1]"
    await until(lambda: kim_sees_no(kim, pair_rings), 15, "the pair's rings gone for Kim")
    for _ in range(8):
        await asyncio.sleep(0.25)
        assert await kim.locator(pair_rings).count() == 0
    media = ear.media

    async def pair_unheard() -> bool:
        return media.tone_level(BROWSER_HZ, 0.5) < 0.005

    await until(pair_unheard, 15, "the private pair gone from the audience's audio")
    await ear.media.wait_for_tone(BOT_HZ, threshold=0.02, timeout=10)  # the show goes on
    # Layla, in the pair, still sees the host talking to her.
    await listener.locator(".seat[data-user=host-1].speaking").wait_for(timeout=20_000)

    await page.get_by_role("button", name="Back to the show").click()
    await listener.locator(".phase-consult").wait_for(state="detached", timeout=15_000)
    await ear.media.wait_for_tone(BROWSER_HZ, threshold=0.02, timeout=15)  # seats heard again


async def kim_sees_no(page: Any, selector: str) -> bool:
    return bool(await page.locator(selector).count() == 0)


async def page_is_out(page: Any, kind: str) -> None:
    """Out of the room for good: one card saying so, no live room left on the page."""
    await page.locator(f"#gone.gone-{kind}").wait_for(timeout=15_000)
    await until(lambda: page.evaluate("window.voiceroom.conn.state === 'closed'"), 15, "the close")
    for stale in (".phase", ".seat", "#member-count", "#host-panel", ".mic-toggle", ".alert"):
        assert await page.locator(stale).count() == 0, stale
    # No Rejoin: it could only fail (the room answers 410 once ended; a removal is a ban).
    assert await page.locator("#main button").count() == 0
    chat = page.locator("#chat-input")
    assert await chat.is_disabled() and await page.locator("#chat-send").is_disabled()
    closed = {"en": "Chat is closed", "ar": "الدردشة مغلقة"}
    lang = await page.evaluate("document.documentElement.lang")
    assert await chat.get_attribute("placeholder") == closed[lang]
    look = await chat.evaluate(
        "e => { const c = getComputedStyle(e); return [c.borderStyle, +c.opacity, c.cursor]; }"
    )
    assert look[0] == "dashed" and look[1] < 1 and look[2] == "not-allowed", look


# Whether an input's placeholder fits inside it, measured with the input's own font.
PLACEHOLDER_FIT = """el => {
  const c = getComputedStyle(el);
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = `${c.fontStyle} ${c.fontWeight} ${c.fontSize} ${c.fontFamily}`;
  const room = el.clientWidth - parseFloat(c.paddingInlineStart) - parseFloat(c.paddingInlineEnd);
  return {need: ctx.measureText(el.placeholder).width, room, text: el.placeholder};
}"""


async def phone_layout_keeps_everything_readable(page: Any) -> None:
    """At 400 px, in both languages: the private-call note's placeholder is whole, a long
    name can be read in full, an unknown tier is a translated badge, nothing overflows."""
    assert page.viewport_size["width"] == 400
    await page.locator(".seat[data-user=sam]").wait_for(timeout=10_000)
    for lang, member in (("en", "Member"), ("ar", "عضو")):
        await page.select_option("#lang", lang)
        await page.locator(f"html[lang={lang}]").wait_for()
        fit = await page.locator(".request-row input").evaluate(PLACEHOLDER_FIT)
        assert fit["need"] <= fit["room"], (lang, fit)
        name = page.locator(".seat[data-user=sam] .seat-name")
        assert await name.get_attribute("title") == SAM_NAME
        assert (await page.locator(".seat[data-user=sam] .tier").inner_text()).strip() == member
        assert await page.evaluate("document.documentElement.scrollWidth") <= 400, lang
    await page.select_option("#lang", "en")
    await page.locator("html[lang=en]").wait_for()


async def artifact(page: Any, name: str) -> None:
    """A picture for people reviewing a run (test-artifacts/, never committed)."""
    out = ROOT / "test-artifacts" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    await shoot(page, out / name)


async def listener_count_is(page: Any, n: int) -> bool:
    """The state holds ``n`` and the heading shows it, in the page's digits."""
    shown: bool = await page.evaluate(
        "n => window.voiceroom.st.memberCount === n && document.getElementById('member-count')"
        ".textContent.includes(new Intl.NumberFormat(document.documentElement.lang).format(n))",
        n,
    )
    return shown


async def shoot_both_languages(page: Any, stem: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await shoot(page, SHOTS / f"{stem}-en.png")
    await page.select_option("#lang", "ar")
    await page.locator("html[dir=rtl]").wait_for()
    await shoot(page, SHOTS / f"{stem}-ar.png")


async def shoot(page: Any, path: Path) -> None:
    # Let animations and the last events settle; full page so the chat is in the picture.
    await page.wait_for_timeout(400)
    await page.screenshot(path=str(path), full_page=True, animations="disabled")


# ---------------------------------------------------------------------------------------
# The page's own controls and words, without audio (a server with media off): leaving,
# names for screen readers, a 1v1 as each side reads it, the shop's list on a phone.

EN = json.loads((ROOT / "clients/web/i18n/en.json").read_text(encoding="utf-8"))
LONG_TITLE = "Classic gold watch with engraved mother-of-pearl dial (limited edition)"


@pytest.fixture
async def quiet_server() -> AsyncIterator[Server]:
    srv = Server(
        Config(
            port=0,
            secret=SECRET,
            media=False,
            music_dir=DEMO_MUSIC_DIR,  # announced and shown, nothing mixed
            shutdown_timeout=1.0,
            log_level="warning",
        )
    )
    await srv.start()
    try:
        yield srv
    finally:
        await srv.shutdown()


async def test_leave_names_and_a_1v1_as_each_side_reads_it(quiet_server: Server) -> None:
    base = f"http://127.0.0.1:{quiet_server.port}"
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            host = await open_page(browser, MOBILE, f"{base}/?token={HANA}&lang=en", errors)
            host.on("dialog", lambda dialog: dialog.accept())
            await host.locator("#shop-panel").wait_for(timeout=10_000)
            await shop_list_fits_a_phone(host)
            await fields_are_named_by_their_labels(host)
            layla = await open_page(browser, MOBILE, f"{base}/?token={LAYLA}&lang=en", errors)
            await layla.locator(".seat").first.wait_for(timeout=10_000)
            await seats_are_named_as_shown(host, layla)
            await a_1v1_as_each_side_reads_it(browser, base, host, layla, errors)
            await leaving_is_not_ending(host, layla)
        finally:
            await browser.close()
        assert errors == []


async def shop_list_fits_a_phone(host: Any) -> None:
    """Finding 10: at 400 px a long product title wrapped under its price."""
    form = host.locator("#product-form")
    await form.locator("input[name=product-id]").fill("watch")
    await form.locator("input[name=product-en]").fill(LONG_TITLE)
    await form.locator("input[name=product-ar]").fill("ساعة ذهبية كلاسيكية")
    await form.locator("input[name=product-price]").fill("1300")
    await form.locator("input[name=product-stock]").fill("24")
    await form.locator("button[type=submit]").click()
    row = host.locator("#shop-panel .product-row[data-product=watch]")
    await row.wait_for(timeout=5_000)
    boxes = await row.evaluate(
        """r => { const b = (s) => r.querySelector(s).getBoundingClientRect();
        const t = b('.grow'), p = b('.price'), el = r.querySelector('.grow');
        const apart = t.right <= p.left || p.right <= t.left
          || t.bottom <= p.top || p.bottom <= t.top;
        return {overlap: !apart, clipped: el.scrollWidth > el.clientWidth + 1}; }"""
    )
    assert boxes == {"overlap": False, "clipped": False}, boxes
    assert await host.evaluate("document.documentElement.scrollWidth") <= 400


async def fields_are_named_by_their_labels(host: Any) -> None:
    """Finding 11: the shop's fields were named "sale-qty", "99.00": now their labels."""
    for key in (
        "shopctl.sale_price",
        "shopctl.quantity",
        "shopctl.vip_first",
        "shopctl.uses",
        "shopctl.title_en",
    ):
        assert await host.get_by_label(EN[key], exact=True).count() >= 1, key
    named = await host.locator("#shop-panel input, #shop-panel select").evaluate_all(
        """els => els.map(e => [e.name, e.getAttribute('aria-label'),
                                e.labels?.[0]?.textContent.trim() ?? null])"""
    )
    for name, aria, label in named:
        assert aria is None and label, (name, aria, label)


async def seats_are_named_as_shown(host: Any, layla: Any) -> None:
    """Finding 11: "Seat 0: Hana (host)" for an unnumbered seat, "Seat 2: free" for a locked
    one, "Seat 1: free" where the page shows "Take seat"."""

    def aria(page: Any, n: int) -> Any:
        return page.locator(f".seat[data-seat='{n}'] .seat-body").get_attribute("aria-label")

    await host.get_by_role("button", name="Host's seat: Hana").wait_for(timeout=5_000)
    await host.locator(".seat[data-seat='2'] .seat-body").click()
    await host.get_by_role("button", name=EN["action.lock_seat"]).click()
    await layla.locator(".seat[data-seat='2'].seat-locked").wait_for(timeout=5_000)
    assert await aria(layla, 2) == "Seat 2: Locked"
    assert await aria(layla, 1) == "Seat 1: Take seat"
    assert (await layla.locator(".seat[data-seat='1'] .seat-name").inner_text()) == "Take seat"


async def a_1v1_as_each_side_reads_it(
    browser: Any, base: str, host: Any, layla: Any, errors: list[str]
) -> None:
    """Finding 16: the pair read about themselves; a seated speaker a listen-in silences is
    told; the music is marked paused while the listen-in runs."""
    await layla.get_by_role("button", name="Seat 1: Take seat").click()
    await layla.locator(".seat[data-user=layla]").wait_for(timeout=5_000)
    await host.locator("#host-panel form:has(select) button[type=submit]").click()
    await layla.locator(".music-line:not(.music-paused)").wait_for(timeout=5_000)
    await host.get_by_role("button", name=EN["host.start_show"]).click()
    kim = await open_page(browser, MOBILE, f"{base}/?token={KIM}&lang=en", errors)
    await kim.locator(".seat").first.wait_for(timeout=10_000)
    kim_row = host.locator("#host-panel .list-item[data-user=kim]")
    await kim_row.get_by_role("button", name="1v1 (room listens)").click()
    await banner_says(kim, "You are one-on-one with Hana")
    await banner_says(host, "You are one-on-one with Kim")
    await banner_says(layla, "Hana is talking one-on-one with Kim")
    await layla.locator("#me .notice-unheard", has_text=EN["consult.not_heard"]).wait_for()
    await layla.locator(".music-line.music-paused", has_text=EN["music.paused"]).wait_for()
    assert await kim.locator("#me .notice-unheard").count() == 0
    # Private: the room hears the seats and the music again; the pair do not hear the music.
    await host.locator("#consult-controls [data-mode=private]").click()
    await banner_says(kim, "You are in a private call with Hana")
    await banner_says(layla, "Hana is in a private consultation with Kim")
    await layla.locator("#me .notice-unheard").wait_for(state="detached", timeout=5_000)
    await layla.locator(".music-line:not(.music-paused)").wait_for()
    assert await kim.locator(".music-line").count() == 0
    await host.get_by_role("button", name=EN["action.back_to_show"]).click()
    await kim.locator(".music-line:not(.music-paused)").wait_for(timeout=5_000)
    await kim.context.close()


async def banner_says(page: Any, text: str) -> None:
    """The phase banner's 1v1 line (names isolated with U+2068/U+2069) contains ``text``."""
    line = (
        "() => document.querySelector('.phase-consult')?.textContent"
        ".replace(/[\\u2068\\u2069]/g, '')"
    )

    async def says() -> bool:
        return text in (await page.evaluate(line) or "")

    await until(says, 5, f"the banner to say {text!r}")


async def leaving_is_not_ending(host: Any, layla: Any) -> None:
    """Finding 1: everyone can leave (the arrow points the reading way); the card says so,
    with Rejoin; a host leaving does not end the room (End the room is its own button)."""
    await layla.select_option("#lang", "ar")
    await layla.locator("html[dir=rtl]").wait_for()
    leave = layla.locator("#leave-room")
    assert (await leave.inner_text()).strip() == "مغادرة الغرفة"
    flip = await leave.locator(".icon-exit").evaluate("e => getComputedStyle(e).transform")
    assert flip.startswith("matrix(-1"), flip
    await layla.select_option("#lang", "en")
    await layla.locator("html[dir=ltr]").wait_for()
    await layla.get_by_role("button", name=EN["room.leave"]).click()
    await layla.locator("#gone.gone-left", has_text=EN["gone.left_title"]).wait_for(timeout=5_000)
    await until(lambda: layla.evaluate("window.voiceroom.conn.state === 'closed'"), 5, "closed")
    await host.locator(".seat[data-seat='1']:not([data-user=layla])").wait_for(timeout=5_000)
    await layla.get_by_role("button", name=EN["closed.rejoin"]).click()
    await layla.locator("#leave-room").wait_for(timeout=10_000)  # back in the room

    end = host.get_by_role("button", name=EN["host.end_room"])
    assert await end.count() == 1 and await host.locator("#leave-room").count() == 1
    await host.locator("#leave-room").click()  # confirmed ("it stays open")
    await host.locator("#gone.gone-left").wait_for(timeout=5_000)
    await layla.locator("#member-count").wait_for()
    assert await layla.locator("#gone").count() == 0  # the room goes on without the host
    assert await layla.evaluate("window.voiceroom.st.phase") == "show"
