"""Per-listener RTP streams around a shared encoded payload.

A mix is encoded once per tick; each listener of that mix gets the same Opus payload in an
RTP header of its own (RFC 3550 §5.1): its sender's SSRC, the payload type negotiated with
that peer, and a sequence number and timestamp that advance by exactly one packet and one
frame per tick whatever mix the listener is on - so a 1v1 switch is invisible to the
browser's jitter buffer (no gap, no jump it could take for loss).
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable

from voiceroom.media.config import FRAME_SAMPLES

_HEADER = struct.Struct("!BBHII")
_pack = _HEADER.pack
# RTCP SR with no report blocks (RFC 3550 §6.4.1): V=2 RC=0, PT 200, length 6 (32-bit words
# minus one); SSRC, NTP timestamp, RTP timestamp, packet count, octet count.
_SR = struct.Struct("!BBHIQIII")
_pack_sr = _SR.pack
# NTP epoch (1900) to Unix epoch (1970), RFC 5905.
_NTP_OFFSET = 2_208_988_800


def mid_extension(ext_id: int | None, mid: str | None) -> bytes:
    """RFC 8285 one-byte-header extension block carrying the MID (for BUNDLE demux)."""
    if ext_id is None or not mid or not 1 <= ext_id <= 14:
        return b""
    value = mid.encode()[:16]
    body = bytes([(ext_id << 4) | (len(value) - 1)]) + value
    body += b"\x00" * (-len(body) % 4)
    return struct.pack("!HH", 0xBEDE, len(body) // 4) + body


def sdes_cname(ssrc: int, cname: str | None) -> bytes:
    """RTCP SDES packet with one chunk, ``ssrc``'s CNAME (RFC 3550 §6.5), or b"" without
    one. A compound RTCP packet carries it after the SR (§6.1)."""
    if not cname:
        return b""
    value = cname.encode()[:255]
    chunk = struct.pack("!IBB", ssrc, 1, len(value)) + value
    chunk += b"\x00" * (4 - len(chunk) % 4)  # the END item, padded to 32 bits: 1-4 zeros
    return struct.pack("!BBH", 0x81, 202, (4 + len(chunk)) // 4 - 1) + chunk


def ntp_now() -> int:
    """64-bit NTP timestamp of the wall clock, as RTCP SR wants it."""
    t = time.time() + _NTP_OFFSET
    return (int(t) << 32) | int((t % 1) * (1 << 32))


class RtpStream:
    """One listener's outgoing RTP stream. ``send`` writes a datagram (sync, no await)."""

    __slots__ = (
        "_b0",
        "_b1",
        "_ext",
        "_marker_next",
        "_sdes",
        "_send",
        "_send_rtcp",
        "last_timestamp",
        "octets",
        "packets",
        "payload_type",
        "reports",
        "send_failures",
        "seq",
        "ssrc",
        "timestamp",
    )

    def __init__(
        self,
        *,
        ssrc: int,
        payload_type: int,
        send: Callable[[bytes], bool],
        extension: bytes = b"",
        seq: int | None = None,
        timestamp: int | None = None,
        send_rtcp: Callable[[bytes], bool] | None = None,
        cname: str | None = None,
    ) -> None:
        self.ssrc = ssrc
        self.payload_type = payload_type
        self._send = send
        self._send_rtcp = send_rtcp
        self._sdes = sdes_cname(ssrc, cname)
        self.reports = 0  # RTCP sender reports sent
        self._ext = extension
        self._b0 = 0x90 if extension else 0x80  # V=2, X when an extension block follows
        self._b1 = payload_type & 0x7F
        # Random initial values (RFC 3550 §5.1); seq kept below 2**15 like browsers do so
        # the SRTP rollover counter is not hit early.
        self.seq = seq if seq is not None else int.from_bytes(os.urandom(2)) & 0x7FFF
        self.timestamp = timestamp if timestamp is not None else int.from_bytes(os.urandom(4))
        self.last_timestamp = self.timestamp
        self._marker_next = True  # first packet of a talkspurt (RFC 3551 §4.1)
        self.packets = 0
        self.octets = 0
        self.send_failures = 0

    def send(self, payload: bytes) -> None:
        """Send one 20 ms packet and advance; call exactly once per tick."""
        b1 = self._b1 | 0x80 if self._marker_next else self._b1
        # One concatenation chain, no branch: _ext is b"" when there is no extension.
        if self._send(
            _pack(self._b0, b1, self.seq, self.timestamp, self.ssrc) + self._ext + payload
        ):
            self._marker_next = False
            self.packets += 1
            self.octets += len(payload)
            self.last_timestamp = self.timestamp
            self.seq = (self.seq + 1) & 0xFFFF
        else:
            self.send_failures += 1
            self._marker_next = True
        self.timestamp = (self.timestamp + FRAME_SAMPLES) & 0xFFFFFFFF

    @property
    def tick_timestamp(self) -> int:
        """The RTP time of the tick just sent, whether its packet went out or not."""
        return (self.timestamp - FRAME_SAMPLES) & 0xFFFFFFFF

    def send_report(self, ntp: int) -> bool:
        """Send an RTCP SR (and SDES CNAME) for the tick just sent, at wall time ``ntp``:
        its RTP timestamp is that tick's, sent or not (RFC 3550 §6.4.1: the same instant as
        the NTP time), the counts are what reached the socket. False if not sent (no RTCP
        sender, or the peer's transport is not up)."""
        if self._send_rtcp is None:
            return False
        report = _pack_sr(
            0x80,
            200,
            6,
            self.ssrc,
            ntp,
            self.tick_timestamp,
            self.packets & 0xFFFFFFFF,
            self.octets & 0xFFFFFFFF,
        )
        if not self._send_rtcp(report + self._sdes):
            return False
        self.reports += 1
        return True

    def skip(self) -> None:
        """A tick with nothing sent: the clock moves, the sequence does not (as with DTX,
        RFC 3550 §5.1), so the receiver sees a pause, not a loss."""
        self.timestamp = (self.timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        self._marker_next = True


def send_all(streams: list[RtpStream], payload: bytes) -> None:
    """``stream.send(payload)`` for every stream, with the per-packet work inlined: the
    fan-out runs this once per listener per tick, so a Python call and a dozen attribute
    look-ups per packet are a measurable share of its cost."""
    pack = _pack
    size = len(payload)
    for s in streams:
        b1 = s._b1 | 0x80 if s._marker_next else s._b1
        ts = s.timestamp
        if s._send(pack(s._b0, b1, s.seq, ts, s.ssrc) + s._ext + payload):
            s._marker_next = False
            s.packets += 1
            s.octets += size
            s.last_timestamp = ts
            s.seq = (s.seq + 1) & 0xFFFF
        else:
            s.send_failures += 1
            s._marker_next = True
        s.timestamp = (ts + FRAME_SAMPLES) & 0xFFFFFFFF
