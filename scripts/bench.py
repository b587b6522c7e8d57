#!/usr/bin/env python3
"""voiceroom benchmarks: capacity, latency and audio quality, next to their limits.

    python scripts/bench.py [--quick] [--json OUT] [--only SECTION,...] [--plot PNG]

Prints a table and writes JSON with every figure of issue #5 (``null`` where a figure could
not be measured, with the reason in ``notes``). The server side always runs in a process of
its own and its CPU (user + system, all threads, from /proc) is the only CPU counted; load
clients run in other processes. Figures are medians (or percentiles) over repeated
windows. ``--quick`` takes under three minutes; the full run about fifteen on 2 cores.
Method and limits: docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from benchlib import codec_ref, media, realserver
from benchlib.proc import ROOT, SCRIPTS, raise_nofile
from benchlib.stats import median, rnd

# Every key issue #5 asks for; null until measured.
KEYS = [
    "fanout_us_per_listener_packet",
    "listeners_per_core",
    "fanout_baseline_us_per_listener_packet",
    "fanout_speedup_vs_baseline",
    "mix_cpu_pct_per_room_8spk",
    "mix_cpu_pct_per_room_16spk",
    "server_added_latency_ms_p50",
    "server_added_latency_ms_p99",
    "server_added_latency_ms_p50_loss5",
    "server_added_latency_ms_p99_loss5",
    "mouth_to_ear_ms_p50",
    "join_to_first_audio_ms_p50_1",
    "join_to_first_audio_ms_p99_1",
    "join_to_first_audio_ms_p50_100",
    "join_to_first_audio_ms_p99_100",
    "switch_gap_ms",
    "pesq_wb_clean",
    "pesq_wb_loss5",
    "pesq_wb_codec_ref_clean",
    "pesq_wb_codec_ref_loss5",
    "pesq_ratio_clean",
    "pesq_ratio_loss5",
    "chat_fanout_ms_p50",
    "chat_fanout_ms_p99",
]

# (target, direction): "<=" means lower is better.
TARGETS: dict[str, tuple[float, str]] = {
    "fanout_us_per_listener_packet": (15.0, "<="),
    "listeners_per_core": (1300.0, ">="),
    "mix_cpu_pct_per_room_8spk": (8.0, "<="),
    "server_added_latency_ms_p50": (40.0, "<="),
    "server_added_latency_ms_p99": (60.0, "<="),
    "server_added_latency_ms_p99_loss5": (80.0, "<="),
    "join_to_first_audio_ms_p50_100": (150.0, "<="),
    "join_to_first_audio_ms_p99_100": (400.0, "<="),
    "switch_gap_ms": (40.0, "<="),
    "pesq_ratio_clean": (0.95, ">="),
    "pesq_ratio_loss5": (0.95, ">="),
    "chat_fanout_ms_p99": (100.0, "<="),
}


@dataclass(frozen=True)
class Profile:
    name: str
    fanout_points: tuple[int, ...]
    baseline_points: tuple[int, ...]
    windows: int  # repeated measurement windows per point
    seconds: float  # length of one window
    latency_windows: int
    bursts: int
    pesq_runs: int
    ref_seeds: int
    short_speech: bool
    chat_clients: int
    chat_messages: int
    single_joins: int
    concurrent_joins: int
    switch_repeats: int


QUICK = Profile("quick", (0, 100, 200), (0, 8, 16), 2, 2.0, 2, 6, 2, 3, True, 200, 20, 5, 100, 1)
FULL = Profile(
    "full",
    (0, 100, 200, 300, 400, 500, 600, 700, 800, 1000),
    (0, 10, 20, 30, 40),
    3,
    5.0,
    6,
    30,
    5,
    10,
    False,
    1000,
    50,
    20,
    100,
    3,
)


class Bench:
    def __init__(self, profile: Profile) -> None:
        self.p = profile
        self.r: dict[str, float | None] = dict.fromkeys(KEYS)
        self.notes: dict[str, str] = {}
        self.details: dict[str, Any] = {}
        self._speech: Any = None

    def put(self, key: str, value: float | None, digits: int = 2) -> None:
        zero_ok = key == "switch_gap_ms"  # no gap at all is the goal
        if value is not None and not (value > 0 or (zero_ok and value == 0)):
            raise ValueError(f"{key}: non-positive figure {value}")
        self.r[key] = rnd(value, digits)

    def why(self, keys: list[str], note: str) -> None:
        for k in keys:
            self.notes.setdefault(k, note)

    def speech(self) -> Any:
        if self._speech is None:
            text = codec_ref.SPEECH_TEXT.split(".")[0] + "." if self.p.short_speech else None
            self._speech = codec_ref.speech_16k(text) if text else codec_ref.speech_16k()
        return self._speech

    # -- sections ----------------------------------------------------------------------

    async def codec_ref(self) -> None:
        """Offline: the codec's own PESQ limit."""
        if (missing := codec_ref.have_tools()) is not None:
            self.why(["pesq_wb_codec_ref_clean", "pesq_wb_codec_ref_loss5"], missing)
            return
        ref = self.speech()
        clean = await asyncio.to_thread(codec_ref.codec_reference, loss=0, seeds=1, ref16=ref)
        lossy = await asyncio.to_thread(
            codec_ref.codec_reference, loss=0.05, seeds=self.p.ref_seeds, ref16=ref
        )
        plc = await asyncio.to_thread(
            codec_ref.plc_only_reference, loss=0.05, seeds=self.p.ref_seeds, ref16=ref
        )
        self.put("pesq_wb_codec_ref_clean", clean["pesq"])
        self.put("pesq_wb_codec_ref_loss5", lossy["pesq"])
        self.details["codec_ref"] = {"clean": clean, "loss5": lossy, "loss5_plc_only": plc}

    async def fanout(self) -> None:
        """Our fan-out: 8 speakers, listeners ramped; marginal CPU per listener-packet."""
        pts = await media.ramp(
            "ours",
            self.p.fanout_points,
            speakers=8,
            windows=self.p.windows,
            seconds=self.p.seconds,
        )
        self.details["fanout_points"] = [asdict(p) for p in pts]
        us = media.per_packet_us(pts)
        if us is None:
            self.why(
                ["fanout_us_per_listener_packet", "listeners_per_core"],
                "fewer than two unsaturated points",
            )
            return
        self.put("fanout_us_per_listener_packet", us)
        self.put("listeners_per_core", 1e6 / (us * media.FPS), 0)
        ok = media.healthy(pts)
        self.details["fanout_max_healthy_listeners"] = max(p.listeners for p in ok)
        self.details["fanout_send_loop_us_per_packet"] = ok[-1].send_loop_us
        loaded = [p for p in ok if p.pps > 0]
        if loaded:
            self.details["load_client_us_per_packet"] = rnd(
                median([p.client_cpu / p.pps * 1e6 for p in loaded]), 1
            )

    async def baseline(self) -> None:
        """aiortc's stock path: an AudioFrame track per listener, encoded per listener."""
        pts = await media.ramp(
            "stock",
            self.p.baseline_points,
            speakers=0,
            windows=self.p.windows,
            seconds=self.p.seconds,
        )
        self.details["baseline_points"] = [asdict(p) for p in pts]
        us = media.per_packet_us(pts)
        if us is None:
            self.why(["fanout_baseline_us_per_listener_packet"], "baseline saturated early")
            return
        self.put("fanout_baseline_us_per_listener_packet", us)
        ours = self.r["fanout_us_per_listener_packet"]
        if ours:
            self.put("fanout_speedup_vs_baseline", us / ours, 1)

    async def mix(self) -> None:
        """CPU per room with all seats talking, and the server-added latency (clean)."""
        for n in (8, 16):
            res = await media.mix_cost(
                n,
                windows=self.p.windows,
                seconds=self.p.seconds,
                latency_windows=self.p.latency_windows if n == 8 else 0,
            )
            self.details[f"mix_{n}spk"] = res
            self.put(f"mix_cpu_pct_per_room_{n}spk", res["cpu_pct"])
            if n == 8:
                self.put("server_added_latency_ms_p50", res["latency_p50_ms"])
                self.put("server_added_latency_ms_p99", res["latency_p99_ms"])
            media.log(
                f"mix {n} speakers: {res['cpu_pct']:.1f} % of a core "
                f"(idle harness {res['idle_pct']:.1f} %)"
            )

    async def latency_loss(self) -> None:
        res = await media.mix_cost(
            8,
            windows=1,
            seconds=self.p.seconds,
            loss=0.05,
            latency_windows=self.p.latency_windows,
        )
        self.details["latency_loss5"] = res
        self.put("server_added_latency_ms_p50_loss5", res["latency_p50_ms"])
        self.put("server_added_latency_ms_p99_loss5", res["latency_p99_ms"])

    async def mouth_to_ear(self) -> None:
        res = await media.mouth_to_ear(self.p.bursts)
        self.details["mouth_to_ear"] = res
        if not res["n"]:
            self.why(["mouth_to_ear_ms_p50"], "no tone burst detected at the listener")
            return
        self.put("mouth_to_ear_ms_p50", res["p50_ms"])

    async def pesq(self) -> None:
        if (missing := codec_ref.have_tools()) is not None:
            self.why(["pesq_wb_clean", "pesq_wb_loss5"], missing)
            return
        ref = self.speech()
        # Median over repeats, each a fresh harness (fresh jitter buffers): one utterance
        # scores ~0.2 lower whenever the server's jitter buffer concealed a late packet and
        # trimmed a frame later (a 20 ms delay step PESQ only partly re-aligns). Repeat i
        # with loss uses loss pattern i, the same one as the codec reference's seed i.
        for key, loss in (("pesq_wb_clean", 0.0), ("pesq_wb_loss5", 0.05)):
            runs = []
            for seed in range(self.p.pesq_runs):
                run = await media.pesq_through_server(ref, loss=loss, seed=seed)
                media.log(
                    f"{key} repeat {seed + 1}/{self.p.pesq_runs}: {run['pesq']:.3f} "
                    f"(server PLC {run['rx_plc']}, trimmed {run['rx_trimmed']}, "
                    f"delay steps {run['delay_steps']})"
                )
                runs.append(run)
            scores = [r["pesq"] for r in runs]
            self.details[key] = {"median": median(scores), "scores": scores, "runs": runs}
            self.put(key, median(scores))
            media.log(f"{key}: {self.r[key]} (median of {len(scores)})")
        for tag in ("clean", "loss5"):
            a, b = self.r[f"pesq_wb_{tag}"], self.r[f"pesq_wb_codec_ref_{tag}"]
            if a and b:
                self.put(f"pesq_ratio_{tag}", a / b, 3)
            else:
                self.why([f"pesq_ratio_{tag}"], "needs pesq and codec_ref figures")
        # The headline loss ratio divides a median over pesq_runs patterns by one over
        # ref_seeds patterns; this one pairs repeat k with the reference's pattern k.
        ref_scores = self.details.get("codec_ref", {}).get("loss5", {}).get("scores", [])
        ours = self.details["pesq_wb_loss5"]["scores"]
        if len(ref_scores) >= len(ours):
            self.details["pesq_ratio_loss5_same_patterns"] = {
                "median": median([a / b for a, b in zip(ours, ref_scores, strict=False)]),
                "ratios": [a / b for a, b in zip(ours, ref_scores, strict=False)],
            }

    async def join(self) -> None:
        """Token -> WebSocket -> SDP -> first decoded packet with the host's voice, through
        the real server (voiceroom serve --media)."""
        res = await realserver.join_to_first_audio(
            singles=self.p.single_joins, concurrent=self.p.concurrent_joins
        )
        self.details["join"] = res
        if res["crowd_failed"]:
            self.notes["join_to_first_audio_ms_p99_100"] = (
                f"{res['crowd_failed']} of {self.p.concurrent_joins} joiners failed"
            )
        self.put("join_to_first_audio_ms_p50_1", res["single_p50"])
        self.put("join_to_first_audio_ms_p99_1", res["single_p99"])
        self.put("join_to_first_audio_ms_p50_100", res["crowd_p50"])
        self.put("join_to_first_audio_ms_p99_100", res["crowd_p99"])
        media.log(
            f"join: 1 joiner p50 {res['single_p50']:.0f} ms; {res['crowd_n']} at once "
            f"p50 {res['crowd_p50']:.0f} ms, p99 {res['crowd_p99']:.0f} ms "
            f"(server CPU {res['crowd_server_cpu_s']:.1f} s in a {res['crowd_wave_s']:.1f}"
            f" s wave)"
        )

    async def switch(self) -> None:
        """Longest silence of the host's voice at an audience member around show -> 1v1
        (listen-in) -> show, through the real server."""
        res = await realserver.switch_gap(hold=2.0, repeats=self.p.switch_repeats)
        self.details["switch"] = res
        self.put("switch_gap_ms", res["max_ms"])
        if not all(res["audience_heard_shopper_in_1v1"]):
            self.notes["switch_gap_ms"] = "audience did not hear the shopper during the 1v1"

    async def chat(self) -> None:
        """Chat fan-out to N WebSocket clients, with the signalling team's own measurement
        (``fanout`` in scripts/bench_signalling.py, imported). Its ``main`` also runs
        commands/s phases we do not need here, so only server start + fan-out are called."""
        keys = ["chat_fanout_ms_p50", "chat_fanout_ms_p99"]
        if not (SCRIPTS / "bench_signalling.py").exists():
            self.why(keys, "scripts/bench_signalling.py not present yet")
            return
        import signal

        import bench_signalling as sig

        port = sig.free_port()
        base = f"ws://127.0.0.1:{port}"
        server = await sig.start_server(port)
        try:
            host = await sig.open_client(base, "host", "host")
            fan = await asyncio.wait_for(
                sig.fanout(base, host, self.p.chat_clients, self.p.chat_messages, 0.1), 300
            )
            await host.close()
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(server.wait(), 15)
            except TimeoutError:
                server.kill()
                await server.wait()
        self.details["chat_fanout"] = fan
        if fan["deliveries"] < fan["expected"]:
            self.notes["chat_fanout_ms_p99"] = (
                f"only {fan['deliveries']} of {fan['expected']} deliveries"
            )
        self.put("chat_fanout_ms_p50", float(fan["p50"]))
        self.put("chat_fanout_ms_p99", float(fan["p99"]))
        if fan["clients"] != 1000:
            self.notes.setdefault("chat_fanout_ms_p99", f"{fan['clients']} clients (quick run)")


SECTIONS: dict[str, tuple[Callable[[Bench], Awaitable[None]], list[str]]] = {
    "codec_ref": (Bench.codec_ref, ["pesq_wb_codec_ref_clean", "pesq_wb_codec_ref_loss5"]),
    "fanout": (Bench.fanout, ["fanout_us_per_listener_packet", "listeners_per_core"]),
    "baseline": (
        Bench.baseline,
        ["fanout_baseline_us_per_listener_packet", "fanout_speedup_vs_baseline"],
    ),
    "mix": (
        Bench.mix,
        [
            "mix_cpu_pct_per_room_8spk",
            "mix_cpu_pct_per_room_16spk",
            "server_added_latency_ms_p50",
            "server_added_latency_ms_p99",
        ],
    ),
    "latency_loss": (
        Bench.latency_loss,
        ["server_added_latency_ms_p50_loss5", "server_added_latency_ms_p99_loss5"],
    ),
    "mouth_to_ear": (Bench.mouth_to_ear, ["mouth_to_ear_ms_p50"]),
    "pesq": (
        Bench.pesq,
        ["pesq_wb_clean", "pesq_wb_loss5", "pesq_ratio_clean", "pesq_ratio_loss5"],
    ),
    "join": (
        Bench.join,
        [
            "join_to_first_audio_ms_p50_1",
            "join_to_first_audio_ms_p99_1",
            "join_to_first_audio_ms_p50_100",
            "join_to_first_audio_ms_p99_100",
        ],
    ),
    "switch": (Bench.switch, ["switch_gap_ms"]),
    "chat": (Bench.chat, ["chat_fanout_ms_p50", "chat_fanout_ms_p99"]),
}


def status(key: str, value: float | None) -> str:
    if key not in TARGETS or value is None:
        return ""
    target, op = TARGETS[key]
    met = value <= target if op == "<=" else value >= target
    return f"{op} {target:g}  {'met' if met else 'MISSED'}"


def table(b: Bench) -> str:
    lines = [f"{'figure':<42} {'value':>10}  {'target':<18} note", "-" * 100]
    for key in KEYS:
        v = b.r[key]
        shown = "null" if v is None else f"{v:g}"
        lines.append(f"{key:<42} {shown:>10}  {status(key, v):<18} {b.notes.get(key, '')}")
    return "\n".join(lines)


def markdown(b: Bench) -> str:
    """The results as a Markdown table (pasted into docs/performance.md)."""
    rows = ["| figure | value | target | note |", "|---|---:|---|---|"]
    for key in KEYS:
        v = b.r[key]
        shown = "null" if v is None else f"{v:g}"
        note = b.notes.get(key, "").replace("|", "/")
        rows.append(f"| `{key}` | {shown} | {status(key, v)} | {note} |")
    return "\n".join(rows) + "\n"


def plot(b: Bench, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for key, label, style in (
        ("fanout_points", "voiceroom (encode once, direct RTP), 8 speakers", "o-"),
        ("baseline_points", "aiortc stock (AudioFrame track per listener)", "s--"),
    ):
        pts = b.details.get(key)
        if pts:
            ax.plot(
                [p["listeners"] for p in pts],
                [p["server_cpu"] * 100 for p in pts],
                style,
                label=label,
            )
    ax.axhline(100, color="grey", lw=0.8, ls=":")
    ax.text(0, 102, "one core", color="grey", fontsize=8)
    ax.set_xlabel("listeners in the room")
    ax.set_ylabel("server CPU, % of one core (user+sys)")
    ax.set_title(f"Server CPU against listeners ({b.p.name} run)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def meta(profile: Profile, started: float) -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "profile": profile.name,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "cpus": os.cpu_count(),
        "loadavg_at_end": os.getloadavg(),
        "commit": commit,
        "python": sys.version.split()[0],
    }


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    profile = QUICK if args.quick else FULL
    if args.seconds:
        profile = Profile(**{**asdict(profile), "seconds": args.seconds})
    b = Bench(profile)
    started = time.time()
    wanted = args.only.split(",") if args.only else list(SECTIONS)
    if unknown := [n for n in wanted if n not in SECTIONS]:
        raise SystemExit(f"unknown section(s): {','.join(unknown)}")
    # Always in SECTIONS order: the PESQ ratios need codec_ref's figures (--only pesq,codec_ref
    # used to leave them null).
    only = [n for n in SECTIONS if n in wanted]
    for name in only:
        fn, keys = SECTIONS[name]
        print(f"== {name}", flush=True)
        t0 = time.monotonic()
        try:
            await fn(b)
        except Exception as exc:
            traceback.print_exc()
            b.why(keys, f"{name} failed: {type(exc).__name__}: {exc}"[:160])
        print(f"   {name}: {time.monotonic() - t0:.0f} s", flush=True)
    skipped = {k for n, (_, ks) in SECTIONS.items() if n not in only for k in ks}
    for key in skipped:
        b.why([key], "section not run (--only)")
    if b.details.get("fanout_points") or b.details.get("baseline_points"):
        plot(b, Path(args.plot))
    print()
    print(table(b))
    out = {**b.r, "notes": b.notes, "details": b.details, "meta": meta(profile, started)}
    return out, markdown(b)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small N, short windows (< 3 min)")
    ap.add_argument("--json", metavar="OUT", help="write the figures as JSON")
    ap.add_argument("--only", help=f"comma-separated sections: {','.join(SECTIONS)}")
    ap.add_argument("--seconds", type=float, help="override the window length")
    ap.add_argument("--markdown", metavar="MD", help="also write the table as Markdown")
    ap.add_argument("--plot", default=str(ROOT / "docs/images/perf_cpu_vs_listeners.png"))
    args = ap.parse_args()
    raise_nofile()
    out, md = asyncio.run(run(args))
    if args.markdown:
        Path(args.markdown).write_text(md)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=float) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
