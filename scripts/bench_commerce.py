#!/usr/bin/env python3
"""Commerce benchmark: flash-sale claims through one room, 1,000 claimants at once.

Starts ``voiceroom serve`` as a child process on loopback (claimants run in this process,
one WebSocket each), measures, prints the figures, writes JSON, stops the server and exits.

    .venv/bin/python scripts/bench_commerce.py [--claimants 1000] [--rounds 3] [--store sqlite]

Per round the host starts a flash sale; every claimant sends one ``sale.claim`` at the same
moment (each after its own ``sale.updated`` opened event), and the script records each
reply's latency (send -> reply/error on the same connection).

- ``open`` rounds: quantity = claimants, so every claim is accepted: the accept path
  (claim, ``sale.claimed`` to the claimant, throttled ``sale.left``; with a store, the
  journal commit before the reply).
- ``contended`` rounds: quantity = claimants / 10: 10 % accepted, the rest ``sold_out``;
  the script checks exactly ``quantity`` claims were accepted.

Figures: claims/s = answers / (last answer - first send); latency p50/p90/p99/max in ms.
``--store``: passed as VOICEROOM_STORE (``memory``, ``sqlite``...) when the server has the
durable store; without it the venue lives in memory and nothing is journaled.
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
import tempfile
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
ROOM = "bench-shop"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def token(user: str, role: str = "listener") -> str:
    return issue_token(SECRET, room=ROOM, user=user, name=user, role=role, ttl=3600)


async def start_server(port: int, store: str | None, data_dir: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "VOICEROOM_SECRET": SECRET,
        "VOICEROOM_RATE": "1000000",
        "VOICEROOM_BURST": "1000000",
        "VOICEROOM_SEND_QUEUE": "100000",
        "VOICEROOM_LOG_LEVEL": "warning",
    }
    if store is not None:
        env["VOICEROOM_STORE"] = store
        env["VOICEROOM_DATA_DIR"] = data_dir
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voiceroom", "serve", "--port", str(port), env=env
    )
    url = f"http://127.0.0.1:{port}/healthz"
    for _ in range(400):
        with contextlib.suppress(OSError):
            await asyncio.to_thread(urllib.request.urlopen, url, None, 1)
            return proc
        await asyncio.sleep(0.05)
    proc.kill()
    await proc.wait()
    raise SystemExit("server did not start")


class Member:
    """One WebSocket; frames are read by one task and sorted: replies by id, events kept."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = 0
        self.waiting: dict[int, asyncio.Future[tuple[int, dict[str, Any]]]] = {}
        self.opened: dict[int, asyncio.Event] = {}
        self.claimed = 0
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, base: str, user: str, role: str = "listener") -> Member:
        ws = await connect(
            f"{base}/ws?token={token(user, role)}",
            compression=None,
            max_size=None,
            open_timeout=60,
            ping_interval=None,
        )
        first = msgpack.unpackb(await ws.recv(), raw=False)
        assert first["type"] == "welcome", first
        return cls(ws)

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for data in self.ws:
                now = time.monotonic_ns()
                frame = msgpack.unpackb(data, raw=False)
                type_ = frame["type"]
                if type_ in ("reply", "error"):
                    fut = self.waiting.pop(frame.get("id"), None)
                    if fut is not None and not fut.done():
                        fut.set_result((now, frame))
                elif type_ == "sale.updated" and frame["body"]["reason"] == "opened":
                    self.event(frame["body"]["sale"]["id"]).set()
                elif type_ == "sale.claimed":
                    self.claimed += 1

    def event(self, sale: int) -> asyncio.Event:
        return self.opened.setdefault(sale, asyncio.Event())

    async def request(self, type_: str, body: dict[str, Any]) -> tuple[int, int, dict[str, Any]]:
        self.ids += 1
        fut: asyncio.Future[tuple[int, dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self.waiting[self.ids] = fut
        sent = time.monotonic_ns()
        await self.ws.send(encode_request(type_, self.ids, body))
        done, frame = await asyncio.wait_for(fut, 120)
        return sent, done, frame

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


def pct(values: list[float], p: float) -> float:
    return round(values[min(len(values) - 1, int(p * len(values)))], 2)


async def one_round(
    host: Member, members: list[Member], sale_id: int, quantity: int, kind: str
) -> dict[str, Any]:
    before = sum(m.claimed for m in members)
    _, _, reply = await host.request(
        "sale.start",
        {"product": "bench", "price": 9900, "quantity": quantity, "duration": 600},
    )
    assert reply["type"] == "reply", reply
    await asyncio.wait_for(asyncio.gather(*(m.event(sale_id).wait() for m in members)), 60)
    go = asyncio.Event()

    async def claim(m: Member) -> tuple[int, int, str]:
        await go.wait()
        sent, done, frame = await m.request("sale.claim", {"sale": sale_id})
        return sent, done, "ok" if frame["type"] == "reply" else frame["code"]

    tasks = [asyncio.create_task(claim(m)) for m in members]
    await asyncio.sleep(0.2)
    go.set()
    results = await asyncio.gather(*tasks)
    first = min(r[0] for r in results)
    last = max(r[1] for r in results)
    lat = sorted((done - sent) / 1e6 for sent, done, _ in results)
    outcomes: dict[str, int] = {}
    for *_, outcome in results:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    await asyncio.sleep(0.3)  # the last sale.claimed events
    told = sum(m.claimed for m in members) - before
    assert outcomes.get("ok", 0) == min(quantity, len(members)), outcomes
    assert told == outcomes.get("ok", 0), (told, outcomes)
    seconds = (last - first) / 1e9
    return {
        "kind": kind,
        "claimants": len(members),
        "quantity": quantity,
        "outcomes": outcomes,
        "seconds": round(seconds, 3),
        "claims_per_s": round(len(results) / seconds),
        "p50_ms": pct(lat, 0.50),
        "p90_ms": pct(lat, 0.90),
        "p99_ms": pct(lat, 0.99),
        "max_ms": round(lat[-1], 2),
        "mean_ms": round(statistics.fmean(lat), 2),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    port = free_port()
    base = f"ws://127.0.0.1:{port}"
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-commerce-") as data_dir:
        server = await start_server(port, args.store, data_dir)
        try:
            host = await Member.open(base, "host", "host")
            n = args.claimants
            stock = (n + n // 10) * args.rounds + 10
            _, _, reply = await host.request(
                "product.add",
                {
                    "id": "bench",
                    "titles": {"en": "Bench"},
                    "price": 19900,
                    "currency": "SAR",
                    "stock": stock,
                },
            )
            assert reply["type"] == "reply", reply
            t0 = time.monotonic()
            members: list[Member] = []
            for start in range(0, n, 50):
                members += await asyncio.gather(
                    *(Member.open(base, f"c{i}") for i in range(start, min(n, start + 50)))
                )
            connect_s = time.monotonic() - t0
            sale = 0
            for _ in range(args.rounds):
                sale += 1
                rounds.append(await one_round(host, members, sale, n, "open"))
                sale += 1
                rounds.append(await one_round(host, members, sale, max(1, n // 10), "contended"))
            for m in members:
                await m.close()
            await host.close()
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(server.wait(), 15)
            except TimeoutError:
                server.kill()
                await server.wait()

    def summary(kind: str) -> dict[str, Any]:
        rs = [r for r in rounds if r["kind"] == kind]
        return {
            key: statistics.median(r[key] for r in rs)
            for key in ("claims_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms")
        }

    return {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "store": args.store or "none (in-memory venue, nothing journaled)",
        "claimants": args.claimants,
        "connect_s": round(connect_s, 2),
        "median_of_rounds": {"open": summary("open"), "contended": summary("contended")},
        "rounds": rounds,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--claimants", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--store", help="VOICEROOM_STORE for the server (e.g. sqlite, memory)")
    ap.add_argument("--out", default="bench_commerce.json")
    args = ap.parse_args()
    result = asyncio.run(main(args))
    for kind, s in result["median_of_rounds"].items():
        print(
            f"{kind:9s} sale, {result['claimants']} claimants (store: {result['store']}): "
            f"{s['claims_per_s']:.0f} claims/s, reply latency p50 {s['p50_ms']} ms, "
            f"p90 {s['p90_ms']} ms, p99 {s['p99_ms']} ms, max {s['max_ms']} ms "
            f"(median of {args.rounds} rounds)"
        )
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
