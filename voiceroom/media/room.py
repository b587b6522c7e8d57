"""MediaRoom: one room's audio plane - peers, ingest, the 20 ms mixer tick, fan-out.

aiortc does ICE/DTLS/SRTP; everything audio is ours (design §1, §3):

* each peer has one sendrecv audio transceiver for its whole stay; its uplink RTP is tapped
  into an :class:`~voiceroom.media.ingest.Ingest` (jitter buffer, Opus decode, FEC, PLC);
* every 20 ms (absolute deadlines, so the clock does not drift) the tick pulls one frame
  per *publisher* of the current :class:`~voiceroom.room.routing.Routing`, groups the
  connected members by the mix the routing gives them, mixes and encodes each distinct mix
  once, and writes that one payload to every member of the group, each in its own RTP
  stream (SSRC, sequence, timestamp continuous across mix changes);
* the media plane never decides audibility: a member absent from ``routing.publishers`` is
  not mixed from the next tick on, whatever their client sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from av.frame import Frame

from voiceroom.errors import VoiceroomError
from voiceroom.ice import MediaNet
from voiceroom.media import aiortc_internals as internals
from voiceroom.media.codec import OpusEncoder, Pcm
from voiceroom.media.config import FRAME_SAMPLES, MediaConfig
from voiceroom.media.fanout import RtpStream, mid_extension, ntp_now, send_all
from voiceroom.media.ingest import Ingest
from voiceroom.media.jitter import FRAME_SECONDS
from voiceroom.media.mixer import Acc, Limiter, Terms, gain_q14, level, loudest, mix_many
from voiceroom.media.music import MusicPlayer
from voiceroom.media.net import apply as apply_net
from voiceroom.media.net import cache_host_addresses, rtc_ice_servers
from voiceroom.media.sdp import OPUS_ANSWER_PARAMS, set_fmtp
from voiceroom.media.vad import SpeakingDetector
from voiceroom.room.routing import MUSIC_SOURCE, Mix, Routing

log = logging.getLogger(__name__)

SpeakingCallback = Callable[[str, bool], None]
# Fresh STUN/TURN servers (wire dictionaries, as in ``welcome``) for each new peer: TURN
# credentials may be time-limited.
IceServersSource = Callable[[], list[dict[str, Any]]]

_LATENCY_RING = 4_096
_TICK_RING = 1_024
# Up to this many late ticks are run back to back; a longer stall is skipped over.
_MAX_CATCH_UP = 4
# The fan-out CPU stat is sampled on one tick in this many: reading the thread CPU clock is
# a real syscall (no vDSO), measured at ~30 us a call on the 2-vCPU box, twice per mix.
_FANOUT_SAMPLE_TICKS = 16
# Encode threads are used only while ticks are expensive: handing encodes to a thread
# costs a wake-up and two context switches per tick (~2 points of a core measured with 8
# talkers), which buys nothing while the loop thread's whole tick fits in a fraction of
# the 20 ms frame. Ticks that took longer than this (wall) or started late ...
_PARALLEL_ABOVE = 0.008
# ... this many times within the last _PARALLEL_WINDOW ticks (a lone outlier, a garbage
# collection or one preemption, does not) arm them ...
_PARALLEL_SLOW_TICKS = 3
_PARALLEL_WINDOW = 50
# ... for this many ticks (then inline ticks re-measure).
_PARALLEL_HOLD_TICKS = 250
# os.cpu_count() is a system call path taking ~50 us here: once per process.
_CPUS = os.cpu_count() or 1


class MediaError(VoiceroomError):
    """The offer cannot be served (no audio m-line, no Opus)."""


class _ParkedTrack(MediaStreamTrack):
    """Given to aiortc's sender so its RTP loop blocks forever instead of polling every
    20 ms per peer; we write that peer's RTP, and its RTCP sender reports, ourselves."""

    kind = "audio"

    async def recv(self) -> Frame:
        await asyncio.Future()
        raise AssertionError("unreachable")


@dataclass(slots=True, eq=False)
class _Peer:
    user: str
    pc: RTCPeerConnection
    transceiver: RTCRtpTransceiver
    payload_type: int
    ingest: Ingest
    stream: RtpStream | None = None
    detector: SpeakingDetector | None = None
    fast: internals.FastPath | None = None
    reader: internals.UplinkReader | None = None  # once ready (uplink_at_tick)
    sr_slot: int | None = None  # index in MediaRoom._sr_slots, once it has a stream
    join: _JoinClock | None = None  # until the first packet is sent


# Server-side phases of a join (time.monotonic() marks): offer parsed and peer set up;
# answer made (ICE gathering); ICE connected (includes the answer's way to the client);
# DTLS connected; first packet written (the next tick after DTLS).
_JOIN_PHASES = ("offer", "answer", "ice", "dtls", "first_packet")
_JOIN_RING = 512


@dataclass(slots=True)
class _JoinClock:
    start: float
    remote: float | None = None
    answer: float | None = None
    ice: float | None = None
    dtls: float | None = None


@dataclass(slots=True, eq=False)
class _Channel:
    """Per distinct mix: one encoder and one limiter whose state runs across ticks."""

    encoder: OpusEncoder
    limiter: Limiter
    acc: Acc = field(default_factory=lambda: np.zeros(FRAME_SAMPLES, dtype=np.int32))
    out: Pcm = field(default_factory=lambda: np.zeros(FRAME_SAMPLES, dtype=np.int16))
    used: int = 0  # tick number of last use
    payload: bytes = b""  # this tick's encoded frame


class _Batch:
    """One tick's encodes, claimed one at a time by whichever thread is free."""

    __slots__ = ("_done", "_left", "_lock", "_todo", "error", "helped")

    def __init__(self, jobs: list[_Channel]) -> None:
        self._todo = jobs[::-1]  # pop() from the end: job 0 (the audience) first
        self._left = len(jobs)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.error: BaseException | None = None
        self.helped = False  # an encode thread did at least one job

    def run(self, helper: bool = True) -> None:
        while True:
            try:
                ch = self._todo.pop()  # atomic under the GIL
            except IndexError:
                return
            try:
                ch.payload = ch.encoder.encode(ch.out)
            except BaseException as exc:  # re-raised on the tick's thread
                self.error = exc
            with self._lock:
                if helper:
                    self.helped = True
                self._left -= 1
                if self._left == 0:
                    self._done.set()

    def wait(self) -> None:
        self._done.wait()
        if self.error is not None:
            raise self.error


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _encode_pool(threads: int) -> ThreadPoolExecutor | None:
    """The process's encode threads, started on first use and shared by its rooms (rooms
    on one event loop run their ticks one after the other anyway)."""
    global _POOL
    if threads <= 0 or _CPUS < 2:
        return None  # one core: a hand-off would only add work
    pool = _POOL
    if pool is None or pool._max_workers < threads:
        with _POOL_LOCK:
            if _POOL is None or _POOL._max_workers < threads:
                _POOL = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="opus-enc")
            pool = _POOL
    return pool


class MediaRoom:
    def __init__(
        self,
        room_id: str,
        *,
        config: MediaConfig,
        on_speaking: SpeakingCallback | None = None,
        net: MediaNet | None = None,
        ice_servers: IceServersSource | None = None,
    ) -> None:
        self.room_id = room_id
        self.config = config
        self.net = net or MediaNet()
        self._ice_servers = ice_servers
        self._on_speaking = on_speaking
        self._peers: dict[str, _Peer] = {}
        self._routing = Routing()
        self._pending: Routing | None = None
        # Uplinks accepted into a jitter buffer: publishers of the applied and pending routing.
        self._accept: frozenset[str] = frozenset()
        self._channels: dict[Mix, _Channel] = {}
        self._groups: list[tuple[Mix, list[RtpStream]]] = []
        # Per mix, its audible terms (source, Q14 gain != 0); and every source they name.
        self._terms: dict[Mix, tuple[tuple[str, int], ...]] = {}
        self._sources: frozenset[str] = frozenset()
        self._shared = 0  # mixes served by another mix's identical encode (stat)
        self._groups_dirty = True
        self._not_ready: set[str] = set()
        # Publishers' uplink sockets read at the start of each tick (uplink_at_tick).
        self._readers: list[internals.UplinkReader] = []
        # Peers whose RTCP sender report is due on tick numbers = index (mod the length):
        # each peer reports every sr_interval_ticks, spread over the ticks.
        self._sr_slots: list[list[_Peer]] = [[] for _ in range(config.sr_interval_ticks)]
        self._sr_next = 0
        self._music: MusicPlayer | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._scratch: Acc = np.zeros(FRAME_SAMPLES, dtype=np.int32)
        self._total: Acc = np.zeros(FRAME_SAMPLES, dtype=np.int32)  # mix_many's union sum
        # Stats
        self._ticks = 0
        self._late_ticks = 0
        self._missed_ticks = 0
        self._encodes = 0
        self._encodes_last = 0
        self._packets_out = 0
        self._fanout_seconds = 0.0  # thread CPU time of the sampled ticks' fan-out
        self._fanout_packets = 0  # packets sent on those sampled ticks
        self._latency = np.zeros(_LATENCY_RING, dtype=np.float64)
        self._latency_n = 0
        self._tick_cost = np.zeros(_TICK_RING, dtype=np.float64)
        self._speaking_errors = 0
        self._parallel_ticks = 0
        self._parallel_until = 0  # encode threads armed up to this tick number
        self._slow_ticks: deque[int] = deque(maxlen=_PARALLEL_SLOW_TICKS)  # recent, numbers
        self._joins = 0
        self._join_ms: dict[str, deque[float]] = {
            k: deque(maxlen=_JOIN_RING) for k in (*_JOIN_PHASES, "total")
        }

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the 20 ms tick task."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"media-tick-{self.room_id}"
            )

    async def close_tick_for_bench(self) -> None:
        """Stop the tick but keep the peers (benchmarks time the fan-out step alone)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._stop_readers()  # nothing drains them any more: the event loop reads again

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.stop_music()
        self._stop_readers()
        peers = list(self._peers.values())
        self._peers.clear()
        for slot in self._sr_slots:
            slot.clear()
        self._groups_dirty = True
        await asyncio.gather(*(p.pc.close() for p in peers), return_exceptions=True)

    # -- peers -----------------------------------------------------------------------------

    async def connect(self, user: str, offer_sdp: str) -> str:
        """Answer ``user``'s offer. A second connect for the same user replaces the peer."""
        clock = _JoinClock(start=time.monotonic())
        internals.use_process_certificate(self.config.process_certificate)
        cache_host_addresses()
        if self._closed:
            raise MediaError("room closed")
        old = self._peers.pop(user, None)
        if old is not None:
            self._drop_peer(old)
            await old.pc.close()
        ice = [RTCIceServer(urls=url) for url in self.config.ice_servers]
        if self._ice_servers is not None:
            ice += rtc_ice_servers(self._ice_servers())
        pc = RTCPeerConnection(RTCConfiguration(iceServers=ice))
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            apply_net(pc, self.net)  # before the answer gathers candidates
            clock.remote = time.monotonic()
            audio = [t for t in pc.getTransceivers() if t.kind == "audio"]
            if not audio:
                raise MediaError("offer has no audio m-line")
            transceiver = audio[0]
            for other in pc.getTransceivers():
                if other is not transceiver:
                    other.direction = "inactive"
            try:
                payload_type = internals.negotiated_payload_type(transceiver)
            except LookupError as exc:
                raise MediaError("offer has no Opus") from exc
            transceiver.direction = "sendrecv"
            transceiver.sender.replaceTrack(_ParkedTrack())
            internals.take_sender_reports(transceiver.sender)  # the tick sends them
            peer = _Peer(
                user=user,
                pc=pc,
                transceiver=transceiver,
                payload_type=payload_type,
                ingest=Ingest(self.config),
                join=clock,
            )
            sink = self._sink(peer)
            # RFC 6464 levels (aiortc answers the extension when offered; browsers offer it)
            quiet = None if self.config.silence_dbov is None else -self.config.silence_dbov
            level_id = internals.audio_level_extension_id(transceiver)
            internals.install_rtp_tap(transceiver.receiver, payload_type, sink, quiet_level=quiet)
            peer.fast = internals.install_fast_rtp_path(
                transceiver.receiver,
                payload_type,
                sink,
                audio_level_id=level_id,
                quiet_level=quiet,
            )
            await pc.setLocalDescription(await pc.createAnswer())
            if "a=candidate:" not in pc.localDescription.sdp:
                # Every port of media_port_min..max taken (or no address to bind): say so
                # now rather than let the client's ICE time out.
                raise MediaError("no media address or port free")
        except BaseException:
            await pc.close()
            raise
        clock.answer = time.monotonic()
        self._peers[user] = peer
        self._not_ready.add(user)

        @pc.on("iceconnectionstatechange")
        def _ice_done() -> None:
            if pc.iceConnectionState == "completed" and clock.ice is None:
                clock.ice = time.monotonic()

        @pc.on("connectionstatechange")
        def _dtls_done() -> None:
            if pc.connectionState == "connected" and clock.dtls is None:
                clock.dtls = time.monotonic()

        @pc.on("connectionstatechange")
        def _state_change() -> None:
            if pc.connectionState in ("failed", "closed") and self._peers.get(user) is peer:
                self._peers.pop(user, None)
                self._drop_peer(peer)

        return set_fmtp(pc.localDescription.sdp, payload_type, OPUS_ANSWER_PARAMS)

    def _sink(self, peer: _Peer) -> internals.RtpSink:
        ingest = peer.ingest
        user = peer.user

        def sink(seq: int, timestamp: int, payload: bytes, arrival: float) -> None:
            # Listeners' media is never buffered, let alone mixed.
            if user in self._accept:
                ingest.push(seq, payload, arrival)

        return sink

    async def disconnect(self, user: str) -> None:
        peer = self._peers.pop(user, None)
        if peer is not None:
            self._drop_peer(peer)
            await peer.pc.close()

    def _drop_peer(self, peer: _Peer) -> None:
        self._not_ready.discard(peer.user)
        self._groups_dirty = True
        if peer.sr_slot is not None:
            self._sr_slots[peer.sr_slot].remove(peer)
            peer.sr_slot = None
        if peer.reader is not None:
            peer.reader.stop()
            if peer.reader in self._readers:
                self._readers.remove(peer.reader)
        if peer.detector is not None and peer.detector.hysteresis.reported:
            self._emit_speaking(peer.user, False)

    # -- routing and music -----------------------------------------------------------------

    def set_routing(self, routing: Routing) -> None:
        """Applied on the next tick."""
        self._pending = routing
        self._accept = self._routing.publishers | routing.publishers

    async def play_music(self, path: str, *, gain: float, loop: bool) -> None:
        """Play a file (anything PyAV reads) as source ``@music``; replaces current music."""
        await self.stop_music()
        player = MusicPlayer(path, gain=gain, loop=loop)
        player.start()
        # Let the decoder queue a few frames so the first ticks do not underrun.
        deadline = time.monotonic() + 1.0
        while player._queue.qsize() < 5 and player._thread.is_alive():
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.005)
        if player.error is not None:
            player.stop()
            raise player.error
        self._music = player

    async def stop_music(self) -> None:
        player, self._music = self._music, None
        if player is not None:
            await asyncio.to_thread(player.stop)

    # -- the tick --------------------------------------------------------------------------

    async def _run(self) -> None:
        start = time.monotonic()
        tick = 0
        while True:
            tick += 1
            deadline = start + tick * FRAME_SECONDS
            delay = deadline - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            late = now - deadline
            if late > FRAME_SECONDS / 2:
                self._late_ticks += 1
            behind = int(late / FRAME_SECONDS)
            if behind > _MAX_CATCH_UP:
                # A long stall: do not burst, move every listener's media clock on.
                self._missed_ticks += behind
                tick += behind
                for _, streams in self._groups:
                    for stream in streams:
                        for _ in range(behind):
                            stream.skip()
                behind = 0
            # A short stall (loop busy for a frame or two): catch up by running the missed
            # ticks now. The packets they need have arrived meanwhile and the receivers'
            # jitter buffers absorb the burst; skipping would be an audible gap.
            for _ in range(behind + 1):
                try:
                    self.tick(time.monotonic())
                except Exception:
                    log.exception("media tick failed in room %s", self.room_id)
            tick += behind
            cost = (time.monotonic() - now) / (behind + 1)
            self._tick_cost[self._ticks % _TICK_RING] = cost
            if cost > _PARALLEL_ABOVE or late > FRAME_SECONDS / 2:
                self._slow_tick()

    def _slow_tick(self) -> None:
        """A slow or late tick: arm the encode threads if it is not a lone one."""
        slow = self._slow_ticks
        slow.append(self._ticks)
        if len(slow) == slow.maxlen and self._ticks - slow[0] < _PARALLEL_WINDOW:
            self._parallel_until = self._ticks + _PARALLEL_HOLD_TICKS

    def tick(self, now: float) -> None:
        """One 20 ms mixing step (public so benchmarks can drive it without a clock)."""
        self._ticks += 1
        for reader in self._readers:
            reader.drain()  # publishers' packets since the last tick, with their arrival
        if self._pending is not None:
            self._apply_routing(self._pending)
            self._pending = None
        if self._not_ready:
            self._check_ready()
        if self._groups_dirty:
            self._rebuild_groups()
        routing = self._routing

        frames: dict[str, Pcm] = {}
        arrivals: list[float] = []
        for user in routing.publishers:
            peer = self._peers.get(user)
            if peer is None:
                continue
            frame = peer.ingest.frame(now)
            if frame is not None:
                frames[user] = frame
                if peer.ingest.last_arrival is not None:
                    arrivals.append(peer.ingest.last_arrival)
            if peer.detector is not None:
                change = peer.detector.update(frame, now)
                if change is not None:
                    self._emit_speaking(user, change)

        n = self.config.max_mixed_speakers
        if n is not None and len(frames) > n:
            levels = {u: level(f) for u, f in frames.items()}
            keep = loudest(levels, n, frames)
            frames = {u: f for u, f in frames.items() if u in keep}

        music = self._music
        if music is not None:
            mframe = music.next_frame()
            if mframe is not None:
                frames[MUSIC_SOURCE] = mframe
            elif music.finished:
                self._music = None

        sample = self._ticks % _FANOUT_SAMPLE_TICKS == 0
        # Sources a mix names but that have no frame this tick (muted, idle/DTX, silent by
        # their audio level, not among the N loudest) add nothing: two mixes whose remaining
        # terms are equal produce the same PCM sample for sample, so they share one encode
        # (e.g. a silent seat holder's mix-minus is then the audience mix). Groups are
        # ordered largest first, so the audience keeps its own encoder running.
        missing = self._sources.difference(frames) if self._sources else None
        done: dict[Terms, _Channel] | None = {} if missing else None
        shared = 0
        jobs: list[_Channel] = []  # channels to encode this tick, in group order
        mixes: list[tuple[Acc, Terms]] = []  # their accumulators and audible terms
        plan: list[tuple[list[RtpStream], _Channel]] = []
        for mix, streams in self._groups:
            channel = self._channels.get(mix)
            if channel is None:
                channel = self._channels[mix] = self._new_channel()
            channel.used = self._ticks
            terms = self._terms[mix]
            if missing:
                terms = tuple(t for t in terms if t[0] not in missing)
            if done is not None:
                twin = done.get(terms)
                if twin is not None:
                    shared += 1
                    plan.append((streams, twin))
                    continue
                done[terms] = channel
            mixes.append((channel.acc, terms))
            jobs.append(channel)
            plan.append((streams, channel))
        mix_many(mixes, frames, self._total, self._scratch)
        for channel in jobs:
            channel.limiter.process(channel.acc, channel.out)

        self._encode(jobs)
        # Thread CPU time, not wall time (on a busy host a wall clock would also count the
        # time this thread spent descheduled); read once around the whole fan-out, as each
        # read is a system call.
        t_fan = time.thread_time() if sample else 0.0
        sent = 0
        for streams, channel in plan:
            send_all(streams, channel.payload)
            sent += len(streams)
        if sample:
            self._fanout_seconds += time.thread_time() - t_fan
            self._fanout_packets += sent
        self._packets_out += sent
        encodes = len(jobs)

        if arrivals:
            out = time.monotonic()
            for arrival in arrivals:
                self._latency[self._latency_n % _LATENCY_RING] = out - arrival
                self._latency_n += 1
        self._encodes += encodes
        self._encodes_last = encodes
        self._shared = shared
        if len(self._channels) > len(self._groups):
            # Drop encoders of mixes nobody hears any more.
            for mix in [m for m, c in self._channels.items() if c.used != self._ticks]:
                del self._channels[mix]
        due = self._sr_slots[self._ticks % len(self._sr_slots)]
        if due:
            self._send_reports(due)

    def _new_channel(self) -> _Channel:
        cfg = self.config
        return _Channel(
            encoder=OpusEncoder(
                bitrate=cfg.bitrate,
                complexity=cfg.complexity,
                packet_loss_perc=cfg.packet_loss_perc,
            ),
            limiter=Limiter(
                threshold=cfg.limiter_threshold, release_frames=cfg.limiter_release_frames
            ),
        )

    def _encode(self, jobs: list[_Channel]) -> None:
        """Encode every job's PCM into its payload. With two or more while the encode
        threads are armed (a recent tick was slow or late), they and this thread take jobs
        from one shared list (libopus runs without the GIL), so a tick's encodes take about
        half the wall time on two cores. This thread never waits for a thread the OS has
        not scheduled yet: whatever no thread has claimed when it runs out, it encodes
        itself; it only waits for encodes already running."""
        pool = (
            _encode_pool(self.config.encode_threads)
            if len(jobs) >= 2 and self._parallel_until >= self._ticks
            else None
        )
        if pool is None:
            for ch in jobs:
                ch.payload = ch.encoder.encode(ch.out)
            return
        batch = _Batch(jobs)
        for _ in range(min(self.config.encode_threads, len(jobs) - 1)):
            pool.submit(batch.run)
        batch.run(helper=False)
        batch.wait()
        if batch.helped:
            self._parallel_ticks += 1

    def _apply_routing(self, routing: Routing) -> None:
        old = self._routing.publishers
        self._routing = routing
        self._accept = routing.publishers
        self._groups_dirty = True
        for user in old - routing.publishers:
            peer = self._peers.get(user)
            if peer is not None:
                peer.ingest.reset()  # enforced: nothing of theirs is mixed from now on
                if peer.detector is not None and peer.detector.hysteresis.reported:
                    self._emit_speaking(user, False)
                peer.detector = None
        for user in routing.publishers - old:
            peer = self._peers.get(user)
            if peer is not None:
                peer.ingest.reset()
        self._ensure_detectors()

    def _ensure_detectors(self) -> None:
        cfg = self.config
        for user in self._routing.publishers:
            peer = self._peers.get(user)
            if peer is not None and peer.detector is None:
                peer.detector = SpeakingDetector(
                    aggressiveness=cfg.vad_aggressiveness,
                    on_frames=cfg.vad_on_frames,
                    off_frames=cfg.vad_off_frames,
                    min_interval=cfg.vad_min_interval,
                )

    def _check_ready(self) -> None:
        for user in list(self._not_ready):
            peer = self._peers.get(user)
            if peer is None:
                self._not_ready.discard(user)
                continue
            t = peer.transceiver
            dtls = t.sender.transport
            if dtls.state != "connected" or not internals.sender_started(t.sender):
                continue
            peer.stream = RtpStream(
                ssrc=internals.sender_ssrc(t.sender),
                payload_type=peer.payload_type,
                send=internals.datagram_sender(dtls),
                extension=mid_extension(internals.mid_extension_id(t), t.mid),
                send_rtcp=internals.datagram_sender(dtls, rtcp=True),
                cname=internals.sender_cname(t.sender),
            )
            peer.sr_slot = self._sr_next
            self._sr_slots[self._sr_next].append(peer)
            self._sr_next = (self._sr_next + 1) % len(self._sr_slots)
            if self.config.uplink_at_tick and peer.fast is not None:
                peer.reader = internals.UplinkReader(dtls, peer.fast)
            self._not_ready.discard(user)
            self._groups_dirty = True
            if peer.join is not None:
                self._record_join(user, peer.join)
                peer.join = None
        self._ensure_detectors()

    def _record_join(self, user: str, clock: _JoinClock) -> None:
        """Phases of one join, server side, up to its first packet (sent this tick)."""
        ready = time.monotonic()
        marks = [clock.start, clock.remote, clock.answer, clock.ice, clock.dtls, ready]
        if any(m is None for m in marks):
            return
        phases = {
            name: (b - a) * 1000  # type: ignore[operator]
            for name, a, b in zip(_JOIN_PHASES, marks, marks[1:], strict=False)
        }
        phases["total"] = (ready - clock.start) * 1000
        for name, ms in phases.items():
            self._join_ms[name].append(ms)
        self._joins += 1
        log.info(
            "media join %s room %s ms: %s",
            user,
            self.room_id,
            " ".join(f"{k}={v:.1f}" for k, v in phases.items()),
        )

    def _rebuild_groups(self) -> None:
        groups: dict[Mix, list[RtpStream]] = {}
        for user, peer in self._peers.items():
            if peer.stream is not None:
                groups.setdefault(self._routing.mix_for(user), []).append(peer.stream)
        # Largest group (the audience) first: it is the one others share an encode with.
        self._groups = sorted(groups.items(), key=lambda g: -len(g[1]))
        self._terms = {
            mix: tuple((src, q) for src, gain in mix if (q := gain_q14(gain))) for mix in groups
        }
        self._sources = frozenset(src for terms in self._terms.values() for src, _ in terms)
        self._groups_dirty = False
        self._update_readers()

    def _update_readers(self) -> None:
        """Publishers' uplinks are read by the tick; everyone else's by the event loop (a
        listener sends only RTCP and STUN: draining its socket every tick would cost more
        than the rare wake-up)."""
        readers = []
        for user, peer in self._peers.items():
            reader = peer.reader
            if reader is None:
                continue
            if user in self._accept and reader.start():
                readers.append(reader)
            else:
                reader.stop()
        self._readers = readers

    def _stop_readers(self) -> None:
        for reader in self._readers:
            reader.stop()
        self._readers = []

    def _send_reports(self, due: list[_Peer]) -> None:
        """RTCP sender reports of the peers due this tick, after its packets went out."""
        ntp = ntp_now()
        for peer in due:
            s = peer.stream
            if s is not None and s.send_report(ntp):
                internals.record_sender_report(
                    peer.transceiver.sender,
                    ntp=ntp,
                    rtp_timestamp=s.tick_timestamp,
                    packets=s.packets & 0xFFFFFFFF,
                    octets=s.octets & 0xFFFFFFFF,
                )

    def _emit_speaking(self, user: str, speaking: bool) -> None:
        if self._on_speaking is None:
            return
        try:
            self._on_speaking(user, speaking)
        except Exception:
            self._speaking_errors += 1
            log.exception("on_speaking callback failed")

    # -- observability ---------------------------------------------------------------------

    def users(self) -> frozenset[str]:
        return frozenset(self._peers)

    def peer_connection(self, user: str) -> RTCPeerConnection | None:
        """The user's peer connection (tests assert it survives routing changes)."""
        peer = self._peers.get(user)
        return peer.pc if peer is not None else None

    @property
    def latency_samples(self) -> int:
        """How many latency samples were ever taken (a cursor for :meth:`latencies`)."""
        return self._latency_n

    def latencies(self, since: int = 0) -> list[float]:
        """Server-added latencies in seconds (packet in -> mixed packet out), oldest first,
        for samples numbered ``since`` onwards that are still in the ring."""
        first = max(since, self._latency_n - _LATENCY_RING)
        return [float(self._latency[i % _LATENCY_RING]) for i in range(first, self._latency_n)]

    def stats(self) -> dict[str, float]:
        lat = self._latency[: min(self._latency_n, _LATENCY_RING)]
        cost = self._tick_cost[: min(self._ticks, _TICK_RING)]
        jitter = [p.ingest.jitter.stats for p in self._peers.values()]
        out: dict[str, float] = {
            "peers": float(len(self._peers)),
            "peers_ready": float(sum(p.stream is not None for p in self._peers.values())),
            "publishers": float(len(self._routing.publishers)),
            "mixes": float(len(self._groups)),
            "ticks": float(self._ticks),
            "late_ticks": float(self._late_ticks),
            "missed_ticks": float(self._missed_ticks),
            "encodes_total": float(self._encodes),
            "encodes_per_tick": float(self._encodes_last),
            "shared_mixes_per_tick": float(self._shared),
            "parallel_encode_ticks": float(self._parallel_ticks),
            "parallel_armed": float(self._parallel_until >= self._ticks),
            "rx_silent_skipped": float(sum(p.ingest.skipped for p in self._peers.values())),
            "packets_out": float(self._packets_out),
            "fanout_us_per_packet": (
                self._fanout_seconds / self._fanout_packets * 1e6 if self._fanout_packets else 0.0
            ),
            "send_failures": float(
                sum(p.stream.send_failures for p in self._peers.values() if p.stream)
            ),
            "rtcp_reports": float(sum(p.stream.reports for p in self._peers.values() if p.stream)),
            "rx_packets": float(sum(j.received for j in jitter)),
            "rx_fast_path": float(sum(p.fast.packets for p in self._peers.values() if p.fast)),
            "rx_read_at_tick": float(
                sum(p.reader.datagrams for p in self._peers.values() if p.reader)
            ),
            "uplinks_read_at_tick": float(len(self._readers)),
            "rx_late": float(sum(j.late for j in jitter)),
            "rx_lost": float(sum(j.lost for j in jitter)),
            "rx_fec": float(sum(j.fec for j in jitter)),
            "rx_plc": float(sum(j.plc for j in jitter)),
            "rx_trimmed": float(sum(j.trimmed for j in jitter)),
            "music_underruns": float(self._music.underruns if self._music else 0),
        }
        if len(lat):
            out["latency_p50_ms"] = float(np.percentile(lat, 50) * 1000)
            out["latency_p99_ms"] = float(np.percentile(lat, 99) * 1000)
        out["joins"] = float(self._joins)
        for name, ring in self._join_ms.items():
            if ring:
                ms = np.fromiter(ring, dtype=np.float64)
                out[f"join_{name}_ms_p50"] = float(np.percentile(ms, 50))
                out[f"join_{name}_ms_p99"] = float(np.percentile(ms, 99))
        if len(cost):
            out["tick_mean_us"] = float(cost.mean() * 1e6)
            out["tick_max_us"] = float(cost.max() * 1e6)
        return out
