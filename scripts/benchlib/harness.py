"""The server side of the media benchmarks, in a process of its own (its CPU is what we
measure). Two backends behind the same control surface:

* ``ours``  - one :class:`voiceroom.media.MediaRoom` (encode each distinct mix once, write
  RTP to every listener directly);
* ``stock`` - aiortc's stock send path, as a server built on aiortc's public API would do
  it: one ``AudioFrame`` track per listener, so aiortc's sender encodes per listener.

SDP offers arrive on a loopback TCP port as JSON lines (``{"user", "sdp"}`` ->
``{"sdp"}``), so load-client processes join directly. The parent drives everything else
over stdin/stdout (see :class:`benchlib.proc.Child`).

    python -m benchlib.harness --mode ours|stock [--max-seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import math
import os
import time
from typing import Any

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from av import AudioFrame

from benchlib.proc import bench_address, loopback_only, raise_nofile, reply, serve_stdio

FRAME = 960
RATE = 48_000
TIME_BASE = fractions.Fraction(1, RATE)


class Backend:
    async def connect(self, user: str, sdp: str) -> str:
        raise NotImplementedError

    async def handle(self, op: str, req: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class Ours(Backend):
    def __init__(self) -> None:
        from voiceroom.media import MediaConfig, MediaRoom

        # A variant for side-by-side runs, e.g. '{"encode_threads": 0}' (bench_janus.py).
        overrides = json.loads(os.environ.get("VOICEROOM_BENCH_MEDIA") or "{}")
        self.room = MediaRoom("bench", config=MediaConfig(**overrides))
        self._latency_cursor = 0
        self._latencies: list[float] = []
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.room.start()
        self._poller = asyncio.get_running_loop().create_task(self._poll_latencies())

    async def _poll_latencies(self) -> None:
        """Drain the media plane's latency ring (4,096 samples) every second, so no sample
        is lost or read twice whatever the caller's window length."""
        while True:
            await asyncio.sleep(1.0)
            lat = self.room.latencies(self._latency_cursor)
            self._latency_cursor += len(lat)
            self._latencies += lat

    async def connect(self, user: str, sdp: str) -> str:
        return await self.room.connect(user, sdp)

    async def handle(self, op: str, req: dict[str, Any]) -> dict[str, Any]:
        from voiceroom.room.routing import Routing, make_mix

        if op == "routing":
            self.room.set_routing(
                Routing(
                    default=make_mix(req.get("default", {})),
                    overrides={u: make_mix(m) for u, m in req.get("overrides", {}).items()},
                    publishers=frozenset(req.get("publishers", [])),
                )
            )
            return {"ok": True}
        if op == "stats":
            return {"stats": self.room.stats()}
        if op == "latencies":
            # The samples since the previous request: windows do not overlap.
            lat, self._latencies = self._latencies, []
            return {"latencies": lat}
        if op == "disconnect":
            for user in req["users"]:
                await self.room.disconnect(user)
            return {"ok": True}
        raise ValueError(f"unknown op {op}")

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
        await self.room.close()


class _MixTrack(MediaStreamTrack):
    """One listener's track in the stock design: every 20 ms a fresh AudioFrame of the
    common mix, which aiortc's sender then encodes for this listener alone."""

    kind = "audio"

    def __init__(self, mix: np.ndarray) -> None:
        super().__init__()
        self._mix = mix
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        deadline = self._start + self._n * FRAME / RATE
        delay = deadline - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        i = self._n % (len(self._mix) // FRAME)
        frame = AudioFrame.from_ndarray(
            self._mix[i * FRAME : (i + 1) * FRAME].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = RATE
        frame.pts = self._n * FRAME
        frame.time_base = TIME_BASE
        self._n += 1
        return frame


class Stock(Backend):
    def __init__(self) -> None:
        t = np.arange(RATE) / RATE
        # 1 s of a two-tone "mix" (whole periods, so the loop is seamless).
        self._mix = (
            0.2 * 32767 * (np.sin(2 * math.pi * 440 * t) + np.sin(2 * math.pi * 660 * t)) / 2
        ).astype(np.int16)
        self._pcs: dict[str, RTCPeerConnection] = {}

    async def connect(self, user: str, sdp: str) -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pcs[user] = pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for t in pc.getTransceivers():
            if t.kind == "audio":
                t.direction = "sendrecv"
                t.sender.replaceTrack(_MixTrack(self._mix))
                break
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def handle(self, op: str, req: dict[str, Any]) -> dict[str, Any]:
        if op == "stats":
            return {"stats": {"peers": float(len(self._pcs))}}
        if op == "disconnect":
            for user in req["users"]:
                pc = self._pcs.pop(user, None)
                if pc is not None:
                    await pc.close()
            return {"ok": True}
        raise ValueError(f"unknown op {op}")

    async def close(self) -> None:
        pcs, self._pcs = list(self._pcs.values()), {}
        await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)


async def _signalling(backend: Backend) -> asyncio.Server:
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 30)
            req = json.loads(line)
            try:
                answer = await backend.connect(req["user"], req["sdp"])
                msg: dict[str, Any] = {"sdp": answer}
            except Exception as exc:
                msg = {"error": f"{type(exc).__name__}: {exc}"}
            writer.write((json.dumps(msg) + "\n").encode())
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return await asyncio.start_server(session, bench_address(), 0, limit=1 << 20, backlog=1024)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("ours", "stock"), required=True)
    parser.add_argument("--max-seconds", type=float, default=1500)
    args = parser.parse_args()
    loopback_only()
    raise_nofile()
    backend: Backend
    if args.mode == "ours":
        ours = Ours()
        await ours.start()
        backend = ours
    else:
        backend = Stock()
    server = await _signalling(backend)
    port = server.sockets[0].getsockname()[1]
    reply({"ready": True, "port": port, "pid": os.getpid()})
    try:
        await serve_stdio(backend.handle, max_seconds=args.max_seconds)
    finally:
        server.close()
        await backend.close()


if __name__ == "__main__":
    asyncio.run(main())
