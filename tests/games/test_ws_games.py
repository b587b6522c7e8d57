"""The games over real websockets: wire bodies (lists, maps), audiences, the handshake's
tier check, and 300 bots voting and guessing in one process over loopback."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

from voiceroom.client import Bot, BotConfig, RoomClient
from voiceroom.client.bot import pick_amount, pick_option
from voiceroom.games import verify_draw
from voiceroom.games.guess import MAX_AMOUNT

from ..signalling.harness import Harness, ServerFactory


async def test_vote_lottery_guess_and_prompt_on_the_wire(h: Harness) -> None:
    host = await h.join("host", "host", tier="vip")
    ann = await h.join("ann")
    bob = await h.join("bob", tier="vip")
    await host.ok("room.start_show")
    await host.ok("vote.open", {"question": "Next?", "options": ["Red", "Blue"]})
    opened = await ann.next("vote.opened")
    assert opened["body"]["options"] == ["Red", "Blue"] and "seq" in opened
    await ann.ok("vote.cast", {"option": 1})
    assert (await ann.next("vote.yours"))["body"]["option"] == 1
    assert not bob.saw("vote.yours")  # only to the voter
    assert await bob.fail("vote.cast", {"option": 7}) == "no_such_option"
    assert await ann.fail("vote.close") == "forbidden"
    assert await host.fail("vote.open", {"question": "x", "options": "Red,Blue"}) == "bad_field"
    await bob.ok("vote.cast", {"option": 1})
    await host.ok("vote.close")
    closed = await bob.next("vote.closed")
    assert closed["body"]["tallies"] == [0, 2] and closed["body"]["winners"] == [1]

    await host.ok("lottery.open", {"prize": "Silk scarf", "rule": "tier", "tier": "vip"})
    commitment = (await ann.next("lottery.opened"))["body"]["commitment"]
    await host.ok("lottery.draw")
    drawn = (await ann.next("lottery.drawn"))["body"]
    assert drawn["entrants"] == ["bob"] and drawn["winners"] == ["bob"]
    assert verify_draw(drawn, commitment) == []

    await host.ok("guess.open", {"product": "Scarf", "price": 12_900, "currency": "EUR"})
    welcome = (await h.join("cat")).welcome["body"]["snapshot"]["games"]
    assert welcome["guess"]["product"] == "Scarf" and welcome["guess_price"] is None
    assert await ann.fail("guess.submit", {"amount": MAX_AMOUNT + 1}) == "invalid_argument"
    await ann.ok("guess.submit", {"amount": 13_000})
    assert await ann.fail("guess.submit", {"amount": 12_900}) == "already_guessed"

    await host.ok("prompt.send", {"id": "guess_the_price", "params": {"product": "Scarf"}})
    shown = await bob.next("prompt.shown")
    assert shown["body"]["params"] == {"product": "Scarf"}
    assert shown["body"]["id"] == "guess_the_price"
    assert await host.fail("prompt.send", {"id": "nope", "params": {}}) == "unknown_prompt"
    assert await host.fail("prompt.send", {"id": "vote_now", "params": {"q": 1}}) == "bad_field"


async def test_an_unknown_tier_in_the_token_is_refused_at_the_handshake(h: Harness) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    await h.join("host", "host")
    try:
        async with connect(f"{h.base}/ws?token={h.token('eve', tier='platinum')}"):
            raise AssertionError("joined with an unknown tier")
    except InvalidStatus as exc:
        assert exc.response.status_code == 403
        assert "unknown tier 'platinum'" in bytes(exc.response.body or b"").decode()
    url = f"{h.http}/api/join-check?token={h.token('eve', tier='platinum')}"
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
    answer = json.loads(body)
    assert answer["code"] == "unknown_tier" and answer["retry"] is False


BOTS = 300


async def test_300_bots_vote_and_guess(make_server: ServerFactory) -> None:
    h = await make_server()
    url = h.base
    host = await RoomClient.join(url, h.token("host", "host", tier="vip"))
    await host.start_show()
    bots = [
        Bot(BotConfig(url, h.token(f"b{i:03}"), media=False, vote=True, guess=True), log=None)
        for i in range(BOTS)
    ]
    for start in range(0, BOTS, 30):  # a few handshakes at a time on a shared box
        await asyncio.gather(*(b.start() for b in bots[start : start + 30]))
    try:
        options = ["Red bag", "Blue bag", "Green shoes"]
        await host.open_vote("What next?", options)
        await host.open_guess("Travel bag", 10_000, "USD")
        # Tallies reach the host at most once a second, the latest count each time.
        await host.wait_until(
            lambda s: (
                sum(s.games.get("vote_tallies") or ()) == BOTS
                and s.games.get("guess_count") == BOTS
            ),
            timeout=90,
        )
        await host.close_vote()
        await host.close_guess()
        state = await host.wait_until(
            lambda s: s.games.get("last_vote") is not None and s.games.get("last_guess") is not None
        )
        users = [b.report.user for b in bots]
        expected = [0] * len(options)
        for u in users:
            expected[pick_option(u, len(options))] += 1
        vote = state.games["last_vote"]
        assert vote["tallies"] == expected and vote["total"] == BOTS
        guess = state.games["last_guess"]
        offs = sorted(abs(pick_amount(u) - 10_000) for u in users)
        assert guess["guesses"] == BOTS
        assert [r["off_by"] for r in guess["ranking"]] == offs[: len(guess["ranking"])]
        assert abs(pick_amount(guess["winner"]) - 10_000) == offs[0]
        assert all(not b.report.errors for b in bots), [b.report.errors for b in bots][:3]
        # Every bot saw the result, in one sequenced event.
        assert all(b.client and b.client.state.games.get("last_vote") == vote for b in bots)
    finally:
        await asyncio.gather(*(b.stop() for b in bots))
        await host.close()


async def test_no_frame_before_the_welcome_with_a_durable_store(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    """Joins are journaled and answered after their commit; a room.count made meanwhile
    must not reach a newcomer ahead of their welcome (RoomClient refuses that order)."""
    h = await make_server(
        store=f"sqlite:///{tmp_path / 'store.db'}", data_dir=tmp_path, count_interval=0.0
    )
    host = await RoomClient.join(h.base, h.token("host", "host"))
    try:
        for start in range(0, 120, 40):
            clients = await asyncio.gather(
                *(RoomClient.join(h.base, h.token(f"u{i}")) for i in range(start, start + 40))
            )
            await asyncio.gather(*(c.close() for c in clients))
    finally:
        await host.close()
