"""Real aiortc peers on loopback, real Opus, tones checked by FFT at the receivers.

Each seat holder sends its own sine tone; what every member hears is decided only by the
Routing handed to the MediaRoom, as the room core will do.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiortc.rtp import RtcpSrPacket

from tests.media.client import AudioClient, Received, tone_level
from tests.media.conftest import LAG, Join
from voiceroom.media import MediaRoom
from voiceroom.media.config import MediaConfig
from voiceroom.media.fanout import RtpStream
from voiceroom.room.routing import MUSIC_SOURCE, Routing, make_mix

pytestmark = [pytest.mark.media, pytest.mark.timeout(60)]

TONES = {"host": 440.0, "s1": 660.0, "s2": 880.0, "shopper": 1100.0, "l1": 1320.0}
PRESENT = 0.05  # sent at 0.3 of full scale; a mixed tone arrives near 0.3
ABSENT = 0.01


def show(seats: list[str], extra: dict[str, float] | None = None) -> Routing:
    """Everyone hears every seat; each seat holder hears the others (mix-minus)."""
    gains = dict.fromkeys(seats, 1.0) | (extra or {})
    return Routing(
        default=make_mix(gains),
        overrides={s: make_mix({k: g for k, g in gains.items() if k != s}) for s in seats},
        publishers=frozenset(seats),
    )


async def listen(clients: list[AudioClient], seconds: float = 0.6) -> tuple[float, float]:
    """A listening window of at least ``seconds``. On a starved host the clients receive
    late and in bursts: the window then stays open (bounded) until every connected client
    got at least 60 % of the window's packets, so ``levels`` judges audio, not the load."""
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    deadline = time.monotonic() + 20.0
    while True:
        now = time.monotonic()
        need = 0.6 * (now - t0) * 50
        short = [
            c
            for c in AudioClient.live
            if c.pc.connectionState == "connected"
            and sum(1 for r in c.received if r.arrival >= t0) < need
        ]
        if not short or now > deadline:
            return t0, now
        await asyncio.sleep(0.05)


def levels(client: AudioClient, window: tuple[float, float]) -> dict[str, float]:
    pcm = client.audio(*window)
    # Client and server share one event loop here: on a loaded 2-core host the client's
    # receive side lags by a few frames. Continuity proper is assert_continuous's job.
    assert len(pcm) >= 0.6 * (window[1] - window[0]) * 48_000, f"{client.name} starved"
    return {name: tone_level(pcm, f) for name, f in TONES.items()}


def hears(client: AudioClient, window: tuple[float, float]) -> set[str]:
    levels(client, window)  # enough audio arrived
    return classify(client.name, [r for r in client.received if window[0] <= r.arrival < window[1]])


def classify(name: str, got: list[Received]) -> set[str]:
    """Which tones ``got`` (consecutive 20 ms packets) carries. Per packet: on a starved
    host the senders' tones reach the server in bursts and the mixer conceals or drops
    some frames, so a present tone is not in every packet. Clear in at least a fifth of
    them = heard. Otherwise it must be faint over the whole window (a codec transient can
    light up a single 20 ms DFT at any frequency, but not the window's): a tone there in
    fewer packets is a failure (a leak, or a dropout)."""
    heard: set[str] = set()
    whole_pcm = np.concatenate([r.pcm for r in got])
    for tone, f in TONES.items():
        clear = sum(tone_level(r.pcm, f) > PRESENT for r in got)
        whole = tone_level(whole_pcm, f)
        if clear >= len(got) // 5:
            heard.add(tone)
        else:
            assert whole < 2 * ABSENT, (
                f"{name}: {tone} clear in {clear}/{len(got)} packets, level {whole:.3f}"
            )
    return heard


async def stat_becomes(room: MediaRoom, key: str, value: float, wait: float = 10.0) -> None:
    """Wait (bounded) for a media stat: on a starved host an uplink change reaches the
    mixer late, and a fixed sleep would judge the load instead of the server."""
    deadline = time.monotonic() + wait
    while room.stats()[key] != value:
        assert time.monotonic() < deadline, f"{key} stayed {room.stats()[key]}, not {value}"
        await asyncio.sleep(0.05)


async def seated(
    room: MediaRoom, join: Join, seats: list[str], listeners: list[str]
) -> dict[str, AudioClient]:
    clients = {name: await join(name) for name in seats + listeners}
    for name in seats:
        clients[name].send_tone(TONES[name])
    room.set_routing(show(seats))
    await asyncio.sleep(0.6)  # ICE/DTLS on loopback, first packets, jitter buffers
    return clients


def assert_continuous(client: AudioClient, since: float, room: MediaRoom) -> None:
    """RTP from the server: sequence +1 and timestamp +960 per packet, no arrival gaps.

    The one allowed exception is a tick the server itself skipped because its event loop
    was starved for more than 80 ms (a loaded host): then the timestamp moves on by whole
    frames with the sequence still +1, as after DTX - never a sequence gap.
    """
    LAG.skip_if_starved(since)
    skipped = int(room.stats()["missed_ticks"])
    rx = [r for r in client.received if r.arrival >= since]
    assert len(rx) > 10
    jumps = 0
    for a, b in itertools.pairwise(rx):
        assert (b.seq - a.seq) & 0xFFFF == 1, f"{client.name}: sequence gap"
        step = (b.timestamp - a.timestamp) & 0xFFFFFFFF
        assert step % 960 == 0 and step > 0, f"{client.name}: timestamp {step}"
        if step != 960:
            jumps += step // 960 - 1
        elif not skipped:
            assert b.arrival - a.arrival < 0.1, f"{client.name}: stall"
    assert jumps <= skipped, f"{client.name}: {jumps} frames jumped, server skipped {skipped}"


async def test_show_everyone_hears_every_seat_and_nobody_hears_themselves(
    room: MediaRoom, join: Join
) -> None:
    seats = ["host", "s1", "s2"]
    c = await seated(room, join, seats, ["l1", "l2"])
    w = await listen(list(c.values()))
    assert hears(c["l1"], w) == set(seats)
    assert hears(c["l2"], w) == set(seats)
    for s in seats:
        assert hears(c[s], w) == set(seats) - {s}
    # One encode per distinct mix (3 mix-minus + 1 audience), never per listener.
    await stat_becomes(room, "encodes_per_tick", 4)
    stats = room.stats()
    assert stats["mixes"] == 4 and stats["peers_ready"] == 5
    t0 = stats["ticks"]
    await asyncio.sleep(0.2)
    s2 = room.stats()
    assert s2["packets_out"] - stats["packets_out"] == pytest.approx(5 * (s2["ticks"] - t0), abs=5)


async def test_moderator_mute_removes_the_tone_within_100ms(room: MediaRoom, join: Join) -> None:
    seats = ["host", "s1"]
    c = await seated(room, join, seats, ["l1"])
    pcs = {u: room.peer_connection(u) for u in c}
    # s1 stays in the mixes: only ``publishers`` changes, as for a mute/kick. The server
    # enforces it although s1's client keeps sending.
    muted = Routing(
        default=make_mix({"host": 1.0, "s1": 1.0}),
        overrides={"host": make_mix({"s1": 1.0}), "s1": make_mix({"host": 1.0})},
        publishers=frozenset({"host"}),
    )
    t_mute = time.monotonic()
    room.set_routing(muted)
    await asyncio.sleep(0.4)
    after = [r for r in c["l1"].received if r.arrival >= t_mute]
    with_tone = [r.arrival for r in after if tone_level(r.pcm, TONES["s1"]) > ABSENT]
    gone_after = (max(with_tone) - t_mute) if with_tone else 0.0
    assert gone_after < 0.100, f"s1 still audible {gone_after * 1000:.0f} ms after the mute"
    w = await listen([])
    assert hears(c["l1"], w) == {"host"}
    assert hears(c["host"], w) == set()
    assert {u: room.peer_connection(u) for u in c} == pcs  # no reconnect


class ServerLog:
    """What the media plane did for each listener's RTP stream, read from the server:
    the next sequence number and timestamp it will send, its send failures, and the
    room's tick counters. Measured at the server, so a starved client or a busy host
    changes how long the test waits, never what it concludes."""

    def __init__(self, room: MediaRoom, users: list[str]) -> None:
        self.room = room
        self.users = users
        self.start = self.mark()
        self.ticks0, self.missed0 = self.ticks()

    def stream(self, user: str) -> RtpStream:
        stream = self.room._peers[user].stream
        assert stream is not None, f"{user}: no outgoing stream"
        return stream

    def mark(self) -> dict[str, tuple[int, int, int]]:
        """Per user: (next seq, next timestamp, send failures) right now."""
        return {
            u: (self.stream(u).seq, self.stream(u).timestamp, self.stream(u).send_failures)
            for u in self.users
        }

    def ticks(self) -> tuple[int, int]:
        stats = self.room.stats()
        return int(stats["ticks"]), int(stats["missed_ticks"])


SETTLE = 8  # packets after a switch before listening: the uplink jitter buffer drains
WINDOW = 40  # packets listened to (0.8 s of audio)


async def packets(client: AudioClient, first: int, count: int) -> list[Received]:
    """The packets with sequence numbers first .. first+count-1 (mod 2**16), in order,
    as the client receives them: waits (bounded) however slowly the host runs."""
    wanted = {(first + i) & 0xFFFF for i in range(count)}
    deadline = time.monotonic() + 20.0
    while True:
        got = {r.seq: r for r in client.received if r.seq in wanted}
        if len(got) == count:
            return [got[(first + i) & 0xFFFF] for i in range(count)]
        newest = client.received[-1].seq if client.received else first
        past = (newest - first) & 0xFFFF
        if count + 20 < past < 0x8000:  # the client is well past them: they are lost
            missing = sorted(wanted - set(got))
            raise AssertionError(f"{client.name}: packets {missing[:5]} never arrived")
        assert time.monotonic() < deadline, f"{client.name}: server stopped sending"
        await asyncio.sleep(0.02)


async def hears_after_switch(
    clients: dict[str, AudioClient], log: ServerLog, seq_at_switch: dict[str, int]
) -> dict[str, set[str]]:
    """Who each client hears in the WINDOW packets sent after the switch (+ SETTLE)."""
    out: dict[str, set[str]] = {}
    for user, client in clients.items():
        got = await packets(client, seq_at_switch[user] + SETTLE, WINDOW)
        out[user] = classify(user, got)
    return out


def switch(room: MediaRoom, log: ServerLog, routing: Routing) -> dict[str, int]:
    """Hand the room a Routing; return each stream's next seq: the first packet the new
    routing shapes (routing applies at the start of the next tick, before sending)."""
    seqs = {u: m[0] for u, m in log.mark().items()}
    room.set_routing(routing)
    return seqs


async def ready_log(room: MediaRoom, clients: dict[str, AudioClient]) -> ServerLog:
    """A ServerLog once every client has an outgoing stream (a busy host may need longer
    than ``seated``'s fixed wait)."""
    deadline = time.monotonic() + 20.0
    while any(room._peers[u].stream is None for u in clients):
        assert time.monotonic() < deadline, "media never became ready"
        await asyncio.sleep(0.05)
    return ServerLog(room, list(clients))


async def assert_server_continuous(log: ServerLog, clients: dict[str, AudioClient]) -> None:
    """No stall since ``log`` was made, judged by what the server did: every tick sent
    every stream one packet (sequence +1 per tick, no tick without a packet); the RTP
    clock moved 960 per tick, more only where the server skipped ticks itself (a starved
    loop: missed_ticks) or a send failed; and each receiver got exactly that stream."""
    end = log.mark()
    ticks1, missed1 = log.ticks()
    ran = ticks1 - log.ticks0
    for user, client in clients.items():
        seq0, ts0, fail0 = log.start[user]
        seq1, ts1, fail1 = end[user]
        failures = fail1 - fail0
        sent = (seq1 - seq0) & 0xFFFF
        assert sent == ran - failures, f"{user}: {ran} ticks but {sent} packets sent"
        frames = ((ts1 - ts0) & 0xFFFFFFFF) // 960
        skipped = frames - ran  # ticks the server skipped over, moving the clock only
        assert 0 <= skipped <= missed1 - log.missed0, f"{user}: clock moved {frames}/{ran}"
        got = await packets(client, seq0, sent)
        jumps = 0
        for a, b in itertools.pairwise(got):
            step = (b.timestamp - a.timestamp) & 0xFFFFFFFF
            assert step % 960 == 0 and step > 0, f"{user}: timestamp step {step}"
            jumps += step // 960 - 1
        assert jumps <= skipped + failures, f"{user}: {jumps} frames jumped at the receiver"


async def test_private_consultation_listen_in_and_back_to_show(room: MediaRoom, join: Join) -> None:
    seats = ["host", "s1", "shopper"]
    c = await seated(room, join, seats, ["l1"])
    pcs = {u: room.peer_connection(u) for u in c}
    log = await ready_log(room, c)
    # Private 1v1: the pair hear only each other; the room hears the remaining seat.
    at = switch(
        room,
        log,
        Routing(
            default=make_mix({"s1": 1.0}),
            overrides={
                "host": make_mix({"shopper": 1.0}),
                "shopper": make_mix({"host": 1.0}),
                "s1": make_mix({}),
            },
            publishers=frozenset(seats),
        ),
    )
    heard = await hears_after_switch(c, log, at)
    assert heard == {"l1": {"s1"}, "host": {"shopper"}, "shopper": {"host"}, "s1": set()}
    # Listen-in: the room hears the pair; only the pair speak.
    at = switch(
        room,
        log,
        Routing(
            default=make_mix({"host": 1.0, "shopper": 1.0}),
            overrides={"host": make_mix({"shopper": 1.0}), "shopper": make_mix({"host": 1.0})},
            publishers=frozenset({"host", "shopper"}),
        ),
    )
    heard = await hears_after_switch(c, log, at)
    assert heard == {
        "l1": {"host", "shopper"},
        "s1": {"host", "shopper"},
        "host": {"shopper"},
        "shopper": {"host"},
    }
    # Back to the show.
    at = switch(room, log, show(seats))
    heard = await hears_after_switch(c, log, at)
    assert heard["l1"] == set(seats) and heard["shopper"] == {"host", "s1"}
    # Seamless for everyone across the 3 switches, from the server's own record.
    assert {u: room.peer_connection(u) for u in c} == pcs
    await assert_server_continuous(log, c)


async def test_a_speaker_who_stops_sending_stalls_nobody(room: MediaRoom, join: Join) -> None:
    seats = ["host", "s1"]
    c = await seated(room, join, seats, ["l1"])
    log = await ready_log(room, c)
    c["s1"].stop_sending()
    at = {u: m[0] for u, m in log.mark().items()}
    heard = await hears_after_switch(c, log, at)
    assert heard["l1"] == {"host"}
    assert heard["host"] == set()  # s1's silence still arrives as packets
    await assert_server_continuous(log, {u: c[u] for u in ("l1", "host")})
    # And coming back is heard without any signalling.
    c["s1"].send_tone(TONES["s1"])
    await asyncio.sleep(0.2)
    assert hears(c["l1"], await listen([])) == {"host", "s1"}


async def test_a_silent_seat_shares_the_audience_encode_and_still_hears_the_others(
    room: MediaRoom, join: Join
) -> None:
    seats = ["host", "s1", "s2"]
    c = await seated(room, join, seats, ["l1"])
    await stat_becomes(room, "encodes_per_tick", 4)  # every uplink flowing
    c["s2"].stop_sending()  # as with DTX: s2's source goes idle, s2 keeps its seat
    await stat_becomes(room, "encodes_per_tick", 3)
    stats = room.stats()
    # s2's mix-minus (host + s1) now equals the audience mix: one encode serves both.
    assert stats["encodes_per_tick"] == 3 and stats["shared_mixes_per_tick"] == 1
    w = await listen([])
    assert hears(c["s2"], w) == {"host", "s1"}
    assert hears(c["l1"], w) == {"host", "s1"}
    assert hears(c["host"], w) == {"s1"}
    # Talking again: back on its own mix-minus, never hearing itself.
    c["s2"].send_tone(TONES["s2"])
    await stat_becomes(room, "encodes_per_tick", 4)
    w = await listen([])
    assert hears(c["s2"], w) == {"host", "s1"}
    assert hears(c["l1"], w) == {"host", "s1", "s2"}


async def test_listener_media_is_never_mixed_and_promotion_needs_no_new_connection(
    room: MediaRoom, join: Join
) -> None:
    seats = ["host"]
    c = await seated(room, join, seats, ["l1", "l2"])
    pc_before = room.peer_connection("l1")
    c["l1"].send_tone(TONES["l1"])  # a listener's client sends anyway
    await asyncio.sleep(0.3)
    w = await listen([])
    assert hears(c["l2"], w) == {"host"}
    assert hears(c["host"], w) == set()
    room.set_routing(show(["host", "l1"]))  # promoted: the next Routing lists l1
    await asyncio.sleep(0.2)
    w = await listen([])
    assert hears(c["l2"], w) == {"host", "l1"}
    assert hears(c["host"], w) == {"l1"}
    assert hears(c["l1"], w) == {"host"}
    assert room.peer_connection("l1") is pc_before
    assert c["l1"].pc.connectionState == "connected"


async def test_reconnect_replaces_the_peer(room: MediaRoom, join: Join) -> None:
    c = await seated(room, join, ["host"], ["l1"])
    old = room.peer_connection("l1")
    await c["l1"].close()
    again = await join("l1")
    await asyncio.sleep(0.4)
    assert room.peer_connection("l1") is not old
    assert old is not None and old.connectionState == "closed"
    assert hears(again, await listen([])) == {"host"}
    assert room.stats()["peers"] == 2
    await room.disconnect("l1")
    assert room.stats()["peers"] == 1


@pytest.fixture
def music_wav(tmp_path: Path) -> Path:
    if shutil.which("sox") is None:
        pytest.skip("needs sox")
    wav = tmp_path / "m.wav"
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-c", "2", str(wav), "synth", "0.3", "sine", "1000"],
        check=True,
    )
    return wav


async def test_music_is_mixed_as_its_own_source(
    room: MediaRoom, join: Join, music_wav: Path
) -> None:
    wav = music_wav
    c = await seated(room, join, ["host"], ["l1"])
    await room.play_music(str(wav), gain=0.3, loop=True)
    room.set_routing(show(["host"], {MUSIC_SOURCE: 1.0}))
    await asyncio.sleep(0.2)
    w = await listen([], 0.6)
    pcm = c["l1"].audio(*w)
    assert tone_level(pcm, 1000) > PRESENT and tone_level(pcm, 440) > PRESENT
    assert tone_level(c["host"].audio(*w), 1000) > PRESENT
    await room.stop_music()
    await asyncio.sleep(0.1)
    w = await listen([])
    assert tone_level(c["l1"].audio(*w), 1000) < ABSENT
    assert room.stats()["music_underruns"] == 0


async def test_answer_advertises_fec_and_dtx(room: MediaRoom) -> None:
    client = AudioClient("x")
    try:
        answer = await room.connect("x", await client.offer())
        opus = next(
            line.split()[0].split(":")[1] for line in answer.splitlines() if "opus/48000" in line
        )
        fmtp = next(line for line in answer.splitlines() if line.startswith(f"a=fmtp:{opus} "))
        assert "useinbandfec=1" in fmtp and "usedtx=1" in fmtp
        assert "a=sendrecv" in answer
    finally:
        await client.close()


def test_tone_levels_are_discriminating() -> None:
    # Guards the test's own detector: a tone is present, its neighbours are not.
    t = np.arange(960 * 20) / 48_000
    pcm = (np.sin(2 * np.pi * 660 * t) * 0.3 * 32767).astype(np.int16)
    assert tone_level(pcm, 660) == pytest.approx(0.3, abs=0.01)
    assert tone_level(pcm, 440) < ABSENT and tone_level(pcm, 880) < ABSENT


async def test_tapped_receivers_start_no_decoder_thread(
    room: MediaRoom, join: Join, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from voiceroom.media import aiortc_internals as internals

    started: list[str] = []
    original = threading.Thread.start

    def start(self: threading.Thread) -> None:
        started.append(self.name)
        original(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    c = await seated(room, join, ["host"], ["l1"])
    assert hears(c["l1"], await listen([])) == {"host"}
    # Neither the server's receivers nor the test clients' (also tapped) start one.
    assert "audio-decoder" not in started
    for user in ("host", "l1"):
        pc = room.peer_connection(user)
        assert pc is not None
        rx = pc.getTransceivers()[0].receiver
        assert getattr(rx, internals._RX_STARTED) is True
        assert getattr(rx, internals._RX_DECODER_THREAD) is None
        assert not getattr(rx, internals._RX_RTCP_TASK).done()  # RTCP reports keep running


async def test_uplink_rtp_takes_the_fast_path_after_the_first_packets(
    room: MediaRoom, join: Join
) -> None:
    c = await seated(room, join, ["host", "s1"], ["l1"])
    w = await listen([])
    assert hears(c["l1"], w) == {"host", "s1"}
    assert hears(c["host"], w) == {"s1"}
    stats = room.stats()
    # Only each SSRC's first packet(s) go through aiortc's queue; the rest skip it.
    assert stats["rx_fast_path"] > 0.8 * stats["rx_packets"]


def test_the_suite_reports_skip_reasons() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[2]
    options = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pytest"]
    assert "-ra" in options["ini_options"]["addopts"].split()
    assert "-ra" in (root / ".ci" / "run").read_text()


async def test_sender_reports_come_from_the_tick_on_their_interval() -> None:
    """The tick sends each peer's RTCP SR (+ CNAME) every sr_interval_ticks and aiortc's
    own SR task sends none; each report's counts and RTP time are those of the packets the
    listener got; the listener's receiver reports then give the server a round-trip time."""
    room = MediaRoom("sr", config=MediaConfig(sr_interval_ticks=25))
    await room.start()
    clients: list[AudioClient] = []
    try:
        for name in ("host", "l1"):
            client = AudioClient(name)
            clients.append(client)
            await client.accept(await room.connect(name, await client.offer()))
        host, l1 = clients
        host.send_tone(TONES["host"])
        room.set_routing(show(["host"]))
        reports: list[Any] = []
        received_then: list[int] = []  # packets the listener had when each report came
        rx = l1.transceiver.receiver
        handle = rx._handle_rtcp_packet

        async def spy(packet: Any) -> None:
            if isinstance(packet, RtcpSrPacket):
                reports.append(packet)
                received_then.append(l1.packets)
            await handle(packet)

        rx._handle_rtcp_packet = spy  # type: ignore[method-assign]
        await listen([], 1.0)  # connected and receiving
        reports.clear()
        received_then.clear()
        ticks0 = room.stats()["ticks"]
        await asyncio.sleep(3.0)
        ticks = room.stats()["ticks"] - ticks0
        # One report per 25 ticks (0.5 s); aiortc's own task would add one every 0.5-1.5 s.
        assert abs(len(reports) - ticks / 25) <= 1.5, (len(reports), ticks)
        assert all(r.ssrc == reports[0].ssrc for r in reports)
        for a, b in itertools.pairwise(reports):
            # One packet per tick: counts and RTP time advance together, exactly.
            span = (b.sender_info.rtp_timestamp - a.sender_info.rtp_timestamp) & 0xFFFFFFFF
            frames = span // 960
            assert b.sender_info.packet_count - a.sender_info.packet_count == frames
            assert frames % 25 == 0 and frames > 0
        # The report follows its packet on the same socket: the listener has just had it.
        for report, had in zip(reports, received_then, strict=True):
            assert abs(report.sender_info.packet_count - had) <= 2, (report, had)
        pc = room.peer_connection("l1")
        assert pc is not None
        deadline = time.monotonic() + 5.0
        rtt = None
        while rtt is None and time.monotonic() < deadline:
            for stat in (await pc.getStats()).values():
                if stat.type == "remote-inbound-rtp" and stat.roundTripTime is not None:
                    rtt = stat.roundTripTime
            await asyncio.sleep(0.2)
        assert rtt is not None and 0 <= rtt < 0.5, rtt
        assert room.stats()["rtcp_reports"] >= 2 * len(reports) - 2  # both peers report
    finally:
        for c in clients:
            await c.close()
        await room.close()
