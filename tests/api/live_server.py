"""A real `voiceroom serve` in a subprocess (for tests that talk to it from sync code or
must kill it): free loopback ports, an API key, media off."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from .harness import KEY, KID, SECRET

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    proc: subprocess.Popen[bytes]
    port: int
    api_port: int
    env: dict[str, str]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_server(
    extra_env: Mapping[str, str] | None = None,
    *,
    args: Sequence[str] = (),
    log: Path | None = None,
) -> LiveServer:
    port, api_port = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "VOICEROOM_SECRET": SECRET,
        "VOICEROOM_API_KEYS": f"{KID}:{KEY}",
        "VOICEROOM_API_KEY": f"{KID}:{KEY}",
        "VOICEROOM_API_PORT": str(api_port),
        "VOICEROOM_API_URL": f"http://127.0.0.1:{api_port}",
        "VOICEROOM_LOG_LEVEL": "warning",
        # Nothing on disk unless a test asks (serve's default is a SQLite file in ./var).
        "VOICEROOM_STORE": "memory",
        **dict(extra_env or {}),
    }
    out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "voiceroom", "serve", "--no-media", "--port", str(port), *args],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    server = LiveServer(proc, port, api_port, env)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{server.api_url}/api/v1/openapi.json", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop(signal.SIGKILL)
            raise RuntimeError("server did not start")
        time.sleep(0.2)
