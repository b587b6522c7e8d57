"""Load clients: many WebRTC peers in one process, as cheap as a real peer can be.

Roles (per ``join`` request):

* ``listener`` - completes ICE + DTLS with aiortc like any peer, then *counts* RTP
  datagrams at the ICE socket (first byte 0x80-0xBF, not RTCP) without SRTP unprotect,
  parsing or decoding. STUN (consent checks) still reaches aioice, so the session stays up.
  This is what lets one 2-core box host the server and 1,000 listeners.
* ``recorder`` - a full listener: RTP tap, Opus decode of every packet, arrival times kept
  (for mouth-to-ear onsets and PESQ recordings). Use one or two, never hundreds.
* ``speaker`` - sends pre-encoded Opus (encoded once at start, so sending costs no encode):
  a steady tone, 1 s cycles of a tone burst (burst release times recorded), or a speech
  file; optional random uplink loss in user space (RTCP untouched).

    python -m benchlib.loadclient [--max-seconds S]     # then JSON requests on stdin
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import gc
import json
import math
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import opuslib
import opuslib.api.decoder
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from av.packet import Packet

from benchlib.codec_ref import OpusSettings, encode
from benchlib.proc import loopback_only, own_cpu_seconds, raise_nofile, serve_stdio

FRAME = 960
RATE = 48_000
TIME_BASE = fractions.Fraction(1, RATE)
BURST_FRAMES = 5  # 100 ms of tone at the start of every 1 s cycle


def tone(freq: float, seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * math.pi * freq * t) * amplitude * 32767).astype(np.int16)


class PacketTrack(MediaStreamTrack):
    """Pre-encoded Opus packets on absolute 20 ms deadlines (aiortc packs av.Packets
    without encoding, design §3). ``loop_from`` is where to wrap when the list ends."""

    kind = "audio"

    def __init__(self, packets: list[bytes], *, loop_from: int = 0, cycle: int = 0) -> None:
        super().__init__()
        self._packets = packets
        self._loop_from = loop_from
        self._cycle = cycle  # record release times of packets with index % cycle == 0
        self.releases: list[float] = []
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> Packet:  # type: ignore[override]
        if self._start is None:
            self._start = time.monotonic()
        deadline = self._start + self._n * FRAME / RATE
        delay = deadline - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        n = len(self._packets)
        i = self._n if self._n < n else self._loop_from + (self._n - n) % (n - self._loop_from)
        packet = Packet(self._packets[i])
        packet.pts = self._n * FRAME
        packet.time_base = TIME_BASE
        self._n += 1
        if self._cycle and i % self._cycle == 0:
            self.releases.append(time.monotonic())
        return packet


class ParkedTrack(MediaStreamTrack):
    """A listener's uplink: aiortc's sender polls every 20 ms when it has no track (one
    wake-up per peer per tick); a track whose recv() never returns costs nothing."""

    kind = "audio"

    async def recv(self) -> Packet:  # type: ignore[override]
        await asyncio.Future()
        raise AssertionError("unreachable")


@dataclass(slots=True)
class Peer:
    user: str
    pc: RTCPeerConnection
    transceiver: RTCRtpTransceiver
    packets: int = 0
    track: PacketTrack | None = None
    room_client: Any = None  # voiceroom.client.RoomClient when joined through signalling
    # recorder only: (arrival, seq, pcm)
    received: list[tuple[float, int, np.ndarray]] = field(default_factory=list)


class Drainer:
    """Counts listeners' RTP straight off their sockets, in batches.

    asyncio would wake once per datagram (epoll, recvfrom, a Python callback: ~35 us a
    packet measured here), which for 1,000 listeners at 50 packets/s is more than a core.
    Instead each listener socket is taken out of the event loop once DTLS is up, and one
    task empties every socket every ``period`` seconds with non-blocking ``recvfrom``.
    Anything that is not RTP (STUN consent checks, RTCP, DTLS alerts) is handed to aioice's
    protocol as asyncio would have, so the session stays alive (RFC 7675 consent).
    """

    def __init__(self, period: float = 0.04) -> None:
        self.period = period
        self._socks: list[tuple[socket.socket, Any, Peer]] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, peer: Peer) -> None:
        loop = asyncio.get_running_loop()
        connection = peer.transceiver.receiver.transport.transport._connection
        for protocol in list(connection._protocols):
            transport = protocol.transport
            sock: socket.socket = transport._sock  # asyncio's own socket object
            # Python 3.11 datagram transports have no pause_reading(); the public
            # remove_reader() refuses fds owned by a transport, hence the private call.
            loop._remove_reader(sock.fileno())  # type: ignore[attr-defined]
            self._socks.append((sock, protocol, peer))
        if self._task is None:
            self._task = loop.create_task(self._run())

    def remove(self, peer: Peer) -> None:
        self._socks = [s for s in self._socks if s[2] is not peer]

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            for sock, protocol, peer in self._socks:
                while True:
                    try:
                        data, addr = sock.recvfrom(2048)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break  # closed under us; the peer is going away
                    # RFC 7983 demux: 128..191 is RTP/RTCP; RTCP packet types are 192..223.
                    if 128 <= data[0] <= 191 and not 192 <= data[1] <= 223:
                        peer.packets += 1
                    else:
                        protocol.datagram_received(data, addr)


def _record(peer: Peer) -> None:
    from voiceroom.media import aiortc_internals as internals

    pt = internals.negotiated_payload_type(peer.transceiver)
    dec = opuslib.Decoder(RATE, 1)

    def sink(seq: int, timestamp: int, payload: bytes, arrival: float) -> None:
        peer.packets += 1
        raw = opuslib.api.decoder.decode(dec.decoder_state, payload, len(payload), 5760, False, 1)
        peer.received.append((arrival, seq, np.frombuffer(raw, dtype=np.int16)))

    internals.install_rtp_tap(peer.transceiver.receiver, pt, sink)


def _lossy(peer: Peer, loss: float, seed: int) -> None:
    from voiceroom.media import aiortc_internals as internals

    rng = random.Random(seed)

    async def wrapper(send: Callable[[bytes], Awaitable[None]], data: bytes) -> None:
        is_rtcp = len(data) > 1 and 192 <= data[1] <= 223
        if is_rtcp or rng.random() >= loss:
            await send(data)

    internals.wrap_outgoing_rtp(peer.transceiver.sender.transport, wrapper)


class Clients:
    def __init__(self) -> None:
        self.peers: list[Peer] = []
        self.drainer = Drainer()
        self._encoded: dict[str, list[bytes]] = {}
        self._http: Any = None  # httpx.AsyncClient, for Janus signalling only

    def _packets(self, content: str, freq: float, speech: str | None) -> tuple[list[bytes], int]:
        """(packets, loop_from) for one speaker."""
        key = f"{content}:{freq}:{speech}"
        settings = OpusSettings.from_server()
        if key not in self._encoded:
            if content == "tone":
                pcm = tone(freq, 1.0)
            elif content == "burst":
                pcm = np.zeros(RATE, dtype=np.int16)
                pcm[: BURST_FRAMES * FRAME] = tone(freq, BURST_FRAMES * FRAME / RATE)
            elif content == "speech":
                assert speech is not None
                body = np.fromfile(speech, dtype="<i2").astype(np.int16)
                silence = np.zeros(RATE, dtype=np.int16)
                pcm = np.concatenate([body, silence])
            else:
                raise ValueError(f"unknown content {content}")
            self._encoded[key] = encode(pcm, settings)
        packets = self._encoded[key]
        # Speech plays once, then loops its trailing second of silence.
        loop_from = len(packets) - 50 if content == "speech" else 0
        return packets, loop_from

    async def join_one(self, port: int, user: str, req: dict[str, Any], index: int) -> Peer:
        role = req["role"]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = pc.addTransceiver("audio", direction="sendrecv")
        peer = Peer(user, pc, transceiver)
        try:
            connected = asyncio.Event()

            @pc.on("connectionstatechange")
            def _changed() -> None:
                if pc.connectionState == "connected":
                    connected.set()

            if role == "speaker":
                freqs = req.get("freqs") or [440.0]
                packets, loop_from = self._packets(
                    req.get("content", "tone"), freqs[index % len(freqs)], req.get("speech")
                )
                cycle = 50 if req.get("content") == "burst" else 0
                peer.track = PacketTrack(packets, loop_from=loop_from, cycle=cycle)
                if req.get("freeze_gc"):
                    # A full collection over this process's heap (numpy, aiortc, av) takes
                    # ~14 ms and came ~10 s into the speech every run: one packet sent 12 ms
                    # late, on a link that is supposed to be clean. Freeze what exists now
                    # so later collections only walk new objects.
                    gc.collect()
                    gc.freeze()
                transceiver.sender.replaceTrack(peer.track)
            else:
                transceiver.sender.replaceTrack(ParkedTrack())
            await pc.setLocalDescription(await pc.createOffer())
            if req.get("janus"):
                answer = await self._janus_join(req["janus"], user, role, pc.localDescription.sdp)
            elif req.get("voiceroom"):
                answer = await self._voiceroom_join(req["voiceroom"], peer, pc.localDescription.sdp)
            else:
                host = req.get("host", "127.0.0.1")
                reader, writer = await asyncio.open_connection(host, port)
                try:
                    msg = {"user": user, "sdp": pc.localDescription.sdp}
                    writer.write((json.dumps(msg) + "\n").encode())
                    await writer.drain()
                    answer = json.loads(await asyncio.wait_for(reader.readline(), 30))
                finally:
                    writer.close()
            if "error" in answer:
                raise RuntimeError(answer["error"])
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
            if role == "recorder":
                _record(peer)
            if role == "speaker" and req.get("loss"):
                # The first speaker's pattern for seed k is codec_ref's for seed k.
                _lossy(peer, float(req["loss"]), seed=int(req.get("seed", 0)) + 1000 * index)
            await asyncio.wait_for(connected.wait(), 20)
            if role == "listener":
                self.drainer.add(peer)
        except BaseException:
            await pc.close()
            if peer.room_client is not None:
                await peer.room_client.close()
            raise
        return peer

    async def _voiceroom_join(self, vr: dict[str, Any], peer: Peer, sdp: str) -> dict[str, Any]:
        """Join a real voiceroom server as a member (its WebSocket stays open while the peer
        lives): ``vr["host"]`` joins as the room's host (seat 0), other speakers take the
        seat ``vr["seats"][user]`` (warm-up: open seats), then the offer is answered."""
        from voiceroom.auth import issue_token
        from voiceroom.client.connection import RoomClient

        role = "host" if peer.user == vr.get("host") else "listener"
        token = issue_token(
            vr["secret"], room=vr["room"], user=peer.user, name=peer.user, role=role, ttl=7200
        )
        client = await RoomClient.join(vr["url"], token)
        peer.room_client = client
        seat = vr.get("seats", {}).get(peer.user)
        if seat is not None and role != "host":
            await client.take_seat(int(seat))
        reply = await client.request("media.offer", sdp=sdp)
        return {"sdp": reply["sdp"]}

    async def _janus_join(
        self, janus: dict[str, Any], user: str, role: str, sdp: str
    ) -> dict[str, Any]:
        """Join a Janus AudioBridge room over Janus's HTTP API (one session and handle per
        peer; the answer comes back as an event on the session's long poll). Listeners
        join muted; everyone with the same Opus settings as the voiceroom server."""
        import httpx

        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=60, limits=httpx.Limits(max_connections=None, max_keepalive_connections=50)
            )
        http, url = self._http, janus["url"]

        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            body["transaction"] = f"t{random.getrandbits(48)}"
            r = await http.post(url + path, json=body)
            r.raise_for_status()
            out: dict[str, Any] = r.json()
            if out.get("janus") == "error":
                raise RuntimeError(f"janus: {out['error']}")
            return out

        session = (await post("", {"janus": "create"}))["data"]["id"]
        handle = (
            await post(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.audiobridge"})
        )["data"]["id"]
        body = {
            "request": "join",
            "room": janus["room"],
            "display": user,
            "muted": role != "speaker",
            **janus.get("join", {}),
        }
        # Offer in-band FEC as browsers do (aiortc does not): AudioBridge then encodes with
        # FEC on, as voiceroom always does, so both servers do the same codec work.
        from voiceroom.media.sdp import set_fmtp

        pt = next(
            int(line.split()[0].split(":")[1])
            for line in sdp.splitlines()
            if line.startswith("a=rtpmap:") and "opus/48000" in line
        )
        sdp = set_fmtp(sdp, pt, {"useinbandfec": "1"})
        jsep = {"type": "offer", "sdp": sdp, "trickle": False}
        await post(f"/{session}/{handle}", {"janus": "message", "body": body, "jsep": jsep})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = await http.get(f"{url}/{session}", params={"maxev": 1})
            event = r.json()
            if event.get("jsep"):
                return {"sdp": event["jsep"]["sdp"]}
            data = event.get("plugindata", {}).get("data", {})
            if "error" in data:
                return {"error": f"janus: {data['error']}"}
        return {"error": "janus: no answer within 30 s"}

    async def join(self, req: dict[str, Any]) -> dict[str, Any]:
        sem = asyncio.Semaphore(int(req.get("concurrency", 20)))
        base = len(self.peers)
        times: list[float] = []

        async def one(i: int, user: str) -> Peer:
            async with sem:
                t0 = time.monotonic()
                peer = await self.join_one(int(req.get("port", 0)), user, req, i)
                times.append(time.monotonic() - t0)
                return peer

        results = await asyncio.gather(
            *(one(base + i, u) for i, u in enumerate(req["users"])), return_exceptions=True
        )
        failed = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
        self.peers += [r for r in results if isinstance(r, Peer)]
        return {"joined": len(results) - len(failed), "failed": failed[:5], "join_s": times}

    async def handle(self, op: str, req: dict[str, Any]) -> dict[str, Any]:
        if op == "join":
            return await self.join(req)
        if op == "count":
            counts = [p.packets for p in self.peers]
            return {
                "n": len(counts),
                "packets": sum(counts),
                "min": min(counts, default=0),
                "cpu": own_cpu_seconds(),
                "t": time.monotonic(),
                **({"per": counts} if req.get("per") else {}),
            }
        if op == "releases":
            return {"releases": [p.track.releases if p.track else [] for p in self.peers]}
        if op == "levels":
            return self._levels(float(req["freq"]))
        if op == "dump":
            return self._dump(req["path"], float(req.get("since", 0.0)))
        if op == "clear":
            for p in self.peers:
                p.received.clear()
            return {"ok": True}
        if op == "leave":
            peers, self.peers = self.peers, []
            for p in peers:
                self.drainer.remove(p)
            await asyncio.gather(*(p.pc.close() for p in peers), return_exceptions=True)
            await asyncio.gather(
                *(p.room_client.close() for p in peers if p.room_client is not None),
                return_exceptions=True,
            )
            return {"ok": True}
        raise ValueError(f"unknown op {op}")

    def _levels(self, freq: float) -> dict[str, Any]:
        """Per received packet of the first recorder: arrival and tone amplitude (0..1)."""
        rec = next(p for p in self.peers if p.received)
        w = np.exp(-2j * np.pi * freq * np.arange(FRAME) / RATE)
        arrivals, levels, seqs = [], [], []
        for arrival, seq, pcm in rec.received:
            x = pcm[:FRAME].astype(np.float64)
            levels.append(float(abs(np.dot(x, w[: len(x)])) * 2 / FRAME / 32767))
            arrivals.append(arrival)
            seqs.append(seq)
        return {"arrivals": arrivals, "levels": levels, "seqs": seqs}

    def _dump(self, path: str, since: float) -> dict[str, Any]:
        """The first recorder's audio since ``since``, in RTP sequence order (48 kHz)."""
        rec = next(p for p in self.peers if p.received)
        got = [(arr, seq, pcm) for arr, seq, pcm in rec.received if arr >= since]
        if not got:
            return {"samples": 0}
        # Unwrap 16-bit sequence numbers relative to the first packet.
        first = got[0][1]
        ordered = sorted(got, key=lambda r: (r[1] - first) & 0xFFFF)
        pcm = np.concatenate([r[2] for r in ordered])
        pcm.astype("<i2").tofile(Path(path))
        return {"samples": len(pcm), "packets": len(ordered), "first_arrival": got[0][0]}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-seconds", type=float, default=1500)
    args = parser.parse_args()
    loopback_only()
    raise_nofile()
    clients = Clients()
    try:
        await serve_stdio(clients.handle, max_seconds=args.max_seconds)
    finally:
        with contextlib.suppress(Exception):
            await clients.handle("leave", {})


if __name__ == "__main__":
    asyncio.run(main())
