"""Fails loudly when an aiortc/aioice upgrade changes an internal voiceroom relies on.

If this fails after an upgrade: re-read voiceroom/media/aiortc_internals.py against the new
aiortc source, fix what moved, re-run the media tests, then bump the pins here and there.
"""

from __future__ import annotations

import asyncio
import datetime
import inspect
import time
from typing import Any

import aioice
import aiortc
import pylibsrtp
import pytest
from aiortc import RTCDtlsTransport, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import RTCCertificate
from aiortc.rtcrtpreceiver import StreamStatistics

from voiceroom.media import aiortc_internals as internals


def test_versions_are_the_tested_ones() -> None:
    assert aiortc.__version__ == internals.TESTED_AIORTC, "aiortc changed: see module doc"
    assert aioice.__version__ == internals.TESTED_AIOICE, "aioice changed: see module doc"
    assert internals.versions_match()


def test_signatures_we_call_or_replace() -> None:
    assert internals.signatures() == {
        "RTCRtpReceiver._handle_rtp_packet": (
            "(self, packet: aiortc.rtp.RtpPacket, arrival_time_ms: int) -> None"
        ),
        "RTCRtpReceiver.receive": (
            "(self, parameters: aiortc.rtcrtpparameters.RTCRtpReceiveParameters) -> None"
        ),
        "RTCDtlsTransport._send_rtp": "(self, data: bytes) -> None",
        "RTCCertificate.__init__": (
            "(self, key: cryptography.hazmat.primitives.asymmetric.ec.EllipticCurvePrivateKey, "
            "cert: cryptography.hazmat.bindings._rust.x509.Certificate) -> None"
        ),
        "RTCCertificate._create_ssl_context": (
            "(self, srtp_profiles: list[aiortc.rtcdtlstransport.SRTPProtectionProfile]) "
            "-> OpenSSL.SSL.Context"
        ),
        "RTCCertificate.getFingerprints": (
            "(self) -> list[aiortc.rtcdtlstransport.RTCDtlsFingerprint]"
        ),
        "StreamStatistics.add": "(self, packet: aiortc.rtp.RtpPacket) -> None",
        "aioice.Connection.sendto": "(self, data: bytes, component: int) -> None",
        "aioice.Connection.data_received": "(self, data: bytes, component: int) -> None",
        "aioice.StunProtocol.datagram_received": (
            "(self, data: bytes | str, addr: tuple[typing.Any, ...]) -> None"
        ),
    }
    assert inspect.iscoroutinefunction(RTCRtpReceiver._handle_rtp_packet)
    assert inspect.iscoroutinefunction(RTCRtpReceiver.receive)


def test_dtls_transport_still_awaits_the_receivers_handle_rtp_packet() -> None:
    # The tap only works because the transport looks the method up on the instance.
    src = inspect.getsource(RTCDtlsTransport._handle_rtp_data)
    assert "receiver._handle_rtp_packet(packet, arrival_time_ms=" in src


async def test_private_attributes_exist_on_live_objects() -> None:
    pc = RTCPeerConnection()
    try:
        t = pc.addTransceiver("audio", direction="sendrecv")
        rx, tx = t.receiver, t.sender
        for name in (internals._RX_CODECS, internals._RX_STREAMS):
            assert isinstance(getattr(rx, name), dict), name
        assert callable(getattr(rx, internals._RX_STOP_DECODER))
        for name in (
            internals._TX_NTP,
            internals._TX_RTP,
            internals._TX_PACKETS,
            internals._TX_OCTETS,
        ):
            assert isinstance(getattr(tx, name), int), name
        assert getattr(tx, internals._TX_STARTED) is False
        assert getattr(tx, internals._TX_CNAME) is None  # set by send()
        assert isinstance(getattr(tx, internals._TX_LSR), int | type(None))
        assert isinstance(getattr(tx, internals._TX_LSR_TIME), float | type(None))
        for name in (internals._TX_RTCP_STARTED, internals._TX_RTCP_EXITED):
            assert isinstance(getattr(tx, name), asyncio.Event), name
        assert isinstance(tx._ssrc, int)
        assert isinstance(t._codecs, list) and isinstance(t._headerExtensions, list)
        dtls = tx.transport
        assert hasattr(dtls, "_tx_srtp") and hasattr(dtls, "_send_rtp")
        assert isinstance(dtls.transport._connection, aioice.Connection)
        assert isinstance(dtls.transport._connection._nominated, dict)
    finally:
        await pc.close()


def test_sender_rtcp_task_is_ours_to_replace_and_its_fields_are_read_where_we_expect() -> None:
    # take_sender_reports: send() starts the RTCP task through the instance attribute,
    # stop() waits for the two events our replacement sets, and BYE goes out this way.
    send = inspect.getsource(RTCRtpSender.send)
    assert "asyncio.ensure_future(self._run_rtcp())" in send
    stop = inspect.getsource(RTCRtpSender.stop)
    assert "self.__rtcp_started.wait()" in stop and "self.__rtcp_exited.wait()" in stop
    run = inspect.getsource(RTCRtpSender._run_rtcp)
    assert "RtcpByePacket(sources=[self._ssrc])" in run and "self._send_rtcp(" in run
    assert "self.__cname" in run  # the CNAME our SDES carries
    # record_sender_report: the round-trip time from the peer's receiver reports...
    handle = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    assert "self.__lsr == report.lsr" in handle and "self.__lsr_time" in handle
    assert "self.__packet_count - report.packets_lost" in handle
    # ...and the sender's getStats read the fields we write.
    stats = inspect.getsource(RTCRtpSender.getStats)
    assert "self.__packet_count" in stats and "self.__octet_count" in stats
    assert internals._SRTCP_MAX_TRAILER == pylibsrtp.SRTP_MAX_SRTCP_TRAILER_LEN


def test_receiver_stream_statistics_are_what_rtcp_reports_use() -> None:
    src = inspect.getsource(RTCRtpReceiver._run_rtcp)
    assert "self.__remote_streams.items()" in src
    assert StreamStatistics(48_000).packets_received == 0


def test_stream_statistics_add_we_reimplement_is_unchanged() -> None:
    # add_stream_statistics is StreamStatistics.add with the arrival time passed in; any
    # upstream change must be re-read before bumping this hash.
    assert internals.stats_add_source_sha256() == internals.STATS_ADD_SOURCE_SHA256
    assert "arrival = int(time.time() * self._clockrate)" in inspect.getsource(StreamStatistics.add)


def test_add_stream_statistics_matches_aiortc_packet_for_packet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same packets, same arrival times: every field RTCP reports read is identical,
    through reordering, duplicates, a loss and a sequence wrap."""
    import random

    import aiortc.rtcrtpreceiver as rtcrtpreceiver
    from aiortc.rtp import RtpPacket

    rng = random.Random(7)
    seqs = [(65_500 + i) & 0xFFFF for i in range(80)]
    del seqs[20]  # a loss
    seqs[30], seqs[31] = seqs[31], seqs[30]  # reordering
    seqs.insert(40, seqs[39])  # a duplicate
    theirs, ours = StreamStatistics(48_000), StreamStatistics(48_000)
    wall = 1_700_000_000.0
    for seq in seqs:
        wall += 0.020 + rng.uniform(-0.004, 0.012)
        ts = (4_000_000_000 + ((seq - 65_500) & 0xFFFF) * 960) & 0xFFFFFFFF
        monkeypatch.setattr(rtcrtpreceiver.time, "time", lambda w=wall: w)
        theirs.add(RtpPacket(payload_type=111, sequence_number=seq, timestamp=ts, ssrc=1))
        internals.add_stream_statistics(ours, seq, ts, wall)
        assert vars(ours) == vars(theirs)
    # (the duplicate counts as received, as in aiortc: one lost, one extra)
    assert ours.jitter > 0 and ours.cycles == 1 << 16 and ours.packets_lost == 0
    assert 0 < ours.jitter < 48_000 * 0.02
    assert ours.fraction_lost == theirs.fraction_lost


def test_uplink_reader_relies_on_asyncio_and_aioice_as_they_are() -> None:
    import asyncio.selector_events as selector_events

    # pause_reading takes the socket out of the selector; resume_reading puts it back.
    src = inspect.getsource(selector_events._SelectorTransport.pause_reading)
    assert "self._loop._remove_reader(self._sock_fd)" in src
    # aioice's protocol keeps its transport where the reader finds the socket.
    assert "self.transport = " in inspect.getsource(aioice.ice.StunProtocol.connection_made)


@pytest.mark.parametrize("attr", ["_codecs", "_headerExtensions"])
def test_transceiver_negotiation_attributes_are_set_from_the_remote_description(
    attr: str,
) -> None:
    src = inspect.getsource(RTCPeerConnection.setRemoteDescription)
    assert f"transceiver.{attr} =" in src


def test_receive_we_reimplement_is_unchanged() -> None:
    # install_rtp_tap replaces RTCRtpReceiver.receive with its body minus the decoder
    # thread; any upstream change to that body must be re-read before bumping this hash.
    assert internals.receive_source_sha256() == internals.RECEIVE_SOURCE_SHA256
    src = inspect.getsource(RTCRtpReceiver.receive)
    for piece in (
        "self.__codecs[codec.payloadType] = codec",
        "self.__rtx_ssrc[encoding.rtx.ssrc] = encoding.ssrc",
        "self.__transport._register_rtp_receiver(self, parameters)",
        "self.__rtcp_task = asyncio.ensure_future(self._run_rtcp())",
        "self.__started = True",
    ):
        assert piece in src, piece
    # With no decoder thread, frames are never queued for one and stop() has none to join.
    assert "and self.__decoder_thread:" in inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "if self.__decoder_thread:" in inspect.getsource(
        getattr(RTCRtpReceiver, internals._RX_STOP_DECODER)
    )


async def test_receiver_attributes_the_tap_sets_exist_on_live_objects() -> None:
    pc = RTCPeerConnection()
    try:
        rx = pc.addTransceiver("audio", direction="sendrecv").receiver
        assert getattr(rx, internals._RX_STARTED) is False
        assert isinstance(getattr(rx, internals._RX_RTX_SSRC), dict)
        assert getattr(rx, internals._RX_TRANSPORT) is rx.transport
        assert getattr(rx, internals._RX_DECODER_THREAD) is None
        assert callable(rx.transport._register_rtp_receiver)
    finally:
        await pc.close()


def test_datagram_sender_caches_are_safe() -> None:
    # The fan-out compares the DTLS state enum instead of the string property...
    from aiortc.rtcdtlstransport import State

    assert internals._DTLS_CONNECTED is State.CONNECTED
    assert "self._state" in inspect.getsource(RTCDtlsTransport.state.fget)
    # ...and holds aioice's nominated-pair dict: it must only ever be mutated in place.
    src = inspect.getsource(aioice.Connection)
    assert src.count("self._nominated =") == 0
    assert src.count("self._nominated: dict[int, CandidatePair] = {}") == 1  # __init__


def test_fast_path_hooks_exist_and_are_where_aioice_and_aiortc_use_them() -> None:
    # STUN is parsed first; only what is not STUN reaches Connection.data_received.
    src = inspect.getsource(aioice.ice.StunProtocol.datagram_received)
    assert "self.receiver.data_received(data, self.local_candidate.component)" in src
    assert "stun.parse_message(data)" in src.split("self.receiver.data_received")[0]
    # aiortc's own path: unprotect with _rx_srtp, route by the router's SSRC table.
    recv = inspect.getsource(RTCDtlsTransport._recv_next)
    assert "self._rx_srtp.unprotect(data)" in recv
    route = inspect.getsource(aiortc.rtcdtlstransport.RtpRouter.route_rtp)
    assert "self.ssrc_table[packet.ssrc] = pt_receiver" in route


async def test_fast_path_attributes_exist_on_live_objects() -> None:
    pc = RTCPeerConnection()
    try:
        rx = pc.addTransceiver("audio", direction="sendrecv").receiver
        dtls = rx.transport
        assert isinstance(dtls._rtp_router.ssrc_table, dict)
        assert hasattr(dtls, "_rx_srtp") and dtls._rx_srtp is None  # until DTLS is done
        assert callable(dtls.transport._connection.data_received)
    finally:
        await pc.close()


def _rtp(
    *, seq: int, ts: int, payload: bytes, csrc: int = 0, ext_words: int = -1, pad: int = 0
) -> bytes:
    b0 = 0x80 | csrc | (0x10 if ext_words >= 0 else 0) | (0x20 if pad else 0)
    out = bytes([b0, 111]) + seq.to_bytes(2) + ts.to_bytes(4) + (1234).to_bytes(4)
    out += bytes(4 * csrc)
    if ext_words >= 0:
        out += b"\xbe\xde" + ext_words.to_bytes(2) + bytes(4 * ext_words)
    out += payload
    if pad:
        out += bytes(pad - 1) + bytes([pad])
    return out


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"csrc": 2},
        {"ext_words": 0},
        {"ext_words": 2},
        {"pad": 3},
        {"csrc": 1, "ext_words": 1, "pad": 4},
    ],
)
def test_rtp_header_reads_what_aiortc_parses(kw: dict[str, int]) -> None:
    from aiortc.rtp import RtpPacket

    data = _rtp(seq=65_000, ts=4_000_000_000, payload=b"opus-frame", **kw)
    ref = RtpPacket.parse(data)
    assert internals.rtp_header(data) == (ref.sequence_number, ref.timestamp, ref.payload)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(11),
        b"\x40" + bytes(15),  # version 1
        _rtp(seq=1, ts=1, payload=b"")[:12] + b"\x00",  # fine: 1-byte payload
        bytes([0x80 | 0x20, 111]) + bytes(10),  # padding flag, pad length 0
        bytes([0x80 | 0x20, 111]) + bytes(9) + b"\x09",  # pad longer than the body
        bytes([0x80 | 0x10, 111]) + bytes(10) + b"\xbe\xde\x00\x05",  # short extension
        bytes([0x8F, 111]) + bytes(10),  # 15 CSRCs announced, none present
    ],
)
def test_rtp_header_rejects_what_aiortc_rejects(data: bytes) -> None:
    from aiortc.rtp import RtpPacket

    try:
        ref = RtpPacket.parse(data)
    except ValueError:
        assert internals.rtp_header(data) is None
    else:
        assert internals.rtp_header(data) == (ref.sequence_number, ref.timestamp, ref.payload)


def test_direct_send_uses_libsrtp_and_asyncio_as_they_are() -> None:
    # datagram_sender calls srtp_protect the way pylibsrtp's Session does, on its buffer...
    import asyncio.selector_events

    src = inspect.getsource(pylibsrtp.Session._Session__process)  # type: ignore[attr-defined]
    assert "func(self._srtp[0], self._cdata, len_p)" in src
    assert "self._buffer[0 : len_p[0]]" in src
    assert internals._SRTP_MAX_TRAILER == pylibsrtp.SRTP_MAX_TRAILER_LEN
    session = pylibsrtp.Session()
    assert len(session._cdata) == 1_500 and len(session._buffer) == 1_500
    # ...and writes to the datagram transport's socket unless asyncio has queued datagrams.
    dgram = inspect.getsource(asyncio.selector_events._SelectorDatagramTransport.sendto)
    assert "if not self._buffer:" in dgram and "self._sock.sendto(data, addr)" in dgram


async def test_process_certificate_one_per_process_and_one_context_per_profiles() -> None:
    # aiortc looks the class up by name in rtcpeerconnection when it builds a peer...
    assert "RTCCertificate.generateCertificate()" in inspect.getsource(RTCPeerConnection.__init__)
    start = inspect.getsource(RTCDtlsTransport.start)
    assert "self.__local_certificate._create_ssl_context(" in start
    internals.use_process_certificate()
    a, b = RTCPeerConnection(), RTCPeerConnection()
    try:
        certs = [pc._RTCPeerConnection__certificates for pc in (a, b)]  # type: ignore[attr-defined]
        assert certs[0][0] is certs[1][0] and isinstance(certs[0][0], internals.ProcessCertificate)
        profiles = RTCDtlsTransport(
            a.addTransceiver("audio").sender.transport.transport, certs[0]
        )._srtp_profiles
        cert = certs[0][0]
        assert cert._create_ssl_context(profiles) is cert._create_ssl_context(profiles)
        # Fingerprints are computed once, and are what aiortc itself computes.
        assert cert.getFingerprints() == RTCCertificate.getFingerprints(cert)
        assert cert.getFingerprints() is not cert.getFingerprints()  # callers get a copy
        # ...and a certificate within _RENEW_BEFORE of its expiry (30 days) is replaced.
        assert internals.ProcessCertificate.generateCertificate() is cert
        old = internals.ProcessCertificate._RENEW_BEFORE
        internals.ProcessCertificate._RENEW_BEFORE = datetime.timedelta(days=31)
        try:
            assert internals.ProcessCertificate.generateCertificate() is not cert
        finally:
            internals.ProcessCertificate._RENEW_BEFORE = old
    finally:
        await a.close()
        await b.close()


def test_client_audio_levels_hook_where_aiortc_reads_them() -> None:
    # voiceroom.client.media.send_audio_levels wraps _next_encoded_frame and sets
    # RTCEncodedFrame.audio_level, which _run_rtp writes as the RFC 6464 extension.
    from aiortc.rtcrtpsender import RTCEncodedFrame

    sig = str(inspect.signature(RTCRtpSender._next_encoded_frame))
    assert sig.startswith("(self, codec: aiortc.rtcrtpparameters.RTCRtpCodecParameters)")
    run = inspect.getsource(RTCRtpSender._run_rtp)
    assert "enc_frame = await self._next_encoded_frame(codec)" in run
    assert "packet.extensions.audio_level = (False, -enc_frame.audio_level)" in run
    assert RTCEncodedFrame([b"x"], 0, None).audio_level is None


@pytest.mark.media
@pytest.mark.timeout(60)
async def test_a_publishers_uplink_is_read_by_the_tick_and_given_back_to_the_loop() -> None:
    """Real peers: while s1 publishes, its socket is out of the event loop's selector and
    the tick reads it (with kernel receive times); its tone is still heard; when it stops
    publishing the loop reads the socket again and the peer stays connected."""
    import asyncio

    from tests.media.client import AudioClient, tone_level
    from voiceroom.media import MediaConfig, MediaRoom
    from voiceroom.room.routing import Routing, make_mix

    room = MediaRoom("t", config=MediaConfig())
    await room.start()
    speaker, listener = AudioClient("s1"), AudioClient("l1")
    try:
        await speaker.accept(await room.connect("s1", await speaker.offer()))
        await listener.accept(await room.connect("l1", await listener.offer()))
        room.set_routing(
            Routing(
                default=make_mix({"s1": 1.0}),
                overrides={"s1": make_mix({})},
                publishers=frozenset({"s1"}),
            )
        )
        ingest = room._peers["s1"].ingest
        seen: list[tuple[float, float]] = []  # (arrival given, when pushed)

        class Recording:
            def __init__(self, jitter: Any) -> None:
                self._jitter = jitter

            def __getattr__(self, name: str) -> Any:
                return getattr(self._jitter, name)

            def push(self, seq: int, payload: bytes, now: float) -> bool:
                seen.append((now, time.monotonic()))
                return bool(self._jitter.push(seq, payload, now))

        ingest.jitter = Recording(ingest.jitter)  # type: ignore[assignment]
        speaker.send_tone(440.0)
        await asyncio.sleep(2.0)
        stats = room.stats()
        assert stats["uplinks_read_at_tick"] == 1
        assert stats["rx_read_at_tick"] > 50
        assert stats["rx_fast_path"] > 50
        reader = room._peers["s1"].reader
        assert reader is not None and reader.active
        sock = reader._sock
        assert sock is not None
        selector = asyncio.get_running_loop()._selector  # type: ignore[attr-defined]
        with pytest.raises(KeyError):
            selector.get_key(sock.fileno())  # not woken per datagram
        assert room._peers["l1"].reader is not None
        assert not room._peers["l1"].reader.active  # a listener's socket stays in the loop
        loud = [r for r in listener.received[-40:] if tone_level(r.pcm, 440.0) > 0.2]
        assert len(loud) > 30
        # Arrival times are the kernel's receive times on the monotonic clock: before the
        # push, by less than a tick plus scheduling slack (a wrong clock offset would be
        # off by decades).
        assert len(seen) > 50
        assert all(0 <= pushed - arrival < 0.1 for arrival, pushed in seen[5:])
        room.set_routing(Routing(default=make_mix({}), publishers=frozenset()))
        await asyncio.sleep(0.2)
        assert room.stats()["uplinks_read_at_tick"] == 0 and not reader.active
        assert selector.get_key(sock.fileno()) is not None  # the loop reads it again
        before = room.stats()["rx_fast_path"]
        await asyncio.sleep(0.5)
        assert room.stats()["rx_fast_path"] > before + 10  # through the loop now
        assert room.peer_connection("s1") is not None
    finally:
        await speaker.close()
        await listener.close()
        await room.close()
