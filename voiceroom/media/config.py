"""Media plane configuration: one immutable object, validated at construction."""

from __future__ import annotations

from dataclasses import dataclass

from voiceroom.errors import VoiceroomError

SAMPLE_RATE = 48_000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 960: one Opus frame, one mixer tick


class MediaConfigError(VoiceroomError, ValueError):
    """A media setting is out of range."""


@dataclass(frozen=True, slots=True)
class MediaConfig:
    # Encoder
    bitrate: int = 32_000
    complexity: int = 5  # 0..10; 10 costs ~2x the CPU of 5 for little gain on speech
    packet_loss_perc: int = 10  # tells the encoder how much FEC redundancy to spend
    # ICE: none by default so loopback/LAN connects without waiting for STUN (design §3)
    ice_servers: tuple[str, ...] = ()
    # Jitter buffer, in 20 ms frames
    jitter_min_frames: int = 1
    jitter_max_frames: int = 3
    # A publisher silent this many frames (DTX, stopped sender) is no longer concealed
    max_conceal_frames: int = 3
    # VAD
    vad_aggressiveness: int = 2  # webrtcvad 0..3
    vad_on_frames: int = 3  # voiced frames in a row before "speaking"
    vad_off_frames: int = 25  # unvoiced frames in a row before "silent" (500 ms)
    vad_min_interval: float = 0.25  # seconds between two events for one user
    # Mixer
    max_mixed_speakers: int | None = None  # mix only the N loudest active publishers
    limiter_threshold: float = 0.89  # of int16 full scale, ~ -1 dBFS
    limiter_release_frames: int = 10  # ~200 ms back to unity gain
    # RTCP sender report (+ SDES CNAME) to each peer every N ticks, sent by the tick for
    # the packet it just wrote (peers staggered over the ticks): 50 = once a second
    sr_interval_ticks: int = 50
    # Threads besides the event loop's that encode a tick's distinct mixes in parallel
    # (libopus releases the GIL): one busy room can use a second core. Armed for 5 s by 3
    # ticks over 8 ms or late within 1 s (quick ticks encode inline). 0: always inline.
    encode_threads: int = 1
    # RFC 6464 client-to-mixer audio level: a publisher packet at or below this level
    # (dBov) is silence and is neither decoded, VAD-checked nor mixed once more than
    # ``silence_hangover_frames`` silent packets came in a row. None: ignore the levels.
    silence_dbov: int | None = -60
    silence_hangover_frames: int = 10  # 200 ms: quiet word endings stay in
    # One DTLS certificate and SSL context for every peer of the process (as Janus does)
    # instead of a new key, certificate and context per peer: cheaper joins.
    process_certificate: bool = True
    # Read each publisher's uplink socket at the start of the mixer tick (kernel receive
    # timestamps keep the arrival times) instead of waking the event loop per datagram.
    uplink_at_tick: bool = True

    def __post_init__(self) -> None:
        if not 6_000 <= self.bitrate <= 510_000:
            raise MediaConfigError(f"bitrate {self.bitrate} outside 6000..510000")
        if not 0 <= self.complexity <= 10:
            raise MediaConfigError("complexity must be 0..10")
        if not 0 <= self.packet_loss_perc <= 100:
            raise MediaConfigError("packet_loss_perc must be 0..100")
        if not 1 <= self.jitter_min_frames <= self.jitter_max_frames <= 10:
            raise MediaConfigError("need 1 <= jitter_min_frames <= jitter_max_frames <= 10")
        if self.max_conceal_frames < 1:
            raise MediaConfigError("max_conceal_frames must be >= 1")
        if not 0 <= self.vad_aggressiveness <= 3:
            raise MediaConfigError("vad_aggressiveness must be 0..3")
        if self.vad_on_frames < 1 or self.vad_off_frames < 1 or self.vad_min_interval < 0:
            raise MediaConfigError("bad VAD hysteresis")
        if self.max_mixed_speakers is not None and self.max_mixed_speakers < 1:
            raise MediaConfigError("max_mixed_speakers must be >= 1 or None")
        if not 0.1 <= self.limiter_threshold <= 1.0:
            raise MediaConfigError("limiter_threshold must be 0.1..1.0")
        if self.limiter_release_frames < 1:
            raise MediaConfigError("limiter_release_frames must be >= 1")
        if not 1 <= self.sr_interval_ticks <= 500:
            raise MediaConfigError("sr_interval_ticks must be 1..500 (20 ms to 10 s)")
        if not 0 <= self.encode_threads <= 16:
            raise MediaConfigError("encode_threads must be 0..16")
        if self.silence_dbov is not None and not -127 <= self.silence_dbov <= 0:
            raise MediaConfigError("silence_dbov must be -127..0 or None")
        if self.silence_hangover_frames < 0:
            raise MediaConfigError("silence_hangover_frames must be >= 0")
