"""SDP munging, RTP headers and RTCP sender reports: pure functions, checked against
aiortc's parser."""

from __future__ import annotations

import random

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtcpPacket, RtcpSdesPacket, RtcpSrPacket, RtpPacket

from voiceroom.media import aiortc_internals as internals
from voiceroom.media.fanout import RtpStream, mid_extension, send_all
from voiceroom.media.sdp import fmtp_params, set_fmtp

SDP = (
    "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n"
    "a=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n"
)


def test_fmtp_added_after_rtpmap() -> None:
    out = set_fmtp(SDP, 111, {"useinbandfec": "1", "usedtx": "1"})
    assert "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1;usedtx=1\r\n" in out
    assert fmtp_params(out, 111) == {"useinbandfec": "1", "usedtx": "1"}


def test_fmtp_merged_into_existing_line() -> None:
    sdp = SDP.replace("PCMU/8000\r\n", "PCMU/8000\r\na=fmtp:111 minptime=10;useinbandfec=0\r\n")
    out = set_fmtp(sdp, 111, {"useinbandfec": "1"})
    assert fmtp_params(out, 111) == {"minptime": "10", "useinbandfec": "1"}
    assert out.count("a=fmtp:111") == 1


def parse(data: bytes, mid_id: int | None = None) -> RtpPacket:
    ext_map = HeaderExtensionsMap()
    if mid_id is not None:
        ext_map.configure(
            RTCRtpParameters(
                headerExtensions=[
                    RTCRtpHeaderExtensionParameters(
                        id=mid_id, uri="urn:ietf:params:rtp-hdrext:sdes:mid"
                    )
                ]
            )
        )
    return RtpPacket.parse(data, ext_map)


def test_rtp_stream_headers_parse_and_stay_continuous() -> None:
    sent: list[bytes] = []
    s = RtpStream(
        ssrc=0xDEADBEEF,
        payload_type=111,
        send=lambda d: sent.append(d) is None,
        extension=mid_extension(4, "0"),
        seq=65_534,
        timestamp=0xFFFFFC00,
    )
    for i in range(4):
        s.send(bytes([i]) * 10)
    packets = [parse(d, 4) for d in sent]
    assert [p.sequence_number for p in packets] == [65_534, 65_535, 0, 1]
    assert [p.timestamp for p in packets] == [0xFFFFFC00, 0xFFFFFFC0, 0x380, 0x740]
    assert [p.marker for p in packets] == [1, 0, 0, 0]
    assert all(p.ssrc == 0xDEADBEEF and p.payload_type == 111 for p in packets)
    assert packets[2].payload == b"\x02" * 10
    assert packets[0].extensions.mid == "0"


def test_skipped_tick_moves_time_not_sequence() -> None:
    sent: list[bytes] = []
    s = RtpStream(
        ssrc=1, payload_type=96, send=lambda d: sent.append(d) is None, seq=10, timestamp=0
    )
    s.send(b"x")
    s.skip()
    s.send(b"y")
    a, b = parse(sent[0]), parse(sent[1])
    assert (b.sequence_number - a.sequence_number, b.timestamp - a.timestamp) == (1, 1920)
    assert b.marker == 1  # new talkspurt after a pause


def test_failed_send_is_counted_and_not_sequenced() -> None:
    ok = [False]
    sent: list[bytes] = []

    def send(d: bytes) -> bool:
        sent.append(d)
        return ok[0]

    s = RtpStream(ssrc=1, payload_type=96, send=send, seq=10, timestamp=0)
    s.send(b"x")
    ok[0] = True
    s.send(b"y")
    assert s.send_failures == 1 and s.packets == 1
    assert parse(sent[1]).sequence_number == 10


def test_send_all_writes_exactly_what_send_writes() -> None:
    # send_all is RtpStream.send inlined for the fan-out loop: same bytes, same state.
    def streams(out: list[bytes], ok: list[bool]) -> list[RtpStream]:
        def send(d: bytes) -> bool:
            out.append(d)
            return ok[0]

        return [
            RtpStream(ssrc=i, payload_type=111, send=send, extension=ext, seq=65_534, timestamp=7)
            for i, ext in enumerate([b"", mid_extension(3, "0")])
        ]

    a_out: list[bytes] = []
    b_out: list[bytes] = []
    ok = [True]
    a, b = streams(a_out, ok), streams(b_out, ok)
    for i in range(6):
        ok[0] = i != 2  # one failed send: counted, marker set again
        for s in a:
            s.send(bytes([i]) * 5)
        send_all(b, bytes([i]) * 5)
    assert a_out == b_out
    for x, y in zip(a, b, strict=True):
        assert (x.seq, x.timestamp, x.packets, x.octets, x.send_failures, x.last_timestamp) == (
            y.seq,
            y.timestamp,
            y.packets,
            y.octets,
            y.send_failures,
            y.last_timestamp,
        )


def _with_extensions(exts: list[tuple[int, bytes]], *, two_byte: bool, payload: bytes) -> bytes:
    if two_byte:
        body = b"".join(bytes([i, len(v)]) + v for i, v in exts)
        profile = 0x1000
    else:
        body = b"".join(bytes([(i << 4) | (len(v) - 1)]) + v for i, v in exts)
        profile = 0xBEDE
    body += b"\x00" * (-len(body) % 4)
    head = bytes([0x90, 111]) + (5).to_bytes(2) + (960).to_bytes(4) + (99).to_bytes(4)
    return head + profile.to_bytes(2) + (len(body) // 4).to_bytes(2) + body + payload


def _level_map(level_id: int) -> HeaderExtensionsMap:
    ext_map = HeaderExtensionsMap()
    ext_map.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
                RTCRtpHeaderExtensionParameters(id=level_id, uri=internals.AUDIO_LEVEL_URI),
            ]
        )
    )
    return ext_map


@pytest.mark.parametrize("two_byte", [False, True])
def test_audio_level_read_like_aiortc_reads_it(two_byte: bool) -> None:
    rng = random.Random(6464)
    for _ in range(300):
        level_id = rng.choice([2, 5, 14])
        level = rng.randrange(128)
        vad = rng.choice([0, 0x80])
        exts = [(1, b"0")] if rng.random() < 0.5 else []
        exts.append((level_id, bytes([vad | level])))
        if rng.random() < 0.5:
            exts.append((7, bytes(rng.randrange(1, 5))))
        rng.shuffle(exts)
        data = _with_extensions(exts, two_byte=two_byte, payload=b"\xfc" + bytes(20))
        ref = RtpPacket.parse(data, _level_map(level_id))
        assert ref.extensions.audio_level == (bool(vad), level)
        assert internals.rtp_audio_level(data, level_id) == level
        assert internals.rtp_header(data) == (5, 960, ref.payload)
        other = 3 if level_id != 3 else 4
        assert internals.rtp_audio_level(data, other) is None


def test_audio_level_absent_or_malformed_is_none() -> None:
    plain = bytes([0x80, 111]) + bytes(10) + b"\xfc"
    assert internals.rtp_audio_level(plain, 1) is None  # no X bit
    good = _with_extensions([(1, b"\x7f")], two_byte=False, payload=b"")
    assert internals.rtp_audio_level(good, 1) == 127
    assert internals.rtp_audio_level(good[:-4], 1) is None  # length beyond the packet
    reserved = _with_extensions([(15, b"\x00"), (1, b"\x10")], two_byte=False, payload=b"")
    assert internals.rtp_audio_level(reserved, 1) is None  # id 15 ends parsing (RFC 8285)


@pytest.mark.parametrize("cname", ["", "a", "ab", "abc", "abcd", "{0f3c-uuid-cname}", "x" * 300])
def test_sender_report_is_what_aiortc_parses(cname: str) -> None:
    reports: list[bytes] = []
    s = RtpStream(
        ssrc=0xCAFE0001,
        payload_type=111,
        send=lambda d: True,
        seq=100,
        timestamp=0xFFFFFC00,
        send_rtcp=lambda d: reports.append(d) is None,
        cname=cname or None,
    )
    for _ in range(3):
        s.send(b"\x01" * 40)
    ntp = (3_960_000_000 << 32) | 0x80000000
    assert s.send_report(ntp)
    assert s.reports == 1 and len(reports) == 1 and len(reports[0]) % 4 == 0
    packets = RtcpPacket.parse(reports[0])
    sr = packets[0]
    assert isinstance(sr, RtcpSrPacket) and sr.ssrc == 0xCAFE0001 and sr.reports == []
    info = sr.sender_info
    assert info.ntp_timestamp == ntp
    # The RTP time of the last tick's packet (the third: two frames after the first).
    assert info.rtp_timestamp == (0xFFFFFC00 + 2 * 960) & 0xFFFFFFFF
    assert (info.packet_count, info.octet_count) == (3, 120)
    if not cname:
        assert len(packets) == 1
        return
    assert len(packets) == 2 and isinstance(packets[1], RtcpSdesPacket)
    (chunk,) = packets[1].chunks
    assert chunk.ssrc == 0xCAFE0001 and chunk.items == [(1, cname.encode()[:255])]


def test_sender_report_not_sent_counts_nothing() -> None:
    s = RtpStream(ssrc=1, payload_type=111, send=lambda d: True, send_rtcp=lambda d: False)
    s.send(b"x")
    assert not s.send_report(0) and s.reports == 0
    assert not RtpStream(ssrc=1, payload_type=111, send=lambda d: True).send_report(0)
