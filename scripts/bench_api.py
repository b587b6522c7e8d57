#!/usr/bin/env python3
"""HTTP API benchmark: requests/s for join-link minting and room reads while a room with
8 speakers (real WebRTC, publishing tones) and 200 light listeners (WebSocket only) is live,
and what that load does to the 20 ms media tick.

    python scripts/bench_api.py [--seconds 8] [--concurrency 8] [--listeners 200] [--json OUT]

Processes: the server (``voiceroom`` Server with media and the API, in a child of its own,
ICE pinned to loopback), the 8 speaker bots, the 200 listener bots, and this process, which
drives the API with ``httpx.AsyncClient`` (``--concurrency`` requests in flight).

Tick lateness: MediaRoom keeps only a count of late ticks (> 10 ms) and the tick's cost, not
when each tick ran. The server child runs a probe on the same event loop with the tick's
own schedule (sleep to the next 20 ms deadline, record how late it woke); its lateness is
what any tick scheduled then would have seen. We report its p50/p99/max for a window with
the room live and no API traffic (baseline) and for each API load window, plus the
MediaRoom's own ``late_ticks``/``ticks`` deltas. Not a test: figures depend on the machine
(shared by other work while measured: say so when quoting them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from benchlib.proc import ROOT, Child, child_env, cpu_seconds, serve_stdio
from benchlib.realserver import free_port
from benchlib.stats import median, pct

SECRET = "bench-api-secret-0123456789abcdefghij"
KID, KEY = "bench", "bench-api-key-0123456789abcdefghijkl"
ROOM = "bench-api"
FRAME = 0.020
SELF = Path(__file__).resolve()


# ---------------------------------------------------------------------------- server child
class Probe:
    """Wakes on the media tick's 20 ms grid and records how late each wake-up was."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    async def run(self) -> None:
        start = time.monotonic()
        tick = 0
        while True:
            tick += 1
            deadline = start + tick * FRAME
            delay = deadline - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            late = time.monotonic() - deadline
            self.samples.append(late)
            tick += int(late / FRAME)  # like the tick: do not count one stall many times


async def server_child(port: int, api_port: int, max_seconds: float) -> None:
    from benchlib.proc import loopback_only, raise_nofile

    loopback_only()
    raise_nofile()
    from voiceroom.config import Config
    from voiceroom.server import Server

    config = Config(
        host="127.0.0.1",
        port=port,
        api_port=api_port,
        secret=SECRET,
        api_keys=(f"{KID}:{KEY}",),
        media=True,
        log_level="warning",
        rate=1e6,
        burst=1_000_000,
    )
    from voiceroom.observability import configure_logging

    configure_logging("warning", json=True)
    server = Server(config)
    await server.start()
    probe = Probe()
    probe_task = asyncio.create_task(probe.run())
    marks: dict[str, Any] = {}

    def media_stats() -> dict[str, float]:
        host = server.registry.get(ROOM)
        if host is None or host.media is None:
            return {}
        return host.media.stats()

    async def handle(op: str, req: dict[str, Any]) -> dict[str, Any]:
        if op == "mark":
            marks.update(n=len(probe.samples), stats=media_stats(), cpu=cpu_seconds(os.getpid()))
            return {"ok": True}
        if op == "window":
            window = probe.samples[marks["n"] :]
            now_stats, before = media_stats(), marks["stats"]
            ms = [x * 1000 for x in window]
            return {
                "probe_n": len(ms),
                "late_p50_ms": median(ms),
                "late_p99_ms": pct(ms, 99),
                "late_max_ms": max(ms) if ms else None,
                "ticks": now_stats.get("ticks", 0) - before.get("ticks", 0),
                "late_ticks": now_stats.get("late_ticks", 0) - before.get("late_ticks", 0),
                "missed_ticks": now_stats.get("missed_ticks", 0) - before.get("missed_ticks", 0),
                "tick_max_us": now_stats.get("tick_max_us"),
                "peers_ready": now_stats.get("peers_ready"),
                "publishers": now_stats.get("publishers"),
                "server_cpu_s": cpu_seconds(os.getpid()) - marks["cpu"],
            }
        raise ValueError(op)

    try:
        await serve_stdio(handle, max_seconds=max_seconds)
    finally:
        probe_task.cancel()
        await server.shutdown()


def bots_child(argv: list[str]) -> int:
    from benchlib.proc import loopback_only, raise_nofile

    loopback_only()
    raise_nofile()
    from voiceroom.cli import main

    return main(["bot", *argv])


# ---------------------------------------------------------------------------- driver
async def spawn(*args: str, stdio: bool = False) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(SELF),
        *args,
        stdin=asyncio.subprocess.PIPE if stdio else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE if stdio else asyncio.subprocess.DEVNULL,
        stderr=None if stdio else asyncio.subprocess.DEVNULL,
        env=child_env(),
        cwd=str(ROOT),
        limit=16 * 1024 * 1024,
    )


async def load(
    http: Any, method: str, path: str, body: Any, seconds: float, concurrency: int
) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            r = await http.request(method, path, json=body)
            lat.append((time.perf_counter() - t0) * 1000)
            if r.status_code >= 300:
                errors += 1

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.monotonic() - t0
    return {
        "requests": len(lat),
        "rps": len(lat) / wall,
        "latency_p50_ms": median(lat),
        "latency_p99_ms": pct(lat, 99),
        "errors": errors,
    }


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    from voiceroom.api.auth import issue_api_token

    port, api_port = free_port(), free_port()
    server_proc = await spawn(
        "--child", "server", str(port), str(api_port), str(args.seconds * 10 + 300), stdio=True
    )
    server = Child(server_proc, "server")
    bots: list[asyncio.subprocess.Process] = []
    result: dict[str, Any] = {"machine_note": "2 shared cores; other work ran meanwhile"}
    try:
        base = f"http://127.0.0.1:{api_port}"
        token = issue_api_token(KID, KEY, ttl=600)
        async with httpx.AsyncClient(
            base_url=base + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            limits=httpx.Limits(max_connections=args.concurrency),
        ) as http:
            for _ in range(300):
                try:
                    if (await http.get("/rooms")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            room = {
                "id": ROOM,
                "title": "bench",
                "market": {"name": "riyadh", "time_zone": "Asia/Riyadh"},
                "seat_count": 9,
                "policies": {"max_members": 1000},
            }
            (await http.post("/rooms", json=room)).raise_for_status()
            ws = f"ws://127.0.0.1:{port}"
            common = ["--secret", SECRET, "--room", ROOM, "--quiet"]
            speakers = ["--count", "8", "--user", "spk", "--speak", "--tone", "300"]
            bots.append(await spawn("--child", "bots", ws, *common, *speakers))
            listeners = ["--count", str(args.listeners), "--user", "lis", "--no-media"]
            bots.append(await spawn("--child", "bots", ws, *common, *listeners))
            # Wait until the room is full and 8 seats publish.
            deadline = time.monotonic() + 180
            while True:
                live = (await http.get(f"/rooms/{ROOM}")).json()["live"]
                seated = sum(s["status"] == "taken" for s in live["seats"])
                if live["member_count"] >= 8 + args.listeners and seated >= 8:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"room did not fill: {live['member_count']}, {seated}")
                await asyncio.sleep(1.0)
            await asyncio.sleep(3.0)  # media up and steady
            result["members"] = live["member_count"]
            result["seated"] = seated

            await server.request("mark")
            await asyncio.sleep(args.seconds)
            result["baseline"] = await server.request("window")

            link = {"user": "shopper", "name": "Layla", "tier": "vip", "ttl": 3600}
            scenarios = {
                "mint_link": ("POST", f"/rooms/{ROOM}/links", link),
                "get_room": ("GET", f"/rooms/{ROOM}", None),
                "list_rooms": ("GET", "/rooms", None),
            }
            for name, (method, path, body) in scenarios.items():
                await server.request("mark")
                figures = await load(http, method, path, body, args.seconds, args.concurrency)
                figures["tick"] = await server.request("window")
                result[name] = figures
    finally:
        for proc in bots:
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
        for proc in bots:
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await server.close()
    return result


def report(r: dict[str, Any]) -> None:
    def f(x: Any, nd: int = 1) -> str:
        return "-" if x is None else f"{x:.{nd}f}"

    print(f"room: {r['members']} members, {r['seated']} seated speakers; {r['machine_note']}")
    b = r["baseline"]
    print(
        f"{'baseline (no API load)':24} tick late p50 {f(b['late_p50_ms'], 2)} ms"
        f"  p99 {f(b['late_p99_ms'], 2)} ms  max {f(b['late_max_ms'])} ms"
        f"  late_ticks {b['late_ticks']:.0f}/{b['ticks']:.0f}"
    )
    for name in ("mint_link", "get_room", "list_rooms"):
        x = r[name]
        t = x["tick"]
        print(
            f"{name:12} {x['rps']:7.0f} req/s  p50 {f(x['latency_p50_ms'])} ms"
            f"  p99 {f(x['latency_p99_ms'])} ms  errors {x['errors']}"
            f" | tick late p50 {f(t['late_p50_ms'], 2)} ms  p99 {f(t['late_p99_ms'], 2)} ms"
            f"  max {f(t['late_max_ms'])} ms  late_ticks {t['late_ticks']:.0f}/{t['ticks']:.0f}"
        )


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        if sys.argv[2] == "server":
            port, api_port, max_s = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
            asyncio.run(server_child(port, api_port, max_s))
            return 0
        return bots_child(sys.argv[3:])
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=8.0, help="per measurement window")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--listeners", type=int, default=200)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    result = asyncio.run(drive(args))
    result["args"] = {k: str(v) for k, v in vars(args).items()}
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
