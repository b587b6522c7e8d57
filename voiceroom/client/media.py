"""The client's WebRTC peer: one sendrecv audio transceiver, negotiated once.

What the server expects (see ``voiceroom.media.room``): the client *offers* a single audio
transceiver, ``sendrecv``, even for a listener, over the room socket (``media.offer {sdp}``;
the reply carries the answer). Publishing later is a source swap on the already-negotiated
sender (:class:`~voiceroom.client.audio.PublishTrack`): no renegotiation, so being promoted
to a seat is heard on the next 20 ms tick of the server's mixer. The server decides who is
heard; a listener that sends a tone is simply not mixed.

Received audio goes through aiortc's stock receiver (jitter buffer + decoder): fine for a
bot or a test, about 80 ms slower than the server's own ingest path (design §3).

ICE: the STUN/TURN servers and transport policy the server hands out in ``welcome``
(``session.ice_servers``, ``session.ice_transport_policy``), re-fetched with ``media.ice``
before time-limited TURN credentials expire; never aiortc's default public STUN (it stalls
gathering for ~5 s without internet). aiortc uses one TURN URL per peer connection, so
with several (UDP, TCP, TLS) they are tried in the order given until one connects (a
browser tries them all at once). Media binds to loopback only when the room server is on
loopback (tests), else to every interface; ``net`` overrides it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpsender import RTCEncodedFrame
from av import AudioFrame, AudioResampler

from voiceroom.client.audio import (
    SAMPLE_RATE,
    AudioSource,
    FileSource,
    Pcm,
    PublishTrack,
    Recorder,
    SilenceSource,
    ToneSource,
    tone_level,
)
from voiceroom.client.connection import RoomClient
from voiceroom.client.errors import ClientError
from voiceroom.ice import MediaNet, is_loopback_host, refresh_delay
from voiceroom.media.net import apply as apply_net
from voiceroom.media.net import rtc_ice_servers, turn_variants

# Ask for fresh TURN credentials this long before they expire (or at 80% of their life).
ICE_REFRESH_MARGIN = 300.0


def send_audio_levels(sender: RTCRtpSender, track: PublishTrack) -> None:
    """Make ``sender`` write the RFC 6464 client-to-mixer audio level (browsers do; the
    server skips decoding silent packets) for our pre-encoded packets too.

    aiortc writes the extension, when negotiated, only for raw ``AudioFrame``s (whose level
    it computes in pure Python); for encoded ``av.Packet``s its encoded frame has no level.
    The track knows each packet's level (``level_dbov``): put it on aiortc's encoded frame
    (``RTCEncodedFrame.audio_level``, dBov) before aiortc packetises it. Reaches below
    aiortc's public API: checked by tests/media/test_aiortc_internals.py."""
    original = sender._next_encoded_frame

    async def next_encoded_frame(codec: RTCRtpCodecParameters) -> RTCEncodedFrame | None:
        frame = await original(codec)
        if frame is not None and frame.audio_level is None:
            frame.audio_level = track.level_dbov
        return frame

    sender._next_encoded_frame = next_encoded_frame  # type: ignore[method-assign]


class MediaPeer:
    """Audio in and out for one :class:`RoomClient`. Create it with :meth:`connect`."""

    def __init__(
        self,
        client: RoomClient,
        *,
        ice_servers: Sequence[RTCIceServer | dict[str, Any]] | None = None,
        ice_transport_policy: str | None = None,
        net: MediaNet | None = None,
        keep_seconds: float = 10.0,
        record_to: str | Path | None = None,
        bitrate: int = 32_000,
        # Timeouts (seconds)
        connect_timeout: float = 15.0,
    ) -> None:
        self.client = client
        session = client.session
        # None: what the server said in welcome (and refreshed with media.ice).
        self._ice_fixed = None if ice_servers is None else list(ice_servers)
        self.ice_servers: list[dict[str, Any]] = list(session.get("ice_servers") or [])
        self.ice_expires_at: float | None = session.get("ice_expires_at")
        self.ice_transport_policy = (
            ice_transport_policy or session.get("ice_transport_policy") or "all"
        )
        host = urlsplit(client.url).hostname or ""
        self.net = net or (
            MediaNet(addresses=("127.0.0.1",)) if is_loopback_host(host) else MediaNet()
        )
        self.connect_timeout = connect_timeout
        self.recorder = Recorder(keep_seconds=keep_seconds, path=record_to)
        self.track = PublishTrack(bitrate=bitrate)
        self.pc: RTCPeerConnection | None = None
        self._readers: set[asyncio.Task[None]] = set()
        self._connected = asyncio.Event()
        self._closed = False
        self._refresher: asyncio.Task[None] | None = None
        self.selected: dict[str, Any] = {}  # the nominated ICE pair, for tests and logs
        self.rebuilds = 0  # peer connections built again after the first (resume, failure)
        self._recovery: asyncio.Task[None] | None = None
        client.on_resume(self._after_resume)

    @classmethod
    async def connect(cls, client: RoomClient, **options: object) -> MediaPeer:
        """Negotiate audio with the room server and wait until ICE/DTLS is up."""
        peer = cls(client, **options)  # type: ignore[arg-type]
        await peer.negotiate()
        return peer

    @property
    def connection_state(self) -> str:
        return "closed" if self.pc is None else str(self.pc.connectionState)

    def configurations(self) -> list[RTCConfiguration]:
        """The RTCConfigurations :meth:`negotiate` tries, in order."""
        policy = (
            RTCIceTransportPolicy.RELAY
            if self.ice_transport_policy == "relay"
            else RTCIceTransportPolicy.ALL
        )
        if self._ice_fixed is not None:
            fixed = [
                s if isinstance(s, RTCIceServer) else rtc_ice_servers([s])[0]
                for s in self._ice_fixed
            ]
            return [RTCConfiguration(iceServers=fixed, iceTransportPolicy=policy)]
        return [
            RTCConfiguration(iceServers=rtc_ice_servers(v), iceTransportPolicy=policy)
            for v in turn_variants(self.ice_servers)
        ]

    async def negotiate(self) -> None:
        """(Re)build the peer connection and exchange offer/answer over the room socket.
        The server replaces any earlier peer of this member. With several TURN URLs, one
        configuration per URL is tried until one connects."""
        self.start_ice_refresh()
        if self.ice_expires_at is not None and self.ice_expires_at - time.time() < 30:
            await self.refresh_ice()
        configs = self.configurations()
        error: ClientError | None = None
        for i, config in enumerate(configs):
            try:
                await self._negotiate(config, last=i == len(configs) - 1)
                return
            except ClientError as exc:
                error = exc
        assert error is not None
        raise error

    async def _negotiate(self, config: RTCConfiguration, *, last: bool = True) -> None:
        old, self.pc = self.pc, None
        if old is not None:
            await old.close()
        self._connected.clear()
        pc = RTCPeerConnection(config)
        self.pc = pc
        transceiver = pc.addTransceiver(self.track, direction="sendrecv")
        send_audio_levels(transceiver.sender, self.track)
        apply_net(pc, self.net)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                task = asyncio.create_task(self._read(track))
                self._readers.add(task)
                task.add_done_callback(self._readers.discard)

        failed = asyncio.Event()

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected":
                self._connected.set()
            elif pc.connectionState == "failed":
                failed.set()
                if pc is self.pc and self._connected.is_set():
                    self._recover()  # it was up: ICE consent or DTLS gave out since

        await pc.setLocalDescription(await pc.createOffer())
        if not any(line.startswith("a=candidate") for line in pc.localDescription.sdp.splitlines()):
            raise ClientError("no ICE candidates (TURN server unreachable?)")
        turn = any(
            str(u).startswith("turn")
            for server in config.iceServers or []
            for u in (server.urls if isinstance(server.urls, list) else [server.urls])
        )
        if turn and not last and " typ relay" not in pc.localDescription.sdp:
            # This TURN URL gave no relay (e.g. UDP blocked): try the next one now rather
            # than wait for ICE to fail over what is left.
            raise ClientError("no relay candidate from this TURN URL")
        reply = await self.client.request("media.offer", sdp=pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        waits = [asyncio.create_task(self._connected.wait()), asyncio.create_task(failed.wait())]
        try:
            await asyncio.wait(waits, timeout=self.connect_timeout, return_when="FIRST_COMPLETED")
        finally:
            for w in waits:
                w.cancel()
        if not self._connected.is_set():
            raise ClientError(f"media did not connect (state {pc.connectionState})")
        self.selected = _selected_pair(pc)

    async def refresh_ice(self) -> None:
        """Fetch fresh STUN/TURN servers (``media.ice``) for the next negotiation."""
        reply = await self.client.request("media.ice")
        self.ice_servers = list(reply.get("ice_servers") or [])
        self.ice_expires_at = reply.get("ice_expires_at")
        self.ice_transport_policy = reply.get("ice_transport_policy") or self.ice_transport_policy

    def start_ice_refresh(self) -> None:
        """Keep time-limited TURN credentials fresh (started by :meth:`negotiate`)."""
        if self._ice_fixed is None and self._refresher is None and self.ice_expires_at:
            self._refresher = asyncio.create_task(self._refresh_ice())

    async def _refresh_ice(self) -> None:
        while not self._closed and self.ice_expires_at is not None:
            await asyncio.sleep(refresh_delay(self.ice_expires_at, time.time(), ICE_REFRESH_MARGIN))
            try:
                await self.refresh_ice()
            except Exception:  # a dropped session: try again soon; the next offer also does
                await asyncio.sleep(10.0)

    # ------------------------------------------------------------------ publishing
    def publish(self, source: AudioSource | None) -> None:
        """Send ``source`` from the next 20 ms frame on (None: send nothing)."""
        self.track.set_source(source)

    def publish_tone(self, freq: float, amplitude: float = 0.3) -> None:
        self.publish(ToneSource(freq, amplitude))

    def publish_file(self, path: str | Path, *, loop: bool = True) -> None:
        self.publish(FileSource(path, loop=loop))

    def publish_silence(self) -> None:
        self.publish(SilenceSource())

    def stop_publishing(self) -> None:
        self.publish(None)

    @property
    def publishing(self) -> bool:
        return self.track.source is not None

    # ------------------------------------------------------------------ listening
    def record_to(self, path: str | Path) -> None:
        """Write everything heard from now on to a 48 kHz mono WAV file."""
        self.recorder.record_to(path)

    def stop_recording(self) -> None:
        self.recorder.stop_recording()

    def recent(self, seconds: float) -> Pcm:
        """The last ``seconds`` of audio heard (48 kHz mono int16)."""
        return self.recorder.recent(seconds)

    def tone_level(self, freq: float, seconds: float = 1.0) -> float:
        """How loud ``freq`` was in the last ``seconds`` heard (fraction of full scale)."""
        return tone_level(self.recent(seconds), freq)

    async def wait_for_tone(
        self,
        freq: float,
        *,
        threshold: float = 0.02,
        seconds: float = 0.5,
        timeout: float = 10.0,  # noqa: ASYNC109 - a bounded wait is the point of this helper
    ) -> float:
        """Wait until ``freq`` is heard above ``threshold``; returns the level."""
        async with asyncio.timeout(timeout):
            while True:
                level = self.tone_level(freq, seconds)
                if level > threshold:
                    return level
                await asyncio.sleep(0.1)

    async def _read(self, track: MediaStreamTrack) -> None:
        resampler: AudioResampler | None = None
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, AudioFrame):
                    continue
                if (
                    frame.format.name != "s16"
                    or frame.sample_rate != SAMPLE_RATE
                    or len(frame.layout.channels) != 1
                ):
                    if resampler is None:
                        resampler = AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
                    for out in resampler.resample(frame):
                        self.recorder.write(out.to_ndarray().reshape(-1).astype(np.int16))
                else:
                    self.recorder.write(frame.to_ndarray().reshape(-1).astype(np.int16))

    # ------------------------------------------------------------------ lifecycle
    async def _after_resume(self) -> None:
        # The media path is UDP and usually survives a dropped socket: it is rebuilt only
        # if ICE/DTLS failed meanwhile, or if the server says it holds no peer for us any
        # more (``media_peer`` false: it restarted, or a worker was recovered) - then the
        # old path looks "connected" here until ICE consent gives out, ~30 s later.
        if self._closed:
            return
        if self.client.session.get("media_peer") is False or self.connection_state in (
            "failed",
            "closed",
        ):
            self._recover()

    def _recover(self) -> None:
        """Build the media path again (once at a time), retrying with backoff while the
        room connection is up; a resume calls this again if the socket was down."""
        if self._closed or (self._recovery is not None and not self._recovery.done()):
            return
        self._recovery = asyncio.create_task(self._rebuild())

    async def _rebuild(self) -> None:
        for delay in (0.0, 1.0, 2.0, 4.0, 8.0, 15.0):
            await asyncio.sleep(delay)
            if self._closed or not self.client.connected:
                return  # closing, or the socket is down: its resume will call us again
            self.rebuilds += 1
            try:
                await self.negotiate()
                return
            except (ClientError, TimeoutError):
                continue

    async def close(self) -> None:
        self._closed = True
        if self._refresher is not None:
            self._refresher.cancel()
        if self._recovery is not None:
            self._recovery.cancel()
        self.recorder.stop_recording()
        for task in list(self._readers):
            task.cancel()
        pc, self.pc = self.pc, None
        if pc is not None:
            await pc.close()


def _selected_pair(pc: RTCPeerConnection) -> dict[str, Any]:
    """Local/remote candidate types and addresses of the nominated ICE pair."""
    for t in pc.getTransceivers():
        conn = t.sender.transport.transport.iceGatherer._connection
        pair = conn._nominated.get(1)
        if pair is not None:
            local, remote = pair.local_candidate, pair.remote_candidate
            return {
                "local_type": local.type,
                "local": f"{local.host}:{local.port}",
                "remote_type": remote.type,
                "remote": f"{remote.host}:{remote.port}",
                "turn_transport": conn.turn_transport if local.type == "relay" else None,
                "turn_ssl": bool(conn.turn_ssl) if local.type == "relay" else None,
            }
    return {}
