"""Every place voiceroom reaches below aiortc's public API, in one module.

Tested with aiortc 1.16.0 and aioice 0.13.0 (aiortc is pinned in pyproject.toml).
``tests/media/test_aiortc_internals.py`` checks every attribute and signature used here and
fails loudly if an upgrade changes them. Why each one is needed:

* **RTP receive tap** - aiortc's receiver feeds a decoder thread through a jitter buffer
  with a fixed 4-packet prefetch (80 ms, ~280 ms after a loss; design §3). We replace the
  receiver's ``_handle_rtp_packet`` (the coroutine ``RTCDtlsTransport`` awaits for every
  routed RTP packet) so packets come to our own jitter buffer, and keep feeding aiortc's
  per-SSRC ``StreamStatistics`` so its RTCP receiver reports (loss feedback the browser's
  Opus encoder adapts its FEC to) stay right. ``receive`` is replaced by what it does minus
  the decoder thread: starting that thread and joining it again both block the event loop
  until the OS schedules the thread, which under a wave of joins on 2 cores cost every
  peer on the loop (audio ticks included) milliseconds per join.
* **Fast RTP ingest** - once aiortc's own path has routed a stream's first packet to our
  tapped receiver (so its SSRC table and our ``StreamStatistics`` know the SSRC), later
  SRTP packets of that SSRC and payload type are taken straight from aioice's
  ``Connection.data_received``: SRTP unprotect, header parse, statistics, sink - no
  ``asyncio.Queue`` hop, no DTLS-transport task wake-up, no coroutine chain per packet.
  Everything else (STUN/consent never reaches ``data_received``; DTLS, RTCP, other SSRCs
  and payload types) takes aiortc's path unchanged. Not counted any more: the DTLS
  transport's ``packetsReceived``/``bytesReceived`` (``getStats`` only) for those packets.
* **Uplink read by the tick** - a publisher's nominated host socket is taken out of the
  event loop (``pause_reading``) and read by the mixer tick (:class:`UplinkReader`): one
  wake-up per 20 ms instead of one per datagram. Each datagram keeps the kernel's receive
  time (``SO_TIMESTAMPNS``) as its arrival time, for our jitter buffer and for aiortc's
  ``StreamStatistics`` (RTCP receiver reports), which :func:`add_stream_statistics`
  updates exactly as ``StreamStatistics.add`` does, with that time instead of "now".
  Everything else read there (STUN, DTLS, RTCP, other SSRCs) goes to aioice's protocol as
  asyncio would have delivered it.
* **Negotiated codec and header extensions** - ``RTCRtpTransceiver._codecs`` and
  ``_headerExtensions`` hold what the answer agreed (payload type, mid extension id).
* **Direct RTP send** - encode once, then per listener only: RTP header, SRTP protect,
  ``sendto`` on the nominated ICE pair (~12 us vs ~370 us for aiortc's per-listener encode
  path). Uses ``RTCDtlsTransport._tx_srtp`` and aioice ``Connection._nominated``.
* **One DTLS certificate per process** - aiortc generates an EC key and a self-signed
  certificate in every ``RTCPeerConnection()`` and builds a fresh OpenSSL context for every
  DTLS handshake: under a wave of joins that was ~10 % of the server's work. Like Janus
  (one certificate per server) the process keeps one certificate, renewed before it
  expires, and one SSL context per SRTP profile list (session cache off: WebRTC does
  not resume DTLS sessions). The fingerprint in each answer is that certificate's.
* **RTCP sender reports from the tick** - aiortc's sender runs a task per peer that wakes
  every 0.5-1.5 s to build, protect and send an SR/SDES through its coroutine chain (~3 us
  per listener-packet at fan-out, measured). :func:`take_sender_reports` replaces that
  task (the BYE at stop is kept); the mixer tick sends each stream's SR with the same
  direct SRTCP-protect + ``sendto`` as RTP (:func:`datagram_sender` with ``rtcp=True``),
  for the packet it has just written, so the report's RTP time is exact. The numbers
  also go into the sender's private fields (:func:`record_sender_report`): its
  ``getStats`` and its round-trip time from the peer's receiver reports (LSR/DLSR) read
  them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import inspect
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import aioice
import aiortc
import aiortc.rtcpeerconnection
import pylibsrtp
from aioice import ice as aioice_ice
from aiortc import RTCDtlsTransport, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.rtcdtlstransport import RTCCertificate, SRTPProtectionProfile
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RtcpByePacket, RtpPacket
from aiortc.utils import uint16_gt
from OpenSSL import SSL
from pylibsrtp._binding import (  # type: ignore[import-not-found]  # cffi, no stubs
    ffi as _srtp_ffi,
)
from pylibsrtp._binding import lib as _srtp_lib

from voiceroom.media.ingest import QuietPayload

TESTED_AIORTC = "1.16.0"
TESTED_AIOICE = "0.13.0"

_DTLS_CONNECTED = DtlsState.CONNECTED
# pylibsrtp.Session.protect reserves this much of its 1,500-byte buffer for the auth tag.
_SRTP_MAX_TRAILER: int = pylibsrtp.SRTP_MAX_TRAILER_LEN
_SRTCP_MAX_TRAILER: int = pylibsrtp.SRTP_MAX_SRTCP_TRAILER_LEN

# seq, timestamp, payload, arrival (time.monotonic(), the event loop's clock)
RtpSink = Callable[[int, int, bytes, float], None]
DatagramSend = Callable[[bytes], bool]

_RX_CODECS = "_RTCRtpReceiver__codecs"
_RX_STREAMS = "_RTCRtpReceiver__remote_streams"
_RX_STOP_DECODER = "_RTCRtpReceiver__stop_decoder"
_RX_STARTED = "_RTCRtpReceiver__started"
_RX_RTX_SSRC = "_RTCRtpReceiver__rtx_ssrc"
_RX_TRANSPORT = "_RTCRtpReceiver__transport"
_RX_RTCP_TASK = "_RTCRtpReceiver__rtcp_task"
_RX_DECODER_THREAD = "_RTCRtpReceiver__decoder_thread"
_TX_NTP = "_RTCRtpSender__ntp_timestamp"
_TX_RTP = "_RTCRtpSender__rtp_timestamp"
_TX_PACKETS = "_RTCRtpSender__packet_count"
_TX_OCTETS = "_RTCRtpSender__octet_count"
_TX_STARTED = "_RTCRtpSender__started"
_TX_CNAME = "_RTCRtpSender__cname"
_TX_LSR = "_RTCRtpSender__lsr"
_TX_LSR_TIME = "_RTCRtpSender__lsr_time"
_TX_RTCP_STARTED = "_RTCRtpSender__rtcp_started"
_TX_RTCP_EXITED = "_RTCRtpSender__rtcp_exited"


def versions_match() -> bool:
    return bool(aiortc.__version__ == TESTED_AIORTC and aioice.__version__ == TESTED_AIOICE)


AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"


def install_rtp_tap(
    receiver: RTCRtpReceiver, payload_type: int, sink: RtpSink, *, quiet_level: int | None = None
) -> None:
    """Route this receiver's RTP packets of ``payload_type`` to ``sink`` instead of aiortc's
    decoder. ``sink`` is called on the event loop; it must not block.

    With ``quiet_level`` (an RFC 6464 level, 0..127 = -dBov), a packet whose audio-level
    header extension is at that level or quieter reaches ``sink`` as a
    :class:`~voiceroom.media.ingest.QuietPayload` (aiortc parses the extension when it was
    negotiated)."""
    codecs: dict[int, Any] = getattr(receiver, _RX_CODECS)
    streams: dict[int, Any] = getattr(receiver, _RX_STREAMS)

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        if packet.payload_type != payload_type:
            return  # RTX, CN or anything not negotiated as our Opus: ignore
        stream = streams.get(packet.ssrc)
        if stream is None:
            codec = codecs.get(payload_type)
            stream = streams[packet.ssrc] = StreamStatistics(codec.clockRate if codec else 48_000)
        stream.add(packet)  # keeps RTCP RR (fraction lost, jitter) accurate
        if packet.payload:
            payload = packet.payload
            if quiet_level is not None:
                level = packet.extensions.audio_level
                if level is not None and level[1] >= quiet_level:
                    payload = QuietPayload(payload)
            # aiortc's arrival_time_ms is wall-clock ms; the mixer runs on the monotonic clock.
            sink(packet.sequence_number, packet.timestamp, payload, time.monotonic())

    receiver._handle_rtp_packet = handle_rtp_packet  # type: ignore[method-assign]

    async def receive(parameters: Any) -> None:
        # aiortc's RTCRtpReceiver.receive without its decoder thread (the tap bypasses the
        # decoder): codecs and RTX map, registration with the transport, the RTCP task.
        if getattr(receiver, _RX_STARTED):
            return
        for codec in parameters.codecs:
            codecs[codec.payloadType] = codec
        rtx: dict[int, int] = getattr(receiver, _RX_RTX_SSRC)
        for encoding in parameters.encodings:
            if encoding.rtx:
                rtx[encoding.rtx.ssrc] = encoding.ssrc
        getattr(receiver, _RX_TRANSPORT)._register_rtp_receiver(receiver, parameters)
        setattr(receiver, _RX_RTCP_TASK, asyncio.ensure_future(receiver._run_rtcp()))
        setattr(receiver, _RX_STARTED, True)

    receiver.receive = receive  # type: ignore[method-assign]


# (datagram, arrival on the monotonic clock, arrival on the wall clock) -> taken?
RtpHandler = Callable[[bytes, float, float], bool]


def _no_handler(data: bytes, arrival: float, wall: float) -> bool:
    return False


class FastPath:
    """One peer's fast RTP ingest: its counters (tests and stats) and ``handle``, which
    takes a datagram of the routed stream (returns True) or leaves it (False)."""

    __slots__ = ("dropped", "handle", "packets")

    def __init__(self) -> None:
        self.packets = 0
        self.dropped = 0  # failed SRTP authentication or malformed header
        self.handle: RtpHandler = _no_handler


def add_stream_statistics(
    stream: StreamStatistics, seq: int, timestamp: int, arrival_wall: float
) -> None:
    """``StreamStatistics.add`` for a packet that arrived at ``arrival_wall``
    (``time.time()`` seconds) instead of now, without building an ``RtpPacket``: the same
    fields, the same arithmetic (RFC 3550 A.8 jitter in Q4), so aiortc's receiver reports
    (fraction lost, cumulative lost, jitter) are what its own path would send."""
    max_seq = stream.max_seq
    in_order = max_seq is None or uint16_gt(seq, max_seq)
    stream.packets_received += 1
    if stream.base_seq is None:
        stream.base_seq = seq
    if in_order:
        arrival = int(arrival_wall * stream._clockrate)
        if max_seq is not None and seq < max_seq:
            stream.cycles += 1 << 16
        stream.max_seq = seq
        last_ts = stream._last_timestamp
        if timestamp != last_ts and stream.packets_received > 1:
            assert stream._last_arrival is not None and last_ts is not None
            diff = abs((arrival - stream._last_arrival) - (timestamp - last_ts))
            stream._jitter_q4 += diff - ((stream._jitter_q4 + 8) >> 4)
        stream._last_arrival = arrival
        stream._last_timestamp = timestamp


def rtp_header(plain: bytes) -> tuple[int, int, bytes] | None:
    """(sequence number, timestamp, payload) of a decrypted RTP packet, as
    ``RtpPacket.parse`` reads them (CSRCs, header extension and padding skipped);
    None where it would raise ValueError."""
    n = len(plain)
    if n < 12 or plain[0] >> 6 != 2:
        return None
    b0 = plain[0]
    pos = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if n < pos + 4:
            return None
        pos += 4 + 4 * ((plain[pos + 2] << 8) | plain[pos + 3])
    if pos > n:
        return None
    end = n
    if b0 & 0x20:
        pad = plain[-1]
        if not pad or pad > n - pos:
            return None
        end -= pad
    return (plain[2] << 8) | plain[3], int.from_bytes(plain[4:8]), plain[pos:end]


def rtp_audio_level(plain: bytes, ext_id: int) -> int | None:
    """The RFC 6464 level (0..127, -dBov; the V bit dropped) in extension ``ext_id`` of a
    decrypted RTP packet (RFC 8285 one- or two-byte headers), or None."""
    n = len(plain)
    if n < 12 or not plain[0] & 0x10:
        return None
    pos = 12 + 4 * (plain[0] & 0x0F)
    if n < pos + 4:
        return None
    profile = (plain[pos] << 8) | plain[pos + 1]
    end = pos + 4 + 4 * ((plain[pos + 2] << 8) | plain[pos + 3])
    if end > n:
        return None
    pos += 4
    if profile == 0xBEDE:
        while pos < end:
            b = plain[pos]
            if b == 0:  # padding
                pos += 1
                continue
            xid = b >> 4
            if xid == 15:  # reserved: stop (RFC 8285 §4.2)
                return None
            if xid == ext_id:
                return plain[pos + 1] & 0x7F if pos + 1 < end else None
            pos += 2 + (b & 0x0F)
    elif profile & 0xFFF0 == 0x1000:
        while pos + 1 < end:
            xid = plain[pos]
            if xid == 0:
                pos += 1
                continue
            length = plain[pos + 1]
            if xid == ext_id:
                return plain[pos + 2] & 0x7F if length and pos + 2 < end else None
            pos += 2 + length
    return None


def install_fast_rtp_path(
    receiver: RTCRtpReceiver,
    payload_type: int,
    sink: RtpSink,
    *,
    audio_level_id: int | None = None,
    quiet_level: int | None = None,
) -> FastPath:
    """Take RTP of ``payload_type`` for SSRCs already routed to ``receiver`` (tapped with
    :func:`install_rtp_tap`) straight from the ICE connection's datagram handler.
    ``audio_level_id``/``quiet_level``: as :func:`install_rtp_tap` (the id is the one
    negotiated for :data:`AUDIO_LEVEL_URI`)."""
    levels = audio_level_id is not None and quiet_level is not None
    level_id = audio_level_id or 0
    quiet = quiet_level if quiet_level is not None else 128
    stats = FastPath()
    if 64 <= payload_type <= 95:  # would collide with RTCP packet types (RFC 5761 §4)
        return stats
    dtls = receiver.transport
    connection = dtls.transport._connection
    ssrc_table: dict[int, Any] = dtls._rtp_router.ssrc_table
    streams: dict[int, Any] = getattr(receiver, _RX_STREAMS)
    original = connection.data_received

    def handle(data: bytes, arrival: float, wall: float) -> bool:
        srtp = dtls._rx_srtp
        if (
            srtp is None
            or len(data) < 12
            or not 127 < data[0] < 192
            or data[1] & 0x7F != payload_type
        ):
            return False
        ssrc = int.from_bytes(data[8:12])
        stream = streams.get(ssrc)
        if stream is None or ssrc_table.get(ssrc) is not receiver:
            return False
        try:
            plain = srtp.unprotect(data)
        except pylibsrtp.Error:
            stats.dropped += 1  # aiortc drops these too
            return True
        header = rtp_header(plain)
        if header is None:
            stats.dropped += 1
            return True
        seq, timestamp, payload = header
        stats.packets += 1
        add_stream_statistics(stream, seq, timestamp, wall)
        if payload:
            if levels and plain[0] & 0x10:
                level = rtp_audio_level(plain, level_id)
                if level is not None and level >= quiet:
                    payload = QuietPayload(payload)
            sink(seq, timestamp, payload, arrival)
        return True

    def data_received(data: bytes, component: int) -> None:
        if not handle(data, time.monotonic(), time.time()):
            original(data, component)

    stats.handle = handle
    connection.data_received = data_received  # type: ignore[method-assign]
    return stats


# Linux <asm-generic/socket.h> (Python's socket module does not export it): a datagram's
# kernel receive time (CLOCK_REALTIME) as a struct timespec in its ancillary data.
SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")
_CMSG_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)
_MAX_DATAGRAM = 65_535
# Datagrams read per drain at most (a stall's backlog is read over the next ticks).
_MAX_DRAIN = 64


class UplinkReader:
    """One peer's uplink socket read by the mixer tick instead of by the event loop.

    :meth:`start` takes the nominated pair's UDP socket out of the loop's selector
    (``pause_reading``: no wake-up and no asyncio callback per datagram) and turns on
    kernel receive timestamps; :meth:`drain`, called at the start of every tick, reads what
    arrived. This stream's RTP goes to the fast path (``FastPath.handle``) with its kernel
    arrival time, so the jitter buffer and the RTCP statistics see the times they would
    have seen (a little earlier: without the loop's wake-up delay); every other datagram
    (STUN consent, DTLS, RTCP, not yet routed SSRCs) goes to aioice's
    ``datagram_received`` as asyncio would have delivered it, at most one tick later.
    Only host pairs read through asyncio's selector transport qualify (not TURN relays):
    :meth:`start` returns False otherwise and the loop keeps reading. :meth:`stop` gives
    the socket back to the loop."""

    __slots__ = ("_dtls", "_fast", "_protocol", "_sock", "_transport", "active", "datagrams")

    def __init__(self, dtls: RTCDtlsTransport, fast: FastPath) -> None:
        self._dtls = dtls
        self._fast = fast
        self._protocol: Any = None
        self._transport: Any = None
        self._sock: socket.socket | None = None
        self.active = False
        self.datagrams = 0  # read by drain (stat)

    def start(self) -> bool:
        if self.active:
            return True
        pair = self._dtls.transport._connection._nominated.get(1)
        if pair is None or type(pair.protocol) is not aioice_ice.StunProtocol:
            return False
        protocol = pair.protocol
        transport = getattr(protocol, "transport", None)
        sock = getattr(transport, "_sock", None)
        if (
            not isinstance(sock, socket.socket)
            or sock.type != socket.SOCK_DGRAM
            or transport is None
            or transport.is_closing()
            or not transport.is_reading()
        ):
            return False
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            return False  # not Linux: no receive times, keep the loop reading
        transport.pause_reading()
        self._protocol, self._transport, self._sock = protocol, transport, sock
        self.active = True
        return True

    def stop(self) -> None:
        if not self.active:
            return
        self.active = False
        transport = self._transport
        self._protocol = self._transport = self._sock = None
        if transport is not None and not transport.is_closing():
            transport.resume_reading()

    def drain(self) -> int:
        """Read and dispatch what arrived since the last drain; returns how many."""
        sock = self._sock
        if sock is None or self._transport.is_closing():
            self.active = False
            return 0
        recvmsg = sock.recvmsg
        handle = self._fast.handle
        datagram_received = self._protocol.datagram_received
        offset = time.monotonic() - time.time()
        n = 0
        while n < _MAX_DRAIN:
            try:
                data, ancdata, _flags, addr = recvmsg(_MAX_DATAGRAM, _CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._protocol.error_received(exc)  # as asyncio's transport does
                break
            n += 1
            wall = 0.0
            for level, kind, cdata in ancdata:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack_from(cdata)
                    wall = sec + nsec * 1e-9
            if not wall:
                wall = time.time()
            if not handle(data, wall + offset, wall):
                datagram_received(data, addr)
        self.datagrams += n
        return n


def negotiated_payload_type(transceiver: RTCRtpTransceiver, mime: str = "audio/opus") -> int:
    for codec in transceiver._codecs:
        if codec.mimeType.lower() == mime and codec.payloadType is not None:
            return int(codec.payloadType)
    raise LookupError(f"{mime} not negotiated")


def mid_extension_id(transceiver: RTCRtpTransceiver) -> int | None:
    for ext in transceiver._headerExtensions:
        if ext.uri == "urn:ietf:params:rtp-hdrext:sdes:mid":
            return int(ext.id)
    return None


def audio_level_extension_id(transceiver: RTCRtpTransceiver) -> int | None:
    """The id agreed for the RFC 6464 client-to-mixer audio level (after the offer)."""
    for ext in transceiver._headerExtensions:
        if ext.uri == AUDIO_LEVEL_URI:
            return int(ext.id)
    return None


def sender_started(sender: RTCRtpSender) -> bool:
    return bool(getattr(sender, _TX_STARTED))


def sender_ssrc(sender: RTCRtpSender) -> int:
    return int(sender._ssrc)


def sender_cname(sender: RTCRtpSender) -> str | None:
    """The RTCP CNAME aiortc's sender put in its SDES (set when it started)."""
    cname = getattr(sender, _TX_CNAME)
    return str(cname) if cname is not None else None


def take_sender_reports(sender: RTCRtpSender) -> None:
    """aiortc's sender sends no periodic SR/SDES of its own (call before it starts): the
    mixer tick sends them. Its RTCP task is replaced by one that only waits to be
    cancelled, then sends the BYE and signals its end as aiortc's does (``stop`` waits for
    both events)."""
    started: asyncio.Event = getattr(sender, _TX_RTCP_STARTED)
    exited: asyncio.Event = getattr(sender, _TX_RTCP_EXITED)

    async def run_rtcp() -> None:
        started.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Future()
        try:
            await sender._send_rtcp([RtcpByePacket(sources=[sender._ssrc])])
        finally:
            exited.set()

    sender._run_rtcp = run_rtcp  # type: ignore[method-assign]


def record_sender_report(
    sender: RTCRtpSender, *, ntp: int, rtp_timestamp: int, packets: int, octets: int
) -> None:
    """Note an SR we sent for ``sender``'s stream where aiortc keeps its own: its
    ``getStats`` reads the counters, and the round-trip time from the peer's next receiver
    report is computed from the LSR and the time it was sent."""
    setattr(sender, _TX_NTP, ntp)
    setattr(sender, _TX_RTP, rtp_timestamp)
    setattr(sender, _TX_PACKETS, packets)
    setattr(sender, _TX_OCTETS, octets)
    setattr(sender, _TX_LSR, (ntp >> 16) & 0xFFFFFFFF)
    setattr(sender, _TX_LSR_TIME, time.time())


def datagram_sender(dtls: RTCDtlsTransport, *, rtcp: bool = False) -> DatagramSend:
    """A synchronous ``send(rtp_bytes) -> sent?`` for one peer: SRTP protect + sendto
    (``rtcp=True``: ``send(rtcp_bytes)``, SRTCP protect + sendto).

    No coroutine per packet: at fan-out a listener-packet must cost microseconds. The
    nominated pair, its socket and remote address, and the SRTP session's C handles are
    cached and looked up again only when the pair, its transport or the session changes;
    the DTLS state is compared as the enum (the public ``state`` property formats a string
    on every call). Per packet this is one Python frame: libsrtp's ``srtp_protect`` is called
    the way ``pylibsrtp.Session.protect`` calls it (same buffer, no per-packet ``int *``
    allocation) and the datagram goes to the socket directly (asyncio's ``sendto`` is a
    Python method around the same call). A datagram the kernel would not take at once is
    handed to the asyncio transport, which queues it, so order is kept.
    """
    nominated: dict[int, Any] = dtls.transport._connection._nominated
    cached_pair: Any = None
    cached_transport: Any = None
    cached_tx: Any = None
    sock_sendto: Callable[[bytes, Any], int] | None = None
    addr: Any = None
    srtp: Any = None
    cdata: Any = None
    buf: Any = None
    len_p: Any = _srtp_ffi.new("int *")
    protect = _srtp_lib.srtp_protect_rtcp if rtcp else _srtp_lib.srtp_protect
    ok = _srtp_lib.srtp_err_status_ok
    room = 1_500 - (_SRTCP_MAX_TRAILER if rtcp else _SRTP_MAX_TRAILER)

    def send(data: bytes) -> bool:
        nonlocal cached_pair, cached_transport, cached_tx, sock_sendto, addr, srtp, cdata, buf
        tx = dtls._tx_srtp
        if tx is None or dtls._state is not _DTLS_CONNECTED:
            return False
        pair = nominated.get(1)
        if pair is None:
            return False
        transport = pair.protocol.transport
        if pair is not cached_pair or transport is not cached_transport:
            if transport is None or transport._sock is None:
                return False  # closing: asyncio dropped the socket
            cached_pair, cached_transport = pair, transport
            sock_sendto, addr = transport._sock.sendto, pair.remote_addr
        if tx is not cached_tx:
            cached_tx, srtp, cdata, buf = tx, tx._srtp[0], tx._cdata, tx._buffer
        n = len(data)
        if n > room:
            return False
        len_p[0] = n
        buf[0:n] = data
        if protect(srtp, cdata, len_p) != ok:
            return False
        packet = buf[0 : len_p[0]]
        assert sock_sendto is not None
        if transport._buffer:
            transport.sendto(packet, addr)  # keep order behind what asyncio queued
            return True
        try:
            sock_sendto(packet, addr)
        except (BlockingIOError, InterruptedError):
            transport.sendto(packet, addr)  # asyncio queues it and waits for writability
        except OSError:
            return False
        return True

    return send


class ProcessCertificate(RTCCertificate):
    """The certificate every peer connection of this process presents (see the module doc).

    Installed with :func:`use_process_certificate`; ``generateCertificate`` then returns the
    current one, making a new one when less than a day of validity is left (aiortc's own
    certificates are valid for 30 days)."""

    _current: ClassVar[ProcessCertificate | None] = None
    _RENEW_BEFORE = datetime.timedelta(days=1)

    def __init__(self, key: Any, cert: Any) -> None:
        super().__init__(key=key, cert=cert)
        self._contexts: dict[tuple[bytes, ...], SSL.Context] = {}
        self._fingerprints: list[Any] | None = None

    def getFingerprints(self) -> list[Any]:
        """aiortc hashes the certificate three ways for every answer; it does not change."""
        if self._fingerprints is None:
            self._fingerprints = super().getFingerprints()
        return list(self._fingerprints)

    @classmethod
    def generateCertificate(cls) -> ProcessCertificate:
        current = cls._current
        now = datetime.datetime.now(tz=datetime.UTC)
        if current is None or current.expires - now < cls._RENEW_BEFORE:
            current = cls._current = super().generateCertificate()
        return current

    def _create_ssl_context(self, srtp_profiles: list[SRTPProtectionProfile]) -> SSL.Context:
        key = tuple(p.openssl_profile for p in srtp_profiles)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = super()._create_ssl_context(srtp_profiles)
            ctx.set_session_cache_mode(SSL.SESS_CACHE_OFF)
            self._contexts[key] = ctx
        return ctx


def use_process_certificate(enabled: bool = True) -> None:
    """Make every ``RTCPeerConnection`` created from now on in this process use the
    :class:`ProcessCertificate` (or, ``enabled=False``, aiortc's own per-peer one)."""
    cls = ProcessCertificate if enabled else RTCCertificate
    setattr(aiortc.rtcpeerconnection, "RTCCertificate", cls)  # noqa: B010


def wrap_outgoing_rtp(
    dtls: RTCDtlsTransport,
    wrapper: Callable[[Callable[[bytes], Awaitable[None]], bytes], Awaitable[None]],
) -> None:
    """Interpose on a peer's outgoing RTP/RTCP (before SRTP): used by tests and benchmarks
    to inject loss and jitter in user space (this kernel has no netem)."""
    original = dtls._send_rtp

    async def send_rtp(data: bytes) -> None:
        await wrapper(original, data)

    dtls._send_rtp = send_rtp  # type: ignore[method-assign]


# sha256 of inspect.getsource(RTCRtpReceiver.receive) in the tested aiortc: the tap's
# ``receive`` re-implements it, so any change upstream must be re-read.
RECEIVE_SOURCE_SHA256 = "d6d8d8d7a0bf4e95f3fb7cb78cf275d0a5f50c4912e0cb8498272008779916ef"


# The same for StreamStatistics.add, which add_stream_statistics re-implements.
STATS_ADD_SOURCE_SHA256 = "d157b75e24b7ff53119b8973fa8311e00d329655d5e47be10b166d892a3300e1"


def stats_add_source_sha256() -> str:
    return hashlib.sha256(inspect.getsource(StreamStatistics.add).encode()).hexdigest()


def receive_source_sha256() -> str:
    return hashlib.sha256(inspect.getsource(RTCRtpReceiver.receive).encode()).hexdigest()


def signatures() -> dict[str, str]:
    """The signatures this module relies on; the internals test compares them."""
    return {
        "RTCRtpReceiver._handle_rtp_packet": str(
            inspect.signature(RTCRtpReceiver._handle_rtp_packet)
        ),
        "RTCRtpReceiver.receive": str(inspect.signature(RTCRtpReceiver.receive)),
        "RTCDtlsTransport._send_rtp": str(inspect.signature(RTCDtlsTransport._send_rtp)),
        "RTCCertificate.__init__": str(inspect.signature(RTCCertificate.__init__)),
        "RTCCertificate._create_ssl_context": str(
            inspect.signature(RTCCertificate._create_ssl_context)
        ),
        "RTCCertificate.getFingerprints": str(inspect.signature(RTCCertificate.getFingerprints)),
        "StreamStatistics.add": str(inspect.signature(StreamStatistics.add)),
        "aioice.Connection.sendto": str(inspect.signature(aioice.Connection.sendto)),
        "aioice.Connection.data_received": str(inspect.signature(aioice.Connection.data_received)),
        "aioice.StunProtocol.datagram_received": str(
            inspect.signature(aioice_ice.StunProtocol.datagram_received)
        ),
    }
