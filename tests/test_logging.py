"""Deploy finding 12: what is logged through stdlib ``logging`` (voiceroom.media.net, libraries)
is a JSON line in JSON mode, and the console format has no ANSI colours off a terminal."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import logging
from voiceroom.observability import configure_logging, get_logger
configure_logging("info", json={json})
get_logger().info("structured", room="r1")
logging.getLogger("voiceroom.media.net").warning("every UDP port %s is taken", "40000-40001")
logging.getLogger("other").debug("not shown at info")
"""


def run(json_mode: bool) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", CODE.format(json=json_mode)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stderr.splitlines()


def test_stdlib_logging_is_json_in_json_mode() -> None:
    lines = run(True)
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert records[0]["event"] == "structured" and records[0]["room"] == "r1"
    assert records[1]["event"] == "every UDP port 40000-40001 is taken"
    assert records[1]["level"] == "warning" and records[1]["logger"] == "voiceroom.media.net"
    assert "timestamp" in records[1]


def test_console_mode_has_no_colours_when_stderr_is_not_a_terminal() -> None:
    lines = run(False)
    assert len(lines) == 2
    assert not any("\x1b[" in line for line in lines)
    assert "every UDP port 40000-40001 is taken" in lines[1]
