"""The 20 ms room tick alone, without sockets: what one tick of an N-seat room costs.

A :class:`voiceroom.media.MediaRoom` gets in-process peers (a real ``Ingest`` each, an
``RtpStream`` whose send is a no-op) and is driven by calling ``room.tick(now)`` with one
pre-encoded Opus packet per publisher per tick, exactly as the fast RTP path would push
them. So the figure is ingest + jitter buffer + decode + VAD + mix + limiter + encode + the
Python of the fan-out loop (not SRTP or ``sendto``: ``bench_media.py`` measures those).

CPU time, not wall time, so it survives a shared machine: ``process`` is all threads,
``loop thread`` is the thread that runs the tick (with encode threads, part of the work
moves off it, which is what keeps a busy room's tick on time). For instruction counts that
do not depend on the load at all, run it twice under callgrind with different ``--ticks``
and subtract (see docs/performance.md).

    python scripts/bench_tick.py [--seats 8] [--talking 8] [--ticks 500] \
        [--encode-threads 0 1] [--levels on off] [--listeners 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voiceroom.media import MediaConfig, MediaRoom
from voiceroom.media.codec import OpusEncoder
from voiceroom.media.config import FRAME_SAMPLES, SAMPLE_RATE
from voiceroom.media.fanout import RtpStream
from voiceroom.media.ingest import Ingest
from voiceroom.room.routing import Routing, make_mix

try:  # absent before RFC 6464 support: then every packet is sound
    from voiceroom.media.ingest import QuietPayload
except ImportError:  # pragma: no cover
    QuietPayload = None  # type: ignore[assignment,misc]

FRAME = FRAME_SAMPLES / SAMPLE_RATE


def packets(freq: float | None, n: int) -> list[bytes]:
    """``n`` 20 ms packets of a voiced tone (syllable envelope + noise, as the media tests
    send), or of digital silence when ``freq`` is None."""
    enc = OpusEncoder(bitrate=32_000)
    rng = np.random.default_rng(int(freq or 0))
    out = []
    for k in range(n):
        t = (np.arange(FRAME_SAMPLES) + k * FRAME_SAMPLES) / SAMPLE_RATE
        if freq is None:
            x = np.zeros(FRAME_SAMPLES)
        else:
            x = np.sin(2 * math.pi * freq * t) * 0.3 * 32767
            x *= 0.7 + 0.3 * np.sin(2 * math.pi * 3 * t)
            x += rng.normal(0, 0.01 * 32767, FRAME_SAMPLES)
        out.append(enc.encode(np.ascontiguousarray(x.astype(np.int16))))
    return out


def config(encode_threads: int, levels: bool) -> MediaConfig:
    names = {f.name for f in dataclasses.fields(MediaConfig)}
    kw: dict[str, Any] = {}
    if "sr_sync_ticks" in names:  # an older tree: no sender-report sync, no aiortc sender here
        kw["sr_sync_ticks"] = 1 << 30
    if "encode_threads" in names:
        kw["encode_threads"] = encode_threads
    if "silence_dbov" in names and not levels:
        kw["silence_dbov"] = None
    return MediaConfig(**kw)


def run(
    *, seats: int, talking: int, listeners: int, ticks: int, encode_threads: int, levels: bool
) -> dict[str, Any]:
    from voiceroom.media.room import _Peer

    cfg = config(encode_threads, levels)
    room = MediaRoom("tick", config=cfg)
    names = [f"s{i}" for i in range(seats)]
    warm = 50
    # A fixed set of packets, cycled: the set-up costs the same whatever --ticks is, so
    # two callgrind runs with different --ticks differ by exactly the ticks.
    cycle = 250
    streams: dict[str, list[bytes]] = {}
    for i, name in enumerate(names):
        streams[name] = packets(300.0 + 110.0 * i if i < talking else None, cycle)
    for name in names + [f"l{i}" for i in range(listeners)]:
        peer = _Peer(user=name, pc=None, transceiver=None, payload_type=111, ingest=Ingest(cfg))  # type: ignore[arg-type]
        peer.stream = RtpStream(ssrc=1, payload_type=111, send=lambda d: True)
        room._peers[name] = peer
    room.set_routing(
        Routing(
            default=make_mix(dict.fromkeys(names, 1.0)),
            overrides={s: make_mix({o: 1.0 for o in names if o != s}) for s in names},
            publishers=frozenset(names),
        )
    )
    quiet = QuietPayload if (levels and QuietPayload is not None) else None

    def step(k: int) -> None:
        now = k * FRAME
        for i, name in enumerate(names):
            p = streams[name][k % cycle]
            if quiet is not None and i >= talking:
                p = quiet(p)  # what the RTP tap hands on for a level <= silence_dbov
            room._peers[name].ingest.push(k & 0xFFFF, p, now)
        room.tick(now + 0.001)

    for k in range(warm):
        step(k)
    c0, t0 = time.process_time(), time.thread_time()
    for k in range(warm, warm + ticks):
        step(k)
    c1, t1 = time.process_time(), time.thread_time()
    stats = room.stats()
    return {
        "seats": seats,
        "talking": talking,
        "listeners": listeners,
        "encode_threads": encode_threads,
        "levels": levels,
        "ticks": ticks,
        "process_us_per_tick": (c1 - c0) / ticks * 1e6,
        "loop_thread_us_per_tick": (t1 - t0) / ticks * 1e6,
        "process_pct_of_core": (c1 - c0) / (ticks * FRAME) * 100,
        "encodes_per_tick": stats["encodes_per_tick"],
        "silent_skipped": stats.get("rx_silent_skipped", 0.0),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seats", type=int, default=8)
    ap.add_argument("--talking", type=int, nargs="+", default=[8])
    ap.add_argument("--listeners", type=int, default=0)
    ap.add_argument("--ticks", type=int, default=500)
    ap.add_argument("--encode-threads", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--levels", choices=["on", "off"], nargs="+", default=["on"])
    ap.add_argument("--repeat", type=int, default=3, help="interleaved repeats; medians")
    ap.add_argument("--json", default="bench_tick.json")
    args = ap.parse_args()
    combos = [
        (talking, threads, lv == "on")
        for talking in args.talking
        for threads in args.encode_threads
        for lv in args.levels
    ]
    runs: dict[tuple[int, int, bool], list[dict[str, Any]]] = {c: [] for c in combos}
    for _ in range(args.repeat):  # interleaved, so load drifts hit every variant alike
        for talking, threads, lv in combos:
            runs[(talking, threads, lv)].append(
                run(
                    seats=args.seats,
                    talking=talking,
                    listeners=args.listeners,
                    ticks=args.ticks,
                    encode_threads=threads,
                    levels=lv,
                )
            )
    out = []
    for (talking, threads, lv), rs in runs.items():
        med = {
            k: float(np.median([r[k] for r in rs]))
            for k in ("process_us_per_tick", "loop_thread_us_per_tick", "process_pct_of_core")
        }
        row = rs[0] | med
        out.append(row)
        print(
            f"{args.seats} seats, {talking} talking, levels {'on ' if lv else 'off'}, "
            f"{threads} encode threads: {med['process_us_per_tick']:7.0f} us CPU per tick "
            f"({med['process_pct_of_core']:4.1f} % of a core), loop thread "
            f"{med['loop_thread_us_per_tick']:7.0f} us | {row['encodes_per_tick']:.0f} "
            f"encodes/tick",
            flush=True,
        )
    Path(args.json).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
