"""The real server (``voiceroom serve --media``, loopback-pinned) in a child process, and
the measurements that need signalling: join to first audio, the show -> 1v1 -> show gap."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from benchlib.proc import ROOT, Child, child_env, cpu_seconds
from benchlib.roomclients import AUDIBLE
from benchlib.stats import median, pct

SECRET = "bench-secret-0123456789abcdefghijklmnop"
ROOM = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def real_server() -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    port = free_port()
    env = {
        **child_env(),
        "VOICEROOM_SECRET": SECRET,
        "VOICEROOM_LOG_LEVEL": "warning",
        "VOICEROOM_STORE": "memory",  # media figures, not the store's (bench_signalling has those)
        "VOICEROOM_RATE": "1000000",  # 100 joiners from one address must not be throttled
        "VOICEROOM_BURST": "1000000",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchlib.serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--media",
        env=env,
        cwd=str(ROOT),
    )
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        deadline = time.monotonic() + 30
        while True:
            try:
                await asyncio.to_thread(urllib.request.urlopen, url, None, 1)
                break
            except OSError:
                if time.monotonic() > deadline or proc.returncode is not None:
                    raise RuntimeError("voiceroom serve did not come up") from None
                await asyncio.sleep(0.1)
        yield proc, f"ws://127.0.0.1:{port}"
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _members(url: str, prefix: str = "j") -> Child:
    return await Child.start(
        "roomclients",
        "--url",
        url,
        "--secret",
        SECRET,
        "--room",
        ROOM,
        "--prefix",
        prefix,
        "--max-seconds",
        "600",
        name="roomclients",
    )


async def join_to_first_audio(*, singles: int, concurrent: int) -> dict[str, Any]:
    """A host publishes a tone; then ``singles`` members join one after another, then
    ``concurrent`` members join at once (spread over 4 client processes)."""
    procs: list[Child] = []
    try:
        async with real_server() as (server, url):
            host = await _members(url)
            procs.append(host)
            await host.request("host", wait=30)
            single: list[float] = []
            for _ in range(singles):
                r = await host.request("joiners", n=1, wait=60)
                if r["n_failed"]:
                    raise RuntimeError(f"single join failed: {r['failed']}")
                single += [x["audio_ms"] for x in r["results"]]
            parts = [await _members(url, f"c{i}-") for i in range(4)]
            procs += parts
            await asyncio.sleep(1.0)  # let the client processes finish importing
            share = [concurrent // 4 + (i < concurrent % 4) for i in range(4)]
            c0, t0 = cpu_seconds(server.pid), time.monotonic()
            waves = await asyncio.gather(
                *(p.request("joiners", n=k, wait=120) for p, k in zip(parts, share, strict=True))
            )
            wave_s = time.monotonic() - t0
            wave_server_cpu_s = cpu_seconds(server.pid) - c0
    finally:
        for p in procs:
            await p.close()
    crowd = [x for w in waves for x in w["results"]]
    failed = sum(w["n_failed"] for w in waves)
    return {
        "single_ms": single,
        "single_p50": median(single),
        "single_p99": pct(single, 99),
        "crowd_p50": median([x["audio_ms"] for x in crowd]),
        "crowd_p99": pct([x["audio_ms"] for x in crowd], 99),
        "crowd_ws_p50": median([x["ws_ms"] for x in crowd]),
        "crowd_sdp_p50": median([x["sdp_ms"] for x in crowd]),
        "crowd_n": len(crowd),
        "crowd_wave_s": wave_s,
        "crowd_server_cpu_s": wave_server_cpu_s,
        "crowd_failed": failed,
        "failures": [f for w in waves for f in w["failed"]][:5],
    }


def longest_silence_ms(rows: list[list[Any]], start: float, end: float) -> float:
    """Longest stretch in [start, end] during which the audience heard no host tone:
    from the arrival of one audible packet to the next, minus the 20 ms one packet lasts."""
    audible = sorted(r[0] for r in rows if start <= r[0] <= end and r[2][0] > AUDIBLE)
    if len(audible) < 2:
        return (end - start) * 1000
    gaps = np.diff(np.asarray(audible)) - 0.020
    return float(max(0.0, gaps.max()) * 1000)


async def switch_gap(*, hold: float, repeats: int) -> dict[str, Any]:
    gaps: list[float] = []
    heard_shopper: list[bool] = []
    for _ in range(repeats):
        async with real_server() as (_, url):
            members = await _members(url)
            try:
                await members.request("host", wait=30)
                r = await members.request("switch", hold=hold, wait=60 + 3 * hold)
            finally:
                await members.close()
        rows = r["rows"]
        # Around each switch, one second either side.
        for t in (r["t_1v1"], r["t_show"]):
            gaps.append(longest_silence_ms(rows, t - 1.0, t + 1.0))
        in_1v1 = [x for x in rows if r["t_1v1"] + 0.2 <= x[0] <= r["t_show"]]
        heard_shopper.append(bool(in_1v1) and median([x[2][1] for x in in_1v1]) > AUDIBLE)
    return {"gaps_ms": gaps, "max_ms": max(gaps), "audience_heard_shopper_in_1v1": heard_shopper}
