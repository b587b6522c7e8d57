"""Opus encode/decode through opuslib's ctypes bindings, with preallocated buffers.

opuslib's high-level ``Encoder``/``Decoder`` copy PCM through Python lists and its CTL
property setters raise TypeError (design §3), so we call the bound libopus functions
(``opuslib.api.*.libopus_*``) with numpy buffers we own. Mono, 48 kHz throughout.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
import numpy.typing as npt
import opuslib
import opuslib.api
import opuslib.api.ctl
import opuslib.api.decoder
import opuslib.api.encoder

from voiceroom.media.config import FRAME_SAMPLES, SAMPLE_RATE

Pcm = npt.NDArray[np.int16]

MAX_PACKET = 1_500
# Opus packets last at most 120 ms: 5760 samples at 48 kHz.
MAX_FRAME_SAMPLES = 5_760


class OpusEncoder:
    """One mono 20 ms voip encoder with in-band FEC; state continuous across calls."""

    __slots__ = ("_last_pcm", "_last_ptr", "_out", "_state")

    def __init__(
        self, *, bitrate: int, complexity: int = 5, packet_loss_perc: int = 10, dtx: bool = False
    ) -> None:
        self._state: Any = opuslib.api.encoder.create_state(
            SAMPLE_RATE, 1, opuslib.APPLICATION_VOIP
        )
        ctl = opuslib.api.encoder.encoder_ctl
        ctl(self._state, opuslib.api.ctl.set_bitrate, bitrate)
        ctl(self._state, opuslib.api.ctl.set_complexity, complexity)
        ctl(self._state, opuslib.api.ctl.set_inband_fec, 1)
        ctl(self._state, opuslib.api.ctl.set_packet_loss_perc, packet_loss_perc)
        ctl(self._state, opuslib.api.ctl.set_dtx, int(dtx))
        self._out = (ctypes.c_char * MAX_PACKET)()
        # The mixer hands the same buffer every tick: its ctypes pointer (a few us to build
        # through numpy) is kept while that array is.
        self._last_pcm: Pcm | None = None
        self._last_ptr: Any = None

    def get(self, request: Any) -> int:
        """Read a CTL back (tests use this to prove FEC is really on)."""
        return int(opuslib.api.encoder.encoder_ctl(self._state, request))

    def encode(self, pcm: Pcm) -> bytes:
        """Encode exactly one 20 ms frame of int16 mono PCM (must be C-contiguous).

        libopus runs with the GIL released (ctypes), so encoders of different mixes can run
        in parallel threads; one encoder must not be used by two threads at once."""
        if pcm is not self._last_pcm:
            self._last_pcm = pcm
            self._last_ptr = pcm.ctypes.data_as(opuslib.api.c_int16_pointer)
        n = opuslib.api.encoder.libopus_encode(
            self._state, self._last_ptr, FRAME_SAMPLES, self._out, MAX_PACKET
        )
        if n < 0:
            raise opuslib.OpusError(n)
        return ctypes.string_at(self._out, n)

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state is not None:
            opuslib.api.encoder.destroy(state)


class OpusDecoder:
    """Mono decoder. Returned arrays are views of an internal buffer: copy to keep them."""

    __slots__ = ("_buf", "_ptr", "_state", "last_samples")

    def __init__(self) -> None:
        self._state: Any = opuslib.api.decoder.create_state(SAMPLE_RATE, 1)
        self._buf: Pcm = np.zeros(MAX_FRAME_SAMPLES, dtype=np.int16)
        self._ptr = self._buf.ctypes.data_as(opuslib.api.c_int16_pointer)
        self.last_samples = FRAME_SAMPLES

    def _run(self, data: bytes | None, frame_size: int, fec: int) -> Pcm:
        n = opuslib.api.decoder.libopus_decode(
            self._state, data, 0 if data is None else len(data), self._ptr, frame_size, fec
        )
        if n < 0:
            raise opuslib.OpusError(n)
        return self._buf[:n]

    def decode(self, data: bytes) -> Pcm:
        pcm = self._run(data, MAX_FRAME_SAMPLES, 0)
        self.last_samples = len(pcm)
        return pcm

    def decode_fec(self, next_packet: bytes) -> Pcm:
        """Recover the frame *before* ``next_packet`` from its in-band FEC (LBRR) data.

        If the packet carries no FEC, libopus falls back to PLC for that duration.
        """
        return self._run(next_packet, self.last_samples, 1)

    def conceal(self) -> Pcm:
        """Packet loss concealment for one frame of the last packet's duration."""
        return self._run(None, self.last_samples, 0)

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state is not None:
            opuslib.api.decoder.destroy(state)
