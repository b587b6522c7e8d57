"""``serve --workers N`` measured: what routing costs, and what a second worker buys.

Part 1, signalling only (``--no-media``, SQLite store as ``serve`` uses by default), the same
run against ``--workers 1`` (one process, no front) and ``--workers 2`` (front + 2 workers):

* per join: a member's WebSocket connect -> welcome, sequential and 100 at once (client
  side), and the front's own accept -> hand-off time (its ``voiceroom_handoff_seconds``);
* per message: ``ping`` and ``chat.send`` round trips on an open connection (after the
  hand-off the worker owns the socket: the front is not on this path at all).

Part 2, media: two busy rooms (8 talkers sending a tone + ``--listeners`` light listeners
each, all joined through the real signalling) on ``--workers 1`` and on ``--workers 2``.
Per room, over ``--seconds``: media ticks that woke late (per minute, from the server's own
``late_ticks`` counters), and the listeners that got at least 95 % of their packets
("healthy"); server CPU summed over its processes.

    python scripts/bench_workers.py [--listeners 150] [--seconds 20] [--json bench_workers.json]

Load clients run on the same machine as the server: on a 2-core box they compete with it,
so part 2 shows the difference between one and two workers under the same load, not a
capacity figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib.proc import ROOT, Child, child_env, cpu_seconds
from benchlib.realserver import free_port
from benchlib.stats import median, pct
from websockets.asyncio.client import connect

from voiceroom.auth import issue_token
from voiceroom.protocol import decode_server, encode_request

SECRET = "bench-workers-secret-0123456789abcdefghij"
TALKERS = 8
FREQS = [300.0 + 100 * i for i in range(TALKERS)]


def http(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return str(r.read().decode())


@contextlib.asynccontextmanager
async def server(workers: int, media: bool) -> AsyncIterator[tuple[int, int]]:
    port = free_port()
    data = tempfile.mkdtemp(prefix="bench-workers-")
    env = {
        **child_env(),
        "VOICEROOM_SECRET": SECRET,
        "VOICEROOM_LOG_LEVEL": "warning",
        "VOICEROOM_RATE": "1000000",  # joiners and pingers from one address: no throttling
        "VOICEROOM_BURST": "1000000",
        "VOICEROOM_API": "false",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceroom",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--store",
        "sqlite",
        "--data-dir",
        data,
        "--media" if media else "--no-media",
        env=env,
        cwd=str(ROOT),
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                await asyncio.to_thread(http, port, "/healthz")
                break
            except OSError:
                if proc.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError("server did not start") from None
                await asyncio.sleep(0.3)
        yield port, proc.pid
    finally:
        proc.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 30)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def pids(port: int, front: int) -> list[int]:
    """The server's processes: the front (or the one server) and its workers."""
    found = [int(p) for p in re.findall(r"pid (\d+)", http(port, "/healthz"))]
    return [front, *found]


def loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def token(room: str, user: str, role: str = "listener") -> str:
    return issue_token(SECRET, room=room, user=user, name=user, role=role, ttl=7200)


async def open_member(port: int, room: str, user: str, role: str = "listener") -> Any:
    ws = await connect(
        f"ws://127.0.0.1:{port}/ws?token={token(room, user, role)}", compression=None
    )
    first = decode_server(await ws.recv())
    assert first["type"] == "welcome", first
    return ws


async def timed_join(port: int, room: str, user: str) -> float:
    t0 = time.perf_counter()
    ws = await open_member(port, room, user)
    took = time.perf_counter() - t0
    await ws.close()
    return took


async def round_trips(ws: Any, kind: str, n: int) -> list[float]:
    out = []
    for i in range(n):
        body = {"text": f"m{i}"} if kind == "chat.send" else None
        t0 = time.perf_counter()
        await ws.send(encode_request(kind, i + 1, body))
        while True:
            frame = decode_server(await ws.recv())
            if frame.get("id") == i + 1:
                break
        out.append(time.perf_counter() - t0)
    return out


def us(x: float | None) -> float | None:
    return None if x is None else round(x * 1e6, 1)


async def signalling(workers: int, joins: int, messages: int) -> dict[str, Any]:
    async with server(workers, media=False) as (port, pid):
        procs = pids(port, pid)
        host = await open_member(port, "r", "host", "host")
        for i in range(5):  # warm-up: first calls (imports, caches) are not the steady cost
            await timed_join(port, "r", f"warm{i}")
        base = handoffs(http(port, "/metrics"))
        cpu0 = [cpu_seconds(p) for p in procs]
        seq = [await timed_join(port, "r", f"s{i}") for i in range(joins)]
        cpu1 = [cpu_seconds(p) for p in procs]
        after_seq = handoffs(http(port, "/metrics"))
        wave = await asyncio.gather(*(timed_join(port, "r", f"w{i}") for i in range(100)))
        after_wave = handoffs(http(port, "/metrics"))
        ping = await round_trips(host, "ping", messages)
        chat = await round_trips(host, "chat.send", messages // 4)
        await host.close()
    handoff = wave_handoff = None
    if after_seq[1] > base[1]:
        handoff = (after_seq[0] - base[0]) / (after_seq[1] - base[1])
        n = after_wave[1] - after_seq[1]
        wave_handoff = (after_wave[0] - after_seq[0]) / n if n else None
    out = {
        "workers": workers,
        "join_p50_us": us(median(seq)),
        "join_p90_us": us(pct(seq, 90)),
        "wave100_join_p50_us": us(median(wave)),
        "ping_rtt_p50_us": us(median(ping)),
        "chat_rtt_p50_us": us(median(chat)),
        # CPU per sequential join: every server process, and the front alone (with workers;
        # a /metrics and /healthz scrape fall inside the window: a few ms in all).
        "server_cpu_per_join_us": us((sum(cpu1) - sum(cpu0)) / joins),
        "front_cpu_per_join_us": us((cpu1[0] - cpu0[0]) / joins) if workers > 1 else None,
        # Wall time: it includes the scheduler running the woken worker during sendmsg.
        "front_handoff_mean_us": us(handoff),
        "front_handoff_mean_in_wave_us": us(wave_handoff),
    }
    print(json.dumps(out), flush=True)
    return out


def handoffs(metrics: str) -> tuple[float, float]:
    """(seconds, count) of the front's hand-offs so far ((0, 0) without a front)."""
    total = re.search(r"^voiceroom_handoff_seconds_sum (\S+)", metrics, re.M)
    count = re.search(r"^voiceroom_handoff_seconds_count (\S+)", metrics, re.M)
    if total is None or count is None:
        return 0.0, 0.0
    return float(total.group(1)), float(count.group(1))


def late(metrics: str, room: str) -> tuple[float, float]:
    """(late_ticks, ticks) of ``room``'s media plane, summed over workers."""
    got = {"late_ticks": 0.0, "ticks": 0.0}
    for stat in got:
        pattern = rf'^voiceroom_media{{[^}}]*room="{room}"[^}}]*stat="{stat}"[^}}]*}} (\S+)'
        for m in re.finditer(pattern, metrics, re.M):
            got[stat] += float(m.group(1))
    return got["late_ticks"], got["ticks"]


async def two_rooms(workers: int, listeners: int, seconds: float) -> dict[str, Any]:
    rooms = ["room-a", "room-b"]
    async with server(workers, media=True) as (port, pid):
        url = f"ws://127.0.0.1:{port}/ws"
        talk = await Child.start("loadclient", name="talkers")
        ears = [await Child.start("loadclient", name=f"listeners-{r}") for r in rooms]
        try:
            for room in rooms:
                users = [f"{room}-t{i}" for i in range(TALKERS)]
                vr = {
                    "url": url,
                    "secret": SECRET,
                    "room": room,
                    "host": users[0],
                    "seats": {u: i for i, u in enumerate(users)},
                }
                # The host first (it opens the room), then the other talkers take seats.
                for group in (users[:1], users[1:]):
                    r = await talk.request(
                        "join",
                        wait=180,
                        users=group,
                        role="speaker",
                        content="tone",
                        freqs=FREQS,
                        voiceroom=vr,
                        concurrency=4,
                    )
                    if r["failed"]:
                        raise RuntimeError(f"talkers of {room}: {r['failed']}")
            for room, ear in zip(rooms, ears, strict=True):
                vr = {"url": url, "secret": SECRET, "room": room}
                r = await ear.request(
                    "join",
                    wait=600,
                    users=[f"{room}-l{i}" for i in range(listeners)],
                    role="listener",
                    voiceroom=vr,
                    concurrency=10,
                )
                if r["failed"]:
                    print(f"{room}: {len(r['failed'])} listener joins failed: {r['failed'][:2]}")
            await asyncio.sleep(3.0)  # settle
            server_pids = pids(port, pid)
            m0 = http(port, "/metrics")
            a = [await ear.request("count", per=True) for ear in ears]
            cpu0 = {p: cpu_seconds(p) for p in server_pids}
            t0 = time.monotonic()
            await asyncio.sleep(seconds)
            t1 = time.monotonic()
            cpu1 = {p: cpu_seconds(p) for p in server_pids}
            b = [await ear.request("count", per=True) for ear in ears]
            m1 = http(port, "/metrics")
        finally:
            for child in (talk, *ears):
                await child.close()
    per_room = []
    for room, before, after in zip(rooms, a, b, strict=True):
        window = after["t"] - before["t"]
        got = [y - x for x, y in zip(before["per"], after["per"], strict=True)]
        healthy = sum(1 for g in got if g >= 0.95 * 50 * window)
        l0, k0 = late(m0, room)
        l1, k1 = late(m1, room)
        per_room.append(
            {
                "room": room,
                "listeners": len(got),
                "healthy_listeners": healthy,
                "late_ticks_per_min": round((l1 - l0) * 60 / (t1 - t0), 1),
                "ticks": k1 - k0,
                "delivered_pct": round(100 * sum(got) / max(1, 50 * window * len(got)), 1),
            }
        )
    cpu = sum(cpu1[p] - cpu0[p] for p in cpu1) / (t1 - t0) * 100 if cpu1 else None
    out = {
        "workers": workers,
        "rooms": per_room,
        "healthy_listeners_total": sum(r["healthy_listeners"] for r in per_room),
        "server_cpu_pct": None if cpu is None else round(cpu, 1),
    }
    print(json.dumps(out), flush=True)
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--joins", type=int, default=200)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--listeners", type=int, default=150, help="per room")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--skip", choices=["signalling", "media"], action="append", default=[])
    ap.add_argument("--json", default="bench_workers.json")
    args = ap.parse_args()
    result: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    result["load_before"] = loadavg()
    if "signalling" not in args.skip:
        one = await signalling(1, args.joins, args.messages)
        two = await signalling(2, args.joins, args.messages)
        result["signalling"] = {"workers_1": one, "workers_2": two}
    if "media" not in args.skip:
        result["media"] = {
            "workers_1": await two_rooms(1, args.listeners, args.seconds),
            "workers_2": await two_rooms(2, args.listeners, args.seconds),
        }
    result["load_after"] = loadavg()
    await asyncio.to_thread(Path(args.json).write_text, json.dumps(result, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    asyncio.run(main())
