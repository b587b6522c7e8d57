"""A clocked, adaptive jitter buffer for one Opus uplink (pure: time is passed in).

The mixer pops exactly one frame per 20 ms tick. The buffer decides, per tick, whether to
decode a packet, recover a single lost packet from the *next* packet's in-band FEC, conceal
with PLC, or report that the source is idle (DTX, stopped sender, not started).

Adaptation (in frames of 20 ms, between ``min_frames`` and ``max_frames``):

* an underrun (nothing to play) stalls the play-out by one concealed frame without
  skipping the missing packet, so a late packet is still played; the target depth grows;
* a window of ``window`` ticks without underrun lowers the target by one frame, and if the
  buffer never fell below target+1 during the window one surplus packet is dropped, so
  added latency cannot creep up after a jitter burst;
* more than ``max_frames + 2`` packets waiting (a burst after a network stall) are trimmed
  at once.

aiortc's own audio jitter buffer prefetches 4 packets (80 ms) and degrades to ~280 ms after
a loss (design §3, aiortc #543); this one adds 0-20 ms (tick phase) plus one frame per
recent underrun.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

FRAME_SECONDS = 0.020
# Further ahead than this (in packets) means the sender restarted its sequence.
_RESYNC_GAP = 100
# After a loss, depth stays >= 2 frames for this many windows (5 s by default).
_LOSS_HOLD_WINDOWS = 5


class PullKind(IntEnum):
    IDLE = 0  # nothing to play: the source contributes nothing this tick
    PACKET = 1  # decode ``payload``
    FEC = 2  # the packet for this tick is lost: decode ``payload`` (the next one) with fec=1
    PLC = 3  # conceal


@dataclass(frozen=True, slots=True)
class Pull:
    kind: PullKind
    payload: bytes | None = None
    arrival: float | None = None  # when the packet whose audio plays now arrived


PULL_IDLE = Pull(PullKind.IDLE)
PULL_PLC = Pull(PullKind.PLC)


@dataclass(slots=True)
class JitterStats:
    received: int = 0
    late: int = 0  # arrived after their play-out slot: dropped
    duplicate: int = 0
    lost: int = 0  # skipped slots (PLC or FEC)
    fec: int = 0
    plc: int = 0
    underruns: int = 0
    trimmed: int = 0  # surplus packets dropped to cut latency


class JitterBuffer:
    __slots__ = (
        "_buf",
        "_conceal_run",
        "_cursor",
        "_floor",
        "_last_ext",
        "_loss_hold",
        "_max",
        "_max_conceal",
        "_min",
        "_stalled",
        "_target_before_run",
        "_underrun_in_window",
        "_window",
        "_window_min",
        "_window_n",
        "stats",
        "target",
    )

    def __init__(
        self, *, min_frames: int = 1, max_frames: int = 3, max_conceal: int = 3, window: int = 50
    ) -> None:
        self._min = min_frames
        self._max = max_frames
        self._max_conceal = max_conceal
        self._window = window
        self.target = min_frames
        self._buf: dict[int, tuple[bytes, float]] = {}
        self._cursor: int | None = None  # next extended sequence number to play
        self._floor: int | None = None  # while idle: everything below was played or skipped
        self._last_ext: int | None = None
        self._conceal_run = 0
        self._stalled = False  # the last pop concealed the current cursor slot
        self._loss_hold = 0  # ticks left during which depth stays >= 2 for FEC
        self._target_before_run = min_frames
        self._window_n = 0
        self._window_min = 1 << 30
        self._underrun_in_window = False
        self.stats = JitterStats()

    @property
    def playing(self) -> bool:
        return self._cursor is not None

    def __len__(self) -> int:
        return len(self._buf)

    def reset(self) -> None:
        """Forget everything (publisher removed, sender replaced)."""
        self._buf.clear()
        self._cursor = None
        self._floor = None
        self._last_ext = None
        self._conceal_run = 0
        self.target = self._min
        self._new_window()

    def _extend(self, seq: int) -> int:
        """Unwrap a 16-bit RTP sequence number (RFC 3550 A.1) around the last one seen."""
        last = self._last_ext
        if last is None:
            return seq
        delta = (seq - last) & 0xFFFF
        if delta >= 0x8000:
            delta -= 0x10000
        return last + delta

    def push(self, seq: int, payload: bytes, now: float) -> bool:
        """Accept one RTP packet; returns False if it was dropped (late or duplicate)."""
        ext = self._extend(seq)
        limit = self._cursor if self._cursor is not None else self._floor
        if limit is not None and abs(ext - limit) > _RESYNC_GAP:
            # The sender restarted (new SSRC, new random sequence): start over.
            self.reset()
            ext = seq
            limit = None
        self.stats.received += 1
        if limit is not None and ext < limit:
            self.stats.late += 1
            return False
        if ext in self._buf:
            self.stats.duplicate += 1
            return False
        self._buf[ext] = (payload, now)
        if self._last_ext is None or ext > self._last_ext:
            self._last_ext = ext
        return True

    def pop(self, now: float) -> Pull:
        """The frame for this tick. Call exactly once per 20 ms tick."""
        buf = self._buf
        cursor = self._cursor
        if cursor is None:
            if not buf:
                return PULL_IDLE
            oldest = min(buf)
            waited = now - buf[oldest][1]
            if len(buf) < self.target and waited < self.target * FRAME_SECONDS:
                return PULL_IDLE
            self._cursor = oldest
            self._conceal_run = 0
            self._new_window()

        if len(buf) > self._max + 2:
            self._trim(len(buf) - self.target)
        self._account(len(buf))
        cursor = self._cursor
        assert cursor is not None

        stalled, self._stalled = self._stalled, False
        item = buf.pop(cursor, None)
        if item is not None:
            self._cursor = cursor + 1
            self._conceal_run = 0
            return Pull(PullKind.PACKET, item[0], item[1])
        if stalled and buf and cursor + 1 not in buf:
            # The stall already concealed this slot and its packet is lost for good (the
            # next one is missing too, so no FEC either): count it as played, move on.
            self.stats.lost += 1
            self._on_loss()
            cursor += 1
            self._cursor = cursor

        if not buf:
            # Underrun: conceal and stall (keep the cursor) so a late packet still plays.
            self.stats.underruns += 1
            self._underrun_in_window = True
            if self._conceal_run == 0:
                self._target_before_run = self.target
            self._conceal_run += 1
            if self._conceal_run > self._max_conceal:
                # Sender stopped or DTX: go idle until packets come back. The depth added
                # during this run was silence, not jitter: give it back.
                self._cursor = None
                self._floor = cursor
                self._conceal_run = 0
                self.target = self._target_before_run
                return PULL_IDLE
            self._cursor = cursor
            self._stalled = True
            if self.target < self._max:
                self.target += 1
            self.stats.plc += 1
            return PULL_PLC

        self.stats.lost += 1
        self._on_loss()
        nxt = buf.get(cursor + 1)
        if nxt is not None:
            # Exactly this packet is missing: its successor carries it as FEC.
            self._cursor = cursor + 1
            self._conceal_run = 0
            self.stats.fec += 1
            return Pull(PullKind.FEC, nxt[0], nxt[1])
        first = min(buf)
        if first - cursor > self._max_conceal:
            # A long burst: stop concealing, jump to what we have.
            self.stats.lost += first - cursor - 1
            item = buf.pop(first)
            self._cursor = first + 1
            self._conceal_run = 0
            return Pull(PullKind.PACKET, item[0], item[1])
        self._cursor = cursor + 1
        self._conceal_run += 1
        self.stats.plc += 1
        return PULL_PLC

    def _on_loss(self) -> None:
        """In-band FEC for packet n rides in packet n+1, so it only helps if n+1 is already
        here when n's slot comes: after a loss keep (at least) two frames in hand for a
        while. 20 ms more latency buys FEC instead of PLC (PESQ 2.7 vs 1.5 at 5 %, §3)."""
        self._loss_hold = self._window * _LOSS_HOLD_WINDOWS
        if self.target < 2 <= self._max:
            self.target = 2

    def _trim(self, n: int) -> None:
        """Drop the ``n`` oldest packets and move the cursor past them."""
        cursor = self._cursor
        assert cursor is not None
        for _ in range(min(n, len(self._buf))):
            first = min(self._buf)
            del self._buf[first]
            self.stats.trimmed += 1
            cursor = max(cursor, first + 1)
        self._cursor = cursor

    def _account(self, occupancy: int) -> None:
        if occupancy < self._window_min:
            self._window_min = occupancy
        self._window_n += 1
        if self._window_n < self._window:
            return
        if self._loss_hold > 0:
            self._loss_hold = max(0, self._loss_hold - self._window)
        floor = max(self._min, 2 if self._loss_hold > 0 and self._max >= 2 else 1)
        if not self._underrun_in_window:
            if self.target > floor:
                self.target -= 1
            if self._window_min > self.target and self._buf:
                # One frame of latency we never needed: drop the oldest packet.
                self._trim(1)
        self._new_window()

    def _new_window(self) -> None:
        self._window_n = 0
        self._window_min = 1 << 30
        self._underrun_in_window = False
