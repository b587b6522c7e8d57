"""The real command: `voiceroom serve --demo` prints links that work; SIGTERM -> 1012."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

from voiceroom.auth import verify_token

from .vr_client import Client


async def test_serve_demo_links_and_sigterm(tmp_path: object) -> None:
    env = {
        **os.environ,
        "VOICEROOM_SECRET": "cli-test-secret-0123456789abcdefgh",
        # serve keeps its data in SQLite by default: here, under the test's temp dir.
        "VOICEROOM_DATA_DIR": str(tmp_path),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceroom",
        "serve",
        "--demo",
        "--port",
        "0",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        links: dict[str, str] = {}
        # serve starts a front and one worker per core (each imports the media stack).
        async with asyncio.timeout(30):
            while len(links) < 5:
                line = (await proc.stdout.readline()).decode()
                assert line, "server exited early"
                m = re.match(r"\s+(\S+)\s+(http://\S+)", line)
                if m:
                    links[m[1]] = m[2]
            expiry = (await proc.stdout.readline()).decode()
        assert set(links) == {"host", "cohost", "agent", "listener-vip", "listener-new"}
        # The links say when they stop working (issue 9 item 12): token_ttl, 1 h by default.
        m = re.search(r"expire at (\d{4}-\d\d-\d\d \d\d:\d\d) UTC, in (\d+) min", expiry)
        assert m is not None, expiry
        assert m[2] == "60"
        url = urlsplit(links["listener-vip"])
        token = parse_qs(url.query)["token"][0]
        claims = verify_token(env["VOICEROOM_SECRET"], token, room="demo")
        assert claims.tier == "vip" and claims.role.value == "listener"
        expires = time.strftime("%Y-%m-%d %H:%M", time.gmtime(claims.expires_at))
        assert m[1] == expires
        # The demo room exists before any host: a listener link works straight away.
        c = await Client.open(f"ws://{url.netloc}/ws?token={token}")
        assert c.welcome["body"]["snapshot"]["room"] == "demo"
        # No --music-dir: the host can play the bundled warm-up loop.
        host_url = urlsplit(links["host"])
        host = await Client.open(f"ws://{host_url.netloc}/ws?{host_url.query}")
        assert host.welcome["body"]["tracks"] == ["demo-warmup.ogg"]
        await host.ok("music.play", {"track": "demo-warmup.ogg"})
        await c.next("music.changed", track="demo-warmup.ogg")
        # `voiceroom token` signs with the same secret.
        out = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "voiceroom",
                "token",
                "--room",
                "demo",
                "--user",
                "u1",
                "--name",
                "Ann",
                "--role",
                "listener",
                "--tier",
                "vip",
                "--ttl",
                "60",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        c2 = await Client.open(f"ws://{url.netloc}/ws?token={out.stdout.strip()}")
        assert c2.welcome["body"]["session"]["user"] == "u1"
        proc.send_signal(signal.SIGTERM)
        assert (await c.closed(wait=5))[0] == 1012  # service restart: reconnect and resume
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
        assert proc.stderr is not None
        logs = (await proc.stderr.read()).decode()
        assert '"event": "shutting down"' in logs and '"code": 1012' in logs
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
