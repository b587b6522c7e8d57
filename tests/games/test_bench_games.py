"""scripts/bench_games.py end to end with a few bots: it exits 0, writes every figure, and
the results it checks are right."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "scripts" / "bench_games.py"

pytestmark = pytest.mark.timeout(120)


def test_bench_games_smoke(tmp_path: Path) -> None:
    out = tmp_path / "games.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--bots", "12", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["bots"] == 12 and figures["bot_errors"] == 0
    for game in ("vote", "guess"):
        assert figures[game]["correct"] is True
        assert figures[game]["all_counted_s"] > 0
        assert 0 < figures[game]["events_to_each_member"] < 30  # throttled, not one per bot
