"""Media-plane measurements against a harness process (see :mod:`benchlib.harness`).

Every figure is taken over windows: server CPU from /proc of the harness process, packet
counts from the load clients, both read at the start and end of each window.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchlib import codec_ref
from benchlib.proc import Child, cpu_seconds
from benchlib.stats import fit_line, median, pct

FPS = 50  # packets per second per stream (20 ms)
LISTENERS_PER_PROCESS = 125
TONES = [330.0 + 110.0 * i for i in range(16)]


def log(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


@dataclass
class Harness:
    server: Child
    port: int
    clients: list[Child] = field(default_factory=list)
    users: int = 0

    async def client(self) -> Child:
        c = await Child.start("loadclient", "--max-seconds", "1500", name="loadclient")
        self.clients.append(c)
        return c

    async def join(self, client: Child, n: int, role: str, **kw: Any) -> dict[str, Any]:
        users = [f"{role[0]}{self.users + i}" for i in range(n)]
        self.users += n
        r = await client.request("join", wait=60 + n, port=self.port, users=users, role=role, **kw)
        if r["failed"]:
            raise RuntimeError(f"{len(users) - r['joined']} {role}s failed: {r['failed']}")
        r["users"] = users
        return r

    async def show(self, speakers: Sequence[str]) -> None:
        """Everyone hears every speaker; each speaker hears the others (mix-minus)."""
        await self.server.request(
            "routing",
            default=dict.fromkeys(speakers, 1.0),
            overrides={s: {o: 1.0 for o in speakers if o != s} for s in speakers},
            publishers=list(speakers),
        )


@contextlib.asynccontextmanager
async def harness(mode: str) -> AsyncIterator[Harness]:
    server = await Child.start("harness", "--mode", mode, "--max-seconds", "1500", name=mode)
    h: Harness | None = None
    try:
        ready = await server.read(60)
        h = Harness(server, int(ready["port"]))
        yield h
    finally:
        for c in h.clients if h else []:
            await c.close()
        await server.close()


@dataclass
class Window:
    seconds: float
    server_cpu: float  # core fraction
    pps: float  # listener packets per second received by the load clients
    client_cpu: float  # core fraction, all load clients together
    min_packets: int  # fewest packets any listener got in the window


async def _counts(clients: Sequence[Child]) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(c.request("count") for c in clients)))


async def window(h: Harness, seconds: float, listeners: Sequence[Child]) -> Window:
    c0 = cpu_seconds(h.server.pid)
    k0 = await _counts(listeners)
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    c1 = cpu_seconds(h.server.pid)
    k1 = await _counts(listeners)
    dt = time.monotonic() - t0
    pk = sum(b["packets"] - a["packets"] for a, b in zip(k0, k1, strict=True))
    ccpu = sum(b["cpu"] - a["cpu"] for a, b in zip(k0, k1, strict=True))
    # min_packets over a window needs per-listener deltas; the clients report cumulative
    # minima, so use the cumulative minimum at the end as a starvation signal instead.
    mins = [b["min"] for b in k1 if b["n"]]
    return Window(dt, (c1 - c0) / dt, pk / dt, ccpu / dt, min(mins, default=0))


@dataclass
class Point:
    listeners: int
    server_cpu: float
    pps: float
    client_cpu: float
    delivery: float  # received / expected packets
    late_ticks: float | None = None
    # The media plane's own figure (ours only): thread CPU inside the send loop per packet.
    send_loop_us: float | None = None


async def ramp(
    mode: str, points: Sequence[int], *, speakers: int, windows: int, seconds: float
) -> list[Point]:
    """Server CPU at each listener count (listeners join between points)."""
    out: list[Point] = []
    async with harness(mode) as h:
        if speakers:
            spk_proc = await h.client()
            r = await h.join(spk_proc, speakers, "speaker", content="tone", freqs=TONES)
            await h.show(r["users"])
        listeners: list[Child] = []
        have = 0
        for n in points:
            while have < n:
                if not listeners or have % LISTENERS_PER_PROCESS == 0:
                    listeners.append(await h.client())
                batch = min(n - have, LISTENERS_PER_PROCESS - have % LISTENERS_PER_PROCESS)
                await h.join(listeners[-1], batch, "listener")
                have += batch
            await asyncio.sleep(1.5)  # joins settle, first packets flow
            stats0 = (await h.server.request("stats"))["stats"]
            ws = [await window(h, seconds, listeners) for _ in range(windows)]
            stats1 = (await h.server.request("stats"))["stats"]
            pps = median([w.pps for w in ws]) or 0.0
            point = Point(
                listeners=n,
                server_cpu=median([w.server_cpu for w in ws]) or 0.0,
                pps=pps,
                client_cpu=median([w.client_cpu for w in ws]) or 0.0,
                delivery=pps / (n * FPS) if n else 1.0,
                late_ticks=(stats1["late_ticks"] - stats0["late_ticks"])
                if "late_ticks" in stats1
                else None,
                send_loop_us=stats1.get("fanout_us_per_packet"),
            )
            out.append(point)
            log(
                f"{mode}: {n} listeners: server {point.server_cpu * 100:.1f} % of a core, "
                f"{pps:.0f} pkt/s ({point.delivery * 100:.1f} % delivered), "
                f"clients {point.client_cpu * 100:.1f} %"
            )
            if n and (point.delivery < 0.95 or point.server_cpu > 0.92):
                log(f"{mode}: saturated at {n} listeners; stopping the ramp")
                break
    return out


def healthy(points: Sequence[Point]) -> list[Point]:
    return [p for p in points if p.delivery >= 0.97 and p.server_cpu <= 0.92]


def per_packet_us(points: Sequence[Point]) -> float | None:
    """Marginal server CPU per listener-packet: slope of CPU against delivered packets."""
    ok = healthy(points)
    if len(ok) < 2:
        return None
    slope, _ = fit_line([p.pps for p in ok], [p.server_cpu for p in ok])
    return slope * 1e6


async def mix_cost(
    speakers: int, *, windows: int, seconds: float, loss: float = 0.0, latency_windows: int = 0
) -> dict[str, Any]:
    """One room, ``speakers`` all talking (distinct tones) and one listener.

    Returns the room's CPU (minus the harness idling with no peers) and the media plane's
    own packet-in -> mixed-packet-out latencies (``MediaRoom.latencies``)."""
    async with harness("ours") as h:
        await asyncio.sleep(1.0)
        c0, t0 = cpu_seconds(h.server.pid), time.monotonic()
        await asyncio.sleep(seconds)
        idle = (cpu_seconds(h.server.pid) - c0) / (time.monotonic() - t0)
        spk = await h.client()
        r = await h.join(spk, speakers, "speaker", content="tone", freqs=TONES, loss=loss)
        lis = await h.client()
        await h.join(lis, 1, "listener")
        await h.show(r["users"])
        await asyncio.sleep(2.0)
        ws = [await window(h, seconds, [lis]) for _ in range(windows)]
        await h.server.request("latencies")  # drop what came before the latency windows
        lat_p50: list[float] = []
        lat_p99: list[float] = []
        lat_all: list[float] = []
        for _ in range(latency_windows):
            # The harness returns the samples since its previous read (one window's).
            await asyncio.sleep(seconds)
            lat = (await h.server.request("latencies"))["latencies"]
            lat_ms = [x * 1000 for x in lat]
            lat_all += lat_ms
            lat_p50.append(pct(lat_ms, 50) or 0.0)
            lat_p99.append(pct(lat_ms, 99) or 0.0)
        stats = (await h.server.request("stats"))["stats"]
    cpu = median([w.server_cpu for w in ws]) or 0.0
    return {
        "cpu_pct": (cpu - idle) * 100,
        "idle_pct": idle * 100,
        "gross_pct": cpu * 100,
        # Pooled over every window: a stall in one window must show in the p99.
        "latency_p50_ms": pct(lat_all, 50),
        "latency_p99_ms": pct(lat_all, 99),
        "latency_p99_windows_ms": lat_p99,
        "latency_samples": len(lat_all),
        "stats": stats,
    }


async def mouth_to_ear(bursts: int, *, speakers: int = 4) -> dict[str, Any]:
    """Speakers each send a 100 ms tone burst (own frequency) every second; one recording
    listener decodes every packet on arrival. Mouth = the burst's first packet handed to
    the speaker's sender; ear = arrival of the first packet whose decoded audio carries
    that speaker's tone. Speakers join at random offsets, so their 20 ms cadences sit at
    different phases of the server's mixer tick (one speaker alone would measure one
    phase only)."""
    freqs = [700.0 + 300.0 * i for i in range(speakers)]
    rng = np.random.default_rng(0)
    async with harness("ours") as h:
        rec = await h.client()
        await h.join(rec, 1, "recorder")
        spk = await h.client()
        users: list[str] = []
        for i in range(speakers):
            await asyncio.sleep(float(rng.uniform(0, 0.02)))
            r = await h.join(spk, 1, "speaker", content="burst", freqs=[freqs[i]])
            users += r["users"]
        # Nobody hears themselves; the recorder hears everyone.
        await h.server.request("routing", default=dict.fromkeys(users, 1.0), publishers=users)
        await asyncio.sleep(bursts + 1.5)
        releases = (await spk.request("releases"))["releases"]
        levels = [await rec.request("levels", freq=f, wait=60) for f in freqs]
    delays: list[float] = []
    for rel, lv in zip(releases, levels, strict=True):
        arrivals = np.asarray(lv["arrivals"])
        level = np.asarray(lv["levels"])
        for t in rel[1:-1]:  # the first may precede the routing, the last the read-out
            idx = np.nonzero((arrivals > t) & (arrivals < t + 0.5) & (level > 0.05))[0]
            if len(idx):
                delays.append(float(arrivals[idx[0]] - t) * 1000)
    return {"p50_ms": median(delays), "p99_ms": pct(delays, 99), "n": len(delays)}


async def pesq_through_server(ref16: np.ndarray, *, loss: float, seed: int) -> dict[str, Any]:
    """Speech from a speaker peer, through the MediaRoom, recorded by a listener peer,
    time-aligned to the original and scored PESQ-WB."""
    with tempfile.TemporaryDirectory(prefix="vr-bench-") as tmp:
        src = Path(tmp) / "speech48.raw"
        out = Path(tmp) / "heard48.raw"
        codec_ref.resample(ref16, 16_000, 48_000).astype("<i2").tofile(src)
        async with harness("ours") as h:
            rec = await h.client()
            await h.join(rec, 1, "recorder")
            spk = await h.client()
            # Routing first, so the very first speech packet is mixed.
            await h.server.request(
                "routing", default={f"s{h.users}": 1.0}, publishers=[f"s{h.users}"]
            )
            await h.join(
                spk,
                1,
                "speaker",
                content="speech",
                speech=str(src),
                loss=loss,
                seed=seed,
                freeze_gc=True,  # no 14 ms full collection in the talker mid-speech
            )
            await asyncio.sleep(len(ref16) / 16_000 + 1.5)
            d = await rec.request("dump", path=str(out), wait=60)
            stats = (await h.server.request("stats"))["stats"]
        heard48 = np.fromfile(out, dtype="<i2").astype(np.int16)
    if d["samples"] < len(ref16) * 3:
        raise RuntimeError(f"recording too short: {d['samples']} samples")
    heard16 = codec_ref.resample(heard48, 48_000, 16_000)
    lag = best_lag(ref16, heard16)
    aligned = align(ref16, heard16, lag)
    return {
        "pesq": codec_ref.pesq_wb(ref16, aligned),
        "lag_ms": lag / 16,
        # 0.5 s stretches of speech heard >= 10 ms off the global alignment: a jitter-buffer
        # concealment (delay +20 ms) not yet undone by a trim.
        "delay_steps": delay_steps(ref16, aligned),
        "rx_fec": stats.get("rx_fec"),
        "rx_plc": stats.get("rx_plc"),
        "rx_lost": stats.get("rx_lost"),
        "rx_trimmed": stats.get("rx_trimmed"),
        "late_ticks": stats.get("late_ticks"),
        "tick_max_ms": (stats.get("tick_max_us") or 0) / 1000,
    }


def best_lag(ref: np.ndarray, rec: np.ndarray) -> int:
    """Where ``ref`` starts in ``rec``, by FFT cross-correlation."""
    n = len(ref) + len(rec)
    size = 1 << (n - 1).bit_length()
    a = np.fft.rfft(rec.astype(np.float64), size)
    b = np.fft.rfft(ref.astype(np.float64), size)
    xc = np.fft.irfft(a * np.conj(b), size)
    return int(np.argmax(xc[: len(rec)]))


def delay_steps(
    ref: np.ndarray, aligned: np.ndarray, *, seg: int = 8_000, search: int = 480
) -> int:
    """Voiced 0.5 s stretches whose local best offset (within +-30 ms) is >= 10 ms."""
    steps = 0
    x = aligned.astype(np.float64)
    for s in range(search, len(ref) - seg - search, seg):
        r = ref[s : s + seg].astype(np.float64)
        if np.sqrt(np.mean(r * r)) < 500:  # mostly silence: no reliable offset
            continue
        xc = np.correlate(x[s - search : s + seg + search], r, "valid")
        steps += abs(int(np.argmax(xc)) - search) >= 160
    return steps


def align(ref: np.ndarray, rec: np.ndarray, lag: int | None = None) -> np.ndarray:
    """The stretch of ``rec`` that lines up with ``ref`` (FFT cross-correlation)."""
    if lag is None:
        lag = best_lag(ref, rec)
    seg = rec[lag : lag + len(ref)]
    if len(seg) < len(ref):
        seg = np.concatenate([seg, np.zeros(len(ref) - len(seg), dtype=rec.dtype)])
    return seg
