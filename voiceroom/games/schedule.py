"""Market time: a show's target market is an IANA time zone; times are stored as UTC
instants and shown in each viewer's zone. Everything goes through ``zoneinfo`` (never a
fixed offset), so daylight saving time is right on both sides of a change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voiceroom.games import commands as c
from voiceroom.games.errors import GamesCode
from voiceroom.games.events import MarketChanged
from voiceroom.games.model import Ctx, Handler
from voiceroom.room.commands import Command
from voiceroom.room.errors import RuleError
from voiceroom.room.events import EVERYONE, Emit
from voiceroom.room.model import Actor


def zone(name: str) -> ZoneInfo:
    """The zone, or RuleError(unknown_zone). A lookup in the tz database, like a table."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise RuleError(GamesCode.UNKNOWN_ZONE, f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleError(GamesCode.UNKNOWN_ZONE, f"unknown time zone {name!r}") from None


def local_day(now: float, zone_name: str) -> date:
    return datetime.fromtimestamp(now, zone(zone_name)).date()


@dataclass(frozen=True, slots=True)
class Slot:
    """A stretch of time (UTC epoch seconds) that is prime time in every zone asked for."""

    start: float
    end: float
    local: dict[str, str]  # zone -> local start "YYYY-MM-DD HH:MM" (for people)


def _prime(z: ZoneInfo, day: date, window: tuple[int, int]) -> tuple[float, float]:
    start = datetime(day.year, day.month, day.day, window[0], tzinfo=z)
    end_day = day if window[1] > window[0] else day + timedelta(days=1)
    end = datetime(end_day.year, end_day.month, end_day.day, 0, tzinfo=z) + timedelta(
        hours=window[1] % 24
    )
    # Wall-clock arithmetic above (a wall time in z), converted to an instant here.
    return start.timestamp(), end.timestamp()


def suggest_prime_time(
    zones: Sequence[str],
    now: float,
    window: tuple[int, int] = (20, 23),
    days: int = 7,
    min_minutes: int = 30,
) -> list[Slot]:
    """The next stretches, over ``days`` days from ``now``, when local time is inside
    ``window`` (hours, [start, end), end may be 24) in every zone at once; each at least
    ``min_minutes`` long. Soonest first."""
    if not zones:
        raise ValueError("name at least one time zone")
    if not (0 <= window[0] < 24 and 0 < window[1] <= 24 and window[0] != window[1]):
        raise ValueError("window is (start hour 0-23, end hour 1-24)")
    zs = [(name, zone(name)) for name in zones]
    today = datetime.fromtimestamp(now, UTC).date()
    per_zone: list[list[tuple[float, float]]] = []
    for _, z in zs:
        spans = [_prime(z, today + timedelta(days=d), window) for d in range(-1, days + 1)]
        per_zone.append(spans)
    # Intersect zone by zone.
    common = per_zone[0]
    for spans in per_zone[1:]:
        common = [
            (max(a0, b0), min(a1, b1))
            for a0, a1 in common
            for b0, b1 in spans
            if max(a0, b0) < min(a1, b1)
        ]
    horizon = now + days * 86400
    slots = []
    for start, end in sorted(common):
        start = max(start, now)
        if end - start < min_minutes * 60 or start >= horizon:
            continue
        local = {
            name: datetime.fromtimestamp(start, z).strftime("%Y-%m-%d %H:%M") for name, z in zs
        }
        slots.append(Slot(start, end, local))
    return slots


@dataclass(slots=True)
class Market:
    zone: str = "UTC"

    def set(self, ctx: Ctx, actor: Actor, cmd: c.SetMarket, now: float, out: list[Emit]) -> None:
        zone(cmd.zone)
        if cmd.zone == self.zone:
            return
        self.zone = cmd.zone
        out.append(Emit(EVERYONE, MarketChanged(cmd.zone)))


HANDLERS: dict[type[Command], Handler] = {c.SetMarket: Market.set}
