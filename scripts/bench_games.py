#!/usr/bin/env python3
"""Games load: N shopper bots vote and guess in one room; how long until the host sees
every vote, and how many room events that took (the tallies are throttled to one a second).

Runs a server and the bots in this process on loopback (so they share the CPU), prints
the figures and writes JSON.

    PYTHONPATH=. .venv/bin/python scripts/bench_games.py [--bots 300] [--out bench-games.json]

Figures:
- ``join_s``: all bots joined (handshake + welcome), 30 at a time.
- ``vote.all_counted_s``: from the host's ``vote.open`` reply to the host's tallies summing
  to N (bounded below by the 1 s tally throttle); ``vote.room_events``: sequenced room
  events between ``vote.open`` and ``vote.close`` (most are each voter's own
  ``vote.yours``); ``vote.events_to_each_member``: what one member (the host) received in
  that window, ``vote.tallies_to_each_member`` of them ``vote.tally``;
  ``vote.correct``: the final tallies equal the bots' choices.
- ``guess.*``: the same for a guess-the-price round, ``guess.correct``: the ranking's
  ``off_by`` values are the smallest of the bots' guesses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceroom.auth import issue_token  # noqa: E402
from voiceroom.client import Bot, BotConfig, RoomClient  # noqa: E402
from voiceroom.client.bot import pick_amount, pick_option  # noqa: E402
from voiceroom.config import Config  # noqa: E402
from voiceroom.observability import configure_logging  # noqa: E402
from voiceroom.server import Server  # noqa: E402

SECRET = "bench-games-secret-0123456789abcdefghij"
ROOM = "bench"
PRICE = 10_000


def token(user: str, role: str = "listener") -> str:
    return issue_token(SECRET, room=ROOM, user=user, name=user, role=role, tier="new")


async def run(n: int) -> dict[str, Any]:
    configure_logging("warning")
    server = Server(Config(port=0, secret=SECRET, media=False, log_level="warning"))
    await server.start()
    url = f"ws://127.0.0.1:{server.port}"
    host = await RoomClient.join(url, token("host", "host"))
    await host.start_show()
    bots = [
        Bot(BotConfig(url, token(f"b{i:04}"), media=False, vote=True, guess=True), log=None)
        for i in range(n)
    ]
    t0 = time.perf_counter()
    for start in range(0, n, 30):
        await asyncio.gather(*(b.start() for b in bots[start : start + 30]))
    figures: dict[str, Any] = {"bots": n, "join_s": round(time.perf_counter() - t0, 3)}
    users = [b.report.user for b in bots]
    seen: list[str] = []  # event types the host received (what every member receives)

    async def watch() -> None:
        async for event in host.events():
            seen.append(event.type)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0)
    try:
        # Vote: the bots cast as soon as they see vote.opened.
        options = ["Red", "Blue", "Green"]
        mark = len(seen)
        opened = await host.request("vote.open", question="Next?", options=options)
        t0 = time.perf_counter()
        await host.wait_until(lambda s: sum(s.games.get("vote_tallies") or ()) == n, timeout=300)
        counted = time.perf_counter() - t0
        closed = await host.request("vote.close")
        state = await host.wait_until(lambda s: s.games.get("last_vote") is not None)
        expected = [sum(1 for u in users if pick_option(u, 3) == i) for i in range(3)]
        figures["vote"] = {
            "all_counted_s": round(counted, 3),
            "room_events": closed["seq"] - opened["seq"],
            "events_to_each_member": len(seen) - mark,
            "tallies_to_each_member": seen[mark:].count("vote.tally"),
            "correct": state.games["last_vote"]["tallies"] == expected,
        }
        # Guess the price.
        mark = len(seen)
        opened = await host.request("guess.open", product="Bag", price=PRICE, currency="USD")
        t0 = time.perf_counter()
        await host.wait_until(lambda s: s.games.get("guess_count") == n, timeout=300)
        counted = time.perf_counter() - t0
        closed = await host.request("guess.close")
        state = await host.wait_until(lambda s: s.games.get("last_guess") is not None)
        offs = sorted(abs(pick_amount(u) - PRICE) for u in users)
        ranking = state.games["last_guess"]["ranking"]
        figures["guess"] = {
            "all_counted_s": round(counted, 3),
            "room_events": closed["seq"] - opened["seq"],
            "events_to_each_member": len(seen) - mark,
            "correct": [r["off_by"] for r in ranking] == offs[: len(ranking)],
        }
        figures["bot_errors"] = sum(len(b.report.errors) for b in bots)
    finally:
        watcher.cancel()
        await asyncio.gather(*(b.stop() for b in bots))
        await host.close()
        await server.shutdown()
    return figures


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bots", type=int, default=300)
    p.add_argument("--out", type=Path, default=Path("bench-games.json"))
    args = p.parse_args()
    figures = asyncio.run(run(args.bots))
    figures["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    print(json.dumps(figures, indent=2))
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if figures["vote"]["correct"] and figures["guess"]["correct"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
