"""Room members driven through the real server: signalling (``voiceroom.client``) plus a
WebRTC peer whose audio is tapped and decoded packet by packet on arrival (no client
jitter buffer, so what is measured is the server's part).

Ops (JSON lines, see :class:`benchlib.proc.Child`):

* ``host``     - the host joins (seat 0), publishes a tone with ``voiceroom.client.MediaPeer``;
* ``joiners``  - ``n`` members join concurrently; each times token -> WebSocket open ->
  SDP answer -> first decoded packet carrying the host's tone;
* ``switch``   - a shopper and a recording audience member join; the host switches the show
  to a listen-in 1v1 with the shopper and back; returns the audience's per-packet levels.

    python -m benchlib.roomclients --url ws://127.0.0.1:P --secret S --room R
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import opuslib
import opuslib.api.decoder
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from benchlib.loadclient import FRAME, RATE, ParkedTrack
from benchlib.proc import loopback_only, raise_nofile, serve_stdio

HOST_TONE = 440.0
SHOPPER_TONE = 880.0
AUDIBLE = 0.05  # tones are sent at 0.3 of full scale


_BASIS: dict[tuple[float, int], np.ndarray] = {}


def level(pcm: np.ndarray, freq: float) -> float:
    x = pcm[:FRAME].astype(np.float64)
    key = (freq, len(x))
    w = _BASIS.get(key)
    if w is None:  # one DFT bin's basis per tone and length, computed once
        w = _BASIS[key] = np.exp(-2j * np.pi * freq * np.arange(len(x)) / RATE)
    return float(abs(np.dot(x, w)) * 2 / FRAME / 32767)


@dataclass
class Ear:
    """A listening peer: per packet, arrival time and the level of each watched tone."""

    pc: RTCPeerConnection
    freqs: tuple[float, ...]
    rows: list[tuple[float, int, tuple[float, ...]]] = field(default_factory=list)
    first_audible: asyncio.Event = field(default_factory=asyncio.Event)
    first_audible_at: float | None = None


async def open_ear(
    client: Any, freqs: tuple[float, ...], *, keep: bool = True
) -> tuple[Ear, float]:
    """Negotiate a listening peer over the room socket; returns it and the answer time.
    ``keep`` False: stop decoding once the first audible packet came (a joiner in a wave
    only times its first audio; 100 of them decoding every packet afterwards would take
    CPU from the server on this shared box)."""
    from voiceroom.media import aiortc_internals as internals

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver("audio", direction="sendrecv")
    transceiver.sender.replaceTrack(ParkedTrack())
    ear = Ear(pc, freqs)
    dec = opuslib.Decoder(RATE, 1)

    def sink(seq: int, timestamp: int, payload: bytes, arrival: float) -> None:
        if not keep and ear.first_audible_at is not None:
            return
        raw = opuslib.api.decoder.decode(dec.decoder_state, payload, len(payload), 5760, False, 1)
        pcm = np.frombuffer(raw, dtype=np.int16)
        levels = tuple(level(pcm, f) for f in freqs)
        ear.rows.append((arrival, seq, levels))
        if ear.first_audible_at is None and levels[0] > AUDIBLE:
            ear.first_audible_at = time.monotonic()
            ear.first_audible.set()

    await pc.setLocalDescription(await pc.createOffer())
    reply = await client.request("media.offer", sdp=pc.localDescription.sdp)
    answered = time.monotonic()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
    internals.install_rtp_tap(
        transceiver.receiver, internals.negotiated_payload_type(transceiver), sink
    )
    return ear, answered


class Members:
    def __init__(self, url: str, secret: str, room: str, prefix: str) -> None:
        self.url, self.secret, self.room, self.prefix = url, secret, room, prefix
        self.host: Any = None
        self.host_media: Any = None
        self._closers: list[Any] = []
        self._n = 0

    def token(self, user: str, role: str = "listener") -> str:
        from voiceroom.auth import issue_token

        return issue_token(self.secret, room=self.room, user=user, name=user, role=role)

    async def start_host(self) -> dict[str, Any]:
        from voiceroom.client import MediaPeer, RoomClient

        self.host = await RoomClient.join(self.url, self.token("host", "host"))
        self.host_media = await MediaPeer.connect(self.host)
        self.host_media.publish_tone(HOST_TONE)
        self._closers += [self.host_media, self.host]
        return {"ok": True}

    async def joiner(self, user: str) -> dict[str, float]:
        from voiceroom.client import RoomClient

        token = self.token(user)  # the joiner arrives with a token in hand
        t0 = time.monotonic()
        client = await RoomClient.join(self.url, token)
        t_ws = time.monotonic()
        ear, t_sdp = await open_ear(client, (HOST_TONE,), keep=False)
        self._closers += [ear.pc, client]
        await asyncio.wait_for(ear.first_audible.wait(), 20)
        assert ear.first_audible_at is not None
        return {
            "ws_ms": (t_ws - t0) * 1000,
            "sdp_ms": (t_sdp - t0) * 1000,
            "audio_ms": (ear.first_audible_at - t0) * 1000,
        }

    async def joiners(self, n: int) -> dict[str, Any]:
        base = self._n
        self._n += n
        results = await asyncio.gather(
            *(self.joiner(f"{self.prefix}{base + i}") for i in range(n)), return_exceptions=True
        )
        ok = [r for r in results if isinstance(r, dict)]
        failed = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
        return {"results": ok, "failed": failed[:5], "n_failed": len(failed)}

    async def switch(self, hold: float) -> dict[str, Any]:
        """show -> listen-in 1v1 (host + shopper) -> show, heard by one audience member."""
        from voiceroom.client import MediaPeer, RoomClient

        shopper = await RoomClient.join(self.url, self.token("shopper"))
        shopper_media = await MediaPeer.connect(shopper)
        shopper_media.publish_tone(SHOPPER_TONE)  # heard only while in the 1v1
        audience = await RoomClient.join(self.url, self.token("audience"))
        ear, _ = await open_ear(audience, (HOST_TONE, SHOPPER_TONE))
        self._closers += [ear.pc, audience, shopper_media, shopper]
        with contextlib.suppress(Exception):
            await self.host.start_show()
        await asyncio.wait_for(ear.first_audible.wait(), 20)
        await asyncio.sleep(hold)
        t_1v1 = time.monotonic()
        consult = await self.host.start_consultation("shopper", mode="listen_in")
        await asyncio.sleep(hold)
        t_show = time.monotonic()
        await self.host.end_consultation(consult)
        await asyncio.sleep(hold)
        return {"t_1v1": t_1v1, "t_show": t_show, "rows": ear.rows}

    async def handle(self, op: str, req: dict[str, Any]) -> dict[str, Any]:
        if op == "host":
            return await self.start_host()
        if op == "joiners":
            return await self.joiners(int(req["n"]))
        if op == "switch":
            return await self.switch(float(req.get("hold", 2.0)))
        raise ValueError(f"unknown op {op}")

    async def close(self) -> None:
        for c in reversed(self._closers):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(c.close(), 5)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--room", required=True)
    ap.add_argument("--prefix", default="j", help="joiner user-id prefix, unique per process")
    ap.add_argument("--max-seconds", type=float, default=600)
    args = ap.parse_args()
    loopback_only()
    raise_nofile()
    # One DTLS certificate for all the peers of this process, as the server does: each
    # stands for a browser on its own machine, and aiortc's per-peer EC key, certificate
    # and OpenSSL context are client CPU that this 2-core box takes from the server.
    from voiceroom.media import aiortc_internals

    aiortc_internals.use_process_certificate(True)
    members = Members(args.url, args.secret, args.room, args.prefix)
    try:
        await serve_stdio(members.handle, max_seconds=args.max_seconds)
    finally:
        await members.close()


if __name__ == "__main__":
    asyncio.run(main())
