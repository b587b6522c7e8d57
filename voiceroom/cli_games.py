"""``voiceroom verify-draw FILE`` and ``voiceroom prime-time``: the games' command-line
tools (file reading and printing here; the algorithms live in the pure games core)."""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from voiceroom.games.lottery import verify_draw
from voiceroom.games.schedule import suggest_prime_time
from voiceroom.room.errors import RuleError


def add_arguments(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> dict[str, argparse.ArgumentParser]:
    v = sub.add_parser(
        "verify-draw",
        help="recompute a lottery draw from its lottery.drawn event (JSON); exit 0 if it holds",
    )
    v.add_argument("file", help="JSON: the lottery.drawn frame or just its body")
    v.add_argument("--commitment", help="the commitment you saw when the lottery opened")

    p = sub.add_parser("prime-time", help="suggest show times that are prime time in markets")
    p.add_argument("--zone", action="append", required=True, help="IANA zone; repeat")
    p.add_argument("--window", default="20-23", help="local hours START-END (default 20-23)")
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--json", action="store_true", help="print JSON")
    return {"verify-draw": v, "prime-time": p}


def verify_draw_main(args: argparse.Namespace) -> int:
    try:
        data = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"voiceroom: cannot read {args.file}: {exc}")
        return 2
    body = data.get("body", data) if isinstance(data, dict) else data
    if not isinstance(body, dict):
        print("voiceroom: not a lottery.drawn event")
        return 2
    problems = verify_draw(body, args.commitment)
    if problems:
        for p in problems:
            print(f"FAILED: {p}")
        return 1
    n = len(body["entrants"])
    print(f"verified: {len(body['winners'])} winner(s) of {n} entrant(s): {body['winners']}")
    return 0


def prime_time_main(args: argparse.Namespace) -> int:
    try:
        start, end = (int(x) for x in args.window.split("-"))
        slots = suggest_prime_time(args.zone, time.time(), (start, end), args.days)
    except (ValueError, RuleError) as exc:
        print(f"voiceroom: {exc}")
        return 2
    if args.json:
        out = [{"start": s.start, "end": s.end, "local": s.local} for s in slots]
        print(json.dumps(out, indent=2))
        return 0
    if not slots:
        print("no common prime time in these zones; try a wider --window")
    for s in slots:
        utc = datetime.fromtimestamp(s.start, UTC).strftime("%Y-%m-%d %H:%M")
        mins = int((s.end - s.start) // 60)
        local = ", ".join(f"{z} {t}" for z, t in s.local.items())
        print(f"{utc} UTC for {mins} min  ({local})")
    return 0
