"""Media plane benchmark: latency, CPU per 8-speaker room, CPU per listener-packet.

The MediaRoom runs in this process; the aiortc clients run in a child process (SDP goes
over a pipe), so this process's CPU time is the server's alone: aiortc's DTLS/SRTP receive
path and RTCP plus our ingest, mixer, encoders and fan-out.

    .venv/bin/python scripts/bench_media.py [--seconds 10] [--listeners 0 200] [--json out]

Prints one line per scenario and writes JSON. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voiceroom.media import MediaConfig, MediaRoom
from voiceroom.room.routing import Routing, make_mix

TONES = [300.0 + 110.0 * i for i in range(16)]


def clients_main(conn: Connection, speakers: int, listeners: int, talking: int) -> None:
    asyncio.run(_clients(conn, speakers, listeners, talking))


async def _clients(conn: Connection, speakers: int, listeners: int, talking: int) -> None:
    from tests.media.client import AudioClient

    names = [f"s{i}" for i in range(speakers)] + [f"l{i}" for i in range(listeners)]
    loop = asyncio.get_running_loop()
    clients = [AudioClient(n, decode=False) for n in names]
    for c in clients:
        conn.send((c.name, await c.offer()))
        # Never block this loop on the pipe: the peers' ICE and media run on it.
        await c.accept(await loop.run_in_executor(None, conn.recv))
    # Seat holders beyond ``talking`` keep their seat but send nothing (as with DTX).
    for i, c in enumerate(clients[: min(speakers, talking)]):
        c.send_tone(TONES[i], voiced=True)
    conn.send("ready")
    await loop.run_in_executor(None, conn.recv)  # "stop"
    conn.send({c.name: c.packets for c in clients})
    await asyncio.gather(*(c.close() for c in clients))


def wave_clients_main(conn: Connection, n: int) -> None:
    asyncio.run(_wave_clients(conn, n))


async def _wave_clients(conn: Connection, n: int) -> None:
    from tests.media.client import AudioClient

    loop = asyncio.get_running_loop()
    clients = [AudioClient(f"j{i}", decode=False) for i in range(n)]
    offers = await asyncio.gather(*(c.offer() for c in clients))  # before the clock starts
    conn.send([(c.name, o) for c, o in zip(clients, offers, strict=True)])
    answers = await loop.run_in_executor(None, conn.recv)
    await asyncio.gather(*(c.accept(a) for c, a in zip(clients, answers, strict=True)))
    await loop.run_in_executor(None, conn.recv)  # "stop"
    conn.send({c.name: c.packets for c in clients})
    await asyncio.gather(*(c.close() for c in clients))


async def join_wave(n: int, config: MediaConfig | None = None) -> dict[str, Any]:
    """``n`` offers reach the server at once (made beforehand in a client process): server
    CPU and wall time until every peer has been sent its first packet, and the server's own
    per-phase join timings (``MediaRoom.stats()["join_*"]``)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=wave_clients_main, args=(child, n))
    proc.start()
    room = MediaRoom("wave", config=config or MediaConfig())
    await room.start()
    loop = asyncio.get_running_loop()
    offers = await loop.run_in_executor(None, parent.recv)
    c0, t0 = cpu(), time.monotonic()
    answers = await asyncio.gather(*(room.connect(name, sdp) for name, sdp in offers))
    t_answers = time.monotonic()
    parent.send(answers)
    # Cheap poll (stats() computes percentiles): every peer has its stream once ready.
    while (len(room.users()) < n or room._not_ready) and time.monotonic() - t0 < 60:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    c1, t1 = cpu(), time.monotonic()
    stats = room.stats()
    parent.send("stop")
    received = await loop.run_in_executor(None, parent.recv)
    await room.close()
    proc.join(timeout=10)
    out: dict[str, Any] = {
        "joiners": n,
        "process_certificate": room.config.process_certificate,
        "ready": stats["peers_ready"],
        "all_answers_ms": (t_answers - t0) * 1000,
        "all_first_packets_ms": (t1 - t0) * 1000,
        "server_cpu_s": c1 - c0,
        "server_cpu_ms_per_join": (c1 - c0) / n * 1000,
        "clients_received_min": min(received.values()) if received else 0,
    }
    out |= {k: v for k, v in stats.items() if k.startswith("join_")}
    return out


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def scenario(
    speakers: int,
    listeners: int,
    seconds: float,
    talking: int | None = None,
    config: MediaConfig | None = None,
) -> dict[str, Any]:
    talking = speakers if talking is None else talking
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=clients_main, args=(child, speakers, listeners, talking))
    proc.start()
    room = MediaRoom("bench", config=config or MediaConfig())
    await room.start()
    seats = [f"s{i}" for i in range(speakers)]
    room.set_routing(
        Routing(
            default=make_mix(dict.fromkeys(seats, 1.0)),
            overrides={s: make_mix({o: 1.0 for o in seats if o != s}) for s in seats},
            publishers=frozenset(seats),
        )
    )
    loop = asyncio.get_running_loop()
    for _ in range(speakers + listeners):
        name, offer = await loop.run_in_executor(None, parent.recv)
        parent.send(await room.connect(name, offer))
    assert await loop.run_in_executor(None, parent.recv) == "ready"
    await asyncio.sleep(2.0)  # ICE/DTLS done, jitter buffers settled
    before = room.stats()
    lat_from = room.latency_samples
    c0, t0 = cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    c1, t1 = cpu(), time.monotonic()
    after = room.stats()
    lat = sorted(room.latencies(lat_from))
    parent.send("stop")
    received = await loop.run_in_executor(None, parent.recv)
    await room.close()
    proc.join(timeout=10)
    packets = after["packets_out"] - before["packets_out"]
    ticks = after["ticks"] - before["ticks"]

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000 if lat else float("nan")

    return {
        "speakers": speakers,
        "talking": talking,
        "listeners": listeners,
        "seconds": t1 - t0,
        "cpu_percent_of_one_core": 100 * (c1 - c0) / (t1 - t0),
        "latency_p50_ms": pct(50),
        "latency_p99_ms": pct(99),
        "ticks": ticks,
        "late_ticks": after["late_ticks"] - before["late_ticks"],
        "missed_ticks": after["missed_ticks"] - before["missed_ticks"],
        "encodes_per_tick": after["encodes_per_tick"],
        "shared_mixes_per_tick": after.get("shared_mixes_per_tick", 0.0),
        "packets_out": packets,
        "fanout_us_per_listener_packet": after["fanout_us_per_packet"],
        "tick_mean_us": after.get("tick_mean_us", float("nan")),
        "tick_max_us": after.get("tick_max_us", float("nan")),
        "encode_threads": room.config.encode_threads,
        "parallel_encode_ticks": after["parallel_encode_ticks"] - before["parallel_encode_ticks"],
        "rx_fec": after["rx_fec"],
        "rx_plc": after["rx_plc"],
        "client_packets_min": min(received.values()) if received else 0,
        "peers_ready": after["peers_ready"],
        "mixes": after["mixes"],
        "send_failures": after["send_failures"],
    }


async def fanout_micro(peers: int, rounds: int) -> dict[str, float]:
    """The per-listener fan-out step alone: RTP header + SRTP protect + sendto over real,
    connected peers (clients in this process but idle during the timed loop)."""
    from tests.media.client import AudioClient

    room = MediaRoom("micro", config=MediaConfig())
    await room.start()
    clients = [AudioClient(f"u{i}", decode=False) for i in range(peers)]
    for c in clients:
        await c.accept(await room.connect(c.name, await c.offer()))
    await asyncio.sleep(1.0)
    await room.close_tick_for_bench()
    streams = [p.stream for p in room._peers.values() if p.stream is not None]
    payload = bytes(70)  # a typical 32 kbps Opus frame
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        for stream in streams:
            stream.send(payload)
    c1, t1 = time.process_time(), time.perf_counter()
    n = rounds * len(streams)
    await asyncio.gather(*(c.close() for c in clients))
    await room.close()
    return {"peers": len(streams), "cpu_us": (c1 - c0) / n * 1e6, "wall_us": (t1 - t0) / n * 1e6}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--speakers", type=int, default=8)
    ap.add_argument("--talking", type=int, help="seat holders sending audio (default: all)")
    ap.add_argument("--listeners", type=int, nargs="+", default=[0, 100])
    ap.add_argument("--json", default="bench_media.json")
    ap.add_argument("--micro-peers", type=int, default=20)
    ap.add_argument(
        "--join-wave", type=int, default=0, help="N offers at once; then exit (0: skip)"
    )
    ap.add_argument(
        "--process-cert",
        choices=["on", "off"],
        nargs="+",
        default=["on"],
        help="join waves with one DTLS certificate per process, per peer, or both in turn",
    )
    ap.add_argument("--repeat", type=int, default=1, help="join waves per --process-cert")
    ap.add_argument(
        "--encode-threads",
        type=int,
        nargs="+",
        default=[MediaConfig().encode_threads],
        help="run each scenario once per value (e.g. 0 1: inline vs parallel encodes)",
    )
    args = ap.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one UDP socket per peer
    results: list[dict[str, Any]] = []
    if args.join_wave:
        waves = []
        for _ in range(args.repeat):  # interleaved: load drifts hit every variant alike
            for pc in args.process_cert:
                cfg = MediaConfig(process_certificate=pc == "on")
                w = await join_wave(args.join_wave, cfg)
                waves.append(w)
                print(
                    f"join wave of {w['joiners']} (process certificate {pc}): answers "
                    f"{w['all_answers_ms']:.0f} ms, first packets "
                    f"{w['all_first_packets_ms']:.0f} ms, server CPU "
                    f"{w['server_cpu_ms_per_join']:.2f} ms per join; phases p50/p99 ms: "
                    + " ".join(
                        f"{k}={w[f'join_{k}_ms_p50']:.0f}/{w[f'join_{k}_ms_p99']:.0f}"
                        for k in ("offer", "answer", "ice", "dtls", "first_packet", "total")
                        if f"join_{k}_ms_p50" in w
                    ),
                    flush=True,
                )
        with open(args.json, "w") as f:  # noqa: ASYNC230 - once, after measuring
            json.dump([{"join_waves": waves}], f, indent=2)
        return
    m = await fanout_micro(args.micro_peers, 500)
    print(
        f"fan-out alone over {m['peers']} peers: {m['cpu_us']:.1f} us CPU "
        f"({m['wall_us']:.1f} us wall) per listener-packet",
        flush=True,
    )
    results.append({"fanout_micro": m})
    for n, threads in [(n, t) for n in args.listeners for t in args.encode_threads]:
        cfg = MediaConfig(encode_threads=threads)
        r = await scenario(args.speakers, n, args.seconds, args.talking, cfg)
        results.append(r)
        print(
            f"{r['speakers']} seats ({r['talking']} talking) + {n:4d} listeners, "
            f"{threads} encode threads: server CPU "
            f"{r['cpu_percent_of_one_core']:5.1f}% of a core | latency p50 "
            f"{r['latency_p50_ms']:.1f} ms p99 {r['latency_p99_ms']:.1f} ms | "
            f"{r['encodes_per_tick']:.0f} encodes/tick | fan-out "
            f"{r['fanout_us_per_listener_packet']:.1f} us/listener-packet | late ticks "
            f"{r['late_ticks']:.0f}/{r['ticks']:.0f} | tick mean {r['tick_mean_us']:.0f} us",
            flush=True,
        )
    last = args.encode_threads[-1]
    rooms = [r for r in results if "listeners" in r and r["encode_threads"] == last]
    if len(rooms) >= 2 and rooms[-1]["listeners"] > rooms[0]["listeners"]:
        a, b = rooms[0], rooms[-1]
        extra_packets = (b["packets_out"] / b["seconds"]) - (a["packets_out"] / a["seconds"])
        extra_cpu = (b["cpu_percent_of_one_core"] - a["cpu_percent_of_one_core"]) / 100
        per = extra_cpu / extra_packets * 1e6 if extra_packets > 0 else float("nan")
        print(
            f"marginal server CPU per listener-packet (all costs: fan-out, RTCP, ICE "
            f"consent, DTLS, from {a['listeners']} to {b['listeners']} listeners): "
            f"{per:.1f} us"
        )
        results.append({"marginal_us_per_listener_packet": per})
    with open(args.json, "w") as f:  # noqa: ASYNC230 - once, after measuring
        json.dump(results, f, indent=2)
    print(f"wrote {args.json} (pid {os.getpid()})")


if __name__ == "__main__":
    asyncio.run(main())
