"""Market time with zoneinfo: prime-time suggestions across a DST change, several markets,
and the CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from voiceroom.games.errors import GamesCode
from voiceroom.games.schedule import local_day, suggest_prime_time
from voiceroom.room import RuleError


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def hours(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%m-%d %H:%M")


def test_berlin_prime_time_follows_daylight_saving() -> None:
    # CEST ends on Sunday 2026-10-25 at 03:00 local: 20:00 local is 18:00 UTC before,
    # 19:00 UTC after. A fixed offset would get one side wrong.
    slots = suggest_prime_time(["Europe/Berlin"], utc(2026, 10, 23, 12), days=4)
    assert [hours(s.start) for s in slots] == [
        "10-23 18:00", "10-24 18:00", "10-25 19:00", "10-26 19:00"
    ]  # fmt: skip
    assert all(s.end - s.start == 3 * 3600 for s in slots)
    assert slots[2].local == {"Europe/Berlin": "2026-10-25 20:00"}


def test_several_markets_intersect() -> None:
    # Riyadh (UTC+3, no DST) 20-23 = 17-20 UTC; Berlin in winter (UTC+1) 20-23 = 19-22 UTC.
    slots = suggest_prime_time(["Asia/Riyadh", "Europe/Berlin"], utc(2026, 12, 2, 0), days=2)
    assert [(hours(s.start), hours(s.end)) for s in slots] == [
        ("12-02 19:00", "12-02 20:00"), ("12-03 19:00", "12-03 20:00")
    ]  # fmt: skip
    assert slots[0].local == {
        "Asia/Riyadh": "2026-12-02 22:00", "Europe/Berlin": "2026-12-02 20:00"
    }  # fmt: skip
    # Jakarta (UTC+7) and Berlin never share 20-23 local.
    assert suggest_prime_time(["Asia/Jakarta", "Europe/Berlin"], utc(2026, 12, 2), days=3) == []


def test_a_slot_already_under_way_starts_now() -> None:
    now = utc(2026, 12, 2, 20, 30)  # 21:30 in Berlin
    (first, *_) = suggest_prime_time(["Europe/Berlin"], now, days=1)
    assert first.start == now and hours(first.end) == "12-02 22:00"


def test_bad_zone_and_window() -> None:
    with pytest.raises(RuleError) as exc:
        suggest_prime_time(["Nowhere/Special"], 0.0)
    assert exc.value.code is GamesCode.UNKNOWN_ZONE
    with pytest.raises(ValueError):
        suggest_prime_time(["UTC"], 0.0, window=(23, 23))
    with pytest.raises(ValueError):
        suggest_prime_time([], 0.0)


def test_local_day() -> None:
    ts = utc(2026, 12, 2, 16)
    assert local_day(ts, "UTC").isoformat() == "2026-12-02"
    assert local_day(ts, "Asia/Tokyo").isoformat() == "2026-12-03"
    assert local_day(ts, "America/Los_Angeles").isoformat() == "2026-12-02"


def test_prime_time_cli() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "voiceroom", "prime-time", "--zone", "Asia/Riyadh", "--days", "2"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "Asia/Riyadh" in run.stdout and "UTC" in run.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "voiceroom", "prime-time", "--zone", "Nowhere/X"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
