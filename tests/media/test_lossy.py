"""5 % random loss and jitter injected on a publisher's uplink (user space: no netem here).

The server must hide the loss (Opus in-band FEC for single losses, PLC otherwise) so the
listener's audio has no gap longer than one frame, and its added latency must stay flat.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time

import numpy as np
import pytest

from tests.media.client import AudioClient, tone_level
from tests.media.conftest import LAG, Join
from tests.media.test_e2e import assert_continuous
from voiceroom.media import MediaRoom
from voiceroom.media.ingest import Ingest
from voiceroom.room.routing import Routing, make_mix

pytestmark = [pytest.mark.media, pytest.mark.slow, pytest.mark.timeout(90)]

TONE = 440.0
RUN = 8.0
SETTLE = 2.0


def longest_run(flags: list[bool]) -> int:
    return max((len(list(g)) for k, g in itertools.groupby(flags) if k), default=0)


@pytest.mark.parametrize("jitter", [0.0, 0.030])
async def test_five_percent_loss_no_gap_over_one_frame_and_flat_latency(
    room: MediaRoom, join: Join, jitter: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Record what the host's ingest hands the mixer on every tick: a frame, or nothing.
    ticks: list[tuple[bool, int]] = []  # (had a frame, cumulative PLC count)
    original = Ingest.frame

    def recording_frame(self: Ingest, now: float) -> object:
        frame = original(self, now)
        if self is host_ingest[0]:
            ticks.append((frame is not None, self.jitter.stats.plc))
        return frame

    host_ingest: list[Ingest] = []
    monkeypatch.setattr(Ingest, "frame", recording_frame)
    host, l1 = await join("host"), await join("l1")
    host_ingest.append(room._peers["host"].ingest)
    counts = host.lossy_uplink(loss=0.05, jitter=jitter, rng=random.Random(42))
    host.send_tone(TONE, voiced=True)  # speech-like, so the Opus encoder emits FEC
    room.set_routing(
        Routing(
            default=make_mix({"host": 1.0}),
            overrides={"host": ()},
            publishers=frozenset({"host"}),
        )
    )
    # Let the jitter buffer find its depth for this network first (a few underruns at 30 ms
    # jitter); from then on its latency must stay flat.
    await asyncio.sleep(SETTLE)
    start = time.monotonic()
    first_tick = len(ticks)
    lat_start = room.latency_samples
    await asyncio.sleep(RUN)

    assert counts["dropped"] >= 0.02 * counts["sent"], counts  # loss really happened
    stats = room.stats()
    assert stats["rx_fec"] > 0  # single losses were repaired from in-band FEC

    LAG.skip_if_starved(start - SETTLE)
    # 1. The source never drops out of the mix and is never concealed two frames running.
    run = ticks[first_tick:]
    assert len(run) >= 0.9 * RUN * 50  # (other processes share these 2 cores)
    assert all(had for had, _ in run), "the lossy publisher dropped out of the mix"
    plc_steps = [b[1] - a[1] for a, b in itertools.pairwise(run)]
    # Loss alone: a lost packet is rebuilt from FEC; only two losses in a row need PLC, for
    # one frame. With 30 ms jitter on top, a loss can meet a late packet: two frames.
    assert longest_run([d > 0 for d in plc_steps]) <= (1 if jitter == 0 else 2)

    # 2. The listener gets an unbroken stream: every 20 ms packet, no time jump, no stall.
    rx = [r for r in l1.received if r.arrival >= start]
    assert len(rx) >= 0.9 * RUN * 50
    assert_continuous(l1, start, room)

    # 3. ...and what it decodes has no silent gap longer than one frame (-40 dB).
    rms = np.array([np.sqrt(np.mean(r.pcm.astype(np.float64) ** 2)) for r in rx])
    median = float(np.median(rms))
    assert median > 0.1 * 32767
    assert longest_run([bool(v < median / 100) for v in rms]) <= 1
    tone = np.array([tone_level(r.pcm, TONE) for r in rx])

    # 4. Server-added latency (packet in -> mixed packet out) does not grow over the run.
    lat = np.array(room.latencies(lat_start))
    third = len(lat) // 3
    first, last = lat[:third], lat[-third:]
    assert np.percentile(last, 50) <= np.percentile(first, 50) + 0.010
    assert np.percentile(lat, 99) < 0.100
    print(
        f"\njitter={jitter * 1000:.0f}ms dropped={counts['dropped']}/{counts['sent']} "
        f"fec={stats['rx_fec']:.0f} plc={stats['rx_plc']:.0f} late={stats['rx_late']:.0f} "
        f"trimmed={stats['rx_trimmed']:.0f} min_rms={rms.min() / median:.3f} "
        f"tone_dips(<1/3)={int((tone < np.median(tone) / 3).sum())} "
        f"latency p50 first/last third={np.percentile(first, 50) * 1000:.1f}/"
        f"{np.percentile(last, 50) * 1000:.1f} ms p99={np.percentile(lat, 99) * 1000:.1f} ms"
    )


async def test_lossy_helper_really_drops(join: Join) -> None:
    # Guard for the harness: with loss=1.0 nothing of the tone reaches the server.
    c: AudioClient = await join("x")
    counts = c.lossy_uplink(loss=1.0)
    c.send_tone(TONE)
    await asyncio.sleep(0.3)
    assert counts["sent"] > 5 and counts["dropped"] == counts["sent"]
