"""SDP munging and RTP header building: pure functions, checked against aiortc's parser."""

from __future__ import annotations

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from voiceroom.media.fanout import RtpStream, mid_extension
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
