"""Smoke test of scripts/bench_commerce.py: a tiny run end to end in a subprocess (a real
server child, real claimants); the JSON has the figures and the outcomes add up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(120)


def test_bench_commerce_small_run(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench_commerce.py"),
            "--claimants",
            "20",
            "--rounds",
            "1",
            "--store",
            "memory",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["store"] == "memory" and result["claimants"] == 20
    open_, contended = result["rounds"]
    assert open_["outcomes"] == {"ok": 20}
    assert contended["outcomes"] == {"ok": 2, "sold_out": 18}
    for kind in ("open", "contended"):
        figures = result["median_of_rounds"][kind]
        assert figures["claims_per_s"] > 0 and 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert "claims/s" in proc.stdout
