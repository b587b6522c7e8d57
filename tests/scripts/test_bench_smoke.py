"""Smoke test of scripts/bench.py: the cheapest section, end to end, in a subprocess.

Checks that the JSON carries every key issue #5 asks for, that what was measured is a
positive number, and that what was not is null with a reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "scripts" / "bench.py"

pytestmark = pytest.mark.timeout(60)


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="needs espeak-ng and sox",
)
def test_quick_codec_reference_writes_every_key(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--quick",
            "--only",
            "codec_ref",
            "--json",
            str(out),
            "--plot",
            str(tmp_path / "plot.png"),
        ],
        capture_output=True,
        text=True,
        timeout=50,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    sys.path.insert(0, str(BENCH.parent))
    try:
        from bench import KEYS
    finally:
        sys.path.remove(str(BENCH.parent))
    for key in KEYS:
        assert key in data, key
        value = data[key]
        if value is None:
            assert data["notes"].get(key), f"{key} is null without a reason"
        else:
            assert isinstance(value, float | int) and value > 0, (key, value)
    for key in ("pesq_wb_codec_ref_clean", "pesq_wb_codec_ref_loss5"):
        assert 1.0 < data[key] < 4.7, (key, data[key])  # PESQ-WB (MOS-LQO) range
    assert data["meta"]["profile"] == "quick"
    assert "pesq_wb_codec_ref_clean" in proc.stdout  # the table was printed
