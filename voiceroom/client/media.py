"""The client's WebRTC peer: one sendrecv audio transceiver, negotiated once.

What the server expects (see ``voiceroom.media.room``): the client *offers* a single audio
transceiver, ``sendrecv``, even for a listener, over the room socket (``media.offer {sdp}``;
the reply carries the answer). Publishing later is a source swap on the already-negotiated
sender (:class:`~voiceroom.client.audio.PublishTrack`): no renegotiation, so being promoted
to a seat is heard on the next 20 ms tick of the server's mixer. The server decides who is
heard; a listener that sends a tone is simply not mixed.

Received audio goes through aiortc's stock receiver (jitter buffer + decoder): fine for a
bot or a test, about 80 ms slower than the server's own ingest path (design §3).

ICE: no STUN servers by default (``RTCConfiguration(iceServers=[])``): the default public
STUN stalls candidate gathering for ~5 s without internet. Pass ``ice_servers`` for real
deployments.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
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
        ice_servers: Sequence[RTCIceServer] = (),
        keep_seconds: float = 10.0,
        record_to: str | Path | None = None,
        bitrate: int = 32_000,
        # Timeouts (seconds)
        connect_timeout: float = 15.0,
    ) -> None:
        self.client = client
        self.ice_servers = list(ice_servers)
        self.connect_timeout = connect_timeout
        self.recorder = Recorder(keep_seconds=keep_seconds, path=record_to)
        self.track = PublishTrack(bitrate=bitrate)
        self.pc: RTCPeerConnection | None = None
        self._readers: set[asyncio.Task[None]] = set()
        self._connected = asyncio.Event()
        self._closed = False
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

    async def negotiate(self) -> None:
        """(Re)build the peer connection and exchange offer/answer over the room socket.
        The server replaces any earlier peer of this member."""
        old, self.pc = self.pc, None
        if old is not None:
            await old.close()
        self._connected.clear()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))
        self.pc = pc
        transceiver = pc.addTransceiver(self.track, direction="sendrecv")
        send_audio_levels(transceiver.sender, self.track)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                task = asyncio.create_task(self._read(track))
                self._readers.add(task)
                task.add_done_callback(self._readers.discard)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected":
                self._connected.set()

        await pc.setLocalDescription(await pc.createOffer())
        reply = await self.client.request("media.offer", sdp=pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        try:
            await asyncio.wait_for(self._connected.wait(), self.connect_timeout)
        except TimeoutError:
            raise ClientError(f"media did not connect (state {pc.connectionState})") from None

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
        # The media path is UDP and usually survives a dropped socket; rebuild it only if
        # ICE/DTLS itself failed meanwhile.
        if not self._closed and self.connection_state in ("failed", "closed"):
            with contextlib.suppress(ClientError, TimeoutError):
                await self.negotiate()

    async def close(self) -> None:
        self._closed = True
        self.recorder.stop_recording()
        for task in list(self._readers):
            task.cancel()
        pc, self.pc = self.pc, None
        if pc is not None:
            await pc.close()
