"""The codec's own quality limit: speech through two Opus hops offline, scored PESQ-WB.

What the server does to a talker's voice, minus the server: espeak-ng speech (16 kHz) is
upsampled to 48 kHz, Opus-encoded at the media plane's settings (mono, 20 ms, VOIP, 32 kbps,
in-band FEC, the configured packet-loss hint), decoded (hop 1, the uplink, where the loss is
applied), encoded and decoded again (hop 2, the server's mix to the listener), downsampled to
16 kHz and scored with ITU-T P.862.2 wide-band PESQ against the 16 kHz original.

Loss recovery is what a receiver with a one-frame jitter buffer can do: a lost packet whose
successor arrived is rebuilt from the successor's in-band FEC (``decode_fec=1``); otherwise
Opus PLC conceals it.

Independent of ``voiceroom.media.codec`` on purpose (plain opuslib calls, CTLs set with
``encoder_ctl`` as design §3 says), so a bug there cannot hide in the reference.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import opuslib
import opuslib.api.ctl
import opuslib.api.decoder
import opuslib.api.encoder

Pcm = npt.NDArray[np.int16]

FRAME = 960  # 20 ms at 48 kHz
SPEECH_TEXT = (
    "Welcome back to the live room, everyone. Today we have the new ceramic coffee set, "
    "only forty nine dollars for the next ten minutes. Ask me anything about the glaze, "
    "the sizes, or shipping to your city, and I will answer you right away."
)


@dataclass(frozen=True, slots=True)
class OpusSettings:
    bitrate: int = 32_000
    complexity: int = 5
    packet_loss_perc: int = 10

    @classmethod
    def from_server(cls) -> OpusSettings:
        """The media plane's configured defaults, if it is importable."""
        try:
            from voiceroom.media.config import MediaConfig
        except ImportError:
            return cls()
        c = MediaConfig()
        return cls(bitrate=c.bitrate, complexity=c.complexity, packet_loss_perc=c.packet_loss_perc)


def have_tools() -> str | None:
    """None if speech can be made here, else why not."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    return None


def resample(pcm: Pcm, src: int, dst: int) -> Pcm:
    """sox's high-quality resampler over raw int16 mono pipes."""
    raw = ["-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1"]
    out = subprocess.run(
        # -R -D: repeatable, no dither (sox dithers with a random seed by default).
        ["sox", "-R", "-D", *raw, "-r", str(src), "-", *raw, "-r", str(dst), "-", "rate", "-v"],
        input=pcm.astype("<i2").tobytes(),
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return np.frombuffer(out, dtype="<i2").astype(np.int16)


def speech_16k(text: str = SPEECH_TEXT) -> Pcm:
    """espeak-ng speech resampled to 16 kHz, with 0.5 s of silence either side."""
    with tempfile.TemporaryDirectory(prefix="vr-bench-") as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        out = subprocess.run(
            [
                "sox",
                "-R",
                "-D",
                str(wav),
                "-t",
                "raw",
                "-e",
                "signed-integer",
                "-b",
                "16",
                "-c",
                "1",
                "-r",
                "16000",
                "-",
                "rate",
                "-v",
                "norm",
                "-3",
            ],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    pcm = np.frombuffer(out, dtype="<i2").astype(np.int16)
    pad = np.zeros(8_000, dtype=np.int16)
    return np.concatenate([pad, pcm, pad])


def _encoder(s: OpusSettings) -> opuslib.Encoder:
    enc = opuslib.Encoder(48_000, 1, opuslib.APPLICATION_VOIP)
    ctl = opuslib.api.encoder.encoder_ctl
    ctl(enc.encoder_state, opuslib.api.ctl.set_bitrate, s.bitrate)
    ctl(enc.encoder_state, opuslib.api.ctl.set_complexity, s.complexity)
    ctl(enc.encoder_state, opuslib.api.ctl.set_inband_fec, 1)
    ctl(enc.encoder_state, opuslib.api.ctl.set_packet_loss_perc, s.packet_loss_perc)
    return enc


def encode(pcm48: Pcm, s: OpusSettings) -> list[bytes]:
    enc = _encoder(s)
    n = len(pcm48) // FRAME
    frames = pcm48[: n * FRAME].astype("<i2")
    return [enc.encode(frames[i * FRAME : (i + 1) * FRAME].tobytes(), FRAME) for i in range(n)]


def decode(packets: list[bytes], lost: list[bool]) -> tuple[Pcm, dict[str, int]]:
    """Decode with FEC from the next packet where it arrived, PLC where it did not."""
    dec = opuslib.Decoder(48_000, 1)
    state = dec.decoder_state
    out: list[bytes] = []
    counts = {"lost": 0, "fec": 0, "plc": 0}
    for i, packet in enumerate(packets):
        if not lost[i]:
            out.append(opuslib.api.decoder.decode(state, packet, len(packet), FRAME, False, 1))
            continue
        counts["lost"] += 1
        nxt = i + 1
        if nxt < len(packets) and not lost[nxt]:
            counts["fec"] += 1
            out.append(
                opuslib.api.decoder.decode(state, packets[nxt], len(packets[nxt]), FRAME, True, 1)
            )
        else:
            counts["plc"] += 1
            out.append(opuslib.api.decoder.decode(state, None, 0, FRAME, False, 1))
    return np.frombuffer(b"".join(out), dtype="<i2").astype(np.int16), counts


def two_hops(
    ref16: Pcm, *, loss: float, seed: int, settings: OpusSettings, loss_on_hop2: bool = False
) -> tuple[Pcm, dict[str, int]]:
    """ref16 -> 48 kHz -> Opus hop 1 (lossy) -> Opus hop 2 -> 16 kHz."""
    rng = random.Random(seed)
    pcm = resample(ref16, 16_000, 48_000)
    counts: dict[str, int] = {}
    for hop in (1, 2):
        packets = encode(pcm, settings)
        lossy = hop == 1 or loss_on_hop2
        lost = [lossy and rng.random() < loss for _ in packets]
        pcm, c = decode(packets, lost)
        for k, v in c.items():
            counts[k] = counts.get(k, 0) + v
    return resample(pcm, 48_000, 16_000), counts


def pesq_wb(ref16: Pcm, deg16: Pcm) -> float:
    from pesq import pesq

    n = min(len(ref16), len(deg16))
    return float(pesq(16_000, ref16[:n].astype(np.float64), deg16[:n].astype(np.float64), "wb"))


def codec_reference(
    *, loss: float, seeds: int, settings: OpusSettings | None = None, ref16: Pcm | None = None
) -> dict[str, object]:
    """PESQ-WB of the two-hop path; with loss, the median over ``seeds`` loss patterns."""
    settings = settings or OpusSettings.from_server()
    ref = speech_16k() if ref16 is None else ref16
    scores: list[float] = []
    fec = plc = 0
    for seed in range(seeds if loss > 0 else 1):
        deg, counts = two_hops(ref, loss=loss, seed=seed, settings=settings)
        scores.append(pesq_wb(ref, deg))
        fec += counts["fec"]
        plc += counts["plc"]
    return {
        "pesq": float(np.median(scores)),
        "scores": scores,
        "fec_frames": fec,
        "plc_frames": plc,
        "seconds": len(ref) / 16_000,
        "settings": {
            "bitrate": settings.bitrate,
            "complexity": settings.complexity,
            "packet_loss_perc": settings.packet_loss_perc,
        },
    }


def plc_only_reference(*, loss: float, seeds: int, ref16: Pcm) -> float:
    """Same path with FEC decoding disabled (every loss concealed by PLC): shows what FEC buys."""
    settings = OpusSettings.from_server()
    scores = []
    for seed in range(seeds):
        rng = random.Random(seed)
        pcm = resample(ref16, 16_000, 48_000)
        for hop in (1, 2):
            packets = encode(pcm, settings)
            lost = [hop == 1 and rng.random() < loss for _ in packets]
            # All-lost-successor trick: mark the successor unusable for FEC by decoding
            # each loss as if the next packet were lost too.
            dec = opuslib.Decoder(48_000, 1)
            out = [
                opuslib.api.decoder.decode(dec.decoder_state, None, 0, FRAME, False, 1)
                if lost[i]
                else opuslib.api.decoder.decode(dec.decoder_state, p, len(p), FRAME, False, 1)
                for i, p in enumerate(packets)
            ]
            pcm = np.frombuffer(b"".join(out), dtype="<i2").astype(np.int16)
        scores.append(pesq_wb(ref16, resample(pcm, 48_000, 16_000)))
    return float(np.median(scores))
