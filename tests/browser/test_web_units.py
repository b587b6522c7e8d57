"""Runs the web client's own unit tests (msgpack codec, room state, catalogs) under node,
so the README's one test command covers them too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEB_TESTS = Path(__file__).resolve().parents[2] / "clients" / "web" / "test"


def test_web_client_unit_tests_pass_in_node() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the web client's unit tests need node >= 20")
    result = subprocess.run(
        [node, "--test", str(WEB_TESTS)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
