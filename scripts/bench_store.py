#!/usr/bin/env python3
"""Store benchmark: what the durable store costs the signalling path and the 20 ms tick.

For each store (none = no journal at all, as before the store existed; memory; SQLite;
PostgreSQL) a fresh ``voiceroom serve --no-media`` child
process on loopback takes ``chat.send`` from ``--senders`` clients, each keeping
``--window`` requests in flight (every reply is an acknowledged, committed message; every
message fans out to the room), for ``--seconds``. Then it reads the server's /metrics:
``voiceroom_loop_lateness_ms`` (a 20 ms timer on the server's loop, scheduled like the
media tick: how late it woke, p99 over the last ~5 s, i.e. under the load) and the writer's
commit counts (mean group-commit batch). Each store runs ``--repeats`` times; medians are
reported, and each store's throughput as a fraction of the no-store one.

    .venv/bin/python scripts/bench_store.py [--stores memory,sqlite,postgresql]
        [--postgres URL] [--seconds 5] [--repeats 3] [--out bench_store.json]
    (--stores none,memory,sqlite,postgresql by default)

PostgreSQL: ``--postgres`` or ``VOICEROOM_TEST_POSTGRES_URL``; without either, a throw-away
cluster is started with scripts/pg_test.sh (Debian's postgresql package) and removed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import secrets
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgpack
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceroom.auth import issue_token  # noqa: E402
from voiceroom.protocol import encode_request  # noqa: E402

SECRET = "bench-secret-0123456789abcdefghijklmnop"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def start_server(port: int, store: str, data_dir: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "VOICEROOM_SECRET": SECRET,
        "VOICEROOM_RATE": "1000000",  # the benchmark floods on purpose
        "VOICEROOM_BURST": "1000000",
        "VOICEROOM_SEND_QUEUE": "100000",
        "VOICEROOM_LOG_LEVEL": "warning",
        "VOICEROOM_STORE": store,
        "VOICEROOM_DATA_DIR": data_dir,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voiceroom", "serve", "--no-media", "--port", str(port), env=env
    )
    url = f"http://127.0.0.1:{port}/healthz"
    for _ in range(600):
        with contextlib.suppress(OSError):
            await asyncio.to_thread(urllib.request.urlopen, url, None, 1)
            return proc
        await asyncio.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start")


async def open_client(base: str, room: str, user: str, role: str = "listener") -> ClientConnection:
    token = issue_token(SECRET, room=room, user=user, name=user, role=role, ttl=3600)
    ws = await connect(
        f"{base}/ws?token={token}", compression=None, max_size=None, ping_interval=None
    )
    first = msgpack.unpackb(await ws.recv(), raw=False)
    assert first["type"] == "welcome", first
    return ws


async def chat_load(
    base: str, room: str, senders: int, window: int, seconds: float
) -> dict[str, float]:
    clients = [await open_client(base, room, f"s{i}") for i in range(senders)]
    counts = [0] * senders
    errors = [0] * senders
    stop_at = time.monotonic() + seconds

    async def run(i: int, ws: ClientConnection) -> None:
        next_id = 0
        in_flight = 0
        while True:
            while in_flight < window and time.monotonic() < stop_at:
                next_id += 1
                in_flight += 1
                await ws.send(encode_request("chat.send", next_id, {"text": f"hello {next_id}"}))
            if in_flight == 0:
                return
            frame = msgpack.unpackb(await ws.recv(), raw=False)
            if frame["type"] in ("reply", "error"):
                in_flight -= 1
                counts[i] += frame["type"] == "reply"
                errors[i] += frame["type"] == "error"

    started = time.monotonic()
    await asyncio.gather(*(run(i, ws) for i, ws in enumerate(clients)))
    elapsed = time.monotonic() - started
    for ws in clients:
        await ws.close()
    total = sum(counts)
    return {"acked": total, "errors": sum(errors), "per_s": total / elapsed}


def metrics(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", None, 5).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r'(voiceroom_(?:loop_lateness_ms|store_\w+))(\{q="([\d.]+)"\})? (\S+)', line)
        if m:
            out[m[1] + (f"_q{m[3]}" if m[3] else "")] = float(m[4])
    return out


async def one_run(store: str, data_dir: str, args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    base = f"ws://127.0.0.1:{port}"
    room = f"bench-{secrets.token_hex(3)}"
    server = await start_server(port, store, data_dir)
    try:
        host = await open_client(base, room, "host", "host")

        async def drain() -> None:
            with contextlib.suppress(Exception):
                async for _ in host:
                    pass

        drainer = asyncio.create_task(drain())
        await asyncio.sleep(0.5)
        chat = await chat_load(base, room, args.senders, args.window, args.seconds)
        m = await asyncio.to_thread(metrics, port)
        drainer.cancel()
        await host.close()
    finally:
        server.terminate()
        try:
            await asyncio.wait_for(server.wait(), 15)
        except TimeoutError:
            server.kill()
            await server.wait()
    commits = m.get("voiceroom_store_commits", 0.0)
    return {
        "chat_per_s": chat["per_s"],
        "acked": chat["acked"],
        "errors": chat["errors"],
        "tick_lateness_p50_ms": m.get("voiceroom_loop_lateness_ms_q0.5", float("nan")),
        "tick_lateness_p99_ms": m.get("voiceroom_loop_lateness_ms_q0.99", float("nan")),
        "tick_lateness_max_ms": m.get("voiceroom_loop_lateness_ms_q1.0", float("nan")),
        "commits": commits,
        "mean_batch": m.get("voiceroom_store_writes", 0.0) / commits if commits else 0.0,
        "commit_max_ms": m.get("voiceroom_store_commit_seconds_max", 0.0) * 1000,
    }


@contextlib.contextmanager
def postgres(url: str | None) -> Iterator[str]:
    """A PostgreSQL URL: the one given, or a throw-away cluster (scripts/pg_test.sh)."""
    if url:
        yield url
        return
    script = ROOT / "scripts" / "pg_test.sh"
    out = subprocess.run(
        [
            "bash",
            "-c",
            f"source {shlex.quote(str(script))} && pg_test_start && "
            'echo "$VOICEROOM_TEST_POSTGRES_URL" && echo "$PG_TEST_DIR" && echo "$PG_TEST_BIN"',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    started_url, data, bin_dir = out[-3:]
    try:
        yield started_url
    finally:
        stop = [f"{bin_dir}/pg_ctl", "-D", f"{data}/data", "-m", "immediate", "stop"]
        if os.geteuid() == 0:
            stop = ["runuser", "-u", "postgres", "--", *stop]
        subprocess.run(stop, capture_output=True, check=False)
        subprocess.run(["rm", "-rf", data], check=False)


def fresh_schema(base: str) -> tuple[str, str]:
    import sqlalchemy as sa

    schema = f"bench_{secrets.token_hex(4)}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}", schema


async def main(args: argparse.Namespace) -> dict[str, Any]:
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    results: dict[str, Any] = {}
    pg_url = args.postgres or os.environ.get("VOICEROOM_TEST_POSTGRES_URL")
    with contextlib.ExitStack() as stack:
        for store in stores:
            runs = []
            for _ in range(args.repeats):
                with tempfile.TemporaryDirectory() as tmp:
                    if store == "postgresql":
                        if not pg_url:
                            pg_url = stack.enter_context(postgres(None))
                        url, _schema = fresh_schema(pg_url)
                    else:
                        url = store
                    runs.append(await one_run(url, tmp, args))
                    r = runs[-1]
                    print(
                        f"  {store}: {r['chat_per_s']:.0f} chat/s, loop lateness p99 "
                        f"{r['tick_lateness_p99_ms']:.1f} ms, mean batch {r['mean_batch']:.1f}",
                        flush=True,
                    )
            keys = runs[0].keys()
            results[store] = {
                "median": {k: round(statistics.median(r[k] for r in runs), 2) for k in keys},
                "runs": runs,
            }
    base = results.get("none", {}).get("median", {}).get("chat_per_s")
    for res in results.values():
        if base:
            res["median"]["chat_vs_none"] = round(res["median"]["chat_per_s"] / base, 3)
    return {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg_at_start": os.getloadavg(),
        },
        "params": vars(args),
        "stores": results,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--stores", default="none,memory,sqlite,postgresql")
    ap.add_argument("--postgres", help="postgresql+psycopg:// URL (default: start one)")
    ap.add_argument("--senders", type=int, default=10)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="bench_store.json")
    a = ap.parse_args()
    result = asyncio.run(main(a))
    for store, res in result["stores"].items():
        m = res["median"]
        print(
            f"{store:10} chat.send {m['chat_per_s']:.0f}/s"
            + (f" ({m['chat_vs_none']:.0%} of no store)" if "chat_vs_none" in m else "")
            + f", tick lateness p50 {m['tick_lateness_p50_ms']} ms p99 "
            f"{m['tick_lateness_p99_ms']} ms max {m['tick_lateness_max_ms']} ms, "
            f"mean batch {m['mean_batch']}, commit max {m['commit_max_ms']} ms"
        )
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"wrote {a.out} (medians of {a.repeats} runs; load average at start "
        f"{result['machine']['load_avg_at_start']})"
    )
