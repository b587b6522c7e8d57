"""docs/openapi.json and the tables in docs/api.md are what the code generates, and the
worked example in docs/api.md runs as written against a real server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from voiceroom.api.docs import API_MD, OPENAPI_FILE, openapi_json, render_api_md

from .live_server import LiveServer, start_server


def test_openapi_json_is_current() -> None:
    assert OPENAPI_FILE.read_text() == openapi_json(), (
        "docs/openapi.json is stale: run python -m voiceroom.api.docs"
    )


def test_api_md_tables_are_current() -> None:
    text = API_MD.read_text()
    assert text == render_api_md(text), "docs/api.md is stale: run python -m voiceroom.api.docs"


def test_openapi_is_3_1_and_served(live: LiveServer) -> None:
    served = httpx.get(f"{live.api_url}/api/v1/openapi.json").json()
    assert served["openapi"].startswith("3.1")
    assert served == json.loads(OPENAPI_FILE.read_text())


@pytest.fixture(scope="module", params=["one process", "two workers"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    if request.param == "one process":
        server = start_server()
    else:
        # serve --workers 2: the API port is the front's proxy; rooms land on either worker,
        # webhook endpoints are shared through the store, worker 0 delivers.
        data = tmp_path_factory.mktemp("workers")
        server = start_server(
            {"VOICEROOM_STORE": "sqlite", "VOICEROOM_DATA_DIR": str(data)}, args=["--workers", "2"]
        )
    yield server
    server.stop()


def test_worked_example_runs_as_written(live: LiveServer, tmp_path: Path) -> None:
    match = re.search(
        r"<!-- example:begin -->\n```python\n(.*?)```\n<!-- example:end -->",
        API_MD.read_text(),
        re.DOTALL,
    )
    assert match is not None
    script = tmp_path / "riyadh.py"
    script.write_text(match.group(1))
    done = subprocess.run(
        [sys.executable, str(script)], env=live.env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"starts \S+T18:00:00Z = \S+T21:00:00\+03:00", out), out
    assert "host link:    http://" in out and "shopper link: http://" in out
    assert " room.scheduled " in out and " room.started " in out
