#!/usr/bin/env python3
"""Signalling benchmark: commands/s through one room, chat fan-out latency to N clients.

Starts ``voiceroom serve`` as a child process on loopback (clients run in this process),
measures, prints the figures, writes JSON, stops the server and exits.

    .venv/bin/python scripts/bench_signalling.py [--clients 1000] [--out bench.json]

Figures:
- ``commands_per_s.chat``: ``chat.send`` replies per second, ``--senders`` clients each
  keeping ``--window`` requests in flight; every message fans out to the whole room.
- ``commands_per_s.refused``: a command the rules refuse (``seat.take`` of the host seat):
  the decode -> room task -> rule check -> error path, without fan-out.
- ``fanout_ms``: a host sends ``--messages`` chat messages, one every ``--interval`` s, to a
  room of ``--clients`` listeners; latency = receive time - send time (CLOCK_MONOTONIC is
  shared by both processes), p50/p90/p99/max over every (message, listener) pair.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import signal
import socket
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import msgpack
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceroom.auth import issue_token  # noqa: E402
from voiceroom.protocol import encode_request  # noqa: E402

SECRET = "bench-secret-0123456789abcdefghijklmnop"
ROOM = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def token(user: str, role: str = "listener") -> str:
    return issue_token(SECRET, room=ROOM, user=user, name=user, role=role, ttl=3600)


async def start_server(port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "VOICEROOM_SECRET": SECRET,
        "VOICEROOM_RATE": "1000000",  # the benchmark floods on purpose
        "VOICEROOM_BURST": "1000000",
        "VOICEROOM_SEND_QUEUE": "100000",
        "VOICEROOM_LOG_LEVEL": "warning",
        "VOICEROOM_ROOM_CHAT_MAX_CHARS": "500",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voiceroom", "serve", "--port", str(port), env=env
    )
    url = f"http://127.0.0.1:{port}/healthz"
    for _ in range(200):
        with contextlib.suppress(OSError):
            await asyncio.to_thread(urllib.request.urlopen, url, None, 1)
            return proc
        await asyncio.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start")


async def open_client(base: str, user: str, role: str = "listener") -> ClientConnection:
    ws = await connect(
        f"{base}/ws?token={token(user, role)}",
        compression=None,
        max_size=None,
        open_timeout=60,
        ping_interval=None,
    )
    first = msgpack.unpackb(await ws.recv(), raw=False)
    assert first["type"] == "welcome", first
    return ws


async def drain(ws: ClientConnection) -> None:
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


async def commands_per_s(
    base: str, type_: str, body: dict[str, Any], senders: int, window: int, seconds: float
) -> dict[str, float]:
    clients = [await open_client(base, f"s{type_}{i}") for i in range(senders)]
    counts = [0] * senders
    stop_at = time.monotonic() + seconds

    async def run(i: int, ws: ClientConnection) -> None:
        next_id = 0
        in_flight = 0
        while True:
            while in_flight < window and time.monotonic() < stop_at:
                next_id += 1
                in_flight += 1
                await ws.send(encode_request(type_, next_id, body))
            if in_flight == 0:
                return
            frame = msgpack.unpackb(await ws.recv(), raw=False)
            if frame["type"] in ("reply", "error"):
                in_flight -= 1
                counts[i] += 1

    started = time.monotonic()
    await asyncio.gather(*(run(i, ws) for i, ws in enumerate(clients)))
    elapsed = time.monotonic() - started
    for ws in clients:
        await ws.close()
    total = sum(counts)
    return {"commands": total, "seconds": round(elapsed, 3), "per_s": round(total / elapsed)}


async def fanout(
    base: str, host: ClientConnection, n: int, messages: int, interval: float
) -> dict[str, Any]:
    t0 = time.monotonic()
    listeners: list[ClientConnection] = []
    batch = 50
    for start in range(0, n, batch):
        listeners += await asyncio.gather(
            *(open_client(base, f"l{i}") for i in range(start, min(n, start + batch)))
        )
    connect_s = time.monotonic() - t0
    latencies: list[float] = []
    received = 0
    done = asyncio.Event()
    expected = n * messages

    async def listen(ws: ClientConnection) -> None:
        nonlocal received
        with contextlib.suppress(Exception):
            async for data in ws:
                now = time.monotonic_ns()
                frame = msgpack.unpackb(data, raw=False)
                if frame["type"] != "chat.message":
                    continue
                text = frame["body"]["message"]["text"]
                if text.startswith("t="):
                    latencies.append((now - int(text[2:])) / 1e6)
                    received += 1
                    if received >= expected:
                        done.set()

    tasks = [asyncio.create_task(listen(ws)) for ws in listeners]
    host_drain = asyncio.create_task(drain(host))
    await asyncio.sleep(0.5)  # let join events settle
    for i in range(messages):
        await host.send(
            encode_request("chat.send", 10_000 + i, {"text": f"t={time.monotonic_ns()}"})
        )
        await asyncio.sleep(interval)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 30)
    for ws in listeners:
        await ws.close()
    for t in tasks:
        t.cancel()
    host_drain.cancel()
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2)

    return {
        "clients": n,
        "messages": messages,
        "interval_s": interval,
        "deliveries": len(latencies),
        "expected": expected,
        "connect_s": round(connect_s, 2),
        "p50": pct(0.50),
        "p90": pct(0.90),
        "p99": pct(0.99),
        "max": round(latencies[-1], 2),
        "mean": round(statistics.fmean(latencies), 2),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    port = free_port()
    base = f"ws://127.0.0.1:{port}"
    server = await start_server(port)
    try:
        host = await open_client(base, "host", "host")  # opens the room
        host_drain = asyncio.create_task(drain(host))
        chat = await commands_per_s(
            base, "chat.send", {"text": "hello room"}, args.senders, args.window, args.seconds
        )
        refused = await commands_per_s(
            base, "seat.take", {"seat": 0}, args.senders, args.window, args.seconds
        )
        host_drain.cancel()
        fan = await fanout(base, host, args.clients, args.messages, args.interval)
        await host.close()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(server.wait(), 15)
        except TimeoutError:
            server.kill()
            await server.wait()  # reap it: no zombie left behind by the benchmark
    return {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "commands_per_s": {
            "chat": {**chat, "senders": args.senders, "window": args.window},
            "refused": {**refused, "senders": args.senders, "window": args.window},
        },
        "fanout_ms": fan,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=50)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--senders", type=int, default=10)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--out", default="bench_signalling.json")
    result = asyncio.run(main(ap.parse_args()))
    chat, refused = result["commands_per_s"]["chat"], result["commands_per_s"]["refused"]
    fan = result["fanout_ms"]
    print(
        f"commands/s through one room: chat.send {chat['per_s']} "
        f"(fan-out to the room), refused seat.take {refused['per_s']}"
    )
    print(
        f"chat fan-out to {fan['clients']} clients: p50 {fan['p50']} ms, p90 {fan['p90']} ms, "
        f"p99 {fan['p99']} ms, max {fan['max']} ms "
        f"({fan['deliveries']}/{fan['expected']} deliveries)"
    )
    Path(ap.parse_args().out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {ap.parse_args().out}")
