"""voiceroom next to Janus AudioBridge, in one run: an 8-talker room with 0 / 50 / 100 light
listeners on each, server CPU measured the same way for both.

Janus gathers no loopback ICE candidates, so nothing runs on 127.0.0.1 here: the script
creates two network namespaces joined by a veth pair (10.213.<n>.1 = servers, .2 = load
clients), runs each server in the first and the load clients in the second, and deletes
both namespaces at the end (which also removes the veth pair). Needs root and ``ip``; Janus
is the Debian ``janus`` package (``VOICEROOM_WITH_BENCH=1 scripts/bootstrap.sh``), configured
here in a temporary directory: HTTP transport on the server address, AudioBridge only, one
room at 48 kHz.

Same load and encoder settings on both: talkers send the same pre-encoded Opus tones
(``benchlib.loadclient`` speakers), listeners are the same light clients (ICE + DTLS, then
RTP counted at the socket); Opus 32 kbps, complexity 5 (Janus ``quality``), expected loss
10 % (FEC), 48 kHz. Listeners join AudioBridge muted (it still mixes and encodes for each
of them: that is its design). voiceroom runs ``benchlib.harness --mode ours`` (the media
plane alone, as for the fan-out figures in docs/performance.md).

Figures per server: CPU (% of one core) at each listener count, and CPU per delivered
listener-packet (least squares over the steps). JSON out.

    sudo .venv/bin/python scripts/bench_janus.py [--seconds 8] [--windows 1] \
        [--listeners 0 50 100] [--servers voiceroom janus] [--json bench_janus.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib.proc import Child, cpu_seconds

TALKERS = 8
FREQS = [300.0 + 110.0 * i for i in range(TALKERS)]
ROOM = 1234
JANUS_PORT = 8088
JOIN_SETTINGS = {"quality": 5, "bitrate": 32_000, "expected_loss": 10}


class Netns:
    """Two namespaces and a veth pair between them; ``close`` removes everything."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 100_000}"
        self.server, self.client = f"vrb-s{tag}", f"vrb-c{tag}"
        self.veth_s, self.veth_c = f"vrbs{tag}", f"vrbc{tag}"
        net = os.getpid() % 250 + 1
        self.server_addr, self.client_addr = f"10.213.{net}.1", f"10.213.{net}.2"
        self.made: list[str] = []

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    def open(self) -> None:
        for ns in (self.server, self.client):
            self._ip("netns", "add", ns)
            self.made.append(ns)
            self._ip("-n", ns, "link", "set", "lo", "up")
        self._ip("link", "add", self.veth_s, "type", "veth", "peer", "name", self.veth_c)
        for ns, dev, addr in (
            (self.server, self.veth_s, self.server_addr),
            (self.client, self.veth_c, self.client_addr),
        ):
            self._ip("link", "set", dev, "netns", ns)
            self._ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            self._ip("-n", ns, "link", "set", dev, "up")

    def close(self) -> None:
        for ns in self.made:  # deleting a namespace deletes the veth end inside it
            subprocess.run(["ip", "netns", "delete", ns], check=False, capture_output=True)
        # If setup failed before the move, the pair is still in this namespace.
        subprocess.run(["ip", "link", "delete", self.veth_s], check=False, capture_output=True)

    def exec(self, ns: str) -> tuple[str, ...]:
        return ("ip", "netns", "exec", ns)


def janus_config(tmp: Path, net: Netns) -> Path:
    """A minimal Janus: HTTP transport on the server address, AudioBridge with one room."""
    plugins = "/usr/lib/x86_64-linux-gnu/janus/plugins"
    transports = "/usr/lib/x86_64-linux-gnu/janus/transports"
    others = [p.name for p in Path(plugins).glob("libjanus_*.so") if "audiobridge" not in p.name]
    other_tr = [p.name for p in Path(transports).glob("libjanus_*.so") if "http" not in p.name]
    (tmp / "janus.jcfg").write_text(
        f"""general: {{
    configs_folder = "{tmp}"
    plugins_folder = "{plugins}"
    transports_folder = "{transports}"
    events_folder = "/nonexistent"
    loggers_folder = "/nonexistent"
    debug_level = 3
    session_timeout = 0
}}
media: {{
    rtp_port_range = "20000-40000"
}}
nat: {{
    ice_enforce_list = "{net.veth_s}"
    full_trickle = false
}}
plugins: {{
    disable = "{",".join(others)}"
}}
transports: {{
    disable = "{",".join(other_tr)}"
}}
"""
    )
    (tmp / "janus.transport.http.jcfg").write_text(
        f"""general: {{
    json = "plain"
    base_path = "/janus"
    http = true
    port = {JANUS_PORT}
    ip = "{net.server_addr}"
    https = false
}}
admin: {{
    admin_http = false
}}
"""
    )
    (tmp / "janus.plugin.audiobridge.jcfg").write_text(
        f"""general: {{
}}
room-{ROOM}: {{
    description = "bench"
    sampling_rate = 48000
    audiolevel_ext = true
    audiolevel_event = false
    record = false
    default_expectedloss = 10
    default_bitrate = 32000
}}
"""
    )
    return tmp / "janus.jcfg"


async def measure(
    server_pid: int, listeners: Child, seconds: float, windows: int = 1, settle: float = 2.0
) -> dict[str, Any]:
    """``windows`` back-to-back windows of ``seconds``; the CPU figure is their median."""
    await asyncio.sleep(settle)
    ws = [await _window(server_pid, listeners, seconds) for _ in range(max(1, windows))]
    out: dict[str, Any] = dict(sorted(ws, key=lambda w: w["cpu_pct"])[len(ws) // 2])
    out["cpu_pct_windows"] = [w["cpu_pct"] for w in ws]
    out["loadavg_1min"] = os.getloadavg()[0]
    return out


async def _window(server_pid: int, listeners: Child, seconds: float) -> dict[str, float]:
    a = await listeners.request("count")
    c0, t0 = cpu_seconds(server_pid), time.monotonic()
    await asyncio.sleep(seconds)
    c1, t1 = cpu_seconds(server_pid), time.monotonic()
    b = await listeners.request("count")
    n = max(1, int(b["n"]))
    rate = (b["packets"] - a["packets"]) / (b["t"] - a["t"])
    return {
        "cpu_pct": 100 * (c1 - c0) / (t1 - t0),
        "listener_packets_per_s": rate,
        "delivered_pct": 100 * rate / (50 * n) if b["n"] else float("nan"),
        "listeners_connected": float(b["n"]),
    }


def slope(points: list[dict[str, Any]]) -> float | None:
    """Server CPU seconds per delivered listener-packet (least squares), in us."""
    xs = [p["listener_packets_per_s"] for p in points]
    ys = [p["cpu_pct"] / 100 for p in points]
    if len(points) < 2 or max(xs) - min(xs) <= 0:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return sxy / sxx * 1e6


async def run_server(
    kind: str, net: Netns, args: argparse.Namespace, tmp: Path, media: str = ""
) -> dict[str, Any]:
    overrides = json.loads(media or "{}")
    root = overrides.pop("_root", None)
    env_s = {
        "VOICEROOM_BENCH_ADDR": net.server_addr,
        "VOICEROOM_BENCH_MEDIA": json.dumps(overrides),
    }
    if root:  # another checkout's harness and voiceroom (e.g. the commit before a change)
        env_s["PYTHONPATH"] = f"{root}/scripts{os.pathsep}{root}"
    env_c = {"VOICEROOM_BENCH_ADDR": net.client_addr}
    janus_proc: subprocess.Popen[bytes] | None = None
    server: Child | None = None
    talk = await Child.start(
        "loadclient", prefix=net.exec(net.client), env=env_c, name=f"{kind}-talkers"
    )
    lis = await Child.start(
        "loadclient", prefix=net.exec(net.client), env=env_c, name=f"{kind}-listeners"
    )
    try:
        if kind == "voiceroom":
            server = await Child.start(
                "harness",
                "--mode",
                "ours",
                prefix=net.exec(net.server),
                env=env_s,
                name=kind,
                cwd=root,  # python -m puts the working directory first on sys.path
            )
            ready = await server.read(60)
            pid, port = int(ready["pid"]), int(ready["port"])
            seats = [f"s{i}" for i in range(TALKERS)]
            await server.request(
                "routing",
                default=dict.fromkeys(seats, 1.0),
                overrides={s: {o: 1.0 for o in seats if o != s} for s in seats},
                publishers=seats,
            )
            where: dict[str, Any] = {"host": net.server_addr, "port": port}
        else:
            cfg = janus_config(tmp, net)
            log = open(tmp / "janus.log", "wb")  # noqa: SIM115, ASYNC230 - closed with janus
            janus_proc = subprocess.Popen(  # noqa: ASYNC220 - a daemon, never awaited
                [*net.exec(net.server), "janus", "-C", str(cfg), "-F", str(tmp)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            pid = janus_proc.pid  # ip netns exec execs janus: same pid
            await asyncio.sleep(2.0)  # plugins and the HTTP transport come up
            if janus_proc.poll() is not None:
                raise RuntimeError(f"janus exited: {(tmp / 'janus.log').read_text()[-2000:]}")
            url = f"http://{net.server_addr}:{JANUS_PORT}/janus"
            where = {"janus": {"url": url, "room": ROOM, "join": JOIN_SETTINGS}}
        r = await talk.request(
            "join",
            wait=120,
            users=[f"s{i}" for i in range(TALKERS)],
            role="speaker",
            content="tone",
            freqs=FREQS,
            **where,
        )
        if r["failed"]:
            raise RuntimeError(f"{kind}: talkers failed to join: {r['failed']}")
        steps: list[dict[str, Any]] = []
        joined = 0
        for n in sorted(args.listeners):
            if n > joined:
                r = await lis.request(
                    "join",
                    wait=300,
                    users=[f"l{i}" for i in range(joined, n)],
                    role="listener",
                    concurrency=10,
                    **where,
                )
                joined += int(r["joined"])
                if r["failed"]:
                    print(f"{kind}: {len(r['failed'])} listener joins failed: {r['failed'][:2]}")
            m = await measure(pid, lis, args.seconds, args.windows)
            m["listeners"] = n
            if server is not None:
                st = (await server.request("stats"))["stats"]
                m["server_stats"] = {
                    k: st.get(k)
                    for k in (
                        "peers",
                        "peers_ready",
                        "late_ticks",
                        "ticks",
                        "encodes_per_tick",
                        "rx_packets",
                        "rx_fast_path",
                        "rx_late",
                        "rx_lost",
                        "rx_fec",
                        "rx_plc",
                        "rx_trimmed",
                        "rx_silent_skipped",
                        "tick_mean_us",
                        "parallel_encode_ticks",
                        "parallel_armed",
                        "rx_read_at_tick",
                        "uplinks_read_at_tick",
                        "packets_out",
                        "send_failures",
                    )
                }
            steps.append(m)
            print(
                f"{kind:9s} {media + ' ' if media else ''}{TALKERS} talkers + {n:3d} listeners: "
                f"server {m['cpu_pct']:5.1f} % "
                f"of a core (median of {' '.join(f'{c:.1f}' for c in m['cpu_pct_windows'])}), "
                f"{m['listener_packets_per_s']:6.0f} listener-packets/s "
                f"({m['delivered_pct']:.1f} % delivered), load {m['loadavg_1min']:.2f}",
                flush=True,
            )
        per = slope(steps)
        return {
            "server": kind,
            "media_config": media,
            "steps": steps,
            "cpu_pct_8_talkers_0_listeners": next(
                (s["cpu_pct"] for s in steps if s["listeners"] == 0), None
            ),
            "us_per_listener_packet": per,
        }
    finally:
        for child in (talk, lis):
            await child.close()
        if server is not None:
            await server.close()
        if janus_proc is not None:
            janus_proc.terminate()
            try:
                janus_proc.wait(10)
            except subprocess.TimeoutExpired:
                janus_proc.kill()
                janus_proc.wait(5)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--windows", type=int, default=1, help="windows per step; CPU = median")
    ap.add_argument("--listeners", type=int, nargs="+", default=[0, 50, 100])
    ap.add_argument("--servers", nargs="+", default=["voiceroom", "janus"])
    ap.add_argument(
        "--variants",
        nargs="+",
        default=[""],
        help="voiceroom MediaConfig overrides as JSON, one server run each, e.g. "
        "'' '{\"uplink_at_tick\": false}' (the first is the one compared with Janus); "
        '\'{"_root": "/tmp/base"}\' runs the harness and voiceroom of another checkout '
        "(git archive <commit> | tar -x -C /tmp/base) for a before/after in one run",
    )
    ap.add_argument("--rounds", type=int, default=1, help="repeat every run, interleaved")
    ap.add_argument("--json", default="bench_janus.json")
    args = ap.parse_args()
    results: dict[str, Any] = {
        "meta": {
            "talkers": TALKERS,
            "listeners": args.listeners,
            "seconds": args.seconds,
            "windows": args.windows,
            "rounds": args.rounds,
            "variants": args.variants,
            "opus": JOIN_SETTINGS | {"sampling_rate": 48_000},
            "loadavg_start": os.getloadavg(),
            "nproc": os.cpu_count(),
            "when": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        },
        "notes": {},
    }
    if os.geteuid() != 0 or shutil.which("ip") is None:
        sys.exit("bench_janus.py needs root and iproute2 (network namespaces)")
    net = Netns()
    try:
        net.open()
        runs: dict[str, list[dict[str, Any]]] = {}
        for round_no in range(args.rounds):
            for kind in args.servers:
                if kind == "janus" and shutil.which("janus") is None:
                    results["notes"]["janus"] = "janus not installed (VOICEROOM_WITH_BENCH=1)"
                    continue
                for media in args.variants if kind == "voiceroom" else [""]:
                    name = kind if not media else f"{kind} {media}"
                    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp:
                        try:
                            r = await run_server(kind, net, args, Path(tmp), media)
                            r["round"] = round_no
                            runs.setdefault(name, []).append(r)
                        except Exception as exc:  # report, and still run the others
                            results["notes"][f"{name} round {round_no}"] = (
                                f"{type(exc).__name__}: {exc}"
                            )
                            print(f"{name}: FAILED {exc}", flush=True)
        results["runs"] = runs
        # Per server (and variant): the run with the median 0-listener CPU.
        for name, rs in runs.items():
            zero = [r for r in rs if r["cpu_pct_8_talkers_0_listeners"] is not None]
            pick = sorted(zero, key=lambda r: r["cpu_pct_8_talkers_0_listeners"])
            results[name] = (pick or rs)[len(pick or rs) // 2]
    finally:
        net.close()
    results["meta"]["loadavg_end"] = os.getloadavg()
    names = list(results.get("runs", {}))
    v = results.get(next((n for n in names if n.startswith("voiceroom")), ""))
    j = results.get("janus")
    if v and j:
        cv, cj = v["cpu_pct_8_talkers_0_listeners"], j["cpu_pct_8_talkers_0_listeners"]
        pv, pj = v["us_per_listener_packet"], j["us_per_listener_packet"]
        results["ratio_cpu_8_talkers_voiceroom_to_janus"] = cv / cj if cv and cj else None
        results["ratio_per_listener_packet_janus_to_voiceroom"] = pj / pv if pv and pj else None
    print()
    for kind in names or args.servers:
        r = results.get(kind)
        if r:
            per = r["us_per_listener_packet"]
            zero = r["cpu_pct_8_talkers_0_listeners"]
            cj = j["cpu_pct_8_talkers_0_listeners"] if j else None
            ratio = zero / cj if zero and cj else None
            results.setdefault("ratio_cpu_8_talkers_to_janus", {})[kind] = ratio
            print(
                f"{kind}: 8 talkers, 0 listeners "
                f"{'n/a' if zero is None else f'{zero:.1f} %'} of a core"
                f"{'' if ratio is None else f' ({ratio:.2f}x Janus)'}; "
                f"{'n/a' if per is None else f'{per:.1f} us'} per listener-packet"
            )
        else:
            print(f"{kind}: no result")
    rc = results.get("ratio_cpu_8_talkers_voiceroom_to_janus")
    rp = results.get("ratio_per_listener_packet_janus_to_voiceroom")
    if rc is not None or rp is not None:
        print(
            f"ratios: CPU 8 talkers voiceroom/janus {'n/a' if rc is None else f'{rc:.2f}'}, "
            f"per listener-packet janus/voiceroom {'n/a' if rp is None else f'{rp:.1f}'}"
        )
    Path(args.json).write_text(json.dumps(results, indent=2))  # noqa: ASYNC240 - at exit
    print(f"wrote {args.json}")


if __name__ == "__main__":
    asyncio.run(main())
